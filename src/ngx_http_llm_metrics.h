
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Metrics: recorded as each request ends, in the shared zone (the
 * Prometheus text and the status JSON read them through the metrics
 * table, ngx_http_llm_table.h).
 */


#ifndef _NGX_HTTP_LLM_METRICS_H_INCLUDED_
#define _NGX_HTTP_LLM_METRICS_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


void ngx_http_llm_metrics_request(ngx_http_llm_ctx_t *ctx);
void ngx_http_llm_metrics_fallback(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t from, ngx_llm_tier_id_t to, ngx_uint_t status);
void ngx_http_llm_metrics_tail(ngx_http_llm_ctx_t *ctx, ngx_chain_t *in);
void ngx_http_llm_metrics_tokens(ngx_http_llm_ctx_t *ctx);


#endif /* _NGX_HTTP_LLM_METRICS_H_INCLUDED_ */
