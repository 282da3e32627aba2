
/*
 * Copyright (C) ngx_llm_router authors
 *
 * A small HTTP/1.0 client on nginx's event loop, for the router's own
 * questions to the tiers' servers: health checks (/api/ps, /api/tags)
 * and the answers the router assembles from every server (/api/tags,
 * /api/ps, /v1/models, /api/version, /api/show of an alias, a load or
 * unload of "auto").  HTTP/1.0 keeps it simple: the server closes the
 * connection after its answer, which it sends without chunks.
 */


#include "ngx_http_llm_fetch.h"


static void ngx_http_llm_fetch_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_llm_fetch_send(ngx_http_llm_fetch_t *f);
static ngx_int_t ngx_http_llm_fetch_recv(ngx_http_llm_fetch_t *f);
static void ngx_http_llm_fetch_finish(ngx_http_llm_fetch_t *f,
    ngx_uint_t error);
static void ngx_http_llm_fetch_notify(ngx_event_t *ev);
static void ngx_http_llm_fetch_parse(ngx_http_llm_fetch_t *f);


ngx_http_llm_fetch_t *
ngx_http_llm_fetch(ngx_pool_t *pool, ngx_log_t *log, ngx_addr_t *addr,
    ngx_str_t *host, const char *method, ngx_str_t *uri, ngx_str_t *body,
    ngx_msec_t timeout, size_t max_size,
    ngx_http_llm_fetch_handler_pt handler, void *data)
{
    size_t                 len;
    ngx_int_t              rc;
    ngx_connection_t      *c;
    ngx_http_llm_fetch_t  *f;

    f = ngx_pcalloc(pool, sizeof(ngx_http_llm_fetch_t));
    if (f == NULL) {
        return NULL;
    }

    f->pool = pool;
    f->log = log;
    f->max_size = max_size;
    f->handler = handler;
    f->data = data;

    f->notify.handler = ngx_http_llm_fetch_notify;
    f->notify.data = f;
    f->notify.log = log;

    len = sizeof(" " " HTTP/1.0" CRLF "Host: " CRLF
                 "User-Agent: ngx_llm_router/" NGX_HTTP_LLM_ROUTER_VERSION
                 CRLF "Accept: application/json" CRLF
                 "Content-Type: application/json" CRLF
                 "Content-Length: " CRLF CRLF)
          + ngx_strlen(method) + uri->len + host->len + NGX_SIZE_T_LEN
          + (body ? body->len : 0);

    f->request = ngx_create_temp_buf(pool, len);
    f->response = ngx_create_temp_buf(pool, ngx_min(max_size, 16384));

    if (f->request == NULL || f->response == NULL) {
        return NULL;
    }

    f->request->last = ngx_sprintf(f->request->last,
                                   "%s %V HTTP/1.0" CRLF "Host: %V" CRLF
                                   "User-Agent: ngx_llm_router/"
                                   NGX_HTTP_LLM_ROUTER_VERSION CRLF
                                   "Accept: application/json" CRLF,
                                   method, uri, host);

    if (body != NULL) {
        f->request->last = ngx_sprintf(f->request->last,
                                       "Content-Type: application/json" CRLF
                                       "Content-Length: %uz" CRLF CRLF "%V",
                                       body->len, body);

    } else {
        *f->request->last++ = CR;
        *f->request->last++ = LF;
    }

    f->pc.sockaddr = addr->sockaddr;
    f->pc.socklen = addr->socklen;
    f->pc.name = &addr->name;
    f->pc.get = ngx_event_get_peer;
    f->pc.log = log;
    f->pc.log_error = NGX_ERROR_INFO;

    rc = ngx_event_connect_peer(&f->pc);

    if (rc == NGX_ERROR || rc == NGX_DECLINED || rc == NGX_BUSY) {
        ngx_http_llm_fetch_finish(f, NGX_HTTP_LLM_FETCH_CONNECT);
        return f;
    }

    c = f->pc.connection;
    c->data = f;
    c->pool = pool;
    c->read->handler = ngx_http_llm_fetch_handler;
    c->write->handler = ngx_http_llm_fetch_handler;

    /* one deadline for the whole exchange */
    ngx_add_timer(c->read, timeout);

    if (rc == NGX_OK) {
        ngx_post_event(c->write, &ngx_posted_events);
    }

    return f;
}


void
ngx_http_llm_fetch_cancel(ngx_http_llm_fetch_t *f)
{
    if (f->pc.connection != NULL) {
        ngx_close_connection(f->pc.connection);
        f->pc.connection = NULL;
    }

    if (f->notify.posted) {
        ngx_delete_posted_event(&f->notify);
    }

    f->handler = NULL;
}


const char *
ngx_http_llm_fetch_error(ngx_http_llm_fetch_t *f)
{
    static const char  *errors[] = {
        "no error",
        "connection failed",
        "timed out",
        "connection closed before the answer",
        "answer too large",
        "not an HTTP answer"
    };

    return errors[f->error];
}


static void
ngx_http_llm_fetch_handler(ngx_event_t *ev)
{
    ngx_int_t              rc;
    ngx_connection_t      *c;
    ngx_http_llm_fetch_t  *f;

    c = ev->data;
    f = c->data;

    if (c->read->timedout) {
        ngx_http_llm_fetch_finish(f, NGX_HTTP_LLM_FETCH_TIMEOUT);
        return;
    }

    if (f->request->pos < f->request->last) {
        rc = ngx_http_llm_fetch_send(f);

        if (rc == NGX_AGAIN) {
            return;
        }

        if (rc == NGX_ERROR) {
            ngx_http_llm_fetch_finish(f, NGX_HTTP_LLM_FETCH_CONNECT);
            return;
        }
    }

    rc = ngx_http_llm_fetch_recv(f);

    if (rc == NGX_AGAIN) {
        return;
    }

    ngx_http_llm_fetch_finish(f, rc == NGX_OK ? NGX_HTTP_LLM_FETCH_OK
                                              : (ngx_uint_t) -rc);
}


static ngx_int_t
ngx_http_llm_fetch_send(ngx_http_llm_fetch_t *f)
{
    ssize_t            n;
    ngx_buf_t         *b;
    ngx_connection_t  *c;

    c = f->pc.connection;
    b = f->request;

    while (b->pos < b->last) {

        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_AGAIN) {
            return ngx_handle_write_event(c->write, 0) == NGX_OK
                   ? NGX_AGAIN : NGX_ERROR;
        }

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        b->pos += n;
    }

    return NGX_OK;
}


/* reads to EOF; NGX_OK, NGX_AGAIN or minus an NGX_HTTP_LLM_FETCH_ error */

static ngx_int_t
ngx_http_llm_fetch_recv(ngx_http_llm_fetch_t *f)
{
    size_t             size;
    ssize_t            n;
    ngx_buf_t         *b, *nb;
    ngx_connection_t  *c;

    c = f->pc.connection;
    b = f->response;

    for ( ;; ) {

        if (b->last == b->end) {
            size = b->end - b->start;

            if (size >= f->max_size) {
                return -NGX_HTTP_LLM_FETCH_TOO_LARGE;
            }

            nb = ngx_create_temp_buf(f->pool, ngx_min(2 * size, f->max_size));
            if (nb == NULL) {
                return -NGX_HTTP_LLM_FETCH_IO;
            }

            nb->last = ngx_cpymem(nb->pos, b->pos, b->last - b->pos);
            f->response = nb;
            b = nb;
        }

        n = c->recv(c, b->last, b->end - b->last);

        if (n == NGX_AGAIN) {
            return ngx_handle_read_event(c->read, 0) == NGX_OK
                   ? NGX_AGAIN : -NGX_HTTP_LLM_FETCH_IO;
        }

        if (n == NGX_ERROR) {
            return b->last > b->pos ? NGX_OK : -NGX_HTTP_LLM_FETCH_IO;
        }

        if (n == 0) {
            return b->last > b->pos ? NGX_OK : -NGX_HTTP_LLM_FETCH_IO;
        }

        b->last += n;
    }
}


static void
ngx_http_llm_fetch_finish(ngx_http_llm_fetch_t *f, ngx_uint_t error)
{
    if (f->pc.connection != NULL) {
        ngx_close_connection(f->pc.connection);
        f->pc.connection = NULL;
    }

    f->error = error;

    if (error == NGX_HTTP_LLM_FETCH_OK) {
        ngx_http_llm_fetch_parse(f);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, f->log, 0,
                   "llm router: fetch from %V: %s, status %ui",
                   f->pc.name, ngx_http_llm_fetch_error(f), f->status);

    /* never from inside the caller's own call */
    ngx_post_event(&f->notify, &ngx_posted_events);
}


static void
ngx_http_llm_fetch_notify(ngx_event_t *ev)
{
    ngx_http_llm_fetch_t  *f = ev->data;

    if (f->handler != NULL) {
        f->handler(f);
    }
}


/* status line, headers, and the body (de-chunked if it came chunked) */

static void
ngx_http_llm_fetch_parse(ngx_http_llm_fetch_t *f)
{
    u_char     *p, *last, *body, *out, *e, c;
    size_t      n;
    ngx_int_t   status;
    ngx_buf_t  *b;

    b = f->response;
    p = b->pos;
    last = b->last;

    if (last - p < 12 || ngx_strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ') {
        f->error = NGX_HTTP_LLM_FETCH_BAD;
        return;
    }

    status = ngx_atoi(p + 9, 3);

    if (status < 100) {
        f->error = NGX_HTTP_LLM_FETCH_BAD;
        return;
    }

    f->status = status;

    body = ngx_strlcasestrn(p, last, (u_char *) CRLF CRLF, 4 - 1);

    if (body == NULL) {
        f->error = NGX_HTTP_LLM_FETCH_BAD;
        return;
    }

    body += 4;

    f->body.data = body;
    f->body.len = last - body;

    if (ngx_strlcasestrn(p, body, (u_char *) "transfer-encoding: chunked",
                         sizeof("transfer-encoding: chunked") - 2)
        == NULL)
    {
        return;
    }

    /* chunk sizes in hex, each chunk followed by CRLF; in place */

    out = body;
    p = body;

    while (p < last) {
        n = 0;

        for (e = p; e < last && n < NGX_MAX_SIZE_T_VALUE / 16; e++) {
            c = (u_char) (*e | 0x20);

            if (*e >= '0' && *e <= '9') {
                n = n * 16 + (*e - '0');

            } else if (c >= 'a' && c <= 'f') {
                n = n * 16 + (c - 'a' + 10);

            } else {
                break;
            }
        }

        e = ngx_strlchr(e, last, LF);

        if (e == NULL || n == 0 || (size_t) (last - e - 1) < n) {
            break;
        }

        ngx_memmove(out, e + 1, n);
        out += n;
        p = e + 1 + n;

        /* the CRLF after the chunk */
        p += (p < last && *p == CR) ? 1 : 0;
        p += (p < last && *p == LF) ? 1 : 0;
    }

    f->body.len = out - body;
}
