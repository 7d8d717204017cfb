/*
 * detect.h - `format: auto`: which profile (kx-hts, asterisk,
 * asterisk-custom) a file is in, told from the shape of its first records
 * (column count, and where the start and end times and the duration
 * stand), and the hint for a file that fails under a fixed format it is
 * not in. The shapes are those of shared docs/master-csv-format.md.
 * detect_record and detect_text are pure; detect_input reads the first
 * bytes of an input and rewinds it.
 */
#ifndef CDR_DETECT_H
#define CDR_DETECT_H

#include "cdrimport.h"
#include "profile.h"

struct input;

/* How much of a file is looked at: its first records, within its first
 * bytes (a record is at most 1024 bytes in Asterisk's own files). */
#define DETECT_RECORDS 20
#define DETECT_HEAD (64u * 1024u)

/* The formats a record's shape fits, as bits (1u << enum cdr_format). */
#define DETECT_BIT(fmt) (1u << (unsigned)(fmt))

struct detect_result {
    bool known;            /* some record fits a known layout */
    enum cdr_format fmt;   /* the choice; kx-hts (the historic default) when !known */
    unsigned columns;      /* the column count of the first record that fits fmt */
    unsigned records;      /* records looked at */
    unsigned matched;      /* of which fit fmt */
    bool ambiguous;        /* asterisk with 17 or 20 columns: uniqueid or userfield */
    char reason[384];      /* why, in words, for the log and the hint */
};

/* The formats (DETECT_BIT set) one parsed record fits: 0 for none. */
unsigned detect_record(const char *const *fields, const size_t *lens, size_t n);

/*
 * The verdict on the first bytes of a file (complete: they are the whole
 * file, so a last line without a newline is a record; otherwise the text
 * after the last newline is left out as possibly cut).
 */
void detect_text(const char *head, size_t len, bool complete, size_t max_line_bytes,
                 struct detect_result *out);

/*
 * The verdict on an input's first DETECT_HEAD bytes; the input is rewound
 * afterwards. 0, or -1 with errno on a read error. An input that cannot
 * rewind is not read: the result is !known with the reason saying so.
 */
int detect_input(struct input *in, size_t max_line_bytes, struct detect_result *out);

/*
 * For a file that failed under format configured: when it looks like
 * another known format, a hint naming that format and the key to set
 * ("it looks like an Asterisk cdr_csv file (18 columns), not kx-hts: set
 * `format: asterisk` (or `format: auto`) for source 'pbx'"). False, with
 * out untouched, when it does not.
 */
bool detect_hint(const struct detect_result *d, enum cdr_format configured, const char *source,
                 char *out, size_t outlen);

/* What a format is, in words for people ("an Asterisk cdr_csv file"). */
const char *detect_describe(enum cdr_format fmt);

#endif
