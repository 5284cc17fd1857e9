/*  =========================================================================
    store_sql - the SQLite plumbing the index modules share

    store_index (the writer's connection), index_reader (the reader's and
    the scrub's) and handoff_index (the forwarder's) each keep one
    connection with a table of statements prepared once, by purpose (an
    enum indexing the table). The opening, preparing, running, resetting,
    logging and finalizing of those statements is the same for all three
    and lives here; the SQL itself stays in each module, which embeds a
    store_sql_t describing its table.

    Statements run once (a compaction's, a query of the offline tools) go
    through store_sql_once and store_sql_step_once, on any connection, so
    no module keeps its own copy of the prepare/step/finalize plumbing.

    Errors follow the storage layer's one convention (store_error.h):
    functions return 0, or a negative code after logging one line
    (zsys_error) that names the module, the statement and SQLite's message:
    -ENOSPC when SQLite found the disk full (SQLITE_FULL), -ENOMEM when it
    ran out of memory, STORE_ERR_BUSY when the database stayed locked past
    the busy timeout, STORE_ERR_SQL for any other failure. last_error
    keeps SQLite's own code. Opening and preparing write one line into
    error instead (the module's constructor returns NULL with it).
    =========================================================================
*/
#ifndef STRATA_STORE_SQL_H_INCLUDED
#define STRATA_STORE_SQL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "store_error.h"

//  One connection and its statements, by purpose
typedef struct {
    sqlite3 *db;                        //  the connection (NULL until open)
    const char *const *text;            //  the statements' SQL, count entries
    sqlite3_stmt **statements;          //  the module's array of count entries
    int count;                          //  statements in the table
    const char *who;                    //  module name for log lines ("index reader")
    int last_error;                     //  SQLite code of the last failure, 0 if none
} store_sql_t;

//  A table of count statements: text [0..count-1] is their SQL,
//  statements the module's array for them, who the module's name in log
//  lines. Not yet open.
store_sql_t
    store_sql_table (const char *const *text, sqlite3_stmt **statements, int count, const char *who);

//  store_sql_open, then store_sql_prepare (for a database whose schema the
//  caller does not set up). Returns 0, or STORE_ERR_SQL with one line in
//  error.
int
    store_sql_connect (store_sql_t *self, const char *path, int flags, int busy_timeout_ms,
                       const char *what, char *error, size_t error_size);

//  Open the database at path with flags (SQLITE_OPEN_NOMUTEX is added) and
//  a busy timeout into self->db. what says what it is opened as, for the
//  error line ("the index for reading"). Returns 0, or STORE_ERR_SQL with
//  one line in error (self->db may be set: store_sql_close closes it).
int
    store_sql_open (store_sql_t *self, const char *path, int flags, int busy_timeout_ms,
                    const char *what, char *error, size_t error_size);

//  Prepare every statement of the table (persistent). Returns 0, or
//  STORE_ERR_SQL with one line in error naming the statement and path.
int
    store_sql_prepare (store_sql_t *self, const char *path, char *error, size_t error_size);

//  Finalize every statement and close the connection. Accepts a table
//  never opened.
void
    store_sql_close (store_sql_t *self);

//  Reset statement which after use and clear its bindings.
void
    store_sql_done (store_sql_t *self, int which);

//  Log a failure of statement which; record SQLite's code; return its
//  code in the convention (store_sql_code).
int
    store_sql_fail (store_sql_t *self, int which);

//  Run statement which (bound; no rows wanted) and reset it. Returns 0, or
//  store_sql_fail's code.
int
    store_sql_run (store_sql_t *self, int which);

//  The same for a write its caller retries when another connection holds
//  the index: busy or locked returns STORE_ERR_BUSY without a log line
//  (expected under a heavy write load); other failures as store_sql_run.
int
    store_sql_run_retryable (store_sql_t *self, int which);

//  The storage layer's code for an SQLite result code that is a failure:
//  -ENOSPC (SQLITE_FULL), -ENOMEM (SQLITE_NOMEM), STORE_ERR_BUSY
//  (SQLITE_BUSY, SQLITE_LOCKED), else STORE_ERR_SQL.
int
    store_sql_code (int sqlite_rc);

//  Prepare sql once on db (a statement not in any table). Returns it, or
//  NULL after logging one line (who, the SQL, SQLite's message) when who
//  is not NULL; with who NULL the caller reports sqlite3_errmsg (db).
sqlite3_stmt *
    store_sql_once (sqlite3 *db, const char *who, const char *sql);

//  Step a statement from store_sql_once to its end, put the first column
//  of its first row into *value_p when value_p is not NULL and there is a
//  row, and finalize it. Accepts NULL (a store_sql_once that failed, and
//  logged): returns STORE_ERR_SQL. Returns 0, or store_sql_code's code
//  after logging one line when who is not NULL.
int
    store_sql_step_once (sqlite3_stmt *statement, const char *who, int64_t *value_p);

#endif
