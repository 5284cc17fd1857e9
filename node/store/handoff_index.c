/*  =========================================================================
    handoff_index - the handoff forwarder's own connection to the index

    The scans use the partial indexes segment_held and conjoined_held
    (schema.sql: rows with handoff_node_id set and forwarded_us NULL), so
    their cost follows the number of copies held, not the size of the
    index; every query repeats the partial index's terms literally so that
    SQLite's planner can use it. A scan walks an owner's copies in row id
    order with a cursor (after_segment_id, after_conjoined_id) supplied by
    the caller, one row per query.
    =========================================================================
*/
#include <czmq.h>
#include <sqlite3.h>
#include "handoff_index.h"
#include "store_sql.h"
#include "store_index.h"

//  The prepared statements, by purpose
typedef enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK,
    S_COUNT_SEGMENTS, S_COUNT_CONJOINED,
    S_NEXT_SEGMENT, S_NEXT_CONJOINED,
    S_SEQUENCE,
    S_COUNT
} s_statement_t;

static const char *s_sql [S_COUNT] = {
    [S_BEGIN] = "BEGIN",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_COUNT_SEGMENTS] =
        "SELECT n.name, COUNT (*), SUM (s.status IN ('F', 'T'))"
        " FROM segment AS s JOIN node_name AS n ON n.id = s.handoff_node_id"
        " WHERE s.handoff_node_id IS NOT NULL AND s.forwarded_us IS NULL AND s.status <> 'C'"
        " GROUP BY s.handoff_node_id",
    [S_COUNT_CONJOINED] =
        "SELECT n.name, COUNT (*), SUM (c.status IN ('F', 'C'))"
        " FROM conjoined AS c JOIN node_name AS n ON n.id = c.handoff_node_id"
        " WHERE c.handoff_node_id IS NOT NULL AND c.forwarded_us IS NULL"
        " GROUP BY c.handoff_node_id",
    [S_NEXT_SEGMENT] =
        "SELECT s.id, s.created_us, s.collection_id, s.key, s.unified_id, s.timestamp_us,"
        " s.conjoined_part, s.segment_num, s.status, src.name, s.file_size, s.file_adler32,"
        " s.file_hash, s.meta, s.delete_unified_id, s.user_request_id,"
        " (SELECT COUNT (*) FROM sequence WHERE segment_id = s.id),"
        " (SELECT IFNULL (MIN (sequence_num), 0) FROM sequence WHERE segment_id = s.id),"
        " (SELECT IFNULL (MAX (sequence_num), 0) FROM sequence WHERE segment_id = s.id)"
        " FROM segment AS s LEFT JOIN node_name AS src ON src.id = s.source_node_id"
        " WHERE s.handoff_node_id = (SELECT id FROM node_name WHERE name = ?1)"
        " AND s.handoff_node_id IS NOT NULL AND s.forwarded_us IS NULL"
        " AND s.id > ?2 AND s.status IN ('F', 'T')"
        " ORDER BY s.id LIMIT 1",
    [S_NEXT_CONJOINED] =
        "SELECT c.id, c.created_us, c.collection_id, c.key, c.unified_id, c.timestamp_us, c.status"
        " FROM conjoined AS c"
        " WHERE c.handoff_node_id = (SELECT id FROM node_name WHERE name = ?1)"
        " AND c.handoff_node_id IS NOT NULL AND c.forwarded_us IS NULL"
        " AND c.id > ?2 AND c.status IN ('F', 'C')"
        " ORDER BY c.id LIMIT 1",
    [S_SEQUENCE] =
        "SELECT q.sequence_num, q.value_file_id, q.record_offset, q.record_size, q.segment_size,"
        " q.zfec_padding_size, q.md5, q.adler32, f.volume"
        " FROM sequence AS q LEFT JOIN value_file AS f ON f.id = q.value_file_id"
        " WHERE q.segment_id = ?1 AND q.sequence_num > ?2 ORDER BY q.sequence_num LIMIT 1",
};

struct _handoff_index_t {
    store_sql_t sql;                        //  the connection and its statement table
    sqlite3_stmt *statements [S_COUNT];     //  prepared once
};

//  End a read transaction; rc is passed through (the code of the COMMIT
//  if ending fails)
static int
s_end (handoff_index_t *self, int rc)
{
    int commit_rc = store_sql_run (&self->sql, S_COMMIT);
    if (commit_rc) {
        store_sql_run (&self->sql, S_ROLLBACK);
        return commit_rc;
    }
    return rc;
}

handoff_index_t *
handoff_index_open (const char *path, char *error, size_t error_size)
{
    assert (path);
    assert (error);
    handoff_index_t *self = (handoff_index_t *) zmalloc (sizeof (handoff_index_t));
    self->sql = store_sql_table (s_sql, self->statements, S_COUNT, "handoff index");
    if (store_sql_connect (&self->sql, path, SQLITE_OPEN_READONLY, 5000,
                           "the index for the handoff forwarder", error, error_size))
        handoff_index_destroy (&self);
    return self;
}

void
handoff_index_destroy (handoff_index_t **self_p)
{
    assert (self_p);
    handoff_index_t *self = *self_p;
    if (!self)
        return;
    store_sql_close (&self->sql);
    free (self);
    *self_p = NULL;
}

void
handoff_item_reset (handoff_item_t *item)
{
    assert (item);
    free (item->meta);
    memset (item, 0, sizeof (*item));
}

//  Copy a text column into a fixed buffer ("" for NULL), cut to fit
static void
s_text_column (sqlite3_stmt *statement, int column, char *buffer, size_t size)
{
    const unsigned char *text = sqlite3_column_text (statement, column);
    snprintf (buffer, size, "%s", text? (const char *) text: "");
}

//  Copy a 16-byte blob column; false (digest zeroed) if NULL or another size
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

int
handoff_index_count (handoff_index_t *self, handoff_count_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    int rc = store_sql_run (&self->sql, S_BEGIN);
    if (rc)
        return rc;
    s_statement_t queries [] = { S_COUNT_SEGMENTS, S_COUNT_CONJOINED };
    for (size_t index = 0; index < 2 && rc == 0; index++) {
        sqlite3_stmt *statement = self->statements [queries [index]];
        int step;
        while ((step = sqlite3_step (statement)) == SQLITE_ROW) {
            const unsigned char *owner = sqlite3_column_text (statement, 0);
            int64_t held = sqlite3_column_int64 (statement, 1);
            int64_t pending = sqlite3_column_int64 (statement, 2);
            fn (arg, owner? (const char *) owner: "", held > 0? (uint64_t) held: 0,
                pending > 0? (uint64_t) pending: 0);
        }
        if (step != SQLITE_DONE)
            rc = store_sql_fail (&self->sql, queries [index]);
        store_sql_done (&self->sql, queries [index]);
    }
    return s_end (self, rc);
}

//  The next segment row into item: 0 found, 1 none, or a negative code
static int
s_next_segment (handoff_index_t *self, const char *owner, int64_t after, handoff_item_t *item)
{
    sqlite3_stmt *statement = self->statements [S_NEXT_SEGMENT];
    sqlite3_bind_text (statement, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 2, after);
    int rc = sqlite3_step (statement);
    if (rc != SQLITE_ROW) {
        store_sql_done (&self->sql, S_NEXT_SEGMENT);
        return rc == SQLITE_DONE? 1: store_sql_fail (&self->sql, S_NEXT_SEGMENT);
    }
    const unsigned char *status = sqlite3_column_text (statement, 8);
    item->status = status? (char) status [0]: '?';
    item->kind = item->status == 'T'? HANDOFF_TOMBSTONE: HANDOFF_SEGMENT;
    item->row_id = sqlite3_column_int64 (statement, 0);
    item->created_us = sqlite3_column_int64 (statement, 1);
    item->collection_id = (uint32_t) sqlite3_column_int64 (statement, 2);
    s_text_column (statement, 3, item->key, sizeof (item->key));
    item->unified_id = store_index_uid_from_db (sqlite3_column_int64 (statement, 4));
    item->timestamp_us = sqlite3_column_int64 (statement, 5);
    item->conjoined_part = (uint32_t) sqlite3_column_int64 (statement, 6);
    item->segment_num = (uint8_t) sqlite3_column_int (statement, 7);
    s_text_column (statement, 9, item->source, sizeof (item->source));
    item->file_size = (uint64_t) sqlite3_column_int64 (statement, 10);
    item->has_file_adler32 = sqlite3_column_type (statement, 11) != SQLITE_NULL;
    item->file_adler32 = (uint32_t) sqlite3_column_int64 (statement, 11);
    s_digest_column (statement, 12, item->file_hash);
    if (sqlite3_column_type (statement, 13) == SQLITE_BLOB && sqlite3_column_bytes (statement, 13) > 0) {
        size_t size = (size_t) sqlite3_column_bytes (statement, 13);
        item->meta = (uint8_t *) malloc (size);
        if (!item->meta) {
            store_sql_done (&self->sql, S_NEXT_SEGMENT);
            zsys_error ("handoff index: out of memory for %zu bytes of meta", size);
            return -ENOMEM;
        }
        memcpy (item->meta, sqlite3_column_blob (statement, 13), size);
        item->meta_size = size;
    }
    item->has_delete_unified_id = sqlite3_column_type (statement, 14) != SQLITE_NULL;
    if (item->has_delete_unified_id)
        item->delete_unified_id = store_index_uid_from_db (sqlite3_column_int64 (statement, 14));
    s_text_column (statement, 15, item->user_request_id, sizeof (item->user_request_id));
    item->sequence_count = (uint32_t) sqlite3_column_int64 (statement, 16);
    item->first_sequence_num = (uint32_t) sqlite3_column_int64 (statement, 17);
    item->last_sequence_num = (uint32_t) sqlite3_column_int64 (statement, 18);
    store_sql_done (&self->sql, S_NEXT_SEGMENT);
    return 0;
}

//  The next conjoined row into item: 0 found, 1 none, or a negative code
static int
s_next_conjoined (handoff_index_t *self, const char *owner, int64_t after, handoff_item_t *item)
{
    sqlite3_stmt *statement = self->statements [S_NEXT_CONJOINED];
    sqlite3_bind_text (statement, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 2, after);
    int rc = sqlite3_step (statement);
    if (rc != SQLITE_ROW) {
        store_sql_done (&self->sql, S_NEXT_CONJOINED);
        return rc == SQLITE_DONE? 1: store_sql_fail (&self->sql, S_NEXT_CONJOINED);
    }
    item->kind = HANDOFF_CONJOINED;
    item->row_id = sqlite3_column_int64 (statement, 0);
    item->created_us = sqlite3_column_int64 (statement, 1);
    item->collection_id = (uint32_t) sqlite3_column_int64 (statement, 2);
    s_text_column (statement, 3, item->key, sizeof (item->key));
    item->unified_id = store_index_uid_from_db (sqlite3_column_int64 (statement, 4));
    item->timestamp_us = sqlite3_column_int64 (statement, 5);
    const unsigned char *status = sqlite3_column_text (statement, 6);
    item->status = status? (char) status [0]: '?';
    store_sql_done (&self->sql, S_NEXT_CONJOINED);
    return 0;
}

int
handoff_index_next (handoff_index_t *self, const char *owner, int64_t after_segment_id,
                    int64_t after_conjoined_id, handoff_item_t *item)
{
    assert (self);
    assert (owner);
    assert (item);
    handoff_item_reset (item);
    int rc = store_sql_run (&self->sql, S_BEGIN);
    if (rc)
        return rc;
    handoff_item_t conjoined;
    memset (&conjoined, 0, sizeof (conjoined));
    int segment_rc = s_next_segment (self, owner, after_segment_id, item);
    int conjoined_rc = segment_rc < 0? segment_rc: s_next_conjoined (self, owner, after_conjoined_id, &conjoined);
    rc = s_end (self, 0);
    if (rc == 0 && segment_rc < 0)
        rc = segment_rc;
    if (rc == 0 && conjoined_rc < 0)
        rc = conjoined_rc;
    if (rc) {
        handoff_item_reset (item);
        return rc;
    }
    if (conjoined_rc == 0 && (segment_rc == 1 || conjoined.created_us < item->created_us)) {
        handoff_item_reset (item);
        *item = conjoined;          //  holds no meta: nothing to free twice
        return 0;
    }
    return segment_rc;
}

int
handoff_index_sequence (handoff_index_t *self, int64_t segment_id, int64_t after,
                        handoff_sequence_t *sequence)
{
    assert (self);
    assert (sequence);
    memset (sequence, 0, sizeof (*sequence));
    sqlite3_stmt *statement = self->statements [S_SEQUENCE];
    sqlite3_bind_int64 (statement, 1, segment_id);
    sqlite3_bind_int64 (statement, 2, after);
    int rc = sqlite3_step (statement);
    if (rc != SQLITE_ROW) {
        store_sql_done (&self->sql, S_SEQUENCE);
        return rc == SQLITE_DONE? 1: store_sql_fail (&self->sql, S_SEQUENCE);
    }
    sequence->sequence_num = (uint32_t) sqlite3_column_int64 (statement, 0);
    sequence->value_file_id = (uint64_t) sqlite3_column_int64 (statement, 1);
    sequence->record_offset = (uint64_t) sqlite3_column_int64 (statement, 2);
    sequence->record_size = (uint64_t) sqlite3_column_int64 (statement, 3);
    sequence->segment_size = (uint64_t) sqlite3_column_int64 (statement, 4);
    sequence->zfec_padding_size = (uint32_t) sqlite3_column_int64 (statement, 5);
    s_digest_column (statement, 6, sequence->md5);
    sequence->has_adler32 = sqlite3_column_type (statement, 7) != SQLITE_NULL;
    sequence->adler32 = (uint32_t) sqlite3_column_int64 (statement, 7);
    s_text_column (statement, 8, sequence->volume, sizeof (sequence->volume));
    store_sql_done (&self->sql, S_SEQUENCE);
    return 0;
}
