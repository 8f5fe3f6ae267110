/*
 * store_read_api.c - what the HTTP API adds to the store's read API
 * (store.h, "read API"): one read transaction held over many reads.
 *
 * Each read call of store_read.c is its own read transaction, which is
 * right for a caller reading now and then: nothing holds the WAL back.  A
 * building's status is some 1 500 reads (every meter's newest reading, the
 * week's daily figures of every counter), and a transaction each cost a
 * lock and unlock of the WAL index and a check of the page cache each, the
 * largest share of the answer's time; held once around them, the reads also
 * see one snapshot (no device judged against a newer commit than its
 * neighbour).
 */
#include <errno.h>

#include "foyer/store.h"
#include "store_int.h"

int store_read_begin(struct store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        return -EBUSY; /* one already runs: the caller's mistake */
    int rc = store_exec(s->db, "BEGIN");
    if (rc < 0)
        store_note_error(s);
    return rc;
}

void store_read_end(struct store *s)
{
    /* Reads only: nothing to commit that could fail.  Each read call reset
     * its statement, so none holds the transaction open past this. */
    if (!sqlite3_get_autocommit(s->db))
        (void)store_exec(s->db, "COMMIT");
}
