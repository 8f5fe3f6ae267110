/*
 * test_store_grant.c - a household's grants to a named ambassador
 * (include/foyer/store_grant.h) on a real SQLite file:
 *  - the grantee must be a live ambassador token covering the dwelling's
 *    building (not revoked, not pairing, not another building's); days
 *    1..FOYER_GRANT_DAYS_MAX;
 *  - a grant is active from its creation until the second before it
 *    expires, not at its expiry;
 *  - making one records the sharing consent; revoking the last active one
 *    records its withdrawal, not before; revoking twice or another
 *    dwelling's grant is refused;
 *  - a withdrawal of sharing (store_consent_record(), foyerctl consent)
 *    revokes every grant at once, and a grant made in the same second
 *    after it is active;
 *  - at most FOYER_GRANTS_ACTIVE_MAX active at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "foyer/store_auth.h"
#include "foyer/store_consent.h"
#include "foyer/store_grant.h"
#include "testutil.h"

#define T0 1782900000 /* 2026-07-01, a Wednesday */

static const char grant_conf[] = "[building b2]\n"
                                 "[dwelling d2]\n"
                                 "building = b2\n"
                                 "surface_m2 = 40\n"
                                 "heating = gas\n";

/* A token of role with buildings; pairing: no hash yet. */
static void token(struct tenv *t, const char *name, const char *role, const char *buildings,
                  bool pairing)
{
    struct store_token tk = {0};
    uint8_t hash[STORE_AUTH_HASH_LEN];
    int64_t id;
    const char *msg = NULL;
    snprintf(tk.name, sizeof(tk.name), "%s", name);
    snprintf(tk.role, sizeof(tk.role), "%s", role);
    snprintf(tk.buildings, sizeof(tk.buildings), "%s", buildings);
    assert_int_equal(store_auth_hash(name, hash), 0);
    int rc = store_auth_create(t->db, &tk, hash, pairing, pairing ? T0 + 3600 : 0, &id, &msg);
    if (rc < 0)
        fail_msg("token %s: %s", name, msg ? msg : "?");
}

static int setup(void **state)
{
    struct tenv *t = calloc(1, sizeof(*t));
    if (!t || tenv_setup(t, grant_conf) < 0)
        return -1;
    token(t, "amb-b1", "ambassador", "b2,b1", false);
    token(t, "amb-b2", "ambassador", "b2", false);
    token(t, "amb-b", "ambassador", "b10", false); /* "b1" is a prefix of it: not b1 */
    token(t, "amb-pairing", "ambassador", "b1", true);
    token(t, "amb-gone", "ambassador", "b1", false);
    token(t, "team", "energy-team", "", false);
    const char *msg = NULL;
    assert_int_equal(store_auth_revoke(t->db, "amb-gone", T0 - 10, &msg), 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tenv *t = *state;
    tenv_teardown(t);
    free(t);
    return 0;
}

static int64_t grant(struct tenv *t, const char *dwelling, const char *grantee, int days,
                     int64_t now_s, int want_rc)
{
    const char *msg = NULL;
    int64_t id = 0;
    int rc =
        store_grant_create(t->db, t->cfg, dwelling, grantee, days, "tenant:tab", now_s, &id, &msg);
    if (rc != want_rc)
        fail_msg("grant %s to %s for %d days: %d (%s), expected %d", dwelling, grantee, days, rc,
                 msg ? msg : "", want_rc);
    if (rc < 0 && (!msg || !*msg))
        fail_msg("grant %s to %s: refused (%d) without saying why", dwelling, grantee, rc);
    return id;
}

static bool active(struct tenv *t, uint32_t d, const char *grantee, int64_t now_s)
{
    struct store_grant g;
    int rc = store_grant_active(t->s, t->cfg, d, grantee, now_s, &g);
    if (rc < 0 && rc != -ENOENT)
        fail_msg("store_grant_active: %d", rc);
    return rc == 0;
}

static bool sharing(struct tenv *t, int64_t now_s)
{
    struct store_consent c;
    assert_int_equal(store_consent_get(t->s, t->cfg, 0, STORE_PURPOSE_SHARING, now_s, &c), 0);
    return c.given;
}

static void test_grantee_and_days(void **state)
{
    struct tenv *t = *state;
    grant(t, "d1", "nobody", 30, T0, -ENOENT);
    grant(t, "d1", "amb-b2", 30, T0, -EACCES);
    grant(t, "d1", "amb-b", 30, T0, -EACCES);
    grant(t, "d1", "amb-pairing", 30, T0, -ENOENT);
    grant(t, "d1", "amb-gone", 30, T0, -ENOENT);
    grant(t, "d1", "team", 30, T0, -ENOENT);
    grant(t, "d1", "amb-b1", 0, T0, -EINVAL);
    grant(t, "d1", "amb-b1", FOYER_GRANT_DAYS_MAX + 1, T0, -EINVAL);
    grant(t, "nowhere", "amb-b1", 30, T0, -ENOENT);
    /* Refusals record nothing. */
    assert_int_equal((int)tquery(t, "SELECT count(*) FROM grants"), 0);
    assert_int_equal((int)tquery(t, "SELECT count(*) FROM consents"), 0);
    assert_false(sharing(t, T0));
    grant(t, "d1", "amb-b1", FOYER_GRANT_DAYS_MAX, T0, 0);
    grant(t, "d2", "amb-b2", 1, T0, 0);
    assert_true(sharing(t, T0));
    assert_int_equal((int)tquery(t, "SELECT count(*) FROM consents WHERE dwelling = 'd1' AND"
                                    " purpose = 'sharing' AND given = 1 AND by = 'tenant:tab'"),
                     1);
}

static void test_expiry(void **state)
{
    struct tenv *t = *state;
    grant(t, "d1", "amb-b1", 1, T0, 0);
    assert_true(active(t, 0, "amb-b1", T0));
    assert_true(active(t, 0, "amb-b1", T0 + 86399));
    assert_false(active(t, 0, "amb-b1", T0 + 86400));
    assert_false(active(t, 0, "amb-b2", T0));
    assert_false(active(t, 1, "amb-b1", T0));
}

struct seen {
    int n, n_active;
    int64_t last_id;
};

static int count(void *ctx, const struct store_grant *g)
{
    struct seen *s = ctx;
    s->n++;
    s->n_active += g->active;
    s->last_id = g->id;
    return 0;
}

static void test_revoke(void **state)
{
    struct tenv *t = *state;
    const char *msg = NULL;
    int64_t a = grant(t, "d1", "amb-b1", 30, T0, 0);
    int64_t b = grant(t, "d1", "amb-b1", 10, T0 + 1, 0);
    int64_t other = grant(t, "d2", "amb-b2", 10, T0 + 1, 0);
    assert_int_equal(store_grant_revoke(t->db, t->cfg, "d1", other, "tenant:tab", T0 + 5, &msg),
                     -ENOENT);
    assert_int_equal(store_grant_revoke(t->db, t->cfg, "d1", a, "tenant:tab", T0 + 5, &msg), 0);
    /* One grant still runs: sharing stays given. */
    assert_true(sharing(t, T0 + 5));
    assert_true(active(t, 0, "amb-b1", T0 + 5));
    assert_int_equal(store_grant_revoke(t->db, t->cfg, "d1", a, "tenant:tab", T0 + 6, &msg),
                     -EALREADY);
    assert_int_equal(store_grant_revoke(t->db, t->cfg, "d1", b, "tenant:tab", T0 + 7, &msg), 0);
    assert_false(sharing(t, T0 + 7));
    assert_false(active(t, 0, "amb-b1", T0 + 7));
    struct seen s = {0};
    assert_int_equal(store_grant_list(t->s, t->cfg, 0, T0 + 7, count, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.n_active, 0);
    assert_int_equal(s.last_id, a); /* newest first */
    assert_int_equal((int)tquery(t, "SELECT count(*) FROM grants WHERE revoked_by = 'tenant:tab'"),
                     2);
}

static void test_withdrawal_revokes(void **state)
{
    struct tenv *t = *state;
    const char *msg = NULL;
    char tenancy[FOYER_ID_MAX + 1];
    grant(t, "d1", "amb-b1", 30, T0, 0);
    grant(t, "d2", "amb-b2", 30, T0, 0);
    assert_int_equal(store_consent_record(t->db, t->cfg, "d1", STORE_PURPOSE_SHARING, false,
                                          "alice", T0 + 60, tenancy, &msg),
                     0);
    assert_false(active(t, 0, "amb-b1", T0 + 60));
    assert_true(active(t, 1, "amb-b2", T0 + 60)); /* another household's stands */
    assert_int_equal((int)tquery(t,
                                 "SELECT count(*) FROM grants WHERE dwelling = 'd1' AND"
                                 " revoked = %d AND revoked_by = 'alice'",
                                 T0 + 60),
                     1);
    /* A grant made in the same second after the withdrawal holds. */
    grant(t, "d1", "amb-b1", 30, T0 + 60, 0);
    assert_true(active(t, 0, "amb-b1", T0 + 60));
    struct seen s = {0};
    assert_int_equal(store_grant_list_grantee(t->s, t->cfg, "amb-b1", T0 + 60, count, &s), 0);
    assert_int_equal(s.n, 1);
}

static void test_most_active(void **state)
{
    struct tenv *t = *state;
    for (int i = 0; i < FOYER_GRANTS_ACTIVE_MAX; i++)
        grant(t, "d1", "amb-b1", 1, T0 + i, 0);
    grant(t, "d1", "amb-b1", 1, T0 + 100, -EMLINK);
    /* Expired ones count no more. */
    grant(t, "d1", "amb-b1", 1, T0 + 86400 + 100, 0);
    struct seen s = {0};
    assert_int_equal(store_grant_list_grantee(t->s, t->cfg, "amb-b1", T0 + 86400 + 100, count, &s),
                     0);
    assert_int_equal(s.n, 1); /* one line per household */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_grantee_and_days, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withdrawal_revokes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_most_active, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
