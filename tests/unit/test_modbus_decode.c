/*
 * test_modbus_decode.c - the Modbus driver's pure parts: every register type
 * in every word order decodes to its value from hand-written register words,
 * scale and offset apply, NaN/infinity/out-of-range values are refused, and
 * the request planner merges ranges within the 125-register and gap limits.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "foyer/drv_modbus.h"

static struct profile_register reg_of(enum reg_type t, enum word_order o)
{
    struct profile_register r = {
        .type = t, .order = o, .scale = 1, .offset = 0, .min_value = -1e300, .max_value = 1e300};
    return r;
}

struct decode_case {
    const char *name;
    enum reg_type type;
    enum word_order order;
    uint16_t words[4];
    double expect;
};

/* Words as a meter sends them, written out by hand from the byte layouts. */
static const struct decode_case cases[] = {
    {"u16 ABCD", RT_U16, WO_ABCD, {0x3039}, 12345},
    {"u16 CDAB", RT_U16, WO_CDAB, {0x3039}, 12345},
    {"u16 BADC", RT_U16, WO_BADC, {0x3930}, 12345},
    {"u16 DCBA", RT_U16, WO_DCBA, {0x3930}, 12345},
    {"s16 ABCD", RT_S16, WO_ABCD, {0xCFC7}, -12345},
    {"s16 BADC", RT_S16, WO_BADC, {0xC7CF}, -12345},
    {"s16 min", RT_S16, WO_ABCD, {0x8000}, -32768},
    {"u32 ABCD", RT_U32, WO_ABCD, {0xB2D0, 0x5E00}, 3000000000.0},
    {"u32 CDAB", RT_U32, WO_CDAB, {0x5E00, 0xB2D0}, 3000000000.0},
    {"u32 BADC", RT_U32, WO_BADC, {0xD0B2, 0x005E}, 3000000000.0},
    {"u32 DCBA", RT_U32, WO_DCBA, {0x005E, 0xD0B2}, 3000000000.0},
    {"s32 ABCD", RT_S32, WO_ABCD, {0x88CA, 0x6C00}, -2000000000.0},
    {"s32 CDAB", RT_S32, WO_CDAB, {0x6C00, 0x88CA}, -2000000000.0},
    {"s32 BADC", RT_S32, WO_BADC, {0xCA88, 0x006C}, -2000000000.0},
    {"s32 DCBA", RT_S32, WO_DCBA, {0x006C, 0xCA88}, -2000000000.0},
    /* 1234567890123 = 0x0000011F71FB04CB */
    {"u64 ABCD", RT_U64, WO_ABCD, {0x0000, 0x011F, 0x71FB, 0x04CB}, 1234567890123.0},
    {"u64 CDAB", RT_U64, WO_CDAB, {0x04CB, 0x71FB, 0x011F, 0x0000}, 1234567890123.0},
    {"u64 BADC", RT_U64, WO_BADC, {0x0000, 0x1F01, 0xFB71, 0xCB04}, 1234567890123.0},
    {"u64 DCBA", RT_U64, WO_DCBA, {0xCB04, 0xFB71, 0x1F01, 0x0000}, 1234567890123.0},
    /* -1234567890123 = 0xFFFFFEE08E04FB35 */
    {"s64 ABCD", RT_S64, WO_ABCD, {0xFFFF, 0xFEE0, 0x8E04, 0xFB35}, -1234567890123.0},
    {"s64 CDAB", RT_S64, WO_CDAB, {0xFB35, 0x8E04, 0xFEE0, 0xFFFF}, -1234567890123.0},
    {"s64 BADC", RT_S64, WO_BADC, {0xFFFF, 0xE0FE, 0x048E, 0x35FB}, -1234567890123.0},
    {"s64 DCBA", RT_S64, WO_DCBA, {0x35FB, 0x048E, 0xE0FE, 0xFFFF}, -1234567890123.0},
    {"s64 min", RT_S64, WO_ABCD, {0x8000, 0, 0, 0}, -9223372036854775808.0},
    /* 1234.5f = 0x449A5000 */
    {"float32 ABCD", RT_FLOAT32, WO_ABCD, {0x449A, 0x5000}, 1234.5},
    {"float32 CDAB", RT_FLOAT32, WO_CDAB, {0x5000, 0x449A}, 1234.5},
    {"float32 BADC", RT_FLOAT32, WO_BADC, {0x9A44, 0x0050}, 1234.5},
    {"float32 DCBA", RT_FLOAT32, WO_DCBA, {0x0050, 0x9A44}, 1234.5},
    /* -98765.4321 = 0xC0F81CD6E9E1B08A */
    {"float64 ABCD", RT_FLOAT64, WO_ABCD, {0xC0F8, 0x1CD6, 0xE9E1, 0xB08A}, -98765.4321},
    {"float64 CDAB", RT_FLOAT64, WO_CDAB, {0xB08A, 0xE9E1, 0x1CD6, 0xC0F8}, -98765.4321},
    {"float64 BADC", RT_FLOAT64, WO_BADC, {0xF8C0, 0xD61C, 0xE1E9, 0x8AB0}, -98765.4321},
    {"float64 DCBA", RT_FLOAT64, WO_DCBA, {0x8AB0, 0xE1E9, 0xD61C, 0xF8C0}, -98765.4321},
};

static void test_every_type_and_order(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct decode_case *c = &cases[i];
        struct profile_register r = reg_of(c->type, c->order);
        double v = 0;
        int rc = drv_modbus_decode_value(&r, c->words, 4, &v);
        if (rc != 0 || v != c->expect)
            fail_msg("%s: rc %d, decoded %.17g, expected %.17g", c->name, rc, v, c->expect);
    }
}

static void test_scale_offset_and_short_input(void **state)
{
    (void)state;
    struct profile_register r = reg_of(RT_U32, WO_ABCD);
    r.scale = 0.001;
    r.offset = 10;
    const uint16_t w[2] = {0x0001, 0x0000}; /* 65536 */
    double v = 0;
    assert_int_equal(drv_modbus_decode_value(&r, w, 2, &v), 0);
    assert_true(fabs(v - 75.536) < 1e-9);
    v = 42;
    assert_int_equal(drv_modbus_decode_value(&r, w, 1, &v), -EINVAL);
    assert_true(v == 42); /* untouched on failure */
    assert_int_equal(drv_modbus_decode_words(RT_U16), 1);
    assert_int_equal(drv_modbus_decode_words(RT_FLOAT32), 2);
    assert_int_equal(drv_modbus_decode_words(RT_S64), 4);
}

static void test_acceptable(void **state)
{
    (void)state;
    struct profile_register r = reg_of(RT_FLOAT32, WO_ABCD);
    r.min_value = 0;
    r.max_value = 1000;
    assert_true(drv_modbus_decode_acceptable(&r, 0));
    assert_true(drv_modbus_decode_acceptable(&r, 1000));
    assert_false(drv_modbus_decode_acceptable(&r, -0.001));
    assert_false(drv_modbus_decode_acceptable(&r, 1000.5));
    assert_false(drv_modbus_decode_acceptable(&r, NAN));
    assert_false(drv_modbus_decode_acceptable(&r, INFINITY));
    assert_false(drv_modbus_decode_acceptable(&r, -INFINITY));
    /* A float32 NaN from the wire stays NaN after scaling, and is refused. */
    const uint16_t nan_words[2] = {0x7FC0, 0x0000};
    double v = 0;
    assert_int_equal(drv_modbus_decode_value(&r, nan_words, 2, &v), 0);
    assert_false(drv_modbus_decode_acceptable(&r, v));
}

static struct profile_register preg(enum reg_function f, uint16_t addr, enum reg_type t)
{
    struct profile_register r = reg_of(t, WO_ABCD);
    r.function = f;
    r.address = addr;
    return r;
}

static void test_plan_sdm630(void **state)
{
    (void)state;
    /* The shipped SDM630 profile's registers, in file order. */
    struct profile_register regs[] = {
        preg(REG_INPUT, 0x00, RT_FLOAT32), preg(REG_INPUT, 0x06, RT_FLOAT32),
        preg(REG_INPUT, 0x34, RT_FLOAT32), preg(REG_INPUT, 0x48, RT_FLOAT32),
        preg(REG_INPUT, 0x4A, RT_FLOAT32),
    };
    struct profile p = {.name = "sdm630", .regs = regs, .n_regs = 5};
    struct drv_modbus_plan *plan = NULL;
    assert_int_equal(drv_modbus_plan_build(&p, DRV_MODBUS_PLAN_GAP_MAX, &plan), 0);
    assert_int_equal(plan->n_reqs, 3);
    assert_int_equal(plan->reqs[0].address, 0x00);
    assert_int_equal(plan->reqs[0].count, 8);
    assert_int_equal(plan->reqs[1].address, 0x34);
    assert_int_equal(plan->reqs[1].count, 2);
    assert_int_equal(plan->reqs[2].address, 0x48);
    assert_int_equal(plan->reqs[2].count, 4);
    assert_int_equal(plan->n_words, 14);
    assert_int_equal(plan->reg_word[1], 6);
    assert_int_equal(plan->reg_word[2], 8);
    assert_int_equal(plan->reg_word[4], 12);
    assert_int_equal(plan->reg_req[4], 2);
    drv_modbus_plan_free(plan);

    /* With a wide gap allowance everything is one request of 76 registers. */
    assert_int_equal(drv_modbus_plan_build(&p, 100, &plan), 0);
    assert_int_equal(plan->n_reqs, 1);
    assert_int_equal(plan->reqs[0].count, 0x4C);
    drv_modbus_plan_free(plan);
}

static void test_plan_limits(void **state)
{
    (void)state;
    /* u32 every 10 registers from 0 to 130, listed backwards; a u16 inside
     * the first one; an input register; a far holding register. */
    struct profile_register regs[17];
    size_t n = 0;
    for (int a = 130; a >= 0; a -= 10)
        regs[n++] = preg(REG_HOLDING, (uint16_t)a, RT_U32);
    regs[n++] = preg(REG_HOLDING, 1, RT_U16);
    regs[n++] = preg(REG_INPUT, 0, RT_U16);
    regs[n++] = preg(REG_HOLDING, 200, RT_U16);
    struct profile p = {.name = "t", .regs = regs, .n_regs = n};
    struct drv_modbus_plan *plan = NULL;
    assert_int_equal(drv_modbus_plan_build(&p, DRV_MODBUS_PLAN_GAP_MAX, &plan), 0);
    /* holding [0,122) stops before 125; [130,132); holding 200; input 0 */
    assert_int_equal(plan->n_reqs, 4);
    assert_int_equal(plan->reqs[0].function, REG_HOLDING);
    assert_int_equal(plan->reqs[0].address, 0);
    assert_int_equal(plan->reqs[0].count, 122);
    assert_int_equal(plan->reqs[1].address, 130);
    assert_int_equal(plan->reqs[1].count, 2);
    assert_int_equal(plan->reqs[2].address, 200);
    assert_int_equal(plan->reqs[2].count, 1);
    assert_int_equal(plan->reqs[3].function, REG_INPUT);
    for (size_t i = 0; i < plan->n_reqs; i++)
        assert_true(plan->reqs[i].count >= 1 && plan->reqs[i].count <= DRV_MODBUS_PLAN_WORDS_MAX);
    assert_int_equal(plan->reg_word[0], 122);  /* holding 130: first word of request 1 */
    assert_int_equal(plan->reg_word[13], 0);   /* holding 0 */
    assert_int_equal(plan->reg_word[14], 1);   /* the u16 inside it */
    assert_int_equal(plan->reg_word[15], 125); /* input 0 after 122 + 2 + 1 words */
    assert_int_equal(plan->n_words, 126);
    drv_modbus_plan_free(plan);

    /* Gaps larger than the allowance are not read through. */
    struct profile_register gap[] = {preg(REG_INPUT, 0, RT_U16), preg(REG_INPUT, 17, RT_U16),
                                     preg(REG_INPUT, 35, RT_U16)};
    struct profile g = {.name = "gap", .regs = gap, .n_regs = 3};
    assert_int_equal(drv_modbus_plan_build(&g, DRV_MODBUS_PLAN_GAP_MAX, &plan), 0);
    /* 16 unused registers (1..16) are read through, 17 (18..34) are not. */
    assert_int_equal(plan->n_reqs, 2);
    assert_int_equal(plan->reqs[0].count, 18);
    drv_modbus_plan_free(plan);

    struct profile_register past[] = {preg(REG_HOLDING, 65535, RT_U32)};
    struct profile q = {.name = "past", .regs = past, .n_regs = 1};
    plan = NULL;
    assert_int_equal(drv_modbus_plan_build(&q, DRV_MODBUS_PLAN_GAP_MAX, &plan), -EINVAL);
    assert_null(plan);
    drv_modbus_plan_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_and_order),
        cmocka_unit_test(test_scale_offset_and_short_input),
        cmocka_unit_test(test_acceptable),
        cmocka_unit_test(test_plan_sdm630),
        cmocka_unit_test(test_plan_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
