/*
 * drv_modbus_decode.c - the Modbus driver's pure parts: decoding registers into
 * values (drv_modbus_decode_) and planning the read requests of a profile (drv_modbus_plan_).
 *
 * No I/O, no logging, no state: the bus threads call these with buffers they
 * own, and the unit tests and the bench call them directly.
 *
 * WORD ORDER
 *   A value of n words has 2n bytes, A the most significant.  The order names
 *   how they arrive, register by register (each register is sent high byte
 *   first on the wire, which libmodbus already turns into a uint16_t):
 *     ABCD  big-endian: high word first                    (Eastron, most)
 *     CDAB  low word first, each word big-endian          ("word swap")
 *     BADC  high word first, bytes swapped in each word    ("byte swap")
 *     DCBA  little-endian throughout
 *   For 64-bit values the same two switches apply to four words (CDAB:
 *   words in reverse order); a 16-bit value only has the byte swap.
 */
#include "foyer/drv_modbus.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

unsigned drv_modbus_decode_words(enum reg_type type)
{
    switch (type) {
    case RT_U16:
    case RT_S16:
        return 1;
    case RT_U32:
    case RT_S32:
    case RT_FLOAT32:
        return 2;
    case RT_U64:
    case RT_S64:
    case RT_FLOAT64:
        return 4;
    }
    return 0;
}

/* The value's bits as an unsigned integer, most significant byte first. */
static uint64_t assemble(const uint16_t *words, unsigned n, enum word_order order)
{
    bool swap_bytes = order == WO_BADC || order == WO_DCBA;
    bool reverse_words = order == WO_CDAB || order == WO_DCBA;
    uint64_t u = 0;
    for (unsigned i = 0; i < n; i++) {
        uint16_t w = words[reverse_words ? n - 1 - i : i];
        if (swap_bytes)
            w = (uint16_t)((w >> 8) | (w << 8));
        u = (u << 16) | w;
    }
    return u;
}

int drv_modbus_decode_value(const struct profile_register *reg, const uint16_t *words,
                            size_t n_words, double *ret_value)
{
    unsigned n = drv_modbus_decode_words(reg->type);
    if (n == 0 || n_words < n)
        return -EINVAL;
    uint64_t u = assemble(words, n, reg->order);
    double raw;
    switch (reg->type) {
    case RT_U16:
    case RT_U32:
        raw = (double)u;
        break;
    case RT_S16:
        raw = (double)((int64_t)u - (u >= 0x8000u ? 0x10000 : 0));
        break;
    case RT_S32:
        raw = (double)((int64_t)u - (u >= 0x80000000u ? (int64_t)0x100000000 : 0));
        break;
    case RT_U64:
        raw = (double)u;
        break;
    case RT_S64:
        /* Two's complement without a signed overflow: -(2^64 - u). */
        raw = u >= 0x8000000000000000u ? -(double)(~u + 1u) : (double)u;
        break;
    case RT_FLOAT32: {
        uint32_t bits = (uint32_t)u;
        float f;
        memcpy(&f, &bits, sizeof(f));
        raw = (double)f;
        break;
    }
    case RT_FLOAT64:
        memcpy(&raw, &u, sizeof(raw));
        break;
    default:
        return -EINVAL;
    }
    *ret_value = raw * reg->scale + reg->offset;
    return 0;
}

bool drv_modbus_decode_acceptable(const struct profile_register *reg, double v)
{
    return isfinite(v) && v >= reg->min_value && v <= reg->max_value;
}

void drv_modbus_plan_free(struct drv_modbus_plan *plan)
{
    if (!plan)
        return;
    free(plan->reqs);
    free(plan->reg_word);
    free(plan->reg_req);
    free(plan);
}

/* Sort key of a register: function first, then address. */
static uint32_t reg_key(const struct profile_register *r)
{
    return ((uint32_t)r->function << 16) | r->address;
}

int drv_modbus_plan_build(const struct profile *p, unsigned gap_max,
                          struct drv_modbus_plan **ret_plan)
{
    size_t n = p->n_regs;
    struct drv_modbus_plan *plan = calloc(1, sizeof(*plan));
    size_t *order = calloc(n ? n : 1, sizeof(*order));
    if (!plan || !order)
        goto out_nomem;
    plan->reqs = calloc(n ? n : 1, sizeof(*plan->reqs));
    plan->reg_word = calloc(n ? n : 1, sizeof(*plan->reg_word));
    plan->reg_req = calloc(n ? n : 1, sizeof(*plan->reg_req));
    if (!plan->reqs || !plan->reg_word || !plan->reg_req)
        goto out_nomem;

    /* Insertion sort: a profile has at most FOYER_PROFILE_REGISTERS_MAX. */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && reg_key(&p->regs[order[j - 1]]) > reg_key(&p->regs[i])) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }

    struct drv_modbus_request *cur = NULL;
    uint32_t cur_end = 0; /* one past the last register of cur */
    for (size_t k = 0; k < n; k++) {
        const struct profile_register *r = &p->regs[order[k]];
        uint32_t end = (uint32_t)r->address + drv_modbus_decode_words(r->type);
        if (drv_modbus_decode_words(r->type) == 0 || end > 0x10000u)
            goto out_inval;
        uint32_t new_end = end > cur_end ? end : cur_end;
        if (cur && cur->function == r->function && r->address <= cur_end + gap_max &&
            new_end - cur->address <= DRV_MODBUS_PLAN_WORDS_MAX) {
            cur_end = new_end;
        } else {
            cur = &plan->reqs[plan->n_reqs++];
            cur->function = r->function;
            cur->address = r->address;
            cur_end = end;
        }
        cur->count = (uint16_t)(cur_end - cur->address);
        plan->reg_req[order[k]] = (uint32_t)plan->n_reqs - 1;
    }
    uint32_t word = 0;
    for (size_t i = 0; i < plan->n_reqs; i++) {
        plan->reqs[i].first_word = word;
        word += plan->reqs[i].count;
    }
    plan->n_words = word;
    for (size_t i = 0; i < n; i++) {
        const struct drv_modbus_request *rq = &plan->reqs[plan->reg_req[i]];
        plan->reg_word[i] = rq->first_word + (uint32_t)(p->regs[i].address - rq->address);
    }
    free(order);
    *ret_plan = plan;
    return 0;

out_inval:
    free(order);
    drv_modbus_plan_free(plan);
    return -EINVAL;
out_nomem:
    free(order);
    drv_modbus_plan_free(plan);
    return -ENOMEM;
}
