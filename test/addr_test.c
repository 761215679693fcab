#include <criterion/criterion.h>
#include <string.h>

#include "addr.h"
#include "zdc/error.h"

Test(addr, parse_format_roundtrip_v4_v6)
{
    zdc_addr a, b;
    char s[ZDC_ADDR_STRLEN];
    cr_assert_eq(zdc_addr_from_ip(&a, "192.0.2.1", 9, 3478), 0);
    cr_assert_eq(zdc_addr_family(&a), 4);
    cr_assert_eq(zdc_addr_port(&a), 3478);
    cr_assert_str_eq(zdc_addr_format(&a, true, s, sizeof s), "192.0.2.1:3478");
    cr_assert_eq(zdc_addr_from_ip(&b, "2001:db8::1", 11, 9), 0);
    cr_assert_eq(zdc_addr_family(&b), 6);
    cr_assert_str_eq(zdc_addr_format(&b, true, s, sizeof s), "[2001:db8::1]:9");
    cr_assert_str_eq(zdc_addr_format(&b, false, s, sizeof s), "2001:db8::1");
}

Test(addr, rejects_names_and_junk)
{
    zdc_addr a;
    cr_assert_eq(zdc_addr_from_ip(&a, "abc.local", 9, 1), ZDC_ERR_MALFORMED);
    cr_assert_eq(zdc_addr_from_ip(&a, "1.2.3.4 ", 8, 1), ZDC_ERR_MALFORMED);
    cr_assert_eq(zdc_addr_from_ip(&a, "", 0, 1), ZDC_ERR_MALFORMED);
    cr_assert_eq(zdc_addr_family(&a), 0);
}

Test(addr, equality_hash_and_classes)
{
    zdc_addr a, b, c;
    zdc_addr_from_ip(&a, "127.0.0.1", 9, 5000);
    zdc_addr_from_ip(&b, "127.0.0.1", 9, 5000);
    zdc_addr_from_ip(&c, "127.0.0.1", 9, 5001);
    cr_assert(zdc_addr_equal(&a, &b));
    cr_assert_eq(zdc_addr_hash(&a), zdc_addr_hash(&b));
    cr_assert_not(zdc_addr_equal(&a, &c));
    cr_assert(zdc_addr_ip_equal(&a, &c));
    cr_assert(zdc_addr_is_loopback(&a));
    zdc_addr_from_ip(&c, "fe80::1", 7, 1);
    cr_assert(zdc_addr_is_link_local(&c));
    cr_assert_not(zdc_addr_is_loopback(&c));
}

Test(addr, unmaps_v4_mapped_v6)
{
    zdc_addr a, b;
    zdc_addr_from_ip(&a, "::ffff:10.1.2.3", 15, 77);
    zdc_addr_unmap_v4(&a);
    zdc_addr_from_ip(&b, "10.1.2.3", 8, 77);
    cr_assert_eq(zdc_addr_family(&a), 4);
    cr_assert(zdc_addr_equal(&a, &b));
}
