/*
 * packed.h - a packed download (a zip, a tar, a compressed tar, or one
 * compressed CSV) through the pipeline. The archive's checksum comes first:
 * one already imported makes it a duplicate, never expanded. Otherwise each
 * CDR member (its base name matches the source's `members`) streams through
 * file_import_input as an input of its own (input_archive.h): one ledger
 * row and one transaction each, deduplicated by its own checksum and by
 * row. Last, the archive's own ledger row (member NULL) says how it went;
 * it is written only once every CDR member is committed or recorded as
 * failed, which is also when the caller may move the archive.
 */
#ifndef CDR_PACKED_H
#define CDR_PACKED_H

#include "file.h"

/*
 * Import the archive in, an input that can rewind (a claimed file, or a
 * spooled body), read from its first byte. r is as file_import_input's:
 * imported when every CDR member was imported or a duplicate (the rows
 * summed); duplicate for a known archive; failed when a member failed or
 * the archive is damaged (r->error says so in one line, r->notes member by
 * member); database down or skipped (interrupted) when it stopped before
 * its end, with no archive row written. Members are reported through
 * o->member; their rejected lines are logged as file_import logs them.
 */
void packed_import(struct db *db, const struct cdr_source *src, struct profile *prof,
                   struct input *in, const struct file_opts *o, struct file_result *r);

#endif
