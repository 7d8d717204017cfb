/*
 * source.h - finding files: walk a source's folder (recursively or not),
 * match file names against its globs case-insensitively, and list them
 * oldest first. Hidden and temporary names (.x, *.part, *.tmp,
 * *.crdownload, x~) are not candidates; symbolic links are followed only
 * when they stay inside the folder.
 */
#ifndef CDR_SOURCE_H
#define CDR_SOURCE_H

#include "cdrimport.h"
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

struct source_file {
    char *path;
    struct timespec mtime;
    off_t size;
};

struct source_list {
    struct source_file *files;
    size_t n, cap;
};

/* Whether a file name (no folder) is a candidate for this source. */
bool source_name_matches(const struct cdr_source *src, const char *name);
/* Whether a file inside an archive (its path there) is a CDR file: its
 * base name (after the last '/' or '\\') matches one of the source's
 * `members` globs, case-insensitively. */
bool source_member_matches(const struct cdr_source *src, const char *member);
/* Whether a name is hidden or temporary (an unfinished download). */
bool source_name_ignored(const char *name);
/*
 * Whether a folder below the source is never entered (walked or watched):
 * a hidden one (name starts with '.'), or processed_dir or failed_dir,
 * which hold files already handled. path as found under the source's path;
 * name is its last component, NULL for the source folder itself, which
 * counts whatever its name.
 */
bool source_dir_excluded(const struct cdr_source *src, const char *path, const char *name);

/*
 * Append the candidate files under dir (the source's path, or a folder
 * given to `import`) to list, sorted oldest first. processed_dir and
 * failed_dir are never entered. With restore, the leftovers of a killed
 * importer's deletes that are due are named back first and listed
 * (finish_restore_leftover); a dry run leaves them. Problems with single
 * entries are logged and skipped; returns -1 with err only when dir itself
 * cannot be read.
 */
int source_walk(const struct cdr_source *src, const char *dir, bool recursive, bool restore,
                struct source_list *list, char *err, size_t errlen);
void source_list_sort(struct source_list *list);
/* The order of import, for scan and watch alike: oldest mtime first, the
 * path deciding a tie (so that the order never depends on the folder's).
 * <0, 0, >0 as strcmp. Pure. */
int source_order(const struct timespec *mtime_a, const char *path_a,
                 const struct timespec *mtime_b, const char *path_b);
void source_list_add(struct source_list *list, const char *path, const struct stat *st);
void source_list_free(struct source_list *list);

#endif
