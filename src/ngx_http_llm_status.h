
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The status page: llm_router_status serves the live state as JSON, or as
 * a self-contained HTML page.
 */


#ifndef _NGX_HTTP_LLM_STATUS_H_INCLUDED_
#define _NGX_HTTP_LLM_STATUS_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


char *ngx_http_llm_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_LLM_STATUS_H_INCLUDED_ */
