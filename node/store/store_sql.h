/*  =========================================================================
    store_sql - the SQLite plumbing the index modules share

    store_index (the writer's connection), index_reader (the reader's and
    the scrub's) and handoff_index (the forwarder's) each keep one
    connection with a table of statements prepared once, by purpose. The
    opening, preparing, running, resetting, logging and finalizing of those
    statements is the same for all three and lives here; the SQL itself
    stays in each module.

    Errors: functions return 0, or -1 after logging one line (zsys_error)
    that names the statement and SQLite's message; sqlite3_errcode (db)
    still says why. Opening and preparing write one line into error
    instead (the caller's constructor returns NULL with it).
    =========================================================================
*/
#ifndef STRATA_STORE_SQL_H_INCLUDED
#define STRATA_STORE_SQL_H_INCLUDED

#include <stddef.h>
#include <sqlite3.h>

//  Open the database at path with flags (SQLITE_OPEN_NOMUTEX is added) and
//  a busy timeout. what says what it is opened as, for the error line
//  ("the index for reading"). Returns 0, or -1 with *db_p possibly set (the
//  caller closes it) and one line in error.
int
    store_sql_open (const char *path, int flags, int busy_timeout_ms, const char *what,
                    sqlite3 **db_p, char *error, size_t error_size);

//  Prepare count statements (persistent) from sql [0..count-1] into
//  statements. Returns 0, or -1 with one line in error naming the statement
//  and path (those prepared stay in statements for store_sql_finalize).
int
    store_sql_prepare (sqlite3 *db, const char *const *sql, sqlite3_stmt **statements, int count,
                       const char *path, char *error, size_t error_size);

//  Finalize count statements (NULL entries are skipped) and set them NULL.
void
    store_sql_finalize (sqlite3_stmt **statements, int count);

//  Reset a statement after use and clear its bindings.
void
    store_sql_done (sqlite3_stmt *statement);

//  Log a failure of statement sql on db under who ("index reader");
//  returns -1.
int
    store_sql_fail (sqlite3 *db, const char *who, const char *sql);

//  Run a statement that returns no rows (after binding) and reset it.
//  Returns 0, or store_sql_fail's -1.
int
    store_sql_run (sqlite3 *db, sqlite3_stmt *statement, const char *who, const char *sql);

#endif
