/*
 * Latency at concurrency 1 for bench.py's latency scenario.
 *
 *   latency_client PATH BODY_FILE N BURST SKIP json|ndjson|sse TARGET...
 *
 * TARGET is PORT or PORT,HEADER.  POSTs BODY_FILE to 127.0.0.1:PORT PATH,
 * one request at a time, on one kept-alive connection per target
 * (TCP_NODELAY).  The targets take turns: BURST + SKIP requests to one, the
 * first SKIP not counted (they bring the proxy's code and data back into
 * the caches), then the next target, the first target of a turn rotating,
 * until each target has N counted requests.  A burst of the machine's
 * other load so falls on every target alike.  For each counted request it
 * prints the target's index and three times in nanoseconds from just
 * before send() of the request:
 *
 *   head   the first byte of the response (CLOCK_MONOTONIC after the
 *          recv() that returned it);
 *   event  the first whole event of a stream: the first "}\n" (NDJSON) or
 *          "\n\n" (SSE) after the header; for json, the whole answer;
 *   full   the whole response (Content-Length, or the chunked body's last
 *          chunk).
 *
 * Every response must be a 200; with HEADER (e.g. "X-LLM-Cache: HIT") its
 * header must contain that text (case-insensitive), else the client stops
 * with exit status 1 and the response on stderr.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF (1 << 20)

static long long
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
connect_to(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short) port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
        perror("connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* 1: the chunked body in p[0..len) is complete, 0: not yet, -1: malformed */
static int
chunked_done(const char *p, size_t len)
{
    size_t off = 0;

    for (;;) {
        char *end;
        const char *crlf = memmem(p + off, len - off, "\r\n", 2);
        unsigned long size;

        if (crlf == NULL) {
            return 0;
        }
        size = strtoul(p + off, &end, 16);
        if (end == p + off) {
            return -1;
        }
        off = (size_t) (crlf - p) + 2;
        if (size == 0) {
            /* no trailers: the empty line ends the body */
            return len - off >= 2 ? 1 : 0;
        }
        if (len - off < size + 2) {
            return 0;
        }
        off += size + 2;
    }
}

static void
fail(const char *why, const char *resp, size_t len)
{
    fprintf(stderr, "latency_client: %s\n%.*s\n", why,
            (int) (len > 600 ? 600 : len), resp);
    exit(1);
}

typedef struct {
    int port;
    int fd;
    const char *expect;
    long counted;
    long reconnects;
} target_t;

/* one request on t's connection: the three times from send(), in ns */
static void
request(target_t *t, const char *req, size_t reqlen, const char *mode,
        char *buf, long long times[3])
{
    long long t0, now, head = 0, event = 0;
    size_t have = 0, hlen = 0, clen = 0, sent = 0;
    int chunked = 0, close_after = 0, done;
    ssize_t r;

    t0 = now_ns();
    while (sent < reqlen) {
        r = send(t->fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("send");
            exit(1);
        }
        sent += (size_t) r;
    }

    for (;;) {
        r = recv(t->fd, buf + have, BUF - have - 1, 0);
        now = now_ns();
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            fail("connection closed before the end of a response", buf,
                 have);
        }
        if (head == 0) {
            head = now;
        }
        have += (size_t) r;
        buf[have] = '\0';

        if (hlen == 0) {
            char *e = memmem(buf, have, "\r\n\r\n", 4);
            char *cl;

            if (e == NULL) {
                continue;
            }
            hlen = (size_t) (e - buf) + 4;
            *e = '\0';
            if (strncmp(buf, "HTTP/1.1 200", 12) != 0) {
                fail("not a 200", buf, have);
            }
            if (t->expect && strcasestr(buf, t->expect) == NULL) {
                fail("the header lacks the expected text", buf, hlen);
            }
            chunked = strcasestr(buf, "\r\ntransfer-encoding: chunked")
                      != NULL;
            close_after = strcasestr(buf, "\r\nconnection: close") != NULL;
            cl = strcasestr(buf, "\r\ncontent-length:");
            if (cl) {
                clen = strtoul(cl + 17, NULL, 10);
            } else if (!chunked) {
                fail("neither Content-Length nor chunked", buf, hlen);
            }
            *e = '\r';
        }

        if (event == 0 && strcmp(mode, "json") != 0
            && memmem(buf + hlen, have - hlen,
                      mode[0] == 'n' ? "}\n" : "\n\n", 2) != NULL)
        {
            event = now;
        }
        done = chunked ? chunked_done(buf + hlen, have - hlen)
                       : have - hlen >= clen;
        if (done < 0) {
            fail("malformed chunked body", buf, have);
        }
        if (done) {
            break;
        }
    }
    if (event == 0) {
        if (strcmp(mode, "json") != 0) {
            fail("no event in the stream", buf, have);
        }
        event = now;
    }
    times[0] = head - t0;
    times[1] = event - t0;
    times[2] = now - t0;
    if (close_after) {
        close(t->fd);
        t->fd = connect_to(t->port);
        t->reconnects++;
    }
}

int
main(int argc, char **argv)
{
    const char *path, *mode;
    char *req, *buf, *body;
    long n, burst, skip, i, j, k, turn, left;
    long long *out, times[3];
    size_t reqlen, blen;
    target_t *ts;
    int nt;
    FILE *f;

    if (argc < 8) {
        fprintf(stderr, "usage: %s PATH BODY_FILE N BURST SKIP "
                "json|ndjson|sse PORT[,HEADER]...\n", argv[0]);
        return 2;
    }
    path = argv[1];
    n = atol(argv[3]);
    burst = atol(argv[4]);
    skip = atol(argv[5]);
    mode = argv[6];
    nt = argc - 7;
    if (n < 1 || burst < 1 || skip < 0) {
        fprintf(stderr, "latency_client: N and BURST >= 1, SKIP >= 0\n");
        return 2;
    }

    f = fopen(argv[2], "rb");
    if (f == NULL) {
        perror(argv[2]);
        return 1;
    }
    body = malloc(BUF);
    blen = fread(body, 1, BUF, f);
    fclose(f);
    req = malloc(blen + 1024);
    reqlen = (size_t) sprintf(req, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Content-Type: application/json\r\n"
                              "Content-Length: %zu\r\n\r\n", path, blen);
    memcpy(req + reqlen, body, blen);
    reqlen += blen;

    buf = malloc(BUF);
    ts = calloc((size_t) nt, sizeof(target_t));
    out = malloc(sizeof(long long) * 3 * (size_t) n * (size_t) nt);
    for (k = 0; k < nt; k++) {
        char *comma = strchr(argv[7 + k], ',');

        ts[k].port = atoi(argv[7 + k]);
        ts[k].expect = comma ? comma + 1 : NULL;
        ts[k].fd = connect_to(ts[k].port);
    }

    for (turn = 0, left = n * nt; left > 0; turn++) {
        for (j = 0; j < nt; j++) {
            target_t *t = &ts[(turn + j) % nt];
            long idx = (turn + j) % nt;

            for (i = 0; i < skip + burst && t->counted < n; i++) {
                request(t, req, reqlen, mode, buf, times);
                if (i >= skip) {
                    memcpy(&out[3 * (idx * n + t->counted)], times,
                           sizeof(times));
                    t->counted++;
                    left--;
                }
            }
        }
    }

    for (k = 0; k < nt; k++) {
        close(ts[k].fd);
        for (i = 0; i < n; i++) {
            printf("%ld %lld %lld %lld\n", k, out[3 * (k * n + i)],
                   out[3 * (k * n + i) + 1], out[3 * (k * n + i) + 2]);
        }
        if (ts[k].reconnects) {
            fprintf(stderr, "latency_client: %ld reconnects to %d\n",
                    ts[k].reconnects, ts[k].port);
        }
    }
    return 0;
}
