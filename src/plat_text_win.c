/*
 * plat_text_win.c - plat.h's text services on Windows (mingw-w64), where
 * the C library lacks them or differs: memrchr, fnmatch over channel
 * names, a strtod that ignores the locale, UTC calendar arithmetic
 * (gmtime_r and timegm), where zone files would be, and charset
 * conversion through Windows' code pages and UTF-16 in place of iconv.
 * Split from plat_win.c, which keeps the files, the waiting and the
 * process; Linux has plat_posix.c.
 */
#include "plat.h"
#include "cdrimport.h"
#include "plat_win.h"

#include <winsock2.h> /* before windows.h, which would bring the old winsock */
#include <windows.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

/* ---- text ----------------------------------------------------------------- */

void *plat_memrchr(const void *s, int c, size_t n)
{
    const unsigned char *p = s;
    while (n-- > 0)
        if (p[n] == (unsigned char)c)
            return (void *)(p + n);
    return NULL;
}

void plat_wipe(void *p, size_t n)
{
    SecureZeroMemory(p, n);
}

static int fold(int c, bool casefold)
{
    return casefold && c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* One bracket expression at p (after '['): whether c is in it; *after is
 * set past its ']'. A '[' without its ']' is an ordinary character. */
static bool in_class(const char *p, int c, bool casefold, const char **after)
{
    bool neg = *p == '!' || *p == '^';
    if (neg)
        p++;
    bool hit = false;
    const char *start = p;
    while (*p && (*p != ']' || p == start)) {
        int lo = (unsigned char)*p, hi = lo;
        if (p[1] == '-' && p[2] && p[2] != ']') {
            hi = (unsigned char)p[2];
            p += 2;
        }
        int fc = fold(c, casefold);
        if ((fold(lo, casefold) <= fc && fc <= fold(hi, casefold)) || (lo <= c && c <= hi))
            hit = true;
        p++;
    }
    if (*p != ']') {
        *after = NULL;
        return false;
    }
    *after = p + 1;
    return hit != neg;
}

/* Iterative '*' with one backtrack point: linear for the patterns a
 * config holds, no recursion on long names. */
bool plat_fnmatch(const char *pat, const char *name, bool casefold)
{
    const char *star = NULL, *resume = NULL;
    while (*name) {
        const char *after;
        if (*pat == '*') {
            star = ++pat;
            resume = name;
            continue;
        }
        if (*pat == '?') {
            pat++;
            name++;
            continue;
        }
        if (*pat == '[') {
            bool hit = in_class(pat + 1, (unsigned char)*name, casefold, &after);
            if (after) {
                if (hit) {
                    pat = after;
                    name++;
                    continue;
                }
                goto backtrack;
            }
        }
        if (*pat == '\\' && pat[1])
            pat++;
        if (*pat && fold((unsigned char)*pat, casefold) == fold((unsigned char)*name, casefold)) {
            pat++;
            name++;
            continue;
        }
    backtrack:
        if (!star)
            return false;
        pat = star;
        name = ++resume;
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

double plat_strtod_c(const char *s, char **end)
{
    static _locale_t c;
    if (!c)
        c = _create_locale(LC_NUMERIC, "C");
    return _strtod_l(s, end, c);
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back: the
 * well-known era arithmetic (400-year cycles of 146097 days, years taken
 * to start in March so that the leap day comes last). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

struct tm *plat_gmtime(time_t t, struct tm *tm)
{
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    *tm = (struct tm){.tm_year = (int)(y - 1900), .tm_mon = m - 1, .tm_mday = d,
                      .tm_hour = (int)(secs / 3600), .tm_min = (int)(secs / 60 % 60),
                      .tm_sec = (int)(secs % 60),
                      .tm_wday = (int)(((days + 4) % 7 + 7) % 7),
                      .tm_yday = (int)(days - days_from_civil(y, 1, 1))};
    return tm;
}

time_t plat_timegm(struct tm *tm)
{
    /* Out-of-range fields carry over, as timegm(3)'s do. */
    int64_t mon = tm->tm_mon, y = (int64_t)tm->tm_year + 1900 + mon / 12;
    mon %= 12;
    if (mon < 0) {
        mon += 12;
        y--;
    }
    int64_t t = (days_from_civil(y, (int)mon + 1, 1) + tm->tm_mday - 1) * 86400 +
                (int64_t)tm->tm_hour * 3600 + (int64_t)tm->tm_min * 60 + tm->tm_sec;
    plat_gmtime((time_t)t, tm);
    return (time_t)t;
}

const char *plat_zoneinfo_dir(void)
{
    return NULL;
}

/* Mapping Windows' zone names to IANA ones needs CLDR's windowsZones table
 * (or ICU, which only Windows 10 1903 and later carry): the program does
 * not keep a copy that would age. It names the zone instead, so that the
 * admin can write the IANA name (config.c makes timezone: required). */
char *plat_host_zone_name(void)
{
    DYNAMIC_TIME_ZONE_INFORMATION z;
    if (GetDynamicTimeZoneInformation(&z) == TIME_ZONE_ID_INVALID)
        return xstrdup("unknown");
    return plat_win_utf8(z.TimeZoneKeyName[0] ? z.TimeZoneKeyName : z.StandardName);
}

/* A single-byte code page as a table: byte -> its UTF-8 (up to 3 bytes),
 * length 0 where the code page defines no character; a double-byte one
 * (Shift-JIS, GBK, Big5, EUC-KR/UHC) converted by MultiByteToWideChar; or
 * UTF-16, which no code page call converts from bytes. */
struct plat_conv {
    int utf16;   /* 0: a code page; 1: little-endian; 2: big-endian */
    unsigned mb; /* a double-byte code page, or 0: the table */
    unsigned char utf8[256][3];
    unsigned char len[256];
};

/* iconv's names, for the code pages Windows has. The double-byte ones are
 * Microsoft's forms, supersets of the standards named (CP932 of Shift-JIS,
 * CP936 of GB2312, CP949 of EUC-KR), as iconv's CP932, GBK, CP949. */
static const struct {
    const char *name;
    unsigned cp;
} code_pages[] = {
    {"latin1", 28591},     {"iso-8859-1", 28591}, {"iso8859-1", 28591},  {"l1", 28591},
    {"latin2", 28592},     {"koi8-r", 20866},     {"koi8-u", 21866},     {"ascii", 20127},
    {"us-ascii", 20127},   {"shift_jis", 932},    {"shift-jis", 932},    {"sjis", 932},
    {"ms_kanji", 932},     {"windows-31j", 932},  {"gbk", 936},          {"gb2312", 936},
    {"euc-cn", 936},       {"big5", 950},         {"euc-kr", 949},       {"uhc", 949},
    {"ks_c_5601-1987", 949},
};

static unsigned code_page_of(const char *name)
{
    for (size_t i = 0; i < sizeof code_pages / sizeof *code_pages; i++)
        if (!_stricmp(name, code_pages[i].name))
            return code_pages[i].cp;
    char e[32];
    size_t k = 0;
    for (; name[k] && k < sizeof e - 1; k++)
        e[k] = (char)(name[k] >= 'A' && name[k] <= 'Z' ? name[k] - 'A' + 'a' : name[k]);
    e[k] = '\0';
    unsigned n;
    char rest;
    if (sscanf(e, "iso-8859-%u%c", &n, &rest) == 1 || sscanf(e, "iso8859-%u%c", &n, &rest) == 1)
        return n >= 1 && n <= 16 ? 28590 + n : 0;
    if (sscanf(e, "windows-%u%c", &n, &rest) == 1 || sscanf(e, "cp%u%c", &n, &rest) == 1)
        return n;
    return 0;
}

/* Windows maps the holes of its 125x code pages to the C1 controls
 * (0x81 -> U+0081); iconv calls them undefined, and so does the program:
 * a C1 control only counts in the ISO-8859 parts, which define them. */
static bool c1_is_a_hole(unsigned cp)
{
    return !(cp >= 28591 && cp <= 28606);
}

struct plat_conv *plat_conv_open(const char *encoding)
{
    if (!_stricmp(encoding, "utf-16le") || !_stricmp(encoding, "utf-16be")) {
        struct plat_conv *u = xcalloc(1, sizeof *u);
        u->utf16 = !_stricmp(encoding, "utf-16le") ? 1 : 2;
        return u;
    }
    unsigned cp = code_page_of(encoding);
    CPINFO info;
    if (!cp || !GetCPInfo(cp, &info) || info.MaxCharSize > 2) {
        errno = EINVAL; /* unknown, or a stateful one (ISO-2022, UTF-7) */
        return NULL;
    }
    struct plat_conv *c = xcalloc(1, sizeof *c);
    if (info.MaxCharSize == 2) {
        c->mb = cp;
        return c;
    }
    for (int b = 0; b < 256; b++) {
        char in = (char)b;
        wchar_t w[2];
        if (MultiByteToWideChar(cp, MB_ERR_INVALID_CHARS, &in, 1, w, 2) != 1)
            continue;
        /* A byte the code page maps to its default character is undefined. */
        if (w[0] == info.DefaultChar[0] && b != info.DefaultChar[0])
            continue;
        if (b >= 0x80 && w[0] >= 0x80 && w[0] <= 0x9F && c1_is_a_hole(cp))
            continue;
        int k = WideCharToMultiByte(CP_UTF8, 0, w, 1, (char *)c->utf8[b], 3, NULL, NULL);
        c->len[b] = (unsigned char)(k > 0 ? k : 0);
    }
    return c;
}

/* UTF-16 with iconv's errors: EINVAL for a unit or pair cut at the end,
 * EILSEQ for a lone surrogate. */
static size_t conv_utf16(struct plat_conv *c, char **in, size_t *inleft, char **out,
                         size_t *outleft)
{
    while (*inleft > 0) {
        const unsigned char *p = (const unsigned char *)*in;
        if (*inleft < 2) {
            errno = EINVAL;
            return (size_t)-1;
        }
        unsigned u = c->utf16 == 1 ? p[0] | p[1] << 8 : p[0] << 8 | p[1];
        size_t used = 2;
        if (u >= 0xDC00 && u <= 0xDFFF) {
            errno = EILSEQ;
            return (size_t)-1;
        }
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (*inleft < 4) {
                errno = EINVAL;
                return (size_t)-1;
            }
            unsigned lo = c->utf16 == 1 ? p[2] | p[3] << 8 : p[2] << 8 | p[3];
            if (lo < 0xDC00 || lo > 0xDFFF) {
                errno = EILSEQ;
                return (size_t)-1;
            }
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            used = 4;
        }
        unsigned char b[4];
        size_t k = u < 0x80 ? 1 : u < 0x800 ? 2 : u < 0x10000 ? 3 : 4;
        if (k == 1) {
            b[0] = (unsigned char)u;
        } else {
            for (size_t i = k - 1; i > 0; i--, u >>= 6)
                b[i] = (unsigned char)(0x80 | (u & 0x3F));
            b[0] = (unsigned char)((k == 2 ? 0xC0 : k == 3 ? 0xE0 : 0xF0) | u);
        }
        if (*outleft < k) {
            errno = E2BIG;
            return (size_t)-1;
        }
        memcpy(*out, b, k);
        *out += k;
        *outleft -= k;
        *in += used;
        *inleft -= used;
    }
    return 0;
}

/* A double-byte code page, one character at a time, with iconv's errors:
 * EILSEQ at a character the code page does not define (a lead byte with a
 * wrong trail byte included: the caller skips the lead byte only, as after
 * iconv), EINVAL for a lead byte cut at the end, E2BIG when out is full. */
static size_t conv_mb_slow(unsigned cp, char **in, size_t *inleft, char **out, size_t *outleft)
{
    while (*inleft > 0) {
        size_t k = IsDBCSLeadByteEx(cp, (BYTE)**in) ? 2 : 1;
        if (k > *inleft) {
            errno = EINVAL;
            return (size_t)-1;
        }
        wchar_t w[2];
        int nw = MultiByteToWideChar(cp, MB_ERR_INVALID_CHARS, *in, (int)k, w, 2);
        if (nw <= 0) {
            errno = EILSEQ;
            return (size_t)-1;
        }
        char u[8];
        int m = WideCharToMultiByte(CP_UTF8, 0, w, nw, u, sizeof u, NULL, NULL);
        if (m <= 0) {
            errno = EILSEQ;
            return (size_t)-1;
        }
        if ((size_t)m > *outleft) {
            errno = E2BIG;
            return (size_t)-1;
        }
        memcpy(*out, u, (size_t)m);
        *out += m;
        *outleft -= (size_t)m;
        *in += k;
        *inleft -= k;
    }
    return 0;
}

/* A whole field in two calls (bytes to UTF-16 to UTF-8) when it is valid
 * and fits, which is nearly always; else character by character, to stop
 * exactly where iconv would. */
static size_t conv_mb(unsigned cp, char **in, size_t *inleft, char **out, size_t *outleft)
{
    if (*inleft == 0)
        return 0;
    if (*inleft < INT_MAX / 4 && *outleft < INT_MAX) {
        int nw = MultiByteToWideChar(cp, MB_ERR_INVALID_CHARS, *in, (int)*inleft, NULL, 0);
        if (nw > 0) {
            wchar_t *w = xmalloc((size_t)nw * sizeof *w);
            MultiByteToWideChar(cp, MB_ERR_INVALID_CHARS, *in, (int)*inleft, w, nw);
            int m = WideCharToMultiByte(CP_UTF8, 0, w, nw, NULL, 0, NULL, NULL);
            bool fits = m > 0 && (size_t)m <= *outleft &&
                        WideCharToMultiByte(CP_UTF8, 0, w, nw, *out, (int)*outleft, NULL, NULL) == m;
            free(w);
            if (fits) {
                *out += m;
                *outleft -= (size_t)m;
                *in += *inleft;
                *inleft = 0;
                return 0;
            }
        }
    }
    return conv_mb_slow(cp, in, inleft, out, outleft);
}

size_t plat_conv(struct plat_conv *c, char **in, size_t *inleft, char **out, size_t *outleft)
{
    if (c->utf16)
        return conv_utf16(c, in, inleft, out, outleft);
    if (c->mb)
        return conv_mb(c->mb, in, inleft, out, outleft);
    while (*inleft > 0) {
        unsigned char b = (unsigned char)**in;
        size_t k = c->len[b];
        if (k == 0) {
            errno = EILSEQ;
            return (size_t)-1;
        }
        if (*outleft < k) {
            errno = E2BIG;
            return (size_t)-1;
        }
        memcpy(*out, c->utf8[b], k);
        *out += k;
        *outleft -= k;
        (*in)++;
        (*inleft)--;
    }
    return 0;
}

void plat_conv_reset(struct plat_conv *c)
{
    (void)c; /* stateless */
}

void plat_conv_close(struct plat_conv *c)
{
    free(c);
}

struct plat_locale *plat_utf8_locale_new(void)
{
    return NULL;
}

void plat_utf8_locale_free(struct plat_locale *l)
{
    (void)l;
}

void *plat_locale_use(struct plat_locale *l)
{
    (void)l;
    return NULL;
}

void plat_locale_restore(struct plat_locale *l, void *prev)
{
    (void)l;
    (void)prev;
}
