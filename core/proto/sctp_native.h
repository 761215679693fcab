/* The native SCTP (core/sctp) behind core/proto/sctp.h: zdc_sctp objects created with
 * cfg.native forward every call here (sctp.c). Private to core/proto. */
#ifndef ZDC_CORE_SCTP_NATIVE_H
#define ZDC_CORE_SCTP_NATIVE_H

#include "sctp.h"

typedef struct zdc_sctp_nat zdc_sctp_nat;

/* The name of an RFC 9260 §3.3.10 error cause (sctp.c). */
const char *zdc_sctp_cause_name(uint16_t code);

int zdc_sctp_nat_new(const zdc_sctp_config *cfg, zdc_sctp_nat **out);
void zdc_sctp_nat_free(zdc_sctp_nat *n);
void zdc_sctp_nat_set_now(zdc_sctp_nat *n, uint64_t now_ns);
uint64_t zdc_sctp_nat_next_timeout(const zdc_sctp_nat *n);
void zdc_sctp_nat_handle_timeout(zdc_sctp_nat *n, uint64_t now_ns);
int zdc_sctp_nat_connect(zdc_sctp_nat *n);
int zdc_sctp_nat_handle_packet(zdc_sctp_nat *n, const uint8_t *p, size_t len);
int zdc_sctp_nat_send(zdc_sctp_nat *n, uint16_t stream, uint32_t ppid, const uint8_t *data,
                      size_t len, const zdc_sctp_send_opts *opts);
void zdc_sctp_nat_pause_receive(zdc_sctp_nat *n, bool paused);
size_t zdc_sctp_nat_buffered_amount(const zdc_sctp_nat *n);
int zdc_sctp_nat_reset_stream(zdc_sctp_nat *n, uint16_t stream);
void zdc_sctp_nat_close(zdc_sctp_nat *n);
bool zdc_sctp_nat_is_up(const zdc_sctp_nat *n);
uint16_t zdc_sctp_nat_out_streams(const zdc_sctp_nat *n);
int zdc_sctp_nat_set_max_send_size(zdc_sctp_nat *n, size_t max);
void zdc_sctp_nat_get_stats(const zdc_sctp_nat *n, zdc_sctp_stats *st);
void zdc_sctp_nat_get_status(const zdc_sctp_nat *n, zdc_sctp_status *st);
void zdc_sctp_nat_batch_begin(zdc_sctp_nat *n);
void zdc_sctp_nat_batch_end(zdc_sctp_nat *n);

#endif /* ZDC_CORE_SCTP_NATIVE_H */
