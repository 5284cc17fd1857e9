-- =========================================================================
-- strata-node index schema (SQLite, WAL mode, synchronous=FULL)
--
-- One file per node: <data-dir>/index.db. The index says where every
-- sequence of every segment lives in the value files, and the state of
-- every segment. The value files themselves are self-describing (see
-- docs/storage.md), so the index can be rebuilt from them.
--
-- Conventions
-- * unified_id columns hold the protocol's uint64 with its top bit
--   flipped, stored as a signed 64-bit integer (uid XOR 2^63). This keeps
--   SQL ordering and comparisons equal to unsigned order. For ids below
--   2^63 (every id a router assigns) the stored value is uid - 2^63.
-- * Timestamps are microseconds since the Unix epoch, UTC.
-- * Digests are 16-byte BLOBs (raw MD5).
-- * forwarded_us (segment, conjoined) was added after version 1 was first
--   deployed: store_index_open adds the column to an older index before
--   this file runs (ALTER TABLE ... ADD COLUMN), so user_version stays 1.
-- =========================================================================

-- REFERENCES clauses document the relations; foreign keys are not enforced
-- (the writer keeps them consistent inside its transactions).

-- Node names seen in source-node-name / handoff-node-name.
CREATE TABLE IF NOT EXISTS node_name (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE
);

-- Value files, on any volume.
CREATE TABLE IF NOT EXISTS value_file (
    id          INTEGER PRIMARY KEY,    -- file id: the file is <volume>/values/<id as 16 hex>.val
    volume      TEXT NOT NULL,          -- volume directory
    created_us  INTEGER NOT NULL,
    closed      INTEGER NOT NULL DEFAULT 0,     -- 1 once no longer appended to
    synced_size INTEGER NOT NULL DEFAULT 0,     -- bytes known durable (last group commit)
    live_bytes  INTEGER NOT NULL DEFAULT 0,     -- bytes of records still referenced
    garbage_bytes INTEGER NOT NULL DEFAULT 0    -- bytes of records no longer needed
);

-- One row per segment (what this node stores of one version of one key),
-- and one per tombstone.
CREATE TABLE IF NOT EXISTS segment (
    id              INTEGER PRIMARY KEY,
    collection_id   INTEGER NOT NULL,
    key             TEXT NOT NULL,
    unified_id      INTEGER NOT NULL,       -- see conventions (tombstone: its own id)
    timestamp_us    INTEGER NOT NULL,
    conjoined_part  INTEGER NOT NULL DEFAULT 0,
    segment_num     INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('A', 'F', 'C', 'T')),
                                            -- Active, Finished, Cancelled, Tombstone
    source_node_id  INTEGER NOT NULL REFERENCES node_name (id),
    handoff_node_id INTEGER REFERENCES node_name (id),     -- NULL: this node's own copy
    file_size       INTEGER,                -- whole object, from the final message
    file_adler32    INTEGER,                -- NULL when not given
    file_hash       BLOB,
    meta            BLOB,                   -- raw MessagePack map, NULL when not given
    sequence_count  INTEGER NOT NULL DEFAULT 0,
    last_sequence_num INTEGER,              -- highest sequence stored (Active segments)
    delete_unified_id INTEGER,              -- tombstones: the version deleted; NULL = all older
    user_request_id TEXT,
    created_us      INTEGER NOT NULL,
    forwarded_us    INTEGER,                -- handoff copies: when purged after the owner
                                            -- acknowledged it (NULL = still held)
    garbage         INTEGER NOT NULL DEFAULT 0  -- 1: no read returns it and nothing forwards
                                            -- it; its sequence bytes are value_file garbage
                                            -- (docs/reading.md, "What is garbage")
);
CREATE INDEX IF NOT EXISTS segment_by_identity
    ON segment (unified_id, conjoined_part, segment_num);
CREATE INDEX IF NOT EXISTS segment_by_key
    ON segment (collection_id, key, unified_id);
CREATE INDEX IF NOT EXISTS segment_active
    ON segment (status) WHERE status = 'A';
-- Handoff copies still held (the forwarder's scans and counts)
CREATE INDEX IF NOT EXISTS segment_held
    ON segment (handoff_node_id, id)
    WHERE handoff_node_id IS NOT NULL AND forwarded_us IS NULL;

-- Sequences of segments: where each one's record is.
CREATE TABLE IF NOT EXISTS sequence (
    segment_id      INTEGER NOT NULL REFERENCES segment (id),
    sequence_num    INTEGER NOT NULL,
    value_file_id   INTEGER NOT NULL REFERENCES value_file (id),
    record_offset   INTEGER NOT NULL,       -- offset of the record header in the file
    record_size     INTEGER NOT NULL,       -- header + descriptor + payload bytes
    segment_size    INTEGER NOT NULL,       -- payload bytes
    zfec_padding_size INTEGER NOT NULL,
    md5             BLOB NOT NULL,          -- payload MD5
    adler32         INTEGER,                -- segment-adler32 as sent, NULL when not given
    PRIMARY KEY (segment_id, sequence_num)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sequence_by_file
    ON sequence (value_file_id, record_offset);

-- Conjoined (multipart) archives.
CREATE TABLE IF NOT EXISTS conjoined (
    id              INTEGER PRIMARY KEY,
    collection_id   INTEGER NOT NULL,
    key             TEXT NOT NULL,
    unified_id      INTEGER NOT NULL,
    timestamp_us    INTEGER NOT NULL,
    handoff_node_id INTEGER REFERENCES node_name (id),
    status          TEXT NOT NULL CHECK (status IN ('A', 'F', 'C')),
                                            -- Active, Finished, Cancelled (aborted)
    created_us      INTEGER NOT NULL,
    completed_us    INTEGER,
    forwarded_us    INTEGER                 -- as segment.forwarded_us
);
CREATE INDEX IF NOT EXISTS conjoined_by_identity ON conjoined (unified_id, collection_id, key);
CREATE INDEX IF NOT EXISTS conjoined_held
    ON conjoined (handoff_node_id, id)
    WHERE handoff_node_id IS NOT NULL AND forwarded_us IS NULL;

-- Records found damaged (CRC or MD5 failure) on read or scrub.
CREATE TABLE IF NOT EXISTS damaged (
    value_file_id   INTEGER NOT NULL,
    record_offset   INTEGER NOT NULL,
    segment_id      INTEGER,
    sequence_num    INTEGER,
    detected_us     INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    PRIMARY KEY (value_file_id, record_offset)
) WITHOUT ROWID;

-- The scrub's checkpoint (node/scrub.c): one row. A pass walks the
-- sequence rows in (value_file_id, record_offset) order; position is the
-- last record checked, so a restarted node resumes after it.
CREATE TABLE IF NOT EXISTS scrub_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    in_pass         INTEGER NOT NULL DEFAULT 0,     -- 1 while a pass is under way
    value_file_id   INTEGER NOT NULL DEFAULT -1,    -- position: last record checked
    record_offset   INTEGER NOT NULL DEFAULT -1,
    pass_bytes      INTEGER NOT NULL DEFAULT 0,     -- bytes checked in the pass so far
    passes          INTEGER NOT NULL DEFAULT 0,     -- passes completed, ever
    last_pass_end_us INTEGER,                       -- when the last pass ended
    next_pass_us    INTEGER NOT NULL DEFAULT 0      -- when the next background pass starts
);

-- Value files a compaction replaced (their rows are gone from value_file):
-- removed from disk after the commit, and again at start-up if a crash
-- came between the commit and the unlink.
CREATE TABLE IF NOT EXISTS retired_file (
    id          INTEGER PRIMARY KEY,
    volume      TEXT NOT NULL
);

PRAGMA user_version = 1;
