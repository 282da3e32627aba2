
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The router standing in for an Ollama server on the endpoints that are
 * not prompts: lists asked of every server, bodies that name a model,
 * loads and unloads of an alias.
 */


#ifndef _NGX_HTTP_LLM_OLLAMA_H_INCLUDED_
#define _NGX_HTTP_LLM_OLLAMA_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


/* NGX_AGAIN: a body that names a model, to be read and then named() */
ngx_int_t ngx_http_llm_endpoint(ngx_http_request_t *r);
ngx_int_t ngx_http_llm_named(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx);
ngx_int_t ngx_http_llm_load_all(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_llm_request_t *req, ngx_str_t *body);


#endif /* _NGX_HTTP_LLM_OLLAMA_H_INCLUDED_ */
