/*
 * packed.c - one packed download through the pipeline (see packed.h): the
 * steps around the archive, while file_import_input takes each CDR member
 * through its own (checksum learnt while parsing, one transaction, rejects
 * kept). The order reads top to bottom in packed_import: the archive's
 * checksum, its entries one by one (skipped, failed before a byte is read,
 * or imported), then its own ledger row and the caller's result.
 */
#include "packed.h"
#include "input.h"
#include "input_archive.h"
#include "ledger.h"
#include "log.h"
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One archive's import: what the steps share. */
struct packed {
    struct db *db;
    const struct cdr_source *src;
    struct profile *prof;
    struct input *in;             /* the archive */
    const struct file_opts *o;
    struct file_result *r;
    struct input_archive *ar;
    unsigned failed;              /* CDR members that failed */
    char first_failed[CDR_ERRLEN];/* "NAME: why" of the first, for the one-line error */
    char damage[CDR_ERRLEN];      /* the first damage to the archive, and where */
    bool stopped;                 /* before the end: stop_status says why */
    enum file_status stop_status; /* FILE_DB_DOWN, FILE_SKIPPED, FILE_IO_ERROR or FILE_FAILED */
    size_t notes_len;
};

static enum file_status db_failure(enum load_status st)
{
    return st == LOAD_DB_DOWN ? FILE_DB_DOWN : FILE_FAILED;
}

static void stop(struct packed *pk, enum file_status st, const char *why)
{
    pk->stopped = true;
    pk->stop_status = st;
    snprintf(pk->r->error, sizeof pk->r->error, "%s", why);
}

/* One line of the .error note: "<what> NAME: why", outside text escaped. */
static void note(struct packed *pk, const char *what, const char *name, const char *why)
{
    char *n = cdr_escape(name, strlen(name));
    char *w = cdr_escape(why, strlen(why));
    char *line = xasprintf("%s %s: %s\n", what, n, w);
    size_t k = strlen(line);
    pk->r->notes = xrealloc(pk->r->notes, pk->notes_len + k + 1);
    memcpy(pk->r->notes + pk->notes_len, line, k + 1);
    pk->notes_len += k;
    free(line);
    free(n);
    free(w);
}

static void damaged(struct packed *pk, const char *why, const char *where, const char *name)
{
    char line[CDR_ERRLEN];
    if (name)
        snprintf(line, sizeof line, "%.300s (%s %.150s)", why, where, name);
    else
        snprintf(line, sizeof line, "%s", why);
    if (!pk->damage[0])
        snprintf(pk->damage, sizeof pk->damage, "%s", line);
    note(pk, "archive", input_name(pk->in), line);
}

/* A CDR member that failed. record: file.c has not written its ledger row
 * (it was never read, or its read was stopped and rolled back). */
static void member_failed(struct packed *pk, const char *name, int64_t size, const char *why,
                          bool record)
{
    if (pk->failed++ == 0)
        snprintf(pk->first_failed, sizeof pk->first_failed, "%.150s: %.300s", name, why);
    note(pk, "member", name, why);
    if (!record || !pk->db || pk->o->dry_run)
        return;
    char err[CDR_ERRLEN];
    enum load_status ls = ledger_record_file(pk->db, pk->src->name, input_name(pk->in), name, "",
                                             size > 0 ? (uint64_t)size : 0, "failed", why, err,
                                             sizeof err);
    if (ls != LOAD_OK)
        stop(pk, db_failure(ls), err);
}

/* Report a member that ends before file.c sees it (the caller's log line). */
static void report(struct packed *pk, const char *name, enum file_status st, const char *why)
{
    if (!pk->o->member)
        return;
    struct file_result mr = {.status = st};
    snprintf(mr.error, sizeof mr.error, "%s", why);
    char *full = xasprintf("%s:%s", input_name(pk->in), name);
    pk->o->member(pk->o->progress_ctx, full, &mr);
    free(full);
}

static void skip(struct packed *pk, const char *name)
{
    char why[CDR_ERRLEN];
    if (input_archive_skip(pk->ar, why, sizeof why) < 0)
        damaged(pk, why, "in", name);
}

/* A name that says archive or compressed file. */
static bool packed_name(const char *name)
{
    static const char *const ext[] = {".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z",
                                      ".rar"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t k = strlen(ext[i]);
        if (n > k && !strcasecmp(name + n - k, ext[i]))
            return true;
    }
    return false;
}

static void add_stats(struct load_stats *to, const struct load_stats *s)
{
    to->rows_read += s->rows_read;
    to->rows_inserted += s->rows_inserted;
    to->rows_duplicate += s->rows_duplicate;
    to->rows_rejected += s->rows_rejected;
    to->rows_repaired += s->rows_repaired;
}

/* A CDR member's bytes through file_import_input. */
static void import_member(struct packed *pk, const char *name)
{
    bool nested;
    struct input *m = input_archive_member(pk->ar, &nested);
    if (nested) {
        log_info("skipped %s: an archive inside an archive is not opened", input_name(m));
        pk->r->members--;
        input_close(m);
        skip(pk, name);
        return;
    }
    if (pk->o->member)
        pk->o->member(pk->o->progress_ctx, input_name(m), NULL);
    struct file_result mr;
    file_import_input(pk->db, pk->src, pk->prof, m, pk->o, &mr);
    const char *cut = mr.status != FILE_UNREADABLE ? input_why(m) : NULL;
    switch (mr.status) {
    case FILE_IMPORTED:
    case FILE_DUPLICATE:
        add_stats(&pk->r->stats, &mr.stats);
        break;
    case FILE_FAILED:
        add_stats(&pk->r->stats, &mr.stats);
        member_failed(pk, name, input_size(m), mr.error, false);
        break;
    case FILE_UNREADABLE:
        member_failed(pk, name, input_size(m), mr.error, true);
        break;
    case FILE_DB_DOWN:
    case FILE_SKIPPED:
    case FILE_IO_ERROR: /* the archive's disk: all of it is read again later */
        stop(pk, mr.status, mr.error);
        break;
    }
    if (cut && !pk->stopped)
        damaged(pk, cut, "in", name);
    if (pk->o->member)
        pk->o->member(pk->o->progress_ctx, input_name(m), &mr);
    file_release(&mr); /* closes m */
}

/* One entry: skipped, failed unread, or imported. */
static void entry(struct packed *pk, const struct input_archive_entry *e)
{
    const char *arch = input_name(pk->in);
    char why[CDR_ERRLEN];
    if (!e->regular) {
        log_debug("skipped %s:%s: not a file", arch, e->name);
        skip(pk, e->name);
        return;
    }
    /* The one file of a compressed stream is the download itself. */
    if (!e->single && !source_member_matches(pk->src, e->name)) {
        if (packed_name(e->name))
            log_info("skipped %s:%s: an archive inside an archive is not opened", arch, e->name);
        else
            log_debug("skipped %s:%s: not a CDR file (see members)", arch, e->name);
        skip(pk, e->name);
        return;
    }
    pk->r->members++;
    if (e->encrypted) {
        member_failed(pk, e->name, e->size, "encrypted: not supported", true);
        report(pk, e->name, FILE_FAILED, "encrypted: not supported");
        skip(pk, e->name);
        return;
    }
    if (e->size >= 0 && (uint64_t)e->size > pk->src->max_member_bytes) {
        snprintf(why, sizeof why, "declares %lld bytes, more than max_member_bytes (%zu): not read",
                 (long long)e->size, pk->src->max_member_bytes);
        member_failed(pk, e->name, e->size, why, true);
        report(pk, e->name, FILE_FAILED, why);
        skip(pk, e->name);
        return;
    }
    import_member(pk, e->name);
}

/* A known archive is a duplicate, never expanded. True when the import is
 * over (a duplicate, or the database could not say). */
static bool known_archive(struct packed *pk)
{
    struct file_result *r = pk->r;
    char err[CDR_ERRLEN];
    bool known = false;
    if (!pk->db || pk->o->force)
        return false;
    enum load_status ls = ledger_file_known(pk->db, pk->src->name, r->sha256, &known, err,
                                            sizeof err);
    if (ls == LOAD_ERROR && pk->o->dry_run)
        return false; /* no schema yet: nothing is known */
    if (ls != LOAD_OK) {
        r->status = db_failure(ls);
        snprintf(r->error, sizeof r->error, "%s", err);
        return true;
    }
    if (!known)
        return false;
    r->status = FILE_DUPLICATE;
    if (!pk->o->dry_run) {
        ls = ledger_record_file(pk->db, pk->src->name, input_name(pk->in), NULL, r->sha256,
                                r->size, "duplicate", NULL, err, sizeof err);
        if (ls != LOAD_OK) {
            r->status = db_failure(ls);
            snprintf(r->error, sizeof r->error, "%s", err);
        }
    }
    return true;
}

/* The archive's outcome, and its own ledger row once every CDR member is
 * committed or recorded as failed. */
static void conclude(struct packed *pk)
{
    struct file_result *r = pk->r;
    if (pk->stopped) {
        r->status = pk->stop_status;
        return;
    }
    if (pk->failed && pk->damage[0])
        snprintf(r->error, sizeof r->error,
                 "%u of %u CDR members failed (%.200s); damaged archive: %.200s", pk->failed,
                 r->members, pk->first_failed, pk->damage);
    else if (pk->failed)
        snprintf(r->error, sizeof r->error, "%u of %u CDR members failed (%.450s)", pk->failed,
                 r->members, pk->first_failed);
    else if (pk->damage[0])
        snprintf(r->error, sizeof r->error, "damaged archive: %.480s", pk->damage);
    bool bad = pk->failed || pk->damage[0];
    r->status = bad ? FILE_FAILED : FILE_IMPORTED;
    if (!pk->db || pk->o->dry_run)
        return;
    char err[CDR_ERRLEN];
    enum load_status ls = ledger_record_file(pk->db, pk->src->name, input_name(pk->in), NULL,
                                             r->sha256, r->size, bad ? "failed" : "imported",
                                             bad ? r->error : NULL, err, sizeof err);
    if (ls != LOAD_OK) {
        r->status = db_failure(ls);
        snprintf(r->error, sizeof r->error, "%s", err);
    }
}

void packed_import(struct db *db, const struct cdr_source *src, struct profile *prof,
                   struct input *in, const struct file_opts *o, struct file_result *r)
{
    struct packed pk = {.db = db, .src = src, .prof = prof, .in = in, .o = o, .r = r};
    char why[CDR_ERRLEN];
    r->packed = true;
    if (input_hash_all(in, r->sha256, &r->size) < 0) {
        r->status = FILE_IO_ERROR;
        snprintf(r->error, sizeof r->error, "read error: %s", strerror(errno));
        return;
    }
    if (known_archive(&pk))
        return;
    pk.ar = input_archive_open(in, src->max_member_bytes, why, sizeof why);
    if (!pk.ar) {
        damaged(&pk, why, NULL, NULL);
    } else {
        struct input_archive_entry e;
        char *last = NULL;
        int rc;
        while (!pk.stopped && (rc = input_archive_next(pk.ar, &e, why, sizeof why)) != 0) {
            if (rc < 0) {
                /* Damage inside a member was noted with it already. */
                if (!pk.damage[0])
                    damaged(&pk, why, "after", last);
                break;
            }
            free(last);
            last = xstrdup(e.name);
            e.name = last; /* a member's rewind reads the entries again */
            entry(&pk, &e);
        }
        free(last);
    }
    conclude(&pk);
    input_archive_close(pk.ar);
}
