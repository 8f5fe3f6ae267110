/*
 * collector.h - what the files of central/ (the program foyer-collector)
 * share.  The collector is the central side of the fleet uplink
 * (docs/fleet.md): it takes the gateways' items from an MQTT broker, writes
 * them into PostgreSQL in batched transactions and acks each gateway's
 * sequence numbers once committed.
 *
 * Rooms: collector_conf.c reads the config file (with foyerd's INI reader,
 * conf_read_ini()); collector_item.c decodes an items message into struct
 * fleet_item (pure, no I/O); collector_db.c owns the PostgreSQL connection,
 * the schema and the batch writes (the only file holding SQL);
 * collector.c owns the MQTT client, the batch, the acks, /metrics and
 * main().
 */
#ifndef FOYER_COLLECTOR_H
#define FOYER_COLLECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/config.h"

/* ---- limits (the protocol's, docs/fleet.md) ------------------------------ */

/* An items message is at most 256 KiB (protocol): a gateway never sends
 * more, so a bigger one is malformed, refused before parsing. */
#define FLEET_MSG_MAX (256 * 1024)
/* Items per message (protocol: 1..500). */
#define FLEET_MSG_ITEMS_MAX 500
/* A gateway id: [A-Za-z0-9_-]{1,64} (protocol). */
#define FLEET_GW_MAX 64
/* Identifiers inside items (channel, building, dwelling, device, kinds):
 * the gateway's ids are at most FOYER_CHANNEL_ID_MAX; room to spare. */
#define FLEET_ID_MAX 200
/* Free texts (an event's detail, an alert's texts): a gateway's texts are
 * a sentence or two; a longer one is malformed, not truncated. */
#define FLEET_TEXT_MAX 4096
/* An erasure or withdrawal item names at most this many channels (a
 * dwelling has a handful; room for a large one), and an erasure part
 * carries at most this many folded periods (the gateway cuts a long
 * tenancy's folds into parts of FOYER_UPLINK_ERASE_FOLDS_MAX, ~130 bytes
 * each, so that a part stays far below a message). */
#define FLEET_ERASE_CHANNELS_MAX 1000
#define FLEET_ERASE_FOLDS_MAX    1000
/* batch_max: the items held in memory before a transaction.  The bound of
 * the collector's memory (plus one message): at ~2 KiB per decoded item,
 * 100 000 is 200 MiB. */
#define COLLECTOR_BATCH_MIN 1
#define COLLECTOR_BATCH_MAX 100000
/* Acks held while the broker is away (at most the gateways of a batch or
 * two in practice); beyond, dropped and counted: the gateways resend. */
#define COLLECTOR_HELD_ACKS_MAX 4096
/* Reconnection backoff (PostgreSQL and the broker): doubling from 1 s to
 * 30 s, so that an outage of minutes is noticed within 30 s. */
#define COLLECTOR_BACKOFF_MIN_MS 1000
#define COLLECTOR_BACKOFF_MAX_MS 30000

/* ---- config (collector_conf.c) ------------------------------------------- */

struct collector_conf {
    /* [broker] */
    char host[256];
    int port;             /* default 1883, 8883 with tls */
    bool tls;             /* TLS to the broker */
    char ca_file[4096];   /* empty: the system's CAs */
    char cert_file[4096]; /* client certificate (with key_file), or empty */
    char key_file[4096];
    char username[256];        /* empty: anonymous */
    char password[256];        /* read from password_file */
    char password_file[4096];  /* as configured, for messages */
    char client_id[128];       /* unique per collector: the persistent session's name */
    uint32_t session_expiry_s; /* MQTT 5 session expiry interval */
    int keepalive_s;
    int mqtt_version;     /* 5 (default) or 311 */
    char share_group[64]; /* the shared subscription's group */
    /* [postgresql] */
    char conninfo[4096]; /* libpq connection string (or read from conninfo_file) */
    /* [collector] */
    int batch_max;            /* items per transaction, also the memory bound */
    int batch_deadline_ms;    /* the oldest buffered item waits at most this long */
    char metrics_listen[128]; /* "ADDR:PORT" for GET /metrics, or empty */
    char log_level[16];
};

/* Read PATH into *ret (defaults filled in).  Every problem is printed on
 * ERRS as "FILE:LINE: message"; returns the number of problems (0: ret is
 * valid), or -errno when the file itself cannot be read (also printed). */
int collector_conf_load(const char *path, struct collector_conf *ret, FILE *errs);

/* ---- items (collector_item.c) -------------------------------------------- */

enum fleet_type {
    FLEET_ROLLUP,
    FLEET_EVENT,
    FLEET_ALERT,
    FLEET_DEVICE,
    FLEET_ERASURE,
    FLEET_WITHDRAWAL
};
enum fleet_gran { FLEET_HOUR, FLEET_DAY, FLEET_MONTH, FLEET_GRAN_COUNT_ };

/* A decoded item.  Strings are borrowed from the message's JSON (alive as
 * long as its json_t); absent optional values are NULL or has_x false. */
struct fleet_item {
    uint64_t seq;
    enum fleet_type type;
    /* rollup */
    enum fleet_gran gran;
    const char *channel, *building, *dwelling, *quantity, *kind, *unit;
    const char *start; /* local period start, ISO 8601 with offset */
    int64_t start_s;   /* epoch of the period start */
    double sum;
    int64_t n;
    bool has_min, has_max;
    double min, max;
    /* event, alert (id), device */
    int64_t id;
    int64_t time_s;                      /* event */
    const char *device, *detail, *state; /* event, device (state), alert (state) */
    bool has_value;
    double value;
    const char *severity, *text_fr, *text_en;            /* alert */
    int64_t opened_s, ack_s, closed_s;                   /* alert; ack_s/closed_s -1: null */
    int64_t since_s, polls, errors, timeouts, last_ok_s; /* device; last_ok_s -1: null */
    /* erasure (protocol amendment 3): the dwelling (dwelling), its
     * channels' ids, the cut (cut_s; cut the local time), the folded
     * periods ({building, quantity, unit, gran, start, start_s, sum, n}),
     * part of parts.  withdrawal: the dwelling, purpose, channels and
     * since (cut_s, cut).  Arrays borrowed from the message's JSON. */
    const json_t *channels, *folded;
    const char *purpose, *cut;
    int64_t cut_s, part, parts;
};

/* A decoded items message: the gateway (checked against the topic's), its
 * items' JSON array (owned by root), their number. */
struct fleet_msg {
    json_t *root; /* caller frees with json_decref() */
    char gateway[FLEET_GW_MAX + 1];
    size_t n_items;
};

/* The gateway id of topic "foyer/v1/GW/items" into ret_gw, or -EINVAL. */
int fleet_topic_gateway(const char *topic, char ret_gw[FLEET_GW_MAX + 1]);
/* Decode the envelope of an items message received on GW's topic.  On
 * failure (-EINVAL, -EMSGSIZE) err says why and nothing is returned: the
 * items cannot be trusted to carry their seqs (the message is counted,
 * logged, and left unacked; an envelope whose gateway differs from the
 * topic's is refused the same way). */
int fleet_msg_decode(const char *gw, const void *payload, size_t len, struct fleet_msg *ret,
                     char *err, size_t errlen);
/* Decode item I of MSG.  0 and *ret, or -EINVAL with err saying why; then
 * *ret_seq is the item's seq when it had a valid one (so that it is acked
 * as rejected), else 0. */
int fleet_item_decode(const struct fleet_msg *msg, size_t i, struct fleet_item *ret,
                      uint64_t *ret_seq, char *err, size_t errlen);
const char *fleet_gran_name(enum fleet_gran g);

/* ---- PostgreSQL (collector_db.c) ----------------------------------------- */

struct collector_db;

/* Items of one batch, grouped per gateway for the write. */
struct db_batch_item {
    const char *gateway;
    const struct fleet_item *item;
};
/* Per gateway in a batch: counts kept in the gateways table. */
struct db_batch_gw {
    const char *gateway;
    uint64_t max_seq; /* the batch's highest seq of this gateway */
    int64_t received; /* items received (valid ones) in the batch */
    int64_t rejected; /* items refused as malformed */
};

/* Connect with CONNINFO (NULL on failure, err says why). */
struct collector_db *db_open(const char *conninfo, char *err, size_t errlen);
void db_close(struct collector_db *db);
/* The connection still works (false after an error that broke it). */
bool db_ok(struct collector_db *db);
/* Create or migrate the schema to the latest version (idempotent; runs under
 * an advisory lock, so two collectors may do it at once).  *ret_from gets
 * the version found.  0 or -EIO (err says why). */
int db_migrate(struct collector_db *db, int *ret_from, int *ret_to, char *err, size_t errlen);
/* The schema's version in the database (0: none), or -EIO. */
int db_schema_version(struct collector_db *db, char *err, size_t errlen);
int db_schema_latest(void);
/* Create the partitions of the month of NOW_S and of the next two, so that
 * live data does not wait for them.  0 or -EIO (err says why). */
int db_create_ahead(struct collector_db *db, int64_t now_s, char *err, size_t errlen);
/* Write one batch in one transaction (partitions created as needed in it)
 * and commit.  0 once committed; after a rollback (err says why), -EINVAL
 * when a statement refused an item's data (SQLSTATE classes 22 and 23,
 * e.g. a CHECK constraint a DBA added: retrying the batch whole would fail
 * forever, item by item finds the culprit), else -EIO. */
int db_write_batch(struct collector_db *db, const struct db_batch_item *items, size_t n,
                   const struct db_batch_gw *gws, size_t n_gws, char *err, size_t errlen);

#endif
