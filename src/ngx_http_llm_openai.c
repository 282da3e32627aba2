
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The nginx side of api=openai tiers.  The request's body is translated
 * (ngx_llm_translate.c) where the model is rewritten, and its URI becomes
 * /v1/chat/completions, which proxy_pass sends when it has no URI of its
 * own.  The answer is translated back by a header and a body filter that
 * run before the cache's, so the cache stores, and the metrics read, what
 * the client gets:
 *
 *   a stream:   SSE events fed to the incremental translator as they
 *               come, its NDJSON lines passed on at once
 *               (application/x-ndjson);
 *   otherwise:  the JSON gathered whole (at most 4 MB), then translated
 *               (application/json); an error answer becomes Ollama's
 *               {"error": "..."} with its status.
 */


#include "ngx_http_llm_openai.h"
#include "ngx_http_llm_ctx.h"
#include "ngx_http_llm_util.h"
#include "ngx_llm_translate.h"


#define NGX_HTTP_LLM_OPENAI_MAX  (4 * 1024 * 1024)


typedef struct {
    ngx_llm_sse_t               sse;
    ngx_http_request_t         *request;
    ngx_chain_t                *out;
    ngx_chain_t               **last;
    u_char                     *body;       /* a JSON answer, gathered */
    size_t                      len;
    size_t                      size;
    unsigned                    stream:1;
    unsigned                    done:1;
    unsigned                    failed:1;
} ngx_http_llm_openai_t;


static ngx_int_t ngx_http_llm_openai_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_openai_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_llm_openai_gather(ngx_http_llm_openai_t *oa,
    ngx_buf_t *b);
static ngx_int_t ngx_http_llm_openai_json(ngx_http_llm_openai_t *oa,
    ngx_http_llm_ctx_t *ctx);
static int ngx_http_llm_openai_output(void *data, const char *p, size_t len);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* registered after the cache's filters: runs before them */

ngx_int_t
ngx_http_llm_openai_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_llm_openai_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_llm_openai_body_filter;

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_openai_rewrite(ngx_http_request_t *r, ngx_llm_request_t *req,
    ngx_str_t *model, char **out, size_t *len, const char **error)
{
    int         rc;
    u_char     *name;

    if (ngx_llm_dialect_is_openai(req->dialect)) {
        return NGX_DECLINED;
    }

    if (req->dialect != NGX_LLM_DIALECT_OLLAMA_CHAT
        && req->dialect != NGX_LLM_DIALECT_OLLAMA_GENERATE)
    {
        *error = "the JARVIS gateway is not translated for an api=openai "
                 "tier";
        return NGX_ERROR;
    }

    name = ngx_pnalloc(r->pool, model->len + 1);
    if (name == NULL) {
        *error = "out of memory";
        return NGX_ERROR;
    }

    *ngx_cpymem(name, model->data, model->len) = '\0';

    if (ngx_http_llm_request_tree(r, req) != NGX_OK) {
        *error = "out of memory";
        return NGX_ERROR;
    }

    rc = ngx_llm_translate_request(req, (char *) name, 0,
                                   ngx_http_llm_pool_alloc, r->pool, out,
                                   len, error);

    if (rc != NGX_LLM_TRANSLATE_OK) {
        if (rc == NGX_LLM_TRANSLATE_LOAD) {
            *error = "a load or unload is not sent to an api=openai tier";
        }

        return NGX_ERROR;
    }

    /* proxy_pass without a URI of its own sends r->uri */
    ngx_str_set(&r->uri, "/v1/chat/completions");
    r->valid_unparsed_uri = 0;
    r->args.len = 0;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: translated for OpenAI's API, %uz bytes, "
                   "model %V", *len, model);

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_header_filter(ngx_http_request_t *r)
{
    ngx_http_llm_ctx_t     *ctx;
    ngx_http_llm_openai_t  *oa;

    if (r != r->main || r->upstream == NULL) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx == NULL || !ctx->openai) {
        return ngx_http_next_header_filter(r);
    }

    oa = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_openai_t));
    if (oa == NULL) {
        return NGX_ERROR;
    }

    oa->request = r;
    oa->last = &oa->out;
    oa->stream = (ctx->stream && r->headers_out.status == NGX_HTTP_OK);

    ctx->translation = oa;

    if (oa->stream) {
        if (ngx_llm_sse_init(&oa->sse, ctx->dialect, NULL, 0,
                             ngx_http_llm_pool_alloc, r->pool,
                             ngx_http_llm_openai_output, oa)
            != 0)
        {
            return NGX_ERROR;
        }

        ngx_str_set(&r->headers_out.content_type, "application/x-ndjson");

    } else {
        ngx_str_set(&r->headers_out.content_type,
                    "application/json; charset=utf-8");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->filter_need_in_memory = 1;

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_etag(r);

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_llm_openai_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    int                     rc;
    ngx_buf_t              *b;
    ngx_uint_t              last;
    ngx_chain_t            *cl;
    ngx_http_llm_ctx_t     *ctx;
    ngx_http_llm_openai_t  *oa;

    if (r != r->main || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx == NULL || ctx->translation == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    oa = ctx->translation;

    if (oa->done) {
        /* what comes after the end, or after a failure, is dropped */
        for (cl = in; cl; cl = cl->next) {
            cl->buf->pos = cl->buf->last;
        }

        return ngx_http_next_body_filter(r, NULL);
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (oa->stream) {
            if (b->last > b->pos) {
                rc = ngx_llm_sse_feed(&oa->sse, (char *) b->pos,
                                      b->last - b->pos);

                if (rc == NGX_LLM_SSE_ABORT) {
                    return NGX_ERROR;
                }
            }

        } else if (ngx_http_llm_openai_gather(oa, b) != NGX_OK) {
            return NGX_ERROR;
        }

        b->pos = b->last;

        if (b->last_buf || b->last_in_chain) {
            last = b->last_buf;
        }
    }

    if (last) {
        oa->done = 1;

        if (oa->stream) {
            if (ngx_llm_sse_finish(&oa->sse) == NGX_LLM_SSE_ABORT) {
                return NGX_ERROR;
            }

        } else if (ngx_http_llm_openai_json(oa, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->last_buf = 1;

        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = b;
        cl->next = NULL;
        *oa->last = cl;
        oa->last = &cl->next;
    }

    cl = oa->out;
    oa->out = NULL;
    oa->last = &oa->out;

    return ngx_http_next_body_filter(r, cl);
}


static ngx_int_t
ngx_http_llm_openai_gather(ngx_http_llm_openai_t *oa, ngx_buf_t *b)
{
    u_char  *p;
    size_t   n;

    n = b->last - b->pos;

    if (n == 0) {
        return NGX_OK;
    }

    if (oa->len + n > NGX_HTTP_LLM_OPENAI_MAX) {
        ngx_log_error(NGX_LOG_ERR, oa->request->connection->log, 0,
                      "llm router: an api=openai answer larger than %uz "
                      "bytes", (size_t) NGX_HTTP_LLM_OPENAI_MAX);
        return NGX_ERROR;
    }

    if (oa->len + n > oa->size) {
        oa->size = ngx_max(2 * oa->size, oa->len + n + 4096);

        p = ngx_pnalloc(oa->request->pool, oa->size);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (oa->len) {
            ngx_memcpy(p, oa->body, oa->len);
        }

        oa->body = p;
    }

    ngx_memcpy(oa->body + oa->len, b->pos, n);
    oa->len += n;

    return NGX_OK;
}


/* the whole JSON answer, as Ollama's */

static ngx_int_t
ngx_http_llm_openai_json(ngx_http_llm_openai_t *oa, ngx_http_llm_ctx_t *ctx)
{
    int                  rc;
    char                *out;
    size_t               len;
    ngx_buf_t           *b;
    ngx_chain_t         *cl;
    ngx_http_request_t  *r;

    r = oa->request;

    rc = ngx_llm_translate_response(ctx->dialect, NULL, 0,
                                    oa->body ? (char *) oa->body : "",
                                    oa->len, ngx_http_llm_pool_alloc,
                                    r->pool, &out, &len);
    if (rc == NGX_LLM_TRANSLATE_ERROR) {
        return NGX_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    cl = ngx_alloc_chain_link(r->pool);

    if (b == NULL || cl == NULL) {
        return NGX_ERROR;
    }

    b->pos = (u_char *) out;
    b->last = b->pos + len;
    b->memory = 1;

    cl->buf = b;
    cl->next = NULL;
    *oa->last = cl;
    oa->last = &cl->next;

    return NGX_OK;
}


/* NDJSON lines from the stream translator, passed on at once */

static int
ngx_http_llm_openai_output(void *data, const char *p, size_t len)
{
    ngx_http_llm_openai_t *oa = data;

    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = ngx_create_temp_buf(oa->request->pool, len);
    cl = ngx_alloc_chain_link(oa->request->pool);

    if (b == NULL || cl == NULL) {
        return -1;
    }

    b->last = ngx_cpymem(b->pos, p, len);
    b->flush = 1;

    cl->buf = b;
    cl->next = NULL;
    *oa->last = cl;
    oa->last = &cl->next;

    return 0;
}
