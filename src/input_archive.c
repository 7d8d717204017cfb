/*
 * input_archive.c - archive members as inputs (see input_archive.h), on
 * libarchive. libarchive reads the archive's bytes through the caller's
 * input (so a claimed, locked file stays the one read) and hands back each
 * member's data block by block; this module adds what an importer of
 * untrusted downloads needs on top: recognition by content, only the
 * decoders a PBX download can need (all in-process: no external program),
 * the expansion limits, damage that cuts a member instead of losing its
 * good lines, and a rewind (open again, skip to the entry) for the one
 * pass that must read a member twice.
 */
#include "input_archive.h"
#include "plat.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What libarchive is handed per read callback: small enough that the
 * compressed-bytes count of the ratio rule moves in fine steps. */
#define RAW_CHUNK (64u * 1024u)

struct input_archive {
    struct input *file;       /* the archive's bytes (not ours to close) */
    struct archive *a;
    struct archive_entry *entry;
    uint64_t max_bytes;       /* max_member_bytes */
    size_t index;             /* of the current entry; SIZE_MAX before the first */
    char *name;               /* of the current entry */
    int64_t raw0;             /* compressed bytes read when the entry began */
    int64_t at;               /* where the entry's header ended, in the expanded
                               * stream: which entry this is (member_rewind) */
    bool cheap_skip;          /* the entry's bytes can be passed without expanding them */
    char broken[CDR_ERRLEN];  /* non-empty: nothing more can be read */
    /* Names are converted by libarchive to the current locale's charset; in
     * the C locale a UTF-8 name (zip's flag 11) would not convert. Our own
     * thread reads them as UTF-8 (uselocale), leaving the process alone. */
    struct plat_locale *utf8;
    unsigned char *buf;
};

/* One member's reading state (the impl of its input). */
struct member {
    struct input_archive *ar;
    size_t index;
    int64_t at;               /* the entry's input_archive.at */
    uint64_t pos;             /* bytes expanded so far (the next offset) */
    const unsigned char *blk; /* libarchive's current block, valid until the next call */
    size_t blk_len, blk_pos;
    uint64_t zeros;           /* a sparse hole to hand out before the block */
    unsigned char head[INPUT_ARCHIVE_HEAD];
    size_t head_len, head_pos;
    bool ended;               /* no more bytes: the end, a cut, or a limit */
    bool failed;              /* a limit: read answers -1 */
    char why[CDR_ERRLEN];     /* the cut's or the limit's reason */
};

bool input_archive_sniff(const void *head, size_t len)
{
    const unsigned char *h = head;
    if (len >= 4 && h[0] == 'P' && h[1] == 'K' &&
        ((h[2] == 3 && h[3] == 4) || (h[2] == 5 && h[3] == 6) || (h[2] == 7 && h[3] == 8)))
        return true; /* zip: a member, an empty archive, a split marker */
    if (len >= 2 && h[0] == 0x1f && h[1] == 0x8b)
        return true; /* gzip */
    if (len >= 4 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h' && h[3] >= '1' && h[3] <= '9')
        return true; /* bzip2 */
    if (len >= 6 && !memcmp(h, "\xfd" "7zXZ\0", 6))
        return true; /* xz */
    return len >= 262 && !memcmp(h + 257, "ustar", 5); /* POSIX and GNU tar */
}

int input_archive_is_packed(struct input *in)
{
    if (!input_can_rewind(in) || input_rewind_costly(in))
        return 0;
    unsigned char head[INPUT_ARCHIVE_HEAD];
    size_t len = 0;
    ssize_t n = 0;
    while (len < sizeof head && (n = input_read(in, head + len, sizeof head - len)) > 0)
        len += (size_t)n;
    if (n < 0 || input_rewind(in) < 0)
        return -1;
    return input_archive_sniff(head, len) ? 1 : 0;
}

static const char *reason(struct archive *a)
{
    const char *s = archive_error_string(a);
    return s && *s ? s : "unknown libarchive error";
}

/* libarchive's read callback: the archive's bytes, through the input. */
static la_ssize_t raw_read(struct archive *a, void *ctx, const void **out)
{
    struct input_archive *ar = ctx;
    ssize_t n = input_read(ar->file, ar->buf, RAW_CHUNK);
    if (n < 0) {
        archive_set_error(a, errno, "read error: %s", strerror(errno));
        return -1;
    }
    *out = ar->buf;
    return n;
}

/* A fresh libarchive reader from the archive's first byte. */
static int reopen(struct input_archive *ar, char *why, size_t whylen)
{
    if (ar->a)
        archive_read_free(ar->a);
    ar->a = archive_read_new();
    if (!ar->a)
        cdr_fatal("libarchive: out of memory");
    ar->index = SIZE_MAX;
    ar->entry = NULL;
    ar->broken[0] = '\0';
    if (input_offset(ar->file) != 0 && input_rewind(ar->file) < 0) {
        snprintf(why, whylen, "cannot read the archive again: %s", strerror(errno));
        return -1;
    }
    /* Only what a download can be, each decoded in-process: ARCHIVE_WARN
     * from a filter means it would run an external program instead. The
     * raw format is the one file of a compressed stream; empty, an empty
     * one. The zip reader is the streaming one: no seeking, one pass. */
    if (archive_read_support_filter_gzip(ar->a) != ARCHIVE_OK ||
        archive_read_support_filter_bzip2(ar->a) != ARCHIVE_OK ||
        archive_read_support_filter_xz(ar->a) != ARCHIVE_OK ||
        archive_read_support_format_zip_streamable(ar->a) != ARCHIVE_OK ||
        archive_read_support_format_tar(ar->a) != ARCHIVE_OK ||
        archive_read_support_format_raw(ar->a) != ARCHIVE_OK ||
        archive_read_support_format_empty(ar->a) != ARCHIVE_OK) {
        snprintf(why, whylen, "libarchive cannot decode gzip, bzip2 and xz itself: %s",
                 reason(ar->a));
        return -1;
    }
    if (archive_read_open(ar->a, ar, NULL, raw_read, NULL) != ARCHIVE_OK) {
        snprintf(why, whylen, "%s", reason(ar->a));
        return -1;
    }
    return 0;
}

struct input_archive *input_archive_open(struct input *file, uint64_t max_member_bytes,
                                         char *why, size_t whylen)
{
    struct input_archive *ar = xcalloc(1, sizeof *ar);
    ar->file = file;
    ar->max_bytes = max_member_bytes;
    ar->buf = xmalloc(RAW_CHUNK);
    ar->utf8 = plat_utf8_locale_new();
    if (reopen(ar, why, whylen) < 0) {
        input_archive_close(ar);
        return NULL;
    }
    return ar;
}

void input_archive_close(struct input_archive *ar)
{
    if (!ar)
        return;
    if (ar->a)
        archive_read_free(ar->a);
    if (ar->utf8)
        plat_utf8_locale_free(ar->utf8);
    free(ar->name);
    free(ar->buf);
    free(ar);
}

const char *input_archive_broken(const struct input_archive *ar)
{
    return ar->broken[0] ? ar->broken : NULL;
}

/* Compressed bytes consumed since the entry began. */
static int64_t raw_used(const struct input_archive *ar)
{
    return (int64_t)archive_filter_bytes(ar->a, -1) - ar->raw0;
}

/* Whether expanded bytes so far pass a limit: why says which. */
static bool over_limits(const struct input_archive *ar, uint64_t out, char *why, size_t whylen)
{
    if (out > ar->max_bytes) {
        snprintf(why, whylen, "expands past max_member_bytes (%llu bytes): stopped",
                 (unsigned long long)ar->max_bytes);
        return true;
    }
    int64_t raw = raw_used(ar);
    uint64_t in = raw > 0 ? (uint64_t)raw : 0;
    if (out > INPUT_ARCHIVE_RATIO_AFTER && out > in * INPUT_ARCHIVE_MAX_RATIO) {
        snprintf(why, whylen,
                 "expands more than %u:1 (%llu bytes from %lld): a decompression bomb? stopped",
                 INPUT_ARCHIVE_MAX_RATIO, (unsigned long long)out, (long long)raw);
        return true;
    }
    return false;
}

/* The name of a compressed file's one file: the archive's own name without
 * its .gz, .bz2 or .xz (Master.csv.gz holds Master.csv). */
static char *single_name(const char *archive)
{
    const char *slash = strrchr(archive, '/');
    const char *base = slash ? slash + 1 : archive;
    static const char *const ext[] = {".gz", ".gzip", ".bz2", ".xz"};
    size_t n = strlen(base);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t k = strlen(ext[i]);
        if (n > k && !strcasecmp(base + n - k, ext[i]))
            return xstrndup(base, n - k);
    }
    return xstrdup(base);
}

/* The current entry's name, read as UTF-8 where the archive says so. */
static char *entry_name(struct input_archive *ar)
{
    void *old = plat_locale_use(ar->utf8);
    const char *n = archive_entry_pathname(ar->entry);
    if (!n)
        n = archive_entry_pathname_utf8(ar->entry);
    char *name = n && *n ? xstrdup(n) : xasprintf("(entry %zu: no readable name)", ar->index + 1);
    plat_locale_restore(ar->utf8, old);
    return name;
}

int input_archive_next(struct input_archive *ar, struct input_archive_entry *e, char *why,
                       size_t whylen)
{
    if (ar->broken[0]) {
        snprintf(why, whylen, "%s", ar->broken);
        return -1;
    }
    void *old = plat_locale_use(ar->utf8);
    int r = archive_read_next_header(ar->a, &ar->entry);
    plat_locale_restore(ar->utf8, old);
    if (r == ARCHIVE_EOF)
        return 0;
    /* ARCHIVE_WARN (a name that does not convert, say) still gives the
     * entry; anything worse leaves nothing to read. */
    if (r < ARCHIVE_WARN) {
        snprintf(ar->broken, sizeof ar->broken, "%s", reason(ar->a));
        snprintf(why, whylen, "%s", ar->broken);
        return -1;
    }
    bool single = archive_format(ar->a) == ARCHIVE_FORMAT_RAW;
    if (single && archive_filter_count(ar->a) == 1) {
        /* The raw format takes anything: without a decompressor under it,
         * these bytes are neither an archive nor compressed (a bad header
         * after the right magic number). */
        snprintf(ar->broken, sizeof ar->broken,
                 "not an archive or compressed file libarchive can read");
        snprintf(why, whylen, "%s", ar->broken);
        return -1;
    }
    ar->index++;
    free(ar->name);
    ar->name = single ? single_name(input_name(ar->file)) : entry_name(ar);
    ar->raw0 = (int64_t)archive_filter_bytes(ar->a, -1);
    ar->at = (int64_t)archive_filter_bytes(ar->a, 0);
    bool sized = archive_entry_size_is_set(ar->entry);
    /* Without a compression filter and with a declared size, libarchive
     * passes the entry by its compressed length; otherwise only by
     * expanding it. */
    ar->cheap_skip = archive_filter_count(ar->a) == 1 && sized;
    *e = (struct input_archive_entry){
        .name = ar->name,
        .index = ar->index,
        .regular = single || (archive_entry_filetype(ar->entry) == AE_IFREG &&
                              !archive_entry_hardlink(ar->entry)),
        .single = single,
        .encrypted = archive_entry_is_encrypted(ar->entry) != 0,
        .size = sized ? (int64_t)archive_entry_size(ar->entry) : -1,
    };
    return 1;
}

int input_archive_skip(struct input_archive *ar, char *why, size_t whylen)
{
    if (ar->broken[0]) {
        snprintf(why, whylen, "%s", ar->broken);
        return -1;
    }
    int r;
    if (ar->cheap_skip || archive_entry_is_encrypted(ar->entry)) {
        r = archive_read_data_skip(ar->a);
        if (r >= ARCHIVE_WARN)
            return 0;
        snprintf(ar->broken, sizeof ar->broken, "%s", reason(ar->a));
    } else {
        for (;;) {
            const void *b;
            size_t n;
            la_int64_t off;
            r = archive_read_data_block(ar->a, &b, &n, &off);
            if (r == ARCHIVE_EOF || r == ARCHIVE_WARN) /* a bad CRC of bytes not wanted */
                return 0;
            if (r != ARCHIVE_OK) {
                snprintf(ar->broken, sizeof ar->broken, "%s", reason(ar->a));
                break;
            }
            char lim[256];
            if (over_limits(ar, (uint64_t)off + n, lim, sizeof lim)) {
                snprintf(ar->broken, sizeof ar->broken, "%s (not a CDR file); the rest of the"
                         " archive is not read", lim);
                break;
            }
        }
    }
    snprintf(why, whylen, "%s", ar->broken);
    return -1;
}

/* ---- a member as an input ------------------------------------------------ */

/* The next bytes of the member into buf: >0, 0 at its end (or cut), -1 at
 * a limit. */
static ssize_t pull(struct member *m, unsigned char *buf, size_t len)
{
    struct input_archive *ar = m->ar;
    for (;;) {
        if (m->zeros) {
            size_t n = m->zeros < len ? (size_t)m->zeros : len;
            memset(buf, 0, n);
            m->zeros -= n;
            return (ssize_t)n;
        }
        if (m->blk_pos < m->blk_len) {
            size_t n = m->blk_len - m->blk_pos < len ? m->blk_len - m->blk_pos : len;
            memcpy(buf, m->blk + m->blk_pos, n);
            m->blk_pos += n;
            return (ssize_t)n;
        }
        if (m->ended) {
            if (!m->failed)
                return 0;
            errno = EFBIG;
            return -1;
        }
        const void *b;
        size_t n;
        la_int64_t off;
        int r = archive_read_data_block(ar->a, &b, &n, &off);
        if (r == ARCHIVE_EOF) {
            m->ended = true;
            continue;
        }
        if (r != ARCHIVE_OK) {
            /* Damaged here (or a bad checksum at the end): the member's
             * bytes end, and the line they cut is rejected, not lost. */
            m->ended = true;
            snprintf(m->why, sizeof m->why, "%s", reason(ar->a));
            if (r < ARCHIVE_WARN)
                snprintf(ar->broken, sizeof ar->broken, "%s", m->why);
            continue;
        }
        if (off > 0 && (uint64_t)off > m->pos)
            m->zeros = (uint64_t)off - m->pos; /* a sparse hole reads as zeros */
        m->pos += m->zeros + n;
        if (over_limits(ar, m->pos, m->why, sizeof m->why)) {
            m->ended = m->failed = true;
            m->zeros = 0;
            if (!ar->cheap_skip)
                snprintf(ar->broken, sizeof ar->broken,
                         "the rest of the archive is not read: a member's expansion was stopped"
                         " and passing it means expanding it");
            continue;
        }
        m->blk = b;
        m->blk_len = n;
        m->blk_pos = 0;
    }
}

static ssize_t member_read(void *impl, void *buf, size_t len)
{
    struct member *m = impl;
    if (m->head_pos < m->head_len) {
        size_t n = m->head_len - m->head_pos < len ? m->head_len - m->head_pos : len;
        memcpy(buf, m->head + m->head_pos, n);
        m->head_pos += n;
        return (ssize_t)n;
    }
    return pull(m, buf, len);
}

/* Back to the member's first byte: the archive from the start again, and
 * its entries passed up to this one. Costly, so used only to keep the
 * rejects of a member that failed. */
static int member_rewind(void *impl)
{
    struct member *m = impl;
    struct input_archive *ar = m->ar;
    char why[CDR_ERRLEN];
    if (reopen(ar, why, sizeof why) < 0)
        goto fail;
    struct input_archive_entry e;
    while (ar->index != m->index) {
        if (ar->index != SIZE_MAX && input_archive_skip(ar, why, sizeof why) < 0)
            goto fail;
        if (input_archive_next(ar, &e, why, sizeof why) <= 0) {
            snprintf(why, sizeof why, "the archive reads differently the second time");
            goto fail;
        }
    }
    /* The entries before were passed by skipping, not read as the first
     * time: in a crafted zip (a deflate stream that ends before its
     * declared size, another local header in the rest) the two part ways
     * and the index lands on another entry. Its header must end where the
     * member's did, or these are not its bytes. */
    if (ar->at != m->at) {
        snprintf(why, sizeof why, "the archive reads differently the second time");
        goto fail;
    }
    m->pos = m->zeros = 0;
    m->blk_len = m->blk_pos = m->head_len = m->head_pos = 0;
    m->ended = m->failed = false;
    m->why[0] = '\0';
    return 0;
fail:
    snprintf(m->why, sizeof m->why, "%s", why);
    snprintf(ar->broken, sizeof ar->broken, "%s", why);
    errno = EIO;
    return -1;
}

static void member_close(void *impl)
{
    free(impl);
}

static const char *member_why(void *impl)
{
    struct member *m = impl;
    return m->why[0] ? m->why : NULL;
}

static const struct input_ops member_ops = {.read = member_read, .rewind = member_rewind,
                                            .close = member_close, .why = member_why,
                                            .rewind_costly = true};

struct input *input_archive_member(struct input_archive *ar, bool *packed)
{
    struct member *m = xcalloc(1, sizeof *m);
    m->ar = ar;
    m->index = ar->index;
    m->at = ar->at;
    /* The first bytes are read now, to tell an archive inside the archive. */
    while (m->head_len < sizeof m->head) {
        ssize_t n = pull(m, m->head + m->head_len, sizeof m->head - m->head_len);
        if (n <= 0)
            break;
        m->head_len += (size_t)n;
    }
    *packed = input_archive_sniff(m->head, m->head_len);
    int64_t size = archive_entry_size_is_set(ar->entry) ? (int64_t)archive_entry_size(ar->entry)
                                                        : -1;
    return input_new_member(input_name(ar->file), ar->name, size, &member_ops, m);
}
