
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The response cache in Redis: lookup with single-flight, replay of a
 * stored answer, and the filters that copy an answer to store it.
 */


#ifndef _NGX_HTTP_LLM_CACHE_H_INCLUDED_
#define _NGX_HTTP_LLM_CACHE_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


ngx_int_t ngx_http_llm_cache_init(ngx_conf_t *cf);

/*
 * NGX_DECLINED: no lookup (ctx->cache.status BYPASS or ERROR), go on;
 * NGX_DONE: the request is to be suspended; the reply wakes it with
 * ctx->cache.status HIT, MISS or ERROR.
 */
ngx_int_t ngx_http_llm_cache_lookup(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

/* sends the stored answer of a HIT */
ngx_int_t ngx_http_llm_cache_replay(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

ngx_str_t *ngx_http_llm_cache_status_name(ngx_uint_t status);


#endif /* _NGX_HTTP_LLM_CACHE_H_INCLUDED_ */
