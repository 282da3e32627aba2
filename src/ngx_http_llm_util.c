
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Small helpers shared by the module's files: whole responses from memory,
 * response headers, "name=TIME" directive parameters, periodic timers.
 */


#include "ngx_http_llm_router_module.h"


/* sends body (in memory, owned by the request) as the whole response */

ngx_int_t
ngx_http_llm_send(ngx_http_request_t *r, ngx_uint_t status, char *type,
    ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = body->len;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = (body->len != 0);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_llm_add_header(ngx_http_request_t *r, char *key, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    return NGX_OK;
}


/*
 * If value is "name=TIME" (name given with its '='), parses TIME into
 * *msec: NGX_OK; NGX_DECLINED when value is another parameter; NGX_ERROR
 * for a bad or zero time.
 */

ngx_int_t
ngx_http_llm_param_msec(ngx_str_t *value, char *name, ngx_msec_t *msec)
{
    size_t     n;
    ngx_str_t  v;

    n = ngx_strlen(name);

    if (value->len < n || ngx_strncmp(value->data, name, n) != 0) {
        return NGX_DECLINED;
    }

    v.data = value->data + n;
    v.len = value->len - n;

    *msec = ngx_parse_time(&v, 0);

    if (*msec == (ngx_msec_t) NGX_ERROR || *msec == 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a worker's periodic job: first run at once, then it re-arms itself */

void
ngx_http_llm_start_timer(ngx_event_t *ev, ngx_event_handler_pt handler,
    void *data, ngx_log_t *log)
{
    ev->handler = handler;
    ev->data = data;
    ev->log = log;
    ev->cancelable = 1;

    ngx_add_timer(ev, 1);
}
