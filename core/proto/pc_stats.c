/* Statistics of a peer connection and its channels (include/zdc/stats.h): counters kept by
 * pc.c, pc_stages.c and pc_channel.c, and the stages' own state (ICE's selected pair and RTT,
 * DTLS's version and cipher, SCTP's status). Reads only; allocates nothing. */
#include <stdio.h>
#include <string.h>

#include "pc_int.h"

static void fill_pair(const zdc_ice_stats *is, uint64_t now_ns, zdc_peer_stats *out)
{
    out->ice_rtt_us = (uint32_t)(is->rtt_ns / 1000u > UINT32_MAX ? UINT32_MAX : is->rtt_ns / 1000u);
    out->consent_state = is->consent;
    if (!is->selected)
        return;
    out->has_selected_pair = 1;
    zdc_addr_format(&is->local, false, out->local_address, sizeof out->local_address);
    out->local_port = zdc_addr_port(&is->local);
    zdc_addr_format(&is->remote, false, out->remote_address, sizeof out->remote_address);
    out->remote_port = zdc_addr_port(&is->remote);
    out->local_candidate_type = is->local_type;
    out->remote_candidate_type = is->remote_type;
    snprintf(out->protocol, sizeof out->protocol, "udp");
    uint64_t age = now_ns > is->last_alive_ns ? (now_ns - is->last_alive_ns) / 1000000u : 0;
    out->consent_age_ms = age > UINT32_MAX ? UINT32_MAX : (uint32_t)age;
}

static void fill_sctp(const zdc_pc *pc, zdc_peer_stats *out)
{
    if (!pc->sctp)
        return;
    zdc_sctp_stats ss;
    zdc_sctp_get_stats(pc->sctp, &ss);
    out->sctp_retransmissions = ss.retransmissions;
    zdc_sctp_status st;
    zdc_sctp_get_status(pc->sctp, &st);
    out->sctp_up = st.up && pc->sctp_up;
    out->sctp_cwnd = st.cwnd;
    out->sctp_rwnd = st.peer_rwnd;
    out->sctp_outstanding_bytes = st.sndbuf_bytes;
    out->sctp_unacked_chunks = st.unacked;
    out->sctp_abandoned = st.abandoned;
    out->sctp_mtu = st.mtu;
    out->sctp_rtt_us = st.srtt_ms > UINT32_MAX / 1000u ? UINT32_MAX : st.srtt_ms * 1000u;
}

void zdc_pc_get_stats(const zdc_pc *pc, uint64_t now_ns, zdc_peer_stats *out)
{
    size_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->bytes_sent = pc->st.tx_bytes;
    out->bytes_received = pc->st.rx_bytes;
    out->packets_sent = pc->st.tx_packets;
    out->packets_received = pc->st.rx_packets;
    out->stun_bytes_sent = pc->st.stun_tx_bytes;
    out->stun_bytes_received = pc->st.stun_rx_bytes;
    out->stun_packets_sent = pc->st.stun_tx_packets;
    out->stun_packets_received = pc->st.stun_rx_packets;
    out->messages_sent = pc->st.msgs_out;
    out->messages_received = pc->st.msgs_in;
    out->message_bytes_sent = pc->st.msg_bytes_out;
    out->message_bytes_received = pc->st.msg_bytes_in;
    out->channels_opened = pc->st.channels_opened;
    out->channels_closed = pc->st.channels_closed;

    zdc_ice_stats is;
    zdc_ice_get_stats(pc->ice, &is);
    fill_pair(&is, now_ns, out);
    if (out->has_selected_pair && pc->via_relay >= 0 && pc->turn[pc->via_relay].t) {
        static const char *const names[] = {"udp", "tcp", "tls"};
        int tr = pc->turn_cfg[pc->via_relay].transport;
        snprintf(out->relay_protocol, sizeof out->relay_protocol, "%s", names[tr]);
        snprintf(out->relay_tls, sizeof out->relay_tls, "%s", pc->turn[pc->via_relay].info);
    }
    out->ice_role = pc->ice ? zdc_ice_role(pc->ice) : -1;
    out->ice_state = pc->conn_state;

    out->dtls_role = pc->dtls ? (pc->dtls_role == ZDC_DTLS_CLIENT ? 0 : 1) : -1;
    const char *v = pc->dtls ? zdc_dtls_version(pc->dtls) : NULL;
    const char *c = pc->dtls ? zdc_dtls_cipher(pc->dtls) : NULL;
    snprintf(out->dtls_version, sizeof out->dtls_version, "%s", v ? v : "");
    snprintf(out->dtls_cipher, sizeof out->dtls_cipher, "%s", c ? c : "");
    fill_sctp(pc, out);
}

void zdc_pc_channel_get_stats(const zdc_pc_channel *c, zdc_channel_stats *out)
{
    size_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->label = c->label ? c->label : "";
    out->protocol = c->protocol ? c->protocol : "";
    out->id = zdc_pc_channel_id(c);
    out->state = c->state;
    out->messages_sent = c->msgs_out;
    out->messages_received = c->msgs_in;
    out->bytes_sent = c->bytes_out;
    out->bytes_received = c->bytes_in;
    out->buffered_amount = c->tx_bytes;
    out->messages_waiting = c->rx_count;
    out->bytes_waiting = c->rx_bytes - c->rx_count * ZDC_PC_RX_MSG_COST;
}
