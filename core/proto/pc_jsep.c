/* Offer/answer (JSEP, RFC 8829) for the peer connection: local descriptions built, remote ones
 * checked and applied, remote candidates. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iceurl.h"
#include "pc_int.h"
#include "zdc/candidate.h"
#include "zdc/dcep.h"
#include "zdc/demux.h"
#include "zdc/error.h"
#include "zdc/sdp.h"
#include "zdc/stun.h"

/* Writes this peer's offer or answer (answer: a=setup from `role`) into a new buffer. */
static int render_description(zdc_pc *pc, bool offer, int role, bool with_cands, char **out)
{
    char *buf = malloc(SDP_BUF);
    if (!buf)
        return ZDC_ERR_NOMEM;
    zdc_sdp_desc d = {0};
    d.sess_id = pc->sess_id;
    d.sess_version = pc->sess_version;
    const char *uf = zdc_ice_local_ufrag(pc->ice), *pw = zdc_ice_local_pwd(pc->ice);
    d.ice_ufrag = (zdc_sdp_str){uf, strlen(uf)};
    d.ice_pwd = (zdc_sdp_str){pw, strlen(pw)};
    d.fingerprint.hash = ZDC_SDP_HASH_SHA256;
    d.fingerprint.len = ZDC_DTLS_SHA256_LEN;
    memcpy(d.fingerprint.bytes, zdc_dtls_cert_fingerprint(pc->env.cert), ZDC_DTLS_SHA256_LEN);
    d.ice_lite = pc->ice_lite;
    d.trickle = true;
    d.sctp_port = ZDC_SCTP_DEFAULT_PORT;
    d.max_message_size = pc->env.max_message_size;
    d.mid = (zdc_sdp_str){"0", 1};
    zdc_sdp_str cands[ZDC_SDP_MAX_CANDIDATES];
    if (with_cands) {
        for (size_t i = 0; i < pc->n_local_cand; i++)
            cands[i] = (zdc_sdp_str){pc->local_cand[i], strlen(pc->local_cand[i])};
        d.candidates = cands;
        d.n_candidates = pc->n_local_cand;
        d.end_of_candidates = pc->local_cand_end;
    }
    int n;
    if (offer) {
        d.setup = ZDC_SDP_SETUP_ACTPASS;
        n = zdc_sdp_build_offer(&d, buf, SDP_BUF);
    } else {
        d.setup = role == ZDC_DTLS_CLIENT ? ZDC_SDP_SETUP_ACTIVE : ZDC_SDP_SETUP_PASSIVE;
        n = zdc_sdp_build_answer(&d, pc->remote, buf, SDP_BUF);
    }
    if (n < 0) {
        free(buf);
        pc_set_err(pc, "building the %s failed: %s", offer ? "offer" : "answer", zdc_strerror(n));
        return n;
    }
    *out = buf;
    return 0;
}

static int build_description(zdc_pc *pc, bool offer)
{
    if (!pc->sess_id) {
        uint8_t r[8];
        pc->env.random(pc->env.user, r, sizeof r);
        for (int i = 0; i < 8; i++)
            pc->sess_id = pc->sess_id << 8 | r[i];
        pc->sess_id &= 0x7fffffffffffffffull; /* JSEP §5.2.1: top bit zero */
        if (!pc->sess_id)
            pc->sess_id = 1;
    }
    pc->sess_version++;
    char *buf, *type = pc_strdup(offer ? "offer" : "answer");
    if (!type)
        return ZDC_ERR_NOMEM;
    int rv = render_description(pc, offer, pc->dtls_role, false, &buf);
    if (rv != 0) {
        free(type);
        return rv;
    }
    free(pc->created_type);
    free(pc->created_sdp);
    pc->created_type = type;
    pc->created_sdp = buf;
    pc_push_event(pc, ZDC_PC_EV_DESCRIPTION, 0, NULL, pc->created_type, buf);
    return 0;
}

/* The application may change its answer's a=setup between active and passive (the one edit
 * accepted, RFC 8842 §5.3: the answerer picks the role when the offer said actpass). Returns
 * true, with the role switched, when `sdp` is the created answer with the other role. */
static bool answer_with_other_role(zdc_pc *pc, const char *sdp)
{
    const zdc_sdp_media *m = &pc->remote->media[pc->remote_media];
    if (strcmp(pc->created_type, "answer") != 0 || m->setup != ZDC_SDP_SETUP_ACTPASS)
        return false;
    int other = pc->dtls_role == ZDC_DTLS_CLIENT ? ZDC_DTLS_SERVER : ZDC_DTLS_CLIENT;
    char *alt;
    if (render_description(pc, false, other, false, &alt) != 0)
        return false;
    if (strcmp(alt, sdp) != 0) {
        free(alt);
        return false;
    }
    free(pc->created_sdp);
    pc->created_sdp = alt;
    pc->dtls_role = other;
    return true;
}

/* Both descriptions of the last round are applied: a new offer (ours or the peer's) starts
 * another round of offer/answer over the same DTLS and SCTP (JSEP §5.2.2, §5.3.2). */
static bool established(const zdc_pc *pc)
{
    return pc->local_set && pc->remote_set && pc->sig_state == ZDC_SIGNALING_STABLE;
}

/* The next description this peer applies belongs to a new round. */
static void begin_round(zdc_pc *pc)
{
    pc->local_set = false;
    pc->renegotiating = true;
}

int zdc_pc_restart_ice(zdc_pc *pc, uint64_t now_ns)
{
    if (pc->closed || !pc->ice || !established(pc) || pc->conn_state == ZDC_STATE_FAILED) {
        pc_set_err(pc, "ICE restart needs a connection with both descriptions applied and "
                       "no offer pending");
        return ZDC_ERR_INVALID_STATE;
    }
    /* RFC 8445 §9: new credentials; JSEP §5.2.1: the side that restarts offers, and controls */
    int rv = zdc_ice_restart(pc->ice, ZDC_ICE_CONTROLLING);
    if (rv != 0)
        return rv;
    begin_round(pc);
    pc->offerer = true;
    return build_description(pc, true);
}

const char *zdc_pc_local_description(zdc_pc *pc, bool with_candidates)
{
    if (!pc->created_type)
        return NULL;
    if (!with_candidates)
        return pc->created_sdp;
    char *full;
    if (render_description(pc, strcmp(pc->created_type, "offer") == 0, pc->dtls_role, true,
                           &full) != 0)
        return NULL;
    free(pc->full_sdp);
    pc->full_sdp = full;
    return full;
}

uint64_t zdc_pc_remote_candidates_ignored(const zdc_pc *pc)
{
    return pc->remote_cand_ignored;
}

int zdc_pc_create_offer(zdc_pc *pc, uint64_t now_ns)
{
    if (!pc->closed && pc->ice && established(pc) && pc->conn_state != ZDC_STATE_FAILED) {
        begin_round(pc); /* a subsequent offer, same credentials (JSEP §5.2.2) */
        pc->offerer = true;
        return build_description(pc, true);
    }
    if (pc->closed || pc->sig_state != ZDC_SIGNALING_STABLE || pc->remote_set)
        return ZDC_ERR_INVALID_STATE;
    if (pc->n_ch == 0) {
        pc_set_err(pc, "create a data channel before the offer");
        return ZDC_ERR_INVALID_STATE;
    }
    if (!pc->ice) {
        int rv = pc_make_ice(pc, ZDC_ICE_CONTROLLING);
        if (rv != 0)
            return rv;
    }
    pc->offerer = true;
    return build_description(pc, true);
}

/* Remote candidates over the cap (ZDC_PC_MAX_REMOTE_CANDIDATES) are counted and skipped: the
 * first ones a peer sends are its best, and refusing the offer would turn away a browser on a
 * host with many interfaces. */
static void note_ignored(zdc_pc *pc, uint64_t n)
{
    if (n == 0)
        return;
    pc->remote_cand_ignored += n;
    pc_set_err(pc, "%llu remote candidates ignored so far: over the limit of %d",
               (unsigned long long)pc->remote_cand_ignored, ZDC_PC_MAX_REMOTE_CANDIDATES);
    ZDC_LOG_W(&pc->log, ZDC_LOG_ICE, "%s", pc->err);
}

static int add_candidate_text(zdc_pc *pc, const char *s, size_t len)
{
    zdc_candidate c;
    int rv = zdc_candidate_parse(s, len, &c);
    if (rv == 1) /* end of candidates */
        return zdc_ice_add_remote_candidate(pc->ice, NULL);
    if (rv == ZDC_ERR_NOT_SUPPORTED)
        return 0; /* a transport we do not use (e.g. a future one): skip it */
    if (rv != 0) {
        pc_set_err(pc, "candidate '%.*s': %s", (int)(len > 80 ? 80 : len), s, zdc_strerror(rv));
        return rv;
    }
    unsigned unusable = zdc_ice_unusable_candidates(pc->ice);
    rv = zdc_ice_add_remote_candidate(pc->ice, &c);
    if (rv == 0 && zdc_ice_unusable_candidates(pc->ice) != unusable)
        pc_set_err(pc, "candidate '%.*s' ignored: no peer has that address",
                   (int)(len > 80 ? 80 : len),
                   s); /* the log: zdc_peer_last_error(); counted by the ICE agent */
    if (rv == ZDC_ERR_QUEUE_FULL) {
        note_ignored(pc, 1);
        return 0;
    }
    return rv;
}

/* Both descriptions set: start checks, and the transport on top. */
static int both_descriptions(zdc_pc *pc, uint64_t now_ns)
{
    if (!(pc->local_set && pc->remote_set))
        return 0;
    int rv = zdc_ice_gather(pc->ice, now_ns);
    if (rv != 0 && rv != ZDC_ERR_INVALID_STATE)
        return rv;
    if (pc->renegotiating) { /* a later round: DTLS and SCTP carry on as they are */
        pc->renegotiating = false;
        return 0;
    }
    return pc_start_transport(pc, now_ns);
}

/* Whether `fp` is the remote fingerprint the DTLS association was set up with. */
static bool same_fingerprint(const zdc_pc *pc, const zdc_dtls_fingerprint *fp)
{
    zdc_dtls_fingerprint cur;
    if (!pc->remote || pc_remote_fingerprint(&pc->remote->media[pc->remote_media], &cur) != 0)
        return true;
    return cur.hash == fp->hash && cur.len == fp->len && memcmp(cur.bytes, fp->bytes, fp->len) == 0;
}

int zdc_pc_set_remote_description(zdc_pc *pc, const char *type, const char *sdp, uint64_t now_ns)
{
    if (pc->closed)
        return ZDC_ERR_INVALID_STATE;
    if (!type || !sdp)
        return ZDC_ERR_INVALID_PARAMETER;
    bool offer = strcmp(type, "offer") == 0;
    if (!offer && strcmp(type, "answer") != 0) {
        pc_set_err(pc, "description type must be \"offer\" or \"answer\"");
        return ZDC_ERR_INVALID_PARAMETER;
    }
    bool reoffer = offer && pc->ice && established(pc) && pc->conn_state != ZDC_STATE_FAILED;
    if (offer ? (pc->sig_state != ZDC_SIGNALING_STABLE || (pc->remote_set && !reoffer))
              : pc->sig_state != ZDC_SIGNALING_HAVE_LOCAL_OFFER) {
        pc_set_err(pc, offer ? "an offer is already being negotiated" : "no local offer to answer");
        return ZDC_ERR_INVALID_STATE;
    }
    /* Measured no further than the limit, and refused before anything is copied: a remote
     * description of any size costs nothing beyond ZDC_SDP_MAX_INPUT. */
    size_t len = strnlen(sdp, (size_t)ZDC_SDP_MAX_INPUT + 1);
    if (len > ZDC_SDP_MAX_INPUT) {
        pc_set_err(pc, "remote %s: larger than %u bytes", type, (unsigned)ZDC_SDP_MAX_INPUT);
        return ZDC_ERR_TOO_LARGE;
    }
    char *text = pc_strndup(sdp, len);
    zdc_sdp *parsed = malloc(sizeof *parsed);
    if (!text || !parsed) {
        free(text);
        free(parsed);
        return ZDC_ERR_NOMEM;
    }
    zdc_sdp_error e = {0};
    int rv = zdc_sdp_parse(text, len, parsed, &e);
    int mi = rv == 0 ? zdc_sdp_find_datachannel(parsed) : -1;
    zdc_dtls_fingerprint fp;
    if (rv != 0) {
        pc_set_err(pc, "remote %s: %s", type, e.msg);
    } else if (mi < 0) {
        pc_set_err(pc, "remote %s has no data-channel m-section", type);
        rv = ZDC_ERR_NOT_SUPPORTED;
    } else if (!parsed->media[mi].ice_ufrag.len || !parsed->media[mi].ice_pwd.len) {
        pc_set_err(pc, "remote %s: line %u: no a=ice-ufrag/a=ice-pwd", type,
                   parsed->media[mi].line);
        rv = ZDC_ERR_MALFORMED;
    } else if (pc_remote_fingerprint(&parsed->media[mi], &fp) != 0) {
        pc_set_err(pc, "remote %s: line %u: no usable a=fingerprint (sha-256/384/512/1)", type,
                   parsed->media[mi].line);
        rv = ZDC_ERR_NOT_SUPPORTED;
    } else if (pc->require_sha256 && fp.hash == ZDC_DTLS_HASH_SHA1) {
        pc_set_err(pc,
                   "remote %s: line %u: only a sha-1 a=fingerprint, and the policy requires "
                   "sha-256 or stronger",
                   type, parsed->media[mi].line);
        rv = ZDC_ERR_NOT_SUPPORTED;
    } else if (!offer && parsed->media[mi].setup == ZDC_SDP_SETUP_ACTPASS) {
        pc_set_err(pc, "remote answer: line %u: a=setup:actpass is not allowed in an answer",
                   parsed->media[mi].line);
        rv = ZDC_ERR_MALFORMED;
    } else if ((reoffer || pc->renegotiating) && !same_fingerprint(pc, &fp)) {
        pc_set_err(pc, "remote %s: line %u: a new a=fingerprint (a DTLS restart) is not supported",
                   type, parsed->media[mi].line);
        rv = ZDC_ERR_NOT_SUPPORTED;
    }
    if (rv != 0) {
        ZDC_LOG_W(&pc->log, ZDC_LOG_PC, "remote description refused: %s", pc->err);
        free(text);
        free(parsed);
        return rv;
    }
    const zdc_sdp_media *m = &parsed->media[mi];
    if (offer && !pc->ice && (rv = pc_make_ice(pc, ZDC_ICE_CONTROLLED)) != 0) {
        free(text);
        free(parsed);
        return rv;
    }
    char uf[257], pw[257];
    snprintf(uf, sizeof uf, "%.*s", (int)m->ice_ufrag.len, m->ice_ufrag.p);
    snprintf(pw, sizeof pw, "%.*s", (int)m->ice_pwd.len, m->ice_pwd.p);
    if (reoffer) {
        begin_round(pc);
        pc->offerer = false;
        /* RFC 8445 §9: new remote credentials in an offer restart ICE; the answerer restarts
         * too (new credentials in its answer) and is controlled */
        const zdc_sdp_media *old = &pc->remote->media[pc->remote_media];
        bool restart = old->ice_ufrag.len != m->ice_ufrag.len ||
                       memcmp(old->ice_ufrag.p, m->ice_ufrag.p, m->ice_ufrag.len) != 0 ||
                       old->ice_pwd.len != m->ice_pwd.len ||
                       memcmp(old->ice_pwd.p, m->ice_pwd.p, m->ice_pwd.len) != 0;
        if (restart && (rv = zdc_ice_restart(pc->ice, ZDC_ICE_CONTROLLED)) != 0) {
            free(text);
            free(parsed);
            return rv;
        }
    }
    rv = zdc_ice_set_remote_credentials(pc->ice, uf, pw, parsed->ice_lite);
    if (rv != 0) {
        pc_set_err(pc, "remote %s: line %u: ICE credentials rejected", type, m->line);
        free(text);
        free(parsed);
        return rv;
    }
    free(pc->remote_text); /* the previous round's */
    free(pc->remote);
    pc->remote_text = text;
    pc->remote = parsed;
    pc->remote_media = mi;
    pc->remote_set = true;
    pc->remote_sctp_port = m->sctp_port ? m->sctp_port : ZDC_SCTP_DEFAULT_PORT;
    /* RFC 8841 §6.1: absent means 64 KiB, 0 means any size. We never send more than one SCTP
     * send buffer holds (a bigger message could never be queued). */
    pc->remote_max_message = !m->has_max_message_size ? REMOTE_DEFAULT_MAX_MESSAGE
                             : m->max_message_size && m->max_message_size < SEND_CAP
                                 ? (size_t)m->max_message_size
                                 : SEND_CAP;
    /* DTLS role (RFC 8842 §5.3): the answerer picks; zdc answers active, as browsers do. A
     * later round keeps the association and its roles (RFC 8842 §5.5). */
    if (pc->dtls)
        ;
    else if (offer)
        pc->dtls_role = m->setup == ZDC_SDP_SETUP_ACTIVE ? ZDC_DTLS_SERVER : ZDC_DTLS_CLIENT;
    else
        pc->dtls_role = m->setup == ZDC_SDP_SETUP_PASSIVE ? ZDC_DTLS_CLIENT : ZDC_DTLS_SERVER;
    ZDC_LOG_I(&pc->log, ZDC_LOG_PC,
              "remote %s applied: %zu candidates, we are DTLS %s, remote max-message-size %zu",
              type, m->n_candidates, pc->dtls_role == ZDC_DTLS_CLIENT ? "client" : "server",
              pc->remote_max_message);

    for (size_t i = 0; i < m->n_candidates; i++)
        add_candidate_text(pc, m->candidates[i].p, m->candidates[i].len);
    note_ignored(pc, m->candidates_ignored);
    for (size_t i = 0; i < pc->n_pending; i++) {
        add_candidate_text(pc, pc->pending[i], strlen(pc->pending[i]));
        free(pc->pending[i]);
    }
    pc->n_pending = 0;
    if (m->end_of_candidates || pc->pending_end)
        zdc_ice_add_remote_candidate(pc->ice, NULL);

    if (offer) {
        pc_set_signaling(pc, ZDC_SIGNALING_HAVE_REMOTE_OFFER);
        rv = build_description(pc, false);
    } else {
        pc_set_signaling(pc, ZDC_SIGNALING_STABLE);
        rv = both_descriptions(pc, now_ns);
    }
    pc_update_connection_state(pc);
    return rv;
}

int zdc_pc_set_local_description(zdc_pc *pc, const char *type, const char *sdp, uint64_t now_ns)
{
    if (pc->closed)
        return ZDC_ERR_INVALID_STATE;
    if (!type || !sdp)
        return ZDC_ERR_INVALID_PARAMETER;
    if (!pc->created_type || strcmp(type, pc->created_type) != 0) {
        pc_set_err(pc, "no %s was created by this peer", type);
        return pc->created_type ? ZDC_ERR_INVALID_PARAMETER : ZDC_ERR_INVALID_STATE;
    }
    if (strcmp(sdp, pc->created_sdp) != 0 && !answer_with_other_role(pc, sdp)) {
        pc_set_err(pc,
                   "the %s differs from the one this peer created (SDP munging is not "
                   "supported)",
                   type);
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (pc->local_set)
        return ZDC_ERR_INVALID_STATE;
    pc->local_set = true;
    int rv;
    if (strcmp(type, "offer") == 0) {
        pc_set_signaling(pc, ZDC_SIGNALING_HAVE_LOCAL_OFFER);
        /* JSEP §5.7: gathering starts with the local description (again after an ICE
         * restart; a later offer without one has nothing to gather). */
        rv = zdc_ice_gather(pc->ice, now_ns);
        if (rv == ZDC_ERR_INVALID_STATE && pc->renegotiating)
            rv = 0;
    } else {
        pc_set_signaling(pc, ZDC_SIGNALING_STABLE);
        rv = both_descriptions(pc, now_ns);
    }
    pc_update_connection_state(pc);
    return rv;
}

int zdc_pc_add_ice_candidate(zdc_pc *pc, const char *mid, int index, const char *cand)
{
    if (pc->closed)
        return ZDC_ERR_INVALID_STATE;
    if (!cand)
        return ZDC_ERR_INVALID_PARAMETER;
    size_t len = strlen(cand);
    if (!pc->remote_set) {
        /* RFC 8838 §8: candidates may arrive before the description; keep them. */
        if (len == 0) {
            pc->pending_end = true;
            return 0;
        }
        zdc_candidate c;
        int rv = zdc_candidate_parse(cand, len, &c);
        if (rv < 0 && rv != ZDC_ERR_NOT_SUPPORTED) {
            pc_set_err(pc, "candidate '%.*s': %s", (int)(len > 80 ? 80 : len), cand,
                       zdc_strerror(rv));
            return rv;
        }
        if (pc->n_pending == MAX_PENDING_CANDIDATES) {
            note_ignored(pc, 1);
            return 0;
        }
        if (!(pc->pending[pc->n_pending] = pc_strndup(cand, len)))
            return ZDC_ERR_NOMEM;
        pc->n_pending++;
        return 0;
    }
    const zdc_sdp_media *m = &pc->remote->media[pc->remote_media];
    /* The mid names the section when given (JSEP §5.8); without one, the m-line index. */
    bool known = mid && *mid ? m->mid.len == strlen(mid) && memcmp(m->mid.p, mid, m->mid.len) == 0
                             : index == pc->remote_media;
    if (!known) {
        pc_set_err(pc, "candidate for unknown media section (mid '%s', index %d)", mid ? mid : "",
                   index);
        return ZDC_ERR_NOT_FOUND;
    }
    if (len == 0)
        return zdc_ice_add_remote_candidate(pc->ice, NULL);
    return add_candidate_text(pc, cand, len);
}
