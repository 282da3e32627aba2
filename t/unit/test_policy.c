
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

    /* name                              cls big d l  sm d  vram  pin   ovr  rej  -> tier   reason */
    { "complex, all idle",               C, 0, 0, 1,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "complex, VRAM unknown",           C, 0, 0, -1, 0, 0, U,    NONE, NONE, 0, BIG,   "complexity" },
    { "complex, big has 3 of 4",         C, 3, 0, 1,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "complex, big full",               C, 4, 0, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "complex, big down",               C, 0, 1, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "down" },
    { "complex, VRAM at 96 %",           C, 0, 0, 1,  0, 0, 0.96, NONE, NONE, 0, SMALL, "vram" },
    { "complex, VRAM at 95 %",           C, 0, 0, 1,  0, 0, 0.95, NONE, NONE, 0, SMALL, "vram" },
    { "complex, VRAM at 94.9 %",         C, 0, 0, 1,  0, 0, 0.949,NONE, NONE, 0, BIG,   "complexity" },
    { "complex, big cold: accepted",     C, 0, 0, 0,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "complex, both full: least loaded",C, 4, 0, 1,  8, 0, 0.50, NONE, NONE, 0, BIG,   "queue" },
    { "complex, both full, small less",  C, 5, 0, 1,  8, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "complex, both full: reject",      C, 4, 0, 1,  8, 0, 0.50, NONE, NONE, 1, NONE,  "full" },
    { "complex, big down, small full",   C, 0, 1, 1,  8, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "complex, both down",              C, 0, 1, 1,  0, 1, 0.50, NONE, NONE, 0, NONE,  "down" },

    { "medium, big idle",                M, 0, 0, 1,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "medium, big at 1 of 4",           M, 1, 0, 1,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "medium, big at half",             M, 2, 0, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "medium, big cold",                M, 0, 0, 0,  0, 0, 0.50, NONE, NONE, 0, SMALL, "cold" },
    { "medium, big load unknown",        M, 0, 0, -1, 0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "medium, VRAM high",               M, 0, 0, 1,  0, 0, 0.97, NONE, NONE, 0, SMALL, "vram" },
    { "medium, big down",                M, 0, 1, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "down" },
    { "medium, small full, big room",    M, 3, 0, 1,  8, 0, 0.50, NONE, NONE, 0, BIG,   "spillover" },
    { "medium, small down, big busy",    M, 2, 0, 1,  0, 1, 0.50, NONE, NONE, 0, BIG,   "spillover" },
    { "medium, both full",               M, 4, 0, 1,  8, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },

    { "simple, all idle",                S, 0, 0, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "complexity" },
    { "simple, small at 7 of 8",         S, 0, 0, 1,  7, 0, 0.50, NONE, NONE, 0, SMALL, "complexity" },
    { "simple, small full, big idle",    S, 0, 0, 1,  8, 0, 0.50, NONE, NONE, 0, BIG,   "spillover" },
    { "simple, small full, big busy",    S, 1, 0, 1,  8, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "simple, small down",              S, 2, 0, 1,  0, 1, 0.50, NONE, NONE, 0, BIG,   "down" },
    { "simple, small full, big full",    S, 4, 0, 1,  8, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "simple, both full: reject",       S, 4, 0, 1,  8, 0, 0.50, NONE, NONE, 1, NONE,  "full" },
    { "simple, VRAM high: small anyway", S, 0, 0, 1,  0, 0, 0.99, NONE, NONE, 0, SMALL, "complexity" },

    { "pinned big, even when full",      S, 4, 0, 1,  0, 0, 0.99, BIG,  NONE, 0, BIG,   "pinned" },
    { "pinned small",                    C, 0, 0, 1,  0, 0, 0.50, SMALL,NONE, 0, SMALL, "pinned" },
    { "override beats pinning",          C, 0, 0, 1,  0, 0, 0.50, BIG,  SMALL,0, SMALL, "override" },
    { "override to a down tier",         S, 0, 1, 1,  0, 0, 0.50, NONE, BIG,  0, BIG,   "override" },
};


/* with queue allowances: big 4 + 4, small 8 + 8 */
static const policy_case_t  queued[] = {
    { "complex waits at big (5 of 4+4)", C, 5, 0, 1,  0, 0, 0.50, NONE, NONE, 0, BIG,   "complexity" },
    { "complex: big queue full",         C, 8, 0, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "medium still needs spare slots",  M, 2, 0, 1,  0, 0, 0.50, NONE, NONE, 0, SMALL, "queue" },
    { "simple waits at small (12)",      S, 0, 0, 1, 12, 0, 0.50, NONE, NONE, 0, SMALL, "complexity" },
    { "simple: small queue full",        S, 0, 0, 1, 16, 0, 0.50, NONE, NONE, 0, BIG,   "spillover" },
};


int
main(void)
{
    int                    tier;
    size_t                 i;
    ngx_llm_reason_e       reason;
    ngx_llm_policy_in_t    in;
    ngx_llm_policy_conf_t  conf;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ngx_llm_policy_conf_default(&conf);

        if (cases[i].reject) {
            conf.both_full = NGX_LLM_BOTH_FULL_REJECT;
        }

        in.cls = cases[i].cls;
        in.tiers[BIG].inflight = cases[i].big_inflight;
        in.tiers[BIG].max_inflight = 4;
        in.tiers[BIG].queue = 0;
        in.tiers[BIG].down = cases[i].big_down;
        in.tiers[BIG].loaded = cases[i].big_loaded;
        in.tiers[SMALL].inflight = cases[i].small_inflight;
        in.tiers[SMALL].max_inflight = 8;
        in.tiers[SMALL].queue = 0;
        in.tiers[SMALL].down = cases[i].small_down;
        in.tiers[SMALL].loaded = 1;
        in.vram = cases[i].vram;
        in.pinned = cases[i].pinned;
        in.override = cases[i].override;

        tier = ngx_llm_policy_pick(&in, &conf, &reason);

        if (tier != cases[i].tier
            || strcmp(ngx_llm_reason_name(reason), cases[i].reason) != 0)
        {
            printf("  %s: got tier %d reason %s, want %d %s\n",
                   cases[i].name, tier, ngx_llm_reason_name(reason),
                   cases[i].tier, cases[i].reason);
        }

        CHECK(tier == cases[i].tier, cases[i].name);
        CHECK(strcmp(ngx_llm_reason_name(reason), cases[i].reason) == 0,
              cases[i].name);
    }

    for (i = 0; i < sizeof(queued) / sizeof(queued[0]); i++) {
        ngx_llm_policy_conf_default(&conf);

        in.cls = queued[i].cls;
        in.tiers[BIG].inflight = queued[i].big_inflight;
        in.tiers[BIG].max_inflight = 4;
        in.tiers[BIG].queue = 4;
        in.tiers[BIG].down = queued[i].big_down;
        in.tiers[BIG].loaded = queued[i].big_loaded;
        in.tiers[SMALL].inflight = queued[i].small_inflight;
        in.tiers[SMALL].max_inflight = 8;
        in.tiers[SMALL].queue = 8;
        in.tiers[SMALL].down = queued[i].small_down;
        in.tiers[SMALL].loaded = 1;
        in.vram = queued[i].vram;
        in.pinned = queued[i].pinned;
        in.override = queued[i].override;

        tier = ngx_llm_policy_pick(&in, &conf, &reason);

        if (tier != queued[i].tier
            || strcmp(ngx_llm_reason_name(reason), queued[i].reason) != 0)
        {
            printf("  %s: got tier %d reason %s, want %d %s\n",
                   queued[i].name, tier, ngx_llm_reason_name(reason),
                   queued[i].tier, queued[i].reason);
        }

        CHECK(tier == queued[i].tier && strcmp(ngx_llm_reason_name(reason),
                                               queued[i].reason) == 0,
              queued[i].name);
    }

    CHECK(strcmp(ngx_llm_reason_name(NGX_LLM_REASON_COUNT), "none") == 0,
          "reason out of range");

    UNIT_DONE("policy");
}
