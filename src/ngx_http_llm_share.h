
/*
 * Copyright (C) ngx_llm_router authors
 *
 * llm_router_share redis: in-flight counts shared by the routers in front
 * of the same tiers, through Redis leases read on a timer.
 */


#ifndef _NGX_HTTP_LLM_SHARE_H_INCLUDED_
#define _NGX_HTTP_LLM_SHARE_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


char *ngx_http_llm_share(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_llm_share_init_process(ngx_cycle_t *cycle,
    ngx_http_llm_main_conf_t *lmcf);


#endif /* _NGX_HTTP_LLM_SHARE_H_INCLUDED_ */
