/* zdc — error codes shared by every zdc function.
 *
 * Every fallible zdc function returns 0 (or a non-negative count) on success and one of the
 * negative ZDC_ERR_* codes below on failure. Each function's comment lists the codes it can
 * return and what the caller should do about them. zdc_strerror() turns a code into text.
 */
#ifndef ZDC_ERROR_H
#define ZDC_ERROR_H

#include "zdc/export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum zdc_error {
    ZDC_OK = 0,
    /* A parameter is out of range, NULL where it may not be, or options contradict. */
    ZDC_ERR_INVALID_PARAMETER = -1,
    /* Input ends before a field it announces (a length, a header) is complete. */
    ZDC_ERR_TRUNCATED = -2,
    /* Input is complete but violates the format's grammar or rules. */
    ZDC_ERR_MALFORMED = -3,
    /* An output buffer is too small for what must be written into it. */
    ZDC_ERR_BUFFER_TOO_SMALL = -4,
    /* A message integrity check (HMAC) did not match. */
    ZDC_ERR_INTEGRITY = -5,
    /* A checksum or certificate fingerprint did not match. */
    ZDC_ERR_FINGERPRINT = -6,
    /* A STUN attribute in the comprehension-required range is not understood (answer 420). */
    ZDC_ERR_UNKNOWN_ATTRIBUTE = -7,
    /* Memory could not be allocated. Nothing was changed. */
    ZDC_ERR_NOMEM = -8,
    /* A message or datagram is larger than the limit that applies to it. Nothing was sent. */
    ZDC_ERR_TOO_LARGE = -9,
    /* The call is not allowed in the object's current state. Nothing was changed. */
    ZDC_ERR_INVALID_STATE = -10,
    /* The handle refers to an object that no longer exists. */
    ZDC_ERR_GONE = -11,
    /* The operation cannot complete now without blocking; retry later. */
    ZDC_ERR_AGAIN = -12,
    /* The requested address/port is already in use. */
    ZDC_ERR_ADDR_IN_USE = -13,
    /* No usable local network interface/address was found. */
    ZDC_ERR_NO_INTERFACE = -14,
    /* The packet-buffer pool has no free buffer. Counted; nothing crashed. */
    ZDC_ERR_POOL_EXHAUSTED = -15,
    /* A system call failed for a reason not listed above (see errno in logs). */
    ZDC_ERR_IO = -16,
    /* The requested item (attribute, section, channel) is not present. */
    ZDC_ERR_NOT_FOUND = -17,
    /* A deadline passed before the operation completed. */
    ZDC_ERR_TIMEOUT = -18,
    /* The object is closed. */
    ZDC_ERR_CLOSED = -19,
    /* A bounded queue is full; the item was not queued. */
    ZDC_ERR_QUEUE_FULL = -20,
    /* The feature or value is recognized but not supported by this build/version. */
    ZDC_ERR_NOT_SUPPORTED = -21,
    /* A cryptographic library operation failed. */
    ZDC_ERR_CRYPTO = -22,
    /* The remote peer violated the protocol. */
    ZDC_ERR_PROTOCOL = -23,
};

/* Returns a static, human-readable description of `err` (any int; unknown codes get a generic
 * text). Never returns NULL. */
ZDC_API const char *zdc_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* ZDC_ERROR_H */
