/*
 * prefetch.h - the next file of a run claimed, and checksummed if small, on
 * a helper thread while the current one is imported (job.c). Between one
 * file's commit and the next file's first round trip the server is idle;
 * a small file's claim and checksum pass were most of that gap.
 */
#ifndef CDR_PREFETCH_H
#define CDR_PREFETCH_H

#include "file.h"

#include <stdbool.h>

struct prefetch;

/* o's dry_run and follow_links are the claims'; o must outlive it. NULL
 * when no thread can be started (files are then claimed as they come). */
struct prefetch *prefetch_create(const struct file_opts *o);

/* Start claiming path (file_claim_early), after dropping a claim made
 * earlier and not taken. */
void prefetch_start(struct prefetch *p, const char *path);

/* Wait for the claim started for path and move it into e (claimed, or
 * why not: file_import_early reports it); false when none was started for
 * path. */
bool prefetch_take(struct prefetch *p, const char *path, struct file_early *e);

/* Drop a claim not taken (the run stopped before its file), end the
 * thread. Safe on NULL. */
void prefetch_destroy(struct prefetch *p);

#endif
