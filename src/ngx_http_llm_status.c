
/*
 * Copyright (C) ngx_llm_router authors
 *
 * llm_router_status: the live state of the tiers and GPUs, read from the
 * shared zone without taking any lock, as Prometheus text
 * (ngx_http_llm_prom.c), as JSON, or as a self-contained HTML page that
 * polls the JSON.  The JSON's numbers are the metrics table's rows that
 * have a JSON key, each in its member's object (a tier's, a GPU's, the
 * cache's, ...); the page gets the table's rows too, to list and explain
 * them.  Besides the numbers: each tier's state in words, the breaker's
 * state by name, its servers (as llm_router_balance sees them), and the
 * ring of recent decisions.
 */


#include "ngx_http_llm_status.h"
#include "ngx_http_llm_state.h"
#include "ngx_http_llm_balance.h"
#include "ngx_http_llm_out.h"
#include "ngx_http_llm_prom.h"
#include "ngx_http_llm_table.h"
#include "ngx_http_llm_redis.h"


static ngx_int_t ngx_http_llm_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_status_json(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_status_html(ngx_http_request_t *r);
static void ngx_http_llm_status_tier(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf, ngx_uint_t i);
static void ngx_http_llm_status_servers(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf, ngx_uint_t i);
static void ngx_http_llm_status_gpu(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf, ngx_uint_t i);
static void ngx_http_llm_status_cache(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf);
static void ngx_http_llm_status_decisions(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf);
static void ngx_http_llm_status_latency(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf);
static void ngx_http_llm_status_recent(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf);
static void ngx_http_llm_status_rows(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf, ngx_uint_t by, ngx_uint_t k,
    ngx_uint_t cache, ngx_uint_t after);
static void ngx_http_llm_status_value(ngx_http_llm_out_t *out,
    ngx_http_llm_series_t *s, ngx_uint_t depth);
static void ngx_http_llm_status_table(ngx_http_llm_out_t *out);


static char  *ngx_http_llm_yes_no[] = { "null", "true", "false" };

/* NGX_HTTP_LLM_SERVER_UNKNOWN, _UP, _DOWN, _FAILED */
static char  *ngx_http_llm_server_states[] = {
    "null", "\"up\"", "\"down\"", "\"failed\""
};

#include "ngx_http_llm_status_page.h"

/* where the page takes the metrics table */
#define NGX_HTTP_LLM_PAGE_TABLE  "/*TABLE*/[]"


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

        return ngx_http_llm_prom_handler(r);
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

    return ngx_http_llm_prom_handler(r);
}


static ngx_int_t
ngx_http_llm_status_json(ngx_http_request_t *r)
{
    ngx_str_t                  label;
    ngx_uint_t                 i, k;
    ngx_time_t                *tp;
    ngx_http_llm_out_t         out;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);

    ngx_http_llm_out_init(&out, r->pool);

    tp = ngx_timeofday();

    ngx_http_llm_out_printf(&out, "{\"shared\":%s,\"time_ms\":%T%03M,"
                            "\"tiers\":{",
                            lmcf->shm_zone ? "true" : "false",
                            tp->sec, tp->msec);

    for (i = 0; i < lmcf->ntiers; i++) {
        ngx_http_llm_out_printf(&out, i ? "," : "");
        ngx_http_llm_status_tier(&out, lmcf, i);
    }

    ngx_http_llm_out_printf(&out, "},\"gpus\":{");

    for (i = 0; i < lmcf->gpus.nelts; i++) {
        ngx_http_llm_out_printf(&out, i ? "," : "");
        ngx_http_llm_status_gpu(&out, lmcf, i);
    }

    ngx_http_llm_out_printf(&out, "},\"cache\":{");
    ngx_http_llm_status_cache(&out, lmcf);

    ngx_http_llm_out_printf(&out, "},\"decisions\":{");
    ngx_http_llm_status_decisions(&out, lmcf);

    ngx_http_llm_out_printf(&out, "},\"latency_seconds\":{");
    ngx_http_llm_status_latency(&out, lmcf);

    /* who answered: the tiers, the cache, the router itself */

    ngx_http_llm_out_printf(&out, "},\"served\":{");

    for (k = 0; ngx_http_llm_served_at(lmcf, k, &label); k++) {
        ngx_http_llm_out_printf(&out, "%s\"", k ? "," : "");
        ngx_http_llm_out_json(&out, label.data, label.len);
        ngx_http_llm_out_printf(&out, "\":{");
        ngx_http_llm_status_rows(&out, lmcf, NGX_HTTP_LLM_BY_SERVED, k, 0, 0);
        ngx_http_llm_out_printf(&out, "}");
    }

    ngx_http_llm_out_printf(&out, "},\"router\":{");
    ngx_http_llm_status_rows(&out, lmcf, NGX_HTTP_LLM_BY_ZONE, 0, 0, 0);

    ngx_http_llm_out_printf(&out, "},\"recent\":[");
    ngx_http_llm_status_recent(&out, lmcf);

    ngx_http_llm_out_printf(&out, "]}\n");

    return ngx_http_llm_out_send(r, &out, "application/json");
}


static void
ngx_http_llm_status_tier(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf, ngx_uint_t i)
{
    u_char                   why[512];
    size_t                   len;
    ngx_http_llm_tier_t     *tier;
    ngx_http_llm_tier_sh_t  *ts;

    tier = &lmcf->tiers[i];
    ts = tier->sh;

    ngx_http_llm_out_printf(out, "\"%V\":{\"upstream\":\"%V\","
                            "\"model\":\"%V\",\"host\":\"%V\","
                            "\"gpu\":\"%V\",\"breaker\":\"%s\","
                            "\"healthy\":%s,\"model_loaded\":%s,"
                            "\"refusing\":",
                            &tier->name, &tier->upstream, &tier->model,
                            &tier->host, &tier->gpu_name,
                            ngx_http_llm_breaker_name(
                                ngx_http_llm_breaker_state(lmcf, i)),
                            ngx_http_llm_yes_no[ts->health % 3],
                            ngx_http_llm_yes_no[ts->loaded % 3]);

    if (ts->refused) {
        ngx_http_llm_out_printf(out, "%uA", ts->refused);

    } else {
        ngx_http_llm_out_printf(out, "null");
    }

    ngx_http_llm_out_printf(out, ",\"down_reason\":");

    if (ts->health != NGX_HTTP_LLM_NO) {
        ngx_http_llm_out_printf(out, "null");

    } else {
        /* why the health check found it down, in a person's words */
        len = ngx_http_llm_why(lmcf, (ngx_llm_tier_id_t) i, ts->down_why, 1,
                               why, sizeof(why));

        ngx_http_llm_out_printf(out, "\"");
        ngx_http_llm_out_json(out, why, len);
        ngx_http_llm_out_printf(out, "\"");
    }

    ngx_http_llm_status_rows(out, lmcf, NGX_HTTP_LLM_BY_TIER, i, 0, 1);
    ngx_http_llm_status_servers(out, lmcf, i);
    ngx_http_llm_out_printf(out, "}");
}


/*
 * The tier's servers: address, backup, state as the balancer sees it
 * (null when llm_router_balance is not the upstream's), the model's
 * residency (null until the server answers its /api/ps), and the table's
 * server rows.
 */

static void
ngx_http_llm_status_servers(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf, ngx_uint_t i)
{
    ngx_uint_t                 k, first, state;
    ngx_atomic_uint_t          resident;
    ngx_http_llm_series_t      s;
    ngx_http_llm_server_sh_t  *sh;

    ngx_http_llm_out_printf(out, ",\"servers\":[");
    first = 1;

    for (k = 0; /* void */ ; k++) {

        ngx_memzero(&s, sizeof(ngx_http_llm_series_t));

        if (!ngx_http_llm_server_at(lmcf, k, &s)) {
            break;
        }

        if (s.who != i) {
            continue;
        }

        state = ngx_http_llm_balance_state(lmcf->tiers[i].uscf, s.addr);
        sh = (ngx_http_llm_server_sh_t *) s.base;
        resident = sh->resident;

        ngx_http_llm_out_printf(out, "%s{\"address\":\"", first ? "" : ",");
        ngx_http_llm_out_json(out, s.addr->name.data, s.addr->name.len);
        ngx_http_llm_out_printf(out, "\",\"backup\":%s,\"state\":%s,"
                                "\"resident\":%s",
                                s.backup ? "true" : "false",
                                ngx_http_llm_server_states[state % 4],
                                ngx_http_llm_yes_no[resident % 3]);

        ngx_http_llm_status_rows(out, lmcf, NGX_HTTP_LLM_BY_SERVER, k, 0, 1);
        ngx_http_llm_out_printf(out, "}");
        first = 0;
    }

    ngx_http_llm_out_printf(out, "]");
}


static void
ngx_http_llm_status_gpu(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf, ngx_uint_t i)
{
    ngx_http_llm_gpu_t  *gpu;

    gpu = &((ngx_http_llm_gpu_t *) lmcf->gpus.elts)[i];

    ngx_http_llm_out_printf(out, "\"%V\":{\"source\":\"%s\"", &gpu->name,
                            gpu->source == NGX_HTTP_LLM_GPU_SYSFS ? "sysfs"
                            : gpu->source == NGX_HTTP_LLM_GPU_ROCM_SMI
                              ? "rocm_smi"
                            : gpu->source == NGX_HTTP_LLM_GPU_NVML ? "nvml"
                            : gpu->source == NGX_HTTP_LLM_GPU_PROMETHEUS
                              ? "prometheus" : "off");

    ngx_http_llm_status_rows(out, lmcf, NGX_HTTP_LLM_BY_GPU, i, 0, 1);
    ngx_http_llm_out_printf(out, "}");
}


static void
ngx_http_llm_status_cache(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf)
{
    ngx_http_llm_sh_t  *sh;
    ngx_atomic_uint_t   hits, misses, lookups;

    sh = lmcf->sh;

    ngx_http_llm_out_printf(out, "\"redis\":%s",
                            lmcf->redis == NULL ? "null"
                            : ngx_http_llm_redis_ready() ? "\"up\""
                            : "\"down\"");

    ngx_http_llm_status_rows(out, lmcf, NGX_HTTP_LLM_BY_ZONE, 0, 1, 1);

    if (lmcf->similar_zone != NULL) {
        ngx_http_llm_out_printf(out, ",\"similar\":{");
        ngx_http_llm_status_rows(out, lmcf, NGX_HTTP_LLM_BY_SIMILAR, 0, 0,
                                 0);
        ngx_http_llm_out_printf(out, "}");
    }

    hits = sh->cache[NGX_HTTP_LLM_CACHE_HIT];
    misses = sh->cache[NGX_HTTP_LLM_CACHE_MISS];
    lookups = hits + misses;

    ngx_http_llm_out_printf(out, ",\"hits\":%uA,\"misses\":%uA,"
                            "\"bypasses\":%uA,\"errors\":%uA,\"hit_rate\":",
                            hits, misses,
                            sh->cache[NGX_HTTP_LLM_CACHE_BYPASS],
                            sh->cache[NGX_HTTP_LLM_CACHE_ERROR]);

    if (lookups) {
        ngx_http_llm_out_printf(out, "%.3f", (double) hits / lookups);

    } else {
        ngx_http_llm_out_printf(out, "null");
    }
}


/* requests by routing reason, whoever answered them */

static void
ngx_http_llm_status_decisions(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf)
{
    ngx_str_t               label;
    ngx_uint_t              k, c, re, ca, first;
    ngx_atomic_uint_t       n;
    ngx_http_llm_served_t  *sv;

    first = 1;

    for (re = 0; re < NGX_LLM_REASON_COUNT; re++) {
        n = 0;

        for (k = 0; (sv = ngx_http_llm_served_at(lmcf, k, &label)); k++) {
            for (c = 0; c < NGX_HTTP_LLM_M_CLASSES; c++) {
                for (ca = 0; ca < NGX_HTTP_LLM_M_CACHE; ca++) {
                    n += sv->requests[c][re][ca];
                }
            }
        }

        if (n == 0) {
            continue;
        }

        ngx_http_llm_out_printf(out, "%s\"%s\":%uA", first ? "" : ",",
                                ngx_llm_reason_name((ngx_llm_reason_e) re),
                                n);
        first = 0;
    }
}


/* quantiles of the tiers' and the cache's, not the router's own answers */

static void
ngx_http_llm_status_latency(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf)
{
    ngx_str_t               label;
    ngx_uint_t              k;
    ngx_http_llm_served_t  *sv;

    for (k = 0; k <= lmcf->ntiers; k++) {
        sv = ngx_http_llm_served_at(lmcf, k, &label);

        ngx_http_llm_out_printf(out, "%s\"%V\":{\"count\":%uA", k ? "," : "",
                                &label, sv->duration.count);

        if (sv->duration.count) {
            ngx_http_llm_out_printf(out,
                          ",\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f",
                          ngx_http_llm_quantile(&sv->duration, 0.5),
                          ngx_http_llm_quantile(&sv->duration, 0.95),
                          ngx_http_llm_quantile(&sv->duration, 0.99));
        }

        ngx_http_llm_out_printf(out, "}");
    }
}


/*
 * The ring of recent decisions, newest first: "n" is the request's
 * number in the order requests ended (their times come from each
 * worker's cached clock, and may be a little out of order).  An entry
 * being written, or written again while we copied it, is left out.
 */

static void
ngx_http_llm_status_recent(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf)
{
    u_char                 *name;
    ngx_str_t               cls, cache;
    ngx_uint_t              i, first;
    ngx_atomic_uint_t       next, seq;
    ngx_http_llm_sh_t      *sh;
    ngx_http_llm_series_t   s;
    ngx_http_llm_recent_t   e, *re;

    sh = lmcf->sh;
    next = sh->recent_next;
    first = 1;

    ngx_memzero(&s, sizeof(ngx_http_llm_series_t));
    s.lmcf = lmcf;

    for (i = 0; i < NGX_HTTP_LLM_M_RECENT && i < next; i++) {
        seq = next - i;
        re = &sh->recent[(seq - 1) % NGX_HTTP_LLM_M_RECENT];

        if (re->seq != seq) {
            continue;
        }

        ngx_memory_barrier();
        e = *re;
        ngx_memory_barrier();

        if (re->seq != seq || e.cls >= NGX_HTTP_LLM_M_CLASSES
            || e.cache >= NGX_HTTP_LLM_M_CACHE
            || e.reason >= NGX_LLM_REASON_COUNT)
        {
            continue;
        }

        if (e.who < NGX_LLM_MAX_TIERS) {
            name = sh->tiers[e.who].name;

        } else {
            name = (u_char *) (e.who == NGX_HTTP_LLM_WHO_CACHE
                               ? "cache" : "none");
        }

        ngx_http_llm_label_value(&s, &ngx_http_llm_label_class, e.cls, &cls);
        ngx_http_llm_label_value(&s, &ngx_http_llm_label_cache, e.cache,
                                 &cache);

        ngx_http_llm_out_printf(out, "%s{\"n\":%uA,\"time_ms\":%uL,"
                                "\"class\":\"%V\",\"score\":",
                                first ? "" : ",", seq, e.end_ms, &cls);

        if (e.cls == NGX_HTTP_LLM_M_CLASSES - 1) {
            ngx_http_llm_out_printf(out, "null");

        } else {
            ngx_http_llm_out_fixed(out, e.score_milli, 3);
        }

        ngx_http_llm_out_printf(out, ",\"tier\":\"");
        ngx_http_llm_out_json(out, name,
                              ngx_strnlen(name, NGX_HTTP_LLM_TIER_NAME_LEN));
        ngx_http_llm_out_printf(out, "\",\"reason\":\"%s\",\"cache\":\"%V\","
                                "\"status\":%uD,\"duration_ms\":%uD}",
                                ngx_llm_reason_name(
                                    (ngx_llm_reason_e) e.reason),
                                &cache, (uint32_t) e.status, e.duration_ms);
        first = 0;
    }
}


/*
 * "key":value for each row of the table that has a JSON key and whose
 * series are the k-th member's of "by", after other keys or not; zone
 * rows go to the "cache" object or to "router" as their flag says.
 */

static void
ngx_http_llm_status_rows(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf, ngx_uint_t by, ngx_uint_t k,
    ngx_uint_t cache, ngx_uint_t after)
{
    ngx_uint_t                 first;
    ngx_http_llm_value_t       v;
    ngx_http_llm_series_t      s;
    ngx_http_llm_metric_t     *m;
    ngx_http_llm_hist_read_t   h;

    first = !after;

    for (m = ngx_http_llm_metrics; m->name; m++) {

        if (m->json == NULL || m->by != by
            || !ngx_http_llm_metric_shown(lmcf, m)
            || (by == NGX_HTTP_LLM_BY_ZONE
                && !(m->flags & NGX_HTTP_LLM_F_CACHE) != !cache)
            || !ngx_http_llm_series_at(lmcf, m, k, &s))
        {
            continue;
        }

        if (m->type == NGX_HTTP_LLM_HISTOGRAM) {
            ngx_http_llm_series_hist(&s, &h);

            ngx_http_llm_out_printf(out, "%s\"%s\":{\"count\":%uA,\"sum\":",
                                    first ? "" : ",", m->json, h.count);
            ngx_http_llm_out_fixed(out, h.sum, h.digits);
            ngx_http_llm_out_printf(out, "}");
            first = 0;
            continue;
        }

        if (m->labels[0] == NULL && (m->flags & NGX_HTTP_LLM_F_OMIT)) {
            ngx_http_llm_series_value(&s, &v);

            if (!v.known) {
                continue;
            }
        }

        ngx_http_llm_out_printf(out, "%s\"%s\":", first ? "" : ",",
                                m->json);
        ngx_http_llm_status_value(out, &s, 0);
        first = 0;
    }
}


/* a number, null, or an object by the inner label at depth */

static void
ngx_http_llm_status_value(ngx_http_llm_out_t *out, ngx_http_llm_series_t *s,
    ngx_uint_t depth)
{
    ngx_str_t               value;
    ngx_uint_t              i, n;
    ngx_http_llm_value_t    v;
    ngx_http_llm_label_t   *l;
    ngx_http_llm_metric_t  *m;

    m = s->metric;

    if (depth < NGX_HTTP_LLM_MAX_LABELS && m->labels[depth] != NULL) {
        l = m->labels[depth];
        n = ngx_http_llm_label_count(l);

        ngx_http_llm_out_printf(out, "{");

        for (i = 0; i < n; i++) {
            ngx_http_llm_label_value(s, l, i, &value);

            ngx_http_llm_out_printf(out, "%s\"", i ? "," : "");
            ngx_http_llm_out_json(out, value.data, value.len);
            ngx_http_llm_out_printf(out, "\":");

            s->at[depth] = l->first + i;
            ngx_http_llm_status_value(out, s, depth + 1);
        }

        ngx_http_llm_out_printf(out, "}");
        return;
    }

    ngx_http_llm_series_value(s, &v);

    if (v.known) {
        ngx_http_llm_out_fixed(out, v.n, v.digits);

    } else {
        ngx_http_llm_out_printf(out, "null");
    }
}


/*
 * The page, with the metrics table where it says so: the rows that are
 * in the JSON, so that it can list and explain every one.
 */

static ngx_int_t
ngx_http_llm_status_html(ngx_http_request_t *r)
{
    u_char              *page, *mark;
    size_t               len;
    ngx_http_llm_out_t   out;

    page = (u_char *) ngx_http_llm_status_page;
    len = sizeof(ngx_http_llm_status_page) - 1;

    ngx_http_llm_out_init(&out, r->pool);

    mark = ngx_strnstr(page, NGX_HTTP_LLM_PAGE_TABLE, len);

    if (mark == NULL) {
        ngx_http_llm_out_static(&out, page, len);

    } else {
        ngx_http_llm_out_static(&out, page, mark - page);
        ngx_http_llm_status_table(&out);

        mark += sizeof(NGX_HTTP_LLM_PAGE_TABLE) - 1;
        ngx_http_llm_out_static(&out, mark, page + len - mark);
    }

    return ngx_http_llm_out_send(r, &out, "text/html; charset=utf-8");
}


static void
ngx_http_llm_status_table(ngx_http_llm_out_t *out)
{
    ngx_uint_t              first;
    ngx_http_llm_metric_t  *m;

    ngx_http_llm_out_printf(out, "[");
    first = 1;

    for (m = ngx_http_llm_metrics; m->name; m++) {

        if (m->json == NULL) {
            continue;
        }

        ngx_http_llm_out_printf(out, "%s{\"key\":\"%s\",\"name\":\"%s\","
                                "\"by\":\"%s\",\"type\":\"%s\",\"cache\":%s,"
                                "\"prometheus\":%s,\"help\":\"",
                                first ? "" : ",\n", m->json,
                                m->name, ngx_http_llm_by_names[m->by],
                                ngx_http_llm_type_names[m->type],
                                (m->flags & NGX_HTTP_LLM_F_CACHE)
                                ? "true" : "false",
                                (m->flags & NGX_HTTP_LLM_F_JSON)
                                ? "false" : "true");
        ngx_http_llm_out_json(out, (u_char *) m->help,
                              ngx_strlen(m->help));
        ngx_http_llm_out_printf(out, "\"}");
        first = 0;
    }

    ngx_http_llm_out_printf(out, "]");
}
