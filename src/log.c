/*
 * log.c - leveled log lines on stderr: "2026-11-26T06:40:01Z cdrimport[123]
 * WARN message". systemd's journal keeps stderr, so no syslog of our own.
 * One event is always one line: the message is escaped (cdr_escape_buf)
 * after formatting, so a file name holding a newline and a fake prefix, raw
 * ESC or BEL bytes, or libpq's multi-line errors (CONTEXT: ...) cannot forge
 * a line or reach the terminal raw.
 */
#include "log.h"
#include "cdrimport.h"
#include "plat.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static enum log_level current = LOG_INFO;
static FILE *sink; /* NULL: stderr */

void log_set_level(enum log_level level)
{
    current = level;
}

void log_set_file(FILE *f)
{
    sink = f;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    if (level > current)
        return;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    plat_gmtime(now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);

    /* One fprintf per line so concurrent writers don't interleave halves. */
    char line[4096], safe[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' '))
        len--; /* libpq ends its messages with a newline */
    cdr_escape_buf(line, len, safe, sizeof safe);
    FILE *out = sink ? sink : stderr;
    fprintf(out, "%s cdrimport[%ld] %s %s\n", stamp, (long)getpid(), names[level], safe);
    if (sink)
        fflush(sink); /* a log file is read while the program runs */
}
