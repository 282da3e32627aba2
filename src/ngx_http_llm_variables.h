
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The router's variables: $llm_target, $llm_upstream, $llm_model,
 * $llm_score, $llm_class, $llm_route_reason and the others.
 */


#ifndef _NGX_HTTP_LLM_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_LLM_VARIABLES_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


ngx_int_t ngx_http_llm_add_variables(ngx_conf_t *cf);


#endif /* _NGX_HTTP_LLM_VARIABLES_H_INCLUDED_ */
