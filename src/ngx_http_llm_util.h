
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Small helpers shared by the module's files.
 */


#ifndef _NGX_HTTP_LLM_UTIL_H_INCLUDED_
#define _NGX_HTTP_LLM_UTIL_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


void ngx_http_llm_util_init(void);

ngx_int_t ngx_http_llm_send(ngx_http_request_t *r, ngx_uint_t status,
    char *type, ngx_str_t *body);
ngx_int_t ngx_http_llm_answer(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t status, const char *msg);
const char *ngx_http_llm_not_found(ngx_http_request_t *r, ngx_str_t *model);
ngx_int_t ngx_http_llm_add_header(ngx_http_request_t *r, char *key,
    ngx_str_t *value);

ngx_int_t ngx_http_llm_body(ngx_http_request_t *r, ngx_str_t *body);
ngx_int_t ngx_http_llm_uri_is(ngx_http_request_t *r, char *suffix);
ngx_str_t *ngx_http_llm_reason_str(ngx_llm_reason_e reason);

void *ngx_http_llm_pool_alloc(void *data, size_t size);
void ngx_http_llm_json_pool(ngx_pool_t *pool);
ngx_int_t ngx_http_llm_request_tree(ngx_http_request_t *r,
    ngx_llm_request_t *req);

ngx_int_t ngx_http_llm_param_msec(ngx_str_t *value, char *name,
    ngx_msec_t *msec);
void ngx_http_llm_start_timer(ngx_event_t *ev, ngx_event_handler_pt handler,
    void *data, ngx_log_t *log);


#endif /* _NGX_HTTP_LLM_UTIL_H_INCLUDED_ */
