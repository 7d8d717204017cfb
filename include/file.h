/*
 * file.h - importing one file: claim it, checksum it, skip it if its
 * checksum is known, else parse and load it in one transaction. This is the
 * one call that `import`, `scan` and `watch` all make. A file whose content
 * is an archive or compressed stream is a packed download: each CDR member
 * goes through the same steps as a file of its own (packed.h).
 */
#ifndef CDR_FILE_H
#define CDR_FILE_H

#include "cdrimport.h"
#include "config.h"
#include "load.h"
#include "profile.h"

struct input;
struct file_result;

enum file_status {
    FILE_IMPORTED = 0,  /* committed (possibly zero new rows) */
    FILE_DUPLICATE,     /* checksum already imported: nothing added */
    FILE_FAILED,        /* recorded as failed; its rejects are stored */
    FILE_DB_DOWN,       /* database unreachable: nothing written, file untouched */
    FILE_SKIPPED,       /* claimed by another importer, gone, or changing */
    FILE_UNREADABLE,    /* a link or not a regular file, or damaged past reading */
    FILE_IO_ERROR       /* could not be read this time (an I/O error, no permission):
                         * nothing stored, the file stays where it is, read again */
};

struct file_opts {
    bool dry_run;
    bool force;
    bool follow_links;  /* an explicit command-line path may be a symlink */
    /* Progress of the parse pass, in bytes; may be NULL. Answering false
     * cancels the import: its transaction rolls back, status FILE_SKIPPED. */
    bool (*progress)(void *ctx, uint64_t done, uint64_t total, uint64_t rows);
    void *progress_ctx;
    /* A packed download's CDR members (packed.h), may be NULL: called with
     * progress_ctx as each member starts (r NULL) and with its result;
     * name is "ARCHIVE:MEMBER". The archive's own result comes back as
     * usual, with the members' rows summed. */
    void (*member)(void *ctx, const char *name, const struct file_result *r);
};

struct file_result {
    enum file_status status;
    struct load_stats stats;
    char sha256[65];
    uint64_t size;
    double ms;
    char error[CDR_ERRLEN]; /* why it failed / was skipped */
    struct input *input;    /* the claimed file, kept locked until released */
    /* A packed download: the CDR members it held, and for a failed one a
     * line per failed member or damage ("member NAME: why", escaped) for
     * its .error note; NULL otherwise. file_release frees it. */
    bool packed;
    unsigned members;
    char *notes;
};

/*
 * Import path for source src (whose profile is prof). db may be NULL only
 * with dry_run. Logs each rejected line (file:line: reason) and nothing
 * else: the caller reports the outcome.
 */
void file_import(struct db *db, const struct cdr_source *src, struct profile *prof,
                 const char *path, const struct file_opts *opts, struct file_result *res);

/*
 * A file claimed, and checksummed where that needs no database, before its
 * import: prefetch.h does it on a helper thread for the next file of a run
 * while the current one is imported.
 */
struct file_early {
    struct input *in;     /* claimed: locked as file_import would lock it */
    bool failed;          /* the claim or the checksum pass failed: r says how */
    bool hashed;          /* r.sha256 and r.size are its checksum pass's */
    struct file_result r; /* the file's result so far */
};

/* Claim path (and hash it if small) as file_import would, a failure kept
 * in e for file_import_early to report. Touches no shared state: safe on
 * any thread. */
void file_claim_early(const char *path, const struct file_opts *o, struct file_early *e);

/* file_import for a file claimed by file_claim_early, which it takes over
 * (file_release closes it). */
void file_import_early(struct db *db, const struct cdr_source *src, struct profile *prof,
                       const char *path, struct file_early *e, const struct file_opts *o,
                       struct file_result *r);

/*
 * The same for an input that is not a plain file (input.h: an archive
 * member, a spooled HTTP body), already opened and claimed by its caller;
 * its name is what the ledger and the logs show. One that cannot rewind is
 * checksummed while it is parsed, and rolled back as a duplicate when that
 * checksum is already imported. A file with too many bad lines is read a
 * second time to keep its rejects, so an input whose lines may be bad must
 * be able to rewind (an archive member by reopening it); one that cannot
 * is reported unreadable then, with nothing stored. An input that can
 * rewind cheaply and holds an archive is imported as one (packed.h); one
 * that cannot rewind is read as CSV. An input whose bytes were cut short
 * (input_why after the end: a damaged archive) has its cut line rejected
 * and the reason in its ledger row. file_release closes it.
 */
void file_import_input(struct db *db, const struct cdr_source *src, struct profile *prof,
                       struct input *in, const struct file_opts *o, struct file_result *r);

/* Drop the claim on the file (after it has been moved, or left), and free
 * the result's notes. */
void file_release(struct file_result *res);

const char *file_status_name(enum file_status st);

#endif
