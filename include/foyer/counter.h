/*
 * counter.h - turning cumulative index readings into consumption.
 *
 * Pure logic, no I/O: given a channel's state and a new reading, decide what
 * to store and how much consumption to spread over which interval.  The
 * store executes the returned operations inside its transaction.  The rules
 * (docs/DESIGN.md, "Counters"), for a reading against the chain's index
 * (the last accepted or baseline reading):
 *
 *   more than FOYER_SPREAD_HOURS_MAX   never spread: a new baseline (event
 *   after the index                    clock_gap); the interval counts nothing
 *   0 <= delta <= max_rate * dt        consumption, spread over [t_prev, t]
 *   -resolution <= delta < 0           no change (RS_UNCHANGED): the meter's
 *                                      last digit or a float jitters; the
 *                                      index stays, nothing is counted, no
 *                                      event.  Keeping the higher index means
 *                                      jitter never adds up to consumption.
 *   delta < 0, rollover plausible      consumption value + rollover - prev
 *   other delta < 0                    held LOW: a glitch if the next reading
 *                                      returns to the previous level (within
 *                                      the resolution: dropped), a reset /
 *                                      replaced meter if it goes on from the
 *                                      low value (new baseline)
 *   delta > max_rate * dt              held JUMP: dropped when the next reading
 *                                      refutes it, a new baseline when the next
 *                                      reading confirms the new level
 *
 * A confirmed jump counts nothing for the interval: by definition it is more
 * than the channel can physically consume, so it is a replaced meter or a
 * misconfigured scale, and counting it would put hundreds of kWh in one hour.
 * An index creeping back by less than the resolution per reading therefore
 * costs one reset (and one event) each time the creep exceeds the
 * resolution, not one per reading.
 *
 * Events are rate-limited per channel (counter_limit_events): a repeat of an
 * event kind within FOYER_EVENT_REPEAT_S of reading time of the last one
 * stored becomes a count on that one.
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
    RS_DROPPED_LATE = 6,   /* a late reading inconsistent with its neighbours, or too
                              far from them (clock_gap) */
    RS_UNCHANGED = 7,      /* below the chain's index by at most the resolution: no
                              change; not part of the chain (the index stays) */
};

/* True for statuses that form the chain consumption is counted along
 * (accepted or baseline). */
bool counter_status_counts(int status);

/* True for readings taken as valid: the chain's and the unchanged ones.
 * They make up n, the number of readings a period's figure rests on. */
bool counter_status_taken(int status);

struct counter_params {
    double max_rate;   /* unit per hour; <= 0: no limit */
    double rollover;   /* index wraps to 0 here; 0: never */
    double resolution; /* unit; a drop of at most this is no change; 0: none */
};

/* A recent event of the channel, for the rate limit. */
struct counter_seen {
    const char *kind; /* EVENT_* name (static), NULL: free slot */
    int64_t ts;       /* time of the stored event */
    uint32_t more;    /* repeats counted on it so far */
};

#define COUNTER_SEEN_SLOTS 3

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
    /* Events stored lately (kept when the rest is reloaded; forgotten on a
     * restart, which costs at most one extra event row per kind). */
    struct counter_seen seen[COUNTER_SEEN_SLOTS];
};

enum counter_op_kind {
    COP_STORE,      /* insert raw (ts, value, status) */
    COP_SET_STATUS, /* change the status of the stored reading at ts from
                       old_status to status */
    COP_SPREAD,     /* add value (may be negative) over [ts, ts_end) */
    COP_EVENT,      /* record event `event` at ts: value, prev (NaN: none) */
    COP_EVENT_MORE, /* the event `event` stored at ts has `more` repeats */
};

struct counter_op {
    enum counter_op_kind kind;
    int64_t ts;
    int64_t ts_end;
    double value;
    double prev;
    int status;
    int old_status;    /* COP_SET_STATUS */
    uint32_t more;     /* COP_EVENT_MORE */
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
#define EVENT_CLOCK_GAP      "clock_gap"      /* more than FOYER_SPREAD_HOURS_MAX away */
#define EVENT_FUTURE_REFUSED "future_refused" /* stamped ahead of the gateway's clock */

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
 * at ts).  Slots it in between its neighbours when consistent (or stores it
 * RS_UNCHANGED when it is within the resolution below the chain's index
 * there), else stores it as RS_DROPPED_LATE with an event: clock_gap when
 * counting it would spread over more than FOYER_SPREAD_HOURS_MAX,
 * late_refused otherwise.  Does not change the state's last reading (prev
 * and next are both stored).  Either neighbour may be absent (present =
 * false; its other fields are then not read). */
size_t counter_late(const struct counter_neighbour *prev, const struct counter_neighbour *next,
                    const struct counter_params *p, int64_t ts, double v, struct counter_op *ops);

/* Rate-limit the events among ops[0..n): an event of a kind the channel
 * stored less than FOYER_EVENT_REPEAT_S (of reading time) away becomes a
 * COP_EVENT_MORE on that one; others are kept and remembered in st->seen
 * (the oldest slot is reused).  Changes ops in place, never their number. */
void counter_limit_events(struct counter_state *st, struct counter_op *ops, size_t n);

#endif
