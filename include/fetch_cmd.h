/*
 * fetch_cmd.h - the commands around the fetch sources: `cdrimport fetch`
 * (poll each fetch source once, import what was spooled and what earlier
 * runs left, exit with the usual codes: for cron and systemd timers) and
 * the fetch part of `check` (connect without a request, which would clear
 * the PBX).
 */
#ifndef CDR_FETCH_CMD_H
#define CDR_FETCH_CMD_H

#include "job.h"

/* `fetch [--source NAME]` with run set up by job_init (not connected).
 * Returns the exit status. */
int fetch_cmd_run(struct job *run, const char *source_name);
/* Print one line per fetch source (url masked): connected, or why not.
 * False if one could not be reached. */
bool fetch_cmd_check(const struct cdr_config *cfg);

#endif
