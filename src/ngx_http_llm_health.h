
/*
 * Copyright (C) ngx_llm_router authors
 */


#ifndef _NGX_HTTP_LLM_HEALTH_H_INCLUDED_
#define _NGX_HTTP_LLM_HEALTH_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


char *ngx_http_llm_health_check(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_llm_health_init_process(ngx_cycle_t *cycle,
    ngx_http_llm_main_conf_t *lmcf);


#endif /* _NGX_HTTP_LLM_HEALTH_H_INCLUDED_ */
