/*
 * limits.h - every bound on an input or a resource, with the reason for it.
 *
 * A limit that is hit is reported (with what and where) and counted; it never
 * crashes foyerd and never silently truncates data.
 */
#ifndef FOYER_LIMITS_H
#define FOYER_LIMITS_H

/* Longest ID of a building, dwelling, meter, sensor, bus or channel section.
 * Channel IDs are DEVICE.NAME, so two IDs and a dot must fit. */
#define FOYER_ID_MAX         64
#define FOYER_CHANNEL_ID_MAX (2 * FOYER_ID_MAX + 2)

/* Longest config line, including an inline comment: long enough for any
 * path or URL we expect, short enough that a binary file fed as config is
 * rejected at its first line. */
#define FOYER_CONF_LINE_MAX 1024

/* Nesting of include directives: a loop of includes stops here. */
#define FOYER_CONF_INCLUDE_DEPTH 8

/* Largest inventory one daemon accepts.  A building of 300 dwellings with
 * ten channels each is 3 000 channels; a site of several buildings fits. */
#define FOYER_CHANNELS_MAX 65536

/* Shortest poll interval of a meter.  Readings are stamped to the second,
 * and a poll's start moves by some milliseconds with the bus: polls 1 s
 * apart fall now and then on the same second, and one reading of the pair
 * is lost as a conflict.  2 s apart, only a poll kept a whole second behind
 * the other meters of its bus can. */
#define FOYER_METER_INTERVAL_MIN_S 2

/* Registers in one profile: the SDM630 map has about 80. */
#define FOYER_PROFILE_REGISTERS_MAX 256

/* Reading queue between drivers and the writer: a ring in a file beside the
 * database, preallocated at startup (32 bytes a reading, 8 MiB).  A
 * building of 500 meters with five registers polled every minute produces
 * about 40 readings/s: the ring holds 1.8 hours of them while the writer
 * waits out a full disk or a locked database; a broker flushing 2 000 QoS 1
 * messages/s (sensors catching up) fills it in 2 minutes, four times the
 * writer's longest retry interval. */
#define FOYER_QUEUE_CAPACITY 262144

/* The writer commits a batch when it holds this many readings or when the
 * oldest one has waited FOYER_BATCH_DEADLINE_MS. */
#define FOYER_BATCH_READINGS    5000
#define FOYER_BATCH_DEADLINE_MS 1000
/* Largest batch: batch_readings may not exceed it, and a writer that has
 * fallen behind takes up to this many queued readings in one commit
 * (1.2 MiB of buffer, allocated once). */
#define FOYER_BATCH_BACKLOG_MAX 50000

/* A counter reading that is stored at most this long after the previous one
 * is spread over at most this many hours (10 years): a longer gap is a
 * broken clock, handled as a new baseline. */
#define FOYER_SPREAD_HOURS_MAX (10 * 366 * 24)

/* CSV import: longest line; a longer one is a bad row. */
#define FOYER_CSV_LINE_MAX 512

/* Readings older than this before now, or further than this in the future,
 * are refused as absurd timestamps (clock not set, epoch in milliseconds). */
#define FOYER_TS_MIN_S      946684800   /* 2000-01-01T00:00:00Z */
#define FOYER_FUTURE_SKEW_S (24 * 3600) /* one day ahead of the local clock */

#endif
