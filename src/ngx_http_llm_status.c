
/*
 * Copyright (C) ngx_llm_router authors
 *
 * llm_router_status: the live state of the tiers and GPUs, in JSON, read
 * from the shared zone without taking any lock.
 */


#include "ngx_http_llm_status.h"
#include "ngx_http_llm_state.h"
#include "ngx_http_llm_util.h"
#include "ngx_http_llm_metrics.h"
#include "ngx_http_llm_redis.h"


static ngx_int_t ngx_http_llm_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_status_json(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_status_html(ngx_http_request_t *r);
static u_char *ngx_http_llm_status_extra(u_char *p,
    ngx_http_llm_main_conf_t *lmcf);
static double ngx_http_llm_quantile(ngx_http_llm_hist_t *h, double q);
static u_char *ngx_http_llm_status_tier(u_char *p,
    ngx_http_llm_main_conf_t *lmcf, ngx_llm_tier_id_t i);
static u_char *ngx_http_llm_status_gpu(u_char *p,
    ngx_http_llm_main_conf_t *lmcf, ngx_uint_t i);


#define NGX_HTTP_LLM_STATUS_TIER_LEN  640
#define NGX_HTTP_LLM_STATUS_EXTRA_LEN 2048
#define NGX_HTTP_LLM_STATUS_GPU_LEN   384


static char  *ngx_http_llm_yes_no[] = { "null", "true", "false" };

#include "ngx_http_llm_status_page.h"


char *
ngx_http_llm_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_llm_status_handler;

    return NGX_CONF_OK;
}


/*
 * Prometheus text by default; JSON with ?format=json or an Accept of
 * application/json; the HTML status page with ?format=html.
 */

static ngx_int_t
ngx_http_llm_status_handler(ngx_http_request_t *r)
{
    ngx_int_t         rc;
    ngx_str_t         format;
    ngx_table_elt_t  *accept;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {

        if (format.len == 4 && ngx_strncmp(format.data, "json", 4) == 0) {
            return ngx_http_llm_status_json(r);
        }

        if (format.len == 4 && ngx_strncmp(format.data, "html", 4) == 0) {
            return ngx_http_llm_status_html(r);
        }

        return ngx_http_llm_metrics_handler(r);
    }

    accept = r->headers_in.accept;

    if (accept != NULL
        && ngx_strlcasestrn(accept->value.data,
                            accept->value.data + accept->value.len,
                            (u_char *) "application/json", 16 - 1)
           != NULL)
    {
        return ngx_http_llm_status_json(r);
    }

    return ngx_http_llm_metrics_handler(r);
}


static ngx_int_t
ngx_http_llm_status_json(ngx_http_request_t *r)
{
    u_char                    *p;
    size_t                     len;
    ngx_str_t                  body;
    ngx_uint_t                 i;
    ngx_http_llm_gpu_t        *gpu;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);
    gpu = lmcf->gpus.elts;

    len = NGX_HTTP_LLM_STATUS_EXTRA_LEN
          + sizeof("{\"shared\":false,\"tiers\":{},\"gpus\":{},\"cache\":{"
                 "\"redis\":\"down\",\"stores\":,"
                 "\"single_flight_waits\":}}\n") + 2 * NGX_ATOMIC_T_LEN
          + (lmcf->ntiers + 2) * NGX_HTTP_LLM_STATUS_TIER_LEN;

    for (i = 0; i < lmcf->ntiers; i++) {
        len += 3 * lmcf->tiers[i].model.len + lmcf->tiers[i].upstream.len
               + lmcf->tiers[i].gpu_name.len + lmcf->tiers[i].host.len
               + sizeof(",\"host\":\"\",\"down_reason\":,\"refusing\":,"
                        "\"refusals\":") + 6 * 512 + 2 * NGX_ATOMIC_T_LEN;
    }

    for (i = 0; i < lmcf->gpus.nelts; i++) {
        len += NGX_HTTP_LLM_STATUS_GPU_LEN + gpu[i].name.len;
    }

    body.data = ngx_pnalloc(r->pool, len);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body.data, "{\"shared\":%s,\"tiers\":{",
                    lmcf->shm_zone ? "true" : "false");

    for (i = 0; i < lmcf->ntiers; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_http_llm_status_tier(p, lmcf, (ngx_llm_tier_id_t) i);
    }

    p = ngx_cpymem(p, "},\"gpus\":{", sizeof("},\"gpus\":{") - 1);

    for (i = 0; i < lmcf->gpus.nelts; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_http_llm_status_gpu(p, lmcf, i);
    }

    p = ngx_sprintf(p, "},\"cache\":{\"redis\":%s,\"stores\":%uA,"
                    "\"single_flight_waits\":%uA,",
                    lmcf->redis == NULL ? "null"
                    : ngx_http_llm_redis_ready() ? "\"up\"" : "\"down\"",
                    lmcf->sh->cache_stores, lmcf->sh->cache_waits);

    p = ngx_http_llm_status_extra(p, lmcf);

    body.len = p - body.data;

    return ngx_http_llm_send(r, NGX_HTTP_OK, "application/json", &body);
}


static u_char *
ngx_http_llm_status_tier(u_char *p, ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t i)
{
    char                    *breaker;
    u_char                   why[512];
    size_t                   len;
    ngx_msec_t               age;
    ngx_http_llm_tier_t     *tier;
    ngx_http_llm_tier_sh_t  *ts;

    tier = &lmcf->tiers[i];
    ts = tier->sh;

    switch (ts->breaker) {

    case NGX_HTTP_LLM_BREAKER_OPEN:
        age = ngx_current_msec - (ngx_msec_t) ts->opened_at;
        breaker = ((ngx_msec_int_t) age
                   >= (ngx_msec_int_t) lmcf->breaker_cooldown)
                  ? "half-open" : "open";
        break;

    default:
        breaker = "closed";
    }

    p = ngx_sprintf(p, "\"%V\":{\"upstream\":\"%V\",\"model\":\"%V\","
                    "\"host\":\"%V\","
                    "\"inflight\":%uA,\"max_inflight\":%ui,\"queue\":%ui,"
                    "\"requests\":%uA,\"fallbacks\":%uA,"
                    "\"failures\":%uA,\"breaker\":\"%s\","
                    "\"healthy\":%s,\"model_loaded\":%s,"
                    "\"gpu\":\"%V\",\"refusals\":%uA,\"refusing\":",
                    &tier->name, &tier->upstream, &tier->model, &tier->host,
                    ts->inflight, tier->max_inflight, tier->queue,
                    ts->requests, ts->fallbacks, ts->failures, breaker,
                    ngx_http_llm_yes_no[ts->health % 3],
                    ngx_http_llm_yes_no[ts->loaded % 3],
                    &tier->gpu_name, ts->refusals);

    p = ts->refused ? ngx_sprintf(p, "%uA", ts->refused)
                    : ngx_cpymem(p, "null", 4);

    p = ngx_cpymem(p, ",\"down_reason\":", sizeof(",\"down_reason\":") - 1);

    if (ts->health != NGX_HTTP_LLM_NO) {
        p = ngx_cpymem(p, "null}", 5);
        return p;
    }

    /* why the health check found it down, in a person's words */
    len = ngx_http_llm_why(lmcf, i, ts->down_why, 1, why, sizeof(why));

    *p++ = '"';
    p += ngx_llm_json_escape((char *) p, (char *) why, len);
    *p++ = '"';
    *p++ = '}';

    return p;
}


static u_char *
ngx_http_llm_status_gpu(u_char *p, ngx_http_llm_main_conf_t *lmcf,
    ngx_uint_t i)
{
    double                  vram;
    ngx_http_llm_gpu_t     *gpu;
    ngx_http_llm_gpu_sh_t  *gs;

    gpu = &((ngx_http_llm_gpu_t *) lmcf->gpus.elts)[i];
    gs = &lmcf->sh->gpus[i];

    vram = ngx_http_llm_gpu_vram(lmcf, i);

    p = ngx_sprintf(p, "\"%V\":{\"source\":\"%s\",", &gpu->name,
                    gpu->source == NGX_HTTP_LLM_GPU_SYSFS ? "sysfs"
                    : gpu->source == NGX_HTTP_LLM_GPU_ROCM_SMI ? "rocm_smi"
                    : "off");

    if (vram < 0) {
        return ngx_sprintf(p, "\"vram_used_bytes\":null,"
                           "\"vram_total_bytes\":null,"
                           "\"vram_percent\":null}");
    }

    p = ngx_sprintf(p, "\"vram_used_bytes\":%uA,\"vram_total_bytes\":%uA,"
                    "\"vram_percent\":%.1f",
                    gs->used, gs->total, vram * 100);

    if (gs->busy) {
        p = ngx_sprintf(p, ",\"busy_percent\":%uA", gs->busy - 1);
    }

    if (gs->temp) {
        p = ngx_sprintf(p, ",\"temperature_celsius\":%.1f",
                        (double) (gs->temp - 1) / 1000);
    }

    if (gs->power) {
        p = ngx_sprintf(p, ",\"power_watts\":%.1f",
                        (double) (gs->power - 1) / 1e6);
    }

    *p++ = '}';

    return p;
}


/* cache results, decisions by reason, latency quantiles */

static u_char *
ngx_http_llm_status_extra(u_char *p, ngx_http_llm_main_conf_t *lmcf)
{
    double                  q;
    ngx_str_t               label;
    ngx_uint_t              t, c, re, ca, first;
    ngx_atomic_uint_t       n, hits, lookups;
    ngx_http_llm_sh_t      *sh;
    ngx_http_llm_served_t  *sv;

    sh = lmcf->sh;

    hits = sh->cache[NGX_HTTP_LLM_CACHE_HIT];
    lookups = hits + sh->cache[NGX_HTTP_LLM_CACHE_MISS];

    p = ngx_sprintf(p, "\"hits\":%uA,\"misses\":%uA,\"bypasses\":%uA,"
                    "\"errors\":%uA,\"hit_rate\":",
                    hits, sh->cache[NGX_HTTP_LLM_CACHE_MISS],
                    sh->cache[NGX_HTTP_LLM_CACHE_BYPASS],
                    sh->cache[NGX_HTTP_LLM_CACHE_ERROR]);

    p = lookups ? ngx_sprintf(p, "%.3f", (double) hits / lookups)
                : ngx_sprintf(p, "null");

    p = ngx_sprintf(p, "},\"decisions\":{");
    first = 1;

    for (re = 0; re < NGX_LLM_REASON_COUNT; re++) {
        n = 0;

        for (t = 0; (sv = ngx_http_llm_served_at(lmcf, t, &label)); t++) {
            for (c = 0; c < NGX_HTTP_LLM_M_CLASSES; c++) {
                for (ca = 0; ca < NGX_HTTP_LLM_M_CACHE; ca++) {
                    n += sv->requests[c][re][ca];
                }
            }
        }

        if (n == 0) {
            continue;
        }

        p = ngx_sprintf(p, "%s\"%s\":%uA", first ? "" : ",",
                        ngx_llm_reason_name((ngx_llm_reason_e) re), n);
        first = 0;
    }

    p = ngx_sprintf(p, "},\"latency_seconds\":{");

    /* the tiers and the cache, not the router's own answers */

    for (t = 0; t <= lmcf->ntiers; t++) {
        sv = ngx_http_llm_served_at(lmcf, t, &label);

        p = ngx_sprintf(p, "%s\"%V\":{\"count\":%uA", t ? "," : "",
                        &label, sv->duration.count);

        if (sv->duration.count) {
            q = ngx_http_llm_quantile(&sv->duration, 0.5);
            p = ngx_sprintf(p, ",\"p50\":%.3f", q);
            q = ngx_http_llm_quantile(&sv->duration, 0.95);
            p = ngx_sprintf(p, ",\"p95\":%.3f", q);
            q = ngx_http_llm_quantile(&sv->duration, 0.99);
            p = ngx_sprintf(p, ",\"p99\":%.3f", q);
        }

        *p++ = '}';
    }

    return ngx_sprintf(p, "}}\n");
}


/* a quantile from histogram buckets, interpolated inside its bucket */

static double
ngx_http_llm_quantile(ngx_http_llm_hist_t *h, double q)
{
    double             rank, lo, hi;
    ngx_uint_t         i;
    ngx_atomic_uint_t  n, seen;

    static ngx_msec_t  bounds[NGX_HTTP_LLM_M_BUCKETS - 1] = {
        50, 100, 250, 500, 1000, 2000, 3000, 5000, 10000, 20000, 30000, 60000
    };

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


static ngx_int_t
ngx_http_llm_status_html(ngx_http_request_t *r)
{
    ngx_str_t  body;

    body.data = (u_char *) ngx_http_llm_status_page;
    body.len = sizeof(ngx_http_llm_status_page) - 1;

    return ngx_http_llm_send(r, NGX_HTTP_OK, "text/html; charset=utf-8",
                             &body);
}
