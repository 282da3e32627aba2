
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Directives and configuration.  The request path is in
 * ngx_http_llm_handler.c, the shared state in ngx_http_llm_state.c.
 */


#include "ngx_http_llm_state.h"
#include "ngx_http_llm_handler.h"
#include "ngx_http_llm_util.h"
#include "ngx_http_llm_cache.h"
#include "ngx_http_llm_similar.h"
#include "ngx_http_llm_budget.h"
#include "ngx_http_llm_openai.h"
#include "ngx_http_llm_balance.h"
#include "ngx_http_llm_dispatch.h"
#include "ngx_http_llm_share.h"
#include "ngx_http_llm_status.h"
#include "ngx_http_llm_variables.h"
#include "ngx_http_llm_vram.h"
#include "ngx_http_llm_health.h"
#include "ngx_http_llm_redis.h"


/* a tier name llm_router_tier accepts: what it is for, its defaults */

typedef struct {
    ngx_str_t    name;
    ngx_uint_t   rank;
    ngx_uint_t   max_inflight;
} ngx_http_llm_tier_kind_t;


/* a tier's capacity when it has no default and no max_inflight= */
#define NGX_HTTP_LLM_MAX_INFLIGHT  4


static void *ngx_http_llm_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_llm_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_llm_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_llm_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_llm_router(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_tier(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_auto_models(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_default_tier(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_thresholds(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_dialect(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_breaker(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_fraction(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_overload(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_override_header(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_llm_init_process(ngx_cycle_t *cycle);
static void ngx_http_llm_exit_process(ngx_cycle_t *cycle);
static ngx_http_llm_tier_kind_t *ngx_http_llm_tier_kind(ngx_str_t *name);
static ngx_llm_tier_id_t ngx_http_llm_tier_find(
    ngx_http_llm_main_conf_t *lmcf, ngx_str_t *name);
static ngx_llm_tier_id_t ngx_http_llm_lowest_tier(
    ngx_http_llm_main_conf_t *lmcf);
static ngx_int_t ngx_http_llm_tier_name_valid(ngx_str_t *name);
static ngx_int_t ngx_http_llm_serves(ngx_str_t *list, ngx_uint_t *serves);
static ngx_int_t ngx_http_llm_key_file(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *authorization);
static ngx_int_t ngx_http_llm_model_name_valid(ngx_str_t *name);
static ngx_int_t ngx_http_llm_host_valid(ngx_str_t *host);
static void ngx_http_llm_tier_host(ngx_http_llm_tier_t *tier);
static ngx_int_t ngx_http_llm_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_llm_postconfiguration(ngx_conf_t *cf);


static ngx_command_t  ngx_http_llm_commands[] = {

    { ngx_string("llm_router"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_llm_router,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, enable),
      NULL },

    { ngx_string("llm_router_tier"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_llm_tier,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_auto_models"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llm_auto_models,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_default_tier"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_llm_default_tier,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_thresholds"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_llm_thresholds,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, max_body_size),
      NULL },

    { ngx_string("llm_router_dialect"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llm_dialect,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_llm_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_gpu"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_llm_gpu,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_health_check"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llm_health_check,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_breaker"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llm_breaker,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_vram_high"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llm_fraction,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, policy.vram_high),
      NULL },

    { ngx_string("llm_router_medium_spare"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llm_fraction,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, policy.medium_spare),
      NULL },

    { ngx_string("llm_router_overload"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_llm_overload,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_override_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llm_override_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llm_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, cache),
      NULL },

    { ngx_string("llm_cache_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, cache_ttl),
      NULL },

    { ngx_string("llm_cache_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, cache_max_size),
      NULL },

    { ngx_string("llm_cache_bypass"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_set_predicate_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, cache_bypass),
      NULL },

    { ngx_string("llm_cache_tenant"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, cache_tenant),
      NULL },

    { ngx_string("llm_cache_lock"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, cache_lock),
      NULL },

    { ngx_string("llm_cache_lock_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, cache_lock_timeout),
      NULL },

    { ngx_string("llm_cache_similar_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llm_similar_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_cache_similar"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, cache_similar),
      NULL },

    { ngx_string("llm_cache_similar_threshold"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llm_fraction,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, cache_similar_threshold),
      NULL },

    { ngx_string("llm_router_budget"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_llm_budget,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_dispatch"),
      NGX_HTTP_UPS_CONF|NGX_CONF_NOARGS,
      ngx_http_llm_dispatch,
      0,
      0,
      NULL },

    { ngx_string("llm_router_balance"),
      NGX_HTTP_UPS_CONF|NGX_CONF_ANY,
      ngx_http_llm_balance,
      0,
      0,
      NULL },

    { ngx_string("llm_router_share"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llm_share,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_llm_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_llm_router_module_ctx = {
    ngx_http_llm_preconfiguration,         /* preconfiguration */
    ngx_http_llm_postconfiguration,        /* postconfiguration */

    ngx_http_llm_create_main_conf,         /* create main configuration */
    ngx_http_llm_init_main_conf,           /* init main configuration */

    ngx_http_llm_balance_create_conf,      /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_llm_create_loc_conf,          /* create location configuration */
    ngx_http_llm_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_llm_router_module = {
    NGX_MODULE_V1,
    &ngx_http_llm_router_module_ctx,       /* module context */
    ngx_http_llm_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_llm_init_process,             /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_llm_exit_process,             /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * The tiers llm_router_tier knows: a name, what it is for (its rank) and
 * its defaults.  Nowhere else do "big" and "small" appear.
 */

static ngx_http_llm_tier_kind_t  ngx_http_llm_tier_kinds[] = {
    { ngx_string("big"),   1, 4 },     /* gpt-oss:20b on the GPU */
    { ngx_string("small"), 0, 8 },     /* llama3.2:3b */
    { ngx_null_string, 0, 0 }
};


static void *
ngx_http_llm_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     lmcf->tiers[] = { 0 };
     *     lmcf->ntiers = 0;
     *     lmcf->default_name = { 0, NULL };
     *     lmcf->auto_models = NULL;
     *     lmcf->used = 0;
     */

    lmcf->breaker_failures = NGX_CONF_UNSET_UINT;
    lmcf->breaker_cooldown = NGX_CONF_UNSET_MSEC;
    lmcf->health_interval = NGX_CONF_UNSET_MSEC;

    if (ngx_array_init(&lmcf->gpus, cf->pool, 1, sizeof(ngx_http_llm_gpu_t))
        != NGX_OK)
    {
        return NULL;
    }

    return lmcf;
}


static char *
ngx_http_llm_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_str_t  *name;

    if (lmcf->auto_models == NULL) {
        lmcf->auto_models = ngx_array_create(cf->pool, 1, sizeof(ngx_str_t));
        if (lmcf->auto_models == NULL) {
            return NGX_CONF_ERROR;
        }

        name = ngx_array_push(lmcf->auto_models);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_str_set(name, "auto");
    }

    lmcf->default_tier = ngx_http_llm_lowest_tier(lmcf);
    ngx_conf_init_uint_value(lmcf->breaker_failures, 3);
    ngx_conf_init_msec_value(lmcf->breaker_cooldown, 10000);

    if (lmcf->health_interval == NGX_CONF_UNSET_MSEC) {
        lmcf->health_interval = 0;
    }

    if (lmcf->shm_zone == NULL) {
        /* no zone: each worker keeps its own numbers */
        lmcf->sh = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_sh_t));
        if (lmcf->sh == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_http_llm_tiers_bind(lmcf, cf->log) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_llm_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_loc_conf_t));
    if (llcf == NULL) {
        return NULL;
    }

    llcf->enable = NGX_CONF_UNSET;
    llcf->dialect = NGX_CONF_UNSET_UINT;
    llcf->max_body_size = NGX_CONF_UNSET_SIZE;
    llcf->classify.simple_below = -1;
    llcf->classify.complex_from = -1;
    llcf->policy.vram_high = -1;
    llcf->policy.medium_spare = -1;
    llcf->policy.both_full = -1;
    llcf->retry_after = NGX_CONF_UNSET;
    llcf->override_header.len = NGX_CONF_UNSET_SIZE;
    llcf->cache = NGX_CONF_UNSET;
    llcf->cache_ttl = NGX_CONF_UNSET;
    llcf->cache_max_size = NGX_CONF_UNSET_SIZE;
    llcf->cache_bypass = NGX_CONF_UNSET_PTR;
    llcf->cache_tenant = NGX_CONF_UNSET_PTR;
    llcf->cache_lock = NGX_CONF_UNSET;
    llcf->cache_lock_timeout = NGX_CONF_UNSET_MSEC;
    llcf->cache_similar = NGX_CONF_UNSET;
    llcf->cache_similar_threshold = -1;

    /*
     * set by ngx_pcalloc():
     *
     *     llcf->override_header.data = NULL;
     */

    return llcf;
}


static char *
ngx_http_llm_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_llm_loc_conf_t *prev = parent;
    ngx_http_llm_loc_conf_t *conf = child;

    ngx_str_t                          tenant = ngx_string("$http_authorization");
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_llm_main_conf_t          *lmcf;
    ngx_http_compile_complex_value_t   ccv;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_uint_value(conf->dialect, prev->dialect,
                              NGX_HTTP_LLM_DIALECT_URI);
    ngx_conf_merge_size_value(conf->max_body_size, prev->max_body_size,
                              1024 * 1024);

    if (conf->enable) {
        /*
         * a body larger than client_body_buffer_size goes to a temporary
         * file, written and then read back with blocking calls: a body
         * the router accepts stays in memory instead (nginx sizes the
         * buffer by Content-Length, so small bodies take no more)
         */
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        if (clcf->client_body_buffer_size < conf->max_body_size) {
            clcf->client_body_buffer_size = conf->max_body_size;
        }
    }

    if (conf->classify.simple_below < 0) {
        if (prev->classify.simple_below < 0) {
            ngx_llm_classify_conf_default(&conf->classify);

        } else {
            conf->classify = prev->classify;
        }
    }

    if (conf->policy.vram_high < 0) {
        conf->policy.vram_high = prev->policy.vram_high < 0
                                 ? 0.95 : prev->policy.vram_high;
    }

    if (conf->policy.medium_spare < 0) {
        conf->policy.medium_spare = prev->policy.medium_spare < 0
                                    ? 0.5 : prev->policy.medium_spare;
    }

    conf->policy.simple_below = conf->classify.simple_below;
    conf->policy.complex_from = conf->classify.complex_from;

    if (conf->policy.both_full < 0) {
        conf->policy.both_full = prev->policy.both_full < 0
                                 ? NGX_LLM_BOTH_FULL_LEAST_LOADED
                                 : prev->policy.both_full;
    }

    ngx_conf_merge_sec_value(conf->retry_after, prev->retry_after, 5);

    ngx_conf_merge_value(conf->cache, prev->cache, 0);

    if (conf->cache) {
        lmcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_llm_router_module);

        if (lmcf->redis == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"llm_cache\" is on but no \"llm_redis\" "
                               "is configured at http level");
            return NGX_CONF_ERROR;
        }
    }
    ngx_conf_merge_sec_value(conf->cache_ttl, prev->cache_ttl, 300);
    ngx_conf_merge_size_value(conf->cache_max_size, prev->cache_max_size,
                              1024 * 1024);
    ngx_conf_merge_ptr_value(conf->cache_bypass, prev->cache_bypass, NULL);
    ngx_conf_merge_value(conf->cache_lock, prev->cache_lock, 1);
    ngx_conf_merge_msec_value(conf->cache_lock_timeout,
                              prev->cache_lock_timeout, 30000);
    ngx_conf_merge_value(conf->cache_similar, prev->cache_similar, 0);
    if (conf->cache_similar_threshold < 0) {
        conf->cache_similar_threshold = prev->cache_similar_threshold < 0
                                        ? NGX_LLM_SIMILAR_THRESHOLD
                                        : prev->cache_similar_threshold;
    }

    if (conf->cache_similar) {
        lmcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_llm_router_module);

        if (lmcf->similar_zone == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"llm_cache_similar\" is on but no "
                               "\"llm_cache_similar_zone\" is configured "
                               "at http level");
            return NGX_CONF_ERROR;
        }
    }

    if (conf->cache_tenant == NGX_CONF_UNSET_PTR) {
        conf->cache_tenant = prev->cache_tenant;
    }

    if (conf->cache_tenant == NGX_CONF_UNSET_PTR
        || conf->cache_tenant == NULL)
    {
        /* the default tenant: the client's Authorization header */
        conf->cache_tenant = ngx_palloc(cf->pool,
                                        sizeof(ngx_http_complex_value_t));
        if (conf->cache_tenant == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &tenant;
        ccv.complex_value = conf->cache_tenant;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (conf->override_header.len == NGX_CONF_UNSET_SIZE) {
        if (prev->override_header.len == NGX_CONF_UNSET_SIZE) {
            ngx_str_null(&conf->override_header);

        } else {
            conf->override_header = prev->override_header;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_router(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                      *rv;
    ngx_http_llm_loc_conf_t   *llcf = conf;
    ngx_http_llm_main_conf_t  *lmcf;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (llcf->enable) {
        lmcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_llm_router_module);

        if (!lmcf->used) {
            lmcf->used_file = cf->conf_file->file.name.data;
            lmcf->used_line = cf->conf_file->line;
        }

        lmcf->used = 1;
    }

    return NGX_CONF_OK;
}


/* llm_router_tier big|small upstream=NAME model=NAME [max_inflight=N]; */

static char *
ngx_http_llm_tier(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_int_t                  n;
    ngx_str_t                 *value, v;
    ngx_uint_t                 j;
    ngx_http_llm_tier_t       *tier;
    ngx_http_llm_tier_kind_t  *kind;

    value = cf->args->elts;

    if (ngx_http_llm_tier_name_valid(&value[1]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid tier name \"%V\" in \"%V\", it must "
                           "be 1 to %d letters, digits, \"-\", \"_\" or "
                           "\".\"", &value[1], &cmd->name,
                           NGX_HTTP_LLM_TIER_NAME_LEN - 1);
        return NGX_CONF_ERROR;
    }

    /* big and small have a rank and a capacity of their own */
    kind = ngx_http_llm_tier_kind(&value[1]);

    if (ngx_http_llm_tier_find(lmcf, &value[1]) != NGX_LLM_NO_TIER) {
        return "is duplicate";
    }

    if (lmcf->ntiers == NGX_LLM_MAX_TIERS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many tiers in \"%V\", at most %d",
                           &cmd->name, NGX_LLM_MAX_TIERS);
        return NGX_CONF_ERROR;
    }

    tier = &lmcf->tiers[lmcf->ntiers];

    tier->name = value[1];
    tier->rank = kind ? kind->rank : NGX_CONF_UNSET_UINT;
    tier->gpu = NGX_HTTP_LLM_NO_GPU;
    tier->file = cf->conf_file->file.name.data;
    tier->line = cf->conf_file->line;

    for (j = 2; j < cf->args->nelts; j++) {

        if (ngx_strncmp(value[j].data, "upstream=", 9) == 0) {
            tier->upstream.data = value[j].data + 9;
            tier->upstream.len = value[j].len - 9;
            continue;
        }

        if (ngx_strncmp(value[j].data, "model=", 6) == 0) {
            tier->model.data = value[j].data + 6;
            tier->model.len = value[j].len - 6;

            if (ngx_http_llm_model_name_valid(&tier->model) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid model name \"%V\" in \"%V\"",
                                   &tier->model, &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[j].data, "host=", 5) == 0) {
            tier->host.data = value[j].data + 5;
            tier->host.len = value[j].len - 5;

            if (ngx_http_llm_host_valid(&tier->host) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid host \"%V\" in \"%V\"",
                                   &tier->host, &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[j].data, "gpu=", 4) == 0) {
            tier->gpu_name.data = value[j].data + 4;
            tier->gpu_name.len = value[j].len - 4;
            continue;
        }

        if (ngx_strncmp(value[j].data, "queue=", 6) == 0) {
            n = ngx_atoi(value[j].data + 6, value[j].len - 6);

            if (n == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid queue \"%V\" in \"%V\", "
                                   "it must be a number", &value[j],
                                   &cmd->name);
                return NGX_CONF_ERROR;
            }

            tier->queue = n;
            continue;
        }

        if (ngx_strncmp(value[j].data, "rank=", 5) == 0) {
            n = ngx_atoi(value[j].data + 5, value[j].len - 5);

            if (n == NGX_ERROR || n > 255) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid rank \"%V\" in \"%V\", "
                                   "it must be a number from 0 to 255",
                                   &value[j], &cmd->name);
                return NGX_CONF_ERROR;
            }

            tier->rank = n;
            continue;
        }

        if (ngx_strncmp(value[j].data, "serves=", 7) == 0) {
            v.data = value[j].data + 7;
            v.len = value[j].len - 7;

            lmcf->capabilities = 1;

            if (ngx_http_llm_serves(&v, &tier->serves) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" in \"%V\", it must be "
                                   "a list of chat, generate, embed, "
                                   "vision, tools", &value[j], &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[j].data, "api=ollama") == 0) {
            tier->api = NGX_HTTP_LLM_API_OLLAMA;
            continue;
        }

        if (ngx_strcmp(value[j].data, "api=openai") == 0) {
            tier->api = NGX_HTTP_LLM_API_OPENAI;
            continue;
        }

        if (ngx_strncmp(value[j].data, "api=", 4) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" in \"%V\", it must be "
                               "\"api=ollama\" or \"api=openai\"",
                               &value[j], &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (ngx_strncmp(value[j].data, "key_file=", 9) == 0) {
            v.data = value[j].data + 9;
            v.len = value[j].len - 9;

            if (ngx_http_llm_key_file(cf, &v, &tier->authorization)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[j].data, "tls") == 0) {
            ngx_str_set(&tier->scheme, "https");
            continue;
        }

        if (ngx_strcmp(value[j].data, "overflow") == 0) {
            tier->overflow = 1;
            continue;
        }

        if (ngx_strncmp(value[j].data, "max_inflight=", 13) == 0) {
            v.data = value[j].data + 13;
            v.len = value[j].len - 13;

            n = ngx_atoi(v.data, v.len);

            if (n == NGX_ERROR || n == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid max_inflight \"%V\" in \"%V\", "
                                   "it must be a positive number",
                                   &v, &cmd->name);
                return NGX_CONF_ERROR;
            }

            tier->max_inflight = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\"",
                           &value[j], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (tier->upstream.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" %V: missing \"upstream=\"",
                           &cmd->name, &tier->name);
        return NGX_CONF_ERROR;
    }

    if (tier->model.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" %V: missing \"model=\"",
                           &cmd->name, &tier->name);
        return NGX_CONF_ERROR;
    }

    if (tier->rank == NGX_CONF_UNSET_UINT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" %V: missing \"rank=\" (only big and "
                           "small have one by default)",
                           &cmd->name, &tier->name);
        return NGX_CONF_ERROR;
    }

    if (tier->max_inflight == 0) {
        tier->max_inflight = kind ? kind->max_inflight
                                  : NGX_HTTP_LLM_MAX_INFLIGHT;
    }

    if (tier->serves == 0) {
        tier->serves = NGX_LLM_SERVES_DEFAULT;
    }

    if (tier->scheme.len == 0) {
        ngx_str_set(&tier->scheme, "http");
    }

    lmcf->ntiers++;

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_auto_models(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_str_t   *value, *name;
    ngx_uint_t   i;

    if (lmcf->auto_models != NULL) {
        return "is duplicate";
    }

    lmcf->auto_models = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                         sizeof(ngx_str_t));
    if (lmcf->auto_models == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_http_llm_model_name_valid(&value[i]) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid model name \"%V\" in \"%V\"",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        name = ngx_array_push(lmcf->auto_models);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_default_tier(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_str_t  *value;

    if (lmcf->default_name.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_llm_tier_kind(&value[1]) == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid tier \"%V\" in \"%V\", "
                           "it must be \"big\" or \"small\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    /* the tier may be declared further down: resolved at the end */
    lmcf->default_name = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_thresholds(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_loc_conf_t *llcf = conf;

    ngx_int_t   low, high;
    ngx_str_t  *value;

    if (llcf->classify.simple_below >= 0) {
        return "is duplicate";
    }

    value = cf->args->elts;

    low = ngx_atofp(value[1].data, value[1].len, 3);
    high = ngx_atofp(value[2].data, value[2].len, 3);

    if (low == NGX_ERROR || high == NGX_ERROR || low > high || high > 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid thresholds \"%V %V\" in \"%V\", "
                           "they must be two scores between 0 and 1, "
                           "the first not above the second",
                           &value[1], &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    llcf->classify.simple_below = low / 1000.0;
    llcf->classify.complex_from = high / 1000.0;

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_dialect(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_loc_conf_t *llcf = conf;

    ngx_str_t          *value;
    ngx_llm_dialect_e   d;

    if (llcf->dialect != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "auto") == 0) {
        llcf->dialect = NGX_HTTP_LLM_DIALECT_URI;
        return NGX_CONF_OK;
    }

    d = ngx_llm_dialect_from_name((char *) value[1].data, value[1].len);

    if (d == NGX_LLM_DIALECT_NONE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid dialect \"%V\" in \"%V\", it must be "
                           "\"auto\", \"ollama_generate\", \"ollama_chat\", "
                           "\"openai_chat\", \"openai_completions\" "
                           "or \"jarvis\"", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    llcf->dialect = d;

    return NGX_CONF_OK;
}


/* llm_router_breaker failures=N cooldown=TIME; */

static char *
ngx_http_llm_breaker(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (lmcf->breaker_failures != NGX_CONF_UNSET_UINT
        || lmcf->breaker_cooldown != NGX_CONF_UNSET_MSEC)
    {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "failures=", 9) == 0) {
            n = ngx_atoi(value[i].data + 9, value[i].len - 9);

            if (n == NGX_ERROR || n == 0) {
                goto invalid;
            }

            lmcf->breaker_failures = n;
            continue;
        }

        switch (ngx_http_llm_param_msec(&value[i], "cooldown=",
                                        &lmcf->breaker_cooldown))
        {
        case NGX_OK:
            continue;

        case NGX_ERROR:
            goto invalid;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\"",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/* a share: "95%" or "0.95" */

static char *
ngx_http_llm_fraction(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    double     *fp;
    ngx_int_t   n;
    ngx_str_t  *value, v;

    fp = (double *) (p + cmd->offset);

    if (*fp >= 0) {
        return "is duplicate";
    }

    value = cf->args->elts;
    v = value[1];

    if (v.len > 1 && v.data[v.len - 1] == '%') {
        n = ngx_atofp(v.data, v.len - 1, 2);

        if (n != NGX_ERROR) {
            n /= 100;
        }

    } else {
        n = ngx_atofp(v.data, v.len, 4);
        n = (n == NGX_ERROR) ? NGX_ERROR : n / 100;
    }

    if (n == NGX_ERROR || n > 100) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\", it must be a "
                           "share such as \"95%%\" or \"0.95\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    *fp = n / 100.0;

    return NGX_CONF_OK;
}


/* llm_router_overload least_loaded|reject [retry_after=TIME]; */

static char *
ngx_http_llm_overload(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_loc_conf_t *llcf = conf;

    ngx_str_t  *value, v;

    if (llcf->policy.both_full >= 0) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "least_loaded") == 0) {
        llcf->policy.both_full = NGX_LLM_BOTH_FULL_LEAST_LOADED;

    } else if (ngx_strcmp(value[1].data, "reject") == 0) {
        llcf->policy.both_full = NGX_LLM_BOTH_FULL_REJECT;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\", it must be "
                           "\"least_loaded\" or \"reject\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "retry_after=", 12) != 0) {
            goto invalid;
        }

        v.data = value[2].data + 12;
        v.len = value[2].len - 12;

        llcf->retry_after = ngx_parse_time(&v, 1);

        if (llcf->retry_after == (time_t) NGX_ERROR) {
            goto invalid;
        }
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\"",
                       &value[2], &cmd->name);
    return NGX_CONF_ERROR;
}


/* llm_router_override_header NAME | off; */

static char *
ngx_http_llm_override_header(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_loc_conf_t *llcf = conf;

    ngx_str_t  *value;

    if (llcf->override_header.len != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_null(&llcf->override_header);
        return NGX_CONF_OK;
    }

    llcf->override_header = value[1];

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llm_init_process(ngx_cycle_t *cycle)
{
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_llm_router_module);

    if (lmcf == NULL || !lmcf->used) {
        return NGX_OK;
    }

    if (ngx_http_llm_vram_init_process(cycle, lmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (lmcf->redis != NULL
        && ngx_http_llm_redis_init_process(cycle, lmcf->redis,
                                           &lmcf->sh->redis[ngx_worker
                                                % NGX_HTTP_LLM_M_WORKERS])
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_llm_share_init_process(cycle, lmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_llm_health_init_process(cycle, lmcf);
}


static void
ngx_http_llm_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_llm_router_module);

    if (lmcf != NULL && lmcf->used && lmcf->redis != NULL) {
        ngx_http_llm_redis_exit_process();
    }
}


static ngx_http_llm_tier_kind_t *
ngx_http_llm_tier_kind(ngx_str_t *name)
{
    ngx_http_llm_tier_kind_t  *k;

    for (k = ngx_http_llm_tier_kinds; k->name.len; k++) {
        if (name->len == k->name.len
            && ngx_strncmp(name->data, k->name.data, name->len) == 0)
        {
            return k;
        }
    }

    return NULL;
}


static ngx_llm_tier_id_t
ngx_http_llm_tier_find(ngx_http_llm_main_conf_t *lmcf, ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < lmcf->ntiers; i++) {
        if (name->len == lmcf->tiers[i].name.len
            && ngx_strncmp(name->data, lmcf->tiers[i].name.data, name->len)
               == 0)
        {
            return (ngx_llm_tier_id_t) i;
        }
    }

    return NGX_LLM_NO_TIER;
}


/* where requests that are no prompt go by default: the least capable */

static ngx_llm_tier_id_t
ngx_http_llm_lowest_tier(ngx_http_llm_main_conf_t *lmcf)
{
    ngx_uint_t         i;
    ngx_llm_tier_id_t  t;

    t = lmcf->ntiers ? 0 : NGX_LLM_NO_TIER;

    for (i = 1; i < lmcf->ntiers; i++) {
        if (lmcf->tiers[i].rank < lmcf->tiers[t].rank) {
            t = (ngx_llm_tier_id_t) i;
        }
    }

    return t;
}


static ngx_int_t
ngx_http_llm_tier_name_valid(ngx_str_t *name)
{
    u_char      c;
    ngx_uint_t  i;

    if (name->len == 0 || name->len >= NGX_HTTP_LLM_TIER_NAME_LEN) {
        return NGX_ERROR;
    }

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* "chat,generate,embed,vision,tools" */

static ngx_int_t
ngx_http_llm_serves(ngx_str_t *list, ngx_uint_t *serves)
{
    u_char      *p, *end, *comma;
    ngx_uint_t   i;
    ngx_str_t    word;

    static struct {
        ngx_str_t   name;
        ngx_uint_t  bit;
    }  caps[] = {
        { ngx_string("chat"), NGX_LLM_SERVES_CHAT },
        { ngx_string("generate"), NGX_LLM_SERVES_GENERATE },
        { ngx_string("embed"), NGX_LLM_SERVES_EMBED },
        { ngx_string("vision"), NGX_LLM_SERVES_VISION },
        { ngx_string("tools"), NGX_LLM_SERVES_TOOLS }
    };

    *serves = 0;
    p = list->data;
    end = p + list->len;

    while (p < end) {
        comma = ngx_strlchr(p, end, ',');
        word.data = p;
        word.len = (comma ? comma : end) - p;

        for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
            if (word.len == caps[i].name.len
                && ngx_strncmp(word.data, caps[i].name.data, word.len) == 0)
            {
                *serves |= caps[i].bit;
                break;
            }
        }

        if (i == sizeof(caps) / sizeof(caps[0])) {
            return NGX_ERROR;
        }

        p = comma ? comma + 1 : end;
    }

    return *serves ? NGX_OK : NGX_ERROR;
}


/*
 * A cloud tier's API key, read once from a file (so it is in no nginx
 * configuration, and never logged): "Authorization: Bearer <key>" through
 * $llm_upstream_authorization.
 */

static ngx_int_t
ngx_http_llm_key_file(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *authorization)
{
    u_char           *p, *end, buf[1024];
    ssize_t           n;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    if (ngx_conf_full_name(cf->cycle, path, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));

    file.name = *path;
    file.log = cf->log;
    file.fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"llm_router_tier\": cannot open key_file "
                           "\"%V\"", path);
        return NGX_ERROR;
    }

    n = NGX_ERROR;

    if (ngx_fd_info(file.fd, &fi) != NGX_FILE_ERROR
        && ngx_file_size(&fi) < (off_t) sizeof(buf))
    {
        n = ngx_read_file(&file, buf, sizeof(buf), 0);
    }

    ngx_close_file(file.fd);

    /* the key: the file's first line, without spaces around it */

    p = buf;
    end = (n > 0) ? buf + n : buf;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    end = (p < end) ? ngx_strlchr(p, end, LF) ? ngx_strlchr(p, end, LF) : end
                    : p;

    while (end > p && (end[-1] == '\r' || end[-1] == ' '
                       || end[-1] == '\t'))
    {
        end--;
    }

    if (n == NGX_ERROR || end == p) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llm_router_tier\": key_file \"%V\" is "
                           "empty, unreadable or over 1k", path);
        return NGX_ERROR;
    }

    authorization->data = ngx_pnalloc(cf->pool,
                                      sizeof("Bearer ") - 1 + (end - p));
    if (authorization->data == NULL) {
        return NGX_ERROR;
    }

    authorization->len = ngx_sprintf(authorization->data, "Bearer %*s",
                                     (size_t) (end - p), p)
                         - authorization->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_model_name_valid(ngx_str_t *name)
{
    ngx_uint_t  i;

    if (name->len == 0 || name->len > 200) {
        return NGX_ERROR;
    }

    for (i = 0; i < name->len; i++) {
        if (name->data[i] <= 0x20 || name->data[i] == '"'
            || name->data[i] == '\\' || name->data[i] == 0x7f)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_host_valid(ngx_str_t *host)
{
    ngx_uint_t  i;

    if (host->len == 0 || host->len > 255) {
        return NGX_ERROR;
    }

    for (i = 0; i < host->len; i++) {
        if (host->data[i] <= 0x20 || host->data[i] >= 0x7f
            || host->data[i] == '/' || host->data[i] == '"')
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The Host a tier is asked with ($llm_upstream_host), unless "host=" set
 * it: the address of the upstream's first server as written there, which
 * is what a client talking to that server directly would send.  nginx's
 * default, the upstream block's name, is refused by an Ollama listening
 * on a loopback address (its DNS-rebinding guard accepts only IP
 * addresses, localhost, the machine's name and *.localhost, *.local,
 * *.internal names); a unix socket gets "localhost".
 */

static void
ngx_http_llm_tier_host(ngx_http_llm_tier_t *tier)
{
    ngx_http_upstream_server_t  *server;

    if (tier->host.len) {
        return;
    }

    ngx_str_set(&tier->host, "localhost");

    if (tier->uscf == NULL || tier->uscf->servers == NULL
        || tier->uscf->servers->nelts == 0)
    {
        return;
    }

    server = tier->uscf->servers->elts;

    if (server[0].name.len == 0
        || ngx_strncmp(server[0].name.data, "unix:", 5) == 0
        || ngx_http_llm_host_valid(&server[0].name) != NGX_OK)
    {
        return;
    }

    tier->host = server[0].name;
}


static ngx_int_t
ngx_http_llm_preconfiguration(ngx_conf_t *cf)
{
    ngx_llm_classify_init();

    return ngx_http_llm_add_variables(cf);
}


static ngx_int_t
ngx_http_llm_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                      i, j, k;
    ngx_http_llm_gpu_t             *gpu;
    ngx_http_handler_pt            *h;
    ngx_http_llm_tier_t            *tier;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_http_llm_main_conf_t       *lmcf;
    ngx_http_upstream_main_conf_t  *umcf;
    ngx_http_upstream_srv_conf_t  **uscfp;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_router_module);

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);
    uscfp = umcf->upstreams.elts;

    for (i = 0; lmcf->used && i < lmcf->ntiers; i++) {
        if (!lmcf->tiers[i].overflow) {
            break;
        }
    }

    if (lmcf->used && i == lmcf->ntiers) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"llm_router\" is on but no %stier is declared: add "
                      "\"llm_router_tier NAME upstream=... model=... "
                      "[rank=N];\" at http level in %s:%ui",
                      lmcf->ntiers ? "local (not overflow) " : "",
                      lmcf->used_file, lmcf->used_line);
        return NGX_ERROR;
    }

    if (lmcf->default_name.len) {
        lmcf->default_tier = ngx_http_llm_tier_find(lmcf,
                                                    &lmcf->default_name);

        if (lmcf->default_tier == NGX_LLM_NO_TIER && lmcf->used) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"llm_router_default_tier\" %V: that tier is "
                          "not declared", &lmcf->default_name);
            return NGX_ERROR;
        }
    }

    for (i = 0; i < lmcf->ntiers; i++) {
        tier = &lmcf->tiers[i];

        for (j = 0; j < umcf->upstreams.nelts; j++) {
            if ((uscfp[j]->flags & NGX_HTTP_UPSTREAM_CREATE)
                && uscfp[j]->host.len == tier->upstream.len
                && ngx_strncasecmp(uscfp[j]->host.data, tier->upstream.data,
                                   tier->upstream.len) == 0)
            {
                tier->uscf = uscfp[j];
                break;
            }
        }

        if (tier->uscf != NULL && ngx_http_llm_dispatch_is(tier->uscf)) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "tier \"%V\" has upstream=%V, which hands requests "
                          "to the tiers with \"llm_router_dispatch\": name "
                          "the tier's own upstream{}", &tier->name,
                          &tier->upstream);
            return NGX_ERROR;
        }

        if (tier->uscf == NULL && lmcf->dispatch_file != NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"llm_router_dispatch\" hands requests to the "
                          "tiers' upstream{} blocks, and tier \"%V\" has "
                          "upstream=%V, which is none: declare \"upstream "
                          "%V { server ...; }\" or proxy to $llm_upstream, "
                          "in %s:%ui", &tier->name, &tier->upstream,
                          &tier->upstream, lmcf->dispatch_file,
                          lmcf->dispatch_line);
            return NGX_ERROR;
        }

        /* $llm_upstream_host, in every location, routing or not */
        ngx_http_llm_tier_host(tier);

        if (!lmcf->used) {
            continue;
        }

        if (tier->gpu_name.len) {
            gpu = lmcf->gpus.elts;

            for (k = 0; k < lmcf->gpus.nelts; k++) {
                if (gpu[k].name.len == tier->gpu_name.len
                    && ngx_strncmp(gpu[k].name.data, tier->gpu_name.data,
                                   tier->gpu_name.len) == 0)
                {
                    tier->gpu = k;
                    break;
                }
            }

            if (k == lmcf->gpus.nelts) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "\"llm_router_tier\" %V: no \"llm_gpu "
                              "%V\" is defined in %s:%ui", &tier->name,
                              &tier->gpu_name, tier->file, tier->line);
                return NGX_ERROR;
            }
        }

        if (j == umcf->upstreams.nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"llm_router_tier\" %V: no \"upstream %V\" "
                          "block is defined in %s:%ui", &tier->name,
                          &tier->upstream, tier->file, tier->line);
            return NGX_ERROR;
        }
    }

    lmcf->started = ngx_time();

    ngx_http_llm_util_init();

    if (ngx_http_llm_cache_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* after the cache's: its filters see the translated answer */
    if (ngx_http_llm_openai_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_llm_handler;

    return NGX_OK;
}
