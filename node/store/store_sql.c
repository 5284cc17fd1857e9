/*  =========================================================================
    store_sql - the SQLite plumbing the index modules share
    =========================================================================
*/
#include <czmq.h>
#include "store_sql.h"

int
store_sql_open (const char *path, int flags, int busy_timeout_ms, const char *what,
                sqlite3 **db_p, char *error, size_t error_size)
{
    assert (path && what && db_p && error);
    int rc = sqlite3_open_v2 (path, db_p, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf (error, error_size, "%s: cannot open %s: %s", path, what,
                  *db_p? sqlite3_errmsg (*db_p): sqlite3_errstr (rc));
        return -1;
    }
    sqlite3_busy_timeout (*db_p, busy_timeout_ms);
    return 0;
}

int
store_sql_prepare (sqlite3 *db, const char *const *sql, sqlite3_stmt **statements, int count,
                   const char *path, char *error, size_t error_size)
{
    assert (db && sql && statements && error);
    for (int which = 0; which < count; which++)
        if (sqlite3_prepare_v3 (db, sql [which], -1, SQLITE_PREPARE_PERSISTENT,
                                &statements [which], NULL) != SQLITE_OK) {
            snprintf (error, error_size, "%s: cannot prepare '%s': %s", path, sql [which],
                      sqlite3_errmsg (db));
            return -1;
        }
    return 0;
}

void
store_sql_finalize (sqlite3_stmt **statements, int count)
{
    assert (statements);
    for (int which = 0; which < count; which++) {
        sqlite3_finalize (statements [which]);
        statements [which] = NULL;
    }
}

void
store_sql_done (sqlite3_stmt *statement)
{
    sqlite3_reset (statement);
    sqlite3_clear_bindings (statement);
}

int
store_sql_fail (sqlite3 *db, const char *who, const char *sql)
{
    zsys_error ("%s: %s: %s", who, sql, sqlite3_errmsg (db));
    return -1;
}

int
store_sql_run (sqlite3 *db, sqlite3_stmt *statement, const char *who, const char *sql)
{
    int rc = sqlite3_step (statement);
    store_sql_done (statement);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_sql_fail (db, who, sql);
    return 0;
}
