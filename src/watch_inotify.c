/*
 * watch_inotify.c - the default watch backend: one inotify watch per folder
 * of each source, added before the folder is scanned so that nothing
 * created in between is missed. A new subfolder (an unpacked download) is
 * watched, then scanned. IN_Q_OVERFLOW means events were lost: rescan.
 * ENOSPC (the per-user watch limit) names the sysctl to raise, and the
 * folder that could not be watched is polled instead (scanned every
 * poll_interval_ms, its watch tried again each time) so that files put
 * there are still imported. A source folder that disappears is
 * reported and looked for again every second until it returns.
 * State is private; the core sees only watch_backend.h.
 */
#include "watch_backend.h"
#include "log.h"
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_MODIFY | \
                    IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)

/* How often a missing source folder is looked for. */
#define MISSING_CHECK_S 1.0
/* Folders deeper than this below a source are not watched (as source.c
 * does not walk them): a guard against runaway trees. */
#define MAX_DEPTH 64

struct isource {
    size_t si;
    const struct cdr_source *src;
    bool missing;       /* the folder is not there (reported once) */
    double last_check;  /* when it was last looked for */
};

struct idir {           /* one watched folder */
    int wd;
    size_t k;           /* its source: srcs[k] */
    char *path;
};

struct polled {         /* a folder inotify could not watch (ENOSPC) */
    size_t k;           /* its source: srcs[k] */
    char *path;
    int depth;          /* below the source folder, for add_tree */
    double last_poll;
};

struct inotify_backend {
    struct watch_backend base; /* first: the core holds a pointer to it */
    struct polled *polled;
    size_t npolled, cappolled;
    struct watch_sink sink;
    int ifd;                   /* -1 until the first source is added */
    struct isource *srcs;
    size_t nsrcs, capsrcs;
    struct idir *dirs;
    size_t ndirs, capdirs;
};

static struct inotify_backend *self(struct watch_backend *b)
{
    return (struct inotify_backend *)b;
}

static const struct inotify_backend *cself(const struct watch_backend *b)
{
    return (const struct inotify_backend *)b;
}

static struct idir *dir_by_wd(struct inotify_backend *ib, int wd)
{
    for (size_t i = 0; i < ib->ndirs; i++)
        if (ib->dirs[i].wd == wd)
            return &ib->dirs[i];
    return NULL;
}

static void forget(struct inotify_backend *ib, struct idir *d)
{
    free(d->path);
    *d = ib->dirs[--ib->ndirs];
}

static struct polled *polled_by_path(struct inotify_backend *ib, const char *path)
{
    for (size_t i = 0; i < ib->npolled; i++)
        if (strcmp(ib->polled[i].path, path) == 0)
            return &ib->polled[i];
    return NULL;
}

static void unpoll(struct inotify_backend *ib, struct polled *p)
{
    free(p->path);
    *p = ib->polled[--ib->npolled];
}

/* dir cannot be watched for want of watches: poll it from now on (the
 * scan of a recursive source's folder takes in the folders below it). */
static void poll_instead(struct inotify_backend *ib, size_t k, const char *dir, int depth)
{
    if (polled_by_path(ib, dir))
        return;
    log_error("cannot watch %s: the inotify watch limit is reached; raise "
              "fs.inotify.max_user_watches (sysctl -w fs.inotify.max_user_watches=524288) "
              "or set watch.backend: poll; polling that folder every %u ms meanwhile", dir,
              ib->srcs[k].src->watch.poll_interval_ms);
    if (ib->npolled == ib->cappolled) {
        ib->cappolled = ib->cappolled ? ib->cappolled * 2 : 4;
        ib->polled = xrealloc(ib->polled, ib->cappolled * sizeof *ib->polled);
    }
    ib->polled[ib->npolled++] = (struct polled){.k = k, .path = xstrdup(dir), .depth = depth,
                                                .last_poll = cdr_monotonic()};
}

/* Watch dir (name: its last component, NULL for the source folder) and,
 * for a recursive source, every folder below it. */
static void add_tree(struct inotify_backend *ib, size_t k, const char *dir, const char *name,
                     int depth)
{
    const struct cdr_source *src = ib->srcs[k].src;
    if (source_dir_excluded(src, dir, name) || depth > MAX_DEPTH)
        return;
    int wd = inotify_add_watch(ib->ifd, dir, DIR_EVENTS);
    if (wd < 0) {
        if (errno == ENOSPC)
            poll_instead(ib, k, dir, depth);
        else if (errno != ENOENT && errno != ENOTDIR)
            log_error("cannot watch %s: %s", dir, strerror(errno));
        return;
    }
    if (!dir_by_wd(ib, wd)) {
        if (ib->ndirs == ib->capdirs) {
            ib->capdirs = ib->capdirs ? ib->capdirs * 2 : 16;
            ib->dirs = xrealloc(ib->dirs, ib->capdirs * sizeof *ib->dirs);
        }
        ib->dirs[ib->ndirs++] = (struct idir){.wd = wd, .k = k, .path = xstrdup(dir)};
    }
    if (!src->recursive)
        return;
    DIR *dh = opendir(dir);
    if (!dh)
        return;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *sub = xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            add_tree(ib, k, sub, e->d_name, depth + 1);
        free(sub);
    }
    closedir(dh);
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

/* Watch srcs[k]'s folder and scan it, or report it missing. */
static void start(struct inotify_backend *ib, size_t k)
{
    struct isource *s = &ib->srcs[k];
    if (ib->ifd < 0) {
        ib->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (ib->ifd < 0) {
            log_error("inotify: %s; use watch.backend: poll", strerror(errno));
            return;
        }
    }
    struct stat st;
    if (stat(s->src->path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        if (!s->missing)
            log_warn("source %s: folder %s is missing; watching for it to appear", s->src->name,
                     s->src->path);
        s->missing = true;
        return;
    }
    if (s->missing)
        log_info("source %s: folder %s is back", s->src->name, s->src->path);
    s->missing = false;
    add_tree(ib, k, s->src->path, NULL, 0);
    ib->sink.scan(ib->sink.ctx, s->si, s->src->path, true);
}

static void add(struct watch_backend *b, size_t si, const struct cdr_source *src)
{
    struct inotify_backend *ib = self(b);
    if (ib->nsrcs == ib->capsrcs) {
        ib->capsrcs = ib->capsrcs ? ib->capsrcs * 2 : 4;
        ib->srcs = xrealloc(ib->srcs, ib->capsrcs * sizeof *ib->srcs);
    }
    ib->srcs[ib->nsrcs] = (struct isource){.si = si, .src = src};
    start(ib, ib->nsrcs++);
}

static int fd(const struct watch_backend *b)
{
    return cself(b)->ifd;
}

static double poll_due(const struct inotify_backend *ib, const struct polled *p)
{
    return p->last_poll + ib->srcs[p->k].src->watch.poll_interval_ms / 1000.0;
}

static double deadline(const struct watch_backend *b)
{
    const struct inotify_backend *ib = cself(b);
    double next = INFINITY;
    for (size_t i = 0; i < ib->npolled; i++)
        if (poll_due(ib, &ib->polled[i]) < next)
            next = poll_due(ib, &ib->polled[i]);
    for (size_t k = 0; k < ib->nsrcs; k++) {
        double at = ib->srcs[k].last_check + MISSING_CHECK_S;
        if (ib->srcs[k].missing && at < next)
            next = at;
    }
    return next;
}

static void root_gone(struct inotify_backend *ib, size_t k)
{
    struct isource *s = &ib->srcs[k];
    if (!s->missing)
        log_warn("source %s: folder %s disappeared; watching for it to return", s->src->name,
                 s->src->path);
    s->missing = true;
    /* Its subfolders' watches die with it; drop what is left. */
    size_t len = strlen(s->src->path);
    for (size_t i = 0; i < ib->npolled;) {
        if (ib->polled[i].k == k)
            unpoll(ib, &ib->polled[i]);
        else
            i++;
    }
    for (size_t i = 0; i < ib->ndirs;) {
        struct idir *d = &ib->dirs[i];
        if (d->k == k && strncmp(d->path, s->src->path, len) == 0 &&
            (d->path[len] == '/' || d->path[len] == '\0')) {
            inotify_rm_watch(ib->ifd, d->wd);
            forget(ib, d);
        } else {
            i++;
        }
    }
}

static void rescan(struct watch_backend *b)
{
    struct inotify_backend *ib = self(b);
    for (size_t k = 0; k < ib->nsrcs; k++)
        if (!ib->srcs[k].missing)
            ib->sink.scan(ib->sink.ctx, ib->srcs[k].si, ib->srcs[k].src->path, true);
}

/* One event on a watched folder d. */
static void dispatch(struct inotify_backend *ib, struct idir *d, const struct inotify_event *ev)
{
    size_t k = d->k;
    const struct isource *s = &ib->srcs[k];
    const struct watch_sink *sink = &ib->sink;
    if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
        if (strcmp(d->path, s->src->path) == 0)
            root_gone(ib, k);
        else if (ev->mask & IN_IGNORED)
            forget(ib, d);
        return;
    }
    if (!ev->len)
        return;
    char *path = xasprintf("%s/%s", d->path, ev->name);
    if (ev->mask & IN_ISDIR) {
        if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && s->src->recursive &&
            !source_dir_excluded(s->src, path, ev->name)) {
            /* Watch first, then scan: files made in between are seen. */
            add_tree(ib, k, path, ev->name, 1);
            sink->scan(sink->ctx, s->si, path, false);
        }
    } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
        sink->note(sink->ctx, s->si, path, PENDING_GONE);
    } else if (!source_name_matches(s->src, ev->name)) {
        /* Said once per file, when it is complete (or made whole). */
        if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
            log_debug("ignored %s: not a candidate name (hidden, temporary or no pattern "
                      "matches)", path);
    } else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
        sink->note(sink->ctx, s->si, path, PENDING_CLOSED);
    } else if (ev->mask & IN_CREATE) {
        sink->note(sink->ctx, s->si, path,
                   created_by_writer(path) ? PENDING_WRITING : PENDING_SEEN);
    } else if (ev->mask & IN_MODIFY) {
        sink->note(sink->ctx, s->si, path, PENDING_WRITING);
    }
    free(path);
}

static void read_events(struct inotify_backend *ib)
{
    /* Aligned as inotify(7) asks. */
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(ib->ifd, buf, sizeof buf);
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
                rescan(&ib->base);
                continue;
            }
            struct idir *d = dir_by_wd(ib, ev->wd);
            if (d)
                dispatch(ib, d, ev);
        }
    }
}

/* The folders that could not be watched: try the watch again (watches
 * may have been freed), else scan the folder as the poll backend would. */
static void poll_unwatched(struct inotify_backend *ib, double now)
{
    for (size_t i = 0; i < ib->npolled;) {
        struct polled *p = &ib->polled[i];
        if (now < poll_due(ib, p) || ib->srcs[p->k].missing) {
            i++;
            continue;
        }
        p->last_poll = now;
        struct stat st;
        if (lstat(p->path, &st) < 0 || !S_ISDIR(st.st_mode)) {
            unpoll(ib, p); /* gone: its parent's events or the rescan tell the rest */
            continue;
        }
        size_t k = p->k, si = ib->srcs[k].si;
        char *path = xstrdup(p->path);
        int wd = inotify_add_watch(ib->ifd, path, DIR_EVENTS);
        if (wd >= 0) {
            inotify_rm_watch(ib->ifd, wd); /* add_tree adds it again, with the folders below */
            log_info("watching %s again (inotify has room)", path);
            int depth = p->depth;
            unpoll(ib, p);
            char *copy = xstrdup(path);
            const char *slash = strrchr(copy, '/');
            add_tree(ib, k, path, depth && slash ? slash + 1 : NULL, depth);
            free(copy);
        } else {
            i++;
        }
        ib->sink.scan(ib->sink.ctx, si, path, false);
        free(path);
    }
}

static void run(struct watch_backend *b, double now)
{
    struct inotify_backend *ib = self(b);
    if (ib->ifd >= 0)
        read_events(ib);
    poll_unwatched(ib, now);
    for (size_t k = 0; k < ib->nsrcs; k++) {
        struct isource *s = &ib->srcs[k];
        if (!s->missing || now - s->last_check < MISSING_CHECK_S)
            continue;
        s->last_check = now;
        struct stat st;
        if (stat(s->src->path, &st) == 0 && S_ISDIR(st.st_mode))
            start(ib, k);
    }
}

static void reset(struct watch_backend *b)
{
    struct inotify_backend *ib = self(b);
    for (size_t i = 0; i < ib->ndirs; i++) {
        inotify_rm_watch(ib->ifd, ib->dirs[i].wd);
        free(ib->dirs[i].path);
    }
    ib->ndirs = 0;
    ib->nsrcs = 0;
    while (ib->npolled)
        unpoll(ib, &ib->polled[0]);
}

static void destroy(struct watch_backend *b)
{
    struct inotify_backend *ib = self(b);
    reset(b);
    if (ib->ifd >= 0)
        close(ib->ifd);
    free(ib->dirs);
    free(ib->polled);
    free(ib->srcs);
    free(ib);
}

static const struct watch_backend_ops inotify_ops = {
    .name = "inotify", .sees_writers = true, .add = add, .fd = fd, .deadline = deadline,
    .run = run, .rescan = rescan, .reset = reset, .destroy = destroy,
};

struct watch_backend *watch_inotify_create(const struct watch_sink *sink)
{
    struct inotify_backend *ib = xcalloc(1, sizeof *ib);
    ib->base.ops = &inotify_ops;
    ib->sink = *sink;
    ib->ifd = -1;
    return &ib->base;
}
