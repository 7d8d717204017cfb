/*
 * config.h - importer.yaml, loaded with libyaml into plain structs.
 * The keys are one declarative table in config.c (name, type, default), so
 * loading, defaults and validation come from the same rows. Errors name the
 * key and its line:column. Pure apart from reading the file.
 */
#ifndef CDR_CONFIG_H
#define CDR_CONFIG_H

#include "cdrimport.h"
#include "profile.h"

/*
 * Parallel imports, each over its own connection: the bound of both the
 * `jobs` key and the --jobs option. Generous on purpose (job_run never
 * starts more workers than files); PostgreSQL's max_connections is the
 * practical limit.
 */
#define CDR_MAX_JOBS 1024

enum cdr_on_success { CDR_ON_SUCCESS_MOVE = 0, CDR_ON_SUCCESS_DELETE, CDR_ON_SUCCESS_KEEP };
/* CDR_WATCH_FETCH is not a `backend:` value: a source with a `fetch:` block
 * gets it (watch_fetch.c polls the PBX and reports what it spooled). */
enum cdr_watch_backend { CDR_WATCH_INOTIFY = 0, CDR_WATCH_POLL, CDR_WATCH_FETCH };

struct cdr_watch_config {
    enum cdr_watch_backend backend;  /* default inotify */
    unsigned poll_interval_ms;       /* default 2000 */
    unsigned settle_ms;              /* default 1000 */
    unsigned rescan_interval_s;      /* periodic full rescan; default 300 */
};

/* auth: which HTTP authentication schemes libcurl may use. */
enum cdr_fetch_auth { CDR_FETCH_AUTH_ANY = 0, CDR_FETCH_AUTH_BASIC, CDR_FETCH_AUTH_DIGEST };

/* A source's `fetch:` block: the PBX in External Application mode, polled
 * over HTTP(S); its responses are spooled into the source's path (fetch.h).
 * Loaded by config_fetch.c. */
struct cdr_fetch {
    char *url;                /* required: http(s), may carry user:password@ */
    char *username;           /* NULL: none, or the url's */
    char *password_file;      /* absolute; NULL: none, or the url's */
    enum cdr_fetch_auth auth; /* default any */
    unsigned interval_s;      /* default 30 */
    unsigned timeout_s;       /* the whole request; default 60 */
    unsigned connect_timeout_s; /* default 10 */
    char *ca_file;            /* absolute; NULL: the system's CAs only */
    char *pinned_public_key;  /* "sha256//..." or a key file; NULL: none */
    bool insecure_tls;        /* default false */
    size_t max_response_bytes; /* default 64 MiB */
    size_t min_free_bytes;    /* default 64 MiB */
};

struct cdr_source {
    char *name;               /* required; stored in cdr.source */
    char *path;               /* required; absolute after loading */
    char **patterns;          /* file-name globs, matched case-insensitively */
    size_t npatterns;         /* default: *.csv and the packed kinds (*.zip, *.tar.gz, ...) */
    char **members;           /* inside an archive: globs for the CDR files' base names */
    size_t nmembers;          /* default: one pattern "*.csv" */
    bool recursive;           /* default true */
    enum cdr_format format;   /* default auto (detect.h) */
    struct cdr_colspec *columns; /* with format custom (required there) */
    size_t ncolumns;
    bool header;              /* with format custom: skip the first record */
    char *timezone;           /* IANA name; default: the host's zone */
    char *encoding;           /* default "utf-8" */
    enum cdr_on_success on_success; /* default move */
    char *processed_dir;      /* absolute; default <parent of path>/processed */
    char *failed_dir;         /* absolute; default <parent of path>/failed */
    double max_reject_ratio;  /* default 0.5 */
    size_t max_line_bytes;    /* default 64 KiB */
    size_t max_member_bytes;  /* an archive member expanding past this is stopped; 4 GiB */
    bool has_watch;           /* per-source watch override present */
    struct cdr_watch_config watch; /* effective watch settings */
    struct cdr_fetch *fetch;  /* NULL: a folder source */
    char **trunks;            /* channel globs that are trunks (trunks.h); */
    size_t ntrunks;           /* default: kx-hts's trunk ports and carriers, else none */
    bool trunks_configured;   /* trunks: given in the file */
};

/* database.partition: how cdr_row is laid out (partition.h). */
enum cdr_partition { CDR_PARTITION_NONE, CDR_PARTITION_MONTH };

struct cdr_config {
    char *file;               /* the file this was loaded from (absolute) */
    char *base_dir;           /* its folder: relative paths resolve here */
    char *dsn;                /* NULL: libpq takes PG* environment */
    char *schema;             /* default "public" */
    enum cdr_partition partition;   /* default none */
    unsigned retention_months;      /* 0: keep every row (the default) */
    unsigned jobs;            /* parallel imports for scan; default 1 */
    char *log_file;           /* the Windows service's log; NULL: cdrimport.log beside file */
    struct cdr_watch_config watch;
    struct cdr_source *sources;
    size_t nsources;
};

/* Which file to load: explicit -c, else $CDRIMPORT_CONFIG, else ./importer.yaml. */
const char *config_locate(const char *explicit_path);

/*
 * Load and validate. On failure returns NULL and err holds one message such
 * as "importer.yaml:7:5: sources[0].format: unknown format 'foo'".
 */
struct cdr_config *config_load(const char *path, char *err, size_t errlen);
/* Accepts NULL and half-built objects. */
void config_free(struct cdr_config *cfg);

/* The key table of the top level (keytab.h), which config_load reads and
 * importer.yaml(5) is generated from (keydoc.h). */
struct keytab_table;
extern const struct keytab_table config_table;

const struct cdr_source *config_find_source(const struct cdr_config *cfg, const char *name);

/*
 * A jobs count as the `jobs` key reads it (1 to CDR_MAX_JOBS), for --jobs:
 * false with the key's own message in err ("must be between 1 and 1024,
 * got 0" or "expected an integer, got 'x'").
 */
bool config_parse_jobs(const char *text, unsigned *jobs, char *err, size_t errlen);

/* Where IANA zone files live on a POSIX host (config_zone.c). */
#define CONFIG_ZONEINFO_DIR "/usr/share/zoneinfo/"

/* An IANA zone name: letters, digits, '/', '_', '-', '+' (no "..": it
 * cannot climb out of the zoneinfo folder). */
bool config_zone_name_ok(const char *name);
/* A well-formed name this host has a zone file for (true where the host
 * has no zone files: the server will say). */
bool config_zone_exists(const char *name);

/* The host's IANA zone: $TZ, /etc/timezone, the /etc/localtime link, else "UTC";
 * NULL on Windows unless $TZ names one (plat_host_zone_name). */
char *config_host_timezone(void);

#endif
