/*
 * source.c - walking a source's folder for candidate files (the `scan`
 * source; `watch` adds inotify and polling on top of the same rules).
 * Untrusted tree: entries are examined with lstat and opened by the file
 * stage with O_NOFOLLOW; a symbolic link counts only if it resolves inside
 * the folder, and is never descended into as a directory.
 */
#include "source.h"
#include "finish.h"
#include "log.h"
#include "plat.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

bool source_name_ignored(const char *name)
{
    static const char *const temp_suffixes[] = {".part", ".tmp", ".crdownload", "~", ".swp"};
    size_t n = strlen(name);
    if (name[0] == '.')
        return true;
    for (size_t i = 0; i < sizeof temp_suffixes / sizeof temp_suffixes[0]; i++) {
        size_t k = strlen(temp_suffixes[i]);
        if (n >= k && strcasecmp(name + n - k, temp_suffixes[i]) == 0)
            return true;
    }
    return false;
}

bool source_name_matches(const struct cdr_source *src, const char *name)
{
    /* config.c gives every source at least one pattern ("*.csv" by
     * default), so there is no fallback here. */
    if (source_name_ignored(name))
        return false;
    for (size_t i = 0; i < src->npatterns; i++)
        if (plat_fnmatch(src->patterns[i], name, true))
            return true;
    return false;
}

bool source_member_matches(const struct cdr_source *src, const char *member)
{
    /* A Windows zip may separate folders with backslashes: either ends the
     * folder part. */
    const char *base = member;
    for (const char *c = member; *c; c++)
        if (*c == '/' || *c == '\\')
            base = c + 1;
    for (size_t i = 0; i < src->nmembers; i++)
        if (plat_fnmatch(src->members[i], base, true))
            return true;
    return false;
}

void source_list_add(struct source_list *l, const char *path, const struct stat *st)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->files = xrealloc(l->files, l->cap * sizeof *l->files);
    }
    struct source_file *f = &l->files[l->n++];
    f->path = xstrdup(path);
    f->mtime = plat_mtime(st);
    f->size = st->st_size;
}

static bool inside(const char *root_real, const char *path)
{
    char *real = plat_realpath(path);
    if (!real)
        return false;
    size_t k = strlen(root_real);
    bool in = strncmp(real, root_real, k) == 0 && (real[k] == '/' || real[k] == '\0');
    free(real);
    return in;
}

bool source_dir_excluded(const struct cdr_source *src, const char *path, const char *name)
{
    if (name && name[0] == '.')
        return true;
    return (src->processed_dir && strcmp(path, src->processed_dir) == 0) ||
           (src->failed_dir && strcmp(path, src->failed_dir) == 0);
}

/* What one walk shares down its folders. */
struct walk {
    const struct cdr_source *src;
    const char *root_real;
    bool recursive, restore;
    struct source_list *list;
};

static void walk_dir(const struct walk *w, const char *dir, int depth);

/* One entry of dir: a folder walked, a file listed, anything else skipped. */
static void take(const struct walk *w, const char *dir, const char *name, int depth)
{
    char *path = xasprintf("%s/%s", dir, name);
    struct stat st, target;
    if (plat_lstat(path, &st) < 0) {
        if (errno != ENOENT)
            log_warn("%s: %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        if (w->recursive && depth < 64 && !source_dir_excluded(w->src, path, name))
            walk_dir(w, path, depth + 1);
        else if (!w->recursive && source_name_matches(w->src, name))
            log_warn("%s: a folder, not a file (recursive is off): skipped", path);
    } else if (!source_name_matches(w->src, name)) {
        /* not ours */
    } else if (!S_ISLNK(st.st_mode)) {
        /* FIFOs and other special files are listed: the file stage
         * reports them clearly (and never blocks on them). */
        source_list_add(w->list, path, &st);
    } else if (!inside(w->root_real, path) || plat_stat(path, &target) < 0 ||
               !S_ISREG(target.st_mode)) {
        log_warn("%s: symbolic link to outside the source folder (or to no file); "
                 "not followed", path);
    } else {
        source_list_add(w->list, path, &target);
    }
    free(path);
}

static void walk_dir(const struct walk *w, const char *dir, int depth)
{
    struct plat_dir *d = plat_opendir(dir);
    if (!d) {
        log_warn("cannot read folder %s: %s", dir, strerror(errno));
        return;
    }
    /* Files a killed importer was deleting (finish.h) are named back after
     * the folder is read, so that no read of it meets a name twice. */
    char **left = NULL;
    size_t nleft = 0;
    const char *name;
    while ((name = plat_readdir(d)) != NULL) {
        if (!w->restore || !finish_is_leftover(name)) {
            take(w, dir, name, depth);
            continue;
        }
        left = xrealloc(left, (nleft + 1) * sizeof *left);
        left[nleft++] = xstrdup(name);
    }
    plat_closedir(d);
    for (size_t i = 0; i < nleft; i++) {
        char *back = finish_restore_leftover(dir, left[i], (long long)time(NULL));
        if (back)
            take(w, dir, strrchr(back, '/') + 1, depth);
        free(back);
        free(left[i]);
    }
    free(left);
}

int source_walk(const struct cdr_source *src, const char *dir, bool recursive, bool restore,
                struct source_list *list, char *err, size_t errlen)
{
    char *root_real = NULL;
    struct stat st;
    if (plat_stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || !(root_real = plat_realpath(dir))) {
        snprintf(err, errlen, "cannot read folder %s: %s", dir,
                 errno ? strerror(errno) : "not a folder");
        return -1;
    }
    walk_dir(&(struct walk){src, root_real, recursive, restore, list}, dir, 0);
    free(root_real);
    source_list_sort(list);
    return 0;
}

int source_order(const struct timespec *mtime_a, const char *path_a,
                 const struct timespec *mtime_b, const char *path_b)
{
    int c = cdr_timespec_cmp(mtime_a, mtime_b);
    return c ? c : strcmp(path_a, path_b);
}

static int by_mtime(const void *a, const void *b)
{
    const struct source_file *x = a, *y = b;
    return source_order(&x->mtime, x->path, &y->mtime, y->path);
}

void source_list_sort(struct source_list *list)
{
    if (list->n > 1)
        qsort(list->files, list->n, sizeof *list->files, by_mtime);
}

void source_list_free(struct source_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->files[i].path);
    free(list->files);
    list->files = NULL;
    list->n = list->cap = 0;
}
