/*
 * counter.h - turning cumulative index readings into consumption.
 *
 * Pure logic, no I/O: given a channel's state and a new reading, decide what
 * to store and how much consumption to spread over which interval.  The
 * store executes the returned operations inside its transaction.  The rules
 * (docs/DESIGN.md, "Counters"):
 *
 *   0 <= delta <= max_rate * dt     consumption, spread over [t_prev, t]
 *   delta < 0, rollover plausible   consumption value + rollover - prev
 *   other delta < 0                 held LOW: a glitch if the next reading
 *                                   returns to the previous level (dropped),
 *                                   a reset / replaced meter if it goes on
 *                                   from the low value (new baseline)
 *   delta > max_rate * dt           held JUMP: dropped when the next reading
 *                                   refutes it, a new baseline when the next
 *                                   reading confirms the new level
 *
 * A confirmed jump counts nothing for the interval: by definition it is more
 * than the channel can physically consume, so it is a replaced meter or a
 * misconfigured scale, and counting it would put hundreds of kWh in one hour.
 */
#ifndef FOYER_COUNTER_H
#define FOYER_COUNTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Status of a stored raw reading (column readings.status). */
enum reading_status {
    RS_ACCEPTED = 0,       /* continues the chain from the previous accepted reading */
    RS_BASELINE = 1,       /* starts a chain: first reading, after a reset or a jump */
    RS_HELD_LOW = 2,       /* below the previous index: waiting for the next reading */
    RS_HELD_JUMP = 3,      /* implausibly high: waiting for the next reading */
    RS_DROPPED_GLITCH = 4, /* a low reading the next one contradicted */
    RS_DROPPED_SPIKE = 5,  /* a jump the next one contradicted */
    RS_DROPPED_LATE = 6,   /* a late reading inconsistent with its neighbours */
};

/* True for statuses that take part in consumption (accepted or baseline). */
bool counter_status_counts(int status);

struct counter_params {
    double max_rate; /* unit per hour; <= 0: no limit */
    double rollover; /* index wraps to 0 here; 0: never */
};

struct counter_state {
    bool loaded; /* state read from the store (or known empty) */
    bool has_last;
    int64_t last_ts; /* last accepted or baseline reading */
    double last_v;
    bool has_held;
    int64_t held_ts; /* the held reading, newer than last */
    double held_v;
    int held_status; /* RS_HELD_LOW or RS_HELD_JUMP */
    int64_t max_ts;  /* newest stored reading of any status */
};

enum counter_op_kind {
    COP_STORE,      /* insert raw (ts, value, status) */
    COP_SET_STATUS, /* change the status of the stored reading at ts */
    COP_SPREAD,     /* add value (may be negative) over [ts, ts_end) */
    COP_EVENT,      /* record event `event` at ts: value, prev */
};

struct counter_op {
    enum counter_op_kind kind;
    int64_t ts;
    int64_t ts_end;
    double value;
    double prev;
    int status;
    const char *event; /* EVENT_* name, static */
};

#define COUNTER_OPS_MAX 8

/* Event names (events.kind). */
#define EVENT_METER_RESET    "meter_reset"
#define EVENT_INDEX_JUMP     "index_jump"
#define EVENT_ROLLOVER       "rollover"
#define EVENT_GLITCH_DROPPED "glitch_dropped"
#define EVENT_SPIKE_DROPPED  "spike_dropped"
#define EVENT_LATE_REFUSED   "late_refused"
#define EVENT_CONFLICT       "conflicting_duplicate"
#define EVENT_CLOCK_GAP      "clock_gap"

/* Feed a reading newer than every stored reading of the channel
 * (ts > st->max_ts).  Fills ops (OUT, COUNTER_OPS_MAX entries) and returns
 * their number; updates st. */
size_t counter_step(struct counter_state *st, const struct counter_params *p, int64_t ts, double v,
                    struct counter_op *ops);

/* A stored neighbour of a late reading: the nearest accepted-or-baseline
 * reading before (prev) or after (next) it. */
struct counter_neighbour {
    bool present;
    int64_t ts;
    double value;
    int status;
};

/* Feed a late reading (older than the newest stored one, no stored reading
 * at ts).  Slots it in between its neighbours when consistent, else stores
 * it as RS_DROPPED_LATE with an event.  Does not change the state's last
 * reading (prev and next are both stored). */
size_t counter_late(const struct counter_neighbour *prev, const struct counter_neighbour *next,
                    const struct counter_params *p, int64_t ts, double v, struct counter_op *ops);

#endif
