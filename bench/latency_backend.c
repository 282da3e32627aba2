/*
 * A fast, steady mock LLM backend for bench.py's latency scenario.
 *
 *   latency_backend PORT DELAY_US
 *
 * Listens on 127.0.0.1:PORT, one thread per connection (blocking I/O,
 * TCP_NODELAY, keep-alive).  A request whose body has "stream": true gets a
 * chunked stream: NDJSON (application/x-ndjson, Ollama /api/chat) for paths
 * under /api/, else SSE (text/event-stream, OpenAI /v1/chat/completions).
 * The status line, the headers and the first event leave in one write; the
 * remaining events and the last chunk follow DELAY_US microseconds later in
 * a second write, so a proxy that holds the first event back until more
 * arrives shows it in the time to the first event.  Any other request gets
 * a non-streamed OpenAI chat answer with a Content-Length.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536

static long delay_us;

static const char answer[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1,"
    "\"model\":\"llama3.2:3b\",\"system_fingerprint\":\"fp_ollama\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"Paris is the capital of France. It is also its largest "
    "city, on the Seine.\"},\"finish_reason\":\"stop\"}],\"usage\":"
    "{\"prompt_tokens\":14,\"completion_tokens\":18,\"total_tokens\":32}}";

static const char *words[] = {"Paris", " is", " the", " capital", " of",
                              " France", "."};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static size_t
chunk(char *out, const char *data, size_t len)
{
    size_t n = (size_t) sprintf(out, "%zx\r\n", len);

    memcpy(out + n, data, len);
    memcpy(out + n + len, "\r\n", 2);
    return n + len + 2;
}

static size_t
ndjson_event(char *out, size_t i)
{
    char ev[512];
    int n;

    if (i < NWORDS) {
        n = snprintf(ev, sizeof(ev), "{\"model\":\"llama3.2:3b\",\"created_at\":"
                     "\"2026-07-01T00:00:00.000000Z\",\"message\":{\"role\":"
                     "\"assistant\",\"content\":\"%s\"},\"done\":false}\n",
                     words[i]);
    } else {
        n = snprintf(ev, sizeof(ev), "{\"model\":\"llama3.2:3b\",\"created_at\":"
                     "\"2026-07-01T00:00:00.000000Z\",\"message\":{\"role\":"
                     "\"assistant\",\"content\":\"\"},\"done\":true,"
                     "\"done_reason\":\"stop\",\"total_duration\":120000000,"
                     "\"load_duration\":1000000,\"prompt_eval_count\":14,"
                     "\"prompt_eval_duration\":20000000,\"eval_count\":%zu,"
                     "\"eval_duration\":99000000}\n", NWORDS);
    }
    return chunk(out, ev, (size_t) n);
}

static size_t
sse_event(char *out, size_t i)
{
    char ev[512];
    int n;

    if (i == 0) {
        n = snprintf(ev, sizeof(ev), "data: {\"id\":\"chatcmpl-bench\",\"object\":"
                     "\"chat.completion.chunk\",\"created\":1,\"model\":"
                     "\"llama3.2:3b\",\"system_fingerprint\":\"fp_ollama\","
                     "\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                     "\"assistant\",\"content\":\"%s\"},\"finish_reason\":"
                     "null}]}\n\n", words[0]);
    } else if (i < NWORDS) {
        n = snprintf(ev, sizeof(ev), "data: {\"id\":\"chatcmpl-bench\",\"object\":"
                     "\"chat.completion.chunk\",\"created\":1,\"model\":"
                     "\"llama3.2:3b\",\"system_fingerprint\":\"fp_ollama\","
                     "\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                     "\"%s\"},\"finish_reason\":null}]}\n\n", words[i]);
    } else if (i == NWORDS) {
        n = snprintf(ev, sizeof(ev), "data: {\"id\":\"chatcmpl-bench\",\"object\":"
                     "\"chat.completion.chunk\",\"created\":1,\"model\":"
                     "\"llama3.2:3b\",\"system_fingerprint\":\"fp_ollama\","
                     "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
                     "\"stop\"}],\"usage\":{\"prompt_tokens\":14,"
                     "\"completion_tokens\":%zu,\"total_tokens\":%zu}}\n\n",
                     NWORDS, NWORDS + 14);
    } else {
        n = snprintf(ev, sizeof(ev), "data: [DONE]\n\n");
    }
    return chunk(out, ev, (size_t) n);
}

static int
send_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

static int
streamed(const char *body, size_t len)
{
    const char *end = body + len, *p = body;

    while ((p = memmem(p, (size_t) (end - p), "\"stream\"", 8)) != NULL) {
        p += 8;
        while (p < end && (*p == ' ' || *p == ':' || *p == '\t')) {
            p++;
        }
        if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            return 1;
        }
    }
    return 0;
}

static void *
serve(void *arg)
{
    int fd = (int) (long) arg, one = 1;
    char *in = malloc(BUF), *out = malloc(BUF);
    size_t have = 0;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    for (;;) {
        char *hend, *cl;
        size_t hlen, blen = 0, need, n;
        ssize_t r;
        int close_after, ndjson;

        while ((hend = memmem(in, have, "\r\n\r\n", 4)) == NULL) {
            if (have == BUF) {
                goto done;
            }
            r = recv(fd, in + have, BUF - have, 0);
            if (r <= 0) {
                goto done;
            }
            have += (size_t) r;
        }
        hlen = (size_t) (hend - in) + 4;
        in[hlen - 2] = '\0';
        cl = strcasestr(in, "\r\ncontent-length:");
        if (cl) {
            blen = strtoul(cl + 17, NULL, 10);
        }
        close_after = strcasestr(in, "\r\nconnection: close") != NULL;
        ndjson = strncmp(in, "POST /api/", 10) == 0
                 || strncmp(in, "GET /api/", 9) == 0;
        need = hlen + blen;
        if (need > BUF) {
            goto done;
        }
        while (have < need) {
            r = recv(fd, in + have, BUF - have, 0);
            if (r <= 0) {
                goto done;
            }
            have += (size_t) r;
        }

        if (streamed(in + hlen, blen)) {
            size_t i, events = ndjson ? NWORDS + 1 : NWORDS + 2;

            n = (size_t) sprintf(out, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                                 "Transfer-Encoding: chunked\r\n%s\r\n",
                                 ndjson ? "application/x-ndjson"
                                        : "text/event-stream",
                                 close_after ? "Connection: close\r\n" : "");
            n += ndjson ? ndjson_event(out + n, 0) : sse_event(out + n, 0);
            if (send_all(fd, out, n) < 0) {
                goto done;
            }
            if (delay_us > 0) {
                struct timespec ts = {delay_us / 1000000,
                                      (delay_us % 1000000) * 1000};

                nanosleep(&ts, NULL);
            }
            n = 0;
            for (i = 1; i < events; i++) {
                n += ndjson ? ndjson_event(out + n, i) : sse_event(out + n, i);
            }
            memcpy(out + n, "0\r\n\r\n", 5);
            n += 5;
        } else {
            n = (size_t) sprintf(out, "HTTP/1.1 200 OK\r\nContent-Type: "
                                 "application/json\r\nContent-Length: %zu\r\n"
                                 "%s\r\n%s", sizeof(answer) - 1,
                                 close_after ? "Connection: close\r\n" : "",
                                 answer);
        }
        if (send_all(fd, out, n) < 0 || close_after) {
            goto done;
        }
        memmove(in, in + need, have - need);
        have -= need;
    }

done:
    close(fd);
    free(in);
    free(out);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct sockaddr_in sa;
    int ls, one = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT DELAY_US\n", argv[0]);
        return 2;
    }
    delay_us = atol(argv[2]);
    signal(SIGPIPE, SIG_IGN);

    ls = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short) atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *) &sa, sizeof(sa)) < 0
        || listen(ls, 512) < 0)
    {
        perror("bind/listen");
        return 1;
    }

    for (;;) {
        pthread_t t;
        int fd = accept(ls, NULL, NULL);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            perror("accept");
            return 1;
        }
        if (pthread_create(&t, NULL, serve, (void *) (long) fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}
