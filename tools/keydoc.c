/*
 * keydoc.c - build-time tool: importer.yaml(5)'s scdoc source from its
 * template and the loader's own key tables (keydoc.h), linked against
 * libcdr.a so the tables are the very ones `cdrimport` reads.
 *   keydoc TEMPLATE WORDS   the template with its line "@KEYS@" replaced
 *                           by the generated key list, on stdout
 * A key without words (one just added to a table) is still listed, with
 * its type and default, and warned about on stderr; words that describe no
 * key are an error. The unit test test_keydoc fails on either, so the
 * manual cannot fall behind the tables for long.
 */
#include "config.h"
#include "keydoc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fputs("usage: keydoc TEMPLATE WORDS\n", stderr);
        return 2;
    }
    char err[CDR_ERRLEN];
    size_t tlen, wlen;
    char *tmpl = keytab_read_file(argv[1], &tlen, err, sizeof err);
    char *words = tmpl ? keytab_read_file(argv[2], &wlen, err, sizeof err) : NULL;
    if (!words) {
        fprintf(stderr, "keydoc: %s\n", err);
        return 1;
    }
    struct keydoc_words *ws = keydoc_words_parse(words, wlen);
    if (keydoc_check(&config_table, ws, stderr) > 0)
        fprintf(stderr, "keydoc: warning: %s is not in step with the key tables\n", argv[2]);
    const char *end = tmpl + tlen;
    for (const char *l = tmpl; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        size_t k = nl ? (size_t)(nl - l) : (size_t)(end - l);
        if (k == 6 && !memcmp(l, "@KEYS@", 6))
            keydoc_scdoc(&config_table, ws, stdout);
        else
            printf("%.*s\n", (int)k, l);
        l += k + (nl != NULL);
    }
    keydoc_words_free(ws);
    free(words);
    free(tmpl);
    return fflush(stdout) == 0 ? 0 : 1;
}
