
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The rule, in the order it is applied:
 *
 * 1. override, then pinned: the tier named, whatever its state or what it
 *    serves (the client named the model); but a pinned tier whose budget
 *    is spent is refused: NO_TIER, "budget".  Override is the operator's
 *    and beats that too.  No tier at all: NO_TIER, "down".
 *
 * 2. Candidates: the tiers that serve every capability the request needs
 *    (serves 0: NGX_LLM_SERVES_DEFAULT; needs 0: chat) and whose budget is
 *    not spent.  None: NO_TIER, "budget" if a spent tier could serve the
 *    request, else "capability".  Local candidates are the candidates that
 *    are not overflow tiers; they are ordered by rank (on a tie, the one
 *    declared first counts as the lower).  "small" is the lowest local
 *    candidate, "big" the highest.
 *
 * 3. Overflow: if no local candidate is usable (up and not full), the
 *    lowest-ranked overflow candidate that is, "overflow".  So an overflow
 *    tier never takes a request while a local candidate has room (a local
 *    tier at the VRAM mark has room: step 6 may still queue there).
 *
 * 4. The class picks among the local candidates.  A tier's VRAM is at the
 *    mark when its GPU's is known and >= vram_high; small's own VRAM never
 *    keeps prompts off it.  Each walk takes the first tier it meets:
 *
 *    complex: from big down to small, a usable tier not at the VRAM mark:
 *             big is "complexity"; a lower one is named by why big was
 *             not taken: "down", "vram", else "queue".
 *    medium:  big if it is up, has a spare slot for this score, is not at
 *             the VRAM mark and its model is not known to be unloaded:
 *             "complexity".  "Spare" depends on the score: an idle big
 *             takes every medium prompt; as its in-flight count rises
 *             towards medium_spare * max, the score a medium prompt needs
 *             rises linearly from simple_below to complex_from, so the
 *             prompts most likely to need the big model get its last
 *             slots, and slots stay free for complex prompts.
 *             Else from the rank below big down to small, a usable tier,
 *             above small also not at the VRAM mark nor cold: named by why
 *             big was not taken, "down", "vram", "cold", else "queue".
 *             Else from big down to the rank above small, a usable tier
 *             not at the VRAM mark (cold or without a spare slot):
 *             "spillover".
 *    simple:  small if usable: "complexity".  If small is down, the
 *             nearest usable tier above it: "down".  Else (small full)
 *             the nearest usable idle tier above: "spillover"; else, if a
 *             tier above is not full (busy; by count alone), small's
 *             queue: "queue".  VRAM plays no part for simple prompts.
 *
 *    With a single local candidate there is no choice: it, if usable,
 *    "complexity".  With two (ranks 0 and 1) this is the two-tier rule
 *    the project started with, reason for reason.
 *
 * 5. Capability and budget: when the walk gave a tier, the reason says
 *    why the class did not get the tier it would have had:
 *    "capability" if the same walk over the general local tiers (those
 *    that serve chat, spent or not) gives another tier, one that cannot
 *    serve the needs (an image for a text-only small tier, say, or any
 *    embeddings request, which no chat tier serves);
 *    else "budget" if the same walk over the local tiers that can serve
 *    the needs, spent or not, gives another tier, a spent one.
 *
 * 6. No walk gave a tier: the least loaded of the local candidates that
 *    are up (small on a tie, big for complex prompts), or if none is up,
 *    of the overflow candidates that are up: "queue"; or a refusal:
 *    NO_TIER, "full" under both_full reject, "down" if none is up at all.
 *
 * "Full" is max_inflight plus the tier's queue allowance: requests that may
 * wait at the tier (Ollama queues them) rather than go elsewhere; slots
 * reserved for other routers (llm_router_share) count as taken.
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
    "none",
    "overflow",
    "capability",
    "budget"
};


/* the local tiers a walk chooses among, by rank */

typedef struct {
    const ngx_llm_policy_in_t    *in;
    const ngx_llm_policy_conf_t  *conf;
    ngx_llm_tier_id_t             order[NGX_LLM_MAX_TIERS];
    unsigned                      n;
} ngx_llm_policy_walk_t;


static ngx_llm_tier_id_t ngx_llm_policy_walk(ngx_llm_policy_walk_t *w,
    ngx_llm_reason_e *reason, ngx_llm_tier_id_t *preferred);
static ngx_llm_tier_id_t ngx_llm_policy_complex(ngx_llm_policy_walk_t *w,
    ngx_llm_reason_e *reason);
static ngx_llm_tier_id_t ngx_llm_policy_medium(ngx_llm_policy_walk_t *w,
    ngx_llm_reason_e *reason);
static ngx_llm_tier_id_t ngx_llm_policy_simple(ngx_llm_policy_walk_t *w,
    ngx_llm_reason_e *reason);
static ngx_llm_tier_id_t ngx_llm_policy_neither(
    const ngx_llm_policy_in_t *in, const ngx_llm_policy_conf_t *conf,
    unsigned local, unsigned overflow, ngx_llm_tier_id_t preferred,
    ngx_llm_reason_e *reason);
static ngx_llm_tier_id_t ngx_llm_policy_lowest(const ngx_llm_policy_in_t *in,
    unsigned set);
static void ngx_llm_policy_order(ngx_llm_policy_walk_t *w, unsigned set);
static unsigned ngx_llm_policy_ntiers(const ngx_llm_policy_in_t *in);
static unsigned ngx_llm_policy_needs(const ngx_llm_policy_in_t *in);
static int ngx_llm_policy_can(const ngx_llm_policy_tier_t *t,
    unsigned needs);
static int ngx_llm_policy_spare(const ngx_llm_policy_tier_t *big,
    double score, const ngx_llm_policy_conf_t *conf);
static int ngx_llm_policy_vram_high(const ngx_llm_policy_tier_t *t,
    const ngx_llm_policy_conf_t *conf);
static int ngx_llm_policy_full(const ngx_llm_policy_tier_t *t);
static int ngx_llm_policy_usable(const ngx_llm_policy_tier_t *t);


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
    unsigned                      i, n, needs, local, general, serving,
                                  overflow, able, usable;
    ngx_llm_reason_e              why;
    ngx_llm_tier_id_t             tier, other, preferred;
    ngx_llm_policy_walk_t         w;
    const ngx_llm_policy_tier_t  *t;

    if (in->override != NGX_LLM_NO_TIER) {
        *reason = NGX_LLM_REASON_OVERRIDE;
        return in->override;
    }

    n = ngx_llm_policy_ntiers(in);

    if (in->pinned != NGX_LLM_NO_TIER) {

        if (in->pinned >= 0 && (unsigned) in->pinned < n
            && in->tiers[in->pinned].budget_spent)
        {
            *reason = NGX_LLM_REASON_BUDGET;
            return NGX_LLM_NO_TIER;
        }

        *reason = NGX_LLM_REASON_PINNED;
        return in->pinned;
    }

    if (n == 0) {
        *reason = NGX_LLM_REASON_DOWN;
        return NGX_LLM_NO_TIER;
    }

    /* the candidates, as sets of tiers: a bit per tier */

    needs = ngx_llm_policy_needs(in);

    local = 0;
    general = 0;
    serving = 0;
    overflow = 0;
    able = 0;
    usable = 0;

    for (i = 0; i < n; i++) {
        t = &in->tiers[i];

        if (!t->overflow && ngx_llm_policy_can(t, NGX_LLM_SERVES_CHAT)) {
            general |= 1u << i;
        }

        if (!ngx_llm_policy_can(t, needs)) {
            continue;
        }

        able |= 1u << i;

        if (!t->overflow) {
            serving |= 1u << i;
        }

        if (t->budget_spent) {
            continue;
        }

        if (t->overflow) {
            overflow |= 1u << i;
            continue;
        }

        local |= 1u << i;

        if (ngx_llm_policy_usable(t)) {
            usable |= 1u << i;
        }
    }

    if (local == 0 && overflow == 0) {
        *reason = able ? NGX_LLM_REASON_BUDGET : NGX_LLM_REASON_CAPABILITY;
        return NGX_LLM_NO_TIER;
    }

    if (usable == 0) {
        tier = ngx_llm_policy_lowest(in, overflow);

        if (tier != NGX_LLM_NO_TIER) {
            *reason = NGX_LLM_REASON_OVERFLOW;
            return tier;
        }
    }

    w.in = in;
    w.conf = conf;

    ngx_llm_policy_order(&w, local);

    tier = ngx_llm_policy_walk(&w, reason, &preferred);

    if (tier == NGX_LLM_NO_TIER) {
        return ngx_llm_policy_neither(in, conf, local, overflow, preferred,
                                      reason);
    }

    /* what the class would have had, had every tier served the needs */

    if (general != local) {
        ngx_llm_policy_order(&w, general);

        other = ngx_llm_policy_walk(&w, &why, &preferred);

        if (other != NGX_LLM_NO_TIER && other != tier
            && !ngx_llm_policy_can(&in->tiers[other], needs))
        {
            *reason = NGX_LLM_REASON_CAPABILITY;
            return tier;
        }
    }

    /* and had no budget been spent */

    if (serving != local) {
        ngx_llm_policy_order(&w, serving);

        other = ngx_llm_policy_walk(&w, &why, &preferred);

        if (other != NGX_LLM_NO_TIER && other != tier
            && in->tiers[other].budget_spent)
        {
            *reason = NGX_LLM_REASON_BUDGET;
        }
    }

    return tier;
}


/* the class's walk over w->order: the tier, or NO_TIER and who to prefer */

static ngx_llm_tier_id_t
ngx_llm_policy_walk(ngx_llm_policy_walk_t *w, ngx_llm_reason_e *reason,
    ngx_llm_tier_id_t *preferred)
{
    ngx_llm_tier_id_t  only;

    *preferred = NGX_LLM_NO_TIER;

    if (w->n == 0) {
        return NGX_LLM_NO_TIER;
    }

    if (w->n == 1) {
        only = w->order[0];
        *preferred = only;

        if (ngx_llm_policy_usable(&w->in->tiers[only])) {
            *reason = NGX_LLM_REASON_COMPLEXITY;
            return only;
        }

        return NGX_LLM_NO_TIER;
    }

    switch (w->in->cls) {

    case NGX_LLM_CLASS_COMPLEX:
        *preferred = w->order[w->n - 1];
        return ngx_llm_policy_complex(w, reason);

    case NGX_LLM_CLASS_MEDIUM:
        *preferred = w->order[0];
        return ngx_llm_policy_medium(w, reason);

    default: /* NGX_LLM_CLASS_SIMPLE */
        *preferred = w->order[0];
        return ngx_llm_policy_simple(w, reason);
    }
}


static ngx_llm_tier_id_t
ngx_llm_policy_complex(ngx_llm_policy_walk_t *w, ngx_llm_reason_e *reason)
{
    unsigned                      p;
    ngx_llm_tier_id_t             id;
    const ngx_llm_policy_tier_t  *big, *t;

    big = &w->in->tiers[w->order[w->n - 1]];

    for (p = w->n; p-- > 0; /* void */) {
        id = w->order[p];
        t = &w->in->tiers[id];

        if (!ngx_llm_policy_usable(t)
            || (p > 0 && ngx_llm_policy_vram_high(t, w->conf)))
        {
            continue;
        }

        *reason = p == w->n - 1 ? NGX_LLM_REASON_COMPLEXITY
                  : big->down ? NGX_LLM_REASON_DOWN
                  : ngx_llm_policy_vram_high(big, w->conf)
                    ? NGX_LLM_REASON_VRAM
                  : NGX_LLM_REASON_QUEUE;
        return id;
    }

    return NGX_LLM_NO_TIER;
}


static ngx_llm_tier_id_t
ngx_llm_policy_medium(ngx_llm_policy_walk_t *w, ngx_llm_reason_e *reason)
{
    int                           vram_high;
    unsigned                      p;
    ngx_llm_tier_id_t             hi, id;
    const ngx_llm_policy_tier_t  *big, *t;

    hi = w->order[w->n - 1];
    big = &w->in->tiers[hi];

    vram_high = ngx_llm_policy_vram_high(big, w->conf);

    if (ngx_llm_policy_usable(big)
        && ngx_llm_policy_spare(big, w->in->score, w->conf)
        && !vram_high && big->loaded != 0)
    {
        *reason = NGX_LLM_REASON_COMPLEXITY;
        return hi;
    }

    /* down from the rank below big: above small, warm and VRAM to spare */

    for (p = w->n - 1; p-- > 0; /* void */) {
        id = w->order[p];
        t = &w->in->tiers[id];

        if (!ngx_llm_policy_usable(t)
            || (p > 0 && (ngx_llm_policy_vram_high(t, w->conf)
                          || t->loaded == 0)))
        {
            continue;
        }

        *reason = big->down ? NGX_LLM_REASON_DOWN
                  : vram_high ? NGX_LLM_REASON_VRAM
                  : big->loaded == 0 ? NGX_LLM_REASON_COLD
                  : NGX_LLM_REASON_QUEUE;
        return id;
    }

    /* the lower ones cannot: back up from big, spare slot or not */

    for (p = w->n; p-- > 1; /* void */) {
        id = w->order[p];
        t = &w->in->tiers[id];

        if (ngx_llm_policy_usable(t)
            && !ngx_llm_policy_vram_high(t, w->conf))
        {
            *reason = NGX_LLM_REASON_SPILLOVER;
            return id;
        }
    }

    return NGX_LLM_NO_TIER;
}


static ngx_llm_tier_id_t
ngx_llm_policy_simple(ngx_llm_policy_walk_t *w, ngx_llm_reason_e *reason)
{
    unsigned                      p;
    ngx_llm_tier_id_t             lo, id;
    const ngx_llm_policy_tier_t  *small, *t;

    lo = w->order[0];
    small = &w->in->tiers[lo];

    if (ngx_llm_policy_usable(small)) {
        *reason = NGX_LLM_REASON_COMPLEXITY;
        return lo;
    }

    for (p = 1; p < w->n; p++) {
        id = w->order[p];
        t = &w->in->tiers[id];

        if (!ngx_llm_policy_usable(t)) {
            continue;
        }

        if (small->down) {
            *reason = NGX_LLM_REASON_DOWN;
            return id;
        }

        if (t->inflight == 0) {
            *reason = NGX_LLM_REASON_SPILLOVER;
            return id;
        }
    }

    if (small->down) {
        return NGX_LLM_NO_TIER;
    }

    /* the tiers above are busy but not all full: wait in small's queue */

    for (p = 1; p < w->n; p++) {
        if (!ngx_llm_policy_full(&w->in->tiers[w->order[p]])) {
            *reason = NGX_LLM_REASON_QUEUE;
            return lo;
        }
    }

    return NGX_LLM_NO_TIER;
}


/*
 * No walk found a tier with room: the least loaded local candidate that is
 * up, else the least loaded overflow candidate that is up.
 */

static ngx_llm_tier_id_t
ngx_llm_policy_neither(const ngx_llm_policy_in_t *in,
    const ngx_llm_policy_conf_t *conf, unsigned local, unsigned overflow,
    ngx_llm_tier_id_t preferred, ngx_llm_reason_e *reason)
{
    double                        load, best_load;
    unsigned                      i, n, set, pass;
    ngx_llm_tier_id_t             best;
    const ngx_llm_policy_tier_t  *t;

    best = NGX_LLM_NO_TIER;
    best_load = 0;
    n = ngx_llm_policy_ntiers(in);

    for (pass = 0; pass < 2 && best == NGX_LLM_NO_TIER; pass++) {
        set = pass == 0 ? local : overflow;

        for (i = 0; i < n; i++) {
            t = &in->tiers[i];

            if (!(set & (1u << i)) || t->down) {
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
    unsigned                      i, n, d, best_d, from, needs;
    ngx_llm_tier_id_t             best;
    const ngx_llm_policy_tier_t  *t, *b;

    n = ngx_llm_policy_ntiers(in);
    needs = ngx_llm_policy_needs(in);

    from = (failed >= 0 && (unsigned) failed < n) ? in->tiers[failed].rank
                                                  : 0;

    best = NGX_LLM_NO_TIER;
    best_d = 0;

    for (i = 0; i < n; i++) {
        t = &in->tiers[i];

        if ((ngx_llm_tier_id_t) i == failed || (tried & (1u << i))
            || t->down || t->budget_spent || !ngx_llm_policy_can(t, needs))
        {
            continue;
        }

        d = t->rank > from ? t->rank - from : from - t->rank;

        if (best != NGX_LLM_NO_TIER) {
            b = &in->tiers[best];

            /* local before overflow, then the nearest, then the lower */

            if ((t->overflow != 0) != (b->overflow != 0)) {
                if (t->overflow) {
                    continue;
                }

            } else if (d > best_d || (d == best_d && t->rank >= b->rank)) {
                continue;
            }
        }

        best = (ngx_llm_tier_id_t) i;
        best_d = d;
    }

    return best;
}


/* the lowest-ranked usable tier of a set, or NO_TIER */

static ngx_llm_tier_id_t
ngx_llm_policy_lowest(const ngx_llm_policy_in_t *in, unsigned set)
{
    unsigned           i, n;
    ngx_llm_tier_id_t  best;

    best = NGX_LLM_NO_TIER;
    n = ngx_llm_policy_ntiers(in);

    for (i = 0; i < n; i++) {
        if (!(set & (1u << i)) || !ngx_llm_policy_usable(&in->tiers[i])) {
            continue;
        }

        if (best == NGX_LLM_NO_TIER
            || in->tiers[i].rank < in->tiers[best].rank)
        {
            best = (ngx_llm_tier_id_t) i;
        }
    }

    return best;
}


/* the tiers of a set by rank, the one declared first on a tie */

static void
ngx_llm_policy_order(ngx_llm_policy_walk_t *w, unsigned set)
{
    unsigned           i, j, n;
    ngx_llm_tier_id_t  id;

    w->n = 0;
    n = ngx_llm_policy_ntiers(w->in);

    for (i = 0; i < n; i++) {
        if (!(set & (1u << i))) {
            continue;
        }

        /* insertion: after every tier of a rank not above this one's */

        id = (ngx_llm_tier_id_t) i;

        for (j = w->n; j > 0; j--) {
            if (w->in->tiers[w->order[j - 1]].rank <= w->in->tiers[id].rank) {
                break;
            }

            w->order[j] = w->order[j - 1];
        }

        w->order[j] = id;
        w->n++;
    }
}


static unsigned
ngx_llm_policy_ntiers(const ngx_llm_policy_in_t *in)
{
    return in->ntiers < NGX_LLM_MAX_TIERS ? in->ntiers : NGX_LLM_MAX_TIERS;
}


static unsigned
ngx_llm_policy_needs(const ngx_llm_policy_in_t *in)
{
    return in->needs ? in->needs : NGX_LLM_SERVES_CHAT;
}


static int
ngx_llm_policy_can(const ngx_llm_policy_tier_t *t, unsigned needs)
{
    unsigned  serves;

    serves = t->serves ? t->serves : NGX_LLM_SERVES_DEFAULT;

    return (serves & needs) == needs;
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
ngx_llm_policy_vram_high(const ngx_llm_policy_tier_t *t,
    const ngx_llm_policy_conf_t *conf)
{
    return t->vram >= 0 && t->vram >= conf->vram_high;
}


static int
ngx_llm_policy_full(const ngx_llm_policy_tier_t *t)
{
    return t->inflight + t->reserved >= t->max_inflight + t->queue;
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
