/* One fake clock for every test above ICE: the `now_ns` a test hands to the sans-IO objects
 * (zdc_pc, zdc_dtls, zdc_sctp, zdc_ice) and the deadlines it waits for.
 *
 *   zdc_fakeclock c;
 *   zdc_fakeclock_init(&c, ZDC_FAKECLOCK_SIMULATED, 0);
 *   ... zdc_pc_handle_timeout(pc, zdc_fakeclock_now(&c)) ...
 *   zdc_fakeclock_advance_to(&c, zdc_pc_next_timeout(pc));   -- no sleep: time jumps
 *
 * Two modes, chosen by what the code under test reads besides `now_ns`:
 *
 * - ZDC_FAKECLOCK_SIMULATED: time moves only when the test advances it. Use it wherever every
 *   timer runs on the time passed in: ICE (checks, retransmissions, consent), the impairment
 *   link, the engine's timer wheel. Tests are then exact and as fast as the CPU.
 *
 * - ZDC_FAKECLOCK_REAL: now = CLOCK_MONOTONIC + an offset, and advancing moves the offset (a
 *   jump forward; real time keeps flowing underneath). Use it while a library below reads
 *   wall time by itself, so the clock never runs behind it:
 *     - OpenSSL keeps its DTLS retransmission timer on gettimeofday() (core/proto/dtls.h): a
 *       deadline reached by a jump is "not yet" for OpenSSL, which then resends nothing;
 *     - usrsctp compares chunk ages and RTT samples with the real clock (core/proto/sctp.h):
 *       its T3-rtx timer fired by a jump finds nothing old enough to retransmit.
 *   So, in this mode, jump only over deadlines that are neither (ICE-only phases: before DTLS
 *   starts, consent, a blackholed link; usrsctp's kill timers after close), and let real
 *   time pass (zdc_fakeclock_sleep_until) for a DTLS or SCTP retransmission.
 *
 * The clock never goes backwards: advancing to a past deadline does nothing. */
#ifndef ZDC_TEST_FAKECLOCK_H
#define ZDC_TEST_FAKECLOCK_H

#include <stdint.h>

enum zdc_fakeclock_mode {
    ZDC_FAKECLOCK_SIMULATED, /* now = start + what the test advanced */
    ZDC_FAKECLOCK_REAL,      /* now = CLOCK_MONOTONIC + what the test advanced */
};

typedef struct zdc_fakeclock {
    int mode;
    uint64_t start;  /* added to the base (0, or CLOCK_MONOTONIC) */
    uint64_t offset; /* total jumped forward (advance, advance_to, SIMULATED sleep_until) */
    uint64_t last;   /* the largest value now() returned (keeps it monotonic) */
} zdc_fakeclock;

/* SIMULATED starts at start_ns; REAL starts at CLOCK_MONOTONIC + start_ns. */
void zdc_fakeclock_init(zdc_fakeclock *c, int mode, uint64_t start_ns);

uint64_t zdc_fakeclock_now(zdc_fakeclock *c);

/* Jumps forward by ns. */
void zdc_fakeclock_advance(zdc_fakeclock *c, uint64_t ns);

/* Jumps forward to `deadline` if it is later than now (UINT64_MAX — "no deadline" — is
 * ignored). Returns how far it jumped. */
uint64_t zdc_fakeclock_advance_to(zdc_fakeclock *c, uint64_t deadline);

/* Lets time reach `deadline`, waiting no longer than max_ns: SIMULATED jumps (no sleep);
 * REAL sleeps the wall clock (for a deadline only OpenSSL's or usrsctp's real clock can
 * honour). Returns how much time passed. */
uint64_t zdc_fakeclock_sleep_until(zdc_fakeclock *c, uint64_t deadline, uint64_t max_ns);

/* Total jumped forward so far (0 in a REAL clock that was only slept on). */
uint64_t zdc_fakeclock_jumped(const zdc_fakeclock *c);

/* CLOCK_MONOTONIC in ns, for tests that bound their own wall-clock run time. */
uint64_t zdc_fakeclock_wall_ns(void);

#endif /* ZDC_TEST_FAKECLOCK_H */
