/*
 * fetch_cmd.c - `cdrimport fetch` and the fetch lines of `check` (see
 * fetch_cmd.h). The one-shot poll runs the daemon's poller (fetch.c) in
 * once mode, then imports the spool folders the way `scan` imports
 * folders. The PBX is polled before the database is tried: its records
 * are safer in the spool than on a PBX that keeps only the last few.
 */
#include "fetch_cmd.h"
#include "fetch.h"
#include "fetch_status.h"
#include "log.h"
#include "source.h"
#include "spool.h"
#include "transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void promote_leftovers(const struct cdr_source *src)
{
    char **paths;
    size_t n;
    char err[CDR_ERRLEN];
    if (!spool_promote(src->path, &paths, &n, err, sizeof err))
        return; /* a missing folder: the poll's room check says so */
    if (err[0])
        log_error("source %s: %s", src->name, err);
    for (size_t i = 0; i < n; i++) {
        log_warn("source %s: kept %s, a response whose download was interrupted (its last "
                 "record may be cut)", src->name, paths[i]);
        free(paths[i]);
    }
    free(paths);
}

/* Import every file in the chosen sources' spool folders, oldest first. */
static void import_spools(struct job *run, const bool *chosen)
{
    const struct cdr_config *cfg = run->cfg;
    struct source_list *lists = xcalloc(cfg->nsources, sizeof *lists);
    size_t total = 0;
    for (size_t si = 0; si < cfg->nsources; si++) {
        const struct cdr_source *src = &cfg->sources[si];
        char err[CDR_ERRLEN];
        if (chosen[si] && source_walk(src, src->path, src->recursive, !run->dry_run,
                                      &lists[si], err, sizeof err) < 0)
            log_error("source %s: %s", src->name, err);
        total += lists[si].n;
    }
    struct job_item *items = xcalloc(total ? total : 1, sizeof *items);
    size_t n = 0;
    for (size_t si = 0; si < cfg->nsources; si++)
        for (size_t i = 0; i < lists[si].n; i++)
            items[n++] = (struct job_item){si, cfg->sources[si].path, lists[si].files[i].path};
    job_run(run, items, n, 1, true, false);
    free(items);
    for (size_t si = 0; si < cfg->nsources; si++)
        source_list_free(&lists[si]);
    free(lists);
}

int fetch_cmd_run(struct job *run, const char *source_name)
{
    const struct cdr_config *cfg = run->cfg;
    int status = CDR_EXIT_OK;
    bool *chosen = xcalloc(cfg->nsources, sizeof *chosen);
    size_t nchosen = 0;
    struct fetch_poller *p = NULL;
    struct fetch_outcome *outs = NULL;
    size_t nouts = 0;

    for (size_t si = 0; si < cfg->nsources; si++) {
        const struct cdr_source *src = &cfg->sources[si];
        if (source_name && strcmp(src->name, source_name))
            continue;
        if (!src->fetch && source_name) {
            log_error("source %s has no fetch: block", source_name);
            status = CDR_EXIT_USAGE;
            goto out;
        }
        chosen[si] = src->fetch != NULL;
        nchosen += chosen[si];
    }
    if (!nchosen) {
        if (source_name)
            log_error("no source named '%s' in %s", source_name, cfg->file);
        else
            log_error("no source in %s has a fetch: block", cfg->file);
        status = CDR_EXIT_USAGE;
        goto out;
    }

    p = fetch_poller_create(true);
    for (size_t si = 0; si < cfg->nsources; si++) {
        if (!chosen[si])
            continue;
        promote_leftovers(&cfg->sources[si]);
        if (!fetch_poller_add(p, &cfg->sources[si]))
            status = CDR_EXIT_PARTIAL;
    }
    if (!fetch_poller_start(p)) {
        status = CDR_EXIT_PARTIAL;
    } else {
        fetch_poller_wait(p);
        nouts = fetch_poller_take(p, &outs);
    }
    for (size_t i = 0; i < nouts; i++)
        if (outs[i].problem != FETCH_FINE)
            status = CDR_EXIT_PARTIAL;

    run->db = job_connect(cfg, true);
    if (!run->db) {
        log_error("the spooled responses stay in the spool folders until the database is back");
        status = CDR_EXIT_DB;
        goto out;
    }
    for (size_t i = 0; i < nouts; i++) {
        struct fetch_status_pending pend = {0};
        char err[CDR_ERRLEN];
        fetch_status_add(&pend, &outs[i]);
        if (fetch_status_record(run->db, &pend, err, sizeof err) != LOAD_OK)
            log_warn("source %s: the poll's outcome was not recorded: %s", outs[i].source, err);
        fetch_status_clear(&pend);
    }
    import_spools(run, chosen);
    job_summary(run);
    int st = job_exit_status(run);
    status = st > status ? st : status;
out:
    for (size_t i = 0; i < nouts; i++)
        fetch_outcome_free(&outs[i]);
    free(outs);
    fetch_poller_destroy(p);
    free(chosen);
    return status;
}

bool fetch_cmd_check(const struct cdr_config *cfg)
{
    bool ok = true;
    fetch_init();
    for (size_t si = 0; si < cfg->nsources; si++) {
        const struct cdr_source *src = &cfg->sources[si];
        if (!src->fetch)
            continue;
        struct transfer_conf c;
        char warn[CDR_ERRLEN], msg[CDR_ERRLEN];
        if (!transfer_conf_make(src, &c, warn, sizeof warn, msg, sizeof msg)) {
            printf("  fetch %s: %s\n", src->name, msg);
            ok = false;
            continue;
        }
        if (warn[0])
            log_warn("source %s: %s", src->name, warn);
        if (c.insecure_tls)
            log_warn("source %s: insecure_tls is on: the PBX's certificate is not checked",
                     src->name);
        bool reached = transfer_check(&c, msg, sizeof msg);
        printf("  fetch %s: %s: %s%s\n", src->name, c.shown_url, reached ? "" : "cannot connect: ",
               msg);
        ok &= reached;
        transfer_conf_free(&c);
    }
    fflush(stdout);
    return ok;
}
