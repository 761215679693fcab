/* The public peer API's dispatch layer (api/api.c, api/registry.c) in front of a mock
 * implementation registered with zdc_peer_set_default_impl — how a game would test its logic
 * without a network (Godot's SetDefaultExtension). Checks that every call reaches the
 * implementation with the right object, that handles are generation-checked, and the callback rules
 * (deferred free, nothing after free). */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "peer_api.h"
#include "zdc/zdc.h"

/* ---- the mock -------------------------------------------------------------------------- */

typedef struct mock_chan {
    int tag;
    int sent, sent_text;
    size_t last_len;
    int closed;
    size_t low;
} mock_chan;

typedef struct mock_peer {
    zdc_peer self;
    zdc_engine *engine;
    int calls[32]; /* by CALL_* */
    const char *last_type, *last_sdp, *last_mid, *last_cand;
    int last_index;
    mock_chan chans[4];
    int n_chans;
    int fire; /* callbacks the next poll fires */
    bool *destroyed;
} mock_peer;

enum {
    CALL_INIT,
    CALL_CHANNEL,
    CALL_OFFER,
    CALL_REMOTE,
    CALL_LOCAL,
    CALL_CAND,
    CALL_POLL,
    CALL_CLOSE,
    CALL_STATE,
    CALL_SEND,
    CALL_GET,
    CALL_RELEASE,
    CALL_CHAN_CLOSE,
};

static int n_created, n_destroyed;
static int create_result;
static mock_peer *last_created;
static void *seen_impl_user;

static int m_create(void *impl_user, zdc_engine *engine, zdc_peer self, void **obj)
{
    seen_impl_user = impl_user;
    if (create_result != 0)
        return create_result;
    mock_peer *m = calloc(1, sizeof *m);
    cr_assert_not_null(m);
    m->self = self;
    m->engine = engine;
    *obj = m;
    n_created++;
    last_created = m;
    return 0;
}

static void m_destroy(void *obj)
{
    mock_peer *m = obj;
    if (m->destroyed)
        *m->destroyed = true;
    n_destroyed++;
    free(m);
}

static int m_initialize(void *obj, const zdc_peer_config *cfg)
{
    mock_peer *m = obj;
    m->calls[CALL_INIT]++;
    m->n_chans = 0;
    return cfg && cfg->ice_lite ? ZDC_ERR_NOT_SUPPORTED : 0;
}

static int m_create_data_channel(void *obj, const char *label, const zdc_channel_options *o,
                                 zdc_channel *out)
{
    mock_peer *m = obj;
    m->calls[CALL_CHANNEL]++;
    if (m->n_chans == 4)
        return ZDC_ERR_QUEUE_FULL;
    mock_chan *c = &m->chans[m->n_chans++];
    memset(c, 0, sizeof *c);
    c->tag = 100 + m->n_chans;
    return zdc_peer_impl_add_channel(m->self, c, out);
}

static int m_create_offer(void *obj)
{
    ((mock_peer *)obj)->calls[CALL_OFFER]++;
    return 0;
}

static int m_set_remote(void *obj, const char *type, const char *sdp)
{
    mock_peer *m = obj;
    m->calls[CALL_REMOTE]++;
    m->last_type = type;
    m->last_sdp = sdp;
    return ZDC_ERR_MALFORMED;
}

static int m_set_local(void *obj, const char *type, const char *sdp)
{
    mock_peer *m = obj;
    m->calls[CALL_LOCAL]++;
    m->last_type = type;
    m->last_sdp = sdp;
    return 0;
}

static int m_add_cand(void *obj, const char *mid, int index, const char *name)
{
    mock_peer *m = obj;
    m->calls[CALL_CAND]++;
    m->last_mid = mid;
    m->last_index = index;
    m->last_cand = name;
    return 0;
}

/* Fires m->fire callbacks: a description, then as many state changes; looks the callbacks up
 * before each one (they vanish when the peer is freed meanwhile). */
static int m_poll(void *obj)
{
    mock_peer *m = obj;
    m->calls[CALL_POLL]++;
    for (int i = 0; i < m->fire; i++) {
        const zdc_peer_callbacks *cb = zdc_peer_impl_callbacks(m->self);
        if (!cb)
            break;
        if (i == 0)
            cb->on_session_description_created(cb->user, m->self, "offer", "v=0");
        else
            cb->on_connection_state_change(cb->user, m->self, i);
    }
    m->fire = 0;
    return 0;
}

static void m_close(void *obj)
{
    ((mock_peer *)obj)->calls[CALL_CLOSE]++;
}
static int m_conn_state(void *obj)
{
    return ZDC_STATE_CONNECTING;
}
static int m_gathering_state(void *obj)
{
    return ZDC_GATHERING_GATHERING;
}
static int m_signaling_state(void *obj)
{
    return ZDC_SIGNALING_HAVE_LOCAL_OFFER;
}
static const char *m_last_error(void *obj)
{
    return "mock error";
}

static int c_send(void *chan, const uint8_t *p, size_t len, bool text)
{
    mock_chan *c = chan;
    c->sent++;
    c->sent_text += text;
    c->last_len = len;
    return 0;
}

static int c_get(void *chan, const uint8_t **p, size_t *len, bool *was_string)
{
    static const uint8_t data[] = "hi";
    *p = data;
    *len = 2;
    if (was_string)
        *was_string = true;
    return 0;
}

static void c_release(void *chan)
{
    ((mock_chan *)chan)->tag += 1000;
}
static int c_available(void *chan)
{
    return 3;
}
static int c_close(void *chan)
{
    ((mock_chan *)chan)->closed++;
    return 0;
}
static int c_state(void *chan)
{
    return ZDC_CHANNEL_OPEN;
}
static const char *c_label(void *chan)
{
    return "mock-label";
}
static const char *c_protocol(void *chan)
{
    return "mock-proto";
}
static int c_id(void *chan)
{
    return ((mock_chan *)chan)->tag;
}
static bool c_ordered(void *chan)
{
    return false;
}
static bool c_negotiated(void *chan)
{
    return true;
}
static int c_max_life(void *chan)
{
    return 77;
}
static int c_max_rtx(void *chan)
{
    return 5;
}
static size_t c_buffered(void *chan)
{
    return 1234;
}
static void c_set_low(void *chan, size_t bytes)
{
    ((mock_chan *)chan)->low = bytes;
}

static const zdc_peer_impl mock = {
    .name = "mock",
    .create = m_create,
    .destroy = m_destroy,
    .initialize = m_initialize,
    .create_data_channel = m_create_data_channel,
    .create_offer = m_create_offer,
    .set_remote_description = m_set_remote,
    .set_local_description = m_set_local,
    .add_ice_candidate = m_add_cand,
    .poll = m_poll,
    .close = m_close,
    .connection_state = m_conn_state,
    .gathering_state = m_gathering_state,
    .signaling_state = m_signaling_state,
    .last_error = m_last_error,
    .channel_send = c_send,
    .channel_get_packet = c_get,
    .channel_release_packet = c_release,
    .channel_available = c_available,
    .channel_close = c_close,
    .channel_state = c_state,
    .channel_label = c_label,
    .channel_protocol = c_protocol,
    .channel_id = c_id,
    .channel_ordered = c_ordered,
    .channel_negotiated = c_negotiated,
    .channel_max_packet_life_time = c_max_life,
    .channel_max_retransmits = c_max_rtx,
    .channel_buffered_amount = c_buffered,
    .channel_set_low_threshold = c_set_low,
};

static int impl_user_token;

static void setup(void)
{
    n_created = n_destroyed = 0;
    create_result = 0;
    last_created = NULL;
    cr_assert_eq(zdc_peer_set_default_impl(&mock, &impl_user_token), 0);
}

static void teardown(void)
{
    zdc_peer_set_default_impl(NULL, NULL);
}

TestSuite(api, .init = setup, .fini = teardown);

/* ---- the application side -------------------------------------------------------------- */

typedef struct app {
    zdc_peer peer;
    int descriptions, states, last_state;
    bool free_in_description;
    int after_free; /* callbacks after the application freed the peer */
    bool freed;
} app;

static void a_description(void *user, zdc_peer p, const char *type, const char *sdp)
{
    app *a = user;
    if (a->freed)
        a->after_free++;
    cr_assert_eq(p.id, a->peer.id);
    cr_assert_str_eq(type, "offer");
    a->descriptions++;
    if (a->free_in_description) {
        bool destroyed = false;
        last_created->destroyed = &destroyed;
        zdc_peer_free(p);
        a->freed = true;
        cr_assert(!destroyed, "freed under the implementation's poll");
        cr_assert_eq(zdc_peer_create_offer(p), ZDC_ERR_GONE);
        cr_assert_eq(zdc_peer_poll(p), ZDC_ERR_GONE);
        last_created->destroyed = NULL;
    }
}

static void a_state(void *user, zdc_peer p, int state)
{
    app *a = user;
    if (a->freed)
        a->after_free++;
    a->states++;
    a->last_state = state;
}

static zdc_peer new_app_peer(app *a)
{
    zdc_peer_callbacks cb = {.user = a,
                             .on_session_description_created = a_description,
                             .on_connection_state_change = a_state};
    int rv = zdc_peer_new(NULL, &cb, &a->peer);
    cr_assert_eq(rv, 0);
    cr_assert_neq(a->peer.id, 0);
    return a->peer;
}

/* ---- tests ----------------------------------------------------------------------------- */

Test(api, incomplete_table_is_refused)
{
    zdc_peer_impl bad = mock;
    bad.channel_set_low_threshold = NULL;
    cr_assert_eq(zdc_peer_set_default_impl(&bad, NULL), ZDC_ERR_INVALID_PARAMETER);
    bad = mock;
    bad.create = NULL;
    cr_assert_eq(zdc_peer_set_default_impl(&bad, NULL), ZDC_ERR_INVALID_PARAMETER);
    /* The mock set up by the fixture is still the default. */
    app a = {0};
    new_app_peer(&a);
    cr_assert_eq(n_created, 1);
    zdc_peer_free(a.peer);
}

Test(api, peer_calls_reach_the_implementation)
{
    app a = {0};
    zdc_peer p = new_app_peer(&a);
    mock_peer *m = last_created;
    cr_assert_eq(seen_impl_user, &impl_user_token);
    cr_assert_null(m->engine);
    cr_assert_eq(m->self.id, p.id);

    cr_assert_eq(zdc_peer_initialize(p, NULL), 0);
    zdc_peer_config lite = {.ice_lite = true};
    cr_assert_eq(zdc_peer_initialize(p, &lite), ZDC_ERR_NOT_SUPPORTED);
    cr_assert_eq(m->calls[CALL_INIT], 2);
    cr_assert_eq(zdc_peer_create_offer(p), 0);
    cr_assert_eq(m->calls[CALL_OFFER], 1);
    cr_assert_eq(zdc_peer_set_remote_description(p, "answer", "v=0 r"), ZDC_ERR_MALFORMED);
    cr_assert_str_eq(m->last_type, "answer");
    cr_assert_str_eq(m->last_sdp, "v=0 r");
    cr_assert_eq(zdc_peer_set_local_description(p, "offer", "v=0 l"), 0);
    cr_assert_str_eq(m->last_sdp, "v=0 l");
    cr_assert_eq(zdc_peer_add_ice_candidate(p, "0", 3, "candidate:x"), 0);
    cr_assert_str_eq(m->last_mid, "0");
    cr_assert_eq(m->last_index, 3);
    cr_assert_str_eq(m->last_cand, "candidate:x");
    cr_assert_eq(zdc_peer_get_connection_state(p), ZDC_STATE_CONNECTING);
    cr_assert_eq(zdc_peer_get_gathering_state(p), ZDC_GATHERING_GATHERING);
    cr_assert_eq(zdc_peer_get_signaling_state(p), ZDC_SIGNALING_HAVE_LOCAL_OFFER);
    cr_assert_str_eq(zdc_peer_last_error(p), "mock error");

    m->fire = 3;
    cr_assert_eq(zdc_peer_poll(p), 0);
    cr_assert_eq(a.descriptions, 1);
    cr_assert_eq(a.states, 2);
    cr_assert_eq(a.last_state, 2);

    zdc_peer_close(p);
    cr_assert_eq(m->calls[CALL_CLOSE], 1);
    /* Closed is not gone: the handle stays valid until freed. */
    cr_assert_eq(zdc_peer_create_offer(p), 0);
    zdc_peer_free(p);
    cr_assert_eq(n_destroyed, 1);
}

Test(api, channel_calls_and_write_mode)
{
    app a = {0};
    zdc_peer p = new_app_peer(&a);
    mock_peer *m = last_created;
    zdc_channel c1, c2;
    cr_assert_eq(zdc_peer_create_data_channel(p, "one", NULL, &c1), 0);
    cr_assert_eq(zdc_peer_create_data_channel(p, "two", NULL, &c2), 0);
    cr_assert_neq(c1.id, 0);
    cr_assert_neq(c1.id, c2.id);
    cr_assert_neq(c1.id, p.id);
    cr_assert_eq(zdc_channel_get_id(c1), 101);
    cr_assert_eq(zdc_channel_get_id(c2), 102);

    /* Binary by default; text once asked, per channel. */
    cr_assert_eq(zdc_channel_get_write_mode(c1), ZDC_WRITE_MODE_BINARY);
    cr_assert_eq(zdc_channel_put_packet(c1, (const uint8_t *)"abc", 3), 0);
    cr_assert_eq(zdc_channel_set_write_mode(c1, ZDC_WRITE_MODE_TEXT), 0);
    cr_assert_eq(zdc_channel_put_packet(c1, (const uint8_t *)"abcd", 4), 0);
    cr_assert_eq(zdc_channel_put_packet(c2, (const uint8_t *)"", 0), 0);
    cr_assert_eq(m->chans[0].sent, 2);
    cr_assert_eq(m->chans[0].sent_text, 1);
    cr_assert_eq(m->chans[0].last_len, 4);
    cr_assert_eq(m->chans[1].sent, 1);
    cr_assert_eq(m->chans[1].sent_text, 0);
    cr_assert_eq(zdc_channel_set_write_mode(c1, 2), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_channel_get_write_mode(c1), ZDC_WRITE_MODE_TEXT);

    const uint8_t *d;
    size_t len;
    bool text = false;
    cr_assert_eq(zdc_channel_get_packet(c1, &d, &len, &text), 0);
    cr_assert_eq(len, 2);
    cr_assert(text);
    cr_assert_eq(zdc_channel_get_packet(c1, NULL, &len, NULL), ZDC_ERR_INVALID_PARAMETER);
    zdc_channel_release_packet(c1);
    cr_assert_eq(m->chans[0].tag, 1101);
    cr_assert_eq(zdc_channel_get_available_packet_count(c1), 3);
    cr_assert_eq(zdc_channel_get_ready_state(c1), ZDC_CHANNEL_OPEN);
    cr_assert_str_eq(zdc_channel_get_label(c1), "mock-label");
    cr_assert_str_eq(zdc_channel_get_protocol(c1), "mock-proto");
    cr_assert(!zdc_channel_is_ordered(c1));
    cr_assert(zdc_channel_is_negotiated(c1));
    cr_assert_eq(zdc_channel_get_max_packet_life_time(c1), 77);
    cr_assert_eq(zdc_channel_get_max_retransmits(c1), 5);
    cr_assert_eq(zdc_channel_get_buffered_amount(c1), 1234);
    cr_assert_eq(zdc_channel_set_buffered_amount_low_threshold(c2, 99), 0);
    cr_assert_eq(m->chans[1].low, 99);
    cr_assert_eq(zdc_channel_close(c2), 0);
    cr_assert_eq(m->chans[1].closed, 1);

    /* A peer handle is not a channel handle and vice versa. */
    cr_assert_eq(zdc_channel_put_packet((zdc_channel){p.id}, (const uint8_t *)"x", 1),
                 ZDC_ERR_GONE);
    cr_assert_eq(zdc_peer_create_offer((zdc_peer){c1.id}), ZDC_ERR_GONE);

    /* A successful initialize discards the channels: their handles go stale. */
    cr_assert_eq(zdc_peer_initialize(p, NULL), 0);
    cr_assert_eq(zdc_channel_put_packet(c1, (const uint8_t *)"x", 1), ZDC_ERR_GONE);
    cr_assert_eq(zdc_channel_get_ready_state(c1), ZDC_CHANNEL_CLOSED);
    cr_assert_eq(m->chans[0].sent, 2);
    zdc_peer_free(p);
}

Test(api, stale_handles_never_reach_the_implementation)
{
    app a = {0};
    zdc_peer p = new_app_peer(&a);
    zdc_channel c;
    cr_assert_eq(zdc_peer_create_data_channel(p, "c", NULL, &c), 0);
    zdc_peer_free(p);
    cr_assert_eq(n_destroyed, 1);
    /* The mock's memory is freed: any dispatch would be a use-after-free under ASan. */
    cr_assert_eq(zdc_peer_initialize(p, NULL), ZDC_ERR_GONE);
    cr_assert_eq(zdc_peer_create_offer(p), ZDC_ERR_GONE);
    cr_assert_eq(zdc_peer_set_remote_description(p, "offer", "x"), ZDC_ERR_GONE);
    cr_assert_eq(zdc_peer_set_local_description(p, "offer", "x"), ZDC_ERR_GONE);
    cr_assert_eq(zdc_peer_add_ice_candidate(p, "0", 0, ""), ZDC_ERR_GONE);
    cr_assert_eq(zdc_peer_poll(p), ZDC_ERR_GONE);
    zdc_peer_close(p);
    cr_assert_eq(zdc_peer_get_connection_state(p), ZDC_STATE_CLOSED);
    cr_assert_eq(zdc_peer_get_gathering_state(p), ZDC_GATHERING_COMPLETE);
    cr_assert_eq(zdc_peer_get_signaling_state(p), ZDC_SIGNALING_CLOSED);
    cr_assert_str_neq(zdc_peer_last_error(p), "mock error");
    zdc_channel dummy;
    cr_assert_eq(zdc_peer_create_data_channel(p, "d", NULL, &dummy), ZDC_ERR_GONE);
    cr_assert_eq(dummy.id, 0);

    cr_assert_eq(zdc_channel_put_packet(c, (const uint8_t *)"x", 1), ZDC_ERR_GONE);
    const uint8_t *d;
    size_t len;
    cr_assert_eq(zdc_channel_get_packet(c, &d, &len, NULL), ZDC_ERR_GONE);
    zdc_channel_release_packet(c);
    cr_assert_eq(zdc_channel_get_available_packet_count(c), 0);
    cr_assert_eq(zdc_channel_set_write_mode(c, ZDC_WRITE_MODE_TEXT), ZDC_ERR_GONE);
    cr_assert_eq(zdc_channel_get_ready_state(c), ZDC_CHANNEL_CLOSED);
    cr_assert_str_eq(zdc_channel_get_label(c), "");
    cr_assert_str_eq(zdc_channel_get_protocol(c), "");
    cr_assert_eq(zdc_channel_get_id(c), -1);
    cr_assert_eq(zdc_channel_get_max_retransmits(c), -1);
    cr_assert_eq(zdc_channel_get_buffered_amount(c), 0);
    cr_assert_eq(zdc_channel_set_buffered_amount_low_threshold(c, 1), ZDC_ERR_GONE);
    cr_assert_eq(zdc_channel_close(c), ZDC_ERR_GONE);

    /* A new peer may reuse the slot; the old handle must not reach it. */
    app b = {0};
    zdc_peer q = new_app_peer(&b);
    cr_assert_neq(q.id, p.id);
    cr_assert_eq(zdc_peer_create_offer(p), ZDC_ERR_GONE);
    cr_assert_eq(last_created->calls[CALL_OFFER], 0);
    zdc_peer_free(p); /* stale: ignored, q lives on */
    cr_assert_eq(n_destroyed, 1);
    zdc_peer_free(q);
    zdc_peer_free((zdc_peer){0});
    cr_assert_eq(n_destroyed, 2);
}

Test(api, free_inside_a_callback_is_deferred)
{
    app a = {.free_in_description = true};
    zdc_peer p = new_app_peer(&a);
    last_created->fire = 4; /* a description (which frees), then three state changes */
    cr_assert_eq(zdc_peer_poll(p), 0);
    cr_assert_eq(a.descriptions, 1);
    cr_assert_eq(a.after_free, 0, "callbacks after free");
    cr_assert_eq(n_destroyed, 1, "freed once the poll returned");
    cr_assert_eq(zdc_peer_poll(p), ZDC_ERR_GONE);
}

Test(api, enter_leave_defer_a_free_outside_poll)
{
    /* What an implementation firing callbacks from elsewhere (the built-in one, from
     * zdc_engine_poll) does around them. */
    app a = {0};
    zdc_peer p = new_app_peer(&a);
    cr_assert(zdc_peer_api_enter(p));
    cr_assert(zdc_peer_api_enter(p)); /* nested */
    zdc_peer_free(p);
    cr_assert_eq(last_created->calls[CALL_CLOSE], 1, "closed at once");
    cr_assert(!zdc_peer_api_alive(p));
    cr_assert(!zdc_peer_api_enter(p));
    cr_assert(zdc_peer_api_leave(p));
    cr_assert_eq(n_destroyed, 0);
    cr_assert(!zdc_peer_api_leave(p), "freed by the outermost leave");
    cr_assert_eq(n_destroyed, 1);
    cr_assert(!zdc_peer_api_leave(p));
}

Test(api, failed_create_leaves_nothing)
{
    create_result = ZDC_ERR_NOMEM;
    zdc_peer p = {7};
    cr_assert_eq(zdc_peer_new(NULL, NULL, &p), ZDC_ERR_NOMEM);
    cr_assert_eq(p.id, 0);
    cr_assert_eq(zdc_peer_new(NULL, NULL, NULL), ZDC_ERR_INVALID_PARAMETER);
}

Test(api, default_impl_restores_builtin)
{
    cr_assert_eq(zdc_peer_set_default_impl(NULL, NULL), 0);
    zdc_peer p;
    /* zdc's own implementation needs an engine. */
    cr_assert_eq(zdc_peer_new(NULL, NULL, &p), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(n_created, 0);
    cr_assert_str_eq(zdc_peer_builtin_impl()->name, "zdc");
}

Test(api, existing_peers_keep_their_impl)
{
    app a = {0};
    zdc_peer p = new_app_peer(&a);
    mock_peer *m = last_created;
    cr_assert_eq(zdc_peer_set_default_impl(NULL, NULL), 0);
    cr_assert_eq(zdc_peer_create_offer(p), 0);
    cr_assert_eq(m->calls[CALL_OFFER], 1);
    zdc_peer_free(p);
    cr_assert_eq(n_destroyed, 1);
}

/* zdc_channel_release (issue 10, finding 4): the handle goes stale at once, the other channels
 * stay, and the implementation hears of it once (when its table has channel_release). */
static void *released_obj;
static int n_released;

static void c_forget(void *chan)
{
    released_obj = chan;
    n_released++;
}

Test(api, channel_release_makes_the_handle_stale_and_tells_the_implementation)
{
    static zdc_peer_impl with_release;
    with_release = mock;
    with_release.channel_release = c_forget;
    cr_assert_eq(zdc_peer_set_default_impl(&with_release, &impl_user_token), 0);
    released_obj = NULL;
    n_released = 0;
    app a = {0};
    zdc_peer p = new_app_peer(&a);
    mock_peer *m = last_created;
    zdc_channel c1, c2;
    cr_assert_eq(zdc_peer_create_data_channel(p, "one", NULL, &c1), 0);
    cr_assert_eq(zdc_peer_create_data_channel(p, "two", NULL, &c2), 0);
    zdc_channel_release(c1);
    cr_assert_eq(n_released, 1);
    cr_assert_eq(released_obj, &m->chans[0]);
    cr_assert_eq(zdc_channel_put_packet(c1, (const uint8_t *)"x", 1), ZDC_ERR_GONE);
    cr_assert_eq(zdc_channel_get_ready_state(c1), ZDC_CHANNEL_CLOSED);
    cr_assert_str_eq(zdc_channel_get_label(c1), "");
    zdc_channel_release(c1); /* stale: ignored */
    zdc_channel_release((zdc_channel){0});
    cr_assert_eq(n_released, 1);
    cr_assert_eq(zdc_channel_put_packet(c2, (const uint8_t *)"x", 1), 0, "the other stays");
    zdc_peer_free(p);
    cr_assert_eq(n_released, 1, "freeing the peer frees the rest without release calls");

    /* a table without channel_release: the handle still goes stale */
    cr_assert_eq(zdc_peer_set_default_impl(&mock, &impl_user_token), 0);
    app b = {0};
    zdc_peer q = new_app_peer(&b);
    zdc_channel c3;
    cr_assert_eq(zdc_peer_create_data_channel(q, "three", NULL, &c3), 0);
    zdc_channel_release(c3);
    cr_assert_eq(zdc_channel_put_packet(c3, (const uint8_t *)"x", 1), ZDC_ERR_GONE);
    zdc_peer_free(q);
}
