
/*
 * Copyright (C) ngx_llm_router authors
 *
 * llm_router_balance: a tier's upstream balancer that knows where its
 * model is loaded, and keeps a conversation on one server.
 */


#ifndef _NGX_HTTP_LLM_BALANCE_H_INCLUDED_
#define _NGX_HTTP_LLM_BALANCE_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


void *ngx_http_llm_balance_create_conf(ngx_conf_t *cf);
char *ngx_http_llm_balance(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_LLM_BALANCE_H_INCLUDED_ */
