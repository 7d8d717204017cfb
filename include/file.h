/*
 * file.h - importing one file: claim it, checksum it, skip it if its
 * checksum is known, else parse and load it in one transaction. This is the
 * one call that `import`, `scan` and `watch` all make.
 */
#ifndef CDR_FILE_H
#define CDR_FILE_H

#include "cdrimport.h"
#include "config.h"
#include "load.h"
#include "profile.h"

struct input;

enum file_status {
    FILE_IMPORTED = 0,  /* committed (possibly zero new rows) */
    FILE_DUPLICATE,     /* checksum already imported: nothing added */
    FILE_FAILED,        /* recorded as failed; its rejects are stored */
    FILE_DB_DOWN,       /* database unreachable: nothing written, file untouched */
    FILE_SKIPPED,       /* claimed by another importer, gone, or changing */
    FILE_UNREADABLE     /* cannot be opened or is not a regular file */
};

struct file_opts {
    bool dry_run;
    bool force;
    bool follow_links;  /* an explicit command-line path may be a symlink */
    /* Progress of the parse pass, in bytes; may be NULL. Answering false
     * cancels the import: its transaction rolls back, status FILE_SKIPPED. */
    bool (*progress)(void *ctx, uint64_t done, uint64_t total, uint64_t rows);
    void *progress_ctx;
};

struct file_result {
    enum file_status status;
    struct load_stats stats;
    char sha256[65];
    uint64_t size;
    double ms;
    char error[CDR_ERRLEN]; /* why it failed / was skipped */
    struct input *input;    /* the claimed file, kept locked until released */
};

/*
 * Import path for source src (whose profile is prof). db may be NULL only
 * with dry_run. Logs each rejected line (file:line: reason) and nothing
 * else: the caller reports the outcome.
 */
void file_import(struct db *db, const struct cdr_source *src, struct profile *prof,
                 const char *path, const struct file_opts *opts, struct file_result *res);

/*
 * The same for an input that is not a plain file (input.h: an archive
 * member, a spooled HTTP body), already opened and claimed by its caller;
 * its name is what the ledger and the logs show. One that cannot rewind is
 * checksummed while it is parsed, and rolled back as a duplicate when that
 * checksum is already imported. A file with too many bad lines is read a
 * second time to keep its rejects, so an input whose lines may be bad must
 * be able to rewind (an archive member by reopening it); one that cannot
 * is reported unreadable then, with nothing stored. file_release closes it.
 */
void file_import_input(struct db *db, const struct cdr_source *src, struct profile *prof,
                       struct input *in, const struct file_opts *o, struct file_result *r);

/* Drop the claim on the file (after it has been moved, or left). */
void file_release(struct file_result *res);

const char *file_status_name(enum file_status st);

#endif
