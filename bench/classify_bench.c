
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Classifier cost per prompt size: builds prompts from a mix of English,
 * French and code, classifies each many times, prints the median of
 * several runs in ns per prompt and ns per KB.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_llm_classify.h"


#define RUNS  7


static const char  *pieces[] = {
    "Analyze the time complexity of this function and explain why ",
    "Démontre que la suite converge, puis généralise la preuve. ",
    "```c\nint f(int *p) {\n    return p[0] + p[1];\n}\n```\n",
    "Hello JARVIS, turn on the lights and play some music please. ",
    "Compare Raft and Paxos; justify the trade-offs for 3 regions. ",
};


static double
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}


static int
cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


/* a fixed amount of work, no clock: for instruction counts (callgrind) */

static int
instructions(void)
{
    char                      *text;
    size_t                     len, n, k;
    double                     sink;
    ngx_llm_classify_conf_t    conf;
    ngx_llm_classify_result_t  res;

    ngx_llm_classify_conf_default(&conf);
    ngx_llm_classify_init();

    len = 100 * 1024;
    text = malloc(len);

    if (text == NULL) {
        return 1;
    }

    for (n = 0, k = 0; n < len; k++) {
        size_t  m = strlen(pieces[k % 5]);

        m = m < len - n ? m : len - n;
        memcpy(text + n, pieces[k % 5], m);
        n += m;
    }

    sink = 0;

    for (k = 0; k < 10; k++) {
        ngx_llm_classify_text((unsigned char *) text, len, &conf, &res);
        sink += res.score;
    }

    printf("classified %zu KB (%.3f)\n", 10 * len / 1024, sink);
    free(text);

    return 0;
}


int
main(int argc, char **argv)
{
    int                        r;
    char                      *text;
    size_t                     sizes[] = { 100, 1024, 10240, 102400,
                                           1048576 };
    size_t                     i, n, len, iters, k;
    double                     t0, runs[RUNS], ns, sink;
    ngx_llm_classify_conf_t    conf;
    ngx_llm_classify_result_t  res;

    if (argc > 1 && strcmp(argv[1], "--instructions") == 0) {
        return instructions();
    }

    ngx_llm_classify_conf_default(&conf);
    ngx_llm_classify_init();
    sink = 0;

    printf("%-10s %10s %14s %12s\n", "prompt", "bytes", "ns/prompt",
           "ns/KB");

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        len = sizes[i];
        text = malloc(len);

        if (text == NULL) {
            return 1;
        }

        for (n = 0, k = 0; n < len; k++) {
            size_t  m = strlen(pieces[k % 5]);

            m = m < len - n ? m : len - n;
            memcpy(text + n, pieces[k % 5], m);
            n += m;
        }

        iters = 20000000 / len + 3;

        for (r = 0; r < RUNS; r++) {
            t0 = now_ns();

            for (k = 0; k < iters; k++) {
                ngx_llm_classify_text((unsigned char *) text, len, &conf,
                                      &res);
                sink += res.score;
            }

            runs[r] = (now_ns() - t0) / iters;
        }

        qsort(runs, RUNS, sizeof(double), cmp);
        ns = runs[RUNS / 2];

        printf("%-10zu %10zu %14.0f %12.1f\n", len, len, ns,
               ns * 1024 / len);
        free(text);
    }

    /* a conversation of 200 messages of about 120 bytes each */
    {
        ngx_llm_classify_state_t  st;
        size_t                    total;

        total = 0;

        for (r = 0; r < RUNS; r++) {
            t0 = now_ns();

            for (k = 0; k < 2000; k++) {
                ngx_llm_classify_begin(&st);
                total = 0;

                for (n = 0; n < 200; n++) {
                    const char  *m = pieces[n % 5];

                    ngx_llm_classify_turn(&st);
                    ngx_llm_classify_feed(&st, (const unsigned char *) m,
                                          strlen(m));
                    total += strlen(m);
                }

                ngx_llm_classify_end(&st, NULL, &conf, &res);
                sink += res.score;
            }

            runs[r] = (now_ns() - t0) / 2000;
        }

        qsort(runs, RUNS, sizeof(double), cmp);
        ns = runs[RUNS / 2];

        printf("%-10s %10zu %14.0f %12.1f\n", "chat200", total, ns,
               ns * 1024 / total);
    }

    return sink < 0;
}
