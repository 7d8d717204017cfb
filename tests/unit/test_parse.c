/*
 * test_parse.c - parse.c against a table of inputs: each case is the input
 * bytes, max_line_bytes, the records expected (fields and the line each
 * starts on), the rejects expected (line, raw bytes, a substring of the
 * reason) and parse_lines() at the end. Following libcsv's own test, every
 * input is fed at every chunk size from 1 byte to its whole length, each
 * chunk in its own exactly-sized allocation (so an over-read shows under
 * valgrind or ASan), and every run must give the expected result.
 * Then the RFC 4180 edge cases of csv-spectrum ($SHARED/fixtures/csv-spectrum)
 * against their JSON, at every chunk size too.
 *
 * The consumer in these tests is scripted by the data: a record whose first
 * field starts with "BAD" is answered PARSE_BAD, one whose first field is
 * "ABORT" PARSE_ABORT; a reject whose raw line starts with "ABORTREJ" is
 * answered PARSE_ABORT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parse.h"
#include "testutil.h"

/* ---- the table ------------------------------------------------------------ */

/* struct bytes and B() are testutil.h's. */
#define ENDF {NULL, 0}

struct exp_rec {
    uint64_t line;
    const struct bytes *fields; /* ENDF-terminated */
};

struct exp_rej {
    uint64_t line;
    struct bytes raw;
    const char *why; /* substring of the reason */
};

struct pcase {
    const char *name;
    struct bytes in;
    size_t max;                 /* max_line_bytes; 0: the default */
    const struct exp_rec *recs; /* terminated by line 0 */
    const struct exp_rej *rejs; /* terminated by line 0 */
    int64_t lines;              /* parse_lines() at the end; -1: not checked */
    int rc;                     /* -1: a callback aborted */
};

#define F(...) ((const struct bytes[]){__VA_ARGS__, ENDF})
#define RECS(...) ((const struct exp_rec[]){__VA_ARGS__, {0, NULL}})
#define REJS(...) ((const struct exp_rej[]){__VA_ARGS__, {0, {NULL, 0}, NULL}})
#define NOREC ((const struct exp_rec[]){{0, NULL}})
#define NOREJ ((const struct exp_rej[]){{0, {NULL, 0}, NULL}})

#define RUNS_PAST "quoted field runs past the end of the line"
#define TOO_LONG(n) "line longer than max_line_bytes (" #n ")"

static const struct pcase cases[] = {
    /* -- the plain cases -- */
    {"simple", B("a,b,c\n1,2,3\n"), 0,
     RECS({1, F(B("a"), B("b"), B("c"))}, {2, F(B("1"), B("2"), B("3"))}), NOREJ, 2, 0},
    {"empty input", B(""), 0, NOREC, NOREJ, 0, 0},
    {"one field per line", B("a\nb\n"), 0, RECS({1, F(B("a"))}, {2, F(B("b"))}), NOREJ, 2, 0},
    {"CRLF", B("a,b\r\n1,2\r\n3,4\r\n"), 0,
     RECS({1, F(B("a"), B("b"))}, {2, F(B("1"), B("2"))}, {3, F(B("3"), B("4"))}), NOREJ, 3, 0},
    {"LF and CRLF mixed", B("a\r\nb\nc\r\n"), 0,
     RECS({1, F(B("a"))}, {2, F(B("b"))}, {3, F(B("c"))}), NOREJ, 3, 0},
    {"last line without newline", B("a,b\nc,d"), 0,
     RECS({1, F(B("a"), B("b"))}, {2, F(B("c"), B("d"))}), NOREJ, 2, 0},
    {"last line quoted, without newline", B("a\n\"b,c\""), 0,
     RECS({1, F(B("a"))}, {2, F(B("b,c"))}), NOREJ, 2, 0},
    {"empty fields", B(",,\n\"\"\n,\"\"\n"), 0,
     RECS({1, F(B(""), B(""), B(""))}, {2, F(B(""))}, {3, F(B(""), B(""))}), NOREJ, 3, 0},
    {"spaces and tabs kept", B(" a , b\t,\t c \n  \n"), 0,
     RECS({1, F(B(" a "), B(" b\t"), B("\t c "))}, {2, F(B("  "))}), NOREJ, 2, 0},
    {"spaces kept after a recovery", B("\"ab\"c\n a , b \n\"x\n\ty\t\n"), 0,
     RECS({2, F(B(" a "), B(" b "))}, {4, F(B("\ty\t"))}),
     REJS({1, B("\"ab\"c"), "malformed quoting"}, {3, B("\"x"), RUNS_PAST}), 4, 0},
    {"empty lines skipped, still counted", B("\na,b\n\n\r\n\nc,d\n\n"), 0,
     RECS({2, F(B("a"), B("b"))}, {6, F(B("c"), B("d"))}), NOREJ, 7, 0},
    {"CR at EOF", B("a,b\r"), 0, RECS({1, F(B("a"), B("b"))}), NOREJ, 1, 0},
    {"only empty lines", B("\n\r\n\n"), 0, NOREC, NOREJ, 3, 0},

    /* -- byte order mark -- */
    {"BOM dropped", B("\xEF\xBB\xBF" "a,b\n1,2\n"), 0,
     RECS({1, F(B("a"), B("b"))}, {2, F(B("1"), B("2"))}), NOREJ, 2, 0},
    {"BOM before a quote", B("\xEF\xBB\xBF\"a,b\",c\n"), 0,
     RECS({1, F(B("a,b"), B("c"))}), NOREJ, 1, 0},
    {"BOM only", B("\xEF\xBB\xBF"), 0, NOREC, NOREJ, 0, 0},
    {"BOM then CRLF lines", B("\xEF\xBB\xBF" "a\r\nb\r\n"), 0,
     RECS({1, F(B("a"))}, {2, F(B("b"))}), NOREJ, 2, 0},
    {"half a BOM is data", B("\xEF\xBBx,y\n"), 0, RECS({1, F(B("\xEF\xBBx"), B("y"))}), NOREJ,
     1, 0},
    {"one BOM byte at EOF is data", B("\xEF"), 0, RECS({1, F(B("\xEF"))}), NOREJ, 1, 0},
    {"two BOM bytes at EOF are data", B("\xEF\xBB"), 0, RECS({1, F(B("\xEF\xBB"))}), NOREJ, 1,
     0},
    {"a BOM on line 2 is data", B("a\n\xEF\xBB\xBF" "b\n"), 0,
     RECS({1, F(B("a"))}, {2, F(B("\xEF\xBB\xBF" "b"))}), NOREJ, 2, 0},
    {"two BOMs: the second is data", B("\xEF\xBB\xBF\xEF\xBB\xBF" "a\n"), 0,
     RECS({1, F(B("\xEF\xBB\xBF" "a"))}), NOREJ, 1, 0},

    /* -- quoting -- */
    {"quoted comma, quote, empty", B("\"a,b\",\"say \"\"hi\"\"\",\"\",c\n"), 0,
     RECS({1, F(B("a,b"), B("say \"hi\""), B(""), B("c"))}), NOREJ, 1, 0},
    {"quoted newline: record on its first line", B("x,\"l1\nl2\nl3\",y\nnext,1\n"), 0,
     RECS({1, F(B("x"), B("l1\nl2\nl3"), B("y"))}, {4, F(B("next"), B("1"))}), NOREJ, 4, 0},
    {"quoted CRLF kept", B("\"a\r\nb\",c\r\nd,e\r\n"), 0,
     RECS({1, F(B("a\r\nb"), B("c"))}, {3, F(B("d"), B("e"))}), NOREJ, 3, 0},
    {"quoted empty line", B("\"a\n\nb\"\nc\n"), 0, RECS({1, F(B("a\n\nb"))}, {4, F(B("c"))}),
     NOREJ, 4, 0},
    {"Asterisk clid", B("\"\",\"\"\"Alice\"\" <100>\",3\n"), 0,
     RECS({1, F(B(""), B("\"Alice\" <100>"), B("3"))}), NOREJ, 1, 0},

    /* -- broken quoting and recovery -- */
    {"unterminated quote at EOF", B("a,b\nc,\"d\n"), 0, RECS({1, F(B("a"), B("b"))}),
     REJS({2, B("c,\"d"), "unterminated quote at end of file"}), 2, 0},
    {"unterminated quote at EOF, no newline", B("a,b\nc,\"d"), 0, RECS({1, F(B("a"), B("b"))}),
     REJS({2, B("c,\"d"), "unterminated quote"}), 2, 0},
    {"unterminated quote mid-file: replay", B("1,2\n3,\"4\n5,6\n7,8\n"), 0,
     RECS({1, F(B("1"), B("2"))}, {3, F(B("5"), B("6"))}, {4, F(B("7"), B("8"))}),
     REJS({2, B("3,\"4"), RUNS_PAST}), 4, 0},
    {"unterminated quote mid-file, last line bare", B("1,2\n3,\"4\n5,6\n7,8"), 0,
     RECS({1, F(B("1"), B("2"))}, {3, F(B("5"), B("6"))}, {4, F(B("7"), B("8"))}),
     REJS({2, B("3,\"4"), RUNS_PAST}), 4, 0},
    {"stray quote closes a later line badly: replay", B("1,2\n3,\"4\n5,\"6\"\n7,8\n"), 0,
     RECS({1, F(B("1"), B("2"))}, {3, F(B("5"), B("6"))}, {4, F(B("7"), B("8"))}),
     REJS({2, B("3,\"4"), RUNS_PAST}), 4, 0},
    {"two open quotes in a row", B("\"a\n\"b\nc\n"), 0, RECS({3, F(B("c"))}),
     REJS({1, B("\"a"), RUNS_PAST}, {2, B("\"b"), RUNS_PAST}), 3, 0},
    {"malformed quoting, next line fine", B("\"ab\"c,d\ne,f\n"), 0,
     RECS({2, F(B("e"), B("f"))}), REJS({1, B("\"ab\"c,d"), "malformed quoting at byte 5"}), 2,
     0},
    {"quote inside a bare field", B("a\"b,c\nd\n"), 0, RECS({2, F(B("d"))}),
     REJS({1, B("a\"b,c"), "malformed quoting at byte 2"}), 2, 0},
    {"malformed quoting, CRLF", B("\"ab\"c\r\nd\r\n"), 0, RECS({2, F(B("d"))}),
     REJS({1, B("\"ab\"c"), "malformed quoting"}), 2, 0},
    {"malformed quoting at EOF", B("a\n\"x\"y"), 0, RECS({1, F(B("a"))}),
     REJS({2, B("\"x\"y"), "malformed quoting at byte 4"}), 2, 0},

    /* -- NUL bytes (an unclean shutdown) -- */
    {"NUL bytes are field data", B("a\0b,c\n\0\0\0\nd,e\n"), 0,
     RECS({1, F(B("a\0b"), B("c"))}, {2, F(B("\0\0\0"))}, {3, F(B("d"), B("e"))}), NOREJ, 3, 0},
    {"NUL line refused by the consumer", B("BAD\0\0,x\nok\n"), 0,
     RECS({1, F(B("BAD\0\0"), B("x"))}, {2, F(B("ok"))}),
     REJS({1, B("BAD\0\0,x"), "NUL bytes in line"}), 2, 0},

    /* -- max_line_bytes -- */
    {"line over the limit: cut, next fine", B("123456789,12\nab,c\n"), 8,
     RECS({2, F(B("ab"), B("c"))}), REJS({1, B("12345678"), TOO_LONG(8)}), 2, 0},
    {"last line over the limit", B("ab\n123456789012"), 8, RECS({1, F(B("ab"))}),
     REJS({2, B("12345678"), TOO_LONG(8)}), 2, 0},
    {"line filling the limit exactly", B("1234567\n123456\r\n1234567\n"), 8,
     RECS({1, F(B("1234567"))}, {2, F(B("123456"))}, {3, F(B("1234567"))}), NOREJ, 3, 0},
    {"CRLF line one byte over the limit", B("1234567\r\nok\r\n"), 8, RECS({2, F(B("ok"))}),
     REJS({1, B("1234567"), TOO_LONG(8)}), 2, 0},
    {"CRLF line filling the limit, then a bad one", B("123456\r\nBAD\r\n"), 8,
     RECS({1, F(B("123456"))}, {2, F(B("BAD"))}), REJS({2, B("BAD"), "consumer rejects BAD"}), 2,
     0},
    {"bad quoting on a long line counts as too long", B("\"a\"b,123456789\nok\n"), 8,
     RECS({2, F(B("ok"))}), REJS({1, B("\"a\"b,123"), TOO_LONG(8)}), 2, 0},
    {"open quote on a long line", B("\"a,123456789\nok\n"), 8, RECS({2, F(B("ok"))}),
     REJS({1, B("\"a,12345"), TOO_LONG(8)}), 2, 0},
    {"multi-line record past the limit: replay", B("x,\"1234\n5,6\n7,8\n"), 8,
     RECS({2, F(B("5"), B("6"))}, {3, F(B("7"), B("8"))}),
     REJS({1, B("x,\"1234"), RUNS_PAST}), 3, 0},
    {"long multi-line record: replay, then a long line", B("x,\"1\n123456789\nok\n"), 8,
     RECS({3, F(B("ok"))}), REJS({1, B("x,\"1"), RUNS_PAST}, {2, B("12345678"), TOO_LONG(8)}),
     3, 0},
    {"open quote, then bad quoting on a long line", B("\"a,b\nx\"y,zzzzzzzzzzzzzzzzzz\nok,1\n"),
     16, RECS({3, F(B("ok"), B("1"))}),
     REJS({1, B("\"a,b"), RUNS_PAST}, {2, B("x\"y,zzzzzzzzzzzz"), TOO_LONG(16)}), 3, 0},
    {"open quote at the limit, rest many lines", B("\"aaaaaa\nb\nc\nd\ne\nf\ng\n"), 8,
     RECS({2, F(B("b"))}, {3, F(B("c"))}, {4, F(B("d"))}, {5, F(B("e"))}, {6, F(B("f"))},
          {7, F(B("g"))}),
     REJS({1, B("\"aaaaaa"), RUNS_PAST}), 7, 0},

    /* -- the consumer says PARSE_BAD -- */
    {"bad record: raw line rejected with the reason", B("BAD1,x\nok\n"), 0,
     RECS({1, F(B("BAD1"), B("x"))}, {2, F(B("ok"))}),
     REJS({1, B("BAD1,x"), "consumer rejects BAD1"}), 2, 0},
    {"bad record, CRLF", B("ok\r\nBAD2,\"q\"\r\nok3\r\n"), 0,
     RECS({1, F(B("ok"))}, {2, F(B("BAD2"), B("q"))}, {3, F(B("ok3"))}),
     REJS({2, B("BAD2,\"q\""), "consumer rejects BAD2"}), 3, 0},
    {"bad last record without newline", B("ok\nBAD3"), 0,
     RECS({1, F(B("ok"))}, {2, F(B("BAD3"))}), REJS({2, B("BAD3"), "consumer rejects BAD3"}), 2,
     0},
    {"bad multi-line record: first line rejected, rest replayed", B("BAD4,\"x\ny\",z\nok\n"), 0,
     RECS({1, F(B("BAD4"), B("x\ny"), B("z"))}, {3, F(B("ok"))}),
     REJS({1, B("BAD4,\"x"), RUNS_PAST " (consumer rejects BAD4)"},
          {2, B("y\",z"), "malformed quoting at byte 2"}),
     3, 0},
    {"bad multi-line record at EOF", B("BAD5,\"x\ny\""), 0,
     RECS({1, F(B("BAD5"), B("x\ny"))}),
     REJS({1, B("BAD5,\"x"), "consumer rejects BAD5"},
          {2, B("y\""), "malformed quoting at byte 2"}),
     2, 0},
    {"bad multi-line record whose tail parses", B("BAD6,\"x\nc,d\ne\",f\ng\n"), 0,
     RECS({1, F(B("BAD6"), B("x\nc,d\ne"), B("f"))}, {2, F(B("c"), B("d"))}, {4, F(B("g"))}),
     REJS({1, B("BAD6,\"x"), RUNS_PAST}, {3, B("e\",f"), "malformed quoting"}), 4, 0},
    {"bad multi-line record, CRLF", B("BAD7,\"x\r\ny\"\r\nok\r\n"), 0,
     RECS({1, F(B("BAD7"), B("x\r\ny"))}, {3, F(B("ok"))}),
     REJS({1, B("BAD7,\"x"), RUNS_PAST}, {2, B("y\""), "malformed quoting"}), 3, 0},

    /* -- PARSE_ABORT stops everything -- */
    {"abort from on_record", B("a\nABORT,x\nb\n"), 0,
     RECS({1, F(B("a"))}, {2, F(B("ABORT"), B("x"))}), NOREJ, -1, -1},
    {"abort from on_record, CRLF", B("a\r\nABORT\r\nb\r\n"), 0,
     RECS({1, F(B("a"))}, {2, F(B("ABORT"))}), NOREJ, -1, -1},
    {"abort from on_record at EOF", B("a\nABORT"), 0, RECS({1, F(B("a"))}, {2, F(B("ABORT"))}),
     NOREJ, -1, -1},
    {"abort from on_reject", B("a\nABORTREJ\"\nb\n"), 0, RECS({1, F(B("a"))}),
     REJS({2, B("ABORTREJ\""), "malformed quoting"}), -1, -1},
    {"abort from on_reject of a long line", B("ABORTREJ123\nb\n"), 8, NOREC,
     REJS({1, B("ABORTREJ"), TOO_LONG(8)}), -1, -1},
};

#define NCASES (sizeof cases / sizeof *cases)

/* ---- what the callbacks saw ----------------------------------------------- */

struct got_rec {
    uint64_t line;
    size_t n;
    char **f;
    size_t *len;
};

struct got_rej {
    uint64_t line;
    char *raw;
    size_t len;
    char *why;
};

struct log {
    struct got_rec *recs;
    size_t nrecs, caprecs;
    struct got_rej *rejs;
    size_t nrejs, caprejs;
    uint64_t lines;
    int rc;
    bool after_abort; /* a callback was called after one answered PARSE_ABORT */
    bool aborted;
};

static void log_free(struct log *lg)
{
    for (size_t i = 0; i < lg->nrecs; i++) {
        for (size_t k = 0; k < lg->recs[i].n; k++)
            free(lg->recs[i].f[k]);
        free(lg->recs[i].f);
        free(lg->recs[i].len);
    }
    for (size_t i = 0; i < lg->nrejs; i++) {
        free(lg->rejs[i].raw);
        free(lg->rejs[i].why);
    }
    free(lg->recs);
    free(lg->rejs);
    memset(lg, 0, sizeof *lg);
}

static enum parse_verdict on_record(void *ctx, const char *const *fields, const size_t *lens,
                                    size_t n, uint64_t line, char *reason, size_t reason_len)
{
    struct log *lg = ctx;
    if (lg->aborted)
        lg->after_abort = true;
    if (lg->nrecs == lg->caprecs) {
        lg->caprecs = lg->caprecs ? 2 * lg->caprecs : 16;
        lg->recs = xrealloc(lg->recs, lg->caprecs * sizeof *lg->recs);
    }
    struct got_rec *r = &lg->recs[lg->nrecs++];
    r->line = line;
    r->n = n;
    r->f = xmalloc((n ? n : 1) * sizeof *r->f);
    r->len = xmalloc((n ? n : 1) * sizeof *r->len);
    for (size_t i = 0; i < n; i++) {
        r->f[i] = xmalloc(lens[i] + 1);
        memcpy(r->f[i], fields[i], lens[i]);
        r->len[i] = lens[i];
    }
    if (n >= 1 && lens[0] == 5 && memcmp(fields[0], "ABORT", 5) == 0) {
        lg->aborted = true;
        return PARSE_ABORT;
    }
    if (n >= 1 && lens[0] >= 3 && memcmp(fields[0], "BAD", 3) == 0) {
        snprintf(reason, reason_len, "consumer rejects %.*s", (int)lens[0], fields[0]);
        return PARSE_BAD;
    }
    return PARSE_OK;
}

static enum parse_verdict on_reject(void *ctx, uint64_t line, const char *raw, size_t raw_len,
                                    const char *reason)
{
    struct log *lg = ctx;
    if (lg->aborted)
        lg->after_abort = true;
    if (lg->nrejs == lg->caprejs) {
        lg->caprejs = lg->caprejs ? 2 * lg->caprejs : 16;
        lg->rejs = xrealloc(lg->rejs, lg->caprejs * sizeof *lg->rejs);
    }
    struct got_rej *r = &lg->rejs[lg->nrejs++];
    r->line = line;
    r->raw = xmalloc(raw_len + 1);
    memcpy(r->raw, raw, raw_len);
    r->len = raw_len;
    r->why = xstrdup(reason);
    if (raw_len >= 8 && memcmp(raw, "ABORTREJ", 8) == 0) {
        lg->aborted = true;
        return PARSE_ABORT;
    }
    return PARSE_OK;
}

/* Feed in[0..len) in chunks of `chunk` bytes, each in its own allocation. */
static void run_parser(const char *in, size_t len, size_t max, size_t chunk, struct log *lg)
{
    struct parse_cb cb = {on_record, on_reject, lg};
    memset(lg, 0, sizeof *lg);
    struct parser *p = parse_create(max, &cb);
    assert_non_null(p);
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += chunk) {
        size_t k = len - off < chunk ? len - off : chunk;
        char *piece = xmalloc(k);
        memcpy(piece, in + off, k);
        rc = parse_feed(p, piece, k);
        free(piece);
    }
    if (rc == 0) {
        rc = parse_finish(p);
    } else {
        /* Aborted stays aborted. */
        assert_int_equal(parse_feed(p, "x\n", 2), -1);
        assert_int_equal(parse_finish(p), -1);
    }
    lg->rc = rc;
    lg->lines = parse_lines(p);
    parse_destroy(p);
    assert_false(lg->after_abort);
}

/* ---- comparing ------------------------------------------------------------ */

static void dump_bytes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            print_message("\\n");
        else if (c == '\r')
            print_message("\\r");
        else if (c == '\t')
            print_message("\\t");
        else if (c < 0x20 || c >= 0x7F)
            print_message("\\x%02X", c);
        else
            print_message("%c", c);
    }
}

static void dump_log(const struct log *lg)
{
    print_message("  got rc %d, %llu lines\n", lg->rc, (unsigned long long)lg->lines);
    for (size_t i = 0; i < lg->nrecs; i++) {
        print_message("  record line %llu:", (unsigned long long)lg->recs[i].line);
        for (size_t k = 0; k < lg->recs[i].n; k++) {
            print_message(" [");
            dump_bytes(lg->recs[i].f[k], lg->recs[i].len[k]);
            print_message("]");
        }
        print_message("\n");
    }
    for (size_t i = 0; i < lg->nrejs; i++) {
        print_message("  reject line %llu: [", (unsigned long long)lg->rejs[i].line);
        dump_bytes(lg->rejs[i].raw, lg->rejs[i].len);
        print_message("] %s\n", lg->rejs[i].why);
    }
}

/* Why lg differs from the case's expectations, or NULL. */
static const char *mismatch(const struct pcase *c, const struct log *lg, size_t *at)
{
    size_t nr = 0, nj = 0;
    while (c->recs[nr].line)
        nr++;
    while (c->rejs[nj].line)
        nj++;
    if (lg->rc != c->rc)
        return "return code";
    if (c->lines >= 0 && lg->lines != (uint64_t)c->lines)
        return "parse_lines()";
    if (lg->nrecs != nr)
        return "number of records";
    if (lg->nrejs != nj)
        return "number of rejects";
    for (size_t i = 0; i < nr; i++) {
        const struct exp_rec *e = &c->recs[i];
        const struct got_rec *g = &lg->recs[i];
        *at = i;
        if (g->line != e->line)
            return "record line number";
        size_t nf = 0;
        while (e->fields[nf].s)
            nf++;
        if (g->n != nf)
            return "record field count";
        for (size_t k = 0; k < nf; k++)
            if (g->len[k] != e->fields[k].n || memcmp(g->f[k], e->fields[k].s, g->len[k]) != 0)
                return "record field";
    }
    for (size_t i = 0; i < nj; i++) {
        const struct exp_rej *e = &c->rejs[i];
        const struct got_rej *g = &lg->rejs[i];
        *at = i;
        if (g->line != e->line)
            return "reject line number";
        if (g->len != e->raw.n || memcmp(g->raw, e->raw.s, g->len) != 0)
            return "reject raw bytes";
        if (!strstr(g->why, e->why))
            return "reject reason";
    }
    return NULL;
}

static void run_case(void **state)
{
    const struct pcase *c = *state;
    size_t len = c->in.n;
    /* Chunk sizes 1..len; len is the whole input at once. */
    for (size_t chunk = 1; chunk <= (len ? len : 1); chunk++) {
        struct log lg;
        run_parser(c->in.s, len, c->max, chunk, &lg);
        size_t at = 0;
        const char *why = mismatch(c, &lg, &at);
        if (why) {
            print_message("case '%s', chunk size %zu of %zu: input [", c->name, chunk, len);
            dump_bytes(c->in.s, len);
            print_message("]\n");
            dump_log(&lg);
            log_free(&lg);
            fail_msg("case '%s', chunk size %zu: %s differs (item %zu)", c->name, chunk, why, at);
        }
        log_free(&lg);
    }
}

/* ---- csv-spectrum --------------------------------------------------------- */

/* Load a csv-spectrum JSON file: a non-empty array of flat objects whose
 * values are strings. Strings may hold NUL bytes; keys must not repeat. */
static json_t *load_spectrum_json(const char *path)
{
    json_error_t err;
    json_t *rows = json_load_file(path, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &err);
    if (!rows)
        fail_msg("%s:%d: %s", path, err.line, err.text);
    bool ok = json_is_array(rows) && json_array_size(rows) > 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *key;
        json_t *val;
        ok = ok && json_is_object(row);
        json_object_foreach(row, key, val)
            ok = ok && json_is_string(val);
    }
    if (!ok) {
        json_decref(rows);
        fail_msg("%s: not a non-empty JSON array of objects of strings", path);
    }
    return rows;
}

static char *spectrum_dir(void)
{
    const char *shared = getenv("SHARED");
    return xasprintf("%s/fixtures/csv-spectrum", shared && *shared ? shared : "../shared");
}

static bool same_log(const struct log *a, const struct log *b)
{
    if (a->rc != b->rc || a->lines != b->lines || a->nrecs != b->nrecs || a->nrejs != b->nrejs)
        return false;
    for (size_t i = 0; i < a->nrecs; i++) {
        if (a->recs[i].line != b->recs[i].line || a->recs[i].n != b->recs[i].n)
            return false;
        for (size_t k = 0; k < a->recs[i].n; k++)
            if (a->recs[i].len[k] != b->recs[i].len[k] ||
                memcmp(a->recs[i].f[k], b->recs[i].f[k], a->recs[i].len[k]) != 0)
                return false;
    }
    for (size_t i = 0; i < a->nrejs; i++)
        if (a->rejs[i].line != b->rejs[i].line || a->rejs[i].len != b->rejs[i].len ||
            memcmp(a->rejs[i].raw, b->rejs[i].raw, a->rejs[i].len) != 0 ||
            strcmp(a->rejs[i].why, b->rejs[i].why) != 0)
            return false;
    return true;
}

/* Check one csv-spectrum file against its JSON at every chunk size. */
static void check_spectrum(const char *dir, const char *base)
{
    char *cpath = xasprintf("%s/csvs/%s.csv", dir, base);
    char *jpath = xasprintf("%s/json/%s.json", dir, base);
    size_t clen;
    char *csv = slurp(cpath, &clen);
    json_t *rows = load_spectrum_json(jpath);
    size_t nobj = json_array_size(rows);

    /* Physical lines: newlines, plus a last line without one. */
    uint64_t want_lines = 0;
    for (size_t i = 0; i < clen; i++)
        want_lines += csv[i] == '\n';
    if (clen && csv[clen - 1] != '\n')
        want_lines++;

    struct log whole;
    run_parser(csv, clen, 0, clen, &whole);
    if (whole.nrejs || whole.rc != 0 || whole.lines != want_lines || whole.nrecs != nobj + 1) {
        dump_log(&whole);
        fail_msg("%s: want %zu records (header included), no rejects, %llu lines", base,
                 nobj + 1, (unsigned long long)want_lines);
    }
    /* The header: the keys of the first object, in order. */
    const struct got_rec *h = &whole.recs[0];
    json_t *first = json_array_get(rows, 0);
    assert_int_equal(h->line, 1);
    assert_int_equal(h->n, json_object_size(first));
    size_t k = 0;
    const char *key;
    size_t klen;
    json_t *val;
    json_object_keylen_foreach(first, key, klen, val) {
        if (h->len[k] != klen || memcmp(h->f[k], key, klen) != 0)
            fail_msg("%s: header field %zu differs from JSON key '%s'", base, k + 1, key);
        k++;
    }
    /* Each row: the value of each header key. */
    uint64_t prev_line = 1;
    for (size_t i = 0; i < nobj; i++) {
        const struct got_rec *r = &whole.recs[i + 1];
        const json_t *obj = json_array_get(rows, i);
        assert_true(r->line > prev_line);
        prev_line = r->line;
        if (r->n != h->n)
            fail_msg("%s: row %zu has %zu fields, the header %zu", base, i + 1, r->n, h->n);
        for (k = 0; k < h->n; k++) {
            const json_t *want = json_object_getn(obj, h->f[k], h->len[k]);
            if (!want)
                fail_msg("%s: row %zu: JSON lacks key %zu", base, i + 1, k + 1);
            size_t wlen = json_string_length(want);
            if (r->len[k] != wlen || memcmp(r->f[k], json_string_value(want), wlen) != 0) {
                print_message("got [");
                dump_bytes(r->f[k], r->len[k]);
                print_message("] want [");
                dump_bytes(json_string_value(want), wlen);
                print_message("]\n");
                fail_msg("%s: row %zu field '%.*s' differs", base, i + 1, (int)h->len[k],
                         h->f[k]);
            }
        }
    }
    /* Every chunk size gives the same as the whole. */
    for (size_t chunk = 1; chunk < clen; chunk++) {
        struct log lg;
        run_parser(csv, clen, 0, chunk, &lg);
        if (!same_log(&lg, &whole)) {
            dump_log(&lg);
            fail_msg("%s: chunk size %zu differs from the whole input", base, chunk);
        }
        log_free(&lg);
    }
    log_free(&whole);
    json_decref(rows);
    free(csv);
    free(cpath);
    free(jpath);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_csv_spectrum(void **state)
{
    (void)state;
    char *dir = spectrum_dir();
    char *csvdir = xasprintf("%s/csvs", dir);
    DIR *d = opendir(csvdir);
    if (!d)
        fail_msg("cannot open %s (set SHARED to the shared folder)", csvdir);
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".csv") == 0 && n < 64)
            names[n++] = xstrndup(e->d_name, l - 4);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    /* The eleven files of csv-spectrum; fewer means a broken fixture. */
    assert_true(n >= 11);
    for (size_t i = 0; i < n; i++) {
        print_message("  csv-spectrum %s\n", names[i]);
        check_spectrum(dir, names[i]);
        free(names[i]);
    }
    free(csvdir);
    free(dir);
}

/* ---- outside the table ---------------------------------------------------- */

/* Zero-length feeds anywhere change nothing; the default limit applies. */
static void test_empty_feeds_and_default_limit(void **state)
{
    (void)state;
    struct log lg;
    memset(&lg, 0, sizeof lg);
    struct parse_cb cb = {on_record, on_reject, &lg};
    struct parser *p = parse_create(0, &cb);
    static const char in[] = "\xEF\xBB\xBF" "a,\"b\nc\"\r\n";
    for (size_t i = 0; i < sizeof in - 1; i++) {
        assert_int_equal(parse_feed(p, "", 0), 0);
        assert_int_equal(parse_feed(p, in + i, 1), 0);
    }
    assert_int_equal(parse_feed(p, "", 0), 0);
    assert_int_equal(parse_finish(p), 0);
    assert_int_equal(parse_lines(p), 2);
    assert_int_equal(lg.nrecs, 1);
    assert_int_equal(lg.recs[0].line, 1);
    assert_int_equal(lg.recs[0].n, 2);
    assert_memory_equal(lg.recs[0].f[1], "b\nc", 3);
    parse_destroy(p);
    log_free(&lg);

    /* A line of CDR_DEFAULT_MAX_LINE_BYTES - 1 bytes plus '\n' passes with
     * limit 0 (the default); one of twice that is cut at the default. */
    size_t n = 2 * CDR_DEFAULT_MAX_LINE_BYTES + 2;
    char *big = xmalloc(n);
    memset(big, 'x', CDR_DEFAULT_MAX_LINE_BYTES - 1);
    big[CDR_DEFAULT_MAX_LINE_BYTES - 1] = '\n';
    memset(big + CDR_DEFAULT_MAX_LINE_BYTES, 'y', CDR_DEFAULT_MAX_LINE_BYTES + 1);
    big[n - 1] = '\n';
    run_parser(big, n, 0, n, &lg);
    assert_int_equal(lg.nrecs, 1);
    assert_int_equal(lg.recs[0].len[0], CDR_DEFAULT_MAX_LINE_BYTES - 1);
    assert_int_equal(lg.nrejs, 1);
    assert_int_equal(lg.rejs[0].line, 2);
    assert_int_equal(lg.rejs[0].len, CDR_DEFAULT_MAX_LINE_BYTES);
    assert_int_equal(lg.lines, 2);
    log_free(&lg);
    /* The same in 4 KiB pieces. */
    run_parser(big, n, 0, 4096, &lg);
    assert_int_equal(lg.nrecs, 1);
    assert_int_equal(lg.nrejs, 1);
    assert_int_equal(lg.rejs[0].len, CDR_DEFAULT_MAX_LINE_BYTES);
    log_free(&lg);
    free(big);
}

/* parse_finish_cut: input cut short (a damaged archive). A last line with
 * all its fields is still rejected, whole lines before it are records, a
 * cut right after a line end costs nothing; at every chunk size. */
static void test_finish_cut(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t nrecs;
        const char *rejected; /* NULL: none */
        uint64_t line;
    } cuts[] = {
        {"a,b\nc,d\ne,f", 2, "e,f", 3},
        {"a,b\r\nc,\"d", 1, "c,\"d", 2},
        {"a,b\nc,d\n", 2, NULL, 0},
        {"a,b\r", 1, NULL, 0},         /* CR, then the cut: the line had ended */
        {"", 0, NULL, 0},
        {"x,\"multi\nline\",y\nz", 1, "z", 3},
    };
    for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
        size_t len = strlen(cuts[c].in);
        for (size_t chunk = 1; chunk <= (len ? len : 1); chunk++) {
            struct log lg;
            memset(&lg, 0, sizeof lg);
            struct parse_cb cb = {on_record, on_reject, &lg};
            struct parser *p = parse_create(1024, &cb);
            for (size_t off = 0; off < len; off += chunk)
                assert_int_equal(parse_feed(p, cuts[c].in + off,
                                            len - off < chunk ? len - off : chunk), 0);
            assert_int_equal(parse_finish_cut(p, "cut short"), 0);
            if (lg.nrecs != cuts[c].nrecs)
                fail_msg("case %zu, chunk %zu: %zu records", c, chunk, lg.nrecs);
            if (!cuts[c].rejected) {
                assert_int_equal(lg.nrejs, 0);
            } else {
                assert_int_equal(lg.nrejs, 1);
                assert_int_equal(lg.rejs[0].line, cuts[c].line);
                assert_int_equal(lg.rejs[0].len, strlen(cuts[c].rejected));
                assert_memory_equal(lg.rejs[0].raw, cuts[c].rejected, lg.rejs[0].len);
                assert_string_equal(lg.rejs[0].why, "cut short");
            }
            parse_destroy(p);
            log_free(&lg);
        }
    }
}

static void test_destroy_null(void **state)
{
    (void)state;
    parse_destroy(NULL);
}

/* Random inputs built from CSV's special tokens (CRLF always whole: a bare
 * CR is a record end to libcsv but not a line end here, see parse.c):
 * every chunk size must give what the whole input gives. A fixed seed, so
 * a failure repeats. */
static void test_random_inputs_every_chunk_size(void **state)
{
    (void)state;
    static const char *const tok[] = {"a", "bc", ",", "\"", "\"\"", "\r\n", "\n", "\n\n",
                                      "\0", "BAD", "ABORT", " ", "12345"};
    static const size_t toklen[] = {1, 2, 1, 1, 2, 2, 1, 2, 1, 3, 5, 1, 5};
    uint32_t seed = 12345;
    char in[128];
    for (int iter = 0; iter < 1500; iter++) {
        size_t len = 0;
        seed = seed * 1103515245u + 12345u;
        int ntok = (int)(seed >> 16) % 24;
        for (int t = 0; t < ntok; t++) {
            seed = seed * 1103515245u + 12345u;
            size_t k = (seed >> 16) % (sizeof tok / sizeof *tok);
            if (len + toklen[k] > sizeof in)
                break;
            memcpy(in + len, tok[k], toklen[k]);
            len += toklen[k];
        }
        seed = seed * 1103515245u + 12345u;
        size_t max = 6 + (seed >> 16) % 20;
        struct log whole;
        run_parser(in, len, max, len ? len : 1, &whole);
        for (size_t chunk = 1; chunk < len; chunk++) {
            struct log lg;
            run_parser(in, len, max, chunk, &lg);
            if (!same_log(&lg, &whole)) {
                print_message("input [");
                dump_bytes(in, len);
                print_message("] max %zu\nwhole:\n", max);
                dump_log(&whole);
                print_message("chunk size %zu:\n", chunk);
                dump_log(&lg);
                fail_msg("random input %d: chunk size %zu differs from the whole", iter, chunk);
            }
            log_free(&lg);
        }
        log_free(&whole);
    }
}

/* Found by fuzz_archive: lines that each open a quote make every line a
 * replay (the quote swallows the next line, the record fails, its first
 * line is rejected and the rest read again). Each replay must cost the
 * replayed lines, not a copy of all the unread input: 2 MiB fed at once
 * took 16 s of CPU when it did. CPU time, so that a busy machine does not
 * fail the test; the bound is several times what the linear parse needs
 * under ASan. */
static size_t storm_recs, storm_rejs;

static enum parse_verdict storm_record(void *ctx, const char *const *fields, const size_t *lens,
                                       size_t n, uint64_t line, char *reason, size_t reason_len)
{
    (void)ctx, (void)fields, (void)lens, (void)line;
    if (n == 15) {
        storm_recs++;
        return PARSE_OK;
    }
    snprintf(reason, reason_len, "expected 15 fields, got %zu", n);
    return PARSE_BAD;
}

static enum parse_verdict storm_reject(void *ctx, uint64_t line, const char *raw, size_t len,
                                       const char *reason)
{
    (void)ctx, (void)line, (void)raw, (void)len, (void)reason;
    storm_rejs++;
    return PARSE_OK;
}

static void test_replay_storm_is_linear(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        size_t rejects_per_line; /* of every line, in the end */
    } storms[] = {
        {"\"\r\n", 1},
        {"\"\n", 1},
        {"a,\"\n", 1},
    };
    const size_t size = 2u << 20;
    char *in = xmalloc(size);
    for (size_t c = 0; c < sizeof storms / sizeof *storms; c++) {
        size_t k = strlen(storms[c].line), lines = size / k;
        for (size_t i = 0; i < lines; i++)
            memcpy(in + i * k, storms[c].line, k);
        storm_recs = storm_rejs = 0;
        struct parse_cb cb = {storm_record, storm_reject, NULL};
        struct parser *p = parse_create(0, &cb);
        clock_t t0 = clock();
        assert_int_equal(parse_feed(p, in, lines * k), 0);
        assert_int_equal(parse_finish(p), 0);
        double cpu = (double)(clock() - t0) / CLOCKS_PER_SEC;
        parse_destroy(p);
        print_message("storm %zu: %zu lines in %.2f s of CPU\n", c, lines, cpu);
        if (cpu > 5.0)
            fail_msg("storm %zu: %zu lines took %.1f s of CPU", c, lines, cpu);
        assert_int_equal(storm_recs, 0);
        assert_int_equal(storm_rejs, lines * storms[c].rejects_per_line);
    }
    free(in);
}

static const struct CMUnitTest fixed_tests[] = {
    cmocka_unit_test(test_csv_spectrum),
    cmocka_unit_test(test_random_inputs_every_chunk_size),
    cmocka_unit_test(test_empty_feeds_and_default_limit),
    cmocka_unit_test(test_destroy_null),
    cmocka_unit_test(test_finish_cut),
    cmocka_unit_test(test_replay_storm_is_linear),
};

#define NFIXED (sizeof fixed_tests / sizeof *fixed_tests)

int main(void)
{
    static struct CMUnitTest tests[NCASES + NFIXED];

    for (size_t i = 0; i < NCASES; i++)
        tests[i] = (struct CMUnitTest){.name = cases[i].name, .test_func = run_case,
                                       .initial_state = (void *)&cases[i]};
    for (size_t i = 0; i < NFIXED; i++)
        tests[NCASES + i] = fixed_tests[i];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
