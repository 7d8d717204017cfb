/*
 * watch.h - the folder-watching daemon (`cdrimport watch`): imports what is
 * already there (oldest first), then every file that appears, once it is
 * complete; survives database outages; stops on SIGTERM/SIGINT, reloads
 * importer.yaml on SIGHUP; speaks systemd's notify protocol.
 *
 * The core is watch.c; the backends that see files (inotify, poll) are
 * behind watch_backend.h, and the rule that says when a file is complete
 * is pending.h.
 */
#ifndef CDR_WATCH_H
#define CDR_WATCH_H

#include "cdrimport.h"
#include "config.h"

/* Run until stopped; returns the process exit status. config_path is what
 * was given with -c (NULL: the usual search), re-read on SIGHUP. */
int watch_run(struct cdr_config *cfg, const char *config_path);

#endif
