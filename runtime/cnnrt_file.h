/*
 * cnnrt_file.h — writing output files without ever losing one.
 *
 * cnnc, cnnc-train and cnnrt's checkpoints write every output file through
 * these functions (runtime/outfile.c), so they all treat a target the same
 * way, by what the path names when the file is opened:
 *
 *   nothing, or a regular file  the bytes go to a temporary file beside it
 *                               (PATH.tmp.XXXXXX), which is fsync'ed and
 *                               renamed over PATH only at commit; the
 *                               directory is fsync'ed after.  A crash or a
 *                               failure leaves the old file or the new one,
 *                               never half of one, and no temporary file
 *                               (abort removes it).  A replaced file keeps
 *                               its permission bits; a new one gets
 *                               0666 & ~umask.
 *   a symbolic link             followed to its final target (which may not
 *                               exist yet), which is then written as above:
 *                               the link stays a link.
 *   a device, FIFO or socket    (/dev/null, /dev/stdout, a named pipe)
 *                               opened and written in place, never
 *                               replaced, since renaming over it would
 *                               destroy it.
 *   a directory                 refused: EISDIR, nothing written.
 *
 * Internal to cnnc and cnnrt (not installed).  Every function returns 0 on
 * success, -1 with errno set on failure.
 */
#ifndef CNNRT_FILE_H
#define CNNRT_FILE_H

#include <stddef.h>

typedef struct cnnrt_outfile {
    char *target;     /* where the bytes end up (a symbolic link resolved) */
    char *tmp;        /* the temporary file beside target; NULL when in place */
    int fd;           /* -1 once committed or aborted */
} cnnrt_outfile;

int cnnrt_outfile_open(cnnrt_outfile *f, const char *path);
int cnnrt_outfile_write(cnnrt_outfile *f, const void *data, size_t len);
/* fsync + close + rename (+ fsync of the directory); aborts on failure */
int cnnrt_outfile_commit(cnnrt_outfile *f);
/* close and remove the temporary file; keeps errno; safe after commit */
void cnnrt_outfile_abort(cnnrt_outfile *f);

/* Several files that belong together (a .c and its .h): all are written
 * and flushed to disk before the first rename, and the renames follow one
 * another in the order given, so only a crash inside that last window can
 * mix old and new files (which the files' own checks then catch; cnnc's
 * .c refuses a .h of another run).  On failure every file not yet renamed
 * is removed. */
int cnnrt_outfile_commit_all(cnnrt_outfile *fs, int n);

/* open + write + commit */
int cnnrt_write_file(const char *path, const void *data, size_t len);

/* Does path name something that is written in place (a device, FIFO or
 * socket, directly or through links)?  1 yes, 0 no or nothing there. */
int cnnrt_path_is_special(const char *path);

#endif
