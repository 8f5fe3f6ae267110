/*
 * store_private.h - the store's SQLite connection.  NOT an interface.
 *
 * For the store's own files (daemon/store/store.c, daemon/store/) only.  Every
 * other module reads through the read API of store.h (the pusher writes
 * through store_outbox.h) and holds no SQL;
 * tests/integration/layout_check.sh fails the build's tests when another
 * file includes this header or <sqlite3.h>.
 */
#ifndef FOYER_STORE_PRIVATE_H
#define FOYER_STORE_PRIVATE_H

#include <sqlite3.h>

#include "foyer/store.h"

/* The handle's connection, borrowed until store_close(). */
sqlite3 *store_db(struct store *s);

#endif
