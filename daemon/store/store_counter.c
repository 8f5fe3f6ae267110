/*
 * store_counter.c - index readings to consumption: the rules of counter.h.
 *
 * Every decision is an operation for the store; nothing here touches SQLite,
 * so the same code runs for live readings and for imports, and the unit
 * tests can check each rule on its own.
 */
#include "foyer/counter.h"

#include <math.h>
#include <string.h>

#include "foyer/limits.h"

/* Longest interval consumption is spread over (limits.h). */
#define SPREAD_MAX_S ((int64_t)FOYER_SPREAD_HOURS_MAX * 3600)

bool counter_status_counts(int status)
{
    return status == RS_ACCEPTED || status == RS_BASELINE;
}

bool counter_status_taken(int status)
{
    return counter_status_counts(status) || status == RS_UNCHANGED;
}

/* Largest plausible consumption between t0 and t1. */
static double limit(const struct counter_params *p, int64_t t0, int64_t t1)
{
    if (p->max_rate <= 0)
        return 1e300;
    return p->max_rate * (double)(t1 - t0) / 3600.0;
}

/* v is below the index by no more than the meter's resolution. */
static bool within_resolution(const struct counter_params *p, double index, double v)
{
    return v < index && index - v <= p->resolution;
}

static struct counter_op op_store(int64_t ts, double v, int status)
{
    return (struct counter_op){.kind = COP_STORE, .ts = ts, .value = v, .status = status};
}

static struct counter_op op_status(int64_t ts, int from, int to)
{
    return (struct counter_op){.kind = COP_SET_STATUS, .ts = ts, .old_status = from, .status = to};
}

static struct counter_op op_spread(int64_t t0, int64_t t1, double amount)
{
    return (struct counter_op){.kind = COP_SPREAD, .ts = t0, .ts_end = t1, .value = amount};
}

static struct counter_op op_event(const char *ev, int64_t ts, double v, double prev)
{
    return (struct counter_op){.kind = COP_EVENT, .event = ev, .ts = ts, .value = v, .prev = prev};
}

/* Resolve a held reading with the evidence of the reading (ts, v) after it. */
static size_t resolve_held(struct counter_state *st, const struct counter_params *p, int64_t ts,
                           double v, struct counter_op *ops)
{
    size_t n = 0;
    if (st->held_status == RS_HELD_LOW) {
        if (v >= st->last_v - p->resolution) {
            /* Back to the previous level: the low reading was a reboot. */
            ops[n++] = op_status(st->held_ts, RS_HELD_LOW, RS_DROPPED_GLITCH);
            ops[n++] = op_event(EVENT_GLITCH_DROPPED, st->held_ts, st->held_v, st->last_v);
        } else {
            /* Goes on from the low value: a reset or a new meter.  The
             * interval in between is unknown and counts nothing. */
            ops[n++] = op_status(st->held_ts, RS_HELD_LOW, RS_BASELINE);
            ops[n++] = op_event(EVENT_METER_RESET, st->held_ts, st->held_v, st->last_v);
            st->last_ts = st->held_ts;
            st->last_v = st->held_v;
        }
    } else {
        if (v >= st->held_v - p->resolution && v - st->held_v <= limit(p, st->held_ts, ts)) {
            ops[n++] = op_status(st->held_ts, RS_HELD_JUMP, RS_BASELINE);
            ops[n++] = op_event(EVENT_INDEX_JUMP, st->held_ts, st->held_v, st->last_v);
            st->last_ts = st->held_ts;
            st->last_v = st->held_v;
        } else {
            ops[n++] = op_status(st->held_ts, RS_HELD_JUMP, RS_DROPPED_SPIKE);
            ops[n++] = op_event(EVENT_SPIKE_DROPPED, st->held_ts, st->held_v, st->last_v);
        }
    }
    st->has_held = false;
    return n;
}

size_t counter_step(struct counter_state *st, const struct counter_params *p, int64_t ts, double v,
                    struct counter_op *ops)
{
    size_t n = 0;

    st->max_ts = ts;
    if (!st->has_last) {
        ops[n++] = op_store(ts, v, RS_BASELINE);
        st->has_last = true;
        st->last_ts = ts;
        st->last_v = v;
        return n;
    }
    if (st->has_held)
        n += resolve_held(st, p, ts, v, ops + n);

    if (ts - st->last_ts > SPREAD_MAX_S) {
        /* Too long to spread: a dead gateway or a clock set wrong. */
        ops[n++] = op_store(ts, v, RS_BASELINE);
        ops[n++] = op_event(EVENT_CLOCK_GAP, ts, v, st->last_v);
        st->last_ts = ts;
        st->last_v = v;
        return n;
    }

    double delta = v - st->last_v;
    double lim = limit(p, st->last_ts, ts);
    double wrapped = v + p->rollover - st->last_v;

    if (delta >= 0 && delta <= lim) {
        ops[n++] = op_store(ts, v, RS_ACCEPTED);
        if (delta > 0)
            ops[n++] = op_spread(st->last_ts, ts, delta);
    } else if (within_resolution(p, st->last_v, v)) {
        /* The index stays where it was: last_ts and last_v unchanged, so
         * consumption resumes only above it. */
        ops[n++] = op_store(ts, v, RS_UNCHANGED);
        return n;
    } else if (delta < 0 && p->rollover > 0 && wrapped >= 0 && wrapped <= lim) {
        ops[n++] = op_store(ts, v, RS_ACCEPTED);
        ops[n++] = op_event(EVENT_ROLLOVER, ts, v, st->last_v);
        if (wrapped > 0)
            ops[n++] = op_spread(st->last_ts, ts, wrapped);
    } else {
        int status = delta < 0 ? RS_HELD_LOW : RS_HELD_JUMP;
        ops[n++] = op_store(ts, v, status);
        st->has_held = true;
        st->held_ts = ts;
        st->held_v = v;
        st->held_status = status;
        return n;
    }
    st->last_ts = ts;
    st->last_v = v;
    return n;
}

static size_t refuse_late(const char *ev, int64_t ts, double v, double prev, struct counter_op *ops)
{
    ops[0] = op_store(ts, v, RS_DROPPED_LATE);
    ops[1] = op_event(ev, ts, v, prev);
    return 2;
}

size_t counter_late(const struct counter_neighbour *prev, const struct counter_neighbour *next,
                    const struct counter_params *p, int64_t ts, double v, struct counter_op *ops)
{
    size_t n = 0;
    bool next_continues = next->present && next->status == RS_ACCEPTED;
    /* What the reading is compared with, for the event: NaN (stored as
     * NULL) when there is nothing to compare with. */
    double before = prev->present ? prev->value : next->present ? next->value : NAN;
    bool gap = false;

    if (prev->present && next_continues) {
        /* Between two readings of one chain: refine how the consumption
         * between them is spread; the total does not change.  A next
         * below prev was a rollover: not worth slotting into.  Both are
         * at most the spread limit apart, or were before it was lowered. */
        if (within_resolution(p, prev->value, v) ||
            (v > next->value && next->value >= prev->value && v - next->value <= p->resolution)) {
            ops[n++] = op_store(ts, v, RS_UNCHANGED);
            return n;
        }
        if (v < prev->value || v > next->value)
            return refuse_late(EVENT_LATE_REFUSED, ts, v, prev->value, ops);
        ops[n++] = op_store(ts, v, RS_ACCEPTED);
        ops[n++] = op_spread(prev->ts, next->ts, -(next->value - prev->value));
        ops[n++] = op_spread(prev->ts, ts, v - prev->value);
        ops[n++] = op_spread(ts, next->ts, next->value - v);
        return n;
    }
    if (prev->present && ts - prev->ts <= SPREAD_MAX_S && within_resolution(p, prev->value, v)) {
        ops[n++] = op_store(ts, v, RS_UNCHANGED);
        return n;
    }
    if (prev->present && v >= prev->value && v - prev->value <= limit(p, prev->ts, ts)) {
        /* Extends the chain that ends at prev (next, if any, starts a new
         * chain after a reset), if not too far from it. */
        if (ts - prev->ts <= SPREAD_MAX_S) {
            ops[n++] = op_store(ts, v, RS_ACCEPTED);
            if (v > prev->value)
                ops[n++] = op_spread(prev->ts, ts, v - prev->value);
            return n;
        }
        gap = true;
    }
    if (next->present && next->status == RS_BASELINE && v <= next->value &&
        next->value - v <= limit(p, ts, next->ts)) {
        /* History before the first reading of a chain: it becomes the
         * chain's new start, if not too far before it. */
        if (next->ts - ts <= SPREAD_MAX_S) {
            ops[n++] = op_store(ts, v, RS_BASELINE);
            ops[n++] = op_status(next->ts, RS_BASELINE, RS_ACCEPTED);
            if (next->value > v)
                ops[n++] = op_spread(ts, next->ts, next->value - v);
            return n;
        }
        gap = true;
    }
    return refuse_late(gap ? EVENT_CLOCK_GAP : EVENT_LATE_REFUSED, ts, v, before, ops);
}

void counter_limit_events(struct counter_state *st, struct counter_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct counter_op *op = &ops[i];
        struct counter_seen *slot = NULL, *oldest = &st->seen[0];
        if (op->kind != COP_EVENT)
            continue;
        for (size_t k = 0; k < COUNTER_SEEN_SLOTS; k++) {
            struct counter_seen *s = &st->seen[k];
            int64_t apart = op->ts > s->ts ? op->ts - s->ts : s->ts - op->ts;
            if (s->kind && strcmp(s->kind, op->event) == 0 && apart < FOYER_EVENT_REPEAT_S)
                slot = s;
            if (!s->kind || (oldest->kind && s->ts < oldest->ts))
                oldest = s;
        }
        if (slot) {
            slot->more++;
            *op = (struct counter_op){
                .kind = COP_EVENT_MORE, .event = slot->kind, .ts = slot->ts, .more = slot->more};
        } else {
            *oldest = (struct counter_seen){.kind = op->event, .ts = op->ts};
        }
    }
}
