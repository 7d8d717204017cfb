/*
 * config_zone.c - time zone names for importer.yaml (config.c): what a
 * zone name may be, whether this host has it, and the host's own zone for
 * a source that names none.
 */
#include "config.h"
#include "plat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* An IANA zone name: letters, digits, '/', '_', '-', '+'. '.' is not among
 * them, so no ".." component can climb out of the zoneinfo folder. */
bool config_zone_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 255 || name[0] == '/')
        return false;
    for (const char *c = name; *c; c++) {
        bool alnum = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9');
        if (!alnum && !strchr("/_-+", *c))
            return false;
    }
    return true;
}

bool config_zone_exists(const char *name)
{
    if (!config_zone_name_ok(name))
        return false;
    const char *dir = plat_zoneinfo_dir();
    if (!dir) /* no zone files on this host: the server will say */
        return true;
    char file[256 + 256];
    snprintf(file, sizeof file, "%s%s", dir, name);
    struct stat st;
    return plat_stat(file, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * $TZ only counts when it names an installed zone (it may be a POSIX rule
 * such as "CET-1CEST"). /etc/timezone and the /etc/localtime link are taken
 * by name alone: the database has its own copy of the zone data. On
 * Windows, whose zone names are not IANA's, NULL unless $TZ names one.
 */
char *config_host_timezone(void)
{
    const char *tz = getenv("TZ");
    if (tz && *tz) {
        if (*tz == ':')
            tz++;
        if (!strncmp(tz, CONFIG_ZONEINFO_DIR, strlen(CONFIG_ZONEINFO_DIR)))
            tz += strlen(CONFIG_ZONEINFO_DIR);
        if (config_zone_exists(tz))
            return xstrdup(tz);
    }
    char *foreign = plat_host_zone_name();
    if (foreign) {
        free(foreign);
        return NULL;
    }

    FILE *f = plat_fopen("/etc/timezone", "r");
    if (f) {
        char line[256];
        bool got = fgets(line, sizeof line, f) != NULL;
        fclose(f);
        if (got) {
            line[strcspn(line, " \t\r\n")] = '\0';
            if (config_zone_name_ok(line))
                return xstrdup(line);
        }
    }

    char *link = plat_readlink("/etc/localtime");
    const char *z = link ? strstr(link, "zoneinfo/") : NULL;
    char *zone = NULL;
    if (z) {
        z += strlen("zoneinfo/");
        if (!strncmp(z, "posix/", 6))
            z += 6;
        if (config_zone_name_ok(z))
            zone = xstrdup(z);
    }
    free(link);
    return zone ? zone : xstrdup("UTC");
}

