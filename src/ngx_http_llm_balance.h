
/*
 * Copyright (C) ngx_llm_router authors
 *
 * llm_router_balance: a tier's upstream balancer that knows where its
 * model is loaded, and keeps a conversation on one server.
 */


#ifndef _NGX_HTTP_LLM_BALANCE_H_INCLUDED_
#define _NGX_HTTP_LLM_BALANCE_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


/* a server as the balancer sees it */
#define NGX_HTTP_LLM_SERVER_UNKNOWN  0
#define NGX_HTTP_LLM_SERVER_UP       1
#define NGX_HTTP_LLM_SERVER_DOWN     2
#define NGX_HTTP_LLM_SERVER_FAILED   3


void *ngx_http_llm_balance_create_conf(ngx_conf_t *cf);
char *ngx_http_llm_balance(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_uint_t ngx_http_llm_balanced(ngx_http_upstream_srv_conf_t *us);
ngx_uint_t ngx_http_llm_balance_state(ngx_http_upstream_srv_conf_t *us,
    ngx_addr_t *addr);


#endif /* _NGX_HTTP_LLM_BALANCE_H_INCLUDED_ */
