/*
 * test_detect.c - detect.c (format: auto) against tables: single records
 * of each layout and of the neighbours it must not take for one
 * (shared docs/master-csv-format.md), the verdict on whole heads (votes,
 * header rows, the 17/20-column ambiguity, a cut last line), the hint for
 * a fixed format, and the real files of shared/fixtures/real, each with
 * the profile it is known to be in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "parse.h"
#include "testutil.h"

#define K DETECT_BIT(CDR_FMT_KXHTS)
#define A DETECT_BIT(CDR_FMT_ASTERISK)
#define C DETECT_BIT(CDR_FMT_ASTERISK_CUSTOM)

/* ---- one record ------------------------------------------------------------ */

/* One CSV line through the real parser, then detect_record. */
struct one {
    unsigned fits;
    size_t n;
};

static enum parse_verdict grab(void *ctx, const char *const *f, const size_t *lens, size_t n,
                               uint64_t line, char *reason, size_t reason_len)
{
    (void)line, (void)reason, (void)reason_len;
    struct one *o = ctx;
    o->fits = detect_record(f, lens, n);
    o->n = n;
    return PARSE_OK;
}

static enum parse_verdict no_reject(void *ctx, uint64_t line, const char *raw, size_t len,
                                    const char *reason)
{
    (void)ctx, (void)line, (void)raw, (void)len;
    fail_msg("rejected: %s", reason);
    return PARSE_ABORT;
}

static struct one classify(const char *line)
{
    struct one o = {0};
    struct parse_cb cb = {grab, no_reject, &o};
    struct parser *p = parse_create(64 * 1024, &cb);
    assert_non_null(p);
    assert_int_equal(parse_feed(p, line, strlen(line)), 0);
    assert_int_equal(parse_finish(p), 0);
    parse_destroy(p);
    return o;
}

static const struct {
    const char *name;
    const char *line;
    size_t n;
    unsigned fits;
} records[] = {
    {"kx-hts answered",
     "\"\",\"201\",\"0123456789\",\"DAHDI/9-1\",\"DAHDI/1-1\",\"\",\"a\",\"b\","
     "\"2024-05-06 09:15:00\",\"2024-05-06 09:15:07\",\"2024-05-06 09:17:37\",157,150,"
     "\"ANSWERED\",\"1714986900.12\"",
     15, K},
    {"kx-hts unanswered, bare empty answer, numbers quoted",
     ",201,300,SIP/201-0000002a,,,,,2024-05-06 09:15:00,,2024-05-06 09:15:20,\"20\",\"0\","
     "NO ANSWERED,1714986900.13",
     15, K},
    {"kx-hts re-saved by a spreadsheet",
     ",201,300,SIP/201-1,,,,,2024/5/6 9:15,2024/5/6 9:15,2024/5/6 9:17,157,150,ANSWERED,1.1",
     15, K},
    {"asterisk 16 (code defaults)",
     "\"\",\"100\",\"700\",\"phones\",\"\"\"Alice\"\" <100>\",\"SIP/100-0\",\"\",\"Hangup\",\"\","
     "\"2015-03-24 15:44:40\",\"2015-03-24 15:44:40\",\"2015-03-24 15:44:43\",3,3,\"ANSWERED\","
     "\"DOCUMENTATION\"",
     16, A},
    {"asterisk 17 with uniqueid, unanswered",
     "\"\",\"100\",\"700\",\"phones\",\"x\",\"SIP/100-0\",\"\",\"Dial\",\"SIP/700,30\","
     "\"2015-03-24 15:50:00\",,\"2015-03-24 15:50:20\",20,0,\"NO ANSWER\",\"DOCUMENTATION\","
     "\"1427211880.0\"",
     17, A},
    {"asterisk 18 (the sample config)",
     "\"\",\"100\",\"700\",\"phones\",\"x\",\"SIP/100-0\",\"\",\"Hangup\",\"\","
     "\"2015-03-24 15:44:40\",\"2015-03-24 15:44:40\",\"2015-03-24 15:44:43\",3,3,\"ANSWERED\","
     "\"DOCUMENTATION\",\"1427211880.0\",\"\"",
     18, A},
    {"asterisk 21 (newcdrcolumns)",
     "\"\",\"89\",\"21\",\"ctx\",\"x\",\"SIP/2-0\",\"\",\"Hangup\",\"\",\"2024-01-27 15:07:24\","
     "\"2024-01-27 15:07:24\",\"2024-01-27 15:07:51\",27,27,\"ANSWERED\",\"DOCUMENTATION\","
     "\"1706368044.0\",\"\",\"\",\"1706368044.0\",0",
     21, A},
    {"asterisk-custom 19, all quoted",
     "\"\"\"\"\" <client1>\",\"client1\",\"6789\",\"default\",\"PJSIP/c1-2\",\"PJSIP/c2-3\","
     "\"Dial\",\"PJSIP/client2\",\"2023-07-26 01:51:32\",\"2023-07-26 01:51:50\","
     "\"2023-07-26 01:52:04\",\"31\",\"13\",\"ANSWERED\",\"DOCUMENTATION\",\"\","
     "\"1690325492.2\",\"\",2",
     19, C},
    {"asterisk-custom 18, unanswered (empty answer quoted)",
     "\"c\",\"client2\",\"1234\",\"default\",\"PJSIP/c2-4\",\"PJSIP/c1-5\",\"Dial\",\"x\","
     "\"2023-07-26 01:52:11\",\"\",\"2023-07-26 01:52:42\",\"30\",\"0\",\"NO ANSWER\","
     "\"DOCUMENTATION\",\"\",\"1690325531.5\",\"\"",
     18, C},
    {"FreeSWITCH 15 columns: start in column 5, not kx-hts",
     "\"1021\",\"1021\",\"1020\",\"default\",\"2021-04-03 14:12:33\",\"2021-04-03 14:12:46\","
     "\"2021-04-03 14:12:59\",\"26\",\"13\",\"NORMAL_CLEARING\",\"3d18\",\"3105\",\"1021\","
     "\"opus\",\"opus\"",
     15, 0},
    {"a header row",
     "Account Code,Caller,Callee,Source Channel,Destination Channel,Feature,Option 1,"
     "Option 2,Start Time,Answer Time,End Time,Total Duration,Talking Duration,Status,"
     "Unique ID",
     15, 0},
    {"15 columns with an impossible start date",
     ",201,300,a,b,,,,2024-02-30 09:15:00,,2024-02-30 09:15:20,20,0,BUSY,1.1", 15, 0},
    {"15 columns whose duration is not a number",
     ",201,300,a,b,,,,2024-05-06 09:15:00,,2024-05-06 09:15:20,1m,0,BUSY,1.1", 15, 0},
    {"22 columns", "a,b,c,d,e,f,g,h,i,2015-03-24 15:44:40,,2015-03-24 15:44:43,3,3,A,D,u,f,p,l,s,x",
     22, 0},
    {"an empty line's single field", "x", 1, 0},
};

static void test_records(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof records / sizeof *records; i++) {
        struct one o = classify(records[i].line);
        if (o.n != records[i].n || o.fits != records[i].fits)
            fail_msg("%s: %zu fields fit 0x%x, want %zu fields fitting 0x%x", records[i].name,
                     o.n, o.fits, records[i].n, records[i].fits);
    }
}

/* ---- whole heads ----------------------------------------------------------- */

#define KXL                                                                                  \
    ",201,300,SIP/201-1,,,,,2024-05-06 09:15:00,,2024-05-06 09:15:20,20,0,BUSY,1714986900.1\n"
#define AST17U                                                                               \
    "\"\",\"1\",\"2\",\"c\",\"x\",\"SIP/1-0\",\"\",\"Dial\",\"\",\"2015-03-24 15:50:00\",,"   \
    "\"2015-03-24 15:50:20\",20,0,\"NO ANSWER\",\"DOCUMENTATION\",\"1427211880.0\"\n"
#define AST17F                                                                               \
    "\"\",\"1\",\"2\",\"c\",\"x\",\"SIP/1-0\",\"\",\"Dial\",\"\",\"2015-03-24 15:50:00\",,"   \
    "\"2015-03-24 15:50:20\",20,0,\"NO ANSWER\",\"DOCUMENTATION\",\"billing note\"\n"
#define AST18                                                                                \
    "\"\",\"1\",\"2\",\"c\",\"x\",\"SIP/1-0\",\"\",\"Dial\",\"\",\"2015-03-24 15:50:00\",,"   \
    "\"2015-03-24 15:50:20\",20,0,\"NO ANSWER\",\"DOCUMENTATION\",\"1427211880.0\",\"\"\n"
#define CUS18                                                                                \
    "\"c\",\"2\",\"1\",\"d\",\"P/2-4\",\"P/1-5\",\"Dial\",\"x\",\"2023-07-26 01:52:11\",\"\","  \
    "\"2023-07-26 01:52:42\",\"30\",\"0\",\"NO ANSWER\",\"DOCUMENTATION\",\"\",\"1.5\",\"\"\n"
#define HEADER "Account Code,Caller,Callee,a,b,c,d,e,Start Time,f,End Time,g,h,i,j\n"

static const struct {
    const char *name;
    const char *text;
    bool complete;
    bool known;
    enum cdr_format fmt;
    unsigned columns, matched;
    bool ambiguous;
    const char *reason; /* a substring of the reason */
} heads[] = {
    {"kx-hts", KXL KXL KXL, true, true, CDR_FMT_KXHTS, 15, 3, false, "start time in column 9"},
    {"kx-hts with a header row", HEADER KXL KXL, true, true, CDR_FMT_KXHTS, 15, 2, false,
     "2 of 3 records"},
    {"asterisk 18", AST18 AST18, true, true, CDR_FMT_ASTERISK, 18, 2, false, "column 10"},
    {"asterisk 17 with uniqueid: ambiguous, logged", AST17U AST17U, true, true,
     CDR_FMT_ASTERISK, 17, 2, true, "taken for the uniqueid"},
    {"asterisk 17 with userfield", AST17F AST17F AST17F, true, true, CDR_FMT_ASTERISK, 17, 3,
     true, "taken for the userfield"},
    {"asterisk-custom 18", CUS18 CUS18, true, true, CDR_FMT_ASTERISK_CUSTOM, 18, 2, false,
     "column 9"},
    {"the majority wins", KXL AST18 AST18, true, true, CDR_FMT_ASTERISK, 18, 2, false,
     "2 of 3"},
    {"a tie goes to kx-hts", AST18 KXL, true, true, CDR_FMT_KXHTS, 15, 1, false, "1 of 2"},
    {"last line without newline, complete", KXL KXL ",201,300,S,,,,,2024-05-06 09:15:00,,"
     "2024-05-06 09:15:20,20,0,BUSY,1.1", true, true, CDR_FMT_KXHTS, 15, 3, false, "3 of 3"},
    {"a cut last line is left out", KXL ",201,300,S,,,,,2024-05-06 09:15:00,,2024-05-06",
     false, true, CDR_FMT_KXHTS, 15, 1, false, "1 of 1"},
    {"nothing fits: kx-hts, said so", HEADER "a,b\n", true, false, CDR_FMT_KXHTS, 0, 0, false,
     "read as kx-hts"},
    {"empty", "", true, false, CDR_FMT_KXHTS, 0, 0, false, "no records"},
};

static void test_heads(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        struct detect_result d;
        detect_text(heads[i].text, strlen(heads[i].text), heads[i].complete, 64 * 1024, &d);
        if (d.known != heads[i].known || d.fmt != heads[i].fmt ||
            d.columns != heads[i].columns || d.matched != heads[i].matched ||
            d.ambiguous != heads[i].ambiguous || !strstr(d.reason, heads[i].reason))
            fail_msg("%s: known %d %s %u columns %u matched ambiguous %d (%s)", heads[i].name,
                     d.known, profile_format_name(d.fmt), d.columns, d.matched, d.ambiguous,
                     d.reason);
    }
}

/* Only the first DETECT_RECORDS records vote. */
static void test_first_records_only(void **state)
{
    (void)state;
    size_t n = DETECT_RECORDS + 10;
    char *text = xmalloc(n * 200);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *l = i < DETECT_RECORDS ? KXL : AST18;
        memcpy(text + len, l, strlen(l));
        len += strlen(l);
    }
    struct detect_result d;
    detect_text(text, len, true, 64 * 1024, &d);
    assert_int_equal(d.fmt, CDR_FMT_KXHTS);
    assert_int_equal(d.records, DETECT_RECORDS);
    assert_int_equal(d.matched, DETECT_RECORDS);
    free(text);
}

/* ---- the hint ---------------------------------------------------------------- */

static void test_hint(void **state)
{
    (void)state;
    struct detect_result d;
    char out[512] = "untouched";
    detect_text(AST18, strlen(AST18), true, 64 * 1024, &d);
    assert_true(detect_hint(&d, CDR_FMT_KXHTS, "pbx", out, sizeof out));
    assert_non_null(strstr(out, "Asterisk cdr_csv"));
    assert_non_null(strstr(out, "18 columns"));
    assert_non_null(strstr(out, "not kx-hts"));
    assert_non_null(strstr(out, "`format: asterisk`"));
    assert_non_null(strstr(out, "source 'pbx'"));
    /* the right format, auto, or nothing known: no hint */
    strcpy(out, "untouched");
    assert_false(detect_hint(&d, CDR_FMT_ASTERISK, "pbx", out, sizeof out));
    assert_false(detect_hint(&d, CDR_FMT_AUTO, "pbx", out, sizeof out));
    detect_text("a,b\n", 4, true, 64 * 1024, &d);
    assert_false(detect_hint(&d, CDR_FMT_KXHTS, "pbx", out, sizeof out));
    assert_string_equal(out, "untouched");
    /* custom sources get it too */
    detect_text(CUS18, strlen(CUS18), true, 64 * 1024, &d);
    assert_true(detect_hint(&d, CDR_FMT_CUSTOM, "x", out, sizeof out));
    assert_non_null(strstr(out, "`format: asterisk-custom`"));
}

/* ---- real files -------------------------------------------------------------- */

static const struct {
    const char *file;
    bool known;
    enum cdr_format fmt;
    unsigned columns;
} reals[] = {
    {"BugaDM__TelephonySwitching__var_log_asterisk_cdr-csv_Master.csv", true,
     CDR_FMT_ASTERISK, 18},
    {"simularent__asterisk-for-speech-to-text__var_log_asterisk_cdr-csv_Master.csv", true,
     CDR_FMT_ASTERISK, 18},
    {"karthik0112__synk_bug__log_asterisk_cdr-csv_Master.csv", true, CDR_FMT_ASTERISK, 18},
    {"tejdeepsingh__hackathon2025__asterisk_cdr-csv_Master.csv", true, CDR_FMT_ASTERISK, 18},
    {"mineevburyat__dj-asterisk-cdr__Master.csv", true, CDR_FMT_ASTERISK, 21},
    {"KelySaina__cdr__Master.csv", true, CDR_FMT_ASTERISK_CUSTOM, 19},
    /* neighbours: none of the three profiles */
    {"Davronkhuja__call24-get-recordings__data_Master.csv", false, CDR_FMT_KXHTS, 0},
    {"hoathanhdat2009__freeSWITCH-Ekiga__usr_local_freeswitch_log_cdr-csv_Master.csv", false,
     CDR_FMT_KXHTS, 0},
    {"Kxingyunliushui__freeswitch_tools__Master.csv", false, CDR_FMT_KXHTS, 0},
};

static void test_real_files(void **state)
{
    (void)state;
    const char *shared = getenv("SHARED");
    if (!shared)
        skip();
    for (size_t i = 0; i < sizeof reals / sizeof *reals; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/fixtures/real/%s", shared, reals[i].file);
        size_t len;
        char *text = slurp(path, &len);
        size_t head = len < DETECT_HEAD ? len : DETECT_HEAD;
        struct detect_result d;
        detect_text(text, head, head == len, 64 * 1024, &d);
        if (d.known != reals[i].known || d.fmt != reals[i].fmt || d.columns != reals[i].columns)
            fail_msg("%s: known %d %s %u columns (%s)", reals[i].file, d.known,
                     profile_format_name(d.fmt), d.columns, d.reason);
        free(text);
    }
}

static void test_fixture_asterisk16(void **state)
{
    (void)state;
    const char *fx = getenv("CDR_FIXTURES");
    if (!fx)
        skip();
    char path[1024];
    snprintf(path, sizeof path, "%s/import/asterisk16.csv", fx);
    size_t len;
    char *text = slurp(path, &len);
    struct detect_result d;
    detect_text(text, len, true, 64 * 1024, &d);
    assert_true(d.known);
    assert_int_equal(d.fmt, CDR_FMT_ASTERISK);
    assert_int_equal(d.columns, 16);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records),           cmocka_unit_test(test_heads),
        cmocka_unit_test(test_first_records_only), cmocka_unit_test(test_hint),
        cmocka_unit_test(test_real_files),        cmocka_unit_test(test_fixture_asterisk16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
