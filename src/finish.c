/*
 * finish.c - moving, deleting or keeping a file once its fate is committed.
 * Moves never overwrite (renameat2 RENAME_NOREPLACE, with a numbered name on
 * collision) and fall back to copy + fsync + unlink across file systems.
 * A file another importer already moved is not an error. A name that was
 * given to a new file after the old one was read (a download renamed over
 * it) keeps the new file: it is checked before and after every step that
 * takes the name away, and a move or delete that caught the new file is
 * undone.
 */
#include "finish.h"
#include "log.h"
#include "plat.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Whether path names the file that was read (no id: assumed). */
static bool same_file(const char *path, const struct finish_id *id)
{
    struct plat_file_id now;
    if (!id)
        return true;
    return plat_path_id(path, false, &now) == 0 && now.dev == id->dev && now.ino == id->ino;
}

static void replaced(const char *path)
{
    log_warn("%s was replaced by a new file while it was imported; the new file stays there "
             "for the next run", path);
}

static int mkdir_p(const char *dir, char *err, size_t errlen)
{
    char *tmp = xstrdup(dir);
    int rc = 0;
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (plat_mkdir(tmp, 0755) < 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create folder %s: %s", tmp, strerror(errno));
                rc = -1;
                break;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    free(tmp);
    return rc;
}

/* Why a move or delete failed. ELOOP: Windows (plat_win.c) refuses to
 * move or delete a link that its own calls would follow to the target;
 * strerror there has no words for it. */
static const char *fail_reason(int e)
{
    return e == ELOOP ? "it is a symbolic link; left where it is" : strerror(e);
}

/* Makes the moves into dir durable. The files are already in their new
 * place, so a failure is a warning: after a crash a file might be back in
 * the inbox (then found a duplicate and moved again), but an EIO here is
 * the first sign of a failing disk and must not go unsaid. */
static void fsync_dir(const char *dir)
{
    if (plat_fsync_dir(dir) < 0)
        log_warn("cannot sync folder %s: %s; the files moved there may be back where they were "
                 "after a crash", dir, strerror(errno));
}

/* ---- folders to sync --------------------------------------------------- */

/* An fsync of a folder commits the file system's journal (ext4): after
 * each of 1000 small files' moves it cost 1.3 ms a file, a third of their
 * import (scan --jobs 1: 5.3 s against 4.0 s). A rename lost in a crash
 * loses nothing (the file is back in the inbox, found already imported and
 * moved again), so the folders a run moves files into are synced together:
 * at most FINISH_SYNC_S after the first move not yet synced, and when the
 * caller flushes (the run's end, a watcher with nothing ready). */
#define FINISH_SYNC_S 1.0

struct finish_sync {
    char **dirs;
    size_t n, cap;
    double since; /* cdr_monotonic() of the first move not yet synced */
};

struct finish_sync *finish_sync_create(void)
{
    return xcalloc(1, sizeof(struct finish_sync));
}

void finish_sync_flush(struct finish_sync *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        fsync_dir(s->dirs[i]);
        free(s->dirs[i]);
    }
    s->n = 0;
}

void finish_sync_destroy(struct finish_sync *s)
{
    if (!s)
        return;
    finish_sync_flush(s);
    free(s->dirs);
    free(s);
}

/* A move into dir to make durable: now without s, else with s's others
 * once the oldest has waited FINISH_SYNC_S. */
static void sync_later(struct finish_sync *s, const char *dir)
{
    if (!s) {
        fsync_dir(dir);
        return;
    }
    double now = cdr_monotonic();
    size_t i = 0;
    while (i < s->n && strcmp(s->dirs[i], dir) != 0)
        i++;
    if (i == s->n) {
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 4;
            s->dirs = xrealloc(s->dirs, s->cap * sizeof *s->dirs);
        }
        s->dirs[s->n++] = xstrdup(dir);
        if (s->n == 1)
            s->since = now;
    }
    if (now - s->since >= FINISH_SYNC_S)
        finish_sync_flush(s);
}

/* Copy src to dst (which must not exist), fsync'd. 3: src is not the file
 * id names (nothing copied). */
static int copy_file(const char *src, const char *dst, const struct finish_id *id, char *err,
                     size_t errlen)
{
    int in = plat_open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
    if (in < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "cannot open %s: %s", src, strerror(errno));
        return -1;
    }
    struct stat st;
    struct plat_file_id now;
    if (id && (fstat(in, &st) < 0 || plat_fd_id(in, &st, &now) < 0 || now.dev != id->dev ||
               now.ino != id->ino)) {
        close(in);
        return 3;
    }
    int out = plat_open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        int e = errno;
        close(in);
        errno = e;
        return -2; /* caller looks at errno (EEXIST: try another name) */
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                snprintf(err, errlen, "cannot write %s: %s", dst, strerror(errno));
                rc = -1;
                goto out;
            }
            off += w;
        }
    }
    if (n < 0 || plat_fsync(out) < 0) {
        snprintf(err, errlen, "cannot copy %s: %s", src, strerror(errno));
        rc = -1;
    }
out:
    close(in);
    if (close(out) < 0 && rc == 0) {
        snprintf(err, errlen, "cannot write %s: %s", dst, strerror(errno));
        rc = -1;
    }
    if (rc < 0)
        plat_unlink(dst);
    return rc;
}

/* Destination folder: dest_root plus the file's folder relative to root. */
static char *dest_dir(const char *dest_root, const char *root, const char *path)
{
    char *copy = xstrdup(path);
    char *dir = dirname(copy);
    size_t k = strlen(root);
    char *out;
    if (strncmp(dir, root, k) == 0 && dir[k] == '/')
        out = xasprintf("%s%s", dest_root, dir + k);
    else
        out = xstrdup(dest_root);
    free(copy);
    return out;
}

/* Move path into dir under "<stem>.<UTC time>.<sha12><ext>[-N]". */
static int move_unique(const char *path, const char *dir, const char *sha256,
                       const struct finish_id *id, struct finish_sync *sync, char **dest,
                       char *err, size_t errlen)
{
    if (!same_file(path, id)) {
        if (plat_access(path, F_OK) == 0)
            replaced(path);
        return 1;
    }
    if (mkdir_p(dir, err, errlen) < 0)
        return -1;
    char *copy = xstrdup(path);
    const char *base = basename(copy);
    const char *dot = strrchr(base, '.');
    /* A compressed file keeps its two-part extension: Master.tar.gz and
     * Master.csv.gz become Master.<time>.<sha>.tar.gz, not ....tar.<time>... */
    if (dot && dot != base && (!strcasecmp(dot, ".gz") || !strcasecmp(dot, ".bz2") ||
                               !strcasecmp(dot, ".xz"))) {
        const char *prev = dot - 1;
        while (prev > base && *prev != '.')
            prev--;
        if (prev > base && dot - prev <= 4)
            dot = prev;
    }
    size_t stem = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    const char *ext = dot && dot != base ? dot : "";
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    plat_gmtime(t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    char sha[13];
    snprintf(sha, sizeof sha, "%.12s", sha256 && *sha256 ? sha256 : "nochecksum");

    int rc = -1;
    bool synced = false; /* the copy path syncs dir itself */
    for (int n = 1; n < 1000; n++) {
        char *target = n == 1
            ? xasprintf("%s/%.*s.%s.%s%s", dir, (int)stem, base, stamp, sha, ext)
            : xasprintf("%s/%.*s.%s.%s-%d%s", dir, (int)stem, base, stamp, sha, n, ext);
        if (plat_rename_noreplace(path, target) == 0) {
            if (!same_file(target, id)) {
                /* A new file took the name just before the rename: put it
                 * back, unread as it is. */
                if (plat_rename_noreplace(target, path) == 0) {
                    replaced(path);
                    rc = 1;
                } else {
                    snprintf(err, errlen, "a new file replaced %s while it was imported and was "
                             "moved to %s unread (%s); move it back to import it", path, target,
                             strerror(errno));
                }
                free(target);
                break;
            }
            *dest = target;
            rc = 0;
            break;
        }
        int e = errno;
        if (e == EEXIST) {
            free(target);
            continue;
        }
        if (e == ENOENT && plat_access(path, F_OK) < 0) {
            free(target);
            rc = 1;
            break;
        }
        if (e == EXDEV || e == EINVAL) {
            /* Another file system (or no RENAME_NOREPLACE there). */
            int c = copy_file(path, target, id, err, errlen);
            if (c == -2 && errno == EEXIST) {
                free(target);
                continue;
            }
            if (c == 3) {
                replaced(path);
                free(target);
                rc = 1;
                break;
            }
            if (c == 0 && !same_file(path, id)) {
                /* The copy is of the file that was read; the name is the
                 * new file's now and stays. */
                replaced(path);
                *dest = target;
                rc = 0;
                break;
            }
            /* The copy's name durable before the original goes: a
             * rename lost in a crash leaves the file where it was, an
             * unlink kept without it would leave it nowhere. */
            if (c == 0) {
                fsync_dir(dir);
                synced = true;
            }
            if (c == 0 && plat_unlink(path) < 0 && errno != ENOENT) {
                snprintf(err, errlen, "copied to %s but cannot remove %s: %s", target, path,
                         strerror(errno));
                free(target);
                rc = -1;
                break;
            }
            if (c == 0) {
                *dest = target;
                rc = 0;
            } else {
                if (c == -2)
                    snprintf(err, errlen, "cannot create %s: %s", target, strerror(errno));
                free(target);
                rc = c == 1 ? 1 : -1;
            }
            break;
        }
        snprintf(err, errlen, "cannot move %s to %s: %s", path, target, fail_reason(e));
        free(target);
        break;
    }
    if (rc == 0 && !synced)
        sync_later(sync, dir);
    free(copy);
    return rc;
}

/* What a delete renames a file to before it unlinks it: ".<name>" DELETE_MARK
 * "<pid>-<unix time>" (finish_restore_leftover reads it back; names made
 * before the time was added end at the pid). */
#define DELETE_MARK ".cdrimport-delete-"
/* A leftover younger than this may be a delete in flight, here or on
 * another host sharing the folder: its rename and unlink are milliseconds
 * apart. */
#define LEFTOVER_SETTLE_S 5
/* Older than this, a leftover is named back whatever its pid says: the pid
 * may have been reused, be this very process's after a restart in a
 * container (pid 1 every time), or be another host's, which cannot be
 * checked from here. A delete stalled that long loses nothing when its
 * file is named back: its unlink fails, and the file is read again and
 * found already imported. */
#define LEFTOVER_ABANDONED_S (15 * 60)

/* Delete path if it is still the file that was read: renamed first to a
 * hidden name beside it (no scan takes it), checked there, then unlinked;
 * a new file caught by the rename goes back to its name. */
static int delete_checked(const char *path, const struct finish_id *id, char *err,
                          size_t errlen)
{
    if (!same_file(path, id)) {
        if (plat_access(path, F_OK) < 0)
            return 1;
        replaced(path);
        return 1;
    }
    char *copy = xstrdup(path);
    char *slash = strrchr(copy, '/');
    const char *base = slash ? slash + 1 : copy;
    if (slash)
        *slash = '\0';
    char *hidden = xasprintf("%s/.%s" DELETE_MARK "%ld-%lld", slash ? copy : ".", base,
                             (long)getpid(), (long long)time(NULL));
    free(copy);
    int rc = 0;
    int moved = id ? plat_rename_noreplace(path, hidden) : -1;
    if (moved < 0 && id && errno != EINVAL && errno != ENOSYS) {
        if (errno == ENOENT) {
            rc = 1;
        } else {
            snprintf(err, errlen, "cannot delete %s: %s", path, strerror(errno));
            rc = -1;
        }
    } else if (moved < 0) {
        /* No id to check, or no RENAME_NOREPLACE here: by name, as checked. */
        if (plat_unlink(path) < 0) {
            rc = errno == ENOENT ? 1 : -1;
            if (rc < 0)
                snprintf(err, errlen, "cannot delete %s: %s", path, fail_reason(errno));
        }
    } else if (!same_file(hidden, id)) {
        if (plat_rename_noreplace(hidden, path) == 0) {
            replaced(path);
            rc = 1;
        } else {
            snprintf(err, errlen, "a new file replaced %s while it was imported and is now %s "
                     "(%s); rename it back to import it", path, hidden, strerror(errno));
            rc = -1;
        }
    } else if (plat_unlink(hidden) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot delete %s: %s", path, strerror(e));
        if (plat_rename_noreplace(hidden, path) < 0)
            snprintf(err, errlen, "cannot delete %s (now %s): %s", path, hidden,
                     strerror(errno));
        rc = -1;
    }
    free(hidden);
    return rc;
}

/* A leftover's name taken apart. */
struct leftover {
    size_t name_len; /* of <name>, after the leading '.' */
    long pid;
    long long t;     /* when it was made; LLONG_MIN: not said (an older name) */
};

/* n decimal digits (1 to 18) at s, as a value from 1 to max. */
static bool positive(const char *s, size_t n, long long max, long long *out)
{
    if (n == 0 || n > 18 || strspn(s, "0123456789") < n)
        return false;
    long long v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    *out = v;
    return v >= 1 && v <= max;
}

static bool parse_leftover(const char *name, struct leftover *l)
{
    const char *mark = NULL; /* the last one: <name> may hold the mark too */
    for (const char *p = name; (p = strstr(p, DELETE_MARK)) != NULL; p++)
        mark = p;
    if (name[0] != '.' || !mark || mark <= name + 1)
        return false;
    l->name_len = (size_t)(mark - name - 1);
    if (strspn(name + 1, ".") >= l->name_len) /* "." or "..": not a file's name */
        return false;
    const char *num = mark + strlen(DELETE_MARK), *dash = strchr(num, '-');
    long long pid;
    if (!positive(num, dash ? (size_t)(dash - num) : strlen(num), INT32_MAX, &pid))
        return false;
    l->pid = (long)pid;
    l->t = LLONG_MIN;
    return !dash || positive(dash + 1, strlen(dash + 1), LLONG_MAX, &l->t);
}

bool finish_is_leftover(const char *name)
{
    struct leftover l;
    return parse_leftover(name, &l);
}

/* Whether a leftover is named back at now: not while its delete may be in
 * flight; then once its process is gone from this machine, or at the
 * latest when it is LEFTOVER_ABANDONED_S old. A name without its time was
 * made by an earlier version, which no longer runs here. */
static bool leftover_due(const struct leftover *l, long long now)
{
    long long age = l->t == LLONG_MIN ? LEFTOVER_ABANDONED_S : now - l->t;
    if (age >= LEFTOVER_ABANDONED_S || age <= -LEFTOVER_ABANDONED_S)
        return true; /* abandoned, or stamped by a clock far off */
    if (age < LEFTOVER_SETTLE_S)
        return false;
    /* This process's own deletes (its --jobs threads') never leave a name
     * behind while it runs; the same pid is an earlier process's only
     * after a restart, which the age above settles. */
    return l->pid != (long)getpid() && plat_process_gone(l->pid);
}

char *finish_restore_leftover(const char *dir, const char *name, long long now)
{
    struct leftover l;
    if (!parse_leftover(name, &l) || !leftover_due(&l, now))
        return NULL;
    char *hidden = xasprintf("%s/%s", dir, name);
    struct stat st;
    if (plat_lstat(hidden, &st) < 0 || S_ISDIR(st.st_mode)) { /* a delete makes no folder */
        free(hidden);
        return NULL;
    }
    char *back = xasprintf("%s/%.*s", dir, (int)l.name_len, name + 1);
    int rc = plat_rename_noreplace(hidden, back);
    if (rc < 0 && (errno == EINVAL || errno == ENOSYS)) {
        /* No atomic rename here: a hard link refuses a name that exists
         * just as atomically (a check, then a rename, would not). */
        rc = plat_link(hidden, back);
        if (rc == 0 && plat_unlink(hidden) < 0 && errno != ENOENT)
            log_warn("%s: named back as %s, but cannot be removed: %s", hidden, back,
                     strerror(errno));
    }
    if (rc < 0) {
        if (errno == EEXIST)
            log_warn("%s: left by an importer (process %ld) stopped while deleting %s, "
                     "which exists again: rename it to import it, or delete it",
                     hidden, l.pid, back);
        else if (errno != ENOENT) /* another importer restored it first */
            log_warn("%s: left by an importer (process %ld) stopped while deleting %s; "
                     "cannot rename it back: %s", hidden, l.pid, back, strerror(errno));
        free(hidden);
        free(back);
        return NULL;
    }
    log_warn("%s: left by an importer (process %ld) stopped while deleting it; named back: "
             "read again, it is deleted if already imported", back, l.pid);
    free(hidden);
    return back;
}

int finish_success_id(const struct cdr_source *src, const char *root, const char *path,
                      const char *sha256, const struct finish_id *id,
                      struct finish_sync *sync, char **dest, char *err, size_t errlen)
{
    *dest = NULL;
    switch (src->on_success) {
    case CDR_ON_SUCCESS_KEEP:
        return 0;
    case CDR_ON_SUCCESS_DELETE:
        return delete_checked(path, id, err, errlen);
    case CDR_ON_SUCCESS_MOVE:
    default: {
        char *dir = dest_dir(src->processed_dir, root, path);
        int rc = move_unique(path, dir, sha256, id, sync, dest, err, errlen);
        free(dir);
        return rc;
    }
    }
}

int finish_success(const struct cdr_source *src, const char *root, const char *path,
                   const char *sha256, char **dest, char *err, size_t errlen)
{
    return finish_success_id(src, root, path, sha256, NULL, NULL, dest, err, errlen);
}

int finish_failed(const struct cdr_source *src, const char *root, const char *path,
                  const char *sha256, const char *reason, char **dest, char *err,
                  size_t errlen)
{
    return finish_failed_notes(src, root, path, sha256, reason, NULL, NULL, dest, err, errlen);
}

int finish_failed_notes(const struct cdr_source *src, const char *root, const char *path,
                        const char *sha256, const char *reason, const char *notes,
                        const struct finish_id *id, char **dest, char *err, size_t errlen)
{
    *dest = NULL;
    char *dir = dest_dir(src->failed_dir, root, path);
    int rc = move_unique(path, dir, sha256, id, NULL, dest, err, errlen);
    free(dir);
    if (rc != 0)
        return rc;
    char *note = xasprintf("%s.error", *dest);
    FILE *f = plat_fopen(note, "we");
    if (f) {
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;
        plat_gmtime(t, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
        /* One line per field, whatever the file's name or the reason hold. */
        char *safe_path = cdr_escape(path, strlen(path));
        char *safe_reason = cdr_escape(reason, strlen(reason));
        fprintf(f, "file: %s\nsource: %s\nsha256: %s\nfailed at: %s\nreason: %s\n",
                safe_path, src->name, sha256 && *sha256 ? sha256 : "-", stamp, safe_reason);
        free(safe_path);
        free(safe_reason);
        if (notes)
            fputs(notes, f);
        fprintf(f, "rejected lines, if any, are in table cdr_reject (join cdr_file on sha256)\n");
        if (fclose(f) != 0) {
            snprintf(err, errlen, "cannot write %s: %s", note, strerror(errno));
            rc = -1;
        }
    } else {
        snprintf(err, errlen, "cannot write %s: %s", note, strerror(errno));
        rc = -1;
    }
    free(note);
    return rc;
}
