
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The metrics table.  Each row of ngx_http_llm_metrics[] is one metric:
 * its Prometheus name, help and type; whose series it has (the zone's,
 * each tier's, each tier and the cache and no one's, each pair of tiers',
 * each GPU's, each server's of each tier's upstream{}) and its inner
 * labels; where its number is (an atomic at an offset in that member's
 * struct, indexed by the inner labels, or a read function); and its key
 * in the status JSON.  The Prometheus text, the JSON and the status page
 * walk this table, in this order.
 *
 * To add a metric: add its atomic to the zone's structs
 * (ngx_http_llm_state.h), one row here, and the line that counts it in
 * ngx_http_llm_metrics.c.  Nothing else: it shows in Prometheus, and in
 * the JSON and on the status page if the row has a JSON key.
 */


#include "ngx_http_llm_table.h"
#include "ngx_http_llm_balance.h"
#include "ngx_http_llm_redis.h"
#include "ngx_http_llm_similar.h"


#define NGX_HTTP_LLM_TIER_ROW(field)                                          \
    offsetof(ngx_http_llm_tier_sh_t, field)
#define NGX_HTTP_LLM_SERVED_ROW(field)                                        \
    offsetof(ngx_http_llm_served_t, field)
#define NGX_HTTP_LLM_ZONE_ROW(field)                                          \
    offsetof(ngx_http_llm_sh_t, field)
#define NGX_HTTP_LLM_GPU_ROW(field)                                           \
    offsetof(ngx_http_llm_gpu_sh_t, field)
#define NGX_HTTP_LLM_SIMILAR_ROW(field)                                       \
    offsetof(ngx_http_llm_similar_stats_t, field)
#define NGX_HTTP_LLM_SERVER_ROW(field)                                        \
    offsetof(ngx_http_llm_server_sh_t, field)


static void ngx_http_llm_read_max_inflight(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_queue(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_breaker(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_resident(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_health(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_balanced(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_affinity(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_server_up(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_share_age(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_one(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_redis_up(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_redis_workers(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_gpu(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_vram_ratio(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_vram_percent(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_gpu_plus_one(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
static void ngx_http_llm_read_duration(ngx_http_llm_series_t *s,
    ngx_http_llm_hist_read_t *h);
static void ngx_http_llm_read_score(ngx_http_llm_series_t *s,
    ngx_http_llm_hist_read_t *h);


/* histogram bounds, milliseconds: 50 ms ... 60 s */

static ngx_msec_t  ngx_http_llm_duration_ms[] = {
    50, 100, 250, 500, 1000, 2000, 3000, 5000, 10000, 20000, 30000, 60000
};

static char  *ngx_http_llm_duration_le[] = {
    "0.050", "0.100", "0.250", "0.500", "1.000", "2.000", "3.000", "5.000",
    "10.000", "20.000", "30.000", "60.000"
};

ngx_http_llm_bounds_t  ngx_http_llm_duration_bounds = {
    NGX_HTTP_LLM_M_BUCKETS - 1, ngx_http_llm_duration_ms,
    ngx_http_llm_duration_le
};


/* complexity scores, in thousandths */

static ngx_msec_t  ngx_http_llm_score_milli[] = {
    100, 200, 300, 400, 500, 600, 700, 800, 900, 1000
};

static char  *ngx_http_llm_score_le[] = {
    "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1"
};

static ngx_http_llm_bounds_t  ngx_http_llm_score_bounds = {
    NGX_HTTP_LLM_M_SCORES, ngx_http_llm_score_milli, ngx_http_llm_score_le
};


/* the inner labels */

static char  *ngx_http_llm_classes[] = {
    "simple", "medium", "complex", "none"
};

static char  *ngx_http_llm_caches[] = {
    "off", "hit", "miss", "bypass", "error", "hit-similar"
};

/* why no similar prompt matched (ngx_llm_similar_e, "match" not shown) */
static char  *ngx_http_llm_similar_whys[] = {
    "match", "numbers", "negation", "length", "word", "similarity",
    "invalid"
};

static char  *ngx_http_llm_codes[] = {
    "2xx", "3xx", "4xx", "5xx", "other"
};

static char  *ngx_http_llm_fallback_whys[] = {
    "502", "503", "504", "error"
};

static char  *ngx_http_llm_checks[] = {
    "up", "down"
};

ngx_http_llm_label_t  ngx_http_llm_label_class = {
    "class", 0, NGX_HTTP_LLM_M_CLASSES, ngx_http_llm_classes
};

static ngx_http_llm_label_t  ngx_http_llm_label_reason = {
    "reason", 0, NGX_LLM_REASON_COUNT, NULL
};

ngx_http_llm_label_t  ngx_http_llm_label_cache = {
    "cache", 0, NGX_HTTP_LLM_M_CACHE, ngx_http_llm_caches
};

static ngx_http_llm_label_t  ngx_http_llm_label_code = {
    "code", 0, NGX_HTTP_LLM_M_CODES, ngx_http_llm_codes
};

static ngx_http_llm_label_t  ngx_http_llm_label_fallback = {
    "reason", 0, NGX_HTTP_LLM_M_FALLBACK, ngx_http_llm_fallback_whys
};

static ngx_http_llm_label_t  ngx_http_llm_label_similar = {
    "reason", 1, NGX_HTTP_LLM_SIMILAR_REASONS, ngx_http_llm_similar_whys
};

static ngx_http_llm_label_t  ngx_http_llm_label_check = {
    "result", 0, 2, ngx_http_llm_checks
};

/* a lookup's result: not "off", a request the cache did not see */
static ngx_http_llm_label_t  ngx_http_llm_label_lookup = {
    "result", NGX_HTTP_LLM_CACHE_HIT, NGX_HTTP_LLM_M_CACHE,
    ngx_http_llm_caches
};

static ngx_http_llm_label_t  ngx_http_llm_label_model = {
    "model", 0, 0, NULL
};


char  *ngx_http_llm_type_names[] = { "counter", "gauge", "histogram" };

char  *ngx_http_llm_by_names[] = {
    "zone", "served", "tier", "pair", "gpu", "similar", "server"
};

/* a server the zone has no slot for: nothing counted, residency unknown */
static ngx_http_llm_server_sh_t  ngx_http_llm_server_none;

static char  *ngx_http_llm_breaker_names[] = {
    "closed", "open", "half-open"
};


#define C  NGX_HTTP_LLM_COUNTER
#define G  NGX_HTTP_LLM_GAUGE
#define H  NGX_HTTP_LLM_HISTOGRAM

ngx_http_llm_metric_t  ngx_http_llm_metrics[] = {

    { "llm_router_requests_total",
      "LLM requests by tier, class, routing reason and cache result.",
      C, NGX_HTTP_LLM_BY_SERVED,
      { &ngx_http_llm_label_class, &ngx_http_llm_label_reason,
        &ngx_http_llm_label_cache },
      NGX_HTTP_LLM_SERVED_ROW(requests), 0, NULL, NULL, NULL,
      NULL, NGX_HTTP_LLM_F_NONZERO },

    { "llm_router_responses_total",
      "LLM responses by tier and status class.",
      C, NGX_HTTP_LLM_BY_SERVED, { &ngx_http_llm_label_code },
      NGX_HTTP_LLM_SERVED_ROW(responses), 0, NULL, NULL, NULL,
      "responses", NGX_HTTP_LLM_F_NONZERO },

    { "llm_router_request_duration_seconds",
      "Time from the request to the end of its answer.",
      H, NGX_HTTP_LLM_BY_SERVED, { NULL },
      NGX_HTTP_LLM_SERVED_ROW(duration), 0, NULL,
      &ngx_http_llm_duration_bounds, ngx_http_llm_read_duration,
      "duration_seconds", 0 },

    { "llm_router_upstream_ttfb_seconds",
      "Time until the tier's first byte (its response header).",
      H, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(ttfb), 0, NULL,
      &ngx_http_llm_duration_bounds, ngx_http_llm_read_duration,
      "ttfb_seconds", 0 },

    { "llm_router_inflight_requests",
      "Requests being answered by each tier now.",
      G, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(inflight), 0, NULL, NULL, NULL,
      "inflight", 0 },

    { "llm_router_max_inflight_requests",
      "Configured capacity of each tier.",
      G, NGX_HTTP_LLM_BY_TIER, { NULL },
      0, 0, ngx_http_llm_read_max_inflight, NULL, NULL,
      "max_inflight", 0 },

    { "llm_router_queue",
      "Requests a full tier may queue (llm_router_tier queue=).",
      G, NGX_HTTP_LLM_BY_TIER, { NULL },
      0, 0, ngx_http_llm_read_queue, NULL, NULL,
      "queue", NGX_HTTP_LLM_F_JSON },

    { "llm_router_tier_requests",
      "Requests sent to the tier, fallbacks included.",
      C, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(requests), 0, NULL, NULL, NULL,
      "requests", NGX_HTTP_LLM_F_JSON },

    { "llm_router_tier_fallbacks",
      "Requests the tier failed and another tier was asked.",
      C, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(fallbacks), 0, NULL, NULL, NULL,
      "fallbacks", NGX_HTTP_LLM_F_JSON },

    { "llm_router_tier_failures",
      "The tier's failures in a row (the breaker opens at "
      "llm_router_breaker failures=).",
      G, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(failures), 0, NULL, NULL, NULL,
      "failures", NGX_HTTP_LLM_F_JSON },

    { "llm_router_fallbacks_total",
      "Requests retried on the other tier, by the failing tier's answer.",
      C, NGX_HTTP_LLM_BY_PAIR, { &ngx_http_llm_label_fallback },
      NGX_HTTP_LLM_TIER_ROW(fallbacks_to), 0, NULL, NULL, NULL,
      NULL, 0 },

    { "llm_router_breaker_state",
      "Circuit breaker: 0 closed, 1 open, 2 half-open.",
      G, NGX_HTTP_LLM_BY_TIER, { NULL },
      0, 0, ngx_http_llm_read_breaker, NULL, NULL,
      NULL, 0 },

    { "llm_router_tier_up",
      "1 if the tier answers its health check, 0 if not (absent before "
      "the first check).",
      G, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(health), 0, ngx_http_llm_read_health,
      NULL, NULL, NULL, 0 },

    { "llm_router_tier_model_loaded",
      "1 if the tier's model is loaded (from /api/ps).",
      G, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(loaded), 0, ngx_http_llm_read_health,
      NULL, NULL, NULL, 0 },

    { "llm_router_tier_shared_inflight",
      "Requests the other routers have in flight on the tier "
      "(llm_router_share), as last read from Redis.",
      G, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(others), 0, NULL, NULL, NULL,
      "shared_inflight", 0 },

    { "llm_router_tier_share_slots",
      "Requests this router may have in flight on the tier "
      "(llm_router_share): its grant from Redis, or the tier's whole "
      "room when it counts alone.",
      G, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(grant), 0, NULL, NULL, NULL,
      NULL, NGX_HTTP_LLM_F_REDIS },

    { "llm_router_share_routers",
      "Other routers whose counts were read from Redis (llm_router_share).",
      G, NGX_HTTP_LLM_BY_ZONE, { NULL },
      NGX_HTTP_LLM_ZONE_ROW(share_routers), 0, NULL, NULL, NULL,
      NULL, NGX_HTTP_LLM_F_REDIS },

    { "llm_router_share_age_seconds",
      "Seconds since the other routers' counts were last read from Redis "
      "(llm_router_share); absent before the first reading.",
      G, NGX_HTTP_LLM_BY_ZONE, { NULL },
      0, 3, ngx_http_llm_read_share_age, NULL, NULL,
      "share_age_seconds", NGX_HTTP_LLM_F_SHARE },

    { "llm_router_tier_servers_resident",
      "The tier's servers with its model loaded (each server's /api/ps, "
      "for llm_router_balance).",
      G, NGX_HTTP_LLM_BY_TIER, { NULL },
      0, 0, ngx_http_llm_read_resident, NULL, NULL,
      "servers_resident", 0 },

    { "llm_router_tier_affinity_hits_total",
      "Picks of llm_router_balance affinity that sent a conversation's "
      "request to its own server.",
      C, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(affinity[0]), 0, ngx_http_llm_read_affinity,
      NULL, NULL, "affinity_hits", NGX_HTTP_LLM_F_OMIT },

    { "llm_router_tier_affinity_misses_total",
      "Picks of llm_router_balance affinity that sent a conversation's "
      "request elsewhere: its server was cold, down, failed, full, already "
      "tried or busier than margin.",
      C, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(affinity[1]), 0, ngx_http_llm_read_affinity,
      NULL, NULL, "affinity_misses", NGX_HTTP_LLM_F_OMIT },

    { "llm_router_server_inflight_requests",
      "Requests llm_router_balance sent to the server that have not ended.",
      G, NGX_HTTP_LLM_BY_SERVER, { NULL },
      NGX_HTTP_LLM_SERVER_ROW(inflight), 0, ngx_http_llm_read_balanced,
      NULL, NULL, "inflight", 0 },

    { "llm_router_server_model_resident",
      "1 if the tier's model is loaded on the server (its /api/ps), 0 if "
      "not; absent while it does not answer.",
      G, NGX_HTTP_LLM_BY_SERVER, { NULL },
      NGX_HTTP_LLM_SERVER_ROW(resident), 0, ngx_http_llm_read_health,
      NULL, NULL, NULL, 0 },

    { "llm_router_server_up",
      "1 if llm_router_balance may send the server requests, 0 if it is "
      "marked down or failed (max_fails within fail_timeout).",
      G, NGX_HTTP_LLM_BY_SERVER, { NULL },
      0, 0, ngx_http_llm_read_server_up, NULL, NULL,
      NULL, 0 },

    { "llm_router_tier_refusals_total",
      "Answers by which a tier refused the router (401, 403, 407, 421: a "
      "loopback Ollama's Host guard, say).",
      C, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(refusals), 0, NULL, NULL, NULL,
      "refusals", 0 },

    { "llm_router_tier_budget_tokens_total",
      "Tokens counted against the tier's budgets (llm_router_budget), "
      "by this router.",
      C, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(budget_tokens), 0, NULL, NULL, NULL,
      "budget_tokens", 0 },

    { "llm_router_tier_budget_refusals_total",
      "Requests that found the tenant's budget for the tier spent.",
      C, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(budget_refusals), 0, NULL, NULL, NULL,
      "budget_refusals", 0 },

    { "llm_router_health_checks_total",
      "Health check results.",
      C, NGX_HTTP_LLM_BY_TIER, { &ngx_http_llm_label_check },
      NGX_HTTP_LLM_TIER_ROW(health_checks), 0, NULL, NULL, NULL,
      "health_checks", 0 },

    { "llm_router_cache_requests_total",
      "Cache lookups by result.",
      C, NGX_HTTP_LLM_BY_ZONE, { &ngx_http_llm_label_lookup },
      NGX_HTTP_LLM_ZONE_ROW(cache), 0, NULL, NULL, NULL,
      NULL, 0 },

    { "llm_router_cache_stores_total",
      "Answers written to the cache.",
      C, NGX_HTTP_LLM_BY_ZONE, { NULL },
      NGX_HTTP_LLM_ZONE_ROW(cache_stores), 0, NULL, NULL, NULL,
      "stores", NGX_HTTP_LLM_F_CACHE },

    { "llm_router_cache_single_flight_waits_total",
      "Requests that waited for an identical one's answer.",
      C, NGX_HTTP_LLM_BY_ZONE, { NULL },
      NGX_HTTP_LLM_ZONE_ROW(cache_waits), 0, NULL, NULL, NULL,
      "single_flight_waits", NGX_HTTP_LLM_F_CACHE },

    { "llm_router_cache_similar_lookups_total",
      "Exact misses looked up in the similar-prompt cache.",
      C, NGX_HTTP_LLM_BY_SIMILAR, { NULL },
      NGX_HTTP_LLM_SIMILAR_ROW(lookups), 0, NULL, NULL, NULL,
      "lookups", 0 },

    { "llm_router_cache_similar_hits_total",
      "Answers replayed for a near-identical prompt (HIT-SIMILAR).",
      C, NGX_HTTP_LLM_BY_SIMILAR, { NULL },
      NGX_HTTP_LLM_SIMILAR_ROW(hits), 0, NULL, NULL, NULL,
      "hits", 0 },

    { "llm_router_cache_similar_rejects_total",
      "Lookups with no match, by why the nearest prompt of the partition "
      "was refused.",
      C, NGX_HTTP_LLM_BY_SIMILAR, { &ngx_http_llm_label_similar },
      NGX_HTTP_LLM_SIMILAR_ROW(rejects), 0, NULL, NULL, NULL,
      "rejects", 0 },

    { "llm_router_cache_similar_stale_total",
      "Matches whose answer was gone from Redis (the entry is dropped).",
      C, NGX_HTTP_LLM_BY_SIMILAR, { NULL },
      NGX_HTTP_LLM_SIMILAR_ROW(stale), 0, NULL, NULL, NULL,
      "stale", 0 },

    { "llm_router_cache_similar_bypassed_total",
      "Requests not compared: not text only (images, tools, a format), "
      "or a text too long or empty.",
      C, NGX_HTTP_LLM_BY_SIMILAR, { NULL },
      NGX_HTTP_LLM_SIMILAR_ROW(bypassed), 0, NULL, NULL, NULL,
      "bypassed", 0 },

    { "llm_router_cache_similar_entries",
      "Prompts the similar-prompt cache holds.",
      G, NGX_HTTP_LLM_BY_SIMILAR, { NULL },
      NGX_HTTP_LLM_SIMILAR_ROW(entries), 0, NULL, NULL, NULL,
      "entries", 0 },

    { "llm_router_cache_similar_capacity",
      "Prompts it can hold (llm_cache_similar_zone entries=).",
      G, NGX_HTTP_LLM_BY_SIMILAR, { NULL },
      NGX_HTTP_LLM_SIMILAR_ROW(capacity), 0, NULL, NULL, NULL,
      "capacity", 0 },

    { "llm_router_redis_up",
      "1 if every worker is connected to Redis.",
      G, NGX_HTTP_LLM_BY_ZONE, { NULL },
      0, 0, ngx_http_llm_read_redis_up, NULL, NULL,
      NULL, NGX_HTTP_LLM_F_REDIS },

    { "llm_router_redis_connected_workers",
      "Workers connected to Redis.",
      G, NGX_HTTP_LLM_BY_ZONE, { NULL },
      0, 0, ngx_http_llm_read_redis_workers, NULL, NULL,
      "redis_workers", NGX_HTTP_LLM_F_REDIS|NGX_HTTP_LLM_F_CACHE },

    { "llm_router_prompt_tokens_total",
      "Prompt tokens reported by the tiers.",
      C, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(prompt_tokens), 0, NULL, NULL, NULL,
      "prompt_tokens", 0 },

    { "llm_router_completion_tokens_total",
      "Generated tokens reported by the tiers.",
      C, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(completion_tokens), 0, NULL, NULL, NULL,
      "completion_tokens", 0 },

    { "llm_router_generation_seconds_total",
      "Generation time reported by the tiers (Ollama eval_duration); "
      "tokens/s = rate(completion tokens) / rate(this).",
      C, NGX_HTTP_LLM_BY_TIER, { NULL },
      NGX_HTTP_LLM_TIER_ROW(generation_us), 6, NULL, NULL, NULL,
      "generation_seconds", 0 },

    { "llm_router_complexity_score",
      "Classifier scores.",
      H, NGX_HTTP_LLM_BY_ZONE, { NULL },
      0, 0, NULL, &ngx_http_llm_score_bounds, ngx_http_llm_read_score,
      "complexity_score", 0 },

    { "llm_router_gpu_vram_used_bytes",
      "VRAM in use.",
      G, NGX_HTTP_LLM_BY_GPU, { NULL },
      NGX_HTTP_LLM_GPU_ROW(used), 0, ngx_http_llm_read_gpu, NULL, NULL,
      "vram_used_bytes", 0 },

    { "llm_router_gpu_vram_total_bytes",
      "VRAM size.",
      G, NGX_HTTP_LLM_BY_GPU, { NULL },
      NGX_HTTP_LLM_GPU_ROW(total), 0, ngx_http_llm_read_gpu, NULL, NULL,
      "vram_total_bytes", 0 },

    { "llm_router_gpu_vram_used_ratio",
      "VRAM in use, 0 to 1.",
      G, NGX_HTTP_LLM_BY_GPU, { NULL },
      0, 4, ngx_http_llm_read_vram_ratio, NULL, NULL,
      NULL, 0 },

    { "llm_router_gpu_vram_percent",
      "VRAM in use, percent.",
      G, NGX_HTTP_LLM_BY_GPU, { NULL },
      0, 1, ngx_http_llm_read_vram_percent, NULL, NULL,
      "vram_percent", NGX_HTTP_LLM_F_JSON },

    /* busy: percent + 1, 0 for none */

    { "llm_router_gpu_busy_ratio",
      "GPU busy, 0 to 1.",
      G, NGX_HTTP_LLM_BY_GPU, { NULL },
      NGX_HTTP_LLM_GPU_ROW(busy), 2, ngx_http_llm_read_gpu_plus_one,
      NULL, NULL, NULL, 0 },

    { "llm_router_gpu_busy_percent",
      "GPU busy, percent.",
      G, NGX_HTTP_LLM_BY_GPU, { NULL },
      NGX_HTTP_LLM_GPU_ROW(busy), 0, ngx_http_llm_read_gpu_plus_one,
      NULL, NULL, "busy_percent", NGX_HTTP_LLM_F_JSON|NGX_HTTP_LLM_F_OMIT },

    /* temp: millidegrees + 1; power: microwatts + 1 */

    { "llm_router_gpu_temperature_celsius",
      "GPU edge temperature.",
      G, NGX_HTTP_LLM_BY_GPU, { NULL },
      NGX_HTTP_LLM_GPU_ROW(temp), 1, ngx_http_llm_read_gpu_plus_one,
      NULL, NULL, "temperature_celsius", NGX_HTTP_LLM_F_OMIT },

    { "llm_router_gpu_power_watts",
      "GPU average power.",
      G, NGX_HTTP_LLM_BY_GPU, { NULL },
      NGX_HTTP_LLM_GPU_ROW(power), 1, ngx_http_llm_read_gpu_plus_one,
      NULL, NULL, "power_watts", NGX_HTTP_LLM_F_OMIT },

    { "llm_router_tier_info",
      "The model each tier serves.",
      G, NGX_HTTP_LLM_BY_TIER, { &ngx_http_llm_label_model },
      0, 0, ngx_http_llm_read_one, NULL, NULL,
      NULL, 0 },

    { NULL, NULL, 0, 0, { NULL }, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

#undef C
#undef G
#undef H


/* rows of absent things are left out: Redis not configured, no GPU */

ngx_uint_t
ngx_http_llm_metric_shown(ngx_http_llm_main_conf_t *lmcf,
    ngx_http_llm_metric_t *m)
{
    if ((m->flags & NGX_HTTP_LLM_F_REDIS) && lmcf->redis == NULL) {
        return 0;
    }

    if (m->by == NGX_HTTP_LLM_BY_GPU && lmcf->gpus.nelts == 0) {
        return 0;
    }

    if (m->by == NGX_HTTP_LLM_BY_SIMILAR && lmcf->similar_zone == NULL) {
        return 0;
    }

    if ((m->flags & NGX_HTTP_LLM_F_SHARE) && lmcf->share_interval == 0) {
        return 0;
    }

    return 1;
}


/* the k-th member a row has series for; 0 past the last */

ngx_uint_t
ngx_http_llm_series_at(ngx_http_llm_main_conf_t *lmcf,
    ngx_http_llm_metric_t *m, ngx_uint_t k, ngx_http_llm_series_t *s)
{
    ngx_uint_t            n, i;
    ngx_http_llm_gpu_t   *gpu;
    ngx_http_llm_tier_t  *tier;

    ngx_memzero(s, sizeof(ngx_http_llm_series_t));

    s->lmcf = lmcf;
    s->metric = m;
    s->who = k;
    tier = lmcf->tiers;

    switch (m->by) {

    case NGX_HTTP_LLM_BY_ZONE:
        s->base = (u_char *) lmcf->sh;
        return k == 0;

    case NGX_HTTP_LLM_BY_SIMILAR:
        s->base = (u_char *) ngx_http_llm_similar_stats(lmcf->similar_zone);
        return k == 0 && s->base != NULL;

    case NGX_HTTP_LLM_BY_SERVED:
        s->base = (u_char *) ngx_http_llm_served_at(lmcf, k, &s->label[0]);
        return s->base != NULL;

    case NGX_HTTP_LLM_BY_TIER:
        if (k >= lmcf->ntiers) {
            return 0;
        }

        s->base = (u_char *) tier[k].sh;
        s->label[0] = tier[k].name;
        return 1;

    case NGX_HTTP_LLM_BY_SERVER:
        return ngx_http_llm_server_at(lmcf, k, s);

    case NGX_HTTP_LLM_BY_PAIR:

        /* each tier, then each other tier */

        n = lmcf->ntiers;

        if (n == 0 || k >= n * (n - 1)) {
            return 0;
        }

        s->who = k / (n - 1);
        i = k % (n - 1);
        s->to = (i >= s->who) ? i + 1 : i;

        s->base = (u_char *) tier[s->who].sh;
        s->label[0] = tier[s->who].name;
        s->label[1] = tier[s->to].name;
        return 1;

    default: /* NGX_HTTP_LLM_BY_GPU */
        if (k >= lmcf->gpus.nelts) {
            return 0;
        }

        gpu = lmcf->gpus.elts;
        s->base = (u_char *) &lmcf->sh->gpus[k];
        s->label[0] = gpu[k].name;
        return 1;
    }
}


/*
 * The k-th server: each address of each server{} line of each tier's
 * upstream, in the configuration's order (a tier's servers together);
 * its numbers are its slot in the tier's state, if it has one.  0 past
 * the last.
 */

ngx_uint_t
ngx_http_llm_server_at(ngx_http_llm_main_conf_t *lmcf, ngx_uint_t k,
    ngx_http_llm_series_t *s)
{
    ngx_uint_t                     i, j;
    ngx_addr_t                    *addr;
    ngx_http_llm_server_sh_t      *sh;
    ngx_http_upstream_server_t    *server;
    ngx_http_upstream_srv_conf_t  *uscf;

    for (i = 0; i < lmcf->ntiers; i++) {
        uscf = lmcf->tiers[i].uscf;

        if (uscf == NULL || uscf->servers == NULL) {
            continue;
        }

        server = uscf->servers->elts;

        for (j = 0; j < uscf->servers->nelts; j++) {

            if (k >= server[j].naddrs) {
                k -= server[j].naddrs;
                continue;
            }

            addr = &server[j].addrs[k];

            sh = ngx_http_llm_server(lmcf, (ngx_llm_tier_id_t) i,
                                     ngx_http_llm_server_key(addr->sockaddr,
                                                             addr->socklen),
                                     0);

            s->base = (u_char *) (sh ? sh : &ngx_http_llm_server_none);
            s->who = i;
            s->addr = addr;
            s->backup = server[j].backup;
            s->label[0] = lmcf->tiers[i].name;
            s->label[1] = addr->name;

            return 1;
        }
    }

    return 0;
}


ngx_uint_t
ngx_http_llm_label_count(ngx_http_llm_label_t *l)
{
    return l->n ? l->n - l->first : 1;
}


/* the i-th value a series' label takes */

void
ngx_http_llm_label_value(ngx_http_llm_series_t *s, ngx_http_llm_label_t *l,
    ngx_uint_t i, ngx_str_t *value)
{
    if (l->n == 0) {
        *value = s->lmcf->tiers[s->who].model;
        return;
    }

    i += l->first;

    value->data = (u_char *) (l->values
                              ? l->values[i]
                              : ngx_llm_reason_name((ngx_llm_reason_e) i));
    value->len = ngx_strlen(value->data);
}


/* the series' value at s->at[]: an atomic, or what the row's function says */

void
ngx_http_llm_series_value(ngx_http_llm_series_t *s, ngx_http_llm_value_t *v)
{
    ngx_uint_t              i, index;
    ngx_atomic_t           *a;
    ngx_http_llm_label_t   *l;
    ngx_http_llm_metric_t  *m;

    m = s->metric;

    v->n = 0;
    v->digits = m->digits;
    v->known = 1;

    if (m->read != NULL) {
        m->read(s, v);
        return;
    }

    /* row-major over the inner labels; a pair's second tier first */

    index = (m->by == NGX_HTTP_LLM_BY_PAIR) ? s->lmcf->tiers[s->to].slot : 0;

    for (i = 0; i < NGX_HTTP_LLM_MAX_LABELS && m->labels[i]; i++) {
        l = m->labels[i];
        index = index * (l->n ? l->n : 1) + s->at[i];
    }

    a = (ngx_atomic_t *) (s->base + m->offset);
    v->n = a[index];
}


void
ngx_http_llm_series_hist(ngx_http_llm_series_t *s,
    ngx_http_llm_hist_read_t *h)
{
    ngx_memzero(h, sizeof(ngx_http_llm_hist_read_t));

    s->metric->read_hist(s, h);
}


static void
ngx_http_llm_read_max_inflight(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v)
{
    v->n = s->lmcf->tiers[s->who].max_inflight;
}


static void
ngx_http_llm_read_queue(ngx_http_llm_series_t *s, ngx_http_llm_value_t *v)
{
    v->n = s->lmcf->tiers[s->who].queue;
}


static void
ngx_http_llm_read_breaker(ngx_http_llm_series_t *s, ngx_http_llm_value_t *v)
{
    v->n = ngx_http_llm_breaker_state(s->lmcf, s->who);
}


static void
ngx_http_llm_read_resident(ngx_http_llm_series_t *s, ngx_http_llm_value_t *v)
{
    ngx_uint_t                 i;
    ngx_http_llm_server_sh_t  *srv;

    srv = s->lmcf->tiers[s->who].sh->servers;

    for (i = 0; i < NGX_HTTP_LLM_MAX_SERVERS && srv[i].key; i++) {
        v->n += (srv[i].resident == NGX_HTTP_LLM_YES);
    }
}


/* NGX_HTTP_LLM_YES, _NO or _UNKNOWN at the offset: 1, 0 or unknown */

static void
ngx_http_llm_read_health(ngx_http_llm_series_t *s, ngx_http_llm_value_t *v)
{
    ngx_atomic_uint_t  yes;

    yes = *(ngx_atomic_t *) (s->base + s->metric->offset);

    v->known = (yes != NGX_HTTP_LLM_UNKNOWN);
    v->n = (yes == NGX_HTTP_LLM_YES);
}


/* the atomic at the offset, known if the tier is llm_router_balance's */

static void
ngx_http_llm_read_balanced(ngx_http_llm_series_t *s, ngx_http_llm_value_t *v)
{
    v->known = ngx_http_llm_balanced(s->lmcf->tiers[s->who].uscf) != 0;
    v->n = *(ngx_atomic_t *) (s->base + s->metric->offset);
}


/* the atomic at the offset, known if the tier's balancer keeps affinity */

static void
ngx_http_llm_read_affinity(ngx_http_llm_series_t *s, ngx_http_llm_value_t *v)
{
    v->known = ngx_http_llm_balanced(s->lmcf->tiers[s->who].uscf) == 2;
    v->n = *(ngx_atomic_t *) (s->base + s->metric->offset);
}


static void
ngx_http_llm_read_server_up(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v)
{
    ngx_uint_t  state;

    state = ngx_http_llm_balance_state(s->lmcf->tiers[s->who].uscf,
                                       s->addr);

    v->known = (state != NGX_HTTP_LLM_SERVER_UNKNOWN);
    v->n = (state == NGX_HTTP_LLM_SERVER_UP);
}


/* milliseconds since the last reading, shown in seconds */

static void
ngx_http_llm_read_share_age(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v)
{
    ngx_msec_int_t     age;
    ngx_atomic_uint_t  read_at;

    read_at = s->lmcf->sh->share_read_at;

    v->known = (read_at != 0);

    age = (ngx_msec_int_t) (ngx_current_msec - (ngx_msec_t) read_at);
    v->n = (age > 0) ? (ngx_atomic_uint_t) age : 0;
}


static void
ngx_http_llm_read_one(ngx_http_llm_series_t *s, ngx_http_llm_value_t *v)
{
    v->n = 1;
}


static void
ngx_http_llm_read_redis_up(ngx_http_llm_series_t *s, ngx_http_llm_value_t *v)
{
    ngx_uint_t          w, up, down;
    ngx_http_llm_sh_t  *sh;

    sh = s->lmcf->sh;
    up = 0;
    down = 0;

    for (w = 0; w < NGX_HTTP_LLM_M_WORKERS; w++) {
        up += (sh->redis[w] == NGX_HTTP_LLM_REDIS_SHARED_UP);
        down += (sh->redis[w] == NGX_HTTP_LLM_REDIS_SHARED_DOWN);
    }

    v->n = (up > 0 && down == 0);
}


static void
ngx_http_llm_read_redis_workers(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v)
{
    ngx_uint_t          w;
    ngx_http_llm_sh_t  *sh;

    sh = s->lmcf->sh;

    for (w = 0; w < NGX_HTTP_LLM_M_WORKERS; w++) {
        v->n += (sh->redis[w] == NGX_HTTP_LLM_REDIS_SHARED_UP);
    }
}


/* a GPU's number, known while its reading is fresh */

static void
ngx_http_llm_read_gpu(ngx_http_llm_series_t *s, ngx_http_llm_value_t *v)
{
    v->known = (ngx_http_llm_gpu_vram(s->lmcf, s->who) >= 0);
    v->n = *(ngx_atomic_t *) (s->base + s->metric->offset);
}


static void
ngx_http_llm_read_vram_ratio(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v)
{
    double  vram;

    vram = ngx_http_llm_gpu_vram(s->lmcf, s->who);

    v->known = (vram >= 0);
    v->n = v->known ? (ngx_atomic_uint_t) (vram * 10000 + 0.5) : 0;
}


static void
ngx_http_llm_read_vram_percent(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v)
{
    double  vram;

    vram = ngx_http_llm_gpu_vram(s->lmcf, s->who);

    v->known = (vram >= 0);
    v->n = v->known ? (ngx_atomic_uint_t) (vram * 1000 + 0.5) : 0;
}


/*
 * A reading stored + 1 (0: none), in thousandths (temperature) or
 * millionths (power) or units (busy), shown with the row's digits.
 */

static void
ngx_http_llm_read_gpu_plus_one(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  n, unit, scale;

    n = *(ngx_atomic_t *) (s->base + s->metric->offset);

    v->known = (n != 0 && ngx_http_llm_gpu_vram(s->lmcf, s->who) >= 0);

    if (!v->known) {
        return;
    }

    n--;

    switch (s->metric->offset) {

    case offsetof(ngx_http_llm_gpu_sh_t, temp):
        unit = 1000;
        break;

    case offsetof(ngx_http_llm_gpu_sh_t, power):
        unit = 1000000;
        break;

    default:
        v->n = n;
        return;
    }

    for (scale = 1, i = 0; i < v->digits; i++) {
        scale *= 10;
    }

    v->n = (n * scale + unit / 2) / unit;
}


static void
ngx_http_llm_read_duration(ngx_http_llm_series_t *s,
    ngx_http_llm_hist_read_t *h)
{
    ngx_uint_t            i;
    ngx_http_llm_hist_t  *hist;

    hist = (ngx_http_llm_hist_t *) (s->base + s->metric->offset);

    for (i = 0; i < NGX_HTTP_LLM_M_BUCKETS; i++) {
        h->bucket[i] = hist->bucket[i];
        h->count += h->bucket[i];
    }

    h->sum = hist->sum_ms;
    h->digits = 3;
}


static void
ngx_http_llm_read_score(ngx_http_llm_series_t *s,
    ngx_http_llm_hist_read_t *h)
{
    ngx_uint_t          i;
    ngx_http_llm_sh_t  *sh;

    sh = s->lmcf->sh;

    for (i = 0; i < NGX_HTTP_LLM_M_SCORES; i++) {
        h->bucket[i] = sh->score[i];
    }

    h->sum = sh->score_sum_milli;
    h->digits = 3;
    h->count = sh->score_count;
}


/* a quantile of a duration histogram, interpolated inside its bucket */

double
ngx_http_llm_quantile(ngx_http_llm_hist_t *h, double q)
{
    double             rank, lo, hi;
    ngx_uint_t         i;
    ngx_msec_t        *bounds;
    ngx_atomic_uint_t  n, seen;

    bounds = ngx_http_llm_duration_ms;
    n = 0;

    for (i = 0; i < NGX_HTTP_LLM_M_BUCKETS; i++) {
        n += h->bucket[i];
    }

    if (n == 0) {
        return 0;
    }

    rank = q * n;
    seen = 0;

    for (i = 0; i < NGX_HTTP_LLM_M_BUCKETS - 1; i++) {

        if (seen + h->bucket[i] >= rank && h->bucket[i]) {
            lo = i ? bounds[i - 1] : 0;
            hi = bounds[i];

            return (lo + (hi - lo) * (rank - seen) / h->bucket[i]) / 1000;
        }

        seen += h->bucket[i];
    }

    return (double) bounds[NGX_HTTP_LLM_M_BUCKETS - 2] / 1000;
}


char *
ngx_http_llm_breaker_name(ngx_uint_t state)
{
    return ngx_http_llm_breaker_names[state < 3 ? state : 0];
}
