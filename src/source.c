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

static void walk(const struct cdr_source *src, const char *root_real, const char *dir,
                 bool recursive, int depth, struct source_list *list)
{
    struct plat_dir *d = plat_opendir(dir);
    if (!d) {
        log_warn("cannot read folder %s: %s", dir, strerror(errno));
        return;
    }
    const char *name;
    while ((name = plat_readdir(d)) != NULL) {
        char *path = xasprintf("%s/%s", dir, name);
        struct stat st;
        if (plat_lstat(path, &st) < 0) {
            if (errno != ENOENT)
                log_warn("%s: %s", path, strerror(errno));
            free(path);
            continue;
        }
        /* A file a killed importer was deleting: named back, it is read
         * again like any other (finish.h). */
        if (name[0] == '.' && !S_ISDIR(st.st_mode)) {
            char *back = finish_restore_leftover(dir, name);
            if (!back || plat_lstat(back, &st) < 0) {
                free(back);
                free(path);
                continue;
            }
            free(path);
            path = back;
            name = strrchr(back, '/') + 1;
        }
        if (S_ISDIR(st.st_mode)) {
            if (recursive && depth < 64 && !source_dir_excluded(src, path, name))
                walk(src, root_real, path, recursive, depth + 1, list);
            else if (!recursive && source_name_matches(src, name))
                log_warn("%s: a folder, not a file (recursive is off): skipped", path);
            free(path);
            continue;
        }
        if (!source_name_matches(src, name)) {
            free(path);
            continue;
        }
        if (S_ISLNK(st.st_mode)) {
            struct stat target;
            if (!inside(root_real, path) || plat_stat(path, &target) < 0 || !S_ISREG(target.st_mode)) {
                log_warn("%s: symbolic link to outside the source folder (or to no file); "
                         "not followed", path);
                free(path);
                continue;
            }
            st = target;
        }
        /* FIFOs and other special files are listed: the file stage reports
         * them clearly (and never blocks on them). */
        source_list_add(list, path, &st);
        free(path);
    }
    plat_closedir(d);
}

int source_walk(const struct cdr_source *src, const char *dir, bool recursive,
                struct source_list *list, char *err, size_t errlen)
{
    char *root_real = NULL;
    struct stat st;
    if (plat_stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || !(root_real = plat_realpath(dir))) {
        snprintf(err, errlen, "cannot read folder %s: %s", dir,
                 errno ? strerror(errno) : "not a folder");
        return -1;
    }
    walk(src, root_real, dir, recursive, 0, list);
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
