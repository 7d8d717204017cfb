/*
 * cdrimport.h - the umbrella header: version, exit statuses and the limits
 * shared by every pipeline stage (source -> file -> parse -> load -> finish).
 * Module headers include this one; nothing here allocates or logs.
 */
#ifndef CDRIMPORT_H
#define CDRIMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <time.h>

#define CDRIMPORT_VERSION "0.1.0"

/* Process exit statuses: documented in README and `cdrimport --help`. */
enum cdr_exit {
    CDR_EXIT_OK = 0,        /* every file imported or duplicate */
    CDR_EXIT_PARTIAL = 1,   /* a file failed or had rejected rows */
    CDR_EXIT_USAGE = 2,     /* usage or configuration error */
    CDR_EXIT_DB = 3         /* database unreachable: nothing moved */
};

/* Defaults a source inherits unless importer.yaml says otherwise. */
#define CDR_DEFAULT_MAX_LINE_BYTES (64u * 1024u)
#define CDR_DEFAULT_MAX_REJECT_RATIO 0.5
#define CDR_DEFAULT_MAX_MEMBER_BYTES (4ull * 1024 * 1024 * 1024)

/* printf-like functions are checked by the compiler. On mingw the "printf"
 * archetype is msvcrt's; the Windows build uses C99's printf
 * (__USE_MINGW_ANSI_STDIO), which is "gnu_printf" there. */
#ifdef __MINGW32__
#define CDR_PRINTF(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#else
#define CDR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#endif

/* A condition that is almost never true, in a per-byte loop: the compiler
 * lays the common path out straight (gcc and clang, the only ones built
 * with). */
#define CDR_RARELY(cond) __builtin_expect(!!(cond), 0)

/* Size of an error message buffer that low-level modules fill. */
#define CDR_ERRLEN 512

/* Allocation wrappers abort on out-of-memory (as Redis's zmalloc does), so
 * callers need not each check; they are defined in util.c. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Print "cdrimport: <message>" on stderr and abort: for what can only be a
 * bug or an exhausted machine, where no caller could do better. */
void cdr_fatal(const char *fmt, ...) CDR_PRINTF(1, 2) __attribute__((noreturn));
/* printf into a caller's error buffer (err may be NULL or errlen 0: then
 * nothing), without the trailing newlines and spaces libpq's messages end
 * with: the one way low-level modules report why. */
void cdr_seterr(char *err, size_t errlen, const char *fmt, ...)
    CDR_PRINTF(3, 4);
/* cdr_seterr, then false: `return cdr_fail(err, errlen, ...)` in a check. */
bool cdr_fail(char *err, size_t errlen, const char *fmt, ...) CDR_PRINTF(3, 4);
/* snprintf into a fresh heap string. */
char *xasprintf(const char *fmt, ...) CDR_PRINTF(1, 2);

/* Seconds on the monotonic clock: durations and deadlines, never dates. */
double cdr_monotonic(void);
/* n bytes as 2n lowercase hex digits and a NUL into out. */
void cdr_hex(const unsigned char *in, size_t n, char *out);
/* Order of two times (mtimes): <0, 0, >0. */
int cdr_timespec_cmp(const struct timespec *a, const struct timespec *b);

/* Outside text (file names, server messages) made safe for one log line or
 * one text column: valid UTF-8 is kept, control characters become \n, \r,
 * \t or \xNN, bytes that are not UTF-8 become \xNN. cdr_escape returns a
 * new string; cdr_escape_buf writes at most outlen bytes with a NUL (cut
 * whole escapes only) and returns the length written. */
char *cdr_escape(const char *s, size_t n);
size_t cdr_escape_buf(const char *s, size_t n, char *out, size_t outlen);
/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
size_t cdr_utf8_len(const unsigned char *s, size_t n);

#endif
