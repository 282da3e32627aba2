
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Table tests of the tier policy.
 */


#include "unit.h"
#include "ngx_llm_policy.h"


#define S      NGX_LLM_CLASS_SIMPLE
#define M      NGX_LLM_CLASS_MEDIUM
#define C      NGX_LLM_CLASS_COMPLEX
#define BIG    NGX_LLM_BIG
#define SMALL  NGX_LLM_SMALL
#define NONE   NGX_LLM_NO_TIER
#define U      -1.0                       /* VRAM unknown */


typedef struct {
    const char         *name;
    ngx_llm_class_e     cls;
    double              score;
    unsigned            big_inflight;
    int                 big_down;
    int                 big_loaded;
    unsigned            small_inflight;
    int                 small_down;
    double              vram;
    int                 pinned;
    int                 override;
    int                 reject;           /* both_full reject */
    int                 tier;
    const char         *reason;
} policy_case_t;


/* big: max 4, small: max 8 */
static const policy_case_t  cases[] = {

    /* name                              cls score big d l  sm d  vram  pin   ovr  rej  -> tier   reason */
    { "complex, all idle",               C, 0.85, 0, 0, 1,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "complex, VRAM unknown",           C, 0.85, 0, 0, -1, 0, 0, U,    NONE, NONE, 0, BIG,   "complexity" },
    { "complex, big has 3 of 4",         C, 0.85, 3, 0, 1,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "complex, big full",               C, 0.85, 4, 0, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "complex, big down",               C, 0.85, 0, 1, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "down" },
    { "complex, VRAM at 96 %",           C, 0.85, 0, 0, 1,  0, 0, 0.96, NONE, NONE, 0, SMALL, "vram" },
    { "complex, VRAM at 95 %",           C, 0.85, 0, 0, 1,  0, 0, 0.95, NONE, NONE, 0, SMALL, "vram" },
    { "complex, VRAM at 94.9 %",         C, 0.85, 0, 0, 1,  0, 0, 0.949,NONE, NONE, 0, BIG,   "complexity" },
    { "complex, big cold: accepted",     C, 0.85, 0, 0, 0,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "complex, both full: least loaded",C, 0.85, 4, 0, 1,  8, 0, 0.50, NONE, NONE, 0, BIG,   "queue" },
    { "complex, both full, small less",  C, 0.85, 5, 0, 1,  8, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "complex, both full: reject",      C, 0.85, 4, 0, 1,  8, 0, 0.50, NONE, NONE, 1, NONE,  "full" },
    { "complex, big down, small full",   C, 0.85, 0, 1, 1,  8, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "complex, both down",              C, 0.85, 0, 1, 1,  0, 1, 0.50, NONE, NONE, 0, NONE,  "down" },

    { "medium, big idle",                M, 0.50, 0, 0, 1,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "medium, big at 1 of 4",           M, 0.50, 1, 0, 1,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "medium 0.45, big at 1 of 4",      M, 0.45, 1, 0, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "medium 0.69, big at 1 of 4",      M, 0.69, 1, 0, 1,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "medium 0.31, big idle",           M, 0.31, 0, 0, 1,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "medium 0.69, big at half",        M, 0.69, 2, 0, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "medium, big at half",             M, 0.50, 2, 0, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "medium, big cold",                M, 0.50, 0, 0, 0,  0, 0, 0.50, NONE, NONE, 0, SMALL, "cold" },
    { "medium, big load unknown",        M, 0.50, 0, 0, -1, 0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "medium, VRAM high",               M, 0.50, 0, 0, 1,  0, 0, 0.97, NONE, NONE, 0, SMALL, "vram" },
    { "medium, big down",                M, 0.50, 0, 1, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "down" },
    { "medium, small full, big room",    M, 0.50, 3, 0, 1,  8, 0, 0.50, NONE, NONE, 0, BIG,   "spillover" },
    { "medium, small down, big busy",    M, 0.50, 2, 0, 1,  0, 1, 0.50, NONE, NONE, 0, BIG,   "spillover" },
    { "medium, both full",               M, 0.50, 4, 0, 1,  8, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },

    { "simple, all idle",                S, 0.10, 0, 0, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "complexity" },
    { "simple, small at 7 of 8",         S, 0.10, 0, 0, 1,  7, 0, 0.50, NONE, NONE, 0, SMALL, "complexity" },
    { "simple, small full, big idle",    S, 0.10, 0, 0, 1,  8, 0, 0.50, NONE, NONE, 0, BIG,   "spillover" },
    { "simple, small full, big busy",    S, 0.10, 1, 0, 1,  8, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "simple, small down",              S, 0.10, 2, 0, 1,  0, 1, 0.50, NONE, NONE, 0, BIG,   "down" },
    { "simple, small full, big full",    S, 0.10, 4, 0, 1,  8, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "simple, both full: reject",       S, 0.10, 4, 0, 1,  8, 0, 0.50, NONE, NONE, 1, NONE,  "full" },
    { "simple, VRAM high: small anyway", S, 0.10, 0, 0, 1,  0, 0, 0.99, NONE, NONE, 0, SMALL, "complexity" },

    { "pinned big, even when full",      S, 0.10, 4, 0, 1,  0, 0, 0.99, BIG,  NONE, 0, BIG,   "pinned" },
    { "pinned small",                    C, 0.85, 0, 0, 1,  0, 0, 0.50, SMALL,NONE, 0, SMALL, "pinned" },
    { "override beats pinning",          C, 0.85, 0, 0, 1,  0, 0, 0.50, BIG,  SMALL,0, SMALL, "override" },
    { "override to a down tier",         S, 0.10, 0, 1, 1,  0, 0, 0.50, NONE, BIG,  0, BIG,   "override" },
};


/* with queue allowances: big 4 + 4, small 8 + 8 */
static const policy_case_t  queued[] = {
    { "complex waits at big (5 of 4+4)", C, 0.85, 5, 0, 1,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "complex: big queue full",         C, 0.85, 8, 0, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "medium still needs spare slots",  M, 0.50, 2, 0, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "simple waits at small (12)",      S, 0.10, 0, 0, 1, 12, 0, 0.50, NONE, NONE, 0, SMALL, "complexity" },
    { "simple: small queue full",        S, 0.10, 0, 0, 1, 16, 0, 0.50, NONE, NONE, 0, BIG,   "spillover" },
};


static void
run(const policy_case_t *c, size_t n, unsigned big_queue, unsigned small_queue)
{
    int                    tier;
    size_t                 i;
    ngx_llm_reason_e       reason;
    ngx_llm_policy_in_t    in;
    ngx_llm_policy_conf_t  conf;

    for (i = 0; i < n; i++) {
        ngx_llm_policy_conf_default(&conf);

        if (c[i].reject) {
            conf.both_full = NGX_LLM_BOTH_FULL_REJECT;
        }

        in.cls = c[i].cls;
        in.score = c[i].score;
        in.tiers[BIG].inflight = c[i].big_inflight;
        in.tiers[BIG].max_inflight = 4;
        in.tiers[BIG].queue = big_queue;
        in.tiers[BIG].down = c[i].big_down;
        in.tiers[BIG].loaded = c[i].big_loaded;
        in.tiers[SMALL].inflight = c[i].small_inflight;
        in.tiers[SMALL].max_inflight = 8;
        in.tiers[SMALL].queue = small_queue;
        in.tiers[SMALL].down = c[i].small_down;
        in.tiers[SMALL].loaded = 1;
        in.vram = c[i].vram;
        in.pinned = c[i].pinned;
        in.override = c[i].override;

        tier = ngx_llm_policy_pick(&in, &conf, &reason);

        if (tier != c[i].tier
            || strcmp(ngx_llm_reason_name(reason), c[i].reason) != 0)
        {
            printf("  %s: got tier %d reason %s, want %d %s\n",
                   c[i].name, tier, ngx_llm_reason_name(reason),
                   c[i].tier, c[i].reason);
        }

        CHECK(tier == c[i].tier && strcmp(ngx_llm_reason_name(reason),
                                          c[i].reason) == 0,
              c[i].name);
    }
}


int
main(void)
{
    ngx_llm_reason_e       reason;
    ngx_llm_policy_in_t    in;
    ngx_llm_policy_conf_t  conf;

    run(cases, sizeof(cases) / sizeof(cases[0]), 0, 0);
    run(queued, sizeof(queued) / sizeof(queued[0]), 4, 8);

    /* no spare share at all: medium goes to big only as a spillover */

    ngx_llm_policy_conf_default(&conf);
    CHECK(conf.simple_below == 0.3 && conf.complex_from == 0.7,
          "default thresholds");

    conf.medium_spare = 0;
    memset(&in, 0, sizeof(in));
    in.cls = M;
    in.score = 0.69;
    in.tiers[BIG].max_inflight = 4;
    in.tiers[BIG].loaded = 1;
    in.tiers[SMALL].max_inflight = 8;
    in.tiers[SMALL].loaded = 1;
    in.vram = U;
    in.pinned = NONE;
    in.override = NONE;

    CHECK(ngx_llm_policy_pick(&in, &conf, &reason) == SMALL
          && reason == NGX_LLM_REASON_QUEUE, "spare 0: medium to small");

    in.tiers[SMALL].down = 1;
    CHECK(ngx_llm_policy_pick(&in, &conf, &reason) == BIG
          && reason == NGX_LLM_REASON_SPILLOVER, "spare 0: spillover");

    CHECK(strcmp(ngx_llm_reason_name(NGX_LLM_REASON_COUNT), "none") == 0,
          "reason out of range");

    UNIT_DONE("policy");
}
