/* Internal to the engine (io/engine.c and io/engine_self.c): its state and members. */
#ifndef ZDC_IO_ENGINE_PRIV_H
#define ZDC_IO_ENGINE_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dtls.h"
#include "engine_member.h"
#include "keymap.h"
#include "list.h"
#include "log.h"
#include "loop.h"
#include "route.h"
#include "timer.h"
#include "workers.h"

#define ZDC_ENGINE_MAX_LOCAL 16
/* Datagrams to the engine's own socket remembered at once (engine_self.c). */
#define ZDC_ENGINE_SELF_RING 4096

struct zdc_engine_member {
    zdc_pc *pc;
    zdc_engine_member_ops ops;
    void *arg;
    zdc_engine *engine;
    zdc_route_entry route;             /* routing keys (route.h) */
    struct zdc_engine_member *partner; /* the member it talks to through the engine's own
                                          socket (two peers of one engine), if any */
    bool partnered;                    /* some member's partner is (or was) this one */
    zdc_link all;                      /* every member */
    zdc_link ready;                    /* members with events to dispatch (self-linked: none) */
    zdc_link batched;                  /* members given datagrams in this poll (pc batch open) */
    zdc_timer timer;                   /* armed at zdc_pc_next_timeout (UINT64_MAX: none) */
    struct zdc_engine_member *due;     /* next member whose timer fired in this step */
    struct zdc_engine_stream *streams[ZDC_ROUTE_SERVERS]; /* TURN over TCP/TLS, per slot */
    zdc_wk_pub pub; /* keys published to the I/O thread (a worker's) */
};

/* A datagram one member sent to the engine's own socket, remembered until it comes back. */
typedef struct zdc_engine_self_send {
    zdc_keymap_node node; /* in self_map, keyed by key[] */
    uint8_t key[12];      /* hash of the bytes (8), length (4) */
    bool used;
    zdc_engine_member *sender; /* NULL once the sender is gone */
} zdc_engine_self_send;

struct zdc_engine {
    zdc_loop *loop; /* NULL on a worker: its datagrams move through `worker`'s rings */
    /* Threads (workers.h): the front of an engine with workers has `workers` and runs no
     * peers; a worker engine has `worker` (its rings) and `front`. Both NULL: the inline
     * engine of one thread. */
    zdc_workers *workers;
    zdc_worker *worker;
    zdc_engine *front;
    zdc_dtls_cert *cert;
    zdc_addr local[ZDC_ENGINE_MAX_LOCAL];
    size_t n_local;
    size_t max_message_size;
    size_t rx_channel_limit, rx_peer_limit; /* zdc_engine_options receive limits (0: default) */
    zdc_peer_tuning tuning;                 /* zdc_engine_options.tuning */
    zdc_addr public4, public6;              /* zdc_engine_options.public_address (NAT 1:1) */

    zdc_link all;     /* every member */
    zdc_link ready;   /* members with events to dispatch */
    zdc_link batched; /* members given datagrams in this poll: their batch ends after it */
    size_t n;

    zdc_timers timers;          /* one timer per member */
    zdc_engine_member *calling; /* the member the engine is calling into, if any */
    zdc_engine_member *due;     /* members whose timer fired, while the heap runs */
    zdc_route route;

    /* Self traffic (engine_self.c), oldest first from self_head (a ring), indexed by
     * self_map. */
    zdc_engine_self_send *self; /* ZDC_ENGINE_SELF_RING slots */
    size_t self_head, self_n;
    zdc_keymap self_map;

    zdc_engine_stats st;

    /* The application's own event loop (engine_fd.c): an epoll set of the loop's descriptors,
     * a timerfd armed at the next deadline and an eventfd for wake-ups and work queued
     * outside poll. Created by the first zdc_engine_fd(); until then none of it costs. */
    int wake_fd;          /* eventfd, from zdc_engine_new (zdc_engine_wake: any thread) */
    int ext_fd, timer_fd; /* -1 until zdc_engine_fd */
    _Atomic bool ext_on;  /* ext_fd exists */
    uint64_t timer_at;    /* timer_fd's deadline (UINT64_MAX: disarmed) */
    bool in_poll;         /* inside zdc_engine_poll/step: no signal needed */
    bool signalled;       /* wake_fd written by this thread since the last drain */

    /* The log sink every member's peer connection points to (engine_log.c), and the context
     * of the engine's own lines (peer 0). */
    zdc_logger log;
    zdc_log_ctx log_ctx;

    /* TCP/TLS connections to TURN servers (engine_stream.c). */
    zdc_link streams, stream_graves;
    size_t n_streams;
};

/* engine_fd.c: the owner thread queued work outside poll (a send, an event, an earlier
 * deadline): make the application's descriptor readable. Cheap when there is none. */
void zdc_engine_ext_signal(zdc_engine *e);
/* Before a step: drains the descriptors that fired. After a poll: arms the timer at the next
 * deadline, or signals when work is left for the next poll. */
void zdc_engine_ext_drain(zdc_engine *e);
void zdc_engine_ext_rearm(zdc_engine *e, uint64_t deadline);
int zdc_engine_ext_init(zdc_engine *e);
/* The earliest deadline of every member and of the process-wide timers (UINT64_MAX: none). */
uint64_t zdc_engine_next_deadline(const zdc_engine *e);
void zdc_engine_ext_clear(zdc_engine *e);

/* ---- engine_stream.c: TURN over TCP/TLS ---------------------------------------------- */

/* Fills env's stream_open/send/close for member m's peer connection. */
void zdc_engine_stream_env(zdc_pc_env *env);
/* One wait with streams open: polls their sockets beside the loop's descriptors for up to
 * timeout_ns (< 0: no limit), runs their I/O and deadlines, and lets the loop take what came.
 * Returns as zdc_loop_poll. */
int zdc_engine_stream_wait(zdc_engine *e, int64_t timeout_ns);
/* Closes every stream of m (it is being detached). */
void zdc_engine_stream_forget(zdc_engine *e, zdc_engine_member *m);
/* Frees what is left (zdc_engine_free). */
void zdc_engine_stream_clear(zdc_engine *e);

/* ---- workers.c and engine.c: the threaded engine ------------------------------------------ */

/* A worker engine of `front` (whose loop, certificate and addresses it shares) fed by w's
 * rings. Returns 0, ZDC_ERR_NOMEM or ZDC_ERR_IO. */
int zdc_engine_worker_new(zdc_engine *front, zdc_worker *w, zdc_engine **out);
/* Frees a worker engine and its peers (zdc_workers_free). */
void zdc_engine_worker_free(zdc_engine *e);
/* Random bytes (OpenSSL's DRBG, else the kernel's). */
void zdc_engine_random(void *p, size_t n);
/* The loop that carries e's datagrams (a worker's: its front's). */
zdc_loop *zdc_engine_loop(const zdc_engine *e);

/* ---- engine_log.c: the log sink ------------------------------------------------------- */

/* The process default: silent, or what the environment's ZDC_LOG asks for. */
void zdc_engine_log_init(zdc_engine *e);

/* ---- engine_self.c: two members of one engine talking through its own socket ----------- */

int zdc_engine_self_init(zdc_engine *e, const uint8_t seed[16]);
void zdc_engine_self_clear(zdc_engine *e);
/* Whether `to` is this engine's own socket address. */
bool zdc_engine_is_self(const zdc_engine *e, const zdc_addr *to);
/* m sent this datagram to the engine's own socket. */
void zdc_engine_self_sent(zdc_engine *e, zdc_engine_member *m, const uint8_t *p, size_t len);
/* The member that sent this datagram to the engine's own socket, or NULL; takes the oldest
 * such record. */
zdc_engine_member *zdc_engine_self_sender(zdc_engine *e, const uint8_t *p, size_t len);
/* m is going: no record or partner refers to it any more. */
void zdc_engine_self_forget(zdc_engine *e, zdc_engine_member *m);

#endif /* ZDC_IO_ENGINE_PRIV_H */
