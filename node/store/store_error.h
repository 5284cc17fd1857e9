/*  =========================================================================
    store_error - the storage layer's one error convention

    Every function of node/store/ that can fail returns an int: 0 on
    success, or a negative code that says why. The code is one of:

    - a negative errno (-EIO, -ENOSPC, -ENOMEM, -EFBIG, ...), when the
      operating system (or a check of the caller's arguments, -EINVAL)
      said why. -ENOSPC also stands for SQLite's "database or disk is
      full" (SQLITE_FULL), so "no room" has one code whoever noticed it;
    - one of the store's own codes below, far outside the errno range
      (LMDB keeps its own codes near -30800 for the same reason), when the
      storage layer itself judged the failure.

    Never -1 (that is -EPERM) and never a positive value, unless a
    function's contract says it returns something else (a count, a
    verdict such as "found"/"not found" as 0/1). store_strerror names a
    code, so a log line or a report can always say the cause.

    Functions that answer a question (a size, an id, "is the disk full")
    return the answer and document their sentinel.

    Constructors (x_new, x_open) return NULL, never a half-built object, and
    say why: one line into the caller's error buffer when they take one,
    else errno or one log line.

    Logging: the storage layer logs through zsys_* only (zsys_error when a
    statement or the system failed, with the statement or the file named);
    it never writes to stderr itself. The offline tools (--check,
    --rebuild-index) print their reports to the stream they are given.
    =========================================================================
*/
#ifndef STRATA_STORE_ERROR_H_INCLUDED
#define STRATA_STORE_ERROR_H_INCLUDED

//  The store's own codes (negative, below every errno value)
#define STORE_ERR_BASE      (-30800)
//  An SQLite statement failed for a reason other than a full disk. The
//  statement and SQLite's message are logged (zsys_error) where it failed.
#define STORE_ERR_SQL       (-30800)
//  Not an intact record: a record header that is not well formed (magic,
//  version, sizes), a CRC32C mismatch, or a file that ends before the
//  record does (a torn tail).
#define STORE_ERR_CORRUPT   (-30801)
//  The index no longer matches what the caller built from it (a
//  compaction whose copy missed a live record, or whose dropped tombstone
//  may no longer be dropped): nothing was changed; try again later.
#define STORE_ERR_STALE     (-30802)
//  The index stayed locked by another connection past the busy timeout
//  (SQLITE_BUSY, SQLITE_LOCKED): nothing was done; the caller may retry.
#define STORE_ERR_BUSY      (-30803)
//  Something the caller names is not there (a value file without an index
//  row).
#define STORE_ERR_NOT_FOUND (-30804)
#define STORE_ERR_LAST      (-30804)

//  The text for code: "success" for 0, strerror (-code) for a negative
//  errno, a fixed text for the store's own codes, "unknown store error"
//  for anything else. Never NULL; the text is static.
const char *
    store_strerror (int code);

#endif
