/*
 * uplink.h - the fleet uplink: foyerd's figures to the landlord's central
 * broker and collector (the [uplink] section; the protocol is the fleet
 * uplink protocol, version 1: docs/DESIGN.md, "Beyond one machine").
 *
 * The uplink thread ("foyer-uplink") owns the store's uplink tables through
 * a handle of its own (include/foyer/store_uplink.h): it turns changed
 * rollups, events and device health into items of the persistent outbox,
 * publishes them oldest first in messages of at most batch_items items
 * (QoS 1) on foyer/v1/GW/items, keeps at most max_in_flight items unacked,
 * and deletes items only when the collector's application ack (on
 * foyer/v1/GW/ack, sent after its database commit) names them, acked or
 * rejected; the broker's PUBACK deletes nothing.  An item not acked within
 * ack_timeout_s is sent again, and every unacked item is sent again, oldest
 * first, after each (re)connection.  A network thread
 * ("foyer-uplink-net") runs libmosquitto's loop; connects are made by the
 * uplink thread, never blocking (as the MQTT driver's, drivers/drv_mqtt.c),
 * with backoff up to 30 s, MQTT 5 falling back to 3.1.1.
 *
 * Memory is bounded whatever the outbox holds: one message buffer
 * (FOYER_UPLINK_MSG_MAX), one record per message in flight, and the acks
 * waiting (FOYER_UPLINK_ACK_RANGES_MAX ranges).
 */
#ifndef FOYER_UPLINK_H
#define FOYER_UPLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "foyer/config.h"

/* Counters since start, and the outbox as last seen (any thread). */
struct uplink_stats {
    uint64_t queued;       /* items put in the outbox */
    uint64_t withheld;     /* hourly figures not sent: the dwelling has no consent */
    uint64_t sent;         /* items published (first sends) */
    uint64_t resent;       /* items published again (ack timeout, reconnection) */
    uint64_t acked;        /* items the collector acked (deleted) */
    uint64_t rejected;     /* items the collector rejected (deleted, logged) */
    uint64_t messages;     /* items messages published */
    uint64_t acks;         /* ack messages taken */
    uint64_t acks_bad;     /* ack messages refused (malformed, another gateway) */
    uint64_t acks_dropped; /* ack ranges dropped: too many waiting (resent later) */
    int64_t depth;         /* items in the outbox */
    int64_t oldest_s;      /* creation time of the oldest item (UTC s), 0 none */
    bool connected;        /* to the central broker now */
};

struct uplink;

/* Open the uplink's store handle on cfg->database (created or migrated by
 * the writer's store_open()), read the password file, set up TLS, and start
 * the thread, which connects by itself.  cfg is borrowed until
 * uplink_stop(): a reload stops the uplink and starts a new one on the new
 * config.  NULL when cfg has no [uplink] (*ret_err = 0) or on failure
 * (*ret_err = -errno, logged). */
struct uplink *uplink_start(const struct foyer_config *cfg, int *ret_err);

/* The counters and the outbox's depth and oldest item (refreshed every
 * second by the thread).  For /metrics: foyer_uplink_outbox_items (depth),
 * foyer_uplink_outbox_oldest_age_seconds (now - oldest_s when oldest_s >
 * 0), and the counters.  Thread-safe.  Accepts NULL (all zero).  A thread
 * that has no uplink handle but a store handle (an HTTP thread's read-only
 * one, foyerctl) reads the depth and oldest item from the database with
 * store_uplink_read_depth() (include/foyer/store_uplink.h). */
void uplink_get_stats(struct uplink *u, struct uplink_stats *ret);

/* Stop the thread: within about a second whatever the broker does (the
 * items in flight stay in the outbox and are sent again at the next
 * start).  ret_final (when not NULL) gets the counters once it has ended.
 * Accepts NULL. */
void uplink_stop(struct uplink *u, struct uplink_stats *ret_final);

#endif
