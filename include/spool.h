/*
 * spool.h - the fetch source's spool folder: where an HTTP response is
 * written as it arrives, made durable, and then becomes a file like any
 * dropped one. The PBX clears its records once it has answered, so a
 * response is the only copy of its calls: nothing here ever deletes a byte
 * that was written.
 *
 * A response streams into a hidden temporary file (".Master.XXXXXX.part",
 * which no scan or watch takes), held under flock while it is written;
 * spool_commit fsyncs it, renames it to a visible unique name
 * (Master.<UTC time>.<n>.csv) and fsyncs the folder. A temporary file left
 * by a crash (kill -9, power loss) is promoted the same way at the next
 * start: its bytes exist nowhere else. Low level: fills error buffers,
 * never logs.
 */
#ifndef CDR_SPOOL_H
#define CDR_SPOOL_H

#include "cdrimport.h"

#include <sys/types.h>
#include <time.h>

struct spool_file {
    int fd;             /* -1 when closed */
    char *dir;
    char *tmp_path;     /* the hidden name while it is written */
    uint64_t bytes;     /* written so far */
    int write_errno;    /* the first failed write's errno, 0 if none */
};

/* A new temporary file in dir, locked; false with err. */
bool spool_open(const char *dir, struct spool_file *f, char *err, size_t errlen);
/* Append n bytes; false (and f->write_errno set) when they could not all
 * be written. What was written stays. */
bool spool_write(struct spool_file *f, const void *p, size_t n);
/*
 * Make the file durable and visible: fsync, close, rename to a unique
 * Master.<when as UTC>.<n>.csv in its folder, fsync the folder. *final gets
 * the new path (malloc'd). On failure the file keeps its temporary name
 * (promoted at the next start) and err says why. An empty file is removed
 * instead (*final NULL): it holds nothing to keep.
 */
bool spool_commit(struct spool_file *f, time_t when, char **final, char *err, size_t errlen);

/*
 * Promote the temporary files a crash left in dir (none is locked by a
 * living writer): each non-empty one is renamed as spool_commit does, an
 * empty one removed. Their new paths go to *paths (n of them; free each and
 * the array). Returns false with err when dir cannot be read; a file that
 * cannot be promoted is named in err and the others still are.
 */
bool spool_promote(const char *dir, char ***paths, size_t *n, char *err, size_t errlen);

/* Whether dir is a folder we can write to with at least min_free bytes
 * free (for an unprivileged user); false with why in err. */
bool spool_room(const char *dir, uint64_t min_free, char *err, size_t errlen);

/*
 * One request at a time per PBX, also across processes (a `fetch` from cron
 * beside a running `watch`): an exclusive flock on dir/.fetch.lock. Returns
 * the descriptor, -1 if another process holds it (err empty) or on error
 * (err says why). spool_unlock(-1) does nothing.
 */
int spool_lock(const char *dir, char *err, size_t errlen);
void spool_unlock(int fd);

/* Whether name (no folder) is a spool temporary file. Pure. */
bool spool_is_temp(const char *name);
/* The visible name for when and n: "Master.20261126T064130Z.3.csv". */
void spool_name(char *out, size_t outlen, time_t when, unsigned n);

#endif
