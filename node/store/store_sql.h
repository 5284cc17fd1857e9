/*  =========================================================================
    store_sql - the SQLite plumbing the index modules share

    store_index (the writer's connection), index_reader (the reader's and
    the scrub's) and handoff_index (the forwarder's) each keep one
    connection with a table of statements prepared once, by purpose (an
    enum indexing the table). The opening, preparing, running, resetting,
    logging and finalizing of those statements is the same for all three
    and lives here; the SQL itself stays in each module, which embeds a
    store_sql_t describing its table.

    Errors: functions return 0, or -1 after logging one line (zsys_error)
    that names the module, the statement and SQLite's message; last_error
    keeps SQLite's code (SQLITE_FULL: the disk is full). Opening and
    preparing write one line into error instead (the module's constructor
    returns NULL with it).
    =========================================================================
*/
#ifndef STRATA_STORE_SQL_H_INCLUDED
#define STRATA_STORE_SQL_H_INCLUDED

#include <stddef.h>
#include <sqlite3.h>

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
//  caller does not set up). Returns 0, or -1 with one line in error.
int
    store_sql_connect (store_sql_t *self, const char *path, int flags, int busy_timeout_ms,
                       const char *what, char *error, size_t error_size);

//  Open the database at path with flags (SQLITE_OPEN_NOMUTEX is added) and
//  a busy timeout into self->db. what says what it is opened as, for the
//  error line ("the index for reading"). Returns 0, or -1 with one line in
//  error (self->db may be set: store_sql_close closes it).
int
    store_sql_open (store_sql_t *self, const char *path, int flags, int busy_timeout_ms,
                    const char *what, char *error, size_t error_size);

//  Prepare every statement of the table (persistent). Returns 0, or -1
//  with one line in error naming the statement and path.
int
    store_sql_prepare (store_sql_t *self, const char *path, char *error, size_t error_size);

//  Finalize every statement and close the connection. Accepts a table
//  never opened.
void
    store_sql_close (store_sql_t *self);

//  Reset statement which after use and clear its bindings.
void
    store_sql_done (store_sql_t *self, int which);

//  Log a failure of statement which; record SQLite's code; return -1.
int
    store_sql_fail (store_sql_t *self, int which);

//  Run statement which (bound; no rows wanted) and reset it. Returns 0, or
//  store_sql_fail's -1.
int
    store_sql_run (store_sql_t *self, int which);

#endif
