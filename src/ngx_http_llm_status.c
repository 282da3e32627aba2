
/*
 * Copyright (C) ngx_llm_router authors
 *
 * llm_router_status: the live state of the tiers and GPUs, in JSON, read
 * from the shared zone without taking any lock.
 */


#include "ngx_http_llm_state.h"
#include "ngx_http_llm_redis.h"


static ngx_int_t ngx_http_llm_status_handler(ngx_http_request_t *r);
static u_char *ngx_http_llm_status_tier(u_char *p,
    ngx_http_llm_main_conf_t *lmcf, ngx_uint_t i);
static u_char *ngx_http_llm_status_gpu(u_char *p,
    ngx_http_llm_main_conf_t *lmcf, ngx_uint_t i);


#define NGX_HTTP_LLM_STATUS_TIER_LEN  640
#define NGX_HTTP_LLM_STATUS_GPU_LEN   384


static char  *ngx_http_llm_yes_no[] = { "null", "true", "false" };


char *
ngx_http_llm_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_llm_status_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llm_status_handler(ngx_http_request_t *r)
{
    u_char                    *p;
    size_t                     len;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_uint_t                 i;
    ngx_chain_t                out;
    ngx_http_llm_gpu_t        *gpu;
    ngx_http_llm_main_conf_t  *lmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);
    gpu = lmcf->gpus.elts;

    len = sizeof("{\"shared\":false,\"tiers\":{},\"gpus\":{},\"cache\":{"
                 "\"redis\":\"down\",\"stores\":,"
                 "\"single_flight_waits\":}}\n") + 2 * NGX_ATOMIC_T_LEN
          + NGX_HTTP_LLM_TIERS * NGX_HTTP_LLM_STATUS_TIER_LEN;

    for (i = 0; i < NGX_HTTP_LLM_TIERS; i++) {
        len += 3 * lmcf->tiers[i].model.len + lmcf->tiers[i].upstream.len
               + lmcf->tiers[i].gpu_name.len;
    }

    for (i = 0; i < lmcf->gpus.nelts; i++) {
        len += NGX_HTTP_LLM_STATUS_GPU_LEN + gpu[i].name.len;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(b->last, "{\"shared\":%s,\"tiers\":{",
                    lmcf->shm_zone ? "true" : "false");

    for (i = 0; i < NGX_HTTP_LLM_TIERS; i++) {
        if (!lmcf->tiers[i].configured) {
            continue;
        }

        if (p[-1] != '{') {
            *p++ = ',';
        }

        p = ngx_http_llm_status_tier(p, lmcf, i);
    }

    p = ngx_cpymem(p, "},\"gpus\":{", sizeof("},\"gpus\":{") - 1);

    for (i = 0; i < lmcf->gpus.nelts; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_http_llm_status_gpu(p, lmcf, i);
    }

    p = ngx_sprintf(p, "},\"cache\":{\"redis\":%s,\"stores\":%uA,"
                    "\"single_flight_waits\":%uA}}\n",
                    lmcf->redis == NULL ? "null"
                    : ngx_http_llm_redis_ready() ? "\"up\"" : "\"down\"",
                    lmcf->sh->cache_stores, lmcf->sh->cache_waits);
    b->last = p;
    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static u_char *
ngx_http_llm_status_tier(u_char *p, ngx_http_llm_main_conf_t *lmcf,
    ngx_uint_t i)
{
    char                    *breaker;
    ngx_msec_t               age;
    ngx_http_llm_tier_t     *tier;
    ngx_http_llm_tier_sh_t  *ts;

    tier = &lmcf->tiers[i];
    ts = &lmcf->sh->tiers[i];

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

    return ngx_sprintf(p, "\"%V\":{\"upstream\":\"%V\",\"model\":\"%V\","
                       "\"inflight\":%uA,\"max_inflight\":%ui,"
                       "\"requests\":%uA,\"fallbacks\":%uA,"
                       "\"failures\":%uA,\"breaker\":\"%s\","
                       "\"healthy\":%s,\"model_loaded\":%s,"
                       "\"gpu\":\"%V\"}",
                       &tier->name, &tier->upstream, &tier->model,
                       ts->inflight, tier->max_inflight,
                       ts->requests, ts->fallbacks, ts->failures, breaker,
                       ngx_http_llm_yes_no[ts->health % 3],
                       ngx_http_llm_yes_no[ts->loaded % 3],
                       &tier->gpu_name);
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
