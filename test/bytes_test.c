/* Tests for the shared reader/writer, TLV walker and text helpers. */
#include <criterion/criterion.h>

#include "bytes.h"
#include "text.h"

Test(bytes, reader_reads_big_endian_and_stops_at_end)
{
    const uint8_t in[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
    zdc_rd r;
    zdc_rd_init(&r, in, sizeof in);
    uint8_t a;
    uint16_t b;
    uint32_t c;
    cr_assert_eq(zdc_rd_u8(&r, &a), 0);
    cr_assert_eq(a, 0x01);
    cr_assert_eq(zdc_rd_u16(&r, &b), 0);
    cr_assert_eq(b, 0x0203);
    cr_assert_eq(zdc_rd_u32(&r, &c), 0);
    cr_assert_eq(c, 0x04050607u);
    cr_assert_eq(zdc_rd_left(&r), 0);
    cr_assert_eq(zdc_rd_u8(&r, &a), ZDC_ERR_TRUNCATED);
    cr_assert_eq(r.off, 7, "a failed read does not advance");
}

Test(bytes, reader_rejects_huge_skip_without_overflow)
{
    const uint8_t in[4] = {0};
    zdc_rd r;
    zdc_rd_init(&r, in, sizeof in);
    cr_assert_eq(zdc_rd_skip(&r, 2), 0);
    cr_assert_eq(zdc_rd_skip(&r, SIZE_MAX), ZDC_ERR_TRUNCATED);
    const uint8_t *v;
    cr_assert_eq(zdc_rd_view(&r, 3, &v), ZDC_ERR_TRUNCATED);
    cr_assert_eq(zdc_rd_view(&r, 2, &v), 0);
    cr_assert_eq(v, in + 2);
}

Test(bytes, writer_sticky_error)
{
    uint8_t out[5];
    zdc_wr w;
    zdc_wr_init(&w, out, sizeof out);
    zdc_wr_u32(&w, 0xdeadbeef);
    cr_assert_eq(zdc_wr_finish(&w), 4);
    zdc_wr_u16(&w, 1); /* does not fit */
    zdc_wr_u8(&w, 7);  /* would fit, but the error is sticky */
    cr_assert_eq(zdc_wr_finish(&w), ZDC_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(out[0], 0xde);
    cr_assert_eq(out[3], 0xef);
}

Test(bytes, writer_pads_to_alignment)
{
    uint8_t out[16];
    zdc_wr w;
    zdc_wr_init(&w, out, sizeof out);
    zdc_wr_bytes(&w, "abcde", 5);
    zdc_wr_pad(&w, 4);
    cr_assert_eq(zdc_wr_finish(&w), 8);
    cr_assert_eq(out[5], 0);
    cr_assert_eq(out[7], 0);
    zdc_wr_pad(&w, 4);
    cr_assert_eq(zdc_wr_finish(&w), 8, "already aligned: no padding");
}

Test(tlv, walks_stun_style_padded_elements)
{
    /* type 0x0006 len 5 "hello" + 3 pad; type 0x8022 len 0 */
    const uint8_t in[] = {0x00, 0x06, 0x00, 0x05, 'h',  'e',  'l',  'l',
                          'o',  0,    0,    0,    0x80, 0x22, 0x00, 0x00};
    zdc_tlv_walker w;
    zdc_tlv t;
    zdc_tlv_walker_init(&w, in, sizeof in, 4, false);
    cr_assert_eq(zdc_tlv_next(&w, &t), 1);
    cr_assert_eq(t.type, 0x0006);
    cr_assert_eq(t.len, 5);
    cr_assert_eq(memcmp(t.value, "hello", 5), 0);
    cr_assert_eq(t.offset, 0);
    cr_assert_eq(zdc_tlv_next(&w, &t), 1);
    cr_assert_eq(t.type, 0x8022);
    cr_assert_eq(t.len, 0);
    cr_assert_eq(t.offset, 12);
    cr_assert_eq(zdc_tlv_next(&w, &t), 0);
}

Test(tlv, rejects_truncated_value_and_padding)
{
    const uint8_t value_cut[] = {0x00, 0x06, 0x00, 0x08, 'a', 'b'};
    const uint8_t pad_cut[] = {0x00, 0x06, 0x00, 0x01, 'a', 0};
    const uint8_t header_cut[] = {0x00, 0x06, 0x00};
    zdc_tlv_walker w;
    zdc_tlv t;
    zdc_tlv_walker_init(&w, value_cut, sizeof value_cut, 4, false);
    cr_assert_eq(zdc_tlv_next(&w, &t), ZDC_ERR_TRUNCATED);
    zdc_tlv_walker_init(&w, pad_cut, sizeof pad_cut, 4, false);
    cr_assert_eq(zdc_tlv_next(&w, &t), ZDC_ERR_TRUNCATED);
    w.last_pad_optional = true;
    cr_assert_eq(zdc_tlv_next(&w, &t), ZDC_ERR_TRUNCATED, "partial padding is still an error");
    zdc_tlv_walker_init(&w, header_cut, sizeof header_cut, 4, false);
    cr_assert_eq(zdc_tlv_next(&w, &t), ZDC_ERR_TRUNCATED);
}

Test(tlv, length_including_header)
{
    /* SCTP-parameter style: length 4 means empty value; length 3 is invalid. */
    const uint8_t ok[] = {0x00, 0x0d, 0x00, 0x04, 0x00, 0x0e, 0x00, 0x06, 'x', 'y', 0, 0};
    const uint8_t bad[] = {0x00, 0x0d, 0x00, 0x03};
    zdc_tlv_walker w;
    zdc_tlv t;
    zdc_tlv_walker_init(&w, ok, sizeof ok, 4, true);
    cr_assert_eq(zdc_tlv_next(&w, &t), 1);
    cr_assert_eq(t.len, 0);
    cr_assert_eq(zdc_tlv_next(&w, &t), 1);
    cr_assert_eq(t.len, 2);
    cr_assert_eq(zdc_tlv_next(&w, &t), 0);
    zdc_tlv_walker_init(&w, bad, sizeof bad, 4, true);
    cr_assert_eq(zdc_tlv_next(&w, &t), ZDC_ERR_MALFORMED);
}

Test(text, lines_crlf_and_lf)
{
    zdc_str s = ZDC_STR_LIT("v=0\r\no=- 1\nlast");
    zdc_str l;
    cr_assert(zdc_str_next_line(&s, &l));
    cr_assert(zdc_str_eq_c(l, "v=0"));
    cr_assert(zdc_str_next_line(&s, &l));
    cr_assert(zdc_str_eq_c(l, "o=- 1"));
    cr_assert(zdc_str_next_line(&s, &l));
    cr_assert(zdc_str_eq_c(l, "last"));
    cr_assert_not(zdc_str_next_line(&s, &l));
}

Test(text, tokens_skip_runs_of_spaces)
{
    zdc_str s = ZDC_STR_LIT("  a  bc d ");
    zdc_str t;
    cr_assert(zdc_str_token(&s, &t));
    cr_assert(zdc_str_eq_c(t, "a"));
    cr_assert(zdc_str_token(&s, &t));
    cr_assert(zdc_str_eq_c(t, "bc"));
    cr_assert(zdc_str_token(&s, &t));
    cr_assert(zdc_str_eq_c(t, "d"));
    cr_assert_not(zdc_str_token(&s, &t));
}

Test(text, strict_numbers)
{
    uint64_t v = 99;
    cr_assert_eq(zdc_str_to_u64(ZDC_STR_LIT("65535"), 65535, &v), 0);
    cr_assert_eq(v, 65535);
    cr_assert_eq(zdc_str_to_u64(ZDC_STR_LIT("65536"), 65535, &v), ZDC_ERR_TOO_LARGE);
    cr_assert_eq(zdc_str_to_u64(ZDC_STR_LIT("9"), 5, &v), ZDC_ERR_TOO_LARGE);
    cr_assert_eq(zdc_str_to_u64(ZDC_STR_LIT("18446744073709551616"), UINT64_MAX, &v),
                 ZDC_ERR_TOO_LARGE);
    cr_assert_eq(zdc_str_to_u64(ZDC_STR_LIT("18446744073709551615"), UINT64_MAX, &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(zdc_str_to_u64(ZDC_STR_LIT(""), 10, &v), ZDC_ERR_MALFORMED);
    cr_assert_eq(zdc_str_to_u64(ZDC_STR_LIT("+1"), 10, &v), ZDC_ERR_MALFORMED);
    cr_assert_eq(zdc_str_to_u64(ZDC_STR_LIT("1 "), 10, &v), ZDC_ERR_MALFORMED);
}

Test(text, case_insensitive_compare_and_copy)
{
    cr_assert(zdc_str_ieq_c(ZDC_STR_LIT("UDP"), "udp"));
    cr_assert_not(zdc_str_ieq_c(ZDC_STR_LIT("UDPx"), "udp"));
    cr_assert(zdc_str_ihas_prefix(ZDC_STR_LIT("Candidate:1"), "candidate:"));
    char buf[4];
    cr_assert_eq(zdc_str_copy(ZDC_STR_LIT("abc"), buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "abc");
    cr_assert_eq(zdc_str_copy(ZDC_STR_LIT("abcd"), buf, sizeof buf), ZDC_ERR_TOO_LARGE);
    cr_assert_str_eq(buf, "");
}

Test(error, every_code_has_text)
{
    for (int e = 0; e >= ZDC_ERR_PROTOCOL; e--)
        cr_assert_str_neq(zdc_strerror(e), "unknown error", "code %d", e);
    cr_assert_str_eq(zdc_strerror(-999), "unknown error");
}
