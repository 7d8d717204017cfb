/*
 * watch_rdcw_win.c - the Windows watch backend: ReadDirectoryChangesW on
 * each source folder (bWatchSubtree for recursive sources), overlapped, its
 * completion looked at by the daemon's loop every CHECK_S. What a source
 * with `backend: inotify` gets on Windows. See watch_backend.h.
 *
 * Windows says a file was added, changed, renamed or removed, but not that
 * its writer closed it: a file an event names is noted as seen and looked
 * at again every poll_interval_ms while it is "hot", so the core's rule
 * for writers it cannot see (settled, then one more unchanged look) makes
 * it complete. Each look also asks Windows whether a writer still has the
 * file open (an open that denies writing fails with a sharing violation):
 * then it is being written, however long the writer pauses. A buffer overflow (ERROR_NOTIFY_ENUM_DIR, or a completion
 * with no bytes) rescans the source; a new folder is scanned (its files may
 * predate its watch); a folder on a network share, where notifications are
 * unreliable, is handed to the poll backend with a log line saying so.
 */
#include "watch_backend.h"
#include "log.h"
#include "plat.h"
#include "plat_win.h"
#include "source.h"

#include <windows.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BUF_BYTES (64 * 1024) /* the most a network redirector accepts */
#define CHECK_S 0.1           /* how often completions are looked at */
#define FILTER (FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_DIR_NAME | \
                FILE_NOTIFY_CHANGE_SIZE | FILE_NOTIFY_CHANGE_LAST_WRITE)

struct rsource {
    size_t si;
    const struct cdr_source *src;
    HANDLE dir;      /* NULL: not watched (missing, or handed to polling) */
    OVERLAPPED ov;
    DWORD *buf;      /* BUF_BYTES, DWORD-aligned as the call wants */
    bool polled;     /* on a network share: the poll backend has it */
    bool missing;    /* reported once */
    double last_try; /* a missing folder is looked for every poll interval */
};

/* A file an event named, looked at until it has had time to settle; or a
 * new folder, scanned again the same way (its files may have come before
 * the events that would name them, and then only a look finds them). */
struct hot {
    size_t k;
    char *path;
    double last_event, last_look;
    bool dir;
    bool writing; /* a writer had it open at the last look */
};

struct rdcw_backend {
    struct watch_backend base; /* first: the core holds a pointer to it */
    struct watch_sink sink;
    struct rsource *srcs;
    size_t n, cap;
    struct hot *hot;
    size_t nhot, caphot;
    struct watch_backend *poll; /* for network shares, made when needed */
    double last_run;
};

static struct rdcw_backend *self(struct watch_backend *b)
{
    return (struct rdcw_backend *)b;
}

static double interval(const struct rsource *s)
{
    return s->src->watch.poll_interval_ms / 1000.0;
}

static bool arm(struct rsource *s)
{
    memset(&s->ov, 0, sizeof s->ov);
    return ReadDirectoryChangesW(s->dir, s->buf, BUF_BYTES, s->src->recursive, FILTER, NULL,
                                 &s->ov, NULL);
}

static void stop(struct rsource *s)
{
    if (!s->dir)
        return;
    /* The buffer belongs to the kernel until the cancelled call is done. */
    DWORD n;
    if (CancelIoEx(s->dir, &s->ov) || GetLastError() != ERROR_NOT_FOUND)
        GetOverlappedResult(s->dir, &s->ov, &n, TRUE);
    CloseHandle(s->dir);
    s->dir = NULL;
}

/* A share's path, or a drive Windows says is remote. */
static bool on_network(const char *path)
{
    if ((path[0] == '/' || path[0] == '\\') && (path[1] == '/' || path[1] == '\\'))
        return true;
    if (!path[0] || path[1] != ':')
        return false;
    wchar_t root[4] = {(wchar_t)path[0], L':', L'\\', 0};
    return GetDriveTypeW(root) == DRIVE_REMOTE;
}

static void hot_note(struct rdcw_backend *rb, size_t k, const char *path, bool dir, double now);

/* A scan of source k's folder: the files it finds need their second look
 * too, so the folder stays hot (scanned at each look) for a while. */
static void scan_source(struct rdcw_backend *rb, size_t k)
{
    struct rsource *s = &rb->srcs[k];
    rb->sink.scan(rb->sink.ctx, s->si, s->src->path, true);
    hot_note(rb, k, s->src->path, true, cdr_monotonic());
}

/* Watch s's folder, then scan it (after arming: nothing falls between). */
static bool start(struct rdcw_backend *rb, struct rsource *s)
{
    wchar_t *w = plat_win_path(s->src->path);
    if (!w)
        return false;
    HANDLE h = CreateFileW(w, FILE_LIST_DIRECTORY,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return false;
    s->dir = h;
    if (!arm(s)) {
        stop(s);
        return false;
    }
    scan_source(rb, (size_t)(s - rb->srcs));
    return true;
}

static void hot_note(struct rdcw_backend *rb, size_t k, const char *path, bool dir, double now)
{
    for (size_t i = 0; i < rb->nhot; i++)
        if (rb->hot[i].k == k && !strcmp(rb->hot[i].path, path)) {
            rb->hot[i].last_event = rb->hot[i].last_look = now;
            return;
        }
    if (rb->nhot == rb->caphot) {
        rb->caphot = rb->caphot ? 2 * rb->caphot : 16;
        rb->hot = xrealloc(rb->hot, rb->caphot * sizeof *rb->hot);
    }
    rb->hot[rb->nhot++] = (struct hot){.k = k, .path = xstrdup(path), .last_event = now,
                                       .last_look = now, .dir = dir};
}

static void hot_drop(struct rdcw_backend *rb, size_t i)
{
    free(rb->hot[i].path);
    rb->hot[i] = rb->hot[--rb->nhot];
}

static void hot_forget(struct rdcw_backend *rb, size_t k, const char *path)
{
    for (size_t i = 0; i < rb->nhot; i++)
        if (rb->hot[i].k == k && !strcmp(rb->hot[i].path, path)) {
            hot_drop(rb, i);
            return;
        }
}

/* Whether a name below the source folder lies in a hidden folder (or is
 * hidden itself), which the walk leaves out too. */
static bool hidden(const char *rel)
{
    for (const char *c = rel; c; c = strchr(c, '/')) {
        if (*c == '/')
            c++;
        if (*c == '.')
            return true;
    }
    return false;
}

static void dispatch(struct rdcw_backend *rb, size_t k, DWORD n, double now)
{
    struct rsource *s = &rb->srcs[k];
    const struct watch_sink *sink = &rb->sink;
    for (DWORD off = 0; off < n;) {
        const FILE_NOTIFY_INFORMATION *fi = (const FILE_NOTIFY_INFORMATION *)((char *)s->buf + off);
        size_t wl = fi->FileNameLength / sizeof(WCHAR);
        wchar_t *w = xmalloc((wl + 1) * sizeof *w);
        memcpy(w, fi->FileName, wl * sizeof *w);
        w[wl] = 0;
        char *rel = plat_win_utf8(w);
        free(w);
        plat_path_normalize(rel);
        char *path = xasprintf("%s/%s", s->src->path, rel);
        const char *base = strrchr(path, '/') + 1;
        struct stat st;
        if (hidden(rel)) {
            /* nothing: as the walk */
        } else if (fi->Action == FILE_ACTION_REMOVED || fi->Action == FILE_ACTION_RENAMED_OLD_NAME) {
            sink->note(sink->ctx, s->si, path, PENDING_GONE);
            hot_forget(rb, k, path);
        } else if (plat_lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            /* A folder made or moved in: what is in it already. */
            if (fi->Action != FILE_ACTION_MODIFIED && s->src->recursive &&
                !source_dir_excluded(s->src, path, base)) {
                sink->scan(sink->ctx, s->si, path, false);
                hot_note(rb, k, path, true, now);
            }
        } else if (source_name_matches(s->src, base)) {
            sink->note(sink->ctx, s->si, path, PENDING_SEEN);
            hot_note(rb, k, path, false, now);
        }
        free(path);
        free(rel);
        if (!fi->NextEntryOffset)
            break;
        off += fi->NextEntryOffset;
    }
}

static void overflowed(struct rdcw_backend *rb, size_t k)
{
    struct rsource *s = &rb->srcs[k];
    log_warn("source %s: too many changes in %s at once for Windows to list; rescanning it",
             s->src->name, s->src->path);
    scan_source(rb, k);
}

/* What the watch of srcs[k] brought since the last look. */
static void collect(struct rdcw_backend *rb, size_t k, double now)
{
    struct rsource *s = &rb->srcs[k];
    DWORD n = 0;
    if (!GetOverlappedResult(s->dir, &s->ov, &n, FALSE)) {
        DWORD e = GetLastError();
        if (e == ERROR_IO_INCOMPLETE)
            return;
        if (e == ERROR_NOTIFY_ENUM_DIR) {
            overflowed(rb, k);
        } else {
            log_warn("source %s: watching %s stopped (Windows error %lu); looking for the "
                     "folder every %u ms", s->src->name, s->src->path, (unsigned long)e,
                     s->src->watch.poll_interval_ms);
            stop(s);
            s->missing = true;
            s->last_try = now;
            return;
        }
    } else if (n == 0) {
        overflowed(rb, k);
    } else {
        dispatch(rb, k, n, now);
    }
    if (!arm(s)) {
        log_warn("source %s: cannot watch %s again (Windows error %lu); looking for it every "
                 "%u ms", s->src->name, s->src->path, (unsigned long)GetLastError(),
                 s->src->watch.poll_interval_ms);
        stop(s);
        s->missing = true;
        s->last_try = now;
    }
}

/* Whether another handle may write the file: it is then still being
 * written (our own reads share everything, so they do not count). */
static bool held_by_writer(const char *path)
{
    wchar_t *w = plat_win_path(path);
    if (!w)
        return false;
    HANDLE h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                           FILE_ATTRIBUTE_NORMAL, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return GetLastError() == ERROR_SHARING_VIOLATION;
    CloseHandle(h);
    return false;
}

static void add(struct watch_backend *b, size_t si, const struct cdr_source *src)
{
    struct rdcw_backend *rb = self(b);
    if (rb->n == rb->cap) {
        rb->cap = rb->cap ? 2 * rb->cap : 4;
        rb->srcs = xrealloc(rb->srcs, rb->cap * sizeof *rb->srcs);
    }
    struct rsource *s = &rb->srcs[rb->n++];
    *s = (struct rsource){.si = si, .src = src, .last_try = cdr_monotonic()};
    if (on_network(src->path)) {
        log_info("source %s: %s is on a network share, where Windows' change notifications "
                 "are unreliable: polling it every %u ms", src->name, src->path,
                 src->watch.poll_interval_ms);
        s->polled = true;
        if (!rb->poll)
            rb->poll = watch_poll_create(&rb->sink);
        rb->poll->ops->add(rb->poll, si, src);
        return;
    }
    s->buf = xmalloc(BUF_BYTES);
    if (!start(rb, s)) {
        log_warn("source %s: folder %s is missing or cannot be watched; looking for it every "
                 "%u ms", src->name, src->path, src->watch.poll_interval_ms);
        s->missing = true;
    }
}

static int fd(const struct watch_backend *b)
{
    (void)b;
    return -1;
}

static double deadline(const struct watch_backend *b)
{
    const struct rdcw_backend *rb = (const struct rdcw_backend *)b;
    double next = rb->poll ? rb->poll->ops->deadline(rb->poll) : INFINITY;
    bool watching = rb->nhot > 0;
    for (size_t k = 0; k < rb->n && !watching; k++)
        watching = !rb->srcs[k].polled;
    if (watching && rb->last_run + CHECK_S < next)
        next = rb->last_run + CHECK_S;
    return next;
}

static void run(struct watch_backend *b, double now)
{
    struct rdcw_backend *rb = self(b);
    if (rb->poll && now >= rb->poll->ops->deadline(rb->poll))
        rb->poll->ops->run(rb->poll, now);
    if (now < rb->last_run + CHECK_S)
        return;
    rb->last_run = now;
    for (size_t k = 0; k < rb->n; k++) {
        struct rsource *s = &rb->srcs[k];
        if (s->polled)
            continue;
        if (s->dir) {
            collect(rb, k, now);
        } else if (now >= s->last_try + interval(s)) {
            s->last_try = now;
            if (start(rb, s)) {
                log_info("source %s: folder %s is there: watching it", s->src->name,
                         s->src->path);
                s->missing = false;
            }
        }
    }
    /* The looks that make a file complete once it has stopped changing;
     * a file quiet for longer than it needs to settle has had them. */
    for (size_t i = 0; i < rb->nhot;) {
        struct hot *h = &rb->hot[i];
        const struct rsource *s = &rb->srcs[h->k];
        if (now - h->last_event > s->src->watch.settle_ms / 1000.0 + 3 * interval(s)) {
            hot_drop(rb, i);
            continue;
        }
        if (now - h->last_look >= interval(s) && h->dir) {
            h->last_look = now;
            rb->sink.scan(rb->sink.ctx, s->si, h->path, false);
        } else if (now - h->last_look >= interval(s)) {
            h->last_look = now;
            enum pending_kind kind = PENDING_SEEN;
            if (held_by_writer(h->path)) {
                h->writing = true;
                h->last_event = now; /* hot while it is written */
                kind = PENDING_WRITING;
            } else if (h->writing) {
                h->writing = false;
                kind = PENDING_CLOSED; /* settles from now */
            }
            rb->sink.note(rb->sink.ctx, s->si, h->path, kind);
        }
        i++;
    }
}

static void rescan(struct watch_backend *b)
{
    struct rdcw_backend *rb = self(b);
    for (size_t k = 0; k < rb->n; k++)
        if (rb->srcs[k].dir)
            scan_source(rb, k);
    if (rb->poll)
        rb->poll->ops->rescan(rb->poll);
}

static void reset(struct watch_backend *b)
{
    struct rdcw_backend *rb = self(b);
    for (size_t k = 0; k < rb->n; k++) {
        stop(&rb->srcs[k]);
        free(rb->srcs[k].buf);
    }
    rb->n = 0;
    while (rb->nhot)
        hot_drop(rb, rb->nhot - 1);
    if (rb->poll)
        rb->poll->ops->reset(rb->poll);
}

static void destroy(struct watch_backend *b)
{
    struct rdcw_backend *rb = self(b);
    reset(b);
    if (rb->poll)
        rb->poll->ops->destroy(rb->poll);
    free(rb->srcs);
    free(rb->hot);
    free(rb);
}

/* sees_writers false: the core wants one unchanged look after the settle
 * time, which the hot list supplies (see the top of this file). */
static const struct watch_backend_ops rdcw_ops = {
    .name = "ReadDirectoryChangesW", .sees_writers = false, .add = add, .fd = fd,
    .deadline = deadline, .run = run, .rescan = rescan, .reset = reset, .destroy = destroy,
};

struct watch_backend *watch_rdcw_create(const struct watch_sink *sink)
{
    struct rdcw_backend *rb = xcalloc(1, sizeof *rb);
    rb->base.ops = &rdcw_ops;
    rb->sink = *sink;
    return &rb->base;
}
