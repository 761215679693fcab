/* Internal to the peer connection (core/proto/pc*.c): its state and the functions its files
 * share. Nothing outside core/proto/pc*.c includes this; the public face is pc.h.
 *
 * The files, each calling only those listed after it (no call goes back up):
 *   pc.c          life cycle, datagrams in, timeouts
 *   pc_jsep.c     offer/answer: descriptions, remote candidates
 *   pc_stages.c   ICE, DTLS and SCTP created and wired together, their callbacks
 *   pc_channel.c  data channels and DCEP (RFC 8831/8832)
 *   pc_event.c    the event queue, the last error, connection and signaling states
 * and pc_stats.c (statistics), which only reads the state of the others and is called by none
 * of them. */
#ifndef ZDC_PROTO_PC_INT_H
#define ZDC_PROTO_PC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ice.h"
#include "pc.h"
#include "sctp.h"
#include "turn.h"
#include "zdc/sdp.h"

#define DEFAULT_MAX_MESSAGE        (256u * 1024u)
#define DEFAULT_SEND_QUEUE         (16u * 1024u * 1024u)
#define REMOTE_DEFAULT_MAX_MESSAGE (64u * 1024u)           /* RFC 8841 §6.1: absent means 64 KiB */
#define SEND_CAP                   ZDC_SCTP_DEFAULT_SNDBUF /* largest message we send */
#define MAX_PENDING_CANDIDATES     64
#define MAX_CHANNELS               1024
#define SDP_BUF                    16384
/* Bytes a DTLS 1.2 record adds to its payload with our worst cipher (AES-GCM: 13-byte header,
 * 8-byte explicit nonce, 16-byte tag). An SCTP packet must fit one record in one datagram of
 * ZDC_DTLS_DEFAULT_MTU bytes, or zdc_dtls_send() refuses it and SCTP retransmits it forever. */
#define DTLS_RECORD_OVERHEAD 37

typedef struct pc_msg {
    struct pc_msg *next;
    size_t len;
    bool text;
    uint32_t ppid;
    uint8_t data[];
} pc_msg;

struct zdc_pc_channel {
    zdc_pc *pc;
    char *label, *protocol;
    bool negotiated, ordered;
    int max_rtx, max_life; /* -1 = unset */
    bool has_stream;       /* the SCTP stream is known (chosen, negotiated or the peer's) */
    zdc_stream_id stream;  /* its id */
    enum zdc_channel_state state;
    bool local; /* created by zdc_pc_create_channel */
    uint64_t handle;
    pc_msg *rx_head, *rx_tail;
    size_t rx_count; /* messages waiting to be read */
    size_t rx_bytes; /* their cost against env.rx_channel_limit (pc_channel_on_message) */
    pc_msg *tx_head, *tx_tail;
    pc_msg *tx_buf; /* zero-copy send buffer handed to the app (len = its capacity) */
    size_t tx_bytes;
    size_t low_threshold;
    bool reset_sent;
    bool forgotten; /* zdc_pc_channel_forget: freed once CLOSED */
    bool was_open;  /* reached OPEN once (stats: channels opened/closed) */
    /* Statistics: messages SCTP took from us, messages queued for the application. */
    uint64_t msgs_out, msgs_in, bytes_out, bytes_in;
};

#define PC_MAX_TURN 4

typedef struct pc_turn_cfg {
    zdc_addr server;
    int transport; /* enum zdc_turn_transport */
    char username[509];
    char credential[257];
    char server_name[256]; /* TLS */
    char fingerprint[200]; /* TLS pin */
    bool insecure;         /* TLS */
} pc_turn_cfg;

typedef struct pc_turn {
    struct zdc_pc *pc;
    zdc_turn *t;
    bool allocated, reported; /* reported: the ICE agent heard the outcome */
    bool stream;              /* env.stream_open succeeded: close it with the client */
    char info[96];            /* TLS: what zdc_pc_turn_stream_opened said (stats) */
    zdc_addr mapped;          /* our address as the server saw it (offered again on restart) */
} pc_turn;

struct zdc_pc {
    zdc_pc_env env;
    zdc_log_ctx log; /* env.log and this peer's handle id; the stages point here */
    zdc_addr *local;
    size_t n_local;

    enum zdc_connection_state conn_state;
    enum zdc_gathering_state gather_state;
    enum zdc_signaling_state sig_state;
    bool closed;
    char err[192];

    zdc_ice *ice;
    zdc_dtls *dtls;
    zdc_sctp *sctp;
    bool ice_failed, dtls_failed, remote_closed, torn_down, sctp_up, sctp_failed;
    bool batch; /* between zdc_pc_batch_begin and zdc_pc_batch_end */
    bool have_remote_addr;
    zdc_addr remote_addr;

    zdc_pc_channel **ch;
    size_t n_ch, cap_ch;
    /* Receive flow control: queued bytes of every channel, whether SCTP is paused, and whether
     * the application read enough for it to resume at the next zdc_pc_handle_timeout. */
    size_t rx_bytes;
    bool rx_paused, rx_resume;
    uint64_t rx_pauses; /* times it paused (the first is logged at WARN, the rest at DEBUG) */
    uint64_t no_stream_logged; /* channels closed for want of a stream (first one: WARN) */

    zdc_pc_event *ev;
    size_t ev_head, ev_n, ev_cap;

    /* Offer/answer. */
    bool offerer;
    char *created_type, *created_sdp; /* what on_session_description_created handed out */
    bool local_set, remote_set;
    bool renegotiating; /* a later round of offer/answer (ICE restart): no new DTLS/SCTP */
    char *remote_text;
    zdc_sdp *remote;
    int remote_media; /* index of the data-channel m-section */
    int dtls_role;
    uint16_t remote_sctp_port;
    size_t remote_max_message;
    uint64_t sess_id, sess_version;

    char *pending[MAX_PENDING_CANDIDATES];
    size_t n_pending;
    bool pending_end;
    /* Local candidates gathered ("candidate:..." lines) for zdc_pc_local_description. */
    char *local_cand[ZDC_SDP_MAX_CANDIDATES];
    size_t n_local_cand;
    bool local_cand_end;
    char *full_sdp; /* the last zdc_pc_local_description(pc, true) */
    /* Remote candidates not used: beyond the SDP parser's or the ICE agent's cap. */
    uint64_t remote_cand_ignored;

    zdc_peer_tuning base; /* the owner's tuning, defaults filled in (zdc_pc_new) */
    zdc_peer_tuning tun;  /* in effect: base with zdc_peer_config.tuning over it */
    zdc_addr stun_servers[8];
    size_t n_stun;
    /* TURN (pc_stages.c): the configured servers, and one client per server while ICE runs.
     * via_relay is the client carrying the selected pair (-1: the engine socket). */
    pc_turn_cfg turn_cfg[PC_MAX_TURN];
    size_t n_turn;
    pc_turn turn[PC_MAX_TURN];
    int via_relay;
    bool relay_only;
    uint64_t now_ns; /* the latest time handed in, for sends raised inside callbacks */
    bool ice_lite;
    bool require_sha256; /* zdc_peer_config.require_sha256_fingerprint */

    /* Statistics (pc_stats.c): this peer's datagrams (STUN and DTLS) each way, its
     * data-channel messages summed over every channel, channels that opened and closed. */
    struct {
        uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
        uint64_t stun_tx_packets, stun_tx_bytes, stun_rx_packets, stun_rx_bytes;
        uint64_t msgs_out, msgs_in, msg_bytes_out, msg_bytes_in;
        uint32_t channels_opened, channels_closed;
    } st;

    /* Out of memory (pc_fail_nomem): allocations that failed, and the failure they caused. */
    uint64_t nomem_count;
    bool nomem_failed, nomem_event_pending;
};

/* ---- pc_event.c: the event queue, the last error, connection and signaling states ------ */

/* Copies of strings (NULL when out of memory). */
char *pc_strndup(const char *s, size_t n);
char *pc_strdup(const char *s);
/* pc_strdup and realloc() for state the connection cannot lose: they fail when env.fail_alloc
 * (a test hook) says so. */
char *pc_strdup_in(zdc_pc *pc, const char *s);
void *pc_alloc(zdc_pc *pc, void *old, size_t n);
/* Out of memory lost state the application relies on (an event, a received message): counts
 * it, sets the last error and fails the connection, whose FAILED event is delivered even if it
 * cannot be queued. Teardown follows as for any failure. */
void pc_fail_nomem(zdc_pc *pc, const char *what);
/* Sets the text zdc_pc_last_error() returns. */
void pc_set_err(zdc_pc *pc, const char *fmt, ...);
/* Tells the owner (env.notify) that this peer has something to look at. */
void pc_notify(zdc_pc *pc);
/* Queues an event (copying the strings); `value` is the new state, or for a CANDIDATE its
 * m-line index. Nothing is queued once the peer is closed. Returns 0,
 * or ZDC_ERR_NOMEM: the event is not queued and pc->lost_events is counted. */
int pc_push_event(zdc_pc *pc, int kind, int value, zdc_pc_channel *ch, const char *text,
                  const char *text2);
void pc_drop_events(zdc_pc *pc);
/* Sets a state and queues its change event when it changed. */
void pc_set_signaling(zdc_pc *pc, enum zdc_signaling_state s);
/* Derives the connection state from ICE, DTLS and SCTP (W3C RTCPeerConnectionState). */
void pc_update_connection_state(zdc_pc *pc);

/* ---- pc_channel.c: data channels and DCEP --------------------------------------------- */

/* Moves a channel to `state`, queueing OPEN/CLOSE events. */
void pc_channel_set_state(zdc_pc_channel *c, enum zdc_channel_state state);
void pc_channel_free(zdc_pc_channel *c);
/* Frees the forgotten channels that are CLOSED (pc_channel_set_state calls it). */
void pc_channels_reap(zdc_pc *pc);
/* Forgets every queued event's reference to `c` (it is being freed). */
void pc_events_forget_channel(zdc_pc *pc, const zdc_pc_channel *c);
/* Resumes taking data from SCTP when the application read enough (rx_resume). */
void pc_channels_resume_receive(zdc_pc *pc);
/* Opens every channel waiting for the association (DCEP OPEN, or directly when negotiated). */
void pc_channels_open(zdc_pc *pc);
/* Hands queued messages to SCTP while it takes them. */
void pc_channels_flush(zdc_pc *pc);
/* SCTP callbacks for channel traffic (user = the zdc_pc). */
void pc_channel_on_message(void *user, uint16_t stream, uint32_t ppid, const uint8_t *p, size_t len,
                           unsigned flags);
void pc_channel_on_too_large(void *user, uint16_t stream, uint32_t ppid);
void pc_channel_on_stream_reset(void *user, uint16_t stream);

/* ---- pc_stages.c: ICE, DTLS and SCTP created and wired together ------------------------ */

/* Creates the ICE agent with the local addresses and STUN servers. */
int pc_make_ice(zdc_pc *pc, int role);
/* The remote a=fingerprint of a media section. Returns 0 or ZDC_ERR_NOT_SUPPORTED. */
int pc_remote_fingerprint(const zdc_sdp_media *m, zdc_dtls_fingerprint *fp);
/* Creates DTLS and SCTP once both descriptions are known. */
int pc_start_transport(zdc_pc *pc, uint64_t now_ns);
/* Starts the DTLS handshake once ICE has an address to send it to. */
void pc_start_dtls_if_ready(zdc_pc *pc, uint64_t now_ns);
/* Starts gathering: the ICE agent's and the TURN allocations. Returns zdc_ice_gather's. */
int pc_gather(zdc_pc *pc, uint64_t now_ns);
/* A message from TURN server `from`: returns ZDC_ERR_NOT_FOUND when no client of this peer
 * took it (e.g. a Binding response of ICE's STUN server at the same address). */
int pc_turn_input(zdc_pc *pc, const zdc_addr *from, const uint8_t *p, size_t len, uint64_t now_ns);
/* Frees (close: first deallocates) the TURN clients. */
void pc_turn_free_all(zdc_pc *pc, bool close);
uint64_t pc_turn_next_timeout(const zdc_pc *pc);
void pc_turn_handle_timeout(zdc_pc *pc, uint64_t now_ns);

#endif /* ZDC_PROTO_PC_INT_H */
