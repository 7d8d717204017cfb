/*
 * watch_inotify.c - the default watch backend: one inotify watch per folder
 * of each source, added before the folder is scanned so that nothing
 * created in between is missed. A new subfolder (an unpacked download) is
 * watched, then scanned. IN_Q_OVERFLOW means events were lost: rescan.
 * ENOSPC names the sysctl to raise. A source folder that disappears is
 * reported and picked up again when it returns (tick).
 */
#include "watch.h"
#include "log.h"
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_MODIFY | \
                    IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)

static struct watch_dir *dir_by_wd(struct watcher *w, int wd)
{
    for (size_t i = 0; i < w->ndirs; i++)
        if (w->dirs[i].wd == wd)
            return &w->dirs[i];
    return NULL;
}

static void forget(struct watcher *w, struct watch_dir *d)
{
    free(d->path);
    *d = w->dirs[--w->ndirs];
}

static bool excluded(const struct cdr_source *src, const char *path)
{
    return (src->processed_dir && strcmp(path, src->processed_dir) == 0) ||
           (src->failed_dir && strcmp(path, src->failed_dir) == 0);
}

/* Watch dir and, for a recursive source, every folder below it. */
static int add_tree(struct watcher *w, size_t si, const char *dir, int depth)
{
    const struct cdr_source *src = &w->cfg->sources[si];
    if (excluded(src, dir) || depth > 64)
        return 0;
    int wd = inotify_add_watch(w->ifd, dir, DIR_EVENTS);
    if (wd < 0) {
        if (errno == ENOSPC)
            log_error("cannot watch %s: the inotify watch limit is reached; raise "
                      "fs.inotify.max_user_watches (sysctl -w fs.inotify.max_user_watches=524288) "
                      "or set watch.backend: poll", dir);
        else if (errno != ENOENT && errno != ENOTDIR)
            log_error("cannot watch %s: %s", dir, strerror(errno));
        return -1;
    }
    struct watch_dir *d = dir_by_wd(w, wd);
    if (!d) {
        if (w->ndirs == w->capdirs) {
            w->capdirs = w->capdirs ? w->capdirs * 2 : 16;
            w->dirs = xrealloc(w->dirs, w->capdirs * sizeof *w->dirs);
        }
        d = &w->dirs[w->ndirs++];
        d->wd = wd;
        d->si = si;
        d->path = xstrdup(dir);
    }
    if (!src->recursive)
        return 0;
    DIR *dh = opendir(dir);
    if (!dh)
        return 0;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *sub = xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            add_tree(w, si, sub, depth + 1);
        free(sub);
    }
    closedir(dh);
    return 0;
}

/* IN_CREATE comes from open(O_CREAT), a writer whose IN_CLOSE_WRITE will
 * follow, but also from link(), symlink() and mkfifo(), after which no
 * close ever comes: those are there whole and only need to settle, like a
 * file found by a scan (else they would wait as "being written" for ever). */
static bool created_by_writer(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1;
}

static void start(struct watcher *w, size_t si)
{
    const struct cdr_source *src = &w->cfg->sources[si];
    if (w->ifd < 0) {
        w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->ifd < 0) {
            log_error("inotify: %s; use watch.backend: poll", strerror(errno));
            return;
        }
    }
    struct stat st;
    if (stat(src->path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        if (!w->src[si].missing)
            log_warn("source %s: folder %s is missing; watching for it to appear", src->name,
                     src->path);
        w->src[si].missing = true;
        return;
    }
    if (w->src[si].missing)
        log_info("source %s: folder %s is back", src->name, src->path);
    w->src[si].missing = false;
    add_tree(w, si, src->path, 0);
    watch_scan(w, si, src->path, true);
}

static void tick(struct watcher *w, size_t si, double now)
{
    struct watch_source *s = &w->src[si];
    if (!s->missing || now - s->last_check < 1.0)
        return;
    s->last_check = now;
    struct stat st;
    if (stat(w->cfg->sources[si].path, &st) == 0 && S_ISDIR(st.st_mode))
        start(w, si);
}

void watch_inotify_reset(struct watcher *w)
{
    for (size_t i = 0; i < w->ndirs; i++) {
        if (w->ifd >= 0)
            inotify_rm_watch(w->ifd, w->dirs[i].wd);
        free(w->dirs[i].path);
    }
    w->ndirs = 0;
}

static void root_gone(struct watcher *w, size_t si)
{
    const struct cdr_source *src = &w->cfg->sources[si];
    if (!w->src[si].missing)
        log_warn("source %s: folder %s disappeared; watching for it to return", src->name,
                 src->path);
    w->src[si].missing = true;
    /* Its subfolders' watches die with it; drop what is left. */
    size_t k = strlen(src->path);
    for (size_t i = 0; i < w->ndirs;) {
        struct watch_dir *d = &w->dirs[i];
        if (d->si == si && strncmp(d->path, src->path, k) == 0 &&
            (d->path[k] == '/' || d->path[k] == '\0')) {
            inotify_rm_watch(w->ifd, d->wd);
            forget(w, d);
        } else {
            i++;
        }
    }
}

void watch_inotify_dispatch(struct watcher *w)
{
    /* Aligned as inotify(7) asks. */
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(w->ifd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return; /* EAGAIN: drained */
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                log_warn("inotify queue overflowed; rescanning every source");
                for (size_t si = 0; si < w->cfg->nsources; si++)
                    if (!w->src[si].missing)
                        watch_scan(w, si, w->cfg->sources[si].path, true);
                continue;
            }
            struct watch_dir *d = dir_by_wd(w, ev->wd);
            if (!d)
                continue;
            size_t si = d->si;
            const struct cdr_source *src = &w->cfg->sources[si];
            bool is_root = strcmp(d->path, src->path) == 0;
            if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
                if (is_root)
                    root_gone(w, si);
                else if (ev->mask & IN_IGNORED)
                    forget(w, d);
                continue;
            }
            if (!ev->len)
                continue;
            char *path = xasprintf("%s/%s", d->path, ev->name);
            if (ev->mask & IN_ISDIR) {
                if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && src->recursive &&
                    ev->name[0] != '.') {
                    /* Watch first, then scan: files made in between are seen. */
                    add_tree(w, si, path, 1);
                    watch_scan(w, si, path, false);
                }
            } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
                watch_note(w, si, path, WATCH_GONE);
            } else if (source_name_matches(src, ev->name)) {
                if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
                    watch_note(w, si, path, WATCH_CLOSED);
                else if (ev->mask & IN_CREATE)
                    watch_note(w, si, path,
                               created_by_writer(path) ? WATCH_WRITING : WATCH_SEEN);
                else if (ev->mask & IN_MODIFY)
                    watch_note(w, si, path, WATCH_WRITING);
            }
            free(path);
        }
    }
}

const struct watch_ops watch_inotify_ops = {"inotify", start, tick};
