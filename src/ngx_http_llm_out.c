
/*
 * Copyright (C) ngx_llm_router authors
 *
 * A growing chain of buffers: each write goes to the last buffer if it
 * fits, else to a new one of at least 4 KB.  The first failed allocation
 * marks the output as failed and every later write does nothing, so the
 * writers need not check each call; ngx_http_llm_out_send() answers 500.
 */


#include "ngx_http_llm_out.h"


#define NGX_HTTP_LLM_OUT_CHUNK  4096


static u_char *ngx_http_llm_out_reserve(ngx_http_llm_out_t *out,
    size_t len);
static void ngx_http_llm_out_link(ngx_http_llm_out_t *out, ngx_buf_t *b);


void
ngx_http_llm_out_init(ngx_http_llm_out_t *out, ngx_pool_t *pool)
{
    out->pool = pool;
    out->first = NULL;
    out->last = NULL;
    out->size = 0;
    out->error = 0;
}


/* room for len bytes at the end of the chain; the caller fills it */

static u_char *
ngx_http_llm_out_reserve(ngx_http_llm_out_t *out, size_t len)
{
    ngx_buf_t  *b;

    if (out->error) {
        return NULL;
    }

    if (out->last != NULL) {
        b = out->last->buf;

        if (b->temporary && (size_t) (b->end - b->last) >= len) {
            return b->last;
        }
    }

    b = ngx_create_temp_buf(out->pool,
                            ngx_max(len, NGX_HTTP_LLM_OUT_CHUNK));
    if (b == NULL) {
        out->error = 1;
        return NULL;
    }

    ngx_http_llm_out_link(out, b);

    return out->error ? NULL : b->last;
}


static void
ngx_http_llm_out_link(ngx_http_llm_out_t *out, ngx_buf_t *b)
{
    ngx_chain_t  *cl;

    cl = ngx_alloc_chain_link(out->pool);
    if (cl == NULL) {
        out->error = 1;
        return;
    }

    cl->buf = b;
    cl->next = NULL;

    if (out->last == NULL) {
        out->first = cl;

    } else {
        out->last->next = cl;
    }

    out->last = cl;
}


void
ngx_http_llm_out_printf(ngx_http_llm_out_t *out, const char *fmt, ...)
{
    u_char   tmp[NGX_HTTP_LLM_OUT_LINE], *p;
    va_list  args;

    if (out->error) {
        return;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(tmp, tmp + sizeof(tmp), fmt, args);
    va_end(args);

    ngx_http_llm_out_text(out, tmp, p - tmp);
}


/* copies len bytes */

void
ngx_http_llm_out_text(ngx_http_llm_out_t *out, u_char *data, size_t len)
{
    u_char  *p;

    if (len == 0) {
        return;
    }

    p = ngx_http_llm_out_reserve(out, len);
    if (p == NULL) {
        return;
    }

    out->last->buf->last = ngx_cpymem(p, data, len);
    out->size += len;
}


/* links len bytes that outlive the request (a static page) uncopied */

void
ngx_http_llm_out_static(ngx_http_llm_out_t *out, u_char *data, size_t len)
{
    ngx_buf_t  *b;

    if (out->error || len == 0) {
        return;
    }

    b = ngx_calloc_buf(out->pool);
    if (b == NULL) {
        out->error = 1;
        return;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = 1;

    ngx_http_llm_out_link(out, b);
    out->size += len;
}


/* a JSON string's contents: quotes, backslashes, control bytes escaped */

void
ngx_http_llm_out_json(ngx_http_llm_out_t *out, u_char *data, size_t len)
{
    u_char  *p;
    size_t   n;

    if (len == 0) {
        return;
    }

    /* at worst "\u00XX" for each byte */
    p = ngx_http_llm_out_reserve(out, 6 * len);
    if (p == NULL) {
        return;
    }

    n = ngx_llm_json_escape((char *) p, (char *) data, len);

    out->last->buf->last += n;
    out->size += n;
}


/* n / 10^digits, with all its digits: 8750, 4 gives "0.8750" */

void
ngx_http_llm_out_fixed(ngx_http_llm_out_t *out, ngx_atomic_uint_t n,
    ngx_uint_t digits)
{
    u_char             frac[NGX_ATOMIC_T_LEN], *p;
    ngx_uint_t         i;
    ngx_atomic_uint_t  scale;

    if (digits == 0) {
        ngx_http_llm_out_printf(out, "%uA", n);
        return;
    }

    for (scale = 1, i = 0; i < digits && i < 18; i++) {
        scale *= 10;
    }

    p = ngx_sprintf(frac, "%uA", n % scale + scale);

    /* the leading 1 of "+ scale" keeps the zeros: 1 0050 */
    ngx_http_llm_out_printf(out, "%uA.%*s", n / scale, (size_t) (p - frac - 1),
                            frac + 1);
}


ngx_int_t
ngx_http_llm_out_send(ngx_http_request_t *r, ngx_http_llm_out_t *out,
    char *type)
{
    ngx_int_t  rc;

    if (out->error) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = out->size;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (out->size == 0) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out->last->buf->last_buf = (r == r->main) ? 1 : 0;
    out->last->buf->last_in_chain = 1;

    return ngx_http_output_filter(r, out->first);
}
