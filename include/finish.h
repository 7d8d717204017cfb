/*
 * finish.h - the last stage: after a file's transaction has committed, move
 * it to processed_dir (under a unique name: every download is called
 * Master.csv), delete it, or keep it; a failed file goes to failed_dir with
 * a <name>.error text beside it. Never called before the commit, so a file
 * is never deleted unless its rows are safely stored.
 */
#ifndef CDR_FINISH_H
#define CDR_FINISH_H

#include "cdrimport.h"
#include "config.h"

/* The file that was read (input_file_id): a name can be given to a new
 * file at any moment (a download renamed over the old one), and that new
 * file must not be moved away or deleted unread. */
struct finish_id {
    uint64_t dev, ino;
};

/* The folders a run moved files into, to be synced (fsync) together
 * rather than after each move: at most a second after the first move not
 * yet synced, or when flushed (the caller's run ends, or it goes idle).
 * A crash in between loses no file: one whose move is lost is back where
 * it was, found already imported and moved again. One per thread. */
struct finish_sync;
struct finish_sync *finish_sync_create(void);
void finish_sync_flush(struct finish_sync *s);
/* Flushes first. Safe on NULL. */
void finish_sync_destroy(struct finish_sync *s);

/*
 * root is the folder the file was found under (its sub-path is kept below
 * the destination). Returns 0; 1 if the file was already gone (another
 * importer moved it: not an error) or, with id, if path now names another
 * file (it is left where it is, with a warning); -1 with err on failure.
 * *dest receives the new path (malloc'd) when moved. id may be NULL (no
 * check). sync: where a move's folder waits to be synced; NULL: synced
 * before returning, as a failed file's always is.
 */
int finish_success_id(const struct cdr_source *src, const char *root, const char *path,
                      const char *sha256, const struct finish_id *id,
                      struct finish_sync *sync, char **dest, char *err, size_t errlen);
int finish_success(const struct cdr_source *src, const char *root, const char *path,
                   const char *sha256, char **dest, char *err, size_t errlen);
int finish_failed(const struct cdr_source *src, const char *root, const char *path,
                  const char *sha256, const char *reason, char **dest, char *err,
                  size_t errlen);
/*
 * A delete renames the file to ".<name>.cdrimport-delete-<pid>-<time>"
 * beside it before it unlinks it. An importer killed in between leaves
 * that name, which no scan takes (it is hidden), and which may hold a new
 * file the rename caught. finish_is_leftover tells such a name (pure).
 * finish_restore_leftover renames it in dir back to <name> and returns
 * that path (malloc'd), so that it is read again: found already imported
 * and deleted, or imported. It does so once the name is 5 s old (now, in
 * seconds since 1970, against <time>) and process <pid> is gone from this
 * machine, or whatever the pid once the name is 15 minutes old (a pid of
 * another host, or reused). NULL for any other name, a name not yet due,
 * or a <name> that exists again (logged).
 */
bool finish_is_leftover(const char *name);
char *finish_restore_leftover(const char *dir, const char *name, long long now);
/* The same with notes: lines (each ending in '\n', outside text already
 * escaped) written into the .error after the reason, e.g. a packed
 * download's failed members one by one. */
int finish_failed_notes(const struct cdr_source *src, const char *root, const char *path,
                        const char *sha256, const char *reason, const char *notes,
                        const struct finish_id *id, char **dest, char *err, size_t errlen);

#endif
