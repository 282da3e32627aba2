
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The router's precontent phase handler: the request's path from its
 * body to a tier, the cache, or an answer of the router's own.
 */


#ifndef _NGX_HTTP_LLM_HANDLER_H_INCLUDED_
#define _NGX_HTTP_LLM_HANDLER_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


ngx_int_t ngx_http_llm_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_LLM_HANDLER_H_INCLUDED_ */
