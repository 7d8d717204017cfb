/*
 * stream_import.c - a test driver for the end-to-end suite: imports files
 * through file_import_input as inputs that can be read only once (as an
 * archive member or an HTTP body will be), so that the checksum learnt in
 * the parse pass and the rollback of a known one run against a real
 * server. Usage: stream_import CONFIG FILE...; prints one line per file:
 * "<status> new=<n> duplicate=<n> rejected=<n> sha256=<hex>". A FILE
 * written "spooled:PATH" is handed over as an input that can rewind (as a
 * spooled HTTP body would be): an archive there is imported as one.
 */
#include "file.h"
#include "input.h"
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct once {
    int fd;
};

static ssize_t once_read(void *impl, void *buf, size_t len)
{
    struct once *o = impl;
    for (;;) {
        ssize_t n = read(o->fd, buf, len > 4096 ? 4096 : len); /* small reads */
        if (n >= 0 || errno != EINTR)
            return n;
    }
}

static void once_close(void *impl)
{
    struct once *o = impl;
    close(o->fd);
    free(o);
}

static const struct input_ops once_ops = {.read = once_read, .close = once_close};

static struct input *open_once(const char *path)
{
    struct once *o = xmalloc(sizeof *o);
    o->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (o->fd < 0) {
        perror(path);
        free(o);
        return NULL;
    }
    return input_new(path, -1, &once_ops, o);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: stream_import CONFIG FILE...\n");
        return 2;
    }
    char err[CDR_ERRLEN];
    struct cdr_config *cfg = config_load(argv[1], err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    struct job job = {0};
    int status = 0;
    if (!job_init(&job, cfg) || !(job.db = job_connect(cfg, true))) {
        status = 3;
        goto out;
    }
    for (int i = 2; i < argc; i++) {
        struct input *in = NULL;
        if (!strncmp(argv[i], "spooled:", 8)) {
            char why[CDR_ERRLEN];
            if (input_file_claim(argv[i] + 8, false, false, &in, why, sizeof why) !=
                INPUT_CLAIMED) {
                fprintf(stderr, "%s: %s\n", argv[i] + 8, why);
                status = 1;
                continue;
            }
        } else {
            in = open_once(argv[i]);
            if (!in) {
                status = 1;
                continue;
            }
        }
        struct file_opts opts = {0};
        struct file_result r;
        file_import_input(job.db, &cfg->sources[0], job.profiles[0], in, &opts, &r);
        printf("%s new=%llu duplicate=%llu rejected=%llu sha256=%s%s%s\n",
               file_status_name(r.status), (unsigned long long)r.stats.rows_inserted,
               (unsigned long long)r.stats.rows_duplicate,
               (unsigned long long)r.stats.rows_rejected, r.sha256, *r.error ? " error=" : "",
               r.error);
        file_release(&r);
    }
out:
    db_close(job.db);
    job.db = NULL;
    job_free(&job);
    config_free(cfg);
    return status;
}
