/* zdc-peer's stats event (a zdc extension to PEER_PROTOCOL.md, docs/interop.md): what
 * zdc_peer_get_stats and zdc_channel_get_stats say, as one JSON line
 *   {"event":"stats","reason":"request"|"exit","peer":{...},"channels":[{...},...]}
 * printed when stdin brings {"stats":true} and once at exit. Names follow the W3C
 * RTCStatsReport where it has one (docs/monitoring.md maps them). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zdc/stats.h"
#include "zdc_peer.h"

static const char *cand_type(int t)
{
    static const char *const names[] = {"host", "srflx", "prflx", "relay"};
    return t >= 0 && t < 4 ? names[t] : "";
}

static const char *consent_name(int c)
{
    static const char *const names[] = {"none", "granted", "stale", "expired"};
    return c >= 0 && c < 4 ? names[c] : "?";
}

static const char *channel_state(int s)
{
    static const char *const names[] = {"connecting", "open", "closing", "closed"};
    return s >= 0 && s < 4 ? names[s] : "?";
}

/* A JSON string of s, or "" when out of memory (labels are ours, short and printable). */
static void put_string(FILE *f, const char *s)
{
    char *js = json_string(s, strlen(s));
    fputs(js ? js : "\"\"", f);
    free(js);
}

static void put_peer(FILE *f, const zdc_peer_stats *s)
{
    fprintf(f,
            "{\"bytesSent\":%" PRIu64 ",\"bytesReceived\":%" PRIu64 ",\"packetsSent\":%" PRIu64
            ",\"packetsReceived\":%" PRIu64 ",\"stunBytesSent\":%" PRIu64
            ",\"stunBytesReceived\":%" PRIu64 ",\"stunPacketsSent\":%" PRIu64
            ",\"stunPacketsReceived\":%" PRIu64 ",\"messagesSent\":%" PRIu64
            ",\"messagesReceived\":%" PRIu64 ",\"messageBytesSent\":%" PRIu64
            ",\"messageBytesReceived\":%" PRIu64 ",\"dataChannelsOpened\":%u"
            ",\"dataChannelsClosed\":%u,\"iceRttUs\":%u,\"sctpRttUs\":%u",
            s->bytes_sent, s->bytes_received, s->packets_sent, s->packets_received,
            s->stun_bytes_sent, s->stun_bytes_received, s->stun_packets_sent,
            s->stun_packets_received, s->messages_sent, s->messages_received, s->message_bytes_sent,
            s->message_bytes_received, s->channels_opened, s->channels_closed, s->ice_rtt_us,
            s->sctp_rtt_us);
    if (s->has_selected_pair) {
        fprintf(f, ",\"selectedPair\":{\"local\":");
        put_string(f, s->local_address);
        fprintf(f, ",\"localPort\":%u,\"localType\":\"%s\",\"remote\":", s->local_port,
                cand_type(s->local_candidate_type));
        put_string(f, s->remote_address);
        fprintf(f, ",\"remotePort\":%u,\"remoteType\":\"%s\",\"protocol\":\"%s\"", s->remote_port,
                cand_type(s->remote_candidate_type), s->protocol);
        if (s->relay_protocol[0]) {
            fprintf(f, ",\"relayProtocol\":\"%s\",\"relayTls\":", s->relay_protocol);
            put_string(f, s->relay_tls);
        }
        fprintf(f, "}");
    }
    fprintf(f,
            ",\"iceRole\":\"%s\",\"consent\":\"%s\",\"consentAgeMs\":%u,\"dtlsVersion\":\"%s\""
            ",\"dtlsCipher\":\"%s\",\"dtlsRole\":\"%s\",\"sctpUp\":%s,\"sctpCwnd\":%u"
            ",\"sctpRwnd\":%u,\"sctpOutstandingBytes\":%u,\"sctpUnackedChunks\":%u"
            ",\"sctpRetransmissions\":%" PRIu64 ",\"sctpAbandoned\":%" PRIu64 ",\"sctpMtu\":%u}",
            s->ice_role == 0   ? "controlling"
            : s->ice_role == 1 ? "controlled"
                               : "",
            consent_name(s->consent_state), s->consent_age_ms, s->dtls_version, s->dtls_cipher,
            s->dtls_role == 0   ? "client"
            : s->dtls_role == 1 ? "server"
                                : "",
            s->sctp_up ? "true" : "false", s->sctp_cwnd, s->sctp_rwnd, s->sctp_outstanding_bytes,
            s->sctp_unacked_chunks, s->sctp_retransmissions, s->sctp_abandoned, s->sctp_mtu);
}

static void put_channel(FILE *f, const zdc_channel_stats *c)
{
    fprintf(f, "{\"label\":");
    put_string(f, c->label);
    fprintf(f, ",\"protocol\":");
    put_string(f, c->protocol);
    fprintf(f,
            ",\"id\":%d,\"state\":\"%s\",\"messagesSent\":%" PRIu64 ",\"messagesReceived\":%" PRIu64
            ",\"bytesSent\":%" PRIu64 ",\"bytesReceived\":%" PRIu64 ",\"bufferedAmount\":%zu}",
            c->id, channel_state(c->state), c->messages_sent, c->messages_received, c->bytes_sent,
            c->bytes_received, c->buffered_amount);
}

void stats_print(const app *a, const char *reason)
{
    zdc_peer_stats ps = {.size = sizeof ps};
    if (!a->peer.id || zdc_peer_get_stats(a->peer, &ps) != 0)
        return;
    printf("{\"event\":\"stats\",\"reason\":\"%s\",\"peer\":", reason);
    put_peer(stdout, &ps);
    printf(",\"channels\":[");
    bool first = true;
    for (unsigned k = 0; k < a->o.channels; k++) {
        zdc_channel_stats cs = {.size = sizeof cs};
        if (!a->chs[k].ch.id || zdc_channel_get_stats(a->chs[k].ch, &cs) != 0)
            continue;
        if (!first)
            putchar(',');
        first = false;
        put_channel(stdout, &cs);
    }
    printf("]}\n");
    fflush(stdout);
    logf_(a,
          "stats (%s): %" PRIu64 "/%" PRIu64 " bytes, %" PRIu64 "/%" PRIu64
          " messages sent/received, ICE RTT %u us, SCTP RTT %u us, %" PRIu64
          " retransmissions, %s %s",
          reason, ps.bytes_sent, ps.bytes_received, ps.messages_sent, ps.messages_received,
          ps.ice_rtt_us, ps.sctp_rtt_us, ps.sctp_retransmissions, ps.dtls_version, ps.dtls_cipher);
}
