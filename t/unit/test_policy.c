
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Table tests of the tier policy.
 */


#include <stdlib.h>

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
 * Beyond two tiers: a layout says what each tier is (rank, what it serves,
 * overflow or local), a row its live state, one string a tier:
 * "inflight/max[+queue]" then flags: d down, c cold (model unloaded),
 * v its GPU's VRAM at 97 %, $ the tenant's budget for it spent, rN N
 * slots reserved for other routers (llm_router_share).
 */

typedef struct {
    unsigned            rank;
    unsigned            serves;
    int                 overflow;
} layout_tier_t;


typedef struct {
    unsigned            ntiers;
    layout_tier_t       tiers[NGX_LLM_MAX_TIERS];
} layout_t;


#define CHAT   0                          /* needs: 0 means chat */
#define VIS    (NGX_LLM_SERVES_CHAT|NGX_LLM_SERVES_VISION)
#define TLS    (NGX_LLM_SERVES_CHAT|NGX_LLM_SERVES_TOOLS)
#define EMB    NGX_LLM_SERVES_EMBED
#define DEF    NGX_LLM_SERVES_DEFAULT

enum { L3, L4, LOV, LCAP };

static const layout_t  layouts[] = {

    /* L3, declared out of rank order: mid, big, small */
    { 3, { { 1, 0, 0 }, { 2, 0, 0 }, { 0, 0, 0 } } },

    /* L4: small, big, m1, m2 */
    { 4, { { 0, 0, 0 }, { 3, 0, 0 }, { 1, 0, 0 }, { 2, 0, 0 } } },

    /* LOV: small, big, paid (overflow, rank 3), cloud (overflow, rank 2) */
    { 4, { { 0, 0, 0 }, { 1, 0, 0 }, { 3, DEF, 1 }, { 2, DEF, 1 } } },

    /*
     * LCAP: small (chat and generate: no tools, no images), big (the
     * default set and images), embed (embeddings only), cloud (overflow:
     * the default set and images)
     */
    { 4, { { 0, NGX_LLM_SERVES_CHAT|NGX_LLM_SERVES_GENERATE, 0 },
           { 1, DEF|NGX_LLM_SERVES_VISION, 0 },
           { 2, EMB, 0 },
           { 3, DEF|NGX_LLM_SERVES_VISION, 1 } } },
};

enum { T3_MID, T3_BIG, T3_SMALL };
enum { F_SMALL, F_BIG, F_M1, F_M2 };
enum { O_SMALL, O_BIG, O_PAID, O_CLOUD };
enum { K_SMALL, K_BIG, K_EMBED, K_CLOUD };


typedef struct {
    const char         *name;
    int                 layout;
    ngx_llm_class_e     cls;
    double              score;
    unsigned            needs;
    const char         *state[4];
    int                 pinned;
    int                 override;
    int                 reject;
    int                 tier;
    const char         *reason;
} ranked_case_t;


static const ranked_case_t  ranked[] = {

    /* three local tiers: mid 6, big 4, small 8 */

    { "3: complex, all idle", L3, C, 0.85, CHAT,
      { "0/6", "0/4", "0/8" }, NONE, NONE, 0, T3_BIG, "complexity" },
    { "3: complex, big full: mid", L3, C, 0.85, CHAT,
      { "0/6", "4/4", "0/8" }, NONE, NONE, 0, T3_MID, "queue" },
    { "3: complex, big down: mid", L3, C, 0.85, CHAT,
      { "0/6", "0/4d", "0/8" }, NONE, NONE, 0, T3_MID, "down" },
    { "3: complex, big VRAM high: mid", L3, C, 0.85, CHAT,
      { "0/6", "0/4v", "0/8" }, NONE, NONE, 0, T3_MID, "vram" },
    { "3: complex, big and mid full: small", L3, C, 0.85, CHAT,
      { "6/6", "4/4", "0/8" }, NONE, NONE, 0, T3_SMALL, "queue" },
    { "3: complex, big and mid VRAM high: small", L3, C, 0.85, CHAT,
      { "0/6v", "0/4v", "0/8" }, NONE, NONE, 0, T3_SMALL, "vram" },
    { "3: complex, small's VRAM does not count", L3, C, 0.85, CHAT,
      { "6/6", "4/4", "0/8v" }, NONE, NONE, 0, T3_SMALL, "queue" },
    { "3: complex, big cold: accepted", L3, C, 0.85, CHAT,
      { "0/6", "0/4c", "0/8" }, NONE, NONE, 0, T3_BIG, "complexity" },
    { "3: complex, all full: least loaded", L3, C, 0.85, CHAT,
      { "6/6", "4/4", "8/8" }, NONE, NONE, 0, T3_BIG, "queue" },
    { "3: complex, all full: reject", L3, C, 0.85, CHAT,
      { "6/6", "4/4", "8/8" }, NONE, NONE, 1, NONE, "full" },
    { "3: complex, all down", L3, C, 0.85, CHAT,
      { "0/6d", "0/4d", "0/8d" }, NONE, NONE, 0, NONE, "down" },

    { "3: medium, big idle", L3, M, 0.50, CHAT,
      { "0/6", "0/4", "0/8" }, NONE, NONE, 0, T3_BIG, "complexity" },
    { "3: medium 0.45, big at 1 of 4: mid", L3, M, 0.45, CHAT,
      { "0/6", "1/4", "0/8" }, NONE, NONE, 0, T3_MID, "queue" },
    { "3: medium 0.69, big at 1 of 4: big", L3, M, 0.69, CHAT,
      { "0/6", "1/4", "0/8" }, NONE, NONE, 0, T3_BIG, "complexity" },
    { "3: medium, big cold: mid", L3, M, 0.50, CHAT,
      { "0/6", "0/4c", "0/8" }, NONE, NONE, 0, T3_MID, "cold" },
    { "3: medium, big and mid cold: small", L3, M, 0.50, CHAT,
      { "0/6c", "0/4c", "0/8" }, NONE, NONE, 0, T3_SMALL, "cold" },
    { "3: medium, big and mid VRAM high: small", L3, M, 0.50, CHAT,
      { "0/6v", "0/4v", "0/8" }, NONE, NONE, 0, T3_SMALL, "vram" },
    { "3: medium, big down, mid full: small", L3, M, 0.50, CHAT,
      { "6/6", "0/4d", "0/8" }, NONE, NONE, 0, T3_SMALL, "down" },
    { "3: medium, mid full, big at half: small", L3, M, 0.50, CHAT,
      { "6/6", "2/4", "0/8" }, NONE, NONE, 0, T3_SMALL, "queue" },
    { "3: medium, mid, small full: big", L3, M, 0.50, CHAT,
      { "6/6", "2/4", "8/8" }, NONE, NONE, 0, T3_BIG, "spillover" },
    { "3: medium, big full, mid cold, small full", L3, M, 0.50, CHAT,
      { "0/6c", "4/4", "8/8" }, NONE, NONE, 0, T3_MID, "spillover" },
    { "3: medium, all full: small", L3, M, 0.50, CHAT,
      { "6/6", "4/4", "8/8" }, NONE, NONE, 0, T3_SMALL, "queue" },

    /* slots reserved for other routers count as taken */

    { "3: complex, big's free slots reserved: mid", L3, C, 0.85, CHAT,
      { "0/6", "1/4r3", "0/8" }, NONE, NONE, 0, T3_MID, "queue" },
    { "3: complex, big has one slot left: big", L3, C, 0.85, CHAT,
      { "0/6", "1/4r2", "0/8" }, NONE, NONE, 0, T3_BIG, "complexity" },
    { "3: medium 0.69, big's free slots reserved: mid", L3, M, 0.69, CHAT,
      { "0/6", "1/4r3", "0/8" }, NONE, NONE, 0, T3_MID, "queue" },
    { "3: medium 0.50, big reserved for others, idle: mid", L3, M, 0.50,
      CHAT, { "0/6", "0/4r4", "0/8" }, NONE, NONE, 0, T3_MID, "queue" },
    { "3: simple, small's slots reserved, mid idle", L3, S, 0.10, CHAT,
      { "0/6", "0/4", "2/8r6" }, NONE, NONE, 0, T3_MID, "spillover" },
    { "3: complex, all full with reservations: reject", L3, C, 0.85, CHAT,
      { "0/6r6", "0/4r4", "0/8r8" }, NONE, NONE, 1, NONE, "full" },

    { "3: simple, all idle", L3, S, 0.10, CHAT,
      { "0/6", "0/4", "0/8" }, NONE, NONE, 0, T3_SMALL, "complexity" },
    { "3: simple, small down: mid, the nearest", L3, S, 0.10, CHAT,
      { "0/6", "0/4", "0/8d" }, NONE, NONE, 0, T3_MID, "down" },
    { "3: simple, small down, mid full: big", L3, S, 0.10, CHAT,
      { "6/6", "0/4", "0/8d" }, NONE, NONE, 0, T3_BIG, "down" },
    { "3: simple, small full, mid idle", L3, S, 0.10, CHAT,
      { "0/6", "0/4", "8/8" }, NONE, NONE, 0, T3_MID, "spillover" },
    { "3: simple, small full, mid busy, big idle", L3, S, 0.10, CHAT,
      { "1/6", "0/4", "8/8" }, NONE, NONE, 0, T3_BIG, "spillover" },
    { "3: simple, small full, both busy: queue", L3, S, 0.10, CHAT,
      { "1/6", "1/4", "8/8" }, NONE, NONE, 0, T3_SMALL, "queue" },
    { "3: simple, small, mid full, big busy", L3, S, 0.10, CHAT,
      { "6/6", "1/4", "8/8" }, NONE, NONE, 0, T3_SMALL, "queue" },
    { "3: simple, all full", L3, S, 0.10, CHAT,
      { "6/6", "4/4", "8/8" }, NONE, NONE, 0, T3_SMALL, "queue" },
    { "3: simple, small down, the others full", L3, S, 0.10, CHAT,
      { "6/6", "4/4", "0/8d" }, NONE, NONE, 0, T3_MID, "queue" },

    /* four local tiers: small 8, big 4, m1 8, m2 6 */

    { "4: complex, all idle", L4, C, 0.85, CHAT,
      { "0/8", "0/4", "0/8", "0/6" }, NONE, NONE, 0, F_BIG, "complexity" },
    { "4: complex, big full: m2, the nearest", L4, C, 0.85, CHAT,
      { "0/8", "4/4", "0/8", "0/6" }, NONE, NONE, 0, F_M2, "queue" },
    { "4: complex, big and m2 full: m1", L4, C, 0.85, CHAT,
      { "0/8", "4/4", "0/8", "6/6" }, NONE, NONE, 0, F_M1, "queue" },
    { "4: complex, big down, m2 VRAM high: m1", L4, C, 0.85, CHAT,
      { "0/8", "0/4d", "0/8", "0/6v" }, NONE, NONE, 0, F_M1, "down" },
    { "4: complex, big waits (5 of 4+4)", L4, C, 0.85, CHAT,
      { "0/8", "5/4+4", "0/8", "0/6" }, NONE, NONE, 0, F_BIG, "complexity" },
    { "4: medium 0.45, big busy: m2", L4, M, 0.45, CHAT,
      { "0/8", "1/4", "0/8", "0/6" }, NONE, NONE, 0, F_M2, "queue" },
    { "4: medium 0.69, big at 1 of 4: big", L4, M, 0.69, CHAT,
      { "0/8", "1/4", "0/8", "0/6" }, NONE, NONE, 0, F_BIG, "complexity" },
    { "4: medium, big busy, m2 cold: m1", L4, M, 0.45, CHAT,
      { "0/8", "1/4", "0/8", "0/6c" }, NONE, NONE, 0, F_M1, "queue" },
    { "4: simple, small full, m1 busy, m2 idle", L4, S, 0.10, CHAT,
      { "8/8", "1/4", "1/8", "0/6" }, NONE, NONE, 0, F_M2, "spillover" },
    { "4: simple, small down: m1", L4, S, 0.10, CHAT,
      { "0/8d", "0/4", "0/8", "0/6" }, NONE, NONE, 0, F_M1, "down" },
    { "4: simple, pinned big", L4, S, 0.10, CHAT,
      { "0/8", "4/4", "0/8", "0/6" }, F_BIG, NONE, 0, F_BIG, "pinned" },
    { "4: override to m1", L4, C, 0.85, CHAT,
      { "0/8", "0/4", "0/8", "0/6" }, F_BIG, F_M1, 0, F_M1, "override" },

    /* overflow: small 8, big 4 local; paid 2 (rank 3), cloud 16 (rank 2) */

    { "ov: complex, all idle: big", LOV, C, 0.85, CHAT,
      { "0/8", "0/4", "0/2", "0/16" }, NONE, NONE, 0, O_BIG, "complexity" },
    { "ov: simple, all idle: small", LOV, S, 0.10, CHAT,
      { "0/8", "0/4", "0/2", "0/16" }, NONE, NONE, 0, O_SMALL, "complexity" },
    { "ov: complex, big full, small has room", LOV, C, 0.85, CHAT,
      { "0/8", "4/4", "0/2", "0/16" }, NONE, NONE, 0, O_SMALL, "queue" },
    { "ov: simple, small full, big busy: queue", LOV, S, 0.10, CHAT,
      { "8/8", "1/4", "0/2", "0/16" }, NONE, NONE, 0, O_SMALL, "queue" },
    { "ov: big VRAM high is room, small full", LOV, C, 0.85, CHAT,
      { "8/8", "0/4v", "0/2", "0/16" }, NONE, NONE, 0, O_BIG, "queue" },
    { "ov: simple, both full: cloud", LOV, S, 0.10, CHAT,
      { "8/8", "4/4", "0/2", "0/16" }, NONE, NONE, 0, O_CLOUD, "overflow" },
    { "ov: complex, both down: cloud", LOV, C, 0.85, CHAT,
      { "0/8d", "0/4d", "0/2", "0/16" }, NONE, NONE, 0, O_CLOUD, "overflow"},
    { "ov: medium, small full, big down: cloud", LOV, M, 0.50, CHAT,
      { "8/8", "0/4d", "0/2", "0/16" }, NONE, NONE, 0, O_CLOUD, "overflow" },
    { "ov: simple, small full, big down: cloud", LOV, S, 0.10, CHAT,
      { "8/8", "0/4d", "0/2", "0/16" }, NONE, NONE, 0, O_CLOUD, "overflow" },
    { "ov: cloud full: paid", LOV, S, 0.10, CHAT,
      { "8/8", "4/4", "0/2", "16/16" }, NONE, NONE, 0, O_PAID, "overflow" },
    { "ov: cloud down: paid", LOV, S, 0.10, CHAT,
      { "8/8", "4/4", "0/2", "0/16d" }, NONE, NONE, 0, O_PAID, "overflow" },
    { "ov: all full: least loaded local", LOV, M, 0.50, CHAT,
      { "8/8", "4/4", "2/2", "16/16" }, NONE, NONE, 0, O_SMALL, "queue" },
    { "ov: all full: reject", LOV, C, 0.85, CHAT,
      { "8/8", "4/4", "2/2", "16/16" }, NONE, NONE, 1, NONE, "full" },
    { "ov: locals down, overflows full", LOV, C, 0.85, CHAT,
      { "0/8d", "0/4d", "2/2", "20/16" }, NONE, NONE, 0, O_PAID, "queue" },
    { "ov: all down", LOV, C, 0.85, CHAT,
      { "0/8d", "0/4d", "0/2d", "0/16d" }, NONE, NONE, 0, NONE, "down" },
    { "ov: pinned to the cloud", LOV, S, 0.10, CHAT,
      { "0/8", "0/4", "0/2", "0/16" }, O_CLOUD, NONE, 0, O_CLOUD, "pinned" },

    /* budgets, on the same layout */

    { "budget: simple, small spent: big", LOV, S, 0.10, CHAT,
      { "0/8$", "0/4", "0/2", "0/16" }, NONE, NONE, 0, O_BIG, "budget" },
    { "budget: complex, big spent: small", LOV, C, 0.85, CHAT,
      { "0/8", "0/4$", "0/2", "0/16" }, NONE, NONE, 0, O_SMALL, "budget" },
    { "budget: simple, small spent, big full", LOV, S, 0.10, CHAT,
      { "0/8$", "4/4", "0/2", "0/16" }, NONE, NONE, 0, O_CLOUD, "overflow" },
    { "budget: locals spent: cloud", LOV, C, 0.85, CHAT,
      { "0/8$", "0/4$", "0/2", "0/16" }, NONE, NONE, 0, O_CLOUD, "overflow" },
    { "budget: cloud spent too: paid", LOV, C, 0.85, CHAT,
      { "0/8$", "0/4$", "0/2", "0/16$" }, NONE, NONE, 0, O_PAID, "overflow" },
    { "budget: all spent: none", LOV, C, 0.85, CHAT,
      { "0/8$", "0/4$", "0/2$", "0/16$" }, NONE, NONE, 0, NONE, "budget" },
    { "budget: all spent, even down ones", LOV, S, 0.10, CHAT,
      { "0/8$", "0/4d$", "0/2$", "0/16$" }, NONE, NONE, 0, NONE, "budget" },
    { "budget: pinned to a spent tier: refused", LOV, S, 0.10, CHAT,
      { "0/8", "0/4$", "0/2", "0/16" }, O_BIG, NONE, 0, NONE, "budget" },
    { "budget: override to a spent tier", LOV, S, 0.10, CHAT,
      { "0/8", "0/4$", "0/2", "0/16" }, O_BIG, O_BIG, 0, O_BIG, "override" },
    { "budget: both full, small spent: cloud", LOV, M, 0.50, CHAT,
      { "8/8$", "4/4", "0/2", "0/16" }, NONE, NONE, 0, O_CLOUD, "overflow" },

    /* capabilities: small 8 (no tools, no images), big 4, embed 8, cloud 16 */

    { "cap: simple chat: small", LCAP, S, 0.10, CHAT,
      { "0/8", "0/4", "0/8", "0/16" }, NONE, NONE, 0, K_SMALL, "complexity" },
    { "cap: complex chat: big, not embed", LCAP, C, 0.85, CHAT,
      { "0/8", "0/4", "0/8", "0/16" }, NONE, NONE, 0, K_BIG, "complexity" },
    { "cap: complex, big full: small", LCAP, C, 0.85, CHAT,
      { "0/8", "4/4", "0/8", "0/16" }, NONE, NONE, 0, K_SMALL, "queue" },
    { "cap: simple, an image: big", LCAP, S, 0.10, VIS,
      { "0/8", "0/4", "0/8", "0/16" }, NONE, NONE, 0, K_BIG, "capability" },
    { "cap: complex, an image: big, its own", LCAP, C, 0.85, VIS,
      { "0/8", "0/4", "0/8", "0/16" }, NONE, NONE, 0, K_BIG, "complexity" },
    { "cap: simple, tools: big", LCAP, S, 0.10, TLS,
      { "0/8", "0/4", "0/8", "0/16" }, NONE, NONE, 0, K_BIG, "capability" },
    { "cap: medium, tools, small busy: big", LCAP, M, 0.35, TLS,
      { "3/8", "3/4", "0/8", "0/16" }, NONE, NONE, 0, K_BIG, "capability" },
    { "cap: embeddings: the embed tier", LCAP, S, 0.10, EMB,
      { "0/8", "0/4", "0/8", "0/16" }, NONE, NONE, 0, K_EMBED, "capability"},
    { "cap: embeddings, complex text", LCAP, C, 0.85, EMB,
      { "0/8", "0/4", "0/8", "0/16" }, NONE, NONE, 0, K_EMBED, "capability"},
    { "cap: embeddings, embed tier down", LCAP, S, 0.10, EMB,
      { "0/8", "0/4", "0/8d", "0/16" }, NONE, NONE, 0, NONE, "down" },
    { "cap: embeddings, embed tier full", LCAP, S, 0.10, EMB,
      { "0/8", "0/4", "8/8", "0/16" }, NONE, NONE, 0, K_EMBED, "queue" },
    { "cap: an image, big full: cloud", LCAP, S, 0.10, VIS,
      { "0/8", "4/4", "0/8", "0/16" }, NONE, NONE, 0, K_CLOUD, "overflow" },
    { "cap: an image, big spent: cloud", LCAP, C, 0.85, VIS,
      { "0/8", "0/4$", "0/8", "0/16" }, NONE, NONE, 0, K_CLOUD, "overflow" },
    { "cap: an image, big, cloud spent", LCAP, C, 0.85, VIS,
      { "0/8", "0/4$", "0/8", "0/16$" }, NONE, NONE, 0, NONE, "budget" },
    { "cap: an image and embeddings: none", LCAP, S, 0.10, VIS|EMB,
      { "0/8", "0/4", "0/8", "0/16" }, NONE, NONE, 0, NONE, "capability" },
    { "cap: tools and embeddings, all spent", LCAP, S, 0.10, TLS|EMB,
      { "0/8$", "0/4$", "0/8$", "0/16$" }, NONE, NONE, 0, NONE, "capability"},
    { "cap: pinned small, an image: pinned", LCAP, S, 0.10, VIS,
      { "0/8", "0/4", "0/8", "0/16" }, K_SMALL, NONE, 0, K_SMALL, "pinned" },
    { "cap: override, embeddings to small", LCAP, S, 0.10, EMB,
      { "0/8", "0/4", "0/8", "0/16" }, NONE, K_SMALL, 0, K_SMALL, "override"},
};


static void
tier_state(ngx_llm_policy_tier_t *t, const char *s)
{
    char  *p;

    t->inflight = (unsigned) strtoul(s, &p, 10);

    if (*p == '/') {
        t->max_inflight = (unsigned) strtoul(p + 1, &p, 10);
    }

    if (*p == '+') {
        t->queue = (unsigned) strtoul(p + 1, &p, 10);
    }

    t->loaded = 1;
    t->vram = U;

    for ( /* void */ ; *p; p++) {
        switch (*p) {
        case 'd':
            t->down = 1;
            break;
        case 'c':
            t->loaded = 0;
            break;
        case 'v':
            t->vram = 0.97;
            break;
        case '$':
            t->budget_spent = 1;
            break;
        case 'r':
            t->reserved = (unsigned) strtoul(p + 1, &p, 10);
            p--;
            break;
        }
    }
}


static void
ranked_in(ngx_llm_policy_in_t *in, const ranked_case_t *c)
{
    unsigned         i;
    const layout_t  *l;

    l = &layouts[c->layout];

    memset(in, 0, sizeof(*in));
    in->ntiers = l->ntiers;
    in->cls = c->cls;
    in->score = c->score;
    in->needs = c->needs;
    in->pinned = c->pinned;
    in->override = c->override;

    for (i = 0; i < l->ntiers; i++) {
        in->tiers[i].rank = l->tiers[i].rank;
        in->tiers[i].serves = l->tiers[i].serves;
        in->tiers[i].overflow = l->tiers[i].overflow;
        tier_state(&in->tiers[i], c->state[i]);
    }
}


/* the reasons pick gave, a bit each: every one it can give is tested */

static unsigned  seen;


static void
run_ranked(const ranked_case_t *c, size_t n)
{
    size_t                  i;
    ngx_llm_tier_id_t       tier;
    ngx_llm_reason_e        reason;
    ngx_llm_policy_in_t     in;
    ngx_llm_policy_conf_t   conf;

    for (i = 0; i < n; i++) {
        ngx_llm_policy_conf_default(&conf);

        if (c[i].reject) {
            conf.both_full = NGX_LLM_BOTH_FULL_REJECT;
        }

        ranked_in(&in, &c[i]);

        reason = NGX_LLM_REASON_NONE;
        tier = ngx_llm_policy_pick(&in, &conf, &reason);
        seen |= 1u << reason;

        if (tier != c[i].tier
            || strcmp(ngx_llm_reason_name(reason), c[i].reason) != 0)
        {
            printf("  %s: got tier %d reason %s, want %d %s\n",
                   c[i].name, tier, ngx_llm_reason_name(reason),
                   c[i].tier, c[i].reason);
        }

        CHECK(tier == c[i].tier
              && strcmp(ngx_llm_reason_name(reason), c[i].reason) == 0,
              c[i].name);
    }
}


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
        seen |= 1u << reason;

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
    unsigned               i, j, tried, attempts, want;
    ngx_llm_reason_e       reason;
    ngx_llm_tier_id_t      failed, next;
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

    /* beyond two tiers */

    run_ranked(ranked, sizeof(ranked) / sizeof(ranked[0]));

    /* every reason pick can give, given at least once above */

    want = 1u << NGX_LLM_REASON_COMPLEXITY | 1u << NGX_LLM_REASON_VRAM
           | 1u << NGX_LLM_REASON_QUEUE | 1u << NGX_LLM_REASON_DOWN
           | 1u << NGX_LLM_REASON_PINNED | 1u << NGX_LLM_REASON_OVERRIDE
           | 1u << NGX_LLM_REASON_SPILLOVER | 1u << NGX_LLM_REASON_COLD
           | 1u << NGX_LLM_REASON_FULL | 1u << NGX_LLM_REASON_OVERFLOW
           | 1u << NGX_LLM_REASON_CAPABILITY | 1u << NGX_LLM_REASON_BUDGET;

    if ((seen & want) != want) {
        printf("  reasons never given: 0x%x\n", want & ~seen);
    }

    CHECK((seen & want) == want, "every reason pick gives, tested");

    /* those it does not give: the caller's own */

    CHECK((seen & ~want) == 0, "pick gives no caller's reason");

    /* next across small, big, embed and a cloud overflow tier */

    memset(&in, 0, sizeof(in));
    in.ntiers = 4;
    in.pinned = NONE;
    in.override = NONE;
    in.tiers[K_SMALL].rank = 0;
    in.tiers[K_BIG].rank = 1;
    in.tiers[K_BIG].serves = DEF | NGX_LLM_SERVES_VISION;
    in.tiers[K_EMBED].rank = 2;
    in.tiers[K_EMBED].serves = EMB;
    in.tiers[K_CLOUD].rank = 3;
    in.tiers[K_CLOUD].serves = DEF | NGX_LLM_SERVES_VISION;
    in.tiers[K_CLOUD].overflow = 1;

    CHECK(ngx_llm_policy_next(&in, K_SMALL, 0) == K_BIG,
          "next 4: small failed: big");
    CHECK(ngx_llm_policy_next(&in, K_BIG, 0) == K_SMALL,
          "next 4: big failed: small, not the cloud");
    CHECK(ngx_llm_policy_next(&in, K_SMALL, 1u << K_BIG) == K_CLOUD,
          "next 4: then the cloud, not the embed tier");
    CHECK(ngx_llm_policy_next(&in, K_CLOUD, 1u << K_SMALL) == K_BIG,
          "next 4: the cloud failed: big");
    CHECK(ngx_llm_policy_next(&in, K_SMALL,
                              1u << K_BIG | 1u << K_CLOUD) == NONE,
          "next 4: none left for chat");
    CHECK(ngx_llm_policy_next(&in, NONE, 0) == K_SMALL,
          "next 4: nothing failed: from the lowest rank");

    /* the tries end: each tier at most once, the failed one never again */

    failed = K_SMALL;
    tried = 1u << K_SMALL;

    for (attempts = 0; attempts < 8; attempts++) {
        next = ngx_llm_policy_next(&in, failed, tried);

        if (next == NONE) {
            break;
        }

        CHECK(!(tried & (1u << next)), "next 4: never a tier tried");

        tried |= 1u << next;
        failed = next;
    }

    CHECK(attempts == 2 && tried == (1u << K_SMALL | 1u << K_BIG
                                     | 1u << K_CLOUD),
          "next 4: small, big, cloud, then none");

    in.tiers[K_BIG].down = 1;
    CHECK(ngx_llm_policy_next(&in, K_SMALL, 0) == K_CLOUD,
          "next 4: big down: the cloud");

    in.tiers[K_CLOUD].budget_spent = 1;
    CHECK(ngx_llm_policy_next(&in, K_SMALL, 0) == NONE,
          "next 4: big down, cloud spent: none");

    in.tiers[K_BIG].down = 0;
    in.tiers[K_CLOUD].budget_spent = 0;
    in.needs = VIS;
    CHECK(ngx_llm_policy_next(&in, K_BIG, 0) == K_CLOUD,
          "next 4: an image: big failed, small cannot: the cloud");
    CHECK(ngx_llm_policy_next(&in, K_BIG, 1u << K_CLOUD) == NONE,
          "next 4: an image, the cloud tried: none");

    in.needs = EMB;
    CHECK(ngx_llm_policy_next(&in, K_EMBED, 0) == NONE,
          "next 4: embeddings: no other embed tier");

    in.needs = EMB;
    in.tiers[K_CLOUD].serves = DEF | EMB;
    CHECK(ngx_llm_policy_next(&in, K_EMBED, 0) == K_CLOUD,
          "next 4: embeddings: a cloud that embeds");

    /* reason names: distinct, the old ones as they were */

    for (i = 0; i < NGX_LLM_REASON_COUNT; i++) {
        for (j = i + 1; j < NGX_LLM_REASON_COUNT; j++) {
            CHECK(strcmp(ngx_llm_reason_name((ngx_llm_reason_e) i),
                         ngx_llm_reason_name((ngx_llm_reason_e) j)) != 0,
                  "reason names distinct");
        }
    }

    CHECK(strcmp(ngx_llm_reason_name(NGX_LLM_REASON_FALLBACK), "fallback")
          == 0
          && strcmp(ngx_llm_reason_name(NGX_LLM_REASON_CACHE), "cache") == 0
          && strcmp(ngx_llm_reason_name(NGX_LLM_REASON_MODEL), "model") == 0
          && strcmp(ngx_llm_reason_name(NGX_LLM_REASON_DEFAULT), "default")
             == 0
          && strcmp(ngx_llm_reason_name(NGX_LLM_REASON_OVERFLOW),
                    "overflow") == 0
          && strcmp(ngx_llm_reason_name(NGX_LLM_REASON_CAPABILITY),
                    "capability") == 0
          && strcmp(ngx_llm_reason_name(NGX_LLM_REASON_BUDGET), "budget")
             == 0,
          "reason names");

    CHECK(strcmp(ngx_llm_reason_name(NGX_LLM_REASON_NONE), "none") == 0
          && strcmp(ngx_llm_reason_name(NGX_LLM_REASON_COUNT), "none") == 0,
          "reason none and out of range");

    UNIT_DONE("policy");
}
