
/*
 * Copyright (C) ngx_llm_router authors
 */


#ifndef _NGX_HTTP_LLM_ROUTER_MODULE_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTER_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_llm_classify.h"
#include "ngx_llm_policy.h"
#include "ngx_llm_request.h"


#define NGX_HTTP_LLM_ROUTER_VERSION  "0.1.0"

#define NGX_HTTP_LLM_TIER_NAME_LEN   32   /* with its NUL */

#define NGX_HTTP_LLM_DIALECT_URI     ((ngx_uint_t) -1)

#define NGX_HTTP_LLM_API_OLLAMA      0    /* Ollama's own API */
#define NGX_HTTP_LLM_API_OPENAI      1    /* an OpenAI-compatible server */

#define NGX_HTTP_LLM_MAX_GPUS        8
#define NGX_HTTP_LLM_NO_GPU          ((ngx_uint_t) -1)

#define NGX_HTTP_LLM_GPU_OFF         0
#define NGX_HTTP_LLM_GPU_SYSFS       1
#define NGX_HTTP_LLM_GPU_ROCM_SMI    2
#define NGX_HTTP_LLM_GPU_NVML        3
#define NGX_HTTP_LLM_GPU_PROMETHEUS  4


typedef struct ngx_http_llm_sh_s  ngx_http_llm_sh_t;
typedef struct ngx_http_llm_ctx_s  ngx_http_llm_ctx_t;
typedef struct ngx_http_llm_tier_sh_s  ngx_http_llm_tier_sh_t;
typedef struct ngx_http_llm_redis_conf_s  ngx_http_llm_redis_conf_t;


/* a tier, as declared by llm_router_tier; its live state is in the zone */

typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      rank;        /* 0: the least capable */
    ngx_str_t                       upstream;
    ngx_str_t                       model;
    ngx_str_t                       host;        /* Host sent to it */
    ngx_uint_t                      serves;      /* NGX_LLM_SERVES_* */
    ngx_uint_t                      api;         /* NGX_HTTP_LLM_API_* */
    ngx_uint_t                      overflow;    /* only when the local
                                                    tiers have no room */
    ngx_str_t                       authorization; /* "Bearer <key_file>" */
    ngx_str_t                       scheme;      /* "http", or "https" (tls) */
    ngx_uint_t                      budget;      /* tokens a period, 0: none */
    time_t                          budget_period;
    ngx_http_complex_value_t       *budget_key;
    ngx_uint_t                      max_inflight;
    ngx_uint_t                      queue;
    ngx_uint_t                      gpu;
    ngx_str_t                       gpu_name;
    ngx_http_upstream_srv_conf_t   *uscf;
    ngx_http_llm_tier_sh_t         *sh;          /* its slot in the zone */
    ngx_uint_t                      slot;
    u_char                         *file;        /* where it was declared */
    ngx_uint_t                      line;
} ngx_http_llm_tier_t;


typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      source;
    ngx_str_t                       device;      /* sysfs directory, or
                                                    an exporter's label */
    ngx_uint_t                      index;       /* rocm-smi, NVML device */
    ngx_msec_t                      interval;
    ngx_str_t                       library;     /* NVML's, NUL-terminated */
    ngx_addr_t                      exporter;    /* prometheus: IP:PORT */
    ngx_str_t                       uri;         /* and the page's path */
    ngx_msec_t                      timeout;     /* of one fetch */
} ngx_http_llm_gpu_t;


typedef struct {
    ngx_http_llm_tier_t             tiers[NGX_LLM_MAX_TIERS];
    ngx_uint_t                      ntiers;       /* in declaration order */
    ngx_array_t                    *auto_models;  /* of ngx_str_t */
    ngx_llm_tier_id_t               default_tier; /* the least capable, or
                                                     llm_router_default_tier */
    ngx_str_t                       default_name;
    ngx_uint_t                      used;         /* unsigned  used:1; */
    u_char                         *used_file;    /* the first llm_router */
    ngx_uint_t                      used_line;    /* on */
    u_char                         *dispatch_file; /* the first */
    ngx_uint_t                      dispatch_line; /* llm_router_dispatch */

    ngx_shm_zone_t                 *shm_zone;
    ngx_http_llm_sh_t              *sh;           /* zone, or this worker's */

    ngx_uint_t                      breaker_failures;
    ngx_msec_t                      breaker_cooldown;

    ngx_array_t                     gpus;         /* of ngx_http_llm_gpu_t */

    ngx_http_llm_redis_conf_t      *redis;
    ngx_shm_zone_t                 *similar_zone;
    ngx_uint_t                      budgets;      /* a tier has a budget */
    ngx_uint_t                      capabilities; /* a tier has serves= */
    ngx_msec_t                      share_interval;   /* 0: not shared */
    ngx_msec_t                      share_lease;

    time_t                          started;

    ngx_msec_t                      health_interval;   /* 0: off */
    ngx_msec_t                      health_timeout;
    ngx_str_t                       health_uri;
} ngx_http_llm_main_conf_t;


typedef struct {
    ngx_flag_t                      enable;
    ngx_uint_t                      dialect;
    size_t                          max_body_size;
    ngx_llm_classify_conf_t         classify;
    ngx_llm_policy_conf_t           policy;
    time_t                          retry_after;
    ngx_str_t                       override_header;   /* lowercase */
    ngx_uint_t                      override_hash;

    ngx_flag_t                      cache;
    time_t                          cache_ttl;
    size_t                          cache_max_size;
    ngx_array_t                    *cache_bypass;
    ngx_http_complex_value_t       *cache_tenant;
    ngx_flag_t                      cache_lock;
    ngx_msec_t                      cache_lock_timeout;
    ngx_flag_t                      cache_similar;
    double                          cache_similar_threshold;
} ngx_http_llm_loc_conf_t;


extern ngx_module_t  ngx_http_llm_router_module;


#endif /* _NGX_HTTP_LLM_ROUTER_MODULE_H_INCLUDED_ */
