#include "zdc/error.h"

const char *zdc_strerror(int err)
{
    /* One line per code reads as a table. */
    // clang-format off
    switch (err) {
    case ZDC_OK: return "success";
    case ZDC_ERR_INVALID_PARAMETER: return "invalid parameter";
    case ZDC_ERR_TRUNCATED: return "input truncated";
    case ZDC_ERR_MALFORMED: return "malformed input";
    case ZDC_ERR_BUFFER_TOO_SMALL: return "output buffer too small";
    case ZDC_ERR_INTEGRITY: return "message integrity check failed";
    case ZDC_ERR_FINGERPRINT: return "fingerprint mismatch";
    case ZDC_ERR_UNKNOWN_ATTRIBUTE: return "unknown comprehension-required attribute";
    case ZDC_ERR_NOMEM: return "out of memory";
    case ZDC_ERR_TOO_LARGE: return "too large";
    case ZDC_ERR_INVALID_STATE: return "invalid state for this call";
    case ZDC_ERR_GONE: return "object no longer exists";
    case ZDC_ERR_AGAIN: return "try again";
    case ZDC_ERR_ADDR_IN_USE: return "address already in use";
    case ZDC_ERR_NO_INTERFACE: return "no usable network interface";
    case ZDC_ERR_POOL_EXHAUSTED: return "packet buffer pool exhausted";
    case ZDC_ERR_IO: return "I/O error";
    case ZDC_ERR_NOT_FOUND: return "not found";
    case ZDC_ERR_TIMEOUT: return "timed out";
    case ZDC_ERR_CLOSED: return "closed";
    case ZDC_ERR_QUEUE_FULL: return "queue full";
    case ZDC_ERR_NOT_SUPPORTED: return "not supported";
    case ZDC_ERR_CRYPTO: return "cryptographic operation failed";
    case ZDC_ERR_PROTOCOL: return "protocol violation by the remote peer";
    default: return "unknown error";
    }
    // clang-format on
}
