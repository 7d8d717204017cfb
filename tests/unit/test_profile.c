/*
 * test_profile.c - profile.c against tables taken from the file-format notes
 * (shared docs/master-csv-format.md): the column layouts of kx-hts,
 * asterisk (16..21 columns), asterisk-custom (18/19) and custom, text
 * repair and charset conversion as mapped rows show them (value by value
 * they are test_value.c's), the jsonb `extra` object (decoded
 * with jansson, so escaping is checked by meaning, not by spelling), and the
 * row key: equal for equal content whatever the quoting, different for any
 * change. Last, fixtures/import/kxhts_basic.csv through the
 * parser and the profile against its hand-written .expected.json.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copytext.h"
#include "parse.h"
#include "profile.h"
#include "testutil.h"

/* ---- helpers -------------------------------------------------------------- */

/* Independent UTF-8 check (RFC 3629): what the database will accept. */
static bool valid_utf8(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            k = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            k = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + k > n)
            return false;
        for (size_t j = 1; j < k; j++) {
            if ((u[i + j] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (u[i + j] & 0x3F);
        }
        static const unsigned minimum[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < minimum[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k;
    }
    return true;
}

static struct profile *mkprofile(enum cdr_format fmt, const struct cdr_colspec *cols,
                                 size_t ncols, const char *enc)
{
    char err[CDR_ERRLEN] = "";
    struct profile *p = profile_create(fmt, cols, ncols, enc, err, sizeof err);
    if (!p)
        fail_msg("profile_create(%s, %s): %s", profile_format_name(fmt), enc ? enc : "(null)",
                 err);
    return p;
}

/* ---- names ----------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    static const char *const want[CDR_F_COUNT] = {
        "call_id", "caller_phone", "dialed_phone", "flag2", "flag3", "call_time", "answer_time",
        "end_time", "total_duration_s", "call_duration_s", "call_type", "account_code",
        "src_channel", "dst_channel", "feature"};
    for (int f = 0; f < CDR_F_COUNT; f++) {
        assert_string_equal(profile_field_name((enum cdr_field)f), want[f]);
        assert_int_equal(profile_field_by_name(want[f]), f);
    }
    assert_int_equal(profile_field_by_name("nope"), -1);
    assert_int_equal(profile_field_by_name(""), -1);
    static const char *const fmts[] = {"kx-hts", "asterisk", "asterisk-custom", "custom"};
    for (int f = 0; f < 4; f++) {
        assert_string_equal(profile_format_name((enum cdr_format)f), fmts[f]);
        assert_int_equal(profile_format_by_name(fmts[f]), f);
    }
    assert_int_equal(profile_format_by_name("KX-HTS"), -1);
    assert_int_equal(profile_format_by_name("asterisk-csv"), -1);
}

/* ---- the mapping table ----------------------------------------------------- */

/* An override of one source column (1-based) of the base row. */
struct ov {
    size_t col;
    struct bytes v;
};

/* Expected values: NULL is "not checked" so that cases list what they are
 * about; SQLNULL must be SQL NULL; EMPTY may be '' or NULL (the format notes
 * leave that open). */
static const char SQLNULL[] = "<SQL NULL>";
static const char EMPTY[] = "<'' or NULL>";

#define MAXEXTRA 8
struct mcase {
    const char *name;
    enum cdr_format fmt;
    const struct cdr_colspec *cols;
    size_t ncols;
    const char *enc;
    const char *const *base; /* the base row, NULL-terminated */
    size_t nfields;          /* how many of base; 0: all */
    struct ov ov[4];         /* col 0 ends */
    const char *err;         /* substring of the error; NULL: must map */
    const char *err2;        /* a second substring, or NULL */
    bool full;               /* every cdr field is listed in want */
    const char *want[CDR_F_COUNT];
    bool check_extra;        /* extra must be exactly these pairs (none: NULL) */
    const char *extra[2 * MAXEXTRA + 1];
    bool repaired;
};

/* fixtures/import/kxhts_basic.csv, line 1, as the parser gives it. */
#define KX1                                                                                  \
    "", "201", "0123456789", "DAHDI/9-1", "DAHDI/1-1", "", "opt-a", "opt b, with comma",    \
        "2024-05-06 09:15:00", "2024-05-06 09:15:07", "2024-05-06 09:17:37", "157", "150", \
        "ANSWERED", "1714986900.1"
static const char *const kx1[] = {KX1, NULL};
/* line 2: an unanswered call, bare fields */
static const char *const kx2[] = {"", "0301234567", "202", "DAHDI/1-1", "DAHDI/10-1", "", "", "",
                                  "2024-05-06 10:00:00", "", "2024-05-06 10:00:30", "30", "0",
                                  "NO ANSWERED", "1714989600.2", NULL};
static const char *const kx16[] = {KX1, "extra", NULL};

/* fixtures/import/asterisk16.csv, line 1, and the optional columns. */
#define AST16                                                                                  \
    "", "100", "700", "phones", "\"Alice\" <100>", "SIP/100-00000000", "", "Hangup", "",      \
        "2015-03-24 15:44:40", "2015-03-24 15:44:40", "2015-03-24 15:44:43", "3", "3",       \
        "ANSWERED", "DOCUMENTATION"
#define UID "1427211880.0"
static const char *const ast16[] = {AST16, NULL};
static const char *const ast17u[] = {AST16, UID, NULL};
static const char *const ast17h[] = {AST16, "pbx-east-1427211880.12", NULL};
static const char *const ast17f[] = {AST16, "vip customer", NULL};
static const char *const ast17n[] = {AST16, "12345", NULL};
static const char *const ast17d[] = {AST16, "v1.2b", NULL};
static const char *const ast17k[] = {AST16, "12.5kb", NULL};
static const char *const ast18[] = {AST16, UID, "vip customer", NULL};
static const char *const ast19[] = {AST16, "peer7", "1427211879.9", "42", NULL};
static const char *const ast20u[] = {AST16, UID, "peer7", "1427211879.9", "42", NULL};
static const char *const ast20f[] = {AST16, "note", "peer7", "1427211879.9", "42", NULL};
static const char *const ast21[] = {AST16, UID, "note", "peer7", "1427211879.9", "42", NULL};
static const char *const ast22[] = {AST16, UID, "note", "peer7", "1427211879.9", "42", "x", NULL};
/* line 2 of asterisk16.csv: no answer, a bare empty answer field */
static const char *const ast16na[] = {"", "101", "700", "phones", "\"Bob\" <101>",
                                      "SIP/101-00000001", "SIP/700-00000002", "Dial",
                                      "SIP/700,30,tT", "2015-03-24 15:50:00", "",
                                      "2015-03-24 15:50:20", "20", "0", "NO ANSWER",
                                      "DOCUMENTATION", NULL};

/* cdr_custom's default mapping: clid first, every field quoted. */
#define ACUST                                                                                 \
    "\"Carol\" <102>", "102", "0301234567", "from-internal", "SIP/102-00000010",             \
        "DAHDI/1-1", "Dial", "DAHDI/g0/0301234567", "2016-07-01 08:00:00", "",               \
        "2016-07-01 08:00:25", "25", "0", "NO ANSWER", "BILLING", "acct5", "1467360000.77", ""
static const char *const acust18[] = {ACUST, NULL};
static const char *const acust19[] = {ACUST, "13", NULL};

/* custom: call_id, extra.site, (skip), call_time, caller, dialed, duration */
static char site_name[] = "site"; /* extra_name is not const */
static const struct cdr_colspec custom_cols[] = {
    {CDR_COL_FIELD, CDR_F_CALL_ID, NULL},
    {CDR_COL_EXTRA, 0, site_name},
    {CDR_COL_SKIP, 0, NULL},
    {CDR_COL_FIELD, CDR_F_CALL_TIME, NULL},
    {CDR_COL_FIELD, CDR_F_CALLER_PHONE, NULL},
    {CDR_COL_FIELD, CDR_F_DIALED_PHONE, NULL},
    {CDR_COL_FIELD, CDR_F_TOTAL_DURATION, NULL},
};
#define NCUSTOM (sizeof custom_cols / sizeof *custom_cols)
static const char *const custom1[] = {"abc-1",   "Berlin", "ignored",
                                      "2024-01-27 15:07:24", "100", "200", "42", NULL};

#define KX1_WANT                                                                       \
    [CDR_F_ACCOUNT_CODE] = EMPTY, [CDR_F_CALLER_PHONE] = "201",                         \
    [CDR_F_DIALED_PHONE] = "0123456789", [CDR_F_SRC_CHANNEL] = "DAHDI/9-1",             \
    [CDR_F_DST_CHANNEL] = "DAHDI/1-1", [CDR_F_FEATURE] = EMPTY, [CDR_F_FLAG2] = "opt-a", \
    [CDR_F_FLAG3] = "opt b, with comma", [CDR_F_CALL_TIME] = "2024-05-06 09:15:00",     \
    [CDR_F_ANSWER_TIME] = "2024-05-06 09:15:07", [CDR_F_END_TIME] = "2024-05-06 09:17:37", \
    [CDR_F_TOTAL_DURATION] = "157", [CDR_F_CALL_DURATION] = "150",                      \
    [CDR_F_CALL_TYPE] = "ANSWERED", [CDR_F_CALL_ID] = "1714986900.1"

#define AST16_WANT                                                                      \
    [CDR_F_ACCOUNT_CODE] = EMPTY, [CDR_F_CALLER_PHONE] = "100", [CDR_F_DIALED_PHONE] = "700", \
    [CDR_F_FLAG2] = "phones", [CDR_F_SRC_CHANNEL] = "SIP/100-00000000",                 \
    [CDR_F_DST_CHANNEL] = EMPTY, [CDR_F_FEATURE] = "Hangup", [CDR_F_FLAG3] = EMPTY,     \
    [CDR_F_CALL_TIME] = "2015-03-24 15:44:40", [CDR_F_ANSWER_TIME] = "2015-03-24 15:44:40", \
    [CDR_F_END_TIME] = "2015-03-24 15:44:43", [CDR_F_TOTAL_DURATION] = "3",             \
    [CDR_F_CALL_DURATION] = "3", [CDR_F_CALL_TYPE] = "ANSWERED"

#define AST_EXTRA "clid", "\"Alice\" <100>", "amaflags", "DOCUMENTATION"


static const struct mcase map_cases[] = {
    /* -- kx-hts -- */
    {"kx-hts: the 15 columns", CDR_FMT_KXHTS, .base = kx1, .full = true, .want = {KX1_WANT},
     .check_extra = true},
    {"kx-hts: unanswered, bare fields", CDR_FMT_KXHTS, .base = kx2, .full = true,
     .want = {[CDR_F_ACCOUNT_CODE] = EMPTY, [CDR_F_CALLER_PHONE] = "0301234567",
              [CDR_F_DIALED_PHONE] = "202", [CDR_F_SRC_CHANNEL] = "DAHDI/1-1",
              [CDR_F_DST_CHANNEL] = "DAHDI/10-1", [CDR_F_FEATURE] = EMPTY, [CDR_F_FLAG2] = EMPTY,
              [CDR_F_FLAG3] = EMPTY, [CDR_F_CALL_TIME] = "2024-05-06 10:00:00",
              [CDR_F_ANSWER_TIME] = SQLNULL, [CDR_F_END_TIME] = "2024-05-06 10:00:30",
              [CDR_F_TOTAL_DURATION] = "30", [CDR_F_CALL_DURATION] = "0",
              [CDR_F_CALL_TYPE] = "NO ANSWERED", [CDR_F_CALL_ID] = "1714989600.2"},
     .check_extra = true},
    {"kx-hts: durations written canonically", CDR_FMT_KXHTS, .base = kx1,
     .ov = {{12, B("000157")}, {13, B("0")}},
     .want = {[CDR_F_TOTAL_DURATION] = "157", [CDR_F_CALL_DURATION] = "0"}},
    {"kx-hts: largest int4 duration", CDR_FMT_KXHTS, .base = kx1, .ov = {{12, B("2147483647")}},
     .want = {[CDR_F_TOTAL_DURATION] = "2147483647"}},
    {"kx-hts: duration past int4", CDR_FMT_KXHTS, .base = kx1, .ov = {{12, B("2147483648")}},
     .err = "field 12 (Total Duration)", .err2 = "2147483648"},
    {"kx-hts: duration not a number", CDR_FMT_KXHTS, .base = kx1, .ov = {{12, B("15s")}},
     .err = "field 12 (Total Duration)", .err2 = "'15s'"},
    {"kx-hts: negative talking duration", CDR_FMT_KXHTS, .base = kx1, .ov = {{13, B("-1")}},
     .err = "field 13 (Talking Duration)"},
    {"kx-hts: fractional duration", CDR_FMT_KXHTS, .base = kx1, .ov = {{13, B("1.5")}},
     .err = "field 13 (Talking Duration)"},
    {"kx-hts: duration with a space", CDR_FMT_KXHTS, .base = kx1, .ov = {{12, B(" 157")}},
     .err = "field 12 (Total Duration)"},
    {"kx-hts: empty durations are NULL", CDR_FMT_KXHTS, .base = kx1,
     .ov = {{12, B("")}, {13, B("")}},
     .want = {[CDR_F_TOTAL_DURATION] = SQLNULL, [CDR_F_CALL_DURATION] = SQLNULL}},
    {"kx-hts: impossible start date", CDR_FMT_KXHTS, .base = kx1,
     .ov = {{9, B("2023-02-30 10:00:00")}},
     .err = "field 9 (Start Time): impossible date '2023-02-30 10:00:00'"},
    {"kx-hts: impossible end date", CDR_FMT_KXHTS, .base = kx1,
     .ov = {{11, B("2024-05-06 25:00:00")}}, .err = "field 11 (End Time)"},
    {"kx-hts: garbage answer time", CDR_FMT_KXHTS, .base = kx1, .ov = {{10, B("n/a")}},
     .err = "field 10 (Answer Time)", .err2 = "n/a"},
    {"kx-hts: empty start time", CDR_FMT_KXHTS, .base = kx1, .ov = {{9, B("")}},
     .err = "field 9 (Start Time)"},
    {"kx-hts: empty end time is NULL", CDR_FMT_KXHTS, .base = kx1, .ov = {{11, B("")}},
     .want = {[CDR_F_END_TIME] = SQLNULL}},
    {"kx-hts: spreadsheet dates", CDR_FMT_KXHTS, .base = kx1,
     .ov = {{9, B("2024/5/6 9:15")}, {10, B("2024/05/06 09:15:07")}, {11, B("2024-05-06T09:17:37")}},
     .want = {[CDR_F_CALL_TIME] = "2024-05-06 09:15:00",
              [CDR_F_ANSWER_TIME] = "2024-05-06 09:15:07",
              [CDR_F_END_TIME] = "2024-05-06 09:17:37"}},
    {"kx-hts: empty call ID is NULL", CDR_FMT_KXHTS, .base = kx1, .ov = {{15, B("")}},
     .want = {[CDR_F_CALL_ID] = SQLNULL}},
    {"kx-hts: 14 fields", CDR_FMT_KXHTS, .base = kx1, .nfields = 14,
     .err = "expected 15 fields, got 14"},
    {"kx-hts: 16 fields", CDR_FMT_KXHTS, .base = kx16, .err = "expected 15 fields, got 16"},
    {"kx-hts: 1 field", CDR_FMT_KXHTS, .base = kx1, .nfields = 1,
     .err = "expected 15 fields, got 1"},
    {"kx-hts: NUL byte in a field", CDR_FMT_KXHTS, .base = kx1, .ov = {{2, B("20\0001")}},
     .err = "field 2 (Caller)", .err2 = "NUL"},
    {"kx-hts: NUL bytes in the call ID", CDR_FMT_KXHTS, .base = kx1,
     .ov = {{15, B("\0\0\0\0")}}, .err = "field 15 (Unique ID)", .err2 = "NUL"},
    {"kx-hts: invalid UTF-8 repaired", CDR_FMT_KXHTS, .base = kx1,
     .ov = {{2, B("ab\xA5" "cd")}, {14, B("\xFF\xFE")}},
     .want = {[CDR_F_CALLER_PHONE] = "ab" FFFD "cd", [CDR_F_CALL_TYPE] = FFFD FFFD},
     .repaired = true},
    {"kx-hts: valid UTF-8 kept", CDR_FMT_KXHTS, .enc = "UTF-8", .base = kx1,
     .ov = {{2, B("Ren\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80")}},
     .want = {[CDR_F_CALLER_PHONE] = "Ren\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"}},
    {"kx-hts: latin1", CDR_FMT_KXHTS, .enc = "latin1", .base = kx1,
     .ov = {{2, B("Ren\xE9")}, {3, B("\xFF")}},
     .want = {[CDR_F_CALLER_PHONE] = "Ren\xC3\xA9", [CDR_F_DIALED_PHONE] = "\xC3\xBF",
              [CDR_F_CALL_TYPE] = "ANSWERED"}},
    {"kx-hts: CP1252, with an undefined byte", CDR_FMT_KXHTS, .enc = "CP1252", .base = kx1,
     .ov = {{2, B("\x80" "5")}, {3, B("a\x81" "b")}},
     .want = {[CDR_F_CALLER_PHONE] = "\xE2\x82\xAC" "5", [CDR_F_DIALED_PHONE] = "a" FFFD "b"},
     .repaired = true},

    /* -- asterisk -- */
    {"asterisk 16: no uniqueid", CDR_FMT_ASTERISK, .base = ast16, .full = true,
     .want = {AST16_WANT, [CDR_F_CALL_ID] = SQLNULL}, .check_extra = true,
     .extra = {AST_EXTRA}},
    {"asterisk 16: bare empty answer", CDR_FMT_ASTERISK, .base = ast16na,
     .want = {[CDR_F_ANSWER_TIME] = SQLNULL, [CDR_F_CALL_DURATION] = "0",
              [CDR_F_FLAG3] = "SIP/700,30,tT", [CDR_F_DST_CHANNEL] = "SIP/700-00000002",
              [CDR_F_CALL_TYPE] = "NO ANSWER"},
     .check_extra = true, .extra = {"clid", "\"Bob\" <101>", "amaflags", "DOCUMENTATION"}},
    {"asterisk 17: uniqueid", CDR_FMT_ASTERISK, .base = ast17u, .full = true,
     .want = {AST16_WANT, [CDR_F_CALL_ID] = UID}, .check_extra = true, .extra = {AST_EXTRA}},
    {"asterisk 17: uniqueid with a system name", CDR_FMT_ASTERISK, .base = ast17h,
     .want = {[CDR_F_CALL_ID] = "pbx-east-1427211880.12"}, .check_extra = true,
     .extra = {AST_EXTRA}},
    {"asterisk 17: userfield", CDR_FMT_ASTERISK, .base = ast17f, .full = true,
     .want = {AST16_WANT, [CDR_F_CALL_ID] = SQLNULL}, .check_extra = true,
     .extra = {AST_EXTRA, "userfield", "vip customer"}},
    {"asterisk 17: numeric userfield without a dot", CDR_FMT_ASTERISK, .base = ast17n,
     .want = {[CDR_F_CALL_ID] = SQLNULL}, .check_extra = true,
     .extra = {AST_EXTRA, "userfield", "12345"}},
    {"asterisk 17: userfield with a dot", CDR_FMT_ASTERISK, .base = ast17d,
     .want = {[CDR_F_CALL_ID] = SQLNULL}, .check_extra = true,
     .extra = {AST_EXTRA, "userfield", "v1.2b"}},
    {"asterisk 17: userfield with digits, a dot, letters", CDR_FMT_ASTERISK, .base = ast17k,
     .want = {[CDR_F_CALL_ID] = SQLNULL}, .check_extra = true,
     .extra = {AST_EXTRA, "userfield", "12.5kb"}},
    {"asterisk 18: uniqueid and userfield", CDR_FMT_ASTERISK, .base = ast18, .full = true,
     .want = {AST16_WANT, [CDR_F_CALL_ID] = UID}, .check_extra = true,
     .extra = {AST_EXTRA, "userfield", "vip customer"}},
    {"asterisk 18: empty userfield left out", CDR_FMT_ASTERISK, .base = ast18,
     .ov = {{18, B("")}}, .want = {[CDR_F_CALL_ID] = UID}, .check_extra = true,
     .extra = {AST_EXTRA}},
    {"asterisk 19: newcdrcolumns", CDR_FMT_ASTERISK, .base = ast19, .full = true,
     .want = {AST16_WANT, [CDR_F_CALL_ID] = SQLNULL}, .check_extra = true,
     .extra = {AST_EXTRA, "peeraccount", "peer7", "linkedid", "1427211879.9", "sequence", "42"}},
    {"asterisk 20: uniqueid and newcdrcolumns", CDR_FMT_ASTERISK, .base = ast20u, .full = true,
     .want = {AST16_WANT, [CDR_F_CALL_ID] = UID}, .check_extra = true,
     .extra = {AST_EXTRA, "peeraccount", "peer7", "linkedid", "1427211879.9", "sequence", "42"}},
    {"asterisk 20: userfield and newcdrcolumns", CDR_FMT_ASTERISK, .base = ast20f,
     .want = {[CDR_F_CALL_ID] = SQLNULL}, .check_extra = true,
     .extra = {AST_EXTRA, "userfield", "note", "peeraccount", "peer7", "linkedid",
               "1427211879.9", "sequence", "42"}},
    {"asterisk 21: everything", CDR_FMT_ASTERISK, .base = ast21, .full = true,
     .want = {AST16_WANT, [CDR_F_CALL_ID] = UID}, .check_extra = true,
     .extra = {AST_EXTRA, "userfield", "note", "peeraccount", "peer7", "linkedid",
               "1427211879.9", "sequence", "42"}},
    {"asterisk: 15 fields", CDR_FMT_ASTERISK, .base = ast16, .nfields = 15,
     .err = "expected 16 to 21 fields, got 15"},
    {"asterisk: 22 fields", CDR_FMT_ASTERISK, .base = ast22,
     .err = "expected 16 to 21 fields, got 22"},
    {"asterisk: bad billsec names the column", CDR_FMT_ASTERISK, .base = ast17u,
     .ov = {{14, B("3.0")}}, .err = "field 14 (billsec)"},
    {"asterisk: impossible start names the column", CDR_FMT_ASTERISK, .base = ast16,
     .ov = {{10, B("2015-02-29 15:44:40")}}, .err = "field 10 (start): impossible date"},
    {"asterisk: JSON escaping in extra", CDR_FMT_ASTERISK, .base = ast21,
     .ov = {{5, B("\"O\\Brien\" <1>\t\x01\x1F\n\r")}, {18, B("a\"b\\c/d\x7F")}},
     .check_extra = true,
     .extra = {"clid", "\"O\\Brien\" <1>\t\x01\x1F\n\r", "amaflags", "DOCUMENTATION",
               "userfield", "a\"b\\c/d\x7F", "peeraccount", "peer7", "linkedid",
               "1427211879.9", "sequence", "42"}},
    {"asterisk: invalid UTF-8 in extra repaired", CDR_FMT_ASTERISK, .base = ast16,
     .ov = {{5, B("\"M\xFCller\" <7>")}}, .check_extra = true,
     .extra = {"clid", "\"M" FFFD "ller\" <7>", "amaflags", "DOCUMENTATION"},
     .repaired = true},
    {"asterisk: latin1 in extra", CDR_FMT_ASTERISK, .enc = "ISO-8859-1", .base = ast16,
     .ov = {{5, B("\"M\xFCller\" <7>")}}, .check_extra = true,
     .extra = {"clid", "\"M\xC3\xBCller\" <7>", "amaflags", "DOCUMENTATION"}},
    {"asterisk: NUL byte in an extra column", CDR_FMT_ASTERISK, .base = ast16,
     .ov = {{5, B("a\0b")}}, .err = "field 5 (clid)", .err2 = "NUL"},

    /* -- asterisk-custom -- */
    {"asterisk-custom 18", CDR_FMT_ASTERISK_CUSTOM, .base = acust18, .full = true,
     .want = {[CDR_F_CALLER_PHONE] = "102", [CDR_F_DIALED_PHONE] = "0301234567",
              [CDR_F_FLAG2] = "from-internal", [CDR_F_SRC_CHANNEL] = "SIP/102-00000010",
              [CDR_F_DST_CHANNEL] = "DAHDI/1-1", [CDR_F_FEATURE] = "Dial",
              [CDR_F_FLAG3] = "DAHDI/g0/0301234567", [CDR_F_CALL_TIME] = "2016-07-01 08:00:00",
              [CDR_F_ANSWER_TIME] = SQLNULL, [CDR_F_END_TIME] = "2016-07-01 08:00:25",
              [CDR_F_TOTAL_DURATION] = "25", [CDR_F_CALL_DURATION] = "0",
              [CDR_F_CALL_TYPE] = "NO ANSWER", [CDR_F_ACCOUNT_CODE] = "acct5",
              [CDR_F_CALL_ID] = "1467360000.77"},
     .check_extra = true, .extra = {"clid", "\"Carol\" <102>", "amaflags", "BILLING"}},
    {"asterisk-custom 19", CDR_FMT_ASTERISK_CUSTOM, .base = acust19,
     .ov = {{18, B("memo")}},
     .want = {[CDR_F_CALL_ID] = "1467360000.77", [CDR_F_ACCOUNT_CODE] = "acct5",
              [CDR_F_CALL_TYPE] = "NO ANSWER"},
     .check_extra = true,
     .extra = {"clid", "\"Carol\" <102>", "amaflags", "BILLING", "userfield", "memo",
               "sequence", "13"}},
    {"asterisk-custom: 17 fields", CDR_FMT_ASTERISK_CUSTOM, .base = acust18, .nfields = 17,
     .err = "got 17"},
    {"asterisk-custom: bad duration", CDR_FMT_ASTERISK_CUSTOM, .base = acust18,
     .ov = {{12, B("x")}}, .err = "field 12 (duration)"},

    /* -- custom -- */
    {"custom: columns, extra.NAME and skip", CDR_FMT_CUSTOM, custom_cols, NCUSTOM,
     .base = custom1, .full = true,
     .want = {[CDR_F_CALL_ID] = "abc-1", [CDR_F_CALL_TIME] = "2024-01-27 15:07:24",
              [CDR_F_CALLER_PHONE] = "100", [CDR_F_DIALED_PHONE] = "200",
              [CDR_F_TOTAL_DURATION] = "42", [CDR_F_FLAG2] = SQLNULL, [CDR_F_FLAG3] = SQLNULL,
              [CDR_F_ANSWER_TIME] = SQLNULL, [CDR_F_END_TIME] = SQLNULL,
              [CDR_F_CALL_DURATION] = SQLNULL, [CDR_F_CALL_TYPE] = SQLNULL,
              [CDR_F_ACCOUNT_CODE] = SQLNULL, [CDR_F_SRC_CHANNEL] = SQLNULL,
              [CDR_F_DST_CHANNEL] = SQLNULL, [CDR_F_FEATURE] = SQLNULL},
     .check_extra = true, .extra = {"site", "Berlin"}},
    {"custom: a skipped column is not read", CDR_FMT_CUSTOM, custom_cols, NCUSTOM,
     .base = custom1, .ov = {{3, B("\xFF\0not a date")}}, .want = {[CDR_F_CALL_ID] = "abc-1"},
     .check_extra = true, .extra = {"site", "Berlin"}},
    {"custom: empty extra left out", CDR_FMT_CUSTOM, custom_cols, NCUSTOM, .base = custom1,
     .ov = {{2, B("")}}, .want = {[CDR_F_CALL_ID] = "abc-1"}, .check_extra = true},
    {"custom: error names the cdr column", CDR_FMT_CUSTOM, custom_cols, NCUSTOM,
     .base = custom1, .ov = {{4, B("2024-01-32 00:00:00")}}, .err = "field 4 (call_time)"},
    {"custom: wrong field count", CDR_FMT_CUSTOM, custom_cols, NCUSTOM, .base = custom1,
     .nfields = 6, .err = "expected 7 fields, got 6"},
};

#define NMAP (sizeof map_cases / sizeof *map_cases)

/* Build the case's fields: base[0..n) with the overrides applied. */
static size_t build_fields(const struct mcase *c, const char **f, size_t *lens, size_t cap)
{
    size_t n = 0;
    while (c->base[n])
        n++;
    if (c->nfields)
        n = c->nfields;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        f[i] = c->base[i];
        lens[i] = strlen(c->base[i]);
    }
    for (size_t k = 0; k < 4 && c->ov[k].col; k++) {
        assert_true(c->ov[k].col <= n);
        f[c->ov[k].col - 1] = c->ov[k].v.s;
        lens[c->ov[k].col - 1] = c->ov[k].v.n;
    }
    return n;
}

static void check_extra(const char *name, const struct cdr_row *row, const char *const *want)
{
    size_t nwant = 0;
    while (want[2 * nwant])
        nwant++;
    if (nwant == 0) {
        if (row->extra_json)
            fail_msg("%s: want no extra, got %.*s", name, (int)row->extra_len, row->extra_json);
        assert_int_equal(row->extra_len, 0);
        return;
    }
    if (!row->extra_json)
        fail_msg("%s: want an extra object, got NULL", name);
    json_error_t err;
    json_t *j = json_loadb(row->extra_json, row->extra_len,
                           JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(j)) {
        print_message("extra: ");
        show_bytes(row->extra_json, row->extra_len);
        print_message("\n%s\n", j ? "not an object" : err.text);
        json_decref(j);
        fail_msg("%s: extra is not a JSON object", name);
    }
    assert_true(valid_utf8(row->extra_json, row->extra_len));
    if (json_object_size(j) != nwant)
        fail_msg("%s: extra has %zu keys, want %zu", name, json_object_size(j), nwant);
    for (size_t i = 0; i < nwant; i++) {
        const json_t *v = json_object_get(j, want[2 * i]);
        if (!json_is_string(v))
            fail_msg("%s: extra lacks string key '%s'", name, want[2 * i]);
        const char *w = want[2 * i + 1];
        size_t vlen = json_string_length(v);
        if (vlen != strlen(w) || memcmp(json_string_value(v), w, vlen) != 0) {
            print_message("got ");
            show_bytes(json_string_value(v), vlen);
            print_message("\nwant ");
            show_bytes(w, strlen(w));
            print_message("\n");
            fail_msg("%s: extra '%s' differs", name, want[2 * i]);
        }
    }
    json_decref(j);
}

static void run_map_case(void **state)
{
    const struct mcase *c = *state;
    const char *f[64];
    size_t lens[64];
    size_t n = build_fields(c, f, lens, 64);
    struct profile *p = mkprofile(c->fmt, c->cols, c->ncols, c->enc);
    struct cdr_row row;
    memset(&row, 0xA5, sizeof row);
    char err[CDR_ERRLEN] = "";
    bool ok = profile_map(p, f, lens, n, &row, err, sizeof err);

    if (c->err) {
        if (ok)
            fail_msg("%s: mapped, want an error containing \"%s\"", c->name, c->err);
        if (!strstr(err, c->err) || (c->err2 && !strstr(err, c->err2)))
            fail_msg("%s: error \"%s\", want \"%s\"%s%s", c->name, err, c->err,
                     c->err2 ? " and " : "", c->err2 ? c->err2 : "");
        profile_destroy(p);
        return;
    }
    if (!ok)
        fail_msg("%s: refused: %s", c->name, err);
    for (int i = 0; i < CDR_F_COUNT; i++) {
        const char *w = c->want[i];
        const char *fname = profile_field_name((enum cdr_field)i);
        if (row.val[i]) /* whatever is checked, every value is UTF-8 text */
            assert_true(valid_utf8(row.val[i], row.len[i]));
        if (!w) {
            if (c->full)
                fail_msg("%s: the table lacks %s", c->name, fname);
            continue;
        }
        if (w == SQLNULL) {
            if (row.val[i])
                fail_msg("%s: %s is '%.*s', want NULL", c->name, fname, (int)row.len[i],
                         row.val[i]);
        } else if (w == EMPTY) {
            if (row.val[i] && row.len[i] != 0)
                fail_msg("%s: %s is '%.*s', want '' or NULL", c->name, fname, (int)row.len[i],
                         row.val[i]);
        } else {
            if (!row.val[i])
                fail_msg("%s: %s is NULL, want '%s'", c->name, fname, w);
            if (row.len[i] != strlen(w) || memcmp(row.val[i], w, row.len[i]) != 0) {
                print_message("got ");
                show_bytes(row.val[i], row.len[i]);
                print_message("\nwant ");
                show_bytes(w, strlen(w));
                print_message("\n");
                fail_msg("%s: %s differs", c->name, fname);
            }
        }
    }
    if (c->check_extra)
        check_extra(c->name, &row, c->extra);
    if (row.repaired != c->repaired)
        fail_msg("%s: repaired is %d, want %d", c->name, row.repaired, c->repaired);
    profile_destroy(p);
}

/* ---- profile_create ---------------------------------------------------------- */

static void test_create_errors(void **state)
{
    (void)state;
    char err[CDR_ERRLEN] = "";
    assert_null(profile_create(CDR_FMT_KXHTS, NULL, 0, "no-such-charset", err, sizeof err));
    assert_non_null(strstr(err, "unknown encoding 'no-such-charset'"));
    err[0] = '\0';
    assert_null(profile_create(CDR_FMT_CUSTOM, NULL, 0, NULL, err, sizeof err));
    assert_non_null(strstr(err, "columns"));
    /* utf-8 spelled any way needs no iconv; header flag round trip */
    static const char *const utf8_names[] = {"utf-8", "UTF8", "Utf-8"};
    for (size_t i = 0; i < 3; i++) {
        struct profile *p = mkprofile(CDR_FMT_ASTERISK, NULL, 0, utf8_names[i]);
        assert_false(profile_has_header(p));
        profile_set_header(p, true);
        assert_true(profile_has_header(p));
        profile_destroy(p);
    }
    profile_destroy(NULL);
}

/* ---- row keys ------------------------------------------------------------------ */

static bool map_row(struct profile *p, const char *const *f, const size_t *lens, size_t n,
                    unsigned char key[16])
{
    struct cdr_row row;
    char err[CDR_ERRLEN];
    if (!profile_map(p, f, lens, n, &row, err, sizeof err)) {
        print_message("refused: %s\n", err);
        return false;
    }
    copytext_row_key("office", &row, key);
    return true;
}

static void kx_fields(const char **f, size_t *lens, const char *const *base)
{
    for (int k = 0; k < 15; k++) {
        f[k] = base[k];
        lens[k] = strlen(base[k]);
    }
}

/* Per column of kx-hts: another valid value. */
static const char *const kx_alt[15] = {
    "9",  "202", "0123456780", "DAHDI/9-2", "DAHDI/1-2", "Paging", "opt-b", "opt b",
    "2024-05-06 09:15:01", "2024-05-06 09:15:08", "2024-05-06 09:17:38", "158", "151",
    "BUSY", "1714986900.2"};

static void test_key_identical_and_each_field(void **state)
{
    (void)state;
    struct profile *p = mkprofile(CDR_FMT_KXHTS, NULL, 0, NULL);
    struct profile *q = mkprofile(CDR_FMT_KXHTS, NULL, 0, NULL);
    const char *f[15];
    size_t lens[15];
    unsigned char base[16], again[16], other[16];
    kx_fields(f, lens, kx1);
    assert_true(map_row(p, f, lens, 15, base));
    /* the same content: the same key, from this profile and a fresh one,
     * also with another row mapped in between, and from copied bytes */
    assert_true(map_row(p, f, lens, 15, again));
    assert_memory_equal(base, again, 16);
    assert_true(map_row(q, f, lens, 15, again));
    assert_memory_equal(base, again, 16);
    char copies[15][64];
    const char *cf[15];
    for (int k = 0; k < 15; k++) {
        memcpy(copies[k], f[k], lens[k]);
        cf[k] = copies[k];
    }
    kx_fields(f, lens, kx2);
    assert_true(map_row(p, f, lens, 15, other));
    kx_fields(f, lens, kx1);
    assert_true(map_row(p, cf, lens, 15, again));
    assert_memory_equal(base, again, 16);

    /* any single column changed: a different key, and all distinct */
    unsigned char keys[16][16];
    memcpy(keys[0], base, 16);
    for (int col = 0; col < 15; col++) {
        kx_fields(f, lens, kx1);
        f[col] = kx_alt[col];
        lens[col] = strlen(kx_alt[col]);
        if (!map_row(p, f, lens, 15, keys[col + 1]))
            fail_msg("column %d: alternative value refused", col + 1);
        for (int k = 0; k <= col; k++)
            if (memcmp(keys[k], keys[col + 1], 16) == 0)
                fail_msg("column %d changed: key equals that of variant %d", col + 1, k);
    }
    /* answer time present vs absent */
    kx_fields(f, lens, kx1);
    f[9] = "";
    lens[9] = 0;
    assert_true(map_row(p, f, lens, 15, other));
    assert_memory_not_equal(base, other, 16);
    profile_destroy(p);
    profile_destroy(q);
}

static void test_key_call_id_is_not_row_id(void **state)
{
    (void)state;
    /* fixtures/import/kxhts_basic.csv lines 1 and 7: two legs of one call */
    static const char *const leg2[] = {"", "201", "0987654321", "DAHDI/9-1", "DAHDI/2-1", "",
                                       "opt-a", "transfer leg", "2024-05-06 09:17:37",
                                       "2024-05-06 09:17:40", "2024-05-06 09:20:00", "143",
                                       "140", "ANSWERED", "1714986900.1", NULL};
    struct profile *p = mkprofile(CDR_FMT_KXHTS, NULL, 0, NULL);
    const char *f[15];
    size_t lens[15];
    unsigned char a[16], b[16];
    kx_fields(f, lens, kx1);
    assert_true(map_row(p, f, lens, 15, a));
    kx_fields(f, lens, leg2);
    assert_true(map_row(p, f, lens, 15, b));
    assert_memory_not_equal(a, b, 16);

    /* values that run together differently are different rows */
    kx_fields(f, lens, kx1);
    f[1] = "20";
    lens[1] = 2;
    f[2] = "10123456789";
    lens[2] = 11;
    assert_true(map_row(p, f, lens, 15, a));
    f[1] = "201";
    lens[1] = 3;
    f[2] = "0123456789";
    lens[2] = 10;
    assert_true(map_row(p, f, lens, 15, b));
    assert_memory_not_equal(a, b, 16);

    /* a separator byte inside values cannot make two rows one */
    kx_fields(f, lens, kx1);
    f[1] = "x\x01y";
    lens[1] = 3;
    f[2] = "z";
    lens[2] = 1;
    assert_true(map_row(p, f, lens, 15, a));
    f[1] = "x";
    lens[1] = 1;
    f[2] = "y\x01z";
    lens[2] = 3;
    assert_true(map_row(p, f, lens, 15, b));
    assert_memory_not_equal(a, b, 16);

    /* the same text in another column is another row */
    kx_fields(f, lens, kx1);
    f[6] = "x";
    lens[6] = 1;
    f[7] = "";
    lens[7] = 0;
    assert_true(map_row(p, f, lens, 15, a));
    f[6] = "";
    lens[6] = 0;
    f[7] = "x";
    lens[7] = 1;
    assert_true(map_row(p, f, lens, 15, b));
    assert_memory_not_equal(a, b, 16);

    /* spellings of the same values: one row */
    kx_fields(f, lens, kx1);
    assert_true(map_row(p, f, lens, 15, a));
    f[8] = "2024/5/6 9:15";
    lens[8] = strlen(f[8]);
    f[11] = "0157";
    lens[11] = 4;
    assert_true(map_row(p, f, lens, 15, b));
    assert_memory_equal(a, b, 16);
    profile_destroy(p);

    /* asterisk: extras are content too */
    p = mkprofile(CDR_FMT_ASTERISK, NULL, 0, NULL);
    const char *af[18];
    size_t alens[18];
    for (int k = 0; k < 18; k++) {
        af[k] = ast18[k];
        alens[k] = strlen(ast18[k]);
    }
    assert_true(map_row(p, af, alens, 18, a));
    af[4] = "\"Alica\" <100>"; /* same length: the text itself counts */
    alens[4] = strlen(af[4]);
    assert_true(map_row(p, af, alens, 18, b));
    assert_memory_not_equal(a, b, 16);
    af[4] = ast18[4];
    alens[4] = strlen(af[4]);
    af[17] = "vip custoMer";
    alens[17] = strlen(af[17]);
    assert_true(map_row(p, af, alens, 18, b));
    assert_memory_not_equal(a, b, 16);
    profile_destroy(p);
}

/* The same records written with other quoting and line ends: the same keys. */
struct keylog {
    struct profile *p;
    unsigned char keys[8][16];
    uint64_t lines[8];
    size_t n;
    size_t rejects;
};

static enum parse_verdict key_record(void *ctx, const char *const *f, const size_t *lens,
                                     size_t n, uint64_t line, char *reason, size_t reason_len)
{
    struct keylog *kl = ctx;
    struct cdr_row row;
    if (!profile_map(kl->p, f, lens, n, &row, reason, reason_len))
        return PARSE_BAD;
    assert_true(kl->n < 8);
    copytext_row_key("office", &row, kl->keys[kl->n]);
    kl->lines[kl->n++] = line;
    return PARSE_OK;
}

static enum parse_verdict key_reject(void *ctx, uint64_t line, const char *raw, size_t len,
                                     const char *reason)
{
    struct keylog *kl = ctx;
    print_message("reject line %llu: %.*s: %s\n", (unsigned long long)line, (int)len, raw,
                  reason);
    kl->rejects++;
    return PARSE_OK;
}

static void parse_keys(struct keylog *kl, const char *text)
{
    struct parse_cb cb = {key_record, key_reject, kl};
    struct parser *ps = parse_create(0, &cb);
    kl->n = 0;
    kl->rejects = 0;
    assert_int_equal(parse_feed(ps, text, strlen(text)), 0);
    assert_int_equal(parse_finish(ps), 0);
    parse_destroy(ps);
    assert_int_equal(kl->rejects, 0);
}

static void test_key_quoting_and_line_ends(void **state)
{
    (void)state;
    static const char *const texts[] = {
        /* quoted, as kxhts_basic.csv line 1 */
        "\"\",\"201\",\"0123456789\",\"DAHDI/9-1\",\"DAHDI/1-1\",\"\",\"opt-a\","
        "\"opt b, with comma\",\"2024-05-06 09:15:00\",\"2024-05-06 09:15:07\","
        "\"2024-05-06 09:17:37\",\"157\",\"150\",\"ANSWERED\",\"1714986900.1\"\n"
        ",0301234567,202,DAHDI/1-1,DAHDI/10-1,,,,2024-05-06 10:00:00,,"
        "2024-05-06 10:00:30,30,0,NO ANSWERED,1714989600.2\n",
        /* bare where possible, CRLF, a BOM, quoted empty answer */
        "\xEF\xBB\xBF,201,0123456789,DAHDI/9-1,DAHDI/1-1,,opt-a,\"opt b, with comma\","
        "2024-05-06 09:15:00,2024-05-06 09:15:07,2024-05-06 09:17:37,157,150,ANSWERED,"
        "1714986900.1\r\n"
        "\"\",\"0301234567\",\"202\",\"DAHDI/1-1\",\"DAHDI/10-1\",\"\",\"\",\"\","
        "\"2024-05-06 10:00:00\",\"\",\"2024-05-06 10:00:30\",\"30\",\"0\",\"NO ANSWERED\","
        "\"1714989600.2\"\r\n",
        /* re-saved by a spreadsheet: no quotes on numbers, short dates */
        ",201,0123456789,DAHDI/9-1,DAHDI/1-1,,opt-a,\"opt b, with comma\","
        "2024/5/6 9:15,2024/5/6 9:15:07,2024/5/6 9:17:37,157,150,ANSWERED,1714986900.1\n"
        ",0301234567,202,DAHDI/1-1,DAHDI/10-1,,,,2024/5/6 10:00,,2024/5/6 10:00:30,"
        "30,0,NO ANSWERED,1714989600.2",
    };
    struct keylog first, kl;
    memset(&first, 0, sizeof first);
    first.p = mkprofile(CDR_FMT_KXHTS, NULL, 0, NULL);
    parse_keys(&first, texts[0]);
    assert_int_equal(first.n, 2);
    assert_memory_not_equal(first.keys[0], first.keys[1], 16);
    for (size_t t = 1; t < sizeof texts / sizeof *texts; t++) {
        memset(&kl, 0, sizeof kl);
        kl.p = first.p;
        parse_keys(&kl, texts[t]);
        assert_int_equal(kl.n, 2);
        for (size_t i = 0; i < 2; i++)
            if (memcmp(kl.keys[i], first.keys[i], 16) != 0)
                fail_msg("text %zu, record %zu: key differs from the quoted LF form", t, i + 1);
    }
    profile_destroy(first.p);
}

/* ---- big values: buffers grow while pointers are handed out ------------------ */

static void test_big_values(void **state)
{
    (void)state;
    struct profile *p = mkprofile(CDR_FMT_ASTERISK, NULL, 0, NULL);
    const char *f[18];
    size_t lens[18];
    for (int k = 0; k < 18; k++) {
        f[k] = ast18[k];
        lens[k] = strlen(ast18[k]);
    }
    size_t nclid = 3000, ndata = 9000;
    char *clid = xmalloc(nclid);
    for (size_t i = 0; i < nclid; i++)
        clid[i] = (char)(i % 3 == 0 ? '\x01' : i % 3 == 1 ? '"' : 'A'); /* escapes 6x, 2x */
    char *data = xmalloc(ndata);
    memset(data, 'd', ndata);
    data[100] = (char)0xA5; /* one repair */
    f[4] = clid;
    lens[4] = nclid;
    f[8] = data;
    lens[8] = ndata;
    struct cdr_row row;
    char err[CDR_ERRLEN];
    for (int round = 0; round < 2; round++) {
        assert_true(profile_map(p, f, lens, 18, &row, err, sizeof err));
        assert_true(row.repaired);
        assert_non_null(row.val[CDR_F_FLAG3]);
        assert_int_equal(row.len[CDR_F_FLAG3], ndata + 2);
        assert_memory_equal(row.val[CDR_F_FLAG3], data, 100);
        assert_memory_equal(row.val[CDR_F_FLAG3] + 100, FFFD, 3);
        assert_memory_equal(row.val[CDR_F_FLAG3] + 103, data + 101, ndata - 101);
        assert_memory_equal(row.val[CDR_F_CALL_TYPE], "ANSWERED", 8);
        assert_memory_equal(row.val[CDR_F_CALL_ID], UID, strlen(UID));
        json_t *j = json_loadb(row.extra_json, row.extra_len, JSON_ALLOW_NUL, NULL);
        assert_true(json_is_object(j));
        const json_t *v = json_object_get(j, "clid");
        assert_true(json_is_string(v));
        assert_int_equal(json_string_length(v), nclid);
        assert_memory_equal(json_string_value(v), clid, nclid);
        json_decref(j);
    }
    free(clid);
    free(data);
    profile_destroy(p);
}

/* ---- the fixture: kxhts_basic.csv against its expected rows ------------------ */

struct fixlog {
    struct profile *p;
    const json_t *rows; /* the expected array */
    size_t n;
    size_t rejects;
};

/* An expected JSON value against a mapped one. */
static void check_fixture_value(size_t rowno, const char *name, const json_t *w,
                                const char *got, size_t glen)
{
    if (!w)
        fail_msg("row %zu: the expected JSON lacks %s", rowno, name);
    if (json_is_null(w)) {
        if (got)
            fail_msg("row %zu: %s is '%.*s', want NULL", rowno, name, (int)glen, got);
        return;
    }
    if (json_is_string(w) && json_string_length(w) == 0) { /* '' or NULL, says the fixture */
        if (got && glen)
            fail_msg("row %zu: %s is '%.*s', want empty", rowno, name, (int)glen, got);
        return;
    }
    char want[64];
    const char *s = json_string_value(w);
    if (json_is_integer(w)) {
        snprintf(want, sizeof want, "%" JSON_INTEGER_FORMAT, json_integer_value(w));
    } else if (s && json_string_length(w) == 25 && s[10] == 'T' &&
               strcmp(s + 19, "+00:00") == 0) {
        /* an instant in UTC, and the source's zone is UTC: wall clock */
        snprintf(want, sizeof want, "%.10s %.8s", s, s + 11);
    } else {
        if (!s)
            fail_msg("row %zu: %s: want a string, an integer or null in the JSON", rowno, name);
        snprintf(want, sizeof want, "%s", s);
    }
    if (!got || glen != strlen(want) || memcmp(got, want, glen) != 0)
        fail_msg("row %zu: %s is '%.*s', want '%s'", rowno, name, (int)glen, got ? got : "NULL",
                 want);
}

static enum parse_verdict fix_record(void *ctx, const char *const *f, const size_t *lens,
                                     size_t n, uint64_t line, char *reason, size_t reason_len)
{
    struct fixlog *fl = ctx;
    struct cdr_row row;
    if (!profile_map(fl->p, f, lens, n, &row, reason, reason_len))
        return PARSE_BAD;
    if (fl->n >= json_array_size(fl->rows))
        fail_msg("more records than expected rows");
    const json_t *w = json_array_get(fl->rows, fl->n++);
    const json_t *ln = json_object_get(w, "line_no");
    assert_true(json_is_integer(ln));
    assert_int_equal(line, json_integer_value(ln));
    for (int i = 0; i < CDR_F_COUNT; i++) {
        const char *name = profile_field_name((enum cdr_field)i);
        check_fixture_value(fl->n, name, json_object_get(w, name), row.val[i], row.len[i]);
    }
    return PARSE_OK;
}

static enum parse_verdict fix_reject(void *ctx, uint64_t line, const char *raw, size_t len,
                                     const char *reason)
{
    struct fixlog *fl = ctx;
    print_message("reject line %llu: %.*s: %s\n", (unsigned long long)line, (int)len, raw,
                  reason);
    fl->rejects++;
    return PARSE_OK;
}

static void test_fixture_kxhts_basic(void **state)
{
    (void)state;
    const char *dir = getenv("CDR_FIXTURES");
    if (!dir || !*dir)
        dir = "fixtures";
    char *cpath = xasprintf("%s/import/kxhts_basic.csv", dir);
    char *jpath = xasprintf("%s/import/kxhts_basic.expected.json", dir);
    size_t clen;
    char *csv = slurp(cpath, &clen);
    json_error_t err;
    json_t *doc = json_load_file(jpath, JSON_REJECT_DUPLICATES, &err);
    if (!doc)
        fail_msg("%s:%d: invalid JSON: %s", jpath, err.line, err.text);
    const json_t *rows = json_object_get(doc, "rows");
    assert_true(json_is_array(rows));

    /* whole, and in small pieces */
    static const size_t chunks[] = {0, 1, 7, 64};
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        struct fixlog fl = {mkprofile(CDR_FMT_KXHTS, NULL, 0, NULL), rows, 0, 0};
        struct parse_cb cb = {fix_record, fix_reject, &fl};
        struct parser *ps = parse_create(0, &cb);
        size_t step = chunks[c] ? chunks[c] : clen;
        for (size_t off = 0; off < clen; off += step)
            assert_int_equal(parse_feed(ps, csv + off, clen - off < step ? clen - off : step), 0);
        assert_int_equal(parse_finish(ps), 0);
        assert_int_equal(parse_lines(ps), json_array_size(rows));
        parse_destroy(ps);
        assert_int_equal(fl.rejects, 0);
        assert_int_equal(fl.n, json_array_size(rows));
        profile_destroy(fl.p);
    }
    json_decref(doc);
    free(csv);
    free(cpath);
    free(jpath);
}

/* asterisk16.csv: three rows, no call ID column, clid and amaflags in extra */
static void test_fixture_asterisk16(void **state)
{
    (void)state;
    const char *dir = getenv("CDR_FIXTURES");
    if (!dir || !*dir)
        dir = "fixtures";
    char *cpath = xasprintf("%s/import/asterisk16.csv", dir);
    size_t clen;
    char *csv = slurp(cpath, &clen);
    struct keylog kl;
    memset(&kl, 0, sizeof kl);
    kl.p = mkprofile(CDR_FMT_ASTERISK, NULL, 0, NULL);
    csv = xrealloc(csv, clen + 1);
    csv[clen] = '\0';
    parse_keys(&kl, csv);
    assert_int_equal(kl.n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(kl.lines[i], i + 1);
    /* lines 1 and 3: same caller, same ext, other times: other rows */
    assert_memory_not_equal(kl.keys[0], kl.keys[2], 16);
    profile_destroy(kl.p);
    free(csv);
    free(cpath);
}

static const struct CMUnitTest fixed_tests[] = {
    cmocka_unit_test(test_names),
    cmocka_unit_test(test_create_errors),
    cmocka_unit_test(test_key_identical_and_each_field),
    cmocka_unit_test(test_key_call_id_is_not_row_id),
    cmocka_unit_test(test_key_quoting_and_line_ends),
    cmocka_unit_test(test_big_values),
    cmocka_unit_test(test_fixture_kxhts_basic),
    cmocka_unit_test(test_fixture_asterisk16),
};

#define NFIXED (sizeof fixed_tests / sizeof *fixed_tests)

int main(void)
{
    static struct CMUnitTest tests[NMAP + NFIXED];

    for (size_t i = 0; i < NMAP; i++)
        tests[i] = (struct CMUnitTest){.name = map_cases[i].name, .test_func = run_map_case,
                                       .initial_state = (void *)&map_cases[i]};
    for (size_t i = 0; i < NFIXED; i++)
        tests[NMAP + i] = fixed_tests[i];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
