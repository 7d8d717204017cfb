/*
 * input.h - where a file's bytes come from. file.c reads every input through
 * this one interface: a plain file today (input_file.c), an archive member
 * or a spooled HTTP body tomorrow. An input has a name, a size when known,
 * a read, and a rewind where the source allows one.
 *
 * Every read also feeds the input's SHA-256 (Redis's rio habit), so the
 * checksum of what was read is known at the end of a pass without reading
 * the bytes again: a source that cannot be read twice cheaply (a compressed
 * member) learns its checksum while it is parsed. A plain file can afford a
 * first pass (input_hash_all) so that a file already imported costs no parse.
 */
#ifndef CDR_INPUT_H
#define CDR_INPUT_H

#include "cdrimport.h"

#include <sys/types.h>

/* What an implementation provides. read returns bytes read, 0 at the end,
 * or -1 with errno set (EINTR already retried). rewind (NULL: the source
 * cannot go back) returns 0 or -1 with errno. close frees impl.
 * why (optional) says, after read returned 0, why the bytes stopped short
 * of the source's end (an archive damaged there: the bytes are cut), or
 * after -1, a reason clearer than errno (an expansion limit); NULL when
 * neither. rewind_costly: going back means decompressing again, so no
 * checksum pass is made over it (the parse pass learns the checksum), and
 * it is rewound only to keep a failed input's rejects. */
struct input_ops {
    ssize_t (*read)(void *impl, void *buf, size_t len);
    int (*rewind)(void *impl);
    void (*close)(void *impl);
    const char *(*why)(void *impl);
    bool rewind_costly;
};

struct input;

/* Wrap an implementation. name is copied; size is -1 when not known. */
struct input *input_new(const char *name, int64_t size, const struct input_ops *ops,
                        void *impl);
/* The same for a file inside an archive: its name is "ARCHIVE:MEMBER"
 * (what logs show), its path the archive's and its member the path inside
 * it (what the ledger keeps). */
struct input *input_new_member(const char *archive, const char *member, int64_t size,
                               const struct input_ops *ops, void *impl);
/* Close the implementation and free. Safe on NULL. */
void input_close(struct input *in);

/* The file (device, inode) a plain input was opened on, set by its claim:
 * what finish.c checks the name still holds before it moves or deletes
 * it. False for any other input. */
void input_set_file_id(struct input *in, uint64_t dev, uint64_t ino);
bool input_file_id(const struct input *in, uint64_t *dev, uint64_t *ino);

const char *input_name(const struct input *in);
/* The ledger's path: the archive of a member, else the name. */
const char *input_path(const struct input *in);
/* The path inside the archive of a member; NULL for anything else. */
const char *input_member(const struct input *in);
int64_t input_size(const struct input *in);
bool input_can_rewind(const struct input *in);
bool input_rewind_costly(const struct input *in);
/* See input_ops.why: after a read returned 0 or -1. */
const char *input_why(const struct input *in);

/* Read up to len bytes (hashing them); see input_ops.read. */
ssize_t input_read(struct input *in, void *buf, size_t len);
/* Back to the first byte, and a fresh checksum. -1 with errno (ESPIPE when
 * the source cannot rewind). */
int input_rewind(struct input *in);
/* Bytes read since the start or the last rewind. */
uint64_t input_offset(const struct input *in);
/* After a read returned 0: the SHA-256 (64 hex digits and a NUL) of the
 * bytes of this pass. False before the end was reached. */
bool input_checksum(struct input *in, char hex[65]);

/* The checksum pass of a rewindable input: read everything, then rewind.
 * Returns 0 with hex and *size, or -1 with errno. */
int input_hash_all(struct input *in, char hex[65], uint64_t *size);

/* ---- plain files (input_file.c) ------------------------------------------ */

enum input_claim {
    INPUT_CLAIMED = 0,  /* open, a regular file, locked against other importers */
    INPUT_GONE,         /* no longer there */
    INPUT_BUSY,         /* being imported by another process */
    INPUT_MOVED,        /* moved away between our open and our lock */
    INPUT_UNREADABLE,   /* a link, or not a regular file */
    INPUT_IO_ERROR      /* cannot be opened this time (no permission, an I/O error,
                         * out of descriptors): nothing wrong with its data */
};

/*
 * Open path for reading without blocking on a FIFO and, unless
 * follow_links, without following a symbolic link; refuse anything but a
 * regular file; with lock, take an exclusive flock that stays until
 * input_close (so the file is not picked up by another importer until it
 * has been moved). *out is set on INPUT_CLAIMED; why says what went wrong
 * otherwise.
 */
enum input_claim input_file_claim(const char *path, bool follow_links, bool lock,
                                  struct input **out, char *why, size_t whylen);

#endif
