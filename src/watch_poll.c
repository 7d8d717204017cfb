/*
 * watch_poll.c - the polling watch backend, for NFS, SMB and overlay
 * mounts where inotify sees nothing: walk the source folder every
 * poll_interval_ms and let the core decide, from size and mtime, when a
 * file has stopped changing. A missing folder is reported once and picked
 * up when it returns.
 */
#include "watch.h"
#include "log.h"

#include <sys/stat.h>

static void poll_source(struct watcher *w, size_t si, double now)
{
    const struct cdr_source *src = &w->cfg->sources[si];
    struct watch_source *s = &w->src[si];
    s->last_poll = now;
    struct stat st;
    bool there = stat(src->path, &st) == 0 && S_ISDIR(st.st_mode);
    if (!there) {
        if (!s->missing)
            log_warn("source %s: folder %s is missing; polling for it to appear", src->name,
                     src->path);
        s->missing = true;
        return;
    }
    if (s->missing)
        log_info("source %s: folder %s is back", src->name, src->path);
    s->missing = false;
    watch_scan(w, si, src->path, true);
}

static void start(struct watcher *w, size_t si)
{
    poll_source(w, si, cdr_monotonic());
}

static void tick(struct watcher *w, size_t si, double now)
{
    const struct cdr_source *src = &w->cfg->sources[si];
    if ((now - w->src[si].last_poll) * 1000.0 >= (double)src->watch.poll_interval_ms)
        poll_source(w, si, now);
}

const struct watch_ops watch_poll_ops = {"poll", start, tick};
