
/*
 * Copyright (C) ngx_llm_router authors
 */


#ifndef _NGX_HTTP_LLM_ROUTER_MODULE_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTER_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_llm_classify.h"
#include "ngx_llm_request.h"


#define NGX_HTTP_LLM_ROUTER_VERSION  "0.1.0"

#define NGX_HTTP_LLM_BIG             0
#define NGX_HTTP_LLM_SMALL           1
#define NGX_HTTP_LLM_TIERS           2

#define NGX_HTTP_LLM_DIALECT_URI     ((ngx_uint_t) -1)


typedef struct {
    ngx_str_t                  name;
    ngx_str_t                  upstream;
    ngx_str_t                  model;
    ngx_uint_t                 max_inflight;
    ngx_uint_t                 configured;    /* unsigned  configured:1; */
} ngx_http_llm_tier_t;


typedef struct {
    ngx_http_llm_tier_t        tiers[NGX_HTTP_LLM_TIERS];
    ngx_array_t               *auto_models;   /* of ngx_str_t */
    ngx_uint_t                 default_tier;
    ngx_uint_t                 used;          /* unsigned  used:1; */
} ngx_http_llm_main_conf_t;


typedef struct {
    ngx_flag_t                 enable;
    ngx_uint_t                 dialect;
    size_t                     max_body_size;
    ngx_llm_classify_conf_t    classify;
} ngx_http_llm_loc_conf_t;


typedef struct {
    ngx_llm_dialect_e          dialect;
    ngx_uint_t                 tier;
    ngx_str_t                  reason;
    ngx_str_t                  requested_model;

    double                     score;
    ngx_llm_class_e            cls;
    u_char                     features[96];
    size_t                     features_len;

    unsigned                   body_ready:1;
    unsigned                   waiting_body:1;
    unsigned                   routed:1;
    unsigned                   classified:1;
    unsigned                   stream:1;
} ngx_http_llm_ctx_t;


extern ngx_module_t  ngx_http_llm_router_module;


ngx_int_t ngx_http_llm_add_variables(ngx_conf_t *cf);


#endif /* _NGX_HTTP_LLM_ROUTER_MODULE_H_INCLUDED_ */
