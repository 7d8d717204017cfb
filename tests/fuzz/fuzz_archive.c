/*
 * fuzz_archive.c - libFuzzer target: a packed download read as packed.c
 * reads it (input_archive.h over libarchive: zip, tar, gzip, bzip2, xz),
 * each CDR member's bytes through the CSV path of pipeline.h, with the
 * limits of a real source (max_member_bytes at its least, 1 MiB, and the
 * 1000:1 rule). A member may be read a second time (its rewind reopens
 * the archive and skips to it, as file.c does to keep a failed member's
 * rejects): both readings must give the same rows, rejects and checksum.
 * Only a member's first 64 KiB go through the CSV path (the rest is read
 * and hashed): fuzz_csv fuzzes that path, and a 1 MiB member of bad lines
 * costs seconds under the sanitizers and coverage, linearly, which would
 * hide the archive reader's own slow inputs among the CSV path's.
 *
 * Input: one control byte, then the archive's bytes.
 *   byte 0: bits 0-1 the profile (pipeline.h); bit 2 read each member twice
 */
#include "input.h"
#include "input_archive.h"
#include "pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The archive: bytes in memory that can rewind, as a claimed file can. */
struct mem {
    const uint8_t *data;
    size_t len, pos;
};

static ssize_t mem_read(void *impl, void *buf, size_t len)
{
    struct mem *m = impl;
    size_t n = m->len - m->pos < len ? m->len - m->pos : len;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

static int mem_rewind(void *impl)
{
    ((struct mem *)impl)->pos = 0;
    return 0;
}

static void mem_close(void *impl)
{
    (void)impl;
}

static const struct input_ops mem_ops = {.read = mem_read, .rewind = mem_rewind,
                                         .close = mem_close};

#define PARSED_BYTES (64u * 1024u)

/* A member's bytes for the pipeline; a read error ends them (file.c
 * reports the member unreadable then). */
struct member_src {
    struct input *in;
    uint64_t fed;
    bool error;
};

static size_t member_next(void *ctx, unsigned char *buf, size_t cap)
{
    struct member_src *s = ctx;
    if (s->fed >= PARSED_BYTES) {
        /* The rest: read (and so hashed) to its end, not parsed. */
        ssize_t n;
        while ((n = input_read(s->in, buf, cap)) > 0)
            ;
        s->error = n < 0;
        return 0;
    }
    if (cap > PARSED_BYTES - s->fed)
        cap = PARSED_BYTES - s->fed;
    ssize_t n = input_read(s->in, buf, cap);
    if (n < 0) {
        s->error = true;
        return 0;
    }
    s->fed += (uint64_t)n;
    return (size_t)n;
}

static const char *member_cut(void *ctx)
{
    return input_why(((struct member_src *)ctx)->in);
}

/* One pass over the member from its first byte, and its checksum; false
 * on a read error. */
static bool pass(struct profile *prof, struct input *m, struct fuzz_summary *out, char hex[65])
{
    struct member_src s = {m, 0, false};
    fuzz_pipeline_run(prof, CDR_DEFAULT_MAX_LINE_BYTES, member_next, member_cut, &s, 64 * 1024,
                      out);
    if (s.error)
        return false;
    if (!input_checksum(m, hex))
        fuzz_fail("member read to its end has no checksum");
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct profile *profiles[4];
    if (size < 1)
        return 0;
    unsigned ctl = data[0], which = ctl & 3;
    bool twice = ctl & 4;
    data++;
    size--;
    if (!profiles[which])
        profiles[which] = fuzz_profile_make((enum fuzz_profile)which, NULL);
    /* file.c opens it as an archive only when its first bytes say so. */
    if (!input_archive_sniff(data, size < INPUT_ARCHIVE_HEAD ? size : INPUT_ARCHIVE_HEAD))
        return 0;

    struct mem mem = {data, size, 0};
    struct input *file = input_new("Master.csv.gz", (int64_t)size, &mem_ops, &mem);
    char why[CDR_ERRLEN];
    struct input_archive *ar = input_archive_open(file, 1024 * 1024, why, sizeof why);
    if (!ar) {
        input_close(file);
        return 0;
    }
    struct input_archive_entry e;
    int rc;
    unsigned entries = 0;
    while ((rc = input_archive_next(ar, &e, why, sizeof why)) > 0) {
        if (!e.name || e.index != entries++)
            fuzz_fail("entry %u: no name or index %zu", entries - 1, e.index);
        if (!e.regular || e.encrypted) {
            if (input_archive_skip(ar, why, sizeof why) < 0)
                break;
            continue;
        }
        bool nested;
        struct input *m = input_archive_member(ar, &nested);
        if (nested) {
            input_close(m);
            if (input_archive_skip(ar, why, sizeof why) < 0)
                break;
            continue;
        }
        struct fuzz_summary first, second;
        char sum1[65], sum2[65];
        bool ok = pass(profiles[which], m, &first, sum1);
        if (ok && input_offset(m) > 1024 * 1024)
            fuzz_fail("member of %llu bytes, past max_member_bytes",
                      (unsigned long long)input_offset(m));
        if (ok && twice) {
            const char *cut1 = input_why(m);
            char saved[CDR_ERRLEN];
            snprintf(saved, sizeof saved, "%s", cut1 ? cut1 : "");
            if (input_rewind(m) == 0 && pass(profiles[which], m, &second, sum2)) {
                const char *cut2 = input_why(m);
                if (strcmp(first.digest, second.digest) != 0 || strcmp(sum1, sum2) != 0 ||
                    strcmp(saved, cut2 ? cut2 : "") != 0)
                    fuzz_fail("member %zu reads differently after its rewind: %llu/%llu rows, "
                              "%llu/%llu rejects, cut '%s'/'%s'",
                              e.index, (unsigned long long)first.rows,
                              (unsigned long long)second.rows,
                              (unsigned long long)first.rejects,
                              (unsigned long long)second.rejects, saved, cut2 ? cut2 : "");
            }
        }
        input_close(m);
        if (!ok || input_archive_broken(ar))
            break;
    }
    input_archive_close(ar);
    input_close(file);
    return 0;
}
