
/*
 * Copyright (C) ngx_llm_router authors
 *
 * "big" is the tier of the highest rank, "small" the one of the lowest.
 *
 * complex: big, unless big is down, full, or its GPU is at the VRAM high
 *          mark: then small;
 * medium:  big while big has spare capacity, its VRAM is below the mark
 *          and its model is not known to be unloaded: else small, or big
 *          if small cannot.  "Spare" depends on the score: an idle big
 *          takes every medium prompt; as its in-flight count rises towards
 *          medium_spare * max, the score a medium prompt needs rises
 *          linearly from simple_below to complex_from, so the prompts most
 *          likely to need the big model are the ones that get its last
 *          slots, and slots stay free for complex prompts;
 * simple:  small; big when small is down, or when small is full and big
 *          is idle; else small's queue;
 * a tier that cannot serve and another that cannot either: the least
 * loaded of the two, or a refusal (both_full reject, or both down).
 *
 * "Full" is max_inflight plus the tier's queue allowance: requests that may
 * wait at the tier (Ollama queues them) rather than go elsewhere.
 */


#include "ngx_llm_policy.h"


static const char  *ngx_llm_reason_names[NGX_LLM_REASON_COUNT] = {
    "complexity",
    "vram",
    "queue",
    "down",
    "pinned",
    "override",
    "spillover",
    "cold",
    "fallback",
    "full",
    "cache",
    "model",
    "default",
    "none"
};


static int ngx_llm_policy_spare(const ngx_llm_policy_tier_t *big,
    double score, const ngx_llm_policy_conf_t *conf);
static int ngx_llm_policy_full(const ngx_llm_policy_tier_t *t);
static int ngx_llm_policy_usable(const ngx_llm_policy_tier_t *t);
static ngx_llm_tier_id_t ngx_llm_policy_neither(
    const ngx_llm_policy_in_t *in, const ngx_llm_policy_conf_t *conf,
    ngx_llm_tier_id_t preferred, ngx_llm_reason_e *reason);
static void ngx_llm_policy_ends(const ngx_llm_policy_in_t *in,
    ngx_llm_tier_id_t *lowest, ngx_llm_tier_id_t *highest);


void
ngx_llm_policy_conf_default(ngx_llm_policy_conf_t *conf)
{
    conf->vram_high = 0.95;
    conf->medium_spare = 0.5;
    conf->simple_below = 0.3;
    conf->complex_from = 0.7;
    conf->both_full = NGX_LLM_BOTH_FULL_LEAST_LOADED;
}


ngx_llm_tier_id_t
ngx_llm_policy_pick(const ngx_llm_policy_in_t *in,
    const ngx_llm_policy_conf_t *conf, ngx_llm_reason_e *reason)
{
    int                           vram_high, spare;
    ngx_llm_tier_id_t             hi, lo;
    const ngx_llm_policy_tier_t  *big, *small;

    if (in->override != NGX_LLM_NO_TIER) {
        *reason = NGX_LLM_REASON_OVERRIDE;
        return in->override;
    }

    if (in->pinned != NGX_LLM_NO_TIER) {
        *reason = NGX_LLM_REASON_PINNED;
        return in->pinned;
    }

    if (in->ntiers == 0) {
        *reason = NGX_LLM_REASON_DOWN;
        return NGX_LLM_NO_TIER;
    }

    ngx_llm_policy_ends(in, &lo, &hi);

    big = &in->tiers[hi];
    small = &in->tiers[lo];

    vram_high = (big->vram >= 0 && big->vram >= conf->vram_high);

    switch (in->cls) {

    case NGX_LLM_CLASS_COMPLEX:

        if (ngx_llm_policy_usable(big) && !vram_high) {
            *reason = NGX_LLM_REASON_COMPLEXITY;
            return hi;
        }

        if (ngx_llm_policy_usable(small)) {
            *reason = big->down ? NGX_LLM_REASON_DOWN
                      : vram_high ? NGX_LLM_REASON_VRAM
                      : NGX_LLM_REASON_QUEUE;
            return lo;
        }

        return ngx_llm_policy_neither(in, conf, hi, reason);

    case NGX_LLM_CLASS_MEDIUM:

        spare = ngx_llm_policy_spare(big, in->score, conf);

        if (!big->down && spare && !vram_high && big->loaded != 0) {
            *reason = NGX_LLM_REASON_COMPLEXITY;
            return hi;
        }

        if (ngx_llm_policy_usable(small)) {
            *reason = big->down ? NGX_LLM_REASON_DOWN
                      : vram_high ? NGX_LLM_REASON_VRAM
                      : big->loaded == 0 ? NGX_LLM_REASON_COLD
                      : NGX_LLM_REASON_QUEUE;
            return lo;
        }

        if (ngx_llm_policy_usable(big) && !vram_high) {
            *reason = NGX_LLM_REASON_SPILLOVER;
            return hi;
        }

        return ngx_llm_policy_neither(in, conf, lo, reason);

    default: /* NGX_LLM_CLASS_SIMPLE */

        if (ngx_llm_policy_usable(small)) {
            *reason = NGX_LLM_REASON_COMPLEXITY;
            return lo;
        }

        if (small->down && ngx_llm_policy_usable(big)) {
            *reason = NGX_LLM_REASON_DOWN;
            return hi;
        }

        if (ngx_llm_policy_usable(big) && big->inflight == 0) {
            *reason = NGX_LLM_REASON_SPILLOVER;
            return hi;
        }

        if (!small->down && !ngx_llm_policy_full(big)) {
            /* big is busy but not full: wait in small's queue */
            *reason = NGX_LLM_REASON_QUEUE;
            return lo;
        }

        return ngx_llm_policy_neither(in, conf, lo, reason);
    }
}


/* no tier is free: the preferred one is down or full, so are the others */

static ngx_llm_tier_id_t
ngx_llm_policy_neither(const ngx_llm_policy_in_t *in,
    const ngx_llm_policy_conf_t *conf, ngx_llm_tier_id_t preferred,
    ngx_llm_reason_e *reason)
{
    double                        load, best_load;
    unsigned                      i;
    ngx_llm_tier_id_t             best;
    const ngx_llm_policy_tier_t  *t;

    best = NGX_LLM_NO_TIER;
    best_load = 0;

    for (i = 0; i < in->ntiers; i++) {
        t = &in->tiers[i];

        if (t->down) {
            continue;
        }

        load = t->max_inflight ? (double) t->inflight / t->max_inflight
                               : (double) t->inflight;

        /* the least loaded; the preferred tier on a tie */

        if (best == NGX_LLM_NO_TIER || load < best_load
            || (load == best_load && (ngx_llm_tier_id_t) i == preferred))
        {
            best = (ngx_llm_tier_id_t) i;
            best_load = load;
        }
    }

    if (best == NGX_LLM_NO_TIER) {
        *reason = NGX_LLM_REASON_DOWN;
        return NGX_LLM_NO_TIER;
    }

    if (conf->both_full == NGX_LLM_BOTH_FULL_REJECT) {
        *reason = NGX_LLM_REASON_FULL;
        return NGX_LLM_NO_TIER;
    }

    *reason = NGX_LLM_REASON_QUEUE;

    return best;
}


ngx_llm_tier_id_t
ngx_llm_policy_next(const ngx_llm_policy_in_t *in, ngx_llm_tier_id_t failed,
    unsigned tried)
{
    unsigned           i, d, best_d;
    ngx_llm_tier_id_t  best;

    best = NGX_LLM_NO_TIER;
    best_d = 0;

    for (i = 0; i < in->ntiers; i++) {
        if ((ngx_llm_tier_id_t) i == failed || (tried & (1u << i))) {
            continue;
        }

        d = in->tiers[i].rank > in->tiers[failed].rank
            ? in->tiers[i].rank - in->tiers[failed].rank
            : in->tiers[failed].rank - in->tiers[i].rank;

        if (best == NGX_LLM_NO_TIER || d < best_d
            || (d == best_d && in->tiers[i].rank < in->tiers[best].rank))
        {
            best = (ngx_llm_tier_id_t) i;
            best_d = d;
        }
    }

    return best;
}


/* the tiers of the lowest and of the highest rank */

static void
ngx_llm_policy_ends(const ngx_llm_policy_in_t *in, ngx_llm_tier_id_t *lowest,
    ngx_llm_tier_id_t *highest)
{
    unsigned  i;

    *lowest = 0;
    *highest = 0;

    for (i = 1; i < in->ntiers; i++) {
        if (in->tiers[i].rank < in->tiers[*lowest].rank) {
            *lowest = (ngx_llm_tier_id_t) i;
        }

        if (in->tiers[i].rank > in->tiers[*highest].rank) {
            *highest = (ngx_llm_tier_id_t) i;
        }
    }
}


/* medium prompts: does this one's score earn one of big's free slots? */

static int
ngx_llm_policy_spare(const ngx_llm_policy_tier_t *big, double score,
    const ngx_llm_policy_conf_t *conf)
{
    double  room, bar;

    room = conf->medium_spare * big->max_inflight;

    if (big->inflight >= room) {
        return 0;
    }

    bar = conf->simple_below
          + (conf->complex_from - conf->simple_below) * big->inflight / room;

    return score >= bar;
}


static int
ngx_llm_policy_full(const ngx_llm_policy_tier_t *t)
{
    return t->inflight >= t->max_inflight + t->queue;
}


static int
ngx_llm_policy_usable(const ngx_llm_policy_tier_t *t)
{
    return !t->down && !ngx_llm_policy_full(t);
}


const char *
ngx_llm_reason_name(ngx_llm_reason_e reason)
{
    if ((unsigned) reason >= NGX_LLM_REASON_COUNT) {
        return "none";
    }

    return ngx_llm_reason_names[reason];
}
