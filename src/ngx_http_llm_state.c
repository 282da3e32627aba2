
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The shared zone holds one fixed-size structure of atomics, allocated
 * from the zone's slab pool: counters are updated with atomic operations,
 * never under a lock, so no request waits on another worker.
 */


#include "ngx_http_llm_state.h"


static ngx_int_t ngx_http_llm_zone_init(ngx_shm_zone_t *shm_zone,
    void *data);


/* llm_router_zone NAME SIZE; */

char *
ngx_http_llm_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (lmcf->shm_zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"%V\"",
                           &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small in \"%V\", "
                           "it must be at least %uzk",
                           &value[1], &cmd->name, 8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    lmcf->shm_zone = ngx_shared_memory_add(cf, &value[1], size,
                                           &ngx_http_llm_router_module);
    if (lmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (lmcf->shm_zone->data != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used", &value[1]);
        return NGX_CONF_ERROR;
    }

    lmcf->shm_zone->init = ngx_http_llm_zone_init;
    lmcf->shm_zone->data = lmcf;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llm_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llm_main_conf_t  *olmcf = data;

    ngx_slab_pool_t           *shpool;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = shm_zone->data;

    if (olmcf != NULL) {
        /* reload: keep the counts of requests still running */
        lmcf->sh = olmcf->sh;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        lmcf->sh = shpool->data;
        return NGX_OK;
    }

    lmcf->sh = ngx_slab_calloc(shpool, sizeof(ngx_http_llm_sh_t));
    if (lmcf->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = lmcf->sh;

    shpool->log_ctx = ngx_slab_alloc(shpool,
                                     sizeof(" in llm_router_zone \"\"")
                                     + shm_zone->shm.name.len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in llm_router_zone \"%V\"%Z",
                &shm_zone->shm.name);

    return NGX_OK;
}


ngx_uint_t
ngx_http_llm_elect(ngx_atomic_t *last, ngx_msec_t interval)
{
    ngx_msec_t         now;
    ngx_atomic_uint_t  old;

    now = ngx_current_msec;
    old = *last;

    if (old != 0
        && (ngx_msec_int_t) (now - (ngx_msec_t) old)
           < (ngx_msec_int_t) (interval - interval / 10))
    {
        return 0;
    }

    return ngx_atomic_cmp_set(last, old, (ngx_atomic_uint_t) now);
}


void
ngx_http_llm_inflight_add(ngx_http_llm_main_conf_t *lmcf, ngx_uint_t tier,
    ngx_atomic_int_t n)
{
    ngx_http_llm_tier_sh_t  *ts;

    ts = &lmcf->sh->tiers[tier];

    (void) ngx_atomic_fetch_add(&ts->inflight, n);

    if (n > 0) {
        (void) ngx_atomic_fetch_add(&ts->requests, 1);
    }
}


/*
 * Is the tier to be avoided?  A breaker whose cool-down has passed lets
 * one request through: *probe is set when the caller must take the probe
 * with ngx_http_llm_probe_take() before sending to this tier.
 */

ngx_uint_t
ngx_http_llm_tier_down(ngx_http_llm_main_conf_t *lmcf, ngx_uint_t tier,
    ngx_uint_t *probe)
{
    ngx_http_llm_tier_sh_t  *ts;

    ts = &lmcf->sh->tiers[tier];
    *probe = 0;

    if (ts->breaker != NGX_HTTP_LLM_BREAKER_OPEN) {
        return ts->health == NGX_HTTP_LLM_NO;
    }

    if ((ngx_msec_int_t) (ngx_current_msec - (ngx_msec_t) ts->opened_at)
        < (ngx_msec_int_t) lmcf->breaker_cooldown)
    {
        return 1;
    }

    /* half-open */

    if (ts->probing) {
        return 1;
    }

    *probe = 1;

    return 0;
}


ngx_uint_t
ngx_http_llm_probe_take(ngx_http_llm_main_conf_t *lmcf, ngx_uint_t tier)
{
    return ngx_atomic_cmp_set(&lmcf->sh->tiers[tier].probing, 0, 1);
}


void
ngx_http_llm_tier_result(ngx_http_llm_main_conf_t *lmcf, ngx_uint_t tier,
    ngx_uint_t ok, ngx_uint_t probing, ngx_log_t *log)
{
    ngx_atomic_uint_t        failures;
    ngx_http_llm_tier_sh_t  *ts;

    ts = &lmcf->sh->tiers[tier];

    if (ok) {
        ts->failures = 0;

        if (ts->breaker == NGX_HTTP_LLM_BREAKER_OPEN
            && ngx_atomic_cmp_set(&ts->breaker, NGX_HTTP_LLM_BREAKER_OPEN,
                                  NGX_HTTP_LLM_BREAKER_CLOSED))
        {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "llm router: %V tier answered, breaker closed",
                          &lmcf->tiers[tier].name);
        }

    } else {
        failures = ngx_atomic_fetch_add(&ts->failures, 1) + 1;

        if (probing) {
            ts->opened_at = ngx_current_msec;

            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "llm router: %V tier probe failed, breaker "
                          "stays open", &lmcf->tiers[tier].name);

        } else if (failures >= lmcf->breaker_failures
                   && ts->breaker == NGX_HTTP_LLM_BREAKER_CLOSED)
        {
            ts->opened_at = ngx_current_msec;

            if (ngx_atomic_cmp_set(&ts->breaker,
                                   NGX_HTTP_LLM_BREAKER_CLOSED,
                                   NGX_HTTP_LLM_BREAKER_OPEN))
            {
                ngx_log_error(NGX_LOG_WARN, log, 0,
                              "llm router: %V tier failed %uA times in a "
                              "row, breaker open for %M ms",
                              &lmcf->tiers[tier].name, failures,
                              lmcf->breaker_cooldown);
            }
        }
    }

    if (probing) {
        ts->probing = 0;
    }
}


void
ngx_http_llm_tier_health(ngx_http_llm_main_conf_t *lmcf, ngx_uint_t tier,
    ngx_uint_t up, ngx_uint_t loaded, ngx_log_t *log)
{
    ngx_uint_t               level;
    ngx_atomic_uint_t        health;
    ngx_http_llm_tier_sh_t  *ts;

    ts = &lmcf->sh->tiers[tier];

    health = up ? NGX_HTTP_LLM_YES : NGX_HTTP_LLM_NO;

    if (ts->health != health) {
        level = up ? NGX_LOG_NOTICE : NGX_LOG_WARN;

        ngx_log_error(level, log, 0,
                      "llm router: health check: %V tier is %s",
                      &lmcf->tiers[tier].name, up ? "up" : "down");
    }

    (void) ngx_atomic_fetch_add(&lmcf->sh->m.health_checks[tier][up ? 0 : 1],
                                1);

    ts->health = health;
    ts->loaded = loaded;
    ts->checked_at = ngx_current_msec;

    if (up) {
        /* a tier that answers its health check is used again at once */
        ngx_http_llm_tier_result(lmcf, tier, 1, 0, log);
    }
}


double
ngx_http_llm_gpu_vram(ngx_http_llm_main_conf_t *lmcf, ngx_uint_t gpu)
{
    ngx_msec_t              age;
    ngx_atomic_uint_t       used, total;
    ngx_http_llm_gpu_t     *g;
    ngx_http_llm_gpu_sh_t  *gs;

    if (gpu == NGX_HTTP_LLM_NO_GPU) {
        return -1;
    }

    g = lmcf->gpus.elts;
    gs = &lmcf->sh->gpus[gpu];

    if (!gs->ok || gs->read_at == 0) {
        return -1;
    }

    /* a reading older than three intervals is no reading */
    age = ngx_current_msec - (ngx_msec_t) gs->read_at;

    if ((ngx_msec_int_t) age > (ngx_msec_int_t) (3 * g[gpu].interval)) {
        return -1;
    }

    used = gs->used;
    total = gs->total;

    if (total == 0) {
        return -1;
    }

    return (double) used / total;
}
