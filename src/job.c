/*
 * job.c - one file through file -> finish, with the totals and the report
 * (see job.h). Shared by `import`, `scan` and `watch`. A run of several
 * files (job_run) has each next one claimed while the one before is
 * imported (prefetch.h).
 */
#include "job.h"
#include "finish.h"
#include "input.h"
#include "log.h"
#include "prefetch.h"
#include "schema.h"
#include "trunks.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool job_init(struct job *job, const struct cdr_config *cfg)
{
    job->cfg = cfg;
    job->t0 = cdr_monotonic();
    job->moved = finish_sync_create();
    job->profiles = xcalloc(cfg->nsources, sizeof *job->profiles);
    for (size_t i = 0; i < cfg->nsources; i++) {
        const struct cdr_source *s = &cfg->sources[i];
        char err[CDR_ERRLEN];
        job->profiles[i] = profile_create(s->format, s->columns, s->ncolumns, s->encoding, err,
                                          sizeof err);
        if (!job->profiles[i]) {
            log_error("%s: source %s: %s", cfg->file, s->name, err);
            return false;
        }
        profile_set_header(job->profiles[i], s->header);
    }
    return true;
}

void job_free(struct job *job)
{
    finish_sync_destroy(job->moved); /* the run's moves made durable */
    job->moved = NULL;
    if (job->profiles) {
        for (size_t i = 0; i < job->cfg->nsources; i++)
            profile_destroy(job->profiles[i]);
        free(job->profiles);
        job->profiles = NULL;
    }
}

struct db *job_connect(const struct cdr_config *cfg, bool migrate)
{
    char err[CDR_ERRLEN];
    struct db *db = db_connect(cfg, err, sizeof err);
    if (!db) {
        log_error("%s", err);
        return NULL;
    }
    if (migrate && schema_migrate(db, cfg->partition, false, err, sizeof err) != LOAD_OK) {
        log_error("cannot prepare the schema: %s", err);
        db_close(db);
        return NULL;
    }
    /* The views' zones and trunks follow importer.yaml. */
    if (migrate && trunks_publish(db, cfg, err, sizeof err) != LOAD_OK) {
        log_error("cannot record the sources' zones and trunks: %s", err);
        db_close(db);
        return NULL;
    }
    return db;
}

static bool progress(void *ctx, uint64_t done, uint64_t total, uint64_t rows)
{
    struct job *job = ctx;
    if (job->cancel && *job->cancel)
        return false;
    double t = cdr_monotonic();
    if (!job->tty || (t - job->last_draw < 0.1 && done < total))
        return true;
    job->last_draw = t;
    double el = t - job->t0;
    double mbps = el > 0 ? (double)(job->totals.bytes + done) / 1e6 / el : 0;
    double eta = mbps > 0 ? (double)(total - done) / 1e6 / mbps : 0;
    /* The file's base name; a member's after its archive's base name
     * (Master.zip:Master.csv: current is "ARCHIVE:MEMBER"). */
    const char *file = job->archive ? job->archive : job->current;
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    size_t k = strlen(file);
    char name[512];
    snprintf(name, sizeof name, "%s%s", base,
             strncmp(job->current, file, k) == 0 ? job->current + k : "");
    char safe[256]; /* the terminal sees no raw control bytes of a name */
    cdr_escape_buf(name, strlen(name), safe, sizeof safe);
    fprintf(stderr, "\r\033[K[%zu/%zu] %s %3.0f%% %llu rows %.1f MB/s ETA %.0fs",
            job->file_index + 1, job->file_count, safe,
            total ? 100.0 * (double)done / (double)total : 100.0, (unsigned long long)rows, mbps,
            eta);
    return true;
}

static void report_file(struct job *job, const char *path, const struct file_result *r,
                        const char *dest)
{
    if (job->tty)
        fputs("\r\033[K", stderr);
    const struct load_stats *s = &r->stats;
    char members[32] = "";
    if (r->packed && r->status != FILE_DUPLICATE) /* a known archive is not expanded */
        snprintf(members, sizeof members, " (%u CDR member%s)", r->members,
                 r->members == 1 ? "" : "s");
    switch (r->status) {
    case FILE_IMPORTED:
    case FILE_DUPLICATE:
        log_info("%s%s %s%s sha256=%.12s rows read=%llu new=%llu duplicate=%llu rejected=%llu "
                 "repaired=%llu %.0f ms%s%s", job->dry_run ? "dry run: " : "",
                 file_status_name(r->status), path, members, r->sha256,
                 (unsigned long long)s->rows_read,
                 (unsigned long long)s->rows_inserted, (unsigned long long)s->rows_duplicate,
                 (unsigned long long)s->rows_rejected, (unsigned long long)s->rows_repaired, r->ms,
                 dest ? " -> " : "", dest ? dest : "");
        break;
    case FILE_FAILED:
    case FILE_UNREADABLE:
        log_error("failed %s: %s%s%s", path, r->error, dest ? " -> " : "", dest ? dest : "");
        break;
    case FILE_SKIPPED:
        if (job->quiet_skip)
            log_debug("skipped %s again: %s", path, r->error);
        else
            log_info("skipped %s: %s", path, r->error);
        break;
    case FILE_IO_ERROR:
        log_error("cannot read %s: %s; nothing stored, the file stays where it is and is "
                  "read again", path, r->error);
        break;
    case FILE_DB_DOWN:
        log_error("database unreachable while importing %s: %s (file left in place)", path,
                  r->error);
        break;
    }
}

/* A packed download's member: named in the progress line as it starts, one
 * log line when done (the archive is accounted as one file, rows summed). */
static void on_member(void *ctx, const char *name, const struct file_result *r)
{
    struct job *job = ctx;
    if (!r) {
        job->current = name;
        return;
    }
    report_file(job, name, r, NULL);
    job->current = job->archive;
}

static void account(struct job *job, const struct file_result *r)
{
    struct job_totals *t = &job->totals;
    switch (r->status) {
    case FILE_IMPORTED: t->files_imported++; break;
    case FILE_DUPLICATE: t->files_duplicate++; break;
    case FILE_FAILED:
    case FILE_UNREADABLE:
    case FILE_IO_ERROR: t->files_failed++; break;
    case FILE_SKIPPED: t->files_skipped++; break;
    case FILE_DB_DOWN: job->db_down = true; break;
    }
    t->rows_read += r->stats.rows_read;
    t->rows_new += r->stats.rows_inserted;
    t->rows_dup += r->stats.rows_duplicate;
    t->rows_rejected += r->stats.rows_rejected;
    t->bytes += r->size;
}

void job_totals_merge(struct job_totals *into, const struct job_totals *from)
{
    into->files_imported += from->files_imported;
    into->files_duplicate += from->files_duplicate;
    into->files_failed += from->files_failed;
    into->files_skipped += from->files_skipped;
    into->rows_read += from->rows_read;
    into->rows_new += from->rows_new;
    into->rows_dup += from->rows_dup;
    into->rows_rejected += from->rows_rejected;
    into->bytes += from->bytes;
}

/* job_import_file for a file claimed already (e), or not (NULL). */
static enum file_status import_one(struct job *job, size_t si, const char *root,
                                   const char *path, bool finish, bool follow_links,
                                   struct file_early *e)
{
    const struct cdr_source *src = &job->cfg->sources[si];
    struct file_opts o = {.dry_run = job->dry_run, .force = job->force,
                          .follow_links = follow_links, .progress = progress,
                          .progress_ctx = job, .member = on_member};
    struct file_result r;
    job->current = job->archive = path;
    db_set_cancel(job->db, job->cancel); /* a stop ends a retry's wait too */
    if (e)
        file_import_early(job->db, src, job->profiles[si], path, e, &o, &r);
    else
        file_import(job->db, src, job->profiles[si], path, &o, &r);
    char *dest = NULL;
    if (finish && !job->dry_run) {
        char err[CDR_ERRLEN];
        int rc = 0;
        /* The file read, so that a new one renamed over it meanwhile is
         * not moved or deleted unread. */
        struct finish_id fid;
        const struct finish_id *id = input_file_id(r.input, &fid.dev, &fid.ino) ? &fid : NULL;
        if (r.status == FILE_IMPORTED || r.status == FILE_DUPLICATE)
            rc = finish_success_id(src, root, path, r.sha256, id, job->moved, &dest, err,
                                   sizeof err);
        else if (r.status == FILE_FAILED || r.status == FILE_UNREADABLE)
            rc = finish_failed_notes(src, root, path, r.sha256, r.error, r.notes, id, &dest,
                                     err, sizeof err);
        if (rc < 0)
            log_error("%s", err);
    }
    file_release(&r);
    report_file(job, path, &r, dest);
    account(job, &r);
    free(dest);
    return r.status;
}

enum file_status job_import_file(struct job *job, size_t si, const char *root, const char *path,
                                 bool finish, bool follow_links)
{
    return import_one(job, si, root, path, finish, follow_links, NULL);
}

void job_sync_moves(struct job *job)
{
    finish_sync_flush(job->moved);
}

/* Import item it, the next one (if any) being claimed meanwhile on pf's
 * thread (prefetch.h). Not the same path again: its claim would find this
 * one's lock and call it busy; claimed after this one is released, it is
 * a duplicate, as it should be. */
static enum file_status import_item(struct job *job, struct prefetch *pf,
                                    const struct job_item *it, const struct job_item *next,
                                    bool finish, bool follow_links)
{
    struct file_early e;
    bool early = pf && prefetch_take(pf, it->path, &e);
    if (pf && next && strcmp(next->path, it->path) != 0)
        prefetch_start(pf, next->path);
    return import_one(job, it->si, it->root, it->path, finish, follow_links,
                      early ? &e : NULL);
}

struct pool {
    struct job *job;
    const struct job_item *items;
    size_t n;
    atomic_size_t next;
    atomic_bool stop;
    bool finish, follow;
    pthread_mutex_t mu;
};

static void *worker(void *arg)
{
    struct pool *pool = arg;
    struct job w = {.tty = false, .dry_run = pool->job->dry_run, .force = pool->job->force,
                    .cancel = pool->job->cancel};
    struct prefetch *pf = NULL;
    if (!job_init(&w, pool->job->cfg))
        goto out;
    w.db = job_connect(pool->job->cfg, false);
    if (!w.db && !w.dry_run) {
        w.db_down = true;
        atomic_store(&pool->stop, true);
        goto out;
    }
    /* Each worker takes its next item as it starts one, to claim it
     * meanwhile: that item waits for this worker even if the other ends
     * first, so a run may end up to one file later than it could. */
    struct file_opts po = {.dry_run = w.dry_run, .follow_links = pool->follow};
    pf = prefetch_create(&po);
    for (size_t i = atomic_fetch_add(&pool->next, 1); i < pool->n && !atomic_load(&pool->stop);) {
        size_t next = atomic_fetch_add(&pool->next, 1);
        import_item(&w, pf, &pool->items[i], next < pool->n ? &pool->items[next] : NULL,
                    pool->finish, pool->follow);
        if (w.db_down || (w.cancel && *w.cancel))
            atomic_store(&pool->stop, true);
        i = next;
    }
out:
    prefetch_destroy(pf);
    pthread_mutex_lock(&pool->mu);
    struct job *j = pool->job;
    job_totals_merge(&j->totals, &w.totals);
    j->db_down |= w.db_down;
    pthread_mutex_unlock(&pool->mu);
    db_close(w.db);
    job_free(&w);
    return NULL;
}

void job_run(struct job *job, const struct job_item *items, size_t n, unsigned jobs,
             bool finish, bool follow_links)
{
    job->file_count = n;
    if (jobs <= 1 || n <= 1) {
        struct file_opts po = {.dry_run = job->dry_run, .follow_links = follow_links};
        struct prefetch *pf = n > 1 ? prefetch_create(&po) : NULL;
        for (size_t i = 0; i < n && !job->db_down && !(job->cancel && *job->cancel); i++) {
            job->file_index = i;
            import_item(job, pf, &items[i], i + 1 < n ? &items[i + 1] : NULL, finish,
                        follow_links);
        }
        prefetch_destroy(pf);
        job_sync_moves(job);
        return;
    }
    if (jobs > n)
        jobs = (unsigned)n;
    struct pool pool = {.job = job, .items = items, .n = n, .finish = finish,
                        .follow = follow_links};
    atomic_init(&pool.next, 0);
    atomic_init(&pool.stop, false);
    pthread_mutex_init(&pool.mu, NULL);
    pthread_t *t = xcalloc(jobs, sizeof *t);
    unsigned started = 0;
    for (unsigned k = 0; k < jobs; k++)
        if (pthread_create(&t[k], NULL, worker, &pool) == 0)
            started++;
        else
            break;
    for (unsigned k = 0; k < started; k++)
        pthread_join(t[k], NULL);
    free(t);
    pthread_mutex_destroy(&pool.mu);
}

void job_summary(const struct job *job)
{
    const struct job_totals *t = &job->totals;
    double el = cdr_monotonic() - job->t0;
    char line[512];
    snprintf(line, sizeof line,
             "%sfiles: %u imported, %u duplicate, %u failed, %u skipped; rows: %llu read, "
             "%llu new, %llu duplicate, %llu rejected; %.1f MB in %.2f s",
             job->dry_run ? "dry run, nothing written: " : "", t->files_imported,
             t->files_duplicate, t->files_failed, t->files_skipped,
             (unsigned long long)t->rows_read, (unsigned long long)t->rows_new,
             (unsigned long long)t->rows_dup, (unsigned long long)t->rows_rejected,
             (double)t->bytes / 1e6, el);
    if (job->tty)
        fprintf(stderr, "\r\033[K%s\n", line);
    else
        log_info("%s", line);
}

int job_exit_status(const struct job *job)
{
    if (job->db_down)
        return CDR_EXIT_DB;
    if (job->totals.files_failed || job->totals.rows_rejected)
        return CDR_EXIT_PARTIAL;
    return CDR_EXIT_OK;
}
