/*
 * parse.c - the streaming CSV reader on top of libcsv.
 *
 * libcsv parses; this layer keeps, for the record being read, its raw bytes
 * (to store a rejected line verbatim) and the physical line it started on.
 * Input is cut at newlines before it reaches libcsv, so the raw copy and the
 * line count stay exact at any chunk size, and a line longer than
 * max_line_bytes is never fed to libcsv nor held whole.
 *
 * Recovery: a quote left open swallows the following lines into one record.
 * When such a multi-line record turns out bad (a parse error, a wrong field
 * count, or it grows past the limit), only its first line is rejected and
 * the lines after it are read again as records of their own ("replay"), so
 * one damaged line never takes good calls with it.
 */
#include "parse.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    struct csv_parser csv;
    struct parse_cb cb;
    size_t max;             /* max_line_bytes */
    uint64_t line;          /* physical line of the next byte, 1-based */
    uint64_t rec_line;      /* line the current record started on */
    uint64_t nlines;        /* lines seen */
    char *raw;              /* the current record's bytes, at most max */
    size_t raw_len;
    bool overflow;          /* current line passed max: skipping to newline */
    bool broken;            /* libcsv found bad quoting: skipping to newline */
    size_t broken_at;       /* offset in raw of the bad byte */
    /* fields of the record being read, copied out of libcsv's buffer */
    char *fbuf;
    size_t fcap, fused;
    size_t *foff, *flen;
    const char **fptr;
    size_t nf, nfcap;
    /* set by the record callback */
    bool rec_ended;
    bool replay;            /* a multi-line record failed: re-read its tail */
    bool aborted;
    /* BOM detection at the start of input */
    bool at_start;
    unsigned char head[3];
    size_t nhead;
    bool cr_held;           /* the last chunk ended in '\r': not fed yet */
    const char *cut;        /* parse_finish_cut: why the input stopped short */
    char reason[256];
};

static const unsigned char BOM[3] = {0xEF, 0xBB, 0xBF};

/* Fields are data, not formatting: keep spaces and tabs around them. */
static int never_space(unsigned char c)
{
    (void)c;
    return 0;
}

/* Only '\n' ends a record. libcsv's default also ends one at '\r', which
 * would split a line holding a stray CR into several records that all
 * claim its line number; the CR of a CRLF is dropped before libcsv sees it
 * (feed_line). A stray CR is field data, and the record's field count or
 * quoting then decides. libcsv calls a terminator function for every byte
 * (8% of the parse), so it is installed only for a segment with a stray CR. */
static int is_lf(unsigned char c)
{
    return c == '\n';
}

/* Whether libcsv is inside a quoted field, where a CRLF is data. The
 * values are libcsv's (libcsv.c: FIELD_BEGUN is 2), stable since 3.0. */
static bool in_quotes(const struct parser *p)
{
    return p->csv.pstate == 2 && p->csv.quoted;
}

static void csv_reset(struct parser *p)
{
    csv_free(&p->csv);
    if (csv_init(&p->csv, CSV_STRICT | CSV_STRICT_FINI) != 0)
        cdr_fatal("libcsv initialisation failed");
    csv_set_space_func(&p->csv, never_space);
    p->nf = 0;
    p->fused = 0;
}

struct parser *parse_create(size_t max_line_bytes, const struct parse_cb *cb)
{
    struct parser *p = xcalloc(1, sizeof *p);
    p->cb = *cb;
    p->max = max_line_bytes ? max_line_bytes : CDR_DEFAULT_MAX_LINE_BYTES;
    p->raw = xmalloc(p->max);
    p->line = p->rec_line = 1;
    p->at_start = true;
    p->fcap = 1024;
    p->fbuf = xmalloc(p->fcap);
    p->nfcap = 32;
    p->foff = xmalloc(p->nfcap * sizeof *p->foff);
    p->flen = xmalloc(p->nfcap * sizeof *p->flen);
    p->fptr = xmalloc(p->nfcap * sizeof *p->fptr);
    if (csv_init(&p->csv, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        parse_destroy(p);
        return NULL;
    }
    csv_set_space_func(&p->csv, never_space);
    return p;
}

void parse_destroy(struct parser *p)
{
    if (!p)
        return;
    csv_free(&p->csv);
    free(p->raw);
    free(p->fbuf);
    free(p->foff);
    free(p->flen);
    free(p->fptr);
    free(p);
}

uint64_t parse_lines(const struct parser *p)
{
    return p->nlines;
}

/* ---- rejects -------------------------------------------------------------- */

/* Report raw[0..len) as a rejected line; strips the line terminator. */
static void reject(struct parser *p, uint64_t line, const char *raw, size_t len, const char *why)
{
    /* libcsv also ends a record at a bare '\r', which may be the last byte
     * seen so far: strip every line-end byte, whatever the chunking. */
    while (len && (raw[len - 1] == '\n' || raw[len - 1] == '\r'))
        len--;
    char reason[sizeof p->reason + 64];
    if (memchr(raw, '\0', len))
        snprintf(reason, sizeof reason, "NUL bytes in line (unclean shutdown?); %s", why);
    else
        snprintf(reason, sizeof reason, "%s", why);
    if (p->cb.on_reject(p->cb.ctx, line, raw, len, reason) == PARSE_ABORT)
        p->aborted = true;
}

/* Length of the first physical line in raw (with its '\n'), or 0 if raw
 * holds less than one complete line. */
static size_t first_line(const struct parser *p)
{
    const char *nl = memchr(p->raw, '\n', p->raw_len);
    return nl ? (size_t)(nl - p->raw) + 1 : 0;
}

/* ---- libcsv callbacks ----------------------------------------------------- */

static void on_field(void *s, size_t len, void *data)
{
    struct parser *p = data;
    if (p->nf == p->nfcap) {
        p->nfcap *= 2;
        p->foff = xrealloc(p->foff, p->nfcap * sizeof *p->foff);
        p->flen = xrealloc(p->flen, p->nfcap * sizeof *p->flen);
        p->fptr = xrealloc(p->fptr, p->nfcap * sizeof *p->fptr);
    }
    if (p->fused + len > p->fcap) {
        while (p->fused + len > p->fcap)
            p->fcap *= 2;
        p->fbuf = xrealloc(p->fbuf, p->fcap);
    }
    if (len)
        memcpy(p->fbuf + p->fused, s, len);
    p->foff[p->nf] = p->fused;
    p->flen[p->nf] = len;
    p->fused += len;
    p->nf++;
}

static void on_record_end(int c, void *data)
{
    (void)c;
    struct parser *p = data;
    size_t nf = p->nf;
    p->nf = 0;
    p->fused = 0;
    p->rec_ended = true;
    if (p->aborted || p->replay)
        return;
    for (size_t i = 0; i < nf; i++)
        p->fptr[i] = p->fbuf + p->foff[i];
    p->reason[0] = '\0';
    enum parse_verdict v = p->cb.on_record(p->cb.ctx, p->fptr, p->flen, nf, p->rec_line,
                                           p->reason, sizeof p->reason);
    if (v == PARSE_ABORT) {
        p->aborted = true;
    } else if (v == PARSE_BAD) {
        size_t first = first_line(p);
        if (first && first < p->raw_len) {
            /* Spans lines: blame the first, read the rest again. */
            char why[sizeof p->reason + 64];
            snprintf(why, sizeof why, "quoted field runs past the end of the line (%s)",
                     p->reason);
            reject(p, p->rec_line, p->raw, first, why);
            p->replay = true;
        } else {
            reject(p, p->rec_line, p->raw, p->raw_len, p->reason[0] ? p->reason : "invalid record");
        }
    }
}

/* ---- the segment loop ----------------------------------------------------- */

/* Give libcsv one segment (a whole line, or a piece of one), dropping the
 * CR of a line-ending CRLF unless it is inside quotes. Returns the bytes of
 * seg consumed, as csv_parse does. */
static size_t feed_line(struct parser *p, const char *seg, size_t seglen, bool eol)
{
    bool crlf = eol && seglen >= 2 && seg[seglen - 2] == '\r';
    bool stray = memchr(seg, '\r', seglen - (crlf ? 2 : 0)) != NULL;
    csv_set_term_func(&p->csv, stray ? is_lf : NULL);
    if (!crlf)
        return csv_parse(&p->csv, seg, seglen, on_field, on_record_end, p);
    size_t body = seglen - 2;
    size_t done = csv_parse(&p->csv, seg, body, on_field, on_record_end, p);
    if (done < body || p->replay || p->aborted)
        return done;
    if (in_quotes(p))
        return done + csv_parse(&p->csv, seg + body, 2, on_field, on_record_end, p);
    size_t k = csv_parse(&p->csv, seg + body + 1, 1, on_field, on_record_end, p);
    return done + (k ? 2 : 1);
}

static void start_record(struct parser *p)
{
    p->raw_len = 0;
    p->rec_line = p->line;
    p->rec_ended = false;
    p->overflow = false;
    p->broken = false;
}

/* A multi-line record failed: its first line is rejected already (or is now,
 * with why); the caller re-reads raw[first..] followed by the unread input. */
static char *take_replay(struct parser *p, const char *rest, size_t rest_len, size_t *out_len)
{
    size_t first = first_line(p);
    size_t tail = p->raw_len - first;
    char *buf = xmalloc(tail + rest_len + 1);
    memcpy(buf, p->raw + first, tail);
    if (rest_len)
        memcpy(buf + tail, rest, rest_len);
    *out_len = tail + rest_len;
    p->line = p->rec_line + 1;
    p->nlines = p->rec_line; /* lines before the replayed ones */
    csv_reset(p);
    start_record(p);
    p->replay = false;
    return buf;
}

static bool all_newlines(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* What process() reads: a replay buffer it owns (the tail of a failed
 * record), then the caller's bytes from pos. The tail is kept apart from
 * the caller's bytes rather than joined to a copy of them: a file whose
 * every line opens a quote (`"` CRLF, over and over) replays on every
 * line, and copying the rest of a 256 KiB read each time made its parse
 * quadratic (found by fuzz_archive: half a MiB took seconds). */
struct input {
    char *owned;
    size_t olen, opos;
    const char *data;
    size_t len, pos;
};

/* Continue with the failed record's lines after its first, then what is
 * left of an earlier tail, then the caller's unread bytes: only the tail
 * (at most max_line_bytes) and the earlier one are copied. */
static void replay_input(struct parser *p, struct input *in)
{
    size_t n;
    const char *left = in->owned ? in->owned + in->opos : NULL;
    char *buf = take_replay(p, left, in->owned ? in->olen - in->opos : 0, &n);
    free(in->owned);
    in->owned = buf;
    in->olen = n;
    in->opos = 0;
}

/* A quoted field ran past its line: reject that first line, read the
 * following lines again as records of their own. */
static void blame_first_line(struct parser *p, struct input *in, size_t first)
{
    reject(p, p->rec_line, p->raw, first, "quoted field runs past the end of the line");
    replay_input(p, in);
}

static int process(struct parser *p, const char *data, size_t len)
{
    struct input in = {NULL, 0, 0, data, len, 0};

    while (!p->aborted) {
        /* The replayed tail first, then the caller's bytes. A tail ends at
         * a line end or where the caller's bytes ended before, never
         * between the CR and LF of a CRLF (feed_body holds a last CR). */
        const char *src;
        size_t srclen, *pos;
        if (in.owned && in.opos < in.olen) {
            src = in.owned;
            srclen = in.olen;
            pos = &in.opos;
        } else if (in.pos < in.len) {
            src = in.data;
            srclen = in.len;
            pos = &in.pos;
        } else {
            break;
        }
        const char *seg = src + *pos;
        const char *nl = memchr(seg, '\n', srclen - *pos);
        size_t seglen = nl ? (size_t)(nl - seg) + 1 : srclen - *pos;
        bool eol = nl != NULL;

        if (p->overflow || p->broken) {
            /* Skipping the rest of a bad line; the raw copy is full or
             * complete enough. */
            size_t room = p->max - p->raw_len;
            size_t k = seglen < room ? seglen : room;
            if (seglen > room)
                p->overflow = true; /* as if the whole line had come at once */
            memcpy(p->raw + p->raw_len, seg, k);
            p->raw_len += k;
            *pos += seglen;
            if (!eol)
                continue;
            p->nlines++;
            p->line++;
            if (p->overflow) {
                char why[96];
                snprintf(why, sizeof why, "line longer than max_line_bytes (%zu), cut", p->max);
                reject(p, p->rec_line, p->raw, p->raw_len, why);
            } else {
                size_t first = first_line(p);
                if (first && first < p->raw_len) {
                    blame_first_line(p, &in, first);
                    continue;
                }
                char why[96];
                snprintf(why, sizeof why, "malformed quoting at byte %zu", p->broken_at + 1);
                reject(p, p->rec_line, p->raw, p->raw_len, why);
            }
            csv_reset(p);
            start_record(p);
            continue;
        }

        if (p->raw_len + seglen > p->max) {
            size_t first = first_line(p);
            if (first) {
                /* A quoted field swallowed whole lines: blame the first. */
                blame_first_line(p, &in, first);
                continue;
            }
            p->overflow = true;
            continue; /* the overflow branch copies what fits */
        }

        memcpy(p->raw + p->raw_len, seg, seglen);
        p->raw_len += seglen;
        /* rec_ended is cleared by start_record only: a record that ended
         * at a '\r' in an earlier segment of this line has still ended. */
        size_t done = feed_line(p, seg, seglen, eol);
        *pos += seglen;
        if (p->aborted)
            break;
        if (p->replay) {
            if (eol) {
                p->nlines++;
                p->line++;
            }
            replay_input(p, &in);
            continue;
        }
        if (done < seglen) {
            size_t first = first_line(p);
            if (first && first < p->raw_len) {
                /* A quote opened on an earlier line: blame that line and
                 * replay now, while raw still holds every byte (the skip
                 * branch below cuts raw at max). */
                blame_first_line(p, &in, first);
                continue;
            }
            p->broken = true;
            p->broken_at = p->raw_len - seglen + done;
            if (!eol)
                continue;
            /* The line is complete in raw: let the skip branch report it. */
            p->raw_len -= seglen;
            *pos -= seglen;
            continue;
        }
        if (!eol)
            continue;
        p->nlines++;
        p->line++;
        if (p->rec_ended || all_newlines(p->raw, p->raw_len))
            start_record(p);
        /* else: inside a quoted field that spans lines; keep going */
    }
    free(in.owned);
    return p->aborted ? -1 : 0;
}

/* Process bytes, holding back a '\r' that ends them: libcsv ends a record
 * at '\r', before the '\n' shows whether the line fits max_line_bytes, so
 * CRLF split across chunks must reach process() in one piece, as it does
 * when the whole line comes at once. */
static int feed_body(struct parser *p, const char *d, size_t len)
{
    if (len && p->cr_held) {
        p->cr_held = false;
        if (d[0] == '\n') {
            d++;
            len--;
            if (process(p, "\r\n", 2) < 0)
                return -1;
        } else if (process(p, "\r", 1) < 0) {
            return -1;
        }
    }
    if (len && d[len - 1] == '\r') {
        p->cr_held = true;
        len--;
    }
    return process(p, d, len);
}

int parse_feed(struct parser *p, const void *data, size_t len)
{
    const unsigned char *d = data;
    if (p->aborted)
        return -1;
    if (p->at_start) {
        /* The BOM may arrive split across chunks: hold up to 3 bytes. */
        while (len && p->nhead < 3 && d[0] == BOM[p->nhead]) {
            p->head[p->nhead++] = d[0];
            d++;
            len--;
        }
        if (p->nhead == 3) {
            p->at_start = false; /* a BOM: dropped */
        } else if (len) {
            p->at_start = false; /* not a BOM: what was held is data */
            if (p->nhead && process(p, (const char *)p->head, p->nhead) < 0)
                return -1;
        } else {
            return 0;
        }
    }
    return feed_body(p, (const char *)d, len);
}

int parse_finish(struct parser *p)
{
    if (p->at_start && p->nhead && p->nhead < 3) {
        p->at_start = false;
        if (process(p, (const char *)p->head, p->nhead) < 0)
            return -1;
    }
    if (p->cr_held) {
        /* The file ends in CR: a line end, unless inside quotes. */
        p->cr_held = false;
        if (in_quotes(p) ? process(p, "\r", 1) < 0 : process(p, "\r\n", 2) < 0)
            return -1;
    }
    while (!p->aborted) {
        if (p->raw_len == 0 || all_newlines(p->raw, p->raw_len))
            break;
        /* A last line without newline counts as a line. */
        if (p->raw[p->raw_len - 1] != '\n')
            p->nlines++;
        if (p->overflow || p->broken) {
            char why[96];
            if (p->overflow)
                snprintf(why, sizeof why, "line longer than max_line_bytes (%zu), cut", p->max);
            else
                snprintf(why, sizeof why, "malformed quoting at byte %zu", p->broken_at + 1);
            size_t first = first_line(p);
            if (p->broken && first && first < p->raw_len) {
                reject(p, p->rec_line, p->raw, first, "quoted field runs past the end of the line");
                goto replay;
            }
            reject(p, p->rec_line, p->raw, p->raw_len, why);
            break;
        }
        if (p->cut && !memchr(p->raw, '\n', p->raw_len)) {
            /* The input was cut inside this line: however many fields it
             * has, it is not whole (its last field may be cut short). */
            reject(p, p->rec_line, p->raw, p->raw_len, p->cut);
            break;
        }
        p->rec_ended = false;
        if (csv_fini(&p->csv, on_field, on_record_end, p) != 0) {
            size_t first = first_line(p);
            if (first && first < p->raw_len) {
                reject(p, p->rec_line, p->raw, first, "quoted field runs past the end of the line");
                goto replay;
            }
            reject(p, p->rec_line, p->raw, p->raw_len,
                   "unterminated quote at end of file (truncated record?)");
            break;
        }
        if (!p->replay)
            break;
    replay:
        p->nlines = p->rec_line;
        {
            size_t n;
            char *buf = take_replay(p, NULL, 0, &n);
            int rc = process(p, buf, n);
            free(buf);
            if (rc < 0)
                break;
        }
    }
    csv_reset(p);
    start_record(p);
    return p->aborted ? -1 : 0;
}

int parse_finish_cut(struct parser *p, const char *why)
{
    p->cut = why;
    int rc = parse_finish(p);
    p->cut = NULL;
    return rc;
}
