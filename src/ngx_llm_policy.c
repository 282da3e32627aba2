
/*
 * Copyright (C) ngx_llm_router authors
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
    "cache"
};


static int ngx_llm_policy_spare(const ngx_llm_policy_in_t *in,
    const ngx_llm_policy_conf_t *conf);
static int ngx_llm_policy_full(const ngx_llm_policy_tier_t *t);
static int ngx_llm_policy_usable(const ngx_llm_policy_tier_t *t);
static int ngx_llm_policy_neither(const ngx_llm_policy_in_t *in,
    const ngx_llm_policy_conf_t *conf, int preferred,
    ngx_llm_reason_e *reason);


void
ngx_llm_policy_conf_default(ngx_llm_policy_conf_t *conf)
{
    conf->vram_high = 0.95;
    conf->medium_spare = 0.5;
    conf->simple_below = 0.3;
    conf->complex_from = 0.7;
    conf->both_full = NGX_LLM_BOTH_FULL_LEAST_LOADED;
}


int
ngx_llm_policy_pick(const ngx_llm_policy_in_t *in,
    const ngx_llm_policy_conf_t *conf, ngx_llm_reason_e *reason)
{
    int                           vram_high, spare;
    const ngx_llm_policy_tier_t  *big, *small;

    if (in->override != NGX_LLM_NO_TIER) {
        *reason = NGX_LLM_REASON_OVERRIDE;
        return in->override;
    }

    if (in->pinned != NGX_LLM_NO_TIER) {
        *reason = NGX_LLM_REASON_PINNED;
        return in->pinned;
    }

    big = &in->tiers[NGX_LLM_BIG];
    small = &in->tiers[NGX_LLM_SMALL];

    vram_high = (in->vram >= 0 && in->vram >= conf->vram_high);

    switch (in->cls) {

    case NGX_LLM_CLASS_COMPLEX:

        if (ngx_llm_policy_usable(big) && !vram_high) {
            *reason = NGX_LLM_REASON_COMPLEXITY;
            return NGX_LLM_BIG;
        }

        if (ngx_llm_policy_usable(small)) {
            *reason = big->down ? NGX_LLM_REASON_DOWN
                      : vram_high ? NGX_LLM_REASON_VRAM
                      : NGX_LLM_REASON_QUEUE;
            return NGX_LLM_SMALL;
        }

        return ngx_llm_policy_neither(in, conf, NGX_LLM_BIG, reason);

    case NGX_LLM_CLASS_MEDIUM:

        spare = ngx_llm_policy_spare(in, conf);

        if (!big->down && spare && !vram_high && big->loaded != 0) {
            *reason = NGX_LLM_REASON_COMPLEXITY;
            return NGX_LLM_BIG;
        }

        if (ngx_llm_policy_usable(small)) {
            *reason = big->down ? NGX_LLM_REASON_DOWN
                      : vram_high ? NGX_LLM_REASON_VRAM
                      : big->loaded == 0 ? NGX_LLM_REASON_COLD
                      : NGX_LLM_REASON_QUEUE;
            return NGX_LLM_SMALL;
        }

        if (ngx_llm_policy_usable(big) && !vram_high) {
            *reason = NGX_LLM_REASON_SPILLOVER;
            return NGX_LLM_BIG;
        }

        return ngx_llm_policy_neither(in, conf, NGX_LLM_SMALL, reason);

    default: /* NGX_LLM_CLASS_SIMPLE */

        if (ngx_llm_policy_usable(small)) {
            *reason = NGX_LLM_REASON_COMPLEXITY;
            return NGX_LLM_SMALL;
        }

        if (small->down && ngx_llm_policy_usable(big)) {
            *reason = NGX_LLM_REASON_DOWN;
            return NGX_LLM_BIG;
        }

        if (ngx_llm_policy_usable(big) && big->inflight == 0) {
            *reason = NGX_LLM_REASON_SPILLOVER;
            return NGX_LLM_BIG;
        }

        if (!small->down && !ngx_llm_policy_full(big)) {
            /* big is busy but not full: wait in small's queue */
            *reason = NGX_LLM_REASON_QUEUE;
            return NGX_LLM_SMALL;
        }

        return ngx_llm_policy_neither(in, conf, NGX_LLM_SMALL, reason);
    }
}


/* neither tier is free: the preferred tier is down or full, so is the other */

static int
ngx_llm_policy_neither(const ngx_llm_policy_in_t *in,
    const ngx_llm_policy_conf_t *conf, int preferred,
    ngx_llm_reason_e *reason)
{
    int                           i;
    double                        load[2];
    const ngx_llm_policy_tier_t  *t;

    t = in->tiers;

    if (t[NGX_LLM_BIG].down && t[NGX_LLM_SMALL].down) {
        *reason = NGX_LLM_REASON_DOWN;
        return NGX_LLM_NO_TIER;
    }

    if (conf->both_full == NGX_LLM_BOTH_FULL_REJECT) {
        *reason = NGX_LLM_REASON_FULL;
        return NGX_LLM_NO_TIER;
    }

    *reason = NGX_LLM_REASON_QUEUE;

    if (t[NGX_LLM_BIG].down) {
        return NGX_LLM_SMALL;
    }

    if (t[NGX_LLM_SMALL].down) {
        return NGX_LLM_BIG;
    }

    for (i = 0; i < 2; i++) {
        load[i] = t[i].max_inflight ? (double) t[i].inflight
                                      / t[i].max_inflight
                                    : (double) t[i].inflight;
    }

    if (load[NGX_LLM_BIG] == load[NGX_LLM_SMALL]) {
        return preferred;
    }

    return load[NGX_LLM_BIG] < load[NGX_LLM_SMALL] ? NGX_LLM_BIG
                                                    : NGX_LLM_SMALL;
}


/* medium prompts: does this one's score earn one of big's free slots? */

static int
ngx_llm_policy_spare(const ngx_llm_policy_in_t *in,
    const ngx_llm_policy_conf_t *conf)
{
    double                        room, bar;
    const ngx_llm_policy_tier_t  *big;

    big = &in->tiers[NGX_LLM_BIG];
    room = conf->medium_spare * big->max_inflight;

    if (big->inflight >= room) {
        return 0;
    }

    bar = conf->simple_below
          + (conf->complex_from - conf->simple_below) * big->inflight / room;

    return in->score >= bar;
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
