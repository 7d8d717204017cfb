/*
 * pending.c - the table of files the watch daemon waits on and the rule
 * that says when one is complete (see pending.h). The table is usually
 * small (the files of an inbox not imported yet) but can hold a backlog of
 * 100 000 at start-up: lookups go through a hash index of the paths.
 * No clock, disk or log here: watch.c passes the time and the lstat (the
 * order of import is source.c's source_order, pure too).
 */
#include "pending.h"
#include "plat.h"
#include "source.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Below this many files a linear search is as quick as the index. */
#define INDEX_FROM 64

static size_t hash_path(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)h;
}

/* Put files[i] into the index (which has room). */
static void index_put(struct pending_table *t, size_t i)
{
    size_t mask = t->nslots - 1;
    for (size_t k = hash_path(t->files[i].path) & mask;; k = (k + 1) & mask) {
        if (!t->slots[k]) {
            t->slots[k] = i + 1;
            return;
        }
    }
}

static void index_build(struct pending_table *t)
{
    size_t want = 256;
    while (want < 2 * t->cap)
        want *= 2;
    if (want != t->nslots) {
        free(t->slots);
        t->slots = xmalloc(want * sizeof *t->slots);
        t->nslots = want;
    }
    memset(t->slots, 0, t->nslots * sizeof *t->slots);
    for (size_t i = 0; i < t->n; i++)
        index_put(t, i);
    t->stale = false;
}

static struct pending_file *find(struct pending_table *t, const char *path)
{
    if (t->n < INDEX_FROM) {
        for (size_t i = 0; i < t->n; i++)
            if (strcmp(t->files[i].path, path) == 0)
                return &t->files[i];
        return NULL;
    }
    if (t->stale || !t->slots || t->nslots < 2 * t->n)
        index_build(t);
    size_t mask = t->nslots - 1;
    for (size_t k = hash_path(path) & mask; t->slots[k]; k = (k + 1) & mask)
        if (strcmp(t->files[t->slots[k] - 1].path, path) == 0)
            return &t->files[t->slots[k] - 1];
    return NULL;
}

static bool changed(const struct pending_file *p, const struct stat *st)
{
    struct timespec mtime = plat_mtime(st);
    return st->st_size != p->size || cdr_timespec_cmp(&mtime, &p->mtime) != 0;
}

/* Keeps the order: import_ready walks the table sorted oldest first and
 * drops entries as it goes (moving the last one into the hole would make
 * the newest file the next one imported). */
void pending_drop(struct pending_table *t, size_t i)
{
    t->stale = true;
    free(t->files[i].path);
    memmove(&t->files[i], &t->files[i + 1], (t->n - i - 1) * sizeof *t->files);
    t->n--;
}

bool pending_note(struct pending_table *t, size_t si, const char *path, enum pending_kind kind,
                  const struct stat *st, const struct pending_rule *rule, double now)
{
    struct pending_file *p = find(t, path);
    if (kind == PENDING_GONE || !st) {
        if (p)
            pending_drop(t, (size_t)(p - t->files));
        return false;
    }
    bool fresh = !p;
    if (fresh) {
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 64;
            t->files = xrealloc(t->files, t->cap * sizeof *t->files);
        }
        p = &t->files[t->n++];
        memset(p, 0, sizeof *p);
        p->path = xstrdup(path);
        if (!t->stale && t->slots && t->nslots >= 2 * t->n)
            index_put(t, t->n - 1);
        else
            t->stale = true;
        p->si = si;
        p->rule = *rule;
        p->size = st->st_size;
        p->mtime = plat_mtime(st);
        p->changed_at = now;
    }
    p->gen = t->gen;
    if (changed(p, st)) {
        p->size = st->st_size;
        p->mtime = plat_mtime(st);
        p->changed_at = now;
        p->stable = 0;
        p->done = false;
    } else if (kind == PENDING_SEEN && !fresh) {
        /* Unchanged since an earlier look; the first sighting is no
         * evidence that the file has stopped growing. */
        p->stable++;
    }
    if (kind == PENDING_WRITING) {
        p->writing = true;
        p->changed_at = now;
        p->done = false;
    } else if (kind == PENDING_CLOSED) {
        /* Complete as far as inotify can tell; settle_ms still counts
         * from this last event, as from any other. */
        p->writing = false;
        p->changed_at = now;
    }
    return fresh;
}

void pending_scan_begin(struct pending_table *t)
{
    t->gen++;
}

void pending_sweep(struct pending_table *t, size_t si)
{
    for (size_t i = 0; i < t->n;) {
        if (t->files[i].si == si && t->files[i].gen != t->gen)
            pending_drop(t, i);
        else
            i++;
    }
}

/* The time from which the clock alone no longer holds p back. */
static double due_at(const struct pending_file *p)
{
    double settled = p->changed_at + p->rule.settle_s;
    return settled > p->retry_at ? settled : p->retry_at;
}

bool pending_ready(const struct pending_file *p, double now)
{
    if (p->done || p->writing || now < p->retry_at)
        return false;
    if (now - p->changed_at < p->rule.settle_s)
        return false;
    return !p->rule.quiet_look || p->stable >= 1;
}

double pending_next_due(const struct pending_table *t)
{
    double next = INFINITY;
    for (size_t i = 0; i < t->n; i++) {
        const struct pending_file *p = &t->files[i];
        /* A file waiting for a quiet look is woken by the next poll, not
         * by the clock. */
        if (p->done || p->writing || (p->rule.quiet_look && p->stable < 1))
            continue;
        double at = due_at(p);
        next = at < next ? at : next;
    }
    return next;
}

static int by_mtime(const void *a, const void *b)
{
    const struct pending_file *x = a, *y = b;
    return source_order(&x->mtime, x->path, &y->mtime, y->path);
}

void pending_sort(struct pending_table *t)
{
    if (t->n > 1)
        qsort(t->files, t->n, sizeof *t->files, by_mtime);
    t->stale = true;
}

enum pending_check pending_recheck(struct pending_table *t, size_t i, const struct stat *st,
                                   double now)
{
    struct pending_file *p = &t->files[i];
    if (!st) {
        pending_drop(t, i);
        return PENDING_VANISHED;
    }
    if (changed(p, st)) {
        pending_note(t, p->si, p->path, PENDING_SEEN, st, &p->rule, now);
        return PENDING_CHANGED;
    }
    return PENDING_IMPORT;
}

void pending_retry_later(struct pending_file *p, double now)
{
    p->changed_at = now;
    p->retry_at = now + PENDING_RETRY_S;
    p->skips++;
}

void pending_keep(struct pending_file *p)
{
    p->done = true;
}

void pending_clear(struct pending_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->files[i].path);
    t->n = 0;
    t->stale = true;
}

void pending_free(struct pending_table *t)
{
    pending_clear(t);
    free(t->files);
    t->files = NULL;
    t->cap = 0;
    free(t->slots);
    t->slots = NULL;
    t->nslots = 0;
}
