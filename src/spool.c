/*
 * spool.c - temporary file, fsync, rename, promotion of leftovers (see
 * spool.h). Every step that could lose a response's bytes leaves them on
 * disk under some name instead: a failed rename keeps the temporary file
 * for the next start, a failed write keeps what was written.
 */
#include "spool.h"
#include "plat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEMP_PREFIX ".Master."
#define TEMP_SUFFIX ".part"
#define LOCK_NAME ".fetch.lock"
/* Names tried per second before giving up: more responses than this in
 * one second would be a PBX answering faster than any poll interval. */
#define MAX_NAME_TRIES 100000u

bool spool_is_temp(const char *name)
{
    size_t n = strlen(name), p = strlen(TEMP_PREFIX), s = strlen(TEMP_SUFFIX);
    return n > p + s && !strncmp(name, TEMP_PREFIX, p) && !strcmp(name + n - s, TEMP_SUFFIX);
}

void spool_name(char *out, size_t outlen, time_t when, unsigned n)
{
    struct tm tm;
    char stamp[32];
    plat_gmtime(when, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(out, outlen, "Master.%s.%u.csv", stamp, n);
}

bool spool_open(const char *dir, struct spool_file *f, char *err, size_t errlen)
{
    *f = (struct spool_file){.fd = -1};
    char *path = xasprintf("%s/" TEMP_PREFIX "XXXXXX" TEMP_SUFFIX, dir);
    int fd = plat_mkstemps(path, (int)strlen(TEMP_SUFFIX));
    if (fd < 0) {
        cdr_seterr(err, errlen, "cannot create a spool file in %s: %s", dir, strerror(errno));
        free(path);
        return false;
    }
    /* Held until the file is renamed: spool_promote of another process
     * leaves a file alone while its writer lives. */
    if (plat_lock(fd) < 0) {
        cdr_seterr(err, errlen, "cannot lock %s: %s", path, strerror(errno));
        close(fd);
        plat_unlink(path); /* empty: nothing is lost */
        free(path);
        return false;
    }
    f->fd = fd;
    f->dir = xstrdup(dir);
    f->tmp_path = path;
    return true;
}

bool spool_write(struct spool_file *f, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(f->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            f->write_errno = w < 0 ? errno : EIO;
            return false;
        }
        f->bytes += (uint64_t)w;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

static bool fsync_dir(const char *dir, char *err, size_t errlen)
{
    if (plat_fsync_dir(dir) < 0) {
        cdr_seterr(err, errlen, "cannot sync folder %s: %s", dir, strerror(errno));
        return false;
    }
    return true;
}

/* Rename tmp to the first free Master.<when>.<n>.csv in dir, never
 * replacing a file: renameat2's RENAME_NOREPLACE, or link + unlink where
 * the file system lacks it. */
static bool rename_unique(const char *dir, const char *tmp, time_t when, char **final, char *err,
                          size_t errlen)
{
    for (unsigned n = 1; n < MAX_NAME_TRIES; n++) {
        char name[64];
        spool_name(name, sizeof name, when, n);
        char *path = xasprintf("%s/%s", dir, name);
        int rc = plat_rename_noreplace(tmp, path);
        if (rc < 0 && (errno == EINVAL || errno == ENOSYS)) {
            rc = plat_link(tmp, path);
            if (rc == 0)
                plat_unlink(tmp);
        }
        if (rc == 0) {
            *final = path;
            return true;
        }
        int e = errno;
        free(path);
        if (e != EEXIST) {
            cdr_seterr(err, errlen, "cannot rename %s: %s", tmp, strerror(e));
            return false;
        }
    }
    cdr_seterr(err, errlen, "cannot rename %s: no free name", tmp);
    return false;
}

static void spool_close(struct spool_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->dir);
    free(f->tmp_path);
    f->dir = f->tmp_path = NULL;
}

bool spool_commit(struct spool_file *f, time_t when, char **final, char *err, size_t errlen)
{
    bool ok = false;
    *final = NULL;
    if (f->bytes == 0) {
        plat_unlink(f->tmp_path);
        ok = true;
        goto out;
    }
    if (plat_fsync(f->fd) < 0) {
        /* The page cache may still hold the bytes: renaming them into view
         * keeps the best copy there is; the caller reports the error. */
        cdr_seterr(err, errlen, "fsync of %s failed: %s", f->tmp_path, strerror(errno));
        char ignored[CDR_ERRLEN];
        rename_unique(f->dir, f->tmp_path, when, final, ignored, sizeof ignored);
        goto out;
    }
    if (!rename_unique(f->dir, f->tmp_path, when, final, err, errlen))
        goto out;
    ok = fsync_dir(f->dir, err, errlen);
out:
    spool_close(f);
    return ok;
}

bool spool_promote(const char *dir, char ***paths, size_t *n, char *err, size_t errlen)
{
    *paths = NULL;
    *n = 0;
    if (err && errlen)
        err[0] = '\0';
    struct plat_dir *d = plat_opendir(dir);
    if (!d) {
        cdr_seterr(err, errlen, "cannot read spool folder %s: %s", dir, strerror(errno));
        return false;
    }
    size_t cap = 0;
    const char *name;
    bool moved = false;
    while ((name = plat_readdir(d)) != NULL) {
        if (!spool_is_temp(name))
            continue;
        char *tmp = xasprintf("%s/%s", dir, name);
        int fd = plat_open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
            plat_lock(fd) < 0) {
            /* Being written by a living process, or not ours: leave it. */
            if (fd >= 0)
                close(fd);
            free(tmp);
            continue;
        }
        char why[CDR_ERRLEN];
        char *final = NULL;
        if (st.st_size == 0) {
            plat_unlink(tmp);
        } else if (rename_unique(dir, tmp, plat_mtime(&st).tv_sec, &final, why, sizeof why)) {
            if (*n == cap) {
                cap = cap ? 2 * cap : 8;
                *paths = xrealloc(*paths, cap * sizeof **paths);
            }
            (*paths)[(*n)++] = final;
            moved = true;
        } else {
            cdr_seterr(err, errlen, "%s", why);
        }
        close(fd);
        free(tmp);
    }
    plat_closedir(d);
    if (moved) {
        char why[CDR_ERRLEN];
        if (!fsync_dir(dir, why, sizeof why))
            cdr_seterr(err, errlen, "%s", why);
    }
    return true;
}

bool spool_room(const char *dir, uint64_t min_free, char *err, size_t errlen)
{
    struct stat st;
    uint64_t avail;
    bool readonly;
    if (plat_stat(dir, &st) < 0) {
        cdr_seterr(err, errlen, "spool folder %s: %s", dir, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        cdr_seterr(err, errlen, "spool folder %s is not a folder", dir);
        return false;
    }
    if (plat_access(dir, W_OK | X_OK) < 0) {
        cdr_seterr(err, errlen, "spool folder %s is not writable: %s", dir, strerror(errno));
        return false;
    }
    if (plat_free_bytes(dir, &avail, &readonly) < 0) {
        cdr_seterr(err, errlen, "spool folder %s: %s", dir, strerror(errno));
        return false;
    }
    if (readonly) {
        cdr_seterr(err, errlen, "spool folder %s is on a read-only file system", dir);
        return false;
    }
    if (avail < min_free) {
        cdr_seterr(err, errlen, "spool folder %s has %llu bytes free, min_free_bytes is %llu", dir,
               (unsigned long long)avail, (unsigned long long)min_free);
        return false;
    }
    return true;
}

int spool_lock(const char *dir, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    char *path = xasprintf("%s/" LOCK_NAME, dir);
    int fd = plat_open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        cdr_seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    free(path);
    if (plat_lock(fd) < 0) {
        if (errno != EWOULDBLOCK)
            cdr_seterr(err, errlen, "cannot lock %s/" LOCK_NAME ": %s", dir, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void spool_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
