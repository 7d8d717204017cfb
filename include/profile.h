/*
 * profile.h - column layouts of the Master.csv dialects and the mapping of a
 * parsed CSV record onto a cdr row; each value is read by value.h (dates,
 * durations, UTF-8 repair or charset conversion); the row key is
 * copytext.h's. Pure: no I/O, no logging, no database.
 */
#ifndef CDR_PROFILE_H
#define CDR_PROFILE_H

#include "cdrimport.h"

/* The typed columns of table cdr that a profile can fill, in COPY order. */
enum cdr_field {
    CDR_F_CALL_ID = 0,
    CDR_F_CALLER_PHONE,
    CDR_F_DIALED_PHONE,
    CDR_F_FLAG2,
    CDR_F_FLAG3,
    CDR_F_CALL_TIME,
    CDR_F_ANSWER_TIME,
    CDR_F_END_TIME,
    CDR_F_TOTAL_DURATION,
    CDR_F_CALL_DURATION,
    CDR_F_CALL_TYPE,
    CDR_F_ACCOUNT_CODE,
    CDR_F_SRC_CHANNEL,
    CDR_F_DST_CHANNEL,
    CDR_F_FEATURE,
    CDR_F_COUNT
};

/* Where one source column goes: a cdr column, a key of the jsonb `extra`
 * column, or nowhere. */
enum cdr_col_kind { CDR_COL_FIELD = 0, CDR_COL_EXTRA, CDR_COL_SKIP };

struct cdr_colspec {
    enum cdr_col_kind kind;
    enum cdr_field field; /* with CDR_COL_FIELD */
    char *extra_name;     /* with CDR_COL_EXTRA (owned) */
};

enum cdr_format {
    CDR_FMT_KXHTS = 0,       /* Panasonic KX-HTS824/32: 15 columns */
    CDR_FMT_ASTERISK,        /* cdr_csv: 16..21 columns, told apart by count */
    CDR_FMT_ASTERISK_CUSTOM, /* cdr_custom default mapping: 18 or 19 columns */
    CDR_FMT_CUSTOM,          /* explicit `columns:` list from importer.yaml */
    CDR_FMT_AUTO             /* one of the first three, chosen per file (detect.h) */
};

/* Name of a cdr column ("call_id"...), and the reverse lookup (-1: none). */
const char *profile_field_name(enum cdr_field f);
int profile_field_by_name(const char *name);
/* "kx-hts", "asterisk", ...; and the reverse (-1: unknown). The names by
 * enum value, NULL-terminated (for importer.yaml's key table). */
extern const char *const profile_format_names[];
const char *profile_format_name(enum cdr_format fmt);
int profile_format_by_name(const char *name);

/*
 * A profile bound to one source: its layouts and its text decoding.
 * profile_create returns NULL and fills err for an unknown encoding.
 */
struct profile;
struct profile *profile_create(enum cdr_format fmt,
                               const struct cdr_colspec *columns, size_t ncolumns,
                               const char *encoding, char *err, size_t errlen);
void profile_destroy(struct profile *p);
/* A profile of format auto reads each file with one of its variants (kx-hts,
 * asterisk, asterisk-custom), chosen by detect.h: the variant for fmt.
 * Any other profile is its own only variant. */
struct profile *profile_variant(struct profile *p, enum cdr_format fmt);

/* Whether the first record of a file is a header to skip (format custom
 * with `header: true`). */
void profile_set_header(struct profile *p, bool header);

bool profile_has_header(const struct profile *p);

/*
 * One mapped row. Values point into storage owned by the profile and stay
 * valid until the next profile_map call. A NULL value is SQL NULL.
 * Times are canonical local wall-clock text "YYYY-MM-DD HH:MM:SS" that the
 * database reads in the source's time zone; durations canonical decimals.
 */
struct cdr_row {
    const char *val[CDR_F_COUNT];
    size_t len[CDR_F_COUNT];
    const char *extra_json;   /* a JSON object, or NULL when empty */
    size_t extra_len;
    bool repaired;            /* invalid bytes were replaced */
};

/*
 * Map one parsed record (nfields raw fields) onto *row. Returns true on
 * success; false with a reason in err ("field 9 (start): impossible date
 * '2023-02-30 10:00:00'") when the record must be rejected.
 */
bool profile_map(struct profile *p, const char *const *fields, const size_t *lens,
                 size_t nfields, struct cdr_row *row, char *err, size_t errlen);

#endif
