
/*
 * Copyright (C) ngx_llm_router authors
 */


#ifndef _NGX_HTTP_LLM_DISPATCH_H_INCLUDED_
#define _NGX_HTTP_LLM_DISPATCH_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


char *ngx_http_llm_dispatch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_uint_t ngx_http_llm_dispatch_is(ngx_http_upstream_srv_conf_t *us);


#endif /* _NGX_HTTP_LLM_DISPATCH_H_INCLUDED_ */
