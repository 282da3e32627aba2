
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The near-duplicate test's bench driver, run by bench/similar.py:
 *
 *   similar-bench pairs          reads "text1 TAB text2" lines, prints
 *                                "verdict TAB similarity" for each, the
 *                                verdict at threshold 0 ("incomparable"
 *                                when a text is refused)
 *   similar-bench time           median ns per make and per compare
 *   similar-bench instructions make|compare|none
 *                                a fixed amount of work, for callgrind:
 *                                MAKES makes or COMPARES compares after the
 *                                eight signatures are made ("none": only
 *                                those)
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_llm_similar.h"

#include "bench_time.h"


#define RUNS      7
#define MAKES     20000
#define COMPARES  200000
#define LINE_MAX_ 65536


static const char  *prompts[] = {
    "what's the weather tomorrow?",
    "Hey Jarvis, could you turn on the kitchen lights please?",
    "set a timer for twenty-five minutes",
    "Quel temps fera-t-il demain à Paris ?",
    "remind me to call mom at 6 pm",
    "n'allume pas la lumière du salon",
    "how far is it from Paris to Lyon by train",
    "play some jazz in the living room, not too loud",
};

#define NPROMPTS  (sizeof(prompts) / sizeof(prompts[0]))


static int
pairs(void)
{
    char               *line, *tab, *end;
    double              sim;
    ngx_llm_sig_t       a, b;
    ngx_llm_similar_e   r;

    line = malloc(LINE_MAX_);

    if (line == NULL) {
        return 1;
    }

    while (fgets(line, LINE_MAX_, stdin)) {
        end = line + strlen(line);

        while (end > line && (end[-1] == '\n' || end[-1] == '\r')) {
            *--end = '\0';
        }

        tab = strchr(line, '\t');

        if (tab == NULL) {
            printf("incomparable\t0\n");
            continue;
        }

        if (ngx_llm_sig_make(&a, line, tab - line) != 0
            || ngx_llm_sig_make(&b, tab + 1, end - tab - 1) != 0)
        {
            printf("incomparable\t0\n");
            continue;
        }

        r = ngx_llm_sig_compare(&a, &b, 0.0, &sim);
        printf("%s\t%.6f\n", ngx_llm_similar_reason_name(r), sim);
    }

    free(line);

    return 0;
}


static double
sink_add(double s, ngx_llm_sig_t *sig)
{
    return s + sig->ntokens;
}


static int
timing(void)
{
    int             run;
    size_t          i, j, k, n;
    double          t0, make[RUNS], compare[RUNS], sink, sim;
    ngx_llm_sig_t   sig[NPROMPTS];

    sink = 0;

    for (run = 0; run < RUNS; run++) {
        t0 = bench_now_ns();

        for (k = 0; k < MAKES / NPROMPTS; k++) {
            for (i = 0; i < NPROMPTS; i++) {
                ngx_llm_sig_make(&sig[i], prompts[i], strlen(prompts[i]));
                sink = sink_add(sink, &sig[i]);
            }
        }

        make[run] = (bench_now_ns() - t0) / (double) (k * NPROMPTS);

        t0 = bench_now_ns();
        n = 0;

        for (k = 0; n < COMPARES; k++) {
            for (i = 0; i < NPROMPTS; i++) {
                for (j = 0; j < NPROMPTS; j++) {
                    sink += ngx_llm_sig_compare(&sig[i], &sig[j], 0.5, &sim);
                    sink += sim;
                    n++;
                }
            }
        }

        compare[run] = (bench_now_ns() - t0) / (double) n;
    }

    qsort(make, RUNS, sizeof(double), bench_cmp_double);
    qsort(compare, RUNS, sizeof(double), bench_cmp_double);

    printf("make_ns\t%.1f\ncompare_ns\t%.1f\nsink\t%.0f\n",
           make[RUNS / 2], compare[RUNS / 2], sink > 0 ? 1.0 : 0.0);

    return 0;
}


static int
instructions(const char *what)
{
    size_t          i, j, n;
    double          sink, sim;
    ngx_llm_sig_t   sig[NPROMPTS];

    sink = 0;

    for (i = 0; i < NPROMPTS; i++) {
        ngx_llm_sig_make(&sig[i], prompts[i], strlen(prompts[i]));
    }

    if (strcmp(what, "make") == 0) {
        for (n = 0; n < MAKES; n++) {
            i = n % NPROMPTS;
            ngx_llm_sig_make(&sig[i], prompts[i], strlen(prompts[i]));
            sink = sink_add(sink, &sig[i]);
        }

    } else if (strcmp(what, "compare") == 0) {
        for (n = 0; n < COMPARES; n++) {
            i = n % NPROMPTS;
            j = (n / NPROMPTS) % NPROMPTS;
            sink += ngx_llm_sig_compare(&sig[i], &sig[j], 0.5, &sim);
            sink += sim;
        }
    }

    return sink < 0;
}


int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "pairs") == 0) {
        return pairs();
    }

    if (argc >= 2 && strcmp(argv[1], "time") == 0) {
        return timing();
    }

    if (argc >= 3 && strcmp(argv[1], "instructions") == 0) {
        return instructions(argv[2]);
    }

    fprintf(stderr, "usage: %s pairs | time | instructions make|compare\n",
            argv[0]);

    return 2;
}
