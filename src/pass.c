/*
 * pass.c - one pass over an input (pass.h): read it in chunks, feed the
 * CSV parser, map each record with the profile and hand it to the load,
 * hand each bad line to the load verbatim, and end with the checksum of
 * what was read, so that file.c can tell a file that changed since its
 * checksum pass. A header (format custom, `header: true`) is the first
 * record, skipped; a first line too broken to be a record is not one.
 */
#include "pass.h"
#include "input.h"
#include "log.h"
#include "parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_CHUNK (256u * 1024u)

/* What the parser callbacks share. */
struct pass {
    const struct pass_spec *spec;
    struct pass_result *res;
    bool header_pending;
    uint64_t logged;
};

static enum parse_verdict on_record(void *ctx, const char *const *fields, const size_t *lens,
                                    size_t n, uint64_t line, char *reason, size_t reason_len)
{
    struct pass *ps = ctx;
    struct pass_result *res = ps->res;
    if (ps->header_pending) {
        ps->header_pending = false;
        return PARSE_OK;
    }
    struct cdr_row row;
    if (!profile_map(ps->spec->prof, fields, lens, n, &row, reason, reason_len))
        return PARSE_BAD;
    res->stats.rows_read++;
    res->valid++;
    if (row.repaired)
        res->stats.rows_repaired++;
    if (ps->spec->ld && !ps->spec->rejects_only) {
        res->st = load_row(ps->spec->ld, &row, line);
        if (res->st != LOAD_OK)
            return PARSE_ABORT;
    }
    return PARSE_OK;
}

static enum parse_verdict on_reject(void *ctx, uint64_t line, const char *raw, size_t len,
                                    const char *reason)
{
    struct pass *ps = ctx;
    struct pass_result *res = ps->res;
    if (ps->header_pending)
        ps->header_pending = false; /* a broken first line is not a header */
    res->stats.rows_read++;
    res->stats.rows_rejected++;
    /* Logged once the load took it: a file found known only now (load.h)
     * says nothing of its lines. */
    if (ps->spec->ld) {
        res->st = load_reject(ps->spec->ld, line, raw, len, reason);
        if (res->st != LOAD_OK)
            return PARSE_ABORT;
    }
    if (!ps->spec->rejects_only && ps->logged++ < PASS_MAX_LOGGED_REJECTS)
        log_warn("%s:%llu: rejected: %s", ps->spec->name, (unsigned long long)line, reason);
    return PARSE_OK;
}

/* Every chunk of the input through the parser, then its end: the line cut
 * by damage (input_why after the last byte) is rejected, whatever its
 * fields say. */
static enum pass_end feed_all(struct parser *parser, const struct pass_spec *spec,
                              const struct pass_result *res, char *buf)
{
    struct input *in = spec->in;
    uint64_t total = input_size(in) > 0 ? (uint64_t)input_size(in) : 0;
    if (input_offset(in) != 0 && input_rewind(in) < 0)
        return PASS_READ_ERROR;
    for (;;) {
        ssize_t n = input_read(in, buf, READ_CHUNK);
        if (n < 0)
            return PASS_READ_ERROR;
        if (n == 0)
            break;
        if (parse_feed(parser, buf, (size_t)n) < 0)
            return PASS_LOAD_FAILED;
        if (spec->progress && !spec->progress(spec->progress_ctx, input_offset(in), total,
                                              res->stats.rows_read))
            return PASS_CANCELLED;
    }
    char cut[CDR_ERRLEN];
    if (input_why(in))
        snprintf(cut, sizeof cut, "cut short by damage to the archive: %s", input_why(in));
    if ((input_why(in) ? parse_finish_cut(parser, cut) : parse_finish(parser)) < 0)
        return PASS_LOAD_FAILED;
    return PASS_DONE;
}

enum pass_end pass_run(const struct pass_spec *spec, struct pass_result *res)
{
    *res = (struct pass_result){.st = LOAD_OK};
    struct pass ps = {.spec = spec, .res = res, .header_pending = profile_has_header(spec->prof)};
    struct parse_cb cb = {on_record, on_reject, &ps};
    struct parser *parser = parse_create(spec->max_line_bytes, &cb);
    if (!parser)
        return PASS_NO_PARSER;
    char *buf = xmalloc(READ_CHUNK);
    enum pass_end end = feed_all(parser, spec, res, buf);
    if (end == PASS_DONE) {
        input_checksum(spec->in, res->sha256);
        res->size = input_offset(spec->in);
    }
    free(buf);
    parse_destroy(parser);
    return end;
}
