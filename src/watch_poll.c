/*
 * watch_poll.c - the polling watch backend, for NFS, SMB and overlay
 * mounts where inotify sees nothing: walk each source folder every
 * poll_interval_ms and let the core decide, from size and mtime, when a
 * file has stopped changing (it cannot see a writer, so the core also
 * wants one unchanged look). A missing folder is reported once and picked
 * up when it returns. State is private; see watch_backend.h.
 */
#include "watch_backend.h"
#include "log.h"
#include "plat.h"

#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

struct psource {
    size_t si;
    const struct cdr_source *src;
    bool missing;       /* the folder is not there (reported once) */
    double last_poll;   /* when it was last walked */
};

struct poll_backend {
    struct watch_backend base; /* first: the core holds a pointer to it */
    struct watch_sink sink;
    struct psource *srcs;
    size_t n, cap;
};

static struct poll_backend *self(struct watch_backend *b)
{
    return (struct poll_backend *)b;
}

static const struct poll_backend *cself(const struct watch_backend *b)
{
    return (const struct poll_backend *)b;
}

/* Due one interval after the last walk (not a whole interval after an
 * early wake-up, which must not put it off). run and deadline both use
 * this, so a deadline reached is a poll made. */
static double due(const struct psource *s)
{
    return s->last_poll + s->src->watch.poll_interval_ms / 1000.0;
}

static void poll_source(struct poll_backend *pb, struct psource *s, double now)
{
    s->last_poll = now;
    struct stat st;
    bool there = plat_stat(s->src->path, &st) == 0 && S_ISDIR(st.st_mode);
    if (!there) {
        if (!s->missing)
            log_warn("source %s: folder %s is missing; polling for it to appear", s->src->name,
                     s->src->path);
        s->missing = true;
        return;
    }
    if (s->missing)
        log_info("source %s: folder %s is back", s->src->name, s->src->path);
    s->missing = false;
    pb->sink.scan(pb->sink.ctx, s->si, s->src->path, true);
}

static void add(struct watch_backend *b, size_t si, const struct cdr_source *src)
{
    struct poll_backend *pb = self(b);
    if (pb->n == pb->cap) {
        pb->cap = pb->cap ? pb->cap * 2 : 4;
        pb->srcs = xrealloc(pb->srcs, pb->cap * sizeof *pb->srcs);
    }
    struct psource *s = &pb->srcs[pb->n++];
    *s = (struct psource){.si = si, .src = src};
    poll_source(pb, s, cdr_monotonic());
}

static int fd(const struct watch_backend *b)
{
    (void)b;
    return -1;
}

static double deadline(const struct watch_backend *b)
{
    const struct poll_backend *pb = cself(b);
    double next = INFINITY;
    for (size_t i = 0; i < pb->n; i++)
        next = due(&pb->srcs[i]) < next ? due(&pb->srcs[i]) : next;
    return next;
}

static void run(struct watch_backend *b, double now)
{
    struct poll_backend *pb = self(b);
    for (size_t i = 0; i < pb->n; i++)
        if (now >= due(&pb->srcs[i]))
            poll_source(pb, &pb->srcs[i], now);
}

static void rescan(struct watch_backend *b)
{
    struct poll_backend *pb = self(b);
    for (size_t i = 0; i < pb->n; i++)
        if (!pb->srcs[i].missing)
            pb->sink.scan(pb->sink.ctx, pb->srcs[i].si, pb->srcs[i].src->path, true);
}

static void reset(struct watch_backend *b)
{
    self(b)->n = 0;
}

static void destroy(struct watch_backend *b)
{
    struct poll_backend *pb = self(b);
    free(pb->srcs);
    free(pb);
}

static const struct watch_backend_ops poll_ops = {
    .name = "poll", .sees_writers = false, .add = add, .fd = fd, .deadline = deadline,
    .run = run, .rescan = rescan, .reset = reset, .destroy = destroy,
};

struct watch_backend *watch_poll_create(const struct watch_sink *sink)
{
    struct poll_backend *pb = xcalloc(1, sizeof *pb);
    pb->base.ops = &poll_ops;
    pb->sink = *sink;
    return &pb->base;
}
