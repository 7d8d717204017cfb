/*
 * version.c - `cdrimport --version`. Each library is asked at run time
 * where it can say (libpq, libyaml, libcurl, libarchive): a bug report
 * needs the library that was loaded, not the headers it was built against.
 * libcsv has no such call: the version of its headers is printed with the
 * file the loader actually mapped (libcsv.so.3 resolved: its suffix is
 * libtool's interface number, not the release, so it is shown as a file).
 */
#include "version.h"
#include "cdrimport.h"
#include "plat.h"

#include <archive.h>
#include <csv.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <yaml.h>

void version_print(FILE *out)
{
    int pq = PQlibVersion(); /* 150013 is 15.13; before 10, 90624 was 9.6.24 */
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
    fprintf(out, "cdrimport %s\n", CDRIMPORT_VERSION);
    if (pq >= 100000)
        fprintf(out, "libpq %d.%d\n", pq / 10000, pq % 10000);
    else
        fprintf(out, "libpq %d.%d.%d\n", pq / 10000, pq / 100 % 100, pq % 100);
    char *csv = plat_loaded_library("libcsv.so");
    fprintf(out, "libcsv %d.%d.%d (headers; loaded: %s)\n", CSV_MAJOR, CSV_MINOR, CSV_RELEASE,
            csv ? csv : "linked statically");
    free(csv);
    fprintf(out, "libyaml %s\n", yaml_get_version_string());
    fprintf(out, "libcurl %s (%s)\n", curl->version,
            curl->ssl_version ? curl->ssl_version : "no TLS");
    /* "libarchive 3.6.2": the name is part of the string. */
    fprintf(out, "%s\n", archive_version_string());
}
