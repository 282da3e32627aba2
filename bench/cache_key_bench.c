
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The cache key of a request, with the CPU's SHA instructions and with
 * the portable rounds, in the same run: a 1 KB OpenAI chat (system +
 * user, the request of the cache-hit row in bench/results/INSTRUCTIONS.md)
 * and a 10 KB one, parsed once, keyed many times.  Prints ns per key each
 * way (CPU time of the thread, the least of 9 interleaved rounds, each the
 * median of 7 runs) and their ratio.  Callgrind's virtual CPU has no SHA
 * instructions, so the instruction counts show the portable rounds only.
 *
 *   make bench-cache-key
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_llm_request.h"
#include "ngx_llm_cache_key.h"

#include "bench_time.h"


#define ROUNDS  9
#define RUNS    7
#define KEYS    2000


/* ns per key: the median of RUNS runs of KEYS keys */

static double
per_key(ngx_llm_request_t *req, int hw)
{
    int     r, i;
    char    hex[NGX_LLM_KEY_HEX];
    double  t, runs[RUNS];

    ngx_llm_sha256_hw = hw;

    for (r = 0; r < RUNS; r++) {
        t = bench_now_ns();

        for (i = 0; i < KEYS; i++) {
            if (ngx_llm_cache_key(req, "auto", (const unsigned char *) "t",
                                  1, hex) != 0)
            {
                fprintf(stderr, "cache key: out of memory\n");
                exit(1);
            }
        }

        runs[r] = (bench_now_ns() - t) / KEYS;
    }

    qsort(runs, RUNS, sizeof(double), bench_cmp_double);

    return runs[RUNS / 2];
}


static void
bench(const char *name, size_t user_len)
{
    int                r, hw;
    char              *body, *p;
    size_t             i;
    double             best[2], t;
    ngx_llm_request_t  req;

    body = malloc(user_len + 256);
    if (body == NULL) {
        exit(1);
    }

    p = body + sprintf(body, "{\"model\":\"auto\",\"messages\":["
                       "{\"role\":\"system\",\"content\":\"You are a helpful"
                       " assistant.\"},{\"role\":\"user\",\"content\":\"");

    for (i = 0; i < user_len; i++) {
        *p++ = "Explain the trade-offs of consensus in three regions. "[i % 54];
    }

    p += sprintf(p, "\"}],\"stream\":false}");

    if (ngx_llm_request_parse(&req, NGX_LLM_DIALECT_OPENAI_CHAT, body,
                              p - body, NULL) != 0
        || ngx_llm_request_tree(&req) != 0)
    {
        fprintf(stderr, "%s: the request does not parse\n", name);
        exit(1);
    }

    best[0] = best[1] = 1e18;

    for (r = 0; r < ROUNDS; r++) {
        for (hw = 0; hw < 2; hw++) {
            t = per_key(&req, hw ? -1 : 0);
            best[hw] = t < best[hw] ? t : best[hw];
        }
    }

    printf("| %s | %zu | %.0f | %.0f | %.2f |\n", name, (size_t) (p - body),
           best[0], best[1], best[1] / best[0]);

    ngx_llm_request_free(&req);
    free(body);
}


int
main(void)
{
    unsigned char     d[NGX_LLM_SHA256_LEN];
    ngx_llm_sha256_t  h;

    /* the first digest asks the CPU */
    ngx_llm_sha256_hw = -1;
    ngx_llm_sha256_init(&h);
    ngx_llm_sha256_final(&h, d);

    printf("SHA-256: %s\n\n", ngx_llm_sha256_hw
           ? "this CPU has the SHA instructions"
           : "no SHA instructions here: both columns are the portable rounds");
    printf("| request | body bytes | portable ns/key | SHA instructions"
           " ns/key | ratio |\n|---|---:|---:|---:|---:|\n");

    bench("OpenAI chat, 1 KB", 900);
    bench("OpenAI chat, 10 KB", 10100);

    return 0;
}
