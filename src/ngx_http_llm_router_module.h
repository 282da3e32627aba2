
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

#define NGX_HTTP_LLM_MAX_GPUS        8
#define NGX_HTTP_LLM_NO_GPU          ((ngx_uint_t) -1)

#define NGX_HTTP_LLM_GPU_OFF         0
#define NGX_HTTP_LLM_GPU_SYSFS       1
#define NGX_HTTP_LLM_GPU_ROCM_SMI    2


typedef struct ngx_http_llm_sh_s  ngx_http_llm_sh_t;
typedef struct ngx_http_llm_tier_sh_s  ngx_http_llm_tier_sh_t;
typedef struct ngx_http_llm_redis_conf_s  ngx_http_llm_redis_conf_t;


/* a tier, as declared by llm_router_tier; its live state is in the zone */

typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      rank;        /* 0: the least capable */
    ngx_str_t                       upstream;
    ngx_str_t                       model;
    ngx_str_t                       host;        /* Host sent to it */
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
    ngx_str_t                       device;      /* sysfs directory */
    ngx_uint_t                      index;       /* rocm-smi device */
    ngx_msec_t                      interval;
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

    ngx_shm_zone_t                 *shm_zone;
    ngx_http_llm_sh_t              *sh;           /* zone, or this worker's */

    ngx_uint_t                      breaker_failures;
    ngx_msec_t                      breaker_cooldown;

    ngx_array_t                     gpus;         /* of ngx_http_llm_gpu_t */

    ngx_http_llm_redis_conf_t      *redis;

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
} ngx_http_llm_loc_conf_t;


#define NGX_HTTP_LLM_CACHE_NONE      0
#define NGX_HTTP_LLM_CACHE_HIT       1
#define NGX_HTTP_LLM_CACHE_MISS      2
#define NGX_HTTP_LLM_CACHE_BYPASS    3
#define NGX_HTTP_LLM_CACHE_ERROR     4


#define NGX_HTTP_LLM_KIND_PROMPT     0    /* a prompt: classified, routed */
#define NGX_HTTP_LLM_KIND_NAMED      1    /* a body naming a model */
#define NGX_HTTP_LLM_KIND_PASS       2    /* to one tier as it came */


typedef struct {
    ngx_llm_dialect_e          dialect;
    ngx_uint_t                 kind;
    ngx_llm_tier_id_t          tier;
    ngx_llm_reason_e           reason;
    ngx_str_t                  requested_model;

    /* from the answer's final chunk, for metrics and logs */
    u_char                    *tail;          /* allocated on first use */
    size_t                     tail_len;
    ngx_uint_t                 tokens_in;
    ngx_uint_t                 tokens_out;
    ngx_uint_t                 eval_us;
    unsigned                   tokens_seen:1;
    ngx_uint_t                 fallback_status;

    ngx_http_request_t        *request;
    ngx_http_llm_main_conf_t  *lmcf;

    ngx_llm_tier_id_t          pinned;
    ngx_llm_tier_id_t          counted;      /* the tier it is in flight on */
    ngx_llm_tier_id_t          fallback_from;
    unsigned                   probing:1;    /* this request probes a tier */
    unsigned                   in_location:1;
    unsigned                   outcome_done:1;
    unsigned                   answered:1;
    unsigned                   rewrite:1;     /* the model is a tier's */
    unsigned                   unload:1;

    /* response cache */
    ngx_uint_t                 cache_status;
    u_char                     cache_key[64];
    void                      *cache_cmd;     /* pending Redis command */
    ngx_event_t                cache_wait;    /* single-flight poll */
    ngx_msec_t                 cache_wait_start;
    ngx_llm_request_t          req;           /* parsed, while waiting */
    ngx_str_t                  body;
    ngx_chain_t               *store;         /* copy of the response */
    ngx_chain_t              **store_last;
    size_t                     store_size;
    ngx_str_t                  store_type;
    ngx_str_t                  cached_model;  /* of a HIT */
    unsigned                   storing:1;
    unsigned                   stored:1;
    unsigned                   leader:1;      /* holds the fill lock */
    unsigned                   req_held:1;

    double                     score;
    ngx_llm_class_e            cls;
    ngx_llm_classify_result_t  result;        /* features formatted lazily */
    u_char                     features[96];
    size_t                     features_len;

    unsigned                   body_ready:1;
    unsigned                   waiting_body:1;
    unsigned                   lookup:1;      /* waiting for Redis */
    unsigned                   routed:1;
    unsigned                   classified:1;
    unsigned                   stream:1;
    unsigned                   features_done:1;
} ngx_http_llm_ctx_t;


extern ngx_module_t  ngx_http_llm_router_module;
extern ngx_str_t     ngx_http_llm_cache_names[];   /* by cache status */


ngx_int_t ngx_http_llm_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_llm_handler(ngx_http_request_t *r);
ngx_http_llm_ctx_t *ngx_http_llm_ctx_create(ngx_http_request_t *r,
    ngx_uint_t dialect);
ngx_int_t ngx_http_llm_body(ngx_http_request_t *r, ngx_str_t *body);
ngx_int_t ngx_http_llm_answer(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t status, const char *msg);
const char *ngx_http_llm_not_found(ngx_http_request_t *r, ngx_str_t *model);
ngx_int_t ngx_http_llm_uri_is(ngx_http_request_t *r, char *suffix);
void *ngx_http_llm_pool_alloc(void *data, size_t size);
ngx_int_t ngx_http_llm_endpoint(ngx_http_request_t *r);
ngx_int_t ngx_http_llm_named(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx);
ngx_int_t ngx_http_llm_load_all(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_llm_request_t *req, ngx_str_t *body);
void ngx_http_llm_handler_init(void);
ngx_http_llm_ctx_t *ngx_http_llm_get_ctx(ngx_http_request_t *r);
ngx_str_t *ngx_http_llm_features(ngx_http_llm_ctx_t *ctx, ngx_str_t *s);
ngx_str_t *ngx_http_llm_reason_str(ngx_llm_reason_e reason);
void ngx_http_llm_json_init(void);
void ngx_http_llm_json_pool(ngx_pool_t *pool);
ngx_int_t ngx_http_llm_route_continue(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
ngx_int_t ngx_http_llm_cache_lookup(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
void ngx_http_llm_cache_cleanup(ngx_http_llm_ctx_t *ctx);
ngx_int_t ngx_http_llm_cache_init(ngx_conf_t *cf);
void ngx_http_llm_metrics_request(ngx_http_llm_ctx_t *ctx);
void ngx_http_llm_metrics_fallback(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t from, ngx_llm_tier_id_t to, ngx_uint_t status);
void ngx_http_llm_metrics_tail(ngx_http_llm_ctx_t *ctx, ngx_chain_t *in);
void ngx_http_llm_metrics_tokens(ngx_http_llm_ctx_t *ctx);
ngx_int_t ngx_http_llm_metrics_handler(ngx_http_request_t *r);
char *ngx_http_llm_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

ngx_int_t ngx_http_llm_send(ngx_http_request_t *r, ngx_uint_t status,
    char *type, ngx_str_t *body);
ngx_int_t ngx_http_llm_add_header(ngx_http_request_t *r, char *key,
    ngx_str_t *value);
ngx_int_t ngx_http_llm_param_msec(ngx_str_t *value, char *name,
    ngx_msec_t *msec);
void ngx_http_llm_start_timer(ngx_event_t *ev, ngx_event_handler_pt handler,
    void *data, ngx_log_t *log);


#endif /* _NGX_HTTP_LLM_ROUTER_MODULE_H_INCLUDED_ */
