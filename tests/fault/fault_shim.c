/*  =========================================================================
    fault_shim - an LD_PRELOAD library that makes chosen file I/O fail

    The fault-injection seam of the crash-safety tests (issue 5). Loaded
    into strata-node with LD_PRELOAD=libstrata_fault.so, it wraps the libc
    calls the node (and the SQLite library it links) write files with:

        write  pwrite pwrite64 writev pwritev pwritev64 pwritev2 pwritev64v2
        fdatasync  fsync  ftruncate ftruncate64
        statvfs statvfs64 fstatvfs fstatvfs64

    Each wrapper finds the real function with dlsym (RTLD_NEXT) and calls it
    unless a rule says this call must fail. value_file.c appends with
    pwritev and syncs with fdatasync; value_store.c syncs directories with
    fsync and asks statvfs for free space; SQLite writes with pwrite64 (and
    write) and syncs with fdatasync (checked with strace and nm -D).

    Environment:

        STRATA_FAULT_CONTROL  path of the control file (without it every call
                              passes through untouched)
        STRATA_FAULT_MATCH    default path substring a file must contain for
                              a rule to apply (default "/values/", i.e. value
                              files only: SQLite, logs and sockets untouched)
        STRATA_FAULT_LOG      file to which a line is appended for every
                              injected failure ("fault OP ERRNO PATH") and,
                              with `trace`, every matched call ("call OP PATH
                              -> ok|errno")

    The control file is read again whenever it changes (its inode, size or
    mtime: at most one stat per wrapped call; replace it atomically, by
    writing a temporary file and renaming it, so a change is never missed
    within one timestamp tick). Re-reading it resets every counter. One
    rule per line, `#` starts a comment:

        OP ERRNO [N|always] [skip=K] [match=SUBSTR] [partial]
            the next N matching calls (default: always) of OP fail with
            ERRNO (EIO, ENOSPC, EDQUOT, EROFS, EFBIG, ENOMEM, EBADF, EPERM,
            EACCES, EAGAIN, EINTR or a number), after letting K matching
            calls through. OP is write (every write call above), fdatasync,
            fsync, sync (both), ftruncate or statvfs. With partial (write
            only) the failing call first writes the first half of its bytes
            for real ("partial write N bytes PATH" in the log): a torn
            record, as a short write followed by an error would leave.
        statvfs free=BYTES [N|always] [match=SUBSTR]
            statvfs/fstatvfs succeed but report BYTES free (f_bavail and
            f_bfree); statvfs rules match every path unless match= is given
        trace
            log every call that a rule's op and path match, also once the
            rule is spent
        off
            no rules (the same as an empty or missing file)

    A file matches when the path of its descriptor (readlink of
    /proc/self/fd/N, cached per descriptor and checked against fstat's
    device and inode, so a reused descriptor number is noticed) contains
    the rule's substring: `fdatasync EIO 1 match=index.db` fails SQLite's
    next sync of index.db or index.db-wal; `write EIO 1
    match=index.db-wal` its next write to the WAL.

    Thread-safe: one mutex guards the rules and the descriptor cache. No
    allocation: rules and cache are fixed arrays. Not for production use.
    =========================================================================
*/
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define S_EXPORT __attribute__ ((visibility ("default")))

#define S_MAX_RULES     32          //  rules kept from one control file
#define S_MATCH_MAX     128         //  longest match substring
#define S_PATH_MAX      512         //  longest descriptor path remembered
#define S_FD_CACHE      1024        //  descriptors whose path is cached
#define S_CONTROL_MAX   8192        //  bytes of control file read

//  The operations a rule can name
typedef enum {
    S_OP_WRITE, S_OP_FDATASYNC, S_OP_FSYNC, S_OP_FTRUNCATE, S_OP_STATVFS, S_OP_COUNT
} s_op_t;

static const char *s_op_names [S_OP_COUNT] = {
    "write", "fdatasync", "fsync", "ftruncate", "statvfs"
};

//  One rule of the control file
typedef struct {
    s_op_t op;                      //  operation it applies to
    int error;                      //  errno to fail with, 0 for statvfs free=
    int64_t free_bytes;             //  statvfs free=: bytes to report, else -1
    long count;                     //  matching calls still to fail; -1 = always
    long skip;                      //  matching calls to let through first
    bool partial;                   //  write half the bytes, then fail
    char match [S_MATCH_MAX];       //  path substring ("" matches every path)
} s_rule_t;

//  One cached descriptor path
typedef struct {
    bool valid;                     //  entry filled
    dev_t dev;                      //  device of the file when cached
    ino_t ino;                      //  inode of the file when cached
    char path [S_PATH_MAX];         //  readlink of /proc/self/fd/N
} s_fd_entry_t;

//  Real functions
static ssize_t (*s_real_write) (int, const void *, size_t);
static ssize_t (*s_real_pwrite) (int, const void *, size_t, off_t);
static ssize_t (*s_real_pwrite64) (int, const void *, size_t, off64_t);
static ssize_t (*s_real_writev) (int, const struct iovec *, int);
static ssize_t (*s_real_pwritev) (int, const struct iovec *, int, off_t);
static ssize_t (*s_real_pwritev64) (int, const struct iovec *, int, off64_t);
static ssize_t (*s_real_pwritev2) (int, const struct iovec *, int, off_t, int);
static ssize_t (*s_real_pwritev64v2) (int, const struct iovec *, int, off64_t, int);
static int (*s_real_fdatasync) (int);
static int (*s_real_fsync) (int);
static int (*s_real_ftruncate) (int, off_t);
static int (*s_real_ftruncate64) (int, off64_t);
static int (*s_real_statvfs) (const char *, struct statvfs *);
static int (*s_real_statvfs64) (const char *, struct statvfs64 *);
static int (*s_real_fstatvfs) (int, struct statvfs *);
static int (*s_real_fstatvfs64) (int, struct statvfs64 *);

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t s_mutex = PTHREAD_MUTEX_INITIALIZER;
static const char *s_control_path;  //  STRATA_FAULT_CONTROL or NULL
static const char *s_default_match; //  STRATA_FAULT_MATCH or "/values/"
static int s_log_fd = -1;           //  STRATA_FAULT_LOG, opened at init
static bool s_have_control;         //  a control file was read
static struct stat s_control_stat;  //  what it looked like then
static s_rule_t s_rules [S_MAX_RULES];  //  current rules
static int s_rule_count;            //  entries in s_rules
static bool s_trace;                //  log matched calls too
static s_fd_entry_t s_fd_cache [S_FD_CACHE];   //  descriptor paths


//  --------------------------------------------------------------------------
//  Resolve the real functions and read the environment (once)

static void *
s_next (const char *name)
{
    return dlsym (RTLD_NEXT, name);
}

static void
s_init (void)
{
    s_real_write = s_next ("write");
    s_real_pwrite = s_next ("pwrite");
    s_real_pwrite64 = s_next ("pwrite64");
    s_real_writev = s_next ("writev");
    s_real_pwritev = s_next ("pwritev");
    s_real_pwritev64 = s_next ("pwritev64");
    s_real_pwritev2 = s_next ("pwritev2");
    s_real_pwritev64v2 = s_next ("pwritev64v2");
    s_real_fdatasync = s_next ("fdatasync");
    s_real_fsync = s_next ("fsync");
    s_real_ftruncate = s_next ("ftruncate");
    s_real_ftruncate64 = s_next ("ftruncate64");
    s_real_statvfs = s_next ("statvfs");
    s_real_statvfs64 = s_next ("statvfs64");
    s_real_fstatvfs = s_next ("fstatvfs");
    s_real_fstatvfs64 = s_next ("fstatvfs64");

    s_control_path = getenv ("STRATA_FAULT_CONTROL");
    if (s_control_path && !*s_control_path)
        s_control_path = NULL;
    s_default_match = getenv ("STRATA_FAULT_MATCH");
    if (!s_default_match)
        s_default_match = "/values/";
    const char *log_path = getenv ("STRATA_FAULT_LOG");
    if (log_path && *log_path)
        s_log_fd = open (log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}


//  --------------------------------------------------------------------------
//  Append one line to the log (one write: O_APPEND keeps lines whole)

static void
s_log (const char *format, ...)
{
    if (s_log_fd < 0 || !s_real_write)
        return;
    char line [S_PATH_MAX + 128];
    va_list args;
    va_start (args, format);
    int length = vsnprintf (line, sizeof (line) - 1, format, args);
    va_end (args);
    if (length < 0)
        return;
    if ((size_t) length > sizeof (line) - 2)
        length = (int) sizeof (line) - 2;
    line [length++] = '\n';
    ssize_t rc = s_real_write (s_log_fd, line, (size_t) length);
    (void) rc;
}


//  --------------------------------------------------------------------------
//  errno names the control file may use

static const struct {
    const char *name;
    int value;
} s_errnos [] = {
    { "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT }, { "EROFS", EROFS },
    { "EFBIG", EFBIG }, { "ENOMEM", ENOMEM }, { "EBADF", EBADF }, { "EPERM", EPERM },
    { "EACCES", EACCES }, { "EAGAIN", EAGAIN }, { "EINTR", EINTR },
};

static const char *
s_errno_name (int value)
{
    for (size_t index = 0; index < sizeof (s_errnos) / sizeof (s_errnos [0]); index++)
        if (s_errnos [index].value == value)
            return s_errnos [index].name;
    return "E?";
}

//  Parse an errno name or number; 0 if not understood
static int
s_parse_errno (const char *word)
{
    for (size_t index = 0; index < sizeof (s_errnos) / sizeof (s_errnos [0]); index++)
        if (strcmp (s_errnos [index].name, word) == 0)
            return s_errnos [index].value;
    char *end;
    long value = strtol (word, &end, 10);
    return *end == 0 && value > 0 && value < 4096? (int) value: 0;
}


//  --------------------------------------------------------------------------
//  Parse one control line into rules. Returns false if not understood.

static bool
s_parse_line (char *line)
{
    char *words [8];
    int count = 0;
    char *save = NULL;
    for (char *word = strtok_r (line, " \t\r", &save); word && count < 8;
         word = strtok_r (NULL, " \t\r", &save))
        words [count++] = word;
    if (count == 0)
        return true;
    if (strcmp (words [0], "off") == 0) {
        s_rule_count = 0;
        s_trace = false;
        return count == 1;
    }
    if (strcmp (words [0], "trace") == 0) {
        s_trace = true;
        return count == 1;
    }
    if (count < 2)
        return false;

    s_rule_t rule = { .free_bytes = -1, .count = -1 };
    bool both_syncs = false;        //  "sync": fdatasync and fsync
    if (strcmp (words [0], "sync") == 0) {
        rule.op = S_OP_FDATASYNC;
        both_syncs = true;
    }
    else {
        rule.op = S_OP_COUNT;
        for (int op = 0; op < S_OP_COUNT; op++)
            if (strcmp (words [0], s_op_names [op]) == 0)
                rule.op = (s_op_t) op;
        if (rule.op == S_OP_COUNT)
            return false;
    }
    if (rule.op == S_OP_STATVFS && strncmp (words [1], "free=", 5) == 0) {
        char *end;
        unsigned long long bytes = strtoull (words [1] + 5, &end, 10);
        if (*end || end == words [1] + 5)
            return false;
        rule.free_bytes = bytes > INT64_MAX? INT64_MAX: (int64_t) bytes;
    }
    else
    if ((rule.error = s_parse_errno (words [1])) == 0)
        return false;
    //  statvfs is asked about volume directories: every path by default
    const char *match = rule.op == S_OP_STATVFS? "": s_default_match;
    for (int index = 2; index < count; index++) {
        char *end;
        if (strcmp (words [index], "always") == 0)
            rule.count = -1;
        else
        if (strcmp (words [index], "partial") == 0) {
            if (rule.op != S_OP_WRITE)
                return false;
            rule.partial = true;
        }
        else
        if (strncmp (words [index], "skip=", 5) == 0) {
            rule.skip = strtol (words [index] + 5, &end, 10);
            if (*end || rule.skip < 0)
                return false;
        }
        else
        if (strncmp (words [index], "match=", 6) == 0)
            match = words [index] + 6;
        else {
            rule.count = strtol (words [index], &end, 10);
            if (*end || rule.count < 0)
                return false;
        }
    }
    snprintf (rule.match, sizeof (rule.match), "%s", match);
    for (int copy = 0; copy < (both_syncs? 2: 1); copy++) {
        if (s_rule_count == S_MAX_RULES)
            return false;
        s_rules [s_rule_count] = rule;
        if (copy == 1)
            s_rules [s_rule_count].op = S_OP_FSYNC;
        s_rule_count++;
    }
    return true;
}


//  --------------------------------------------------------------------------
//  Re-read the control file if it changed. Caller holds the mutex.

static void
s_refresh (void)
{
    if (!s_control_path)
        return;
    struct stat st;
    if (stat (s_control_path, &st) != 0) {
        if (s_have_control) {
            s_have_control = false;
            s_rule_count = 0;
            s_trace = false;
        }
        return;
    }
    if (s_have_control
    &&  st.st_ino == s_control_stat.st_ino
    &&  st.st_dev == s_control_stat.st_dev
    &&  st.st_size == s_control_stat.st_size
    &&  st.st_mtim.tv_sec == s_control_stat.st_mtim.tv_sec
    &&  st.st_mtim.tv_nsec == s_control_stat.st_mtim.tv_nsec)
        return;

    s_have_control = true;
    s_control_stat = st;
    s_rule_count = 0;
    s_trace = false;
    static char text [S_CONTROL_MAX + 1];
    size_t size = 0;
    int fd = open (s_control_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    while (size < S_CONTROL_MAX) {
        ssize_t got = read (fd, text + size, S_CONTROL_MAX - size);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        size += (size_t) got;
    }
    close (fd);
    text [size] = 0;

    int line_number = 0;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        line_number++;
        char *hash = strchr (line, '#');
        if (hash)
            *hash = 0;
        char copy [256];
        snprintf (copy, sizeof (copy), "%s", line);
        if (!s_parse_line (line)) {
            char message [400];
            int length = snprintf (message, sizeof (message),
                                   "fault_shim: %s line %d not understood: %s\n",
                                   s_control_path, line_number, copy);
            if (length > 0 && s_real_write) {
                ssize_t rc = s_real_write (2, message, strlen (message));
                (void) rc;
            }
            s_log ("error line %d: %s", line_number, copy);
        }
    }
}


//  --------------------------------------------------------------------------
//  The path of fd, from the cache when the descriptor still names the
//  same file. Caller holds the mutex. Returns "" if unknown.

static const char *
s_fd_path (int fd, char *buffer, size_t size)
{
    struct stat st;
    if (fd < 0 || fstat (fd, &st) != 0)
        return "";
    s_fd_entry_t *entry = fd < S_FD_CACHE? &s_fd_cache [fd]: NULL;
    if (entry && entry->valid && entry->dev == st.st_dev && entry->ino == st.st_ino)
        return entry->path;
    char link [64];
    snprintf (link, sizeof (link), "/proc/self/fd/%d", fd);
    char *target = entry? entry->path: buffer;
    size_t target_size = entry? sizeof (entry->path): size;
    ssize_t length = readlink (link, target, target_size - 1);
    if (length < 0)
        length = 0;
    target [length] = 0;
    if (entry) {
        entry->valid = true;
        entry->dev = st.st_dev;
        entry->ino = st.st_ino;
    }
    return target;
}


//  --------------------------------------------------------------------------
//  Decide the fate of one call of op on fd (or on path, for statvfs).
//  Returns the errno to fail with, or 0 to call the real function; sets
//  *free_p (-1 = leave alone) for statvfs, *partial_p when a failing write
//  is to write half its bytes first, *traced_p if the call is to be
//  logged, and copies the path into path_out.

static int
s_decide (s_op_t op, int fd, const char *path, int64_t *free_p, bool *partial_p,
          bool *traced_p, char *path_out, size_t path_out_size)
{
    pthread_once (&s_once, s_init);
    if (free_p)
        *free_p = -1;
    if (partial_p)
        *partial_p = false;
    *traced_p = false;
    if (!s_control_path)
        return 0;
    pthread_mutex_lock (&s_mutex);
    s_refresh ();
    bool wanted = false;            //  some rule is about this op
    for (int index = 0; index < s_rule_count && !wanted; index++)
        wanted = s_rules [index].op == op && (s_rules [index].count != 0 || s_trace);
    if (!wanted) {
        pthread_mutex_unlock (&s_mutex);
        return 0;
    }
    char buffer [S_PATH_MAX];
    const char *name = path? path: s_fd_path (fd, buffer, sizeof (buffer));
    snprintf (path_out, path_out_size, "%s", name);
    int error = 0;
    for (int index = 0; index < s_rule_count; index++) {
        s_rule_t *rule = &s_rules [index];
        if (rule->op != op || !strstr (name, rule->match))
            continue;
        *traced_p = s_trace;
        if (rule->count == 0)
            continue;           //  spent: only traced
        if (rule->skip > 0) {
            rule->skip--;
            continue;
        }
        if (rule->count > 0)
            rule->count--;
        if (rule->free_bytes >= 0) {
            if (free_p)
                *free_p = rule->free_bytes;
            continue;
        }
        error = rule->error;
        if (partial_p)
            *partial_p = rule->partial;
        break;
    }
    pthread_mutex_unlock (&s_mutex);
    if (error)
        s_log ("fault %s %s%s %s", s_op_names [op], s_errno_name (error),
               partial_p && *partial_p? " partial": "", path_out);
    return error;
}

//  Log the outcome of a traced call that went through
static void
s_traced (s_op_t op, const char *path, long rc)
{
    if (rc < 0)
        s_log ("call %s %s -> %s", s_op_names [op], path, s_errno_name (errno));
    else
        s_log ("call %s %s -> ok", s_op_names [op], path);
}

//  The first half of count bytes of iov, in out (at most S_IOV_MAX pieces)
#define S_IOV_MAX 1024
static int
s_half_iov (const struct iovec *iov, int iovcnt, struct iovec *out)
{
    size_t total = 0;
    for (int index = 0; index < iovcnt && index < S_IOV_MAX; index++)
        total += iov [index].iov_len;
    size_t left = total / 2;
    int count = 0;
    for (int index = 0; index < iovcnt && index < S_IOV_MAX && left > 0; index++) {
        out [count] = iov [index];
        if (out [count].iov_len > left)
            out [count].iov_len = left;
        left -= out [count].iov_len;
        count++;
    }
    return count;
}

//  The common body of every wrapper: decide, then fail (after half_call
//  for a partial write) or call through
#define S_WRAP(op, fd, real_fn, real_call, half_call)                       \
    do {                                                                    \
        bool traced, partial;                                               \
        char path [S_PATH_MAX];                                             \
        int error = s_decide (op, fd, NULL, NULL, &partial, &traced,        \
                              path, sizeof (path));                         \
        if (error) {                                                        \
            if (partial && real_fn) {                                       \
                ssize_t written = (ssize_t) (half_call);                    \
                s_log ("partial %s %zd bytes %s", s_op_names [op], written, path); \
            }                                                               \
            errno = error;                                                  \
            return -1;                                                      \
        }                                                                   \
        if (!real_fn) {                                                     \
            errno = ENOSYS;                                                 \
            return -1;                                                      \
        }                                                                   \
        __typeof__ (real_call) result = real_call;                          \
        if (traced) {                                                       \
            int saved = errno;                                              \
            s_traced (op, path, (long) result);                             \
            errno = saved;                                                  \
        }                                                                   \
        return result;                                                      \
    } while (0)


//  --------------------------------------------------------------------------
//  Writes

S_EXPORT ssize_t
write (int fd, const void *buffer, size_t count)
{
    S_WRAP (S_OP_WRITE, fd, s_real_write, s_real_write (fd, buffer, count),
            s_real_write (fd, buffer, count / 2));
}

S_EXPORT ssize_t
pwrite (int fd, const void *buffer, size_t count, off_t offset)
{
    S_WRAP (S_OP_WRITE, fd, s_real_pwrite, s_real_pwrite (fd, buffer, count, offset),
            s_real_pwrite (fd, buffer, count / 2, offset));
}

S_EXPORT ssize_t
pwrite64 (int fd, const void *buffer, size_t count, off64_t offset)
{
    S_WRAP (S_OP_WRITE, fd, s_real_pwrite64, s_real_pwrite64 (fd, buffer, count, offset),
            s_real_pwrite64 (fd, buffer, count / 2, offset));
}

S_EXPORT ssize_t
writev (int fd, const struct iovec *iov, int iovcnt)
{
    struct iovec half [S_IOV_MAX];          //  a partial write's pieces
    S_WRAP (S_OP_WRITE, fd, s_real_writev, s_real_writev (fd, iov, iovcnt),
            s_real_writev (fd, half, s_half_iov (iov, iovcnt, half)));
}

S_EXPORT ssize_t
pwritev (int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
    struct iovec half [S_IOV_MAX];          //  a partial write's pieces
    S_WRAP (S_OP_WRITE, fd, s_real_pwritev, s_real_pwritev (fd, iov, iovcnt, offset),
            s_real_pwritev (fd, half, s_half_iov (iov, iovcnt, half), offset));
}

S_EXPORT ssize_t
pwritev64 (int fd, const struct iovec *iov, int iovcnt, off64_t offset)
{
    struct iovec half [S_IOV_MAX];          //  a partial write's pieces
    S_WRAP (S_OP_WRITE, fd, s_real_pwritev64, s_real_pwritev64 (fd, iov, iovcnt, offset),
            s_real_pwritev64 (fd, half, s_half_iov (iov, iovcnt, half), offset));
}

S_EXPORT ssize_t
pwritev2 (int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags)
{
    struct iovec half [S_IOV_MAX];          //  a partial write's pieces
    S_WRAP (S_OP_WRITE, fd, s_real_pwritev2, s_real_pwritev2 (fd, iov, iovcnt, offset, flags),
            s_real_pwritev2 (fd, half, s_half_iov (iov, iovcnt, half), offset, flags));
}

S_EXPORT ssize_t
pwritev64v2 (int fd, const struct iovec *iov, int iovcnt, off64_t offset, int flags)
{
    struct iovec half [S_IOV_MAX];          //  a partial write's pieces
    S_WRAP (S_OP_WRITE, fd, s_real_pwritev64v2, s_real_pwritev64v2 (fd, iov, iovcnt, offset, flags),
            s_real_pwritev64v2 (fd, half, s_half_iov (iov, iovcnt, half), offset, flags));
}


//  --------------------------------------------------------------------------
//  Syncs and truncation

S_EXPORT int
fdatasync (int fd)
{
    S_WRAP (S_OP_FDATASYNC, fd, s_real_fdatasync, s_real_fdatasync (fd), 0);
}

S_EXPORT int
fsync (int fd)
{
    S_WRAP (S_OP_FSYNC, fd, s_real_fsync, s_real_fsync (fd), 0);
}

S_EXPORT int
ftruncate (int fd, off_t length)
{
    S_WRAP (S_OP_FTRUNCATE, fd, s_real_ftruncate, s_real_ftruncate (fd, length), 0);
}

S_EXPORT int
ftruncate64 (int fd, off64_t length)
{
    S_WRAP (S_OP_FTRUNCATE, fd, s_real_ftruncate64, s_real_ftruncate64 (fd, length), 0);
}


//  --------------------------------------------------------------------------
//  Free space: fail, or report free_bytes free

//  Scale free_bytes into the block counts of a statvfs result
#define S_FAKE_FREE(st, free_bytes)                                         \
    do {                                                                    \
        unsigned long block = (st)->f_frsize? (st)->f_frsize: (st)->f_bsize; \
        if (block == 0)                                                     \
            block = 4096;                                                   \
        (st)->f_bavail = (uint64_t) (free_bytes) / block;                   \
        (st)->f_bfree = (uint64_t) (free_bytes) / block;                    \
    } while (0)

//  The common body of the statvfs wrappers
#define S_WRAP_STATVFS(fd, path_arg, real_fn, real_call, st)                \
    do {                                                                    \
        bool traced;                                                        \
        int64_t free_bytes;                                                 \
        char path [S_PATH_MAX];                                             \
        int error = s_decide (S_OP_STATVFS, fd, path_arg, &free_bytes, NULL, \
                              &traced, path, sizeof (path));                \
        if (error) {                                                        \
            errno = error;                                                  \
            return -1;                                                      \
        }                                                                   \
        if (!real_fn) {                                                     \
            errno = ENOSYS;                                                 \
            return -1;                                                      \
        }                                                                   \
        int result = real_call;                                             \
        if (result == 0 && free_bytes >= 0) {                               \
            S_FAKE_FREE (st, free_bytes);                                   \
            s_log ("fault statvfs free=%" PRId64 " %s", free_bytes, path);  \
        }                                                                   \
        if (traced) {                                                       \
            int saved = errno;                                              \
            s_traced (S_OP_STATVFS, path, result);                          \
            errno = saved;                                                  \
        }                                                                   \
        return result;                                                      \
    } while (0)

S_EXPORT int
statvfs (const char *file, struct statvfs *buf)
{
    S_WRAP_STATVFS (-1, file, s_real_statvfs, s_real_statvfs (file, buf), buf);
}

S_EXPORT int
statvfs64 (const char *file, struct statvfs64 *buf)
{
    S_WRAP_STATVFS (-1, file, s_real_statvfs64, s_real_statvfs64 (file, buf), buf);
}

S_EXPORT int
fstatvfs (int fd, struct statvfs *buf)
{
    S_WRAP_STATVFS (fd, NULL, s_real_fstatvfs, s_real_fstatvfs (fd, buf), buf);
}

S_EXPORT int
fstatvfs64 (int fd, struct statvfs64 *buf)
{
    S_WRAP_STATVFS (fd, NULL, s_real_fstatvfs64, s_real_fstatvfs64 (fd, buf), buf);
}
