
/*
 * Copyright (C) ngx_llm_router authors
 */


#ifndef _NGX_HTTP_LLM_FETCH_H_INCLUDED_
#define _NGX_HTTP_LLM_FETCH_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


#define NGX_HTTP_LLM_FETCH_OK         0
#define NGX_HTTP_LLM_FETCH_CONNECT    1    /* refused, unreachable */
#define NGX_HTTP_LLM_FETCH_TIMEOUT    2
#define NGX_HTTP_LLM_FETCH_IO         3    /* reset, closed early */
#define NGX_HTTP_LLM_FETCH_TOO_LARGE  4
#define NGX_HTTP_LLM_FETCH_BAD        5    /* not an HTTP answer */


typedef struct ngx_http_llm_fetch_s  ngx_http_llm_fetch_t;

typedef void (*ngx_http_llm_fetch_handler_pt)(ngx_http_llm_fetch_t *f);


struct ngx_http_llm_fetch_s {
    ngx_peer_connection_t           pc;
    ngx_event_t                     notify;    /* the handler, posted */
    ngx_pool_t                     *pool;
    ngx_log_t                      *log;
    ngx_buf_t                      *request;
    ngx_buf_t                      *response;
    size_t                          max_size;

    ngx_uint_t                      error;     /* NGX_HTTP_LLM_FETCH_* */
    ngx_uint_t                      status;    /* HTTP status, 0: none */
    ngx_str_t                       body;

    ngx_http_llm_fetch_handler_pt   handler;
    void                           *data;
    ngx_uint_t                      index;     /* the caller's */
};


/*
 * One HTTP/1.0 request to one server address, on the event loop; the
 * handler is called once, from the event loop (never from inside this
 * call), unless ngx_http_llm_fetch_cancel() came first.  All memory is
 * from "pool".  Returns NULL only when memory runs out.
 */
ngx_http_llm_fetch_t *ngx_http_llm_fetch(ngx_pool_t *pool, ngx_log_t *log,
    ngx_addr_t *addr, ngx_str_t *host, const char *method, ngx_str_t *uri,
    ngx_str_t *body, ngx_msec_t timeout, size_t max_size,
    ngx_http_llm_fetch_handler_pt handler, void *data);
void ngx_http_llm_fetch_cancel(ngx_http_llm_fetch_t *f);
const char *ngx_http_llm_fetch_error(ngx_http_llm_fetch_t *f);


#endif /* _NGX_HTTP_LLM_FETCH_H_INCLUDED_ */
