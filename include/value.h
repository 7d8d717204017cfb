/*
 * value.h - the checks and repairs that every input layout applies to a
 * field's bytes: timestamps and durations into canonical text, and text
 * into valid UTF-8 (invalid bytes repaired, or another charset converted).
 * What a column means is the profile's business; this is only how its
 * value is read. Pure: no I/O, no logging.
 */
#ifndef CDR_VALUE_H
#define CDR_VALUE_H

#include "cdrimport.h"

/*
 * Parse a timestamp as PBXs and spreadsheets write it: "YYYY-MM-DD HH:MM:SS",
 * also '/' as the date separator, 'T' between date and time, one-digit
 * month/day/hour and no seconds ("2020/2/10 22:41"). Writes the canonical
 * 19-character form plus NUL into out[20]. False for impossible dates.
 */
bool value_parse_time(const char *s, size_t len, char out[20]);

/* Room for the longest canonical duration ("2147483647") and its NUL. */
#define VALUE_SECONDS_MAX 16

/* A duration: bare digits fitting an int4, written back without leading
 * zeros (and a NUL) into out; *outlen is its length. */
bool value_parse_seconds(const char *s, size_t len, char out[VALUE_SECONDS_MAX],
                         size_t *outlen);

/* A growing byte buffer that decoded text is appended to. */
struct value_buf {
    char *data;
    size_t len, cap;
};

/* Room for more bytes at data + len (data may move). */
void value_buf_reserve(struct value_buf *b, size_t more);
void value_buf_put(struct value_buf *b, const void *s, size_t n);

/*
 * Text of one source into UTF-8. NULL or "utf-8"/"utf8" in any case means
 * the text is UTF-8 already and only repaired; anything else is an iconv
 * charset. value_decoder_open returns NULL with err for an unknown one.
 */
struct value_decoder;
struct value_decoder *value_decoder_open(const char *encoding, char *err, size_t errlen);
void value_decoder_close(struct value_decoder *d);

/* Append s decoded to UTF-8 to out; every invalid byte becomes one U+FFFD,
 * and then *repaired is set (it is never cleared). */
void value_decode(struct value_decoder *d, const char *s, size_t len, struct value_buf *out,
                  bool *repaired);

#endif
