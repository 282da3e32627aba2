
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Response cache in Redis.
 *
 *   lookup:  before tier selection, GET llm:<key>.  A hit is answered from
 *            the stored copy (a stream replayed event by event in its own
 *            framing) and never reaches a tier; a miss or any Redis trouble
 *            lets routing go on (MISS / ERROR).
 *   fill:    one request per key at a time: SET llm:lock:<key> NX; the
 *            others poll for the answer (bounded) instead of taking a
 *            second GPU slot, and go on alone if the holder fails.
 *   store:   a header and a body filter copy a 200 response up to the size
 *            cap; when it ended cleanly (last buffer seen, client still
 *            there, a stream's final event present) it is written with a
 *            TTL after it was sent.
 *
 * Stored value: "LLM1 <stream 0|1> <model> <content-type>\n<body>".
 */


#include "ngx_http_llm_cache.h"
#include "ngx_http_llm_ctx.h"
#include "ngx_http_llm_state.h"
#include "ngx_http_llm_util.h"
#include "ngx_http_llm_metrics.h"
#include "ngx_http_llm_redis.h"
#include "ngx_http_llm_similar.h"
#include "ngx_llm_cache_key.h"
#include "ngx_llm_cache_entry.h"


#define NGX_HTTP_LLM_CACHE_POLL  50


static ngx_uint_t ngx_http_llm_cache_no_cache(ngx_http_request_t *r);
static void ngx_http_llm_cache_get_done(void *data, redisReply *reply);
static void ngx_http_llm_cache_sign(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *tenant);
static ngx_int_t ngx_http_llm_cache_similar(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_cache_similar_done(void *data, redisReply *reply);
static void ngx_http_llm_cache_fill(ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_cache_lock_done(void *data, redisReply *reply);
static void ngx_http_llm_cache_poll(ngx_event_t *ev);
static void ngx_http_llm_cache_poll_done(void *data, redisReply *reply);
static void ngx_http_llm_cache_verdict(ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_cache_e status, ngx_llm_entry_t *e);
static ngx_int_t ngx_http_llm_cache_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_cache_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_llm_cache_store(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_cache_unlock(ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_cache_stored(void *data, redisReply *reply);
static void ngx_http_llm_cache_ignore(void *data, redisReply *reply);
static void ngx_http_llm_cache_cleanup(void *data);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;

static ngx_str_t  ngx_http_llm_cache_names[] = {
    ngx_null_string,
    ngx_string("HIT"),
    ngx_string("MISS"),
    ngx_string("BYPASS"),
    ngx_string("ERROR"),
    ngx_string("HIT-SIMILAR")
};


ngx_int_t
ngx_http_llm_cache_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_llm_cache_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_llm_cache_body_filter;

    return NGX_OK;
}


ngx_str_t *
ngx_http_llm_cache_status_name(ngx_uint_t status)
{
    return &ngx_http_llm_cache_names[status <= NGX_HTTP_LLM_CACHE_HIT_SIMILAR
                                     ? status : NGX_HTTP_LLM_CACHE_ERROR];
}


ngx_int_t
ngx_http_llm_cache_lookup(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                    *key;
    ngx_str_t                  tenant;
    const char                *argv[2];
    size_t                     argvlen[2];
    ngx_pool_cleanup_t        *cln;
    ngx_http_llm_loc_conf_t   *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (ngx_http_llm_cache_no_cache(r)) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm router: cache bypassed: Cache-Control");
        ctx->cache.status = NGX_HTTP_LLM_CACHE_BYPASS;
        return NGX_DECLINED;
    }

    switch (ngx_http_test_predicates(r, llcf->cache_bypass)) {

    case NGX_ERROR:
        return NGX_ERROR;

    case NGX_DECLINED:
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm router: cache bypassed: llm_cache_bypass");
        ctx->cache.status = NGX_HTTP_LLM_CACHE_BYPASS;
        return NGX_DECLINED;

    default: /* NGX_OK */
        break;
    }

    if (!ngx_http_llm_redis_ready()) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm router: cache skipped: redis not connected");
        ctx->cache.status = NGX_HTTP_LLM_CACHE_ERROR;
        return NGX_DECLINED;
    }

    /* whatever happens next, nothing may call back into a freed request */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_llm_cache_cleanup;
    cln->data = ctx;

    if (ngx_http_complex_value(r, llcf->cache_tenant, &tenant) != NGX_OK) {
        return NGX_ERROR;
    }

    key = ngx_pnalloc(r->pool, sizeof("llm:") - 1 + NGX_LLM_KEY_HEX);
    if (key == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_llm_request_tree(r, &ctx->req) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_llm_cache_key(&ctx->req, ctx->req.model, tenant.data, tenant.len,
                          (char *) ctx->cache.key)
        != 0)
    {
        return NGX_ERROR;
    }

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (char *) key;
    argvlen[1] = ngx_sprintf(key, "llm:%*s", (size_t) NGX_LLM_KEY_HEX,
                             ctx->cache.key) - key;

    if (llcf->cache_similar && ctx->lmcf->similar_zone != NULL) {
        ngx_http_llm_cache_sign(r, ctx, &tenant);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: cache GET %*s", argvlen[1], key);

    ctx->cache.cmd = ngx_http_llm_redis_send(2, argv, argvlen,
                                             ngx_http_llm_cache_get_done,
                                             ctx);
    if (ctx->cache.cmd == NULL) {
        ctx->cache.status = NGX_HTTP_LLM_CACHE_ERROR;
        return NGX_DECLINED;
    }

    return NGX_DONE;
}


/* the client's "Cache-Control: no-cache" */

static ngx_uint_t
ngx_http_llm_cache_no_cache(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Cache-Control") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Cache-Control",
                               h[i].key.len) == 0
            && ngx_strlcasestrn(h[i].value.data,
                                h[i].value.data + h[i].value.len,
                                (u_char *) "no-cache", 8 - 1)
               != NULL)
        {
            return 1;
        }
    }
}


static void
ngx_http_llm_cache_get_done(void *data, redisReply *reply)
{
    ngx_http_llm_ctx_t  *ctx = data;

    ngx_llm_entry_t      e;
    ngx_http_request_t  *r;

    ctx->cache.cmd = NULL;
    r = ctx->request;

    switch (ngx_llm_reply_get(reply, ctx->stream, &e)) {

    case NGX_LLM_REPLY_FOUND:
        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_HIT, &e);
        return;

    case NGX_LLM_REPLY_ABSENT:
        /* nothing, or a value we cannot read: fill it */
        break;

    default:
        if (reply != NULL && reply->type != REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "llm router: unexpected Redis reply type %d "
                          "to GET, cache bypassed", reply->type);
        }

        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_ERROR, NULL);
        return;
    }

    if (ctx->cache.sig != NULL
        && ngx_http_llm_cache_similar(r, ctx) == NGX_OK)
    {
        /* a near-identical prompt's answer is asked for */
        return;
    }

    ngx_http_llm_cache_fill(ctx);
}


/*
 * The signature of the prompt's last user message in its partition, for
 * the similar-prompt cache; none when the request is not text only.
 */

static void
ngx_http_llm_cache_sign(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *tenant)
{
    int             rc;
    u_char          model[NGX_HTTP_LLM_TIER_NAME_LEN + 128], *p;
    size_t          len;
    const char     *text;
    ngx_llm_sig_t  *sig;

    /* an alias is answered by its class's tier: the class partitions */

    p = ngx_snprintf(model, sizeof(model) - 1, "%s/%s",
                     ctx->req.model ? ctx->req.model : "auto",
                     ctx->pinned == NGX_LLM_NO_TIER
                     ? ngx_llm_class_name(ctx->cls) : "");
    *p = '\0';

    if (ngx_http_llm_request_tree(r, &ctx->req) != NGX_OK) {
        return;
    }

    rc = ngx_llm_cache_partition(&ctx->req, (char *) model, tenant->data,
                                 tenant->len, (char *) ctx->cache.part,
                                 &text, &len);
    if (rc == -1) {
        return;
    }

    sig = (rc == 0) ? ngx_palloc(r->pool, sizeof(ngx_llm_sig_t)) : NULL;

    if (sig == NULL || ngx_llm_sig_make(sig, text, len) != 0) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm router: not compared for similar prompts");
        ngx_http_llm_similar_bypassed(ctx->lmcf->similar_zone);
        return;
    }

    ctx->cache.sig = sig;
}


/* NGX_OK: a similar prompt's answer is asked of Redis */

static ngx_int_t
ngx_http_llm_cache_similar(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                   *key;
    const char               *argv[2];
    size_t                    argvlen[2];
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (ngx_http_llm_similar_find(ctx->lmcf->similar_zone, ctx->cache.part,
                                  ctx->cache.sig,
                                  llcf->cache_similar_threshold,
                                  ctx->cache.similar, &ctx->cache.similarity,
                                  &ctx->cache.age)
        != NGX_OK)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm router: no similar prompt");
        return NGX_DECLINED;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: a similar prompt, %.3f alike, %T s old: "
                   "GET llm:%*s", ctx->cache.similarity, ctx->cache.age,
                   ctx->cache.similar);

    key = ngx_pnalloc(r->pool, sizeof("llm:") - 1 + NGX_LLM_KEY_HEX);
    if (key == NULL) {
        return NGX_DECLINED;
    }

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (char *) key;
    argvlen[1] = ngx_sprintf(key, "llm:%*s", (size_t) NGX_LLM_KEY_HEX,
                             ctx->cache.similar) - key;

    ctx->cache.cmd = ngx_http_llm_redis_send(2, argv, argvlen,
                                             ngx_http_llm_cache_similar_done,
                                             ctx);

    return ctx->cache.cmd != NULL ? NGX_OK : NGX_DECLINED;
}


static void
ngx_http_llm_cache_similar_done(void *data, redisReply *reply)
{
    ngx_http_llm_ctx_t  *ctx = data;

    ngx_llm_entry_t  e;

    ctx->cache.cmd = NULL;

    switch (ngx_llm_reply_get(reply, ctx->stream, &e)) {

    case NGX_LLM_REPLY_FOUND:
        (void) ngx_atomic_fetch_add(
                   &ngx_http_llm_similar_stats(ctx->lmcf->similar_zone)->hits,
                   1);
        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_HIT_SIMILAR, &e);
        return;

    case NGX_LLM_REPLY_ABSENT:
        /* expired or evicted from Redis: forgotten, and filled anew */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "llm router: the similar prompt's answer is gone");
        ngx_http_llm_similar_forget(ctx->lmcf->similar_zone,
                                    ctx->cache.similar);
        ngx_http_llm_cache_fill(ctx);
        return;

    default:
        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_ERROR, NULL);
        return;
    }
}


/* a miss: take the fill lock, or wait for who holds it */

static void
ngx_http_llm_cache_fill(ngx_http_llm_ctx_t *ctx)
{
    u_char                   *key;
    const char               *argv[6];
    size_t                    argvlen[6];
    u_char                    px[NGX_INT_T_LEN];
    ngx_http_request_t       *r;
    ngx_http_llm_loc_conf_t  *llcf;

    r = ctx->request;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (!llcf->cache_lock) {
        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_MISS, NULL);
        return;
    }

    /* single-flight: become the one request that fills this key */

    key = ngx_pnalloc(r->pool, sizeof("llm:lock:") - 1 + NGX_LLM_KEY_HEX);
    if (key == NULL) {
        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_ERROR, NULL);
        return;
    }

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (char *) key;
    argvlen[1] = ngx_sprintf(key, "llm:lock:%*s", (size_t) NGX_LLM_KEY_HEX,
                             ctx->cache.key) - key;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = "NX";
    argvlen[3] = 2;
    argv[4] = "PX";
    argvlen[4] = 2;
    argv[5] = (char *) px;
    argvlen[5] = ngx_sprintf(px, "%M", llcf->cache_lock_timeout) - px;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: cache miss, taking the fill lock");

    ctx->cache.cmd = ngx_http_llm_redis_send(6, argv, argvlen,
                                             ngx_http_llm_cache_lock_done,
                                             ctx);
    if (ctx->cache.cmd == NULL) {
        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_MISS, NULL);
    }
}


static void
ngx_http_llm_cache_lock_done(void *data, redisReply *reply)
{
    ngx_http_llm_ctx_t  *ctx = data;

    ctx->cache.cmd = NULL;

    switch (ngx_llm_reply_lock(reply)) {

    case NGX_LLM_REPLY_LOCKED:
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "llm router: cache fill lock taken");
        ctx->cache.leader = 1;
        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_MISS, NULL);
        return;

    case NGX_LLM_REPLY_BUSY:
        break;

    default:
        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_MISS, NULL);
        return;
    }

    /* another request is filling this key: wait for its answer */

    ngx_http_llm_set_state(ctx, NGX_HTTP_LLM_WAITING);

    ctx->cache.wait.handler = ngx_http_llm_cache_poll;
    ctx->cache.wait.data = ctx;
    ctx->cache.wait.log = ctx->request->connection->log;
    ctx->cache.wait_start = ngx_current_msec;

    (void) ngx_atomic_fetch_add(&ctx->lmcf->sh->cache_waits, 1);

    ngx_add_timer(&ctx->cache.wait, NGX_HTTP_LLM_CACHE_POLL);
}


static void
ngx_http_llm_cache_poll(ngx_event_t *ev)
{
    ngx_http_llm_ctx_t  *ctx = ev->data;

    u_char              *key, *lock;
    const char          *argv[3];
    size_t               argvlen[3];
    ngx_http_request_t  *r;

    r = ctx->request;

    key = ngx_pnalloc(r->pool, 2 * (sizeof("llm:lock:") + NGX_LLM_KEY_HEX));
    if (key == NULL) {
        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_MISS, NULL);
        return;
    }

    lock = key + sizeof("llm:lock:") + NGX_LLM_KEY_HEX;

    argv[0] = "MGET";
    argvlen[0] = 4;
    argv[1] = (char *) key;
    argvlen[1] = ngx_sprintf(key, "llm:%*s", (size_t) NGX_LLM_KEY_HEX,
                             ctx->cache.key) - key;
    argv[2] = (char *) lock;
    argvlen[2] = ngx_sprintf(lock, "llm:lock:%*s", (size_t) NGX_LLM_KEY_HEX,
                             ctx->cache.key) - lock;

    ctx->cache.cmd = ngx_http_llm_redis_send(3, argv, argvlen,
                                             ngx_http_llm_cache_poll_done,
                                             ctx);
    if (ctx->cache.cmd == NULL) {
        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_MISS, NULL);
    }
}


static void
ngx_http_llm_cache_poll_done(void *data, redisReply *reply)
{
    ngx_http_llm_ctx_t  *ctx = data;

    ngx_llm_entry_t           e;
    ngx_http_request_t       *r;
    ngx_http_llm_loc_conf_t  *llcf;

    ctx->cache.cmd = NULL;
    r = ctx->request;

    switch (ngx_llm_reply_poll(reply, ctx->stream, &e)) {

    case NGX_LLM_REPLY_FOUND:
        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_HIT, &e);
        return;

    case NGX_LLM_REPLY_WAIT:
        break;

    default:
        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_MISS, NULL);
        return;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if ((ngx_msec_int_t) (ngx_current_msec - ctx->cache.wait_start)
        >= (ngx_msec_int_t) llcf->cache_lock_timeout)
    {
        /* the holder failed, or took too long: go on alone */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm router: cache fill lock timed out");
        ngx_http_llm_cache_verdict(ctx, NGX_HTTP_LLM_CACHE_MISS, NULL);
        return;
    }

    ngx_add_timer(&ctx->cache.wait, NGX_HTTP_LLM_CACHE_POLL);
}


/*
 * The lookup is over: a hit's entry is copied (the reply belongs to
 * hiredis), and the request is woken to act on the verdict.
 */

static void
ngx_http_llm_cache_verdict(ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_cache_e status, ngx_llm_entry_t *e)
{
    u_char              *p;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (e != NULL) {
        p = ngx_pnalloc(r->pool, e->model_len + e->type_len + e->body_len);

        if (p == NULL) {
            status = NGX_HTTP_LLM_CACHE_ERROR;

        } else {
            ctx->cache.model.data = p;
            ctx->cache.model.len = e->model_len;
            p = ngx_cpymem(p, e->model, e->model_len);

            ctx->cache.type.data = p;
            ctx->cache.type.len = e->type_len;
            p = ngx_cpymem(p, e->type, e->type_len);

            ctx->cache.hit.data = p;
            ctx->cache.hit.len = e->body_len;
            ngx_memcpy(p, e->body, e->body_len);
        }
    }

    ctx->cache.status = status;

    ngx_http_llm_resume(r, ctx, NGX_HTTP_LLM_LOOKED_UP);
}


/*
 * Sends a stored answer.  A stream goes out one event per chunk: NDJSON
 * lines, or SSE events ending with a blank line.
 */

ngx_int_t
ngx_http_llm_cache_replay(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char       *p, *end, *next;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_uint_t    sse;
    ngx_chain_t   out;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: replaying %uz bytes of %V",
                   ctx->cache.hit.len, &ctx->cache.model);

    r->headers_out.content_type = ctx->cache.type;
    r->headers_out.content_type_len = ctx->cache.type.len;

    p = ctx->cache.hit.data;
    end = p + ctx->cache.hit.len;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = ctx->stream ? -1
                                      : (off_t) ctx->cache.hit.len;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    sse = ngx_llm_entry_is_sse(ctx->cache.type.data, ctx->cache.type.len);

    for ( ;; ) {
        next = ctx->stream
               ? (u_char *) ngx_llm_entry_next_event(p, end, sse) : end;

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        /*
         * An event per call, so that each is a chunk of its own, as the
         * tier sent it; no flush between them: the write filter sends
         * them together, in one system call for a short answer.
         */

        b->pos = p;
        b->last = next;
        b->memory = (next > p);
        b->last_buf = (next == end);
        b->last_in_chain = 1;

        out.buf = b;
        out.next = NULL;

        rc = ngx_http_output_filter(r, &out);

        if (rc == NGX_ERROR || next == end) {
            return rc;
        }

        p = next;
    }
}


static ngx_int_t
ngx_http_llm_cache_header_filter(ngx_http_request_t *r)
{
    ngx_http_llm_ctx_t       *ctx;
    ngx_http_llm_loc_conf_t  *llcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_llm_get_ctx(r);

    if (ctx == NULL) {
        return ngx_http_next_header_filter(r);
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (ctx->cache.status == NGX_HTTP_LLM_CACHE_NONE) {
        if (!llcf->cache) {
            return ngx_http_next_header_filter(r);
        }

        /* refused before any lookup (bad request, unknown model, ...) */
        ctx->cache.status = NGX_HTTP_LLM_CACHE_BYPASS;
    }

    if (ngx_http_llm_add_header(r, "X-LLM-Cache",
                                &ngx_http_llm_cache_names[ctx->cache.status])
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->cache.status == NGX_HTTP_LLM_CACHE_MISS
        && r->headers_out.status == NGX_HTTP_OK
        && r->upstream != NULL
        && !ctx->cache.copying && !ctx->cache.stored)
    {
        ctx->cache.copying = 1;
        ctx->cache.copy = NULL;
        ctx->cache.copy_last = &ctx->cache.copy;
        ctx->cache.copy_size = 0;
        ctx->cache.copy_type = r->headers_out.content_type;

        if (llcf->cache_max_size == 0) {
            ctx->cache.copying = 0;
        }
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_llm_cache_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                    n;
    ngx_buf_t                *b;
    ngx_chain_t              *cl, *copy;
    ngx_http_llm_ctx_t       *ctx;
    ngx_http_llm_loc_conf_t  *llcf;

    if (r != r->main || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    if (ctx->counted != NGX_LLM_NO_TIER && r->upstream != NULL) {
        /* the answer's end carries its token counts */
        ngx_http_llm_metrics_tail(ctx, in);
    }

    if (!ctx->cache.copying) {
        return ngx_http_next_body_filter(r, in);
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file && !ngx_buf_in_memory(b)) {
            /* spilled to a temp file: not kept (proxy_buffering off) */
            ctx->cache.copying = 0;
            break;
        }

        n = b->last - b->pos;

        if (n) {
            if (ctx->cache.copy_size + n > llcf->cache_max_size) {
                ctx->cache.copying = 0;
                break;
            }

            copy = ngx_alloc_chain_link(r->pool);
            if (copy == NULL) {
                ctx->cache.copying = 0;
                break;
            }

            copy->buf = ngx_create_temp_buf(r->pool, n);
            if (copy->buf == NULL) {
                ctx->cache.copying = 0;
                break;
            }

            copy->buf->last = ngx_cpymem(copy->buf->pos, b->pos, n);
            copy->next = NULL;
            *ctx->cache.copy_last = copy;
            ctx->cache.copy_last = &copy->next;
            ctx->cache.copy_size += n;
        }

        if (b->last_buf) {
            ctx->cache.copying = 0;

            if (!r->connection->error) {
                ngx_http_llm_cache_store(r, ctx);
            }

            break;
        }
    }

    return ngx_http_next_body_filter(r, in);
}


static void
ngx_http_llm_cache_store(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                   *value, *p, *key, *ttl;
    const char               *argv[5];
    size_t                    argvlen[5], len;
    ngx_str_t                *model;
    ngx_chain_t              *cl;
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    model = &ctx->lmcf->tiers[ctx->tier].model;

    len = ngx_llm_entry_header_len(model->len, ctx->cache.copy_type.len)
          + ctx->cache.copy_size;

    value = ngx_pnalloc(r->pool, len + sizeof("llm:") + NGX_LLM_KEY_HEX
                                 + NGX_TIME_T_LEN + 8);
    if (value == NULL) {
        return;
    }

    p = ngx_llm_entry_write_header(value, ctx->stream, model->data,
                                   model->len, ctx->cache.copy_type.data,
                                   ctx->cache.copy_type.len);

    for (cl = ctx->cache.copy; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    if (!ngx_llm_entry_complete(value + (len - ctx->cache.copy_size),
                                ctx->cache.copy_size, ctx->stream,
                                ngx_llm_dialect_is_openai(ctx->dialect)))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm router: incomplete stream not cached");
        return;
    }

    key = p;
    ttl = ngx_sprintf(key, "llm:%*s", (size_t) NGX_LLM_KEY_HEX,
                      ctx->cache.key);

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (char *) key;
    argvlen[1] = ttl - key;
    argv[2] = (char *) value;
    argvlen[2] = len;
    argv[3] = "EX";
    argvlen[3] = 2;
    argv[4] = (char *) ttl;
    argvlen[4] = ngx_sprintf(ttl, "%T", llcf->cache_ttl) - ttl;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: cache SET, %uz bytes for %T s", len,
                   llcf->cache_ttl);

    if (ngx_http_llm_redis_send(5, argv, argvlen, ngx_http_llm_cache_stored,
                                NULL)
        != NULL)
    {
        ctx->cache.stored = 1;
        (void) ngx_atomic_fetch_add(&ctx->lmcf->sh->cache_stores, 1);

        if (ctx->cache.sig != NULL) {
            ngx_http_llm_similar_add(ctx->lmcf->similar_zone,
                                     ctx->cache.part, ctx->cache.sig,
                                     ctx->cache.key);
        }
    }

    ngx_http_llm_cache_unlock(ctx);
}


static void
ngx_http_llm_cache_unlock(ngx_http_llm_ctx_t *ctx)
{
    u_char      key[sizeof("llm:lock:") + NGX_LLM_KEY_HEX];
    const char *argv[2];
    size_t      argvlen[2];

    if (!ctx->cache.leader) {
        return;
    }

    ctx->cache.leader = 0;

    argv[0] = "DEL";
    argvlen[0] = 3;
    argv[1] = (char *) key;
    argvlen[1] = ngx_sprintf(key, "llm:lock:%*s", (size_t) NGX_LLM_KEY_HEX,
                             ctx->cache.key) - key;

    (void) ngx_http_llm_redis_send(2, argv, argvlen,
                                   ngx_http_llm_cache_ignore, NULL);
}


/* a refused store (maxmemory with noeviction, say) is logged once */

static void
ngx_http_llm_cache_stored(void *data, redisReply *reply)
{
    static ngx_uint_t  refusing;

    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        if (!refusing) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "llm router: redis refused to store an answer: "
                          "%*s; answers are not cached until it accepts",
                          (size_t) ngx_min(reply->len, 200), reply->str);
            refusing = 1;
        }

        return;
    }

    if (refusing) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "llm router: redis stores answers again");
        refusing = 0;
    }
}


static void
ngx_http_llm_cache_ignore(void *data, redisReply *reply)
{
}


/* the request is being freed: nothing may call back into it */

static void
ngx_http_llm_cache_cleanup(void *data)
{
    ngx_http_llm_ctx_t  *ctx = data;

    if (ctx->cache.cmd != NULL) {
        ngx_http_llm_redis_forget(ctx->cache.cmd);
        ctx->cache.cmd = NULL;
    }

    if (ctx->cache.wait.timer_set) {
        ngx_del_timer(&ctx->cache.wait);
    }

    /* a holder that stored nothing lets the waiters go on */
    ngx_http_llm_cache_unlock(ctx);
}
