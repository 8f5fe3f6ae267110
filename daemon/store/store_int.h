/*
 * store_int.h - what the store's own files share (daemon/store/store.c and the
 * files of daemon/store/), beside the connection (foyer/store_private.h).  No
 * other file includes it.
 */
#ifndef FOYER_STORE_INT_H
#define FOYER_STORE_INT_H

#include "foyer/store_private.h"

/* SQLite's result code as -errno: -ENOSPC full, -EBUSY locked, -ENOMEM,
 * -EACCES, -ENOENT, -EBADMSG damaged or not a database, -EIO otherwise. */
int store_sqlite_errno(int rc);

/* Keep SQLite's message of the failure that just happened on the handle,
 * for store_errmsg(). */
void store_note_error(struct store *s);

/* The read API's prepared statements of a handle (daemon/store/store_read.c):
 * the slot in the handle where they hang, NULL until the first read; freed
 * with store_read_free() by store_close() (accepts NULL). */
struct store_read;
struct store_read **store_read_slot(struct store *s);
void store_read_free(struct store_read *r);

#endif
