/*
 * fuzz_csv.c - libFuzzer target: a CDR file through the path every file
 * takes (pipeline.h: parse, header, profile mapping, time and number
 * checks, UTF-8 repair or iconv, row key, binary tuple, reject line).
 *
 * Input: two control bytes, then the file.
 *   byte 0: bits 0-1 the profile (kx-hts, asterisk, asterisk-custom,
 *           custom with a header); bit 2 max_line_bytes 1024 (the least
 *           importer.yaml allows) instead of 64 KiB; bits 3-4 the encoding
 *           (utf-8, ISO-8859-1, CP1251, SHIFT_JIS); bit 5 the input was cut
 *           short (an archive damaged inside the member: parse_finish_cut)
 *   byte 1: the seed of the chunk sizes of the second pass
 * The file is parsed twice, in one piece and in small pieces: parse.h
 * promises that chunk boundaries may fall anywhere, so both passes must
 * give the same rows and rejects, in the same order, on the same lines.
 */
#include "pipeline.h"

#include <stdio.h>
#include <string.h>

static const char *const encodings[4] = {NULL, "ISO-8859-1", "CP1251", "SHIFT_JIS"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Profiles are made once per kind: profile_create opens iconv, which
     * is the cost of a whole pass on a small input. */
    static struct profile *profiles[4][4];
    if (size < 2)
        return 0;
    unsigned ctl = data[0], which = ctl & 3, enc = (ctl >> 3) & 3;
    size_t max_line = (ctl & 4) ? 1024 : CDR_DEFAULT_MAX_LINE_BYTES;
    const char *cut = (ctl & 32) ? "fuzz" : NULL;
    unsigned seed = data[1] + 1u;
    data += 2;
    size -= 2;
    if (!profiles[which][enc])
        profiles[which][enc] = fuzz_profile_make((enum fuzz_profile)which, encodings[enc]);
    struct profile *prof = profiles[which][enc];

    struct fuzz_summary whole, pieces;
    fuzz_pipeline_bytes(prof, max_line, data, size, 0, cut, &whole);
    fuzz_pipeline_bytes(prof, max_line, data, size, seed, cut, &pieces);
    if (strcmp(whole.digest, pieces.digest) != 0 || whole.lines != pieces.lines)
        fuzz_fail("in one piece: %llu rows, %llu rejects, %llu lines; in pieces (seed %u): "
                  "%llu rows, %llu rejects, %llu lines; or the same counts, other values",
                  (unsigned long long)whole.rows, (unsigned long long)whole.rejects,
                  (unsigned long long)whole.lines, seed, (unsigned long long)pieces.rows,
                  (unsigned long long)pieces.rejects, (unsigned long long)pieces.lines);
    return 0;
}
