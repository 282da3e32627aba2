
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Metrics: counters and histograms in the shared zone, updated with atomic
 * adds when a request ends, and the Prometheus text exposition (0.0.4)
 * that reads them without any lock.  Label sets are fixed and small: tier,
 * class, reason, cache result, status class; no per-request labels.
 */


#include "ngx_http_llm_metrics.h"
#include "ngx_http_llm_ctx.h"
#include "ngx_http_llm_state.h"
#include "ngx_http_llm_util.h"
#include "ngx_http_llm_redis.h"


#define NGX_HTTP_LLM_TAIL  1024


typedef struct {
    ngx_http_request_t   *request;
    ngx_chain_t          *out;
    ngx_chain_t          *cur;
    ngx_int_t             error;
} ngx_http_llm_text_t;


static void ngx_http_llm_hist_add(ngx_http_llm_hist_t *h, ngx_msec_t ms);
static ngx_int_t ngx_http_llm_number_after(u_char *p, u_char *last,
    char *name, ngx_uint_t *value);
static ngx_chain_t *ngx_http_llm_prom(ngx_http_request_t *r,
    ngx_http_llm_main_conf_t *lmcf);
static void ngx_http_llm_printf(ngx_http_llm_text_t *txt, const char *fmt,
    ...);
static void ngx_http_llm_prom_hist(ngx_http_llm_text_t *txt,
    const char *name, ngx_str_t *tier, ngx_http_llm_hist_t *h);


/* histogram bounds, milliseconds: 50 ms ... 60 s */
static ngx_msec_t  ngx_http_llm_bounds[NGX_HTTP_LLM_M_BUCKETS - 1] = {
    50, 100, 250, 500, 1000, 2000, 3000, 5000, 10000, 20000, 30000, 60000
};

static char  *ngx_http_llm_m_classes[NGX_HTTP_LLM_M_CLASSES] = {
    "simple", "medium", "complex", "none"
};

static char  *ngx_http_llm_m_cache[NGX_HTTP_LLM_M_CACHE] = {
    "off", "hit", "miss", "bypass", "error"
};

static char  *ngx_http_llm_m_codes[NGX_HTTP_LLM_M_CODES] = {
    "2xx", "3xx", "4xx", "5xx", "other"
};

static char  *ngx_http_llm_m_fallback[NGX_HTTP_LLM_M_FALLBACK] = {
    "502", "503", "504", "error"
};


static void
ngx_http_llm_hist_add(ngx_http_llm_hist_t *h, ngx_msec_t ms)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LLM_M_BUCKETS - 1; i++) {
        if (ms <= ngx_http_llm_bounds[i]) {
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
    ngx_uint_t                  cls, reason, cache, code, status, i;
    ngx_time_t                 *tp;
    ngx_http_request_t         *r;
    ngx_http_llm_sh_t          *sh;
    ngx_http_llm_served_t      *served;
    ngx_http_llm_tier_sh_t     *ts;
    ngx_http_upstream_state_t  *us;

    r = ctx->request;
    sh = ctx->lmcf->sh;
    ts = NULL;

    if (ctx->cache.status == NGX_HTTP_LLM_CACHE_HIT) {
        served = &sh->by_cache;

    } else if (ctx->tier != NGX_LLM_NO_TIER
               && ctx->counted != NGX_LLM_NO_TIER)
    {
        ts = ctx->lmcf->tiers[ctx->tier].sh;
        served = &ts->served;

    } else {
        served = &sh->by_none;
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

    ngx_http_llm_hist_add(&served->duration, ngx_max(ms, 0));

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
 */

void
ngx_http_llm_metrics_tokens(ngx_http_llm_ctx_t *ctx)
{
    u_char      *p, *last;
    ngx_uint_t   ns;

    if (ctx->tokens.seen || ctx->tokens.tail_len == 0) {
        return;
    }

    p = ctx->tokens.tail;
    last = p + ctx->tokens.tail_len;

    if (ngx_http_llm_number_after(p, last, "\"eval_count\":", &ctx->tokens.out)
        == NGX_OK)
    {
        (void) ngx_http_llm_number_after(p, last, "\"prompt_eval_count\":",
                                         &ctx->tokens.in);

        if (ngx_http_llm_number_after(p, last, "\"eval_duration\":", &ns)
            == NGX_OK)
        {
            ctx->tokens.eval_us = ns / 1000;
        }

        ctx->tokens.seen = 1;
        return;
    }

    if (ngx_http_llm_number_after(p, last, "\"completion_tokens\":",
                                  &ctx->tokens.out)
        == NGX_OK)
    {
        (void) ngx_http_llm_number_after(p, last, "\"prompt_tokens\":",
                                         &ctx->tokens.in);
        ctx->tokens.seen = 1;
    }
}


/* the number after the last occurrence of name in [p, last) */

static ngx_int_t
ngx_http_llm_number_after(u_char *p, u_char *last, char *name,
    ngx_uint_t *value)
{
    u_char      *found, *q;
    size_t       len;
    ngx_uint_t   v;

    len = ngx_strlen(name);
    found = NULL;

    for (q = p; q + len <= last; q++) {
        q = ngx_strlcasestrn(q, last, (u_char *) name, len - 1);

        if (q == NULL) {
            break;
        }

        found = q;
    }

    if (found == NULL) {
        return NGX_DECLINED;
    }

    q = found + len;

    while (q < last && *q == ' ') {
        q++;
    }

    if (q == last || *q < '0' || *q > '9') {
        return NGX_DECLINED;
    }

    for (v = 0; q < last && *q >= '0' && *q <= '9'; q++) {
        if (v < NGX_MAX_UINT32_VALUE) {
            v = v * 10 + (*q - '0');
        }
    }

    *value = v;

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_chain_t               *out, *cl;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);

    out = ngx_http_llm_prom(r, lmcf);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = 0;

    for (cl = out; cl; cl = cl->next) {
        r->headers_out.content_length_n += cl->buf->last - cl->buf->pos;

        if (cl->next == NULL) {
            cl->buf->last_buf = 1;
            cl->buf->last_in_chain = 1;
        }
    }

    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out);
}


static ngx_chain_t *
ngx_http_llm_prom(ngx_http_request_t *r, ngx_http_llm_main_conf_t *lmcf)
{
    ngx_str_t                label;
    ngx_uint_t               t, c, re, ca, i, j, up, down, w, breaker;
    ngx_http_llm_text_t      txt;
    ngx_http_llm_gpu_t      *gpu;
    ngx_http_llm_tier_t     *tier;
    ngx_http_llm_sh_t       *sh;
    ngx_http_llm_served_t   *sv;
    ngx_http_llm_gpu_sh_t   *gs;
    ngx_http_llm_tier_sh_t  *ts;

    sh = lmcf->sh;
    tier = lmcf->tiers;

    txt.request = r;
    txt.out = NULL;
    txt.cur = NULL;
    txt.error = 0;

#define P(...)  ngx_http_llm_printf(&txt, __VA_ARGS__)

    P("# HELP llm_router_requests_total LLM requests by tier, class, "
      "routing reason and cache result.\n"
      "# TYPE llm_router_requests_total counter\n");

    for (t = 0; (sv = ngx_http_llm_served_at(lmcf, t, &label)); t++) {
        for (c = 0; c < NGX_HTTP_LLM_M_CLASSES; c++) {
            for (re = 0; re < NGX_LLM_REASON_COUNT; re++) {
                for (ca = 0; ca < NGX_HTTP_LLM_M_CACHE; ca++) {

                    if (sv->requests[c][re][ca] == 0) {
                        continue;
                    }

                    P("llm_router_requests_total{tier=\"%V\",class=\"%s\","
                      "reason=\"%s\",cache=\"%s\"} %uA\n",
                      &label, ngx_http_llm_m_classes[c],
                      ngx_llm_reason_name((ngx_llm_reason_e) re),
                      ngx_http_llm_m_cache[ca], sv->requests[c][re][ca]);
                }
            }
        }
    }

    P("# HELP llm_router_responses_total LLM responses by tier and status "
      "class.\n# TYPE llm_router_responses_total counter\n");

    for (t = 0; (sv = ngx_http_llm_served_at(lmcf, t, &label)); t++) {
        for (c = 0; c < NGX_HTTP_LLM_M_CODES; c++) {
            if (sv->responses[c]) {
                P("llm_router_responses_total{tier=\"%V\",code=\"%s\"} "
                  "%uA\n", &label, ngx_http_llm_m_codes[c],
                  sv->responses[c]);
            }
        }
    }

    P("# HELP llm_router_request_duration_seconds Time from the request to "
      "the end of its answer.\n"
      "# TYPE llm_router_request_duration_seconds histogram\n");

    for (t = 0; (sv = ngx_http_llm_served_at(lmcf, t, &label)); t++) {
        ngx_http_llm_prom_hist(&txt, "llm_router_request_duration_seconds",
                               &label, &sv->duration);
    }

    P("# HELP llm_router_upstream_ttfb_seconds Time until the tier's first "
      "byte (its response header).\n"
      "# TYPE llm_router_upstream_ttfb_seconds histogram\n");

    for (t = 0; t < lmcf->ntiers; t++) {
        ngx_http_llm_prom_hist(&txt, "llm_router_upstream_ttfb_seconds",
                               &tier[t].name, &tier[t].sh->ttfb);
    }

    P("# HELP llm_router_inflight_requests Requests being answered by each "
      "tier now.\n# TYPE llm_router_inflight_requests gauge\n");

    for (t = 0; t < lmcf->ntiers; t++) {
        P("llm_router_inflight_requests{tier=\"%V\"} %uA\n",
          &tier[t].name, tier[t].sh->inflight);
    }

    P("# HELP llm_router_max_inflight_requests Configured capacity of each "
      "tier.\n# TYPE llm_router_max_inflight_requests gauge\n");

    for (t = 0; t < lmcf->ntiers; t++) {
        P("llm_router_max_inflight_requests{tier=\"%V\"} %ui\n",
          &tier[t].name, tier[t].max_inflight);
    }

    P("# HELP llm_router_fallbacks_total Requests retried on the other tier, "
      "by the failing tier's answer.\n"
      "# TYPE llm_router_fallbacks_total counter\n");

    for (t = 0; t < lmcf->ntiers; t++) {
        for (j = 0; j < lmcf->ntiers; j++) {
            if (j == t) {
                continue;
            }

            for (i = 0; i < NGX_HTTP_LLM_M_FALLBACK; i++) {
                P("llm_router_fallbacks_total{from=\"%V\",to=\"%V\","
                  "reason=\"%s\"} %uA\n",
                  &tier[t].name, &tier[j].name, ngx_http_llm_m_fallback[i],
                  tier[t].sh->fallbacks_to[tier[j].slot][i]);
            }
        }
    }

    P("# HELP llm_router_breaker_state Circuit breaker: 0 closed, 1 open, "
      "2 half-open.\n# TYPE llm_router_breaker_state gauge\n");

    for (t = 0; t < lmcf->ntiers; t++) {
        ts = tier[t].sh;
        breaker = 0;

        if (ts->breaker == NGX_HTTP_LLM_BREAKER_OPEN) {
            breaker = ((ngx_msec_int_t) (ngx_current_msec
                                         - (ngx_msec_t) ts->opened_at)
                       >= (ngx_msec_int_t) lmcf->breaker_cooldown) ? 2 : 1;
        }

        P("llm_router_breaker_state{tier=\"%V\"} %ui\n",
          &tier[t].name, breaker);
    }

    P("# HELP llm_router_tier_up 1 if the tier answers its health check, 0 "
      "if not (absent before the first check).\n"
      "# TYPE llm_router_tier_up gauge\n");

    for (t = 0; t < lmcf->ntiers; t++) {
        ts = tier[t].sh;

        if (ts->health != NGX_HTTP_LLM_UNKNOWN) {
            P("llm_router_tier_up{tier=\"%V\"} %d\n",
              &tier[t].name, ts->health == NGX_HTTP_LLM_YES);
        }
    }

    P("# HELP llm_router_tier_model_loaded 1 if the tier's model is loaded "
      "(from /api/ps).\n# TYPE llm_router_tier_model_loaded gauge\n");

    for (t = 0; t < lmcf->ntiers; t++) {
        ts = tier[t].sh;

        if (ts->loaded != NGX_HTTP_LLM_UNKNOWN) {
            P("llm_router_tier_model_loaded{tier=\"%V\"} %d\n",
              &tier[t].name, ts->loaded == NGX_HTTP_LLM_YES);
        }
    }

    P("# HELP llm_router_tier_refusals_total Answers by which a tier "
      "refused the router (401, 403, 407, 421: a loopback Ollama's Host "
      "guard, say).\n# TYPE llm_router_tier_refusals_total counter\n");

    for (t = 0; t < lmcf->ntiers; t++) {
        P("llm_router_tier_refusals_total{tier=\"%V\"} %uA\n",
          &tier[t].name, tier[t].sh->refusals);
    }

    P("# HELP llm_router_health_checks_total Health check results.\n"
      "# TYPE llm_router_health_checks_total counter\n");

    for (t = 0; t < lmcf->ntiers; t++) {
        P("llm_router_health_checks_total{tier=\"%V\",result=\"up\"} %uA\n"
          "llm_router_health_checks_total{tier=\"%V\",result=\"down\"} "
          "%uA\n",
          &tier[t].name, tier[t].sh->health_checks[0],
          &tier[t].name, tier[t].sh->health_checks[1]);
    }

    P("# HELP llm_router_cache_requests_total Cache lookups by result.\n"
      "# TYPE llm_router_cache_requests_total counter\n");

    for (ca = 1; ca < NGX_HTTP_LLM_M_CACHE; ca++) {
        P("llm_router_cache_requests_total{result=\"%s\"} %uA\n",
          ngx_http_llm_m_cache[ca], sh->cache[ca]);
    }

    P("# HELP llm_router_cache_stores_total Answers written to the cache.\n"
      "# TYPE llm_router_cache_stores_total counter\n"
      "llm_router_cache_stores_total %uA\n"
      "# HELP llm_router_cache_single_flight_waits_total Requests that "
      "waited for an identical one's answer.\n"
      "# TYPE llm_router_cache_single_flight_waits_total counter\n"
      "llm_router_cache_single_flight_waits_total %uA\n",
      sh->cache_stores, sh->cache_waits);

    if (lmcf->redis != NULL) {
        up = 0;
        down = 0;

        for (w = 0; w < NGX_HTTP_LLM_M_WORKERS; w++) {
            up += (sh->redis[w] == NGX_HTTP_LLM_REDIS_SHARED_UP);
            down += (sh->redis[w] == NGX_HTTP_LLM_REDIS_SHARED_DOWN);
        }

        P("# HELP llm_router_redis_up 1 if every worker is connected to "
          "Redis.\n# TYPE llm_router_redis_up gauge\n"
          "llm_router_redis_up %d\n"
          "# HELP llm_router_redis_connected_workers Workers connected to "
          "Redis.\n# TYPE llm_router_redis_connected_workers gauge\n"
          "llm_router_redis_connected_workers %ui\n",
          up > 0 && down == 0, up);
    }

    P("# HELP llm_router_prompt_tokens_total Prompt tokens reported by the "
      "tiers.\n# TYPE llm_router_prompt_tokens_total counter\n");

    for (t = 0; t < lmcf->ntiers; t++) {
        P("llm_router_prompt_tokens_total{tier=\"%V\"} %uA\n",
          &tier[t].name, tier[t].sh->prompt_tokens);
    }

    P("# HELP llm_router_completion_tokens_total Generated tokens reported "
      "by the tiers.\n# TYPE llm_router_completion_tokens_total counter\n");

    for (t = 0; t < lmcf->ntiers; t++) {
        P("llm_router_completion_tokens_total{tier=\"%V\"} %uA\n",
          &tier[t].name, tier[t].sh->completion_tokens);
    }

    P("# HELP llm_router_generation_seconds_total Generation time reported "
      "by the tiers (Ollama eval_duration); tokens/s = rate(completion "
      "tokens) / rate(this).\n"
      "# TYPE llm_router_generation_seconds_total counter\n");

    for (t = 0; t < lmcf->ntiers; t++) {
        ts = tier[t].sh;

        P("llm_router_generation_seconds_total{tier=\"%V\"} %uA.%06uA\n",
          &tier[t].name, ts->generation_us / 1000000,
          ts->generation_us % 1000000);
    }

    P("# HELP llm_router_complexity_score Classifier scores.\n"
      "# TYPE llm_router_complexity_score histogram\n");

    for (i = 0, c = 0; i < NGX_HTTP_LLM_M_SCORES; i++) {
        c += sh->score[i];

        if (i + 1 < NGX_HTTP_LLM_M_SCORES) {
            P("llm_router_complexity_score_bucket{le=\"0.%ui\"} %ui\n",
              i + 1, c);

        } else {
            P("llm_router_complexity_score_bucket{le=\"1\"} %ui\n"
              "llm_router_complexity_score_bucket{le=\"+Inf\"} %ui\n", c, c);
        }
    }

    P("llm_router_complexity_score_sum %uA.%03uA\n"
      "llm_router_complexity_score_count %uA\n",
      sh->score_sum_milli / 1000, sh->score_sum_milli % 1000,
      sh->score_count);

    gpu = lmcf->gpus.elts;

    if (lmcf->gpus.nelts) {
        P("# HELP llm_router_gpu_vram_used_bytes VRAM in use.\n"
          "# TYPE llm_router_gpu_vram_used_bytes gauge\n");
    }

    for (i = 0; i < lmcf->gpus.nelts; i++) {
        if (ngx_http_llm_gpu_vram(lmcf, i) >= 0) {
            P("llm_router_gpu_vram_used_bytes{gpu=\"%V\"} %uA\n",
              &gpu[i].name, lmcf->sh->gpus[i].used);
        }
    }

    if (lmcf->gpus.nelts) {
        P("# HELP llm_router_gpu_vram_total_bytes VRAM size.\n"
          "# TYPE llm_router_gpu_vram_total_bytes gauge\n");
    }

    for (i = 0; i < lmcf->gpus.nelts; i++) {
        if (ngx_http_llm_gpu_vram(lmcf, i) >= 0) {
            P("llm_router_gpu_vram_total_bytes{gpu=\"%V\"} %uA\n",
              &gpu[i].name, lmcf->sh->gpus[i].total);
        }
    }

    if (lmcf->gpus.nelts) {
        P("# HELP llm_router_gpu_vram_used_ratio VRAM in use, 0 to 1.\n"
          "# TYPE llm_router_gpu_vram_used_ratio gauge\n");
    }

    for (i = 0; i < lmcf->gpus.nelts; i++) {
        if (ngx_http_llm_gpu_vram(lmcf, i) >= 0) {
            P("llm_router_gpu_vram_used_ratio{gpu=\"%V\"} %.4f\n",
              &gpu[i].name, ngx_http_llm_gpu_vram(lmcf, i));
        }
    }

    if (lmcf->gpus.nelts) {
        P("# HELP llm_router_gpu_busy_ratio GPU busy, 0 to 1.\n"
          "# TYPE llm_router_gpu_busy_ratio gauge\n"
          "# HELP llm_router_gpu_temperature_celsius GPU edge temperature.\n"
          "# TYPE llm_router_gpu_temperature_celsius gauge\n"
          "# HELP llm_router_gpu_power_watts GPU average power.\n"
          "# TYPE llm_router_gpu_power_watts gauge\n");
    }

    for (i = 0; i < lmcf->gpus.nelts; i++) {
        gs = &lmcf->sh->gpus[i];

        if (ngx_http_llm_gpu_vram(lmcf, i) < 0) {
            continue;
        }

        if (gs->busy) {
            P("llm_router_gpu_busy_ratio{gpu=\"%V\"} %.2f\n", &gpu[i].name,
              (double) (gs->busy - 1) / 100);
        }

        if (gs->temp) {
            P("llm_router_gpu_temperature_celsius{gpu=\"%V\"} %.1f\n",
              &gpu[i].name, (double) (gs->temp - 1) / 1000);
        }

        if (gs->power) {
            P("llm_router_gpu_power_watts{gpu=\"%V\"} %.1f\n", &gpu[i].name,
              (double) (gs->power - 1) / 1e6);
        }
    }

    P("# HELP llm_router_tier_info The model each tier serves.\n"
      "# TYPE llm_router_tier_info gauge\n");

    for (t = 0; t < lmcf->ntiers; t++) {
        P("llm_router_tier_info{tier=\"%V\",model=\"%V\"} 1\n",
          &tier[t].name, &tier[t].model);
    }

#undef P

    return txt.error ? NULL : txt.out;
}


static void
ngx_http_llm_prom_hist(ngx_http_llm_text_t *txt, const char *name,
    ngx_str_t *tier, ngx_http_llm_hist_t *h)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  n;

    n = 0;

    for (i = 0; i < NGX_HTTP_LLM_M_BUCKETS - 1; i++) {
        n += h->bucket[i];

        ngx_http_llm_printf(txt, "%s_bucket{tier=\"%V\",le=\"%M.%03M\"} "
                            "%uA\n", name, tier,
                            ngx_http_llm_bounds[i] / 1000,
                            ngx_http_llm_bounds[i] % 1000, n);
    }

    n += h->bucket[i];

    ngx_http_llm_printf(txt, "%s_bucket{tier=\"%V\",le=\"+Inf\"} %uA\n"
                        "%s_sum{tier=\"%V\"} %uA.%03uA\n"
                        "%s_count{tier=\"%V\"} %uA\n",
                        name, tier, n,
                        name, tier, h->sum_ms / 1000, h->sum_ms % 1000,
                        name, tier, n);
}


/* appends formatted text to a chain of 4 KB buffers */

static void
ngx_http_llm_printf(ngx_http_llm_text_t *txt, const char *fmt, ...)
{
    u_char        tmp[2048], *p;
    size_t        len;
    va_list       args;
    ngx_chain_t  *cl;

    if (txt->error) {
        return;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(tmp, tmp + sizeof(tmp), fmt, args);
    va_end(args);

    len = p - tmp;
    cl = txt->cur;

    if (cl == NULL || (size_t) (cl->buf->end - cl->buf->last) < len) {
        cl = ngx_alloc_chain_link(txt->request->pool);
        if (cl == NULL) {
            txt->error = 1;
            return;
        }

        cl->buf = ngx_create_temp_buf(txt->request->pool,
                                      ngx_max(len, 4096));
        if (cl->buf == NULL) {
            txt->error = 1;
            return;
        }

        cl->next = NULL;

        if (txt->cur == NULL) {
            txt->out = cl;

        } else {
            txt->cur->next = cl;
        }

        txt->cur = cl;
    }

    cl->buf->last = ngx_cpymem(cl->buf->last, tmp, len);
}
