
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Small helpers shared by the module's files: whole responses from memory,
 * JSON errors in the client's dialect, the request body in one piece,
 * cJSON trees in the request pool, response headers, "name=TIME"
 * directive parameters, periodic timers.
 */


#include <cjson/cJSON.h>

#include "ngx_http_llm_util.h"
#include "ngx_http_llm_ctx.h"


static ngx_int_t ngx_http_llm_answer_json(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *body);
static void ngx_http_llm_json_init(void);
static void *ngx_http_llm_json_alloc(size_t size);
static void ngx_http_llm_json_free(void *p);


static ngx_str_t  ngx_http_llm_reasons[NGX_LLM_REASON_COUNT];


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


ngx_str_t *
ngx_http_llm_reason_str(ngx_llm_reason_e reason)
{
    return &ngx_http_llm_reasons[(unsigned) reason < NGX_LLM_REASON_COUNT
                                 ? reason : NGX_LLM_REASON_NONE];
}


void
ngx_http_llm_util_init(void)
{
    ngx_uint_t   i;
    const char  *name;

    ngx_http_llm_json_init();

    for (i = 0; i < NGX_LLM_REASON_COUNT; i++) {
        name = ngx_llm_reason_name((ngx_llm_reason_e) i);
        ngx_http_llm_reasons[i].data = (u_char *) name;
        ngx_http_llm_reasons[i].len = ngx_strlen(name);
    }
}


ngx_int_t
ngx_http_llm_answer(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t status, const char *msg)
{
    u_char                   *p;
    size_t                    len;
    ngx_str_t                 body, v;
    ngx_http_llm_loc_conf_t  *llcf;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: answering %ui \"%s\"", status, msg);

    ngx_http_llm_set_state(ctx, NGX_HTTP_LLM_ANSWERED);

    len = ngx_strlen(msg);

    body.data = ngx_pnalloc(r->pool, 6 * len + 128);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_llm_dialect_is_openai(ctx->dialect)
        || (ctx->dialect == NGX_LLM_DIALECT_NONE
            && ngx_strlcasestrn(r->uri.data, r->uri.data + r->uri.len,
                                (u_char *) "/v1/", 4 - 1) != NULL))
    {
        p = ngx_cpymem(body.data, "{\"error\":{\"message\":\"",
                       sizeof("{\"error\":{\"message\":\"") - 1);
        p += ngx_llm_json_escape((char *) p, msg, len);
        /* Ollama's openai.NewError */
        p = ngx_sprintf(p, "\",\"type\":\"%s\",\"param\":null,\"code\":null}}",
                        status == NGX_HTTP_BAD_REQUEST
                        ? "invalid_request_error"
                        : status == NGX_HTTP_NOT_FOUND ? "not_found_error"
                        : "api_error");

    } else {
        p = ngx_cpymem(body.data, "{\"error\":\"", sizeof("{\"error\":\"") - 1);
        p += ngx_llm_json_escape((char *) p, msg, len);
        p = ngx_cpymem(p, "\"}", 2);
    }

    *p++ = LF;
    body.len = p - body.data;

    if (status == NGX_HTTP_NOT_ALLOWED) {
        ngx_str_set(&v, "POST");

        if (ngx_http_llm_add_header(r, "Allow", &v) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

        v.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (v.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        v.len = ngx_sprintf(v.data, "%T", llcf->retry_after) - v.data;

        if (ngx_http_llm_add_header(r, "Retry-After", &v) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_llm_answer_json(r, status, &body);
}


/* a JSON answer from this phase: the request is finalized here */

static ngx_int_t
ngx_http_llm_answer_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body)
{
    ngx_int_t  rc;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    rc = ngx_http_llm_send(r, status, "application/json", body);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/* Ollama's words for an unknown model (server/routes.go) */

const char *
ngx_http_llm_not_found(ngx_http_request_t *r, ngx_str_t *model)
{
    u_char  *msg, *p;
    size_t   len;

    len = ngx_min(model->len, 200);

    msg = ngx_pnalloc(r->pool, len + sizeof("model '' not found"));
    if (msg == NULL) {
        return "model not found";
    }

    p = ngx_sprintf(msg, "model '%*s' not found", len, model->data);
    *p = '\0';

    return (char *) msg;
}


ngx_int_t
ngx_http_llm_body(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char                   *p;
    off_t                     total;
    size_t                    size;
    ssize_t                   n;
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    body->len = 0;
    body->data = (u_char *) "";

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    total = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        total += ngx_buf_size(cl->buf);
    }

    if (total > (off_t) llcf->max_body_size) {
        return NGX_DECLINED;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        body->data = cl->buf->pos;
        body->len = cl->buf->last - cl->buf->pos;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, (size_t) total + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            size = (size_t) (b->file_last - b->file_pos);

            n = ngx_read_file(b->file, p, size, b->file_pos);

            if (n != (ssize_t) size) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "llm router: short read of body file");
                return NGX_ERROR;
            }

            p += size;
            continue;
        }

        /* a chunked body's last buffer is empty, its pos NULL */
        if (b->last > b->pos) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    body->len = p - body->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_uri_is(ngx_http_request_t *r, char *suffix)
{
    size_t  n, len;

    n = ngx_strlen(suffix);
    len = r->uri.len;

    if (len > 1 && r->uri.data[len - 1] == '/') {
        len--;
    }

    return len >= n && ngx_strncmp(r->uri.data + len - n, suffix, n) == 0;
}


void *
ngx_http_llm_pool_alloc(void *data, size_t size)
{
    return ngx_pnalloc((ngx_pool_t *) data, size);
}



/*
 * cJSON allocates through hooks: while a request's body is parsed they
 * point at its pool, so the tree costs no malloc()/free() per node and is
 * released with the request.  Trees parsed with a pool are "borrowed" and
 * never passed to cJSON_Delete(); everything else cJSON allocates (the
 * JARVIS translation, printed text) uses malloc() as usual.
 */

static ngx_pool_t  *ngx_http_llm_json_current;


static void *
ngx_http_llm_json_alloc(size_t size)
{
    if (ngx_http_llm_json_current != NULL) {
        return ngx_palloc(ngx_http_llm_json_current, size);
    }

    return malloc(size);
}


static void
ngx_http_llm_json_free(void *p)
{
    if (ngx_http_llm_json_current == NULL) {
        free(p);
    }
}


static void
ngx_http_llm_json_init(void)
{
    cJSON_Hooks  hooks;

    hooks.malloc_fn = ngx_http_llm_json_alloc;
    hooks.free_fn = ngx_http_llm_json_free;

    cJSON_InitHooks(&hooks);
}


void
ngx_http_llm_json_pool(ngx_pool_t *pool)
{
    ngx_http_llm_json_current = pool;
}


/*
 * The request's cJSON tree, for what needs one (the cache key, the
 * translations, affinity): parsed into the request's pool on first use.
 */

ngx_int_t
ngx_http_llm_request_tree(ngx_http_request_t *r, ngx_llm_request_t *req)
{
    int  rc;

    if (req->root != NULL) {
        return NGX_OK;
    }

    ngx_http_llm_json_pool(r->pool);
    rc = ngx_llm_request_tree(req);
    ngx_http_llm_json_pool(NULL);

    req->borrowed = 1;

    return rc == 0 ? NGX_OK : NGX_ERROR;
}

