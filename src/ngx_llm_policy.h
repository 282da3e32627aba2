
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Tier choice: a pure function of the prompt's class, of what the request
 * needs (images, tools, embeddings) and of the live state (in-flight
 * requests, health, VRAM, budgets).  No nginx types, no allocation.
 */


#ifndef _NGX_LLM_POLICY_H_INCLUDED_
#define _NGX_LLM_POLICY_H_INCLUDED_


#include "ngx_llm_classify.h"


/*
 * A tier is an index into the configured tiers, in the order they were
 * declared; NGX_LLM_NO_TIER is none.  What a tier is for comes from its
 * rank: the lowest rank answers simple prompts, the highest complex ones.
 * An overflow tier (a paid or cloud one) has a rank too, but takes no part
 * in that: it is used only when no local tier has room.
 */

typedef int  ngx_llm_tier_id_t;

#define NGX_LLM_NO_TIER          (-1)
#define NGX_LLM_MAX_TIERS        8


/*
 * What a tier can serve, and what a request needs: a bit each.  Zero means
 * the default in both places, so that a caller that knows nothing of them
 * gets the two-tier behaviour: a tier with serves == 0 serves
 * NGX_LLM_SERVES_DEFAULT, a request with needs == 0 needs
 * NGX_LLM_SERVES_CHAT.  A tier can serve a request when it serves every
 * bit the request needs.
 */

#define NGX_LLM_SERVES_CHAT      0x01
#define NGX_LLM_SERVES_GENERATE  0x02
#define NGX_LLM_SERVES_EMBED     0x04     /* embeddings */
#define NGX_LLM_SERVES_VISION    0x08     /* images in the prompt */
#define NGX_LLM_SERVES_TOOLS     0x10     /* tool (function) calls */

#define NGX_LLM_SERVES_DEFAULT   (NGX_LLM_SERVES_CHAT                        \
                                  |NGX_LLM_SERVES_GENERATE                    \
                                  |NGX_LLM_SERVES_TOOLS)


typedef enum {
    NGX_LLM_REASON_COMPLEXITY = 0,
    NGX_LLM_REASON_VRAM,
    NGX_LLM_REASON_QUEUE,
    NGX_LLM_REASON_DOWN,
    NGX_LLM_REASON_PINNED,
    NGX_LLM_REASON_OVERRIDE,
    NGX_LLM_REASON_SPILLOVER,
    NGX_LLM_REASON_COLD,
    NGX_LLM_REASON_FALLBACK,
    NGX_LLM_REASON_FULL,              /* both full, rejected */
    NGX_LLM_REASON_CACHE,             /* answered from the cache */
    NGX_LLM_REASON_MODEL,             /* a model one tier's servers have */
    NGX_LLM_REASON_DEFAULT,           /* passed on to the default tier */
    NGX_LLM_REASON_NONE,              /* not routed (yet) */
    NGX_LLM_REASON_OVERFLOW,          /* no local tier had room */
    NGX_LLM_REASON_CAPABILITY,        /* the class's tier cannot serve the
                                         request's needs; or, with no tier,
                                         none can */
    NGX_LLM_REASON_BUDGET,            /* the class's tier's budget is spent;
                                         or, with no tier, every tier that
                                         could serve has its budget spent */
    NGX_LLM_REASON_COUNT
} ngx_llm_reason_e;


typedef enum {
    NGX_LLM_BOTH_FULL_LEAST_LOADED = 0,
    NGX_LLM_BOTH_FULL_REJECT
} ngx_llm_both_full_e;


typedef struct {
    unsigned            inflight;
    unsigned            max_inflight;    /* served at once */
    unsigned            queue;           /* may wait at the tier, beyond
                                            max_inflight, before it counts
                                            as full */
    unsigned            reserved;        /* of max_inflight + queue, slots
                                            held for other routers and not
                                            used by them: the tier is full
                                            when inflight + reserved reach
                                            max_inflight + queue */
    int                 down;            /* breaker open or health check */
    int                 loaded;          /* model loaded: 1, 0, -1 unknown */
    unsigned            rank;            /* 0: the least capable */
    double              vram;            /* its GPU's VRAM in use, fraction;
                                            < 0 unknown or none */
    unsigned            serves;          /* NGX_LLM_SERVES_*, 0: default */
    int                 overflow;        /* a paid or cloud tier, used only
                                            when no local tier has room */
    int                 budget_spent;    /* the tenant's token budget for
                                            this tier is used up */
} ngx_llm_policy_tier_t;


typedef struct {
    double              vram_high;       /* fraction, default 0.95 */
    double              medium_spare;    /* medium -> big while in-flight
                                            < spare * max, default 0.5 */
    double              simple_below;    /* the class thresholds: the bar */
    double              complex_from;    /* a medium score must reach */
    int                 both_full;       /* ngx_llm_both_full_e */
} ngx_llm_policy_conf_t;


typedef struct {
    ngx_llm_class_e     cls;
    double              score;           /* the classifier's, in [0, 1] */
    ngx_llm_policy_tier_t  tiers[NGX_LLM_MAX_TIERS];
    unsigned            ntiers;
    ngx_llm_tier_id_t   pinned;          /* or NGX_LLM_NO_TIER */
    ngx_llm_tier_id_t   override;        /* or NGX_LLM_NO_TIER */
    unsigned            needs;           /* NGX_LLM_SERVES_*, 0: chat */
} ngx_llm_policy_in_t;


void ngx_llm_policy_conf_default(ngx_llm_policy_conf_t *conf);

/*
 * Returns the tier, or NGX_LLM_NO_TIER to refuse; then the reason says why:
 * "full" (all full, both_full reject) or "down" (503), "budget" (429),
 * "capability" (no tier can serve what the request needs).
 */
ngx_llm_tier_id_t ngx_llm_policy_pick(const ngx_llm_policy_in_t *in,
    const ngx_llm_policy_conf_t *conf, ngx_llm_reason_e *reason);

/*
 * The tier to retry on when "failed" failed before answering: among those
 * that can serve the request's needs, are not budget-spent, not down and
 * not in "tried" (a bit per tier), a local tier before an overflow one,
 * then the nearest in rank to the failed one, the lower on a tie;
 * NGX_LLM_NO_TIER if none is left.
 */
ngx_llm_tier_id_t ngx_llm_policy_next(const ngx_llm_policy_in_t *in,
    ngx_llm_tier_id_t failed, unsigned tried);

const char *ngx_llm_reason_name(ngx_llm_reason_e reason);


#endif /* _NGX_LLM_POLICY_H_INCLUDED_ */
