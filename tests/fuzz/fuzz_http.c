/*
 * fuzz_http.c - libFuzzer target: the PBX's answer to a request for
 * records. cdrimport has no HTTP parser of its own: libcurl reads the
 * status line, headers, chunks and challenges, and transfer.c decides what
 * an answer means (a body to spool or to drop, a redirect to follow or
 * refuse, a size limit, a cut, a status class) and what the log says. So
 * the input is served, byte for byte, as the response of a server on the
 * loopback interface, to the real transfer_start/transfer_done on a curl
 * multi handle as fetch.c drives them, spooling into a private folder.
 * Checked: the request ends within its second, the spooled file has the
 * bytes the result counts and never more than max_response_bytes, no
 * message carries the password.
 *
 * Input: one control byte, then the response.
 *   byte 0: bit 0 max_response_bytes 64 (else 1 MiB); bit 1 auth basic,
 *           bit 2 auth digest (neither: any, as the default)
 */
#include "fetch.h"
#include "transfer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PASSWORD "s3cret-pw"

static int listen_fd = -1;
static unsigned short port;
static char spool_dir[128];
static CURLM *multi;

/* The response every connection gets until the next input. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const uint8_t *resp;
static size_t resp_len;

/* Read the request up to its blank line (or a short wait), so that the
 * response is not sent into a connection that then resets. */
static void read_request(int fd)
{
    char buf[4096];
    size_t have = 0;
    struct pollfd p = {fd, POLLIN, 0};
    while (have < sizeof buf && poll(&p, 1, 200) > 0) {
        ssize_t n = recv(fd, buf + have, sizeof buf - have, 0);
        if (n <= 0)
            return;
        have += (size_t)n;
        if (memmem(buf, have, "\r\n\r\n", 4))
            return;
    }
}

static void *server(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        read_request(fd);
        /* A copy: the client may be done (a limit hit) and libFuzzer on
         * to the next input while this connection is still being sent. */
        pthread_mutex_lock(&mu);
        size_t len = resp_len;
        uint8_t *r = xmalloc(len ? len : 1);
        if (len)
            memcpy(r, resp, len);
        pthread_mutex_unlock(&mu);
        for (size_t off = 0; off < len;) {
            ssize_t n = send(fd, r + off, len - off, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        free(r);
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return NULL;
}

static void remove_spool(void)
{
    char lock[sizeof spool_dir + 16];
    snprintf(lock, sizeof lock, "%s/.fetch.lock", spool_dir);
    unlink(lock);
    rmdir(spool_dir);
}

static void setup(void)
{
    fetch_init();
    multi = curl_multi_init();
    snprintf(spool_dir, sizeof spool_dir, "%s/fuzz-http.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(spool_dir))
        abort();
    atexit(remove_spool);
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(listen_fd, 16) < 0 || getsockname(listen_fd, (struct sockaddr *)&a, &alen) < 0)
        abort();
    port = ntohs(a.sin_port);
    pthread_t t;
    if (pthread_create(&t, NULL, server, NULL) != 0)
        abort();
    pthread_detach(t);
}

static void check_text(const char *what, const char *s)
{
    if (s && strstr(s, PASSWORD)) {
        fprintf(stderr, "fuzz: the password in %s: %s\n", what, s);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (listen_fd < 0)
        setup();
    if (size < 1)
        return 0;
    unsigned ctl = data[0];
    pthread_mutex_lock(&mu);
    resp = data + 1;
    resp_len = size - 1;
    pthread_mutex_unlock(&mu);

    char url[64], source[] = "pbx", user[] = "pbx", password[] = PASSWORD;
    snprintf(url, sizeof url, "http://127.0.0.1:%u/Master.csv", (unsigned)port);
    struct transfer_conf c = {
        .source = source, .url = url, .shown_url = url, .username = user,
        .password = password,
        .auth = (ctl & 2)   ? (long)CURLAUTH_BASIC
                : (ctl & 4) ? (long)CURLAUTH_DIGEST
                            : (long)(CURLAUTH_BASIC | CURLAUTH_DIGEST | CURLAUTH_NTLM),
        .timeout_s = 5, .connect_timeout_s = 2,
        .max_bytes = (ctl & 1) ? 64 : 1024 * 1024, .min_free = 0, .spool_dir = spool_dir,
    };
    char err[CDR_ERRLEN] = "";
    bool busy = false;
    struct transfer *t = transfer_start(multi, &c, &busy, err, sizeof err);
    if (!t) {
        fprintf(stderr, "fuzz: transfer_start: %s\n", err);
        abort();
    }
    struct transfer_result r;
    bool over = false;
    while (!over) {
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while (!over && (m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE || !transfer_owns(t, m->easy_handle))
                continue;
            over = transfer_done(t, m->data.result, &r);
        }
        if (!over)
            curl_multi_poll(multi, NULL, 0, 50, NULL);
    }
    transfer_free(t);

    pthread_mutex_lock(&mu);
    resp = NULL;
    resp_len = 0;
    pthread_mutex_unlock(&mu);
    check_text("what", r.what);
    if (r.bytes > c.max_bytes || r.bytes > r.received)
        abort();
    if (r.file) {
        struct stat st;
        if (stat(r.file, &st) < 0 || (uint64_t)st.st_size != r.bytes) {
            fprintf(stderr, "fuzz: %s holds %lld bytes, the result says %llu\n", r.file,
                    (long long)st.st_size, (unsigned long long)r.bytes);
            abort();
        }
        unlink(r.file);
    }
    transfer_result_free(&r);
    return 0;
}
