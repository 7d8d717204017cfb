/*
 * main.c - the command line: parse options, load importer.yaml, and run
 * init-db, import, scan, check or status (watch hands over to watch.c).
 * The report a person sees (progress line, summary, one log line per
 * file) is job.c's. Exit statuses are in cdrimport.h.
 */
#include "cdrimport.h"
#include "config.h"
#include "fetch_cmd.h"
#include "fetch_status.h"
#include "init.h"
#include "job.h"
#include "load.h"
#include "log.h"
#include "prune.h"
#include "schema.h"
#include "profile.h"
#include "report.h"
#include "service.h"
#include "source.h"
#include "trunks.h"
#include "version.h"
#include "watch.h"
#include "plat.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* prune: the retention the config asks for, or nothing. */
static int cmd_prune(struct job *run)
{
    const struct cdr_config *cfg = run->cfg;
    if (cfg->retention_months == 0) {
        log_info("prune: database.retention_months is not set: every call is kept");
        return CDR_EXIT_OK;
    }
    struct prune_totals t;
    char err[CDR_ERRLEN];
    enum load_status st = prune_run(run->db, cfg->retention_months, &t, err, sizeof err);
    if (st != LOAD_OK) {
        log_error("prune: %s", err);
        return st == LOAD_DB_DOWN ? CDR_EXIT_DB : CDR_EXIT_PARTIAL;
    }
    return CDR_EXIT_OK;
}

static const char usage_text[] =
    "Usage: cdrimport [-c FILE] [-v|-q] COMMAND [ARGS]\n"
    "Load PBX call records (Panasonic KX-HTS / Asterisk Master.csv) into PostgreSQL,\n"
    "each call exactly once.\n"
    "\n"
    "Commands:\n"
    "  init [--force]               write a commented importer.yaml for this folder\n"
    "                               (or -c FILE) and create ./inbox\n"
    "  init-db                      create or migrate the database schema\n"
    "  import [--source NAME] [--dry-run] [--force] [--jobs N] PATH...\n"
    "                               import files and folders (recursively); files stay;\n"
    "                               --jobs: N files at once over N connections\n"
    "  scan [--jobs N]              import every matching file under every source's\n"
    "                               path once, then move/delete/keep it (on_success);\n"
    "                               N defaults to the config's `jobs`\n"
    "  watch                        import what is there, then keep watching the\n"
    "                               sources' folders until SIGTERM (SIGHUP: reload)\n"
    "  fetch [--source NAME]        poll each fetch source's PBX once, then import what\n"
    "                               it spooled and what earlier runs left there\n"
    "  check                        validate the configuration and connect (a PBX:\n"
    "                               TCP and TLS only, no request)\n"
    "  status [--limit N]           show the latest imported files\n"
    "  prune                        remove the calls older than database.retention_months\n"
    "                               (whole monthly partitions when partitioned)\n"
    "  report [--source NAME] [--from DATE] [--to DATE] [--by KEY] [--format FMT] [-o FILE]\n"
    "                               the calls of a period (legs of one call ID are one\n"
    "                               call), counted per KEY: day (default), week, month,\n"
    "                               hour, extension, destination, trunk or outcome;\n"
    "                               DATE: YYYY-MM-DD or YYYY-MM, local days of each source,\n"
    "                               default this month so far; FMT: table (default on a\n"
    "                               terminal), csv (default otherwise), json, or html (one\n"
    "                               page with charts; -o x.html implies it)\n"
#ifdef _WIN32
    "  service install|uninstall    register watch with the service control manager\n"
    "                               (started automatically; logs to cdrimport.log beside\n"
    "                               the configuration), or remove it\n"
#endif
    "\n"
    "Options:\n"
    "  -c, --config FILE   configuration (default $CDRIMPORT_CONFIG, else ./importer.yaml)\n"
    "  -v, --verbose       more log output (repeat for debug)\n"
    "  -q, --quiet         errors only\n"
    "  -h, --help          this help\n"
    "  -V, --version       print the version and those of the libraries in use\n"
    "\n"
    "Exit status: 0 all files imported or duplicate; 1 a file failed or had rejected\n"
    "rows; 2 usage or configuration error; 3 database unreachable (nothing moved).\n"
    "More: man cdrimport, man 5 importer.yaml\n";

/* A usage error: one line on stderr, exit status 2. */
static int usage_error(const char *fmt, ...) CDR_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cdrimport: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CDR_EXIT_USAGE;
}

static struct cdr_config *load_config(const char *explicit_path)
{
    char err[CDR_ERRLEN];
    struct cdr_config *cfg = config_load(config_locate(explicit_path), err, sizeof err);
    if (!cfg)
        log_error("%s", err);
    return cfg;
}

/* ---- commands ------------------------------------------------------------ */

static int cmd_import(struct job *run, const char *source_name, char **paths, int npaths,
                      unsigned jobs)
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
        /* The ledger keeps absolute paths, whatever the command line said. */
        char *abs = plat_realpath(paths[i]);
        const char *path = abs ? abs : paths[i];
        if (plat_stat(path, &st) < 0) {
            log_error("%s: %s", path, strerror(errno));
            status = CDR_EXIT_PARTIAL;
            free(abs);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            char err[CDR_ERRLEN];
            if (source_walk(src, path, true, !run->dry_run, &list, err, sizeof err) < 0) {
                log_error("%s", err);
                status = CDR_EXIT_PARTIAL;
            }
        } else {
            source_list_add(&list, path, &st);
        }
        free(abs);
    }
    source_list_sort(&list);
    struct job_item *items = xcalloc(list.n, sizeof *items);
    for (size_t i = 0; i < list.n; i++)
        items[i] = (struct job_item){si, NULL, list.files[i].path};
    job_run(run, items, list.n, jobs, false, true);
    free(items);
    source_list_free(&list);
    job_summary(run);
    int st = job_exit_status(run);
    return st > status ? st : status;
}

static int cmd_scan(struct job *run, unsigned jobs)
{
    const struct cdr_config *cfg = run->cfg;
    int status = CDR_EXIT_OK;
    struct source_list *lists = xcalloc(cfg->nsources, sizeof *lists);
    size_t total = 0;
    for (size_t si = 0; si < cfg->nsources; si++) {
        const struct cdr_source *src = &cfg->sources[si];
        char err[CDR_ERRLEN];
        if (source_walk(src, src->path, src->recursive, !run->dry_run, &lists[si], err,
                        sizeof err) < 0) {
            log_error("source %s: %s", src->name, err);
            status = CDR_EXIT_PARTIAL;
        }
        total += lists[si].n;
    }
    struct job_item *items = xcalloc(total, sizeof *items);
    size_t n = 0;
    for (size_t si = 0; si < cfg->nsources; si++)
        for (size_t i = 0; i < lists[si].n; i++)
            items[n++] = (struct job_item){si, cfg->sources[si].path, lists[si].files[i].path};
    job_run(run, items, n, jobs, true, false);
    free(items);
    for (size_t si = 0; si < cfg->nsources; si++)
        source_list_free(&lists[si]);
    free(lists);
    job_summary(run);
    int st = job_exit_status(run);
    return st > status ? st : status;
}

static void print_config(const struct cdr_config *cfg)
{
    printf("config %s: OK, %zu source%s\n", cfg->file, cfg->nsources,
           cfg->nsources == 1 ? "" : "s");
    for (size_t i = 0; i < cfg->nsources; i++) {
        const struct cdr_source *s = &cfg->sources[i];
        struct stat st;
        bool there = plat_stat(s->path, &st) == 0 && S_ISDIR(st.st_mode);
        printf("  source %s: %s (%s, %s, timezone %s)%s\n", s->name, s->path,
               profile_format_name(s->format), s->recursive ? "recursive" : "top level only",
               s->timezone, there ? "" : "  [folder missing]");
        if (s->ntrunks == 0) {
            printf("    trunks: none configured: the call views (cdr_call) cannot tell incoming"
                   " from outgoing; set trunks: (globs over channel names)\n");
            continue;
        }
        printf("    trunks%s:", s->trunks_configured ? "" : " (the kx-hts default)");
        for (size_t j = 0; j < s->ntrunks; j++)
            printf("%s %s", j ? "," : "", s->trunks[j]);
        putchar('\n');
    }
    fflush(stdout);
}

static int cmd_check(struct job *run)
{
    char desc[256];
    schema_describe(run->db, desc, sizeof desc);
    printf("database: OK, %s\n", desc);
    return CDR_EXIT_OK;
}

/* report has options of its own (report.c parses them); a bad one is a
 * usage error before the configuration is even read. */
static int cmd_report(int argc, char **argv, const char *config_path)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    struct report_date today = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
    struct report_opts o;
    char err[CDR_ERRLEN];
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return CDR_EXIT_OK;
        }
    if (!report_parse_args(argc, argv, &today, &o, err, sizeof err))
        return usage_error("%s", err);
    struct cdr_config *cfg = load_config(config_path);
    if (!cfg)
        return CDR_EXIT_USAGE;
    int status = report_run(cfg, &o);
    config_free(cfg);
    return status;
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
    /* Batch buffers (megabytes each) are made and freed once per file. With
     * glibc's sliding mmap threshold they come from the heap after the
     * first file and fragment it: an import of six files peaked at 34 MiB
     * against 25 for one. A fixed threshold returns them to the system. */
    plat_tune_malloc();
    plat_args_utf8(&argc, &argv);
    /* "+": stop at the command; its own options follow it. */
    while ((c = getopt_long(argc, argv, "+c:vqhV", global, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'v': verbosity++; break;
        case 'q': verbosity = LOG_ERROR; break;
        case 'h': fputs(usage_text, stdout); return CDR_EXIT_OK;
        case 'V': version_print(stdout); return CDR_EXIT_OK;
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

    if (strcmp(command, "report") == 0)
        return cmd_report(argc, argv, config_path);
#ifdef _WIN32
    /* The service control manager's side of watch (Windows only). */
    if (strcmp(command, "service") == 0)
        return service_command(argc, argv, config_path);
#endif

    static const struct option import_opts[] = {
        {"source", required_argument, NULL, 's'}, {"dry-run", no_argument, NULL, 'n'},
        {"force", no_argument, NULL, 'f'},        {"limit", required_argument, NULL, 'l'},
        {"jobs", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *source_name = NULL;
    bool dry_run = false, force = false;
    int limit = 20;
    long jobs = 0; /* 0: import 1, scan the config's `jobs` */
    bool known = strcmp(command, "init") == 0 || strcmp(command, "init-db") == 0 ||
                 strcmp(command, "import") == 0 || strcmp(command, "scan") == 0 ||
                 strcmp(command, "check") == 0 || strcmp(command, "status") == 0 ||
                 strcmp(command, "watch") == 0 || strcmp(command, "fetch") == 0 ||
                 strcmp(command, "prune") == 0;
    if (!known) {
        int rc = usage_error("unknown command '%s'", command);
        fprintf(stderr, "\n%s", usage_text);
        return rc;
    }
    while ((c = getopt_long(argc, argv, "+s:nfl:j:h", import_opts, NULL)) != -1) {
        switch (c) {
        case 's': source_name = optarg; break;
        case 'n': dry_run = true; break;
        case 'f': force = true; break;
        case 'l': limit = atoi(optarg); break;
        case 'j': {
            /* The bound and the message of the config's `jobs` key. */
            char why[CDR_ERRLEN];
            unsigned n;
            if (!config_parse_jobs(optarg, &n, why, sizeof why))
                return usage_error("--jobs: %s", why);
            jobs = n;
            break;
        }
        case 'h': fputs(usage_text, stdout); return CDR_EXIT_OK;
        default: fputs(usage_text, stderr); return CDR_EXIT_USAGE;
        }
    }
    bool is_import = strcmp(command, "import") == 0;
    bool is_fetch = strcmp(command, "fetch") == 0;
    if (jobs && !is_import && strcmp(command, "scan") != 0)
        return usage_error("--jobs goes with import and scan");
    if (source_name && !is_import && !is_fetch)
        return usage_error("--source goes with import and fetch");
    bool is_init = strcmp(command, "init") == 0;
    if (dry_run && !is_import)
        return usage_error("--dry-run goes with import");
    if (force && !is_import && !is_init)
        return usage_error("--force goes with import and init");
    if (is_import && optind >= argc)
        return usage_error("import needs at least one file or folder");
    if (!is_import && optind < argc)
        return usage_error("%s takes no arguments", command);

    /* init writes the file the other commands read: -c or ./importer.yaml,
     * never $CDRIMPORT_CONFIG (it is for "this folder"). */
    if (is_init)
        return init_run(config_path ? config_path : "importer.yaml", force);

    struct cdr_config *cfg = load_config(config_path);
    if (!cfg)
        return CDR_EXIT_USAGE;

    struct job run = {.tty = isatty(STDERR_FILENO) == 1, .dry_run = dry_run, .force = force};
    int status = CDR_EXIT_OK;
    int pbx_status = CDR_EXIT_OK; /* check: a PBX that cannot be reached */
    if (!job_init(&run, cfg)) {
        status = CDR_EXIT_USAGE;
        goto out;
    }
    if (strcmp(command, "watch") == 0) {
        /* The daemon connects (and reconnects) by itself. */
        job_free(&run);
        return watch_run(cfg, config_path); /* owns cfg from here: reloads replace it */
    }
    if (is_fetch) {
        /* The PBX first: fetch_cmd_run connects once it has polled. */
        status = fetch_cmd_run(&run, source_name);
        goto out;
    }
    if (strcmp(command, "check") == 0) {
        print_config(cfg);
        if (!fetch_cmd_check(cfg))
            pbx_status = CDR_EXIT_PARTIAL;
    }
    /* init-db migrates below, with the rows it may move. */
    run.db = job_connect(cfg, !dry_run && strcmp(command, "init-db") != 0);
    if (!run.db && !dry_run) {
        status = CDR_EXIT_DB;
        goto out;
    }
    if (!run.db)
        log_warn("dry run without a database: duplicate files cannot be recognised");

    if (strcmp(command, "init-db") == 0) {
        char err[CDR_ERRLEN], desc[256];
        /* Moving the rows into monthly partitions is init-db's alone. */
        if (schema_migrate(run.db, cfg->partition, true, err, sizeof err) != LOAD_OK) {
            log_error("cannot prepare the schema: %s", err);
            status = CDR_EXIT_DB;
            goto out;
        }
        if (trunks_publish(run.db, cfg, err, sizeof err) != LOAD_OK) {
            log_error("cannot record the sources' zones and trunks: %s", err);
            status = CDR_EXIT_DB;
            goto out;
        }
        schema_describe(run.db, desc, sizeof desc);
        printf("schema ready: %s\n", desc);
    } else if (strcmp(command, "prune") == 0) {
        status = cmd_prune(&run);
    } else if (is_import) {
        status = cmd_import(&run, source_name, argv + optind, argc - optind,
                            jobs ? (unsigned)jobs : 1);
    } else if (strcmp(command, "scan") == 0) {
        status = cmd_scan(&run, jobs ? (unsigned)jobs : cfg->jobs);
    } else if (strcmp(command, "check") == 0) {
        status = cmd_check(&run);
        status = pbx_status > status ? pbx_status : status;
    } else if (strcmp(command, "status") == 0) {
        char err[CDR_ERRLEN];
        enum load_status ls = ledger_print_status(run.db, limit > 0 ? limit : 20, err, sizeof err);
        if (ls == LOAD_OK)
            ls = fetch_status_print(run.db, err, sizeof err);
        if (ls != LOAD_OK) {
            log_error("%s", err);
            status = ls == LOAD_DB_DOWN ? CDR_EXIT_DB : CDR_EXIT_PARTIAL;
        }
    }
out:
    db_close(run.db);
    job_free(&run);
    config_free(cfg);
    return status;
}
