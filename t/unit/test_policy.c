
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
#define BIG    0                          /* roles in the tables */
#define SMALL  1
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


/*
 * Runs a table with the tiers declared big first (index 0 big, 1 small) or
 * small first: the choice depends on ranks, not on declaration order.
 */

static ngx_llm_tier_id_t
at(const ngx_llm_tier_id_t *layout, ngx_llm_tier_id_t role)
{
    return role == NONE ? NONE : layout[role];
}


static void
run(const policy_case_t *c, size_t n, unsigned big_queue, unsigned small_queue,
    const ngx_llm_tier_id_t *layout)
{
    size_t                  i;
    ngx_llm_tier_id_t       tier, b, s;
    ngx_llm_reason_e        reason;
    ngx_llm_policy_in_t     in;
    ngx_llm_policy_conf_t   conf;

    b = layout[BIG];
    s = layout[SMALL];

    for (i = 0; i < n; i++) {
        ngx_llm_policy_conf_default(&conf);

        if (c[i].reject) {
            conf.both_full = NGX_LLM_BOTH_FULL_REJECT;
        }

        memset(&in, 0, sizeof(in));
        in.ntiers = 2;
        in.cls = c[i].cls;
        in.score = c[i].score;
        in.tiers[b].rank = 1;
        in.tiers[b].inflight = c[i].big_inflight;
        in.tiers[b].max_inflight = 4;
        in.tiers[b].queue = big_queue;
        in.tiers[b].down = c[i].big_down;
        in.tiers[b].loaded = c[i].big_loaded;
        in.tiers[b].vram = c[i].vram;
        in.tiers[s].rank = 0;
        in.tiers[s].inflight = c[i].small_inflight;
        in.tiers[s].max_inflight = 8;
        in.tiers[s].queue = small_queue;
        in.tiers[s].down = c[i].small_down;
        in.tiers[s].loaded = 1;
        in.tiers[s].vram = U;
        in.pinned = at(layout, c[i].pinned);
        in.override = at(layout, c[i].override);

        tier = ngx_llm_policy_pick(&in, &conf, &reason);

        if (tier != at(layout, c[i].tier)
            || strcmp(ngx_llm_reason_name(reason), c[i].reason) != 0)
        {
            printf("  %s (big at %d): got tier %d reason %s, want %d %s\n",
                   c[i].name, b, tier, ngx_llm_reason_name(reason),
                   at(layout, c[i].tier), c[i].reason);
        }

        CHECK(tier == at(layout, c[i].tier)
              && strcmp(ngx_llm_reason_name(reason), c[i].reason) == 0,
              c[i].name);
    }
}


int
main(void)
{
    ngx_llm_reason_e       reason;
    ngx_llm_policy_in_t    in;
    ngx_llm_policy_conf_t  conf;

    static const ngx_llm_tier_id_t  big_first[2] = { 0, 1 };
    static const ngx_llm_tier_id_t  small_first[2] = { 1, 0 };

    run(cases, sizeof(cases) / sizeof(cases[0]), 0, 0, big_first);
    run(queued, sizeof(queued) / sizeof(queued[0]), 4, 8, big_first);
    run(cases, sizeof(cases) / sizeof(cases[0]), 0, 0, small_first);
    run(queued, sizeof(queued) / sizeof(queued[0]), 4, 8, small_first);

    /* no spare share at all: medium goes to big only as a spillover */

    ngx_llm_policy_conf_default(&conf);
    CHECK(conf.simple_below == 0.3 && conf.complex_from == 0.7,
          "default thresholds");

    conf.medium_spare = 0;
    memset(&in, 0, sizeof(in));
    in.ntiers = 2;
    in.cls = M;
    in.score = 0.69;
    in.tiers[BIG].rank = 1;
    in.tiers[BIG].max_inflight = 4;
    in.tiers[BIG].loaded = 1;
    in.tiers[BIG].vram = U;
    in.tiers[SMALL].max_inflight = 8;
    in.tiers[SMALL].loaded = 1;
    in.tiers[SMALL].vram = U;
    in.pinned = NONE;
    in.override = NONE;

    CHECK(ngx_llm_policy_pick(&in, &conf, &reason) == SMALL
          && reason == NGX_LLM_REASON_QUEUE, "spare 0: medium to small");

    in.tiers[SMALL].down = 1;
    CHECK(ngx_llm_policy_pick(&in, &conf, &reason) == BIG
          && reason == NGX_LLM_REASON_SPILLOVER, "spare 0: spillover");

    /* the VRAM of the small tier's own GPU does not keep prompts off it */

    in.tiers[SMALL].down = 0;
    in.tiers[SMALL].vram = 0.99;
    in.cls = S;
    CHECK(ngx_llm_policy_pick(&in, &conf, &reason) == SMALL,
          "small's VRAM high: simple still to small");

    /* retries: the nearest rank not yet tried */

    in.ntiers = 4;
    in.tiers[0].rank = 1;
    in.tiers[1].rank = 0;
    in.tiers[2].rank = 3;
    in.tiers[3].rank = 2;

    CHECK(ngx_llm_policy_next(&in, 0, 0) == 1, "next: the lower on a tie");
    CHECK(ngx_llm_policy_next(&in, 0, 1u << 1) == 3, "next: then up");
    CHECK(ngx_llm_policy_next(&in, 2, 0) == 3, "next: the nearest");
    CHECK(ngx_llm_policy_next(&in, 2, 0xf & ~(1u << 2)) == NONE,
          "next: none left");

    in.ntiers = 2;
    CHECK(ngx_llm_policy_next(&in, 0, 0) == 1
          && ngx_llm_policy_next(&in, 1, 0) == 0, "next: the other tier");

    /* no tier at all */

    in.ntiers = 0;
    CHECK(ngx_llm_policy_pick(&in, &conf, &reason) == NONE,
          "no tier configured");

    CHECK(strcmp(ngx_llm_reason_name(NGX_LLM_REASON_NONE), "none") == 0
          && strcmp(ngx_llm_reason_name(NGX_LLM_REASON_COUNT), "none") == 0,
          "reason none and out of range");

    UNIT_DONE("policy");
}
