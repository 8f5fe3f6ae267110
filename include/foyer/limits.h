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
/* An alert's sentence in a language file (daemon/alerts/alerts_lang.c):
 * two lines on a phone; a longer one is refused at load, FILE:LINE.  Filled
 * in (a place's label, an ID, figures) it fits in FOYER_ALERT_TEXT_MAX. */
#define FOYER_ALERT_TEMPLATE_MAX 240
/* Who acknowledged or closed an alert, and the note: what an ambassador
 * types on a phone; longer is refused (store_alerts_ack(): -EMSGSIZE), so
 * the alerts table never grows by a pasted document. */
#define FOYER_ALERT_WHO_MAX  128
#define FOYER_ALERT_NOTE_MAX 1000
#define FOYER_ALERT_TEXT_MAX     1024

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

/* Longest interval consumption is spread over, in either direction (a
 * reading in time order, a late one slotted in before or after a chain):
 * 92 days, a season, the longest calendar quarter.  A gateway out of order
 * for weeks, or quarterly readings imported from a supplier, are spread in
 * proportion to time (the hours have n = 0: estimated).  Longer, an even
 * spread would move a winter's heating into summer and is more likely a
 * device clock reset (to 2000 or 1970) than use: the reading starts a new
 * baseline (in time order) or is refused (late), with a clock_gap event,
 * and the interval counts nothing.  It also bounds the hours one reading
 * adds to a batch's rollups (2 209). */
#define FOYER_SPREAD_HOURS_MAX (92 * 24)

/* At most one counter event of a kind per channel in this many seconds of
 * reading time in the events table; the repeats are counted in the first
 * one's detail ("N more within an hour").  A meter that glitches every poll,
 * or a device with a wrong clock, leaves 24 rows a day, not 1 440. */
#define FOYER_EVENT_REPEAT_S 3600

/* CSV import: longest line; a longer one is a bad row. */
#define FOYER_CSV_LINE_MAX 512

/* Readings older than this are refused as absurd timestamps (clock not set,
 * epoch in milliseconds). */
#define FOYER_TS_MIN_S 946684800 /* 2000-01-01T00:00:00Z */

/* Default of [foyer] future_tolerance_s: a reading stamped further ahead of
 * the gateway's clock is refused (event future_refused), never stored: it
 * would become the channel's newest reading, and every genuine reading
 * after it would be late.  Five minutes absorb a device clock that NTP has
 * not yet corrected; a day is the most a config may allow, and what the
 * MQTT decoder refuses outright as an absurd time. */
#define FOYER_FUTURE_TOLERANCE_S     300
#define FOYER_FUTURE_TOLERANCE_MAX_S 86400

/* Device events waiting for the writer's next commit: a flapping device
 * (offline, online, every poll) must not grow memory; beyond, dropped and
 * counted. */
#define FOYER_WRITER_EVENTS_MAX 1024

/* Largest time zone file read (tu_zone_check()): the biggest of the tz
 * database are under 4 KiB (fat, with transitions to 2037); anything larger
 * is not one. */
#define FOYER_ZONE_FILE_MAX 65536

/* Language files: nodes of one tip condition (a line long), tips in a
 * catalogue, UI strings in a language.  Far above the shipped files (about
 * 20 tips, 60 strings); a file beyond is refused at load, FILE:LINE. */
#define FOYER_EXPR_NODES_MAX   64
#define FOYER_LANG_TIPS_MAX    64
#define FOYER_LANG_STRINGS_MAX 256

/* Secret files: a push bearer token is the first line of its file, at most
 * this long (longer is not a token); an MQTT password likewise, with its
 * terminating NUL. */
#define FOYER_TOKEN_MAX         4096
#define FOYER_MQTT_PASSWORD_MAX 256

/* MQTT client id: the broker may refuse longer ones (MQTT 3.1.1 promises
 * 23 bytes; mosquitto accepts 65 535); a config value beyond is refused. */
#define FOYER_MQTT_CLIENT_ID_MAX 128

#endif
