/*
 * drv_modbus.h - the Modbus driver: meters on TCP gateways and RTU lines,
 * read with libmodbus, one poller thread per bus (drivers/drv_modbus.c).
 *
 * Besides the ops table for foyerd, this header exports the driver's pure
 * parts so the unit tests and the bench use exactly the code foyerd runs:
 *   drv_modbus_decode_  registers (as received) -> value in the stored unit
 *   drv_modbus_plan_    a profile's registers -> as few read requests as possible
 * Neither does I/O, logs or keeps state.
 */
#ifndef FOYER_DRV_MODBUS_H
#define FOYER_DRV_MODBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/config.h"
#include "foyer/driver.h"

extern const struct driver_ops drv_modbus_ops;

/* Registers one read request may ask for: the protocol's limit (a PDU of
 * 253 bytes holds 125 registers). */
#define DRV_MODBUS_PLAN_WORDS_MAX 125
/* Unused registers a merged request reads through to join two ranges of
 * the same meter.  On a serial line at 9600 baud 16 registers (32 bytes,
 * ~35 ms) cost about what the round trip they save costs (request, turnaround,
 * frame delay); through a TCP gateway bytes are nearly free and round trips
 * are not, so the gap is larger.  A meter that refuses reads through unmapped
 * registers (exception 02) is read with gap 0 from then on. */
#define DRV_MODBUS_PLAN_GAP_MAX 16 /* RTU */
#define DRV_MODBUS_PLAN_GAP_TCP 64

/* Words (16-bit registers) a value of this type spans: 1, 2 or 4. */
unsigned drv_modbus_decode_words(enum reg_type type);

/* Decode reg's value from words, the registers as received from the meter
 * starting at reg->address (at least drv_modbus_decode_words(reg->type) of them):
 * word order and sign per reg, then value = raw * scale + offset.  Returns 0
 * or -EINVAL (too few words, unknown type).  The value may be NaN or out of
 * range: check it with drv_modbus_decode_acceptable(). */
int drv_modbus_decode_value(const struct profile_register *reg, const uint16_t *words,
                            size_t n_words, double *ret_value);

/* True when v is finite and within reg's declared [min_value, max_value]. */
bool drv_modbus_decode_acceptable(const struct profile_register *reg, double v);

/* One read request of a plan. */
struct drv_modbus_request {
    enum reg_function function; /* holding (03) or input (04) */
    uint16_t address;           /* first register, 0-based protocol address */
    uint16_t count;             /* registers, 1..DRV_MODBUS_PLAN_WORDS_MAX */
    uint32_t first_word;        /* where its words go in the meter's word buffer */
};

/* How to read all registers of a profile.  Registers of one function are
 * sorted by address and merged while the request stays within
 * DRV_MODBUS_PLAN_WORDS_MAX registers and the hole between two ranges is at most
 * gap_max registers. */
struct drv_modbus_plan {
    struct drv_modbus_request *reqs;
    size_t n_reqs;
    uint32_t *reg_word; /* per profile register: offset of its first word in the buffer */
    uint32_t *reg_req;  /* per profile register: index of the request that reads it */
    size_t n_words;     /* size of the word buffer: sum of the requests' counts */
};

/* Build the plan of profile p.  Returns 0 and *ret_plan (caller frees with
 * drv_modbus_plan_free()), -EINVAL when a register runs past address 65535, or
 * -ENOMEM. */
int drv_modbus_plan_build(const struct profile *p, unsigned gap_max,
                          struct drv_modbus_plan **ret_plan);
void drv_modbus_plan_free(struct drv_modbus_plan *plan);

#endif
