/*
 * transfer.h - one HTTP(S) request to a PBX in External Application mode,
 * on libcurl's multi interface: the response body streams into the spool
 * (spool.h) as it arrives, never held whole in memory. The caller (fetch.c)
 * owns the multi handle and the loop; this module sets up the easy handle
 * (url, credentials, auth schemes, TLS, timeouts), follows at most
 * TRANSFER_MAX_REDIRECTS redirects to the same host, and says how the
 * request ended (fetch_sched.h's problems). It never logs: results and
 * errors are text in the caller's buffers, with the password masked.
 */
#ifndef CDR_TRANSFER_H
#define CDR_TRANSFER_H

#include "cdrimport.h"
#include "config.h"
#include "fetch_sched.h"

#include <curl/curl.h>
#include <time.h>

#define TRANSFER_MAX_REDIRECTS 3

/* What one source's requests need, copied out of the config (a reload may
 * free it while a request is in flight). */
struct transfer_conf {
    char *source;       /* the source's name */
    char *url;          /* without user and password */
    char *shown_url;    /* for people: the user kept, the password "***" */
    char *username;     /* NULL: none */
    char *password;     /* NULL: none; wiped when freed */
    long auth;          /* CURLAUTH_* bits */
    long timeout_s, connect_timeout_s;
    char *ca_file, *pinned_public_key;
    bool insecure_tls;
    uint64_t max_bytes, min_free;
    char *spool_dir;    /* the source's path */
};

/*
 * Fill c from src (which has a fetch block): split the url's user and
 * password off, read password_file (its first line). warn gets a warning
 * for the log ("" if none): a password file readable by group or others.
 * False with err when the url cannot be parsed or the file read.
 */
bool transfer_conf_make(const struct cdr_source *src, struct transfer_conf *c, char *warn,
                        size_t warnlen, char *err, size_t errlen);
void transfer_conf_free(struct transfer_conf *c);

/* url with its password (if any) shown as "***"; NULL if it cannot be
 * parsed. For people only. */
char *transfer_mask_url(const char *url);

struct transfer_result {
    enum fetch_problem problem;
    long http_status;     /* the last answer's, 0 if none */
    uint64_t bytes;       /* body bytes kept in the spool */
    uint64_t received;    /* body bytes that arrived (more than kept on a write error) */
    char *file;           /* the spooled file (malloc'd), NULL if none */
    time_t started;       /* wall clock, for the file's name and `status` */
    char what[CDR_ERRLEN]; /* how it ended, for the log and `status` */
};

struct transfer;

/* Start a request of c on multi (c must outlive it). NULL with err when no
 * easy handle could be set up or the spool's lock could not be taken (then
 * nothing was sent); *busy then says whether that was only another process
 * polling the same source (no error). */
struct transfer *transfer_start(CURLM *multi, const struct transfer_conf *c, bool *busy,
                                char *err, size_t errlen);
/* Whether easy is this transfer's handle (curl_multi_info_read's message). */
bool transfer_owns(const struct transfer *t, const CURL *easy);
/*
 * Its handle finished with code. Returns false when a redirect was
 * followed (the transfer goes on); true when it is over: r is filled (the
 * body made durable and visible first) and the transfer may be freed.
 */
bool transfer_done(struct transfer *t, CURLcode code, struct transfer_result *r);
/* Stop it now (the daemon is stopping): what arrived is kept as for a cut
 * answer; r is filled. */
void transfer_abort(struct transfer *t, struct transfer_result *r);
/* Free (after transfer_done returned true, or transfer_abort). */
void transfer_free(struct transfer *t);
void transfer_result_free(struct transfer_result *r);

/*
 * For `check`: connect to the url's host (TCP, and the TLS handshake with
 * the same verification) without sending a request, which would clear the
 * PBX. True with "connected ..." in msg, false with why.
 */
bool transfer_check(const struct transfer_conf *c, char *msg, size_t msglen);

#endif
