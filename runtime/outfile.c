/*
 * outfile.c — output files that are replaced atomically when they are
 * regular files and written in place when they are devices or pipes; the
 * rules are in cnnrt_file.h.
 *
 * IO, not a kernel: allocates (freed by commit/abort), never prints or exits.
 */
#include "cnnrt_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINKS 40

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* The directory part of p ("." for a bare name, "/" for "/x"). */
static char *dir_of(const char *p) {
    const char *slash = strrchr(p, '/');
    if (!slash) return dup_str(".");
    size_t n = slash == p ? 1 : (size_t)(slash - p);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

/* Follow a chain of symbolic links from path to the first name that is not
 * a link (it need not exist: a dangling link names the file to create). */
static char *follow_links(const char *path) {
    char *cur = dup_str(path);
    for (int hops = 0; cur; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) return cur;
        if (hops == MAX_LINKS) {
            free(cur);
            errno = ELOOP;
            return NULL;
        }
        char link[PATH_MAX];
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0) {
            free(cur);
            return NULL;
        }
        link[n] = '\0';
        char *next;
        if (link[0] == '/') {
            next = dup_str(link);
        } else {
            char *dir = dir_of(cur);
            next = dir ? malloc(strlen(dir) + (size_t)n + 2) : NULL;
            if (next) sprintf(next, "%s/%s", dir, link);
            free(dir);
        }
        free(cur);
        cur = next;
    }
    errno = ENOMEM;
    return NULL;
}

/* fsync the directory holding path, so that a rename in it is durable; a
 * filesystem that cannot sync directories is not an error. */
static int sync_dir(const char *path) {
    char *dir = dir_of(path);
    if (!dir) return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    free(dir);
    if (fd < 0) return -1;
    int r = fsync(fd), e = errno;
    close(fd);
    if (r != 0 && (e == EINVAL || e == EROFS)) r = 0;
    errno = e;
    return r;
}

int cnnrt_path_is_special(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

int cnnrt_outfile_open(cnnrt_outfile *f, const char *path) {
    *f = (cnnrt_outfile){ .fd = -1 };
    struct stat st;
    int exists = stat(path, &st) == 0;       /* follows links */
    if (!exists && errno != ENOENT) return -1;
    if (exists && S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        return -1;
    }
    if (exists && !S_ISREG(st.st_mode)) {
        /* a device, FIFO or socket: in place (open follows /proc's links too) */
        f->fd = open(path, O_WRONLY | O_NOCTTY);
        if (f->fd < 0) return -1;
        f->target = dup_str(path);
        if (!f->target) {
            close(f->fd);
            f->fd = -1;
            errno = ENOMEM;
            return -1;
        }
        return 0;
    }
    f->target = follow_links(path);
    if (!f->target) return -1;
    f->tmp = malloc(strlen(f->target) + 12);
    if (!f->tmp) {
        free(f->target);
        f->target = NULL;
        errno = ENOMEM;
        return -1;
    }
    sprintf(f->tmp, "%s.tmp.XXXXXX", f->target);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        int e = errno;
        free(f->tmp);
        free(f->target);
        *f = (cnnrt_outfile){ .fd = -1 };
        errno = e;
        return -1;
    }
    /* mkstemp makes 0600: keep a replaced file's bits, else 0666 & ~umask */
    mode_t mode;
    if (exists) {
        mode = st.st_mode & 07777;
    } else {
        mode_t um = umask(0);
        umask(um);
        mode = 0666 & ~um;
    }
    if (fchmod(f->fd, mode) != 0) { /* keep 0600: not worth failing for */ }
    return 0;
}

int cnnrt_outfile_write(cnnrt_outfile *f, const void *data, size_t len) {
    const char *p = data;
    if (f->fd < 0) {
        errno = EBADF;
        return -1;
    }
    while (len > 0) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static void release(cnnrt_outfile *f) {
    free(f->tmp);
    free(f->target);
    *f = (cnnrt_outfile){ .fd = -1 };
}

void cnnrt_outfile_abort(cnnrt_outfile *f) {
    int e = errno;
    if (f->fd >= 0) close(f->fd);
    if (f->tmp) unlink(f->tmp);
    release(f);
    errno = e;
}

/* fsync and close; the file stays a temporary until renamed */
static int finish(cnnrt_outfile *f) {
    if (f->fd < 0) {
        errno = EBADF;
        return -1;
    }
    int r = f->tmp ? fsync(f->fd) : 0;
    int e = errno;
    if (close(f->fd) != 0 && r == 0) {
        r = -1;
        e = errno;
    }
    f->fd = -1;
    errno = e;
    return r;
}

int cnnrt_outfile_commit_all(cnnrt_outfile *fs, int n) {
    int i, r = 0;
    for (i = 0; i < n && r == 0; i++) r = finish(&fs[i]);
    for (i = 0; i < n && r == 0; i++) {
        if (fs[i].tmp && rename(fs[i].tmp, fs[i].target) != 0) break;
        free(fs[i].tmp);
        fs[i].tmp = NULL;    /* renamed: no longer ours to remove */
    }
    if (r == 0 && i < n) r = -1;
    for (int j = 0; r == 0 && j < n; j++)
        if (sync_dir(fs[j].target) != 0) r = -1;
    for (int j = 0; j < n; j++) {
        if (r != 0) cnnrt_outfile_abort(&fs[j]);
        else release(&fs[j]);
    }
    return r;
}

int cnnrt_outfile_commit(cnnrt_outfile *f) { return cnnrt_outfile_commit_all(f, 1); }

int cnnrt_write_file(const char *path, const void *data, size_t len) {
    cnnrt_outfile f;
    if (cnnrt_outfile_open(&f, path) != 0) return -1;
    if (cnnrt_outfile_write(&f, data, len) != 0) {
        cnnrt_outfile_abort(&f);
        return -1;
    }
    return cnnrt_outfile_commit(&f);
}
