/*
 * log.h - leveled logging to stderr. Only the top of a call chain logs: the
 * lower modules fill an error buffer instead, so a failure is reported once,
 * where its context (file, line, source) is known.
 */
#ifndef CDR_LOG_H
#define CDR_LOG_H

#include "cdrimport.h" /* CDR_PRINTF */

#include <stdio.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
/* Log lines go to f from now on instead of stderr (a Windows service has
 * no console); NULL: stderr again. */
void log_set_file(FILE *f);
void log_msg(enum log_level level, const char *fmt, ...)
    CDR_PRINTF(2, 3);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
