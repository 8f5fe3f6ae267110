/*
 * store_people.h - what people tell foyer through the pages: a household's
 * answers to its tips and the problems it reports from the tablet, which
 * ambassadors close (tables tip_answers and reports, described in
 * daemon/store/store.c).
 *
 * Writes are rare (a handful a day per building) and come from the HTTP
 * threads, which hold only read-only handles: each write opens a
 * connection of its own on path (the database foyerd's writer created and
 * migrated), runs one statement and closes it, so no handle is shared
 * between threads and the writer's cached counter state is left alone (no
 * ingest generation is raised).  Reads take any store handle, like the
 * read API of store.h, and leave no read transaction open.
 *
 * Functions return 0 or -errno (-ENOENT: no such row, -EBUSY: the database
 * stayed locked STORE_PEOPLE_BUSY_MS, -ENOMEM, -EIO otherwise); they never
 * log.  Times are UTC epoch seconds.  Callers validate the values (known
 * kinds and answers, bounded text); the store stores them as given.
 */
#ifndef FOYER_STORE_PEOPLE_H
#define FOYER_STORE_PEOPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/store.h"

/* Longest wait for the write lock: the writer's batches commit in well
 * under a second; a person pressing a button should not wait longer. */
#define STORE_PEOPLE_BUSY_MS 5000

/* Record the answer of dwelling (its ID) to tip (its ID) at now_s. */
int store_people_tip_answer(const char *path, const char *dwelling, const char *tip,
                            const char *answer, int64_t now_s);

/* Open a problem report of dwelling in building (IDs) of kind with text
 * (may be ""), at now_s; *ret_id (when not NULL) = its id. */
int store_people_report_open(const char *path, const char *building, const char *dwelling,
                             const char *kind, const char *text, int64_t now_s, int64_t *ret_id);

/* Close the open report id, by closed_by (a token's name) at now_s.
 * -ENOENT when no open report has that id. */
int store_people_report_close(const char *path, int64_t id, const char *closed_by, int64_t now_s);

/* One tip answer, borrowed for the callback. */
struct store_tip_answer {
    const char *tip;
    const char *answer;
    int64_t ts_s;
};

/* The answers of dwelling given at or after since_s, oldest first, to fn
 * (0 goes on; any other value stops and is returned). */
int store_people_read_tip_answers(struct store *s, const char *dwelling, int64_t since_s,
                                  int (*fn)(void *ctx, const struct store_tip_answer *a),
                                  void *ctx);

/* One problem report, borrowed for the callback. */
struct store_report {
    int64_t id;
    const char *building;
    const char *dwelling;
    const char *kind;
    const char *text;
    int64_t opened_s;
    int64_t closed_s;      /* 0 while open */
    const char *closed_by; /* NULL while open */
};

/* The reports of building (its ID), open ones only when open_only, oldest
 * first, to fn (as above). */
int store_people_read_reports(struct store *s, const char *building, bool open_only,
                              int (*fn)(void *ctx, const struct store_report *r), void *ctx);

/* The building ID of report id, copied into buf (len bytes; -ENAMETOOLONG
 * when it does not fit): for the caller's permission check before a
 * close.  -ENOENT when there is no such report. */
int store_people_report_building(struct store *s, int64_t id, char *buf, size_t len);

#endif
