
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Tiers that speak OpenAI's API only (llm_router_tier ... api=openai): an
 * Ollama-dialect request is sent to them as /v1/chat/completions, and
 * their answer goes back to the client as Ollama would have answered.
 */


#ifndef _NGX_HTTP_LLM_OPENAI_H_INCLUDED_
#define _NGX_HTTP_LLM_OPENAI_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


ngx_int_t ngx_http_llm_openai_init(ngx_conf_t *cf);

/*
 * The request's body for an api=openai tier: NGX_OK with *out and *len
 * set, the request's URI now /v1/chat/completions; NGX_DECLINED for a
 * dialect that is not translated (OpenAI's own pass as they are);
 * NGX_ERROR with *error set.
 */
ngx_int_t ngx_http_llm_openai_rewrite(ngx_http_request_t *r,
    ngx_llm_request_t *req, ngx_str_t *model, char **out, size_t *len,
    const char **error);


#endif /* _NGX_HTTP_LLM_OPENAI_H_INCLUDED_ */
