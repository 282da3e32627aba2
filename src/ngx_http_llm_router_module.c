
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Reads each LLM request's JSON body, scores the prompt, picks a tier and
 * rewrites the model, then lets proxy_pass forward the new body to
 * $llm_upstream.  Runs in the precontent phase, after access control.
 */


#include "ngx_http_llm_router_module.h"


static ngx_int_t ngx_http_llm_handler(ngx_http_request_t *r);
static void ngx_http_llm_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_route(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_body(ngx_http_request_t *r, ngx_str_t *body);
static ngx_int_t ngx_http_llm_pick(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_llm_request_t *req);
static ngx_int_t ngx_http_llm_set_body(ngx_http_request_t *r, char *data,
    size_t len);
static ngx_int_t ngx_http_llm_answer(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_uint_t status, const char *msg);
static ngx_int_t ngx_http_llm_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body);
static ngx_int_t ngx_http_llm_send_tags(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_send_version(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_uri_is(ngx_http_request_t *r, char *suffix);
static void ngx_http_llm_cleanup(void *data);

static void *ngx_http_llm_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_llm_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_llm_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_llm_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_llm_router(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_tier(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_auto_models(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_default_tier(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_thresholds(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_dialect(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_llm_tier_index(ngx_str_t *name);
static ngx_int_t ngx_http_llm_model_name_valid(ngx_str_t *name);
static ngx_int_t ngx_http_llm_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_llm_postconfiguration(ngx_conf_t *cf);


static ngx_command_t  ngx_http_llm_commands[] = {

    { ngx_string("llm_router"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_llm_router,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, enable),
      NULL },

    { ngx_string("llm_router_tier"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_llm_tier,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_auto_models"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llm_auto_models,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_default_tier"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_llm_default_tier,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_thresholds"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_llm_thresholds,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_router_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, max_body_size),
      NULL },

    { ngx_string("llm_router_dialect"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llm_dialect,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_llm_router_module_ctx = {
    ngx_http_llm_preconfiguration,         /* preconfiguration */
    ngx_http_llm_postconfiguration,        /* postconfiguration */

    ngx_http_llm_create_main_conf,         /* create main configuration */
    ngx_http_llm_init_main_conf,           /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_llm_create_loc_conf,          /* create location configuration */
    ngx_http_llm_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_llm_router_module = {
    NGX_MODULE_V1,
    &ngx_http_llm_router_module_ctx,       /* module context */
    ngx_http_llm_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_llm_tier_names[NGX_HTTP_LLM_TIERS] = {
    ngx_string("big"),
    ngx_string("small")
};


static ngx_int_t
ngx_http_llm_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_uint_t                dialect;
    ngx_http_llm_ctx_t       *ctx;
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (!llcf->enable || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx != NULL) {
        if (ctx->routed) {
            return NGX_DECLINED;
        }

        if (ctx->body_ready) {
            return ngx_http_llm_route(r, ctx);
        }

        /* still reading the body */
        return NGX_DONE;
    }

    dialect = llcf->dialect;

    if (dialect == NGX_HTTP_LLM_DIALECT_URI) {
        dialect = ngx_llm_dialect_from_path((char *) r->uri.data, r->uri.len);
    }

    if (dialect == NGX_LLM_DIALECT_NONE) {

        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {

            if (ngx_http_llm_uri_is(r, "/api/tags")) {
                return ngx_http_llm_send_tags(r);
            }

            if (ngx_http_llm_uri_is(r, "/api/version")) {
                return ngx_http_llm_send_version(r);
            }
        }

        /* any other Ollama endpoint: to the default tier */
        return NGX_DECLINED;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->dialect = dialect;
    ctx->tier = NGX_HTTP_LLM_TIERS;

    ngx_http_set_ctx(r, ctx, ngx_http_llm_router_module);

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_llm_answer(r, ctx, NGX_HTTP_NOT_ALLOWED,
                                   "method not allowed, use POST");
    }

    if (r->headers_in.content_length_n > (off_t) llcf->max_body_size) {
        return ngx_http_llm_answer(r, ctx,
                                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                   "request body too large");
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_llm_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    if (rc == NGX_AGAIN || !ctx->body_ready) {
        ctx->waiting_body = 1;
        return NGX_DONE;
    }

    return ngx_http_llm_route(r, ctx);
}


static void
ngx_http_llm_body_handler(ngx_http_request_t *r)
{
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    ctx->body_ready = 1;

    r->main->count--;

    if (ctx->waiting_body) {
        ctx->waiting_body = 0;
        r->write_event_handler = ngx_http_core_run_phases;
        ngx_http_core_run_phases(r);
    }
}


static ngx_int_t
ngx_http_llm_route(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    char                      *out;
    size_t                     len;
    ngx_int_t                  rc;
    ngx_str_t                  body;
    ngx_pool_cleanup_t        *cln;
    ngx_llm_request_t          req;
    ngx_http_llm_tier_t       *tier;
    ngx_http_llm_loc_conf_t   *llcf;
    ngx_http_llm_main_conf_t  *lmcf;
    ngx_llm_classify_state_t   st;
    ngx_llm_classify_hints_t   hints;
    ngx_llm_classify_result_t  res;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);
    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);

    rc = ngx_http_llm_body(r, &body);

    if (rc == NGX_DECLINED) {
        return ngx_http_llm_answer(r, ctx,
                                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                   "request body too large");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_llm_classify_begin(&st);

    if (ngx_llm_request_parse(&req, ctx->dialect, (char *) body.data,
                              body.len, &st)
        != 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm router: bad %s request: %s",
                      ngx_llm_dialect_name(ctx->dialect), req.error);

        rc = ngx_http_llm_answer(r, ctx, NGX_HTTP_BAD_REQUEST, req.error);
        ngx_llm_request_free(&req);
        return rc;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_llm_request_free(&req);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_llm_cleanup;
    cln->data = req.root;

    hints.max_tokens = req.max_tokens;
    ngx_llm_classify_end(&st, &hints, &llcf->classify, &res);

    ctx->score = res.score;
    ctx->cls = res.cls;
    ctx->classified = 1;
    ctx->stream = req.stream ? 1 : 0;
    ctx->features_len = ngx_llm_classify_explain(&res,
                                                 (char *) ctx->features,
                                                 sizeof(ctx->features));

    rc = ngx_http_llm_pick(r, ctx, &req);

    if (rc != NGX_OK) {
        return rc;
    }

    tier = &lmcf->tiers[ctx->tier];

    len = ngx_llm_request_rewrite(&req, (char *) body.data, body.len,
                                  (char *) tier->model.data, &out);

    /* the tree is no longer needed; the cleanup sees NULL */
    ngx_llm_request_free(&req);
    cln->data = NULL;

    if (len == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_llm_set_body(r, out, len);
    free(out);

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->routed = 1;

    ngx_log_debug7(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: %s %s score:%.3f class:%s -> %V (%V) %s",
                   ngx_llm_dialect_name(ctx->dialect),
                   ctx->stream ? "stream" : "single", ctx->score,
                   ngx_llm_class_name(ctx->cls), &tier->name, &ctx->reason,
                   ctx->features);

    return NGX_DECLINED;
}


/*
 * Makes the whole body one contiguous piece of memory.  A body that nginx
 * spilled to a temporary file is read back: it was written by this worker
 * a moment ago and is in the page cache.  Keep client_body_buffer_size at
 * least llm_router_max_body_size to never take that path.
 */

static ngx_int_t
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

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    body->len = p - body->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_pick(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_llm_request_t *req)
{
    size_t                     len;
    u_char                    *msg, *p;
    ngx_str_t                 *name;
    ngx_uint_t                 i;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);

    if (req->model != NULL && req->model[0] != '\0') {

        len = ngx_strlen(req->model);

        ctx->requested_model.data = ngx_pnalloc(r->pool, len);
        if (ctx->requested_model.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ctx->requested_model.data, req->model, len);
        ctx->requested_model.len = len;

        name = lmcf->auto_models->elts;

        for (i = 0; i < lmcf->auto_models->nelts; i++) {
            if (name[i].len == len
                && ngx_strncmp(name[i].data, req->model, len) == 0)
            {
                goto by_complexity;
            }
        }

        for (i = 0; i < NGX_HTTP_LLM_TIERS; i++) {
            if (lmcf->tiers[i].model.len == len
                && ngx_strncmp(lmcf->tiers[i].model.data, req->model, len)
                   == 0)
            {
                ctx->tier = i;
                ngx_str_set(&ctx->reason, "pinned");
                return NGX_OK;
            }
        }

        len = ngx_min(len, 200);
        msg = ngx_pnalloc(r->pool, len + sizeof("model \"\" is not served"
                                                " here, use \"auto\"") + 1);
        if (msg == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_sprintf(msg, "model \"%*s\" is not served here, use \"auto\"",
                        len, req->model);
        *p = '\0';

        return ngx_http_llm_answer(r, ctx, NGX_HTTP_NOT_FOUND, (char *) msg);
    }

by_complexity:

    ctx->tier = (ctx->cls == NGX_LLM_CLASS_SIMPLE) ? NGX_HTTP_LLM_SMALL
                                                   : NGX_HTTP_LLM_BIG;
    ngx_str_set(&ctx->reason, "complexity");

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_set_body(ngx_http_request_t *r, char *data, size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->pos, data, len);
    b->last_buf = 1;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;

    r->request_body->bufs = cl;
    r->headers_in.content_length_n = len;

    return NGX_OK;
}


static void
ngx_http_llm_cleanup(void *data)
{
    ngx_llm_request_t  req;

    if (data != NULL) {
        ngx_memzero(&req, sizeof(ngx_llm_request_t));
        req.root = data;
        ngx_llm_request_free(&req);
    }
}


/*
 * Answers the request from this phase with a JSON error in the style of
 * the client's dialect, and finalizes it.
 */

static ngx_int_t
ngx_http_llm_answer(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t status, const char *msg)
{
    u_char           *p;
    size_t            len;
    ngx_int_t         rc;
    ngx_str_t         body;
    ngx_table_elt_t  *h;

    len = ngx_strlen(msg);

    body.data = ngx_pnalloc(r->pool, 6 * len + 128);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_llm_dialect_is_openai(ctx->dialect)) {
        p = ngx_cpymem(body.data, "{\"error\":{\"message\":\"",
                       sizeof("{\"error\":{\"message\":\"") - 1);
        p += ngx_llm_json_escape((char *) p, msg, len);
        p = ngx_sprintf(p, "\",\"type\":\"%s\",\"param\":null,\"code\":null}}",
                        status >= 500 ? "server_error"
                                      : "invalid_request_error");

    } else {
        p = ngx_cpymem(body.data, "{\"error\":\"", sizeof("{\"error\":\"") - 1);
        p += ngx_llm_json_escape((char *) p, msg, len);
        p = ngx_cpymem(p, "\"}", 2);
    }

    *p++ = LF;
    body.len = p - body.data;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    if (status == NGX_HTTP_NOT_ALLOWED) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "POST");
    }

    rc = ngx_http_llm_send(r, status, &body);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_llm_send(ngx_http_request_t *r, ngx_uint_t status, ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = body->len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
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
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_llm_send_tags(ngx_http_request_t *r)
{
    u_char                    *p;
    size_t                     len;
    ngx_int_t                  rc;
    ngx_str_t                  body;
    ngx_uint_t                 i;
    ngx_http_llm_main_conf_t  *lmcf;

    static const char  model_fmt[] =
        "{\"name\":\"%V\",\"model\":\"%V\",\"modified_at\":"
        "\"1970-01-01T00:00:00Z\",\"size\":0,\"digest\":\"\","
        "\"details\":{\"format\":\"\",\"family\":\"%s\",\"families\":null,"
        "\"parameter_size\":\"\",\"quantization_level\":\"\"}}";

    static ngx_str_t  auto_name = ngx_string("auto");

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);

    len = sizeof("{\"models\":[]}\n") + sizeof(model_fmt) + 2 * auto_name.len;

    for (i = 0; i < NGX_HTTP_LLM_TIERS; i++) {
        len += sizeof(model_fmt) + 2 * lmcf->tiers[i].model.len + 16;
    }

    body.data = ngx_pnalloc(r->pool, len);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body.data, "{\"models\":[", sizeof("{\"models\":[") - 1);
    p = ngx_sprintf(p, model_fmt, &auto_name, &auto_name, "router");

    for (i = 0; i < NGX_HTTP_LLM_TIERS; i++) {
        p = ngx_sprintf(p, ",");
        p = ngx_sprintf(p, model_fmt, &lmcf->tiers[i].model,
                        &lmcf->tiers[i].model,
                        i == NGX_HTTP_LLM_BIG ? "big" : "small");
    }

    p = ngx_cpymem(p, "]}\n", 3);
    body.len = p - body.data;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_llm_send(r, NGX_HTTP_OK, &body);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_llm_send_version(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  body = ngx_string("{\"version\":\"0.6.0\",\"router\":"
                                 "\"ngx_llm_router/"
                                 NGX_HTTP_LLM_ROUTER_VERSION "\"}\n");

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_llm_send(r, NGX_HTTP_OK, &body);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


static ngx_int_t
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


static void *
ngx_http_llm_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     lmcf->tiers[] = { 0 };
     *     lmcf->auto_models = NULL;
     *     lmcf->used = 0;
     */

    lmcf->default_tier = NGX_CONF_UNSET_UINT;

    return lmcf;
}


static char *
ngx_http_llm_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_str_t  *name;

    if (lmcf->auto_models == NULL) {
        lmcf->auto_models = ngx_array_create(cf->pool, 1, sizeof(ngx_str_t));
        if (lmcf->auto_models == NULL) {
            return NGX_CONF_ERROR;
        }

        name = ngx_array_push(lmcf->auto_models);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_str_set(name, "auto");
    }

    ngx_conf_init_uint_value(lmcf->default_tier, NGX_HTTP_LLM_SMALL);

    return NGX_CONF_OK;
}


static void *
ngx_http_llm_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_loc_conf_t));
    if (llcf == NULL) {
        return NULL;
    }

    llcf->enable = NGX_CONF_UNSET;
    llcf->dialect = NGX_CONF_UNSET_UINT;
    llcf->max_body_size = NGX_CONF_UNSET_SIZE;
    llcf->classify.simple_below = -1;
    llcf->classify.complex_from = -1;

    return llcf;
}


static char *
ngx_http_llm_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_llm_loc_conf_t *prev = parent;
    ngx_http_llm_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_uint_value(conf->dialect, prev->dialect,
                              NGX_HTTP_LLM_DIALECT_URI);
    ngx_conf_merge_size_value(conf->max_body_size, prev->max_body_size,
                              1024 * 1024);

    if (conf->classify.simple_below < 0) {
        if (prev->classify.simple_below < 0) {
            ngx_llm_classify_conf_default(&conf->classify);

        } else {
            conf->classify = prev->classify;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_router(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                      *rv;
    ngx_http_llm_loc_conf_t   *llcf = conf;
    ngx_http_llm_main_conf_t  *lmcf;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (llcf->enable) {
        lmcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_llm_router_module);
        lmcf->used = 1;
    }

    return NGX_CONF_OK;
}


/* llm_router_tier big|small upstream=NAME model=NAME [max_inflight=N]; */

static char *
ngx_http_llm_tier(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_int_t             n, i;
    ngx_str_t            *value, v;
    ngx_uint_t            j;
    ngx_http_llm_tier_t  *tier;

    value = cf->args->elts;

    i = ngx_http_llm_tier_index(&value[1]);

    if (i == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid tier \"%V\" in \"%V\", "
                           "it must be \"big\" or \"small\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    tier = &lmcf->tiers[i];

    if (tier->configured) {
        return "is duplicate";
    }

    tier->name = ngx_http_llm_tier_names[i];

    for (j = 2; j < cf->args->nelts; j++) {

        if (ngx_strncmp(value[j].data, "upstream=", 9) == 0) {
            tier->upstream.data = value[j].data + 9;
            tier->upstream.len = value[j].len - 9;
            continue;
        }

        if (ngx_strncmp(value[j].data, "model=", 6) == 0) {
            tier->model.data = value[j].data + 6;
            tier->model.len = value[j].len - 6;

            if (ngx_http_llm_model_name_valid(&tier->model) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid model name \"%V\" in \"%V\"",
                                   &tier->model, &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[j].data, "max_inflight=", 13) == 0) {
            v.data = value[j].data + 13;
            v.len = value[j].len - 13;

            n = ngx_atoi(v.data, v.len);

            if (n == NGX_ERROR || n == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid max_inflight \"%V\" in \"%V\", "
                                   "it must be a positive number",
                                   &v, &cmd->name);
                return NGX_CONF_ERROR;
            }

            tier->max_inflight = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\"",
                           &value[j], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (tier->upstream.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" %V: missing \"upstream=\"",
                           &cmd->name, &tier->name);
        return NGX_CONF_ERROR;
    }

    if (tier->model.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" %V: missing \"model=\"",
                           &cmd->name, &tier->name);
        return NGX_CONF_ERROR;
    }

    if (tier->max_inflight == 0) {
        tier->max_inflight = (i == NGX_HTTP_LLM_BIG) ? 4 : 8;
    }

    tier->configured = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_auto_models(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_str_t   *value, *name;
    ngx_uint_t   i;

    if (lmcf->auto_models != NULL) {
        return "is duplicate";
    }

    lmcf->auto_models = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                         sizeof(ngx_str_t));
    if (lmcf->auto_models == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_http_llm_model_name_valid(&value[i]) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid model name \"%V\" in \"%V\"",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        name = ngx_array_push(lmcf->auto_models);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_default_tier(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_int_t   i;
    ngx_str_t  *value;

    if (lmcf->default_tier != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    i = ngx_http_llm_tier_index(&value[1]);

    if (i == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid tier \"%V\" in \"%V\", "
                           "it must be \"big\" or \"small\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    lmcf->default_tier = i;

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_thresholds(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_loc_conf_t *llcf = conf;

    ngx_int_t   low, high;
    ngx_str_t  *value;

    if (llcf->classify.simple_below >= 0) {
        return "is duplicate";
    }

    value = cf->args->elts;

    low = ngx_atofp(value[1].data, value[1].len, 3);
    high = ngx_atofp(value[2].data, value[2].len, 3);

    if (low == NGX_ERROR || high == NGX_ERROR || low > high || high > 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid thresholds \"%V %V\" in \"%V\", "
                           "they must be two scores between 0 and 1, "
                           "the first not above the second",
                           &value[1], &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    llcf->classify.simple_below = low / 1000.0;
    llcf->classify.complex_from = high / 1000.0;

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_dialect(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_loc_conf_t *llcf = conf;

    ngx_str_t          *value;
    ngx_llm_dialect_e   d;

    if (llcf->dialect != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "auto") == 0) {
        llcf->dialect = NGX_HTTP_LLM_DIALECT_URI;
        return NGX_CONF_OK;
    }

    d = ngx_llm_dialect_from_name((char *) value[1].data, value[1].len);

    if (d == NGX_LLM_DIALECT_NONE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid dialect \"%V\" in \"%V\", it must be "
                           "\"auto\", \"ollama_generate\", \"ollama_chat\", "
                           "\"openai_chat\", \"openai_completions\" "
                           "or \"jarvis\"", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    llcf->dialect = d;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llm_tier_index(ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LLM_TIERS; i++) {
        if (name->len == ngx_http_llm_tier_names[i].len
            && ngx_strncmp(name->data, ngx_http_llm_tier_names[i].data,
                           name->len) == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_llm_model_name_valid(ngx_str_t *name)
{
    ngx_uint_t  i;

    if (name->len == 0 || name->len > 200) {
        return NGX_ERROR;
    }

    for (i = 0; i < name->len; i++) {
        if (name->data[i] <= 0x20 || name->data[i] == '"'
            || name->data[i] == '\\' || name->data[i] == 0x7f)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_preconfiguration(ngx_conf_t *cf)
{
    ngx_llm_classify_init();

    return ngx_http_llm_add_variables(cf);
}


static ngx_int_t
ngx_http_llm_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                      i, j;
    ngx_http_handler_pt            *h;
    ngx_http_llm_tier_t            *tier;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_http_llm_main_conf_t       *lmcf;
    ngx_http_upstream_main_conf_t  *umcf;
    ngx_http_upstream_srv_conf_t  **uscfp;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_router_module);

    if (lmcf->used) {
        umcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_upstream_module);
        uscfp = umcf->upstreams.elts;

        for (i = 0; i < NGX_HTTP_LLM_TIERS; i++) {
            tier = &lmcf->tiers[i];

            if (!tier->configured) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "\"llm_router\" is on but the %V tier is not "
                              "declared: add \"llm_router_tier %V "
                              "upstream=... model=...;\" at http level",
                              &ngx_http_llm_tier_names[i],
                              &ngx_http_llm_tier_names[i]);
                return NGX_ERROR;
            }

            for (j = 0; j < umcf->upstreams.nelts; j++) {
                if ((uscfp[j]->flags & NGX_HTTP_UPSTREAM_CREATE)
                    && uscfp[j]->host.len == tier->upstream.len
                    && ngx_strncasecmp(uscfp[j]->host.data,
                                       tier->upstream.data,
                                       tier->upstream.len) == 0)
                {
                    break;
                }
            }

            if (j == umcf->upstreams.nelts) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "\"llm_router_tier\" %V: no \"upstream %V\" "
                              "block is defined", &tier->name,
                              &tier->upstream);
                return NGX_ERROR;
            }
        }
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_llm_handler;

    return NGX_OK;
}
