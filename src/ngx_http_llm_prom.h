
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The Prometheus text exposition of the metrics table.
 */


#ifndef _NGX_HTTP_LLM_PROM_H_INCLUDED_
#define _NGX_HTTP_LLM_PROM_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


ngx_int_t ngx_http_llm_prom_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_LLM_PROM_H_INCLUDED_ */
