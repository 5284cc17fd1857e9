/*  =========================================================================
    store_index - the node's SQLite index, as the writer uses it

    Every statement is prepared once at open and reset after use. The
    schema text is node/store/schema.sql, compiled into the binary by CMake
    (node_schema_sql).

    Why one file of about a thousand lines: it is the writer's whole SQL
    vocabulary, one table of statements prepared at open and one enum
    indexing it, and each function is a few bindings around one of them.
    Split, the table and its enum would have to be shared through a header
    and the statements of one transaction could no longer be read together.
    (The plumbing shared with the other index modules is store_sql.c.)
    =========================================================================
*/
#include <czmq.h>
#include <stdatomic.h>
#include "store_index.h"
#include "store_sql.h"
#include "timestamp.h"

extern const char node_schema_sql [];

//  The prepared statements, by purpose
typedef enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
    S_NODE_SELECT, S_NODE_INSERT,
    S_FILE_INSERT, S_FILE_SYNCED, S_FILE_CLOSE_ALL, S_FILE_MAX, S_FILE_COUNT,
    S_SEGMENT_INSERT, S_ENTIRE_INSERT, S_SEQUENCE_INSERT, S_SEGMENT_ADVANCE, S_SEGMENT_FINISH,
    S_SEGMENT_STATUS, S_CANCEL_PARTS,
    S_CONJOINED_INSERT, S_CONJOINED_FIND, S_CONJOINED_STATUS,
    S_ACTIVE_SELECT, S_COUNT_SEGMENTS, S_OPEN_FILES, S_FILE_TAIL, S_DAMAGED_INSERT, S_FILE_CLOSE,
    S_PURGE_SEGMENT, S_PURGE_CONJOINED,
    S_GARBAGE_MARK, S_GARBAGE_FILES, S_GARBAGE_DONE,
    S_COUNT
} s_statement_t;

static const char *s_sql [S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT request",
    [S_RELEASE] = "RELEASE request",
    [S_ROLLBACK_TO] = "ROLLBACK TO request",
    [S_NODE_SELECT] = "SELECT id FROM node_name WHERE name = ?1",
    [S_NODE_INSERT] = "INSERT INTO node_name (name) VALUES (?1)",
    [S_FILE_INSERT] = "INSERT OR IGNORE INTO value_file (id, volume, created_us) VALUES (?1, ?2, ?3)",
    [S_FILE_SYNCED] =
        "UPDATE value_file SET synced_size = ?2, live_bytes = ?2 - garbage_bytes WHERE id = ?1",
    [S_FILE_CLOSE_ALL] = "UPDATE value_file SET closed = 1 WHERE closed = 0",
    [S_FILE_MAX] = "SELECT IFNULL (MAX (id), 0) FROM value_file",
    [S_FILE_COUNT] = "SELECT COUNT (*) FROM value_file",
    [S_SEGMENT_INSERT] =
        "INSERT INTO segment (collection_id, key, unified_id, timestamp_us, conjoined_part,"
        " segment_num, status, source_node_id, handoff_node_id, delete_unified_id,"
        " user_request_id, created_us)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [S_ENTIRE_INSERT] =
        "INSERT INTO segment (collection_id, key, unified_id, timestamp_us, conjoined_part,"
        " segment_num, status, source_node_id, handoff_node_id, user_request_id, created_us,"
        " file_size, file_adler32, file_hash, meta, sequence_count, last_sequence_num)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'F', ?8, ?9, ?11, ?12, ?13, ?14, ?15, ?16, 1, 0)",
    [S_SEQUENCE_INSERT] =
        "INSERT INTO sequence (segment_id, sequence_num, value_file_id, record_offset,"
        " record_size, segment_size, zfec_padding_size, md5, adler32)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_SEGMENT_ADVANCE] =
        "UPDATE segment SET last_sequence_num = ?2, sequence_count = sequence_count + 1"
        " WHERE id = ?1",
    [S_SEGMENT_FINISH] =
        "UPDATE segment SET status = 'F', file_size = ?2, file_adler32 = ?3, file_hash = ?4,"
        " meta = ?5 WHERE id = ?1",
    [S_SEGMENT_STATUS] = "UPDATE segment SET status = ?2 WHERE id = ?1",
    [S_CANCEL_PARTS] =
        "UPDATE segment SET status = 'C' WHERE collection_id = ?1 AND key = ?2"
        " AND unified_id = ?3 AND conjoined_part >= 1 AND status IN ('A', 'F')"
        " AND handoff_node_id IS ?4",
    [S_CONJOINED_INSERT] =
        "INSERT INTO conjoined (collection_id, key, unified_id, timestamp_us, handoff_node_id,"
        " status, created_us) VALUES (?1, ?2, ?3, ?4, ?5, 'A', ?6)",
    [S_CONJOINED_FIND] =
        "SELECT id FROM conjoined WHERE unified_id = ?3 AND collection_id = ?1 AND key = ?2"
        " AND status = 'A' AND handoff_node_id IS ?4 ORDER BY id DESC LIMIT 1",
    [S_CONJOINED_STATUS] =
        "UPDATE conjoined SET status = ?2, completed_us = ?3 WHERE id = ?1",
    [S_ACTIVE_SELECT] =
        "SELECT id, collection_id, key, unified_id, timestamp_us, conjoined_part, segment_num,"
        " source_node_id, IFNULL (handoff_node_id, 0), IFNULL (last_sequence_num, -1),"
        " sequence_count FROM segment WHERE status = 'A'",
    [S_COUNT_SEGMENTS] = "SELECT status, COUNT (*) FROM segment GROUP BY status",
    [S_FILE_CLOSE] = "UPDATE value_file SET closed = 1 WHERE id = ?1",
    [S_OPEN_FILES] = "SELECT id, volume, synced_size FROM value_file WHERE closed = 0 ORDER BY id",
    [S_FILE_TAIL] =
        "SELECT segment_id, sequence_num, record_offset, record_size FROM sequence"
        " WHERE value_file_id = ?1 ORDER BY record_offset DESC LIMIT ?2",
    [S_DAMAGED_INSERT] =
        "INSERT OR IGNORE INTO damaged (value_file_id, record_offset, segment_id, sequence_num,"
        " detected_us, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_PURGE_SEGMENT] =
        "UPDATE segment SET forwarded_us = ?7 WHERE unified_id = ?3 AND conjoined_part = ?4"
        " AND segment_num = ?5 AND collection_id = ?1 AND key = ?2 AND handoff_node_id = ?6"
        " AND forwarded_us IS NULL AND status IN ('F', 'T')",
    [S_PURGE_CONJOINED] =
        "UPDATE conjoined SET forwarded_us = ?7 WHERE unified_id = ?3 AND collection_id = ?1"
        " AND key = ?2 AND handoff_node_id = ?6 AND forwarded_us IS NULL AND status IN ('F', 'C')",
    //  Garbage accounting of one collection-id/key (store_index_account_key):
    //  mark the rows that just became garbage 2, add their sequences' bytes
    //  to their files, then mark them 1
    [S_GARBAGE_MARK] =
        "UPDATE segment AS s SET garbage = 2 WHERE s.collection_id = ?1 AND s.key = ?2"
        " AND s.garbage = 0 AND " STORE_INDEX_GARBAGE_RULE,
    [S_GARBAGE_FILES] =
        "UPDATE value_file SET garbage_bytes = garbage_bytes + x.bytes,"
        " live_bytes = synced_size - garbage_bytes - x.bytes"
        " FROM (SELECT q.value_file_id AS file_id, SUM (q.record_size) AS bytes"
        "       FROM segment AS s JOIN sequence AS q ON q.segment_id = s.id"
        "       WHERE s.collection_id = ?1 AND s.key = ?2 AND s.garbage = 2"
        "       GROUP BY q.value_file_id) AS x"
        " WHERE value_file.id = x.file_id",
    [S_GARBAGE_DONE] =
        "UPDATE segment SET garbage = 1 WHERE collection_id = ?1 AND key = ?2 AND garbage = 2",
};

struct _store_index_t {
    store_sql_t sql;                        //  the connection and its statement table
    sqlite3_stmt *statements [S_COUNT];     //  prepared once
    bool in_transaction;                    //  BEGIN issued, not yet committed
    zhashx_t *node_ids;                     //  name -> (int64_t *) id cache
};

//  Bring an index made by an older build up to the schema: add the columns
//  added since (schema.sql runs after this, and its indexes need them).
//  Returns 0, or STORE_ERR_SQL with error filled.
static int
s_migrate (sqlite3 *db, bool *recount_p, char *error, size_t error_size)
{
    const struct {
        const char *table, *column, *type;
    } added [] = {
        { "segment", "forwarded_us", "INTEGER" },
        { "conjoined", "forwarded_us", "INTEGER" },
        //  Garbage accounting: rows of an older index start at 0 and are
        //  counted by store_index_recount_garbage when the column is added
        { "segment", "garbage", "INTEGER NOT NULL DEFAULT 0" },
    };
    for (size_t index = 0; index < sizeof added / sizeof added [0]; index++) {
        char sql [300];
        snprintf (sql, sizeof (sql),
                  "SELECT (SELECT COUNT (*) FROM sqlite_master WHERE type = 'table' AND name = '%s'),"
                  " (SELECT COUNT (*) FROM pragma_table_info ('%s') WHERE name = '%s')",
                  added [index].table, added [index].table, added [index].column);
        int table = 0, column = 0;
        sqlite3_stmt *statement = store_sql_once (db, NULL, sql);
        int rc = statement? SQLITE_OK: SQLITE_ERROR;
        if (statement && (rc = sqlite3_step (statement)) == SQLITE_ROW) {
            table = sqlite3_column_int (statement, 0);
            column = sqlite3_column_int (statement, 1);
            rc = SQLITE_OK;
        }
        sqlite3_finalize (statement);
        if (rc == SQLITE_OK && table && !column) {
            snprintf (sql, sizeof (sql), "ALTER TABLE %s ADD COLUMN %s %s", added [index].table,
                      added [index].column, added [index].type);
            rc = sqlite3_exec (db, sql, NULL, NULL, NULL);
            if (streq (added [index].column, "garbage"))
                *recount_p = true;
        }
        if (rc != SQLITE_OK) {
            snprintf (error, error_size, "cannot add %s.%s to the index: %s",
                      added [index].table, added [index].column, sqlite3_errmsg (db));
            return STORE_ERR_SQL;
        }
    }
    return 0;
}

bool
store_index_full (store_index_t *self)
{
    assert (self);
    return self->sql.last_error == SQLITE_FULL;
}


int64_t
store_index_uid_to_db (uint64_t unified_id)
{
    return (int64_t) (unified_id ^ 0x8000000000000000ULL);
}

uint64_t
store_index_uid_from_db (int64_t stored)
{
    return ((uint64_t) stored) ^ 0x8000000000000000ULL;
}

store_index_t *
store_index_open (const char *path, char *error, size_t error_size)
{
    assert (path);
    //  Memory statistics cost a global mutex on every SQLite allocation;
    //  nothing reads them. Only possible before SQLite initializes, so the
    //  first open in the process does it (later calls are harmless no-ops).
    static atomic_flag configured = ATOMIC_FLAG_INIT;
    if (!atomic_flag_test_and_set (&configured))
        sqlite3_config (SQLITE_CONFIG_MEMSTATUS, 0);
    store_index_t *self = (store_index_t *) zmalloc (sizeof (store_index_t));
    self->node_ids = zhashx_new ();
    zhashx_set_destructor (self->node_ids, (zhashx_destructor_fn *) zstr_free);
    self->sql = store_sql_table (s_sql, self->statements, S_COUNT, "index");
    if (store_sql_open (&self->sql, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 5000,
                        "the index", error, error_size))
        goto failed;
    char *message = NULL;
    const char *setup =
        "PRAGMA journal_mode = WAL;"
        "PRAGMA synchronous = FULL;"
        "PRAGMA temp_store = MEMORY;"
        "PRAGMA wal_autocheckpoint = 4096;";
    if (sqlite3_exec (self->sql.db, setup, NULL, NULL, &message) != SQLITE_OK) {
        snprintf (error, error_size, "%s: cannot set up the index: %s", path, message? message: "?");
        sqlite3_free (message);
        goto failed;
    }
    char why [300];
    bool recount = false;
    if (s_migrate (self->sql.db, &recount, why, sizeof (why))) {
        snprintf (error, error_size, "%s: %s", path, why);
        goto failed;
    }
    if (sqlite3_exec (self->sql.db, node_schema_sql, NULL, NULL, &message) != SQLITE_OK) {
        snprintf (error, error_size, "%s: cannot set up the index: %s", path, message? message: "?");
        sqlite3_free (message);
        goto failed;
    }
    //  An index of a build without garbage accounting: count it all once
    if (recount && sqlite3_exec (self->sql.db, STORE_INDEX_RECOUNT_SQL, NULL, NULL, &message) != SQLITE_OK) {
        snprintf (error, error_size, "%s: cannot count the garbage: %s", path, message? message: "?");
        sqlite3_free (message);
        goto failed;
    }
    if (store_sql_prepare (&self->sql, path, error, error_size))
        goto failed;
    return self;

failed:
    store_index_destroy (&self);
    return NULL;
}

void
store_index_destroy (store_index_t **self_p)
{
    assert (self_p);
    store_index_t *self = *self_p;
    if (!self)
        return;
    if (self->in_transaction)
        store_index_rollback (self);
    store_sql_close (&self->sql);
    zhashx_destroy (&self->node_ids);
    free (self);
    *self_p = NULL;
}

sqlite3 *
store_index_db (store_index_t *self)
{
    assert (self);
    return self->sql.db;
}

int
store_index_begin (store_index_t *self)
{
    assert (self);
    if (self->in_transaction)
        return 0;
    int rc = store_sql_run (&self->sql, S_BEGIN);
    if (rc)
        return rc;
    self->in_transaction = true;
    return 0;
}

bool
store_index_in_transaction (store_index_t *self)
{
    assert (self);
    return self->in_transaction;
}

int
store_index_commit (store_index_t *self)
{
    assert (self);
    if (!self->in_transaction)
        return 0;
    int rc = store_sql_run (&self->sql, S_COMMIT);
    if (rc != 0)
        //  The batch may be rolled back (now by SQLite, or next by the
        //  caller); node ids it created must not stay cached
        zhashx_purge (self->node_ids);
    if (rc == 0 || sqlite3_get_autocommit (self->sql.db))
        self->in_transaction = false;
    return rc;
}

int
store_index_rollback (store_index_t *self)
{
    assert (self);
    if (!self->in_transaction)
        return 0;
    //  The node-name cache may hold ids this transaction created
    zhashx_purge (self->node_ids);
    int rc = sqlite3_get_autocommit (self->sql.db)? 0: store_sql_run (&self->sql, S_ROLLBACK);
    self->in_transaction = false;
    return rc;
}

int
store_index_savepoint (store_index_t *self)
{
    return store_sql_run (&self->sql, S_SAVEPOINT);
}

int
store_index_release (store_index_t *self)
{
    return store_sql_run (&self->sql, S_RELEASE);
}

int
store_index_undo (store_index_t *self)
{
    zhashx_purge (self->node_ids);
    int rc = store_sql_run (&self->sql, S_ROLLBACK_TO);
    int release_rc = store_sql_run (&self->sql, S_RELEASE);
    return rc? rc: release_rc;
}

int
store_index_node_id (store_index_t *self, const char *name, int64_t *id_p)
{
    assert (self);
    assert (name);
    assert (id_p);
    *id_p = -1;
    char *cached = (char *) zhashx_lookup (self->node_ids, name);
    if (cached) {
        *id_p = strtoll (cached, NULL, 10);
        return 0;
    }
    sqlite3_stmt *select = self->statements [S_NODE_SELECT];
    sqlite3_bind_text (select, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step (select);
    int64_t id = rc == SQLITE_ROW? sqlite3_column_int64 (select, 0): -1;
    store_sql_done (&self->sql, S_NODE_SELECT);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sql_fail (&self->sql, S_NODE_SELECT);
    if (id < 0) {
        sqlite3_bind_text (self->statements [S_NODE_INSERT], 1, name, -1, SQLITE_STATIC);
        rc = store_sql_run (&self->sql, S_NODE_INSERT);
        if (rc)
            return rc;
        id = sqlite3_last_insert_rowid (self->sql.db);
    }
    zhashx_insert (self->node_ids, name, zsys_sprintf ("%" PRId64, id));
    *id_p = id;
    return 0;
}

int
store_index_add_value_file (store_index_t *self, uint64_t file_id, const char *volume, int64_t created_us)
{
    sqlite3_stmt *statement = self->statements [S_FILE_INSERT];
    sqlite3_bind_int64 (statement, 1, (int64_t) file_id);
    sqlite3_bind_text (statement, 2, volume, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 3, created_us);
    return store_sql_run (&self->sql, S_FILE_INSERT);
}

int
store_index_set_file_synced (store_index_t *self, uint64_t file_id, uint64_t synced_size)
{
    sqlite3_stmt *statement = self->statements [S_FILE_SYNCED];
    sqlite3_bind_int64 (statement, 1, (int64_t) file_id);
    sqlite3_bind_int64 (statement, 2, (int64_t) synced_size);
    return store_sql_run (&self->sql, S_FILE_SYNCED);
}

int
store_index_close_value_files (store_index_t *self)
{
    return store_sql_run (&self->sql, S_FILE_CLOSE_ALL);
}

static int64_t
s_scalar (store_index_t *self, s_statement_t which)
{
    sqlite3_stmt *statement = self->statements [which];
    int64_t value = -1;
    if (sqlite3_step (statement) == SQLITE_ROW)
        value = sqlite3_column_int64 (statement, 0);
    else
        store_sql_fail (&self->sql, which);
    sqlite3_reset (statement);
    return value;
}

uint64_t
store_index_max_value_file_id (store_index_t *self)
{
    int64_t value = s_scalar (self, S_FILE_MAX);
    return value > 0? (uint64_t) value: 0;
}

int
store_index_count_value_files (store_index_t *self, int64_t *count_p)
{
    *count_p = s_scalar (self, S_FILE_COUNT);
    return *count_p < 0? store_sql_code (self->sql.last_error): 0;
}

int
store_index_insert_segment (store_index_t *self, const index_segment_t *segment, int64_t *segment_id_p)
{
    sqlite3_stmt *statement = self->statements [S_SEGMENT_INSERT];
    char status [2] = { segment->status, 0 };
    sqlite3_bind_int64 (statement, 1, segment->collection_id);
    sqlite3_bind_text (statement, 2, segment->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 3, store_index_uid_to_db (segment->unified_id));
    sqlite3_bind_int64 (statement, 4, segment->timestamp_us);
    sqlite3_bind_int64 (statement, 5, segment->conjoined_part);
    sqlite3_bind_int (statement, 6, segment->segment_num);
    sqlite3_bind_text (statement, 7, status, 1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (statement, 8, segment->source_node_id);
    if (segment->handoff_node_id > 0)
        sqlite3_bind_int64 (statement, 9, segment->handoff_node_id);
    if (segment->has_delete_unified_id)
        sqlite3_bind_int64 (statement, 10, store_index_uid_to_db (segment->delete_unified_id));
    if (segment->user_request_id && *segment->user_request_id)
        sqlite3_bind_text (statement, 11, segment->user_request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 12, timestamp_now ());
    int rc = store_sql_run (&self->sql, S_SEGMENT_INSERT);
    if (rc)
        return rc;
    *segment_id_p = sqlite3_last_insert_rowid (self->sql.db);
    return 0;
}

//  Insert a sequence row only
static int
s_insert_sequence_row (store_index_t *self, const index_sequence_t *sequence)
{
    sqlite3_stmt *statement = self->statements [S_SEQUENCE_INSERT];
    sqlite3_bind_int64 (statement, 1, sequence->segment_id);
    sqlite3_bind_int64 (statement, 2, sequence->sequence_num);
    sqlite3_bind_int64 (statement, 3, (int64_t) sequence->value_file_id);
    sqlite3_bind_int64 (statement, 4, (int64_t) sequence->record_offset);
    sqlite3_bind_int64 (statement, 5, (int64_t) sequence->record_size);
    sqlite3_bind_int64 (statement, 6, (int64_t) sequence->segment_size);
    sqlite3_bind_int64 (statement, 7, sequence->zfec_padding_size);
    sqlite3_bind_blob (statement, 8, sequence->md5, DIGEST_MD5_SIZE, SQLITE_STATIC);
    if (sequence->has_adler32)
        sqlite3_bind_int64 (statement, 9, sequence->adler32);
    return store_sql_run (&self->sql, S_SEQUENCE_INSERT);
}

int
store_index_insert_sequence (store_index_t *self, const index_sequence_t *sequence)
{
    int rc = s_insert_sequence_row (self, sequence);
    if (rc)
        return rc;
    sqlite3_stmt *statement = self->statements [S_SEGMENT_ADVANCE];
    sqlite3_bind_int64 (statement, 1, sequence->segment_id);
    sqlite3_bind_int64 (statement, 2, sequence->sequence_num);
    return store_sql_run (&self->sql, S_SEGMENT_ADVANCE);
}

int
store_index_finish_segment (store_index_t *self, int64_t segment_id, const index_finish_t *finish)
{
    sqlite3_stmt *statement = self->statements [S_SEGMENT_FINISH];
    sqlite3_bind_int64 (statement, 1, segment_id);
    sqlite3_bind_int64 (statement, 2, (int64_t) finish->file_size);
    if (finish->has_file_adler32)
        sqlite3_bind_int64 (statement, 3, finish->file_adler32);
    sqlite3_bind_blob (statement, 4, finish->file_hash, DIGEST_MD5_SIZE, SQLITE_STATIC);
    if (finish->meta)
        sqlite3_bind_blob (statement, 5, finish->meta, (int) finish->meta_size, SQLITE_STATIC);
    return store_sql_run (&self->sql, S_SEGMENT_FINISH);
}

int
store_index_set_status (store_index_t *self, int64_t segment_id, char status)
{
    sqlite3_stmt *statement = self->statements [S_SEGMENT_STATUS];
    char text [2] = { status, 0 };
    sqlite3_bind_int64 (statement, 1, segment_id);
    sqlite3_bind_text (statement, 2, text, 1, SQLITE_TRANSIENT);
    return store_sql_run (&self->sql, S_SEGMENT_STATUS);
}

int
store_index_cancel_conjoined_parts (store_index_t *self, uint32_t collection_id, const char *key,
                                    uint64_t unified_id, int64_t handoff_node_id, int *count_p)
{
    sqlite3_stmt *statement = self->statements [S_CANCEL_PARTS];
    sqlite3_bind_int64 (statement, 1, collection_id);
    sqlite3_bind_text (statement, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 3, store_index_uid_to_db (unified_id));
    if (handoff_node_id > 0)
        sqlite3_bind_int64 (statement, 4, handoff_node_id);
    int rc = store_sql_run (&self->sql, S_CANCEL_PARTS);
    if (rc)
        return rc;
    *count_p = sqlite3_changes (self->sql.db);
    return 0;
}

int
store_index_insert_conjoined (store_index_t *self, uint32_t collection_id, const char *key,
                              uint64_t unified_id, int64_t timestamp_us, int64_t handoff_node_id)
{
    sqlite3_stmt *statement = self->statements [S_CONJOINED_INSERT];
    sqlite3_bind_int64 (statement, 1, collection_id);
    sqlite3_bind_text (statement, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 3, store_index_uid_to_db (unified_id));
    sqlite3_bind_int64 (statement, 4, timestamp_us);
    if (handoff_node_id > 0)
        sqlite3_bind_int64 (statement, 5, handoff_node_id);
    sqlite3_bind_int64 (statement, 6, timestamp_now ());
    return store_sql_run (&self->sql, S_CONJOINED_INSERT);
}

int
store_index_find_active_conjoined (store_index_t *self, uint32_t collection_id, const char *key,
                                   uint64_t unified_id, int64_t handoff_node_id, int64_t *conjoined_id_p)
{
    sqlite3_stmt *statement = self->statements [S_CONJOINED_FIND];
    sqlite3_bind_int64 (statement, 1, collection_id);
    sqlite3_bind_text (statement, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 3, store_index_uid_to_db (unified_id));
    if (handoff_node_id > 0)
        sqlite3_bind_int64 (statement, 4, handoff_node_id);
    int rc = sqlite3_step (statement);
    *conjoined_id_p = rc == SQLITE_ROW? sqlite3_column_int64 (statement, 0): 0;
    store_sql_done (&self->sql, S_CONJOINED_FIND);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sql_fail (&self->sql, S_CONJOINED_FIND);
    return 0;
}

int
store_index_set_conjoined_status (store_index_t *self, int64_t conjoined_id, char status)
{
    sqlite3_stmt *statement = self->statements [S_CONJOINED_STATUS];
    char text [2] = { status, 0 };
    sqlite3_bind_int64 (statement, 1, conjoined_id);
    sqlite3_bind_text (statement, 2, text, 1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (statement, 3, timestamp_now ());
    return store_sql_run (&self->sql, S_CONJOINED_STATUS);
}

int
store_index_load_active (store_index_t *self, store_index_active_fn *fn, void *arg)
{
    sqlite3_stmt *statement = self->statements [S_ACTIVE_SELECT];
    int rc;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW) {
        index_active_t active = {
            .segment_id = sqlite3_column_int64 (statement, 0),
            .collection_id = (uint32_t) sqlite3_column_int64 (statement, 1),
            .key = (const char *) sqlite3_column_text (statement, 2),
            .unified_id = store_index_uid_from_db (sqlite3_column_int64 (statement, 3)),
            .timestamp_us = sqlite3_column_int64 (statement, 4),
            .conjoined_part = (uint32_t) sqlite3_column_int64 (statement, 5),
            .segment_num = (uint8_t) sqlite3_column_int (statement, 6),
            .source_node_id = sqlite3_column_int64 (statement, 7),
            .handoff_node_id = sqlite3_column_int64 (statement, 8),
            .last_sequence_num = sqlite3_column_int64 (statement, 9),
            .sequence_count = (uint32_t) sqlite3_column_int64 (statement, 10),
        };
        fn (arg, &active);
    }
    sqlite3_reset (statement);
    return rc == SQLITE_DONE? 0: store_sql_fail (&self->sql, S_ACTIVE_SELECT);
}

int
store_index_count_segments (store_index_t *self, int64_t counts [4])
{
    memset (counts, 0, 4 * sizeof (int64_t));
    sqlite3_stmt *statement = self->statements [S_COUNT_SEGMENTS];
    int rc;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW) {
        const char *status = (const char *) sqlite3_column_text (statement, 0);
        int64_t count = sqlite3_column_int64 (statement, 1);
        const char *order = "AFCT";
        const char *at = status? strchr (order, status [0]): NULL;
        if (at && *at)
            counts [at - order] = count;
    }
    sqlite3_reset (statement);
    return rc == SQLITE_DONE? 0: store_sql_fail (&self->sql, S_COUNT_SEGMENTS);
}

int
store_index_open_value_files (store_index_t *self, store_index_file_fn *fn, void *arg)
{
    assert (self);
    sqlite3_stmt *statement = self->statements [S_OPEN_FILES];
    int rc;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW) {
        const char *volume = (const char *) sqlite3_column_text (statement, 1);
        fn (arg, (uint64_t) sqlite3_column_int64 (statement, 0), volume? volume: "",
            (uint64_t) sqlite3_column_int64 (statement, 2));
    }
    sqlite3_reset (statement);
    return rc == SQLITE_DONE? 0: store_sql_fail (&self->sql, S_OPEN_FILES);
}

int
store_index_file_tail (store_index_t *self, uint64_t file_id, int limit,
                       store_index_record_fn *fn, void *arg)
{
    assert (self);
    sqlite3_stmt *statement = self->statements [S_FILE_TAIL];
    sqlite3_bind_int64 (statement, 1, (int64_t) file_id);
    sqlite3_bind_int (statement, 2, limit);
    int rc;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW)
        fn (arg, sqlite3_column_int64 (statement, 0), (uint32_t) sqlite3_column_int64 (statement, 1),
            (uint64_t) sqlite3_column_int64 (statement, 2), (uint64_t) sqlite3_column_int64 (statement, 3));
    store_sql_done (&self->sql, S_FILE_TAIL);
    return rc == SQLITE_DONE? 0: store_sql_fail (&self->sql, S_FILE_TAIL);
}

int
store_index_add_damaged (store_index_t *self, uint64_t file_id, uint64_t record_offset,
                         int64_t segment_id, uint32_t sequence_num, const char *reason)
{
    assert (self);
    sqlite3_stmt *statement = self->statements [S_DAMAGED_INSERT];
    sqlite3_bind_int64 (statement, 1, (int64_t) file_id);
    sqlite3_bind_int64 (statement, 2, (int64_t) record_offset);
    if (segment_id > 0) {
        sqlite3_bind_int64 (statement, 3, segment_id);
        sqlite3_bind_int64 (statement, 4, sequence_num);
    }
    sqlite3_bind_int64 (statement, 5, timestamp_now ());
    sqlite3_bind_text (statement, 6, reason, -1, SQLITE_STATIC);
    return store_sql_run (&self->sql, S_DAMAGED_INSERT);
}

int
store_index_close_value_file (store_index_t *self, uint64_t file_id)
{
    assert (self);
    sqlite3_bind_int64 (self->statements [S_FILE_CLOSE], 1, (int64_t) file_id);
    return store_sql_run (&self->sql, S_FILE_CLOSE);
}

int
store_index_purge_handoff (store_index_t *self, const index_purge_t *purge, int *count_p)
{
    assert (self);
    assert (purge && purge->key);
    assert (count_p);
    s_statement_t which = purge->has_segment_num? S_PURGE_SEGMENT: S_PURGE_CONJOINED;
    sqlite3_stmt *statement = self->statements [which];
    sqlite3_bind_int64 (statement, 1, purge->collection_id);
    sqlite3_bind_text (statement, 2, purge->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 3, store_index_uid_to_db (purge->unified_id));
    if (purge->has_segment_num) {
        sqlite3_bind_int64 (statement, 4, purge->conjoined_part);
        sqlite3_bind_int (statement, 5, purge->segment_num);
    }
    sqlite3_bind_int64 (statement, 6, purge->handoff_node_id);
    sqlite3_bind_int64 (statement, 7, purge->forwarded_us);
    *count_p = 0;
    int rc = store_sql_run (&self->sql, which);
    if (rc)
        return rc;
    *count_p = sqlite3_changes (self->sql.db);
    return 0;
}

int
store_index_insert_entire (store_index_t *self, const index_segment_t *segment,
                           const index_finish_t *finish, index_sequence_t *sequence,
                           int64_t *segment_id_p)
{
    assert (self && segment && finish && sequence && segment_id_p);
    assert (sequence->sequence_num == 0);
    sqlite3_stmt *statement = self->statements [S_ENTIRE_INSERT];
    sqlite3_bind_int64 (statement, 1, segment->collection_id);
    sqlite3_bind_text (statement, 2, segment->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 3, store_index_uid_to_db (segment->unified_id));
    sqlite3_bind_int64 (statement, 4, segment->timestamp_us);
    sqlite3_bind_int64 (statement, 5, segment->conjoined_part);
    sqlite3_bind_int (statement, 6, segment->segment_num);
    sqlite3_bind_int64 (statement, 8, segment->source_node_id);
    if (segment->handoff_node_id > 0)
        sqlite3_bind_int64 (statement, 9, segment->handoff_node_id);
    if (segment->user_request_id && *segment->user_request_id)
        sqlite3_bind_text (statement, 11, segment->user_request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 12, timestamp_now ());
    sqlite3_bind_int64 (statement, 13, (int64_t) finish->file_size);
    if (finish->has_file_adler32)
        sqlite3_bind_int64 (statement, 14, finish->file_adler32);
    sqlite3_bind_blob (statement, 15, finish->file_hash, DIGEST_MD5_SIZE, SQLITE_STATIC);
    if (finish->meta)
        sqlite3_bind_blob (statement, 16, finish->meta, (int) finish->meta_size, SQLITE_STATIC);
    int rc = store_sql_run (&self->sql, S_ENTIRE_INSERT);
    if (rc)
        return rc;
    *segment_id_p = sqlite3_last_insert_rowid (self->sql.db);
    sequence->segment_id = *segment_id_p;
    return s_insert_sequence_row (self, sequence);
}

//  --------------------------------------------------------------------------
//  Garbage accounting

int
store_index_account_key (store_index_t *self, uint32_t collection_id, const char *key)
{
    sqlite3_stmt *statement = self->statements [S_GARBAGE_MARK];
    sqlite3_bind_int64 (statement, 1, collection_id);
    sqlite3_bind_text (statement, 2, key, -1, SQLITE_STATIC);
    int rc = store_sql_run (&self->sql, S_GARBAGE_MARK);
    if (rc)
        return rc;
    if (sqlite3_changes (self->sql.db) == 0)
        return 0;                       //  the common case: nothing new
    s_statement_t rest [] = { S_GARBAGE_FILES, S_GARBAGE_DONE };
    for (size_t index = 0; index < 2; index++) {
        statement = self->statements [rest [index]];
        sqlite3_bind_int64 (statement, 1, collection_id);
        sqlite3_bind_text (statement, 2, key, -1, SQLITE_STATIC);
        rc = store_sql_run (&self->sql, rest [index]);
        if (rc)
            return rc;
    }
    return 0;
}

int
store_index_recount_garbage (store_index_t *self)
{
    char *message = NULL;
    int rc = sqlite3_exec (self->sql.db, STORE_INDEX_RECOUNT_SQL, NULL, NULL, &message);
    if (rc != SQLITE_OK) {
        zsys_error ("index: recounting garbage: %s", message? message: "?");
        sqlite3_free (message);
        return store_sql_code (rc);
    }
    return 0;
}

int
store_index_space_totals (sqlite3 *db, uint64_t *value_bytes_p, uint64_t *live_bytes_p,
                          uint64_t *garbage_bytes_p)
{
    //  Not logged: a reader may ask while the index is busy, and asks again
    sqlite3_stmt *statement = store_sql_once (db, NULL,
        "SELECT IFNULL (SUM (synced_size), 0), IFNULL (SUM (MAX (live_bytes, 0)), 0),"
        " IFNULL (SUM (garbage_bytes), 0) FROM value_file");
    if (statement && sqlite3_step (statement) == SQLITE_ROW) {
        *value_bytes_p = (uint64_t) sqlite3_column_int64 (statement, 0);
        *live_bytes_p = (uint64_t) sqlite3_column_int64 (statement, 1);
        *garbage_bytes_p = (uint64_t) sqlite3_column_int64 (statement, 2);
    }
    return store_sql_step_once (statement, NULL, NULL);
}

//  --------------------------------------------------------------------------
//  Compaction

//  A one-shot statement on the writer's connection (store_sql_once, logged)
static sqlite3_stmt *
s_prepare_once (store_index_t *self, const char *sql)
{
    return store_sql_once (self->sql.db, self->sql.who, sql);
}

//  Step it to its end and finalize it (store_sql_step_once, logged)
static int
s_step_once (store_index_t *self, sqlite3_stmt *statement, int64_t *value_p)
{
    return store_sql_step_once (statement, self->sql.who, value_p);
}

static int
s_apply_compaction (store_index_t *self, const index_compaction_t *compaction,
                    uint64_t *reclaimed_p)
{
    int rc;
    int64_t old_size = -1;
    sqlite3_stmt *statement = s_prepare_once (self,
        "SELECT synced_size FROM value_file WHERE id = ?1");
    if (statement)
        sqlite3_bind_int64 (statement, 1, (int64_t) compaction->old_file_id);
    if ((rc = s_step_once (self, statement, &old_size)))
        return rc;
    if (old_size < 0) {
        zsys_error ("index: compaction of value file %" PRIu64 ": it has no row", compaction->old_file_id);
        return STORE_ERR_NOT_FOUND;
    }
    statement = s_prepare_once (self,
        "INSERT INTO value_file (id, volume, created_us, closed, synced_size) VALUES (?1, ?2, ?3, 1, ?4)");
    if (statement) {
        sqlite3_bind_int64 (statement, 1, (int64_t) compaction->new_file_id);
        sqlite3_bind_text (statement, 2, compaction->volume, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (statement, 3, zclock_time () * 1000);
        sqlite3_bind_int64 (statement, 4, (int64_t) compaction->new_size);
    }
    if ((rc = s_step_once (self, statement, NULL)))
        return rc;
    //  Point every copied record's row at its copy (a row that no longer
    //  points at the original is left alone: its copy is garbage)
    statement = s_prepare_once (self,
        "UPDATE sequence SET value_file_id = ?5, record_offset = ?6"
        " WHERE segment_id = ?1 AND sequence_num = ?2 AND value_file_id = ?3 AND record_offset = ?4");
    if (!statement)
        return STORE_ERR_SQL;
    for (size_t index = 0; index < compaction->move_count; index++) {
        const index_move_t *move = &compaction->moves [index];
        sqlite3_bind_int64 (statement, 1, move->segment_id);
        sqlite3_bind_int64 (statement, 2, move->sequence_num);
        sqlite3_bind_int64 (statement, 3, (int64_t) compaction->old_file_id);
        sqlite3_bind_int64 (statement, 4, (int64_t) move->old_offset);
        sqlite3_bind_int64 (statement, 5, (int64_t) compaction->new_file_id);
        sqlite3_bind_int64 (statement, 6, (int64_t) move->new_offset);
        int step_rc = sqlite3_step (statement);
        sqlite3_reset (statement);
        if (step_rc != SQLITE_DONE) {
            zsys_error ("index: moving a record: %s", sqlite3_errmsg (self->sql.db));
            sqlite3_finalize (statement);
            return store_sql_code (step_rc);
        }
    }
    sqlite3_finalize (statement);
    //  What still points at the original must be garbage, or the copy was
    //  not complete: then nothing is changed
    int64_t left = -1;
    statement = s_prepare_once (self,
        "SELECT COUNT (*) FROM sequence AS q JOIN segment AS s ON s.id = q.segment_id"
        " WHERE q.value_file_id = ?1 AND s.garbage = 0");
    if (statement)
        sqlite3_bind_int64 (statement, 1, (int64_t) compaction->old_file_id);
    if ((rc = s_step_once (self, statement, &left)))
        return rc;
    if (left != 0) {
        zsys_error ("index: compaction of value file %" PRIu64 ": %" PRId64 " live records were"
                    " not copied; the compaction is abandoned", compaction->old_file_id, left);
        return STORE_ERR_STALE;
    }
    const char *cleanup [] = {
        "DELETE FROM sequence WHERE value_file_id = ?1",
        "DELETE FROM damaged WHERE value_file_id = ?1",
        "DELETE FROM value_file WHERE id = ?1",
    };
    for (size_t index = 0; index < 3; index++) {
        statement = s_prepare_once (self, cleanup [index]);
        if (statement)
            sqlite3_bind_int64 (statement, 1, (int64_t) compaction->old_file_id);
        if ((rc = s_step_once (self, statement, NULL)))
            return rc;
    }
    //  Dropped tombstones: still alone (nothing they delete left anywhere)?
    for (size_t index = 0; index < compaction->dropped_count; index++) {
        int64_t alone = 0;
        statement = s_prepare_once (self,
            "SELECT COUNT (*) FROM segment AS t WHERE t.id = ?1 AND t.status = 'T' AND "
            STORE_INDEX_TOMBSTONE_ALONE);
        if (statement)
            sqlite3_bind_int64 (statement, 1, compaction->dropped [index]);
        if ((rc = s_step_once (self, statement, &alone)))
            return rc;
        if (alone != 1) {
            zsys_error ("index: compaction of value file %" PRIu64 ": tombstone row %" PRId64
                        " may no longer be dropped; the compaction is abandoned",
                        compaction->old_file_id, compaction->dropped [index]);
            return STORE_ERR_STALE;
        }
        const char *drop [] = {
            //  What it deleted and has no data left goes with it
            "DELETE FROM segment WHERE id IN (SELECT s.id FROM segment AS t JOIN segment AS s"
            " ON s.collection_id = t.collection_id AND s.key = t.key"
            " WHERE t.id = ?1 AND s.status <> 'T' AND s.garbage = 1"
            " AND NOT EXISTS (SELECT 1 FROM sequence AS q WHERE q.segment_id = s.id))",
            "DELETE FROM segment WHERE id = ?1",
        };
        for (size_t step = 0; step < 2; step++) {
            statement = s_prepare_once (self, drop [step]);
            if (statement)
                sqlite3_bind_int64 (statement, 1, compaction->dropped [index]);
            if ((rc = s_step_once (self, statement, NULL)))
                return rc;
        }
    }
    statement = s_prepare_once (self,
        "INSERT OR REPLACE INTO retired_file (id, volume) VALUES (?1, ?2)");
    if (statement) {
        sqlite3_bind_int64 (statement, 1, (int64_t) compaction->old_file_id);
        sqlite3_bind_text (statement, 2, compaction->old_volume, -1, SQLITE_STATIC);
    }
    if ((rc = s_step_once (self, statement, NULL)))
        return rc;
    //  The copy's own accounting: whatever is not a live sequence or a kept
    //  state-change record is garbage (rows that turned garbage meanwhile)
    statement = s_prepare_once (self,
        "UPDATE value_file SET garbage_bytes = MAX (0, ?2 - ?3 - IFNULL ((SELECT SUM (q.record_size)"
        " FROM sequence AS q JOIN segment AS s ON s.id = q.segment_id"
        " WHERE q.value_file_id = ?1 AND s.garbage = 0), 0)) WHERE id = ?1");
    if (statement) {
        sqlite3_bind_int64 (statement, 1, (int64_t) compaction->new_file_id);
        sqlite3_bind_int64 (statement, 2, (int64_t) compaction->new_size);
        sqlite3_bind_int64 (statement, 3, (int64_t) compaction->kept_bytes);
    }
    if ((rc = s_step_once (self, statement, NULL)))
        return rc;
    statement = s_prepare_once (self,
        "UPDATE value_file SET live_bytes = synced_size - garbage_bytes WHERE id = ?1");
    if (statement)
        sqlite3_bind_int64 (statement, 1, (int64_t) compaction->new_file_id);
    if ((rc = s_step_once (self, statement, NULL)))
        return rc;
    *reclaimed_p = (uint64_t) old_size > compaction->new_size?
                   (uint64_t) old_size - compaction->new_size: 0;
    return 0;
}

int
store_index_apply_compaction (store_index_t *self, const index_compaction_t *compaction,
                              uint64_t *reclaimed_p)
{
    assert (self);
    assert (compaction);
    *reclaimed_p = 0;
    int rc = store_index_begin (self);
    if (rc == 0)
        rc = store_index_savepoint (self);
    if (rc)
        return rc;
    rc = s_apply_compaction (self, compaction, reclaimed_p);
    if (rc) {
        store_index_undo (self);
        return rc;
    }
    return store_index_release (self);
}

int
store_index_take_retired (store_index_t *self, store_index_file_fn *fn, void *arg)
{
    assert (self);
    sqlite3_stmt *statement = s_prepare_once (self, "SELECT id, volume FROM retired_file ORDER BY id");
    if (!statement)
        return STORE_ERR_SQL;
    int rc;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW)
        fn (arg, (uint64_t) sqlite3_column_int64 (statement, 0),
            (const char *) sqlite3_column_text (statement, 1), 0);
    if (rc != SQLITE_DONE)
        zsys_error ("%s: %s: %s", self->sql.who, sqlite3_sql (statement), sqlite3_errmsg (self->sql.db));
    sqlite3_finalize (statement);
    if (rc != SQLITE_DONE)
        return store_sql_code (rc);
    return s_step_once (self, s_prepare_once (self, "DELETE FROM retired_file"), NULL);
}

bool
store_index_has_value_file (store_index_t *self, uint64_t file_id)
{
    sqlite3_stmt *statement = s_prepare_once (self, "SELECT COUNT (*) FROM value_file WHERE id = ?1");
    int64_t count = 1;                  //  on error: assume it is needed
    if (statement)
        sqlite3_bind_int64 (statement, 1, (int64_t) file_id);
    s_step_once (self, statement, &count);
    return count != 0;
}
