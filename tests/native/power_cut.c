/* LD_PRELOAD shim: an undo journal of everything not yet durable under $POWERCUT_DIR, so a test
   can kill the process and then lose what a power cut would lose (tests/support/power_cut.py).

   Before a write, truncate or copy changes a file's page, the page's bytes as they were (and the
   file's size) go to $POWERCUT_JOURNAL; fsync/fdatasync of the file make its pages durable.
   Creating, renaming, unlinking and mkdir are journalled with the directory they change; they
   become durable only when that directory is fsynced. A file about to disappear (unlink, rename
   over it) is first hard-linked into $POWERCUT_STASH so it can come back.
   $POWERCUT_KILL_AFTER=N: the Nth journalled operation is not done; SIGKILL instead.
   The process's own writes are done unchanged: the journal is only read after it is dead. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define MAX_FD 65536

struct record {  /* one journal record; names and data follow it */
    uint32_t type, n1, n2, ndata;
    uint64_t a, b, c, d, e, f;
};

static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static int journal_fd = -1;
static char root[PATH_MAX];
static size_t root_len;
static char stash[PATH_MAX];
static long kill_after = -1;
static long ops;
static unsigned long stash_n;
static unsigned char tracked[MAX_FD]; /* 1: a file under root (not -shm), 2: a directory */
static int ready;

#define REAL(name, ret, ...)                                   \
    static ret (*real_##name)(__VA_ARGS__);                    \
    static void load_##name(void) {                            \
        if (real_##name == NULL) real_##name = dlsym(RTLD_NEXT, #name); \
    }

REAL(openat, int, int, const char *, int, ...)
REAL(close, int, int)
REAL(write, ssize_t, int, const void *, size_t)
REAL(pwrite, ssize_t, int, const void *, size_t, off_t)
REAL(pwrite64, ssize_t, int, const void *, size_t, off_t)
REAL(writev, ssize_t, int, const struct iovec *, int)
REAL(pwritev, ssize_t, int, const struct iovec *, int, off_t)
REAL(ftruncate, int, int, off_t)
REAL(ftruncate64, int, int, off_t)
REAL(fsync, int, int)
REAL(fdatasync, int, int)
REAL(renameat, int, int, const char *, int, const char *)
REAL(renameat2, int, int, const char *, int, const char *, unsigned int)
REAL(unlinkat, int, int, const char *, int)
REAL(mkdirat, int, int, const char *, mode_t)
REAL(sendfile, ssize_t, int, int, off_t *, size_t)
REAL(sendfile64, ssize_t, int, int, off_t *, size_t)
REAL(copy_file_range, ssize_t, int, off_t *, int, off_t *, size_t, unsigned int)

static void init(void) {
    if (ready) return;
    ready = 1;
    load_openat(); load_close(); load_write(); load_fsync();
    const char *dir = getenv("POWERCUT_DIR"), *jpath = getenv("POWERCUT_JOURNAL");
    const char *spath = getenv("POWERCUT_STASH"), *kill = getenv("POWERCUT_KILL_AFTER");
    if (dir == NULL || jpath == NULL || spath == NULL) return;
    snprintf(root, sizeof root, "%s/", dir);
    root_len = strlen(root);
    snprintf(stash, sizeof stash, "%s", spath);
    if (kill != NULL && *kill) kill_after = atol(kill);
    journal_fd = real_openat(AT_FDCWD, jpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

/* Absolute path of `path` as seen from `dirfd` (no symlinks resolved: the test's dir has none). */
static void absolute(int dirfd, const char *path, char *out) {
    if (path[0] == '/') {
        snprintf(out, PATH_MAX, "%s", path);
        return;
    }
    char base[PATH_MAX] = "";
    if (dirfd == AT_FDCWD) {
        if (getcwd(base, sizeof base) == NULL) base[0] = 0;
    } else {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        ssize_t n = readlink(link, base, sizeof base - 1);
        base[n > 0 ? n : 0] = 0;
    }
    snprintf(out, PATH_MAX, "%s/%s", base, path);
}

static int under_root(const char *abs) { /* the directory itself or anything in it */
    return journal_fd >= 0 && (strncmp(abs, root, root_len) == 0 ||
                               (strncmp(abs, root, root_len - 1) == 0 && abs[root_len - 1] == 0));
}

static void parent_of(const char *abs, char *out) {
    snprintf(out, PATH_MAX, "%s", abs);
    char *slash = strrchr(out, '/');
    if (slash != NULL && slash != out) *slash = 0;
}

static void emit(struct record *r, const char *s1, const char *s2, const void *data) {
    char buf[sizeof *r + 2 * PATH_MAX + PAGE];
    size_t n = 0;
    memcpy(buf, r, sizeof *r); n += sizeof *r;
    memcpy(buf + n, s1, r->n1); n += r->n1;
    memcpy(buf + n, s2, r->n2); n += r->n2;
    memcpy(buf + n, data, r->ndata); n += r->ndata;
    real_write(journal_fd, buf, n);
}

/* Counts a journalled operation; the chosen one is where the power goes. */
static void tick(void) {
    ops++;
    if (kill_after >= 0 && ops >= kill_after) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        struct record r = {'K', 0, 0, 0, (uint64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000,
                           (uint64_t)ops, 0, 0, 0, 0};
        emit(&r, "", "", "");
        raise(SIGKILL);
        pause();
    }
}

static void emit_page(const struct stat *st, int fd, uint64_t page) {
    char old[PAGE];
    ssize_t n = 0;
    if ((off_t)(page * PAGE) < st->st_size) n = pread(fd, old, PAGE, page * PAGE);
    struct record r = {'W', 0, 0, n > 0 ? (uint32_t)n : 0, st->st_dev, st->st_ino, page,
                       (uint64_t)st->st_size, 0, 0};
    emit(&r, "", "", old);
}

/* The old bytes of every page [off, off+len) touches, and the size before. */
static void before_write(int fd, off_t off, size_t len) {
    struct stat st;
    if (fstat(fd, &st) != 0) return;
    if (len == 0) len = 1;
    for (uint64_t p = off / PAGE; p <= (off + len - 1) / PAGE; p++) emit_page(&st, fd, p);
}

static void before_truncate(int fd, off_t len) {
    struct stat st;
    if (fstat(fd, &st) != 0) return;
    off_t from = len < st.st_size ? len : st.st_size;
    off_t to = len < st.st_size ? st.st_size : from + 1;
    for (uint64_t p = from / PAGE; (off_t)(p * PAGE) < to; p++) emit_page(&st, fd, p);
}

static int is_tracked_file(int fd) {
    return fd >= 0 && fd < MAX_FD && tracked[fd] == 1 && journal_fd >= 0;
}

static void note_open(int fd, int dirfd, const char *path, int flags, int existed) {
    if (fd < 0 || fd >= MAX_FD) return;
    char abs[PATH_MAX];
    absolute(dirfd, path, abs);
    tracked[fd] = 0;
    if (!under_root(abs)) return;
    struct stat st;
    if (fstat(fd, &st) != 0) return;
    size_t n = strlen(abs);
    if (S_ISDIR(st.st_mode)) {
        tracked[fd] = 2;
        return;
    }
    if (n > 4 && strcmp(abs + n - 4, "-shm") == 0) return; /* rebuilt after any crash */
    tracked[fd] = 1;
    if ((flags & O_CREAT) && !existed) {
        char dir[PATH_MAX];
        struct stat ds;
        parent_of(abs, dir);
        if (stat(dir, &ds) != 0) return;
        struct record r = {'C', (uint32_t)n, 0, 0, ds.st_dev, ds.st_ino, st.st_dev, st.st_ino, 0, 0};
        emit(&r, abs, "", "");
    }
}

static int do_open(int dirfd, const char *path, int flags, mode_t mode) {
    init();
    pthread_mutex_lock(&lock);
    int existed = 1;
    char abs[PATH_MAX];
    if (flags & O_CREAT) {
        absolute(dirfd, path, abs);
        existed = access(abs, F_OK) == 0;
        if (!existed && under_root(abs)) tick();
    }
    if ((flags & O_TRUNC) && existed) {
        absolute(dirfd, path, abs);
        size_t n = strlen(abs);
        if (under_root(abs) && !(n > 4 && strcmp(abs + n - 4, "-shm") == 0)) {
            tick();
            int old = real_openat(dirfd, path, O_RDONLY | O_CLOEXEC, 0);
            if (old >= 0) {
                before_truncate(old, 0); /* the bytes O_TRUNC is about to drop */
                real_close(old);
            }
        }
    }
    int fd = real_openat(dirfd, path, flags, mode);
    note_open(fd, dirfd, path, flags, existed);
    pthread_mutex_unlock(&lock);
    return fd;
}

static mode_t mode_arg(int flags, va_list ap) {
    return (flags & (O_CREAT | __O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

int open(const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t m = mode_arg(flags, ap); va_end(ap);
    return do_open(AT_FDCWD, path, flags, m);
}
int open64(const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t m = mode_arg(flags, ap); va_end(ap);
    return do_open(AT_FDCWD, path, flags, m);
}
int openat(int dirfd, const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t m = mode_arg(flags, ap); va_end(ap);
    return do_open(dirfd, path, flags, m);
}
int openat64(int dirfd, const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t m = mode_arg(flags, ap); va_end(ap);
    return do_open(dirfd, path, flags, m);
}

int close(int fd) {
    init();
    if (fd >= 0 && fd < MAX_FD) tracked[fd] = 0;
    return real_close(fd);
}

static off_t current_offset(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_APPEND)) {
        struct stat st;
        return fstat(fd, &st) == 0 ? st.st_size : 0;
    }
    return lseek(fd, 0, SEEK_CUR);
}

#define GUARD_WRITE(fd, off, len)          \
    init();                                \
    int guarded = is_tracked_file(fd);     \
    if (guarded) {                         \
        pthread_mutex_lock(&lock);         \
        tick();                            \
        before_write(fd, off, len);        \
    }
#define END_GUARD() if (guarded) pthread_mutex_unlock(&lock)

ssize_t write(int fd, const void *buf, size_t n) {
    init();
    GUARD_WRITE(fd, guarded ? current_offset(fd) : 0, n);
    ssize_t r = real_write(fd, buf, n);
    END_GUARD();
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    load_pwrite();
    GUARD_WRITE(fd, off, n);
    ssize_t r = real_pwrite(fd, buf, n, off);
    END_GUARD();
    return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    load_pwrite64();
    GUARD_WRITE(fd, off, n);
    ssize_t r = real_pwrite64(fd, buf, n, off);
    END_GUARD();
    return r;
}

static size_t iov_len(const struct iovec *iov, int cnt) {
    size_t n = 0;
    for (int i = 0; i < cnt; i++) n += iov[i].iov_len;
    return n;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    load_writev();
    GUARD_WRITE(fd, guarded ? current_offset(fd) : 0, iov_len(iov, cnt));
    ssize_t r = real_writev(fd, iov, cnt);
    END_GUARD();
    return r;
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    load_pwritev();
    GUARD_WRITE(fd, off, iov_len(iov, cnt));
    ssize_t r = real_pwritev(fd, iov, cnt, off);
    END_GUARD();
    return r;
}

ssize_t sendfile(int out, int in, off_t *off, size_t n) {
    load_sendfile();
    GUARD_WRITE(out, guarded ? current_offset(out) : 0, n);
    ssize_t r = real_sendfile(out, in, off, n);
    END_GUARD();
    return r;
}

ssize_t sendfile64(int out, int in, off_t *off, size_t n) {
    load_sendfile64();
    GUARD_WRITE(out, guarded ? current_offset(out) : 0, n);
    ssize_t r = real_sendfile64(out, in, off, n);
    END_GUARD();
    return r;
}

ssize_t copy_file_range(int in, off_t *in_off, int out, off_t *out_off, size_t n,
                        unsigned int flags) {
    load_copy_file_range();
    GUARD_WRITE(out, guarded ? (out_off ? *out_off : current_offset(out)) : 0, n);
    ssize_t r = real_copy_file_range(in, in_off, out, out_off, n, flags);
    END_GUARD();
    return r;
}

int ftruncate(int fd, off_t len) {
    load_ftruncate();
    GUARD_WRITE(fd, 0, 0);
    if (guarded) before_truncate(fd, len);
    int r = real_ftruncate(fd, len);
    END_GUARD();
    return r;
}

int ftruncate64(int fd, off_t len) {
    load_ftruncate64();
    GUARD_WRITE(fd, 0, 0);
    if (guarded) before_truncate(fd, len);
    int r = real_ftruncate64(fd, len);
    END_GUARD();
    return r;
}

static int do_sync(int fd, int (*sync)(int)) {
    int kind = fd >= 0 && fd < MAX_FD && journal_fd >= 0 ? tracked[fd] : 0;
    if (!kind) return sync(fd);
    pthread_mutex_lock(&lock);
    tick();
    int r = sync(fd);
    struct stat st;
    if (r == 0 && fstat(fd, &st) == 0) {
        struct record rec = {kind == 2 ? 'D' : 'S', 0, 0, 0, st.st_dev, st.st_ino, 0, 0, 0, 0};
        emit(&rec, "", "", "");
    }
    pthread_mutex_unlock(&lock);
    return r;
}

int fsync(int fd) {
    init();
    return do_sync(fd, real_fsync);
}

int fdatasync(int fd) {
    init();
    load_fdatasync();
    return do_sync(fd, real_fdatasync);
}

/* Hard-link `abs` into the stash so an unlink or a rename over it can be undone. */
static int keep(const char *abs, char *kept) {
    struct stat st;
    kept[0] = 0;
    if (lstat(abs, &st) != 0) return 0;
    if (S_ISDIR(st.st_mode)) return 1;
    snprintf(kept, PATH_MAX, "%.3900s/%d-%lu", stash, (int)getpid(), ++stash_n);
    if (link(abs, kept) != 0) kept[0] = 0;
    return 1;
}

static void dir_of(const char *abs, struct stat *ds) {
    char dir[PATH_MAX];
    parent_of(abs, dir);
    if (stat(dir, ds) != 0) memset(ds, 0, sizeof *ds);
}

static int do_rename(int olddir, const char *oldp, int newdir, const char *newp,
                     unsigned int flags) {
    init();
    load_renameat2();
    char from[PATH_MAX], to[PATH_MAX], kept[PATH_MAX] = "";
    absolute(olddir, oldp, from);
    absolute(newdir, newp, to);
    if (!under_root(from) && !under_root(to))
        return flags ? real_renameat2(olddir, oldp, newdir, newp, flags)
                     : (load_renameat(), real_renameat(olddir, oldp, newdir, newp));
    pthread_mutex_lock(&lock);
    tick();
    keep(to, kept);
    struct stat fs, ts;
    dir_of(from, &fs);
    dir_of(to, &ts);
    int r = flags ? real_renameat2(olddir, oldp, newdir, newp, flags)
                  : (load_renameat(), real_renameat(olddir, oldp, newdir, newp));
    if (r == 0) {
        struct record rec = {'R', (uint32_t)strlen(from), (uint32_t)strlen(to),
                             (uint32_t)strlen(kept), ts.st_dev, ts.st_ino, fs.st_dev, fs.st_ino,
                             0, 0};
        emit(&rec, from, to, kept);
    } else if (kept[0]) {
        unlink(kept);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

int rename(const char *a, const char *b) { return do_rename(AT_FDCWD, a, AT_FDCWD, b, 0); }
int renameat(int ad, const char *a, int bd, const char *b) { return do_rename(ad, a, bd, b, 0); }
int renameat2(int ad, const char *a, int bd, const char *b, unsigned int f) {
    return do_rename(ad, a, bd, b, f);
}

static int do_unlink(int dirfd, const char *path, int flags) {
    init();
    load_unlinkat();
    char abs[PATH_MAX], kept[PATH_MAX] = "";
    absolute(dirfd, path, abs);
    if (!under_root(abs)) return real_unlinkat(dirfd, path, flags);
    pthread_mutex_lock(&lock);
    tick();
    keep(abs, kept);
    struct stat ds;
    dir_of(abs, &ds);
    int r = real_unlinkat(dirfd, path, flags);
    if (r == 0) {
        struct record rec = {(flags & AT_REMOVEDIR) ? 'X' : 'U', (uint32_t)strlen(abs), 0,
                             (uint32_t)strlen(kept), ds.st_dev, ds.st_ino, 0, 0, 0, 0};
        emit(&rec, abs, "", kept);
    } else if (kept[0]) {
        unlink(kept);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

int unlink(const char *path) { return do_unlink(AT_FDCWD, path, 0); }
int unlinkat(int dirfd, const char *path, int flags) { return do_unlink(dirfd, path, flags); }
int rmdir(const char *path) { return do_unlink(AT_FDCWD, path, AT_REMOVEDIR); }

static int do_mkdir(int dirfd, const char *path, mode_t mode) {
    init();
    load_mkdirat();
    char abs[PATH_MAX];
    absolute(dirfd, path, abs);
    if (!under_root(abs)) return real_mkdirat(dirfd, path, mode);
    pthread_mutex_lock(&lock);
    tick();
    int r = real_mkdirat(dirfd, path, mode);
    struct stat st, ds;
    if (r == 0 && stat(abs, &st) == 0) {
        dir_of(abs, &ds);
        struct record rec = {'M', (uint32_t)strlen(abs), 0, 0, ds.st_dev, ds.st_ino, st.st_dev,
                             st.st_ino, 0, 0};
        emit(&rec, abs, "", "");
    }
    pthread_mutex_unlock(&lock);
    return r;
}

int mkdir(const char *path, mode_t mode) { return do_mkdir(AT_FDCWD, path, mode); }
int mkdirat(int dirfd, const char *path, mode_t mode) { return do_mkdir(dirfd, path, mode); }
