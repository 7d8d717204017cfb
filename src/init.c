/*
 * init.c - `cdrimport init` (see init.h). The file it writes is the
 * shortest working configuration, with a comment on each line saying what
 * to change; every other key keeps its default and is described in
 * importer.yaml(5). It is loaded back before init reports success, so that
 * init never leaves a file that `check` would refuse.
 */
#include "init.h"
#include "config.h"
#include "log.h"
#include "plat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the dsn ------------------------------------------------------------- */

/* One keyword=value, the value quoted the libpq way when it must be. */
static void add_param(char **out, const char *kw, const char *val)
{
    bool quote = !*val || strpbrk(val, " \t\n'\\") != NULL;
    size_t n = strlen(val);
    char *v = xmalloc(2 * n + 3), *w = v;
    if (quote)
        *w++ = '\'';
    for (const char *c = val; *c; c++) {
        if (quote && (*c == '\'' || *c == '\\'))
            *w++ = '\\';
        *w++ = *c;
    }
    if (quote)
        *w++ = '\'';
    *w = '\0';
    char *joined = xasprintf("%s%s%s=%s", *out ? *out : "", *out ? " " : "", kw, v);
    free(*out);
    free(v);
    *out = joined;
}

char *init_dsn_from_env(void)
{
    static const char *const vars[][2] = {
        {"PGHOST", "host"}, {"PGPORT", "port"}, {"PGDATABASE", "dbname"}, {"PGUSER", "user"}};
    char *dsn = NULL;
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i][0]);
        if (v && *v)
            add_param(&dsn, vars[i][1], v);
    }
    return dsn;
}

/* ---- the text ------------------------------------------------------------ */

/* A YAML single-quoted scalar: the only escape is '' for '. */
static char *yaml_quote(const char *s)
{
    size_t n = strlen(s);
    char *q = xmalloc(2 * n + 3), *w = q;
    *w++ = '\'';
    for (const char *c = s; *c; c++) {
        if (*c == '\'')
            *w++ = '\'';
        *w++ = *c;
    }
    *w++ = '\'';
    *w = '\0';
    return q;
}

char *init_text(const char *dsn, const char *timezone)
{
    char *qdsn = dsn ? yaml_quote(dsn) : NULL;
    char *qtz = yaml_quote(timezone);
    char *dsn_lines =
        qdsn ? xasprintf("  # From the PG* environment `cdrimport init` ran in. A libpq\n"
                         "  # connection string or URI; no password here (~/.pgpass).\n"
                         "  dsn: %s\n", qdsn)
             : xstrdup("  # No dsn: libpq reads the PG* environment (PGHOST, PGDATABASE,\n"
                       "  # ...) at every run. Or name the server here, for example\n"
                       "  # dsn: \"host=/var/run/postgresql dbname=cdr\"\n"
                       "  # (no password here: ~/.pgpass or PGPASSWORD).\n");
    char *text = xasprintf(
        "# importer.yaml - cdrimport's configuration, written by `cdrimport init`.\n"
        "# Relative paths are taken relative to the folder of this file. Unknown\n"
        "# keys are errors. Every key, with its type and default: man 5 importer.yaml\n"
        "# Next: `cdrimport check`, drop a Master.csv into inbox/, `cdrimport scan`.\n"
        "\n"
        "database:\n"
        "%s"
        "  schema: public              # tables cdr, cdr_file, cdr_reject, cdr_schema\n"
        "\n"
        "sources:\n"
        "  - name: pbx                 # stored in cdr.source: tells PBXs apart\n"
        "    path: ./inbox             # the folder `scan` and `watch` read\n"
        "    # auto: each file's profile is told from its first records (kx-hts,\n"
        "    # asterisk, asterisk-custom); name one to have other files fail.\n"
        "    format: auto\n"
        "    timezone: %s # the PBX clock's zone (this host's when init ran)\n"
        "    on_success: move          # imported files go to processed_dir\n"
        "    processed_dir: ./processed\n"
        "    failed_dir: ./failed      # failed files, with a .error note beside them\n",
        dsn_lines, qtz);
    free(qdsn);
    free(qtz);
    free(dsn_lines);
    return text;
}

/* ---- the command --------------------------------------------------------- */

static bool write_file(const char *path, const char *text, bool force)
{
    int fd = plat_open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            log_error("%s exists: not replaced (cdrimport init --force replaces it)", path);
        else
            log_error("cannot write %s: %s", path, strerror(errno));
        return false;
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_error("cannot write %s: %s", path, strerror(errno));
            close(fd);
            return false;
        }
        done += (size_t)n;
    }
    if (close(fd) < 0) {
        log_error("cannot write %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

int init_run(const char *path, bool force)
{
    char *dsn = init_dsn_from_env();
    char *tz = config_host_timezone();
    if (!tz) {
        /* Windows: its zone has no IANA name here. UTC is written, and said. */
        char *foreign = plat_host_zone_name();
        log_warn("this host's zone (\"%s\") has no IANA name here: timezone: UTC written; set "
                 "it to the PBX clock's zone (e.g. Europe/Berlin)", foreign ? foreign : "?");
        free(foreign);
        tz = xstrdup("UTC");
    }
    char *text = init_text(dsn, tz);
    bool ok = write_file(path, text, force);
    free(text);
    if (!ok) {
        free(dsn);
        free(tz);
        return CDR_EXIT_USAGE;
    }
    char err[CDR_ERRLEN];
    struct cdr_config *cfg = config_load(path, err, sizeof err);
    if (!cfg) {
        log_error("the file written does not load (a bug): %s", err);
        free(dsn);
        free(tz);
        return CDR_EXIT_USAGE;
    }
    const char *inbox = cfg->sources[0].path;
    if (plat_mkdir(inbox, 0755) < 0 && errno != EEXIST)
        log_warn("cannot create %s: %s", inbox, strerror(errno));
    printf("wrote %s: source pbx on %s, format auto, time zone %s, %s\n", cfg->file, inbox, tz,
           dsn ? "dsn from the PG* environment" : "no dsn (libpq reads PG* at each run)");
    if (strcmp(path, "importer.yaml") == 0)
        printf("next: cdrimport check\n");
    else
        printf("next: cdrimport -c %s check\n", path);
    config_free(cfg);
    free(dsn);
    free(tz);
    return CDR_EXIT_OK;
}
