/*  =========================================================================
    store_sql - the SQLite plumbing the index modules share
    =========================================================================
*/
#include <czmq.h>
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
    if (store_sql_open (self, path, flags, busy_timeout_ms, what, error, error_size))
        return -1;
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
        return -1;
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
            return -1;
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
    return -1;
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
