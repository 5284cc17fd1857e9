/*  =========================================================================
    test_store_error - the storage layer's error codes and their names

    Every code the storage layer returns is 0, a negative errno, or one of
    its own codes (store_error.h), which lie outside the errno range and
    have texts of their own; SQLite's results map onto them (store_sql).
    =========================================================================
*/

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "store_error.h"
#include "store_sql.h"

Test (store_error, errno_codes_are_named_by_strerror)
{
    cr_assert_str_eq (store_strerror (-ENOSPC), strerror (ENOSPC));
    cr_assert_str_eq (store_strerror (-EIO), strerror (EIO));
    cr_assert_str_eq (store_strerror (-ENAMETOOLONG), strerror (ENAMETOOLONG));
    cr_assert_str_eq (store_strerror (0), "success");
}

Test (store_error, own_codes_are_outside_errno_and_distinct)
{
    int codes [] = { STORE_ERR_SQL, STORE_ERR_CORRUPT, STORE_ERR_STALE, STORE_ERR_BUSY,
                     STORE_ERR_NOT_FOUND };
    size_t count = sizeof (codes) / sizeof (codes [0]);
    for (size_t index = 0; index < count; index++) {
        //  Never -1 (-EPERM), never within the errno range
        cr_assert_lt (codes [index], -4095);
        cr_assert_geq (codes [index], STORE_ERR_LAST);
        cr_assert_leq (codes [index], STORE_ERR_BASE);
        const char *text = store_strerror (codes [index]);
        cr_assert_not_null (text);
        cr_assert_str_neq (text, "unknown store error", "code %d has a text", codes [index]);
        for (size_t other = 0; other < index; other++) {
            cr_assert_neq (codes [index], codes [other]);
            cr_assert_str_neq (text, store_strerror (codes [other]));
        }
    }
    cr_assert_str_eq (store_strerror (STORE_ERR_CORRUPT), "not an intact record");
}

Test (store_error, unknown_codes_are_said_to_be_unknown)
{
    cr_assert_str_eq (store_strerror (STORE_ERR_LAST - 1), "unknown store error");
    cr_assert_str_eq (store_strerror (1), "unknown store error");
}

Test (store_error, sqlite_results_map_onto_the_codes)
{
    cr_assert_eq (store_sql_code (SQLITE_FULL), -ENOSPC);
    cr_assert_eq (store_sql_code (SQLITE_NOMEM), -ENOMEM);
    cr_assert_eq (store_sql_code (SQLITE_BUSY), STORE_ERR_BUSY);
    cr_assert_eq (store_sql_code (SQLITE_BUSY_SNAPSHOT), STORE_ERR_BUSY, "extended codes too");
    cr_assert_eq (store_sql_code (SQLITE_LOCKED), STORE_ERR_BUSY);
    cr_assert_eq (store_sql_code (SQLITE_CONSTRAINT), STORE_ERR_SQL);
    cr_assert_eq (store_sql_code (SQLITE_CORRUPT), STORE_ERR_SQL);
}

Test (store_error, one_shot_statements_report_their_codes)
{
    sqlite3 *db = NULL;
    cr_assert_eq (sqlite3_open (":memory:", &db), SQLITE_OK);
    int64_t value = 0;
    cr_assert_eq (store_sql_step_once (store_sql_once (db, "test", "SELECT 42"), "test", &value), 0);
    cr_assert_eq (value, 42);
    //  A statement that does not prepare: NULL, then STORE_ERR_SQL
    sqlite3_stmt *bad = store_sql_once (db, NULL, "SELECT FROM nowhere");
    cr_assert_null (bad);
    cr_assert_eq (store_sql_step_once (bad, NULL, NULL), STORE_ERR_SQL);
    //  One that fails when stepped
    cr_assert_eq (store_sql_step_once (store_sql_once (db, "test", "CREATE TABLE t (x CHECK (x > 0))"),
                                       "test", NULL), 0);
    cr_assert_eq (store_sql_step_once (store_sql_once (db, "test", "INSERT INTO t VALUES (0)"),
                                       "test", NULL), STORE_ERR_SQL);
    sqlite3_close (db);
}
