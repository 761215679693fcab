/* The tutorial program (docs/tutorial.md): two peers in one process connect over loopback
 * through the three steps — offer, answer, candidates — and exchange a message each way.
 *
 * Signaling between the peers is whatever the application has (a WebSocket, HTTP, a game's
 * lobby server). Here it is a small in-process mailbox: callbacks post what the other side
 * must receive, and the main loop delivers it, as a network would, a little later.
 *
 * Built and run by ctest (label integration), so this text stays true:
 *   build/release/tutorial   ->  exit status 0 when both messages arrived
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zdc/zdc.h"

/* ---- a toy signaling channel ------------------------------------------------------------ */

enum { MSG_DESCRIPTION, MSG_CANDIDATE };

typedef struct signal_msg {
    int kind;
    zdc_peer to;
    char type[8]; /* "offer" / "answer" */
    char mid[32];
    int index;
    char *text; /* SDP or candidate line */
} signal_msg;

static signal_msg mailbox[256];
static int n_mail;

static void post(int kind, zdc_peer to, const char *type, const char *mid, int index,
                 const char *text)
{
    if (n_mail == (int)(sizeof mailbox / sizeof mailbox[0])) {
        fprintf(stderr, "mailbox full\n");
        exit(2);
    }
    signal_msg *m = &mailbox[n_mail++];
    *m = (signal_msg){.kind = kind, .to = to, .index = index, .text = strdup(text)};
    snprintf(m->type, sizeof m->type, "%s", type ? type : "");
    snprintf(m->mid, sizeof m->mid, "%s", mid ? mid : "");
}

/* ---- the application ---------------------------------------------------------------------- */

typedef struct app {
    const char *name;
    zdc_peer self, other;
    zdc_channel chat; /* the channel this side uses */
    bool got_message;
} app;

static void on_description(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    app *a = user;
    /* Steps 1 and 2: keep our own description, then send it to the other side. */
    printf("%s: created %s (%zu bytes of SDP)\n", a->name, type, strlen(sdp));
    if (zdc_peer_set_local_description(peer, type, sdp) != 0)
        fprintf(stderr, "%s: set_local_description: %s\n", a->name, zdc_peer_last_error(peer));
    post(MSG_DESCRIPTION, a->other, type, NULL, 0, sdp);
}

static void on_candidate(void *user, zdc_peer peer, const char *mid, int index, const char *cand)
{
    app *a = user;
    (void)peer;
    /* Step 3: trickle every candidate to the other side ("" means no more candidates). */
    printf("%s: candidate %s\n", a->name, cand[0] ? cand : "(end of candidates)");
    post(MSG_CANDIDATE, a->other, NULL, mid, index, cand);
}

static void on_data_channel(void *user, zdc_peer peer, zdc_channel ch)
{
    app *a = user;
    (void)peer;
    printf("%s: remote opened channel \"%s\"\n", a->name, zdc_channel_get_label(ch));
    a->chat = ch; /* keep the handle: it is how we use the channel */
}

static void on_state(void *user, zdc_peer peer, int state)
{
    static const char *names[] = {"new",          "connecting", "connected",
                                  "disconnected", "failed",     "closed"};
    app *a = user;
    (void)peer;
    printf("%s: connection %s\n", a->name, state >= 0 && state <= 5 ? names[state] : "?");
}

static void on_open(void *user, zdc_peer peer, zdc_channel ch)
{
    app *a = user;
    (void)peer;
    printf("%s: channel \"%s\" open\n", a->name, zdc_channel_get_label(ch));
    if (strcmp(a->name, "alice") == 0) {
        const char *hello = "hello from alice";
        zdc_channel_set_write_mode(ch, ZDC_WRITE_MODE_TEXT);
        zdc_channel_put_packet(ch, (const uint8_t *)hello, strlen(hello));
    }
}

static void on_message(void *user, zdc_peer peer, zdc_channel ch)
{
    app *a = user;
    (void)peer;
    const uint8_t *p;
    size_t len;
    bool text;
    while (zdc_channel_get_packet(ch, &p, &len, &text) == 0) {
        printf("%s: got %s message \"%.*s\"\n", a->name, text ? "text" : "binary", (int)len,
               (const char *)p);
        zdc_channel_release_packet(ch); /* the view is valid until here */
        a->got_message = true;
        if (strcmp(a->name, "bob") == 0) {
            const char *reply = "hi alice, bob here";
            zdc_channel_put_packet(ch, (const uint8_t *)reply, strlen(reply));
        }
    }
}

static zdc_peer make_peer(zdc_engine *engine, app *a)
{
    zdc_peer_callbacks cb = {
        .user = a,
        .on_session_description_created = on_description,
        .on_ice_candidate_created = on_candidate,
        .on_data_channel_received = on_data_channel,
        .on_connection_state_change = on_state,
        .on_channel_open = on_open,
        .on_channel_message = on_message,
    };
    zdc_peer p;
    int rc = zdc_peer_new(engine, &cb, &p);
    if (rc != 0) {
        fprintf(stderr, "zdc_peer_new: %s\n", zdc_strerror(rc));
        exit(1);
    }
    zdc_peer_config cfg = {0}; /* no STUN server: loopback host candidates are enough */
    zdc_peer_initialize(p, &cfg);
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
    /* One engine: one UDP socket per family, shared by both peers. Loopback candidates are
     * off by default (a browser on another machine can't reach 127.0.0.1); on for this demo. */
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.include_loopback = true;
    o.bind_address = "127.0.0.1";
    o.ipv6 = false;
    zdc_engine *engine;
    int rc = zdc_engine_new(&o, &engine);
    if (rc != 0) {
        fprintf(stderr, "zdc_engine_new: %s\n", zdc_strerror(rc));
        return 1;
    }
    printf("engine: %s backend, UDP port %d\n", zdc_engine_backend_name(engine),
           zdc_engine_port(engine, 4));

    app alice = {.name = "alice"}, bob = {.name = "bob"};
    alice.self = bob.other = make_peer(engine, &alice);
    bob.self = alice.other = make_peer(engine, &bob);

    /* Channels are created before the offer (state NEW). */
    zdc_channel_options opts = zdc_channel_options_default();
    rc = zdc_peer_create_data_channel(alice.self, "chat", &opts, &alice.chat);
    if (rc == 0)
        rc = zdc_peer_create_offer(alice.self); /* step 1; the offer arrives in a callback */
    if (rc != 0) {
        fprintf(stderr, "offer: %s\n", zdc_strerror(rc));
        return 1;
    }

    double deadline = now_s() + 15;
    while (!(alice.got_message && bob.got_message) && now_s() < deadline) {
        /* Callbacks fire only inside poll. */
        zdc_engine_poll(engine, 5);
        /* Deliver signaling. Step 2 happens when bob receives the offer: applying it makes
         * bob create his answer (on_session_description_created). */
        int n = n_mail;
        n_mail = 0;
        signal_msg batch[256];
        memcpy(batch, mailbox, sizeof(signal_msg) * (size_t)n);
        for (int i = 0; i < n; i++) {
            signal_msg *m = &batch[i];
            if (m->kind == MSG_DESCRIPTION)
                rc = zdc_peer_set_remote_description(m->to, m->type, m->text);
            else
                rc = zdc_peer_add_ice_candidate(m->to, m->mid, m->index, m->text);
            if (rc != 0)
                fprintf(stderr, "signaling: %s: %s\n", zdc_strerror(rc),
                        zdc_peer_last_error(m->to));
            free(m->text);
        }
    }
    bool ok = alice.got_message && bob.got_message;
    printf("%s\n", ok ? "done: both messages arrived" : "timed out");
    for (int i = 0; i < n_mail; i++)
        free(mailbox[i].text);
    zdc_peer_free(alice.self);
    zdc_peer_free(bob.self);
    zdc_engine_free(engine);
    return ok ? 0 : 1;
}
