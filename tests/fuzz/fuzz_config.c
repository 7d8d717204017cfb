/*
 * fuzz_config.c - libFuzzer target: importer.yaml through config_load
 * (keytab.c's YAML walk, config.c's and config_fetch.c's rules), then what
 * a command does next with a loaded config: a profile per source
 * (job.c) and, for a fetch source, the request's settings and the url
 * shown in logs (transfer.c). A config that loads must keep the promises
 * config.h makes: absolute paths, a name, at least one file pattern, a
 * custom layout with a call_time column.
 *
 * The input is the file's text. config_load reads a path, so each input
 * is written to one file in a private folder (on /dev/shm when there is
 * one: no disk writes per run).
 */
#include "config.h"
#include "profile.h"
#include "transfer.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char yaml_path[256];

static void fail(const char *what, const struct cdr_source *s)
{
    fprintf(stderr, "fuzz: source '%s': %s\n", s->name ? s->name : "(null)", what);
    abort();
}

static void remove_file(void)
{
    unlink(yaml_path);
    *strrchr(yaml_path, '/') = '\0';
    rmdir(yaml_path);
}

static const char *make_file(void)
{
    if (!yaml_path[0]) {
        char dir[128];
        snprintf(dir, sizeof dir, "%s/fuzz-config.XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
        snprintf(yaml_path, sizeof yaml_path, "%s/importer.yaml", dir);
        atexit(remove_file);
    }
    return yaml_path;
}

static bool absolute(const char *p)
{
    return p && p[0] == '/';
}

static void check_source(const struct cdr_source *s)
{
    if (!s->name || !s->name[0])
        fail("no name", s);
    if (!absolute(s->path) || !absolute(s->processed_dir) || !absolute(s->failed_dir))
        fail("a path that is not absolute", s);
    if (s->npatterns == 0 || s->nmembers == 0)
        fail("no file patterns", s);
    if (!s->timezone || !s->encoding)
        fail("no time zone or encoding", s);
    if (s->max_line_bytes < 1024 || s->max_reject_ratio < 0 || s->max_reject_ratio > 1)
        fail("a limit out of its range", s);
    if (s->format == CDR_FMT_CUSTOM) {
        bool start = false;
        for (size_t i = 0; i < s->ncolumns; i++)
            start |= s->columns[i].kind == CDR_COL_FIELD &&
                     s->columns[i].field == CDR_F_CALL_TIME;
        if (!start)
            fail("a custom layout without call_time", s);
    }

    /* job.c's profile; an encoding iconv does not know is the one failure
     * the loader leaves to it. */
    char err[CDR_ERRLEN];
    struct profile *p = profile_create(s->format, s->columns, s->ncolumns, s->encoding, err,
                                       sizeof err);
    if (p) {
        profile_set_header(p, s->header);
        profile_destroy(p);
    }

    if (s->fetch) {
        if (!s->fetch->url)
            fail("a fetch block without url", s);
        /* The password file is not read: the fuzzer could name a FIFO. */
        struct cdr_source copy = *s;
        struct cdr_fetch f = *s->fetch;
        f.password_file = NULL;
        copy.fetch = &f;
        struct transfer_conf c;
        char warn[CDR_ERRLEN];
        if (transfer_conf_make(&copy, &c, warn, sizeof warn, err, sizeof err)) {
            if (c.password && strstr(c.shown_url, c.password) && strlen(c.password) > 3 &&
                !strstr(c.url, c.password))
                fail("the shown url carries the password", s);
            transfer_conf_free(&c);
        }
        free(transfer_mask_url(s->fetch->url));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = make_file();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size)) {
        perror(path);
        abort();
    }
    close(fd);
    char err[CDR_ERRLEN];
    struct cdr_config *cfg = config_load(path, err, sizeof err);
    if (!cfg) {
        if (!err[0])
            abort(); /* a refusal must say why */
        return 0;
    }
    if (cfg->nsources == 0 || cfg->jobs < 1 || cfg->jobs > CDR_MAX_JOBS || !cfg->schema)
        abort();
    for (size_t i = 0; i < cfg->nsources; i++)
        check_source(&cfg->sources[i]);
    config_free(cfg);
    return 0;
}
