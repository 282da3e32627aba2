
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Token budgets for paid tiers: llm_router_budget TIER TOKENS per=TIME
 * key=VALUE.  The tokens a tenant spent on a tier in the current period
 * are counted in Redis, shared by every worker and every router.
 */


#ifndef _NGX_HTTP_LLM_BUDGET_H_INCLUDED_
#define _NGX_HTTP_LLM_BUDGET_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


char *ngx_http_llm_budget(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/*
 * Before a tier is picked: NGX_DECLINED, nothing to check (no budgets) or
 * checked already; NGX_DONE, the spends are asked of Redis and the reply
 * wakes the request (ctx->spent set); NGX_ERROR.
 */
ngx_int_t ngx_http_llm_budget_check(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);


#endif /* _NGX_HTTP_LLM_BUDGET_H_INCLUDED_ */
