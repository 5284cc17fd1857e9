/*  =========================================================================
    index_reader - the reader's own connection to the node's SQLite index

    A lookup is one read transaction (BEGIN ... COMMIT, deferred: in WAL
    mode it takes a snapshot and no lock the writer needs): resolve the
    handoff node name, find the segment row (the visible version, or the
    one asked for), then the sequence row and the segment's sequence span.
    Statements are prepared once and reset after each use.
    =========================================================================
*/
#include <czmq.h>
#include <sqlite3.h>
#include "index_reader.h"
#include "store_sql.h"
#include "store_index.h"

//  The prepared statements, by purpose
typedef enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK,
    S_NODE_SELECT,
    S_SEGMENT_VISIBLE, S_SEGMENT_VERSION, S_SEGMENT_LIST,
    S_SEQUENCE_FIRST, S_SEQUENCE_AT, S_SEQUENCE_SPAN,
    S_FILE_VOLUME,
    S_DAMAGE_KNOWN, S_DAMAGE_INSERT,
    S_KEYS_FROM, S_KEYS_AFTER, S_TOMBSTONE_NEWEST,
    S_SCRUB_BATCH, S_RECORD_CURRENT, S_SCRUB_LOAD, S_SCRUB_SAVE,
    S_COLLECTION_NEXT,
    S_COUNT
} s_statement_t;

//  Not deleted by a tombstone of the same collection/key and copy
#define S_NOT_DELETED \
    " AND NOT EXISTS (SELECT 1 FROM segment AS t" \
    "  WHERE t.collection_id = ?1 AND t.key = ?2 AND t.status = 'T'" \
    "  AND t.handoff_node_id IS ?5" \
    "  AND (t.delete_unified_id = s.unified_id" \
    "       OR (t.delete_unified_id IS NULL AND t.unified_id > s.unified_id)))"

#define S_SEGMENT_COLUMNS \
    "SELECT s.id, s.unified_id, s.timestamp_us, s.file_size, s.file_adler32, s.file_hash, s.meta" \
    " FROM segment AS s" \
    " WHERE s.collection_id = ?1 AND s.key = ?2 AND s.conjoined_part = ?3" \
    " AND s.segment_num = ?4 AND s.status = 'F' AND s.handoff_node_id IS ?5" \
    " AND s.forwarded_us IS NULL"

#define S_SEQUENCE_COLUMNS \
    "SELECT q.sequence_num, q.value_file_id, q.record_offset, q.record_size, q.segment_size," \
    " q.zfec_padding_size, q.md5, q.adler32, f.volume" \
    " FROM sequence AS q LEFT JOIN value_file AS f ON f.id = q.value_file_id" \
    " WHERE q.segment_id = ?1"

static const char *s_sql [S_COUNT] = {
    [S_BEGIN] = "BEGIN",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_NODE_SELECT] = "SELECT id FROM node_name WHERE name = ?1",
    [S_SEGMENT_VISIBLE] =
        S_SEGMENT_COLUMNS S_NOT_DELETED " ORDER BY s.unified_id DESC, s.id DESC LIMIT 1",
    [S_SEGMENT_VERSION] =
        S_SEGMENT_COLUMNS " AND s.unified_id = ?6" S_NOT_DELETED " ORDER BY s.id DESC LIMIT 1",
    [S_SEGMENT_LIST] =
        S_SEGMENT_COLUMNS S_NOT_DELETED " ORDER BY s.unified_id DESC, s.id DESC LIMIT ?6",
    [S_SEQUENCE_FIRST] = S_SEQUENCE_COLUMNS " ORDER BY q.sequence_num LIMIT 1",
    [S_SEQUENCE_AT] = S_SEQUENCE_COLUMNS " AND q.sequence_num = ?2",
    [S_SEQUENCE_SPAN] =
        "SELECT COUNT (*), IFNULL (MAX (sequence_num), 0) FROM sequence WHERE segment_id = ?1",
    [S_FILE_VOLUME] = "SELECT volume FROM value_file WHERE id = ?1",
    [S_DAMAGE_KNOWN] = "SELECT 1 FROM damaged WHERE value_file_id = ?1 AND record_offset = ?2",
    [S_DAMAGE_INSERT] = ("INSERT OR IGNORE INTO damaged (value_file_id, record_offset,"
                         " segment_id, sequence_num, detected_us, reason)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
    //  Key listings walk segment_by_key in key order (BINARY collation:
    //  bytewise); the copy is checked per row
    [S_KEYS_FROM] = ("SELECT DISTINCT key FROM segment WHERE collection_id = ?1 AND key >= ?2"
                     " AND handoff_node_id IS ?3 AND forwarded_us IS NULL ORDER BY key"),
    [S_KEYS_AFTER] = ("SELECT DISTINCT key FROM segment WHERE collection_id = ?1 AND key > ?2"
                      " AND handoff_node_id IS ?3 AND forwarded_us IS NULL ORDER BY key"),
    [S_TOMBSTONE_NEWEST] = ("SELECT unified_id, timestamp_us FROM segment"
                            " WHERE collection_id = ?1 AND key = ?2 AND status = 'T'"
                            " AND handoff_node_id IS ?3 AND forwarded_us IS NULL"
                            " ORDER BY unified_id DESC LIMIT 1"),
    //  The scrub walks sequence_by_file in order
    [S_SCRUB_BATCH] = ("SELECT s.id, s.collection_id, s.unified_id, s.conjoined_part, s.segment_num,"
                       " q.sequence_num, q.value_file_id, q.record_offset, q.record_size,"
                       " q.segment_size, q.md5, f.volume"
                       " FROM sequence AS q JOIN segment AS s ON s.id = q.segment_id"
                       " LEFT JOIN value_file AS f ON f.id = q.value_file_id"
                       " WHERE (q.value_file_id, q.record_offset) > (?1, ?2)"
                       " AND s.status = 'F' AND s.forwarded_us IS NULL"
                       //  not superseded by a resend (a repair): reads use the newest row
                       " AND NOT EXISTS (SELECT 1 FROM segment AS r"
                       "  WHERE r.unified_id = s.unified_id AND r.conjoined_part = s.conjoined_part"
                       "  AND r.segment_num = s.segment_num AND r.handoff_node_id IS s.handoff_node_id"
                       "  AND r.status = 'F' AND r.forwarded_us IS NULL AND r.id > s.id)"
                       " ORDER BY q.value_file_id, q.record_offset LIMIT ?3"),
    [S_RECORD_CURRENT] = ("SELECT 1 FROM sequence WHERE value_file_id = ?1 AND record_offset = ?2"
                          " AND segment_id = ?3"),
    [S_COLLECTION_NEXT] = ("SELECT collection_id FROM segment WHERE collection_id > ?1"
                           " ORDER BY collection_id LIMIT 1"),
    [S_SCRUB_LOAD] = ("SELECT in_pass, value_file_id, record_offset, pass_bytes, passes,"
                      " IFNULL (last_pass_end_us, 0), next_pass_us FROM scrub_state WHERE id = 1"),
    [S_SCRUB_SAVE] = ("INSERT OR REPLACE INTO scrub_state (id, in_pass, value_file_id, record_offset,"
                      " pass_bytes, passes, last_pass_end_us, next_pass_us)"
                      " VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
};

struct _index_reader_t {
    store_sql_t sql;                        //  the connection and its statement table
    sqlite3_stmt *statements [S_COUNT];     //  prepared once
    uint8_t *meta;                          //  meta of the last lookup (found->meta)
    size_t meta_room;                       //  bytes allocated in meta
    bool keeping;                           //  the caller passes generations
    bool holding;                           //  a read transaction is kept open
    uint64_t held_generation;               //  the generation it was begun in
    uint64_t generation;                    //  the caller's current generation
};

//  Begin a read transaction, or keep the one held if it is still current
static int
s_begin_read (index_reader_t *self)
{
    if (self->holding && self->held_generation == self->generation)
        return 0;
    index_reader_release (self);
    int rc = store_sql_run (&self->sql, S_BEGIN);
    if (rc)
        return rc;
    self->holding = true;
    self->held_generation = self->generation;
    return 0;
}

//  After a failed statement: end the read transaction whatever its state
static void
s_abandon_read (index_reader_t *self)
{
    if (!sqlite3_get_autocommit (self->sql.db))
        store_sql_run (&self->sql, S_ROLLBACK);
    self->holding = false;
}

void
index_reader_set_generation (index_reader_t *self, uint64_t generation)
{
    assert (self);
    self->keeping = true;
    self->generation = generation;
}

//  A lookup is over: end its transaction unless the caller keeps snapshots
static void
s_end_read (index_reader_t *self)
{
    if (!self->keeping)
        index_reader_release (self);
}

void
index_reader_release (index_reader_t *self)
{
    assert (self);
    if (!self->holding)
        return;
    self->holding = false;
    if (store_sql_run (&self->sql, S_COMMIT))
        s_abandon_read (self);
}

index_reader_t *
index_reader_open (const char *path, int busy_timeout_ms, char *error, size_t error_size)
{
    assert (path);
    assert (error);
    index_reader_t *self = (index_reader_t *) zmalloc (sizeof (index_reader_t));
    //  No SQLITE_OPEN_CREATE: the writer creates the index and its schema.
    //  WAL mode is a property of the database file, set by the writer.
    self->sql = store_sql_table (s_sql, self->statements, S_COUNT, "index reader");
    if (store_sql_connect (&self->sql, path, SQLITE_OPEN_READWRITE, busy_timeout_ms,
                           "the index for reading", error, error_size))
        index_reader_destroy (&self);
    return self;
}

void
index_reader_destroy (index_reader_t **self_p)
{
    assert (self_p);
    index_reader_t *self = *self_p;
    if (!self)
        return;
    if (self->sql.db && self->holding)
        index_reader_release (self);
    store_sql_close (&self->sql);
    free (self->meta);
    free (self);
    *self_p = NULL;
}

//  Copy a blob column of 16 bytes into digest; false if NULL or not 16 bytes
static bool
s_digest_column (sqlite3_stmt *statement, int column, uint8_t *digest)
{
    if (sqlite3_column_type (statement, column) != SQLITE_BLOB
    ||  sqlite3_column_bytes (statement, column) != DIGEST_MD5_SIZE) {
        memset (digest, 0, DIGEST_MD5_SIZE);
        return false;
    }
    memcpy (digest, sqlite3_column_blob (statement, column), DIGEST_MD5_SIZE);
    return true;
}

//  Find the segment row; 0 found, 1 none, or a negative code (inside the
//  transaction)
static int
s_find_segment (index_reader_t *self, const index_query_t *query, int64_t handoff_node_id,
                index_found_t *found)
{
    s_statement_t which = query->has_unified_id? S_SEGMENT_VERSION: S_SEGMENT_VISIBLE;
    sqlite3_stmt *statement = self->statements [which];
    sqlite3_bind_int64 (statement, 1, query->collection_id);
    sqlite3_bind_text (statement, 2, query->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 3, query->conjoined_part);
    sqlite3_bind_int (statement, 4, query->segment_num);
    if (handoff_node_id > 0)
        sqlite3_bind_int64 (statement, 5, handoff_node_id);
    else
        sqlite3_bind_null (statement, 5);
    if (query->has_unified_id)
        sqlite3_bind_int64 (statement, 6, store_index_uid_to_db (query->unified_id));

    int rc = sqlite3_step (statement);
    if (rc == SQLITE_DONE) {
        store_sql_done (&self->sql, which);
        if (query->has_unified_id)
            snprintf (found->why, sizeof (found->why),
                      "unified-id: version %" PRIu64 " is not stored here finished and not deleted",
                      query->unified_id);
        else
            snprintf (found->why, sizeof (found->why),
                      "key: no visible version for this collection-id, key, conjoined-part and segment-num");
        return 1;
    }
    if (rc != SQLITE_ROW) {
        rc = store_sql_fail (&self->sql, which);
        store_sql_done (&self->sql, which);
        return rc;
    }
    found->segment_id = sqlite3_column_int64 (statement, 0);
    found->unified_id = store_index_uid_from_db (sqlite3_column_int64 (statement, 1));
    found->timestamp_us = sqlite3_column_int64 (statement, 2);
    found->file_size = (uint64_t) sqlite3_column_int64 (statement, 3);
    found->has_file_adler32 = sqlite3_column_type (statement, 4) != SQLITE_NULL;
    found->file_adler32 = (uint32_t) sqlite3_column_int64 (statement, 4);
    found->has_file_hash = s_digest_column (statement, 5, found->file_hash);
    found->meta = NULL;
    found->meta_size = 0;
    if (sqlite3_column_type (statement, 6) == SQLITE_BLOB) {
        size_t size = (size_t) sqlite3_column_bytes (statement, 6);
        if (size > self->meta_room) {
            uint8_t *meta = (uint8_t *) realloc (self->meta, size);
            if (!meta) {
                store_sql_done (&self->sql, which);
                zsys_error ("index reader: out of memory for %zu bytes of meta", size);
                return -ENOMEM;
            }
            self->meta = meta;
            self->meta_room = size;
        }
        if (size) {
            memcpy (self->meta, sqlite3_column_blob (statement, 6), size);
            found->meta = self->meta;
            found->meta_size = size;
        }
    }
    store_sql_done (&self->sql, which);
    return 0;
}

//  Find the sequence row and the segment's span; 0, 1 none, or a negative
//  code
static int
s_find_sequence (index_reader_t *self, const index_query_t *query, index_found_t *found)
{
    s_statement_t which = query->first? S_SEQUENCE_FIRST: S_SEQUENCE_AT;
    sqlite3_stmt *statement = self->statements [which];
    sqlite3_bind_int64 (statement, 1, found->segment_id);
    if (!query->first)
        sqlite3_bind_int64 (statement, 2, query->sequence_num);
    int rc = sqlite3_step (statement);
    if (rc == SQLITE_DONE) {
        store_sql_done (&self->sql, which);
        if (query->first)
            snprintf (found->why, sizeof (found->why),
                      "unified-id: version %" PRIu64 " has no stored sequence", found->unified_id);
        else
            snprintf (found->why, sizeof (found->why),
                      "sequence-num: version %" PRIu64 " has no sequence %" PRIu32,
                      found->unified_id, query->sequence_num);
        return 1;
    }
    if (rc != SQLITE_ROW) {
        rc = store_sql_fail (&self->sql, which);
        store_sql_done (&self->sql, which);
        return rc;
    }
    found->sequence_num = (uint32_t) sqlite3_column_int64 (statement, 0);
    found->value_file_id = (uint64_t) sqlite3_column_int64 (statement, 1);
    found->record_offset = (uint64_t) sqlite3_column_int64 (statement, 2);
    found->record_size = (uint64_t) sqlite3_column_int64 (statement, 3);
    found->segment_size = (uint64_t) sqlite3_column_int64 (statement, 4);
    found->zfec_padding_size = (uint32_t) sqlite3_column_int64 (statement, 5);
    s_digest_column (statement, 6, found->md5);
    found->has_adler32 = sqlite3_column_type (statement, 7) != SQLITE_NULL;
    found->adler32 = (uint32_t) sqlite3_column_int64 (statement, 7);
    const unsigned char *volume = sqlite3_column_text (statement, 8);
    snprintf (found->volume, sizeof (found->volume), "%s", volume? (const char *) volume: "");
    store_sql_done (&self->sql, which);

    statement = self->statements [S_SEQUENCE_SPAN];
    sqlite3_bind_int64 (statement, 1, found->segment_id);
    rc = sqlite3_step (statement);
    if (rc != SQLITE_ROW) {
        rc = store_sql_fail (&self->sql, S_SEQUENCE_SPAN);
        store_sql_done (&self->sql, S_SEQUENCE_SPAN);
        return rc;
    }
    found->sequence_count = (uint32_t) sqlite3_column_int64 (statement, 0);
    found->last_sequence_num = (uint32_t) sqlite3_column_int64 (statement, 1);
    store_sql_done (&self->sql, S_SEQUENCE_SPAN);
    return 0;
}

//  The id of a node name: > 0, 0 if unknown, or a negative code on error
static int64_t
s_node_id (index_reader_t *self, const char *name)
{
    sqlite3_stmt *statement = self->statements [S_NODE_SELECT];
    sqlite3_bind_text (statement, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step (statement);
    int64_t id = rc == SQLITE_ROW? sqlite3_column_int64 (statement, 0): 0;
    store_sql_done (&self->sql, S_NODE_SELECT);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sql_fail (&self->sql, S_NODE_SELECT);
    return id;
}

int
index_reader_lookup (index_reader_t *self, const index_query_t *query, index_found_t *found)
{
    assert (self);
    assert (query);
    assert (query->key);
    assert (found);
    memset (found, 0, sizeof (*found));
    int rc = s_begin_read (self);
    if (rc)
        return rc;

    int64_t handoff_node_id = 0;
    if (query->handoff_node_name && *query->handoff_node_name) {
        handoff_node_id = s_node_id (self, query->handoff_node_name);
        if (handoff_node_id < 0)
            rc = (int) handoff_node_id;
        else
        if (handoff_node_id == 0) {
            snprintf (found->why, sizeof (found->why),
                      "handoff-node-name: this node holds nothing for '%.100s'", query->handoff_node_name);
            rc = 1;
        }
    }
    if (rc == 0)
        rc = s_find_segment (self, query, handoff_node_id, found);
    if (rc == 0)
        rc = s_find_sequence (self, query, found);
    if (rc < 0)
        s_abandon_read (self);
    else
        s_end_read (self);
    return rc;
}

int
index_reader_file_volume (index_reader_t *self, uint64_t file_id, char *volume, size_t volume_size)
{
    assert (self);
    assert (volume);
    sqlite3_stmt *statement = self->statements [S_FILE_VOLUME];
    sqlite3_bind_int64 (statement, 1, (int64_t) file_id);
    int rc = sqlite3_step (statement);
    if (rc == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text (statement, 0);
        snprintf (volume, volume_size, "%s", text? (const char *) text: "");
    }
    store_sql_done (&self->sql, S_FILE_VOLUME);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return 1;
    return store_sql_fail (&self->sql, S_FILE_VOLUME);
}

int
index_reader_damage_known (index_reader_t *self, uint64_t file_id, uint64_t record_offset)
{
    assert (self);
    sqlite3_stmt *statement = self->statements [S_DAMAGE_KNOWN];
    sqlite3_bind_int64 (statement, 1, (int64_t) file_id);
    sqlite3_bind_int64 (statement, 2, (int64_t) record_offset);
    int rc = sqlite3_step (statement);
    store_sql_done (&self->sql, S_DAMAGE_KNOWN);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return store_sql_fail (&self->sql, S_DAMAGE_KNOWN);
}

int
index_reader_record_damage (index_reader_t *self, uint64_t file_id, uint64_t record_offset,
                            int64_t segment_id, int64_t sequence_num, int64_t detected_us,
                            const char *reason)
{
    assert (self);
    assert (reason);
    //  A write: not from inside a kept snapshot (it may be stale)
    index_reader_release (self);
    sqlite3_stmt *statement = self->statements [S_DAMAGE_INSERT];
    sqlite3_bind_int64 (statement, 1, (int64_t) file_id);
    sqlite3_bind_int64 (statement, 2, (int64_t) record_offset);
    if (segment_id >= 0)
        sqlite3_bind_int64 (statement, 3, segment_id);
    if (sequence_num >= 0)
        sqlite3_bind_int64 (statement, 4, sequence_num);
    sqlite3_bind_int64 (statement, 5, detected_us);
    sqlite3_bind_text (statement, 6, reason, -1, SQLITE_STATIC);
    return store_sql_run_retryable (&self->sql, S_DAMAGE_INSERT);
}

int
index_reader_list_versions (index_reader_t *self, const index_query_t *query, int limit,
                            index_version_fn *fn, void *arg)
{
    assert (self);
    assert (query && query->key);
    assert (fn);
    int rc = s_begin_read (self);
    if (rc)
        return rc;
    int64_t handoff_node_id = 0;
    if (query->handoff_node_name && *query->handoff_node_name) {
        handoff_node_id = s_node_id (self, query->handoff_node_name);
        if (handoff_node_id <= 0)
            rc = handoff_node_id < 0? (int) handoff_node_id: 1;    //  unknown name: holds nothing
    }
    if (rc == 0) {
        sqlite3_stmt *statement = self->statements [S_SEGMENT_LIST];
        sqlite3_bind_int64 (statement, 1, query->collection_id);
        sqlite3_bind_text (statement, 2, query->key, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (statement, 3, query->conjoined_part);
        sqlite3_bind_int (statement, 4, query->segment_num);
        if (handoff_node_id > 0)
            sqlite3_bind_int64 (statement, 5, handoff_node_id);
        else
            sqlite3_bind_null (statement, 5);
        sqlite3_bind_int (statement, 6, limit);
        bool have_last = false;
        uint64_t last = 0;              //  previous version listed (resends repeat it)
        int step;
        while ((step = sqlite3_step (statement)) == SQLITE_ROW) {
            uint64_t unified_id = store_index_uid_from_db (sqlite3_column_int64 (statement, 1));
            if (have_last && unified_id == last)
                continue;
            have_last = true;
            last = unified_id;
            uint8_t file_hash [DIGEST_MD5_SIZE];
            s_digest_column (statement, 5, file_hash);
            fn (arg, unified_id, sqlite3_column_int64 (statement, 2),
                (uint64_t) sqlite3_column_int64 (statement, 3), file_hash);
        }
        if (step != SQLITE_DONE)
            rc = store_sql_fail (&self->sql, S_SEGMENT_LIST);
        store_sql_done (&self->sql, S_SEGMENT_LIST);
    }
    if (rc < 0)
        s_abandon_read (self);
    else
        s_end_read (self);
    return rc < 0? rc: 0;
}

//  The newest state of one key in the copy: 0 found (fills the out
//  values), 1 nothing listable, or a negative code
static int
s_key_state (index_reader_t *self, const index_key_query_t *query, int64_t handoff_node_id,
             const char *key, size_t key_size, uint64_t *unified_id_p, int64_t *timestamp_p,
             uint64_t *file_size_p, bool *deleted_p)
{
    sqlite3_stmt *statement = self->statements [S_SEGMENT_VISIBLE];
    sqlite3_bind_int64 (statement, 1, query->collection_id);
    sqlite3_bind_text (statement, 2, key, (int) key_size, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 3, 0);
    sqlite3_bind_int (statement, 4, query->segment_num);
    if (handoff_node_id > 0)
        sqlite3_bind_int64 (statement, 5, handoff_node_id);
    else
        sqlite3_bind_null (statement, 5);
    int rc = sqlite3_step (statement);
    if (rc == SQLITE_ROW) {
        *unified_id_p = store_index_uid_from_db (sqlite3_column_int64 (statement, 1));
        *timestamp_p = sqlite3_column_int64 (statement, 2);
        *file_size_p = (uint64_t) sqlite3_column_int64 (statement, 3);
        *deleted_p = false;
        store_sql_done (&self->sql, S_SEGMENT_VISIBLE);
        return 0;
    }
    store_sql_done (&self->sql, S_SEGMENT_VISIBLE);
    if (rc != SQLITE_DONE)
        return store_sql_fail (&self->sql, S_SEGMENT_VISIBLE);

    statement = self->statements [S_TOMBSTONE_NEWEST];
    sqlite3_bind_int64 (statement, 1, query->collection_id);
    sqlite3_bind_text (statement, 2, key, (int) key_size, SQLITE_STATIC);
    if (handoff_node_id > 0)
        sqlite3_bind_int64 (statement, 3, handoff_node_id);
    else
        sqlite3_bind_null (statement, 3);
    rc = sqlite3_step (statement);
    if (rc == SQLITE_ROW) {
        *unified_id_p = store_index_uid_from_db (sqlite3_column_int64 (statement, 0));
        *timestamp_p = sqlite3_column_int64 (statement, 1);
        *file_size_p = 0;
        *deleted_p = true;
    }
    store_sql_done (&self->sql, S_TOMBSTONE_NEWEST);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return 1;
    return store_sql_fail (&self->sql, S_TOMBSTONE_NEWEST);
}

int
index_reader_list_keys (index_reader_t *self, const index_key_query_t *query,
                        index_key_fn *fn, void *arg, bool *truncated_p)
{
    assert (self);
    assert (query);
    assert (fn);
    assert (truncated_p);
    *truncated_p = false;
    int rc = s_begin_read (self);
    if (rc)
        return rc;
    int64_t handoff_node_id = 0;
    if (query->handoff_node_name && *query->handoff_node_name) {
        handoff_node_id = s_node_id (self, query->handoff_node_name);
        if (handoff_node_id <= 0)
            rc = handoff_node_id < 0? (int) handoff_node_id: 1;    //  unknown name: holds nothing
    }
    if (rc == 0) {
        //  Start at the later of the prefix (inclusive) and start-after
        //  (exclusive): both are lower bounds in bytewise order
        bool after = false;
        if (query->start_after_size) {
            size_t common = query->start_after_size < query->prefix_size
                          ? query->start_after_size: query->prefix_size;
            int order = memcmp (query->start_after, query->prefix, common);
            after = order > 0 || (order == 0 && query->start_after_size >= query->prefix_size);
        }
        s_statement_t which = after? S_KEYS_AFTER: S_KEYS_FROM;
        sqlite3_stmt *statement = self->statements [which];
        sqlite3_bind_int64 (statement, 1, query->collection_id);
        if (after)
            sqlite3_bind_text (statement, 2, query->start_after, (int) query->start_after_size,
                               SQLITE_STATIC);
        else
            sqlite3_bind_text (statement, 2, query->prefix_size? query->prefix: "",
                               (int) query->prefix_size, SQLITE_STATIC);
        if (handoff_node_id > 0)
            sqlite3_bind_int64 (statement, 3, handoff_node_id);
        else
            sqlite3_bind_null (statement, 3);
        int listed = 0;
        int step;
        while ((step = sqlite3_step (statement)) == SQLITE_ROW) {
            const char *key = (const char *) sqlite3_column_text (statement, 0);
            size_t key_size = (size_t) sqlite3_column_bytes (statement, 0);
            if (!key)
                continue;
            if (key_size < query->prefix_size
            ||  memcmp (key, query->prefix, query->prefix_size) != 0)
                break;                  //  past the prefix: done
            if (listed >= query->limit) {
                *truncated_p = true;    //  another key with the prefix follows
                break;
            }
            uint64_t unified_id = 0, file_size = 0;
            int64_t timestamp = 0;
            bool deleted = false;
            int state = s_key_state (self, query, handoff_node_id, key, key_size,
                                     &unified_id, &timestamp, &file_size, &deleted);
            if (state < 0) {
                rc = state;
                break;
            }
            if (state > 0)
                continue;
            listed++;
            if (fn (arg, key, key_size, unified_id, timestamp, file_size, deleted)) {
                *truncated_p = true;
                break;
            }
        }
        if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
            rc = store_sql_fail (&self->sql, which);
        store_sql_done (&self->sql, which);
    }
    if (rc < 0)
        s_abandon_read (self);
    else
        s_end_read (self);
    return rc < 0? rc: 0;
}

int
index_reader_scrub_batch (index_reader_t *self, int64_t value_file_id, int64_t record_offset,
                          index_record_t *records, int max)
{
    assert (self);
    assert (records);
    index_reader_release (self);
    int rc = s_begin_read (self);
    if (rc)
        return rc;
    sqlite3_stmt *statement = self->statements [S_SCRUB_BATCH];
    sqlite3_bind_int64 (statement, 1, value_file_id);
    sqlite3_bind_int64 (statement, 2, record_offset);
    sqlite3_bind_int (statement, 3, max);
    int count = 0;
    int step;
    while (count < max && (step = sqlite3_step (statement)) == SQLITE_ROW) {
        index_record_t *record = &records [count++];
        record->segment_id = sqlite3_column_int64 (statement, 0);
        record->collection_id = (uint32_t) sqlite3_column_int64 (statement, 1);
        record->unified_id = store_index_uid_from_db (sqlite3_column_int64 (statement, 2));
        record->conjoined_part = (uint32_t) sqlite3_column_int64 (statement, 3);
        record->segment_num = (uint8_t) sqlite3_column_int64 (statement, 4);
        record->sequence_num = (uint32_t) sqlite3_column_int64 (statement, 5);
        record->value_file_id = (uint64_t) sqlite3_column_int64 (statement, 6);
        record->record_offset = (uint64_t) sqlite3_column_int64 (statement, 7);
        record->record_size = (uint64_t) sqlite3_column_int64 (statement, 8);
        record->segment_size = (uint64_t) sqlite3_column_int64 (statement, 9);
        s_digest_column (statement, 10, record->md5);
        const unsigned char *volume = sqlite3_column_text (statement, 11);
        snprintf (record->volume, sizeof (record->volume), "%s", volume? (const char *) volume: "");
    }
    rc = count;
    if (count < max && step != SQLITE_DONE)
        rc = store_sql_fail (&self->sql, S_SCRUB_BATCH);
    store_sql_done (&self->sql, S_SCRUB_BATCH);
    if (rc < 0)
        s_abandon_read (self);
    else
        index_reader_release (self);
    return rc;
}

int
index_reader_record_current (index_reader_t *self, uint64_t file_id, uint64_t record_offset,
                             int64_t segment_id)
{
    assert (self);
    index_reader_release (self);
    sqlite3_stmt *statement = self->statements [S_RECORD_CURRENT];
    sqlite3_bind_int64 (statement, 1, (int64_t) file_id);
    sqlite3_bind_int64 (statement, 2, (int64_t) record_offset);
    sqlite3_bind_int64 (statement, 3, segment_id);
    int rc = sqlite3_step (statement);
    store_sql_done (&self->sql, S_RECORD_CURRENT);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return store_sql_fail (&self->sql, S_RECORD_CURRENT);
}

int
index_reader_scrub_load (index_reader_t *self, index_scrub_state_t *state)
{
    assert (self);
    assert (state);
    memset (state, 0, sizeof (*state));
    state->value_file_id = -1;
    state->record_offset = -1;
    index_reader_release (self);
    sqlite3_stmt *statement = self->statements [S_SCRUB_LOAD];
    int rc = sqlite3_step (statement);
    if (rc == SQLITE_ROW) {
        state->in_pass = sqlite3_column_int64 (statement, 0) != 0;
        state->value_file_id = sqlite3_column_int64 (statement, 1);
        state->record_offset = sqlite3_column_int64 (statement, 2);
        state->pass_bytes = (uint64_t) sqlite3_column_int64 (statement, 3);
        state->passes = (uint64_t) sqlite3_column_int64 (statement, 4);
        state->last_pass_end_us = sqlite3_column_int64 (statement, 5);
        state->next_pass_us = sqlite3_column_int64 (statement, 6);
    }
    store_sql_done (&self->sql, S_SCRUB_LOAD);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sql_fail (&self->sql, S_SCRUB_LOAD);
    return 0;
}

int
index_reader_scrub_save (index_reader_t *self, const index_scrub_state_t *state)
{
    assert (self);
    assert (state);
    index_reader_release (self);
    sqlite3_stmt *statement = self->statements [S_SCRUB_SAVE];
    sqlite3_bind_int (statement, 1, state->in_pass? 1: 0);
    sqlite3_bind_int64 (statement, 2, state->value_file_id);
    sqlite3_bind_int64 (statement, 3, state->record_offset);
    sqlite3_bind_int64 (statement, 4, (int64_t) state->pass_bytes);
    sqlite3_bind_int64 (statement, 5, (int64_t) state->passes);
    if (state->last_pass_end_us > 0)
        sqlite3_bind_int64 (statement, 6, state->last_pass_end_us);
    else
        sqlite3_bind_null (statement, 6);
    sqlite3_bind_int64 (statement, 7, state->next_pass_us);
    return store_sql_run_retryable (&self->sql, S_SCRUB_SAVE);
}

int
index_reader_list_collections (index_reader_t *self, bool has_start_after, uint32_t start_after,
                               uint32_t *ids, int max)
{
    assert (self);
    assert (ids);
    int rc = s_begin_read (self);
    if (rc)
        return rc;
    int64_t after = has_start_after? (int64_t) start_after: -1;
    int count = 0;
    sqlite3_stmt *statement = self->statements [S_COLLECTION_NEXT];
    while (count < max) {
        sqlite3_bind_int64 (statement, 1, after);
        int step = sqlite3_step (statement);
        if (step == SQLITE_ROW) {
            after = sqlite3_column_int64 (statement, 0);
            ids [count++] = (uint32_t) after;
        }
        store_sql_done (&self->sql, S_COLLECTION_NEXT);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = store_sql_fail (&self->sql, S_COLLECTION_NEXT);
            break;
        }
    }
    if (rc < 0)
        s_abandon_read (self);
    else
        s_end_read (self);
    return rc < 0? rc: count;
}
