/*  =========================================================================
    store_sql - the SQLite plumbing the index modules share
    =========================================================================
*/
#include <czmq.h>
#include <errno.h>
#include "store_sql.h"

store_sql_t
store_sql_table (const char *const *text, sqlite3_stmt **statements, int count, const char *who)
{
    assert (text && statements && who);
    return (store_sql_t) { .text = text, .statements = statements, .count = count, .who = who };
}

int
store_sql_connect (store_sql_t *self, const char *path, int flags, int busy_timeout_ms,
                   const char *what, char *error, size_t error_size)
{
    int rc = store_sql_open (self, path, flags, busy_timeout_ms, what, error, error_size);
    if (rc)
        return rc;
    return store_sql_prepare (self, path, error, error_size);
}

int
store_sql_open (store_sql_t *self, const char *path, int flags, int busy_timeout_ms,
                const char *what, char *error, size_t error_size)
{
    assert (self && path && what && error);
    int rc = sqlite3_open_v2 (path, &self->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf (error, error_size, "%s: cannot open %s: %s", path, what,
                  self->db? sqlite3_errmsg (self->db): sqlite3_errstr (rc));
        return STORE_ERR_SQL;
    }
    sqlite3_busy_timeout (self->db, busy_timeout_ms);
    return 0;
}

int
store_sql_prepare (store_sql_t *self, const char *path, char *error, size_t error_size)
{
    assert (self && self->db && error);
    for (int which = 0; which < self->count; which++)
        if (sqlite3_prepare_v3 (self->db, self->text [which], -1, SQLITE_PREPARE_PERSISTENT,
                                &self->statements [which], NULL) != SQLITE_OK) {
            snprintf (error, error_size, "%s: cannot prepare '%s': %s", path, self->text [which],
                      sqlite3_errmsg (self->db));
            return STORE_ERR_SQL;
        }
    return 0;
}

void
store_sql_close (store_sql_t *self)
{
    assert (self);
    for (int which = 0; which < self->count; which++) {
        sqlite3_finalize (self->statements [which]);
        self->statements [which] = NULL;
    }
    sqlite3_close (self->db);
    self->db = NULL;
}

void
store_sql_done (store_sql_t *self, int which)
{
    sqlite3_reset (self->statements [which]);
    sqlite3_clear_bindings (self->statements [which]);
}

int
store_sql_fail (store_sql_t *self, int which)
{
    self->last_error = sqlite3_errcode (self->db);
    zsys_error ("%s: %s: %s", self->who, self->text [which], sqlite3_errmsg (self->db));
    return store_sql_code (self->last_error);
}

int
store_sql_run (store_sql_t *self, int which)
{
    int rc = sqlite3_step (self->statements [which]);
    store_sql_done (self, which);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_sql_fail (self, which);
    return 0;
}

int
store_sql_run_retryable (store_sql_t *self, int which)
{
    int rc = sqlite3_step (self->statements [which]);
    store_sql_done (self, which);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return STORE_ERR_BUSY;
    return store_sql_fail (self, which);
}

int
store_sql_code (int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {         //  the primary code of an extended one
        case SQLITE_FULL:
            return -ENOSPC;
        case SQLITE_NOMEM:
            return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return STORE_ERR_BUSY;
        default:
            return STORE_ERR_SQL;
    }
}

sqlite3_stmt *
store_sql_once (sqlite3 *db, const char *who, const char *sql)
{
    assert (db && sql);
    sqlite3_stmt *statement = NULL;
    if (sqlite3_prepare_v2 (db, sql, -1, &statement, NULL) != SQLITE_OK) {
        if (who)
            zsys_error ("%s: %s: %s", who, sql, sqlite3_errmsg (db));
        sqlite3_finalize (statement);
        return NULL;
    }
    return statement;
}

int
store_sql_step_once (sqlite3_stmt *statement, const char *who, int64_t *value_p)
{
    if (!statement)
        return STORE_ERR_SQL;
    int rc = sqlite3_step (statement);
    if (rc == SQLITE_ROW && value_p)
        *value_p = sqlite3_column_int64 (statement, 0);
    while (rc == SQLITE_ROW)
        rc = sqlite3_step (statement);
    int code = 0;
    if (rc != SQLITE_DONE) {
        code = store_sql_code (rc);
        if (who)
            zsys_error ("%s: %s: %s", who, sqlite3_sql (statement),
                        sqlite3_errmsg (sqlite3_db_handle (statement)));
    }
    sqlite3_finalize (statement);
    return code;
}
