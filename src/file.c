/*
 * file.c - one file through the pipeline: claim (open without following
 * links or blocking on FIFOs, flock against concurrent importers), checksum,
 * duplicate check, then parse -> profile -> load in one transaction.
 *
 * The file is read twice: a checksum pass (cheap, and a known file stops
 * there), then the parse pass, which hashes again so that a file changed
 * in between is noticed and rolled back rather than half-imported.
 */
#include "file.h"
#include "checksum.h"
#include "log.h"
#include "parse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (256u * 1024u)
#define MAX_LOGGED_REJECTS 20
#define CONFLICT_RETRIES 5

const char *file_status_name(enum file_status st)
{
    static const char *const names[] = {"imported", "duplicate", "failed",
                                        "database down", "skipped", "unreadable"};
    return (unsigned)st <= FILE_UNREADABLE ? names[st] : "?";
}

/* State of one parse pass, shared with the parser callbacks. */
struct pass {
    const char *path;
    struct profile *prof;
    struct load *ld;          /* NULL in dry-run */
    bool rejects_only;        /* second pass of a failed file */
    bool header_pending;
    struct load_stats stats;
    uint64_t valid;           /* rows that mapped cleanly */
    enum load_status st;      /* first load failure */
    uint64_t logged;
};

static enum parse_verdict on_record(void *ctx, const char *const *fields, const size_t *lens,
                                    size_t n, uint64_t line, char *reason, size_t reason_len)
{
    struct pass *ps = ctx;
    if (ps->header_pending) {
        ps->header_pending = false;
        return PARSE_OK;
    }
    struct cdr_row row;
    if (!profile_map(ps->prof, fields, lens, n, &row, reason, reason_len))
        return PARSE_BAD;
    ps->stats.rows_read++;
    ps->valid++;
    if (row.repaired)
        ps->stats.rows_repaired++;
    if (ps->ld && !ps->rejects_only) {
        ps->st = load_row(ps->ld, &row, line);
        if (ps->st != LOAD_OK)
            return PARSE_ABORT;
    }
    return PARSE_OK;
}

static enum parse_verdict on_reject(void *ctx, uint64_t line, const char *raw, size_t len,
                                    const char *reason)
{
    struct pass *ps = ctx;
    if (ps->header_pending)
        ps->header_pending = false; /* a broken first line is not a header */
    ps->stats.rows_read++;
    ps->stats.rows_rejected++;
    if (!ps->rejects_only && ps->logged++ < MAX_LOGGED_REJECTS)
        log_warn("%s:%llu: rejected: %s", ps->path, (unsigned long long)line, reason);
    if (ps->ld) {
        ps->st = load_reject(ps->ld, line, raw, len, reason);
        if (ps->st != LOAD_OK)
            return PARSE_ABORT;
    }
    return PARSE_OK;
}

/* One parse pass over fd. Returns -1 on a read error (errno set), -2 if the
 * file's content changed since the checksum pass, -3 if a load failed, -4
 * if the caller cancelled. */
static int parse_pass(int fd, struct pass *ps, const struct cdr_source *src,
                      const char *sha256, const struct file_opts *o, uint64_t size)
{
    struct parse_cb cb = {on_record, on_reject, ps};
    struct parser *parser = parser_create(src->max_line_bytes, &cb);
    struct checksum *ck = checksum_create();
    char *buf = xmalloc(READ_CHUNK);
    uint64_t done = 0;
    int rc = 0;

    ps->header_pending = profile_has_header(ps->prof);
    if (lseek(fd, 0, SEEK_SET) < 0) {
        rc = -1;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, READ_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            goto out;
        }
        if (n == 0)
            break;
        checksum_update(ck, buf, (size_t)n);
        done += (uint64_t)n;
        if (parser_feed(parser, buf, (size_t)n) < 0) {
            rc = -3;
            goto out;
        }
        if (o->progress && !o->progress(o->progress_ctx, done, size, ps->stats.rows_read)) {
            rc = -4;
            goto out;
        }
    }
    if (parser_finish(parser) < 0) {
        rc = -3;
        goto out;
    }
    char hex[65];
    checksum_final_hex(ck, hex);
    if (strcmp(hex, sha256) != 0)
        rc = -2;
out:
    free(buf);
    checksum_destroy(ck);
    parser_destroy(parser);
    return rc;
}

static enum file_status db_failure(enum load_status st)
{
    return st == LOAD_DB_DOWN ? FILE_DB_DOWN : FILE_FAILED;
}

static void set_result(struct file_result *r, enum file_status st, const char *why)
{
    r->status = st;
    snprintf(r->error, sizeof r->error, "%s", why);
}

/* Decide whether a parsed file is acceptable: why not, or NULL. */
static const char *verdict(const struct pass *ps, const struct cdr_source *src, char *buf,
                           size_t len)
{
    if (ps->stats.rows_rejected == 0)
        return NULL;
    if (ps->valid == 0) {
        snprintf(buf, len, "no valid record (%llu lines rejected)",
                 (unsigned long long)ps->stats.rows_rejected);
        return buf;
    }
    double ratio = (double)ps->stats.rows_rejected / (double)ps->stats.rows_read;
    if (ratio > src->max_reject_ratio) {
        snprintf(buf, len, "%llu of %llu lines rejected (%.0f%%), above max_reject_ratio %.2f",
                 (unsigned long long)ps->stats.rows_rejected,
                 (unsigned long long)ps->stats.rows_read, ratio * 100, src->max_reject_ratio);
        return buf;
    }
    return NULL;
}

void file_import(struct db *db, const struct cdr_source *src, struct profile *prof,
                 const char *path, const struct file_opts *o, struct file_result *r)
{
    double t0 = cdr_monotonic();
    int fd = -1;
    struct load *ld = NULL;
    struct checksum *ck = NULL;
    char err[CDR_ERRLEN];

    memset(r, 0, sizeof *r);
    r->lock_fd = -1;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (o->follow_links ? 0 : O_NOFOLLOW));
    if (fd < 0) {
        if (errno == ENOENT) {
            set_result(r, FILE_SKIPPED, "gone before it could be read");
        } else {
            r->status = FILE_UNREADABLE;
            snprintf(r->error, sizeof r->error, "cannot open: %s",
                     errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        }
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        r->status = FILE_UNREADABLE;
        snprintf(r->error, sizeof r->error, "not a regular file (%s)",
                 S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" : "special");
        goto out;
    }
    if (fcntl(fd, F_SETFL, 0) < 0) { /* regular file: back to blocking reads */
        r->status = FILE_UNREADABLE;
        snprintf(r->error, sizeof r->error, "fcntl: %s", strerror(errno));
        goto out;
    }
    /* Claim: two overlapping scans (or watchers) on one host never read the
     * same file at once; across hosts the database's key still holds. */
    if (!o->dry_run && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        set_result(r, FILE_SKIPPED, "being imported by another process");
        goto out;
    }
    /* Still the file at this path? Another importer may have moved it
     * away between our open and our lock. */
    struct stat now;
    if (stat(path, &now) < 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
        set_result(r, FILE_SKIPPED, "moved away by another importer");
        goto out;
    }

    ck = checksum_create();
    if (checksum_fd(ck, fd, r->sha256, &r->size) < 0) {
        r->status = FILE_UNREADABLE;
        snprintf(r->error, sizeof r->error, "read error: %s", strerror(errno));
        goto out;
    }

    for (int attempt = 0;; attempt++) {
        enum load_status ls;
        if (db && !o->force) {
            bool known = false;
            ls = ledger_file_known(db, src->name, r->sha256, &known, err, sizeof err);
            /* A dry run does not create the schema: on a database without
             * it (not yet init-db'd) no file is known yet. */
            if (ls == LOAD_ERROR && o->dry_run) {
                known = false;
            } else if (ls != LOAD_OK) {
                set_result(r, db_failure(ls), err);
                goto out;
            }
            if (known) {
                r->status = FILE_DUPLICATE;
                if (!o->dry_run) {
                    ls = ledger_record_file(db, src->name, path, r->sha256, r->size, "duplicate",
                                            NULL, err, sizeof err);
                    if (ls != LOAD_OK) {
                        set_result(r, db_failure(ls), err);
                    }
                }
                goto out;
            }
        }
        if (!o->dry_run) {
            ls = load_begin(db, src->name, src->timezone, path, r->sha256, r->size, attempt > 0,
                            &ld, err, sizeof err);
            if (ls != LOAD_OK) {
                set_result(r, db_failure(ls), err);
                goto out;
            }
        }
        struct pass ps = {.path = path, .prof = prof, .ld = ld, .st = LOAD_OK};
        int rc = parse_pass(fd, &ps, src, r->sha256, o, r->size);
        r->stats = ps.stats;
        if (rc == -1) {
            r->status = FILE_UNREADABLE;
            snprintf(r->error, sizeof r->error, "read error: %s", strerror(errno));
            goto out;
        }
        if (rc == -2) {
            set_result(r, FILE_SKIPPED, "changed while being read; will retry");
            goto out;
        }
        if (rc == -4) {
            set_result(r, FILE_SKIPPED, "interrupted; rolled back, will be read again");
            goto out;
        }
        if (rc == -3 && ps.st == LOAD_CONFLICT && attempt < CONFLICT_RETRIES) {
            /* Another importer committed some of these rows first: start
             * over; they will be seen as duplicates now. */
            load_close(ld);
            ld = NULL;
            continue;
        }
        if (rc == -3) {
            set_result(r, db_failure(ps.st), load_error(ld));
            goto out;
        }
        char why[CDR_ERRLEN];
        const char *bad = verdict(&ps, src, why, sizeof why);
        if (o->dry_run) {
            r->status = bad ? FILE_FAILED : FILE_IMPORTED;
            if (bad)
                snprintf(r->error, sizeof r->error, "%s", bad);
            goto out;
        }
        if (bad) {
            /* None of its rows are kept, but its bad lines are: roll back,
             * then record the failure and the rejects in a new transaction. */
            load_close(ld);
            ld = NULL;
            ls = load_begin(db, src->name, src->timezone, path, r->sha256, r->size, attempt > 0,
                            &ld, err, sizeof err);
            if (ls != LOAD_OK) {
                set_result(r, db_failure(ls), err);
                goto out;
            }
            struct pass again = {.path = path, .prof = prof, .ld = ld, .rejects_only = true};
            rc = parse_pass(fd, &again, src, r->sha256, o, r->size);
            if (rc != 0) {
                r->status = rc == -3 ? db_failure(again.st) : FILE_SKIPPED;
                snprintf(r->error, sizeof r->error, "%s",
                         rc == -3 ? load_error(ld) : "changed while being read; will retry");
                goto out;
            }
            again.stats.rows_rejected = ps.stats.rows_rejected;
            ls = load_commit(ld, "failed", bad, &again.stats);
            if (ls != LOAD_OK) {
                set_result(r, db_failure(ls), load_error(ld));
                goto out;
            }
            r->stats = ps.stats;
            r->stats.rows_inserted = 0;
            r->stats.rows_duplicate = 0;
            r->status = FILE_FAILED;
            snprintf(r->error, sizeof r->error, "%s", bad);
            goto out;
        }
        ls = load_commit(ld, "imported", NULL, &ps.stats);
        if (ls == LOAD_CONFLICT && attempt < CONFLICT_RETRIES) {
            load_close(ld);
            ld = NULL;
            continue;
        }
        if (ls != LOAD_OK) {
            set_result(r, db_failure(ls), load_error(ld));
            goto out;
        }
        r->stats = ps.stats;
        r->status = FILE_IMPORTED;
        goto out;
    }
out:
    load_close(ld);
    checksum_destroy(ck);
    /* The lock is held until the caller has moved the file, so that no
     * other importer picks it up in between. */
    r->lock_fd = fd;
    r->ms = (cdr_monotonic() - t0) * 1e3;
}

void file_release(struct file_result *r)
{
    if (r->lock_fd >= 0)
        close(r->lock_fd); /* releases the flock */
    r->lock_fd = -1;
}
