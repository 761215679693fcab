/* zdc — SDP codec for data-channel sessions (sans-IO).
 *
 * Parses the offers and answers that browsers and other WebRTC stacks send (RFC 8866 SDP,
 * RFC 8841 SCTP-over-DTLS m-sections, RFC 8839 ICE attributes, RFC 8122 fingerprints, JSEP
 * RFC 9429) and builds the offers and answers zdc sends.
 *
 * Parsing never allocates and never copies text: every zdc_sdp_str in a parsed zdc_sdp is a
 * view into the caller's input, valid while that input is. The caller supplies the zdc_sdp
 * (about 19 KiB on LP64; fixed-capacity arrays, limits below). Input beyond a limit is
 * rejected with ZDC_ERR_TOO_LARGE, malformed input with ZDC_ERR_MALFORMED; either way the
 * error struct names the 1-based line ("line 7: a=fingerprint: bad hex").
 *
 * Accepted: CRLF or bare LF line ends, blank lines, unknown attributes (ignored), audio/video/
 * other m-sections (recorded so an answer can reject them), the modern data-channel form
 * `m=application 9 UDP/DTLS/SCTP webrtc-datachannel` + `a=sctp-port` and the legacy
 * `m=application 9 DTLS/SCTP 5000` + `a=sctpmap:5000 webrtc-datachannel 1024`.
 * Session-level ice-ufrag, ice-pwd, ice-options, fingerprint and setup are inherited by media
 * sections that do not carry their own (RFC 8839 §5.4, RFC 8122 §5, JSEP §5.8).
 */
#ifndef ZDC_SDP_H
#define ZDC_SDP_H

#include "zdc/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits (hostile input) --------------------------------------------------------------- */
#define ZDC_SDP_MAX_INPUT    65536 /* bytes of SDP text */
#define ZDC_SDP_MAX_LINES    1024
#define ZDC_SDP_MAX_LINE_LEN 2048 /* bytes, without the line end */
#define ZDC_SDP_MAX_MEDIA    16   /* m-sections */
#define ZDC_SDP_MAX_CANDIDATES                                                                     \
    32                              /* a=candidate lines kept per m-section (more are              \
                                        counted in candidates_ignored, not an error) */
#define ZDC_SDP_MAX_FINGERPRINTS 4  /* a=fingerprint lines per level (session or media) */
#define ZDC_SDP_MAX_BUNDLE       16 /* mids in the first a=group:BUNDLE */
#define ZDC_SDP_FINGERPRINT_MAX  64 /* bytes of a fingerprint (sha-512) */

/* A view of text inside the parsed input (or the caller's own text for the builder): `len`
 * bytes at `p`, not NUL-terminated. The empty view {NULL, 0} means "absent". */
typedef struct zdc_sdp_str {
    const char *p;
    size_t len;
} zdc_sdp_str;

enum zdc_sdp_setup {
    ZDC_SDP_SETUP_NONE = 0, /* no a=setup */
    ZDC_SDP_SETUP_ACTPASS,
    ZDC_SDP_SETUP_ACTIVE,
    ZDC_SDP_SETUP_PASSIVE,
    ZDC_SDP_SETUP_HOLDCONN,
};

/* Hash functions of RFC 8122 §5 (names compared ignoring case). */
enum zdc_sdp_hash {
    ZDC_SDP_HASH_UNKNOWN = 0, /* a name not below; the bytes are still parsed */
    ZDC_SDP_HASH_SHA1,        /* 20 bytes */
    ZDC_SDP_HASH_SHA224,      /* 28 bytes */
    ZDC_SDP_HASH_SHA256,      /* 32 bytes */
    ZDC_SDP_HASH_SHA384,      /* 48 bytes */
    ZDC_SDP_HASH_SHA512,      /* 64 bytes */
};

enum zdc_sdp_kind {
    ZDC_SDP_KIND_APPLICATION = 0,
    ZDC_SDP_KIND_AUDIO,
    ZDC_SDP_KIND_VIDEO,
    ZDC_SDP_KIND_OTHER,
};

enum zdc_sdp_proto {
    ZDC_SDP_PROTO_OTHER = 0,
    ZDC_SDP_PROTO_UDP_DTLS_SCTP, /* RFC 8841 */
    ZDC_SDP_PROTO_TCP_DTLS_SCTP, /* RFC 8841 */
    ZDC_SDP_PROTO_DTLS_SCTP,     /* legacy draft-ietf-mmusic-sctp-sdp-05 form */
};

enum zdc_sdp_direction {
    ZDC_SDP_DIR_NONE = 0, /* no direction attribute */
    ZDC_SDP_DIR_SENDRECV,
    ZDC_SDP_DIR_SENDONLY,
    ZDC_SDP_DIR_RECVONLY,
    ZDC_SDP_DIR_INACTIVE,
};

typedef struct zdc_sdp_fingerprint {
    enum zdc_sdp_hash hash;
    zdc_sdp_str hash_name; /* as written, e.g. "sha-256" (parse only; the builder ignores it) */
    uint8_t len;           /* bytes used in `bytes` */
    uint8_t bytes[ZDC_SDP_FINGERPRINT_MAX];
} zdc_sdp_fingerprint;

/* c=<nettype> <addrtype> <address> */
typedef struct zdc_sdp_connection {
    bool present;
    zdc_sdp_str nettype, addrtype, address;
} zdc_sdp_connection;

/* One m-section. ICE, fingerprint and setup fields hold the effective value: the section's own
 * attribute, or the session-level one it inherits. */
typedef struct zdc_sdp_media {
    unsigned line;            /* 1-based line of the m= line */
    enum zdc_sdp_kind kind;   /* from the media token */
    zdc_sdp_str media;        /* "application", "audio", ... as written */
    uint16_t port;            /* 0 = rejected / bundle-only */
    enum zdc_sdp_proto proto; /* from the proto token */
    zdc_sdp_str proto_text;   /* e.g. "UDP/DTLS/SCTP" as written */
    zdc_sdp_str fmt;          /* everything after the proto token, e.g. "webrtc-datachannel" */

    /* A data-channel section: application + (UDP|TCP)/DTLS/SCTP + webrtc-datachannel, or
     * application + DTLS/SCTP <port> with a=sctpmap:<port> webrtc-datachannel (legacy). */
    bool datachannel;
    bool legacy_sctpmap;       /* the legacy form (the fmt is the SCTP port) */
    uint16_t sctp_port;        /* a=sctp-port, or the legacy fmt port; 0 = absent, which
                                  RFC 8841 §5.2 says means 5000 */
    uint32_t sctpmap_streams;  /* legacy a=sctpmap:<port> <proto> <streams>; 0 = absent */
    bool has_max_message_size; /* RFC 8841 §6: absent means 64 KiB */
    uint64_t max_message_size; /* 0 = no limit (RFC 8841 §6.1) */

    zdc_sdp_str mid;                /* a=mid (RFC 9143), empty if absent */
    zdc_sdp_str ice_ufrag, ice_pwd; /* effective (own or inherited) */
    zdc_sdp_str ice_options;        /* effective raw token list, e.g. "trickle ice2" */
    bool ice_trickle, ice_ice2;     /* tokens found in ice_options */
    enum zdc_sdp_setup setup;       /* effective */
    enum zdc_sdp_direction direction;
    bool bundle_only;              /* a=bundle-only */
    zdc_sdp_connection connection; /* effective c= (own or session) */
    bool end_of_candidates;        /* a=end-of-candidates (RFC 8840 §8.2), own or session */
    size_t n_fingerprints;         /* effective (own, or else the session's) */
    size_t n_candidates;
    size_t candidates_ignored; /* a=candidate lines beyond ZDC_SDP_MAX_CANDIDATES (skipped) */

    /* Arrays last; entries at and beyond their count are not cleared by the parser. */
    zdc_sdp_fingerprint fingerprints[ZDC_SDP_MAX_FINGERPRINTS];
    /* The attribute text of each a=candidate line, starting at "candidate:" (the form
     * RTCIceCandidate.candidate uses); the candidate module parses them. */
    zdc_sdp_str candidates[ZDC_SDP_MAX_CANDIDATES];
} zdc_sdp_media;

typedef struct zdc_sdp {
    /* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> */
    zdc_sdp_str origin_username;
    uint64_t sess_id, sess_version;
    zdc_sdp_str origin_address;
    zdc_sdp_str session_name; /* s= */

    /* Session-level values as written (media sections already hold the inherited copies). */
    zdc_sdp_str ice_ufrag, ice_pwd, ice_options;
    bool ice_lite; /* a=ice-lite (RFC 8839 §5.3) */
    enum zdc_sdp_setup setup;
    zdc_sdp_connection connection;
    bool extmap_allow_mixed;   /* a=extmap-allow-mixed at session level */
    zdc_sdp_str msid_semantic; /* value of a=msid-semantic, trimmed, e.g. "WMS" */
    bool has_bundle;           /* a=group:BUNDLE seen (first group only is recorded) */
    size_t n_fingerprints;
    size_t n_bundle;
    size_t n_media;

    /* Arrays last; entries at and beyond their count are not cleared by the parser. */
    zdc_sdp_fingerprint fingerprints[ZDC_SDP_MAX_FINGERPRINTS];
    zdc_sdp_str bundle[ZDC_SDP_MAX_BUNDLE];
    zdc_sdp_media media[ZDC_SDP_MAX_MEDIA];
} zdc_sdp;

/* Where parsing stopped. `msg` is complete text such as "line 7: a=fingerprint: bad hex". */
typedef struct zdc_sdp_error {
    unsigned line; /* 1-based; 0 when the error is not tied to one line */
    char msg[96];
} zdc_sdp_error;

/* Parses `len` bytes of SDP text at `text` into *out (views into `text`).
 * `err` may be NULL. Returns 0, or
 *   ZDC_ERR_INVALID_PARAMETER  text or out is NULL;
 *   ZDC_ERR_MALFORMED          grammar or rule violation (err names the line);
 *   ZDC_ERR_TOO_LARGE          a limit above is exceeded (err names the line).
 * On error *out holds partial results and must not be used. */
ZDC_API int zdc_sdp_parse(const char *text, size_t len, zdc_sdp *out, zdc_sdp_error *err);

/* Index of the first data-channel m-section, or ZDC_ERR_NOT_FOUND. */
ZDC_API int zdc_sdp_find_datachannel(const zdc_sdp *sdp);

/* The hash function's digest length in bytes (0 for ZDC_SDP_HASH_UNKNOWN), and its name
 * ("sha-256"), NULL for ZDC_SDP_HASH_UNKNOWN. */
ZDC_API size_t zdc_sdp_hash_len(enum zdc_sdp_hash hash);
ZDC_API const char *zdc_sdp_hash_name(enum zdc_sdp_hash hash);

/* ---- builder ------------------------------------------------------------------------------ */

/* What zdc says about itself in an offer or answer (JSEP §5.2.1 / §5.3.1). */
typedef struct zdc_sdp_desc {
    uint64_t sess_id; /* JSEP §5.2.1: 64-bit, top bit zero (caller's randomness) */
    uint64_t sess_version;
    zdc_sdp_str ice_ufrag;           /* RFC 8839 §5.4: 4..256 ice-chars */
    zdc_sdp_str ice_pwd;             /* RFC 8839 §5.4: 22..256 ice-chars */
    zdc_sdp_fingerprint fingerprint; /* hash must be known; len must match it */
    enum zdc_sdp_setup setup;        /* offer: ACTPASS (JSEP §5.2.1); answer: ACTIVE or PASSIVE */
    bool ice_lite;                   /* a=ice-lite at session level */
    bool trickle;                    /* a=ice-options:trickle */
    bool extmap_allow_mixed;         /* a=extmap-allow-mixed (Chrome shape; harmless) */
    bool legacy_sctpmap;             /* offer only: DTLS/SCTP <port> + a=sctpmap (answers follow
                                        the offer's form) */
    zdc_sdp_str mid;                 /* offer: the data section's mid ("0" when empty); answers
                                        use the offer's mid */
    uint16_t sctp_port;              /* 0 means 5000 */
    uint64_t max_message_size;       /* 0 omits a=max-message-size */
    const zdc_sdp_str *candidates;   /* each "candidate:..." (no line ends) */
    size_t n_candidates;             /* <= ZDC_SDP_MAX_CANDIDATES */
    bool end_of_candidates;
} zdc_sdp_desc;

/* Writes an offer with one data-channel m-section into buf (NUL-terminated).
 * Returns the length written (without the NUL), or
 *   ZDC_ERR_INVALID_PARAMETER  a field is NULL where required, out of grammar (ufrag, pwd,
 *                              mid, candidate with a line end), or setup is not ACTPASS;
 *   ZDC_ERR_TOO_LARGE          more than ZDC_SDP_MAX_CANDIDATES candidates;
 *   ZDC_ERR_BUFFER_TOO_SMALL   cap too small (4 KiB holds any offer with a few candidates). */
ZDC_API int zdc_sdp_build_offer(const zdc_sdp_desc *d, char *buf, size_t cap);

/* Writes the answer to `offer` (JSEP §5.3.1): one m-section per offered one, in order; the
 * first data-channel section is accepted in the offer's form (modern or legacy) with the
 * offer's mid, every other section rejected with port 0 (its mid kept), and the BUNDLE group
 * names the accepted mid when the offer had one. Returns the length, or
 *   ZDC_ERR_NOT_FOUND          the offer has no data-channel section;
 *   ZDC_ERR_INVALID_PARAMETER  as for zdc_sdp_build_offer, or setup not ACTIVE/PASSIVE;
 *   ZDC_ERR_TOO_LARGE, ZDC_ERR_BUFFER_TOO_SMALL  as for zdc_sdp_build_offer. */
ZDC_API int zdc_sdp_build_answer(const zdc_sdp_desc *d, const zdc_sdp *offer, char *buf,
                                 size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* ZDC_SDP_H */
