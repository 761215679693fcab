/* The engine inside the application's own event loop (docs/event-loop.md): poll(2) waits on
 * zdc_engine_fd() beside the application's own descriptor (here a pipe a "game thread" writes
 * to), with zdc_engine_next_timeout_ms() as the timeout. The game thread also calls
 * zdc_engine_wake(), the one zdc call any thread may make. Two peers of one engine connect
 * with non-trickle signaling (zdc_peer_get_local_description with candidates) and exchange a
 * message; the loop spends no time polling in slices: it sleeps until something is due.
 *
 * Built and run by ctest (label integration): exit status 0 when the message arrived. */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zdc/zdc.h"

typedef struct app {
    zdc_peer alice, bob;
    zdc_channel chat;
    bool gathered_alice, gathered_bob, answered, got;
    int wakeups; /* loop iterations: a measure of how little the loop spins */
} app;

static void on_description(void *user, zdc_peer p, const char *type, const char *sdp)
{
    (void)user;
    zdc_peer_set_local_description(p, type, sdp); /* sent later, with its candidates */
}

static void on_gathering(void *user, zdc_peer p, int state)
{
    app *a = user;
    if (state != ZDC_GATHERING_COMPLETE)
        return;
    if (p.id == a->alice.id) { /* the complete offer: one message to bob */
        a->gathered_alice = true;
        zdc_peer_set_remote_description(a->bob, "offer", zdc_peer_get_local_description(p, true));
    } else { /* the complete answer: one message back */
        a->gathered_bob = true;
        zdc_peer_set_remote_description(a->alice, "answer",
                                        zdc_peer_get_local_description(p, true));
    }
}

static void on_open(void *user, zdc_peer p, zdc_channel ch)
{
    app *a = user;
    if (p.id == a->alice.id)
        zdc_channel_put_packet(ch, (const uint8_t *)"hello", 5);
}

static void on_message(void *user, zdc_peer p, zdc_channel ch)
{
    app *a = user;
    const uint8_t *d;
    size_t len;
    bool text;
    (void)p;
    while (zdc_channel_get_packet(ch, &d, &len, &text) == 0) {
        printf("bob got \"%.*s\"\n", (int)len, (const char *)d);
        a->got = true;
        zdc_channel_release_packet(ch);
    }
}

static int pipe_fd[2];

/* The game: another thread with its own work; it wakes the network loop through its pipe and
 * zdc_engine_wake (e.g. "there are outgoing messages in my queue"). */
static void *game_thread(void *arg)
{
    for (int i = 0; i < 3; i++) {
        usleep(20000);
        (void)!write(pipe_fd[1], "x", 1);
        zdc_engine_wake(arg);
    }
    return NULL;
}

int main(void)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.bind_address = "127.0.0.1";
    o.ipv6 = false;
    o.include_loopback = true;
    zdc_engine *e;
    if (zdc_engine_new(&o, &e) != 0 || pipe(pipe_fd) != 0)
        return 1;
    app a = {0};
    zdc_peer_callbacks cb = {.user = &a,
                             .on_session_description_created = on_description,
                             .on_gathering_state_change = on_gathering,
                             .on_channel_open = on_open,
                             .on_channel_message = on_message};
    zdc_peer_new(e, &cb, &a.alice);
    zdc_peer_new(e, &cb, &a.bob);
    zdc_channel_options co = zdc_channel_options_default();
    zdc_peer_create_data_channel(a.alice, "chat", &co, &a.chat);
    zdc_peer_create_offer(a.alice);

    pthread_t game;
    pthread_create(&game, NULL, game_thread, e);
    struct pollfd fds[2] = {{.fd = zdc_engine_fd(e), .events = POLLIN},
                            {.fd = pipe_fd[0], .events = POLLIN}};
    int game_events = 0;
    time_t end = time(NULL) + 15;
    while (!a.got && time(NULL) < end) {
        int timeout = zdc_engine_next_timeout_ms(e); /* -1: nothing scheduled */
        if (timeout < 0 || timeout > 1000)
            timeout = 1000; /* this demo checks its deadline once a second */
        if (poll(fds, 2, timeout) < 0)
            continue; /* EINTR */
        a.wakeups++;
        if (fds[1].revents & POLLIN) {
            char c;
            (void)!read(pipe_fd[0], &c, 1);
            game_events++;
        }
        zdc_engine_poll(e, 0); /* cheap when nothing is due: call it on every wake-up */
    }
    pthread_join(game, NULL);
    printf("connected and delivered after %d loop wake-ups; %d game events\n", a.wakeups,
           game_events);
    zdc_engine_free(e);
    close(pipe_fd[0]);
    close(pipe_fd[1]);
    return a.got && a.gathered_alice && a.gathered_bob ? 0 : 1;
}
