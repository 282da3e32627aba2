
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The output writer of the status and metrics pages: text appended with
 * printf-style formats to a chain of buffers from the request's pool that
 * grows as needed, then sent as the whole response.  No output is sized
 * by hand.
 */


#ifndef _NGX_HTTP_LLM_OUT_H_INCLUDED_
#define _NGX_HTTP_LLM_OUT_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


/* the longest text one ngx_http_llm_out_printf() call may produce */
#define NGX_HTTP_LLM_OUT_LINE  2048


typedef struct {
    ngx_pool_t    *pool;
    ngx_chain_t   *first;
    ngx_chain_t   *last;
    off_t          size;
    ngx_uint_t     error;       /* an allocation failed: send nothing */
} ngx_http_llm_out_t;


void ngx_http_llm_out_init(ngx_http_llm_out_t *out, ngx_pool_t *pool);
void ngx_http_llm_out_printf(ngx_http_llm_out_t *out, const char *fmt, ...);
void ngx_http_llm_out_text(ngx_http_llm_out_t *out, u_char *data,
    size_t len);
void ngx_http_llm_out_static(ngx_http_llm_out_t *out, u_char *data,
    size_t len);
void ngx_http_llm_out_json(ngx_http_llm_out_t *out, u_char *data,
    size_t len);
void ngx_http_llm_out_fixed(ngx_http_llm_out_t *out, ngx_atomic_uint_t n,
    ngx_uint_t digits);
ngx_int_t ngx_http_llm_out_send(ngx_http_request_t *r,
    ngx_http_llm_out_t *out, char *type);


#endif /* _NGX_HTTP_LLM_OUT_H_INCLUDED_ */
