/*
 * input.c - the input stream every importer pass reads through (see
 * input.h): the implementation's read, plus the running SHA-256 of what
 * has been read, so one pass yields both the records and the checksum.
 */
#include "input.h"
#include "checksum.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The checksum pass reads into a buffer on the stack: one allocated and
 * freed per file on a helper thread (prefetch.c) went back to the kernel
 * each time (an madvise a file, glibc trimming a thread's arena). */
#define HASH_CHUNK (64u * 1024u)

struct input {
    char *name;
    char *path;       /* the archive of a member; NULL: the name */
    char *member;
    int64_t size;
    const struct input_ops *ops;
    void *impl;
    struct checksum *ck;
    uint64_t offset;
    bool at_end;
    bool hashed;      /* hex holds the checksum of the pass that ended */
    char hex[65];
    bool has_id;      /* a plain file: dev and ino of what was opened */
    uint64_t dev, ino;
};

struct input *input_new(const char *name, int64_t size, const struct input_ops *ops,
                        void *impl)
{
    struct input *in = xcalloc(1, sizeof *in);
    in->name = xstrdup(name);
    in->size = size;
    in->ops = ops;
    in->impl = impl;
    in->ck = checksum_create();
    return in;
}

struct input *input_new_member(const char *archive, const char *member, int64_t size,
                               const struct input_ops *ops, void *impl)
{
    char *name = xasprintf("%s:%s", archive, member);
    struct input *in = input_new(name, size, ops, impl);
    free(name);
    in->path = xstrdup(archive);
    in->member = xstrdup(member);
    return in;
}

void input_close(struct input *in)
{
    if (!in)
        return;
    if (in->ops->close)
        in->ops->close(in->impl);
    checksum_destroy(in->ck);
    free(in->name);
    free(in->path);
    free(in->member);
    free(in);
}

void input_set_file_id(struct input *in, uint64_t dev, uint64_t ino)
{
    in->has_id = true;
    in->dev = dev;
    in->ino = ino;
}

bool input_file_id(const struct input *in, uint64_t *dev, uint64_t *ino)
{
    if (!in || !in->has_id)
        return false;
    *dev = in->dev;
    *ino = in->ino;
    return true;
}

const char *input_name(const struct input *in)
{
    return in->name;
}

const char *input_path(const struct input *in)
{
    return in->path ? in->path : in->name;
}

const char *input_member(const struct input *in)
{
    return in->member;
}

bool input_rewind_costly(const struct input *in)
{
    return in->ops->rewind_costly;
}

const char *input_why(const struct input *in)
{
    return in->ops->why ? in->ops->why(in->impl) : NULL;
}

int64_t input_size(const struct input *in)
{
    return in->size;
}

bool input_can_rewind(const struct input *in)
{
    return in->ops->rewind != NULL;
}

ssize_t input_read(struct input *in, void *buf, size_t len)
{
    if (in->at_end)
        return 0;
    ssize_t n = in->ops->read(in->impl, buf, len);
    if (n > 0) {
        checksum_update(in->ck, buf, (size_t)n);
        in->offset += (uint64_t)n;
    } else if (n == 0) {
        in->at_end = true;
        checksum_final_hex(in->ck, in->hex); /* also resets the context */
        in->hashed = true;
    }
    return n;
}

int input_rewind(struct input *in)
{
    if (!in->ops->rewind) {
        errno = ESPIPE;
        return -1;
    }
    if (in->ops->rewind(in->impl) < 0)
        return -1;
    if (!in->at_end)
        checksum_reset(in->ck);
    in->offset = 0;
    in->at_end = false;
    in->hashed = false;
    return 0;
}

uint64_t input_offset(const struct input *in)
{
    return in->offset;
}

bool input_checksum(struct input *in, char hex[65])
{
    if (!in->hashed)
        return false;
    memcpy(hex, in->hex, sizeof in->hex);
    return true;
}

int input_hash_all(struct input *in, char hex[65], uint64_t *size)
{
    char buf[HASH_CHUNK];
    ssize_t n;
    while ((n = input_read(in, buf, sizeof buf)) > 0)
        ;
    if (n < 0)
        return -1;
    *size = in->offset;
    input_checksum(in, hex);
    return input_rewind(in);
}
