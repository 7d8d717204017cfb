/*
 * input_file.c - a plain file as an input (input.h), and the claim that
 * comes with opening it: no following links out of a watched tree, no
 * hanging on a FIFO, nothing but a regular file, and an flock so that two
 * importers on one host never read the same file at once.
 */
#include "input.h"
#include "plat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct plain {
    int fd;
};

static ssize_t plain_read(void *impl, void *buf, size_t len)
{
    struct plain *p = impl;
    for (;;) {
        ssize_t n = read(p->fd, buf, len);
        if (n >= 0 || errno != EINTR)
            return n;
    }
}

static int plain_rewind(void *impl)
{
    struct plain *p = impl;
    return lseek(p->fd, 0, SEEK_SET) < 0 ? -1 : 0;
}

static void plain_close(void *impl)
{
    struct plain *p = impl;
    if (p->fd >= 0)
        close(p->fd); /* releases the flock */
    free(p);
}

static const struct input_ops plain_ops = {.read = plain_read, .rewind = plain_rewind,
                                           .close = plain_close};

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
                                                                           : "special";
}

/* Open and check; the fd, or -1 with the claim's outcome in *res. */
static int open_regular(const char *path, bool follow_links, struct stat *st,
                        enum input_claim *res, char *why, size_t whylen)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    int fd = plat_open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (follow_links ? 0 : O_NOFOLLOW), 0);
    if (fd < 0) {
        /* Only a link (ELOOP) is the file's own doing; EACCES, EIO, EMFILE
         * and the like pass, and the file is read again later. */
        *res = errno == ENOENT ? INPUT_GONE : errno == ELOOP ? INPUT_UNREADABLE : INPUT_IO_ERROR;
        if (errno == ENOENT)
            snprintf(why, whylen, "gone before it could be read");
        else
            snprintf(why, whylen, "cannot open: %s",
                     errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        return -1;
    }
    *res = INPUT_UNREADABLE;
    if (fstat(fd, st) < 0) {
        *res = INPUT_IO_ERROR;
        snprintf(why, whylen, "cannot stat: %s", strerror(errno));
    } else if (!S_ISREG(st->st_mode)) {
        snprintf(why, whylen, "not a regular file (%s)", kind_of(st->st_mode));
    } else if (plat_set_blocking(fd) < 0) { /* regular file: back to blocking reads */
        *res = INPUT_IO_ERROR;
        snprintf(why, whylen, "fcntl: %s", strerror(errno));
    } else {
        return fd;
    }
    close(fd);
    return -1;
}

enum input_claim input_file_claim(const char *path, bool follow_links, bool lock,
                                  struct input **out, char *why, size_t whylen)
{
    struct stat st;
    struct plat_file_id id, now;
    enum input_claim res;
    *out = NULL;
    int fd = open_regular(path, follow_links, &st, &res, why, whylen);
    if (fd < 0)
        return res;
    /* Two overlapping scans (or watchers) on one host never read the same
     * file at once; across hosts the database's key still holds. */
    if (lock && plat_lock(fd) < 0) {
        snprintf(why, whylen, "being imported by another process");
        res = INPUT_BUSY;
    } else if (plat_fd_id(fd, &st, &id) < 0 || plat_path_id(path, true, &now) < 0 ||
               now.ino != id.ino || now.dev != id.dev) {
        /* Another importer may have moved it away between open and lock. */
        snprintf(why, whylen, "moved away by another importer");
        res = INPUT_MOVED;
    } else {
        struct plain *p = xmalloc(sizeof *p);
        p->fd = fd;
        *out = input_new(path, (int64_t)st.st_size, &plain_ops, p);
        input_set_file_id(*out, id.dev, id.ino);
        return INPUT_CLAIMED;
    }
    close(fd);
    return res;
}
