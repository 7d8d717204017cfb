/*
 * transfer.c - one request to a PBX on libcurl's multi interface (see
 * transfer.h). The body goes to the spool as libcurl hands it over; only
 * 2xx bodies are CDR data (a 401 challenge, an error page or a redirect's
 * body is dropped). libcurl does the HTTP; this file decides what a
 * response means for the records the PBX may already have cleared.
 */
#include "transfer.h"
#include "spool.h"
#include "plat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A password line longer than this is not a PBX password. */
#define MAX_PASSWORD 1024

struct transfer {
    CURLM *multi;
    CURL *easy;
    const struct transfer_conf *conf;
    char *host;            /* the url's host: redirects must keep it */
    unsigned redirects;
    int lock_fd;           /* the spool's .fetch.lock */
    struct spool_file spool;
    bool got_bytes;        /* any header or body byte of any answer */
    uint64_t received;     /* 2xx body bytes that arrived */
    bool spool_failed;     /* the spool file could not be made */
    bool too_big;          /* more than max_bytes */
    char spool_err[CDR_ERRLEN];
    char curl_err[CURL_ERROR_SIZE];
    time_t started;
};

/* Whatever text leaves this module passes here: should a library message
 * ever quote the password, it is masked. */
static void scrub(char *text, const char *password)
{
    size_t n = password ? strlen(password) : 0;
    if (n < 1)
        return;
    char *p;
    while ((p = strstr(text, password)) != NULL) {
        size_t tail = strlen(p + n);
        if (n >= 3) {
            memcpy(p, "***", 3);
            memmove(p + 3, p + n, tail + 1);
        } else {
            memset(p, '*', n);
        }
    }
}

/* ---- configuration ------------------------------------------------------- */

static char *url_part(CURLU *u, CURLUPart part, unsigned flags)
{
    char *v = NULL;
    if (curl_url_get(u, part, &v, flags) != CURLUE_OK)
        return NULL;
    char *copy = xstrdup(v);
    curl_free(v);
    return copy;
}

static void wipe_free(char *s)
{
    if (s) {
        plat_wipe(s, strlen(s));
        free(s);
    }
}

char *transfer_mask_url(const char *url)
{
    CURLU *u = curl_url();
    char *out = NULL, *pw = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) == CURLUE_OK) {
        curl_free(pw);
        if (curl_url_set(u, CURLUPART_PASSWORD, "***", 0) != CURLUE_OK)
            goto out;
    }
    out = url_part(u, CURLUPART_URL, 0);
out:
    curl_url_cleanup(u);
    return out;
}

/* The first line of path, and a warning when others may read it. */
static char *read_password_file(const char *path, char *warn, size_t warnlen, char *err,
                                size_t errlen)
{
    char *pw = NULL;
    int fd = plat_open(path, O_RDONLY | O_CLOEXEC, 0);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        cdr_seterr(err, errlen, "password_file %s: %s", path, strerror(errno));
        goto out;
    }
    if (plat_readable_by_others(&st))
        cdr_seterr(warn, warnlen, "password_file %s can be read by group or others (mode %04o): "
               "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
    char buf[MAX_PASSWORD + 2];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof buf - 1 && (k = read(fd, buf + n, sizeof buf - 1 - n)) != 0) {
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            cdr_seterr(err, errlen, "password_file %s: %s", path, strerror(errno));
            goto out;
        }
        n += (size_t)k;
    }
    buf[n] = '\0';
    size_t len = strcspn(buf, "\r\n");
    if (len > MAX_PASSWORD) {
        cdr_seterr(err, errlen, "password_file %s: the first line is longer than %d bytes", path,
               MAX_PASSWORD);
    } else {
        pw = xstrndup(buf, len);
    }
    plat_wipe(buf, sizeof buf);
out:
    if (fd >= 0)
        close(fd);
    return pw;
}

bool transfer_conf_make(const struct cdr_source *src, struct transfer_conf *c, char *warn,
                        size_t warnlen, char *err, size_t errlen)
{
    const struct cdr_fetch *f = src->fetch;
    *c = (struct transfer_conf){0};
    if (warn && warnlen)
        warn[0] = '\0';
    bool ok = false;
    char *url_user = NULL, *url_pw = NULL;
    CURLU *u = curl_url();
    if (!u)
        cdr_fatal("out of memory");
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, f->url, 0);
    if (uc != CURLUE_OK) {
        /* Not quoted: the url may carry a password. */
        cdr_seterr(err, errlen, "source %s: fetch.url: %s", src->name, curl_url_strerror(uc));
        goto out;
    }
    url_user = url_part(u, CURLUPART_USER, CURLU_URLDECODE);
    url_pw = url_part(u, CURLUPART_PASSWORD, CURLU_URLDECODE);
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    c->url = url_part(u, CURLUPART_URL, 0);
    if (!c->url) {
        cdr_seterr(err, errlen, "source %s: fetch.url cannot be used", src->name);
        goto out;
    }
    c->username = f->username ? xstrdup(f->username) : url_user ? xstrdup(url_user) : NULL;
    if (f->password_file) {
        c->password = read_password_file(f->password_file, warn, warnlen, err, errlen);
        if (!c->password)
            goto out;
    } else if (url_pw) {
        c->password = xstrdup(url_pw);
    }
    /* The shown url names the user, never the password. */
    if (c->username) {
        char *enc = curl_easy_escape(NULL, c->username, 0);
        curl_url_set(u, CURLUPART_USER, enc ? enc : "", 0);
        curl_free(enc);
        if (c->password)
            curl_url_set(u, CURLUPART_PASSWORD, "***", 0);
    }
    c->shown_url = url_part(u, CURLUPART_URL, 0);
    if (!c->shown_url)
        c->shown_url = xstrdup(c->url);
    c->source = xstrdup(src->name);
    c->auth = f->auth == CDR_FETCH_AUTH_BASIC    ? (long)CURLAUTH_BASIC
              : f->auth == CDR_FETCH_AUTH_DIGEST ? (long)CURLAUTH_DIGEST
              /* any: what a PBX may speak; not NTLM_WB (it runs a helper
               * program) nor Negotiate (Kerberos has no place here). */
              : (long)(CURLAUTH_BASIC | CURLAUTH_DIGEST | CURLAUTH_NTLM);
    c->timeout_s = (long)f->timeout_s;
    c->connect_timeout_s = (long)f->connect_timeout_s;
    c->ca_file = f->ca_file ? xstrdup(f->ca_file) : NULL;
    c->pinned_public_key = f->pinned_public_key ? xstrdup(f->pinned_public_key) : NULL;
    c->insecure_tls = f->insecure_tls;
    c->max_bytes = f->max_response_bytes;
    c->min_free = f->min_free_bytes;
    c->spool_dir = xstrdup(src->path);
    ok = true;
out:
    free(url_user);
    wipe_free(url_pw);
    curl_url_cleanup(u);
    if (!ok)
        transfer_conf_free(c);
    return ok;
}

void transfer_conf_free(struct transfer_conf *c)
{
    free(c->source);
    free(c->url);
    free(c->shown_url);
    free(c->username);
    wipe_free(c->password);
    free(c->ca_file);
    free(c->pinned_public_key);
    free(c->spool_dir);
    *c = (struct transfer_conf){0};
}

/* ---- the easy handle ----------------------------------------------------- */

/* The TLS and connection options a request and `check` share. */
static bool setup_common(CURL *e, const struct transfer_conf *c, const char *url, char *curl_err)
{
    bool ok = true;
    ok &= curl_easy_setopt(e, CURLOPT_URL, url) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, curl_err) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    /* A PBX is on the local network: a proxy from the environment
     * (http_proxy) would only send its records elsewhere. */
    ok &= curl_easy_setopt(e, CURLOPT_PROXY, "") == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, c->connect_timeout_s) == CURLE_OK;
    if (c->ca_file)
        ok &= curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file) == CURLE_OK;
    if (c->pinned_public_key) {
        ok &= curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, c->pinned_public_key) == CURLE_OK;
        /* A self-signed PBX is trusted by its key, checked in the handshake
         * before anything is sent; with a ca_file the chain counts too. */
        if (!c->ca_file) {
            ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L) == CURLE_OK;
            ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L) == CURLE_OK;
        }
    }
    if (c->insecure_tls) {
        ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L) == CURLE_OK;
    }
    return ok;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    struct transfer *t = ud;
    long code = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    /* A challenge that libcurl answers (auth: any first asks without
     * credentials) is not the PBX answering the request for records. */
    if (code != 401 && code != 407)
        t->got_bytes = true;
    return size * n;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct transfer *t = ud;
    size_t len = size * n;
    long code = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code != 401 && code != 407)
        t->got_bytes = true;
    if (code < 200 || code > 299)
        return len; /* an error page, a challenge, a redirect: not records */
    t->received += len;
    if (t->spool.fd < 0) {
        if (!spool_open(t->conf->spool_dir, &t->spool, t->spool_err, sizeof t->spool_err)) {
            t->spool_failed = true;
            return 0; /* libcurl stops: CURLE_WRITE_ERROR */
        }
    }
    uint64_t room = t->conf->max_bytes - t->spool.bytes;
    size_t take = len > room ? (size_t)room : len;
    if (!spool_write(&t->spool, p, take))
        return 0;
    if (take < len) {
        t->too_big = true;
        return 0;
    }
    return len;
}

static bool setup_request(struct transfer *t, const char *url)
{
    const struct transfer_conf *c = t->conf;
    CURL *e = t->easy;
    bool ok = setup_common(e, c, url, t->curl_err);
    ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT, c->timeout_s) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_USERAGENT, "cdrimport/" CDRIMPORT_VERSION) == CURLE_OK;
    /* A PBX's small HTTP server: one request per connection, as a browser
     * would not do, but as nothing can go wrong with. */
    ok &= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_HTTPAUTH, c->auth) == CURLE_OK;
    if (c->username)
        ok &= curl_easy_setopt(e, CURLOPT_USERNAME, c->username) == CURLE_OK;
    if (c->password)
        ok &= curl_easy_setopt(e, CURLOPT_PASSWORD, c->password) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, t) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_HEADERDATA, t) == CURLE_OK;
    return ok;
}

static char *host_of(const char *url)
{
    CURLU *u = curl_url();
    char *h = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK)
        h = url_part(u, CURLUPART_HOST, 0);
    curl_url_cleanup(u);
    return h;
}

struct transfer *transfer_start(CURLM *multi, const struct transfer_conf *c, bool *busy,
                                char *err, size_t errlen)
{
    *busy = false;
    struct transfer *t = xcalloc(1, sizeof *t);
    t->multi = multi;
    t->conf = c;
    t->spool.fd = -1;
    t->lock_fd = -1;
    t->started = time(NULL);
    t->host = host_of(c->url);
    t->easy = curl_easy_init();
    if (!t->easy || !t->host || !setup_request(t, c->url)) {
        cdr_seterr(err, errlen, "cannot set up a request to %s", c->shown_url);
        goto fail;
    }
    t->lock_fd = spool_lock(c->spool_dir, err, errlen);
    if (t->lock_fd < 0) {
        *busy = !err[0];
        if (*busy)
            cdr_seterr(err, errlen, "another cdrimport is polling this source right now");
        goto fail;
    }
    if (curl_multi_add_handle(multi, t->easy) != CURLM_OK) {
        cdr_seterr(err, errlen, "cannot start a request to %s", c->shown_url);
        goto fail;
    }
    return t;
fail:
    transfer_free(t);
    return NULL;
}

bool transfer_owns(const struct transfer *t, const CURL *easy)
{
    return t->easy == easy;
}

/* Make the spooled body durable and visible (or leave it for the next
 * start when that fails); fills r->file and r->bytes. */
static void keep_body(struct transfer *t, struct transfer_result *r)
{
    if (t->spool.fd < 0)
        return;
    char err[CDR_ERRLEN];
    int werr = t->spool.write_errno;
    r->bytes = t->spool.bytes;
    char *tmp = xstrdup(t->spool.tmp_path);
    if (!spool_commit(&t->spool, t->started, &r->file, err, sizeof err)) {
        r->problem = FETCH_SPOOL_ERROR;
        cdr_seterr(r->what, sizeof r->what, "%llu bytes received, %llu kept in %s, but %s",
               (unsigned long long)t->received, (unsigned long long)r->bytes,
               r->file ? r->file : tmp, err);
    } else if (werr) {
        r->problem = FETCH_SPOOL_ERROR;
        cdr_seterr(r->what, sizeof r->what, "writing the spool failed (%s): the %llu bytes "
               "written are kept in %s; %llu more bytes received and the rest of the response "
               "are lost", strerror(werr), (unsigned long long)r->bytes,
               r->file ? r->file : tmp, (unsigned long long)(t->received - r->bytes));
    }
    free(tmp);
}

/* Whether the redirect of the finished handle may be followed; rearms it. */
static bool follow_redirect(struct transfer *t, struct transfer_result *r)
{
    char *loc = NULL;
    curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &loc);
    if (!loc)
        return false;
    char *host = host_of(loc);
    bool same = host && strcasecmp(host, t->host) == 0;
    free(host);
    if (!same) {
        r->problem = FETCH_HTTP_OTHER;
        cdr_seterr(r->what, sizeof r->what, "HTTP %ld: a redirect to another host, not followed",
               r->http_status);
        return false;
    }
    if (t->redirects >= TRANSFER_MAX_REDIRECTS) {
        r->problem = FETCH_HTTP_OTHER;
        cdr_seterr(r->what, sizeof r->what, "HTTP %ld: more than %d redirects, not followed",
               r->http_status, TRANSFER_MAX_REDIRECTS);
        return false;
    }
    char *next = xstrdup(loc); /* loc belongs to the handle */
    t->redirects++;
    t->got_bytes = false; /* what counts now is the answer to the new request */
    curl_multi_remove_handle(t->multi, t->easy);
    bool ok = curl_easy_setopt(t->easy, CURLOPT_URL, next) == CURLE_OK &&
              curl_multi_add_handle(t->multi, t->easy) == CURLM_OK;
    free(next);
    if (!ok) {
        r->problem = FETCH_HTTP_OTHER;
        cdr_seterr(r->what, sizeof r->what, "HTTP %ld: the redirect could not be followed",
               r->http_status);
    }
    return ok;
}

static void classify_status(struct transfer_result *r)
{
    long s = r->http_status;
    if (s >= 200 && s <= 299) {
        r->problem = FETCH_FINE;
        if (r->bytes)
            cdr_seterr(r->what, sizeof r->what, "HTTP %ld, %llu bytes", s,
                   (unsigned long long)r->bytes);
        else
            cdr_seterr(r->what, sizeof r->what, "HTTP %ld, nothing new", s);
    } else if (s == 401 || s == 403) {
        r->problem = FETCH_REFUSED;
        cdr_seterr(r->what, sizeof r->what, "HTTP %ld", s);
    } else if (s == 404) {
        r->problem = FETCH_NOT_FOUND;
        cdr_seterr(r->what, sizeof r->what, "HTTP 404");
    } else if (s >= 500 && s <= 599) {
        r->problem = FETCH_SERVER_ERROR;
        cdr_seterr(r->what, sizeof r->what, "HTTP %ld", s);
    } else {
        r->problem = FETCH_HTTP_OTHER;
        cdr_seterr(r->what, sizeof r->what, "HTTP %ld", s);
    }
}

bool transfer_done(struct transfer *t, CURLcode code, struct transfer_result *r)
{
    *r = (struct transfer_result){.started = t->started};
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r->http_status);
    r->received = t->received;
    if (code == CURLE_OK && r->http_status >= 300 && r->http_status <= 399 &&
        follow_redirect(t, r))
        return false;
    curl_multi_remove_handle(t->multi, t->easy);
    keep_body(t, r);
    if (r->problem == FETCH_SPOOL_ERROR)
        goto out;
    if (t->spool_failed) {
        r->problem = FETCH_SPOOL_ERROR;
        cdr_seterr(r->what, sizeof r->what, "%s; the response is lost", t->spool_err);
    } else if (t->too_big) {
        r->problem = FETCH_SPOOL_ERROR;
        cdr_seterr(r->what, sizeof r->what, "the response is larger than max_response_bytes "
               "(%llu): its first %llu bytes are kept in %s, the rest is lost",
               (unsigned long long)t->conf->max_bytes, (unsigned long long)r->bytes,
               r->file ? r->file : "the spool");
    } else if (code != CURLE_OK) {
        const char *why = t->curl_err[0] ? t->curl_err : curl_easy_strerror(code);
        curl_off_t pre = 0;
        curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
        if (t->got_bytes) {
            r->problem = FETCH_CUT;
            cdr_seterr(r->what, sizeof r->what, "the answer broke off after %llu bytes (%s)%s%s",
                   (unsigned long long)r->received, why, r->file ? "; kept in " : "",
                   r->file ? r->file : "");
        } else if (pre > 0) {
            r->problem = FETCH_NO_ANSWER;
            cdr_seterr(r->what, sizeof r->what, "no answer (%s)", why);
        } else if (r->problem == FETCH_FINE) {
            r->problem = FETCH_UNREACHABLE;
            cdr_seterr(r->what, sizeof r->what, "%s", why);
        }
    } else if (r->problem == FETCH_FINE) {
        classify_status(r);
    }
out:
    scrub(r->what, t->conf->password);
    return true;
}

void transfer_abort(struct transfer *t, struct transfer_result *r)
{
    *r = (struct transfer_result){.started = t->started};
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r->http_status);
    r->received = t->received;
    curl_multi_remove_handle(t->multi, t->easy);
    keep_body(t, r);
    if (r->problem == FETCH_FINE) {
        r->problem = t->got_bytes ? FETCH_CUT : FETCH_NO_ANSWER;
        cdr_seterr(r->what, sizeof r->what, "stopped while the answer was arriving: %llu bytes%s%s",
               (unsigned long long)r->received, r->file ? " kept in " : "",
               r->file ? r->file : "");
    }
    scrub(r->what, t->conf->password);
}

void transfer_free(struct transfer *t)
{
    if (!t)
        return;
    if (t->spool.fd >= 0) {
        /* Not committed (a failure path): the temporary file stays and is
         * promoted at the next start; nothing is deleted. */
        close(t->spool.fd);
        free(t->spool.dir);
        free(t->spool.tmp_path);
    }
    if (t->easy)
        curl_easy_cleanup(t->easy);
    spool_unlock(t->lock_fd);
    free(t->host);
    free(t);
}

void transfer_result_free(struct transfer_result *r)
{
    free(r->file);
    r->file = NULL;
}

bool transfer_check(const struct transfer_conf *c, char *msg, size_t msglen)
{
    char curl_err[CURL_ERROR_SIZE] = "";
    CURL *e = curl_easy_init();
    bool ok = false;
    if (!e || !setup_common(e, c, c->url, curl_err) ||
        curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT, c->connect_timeout_s) != CURLE_OK) {
        cdr_seterr(msg, msglen, "cannot set up a connection");
        goto out;
    }
    CURLcode rc = curl_easy_perform(e);
    if (rc != CURLE_OK) {
        cdr_seterr(msg, msglen, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
        goto out;
    }
    bool tls = !strncasecmp(c->url, "https:", 6);
    cdr_seterr(msg, msglen, "connected%s (no request sent)",
           !tls ? ""
           : c->insecure_tls ? ", TLS without verification (insecure_tls)"
           : c->pinned_public_key ? ", TLS key matches pinned_public_key"
                                  : ", TLS certificate verified");
    ok = true;
out:
    scrub(msg, c->password);
    if (e)
        curl_easy_cleanup(e);
    return ok;
}
