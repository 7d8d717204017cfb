/*
 * file.c - one input through the pipeline, in four steps that read top to
 * bottom in file_import: claim it (input_file.c: no links out of the tree,
 * no FIFOs, flock against concurrent importers), skip it if its checksum is
 * already known, parse -> profile -> load it in one transaction (a pass,
 * pass.c; retried when a concurrent importer stored some rows first), and,
 * when too many lines are bad, record the failure with its rejects kept
 * verbatim.
 *
 * A plain file is read twice: a checksum pass (cheap, and a known file stops
 * there), then the parse pass, which hashes again as it reads (input.h) so
 * that a file changed in between is noticed and rolled back rather than
 * half-imported. The next file of a run may have had its claim and its
 * checksum pass early, on a helper thread (file_claim_early, prefetch.h).
 * An input that cannot afford the first pass, or a large file no imported
 * file of its source matches in size (it cannot be a known one), learns
 * its checksum in the parse pass and rolls back as a duplicate if it is
 * known.
 * A file whose first bytes are an archive's goes to packed.c instead, which
 * brings each of its CDR members back here as an input of its own.
 */
#include "file.h"
#include "detect.h"
#include "input.h"
#include "input_archive.h"
#include "ledger.h"
#include "log.h"
#include "packed.h"
#include "pass.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFLICT_RETRIES 5

const char *file_status_name(enum file_status st)
{
    static const char *const names[] = {"imported", "duplicate", "failed",
                                        "database down", "skipped", "unreadable",
                                        "read error"};
    return (unsigned)st <= FILE_IO_ERROR ? names[st] : "?";
}

/* One file's import: what the steps share. */
struct import {
    struct db *db;
    const struct cdr_source *src;
    struct profile *prof;
    const char *name;         /* for messages: the path, or ARCHIVE:MEMBER */
    const char *path;         /* for the ledger: the file's, or its archive's */
    const char *member;       /* for the ledger: the path inside the archive, or NULL */
    const struct file_opts *o;
    struct file_result *r;
    struct input *in;
    bool prehashed;           /* r->sha256 known before the parse pass */
    const char *format;       /* for the ledger: the profile the file is read with */
};

/* One pass over the input (pass.h). Its checksum becomes the file's when
 * none was known before the pass; one that was known must be what the pass
 * read, or the file changed in between and is left for the next run. */
static enum pass_end parse_pass(struct import *im, struct load *ld, bool rejects_only,
                                struct pass_result *pr)
{
    const struct pass_spec spec = {
        .in = im->in, .name = im->name, .max_line_bytes = im->src->max_line_bytes,
        .prof = im->prof, .ld = ld, .rejects_only = rejects_only,
        .progress = im->o->progress, .progress_ctx = im->o->progress_ctx};
    enum pass_end end = pass_run(&spec, pr);
    if (end != PASS_DONE)
        return end;
    if (!im->prehashed) {
        memcpy(im->r->sha256, pr->sha256, sizeof pr->sha256);
        im->r->size = pr->size;
    } else if (strcmp(pr->sha256, im->r->sha256) != 0) {
        end = PASS_CHANGED;
    }
    return end;
}

static void set_result(struct file_result *r, enum file_status st, const char *why)
{
    r->status = st;
    snprintf(r->error, sizeof r->error, "%s", why);
}

/* The database's answer as the file's result. A conflict still there after
 * every retry is other importers', not the file's: it is skipped, to be
 * read again by the next run, and nothing else stops for it; so is a file
 * whose retry was told to stop while it waited. */
static void db_failed(struct file_result *r, enum load_status st, const char *why)
{
    if (st != LOAD_CONFLICT) {
        set_result(r, st == LOAD_DB_DOWN     ? FILE_DB_DOWN
                      : st == LOAD_CANCELLED ? FILE_SKIPPED
                                             : FILE_FAILED, why);
        return;
    }
    r->status = FILE_SKIPPED;
    snprintf(r->error, sizeof r->error, "its rows still met other importers' after %d retries: "
             "left for the next run (%.400s)", CONFLICT_RETRIES, why);
}

/* A read that failed with errno: the disk's, not the file's (read again). */
static void read_error(struct file_result *r)
{
    r->status = FILE_IO_ERROR;
    snprintf(r->error, sizeof r->error, "read error: %s", strerror(errno));
}

/* Decide whether a parsed file is acceptable: why not, or NULL. */
static const char *verdict(const struct pass_result *ps, const struct cdr_source *src, char *buf,
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

/* Why a pass that did not end PASS_DONE stopped, as the file's result. */
static void pass_failed(struct import *im, enum pass_end end, const struct pass_result *ps,
                        const struct load *ld)
{
    struct file_result *r = im->r;
    switch (end) {
    case PASS_DONE:
        break;
    case PASS_READ_ERROR:
        /* An input may say better than errno (an archive member stopped
         * at an expansion limit): that is the file's own. A bare errno
         * (EIO) is the disk's, and the file is read again later. */
        if (input_why(im->in)) {
            r->status = FILE_UNREADABLE;
            snprintf(r->error, sizeof r->error, "%s", input_why(im->in));
        } else {
            read_error(r);
        }
        break;
    case PASS_CHANGED:
        set_result(r, FILE_SKIPPED, "changed while being read; will retry");
        break;
    case PASS_CANCELLED:
        set_result(r, FILE_SKIPPED, "interrupted; rolled back, will be read again");
        break;
    case PASS_LOAD_FAILED:
        db_failed(r, ps->st, load_error(ld));
        break;
    case PASS_NO_PARSER:
        set_result(r, FILE_FAILED, "cannot set up the CSV parser");
        break;
    }
}

/* Step 1: open and lock the file (false with r saying why not). */
static bool claim_path(const char *path, const struct file_opts *o, struct input **in,
                       struct file_result *r)
{
    char why[CDR_ERRLEN];
    switch (input_file_claim(path, o->follow_links, !o->dry_run, in, why, sizeof why)) {
    case INPUT_CLAIMED:
        return true;
    case INPUT_GONE:
    case INPUT_BUSY:
    case INPUT_MOVED:
        set_result(r, FILE_SKIPPED, why);
        return false;
    case INPUT_UNREADABLE:
        set_result(r, FILE_UNREADABLE, why);
        return false;
    case INPUT_IO_ERROR:
        set_result(r, FILE_IO_ERROR, why);
        return false;
    }
    return false;
}

static bool claim(struct import *im)
{
    return claim_path(im->path, im->o, &im->in, im->r);
}

/* Files at least this large skip the checksum pass when no imported file
 * of their source has their size: the pass costs about 0.7 ms a MiB (a
 * 164 MB file: 0.11 s before its first row could go), the question one
 * round trip. A smaller file is hashed first: that is cheaper than asking. */
#define PREHASH_ASK_BYTES (4 << 20)

/* Whether a checksum pass could find the file known: false for a large
 * file whose size no imported file of its source has. That file is read
 * once, as an input that cannot rewind is, and its checksum checked at
 * the end of the parse pass (streamed_duplicate). */
static bool worth_prehash(struct import *im)
{
    int64_t size = input_size(im->in);
    if (!im->db || im->o->dry_run || im->o->force || size < PREHASH_ASK_BYTES)
        return true;
    char err[CDR_ERRLEN];
    bool known = true;
    /* The database cannot say: hash first, as before; the import's own
     * transaction will meet the outage. */
    if (ledger_size_known(im->db, im->src->name, (uint64_t)size, &known, err, sizeof err) !=
        LOAD_OK)
        return true;
    return known;
}

/* Whether the input can afford a checksum pass at all. */
static bool can_prehash(struct input *in)
{
    return input_can_rewind(in) && !input_rewind_costly(in);
}

/* The checksum pass, where the input can afford one and needs it (done
 * already for a file claimed early). */
static bool prehash(struct import *im)
{
    if (im->prehashed || !can_prehash(im->in) || !worth_prehash(im))
        return true;
    if (input_hash_all(im->in, im->r->sha256, &im->r->size) < 0) {
        read_error(im->r);
        return false;
    }
    im->prehashed = true;
    return true;
}

/* Whether the checksum in r is already imported for this source (false
 * with the result set when the database could not say). */
static bool checksum_known(struct import *im, bool *known)
{
    char err[CDR_ERRLEN];
    *known = false;
    enum load_status ls = ledger_file_known(im->db, im->src->name, im->r->sha256, known, err,
                                            sizeof err);
    /* A dry run does not create the schema: on a database without it (not
     * yet init-db'd) no file is known yet. */
    if (ls == LOAD_ERROR && im->o->dry_run)
        return true;
    if (ls != LOAD_OK) {
        db_failed(im->r, ls, err);
        return false;
    }
    return true;
}

/* The input is a duplicate: say so in the ledger (its own transaction). */
static void record_duplicate(struct import *im)
{
    struct file_result *r = im->r;
    char err[CDR_ERRLEN];
    r->status = FILE_DUPLICATE;
    if (im->o->dry_run)
        return;
    enum load_status ls = ledger_record_file(im->db, im->src->name, im->path, im->member,
                                             r->sha256, r->size, "duplicate", NULL, err,
                                             sizeof err);
    if (ls != LOAD_OK)
        db_failed(r, ls, err);
}

/* Step 2: a checksum known before the parse (a plain file's) that is
 * already imported makes the file a duplicate. Answers true when the
 * import is over, either way. Only a dry run asks here: an import asks as
 * its transaction begins (attempt), which saves a round trip a file. */
static bool known_checksum(struct import *im)
{
    bool known;
    if (!im->db || im->o->force || !im->prehashed || !im->o->dry_run)
        return false;
    if (!checksum_known(im, &known))
        return true;
    if (known)
        record_duplicate(im);
    return known;
}

/* Step 4: too many bad lines. None of the file's rows are kept, but its bad
 * lines are: a second pass in a new transaction stores only the rejects,
 * with the ledger row saying why. */
static void record_failure(struct import *im, const struct pass_result *first, const char *bad,
                           bool careful)
{
    struct file_result *r = im->r;
    struct load *ld = NULL;
    char err[CDR_ERRLEN];
    enum load_status ls = load_begin(im->db, im->src->name, im->src->timezone, im->path,
                                     im->member, im->format, r->sha256, r->size, careful, NULL,
                                     &ld, err, sizeof err);
    if (ls != LOAD_OK) {
        db_failed(r, ls, err);
        return;
    }
    struct pass_result again;
    enum pass_end end = parse_pass(im, ld, true, &again);
    if (end != PASS_DONE) {
        pass_failed(im, end, &again, ld);
    } else {
        again.stats.rows_rejected = first->stats.rows_rejected;
        ls = load_commit(ld, "failed", bad, r->sha256, r->size, &again.stats);
        if (ls != LOAD_OK) {
            db_failed(r, ls, load_error(ld));
        } else {
            r->stats = first->stats;
            r->stats.rows_inserted = 0;
            r->stats.rows_duplicate = 0;
            set_result(r, FILE_FAILED, bad);
        }
    }
    load_close(ld);
}

/* An input read once (no checksum pass) learns its checksum at the end of
 * the parse pass: if that checksum is already imported, its transaction is
 * rolled back and it is recorded as a duplicate. True when it was one (or
 * the database could not say: the result is set either way). */
static bool streamed_duplicate(struct import *im, struct load **ld)
{
    bool known;
    if (checksum_known(im, &known) && !known)
        return false;
    load_close(*ld);
    *ld = NULL;
    if (known) {
        im->r->stats = (struct load_stats){0};
        record_duplicate(im);
    }
    return true;
}

/* A file that failed under a fixed format it is not in: its failure says
 * which format it looks like and which key to set (detect.h). */
static void add_hint(struct import *im, char *why, size_t len)
{
    struct detect_result d;
    char hint[CDR_ERRLEN / 2];
    if (im->src->format == CDR_FMT_AUTO ||
        detect_input(im->in, im->src->max_line_bytes, &d) < 0 ||
        !detect_hint(&d, im->src->format, im->src->name, hint, sizeof hint))
        return;
    size_t used = strlen(why);
    if (used + 2 < len)
        snprintf(why + used, len - used, "; %.*s", (int)(len - used - 3), hint);
}

/* Step 3: one parse-and-load attempt in one transaction. Returns true when
 * a concurrent importer stored some of the rows first and the attempt may
 * be made again (they will be seen as duplicates then). */
static bool attempt(struct import *im, bool careful, bool last)
{
    struct file_result *r = im->r;
    struct load *ld = NULL;
    char err[CDR_ERRLEN], why[CDR_ERRLEN];
    bool retry = false;
    /* An input hashed in its parse pass has no checksum until that pass
     * ends. One a failed attempt learnt must not reach the new ledger row:
     * the end-of-pass check (streamed_duplicate) would find that very row,
     * imported in this transaction, and call the file a duplicate. */
    if (!im->prehashed)
        r->sha256[0] = '\0';
    if (!im->o->dry_run) {
        /* A checksum known before the parse is asked about as the
         * transaction begins, in the same round trip (step 2). */
        bool known = false, ask = im->prehashed && !im->o->force;
        enum load_status ls = load_begin(im->db, im->src->name, im->src->timezone, im->path,
                                         im->member, im->format, r->sha256, r->size, careful,
                                         ask ? &known : NULL, &ld, err, sizeof err);
        if (ls != LOAD_OK) {
            db_failed(r, ls, err);
            return false;
        }
        if (known) {
            record_duplicate(im);
            return false;
        }
    }
    struct pass_result ps;
    enum pass_end end = parse_pass(im, ld, false, &ps);
    /* A first attempt learns whether its transaction opened, and whether
     * the checksum is known, only as its first rows go (load_begin). */
    bool known_late = false;
    enum load_status opened = ld ? load_opened(ld, &known_late) : LOAD_OK;
    if (known_late || opened != LOAD_OK) {
        if (!known_late)
            db_failed(r, opened, load_error(ld));
        load_close(ld);
        if (known_late)
            record_duplicate(im); /* its own transaction */
        return false;
    }
    r->stats = ps.stats;
    const char *bad = end == PASS_DONE ? verdict(&ps, im->src, why, sizeof why) : NULL;
    if (bad)
        add_hint(im, why, sizeof why);
    /* An input read once asks about its checksum now, over the connection
     * the loader thread may still be sending the last batches on: it must
     * have finished first. */
    bool streamed = end == PASS_DONE && !im->prehashed && im->db && !im->o->force;
    enum load_status settled = streamed && ld ? load_settle(ld) : LOAD_OK;
    if (end == PASS_LOAD_FAILED && ps.st == LOAD_CONFLICT && !last) {
        retry = true;
    } else if (end != PASS_DONE) {
        pass_failed(im, end, &ps, ld);
    } else if (settled == LOAD_CONFLICT && !last) {
        retry = true;
    } else if (settled != LOAD_OK) {
        db_failed(r, settled, load_error(ld));
    } else if (streamed && streamed_duplicate(im, &ld)) {
        /* the result is set */
    } else if (im->o->dry_run) {
        set_result(r, bad ? FILE_FAILED : FILE_IMPORTED, bad ? bad : "");
    } else if (bad) {
        load_close(ld);
        ld = NULL;
        record_failure(im, &ps, bad, careful);
    } else {
        /* Bytes cut short are imported as a truncated file is, the ledger
         * row saying why its last line was rejected. */
        if (input_why(im->in))
            snprintf(why, sizeof why, "cut short by damage to the archive: %s",
                     input_why(im->in));
        enum load_status ls = load_commit(ld, "imported", input_why(im->in) ? why : NULL,
                                          r->sha256, r->size, &ps.stats);
        if (ls == LOAD_CONFLICT && !last)
            retry = true;
        else if (ls != LOAD_OK)
            db_failed(r, ls, load_error(ld));
        else {
            r->stats = ps.stats;
            r->status = FILE_IMPORTED;
        }
    }
    load_close(ld);
    return retry;
}

/* format auto: the profile this file is read with, from its first records;
 * a choice that was not clear-cut is logged with its reason. */
static bool choose_format(struct import *im)
{
    struct detect_result d;
    im->format = profile_format_name(im->src->format);
    if (im->src->format != CDR_FMT_AUTO)
        return true;
    if (detect_input(im->in, im->src->max_line_bytes, &d) < 0) {
        /* Says nothing about the data: the file stays and is read again. */
        read_error(im->r);
        return false;
    }
    im->prof = profile_variant(im->prof, d.fmt);
    im->format = profile_format_name(d.fmt);
    if (d.ambiguous || !d.known)
        log_info("%s: format auto: %s: %s", im->name, im->format, d.reason);
    else
        log_debug("%s: format auto: %s: %s", im->name, im->format, d.reason);
    return true;
}

/* Steps 2 to 4 for a claimed input (or packed.c's, for an archive). */
static void import_claimed(struct import *im)
{
    /* Hashed already: by file_claim_early, which hashes no packed file. */
    int packed = im->prehashed ? 0 : input_archive_is_packed(im->in);
    if (packed < 0) {
        /* A read error must not pass for a short file: a zip whose first
         * bytes could not be read would be parsed as CSV and fail. */
        read_error(im->r);
        return;
    }
    if (packed) {
        packed_import(im->db, im->src, im->prof, im->in, im->o, im->r);
        return;
    }
    if (!choose_format(im) || !prehash(im))
        return;
    /* The known-checksum check is made again before every attempt (in
     * load_begin but for a dry run): the importer whose rows conflicted
     * with ours may have been importing this very file. */
    for (int n = 0; !known_checksum(im) && attempt(im, n > 0, n == CONFLICT_RETRIES); n++)
        log_info("%s: some of its rows were stored meanwhile (the primary key refused them): "
                 "reading it again, every row checked", im->name);
}

/* Steps 1 to 4, or 2 to 4 for an input already open (im->in). The claim
 * is held until the caller has moved the file (file_release), so that no
 * other importer picks it up in between. */
static void run(struct import *im, const struct file_early *e)
{
    double t0 = cdr_monotonic();
    if (e) {
        *im->r = e->r;
        im->prehashed = e->hashed;
    } else {
        memset(im->r, 0, sizeof *im->r);
    }
    if (e ? !e->failed : im->in || claim(im))
        import_claimed(im);
    im->r->input = im->in;
    im->r->ms = (cdr_monotonic() - t0) * 1e3;
}

void file_import(struct db *db, const struct cdr_source *src, struct profile *prof,
                 const char *path, const struct file_opts *o, struct file_result *r)
{
    run(&(struct import){.db = db, .src = src, .prof = prof, .name = path, .path = path,
                         .o = o, .r = r}, NULL);
}

/* What prehash would hash without asking the database (worth_prehash): a
 * small file that is not packed. A claimed input is left at its first
 * byte. */
void file_claim_early(const char *path, const struct file_opts *o, struct file_early *e)
{
    *e = (struct file_early){0};
    if (!claim_path(path, o, &e->in, &e->r)) {
        e->failed = true;
        return;
    }
    if (!can_prehash(e->in) || input_size(e->in) >= PREHASH_ASK_BYTES)
        return;
    int packed = input_archive_is_packed(e->in);
    if (packed == 0 && input_hash_all(e->in, e->r.sha256, &e->r.size) == 0) {
        e->hashed = true;
    } else if (packed != 1) {
        read_error(&e->r);
        e->failed = true;
    }
}

void file_import_early(struct db *db, const struct cdr_source *src, struct profile *prof,
                       const char *path, struct file_early *e, const struct file_opts *o,
                       struct file_result *r)
{
    run(&(struct import){.db = db, .src = src, .prof = prof, .name = path, .path = path,
                         .o = o, .r = r, .in = e->in}, e);
    e->in = NULL; /* r->input now */
}

void file_import_input(struct db *db, const struct cdr_source *src, struct profile *prof,
                       struct input *in, const struct file_opts *o, struct file_result *r)
{
    run(&(struct import){.db = db, .src = src, .prof = prof, .name = input_name(in),
                         .path = input_path(in), .member = input_member(in), .o = o, .r = r,
                         .in = in}, NULL);
}

void file_release(struct file_result *r)
{
    input_close(r->input); /* releases the flock */
    r->input = NULL;
    free(r->notes);
    r->notes = NULL;
}
