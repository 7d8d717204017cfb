/*
 * input_archive.h - the files inside a packed download (zip, tar, tar.gz,
 * tar.bz2, tar.xz, or one file compressed with gzip, bzip2 or xz) as inputs
 * (input.h), streamed through libarchive: nothing is unpacked to disk and
 * memory stays bounded whatever the archive's size. Recognised by content.
 *
 * Hostile archives are bounded in time and memory too: a member that
 * expands past max_member_bytes, or by more than 1000:1 once past its first
 * MiB, is stopped; an archive damaged inside a member ends that member's
 * bytes there, with libarchive's reason. Names inside the archive are only
 * ever text here (never paths to write to), so `../`, absolute paths and
 * control bytes are harmless. Never logs: reasons go to the caller.
 */
#ifndef CDR_INPUT_ARCHIVE_H
#define CDR_INPUT_ARCHIVE_H

#include "cdrimport.h"
#include "input.h"

/* The bytes of a file's start that input_archive_sniff looks at (a tar's
 * magic sits at offset 257). */
#define INPUT_ARCHIVE_HEAD 512
/* The expansion rule: past its first MiB, a member may hold at most this
 * many bytes for each compressed byte read (deflate's own best is 1032). */
#define INPUT_ARCHIVE_MAX_RATIO 1000u
#define INPUT_ARCHIVE_RATIO_AFTER (1024u * 1024u)

/* Whether a file that starts with these bytes is a zip, a tar, or a gzip,
 * bzip2 or xz stream (anything else is read as CSV). */
bool input_archive_sniff(const void *head, size_t len);
/* Whether input in is packed, by its first bytes (input_archive_sniff): 1
 * or 0, and in is back at its first byte; -1 with errno when the read or
 * the rewind failed. Only an input that rewinds cheaply is looked at: an
 * archive member never is (an archive inside an archive is not opened),
 * and one read once is taken as CSV (0). */
int input_archive_is_packed(struct input *in);

struct input_archive;

struct input_archive_entry {
    const char *name;   /* path inside the archive, as stored; until the next entry or a
                         * member's rewind (which reads the entries again) */
    size_t index;       /* 0-based, among all entries */
    bool regular;       /* a file: not a folder, link, hard link or device */
    bool single;        /* the one file of a compressed stream (no archive around it) */
    bool encrypted;
    int64_t size;       /* declared expanded size, -1 when not declared */
};

/*
 * Read the archive in file, an input that can rewind (it is read from its
 * first byte, and again to rewind a member; the caller closes it after
 * input_archive_close). max_member_bytes bounds each member. NULL with
 * libarchive's reason in why when it is not an archive it can read.
 */
struct input_archive *input_archive_open(struct input *file, uint64_t max_member_bytes,
                                         char *why, size_t whylen);
/* Safe on NULL. Members must be closed first. */
void input_archive_close(struct input_archive *ar);

/* The next entry: 1 with *e, 0 after the last one, -1 with why when the
 * archive is damaged or was stopped (nothing more can be read). The data
 * of the entry before must have been read to its end or skipped. */
int input_archive_next(struct input_archive *ar, struct input_archive_entry *e, char *why,
                       size_t whylen);

/*
 * The current entry's bytes as an input named "ARCHIVE:MEMBER"
 * (input_new_member). Read it before the next entry and close it before
 * input_archive_close. Its rewind opens the archive again and skips to the
 * entry (rewind_costly). Its read fails (-1, input_why the reason) when the
 * expansion passes a limit; if the archive is damaged inside it, its bytes
 * end there and input_why says why (they are cut). *packed: its first
 * bytes are an archive or compressed stream themselves.
 */
struct input *input_archive_member(struct input_archive *ar, bool *packed);

/* Pass over the current entry's bytes unread, within the same limits
 * (skipping inside a compressed stream means expanding it): 0, or -1 with
 * why when the archive cannot be read further. */
int input_archive_skip(struct input_archive *ar, char *why, size_t whylen);

/* Why nothing more can be read (damage, or a stopped member that cannot be
 * skipped without expanding it), or NULL. */
const char *input_archive_broken(const struct input_archive *ar);

#endif
