/*
 * main.c - the command line: parse options, load importer.yaml, and run
 * init-db, import, scan, check or status. Owns the report a person sees: a
 * progress line and a summary on a terminal, one log line per file
 * otherwise. Exit statuses are in cdrimport.h.
 */
#include "cdrimport.h"
#include "config.h"
#include "file.h"
#include "finish.h"
#include "load.h"
#include "log.h"
#include "profile.h"
#include "source.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: cdrimport [-c FILE] [-v|-q] COMMAND [ARGS]\n"
    "Load PBX call records (Panasonic KX-HTS / Asterisk Master.csv) into PostgreSQL,\n"
    "each call exactly once.\n"
    "\n"
    "Commands:\n"
    "  init-db                      create or migrate the database schema\n"
    "  import [--source NAME] [--dry-run] [--force] PATH...\n"
    "                               import files and folders (recursively); files stay\n"
    "  scan                         import every matching file under every source's\n"
    "                               path once, then move/delete/keep it (on_success)\n"
    "  check                        validate the configuration and connect\n"
    "  status [--limit N]           show the latest imported files\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   configuration (default $CDRIMPORT_CONFIG, else ./importer.yaml)\n"
    "  -v, --verbose       more log output (repeat for debug)\n"
    "  -q, --quiet         errors only\n"
    "  -h, --help          this help\n"
    "  -V, --version       print the version\n"
    "\n"
    "Exit status: 0 all files imported or duplicate; 1 a file failed or had rejected\n"
    "rows; 2 usage or configuration error; 3 database unreachable (nothing moved).\n";

/* ---- report -------------------------------------------------------------- */

struct run {
    const struct cdr_config *cfg;
    struct db *db;
    struct profile **profiles;     /* one per source, same index */
    bool tty;
    bool dry_run, force;
    /* totals */
    unsigned files_imported, files_duplicate, files_failed, files_skipped;
    uint64_t rows_new, rows_dup, rows_rejected, bytes;
    bool db_down;
    double t0;
    /* progress */
    size_t file_index, file_count;
    const char *current;
    double last_draw;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(void *ctx, uint64_t done, uint64_t total, uint64_t rows)
{
    struct run *run = ctx;
    double t = now_s();
    if (!run->tty || (t - run->last_draw < 0.1 && done < total))
        return;
    run->last_draw = t;
    double el = t - run->t0;
    double mbps = el > 0 ? (double)(run->bytes + done) / 1e6 / el : 0;
    double eta = mbps > 0 ? (double)(total - done) / 1e6 / mbps : 0;
    const char *name = strrchr(run->current, '/');
    fprintf(stderr, "\r\033[K[%zu/%zu] %s %3.0f%% %llu rows %.1f MB/s ETA %.0fs",
            run->file_index + 1, run->file_count, name ? name + 1 : run->current,
            total ? 100.0 * (double)done / (double)total : 100.0, (unsigned long long)rows, mbps,
            eta);
}

static void report_file(struct run *run, const char *path, const struct file_result *r,
                        const char *dest)
{
    if (run->tty)
        fputs("\r\033[K", stderr);
    const struct load_stats *s = &r->stats;
    switch (r->status) {
    case FILE_IMPORTED:
    case FILE_DUPLICATE:
        log_info("%s %s sha256=%.12s rows new=%llu duplicate=%llu rejected=%llu repaired=%llu "
                 "%.0f ms%s%s", file_status_name(r->status), path, r->sha256,
                 (unsigned long long)s->rows_inserted, (unsigned long long)s->rows_duplicate,
                 (unsigned long long)s->rows_rejected, (unsigned long long)s->rows_repaired, r->ms,
                 dest ? " -> " : "", dest ? dest : "");
        break;
    case FILE_FAILED:
    case FILE_UNREADABLE:
        log_error("failed %s: %s%s%s", path, r->error, dest ? " -> " : "", dest ? dest : "");
        break;
    case FILE_SKIPPED:
        log_info("skipped %s: %s", path, r->error);
        break;
    case FILE_DB_DOWN:
        log_error("database unreachable while importing %s: %s (file left in place)", path,
                  r->error);
        break;
    }
}

static void account(struct run *run, const struct file_result *r)
{
    switch (r->status) {
    case FILE_IMPORTED: run->files_imported++; break;
    case FILE_DUPLICATE: run->files_duplicate++; break;
    case FILE_FAILED:
    case FILE_UNREADABLE: run->files_failed++; break;
    case FILE_SKIPPED: run->files_skipped++; break;
    case FILE_DB_DOWN: run->db_down = true; break;
    }
    run->rows_new += r->stats.rows_inserted;
    run->rows_dup += r->stats.rows_duplicate;
    run->rows_rejected += r->stats.rows_rejected;
    run->bytes += r->size;
}

static void summary(const struct run *run)
{
    double el = now_s() - run->t0;
    char line[512];
    snprintf(line, sizeof line,
             "%sfiles: %u imported, %u duplicate, %u failed, %u skipped; rows: %llu new, "
             "%llu duplicate, %llu rejected; %.1f MB in %.2f s",
             run->dry_run ? "dry run, nothing written: " : "", run->files_imported,
             run->files_duplicate, run->files_failed, run->files_skipped,
             (unsigned long long)run->rows_new, (unsigned long long)run->rows_dup,
             (unsigned long long)run->rows_rejected, (double)run->bytes / 1e6, el);
    if (run->tty)
        fprintf(stderr, "\r\033[K%s\n", line);
    else
        log_info("%s", line);
}

static int exit_status(const struct run *run)
{
    if (run->db_down)
        return CDR_EXIT_DB;
    if (run->files_failed || run->rows_rejected)
        return CDR_EXIT_PARTIAL;
    return CDR_EXIT_OK;
}

/* ---- set-up -------------------------------------------------------------- */

static struct cdr_config *load_config(const char *explicit_path)
{
    char err[CDR_ERRLEN];
    const char *path = config_locate(explicit_path);
    struct cdr_config *cfg = config_load(path, err, sizeof err);
    if (!cfg)
        log_error("%s", err);
    return cfg;
}

static bool make_profiles(struct run *run)
{
    const struct cdr_config *cfg = run->cfg;
    run->profiles = xcalloc(cfg->nsources, sizeof *run->profiles);
    for (size_t i = 0; i < cfg->nsources; i++) {
        const struct cdr_source *s = &cfg->sources[i];
        char err[CDR_ERRLEN];
        run->profiles[i] = profile_create(s->format, s->columns, s->ncolumns, s->encoding, err,
                                          sizeof err);
        if (!run->profiles[i]) {
            log_error("%s: source %s: %s", cfg->file, s->name, err);
            return false;
        }
        profile_set_header(run->profiles[i], s->header);
    }
    return true;
}

static void free_profiles(struct run *run)
{
    if (!run->profiles)
        return;
    for (size_t i = 0; i < run->cfg->nsources; i++)
        profile_destroy(run->profiles[i]);
    free(run->profiles);
}

static struct db *connect_db(const struct cdr_config *cfg, bool migrate)
{
    char err[CDR_ERRLEN];
    struct db *db = db_connect(cfg, err, sizeof err);
    if (!db) {
        log_error("%s", err);
        return NULL;
    }
    if (migrate && db_migrate(db, err, sizeof err) != LOAD_OK) {
        log_error("cannot prepare the schema: %s", err);
        db_close(db);
        return NULL;
    }
    return db;
}

/* ---- commands ------------------------------------------------------------ */

static void import_one(struct run *run, size_t si, const char *root, const char *path,
                       bool finish, bool follow)
{
    const struct cdr_source *src = &run->cfg->sources[si];
    struct file_opts o = {.dry_run = run->dry_run, .force = run->force, .follow_links = follow,
                          .progress = progress, .progress_ctx = run};
    struct file_result r;
    run->current = path;
    file_import(run->db, src, run->profiles[si], path, &o, &r);
    char *dest = NULL;
    if (finish && !run->dry_run) {
        char err[CDR_ERRLEN];
        int rc = 0;
        if (r.status == FILE_IMPORTED || r.status == FILE_DUPLICATE)
            rc = finish_success(src, root, path, r.sha256, &dest, err, sizeof err);
        else if (r.status == FILE_FAILED || r.status == FILE_UNREADABLE)
            rc = finish_failed(src, root, path, r.sha256, r.error, &dest, err, sizeof err);
        if (rc < 0)
            log_error("%s", err);
    }
    file_release(&r);
    report_file(run, path, &r, dest);
    account(run, &r);
    free(dest);
}

static int cmd_import(struct run *run, const char *source_name, char **paths, int npaths)
{
    const struct cdr_config *cfg = run->cfg;
    size_t si = 0;
    if (source_name) {
        const struct cdr_source *s = config_find_source(cfg, source_name);
        if (!s) {
            log_error("no source named '%s' in %s", source_name, cfg->file);
            return CDR_EXIT_USAGE;
        }
        si = (size_t)(s - cfg->sources);
    } else if (cfg->nsources > 1) {
        log_error("%s has %zu sources: say which with --source NAME", cfg->file, cfg->nsources);
        return CDR_EXIT_USAGE;
    }
    const struct cdr_source *src = &cfg->sources[si];

    struct source_list list = {0};
    int status = CDR_EXIT_OK;
    for (int i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) < 0) {
            log_error("%s: %s", paths[i], strerror(errno));
            status = CDR_EXIT_PARTIAL;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            char err[CDR_ERRLEN];
            struct source_list sub = {0};
            if (source_walk(src, paths[i], true, &sub, err, sizeof err) < 0) {
                log_error("%s", err);
                status = CDR_EXIT_PARTIAL;
            }
            for (size_t k = 0; k < sub.n; k++) {
                if (list.n == list.cap) {
                    list.cap = list.cap ? list.cap * 2 : 64;
                    list.files = xrealloc(list.files, list.cap * sizeof *list.files);
                }
                list.files[list.n++] = sub.files[k];
            }
            free(sub.files);
        } else {
            if (list.n == list.cap) {
                list.cap = list.cap ? list.cap * 2 : 64;
                list.files = xrealloc(list.files, list.cap * sizeof *list.files);
            }
            list.files[list.n].path = xstrdup(paths[i]);
            list.files[list.n].mtime = st.st_mtim;
            list.files[list.n].size = st.st_size;
            list.n++;
        }
    }
    run->file_count = list.n;
    for (size_t i = 0; i < list.n && !run->db_down; i++) {
        run->file_index = i;
        import_one(run, si, NULL, list.files[i].path, false, true);
    }
    source_list_free(&list);
    summary(run);
    int st = exit_status(run);
    return st > status ? st : status;
}

static int cmd_scan(struct run *run)
{
    const struct cdr_config *cfg = run->cfg;
    int status = CDR_EXIT_OK;
    for (size_t si = 0; si < cfg->nsources && !run->db_down; si++) {
        const struct cdr_source *src = &cfg->sources[si];
        struct source_list list = {0};
        char err[CDR_ERRLEN];
        if (source_walk(src, src->path, src->recursive, &list, err, sizeof err) < 0) {
            log_error("source %s: %s", src->name, err);
            status = CDR_EXIT_PARTIAL;
            continue;
        }
        run->file_count = list.n;
        for (size_t i = 0; i < list.n && !run->db_down; i++) {
            run->file_index = i;
            import_one(run, si, src->path, list.files[i].path, true, false);
        }
        source_list_free(&list);
    }
    summary(run);
    int st = exit_status(run);
    return st > status ? st : status;
}

static int cmd_check(struct run *run)
{
    const struct cdr_config *cfg = run->cfg;
    printf("config %s: OK, %zu source%s\n", cfg->file, cfg->nsources,
           cfg->nsources == 1 ? "" : "s");
    for (size_t i = 0; i < cfg->nsources; i++) {
        const struct cdr_source *s = &cfg->sources[i];
        struct stat st;
        bool there = stat(s->path, &st) == 0 && S_ISDIR(st.st_mode);
        printf("  source %s: %s (%s, %s, timezone %s)%s\n", s->name, s->path,
               profile_format_name(s->format), s->recursive ? "recursive" : "top level only",
               s->timezone, there ? "" : "  [folder missing]");
    }
    char desc[256];
    db_describe(run->db, desc, sizeof desc);
    printf("database: OK, %s\n", desc);
    return CDR_EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option global[] = {
        {"config", required_argument, NULL, 'c'}, {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    int verbosity = LOG_INFO;
    int c;
    /* "+": stop at the command; its own options follow it. */
    while ((c = getopt_long(argc, argv, "+c:vqhV", global, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'v': verbosity++; break;
        case 'q': verbosity = LOG_ERROR; break;
        case 'h': fputs(usage_text, stdout); return CDR_EXIT_OK;
        case 'V': printf("cdrimport %s\n", CDRIMPORT_VERSION); return CDR_EXIT_OK;
        default: fputs(usage_text, stderr); return CDR_EXIT_USAGE;
        }
    }
    log_set_level(verbosity > LOG_DEBUG ? LOG_DEBUG : (enum log_level)verbosity);
    if (optind >= argc) {
        fputs(usage_text, stderr);
        return CDR_EXIT_USAGE;
    }
    const char *command = argv[optind];
    argc -= optind;
    argv += optind;
    optind = 1;

    static const struct option import_opts[] = {
        {"source", required_argument, NULL, 's'}, {"dry-run", no_argument, NULL, 'n'},
        {"force", no_argument, NULL, 'f'},        {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *source_name = NULL;
    bool dry_run = false, force = false;
    int limit = 20;
    bool known = strcmp(command, "init-db") == 0 || strcmp(command, "import") == 0 ||
                 strcmp(command, "scan") == 0 || strcmp(command, "check") == 0 ||
                 strcmp(command, "status") == 0;
    if (!known) {
        fprintf(stderr, "cdrimport: unknown command '%s'\n\n%s", command, usage_text);
        return CDR_EXIT_USAGE;
    }
    while ((c = getopt_long(argc, argv, "+s:nfl:h", import_opts, NULL)) != -1) {
        switch (c) {
        case 's': source_name = optarg; break;
        case 'n': dry_run = true; break;
        case 'f': force = true; break;
        case 'l': limit = atoi(optarg); break;
        case 'h': fputs(usage_text, stdout); return CDR_EXIT_OK;
        default: fputs(usage_text, stderr); return CDR_EXIT_USAGE;
        }
    }
    bool is_import = strcmp(command, "import") == 0;
    if ((source_name || dry_run || force) && !is_import) {
        fprintf(stderr, "cdrimport: --source, --dry-run and --force go with import\n");
        return CDR_EXIT_USAGE;
    }
    if (is_import && optind >= argc) {
        fprintf(stderr, "cdrimport: import needs at least one file or folder\n");
        return CDR_EXIT_USAGE;
    }
    if (!is_import && optind < argc) {
        fprintf(stderr, "cdrimport: %s takes no arguments\n", command);
        return CDR_EXIT_USAGE;
    }

    struct cdr_config *cfg = load_config(config_path);
    if (!cfg)
        return CDR_EXIT_USAGE;

    struct run run = {.cfg = cfg, .tty = isatty(STDERR_FILENO) == 1, .dry_run = dry_run,
                      .force = force, .t0 = now_s()};
    int status = CDR_EXIT_OK;
    if (!make_profiles(&run)) {
        status = CDR_EXIT_USAGE;
        goto out;
    }
    run.db = connect_db(cfg, !dry_run);
    if (!run.db && !dry_run) {
        status = CDR_EXIT_DB;
        goto out;
    }
    if (!run.db)
        log_warn("dry run without a database: duplicate files cannot be recognised");

    if (strcmp(command, "init-db") == 0) {
        char desc[256];
        db_describe(run.db, desc, sizeof desc);
        printf("schema ready: %s\n", desc);
    } else if (is_import) {
        status = cmd_import(&run, source_name, argv + optind, argc - optind);
    } else if (strcmp(command, "scan") == 0) {
        status = cmd_scan(&run);
    } else if (strcmp(command, "check") == 0) {
        status = cmd_check(&run);
    } else if (strcmp(command, "status") == 0) {
        char err[CDR_ERRLEN];
        enum load_status ls = db_print_status(run.db, limit > 0 ? limit : 20, err, sizeof err);
        if (ls != LOAD_OK) {
            log_error("%s", err);
            status = ls == LOAD_DB_DOWN ? CDR_EXIT_DB : CDR_EXIT_PARTIAL;
        }
    }
out:
    db_close(run.db);
    free_profiles(&run);
    config_free(cfg);
    return status;
}
