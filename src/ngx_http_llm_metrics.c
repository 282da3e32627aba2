
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Metrics, the recording side: counters and histograms in the shared
 * zone, updated with atomic adds when a request ends, never under a lock,
 * and the ring of recent decisions the status page lists.  What is
 * recorded is read back through the metrics table (ngx_http_llm_table.c)
 * by the Prometheus text and the status JSON.  Label sets are fixed and
 * small: tier, class, reason, cache result, status class; no per-request
 * labels, and no prompt text anywhere.
 *
 * To add a metric: its atomic in ngx_http_llm_state.h, its row in
 * ngx_http_llm_table.c, and the line that counts it here.
 */


#include "ngx_http_llm_metrics.h"
#include "ngx_http_llm_ctx.h"
#include "ngx_http_llm_state.h"
#include "ngx_http_llm_table.h"


#define NGX_HTTP_LLM_TAIL  1024


static void ngx_http_llm_hist_add(ngx_http_llm_hist_t *h, ngx_msec_t ms);
static void ngx_http_llm_recent_add(ngx_http_llm_sh_t *sh,
    ngx_http_llm_recent_t *rec);


static void
ngx_http_llm_hist_add(ngx_http_llm_hist_t *h, ngx_msec_t ms)
{
    ngx_uint_t              i;
    ngx_http_llm_bounds_t  *b;

    b = &ngx_http_llm_duration_bounds;

    for (i = 0; i < b->n; i++) {
        if (ms <= b->bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum_ms, ms);
    (void) ngx_atomic_fetch_add(&h->count, 1);
}


/* once per LLM request, from its pool cleanup */

void
ngx_http_llm_metrics_request(ngx_http_llm_ctx_t *ctx)
{
    ngx_msec_int_t              ms;
    ngx_uint_t                  cls, reason, cache, code, status, i, who;
    ngx_time_t                 *tp;
    ngx_http_request_t         *r;
    ngx_http_llm_sh_t          *sh;
    ngx_http_llm_recent_t       rec;
    ngx_http_llm_served_t      *served;
    ngx_http_llm_tier_sh_t     *ts;
    ngx_http_upstream_state_t  *us;

    r = ctx->request;
    sh = ctx->lmcf->sh;
    ts = NULL;

    if (ctx->cache.status == NGX_HTTP_LLM_CACHE_HIT
        || ctx->cache.status == NGX_HTTP_LLM_CACHE_HIT_SIMILAR)
    {
        served = &sh->by_cache;
        who = NGX_HTTP_LLM_WHO_CACHE;

    } else if (ctx->tier != NGX_LLM_NO_TIER
               && ctx->counted != NGX_LLM_NO_TIER)
    {
        ts = ctx->lmcf->tiers[ctx->tier].sh;
        served = &ts->served;
        who = ctx->lmcf->tiers[ctx->tier].slot;

    } else {
        served = &sh->by_none;
        who = NGX_HTTP_LLM_WHO_NONE;
    }

    cls = ctx->classified ? (ngx_uint_t) ctx->cls : NGX_HTTP_LLM_M_CLASSES - 1;
    reason = (ngx_uint_t) ctx->reason < NGX_LLM_REASON_COUNT
             ? (ngx_uint_t) ctx->reason : NGX_LLM_REASON_NONE;
    cache = ctx->cache.status < NGX_HTTP_LLM_M_CACHE ? ctx->cache.status : 0;

    (void) ngx_atomic_fetch_add(&served->requests[cls][reason][cache], 1);

    if (cache) {
        (void) ngx_atomic_fetch_add(&sh->cache[cache], 1);
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    code = (status >= 200 && status < 600 && status != 499)
           ? status / 100 - 2 : NGX_HTTP_LLM_M_CODES - 1;

    if (code >= NGX_HTTP_LLM_M_CODES) {
        code = NGX_HTTP_LLM_M_CODES - 1;
    }

    (void) ngx_atomic_fetch_add(&served->responses[code], 1);

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    ms = ngx_max(ms, 0);

    ngx_http_llm_hist_add(&served->duration, (ngx_msec_t) ms);

    rec.end_ms = (uint64_t) tp->sec * 1000 + tp->msec;
    rec.duration_ms = (uint32_t) ngx_min(ms, NGX_MAX_UINT32_VALUE);
    rec.score_milli = ctx->classified
                      ? (uint16_t) (ngx_min(ngx_max(ctx->score, 0), 1) * 1000
                                    + 0.5)
                      : 0;
    rec.status = (uint16_t) ngx_min(status, 999);
    rec.who = (u_char) who;
    rec.cls = (u_char) cls;
    rec.reason = (u_char) reason;
    rec.cache = (u_char) cache;

    ngx_http_llm_recent_add(sh, &rec);

    if (ctx->classified) {
        i = (ngx_uint_t) (ctx->score * 10);
        i = ngx_min(i, NGX_HTTP_LLM_M_SCORES - 1);

        (void) ngx_atomic_fetch_add(&sh->score[i], 1);
        (void) ngx_atomic_fetch_add(&sh->score_sum_milli,
                                    (ngx_atomic_uint_t) (ctx->score * 1000));
        (void) ngx_atomic_fetch_add(&sh->score_count, 1);
    }

    if (ts == NULL) {
        return;
    }

    if (r->upstream_states != NULL && r->upstream_states->nelts) {
        us = r->upstream_states->elts;
        us = &us[r->upstream_states->nelts - 1];

        if (us->header_time != (ngx_msec_t) -1 && us->status) {
            ngx_http_llm_hist_add(&ts->ttfb, us->header_time);
        }
    }

    ngx_http_llm_metrics_tokens(ctx);

    if (ctx->tokens.seen) {
        (void) ngx_atomic_fetch_add(&ts->prompt_tokens, ctx->tokens.in);
        (void) ngx_atomic_fetch_add(&ts->completion_tokens, ctx->tokens.out);
        (void) ngx_atomic_fetch_add(&ts->generation_us, ctx->tokens.eval_us);
    }
}


/*
 * The decision and its outcome in the ring of recent requests: the slot
 * is taken with an atomic add, and its seq says when it is whole.
 */

static void
ngx_http_llm_recent_add(ngx_http_llm_sh_t *sh, ngx_http_llm_recent_t *rec)
{
    ngx_atomic_uint_t       n;
    ngx_http_llm_recent_t  *e;

    n = ngx_atomic_fetch_add(&sh->recent_next, 1);
    e = &sh->recent[n % NGX_HTTP_LLM_M_RECENT];

    e->seq = 0;
    ngx_memory_barrier();

    e->end_ms = rec->end_ms;
    e->duration_ms = rec->duration_ms;
    e->score_milli = rec->score_milli;
    e->status = rec->status;
    e->who = rec->who;
    e->cls = rec->cls;
    e->reason = rec->reason;
    e->cache = rec->cache;

    ngx_memory_barrier();
    e->seq = n + 1;
}


/* a tier failed before answering; the request goes on to "to", if any */

void
ngx_http_llm_metrics_fallback(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t from, ngx_llm_tier_id_t to, ngx_uint_t status)
{
    ngx_uint_t  reason;

    if (to == NGX_LLM_NO_TIER) {
        return;
    }

    switch (status) {
    case 502: reason = 0; break;
    case 503: reason = 1; break;
    case 504: reason = 2; break;
    default:  reason = 3;
    }

    (void) ngx_atomic_fetch_add(
               &lmcf->tiers[from].sh->fallbacks_to[lmcf->tiers[to].slot]
                                                  [reason], 1);
}


/* keeps the last bytes of a tier's answer: the final chunk has the usage */

void
ngx_http_llm_metrics_tail(ngx_http_llm_ctx_t *ctx, ngx_chain_t *in)
{
    size_t      n, keep;
    ngx_buf_t  *b;

    if (ctx->tokens.tail == NULL) {
        ctx->tokens.tail = ngx_pnalloc(ctx->request->pool, NGX_HTTP_LLM_TAIL);
        if (ctx->tokens.tail == NULL) {
            return;
        }
    }

    for ( /* void */ ; in; in = in->next) {
        b = in->buf;

        if (!ngx_buf_in_memory(b)) {
            continue;
        }

        n = b->last - b->pos;

        if (n == 0) {
            continue;
        }

        if (n >= NGX_HTTP_LLM_TAIL) {
            ngx_memcpy(ctx->tokens.tail, b->last - NGX_HTTP_LLM_TAIL,
                       NGX_HTTP_LLM_TAIL);
            ctx->tokens.tail_len = NGX_HTTP_LLM_TAIL;
            continue;
        }

        if (ctx->tokens.tail_len + n > NGX_HTTP_LLM_TAIL) {
            keep = NGX_HTTP_LLM_TAIL - n;
            ngx_memmove(ctx->tokens.tail,
                        ctx->tokens.tail + ctx->tokens.tail_len - keep, keep);
            ctx->tokens.tail_len = keep;
        }

        ngx_memcpy(ctx->tokens.tail + ctx->tokens.tail_len, b->pos, n);
        ctx->tokens.tail_len += n;
    }
}


/*
 * Token counts from the final chunk: Ollama's prompt_eval_count,
 * eval_count and eval_duration (ns), or OpenAI's usage, streamed or not.
 * One pass over the tail: each quoted name is looked up once, and the
 * last value of a name wins (the final chunk comes last).
 */

typedef enum {
    NGX_HTTP_LLM_TOK_EVAL = 0,      /* Ollama: eval_count */
    NGX_HTTP_LLM_TOK_PROMPT_EVAL,   /* prompt_eval_count */
    NGX_HTTP_LLM_TOK_DURATION,      /* eval_duration, ns */
    NGX_HTTP_LLM_TOK_COMPLETION,    /* OpenAI: completion_tokens */
    NGX_HTTP_LLM_TOK_PROMPT,        /* prompt_tokens */
    NGX_HTTP_LLM_TOK_N
} ngx_http_llm_tok_e;


/* all of an answer's counts */
#define NGX_HTTP_LLM_TOK_OLLAMA                                               \
    ((1 << NGX_HTTP_LLM_TOK_EVAL) | (1 << NGX_HTTP_LLM_TOK_PROMPT_EVAL)       \
     | (1 << NGX_HTTP_LLM_TOK_DURATION))
#define NGX_HTTP_LLM_TOK_OPENAI                                               \
    ((1 << NGX_HTTP_LLM_TOK_COMPLETION) | (1 << NGX_HTTP_LLM_TOK_PROMPT))


static u_char *ngx_http_llm_colon_before(u_char *start, u_char *end);


/* a quoted name that ends at q, its closing quote: "name" */
#define ngx_http_llm_named(start, q, name)                                   \
    ((size_t) ((q) - (start)) > sizeof(name) - 1                              \
     && (q)[-(ngx_int_t) sizeof(name)] == '"'                                 \
     && ngx_memcmp((q) - (sizeof(name) - 1), name, sizeof(name) - 1) == 0)


/*
 * Which count the name that ends at q is, or NGX_ERROR.  Its fourth letter
 * from the end tells the names apart ("count", "duration", "tokens"),
 * then its length: most names are passed over with a look or two.
 */

static ngx_int_t
ngx_http_llm_token_name(u_char *start, u_char *q)
{
    if (q - start < 5) {
        return NGX_ERROR;
    }

    switch (q[-4]) {

    case 'o':
        if (ngx_http_llm_named(start, q, "eval_count")) {
            return NGX_HTTP_LLM_TOK_EVAL;
        }

        if (ngx_http_llm_named(start, q, "prompt_eval_count")) {
            return NGX_HTTP_LLM_TOK_PROMPT_EVAL;
        }

        break;

    case 't':
        if (ngx_http_llm_named(start, q, "eval_duration")) {
            return NGX_HTTP_LLM_TOK_DURATION;
        }

        break;

    case 'k':
        if (ngx_http_llm_named(start, q, "completion_tokens")) {
            return NGX_HTTP_LLM_TOK_COMPLETION;
        }

        if (ngx_http_llm_named(start, q, "prompt_tokens")) {
            return NGX_HTTP_LLM_TOK_PROMPT;
        }

        break;
    }

    return NGX_ERROR;
}


void
ngx_http_llm_metrics_tokens(ngx_http_llm_ctx_t *ctx)
{
    u_char      *start, *p, *q, *colon, *last;
    ngx_int_t    tok;
    ngx_uint_t   v, seen, value[NGX_HTTP_LLM_TOK_N];

    if (ctx->tokens.seen || ctx->tokens.tail_len == 0) {
        return;
    }

    start = ctx->tokens.tail;
    last = start + ctx->tokens.tail_len;
    colon = last;
    seen = 0;

    /*
     * Back from the end, at each colon, the name before it: a colon is
     * the one byte a JSON name always has next to it, so this does not
     * depend on where in a string the tail began.  The counts are in the
     * final chunk, at the end: the first value met of a name is its last,
     * and the pass stops once the answer's counts are all seen.
     */

    while (seen != NGX_HTTP_LLM_TOK_OLLAMA && seen != NGX_HTTP_LLM_TOK_OPENAI) {

        colon = ngx_http_llm_colon_before(start, colon);

        if (colon == NULL) {
            break;
        }

        /* a count is a number: most names are passed over here */

        for (p = colon + 1; p < last && *p == ' '; p++) { /* void */ }

        if (p == last || *p < '0' || *p > '9') {
            continue;
        }

        for (q = colon; q > start && q[-1] == ' '; q--) { /* void */ }

        if (q - start < 2 || q[-1] != '"') {
            continue;
        }

        tok = ngx_http_llm_token_name(start, q - 1);

        if (tok == NGX_ERROR || (seen & (1 << tok))) {
            continue;
        }

        for (v = 0; p < last && *p >= '0' && *p <= '9'; p++) {
            if (v < NGX_MAX_UINT32_VALUE) {
                v = v * 10 + (*p - '0');
            }
        }

        value[tok] = v;
        seen |= 1 << tok;
    }

    if (seen & (1 << NGX_HTTP_LLM_TOK_EVAL)) {
        ctx->tokens.out = value[NGX_HTTP_LLM_TOK_EVAL];

        if (seen & (1 << NGX_HTTP_LLM_TOK_PROMPT_EVAL)) {
            ctx->tokens.in = value[NGX_HTTP_LLM_TOK_PROMPT_EVAL];
        }

        if (seen & (1 << NGX_HTTP_LLM_TOK_DURATION)) {
            ctx->tokens.eval_us = value[NGX_HTTP_LLM_TOK_DURATION] / 1000;
        }

        ctx->tokens.seen = 1;
        return;
    }

    if (seen & (1 << NGX_HTTP_LLM_TOK_COMPLETION)) {
        ctx->tokens.out = value[NGX_HTTP_LLM_TOK_COMPLETION];

        if (seen & (1 << NGX_HTTP_LLM_TOK_PROMPT)) {
            ctx->tokens.in = value[NGX_HTTP_LLM_TOK_PROMPT];
        }

        ctx->tokens.seen = 1;
    }
}


/* the last colon in [start, end), or NULL */

static u_char *
ngx_http_llm_colon_before(u_char *start, u_char *end)
{
#if (NGX_LINUX)
    return memrchr(start, ':', end - start);
#else
    while (end > start) {
        if (*--end == ':') {
            return end;
        }
    }

    return NULL;
#endif
}
