
/*
 * Copyright (C) ngx_llm_router authors
 *
 * State shared by all workers: per-tier in-flight counts, failures,
 * circuit breaker, health check results, and the latest GPU readings.
 */


#ifndef _NGX_HTTP_LLM_STATE_H_INCLUDED_
#define _NGX_HTTP_LLM_STATE_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


#define NGX_HTTP_LLM_BREAKER_CLOSED     0
#define NGX_HTTP_LLM_BREAKER_OPEN       1
#define NGX_HTTP_LLM_BREAKER_HALF_OPEN  2

#define NGX_HTTP_LLM_UNKNOWN            0
#define NGX_HTTP_LLM_YES                1
#define NGX_HTTP_LLM_NO                 2


typedef struct {
    ngx_atomic_t                    inflight;
    ngx_atomic_t                    failures;     /* consecutive */
    ngx_atomic_t                    breaker;
    ngx_atomic_t                    opened_at;    /* msec */
    ngx_atomic_t                    probing;      /* half-open probe out */
    ngx_atomic_t                    health;       /* up: YES, down: NO */
    ngx_atomic_t                    loaded;       /* model loaded */
    ngx_atomic_t                    checked_at;   /* msec of last check */
    ngx_atomic_t                    check_started;
    ngx_atomic_t                    requests;
    ngx_atomic_t                    fallbacks;    /* away from this tier */
} ngx_http_llm_tier_sh_t;


typedef struct {
    ngx_atomic_t                    used;         /* bytes */
    ngx_atomic_t                    total;        /* bytes */
    ngx_atomic_t                    busy;         /* percent + 1, 0 none */
    ngx_atomic_t                    temp;         /* millidegrees + 1 */
    ngx_atomic_t                    power;        /* microwatts + 1 */
    ngx_atomic_t                    read_at;      /* msec, 0 never */
    ngx_atomic_t                    polled_at;    /* msec, poll election */
    ngx_atomic_t                    ok;           /* last poll worked */
} ngx_http_llm_gpu_sh_t;


struct ngx_http_llm_sh_s {
    ngx_atomic_t                    cache_waits;    /* single-flight */
    ngx_atomic_t                    cache_stores;
    ngx_http_llm_tier_sh_t          tiers[NGX_HTTP_LLM_TIERS];
    ngx_http_llm_gpu_sh_t           gpus[NGX_HTTP_LLM_MAX_GPUS];
};


char *ngx_http_llm_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* elects one worker per interval for a periodic job; returns 1 if it won */
ngx_uint_t ngx_http_llm_elect(ngx_atomic_t *last, ngx_msec_t interval);

void ngx_http_llm_inflight_add(ngx_http_llm_main_conf_t *lmcf,
    ngx_uint_t tier, ngx_atomic_int_t n);
ngx_uint_t ngx_http_llm_tier_down(ngx_http_llm_main_conf_t *lmcf,
    ngx_uint_t tier, ngx_uint_t *probe);
ngx_uint_t ngx_http_llm_probe_take(ngx_http_llm_main_conf_t *lmcf,
    ngx_uint_t tier);
void ngx_http_llm_tier_result(ngx_http_llm_main_conf_t *lmcf,
    ngx_uint_t tier, ngx_uint_t ok, ngx_uint_t probing, ngx_log_t *log);
void ngx_http_llm_tier_health(ngx_http_llm_main_conf_t *lmcf,
    ngx_uint_t tier, ngx_uint_t up, ngx_uint_t loaded, ngx_log_t *log);
double ngx_http_llm_gpu_vram(ngx_http_llm_main_conf_t *lmcf, ngx_uint_t gpu);


#endif /* _NGX_HTTP_LLM_STATE_H_INCLUDED_ */
