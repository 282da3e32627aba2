
/*
 * Copyright (C) ngx_llm_router authors
 *
 * $llm_* variables: the routing decision, for proxy_pass, headers and logs.
 * Outside a routed request they describe the default tier, so that
 * "proxy_pass http://$llm_upstream" also works for pass-through endpoints.
 */


#include "ngx_http_llm_variables.h"
#include "ngx_http_llm_ctx.h"
#include "ngx_http_llm_util.h"
#include "ngx_http_llm_cache.h"
#include "ngx_http_llm_metrics.h"
#include "ngx_llm_cache_key.h"


enum {
    NGX_HTTP_LLM_VAR_TARGET = 0,
    NGX_HTTP_LLM_VAR_UPSTREAM,
    NGX_HTTP_LLM_VAR_MODEL,
    NGX_HTTP_LLM_VAR_COMPLEXITY,
    NGX_HTTP_LLM_VAR_CLASS,
    NGX_HTTP_LLM_VAR_REASON,
    NGX_HTTP_LLM_VAR_FEATURES,
    NGX_HTTP_LLM_VAR_DIALECT,
    NGX_HTTP_LLM_VAR_REQUESTED_MODEL,
    NGX_HTTP_LLM_VAR_STREAM,
    NGX_HTTP_LLM_VAR_FALLBACK,
    NGX_HTTP_LLM_VAR_CACHE,
    NGX_HTTP_LLM_VAR_CACHE_KEY,
    NGX_HTTP_LLM_VAR_CACHE_SIMILARITY,
    NGX_HTTP_LLM_VAR_CACHE_AGE,
    NGX_HTTP_LLM_VAR_UPSTREAM_HOST,
    NGX_HTTP_LLM_VAR_UPSTREAM_AUTHORIZATION,
    NGX_HTTP_LLM_VAR_UPSTREAM_SCHEME,
    NGX_HTTP_LLM_VAR_TTFB,
    NGX_HTTP_LLM_VAR_TOKENS_IN,
    NGX_HTTP_LLM_VAR_TOKENS_OUT
};


static ngx_int_t ngx_http_llm_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_llm_vars[] = {

    { ngx_string("llm_target"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_TARGET, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_upstream"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_UPSTREAM, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_upstream_host"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_UPSTREAM_HOST, NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("llm_upstream_authorization"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_UPSTREAM_AUTHORIZATION, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_upstream_scheme"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_UPSTREAM_SCHEME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_model"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_MODEL, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_complexity"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_COMPLEXITY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_class"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_CLASS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_reason"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_REASON, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_features"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_FEATURES, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_dialect"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_DIALECT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_requested_model"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_REQUESTED_MODEL, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_stream"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_STREAM, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_fallback"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_FALLBACK, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_cache"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_CACHE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_cache_key"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_CACHE_KEY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_cache_similarity"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_CACHE_SIMILARITY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_cache_age"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_CACHE_AGE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_ttfb"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_TTFB, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_tokens_in"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_TOKENS_IN, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_tokens_out"), NULL, ngx_http_llm_variable,
      NGX_HTTP_LLM_VAR_TOKENS_OUT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_llm_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_llm_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* outside routed requests, with no tier declared: every value is empty */
static ngx_http_llm_tier_t  ngx_http_llm_no_tier;


static ngx_int_t
ngx_http_llm_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                     *p;
    const char                 *s;
    ngx_str_t                   value, *from;
    ngx_http_upstream_state_t  *us;
    ngx_llm_tier_id_t          t;
    ngx_http_llm_ctx_t        *ctx;
    ngx_http_llm_tier_t       *tier;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);
    ctx = ngx_http_llm_get_ctx(r);

    t = ngx_http_llm_tier_of(r);
    tier = (t != NGX_LLM_NO_TIER) ? &lmcf->tiers[t] : &ngx_http_llm_no_tier;

    ngx_str_null(&value);

    switch (data) {

    case NGX_HTTP_LLM_VAR_TARGET:
        if (ctx != NULL && ctx->cache.status == NGX_HTTP_LLM_CACHE_HIT) {
            ngx_str_set(&value, "cache");

        } else {
            value = tier->name;
        }

        break;

    case NGX_HTTP_LLM_VAR_UPSTREAM:
        value = tier->upstream;
        break;

    case NGX_HTTP_LLM_VAR_UPSTREAM_HOST:
        value = tier->host;
        break;

    case NGX_HTTP_LLM_VAR_UPSTREAM_SCHEME:
        if (tier->scheme.len) {
            value = tier->scheme;

        } else {
            ngx_str_set(&value, "http");
        }

        break;

    case NGX_HTTP_LLM_VAR_UPSTREAM_AUTHORIZATION:
        /* the tier's key (key_file=), else what the client sent */
        if (tier->authorization.len) {
            value = tier->authorization;

        } else if (r->headers_in.authorization) {
            value = r->headers_in.authorization->value;
        }

        break;

    case NGX_HTTP_LLM_VAR_MODEL:
        if (ctx != NULL && ctx->cache.status == NGX_HTTP_LLM_CACHE_HIT) {
            value = ctx->cache.model;

        } else {
            value = tier->model;
        }

        break;

    case NGX_HTTP_LLM_VAR_COMPLEXITY:
        if (ctx == NULL || !ctx->classified) {
            break;
        }

        p = ngx_pnalloc(r->pool, sizeof("0.000") - 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        value.data = p;
        value.len = ngx_sprintf(p, "%.3f", ctx->score) - p;
        break;

    case NGX_HTTP_LLM_VAR_CLASS:
        if (ctx != NULL && ctx->classified) {
            s = ngx_llm_class_name(ctx->cls);
            value.data = (u_char *) s;
            value.len = ngx_strlen(s);
        }

        break;

    case NGX_HTTP_LLM_VAR_REASON:
        if (ctx != NULL && ctx->reason != NGX_LLM_REASON_NONE) {
            value = *ngx_http_llm_reason_str(ctx->reason);

        } else if (tier->name.len) {
            value = *ngx_http_llm_reason_str(NGX_LLM_REASON_DEFAULT);
        }

        break;

    case NGX_HTTP_LLM_VAR_FEATURES:
        if (ctx != NULL && ctx->classified) {
            value = *ngx_http_llm_features(ctx);
        }

        break;

    case NGX_HTTP_LLM_VAR_DIALECT:
        if (ctx != NULL) {
            s = ngx_llm_dialect_name(ctx->dialect);
            value.data = (u_char *) s;
            value.len = ngx_strlen(s);
        }

        break;

    case NGX_HTTP_LLM_VAR_REQUESTED_MODEL:
        if (ctx != NULL) {
            value = ctx->requested_model;
        }

        break;

    case NGX_HTTP_LLM_VAR_FALLBACK:
        if (ctx == NULL || ctx->failed == NGX_LLM_NO_TIER) {
            break;
        }

        from = &lmcf->tiers[ctx->failed].name;

        p = ngx_pnalloc(r->pool, from->len + sizeof("->") - 1
                                 + tier->name.len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        value.data = p;
        value.len = ngx_sprintf(p, "%V->%V", from, &tier->name) - p;
        break;

    case NGX_HTTP_LLM_VAR_CACHE:
        if (ctx != NULL && ctx->cache.status != NGX_HTTP_LLM_CACHE_NONE) {
            value = *ngx_http_llm_cache_status_name(ctx->cache.status);
        }

        break;

    case NGX_HTTP_LLM_VAR_CACHE_KEY:
        /* the canonical request's hash: a prompt's, or an embedding's */
        if (ctx != NULL && ctx->cache.key[0] != '\0') {
            value.data = ctx->cache.key;
            value.len = NGX_LLM_KEY_HEX;
        }

        break;

    case NGX_HTTP_LLM_VAR_CACHE_SIMILARITY:
    case NGX_HTTP_LLM_VAR_CACHE_AGE:
        /* of the prompt whose answer a HIT-SIMILAR replayed */
        if (ctx == NULL
            || ctx->cache.status != NGX_HTTP_LLM_CACHE_HIT_SIMILAR)
        {
            break;
        }

        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 8);
        if (p == NULL) {
            return NGX_ERROR;
        }

        value.data = p;
        value.len = (data == NGX_HTTP_LLM_VAR_CACHE_AGE
                     ? ngx_sprintf(p, "%T", ctx->cache.age)
                     : ngx_sprintf(p, "%.3f", ctx->cache.similarity)) - p;
        break;

    case NGX_HTTP_LLM_VAR_TTFB:
        if (ctx == NULL || ctx->counted == NGX_LLM_NO_TIER
            || r->upstream_states == NULL
            || r->upstream_states->nelts == 0)
        {
            break;
        }

        us = r->upstream_states->elts;
        us = &us[r->upstream_states->nelts - 1];

        if (us->header_time == (ngx_msec_t) -1) {
            break;
        }

        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
        if (p == NULL) {
            return NGX_ERROR;
        }

        value.data = p;
        value.len = ngx_sprintf(p, "%T.%03M",
                                (time_t) us->header_time / 1000,
                                us->header_time % 1000)
                    - p;
        break;

    case NGX_HTTP_LLM_VAR_TOKENS_IN:
    case NGX_HTTP_LLM_VAR_TOKENS_OUT:
        if (ctx == NULL) {
            break;
        }

        ngx_http_llm_metrics_tokens(ctx);

        if (!ctx->tokens.seen) {
            break;
        }

        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        value.data = p;
        value.len = ngx_sprintf(p, "%ui", data == NGX_HTTP_LLM_VAR_TOKENS_IN
                                          ? ctx->tokens.in : ctx->tokens.out)
                    - p;
        break;

    case NGX_HTTP_LLM_VAR_STREAM:
        if (ctx != NULL && ctx->classified) {
            ngx_str_set(&value, "0");
            value.data = (u_char *) (ctx->stream ? "1" : "0");
        }

        break;
    }

    if (value.len == 0 && data != NGX_HTTP_LLM_VAR_REQUESTED_MODEL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = value.data;
    v->len = value.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
