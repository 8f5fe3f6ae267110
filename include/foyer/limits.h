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
#define FOYER_ALERT_TEXT_MAX 1024

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

/* ---- JSON API (daemon/http/http_api*.c) ---------------------------------
 * Every answer is built in memory (the response buffer) on one of the
 * server's few threads, so what one request may ask for is bounded: a
 * range wider than these is refused (400, naming from and to). */
/* Days of an hourly range: a month of a load curve (744 rows a channel). */
#define FOYER_API_HOUR_DAYS_MAX 31
/* Days of a daily range: a year and a bit, to compare a month with the
 * same month last year. */
#define FOYER_API_DAY_DAYS_MAX 400
/* Days of a weekly or monthly range (built from daily figures): three
 * years, as the summaries compare with last year. */
#define FOYER_API_LONG_DAYS_MAX 1100
/* Rows of one CSV export (GET /api/v1/export.csv): about 8 MiB of text,
 * a year of daily figures of 270 channels or a month of hourly figures of
 * 130; more asks the energy team to narrow the range or pick a dwelling. */
#define FOYER_API_EXPORT_ROWS_MAX 100000
/* Events in one answer of GET /api/v1/events; the answer says where to
 * go on from (next_since). */
#define FOYER_API_EVENTS_MAX 1000

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
#define FOYER_EXPR_NODES_MAX 64
#define FOYER_LANG_TIPS_MAX  64
/* Languages a summary's tips are written in besides its own (tips[].texts):
 * French and English, the pages' two. */
#define FOYER_SUMMARY_TEXT_LANGS_MAX 2
#define FOYER_LANG_STRINGS_MAX       256

/* Secret files: a push bearer token is the first line of its file, at most
 * this long (longer is not a token); an MQTT password likewise, with its
 * terminating NUL. */
#define FOYER_TOKEN_MAX         4096
#define FOYER_MQTT_PASSWORD_MAX 256

/* MQTT client id: the broker may refuse longer ones (MQTT 3.1.1 promises
 * 23 bytes; mosquitto accepts 65 535); a config value beyond is refused. */
#define FOYER_MQTT_CLIENT_ID_MAX 128

/* Tenant pages (daemon/http/): the optional text of a problem report, in
 * characters (at most 4 bytes of UTF-8 each): a short sentence for the
 * ambassador ("the radiator of the bedroom stays cold"), not a letter; the
 * form stops typing there, and longer is refused with a 400 page. */
#define FOYER_REPORT_TEXT_MAX 280

/* A tenancy's reference (`foyerctl tenancy start --ref`): the landlord's
 * lease number or file name, not a description; longer is refused. */
#define FOYER_TENANCY_REF_MAX 64

/* Days the access log (reads of a dwelling's data by anyone but its
 * household) is kept: the CNIL recommends 6 months to a year. */
#define FOYER_ACCESS_LOG_DAYS 365

/* ---- HTTP server (daemon/http/) ----------------------------------------
 * libmicrohttpd's defaults are unsafe for a gateway facing a building's
 * network: no connection timeout, no per-IP limit.  These bound what one
 * client, or all of them, may hold. */

/* A connection idle this long is closed: a tablet's request takes
 * milliseconds; a slow client holding a connection open gets no more. */
#define FOYER_HTTP_TIMEOUT_S 10
/* Connections open at once, in all: 800 tablets refreshing every few
 * minutes are a handful at a time; beyond, new connections are refused
 * (the kernel's backlog waits) while the daemon goes on ingesting. */
#define FOYER_HTTP_CONN_MAX 64
/* Connections from one address at once: a browser opens 6; a slowloris
 * from one host cannot take the others' places. */
#define FOYER_HTTP_CONN_PER_IP_MAX 8
/* Memory of one connection for its request line, headers and read buffer
 * (libmicrohttpd's pool): bounds the headers (431 beyond) and, with
 * FOYER_HTTP_CONN_MAX, the server's memory (64 x 32 KiB = 2 MiB). */
#define FOYER_HTTP_CONN_MEMORY 32768
/* Threads answering requests, each with its read-only store handle: the
 * gateway has 2 cores and the writer needs one. */
#define FOYER_HTTP_THREADS 2
/* A request body: the only bodies are a pairing code, a tip answer, a
 * problem report with a short text; larger is refused (413). */
#define FOYER_HTTP_BODY_MAX 4096
/* A query-string or form value: dates, periods, IDs; longer is refused
 * (400). */
#define FOYER_HTTP_QUERY_MAX 256
/* Query-string arguments of one request; more is refused (400). */
#define FOYER_HTTP_QUERY_ARGS_MAX 16
/* A static file served from web_dir: the pages' CSS, scripts and icons
 * are a few KiB; larger is not one of ours (404). */
#define FOYER_HTTP_STATIC_MAX (1024 * 1024)
/* A TLS certificate chain or key file, read at start. */
#define FOYER_HTTP_PEM_MAX 65536
/* Pairing: a code is valid this long and dies after this many failed
 * exchanges counted against it (every wrong code counts against every
 * live one: 5 guesses of 31^8 codes in all). */
#define FOYER_PAIR_VALID_S   900
#define FOYER_PAIR_TRIES_MAX 5
/* Devices whose latest health foyerd keeps for /metrics: far above a
 * gateway's meters and sensors; a wildcard sensor's devices beyond are
 * left out of /metrics (and still stored by the writer). */
#define FOYER_HTTP_DEVICES_MAX 4096
/* Failed authentications (a dead token, a wrong pairing code) one client
 * address may make in a window before it is answered 429 until the window
 * ends: a tablet with a stale cookie fails once per refresh; a program
 * guessing codes gets 20 a minute.  Addresses tracked at once: the
 * oldest is forgotten beyond. */
#define FOYER_HTTP_AUTH_FAILS_MAX   20
#define FOYER_HTTP_AUTH_WINDOW_S    60
#define FOYER_HTTP_AUTH_CLIENTS_MAX 256
/* A building's status answer (GET /api/v1/buildings/{id}/status) is kept
 * this long and served again to every ambassador asking meanwhile: for 300
 * dwellings it reads some 1 500 rows (2-3 ms), and its data (device
 * states, daily totals) is seconds to minutes old anyway.  Forgotten after
 * that time and at any non-GET request (docs/api.md says so). */
#define FOYER_HTTP_STATUS_CACHE_S 2
/* Buildings whose status answers are kept at once (one per building and
 * role: energy team, ambassador); a config with more serves the others
 * uncached. */
#define FOYER_HTTP_STATUS_CACHE_MAX 64
/* A token's name (foyerctl token create --name). */
#define FOYER_TOKEN_NAME_MAX 63
/* An ambassador token's buildings. */
#define FOYER_TOKEN_BUILDINGS_MAX 32

/* Fleet uplink (daemon/uplink/, the fleet protocol).  A gateway id is a
 * topic level and part of every central key: 64 characters name any
 * building.  An items message is at most 256 KiB (the protocol's bound,
 * what the collector reads in one piece) and 500 items (the protocol's);
 * max_in_flight at most 100 000 unacked items (the uplink keeps one small
 * record per message sent, never the items).  Beyond
 * FOYER_UPLINK_OUTBOX_MAX items waiting, no new item is queued: the
 * changed rollups stay as keys in uplink_dirty (one row per period, however
 * often it changes) and events behind a cursor, so a gateway cut off for
 * months keeps a bounded outbox and loses nothing.  Acks waiting for the
 * uplink thread: beyond, an ack's ranges are dropped and counted, and the
 * items are sent again after ack_timeout_s. */
#define FOYER_UPLINK_GATEWAY_ID_MAX 64
#define FOYER_UPLINK_MSG_MAX        (256 * 1024)
#define FOYER_UPLINK_BATCH_MAX      500
#define FOYER_UPLINK_IN_FLIGHT_MAX  100000
#define FOYER_UPLINK_OUTBOX_MAX     200000
#define FOYER_UPLINK_ACK_RANGES_MAX 4096
/* Dirty keys, events or devices turned into items per transaction: a
 * short transaction, so the writer never waits long for the lock. */
#define FOYER_UPLINK_HARVEST_MAX 2000
/* Folded periods per erasure item (protocol amendment 3): ~150 bytes each,
 * so a part stays near 150 KiB, within a message (FOYER_UPLINK_MSG_MAX)
 * and the collector's FLEET_ERASE_FOLDS_MAX; a long tenancy's days are
 * sent in several parts. */
#define FOYER_UPLINK_ERASE_FOLDS_MAX 1000

/* A tenant's grant to an ambassador (store_grant.h) lasts this many days
 * unless the tenant chooses: the "30 days by default", long
 * enough for a budget follow-up, short enough that a forgotten grant
 * ends by itself.  At most FOYER_GRANT_DAYS_MAX: a year, the longest an
 * accompaniment runs before it is renewed. */
#define FOYER_GRANT_DAYS_DEFAULT 30
#define FOYER_GRANT_DAYS_MAX     365

/* Grants of one tenancy that may be active at once: a household works
 * with one or two advisers; the bound keeps the tablet's list and the
 * per-request check short. */
#define FOYER_GRANTS_ACTIVE_MAX 8

#endif
