
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The request path, in the precontent phase (after access control): read
 * the body, classify, ask the cache, pick a tier from the live state,
 * rewrite the model, and on a failed tier (an error_page redirect back
 * into a router location) go on to the next tier.
 *
 * The phase handler acts on the request's state (ngx_http_llm_ctx.h):
 * a new request starts, a ready one is routed, a looked-up one acts on
 * the cache's verdict, a routed one goes on to the proxy, a redirected
 * one falls back, and a waiting one stays suspended.  Nothing else runs
 * the phases: the body handler and the cache wake the request, and the
 * phases bring it back here.
 */


#include <cjson/cJSON.h>

#include "ngx_http_llm_handler.h"
#include "ngx_http_llm_ctx.h"
#include "ngx_http_llm_state.h"
#include "ngx_http_llm_util.h"
#include "ngx_http_llm_cache.h"
#include "ngx_http_llm_ollama.h"
#include "ngx_http_llm_metrics.h"
#include "ngx_http_llm_budget.h"
#include "ngx_http_llm_share.h"
#include "ngx_http_llm_openai.h"
#include "ngx_llm_model.h"


/* a request is tried on this many tiers at most before a JSON error */
#define NGX_HTTP_LLM_MAX_ATTEMPTS  3

/*
 * A rewritten body up to this size is copied into one buffer (the
 * cheapest to send); a larger one goes as pieces of the client's body
 * around the new model, not copied
 */
#define NGX_HTTP_LLM_BODY_COPY     4096


/*
 * A body made of pieces: each copied into one buffer, or a buffer of its
 * own (the buffers and links still free); the length so far
 */

typedef struct {
    u_char                    *copy;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    ngx_chain_t              **last;
    size_t                     len;
} ngx_http_llm_pieces_t;


static ngx_int_t ngx_http_llm_start(ngx_http_request_t *r,
    ngx_http_llm_loc_conf_t *llcf);
static void ngx_http_llm_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_route(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_looked_up(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_send_to_tier(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_fallback(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_pinned(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_llm_request_t *req,
    ngx_llm_tier_id_t *pinned);
static ngx_llm_tier_id_t ngx_http_llm_override(ngx_http_request_t *r);
static const char *ngx_http_llm_unserved(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_policy_in(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_llm_policy_in_t *in,
    ngx_uint_t *probe);
static const char *ngx_http_llm_failed(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_pick(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_llm_tier_id_t pinned);
static ngx_int_t ngx_http_llm_rewrite(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_llm_request_t *req, ngx_str_t *body);
static ngx_int_t ngx_http_llm_set_body(ngx_http_request_t *r, char *data,
    size_t len, ngx_uint_t copy);
static ngx_int_t ngx_http_llm_set_body_model(ngx_http_request_t *r,
    ngx_llm_request_t *req, ngx_str_t *body, ngx_str_t *model);
static void ngx_http_llm_piece(ngx_http_llm_pieces_t *pc, u_char *start,
    u_char *end);


ngx_int_t
ngx_http_llm_handler(ngx_http_request_t *r)
{
    ngx_http_llm_ctx_t       *ctx;
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (!llcf->enable || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_llm_get_ctx(r);

    if (ctx == NULL) {
        return ngx_http_llm_start(r, llcf);
    }

    if (ctx->uri_changes != r->uri_changes) {
        /* back in a router location after an internal redirect */
        ctx->uri_changes = r->uri_changes;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm router: back in \"%V\", %s", &r->uri,
                       ngx_http_llm_state_name(ctx->state));

        if (ctx->state == NGX_HTTP_LLM_ROUTED
            || ctx->state == NGX_HTTP_LLM_FAILED_OVER)
        {
            return ngx_http_llm_fallback(r, ctx);
        }
    }

    switch (ctx->state) {

    case NGX_HTTP_LLM_READY:
        return ngx_http_llm_route(r, ctx);

    case NGX_HTTP_LLM_LOOKED_UP:
        return ngx_http_llm_looked_up(r, ctx);

    case NGX_HTTP_LLM_BUDGETED:
        return ngx_http_llm_send_to_tier(r, ctx);

    case NGX_HTTP_LLM_ROUTED:
    case NGX_HTTP_LLM_FAILED_OVER:
        return NGX_DECLINED;

    default:
        /*
         * Suspended (a write event on a kept-alive connection may run the
         * phases meanwhile), or answered here.
         */
        return NGX_DONE;
    }
}


static ngx_int_t
ngx_http_llm_start(ngx_http_request_t *r, ngx_http_llm_loc_conf_t *llcf)
{
    ngx_int_t             rc;
    ngx_llm_dialect_e     dialect;
    ngx_http_llm_kind_e   kind;
    ngx_http_llm_ctx_t   *ctx;

    dialect = (ngx_llm_dialect_e) llcf->dialect;

    if (llcf->dialect == NGX_HTTP_LLM_DIALECT_URI) {
        dialect = ngx_llm_dialect_from_path((char *) r->uri.data, r->uri.len);
    }

    kind = NGX_HTTP_LLM_KIND_PROMPT;

    if (dialect == NGX_LLM_DIALECT_NONE) {
        rc = ngx_http_llm_endpoint(r);

        if (rc != NGX_AGAIN) {
            return rc;
        }

        /* a body that names a model: read it */
        kind = NGX_HTTP_LLM_KIND_NAMED;
    }

    ctx = ngx_http_llm_ctx_create(r, dialect, kind);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method != NGX_HTTP_POST && kind == NGX_HTTP_LLM_KIND_PROMPT) {
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

    if (ctx->state == NGX_HTTP_LLM_NEW) {
        /* the rest is on its way: nginx raised the count for it */
        ngx_http_llm_set_state(ctx, NGX_HTTP_LLM_READING);
        return NGX_DONE;
    }

    return ngx_http_llm_route(r, ctx);
}


static void
ngx_http_llm_body_handler(ngx_http_request_t *r)
{
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_llm_get_ctx(r);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: body read, %O bytes",
                   r->headers_in.content_length_n);

    if (ctx->state == NGX_HTTP_LLM_READING) {
        ngx_http_llm_resume(r, ctx, NGX_HTTP_LLM_READY);
        return;
    }

    /* read at once: the phase handler goes on */
    ngx_http_llm_wake(r, ctx, NGX_HTTP_LLM_READY);
}


static ngx_int_t
ngx_http_llm_route(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_str_t                 body;
    ngx_llm_tier_id_t         pinned;
    ngx_llm_request_t        *req;
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (ctx->kind == NGX_HTTP_LLM_KIND_NAMED) {
        return ngx_http_llm_named(r, ctx);
    }

    rc = ngx_http_llm_body(r, &body);

    if (rc == NGX_DECLINED) {
        return ngx_http_llm_answer(r, ctx,
                                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                   "request body too large");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the text stays in the context: $llm_features explains it */
    ngx_llm_classify_begin(&ctx->text);

    /* parsed in place: the context keeps it (model may point into it) */
    req = &ctx->req;

    /* the tree lives in the request pool: no per-node malloc() and free() */
    ngx_http_llm_json_pool(r->pool);

    rc = ngx_llm_request_parse(req, ctx->dialect, (char *) body.data,
                               body.len, &ctx->text);

    ngx_http_llm_json_pool(NULL);
    req->borrowed = 1;

    if (rc != 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm router: bad %s request: %s",
                      ngx_llm_dialect_name(ctx->dialect), req->error);

        return ngx_http_llm_answer(r, ctx, NGX_HTTP_BAD_REQUEST, req->error);
    }

    ctx->hints.max_tokens = req->max_tokens;
    ctx->score = ngx_llm_classify_score(&ctx->text, &ctx->hints);
    ctx->cls = ngx_llm_classify_class(ctx->score, &llcf->classify);
    ctx->classified = 1;
    ctx->stream = req->stream ? 1 : 0;

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: %uz bytes, model \"%s\", %s, "
                   "score %.3f: %s", body.len,
                   req->model ? req->model : "", req->stream ? "stream" : "single",
                   ctx->score, ngx_llm_class_name(ctx->cls));

    /* what tiers serve matters once a tier says it (serves=) */
    ctx->needs = ctx->lmcf->capabilities
                 ? (req->tools ? NGX_LLM_SERVES_TOOLS : 0)
                   | (req->images ? NGX_LLM_SERVES_VISION : 0)
                 : 0;

    rc = ngx_http_llm_pinned(r, ctx, req, &pinned);

    if (rc != NGX_OK) {
        return rc;
    }

    if (req->load) {
        /* a load or unload: no prompt to score, nothing to cache */
        ctx->classified = 0;

        if (pinned == NGX_LLM_NO_TIER) {
            ctx->kind = req->unload ? NGX_HTTP_LLM_KIND_UNLOAD
                                   : NGX_HTTP_LLM_KIND_LOAD;
            return ngx_http_llm_load_all(r, ctx, req, &body);
        }

        ctx->kind = NGX_HTTP_LLM_KIND_PASS;
        ctx->tier = pinned;
        ctx->reason = NGX_LLM_REASON_PINNED;
        ngx_http_llm_set_state(ctx, NGX_HTTP_LLM_ROUTED);

        rc = ctx->rewrite ? ngx_http_llm_rewrite(r, ctx, req, &body)
                          : NGX_OK;

        return rc == NGX_OK ? NGX_DECLINED : rc;
    }

    /* kept until the rewrite: a cache lookup may come in between */
    ctx->pinned = pinned;
    ctx->body = body;

    if (llcf->cache && ctx->lmcf->redis != NULL) {
        rc = ngx_http_llm_cache_lookup(r, ctx);

        if (rc == NGX_DONE) {
            /* the reply wakes the request: ngx_http_llm_looked_up() */
            ngx_http_llm_suspend(r, ctx, NGX_HTTP_LLM_LOOKUP);
            return NGX_DONE;
        }

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_llm_send_to_tier(r, ctx);
}


/* the cache's verdict: a hit is replayed, anything else goes to a tier */

static ngx_int_t
ngx_http_llm_looked_up(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: cache %V",
                   ngx_http_llm_cache_status_name(ctx->cache.status));

    if (ctx->cache.status != NGX_HTTP_LLM_CACHE_HIT
        && ctx->cache.status != NGX_HTTP_LLM_CACHE_HIT_SIMILAR)
    {
        return ngx_http_llm_send_to_tier(r, ctx);
    }

    ctx->reason = NGX_LLM_REASON_CACHE;
    ngx_http_llm_set_state(ctx, NGX_HTTP_LLM_REPLAYING);

    ngx_http_finalize_request(r, ngx_http_llm_cache_replay(r, ctx));

    return NGX_DONE;
}


/* no answer from the cache: pick the tier and rewrite the body */

static ngx_int_t
ngx_http_llm_send_to_tier(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->lmcf->budgets && ctx->state != NGX_HTTP_LLM_BUDGETED) {
        rc = ngx_http_llm_budget_check(r, ctx);

        if (rc == NGX_DONE) {
            /* the reply wakes the request: NGX_HTTP_LLM_BUDGETED */
            ngx_http_llm_suspend(r, ctx, NGX_HTTP_LLM_BUDGETING);
            return NGX_DONE;
        }

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    rc = ngx_http_llm_pick(r, ctx, ctx->pinned);

    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_llm_rewrite(r, ctx, &ctx->req, &ctx->body);

    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_llm_set_state(ctx, NGX_HTTP_LLM_ROUTED);
    ctx->tried = 1u << ctx->tier;

    ngx_log_debug6(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: %s %s class:%s -> %V (%s), %V",
                   ngx_llm_dialect_name(ctx->dialect),
                   ctx->stream ? "stream" : "single",
                   ngx_llm_class_name(ctx->cls),
                   &ctx->lmcf->tiers[ctx->tier].name,
                   ngx_llm_reason_name(ctx->reason),
                   &ctx->lmcf->tiers[ctx->tier].upstream);

    return NGX_DECLINED;
}


/*
 * The tier we sent the request to failed before answering (connection
 * refused, timeout, 502/503/504) and error_page brought the request back
 * here: retry once on the next tier, or answer in JSON.
 */

static ngx_int_t
ngx_http_llm_fallback(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_uint_t                 probe[NGX_LLM_MAX_TIERS], attempts, i;
    ngx_llm_tier_id_t          failed, next;
    ngx_llm_request_t          req;
    ngx_llm_policy_in_t        in;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ctx->lmcf;
    failed = ctx->tier;

    if (r->upstream_states != NULL && r->upstream_states->nelts) {
        ctx->failed_status = ((ngx_http_upstream_state_t *)
                              r->upstream_states->elts)
                             [r->upstream_states->nelts - 1].status;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: %V tier failed (%ui)",
                   &lmcf->tiers[failed].name, ctx->failed_status);

    ngx_http_llm_tier_answered(lmcf, failed, ctx->failed_status,
                               r->connection->log);

    if (ctx->kind != NGX_HTTP_LLM_KIND_PROMPT) {
        /* passed on as it came: one clean JSON answer, no other tier */
        ngx_http_llm_tier_result(lmcf, failed, 0, 0, r->connection->log);

        return ngx_http_llm_answer(r, ctx,
                                   ctx->failed_status
                                   == NGX_HTTP_SERVICE_UNAVAILABLE
                                   ? NGX_HTTP_SERVICE_UNAVAILABLE
                                   : NGX_HTTP_BAD_GATEWAY,
                                   ngx_http_llm_failed(r, ctx));
    }

    ngx_http_llm_tier_result(lmcf, failed, 0, ctx->probing,
                             r->connection->log);
    ctx->probing = 0;
    (void) ngx_atomic_fetch_add(&lmcf->tiers[failed].sh->fallbacks, 1);

    ngx_http_llm_policy_in(r, ctx, &in, probe);

    ctx->tried |= 1u << failed;

    for (attempts = 0, i = 0; i < lmcf->ntiers; i++) {
        attempts += (ctx->tried >> i) & 1;
    }

    next = (attempts < NGX_HTTP_LLM_MAX_ATTEMPTS)
           ? ngx_llm_policy_next(&in, failed, ctx->tried) : NGX_LLM_NO_TIER;

    ngx_http_llm_metrics_fallback(lmcf, failed, next, ctx->failed_status);

    if (ctx->state == NGX_HTTP_LLM_FAILED_OVER && next == NGX_LLM_NO_TIER) {
        return ngx_http_llm_answer(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                   attempts == 2
                                   ? "no tier could answer: both failed"
                                   : "no tier could answer: every tier "
                                     "asked failed");
    }

    if (!ctx->rewrite) {
        /* a model only the failed tier's servers have */
        return ngx_http_llm_answer(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                   ngx_http_llm_failed(r, ctx));
    }

    if (next == NGX_LLM_NO_TIER || in.tiers[next].down
        || (probe[next] && !ngx_http_llm_probe_take(lmcf, next)))
    {
        return ngx_http_llm_answer(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "no tier can answer now, retry later");
    }

    ctx->probing = probe[next];

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "llm router: %V tier failed, retrying on %V",
                  &lmcf->tiers[failed].name, &lmcf->tiers[next].name);

    ngx_http_llm_inflight_add(lmcf, failed, -1);
    ngx_http_llm_inflight_add(lmcf, next, 1);

    ctx->counted = next;
    ctx->failed = failed;
    ctx->tier = next;
    ctx->reason = NGX_LLM_REASON_FALLBACK;

    ngx_http_llm_set_state(ctx, NGX_HTTP_LLM_FAILED_OVER);

    /*
     * Rewritten for the next tier from the client's own body: a JARVIS
     * request is translated anew (what gpt-oss was given, "think" say,
     * the small model would refuse).
     */

    ngx_http_llm_json_pool(r->pool);

    rc = ngx_llm_request_parse(&req, ctx->dialect, (char *) ctx->body.data,
                               ctx->body.len, NULL);

    ngx_http_llm_json_pool(NULL);
    req.borrowed = 1;

    if (rc != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_llm_rewrite(r, ctx, &req, &ctx->body);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: -> %V (fallback), %V, rewritten: %i",
                   &lmcf->tiers[next].name, &lmcf->tiers[next].upstream, rc);

    return rc == NGX_OK ? NGX_DECLINED : rc;
}


static ngx_int_t
ngx_http_llm_rewrite(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_llm_request_t *req, ngx_str_t *body)
{
    char                 *out;
    size_t                len;
    ngx_int_t             rc;
    const char           *error;
    ngx_http_llm_tier_t  *tier;

    tier = &ctx->lmcf->tiers[ctx->tier];
    ctx->openai = 0;

    if (tier->api == NGX_HTTP_LLM_API_OPENAI) {
        rc = ngx_http_llm_openai_rewrite(r, req, &tier->model, &out, &len,
                                         &error);

        if (rc == NGX_OK) {
            ctx->openai = 1;
            return ngx_http_llm_set_body(r, out, len, 0) == NGX_OK
                   ? NGX_OK : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "llm router: not sent to the %V tier: %s",
                          &tier->name, error);

            return ngx_http_llm_answer(r, ctx, NGX_HTTP_BAD_GATEWAY, error);
        }

        /* OpenAI's own dialects: the model rewritten, as for any tier */
    }

    if (!ctx->rewrite && req->dialect != NGX_LLM_DIALECT_JARVIS) {
        /* another model of the tier's servers: sent as the client named it */
        return NGX_OK;
    }

    if (req->dialect != NGX_LLM_DIALECT_JARVIS) {
        /* the client's bytes, the model's new */
        return ngx_http_llm_set_body_model(r, req, body, &tier->model)
               == NGX_OK ? NGX_OK : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_llm_request_rewrite(req, (char *) body->data, body->len,
                                  (char *) tier->model.data, &out);

    if (len == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_llm_set_body(r, out, len, 1);
    free(out);

    return rc == NGX_OK ? NGX_OK : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * The requested model: an alias (NGX_LLM_NO_TIER: the router decides), a
 * tier's configured model (pinned, and rewritten to the configured name),
 * another model one of the tiers' servers has (pinned, sent as named), or
 * unknown: Ollama's own 404.
 */

static ngx_int_t
ngx_http_llm_pinned(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_llm_request_t *req, ngx_llm_tier_id_t *pinned)
{
    size_t                     len;
    uint64_t                   h;
    ngx_str_t                 *name;
    ngx_uint_t                 i;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ctx->lmcf;
    *pinned = NGX_LLM_NO_TIER;
    ctx->rewrite = 1;

    if (req->model == NULL || req->model[0] == '\0') {
        return NGX_OK;
    }

    len = ngx_strlen(req->model);

    ctx->requested_model.data = ngx_pnalloc(r->pool, len);
    if (ctx->requested_model.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->requested_model.data, req->model, len);
    ctx->requested_model.len = len;

    /* names compare as Ollama compares them: GPT-OSS:20B is gpt-oss:20b */

    name = lmcf->auto_models->elts;

    for (i = 0; i < lmcf->auto_models->nelts; i++) {
        if ((name[i].len == len
             && ngx_strncmp(name[i].data, req->model, len) == 0)
            || ngx_llm_model_equal((char *) name[i].data, name[i].len,
                                   req->model, len))
        {
            return NGX_OK;
        }
    }

    for (i = 0; i < lmcf->ntiers; i++) {
        if (ngx_llm_model_equal((char *) lmcf->tiers[i].model.data,
                                lmcf->tiers[i].model.len, req->model, len))
        {
            *pinned = (ngx_llm_tier_id_t) i;
            return NGX_OK;
        }
    }

    h = ngx_llm_model_hash(req->model, len);

    for (i = 0; h != 0 && i < lmcf->ntiers; i++) {
        if (ngx_http_llm_tier_has_model(lmcf, (ngx_llm_tier_id_t) i, h)) {
            *pinned = (ngx_llm_tier_id_t) i;
            ctx->rewrite = 0;
            return NGX_OK;
        }
    }

    return ngx_http_llm_answer(r, ctx, NGX_HTTP_NOT_FOUND,
                               ngx_http_llm_not_found(r,
                                                      &ctx->requested_model));
}


/* why a passed request got no answer */

static const char *
ngx_http_llm_failed(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char               *msg, *p;
    ngx_http_llm_tier_t  *tier;

    tier = &ctx->lmcf->tiers[ctx->tier];

    msg = ngx_pnalloc(r->pool, tier->name.len + 80);
    if (msg == NULL) {
        return "the tier could not answer";
    }

    if (ctx->failed_status) {
        p = ngx_sprintf(msg, "the %V tier could not answer (%ui)",
                        &tier->name, ctx->failed_status);

    } else {
        p = ngx_sprintf(msg, "the %V tier could not answer", &tier->name);
    }

    *p = '\0';

    return (char *) msg;
}


/* the tier forced by the override header, where it is enabled */

static ngx_llm_tier_id_t
ngx_http_llm_override(ngx_http_request_t *r)
{
    ngx_uint_t                 i, t;
    ngx_list_part_t           *part;
    ngx_table_elt_t           *h;
    ngx_http_llm_loc_conf_t   *llcf;
    ngx_http_llm_main_conf_t  *lmcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (llcf->override_header.len == 0) {
        return NGX_LLM_NO_TIER;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_LLM_NO_TIER;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != llcf->override_header.len
            || ngx_strncasecmp(h[i].key.data, llcf->override_header.data,
                               h[i].key.len) != 0)
        {
            continue;
        }

        lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);

        for (t = 0; t < lmcf->ntiers; t++) {
            if (h[i].value.len == lmcf->tiers[t].name.len
                && ngx_strncasecmp(h[i].value.data, lmcf->tiers[t].name.data,
                                   h[i].value.len) == 0)
            {
                return (ngx_llm_tier_id_t) t;
            }
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm router: ignored override \"%V: %V\"",
                      &h[i].key, &h[i].value);

        return NGX_LLM_NO_TIER;
    }
}


/* why no tier could serve the request */

static const char *
ngx_http_llm_unserved(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    return (ctx->needs & NGX_LLM_SERVES_VISION)
           ? "no tier can serve this request: it has images and no tier "
             "serves vision"
           : (ctx->needs & NGX_LLM_SERVES_TOOLS)
           ? "no tier can serve this request: it has tools and no tier "
             "serves tools"
           : "no tier can serve this request";
}


/* the policy's view of the tiers: live counts, health, residency, VRAM */

static void
ngx_http_llm_policy_in(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_llm_policy_in_t *in, ngx_uint_t *probe)
{
    ngx_uint_t                 i;
    ngx_atomic_uint_t          loaded, others;
    ngx_http_llm_tier_t       *tier;
    ngx_llm_policy_tier_t     *t;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ctx->lmcf;

    /*
     * what is not filled here keeps the policy's zero defaults: each tier
     * serves the default set, is local, has budget left; the request
     * needs chat
     */

    ngx_memzero(in, sizeof(ngx_llm_policy_in_t));

    in->cls = ctx->cls;
    in->score = ctx->score;
    in->pinned = NGX_LLM_NO_TIER;
    in->override = NGX_LLM_NO_TIER;
    in->ntiers = lmcf->ntiers;
    in->needs = ctx->needs;

    for (i = 0; i < lmcf->ntiers; i++) {
        tier = &lmcf->tiers[i];
        t = &in->tiers[i];

        loaded = tier->sh->loaded;

        /*
         * with llm_router_share, the other routers' too, and the slots
         * their grants hold
         */
        others = tier->sh->others;
        t->inflight = tier->sh->inflight + others;
        t->reserved = ngx_http_llm_share_reserved(lmcf, tier, others);
        t->max_inflight = tier->max_inflight;
        t->queue = tier->queue;
        t->rank = tier->rank;
        t->serves = tier->serves;
        t->overflow = tier->overflow;
        t->budget_spent = (ctx->spent >> i) & 1;
        t->down = ngx_http_llm_tier_down(lmcf, (ngx_llm_tier_id_t) i,
                                         &probe[i]);
        t->loaded = loaded == NGX_HTTP_LLM_YES ? 1
                    : loaded == NGX_HTTP_LLM_NO ? 0 : -1;
        t->vram = ngx_http_llm_gpu_vram(lmcf, tier->gpu);
    }
}


static ngx_int_t
ngx_http_llm_pick(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_llm_tier_id_t pinned)
{
    ngx_uint_t                 probe[NGX_LLM_MAX_TIERS], tries, free_choice, i;
    ngx_atomic_uint_t          n, others, reserved;
    ngx_llm_tier_id_t          tier;
    ngx_llm_reason_e           reason;
    ngx_llm_policy_in_t        in;
    ngx_http_llm_tier_sh_t    *ts;
    ngx_http_llm_loc_conf_t   *llcf;
    ngx_http_llm_main_conf_t  *lmcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);
    lmcf = ctx->lmcf;

    ngx_http_llm_policy_in(r, ctx, &in, probe);

    in.pinned = pinned;
    in.override = ngx_http_llm_override(r);

    for (tries = 0; /* void */ ; tries++) {

        tier = ngx_llm_policy_pick(&in, &llcf->policy, &reason);

        if (tries == 0 && lmcf->share_interval) {
            ngx_http_llm_share_wanted(lmcf, &in, &llcf->policy, tier);
        }

        if (tier == NGX_LLM_NO_TIER) {

            /* the only tiers up are those whose budget is spent */

            for (i = 0;
                 ctx->spent && reason != NGX_LLM_REASON_CAPABILITY
                 && i < lmcf->ntiers;
                 i++)
            {
                if (((ctx->spent >> i) & 1) && !in.tiers[i].down) {
                    reason = NGX_LLM_REASON_BUDGET;
                }
            }

            ctx->reason = reason;

            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "llm router: no tier (%s)",
                           ngx_llm_reason_name(reason));

            if (reason == NGX_LLM_REASON_CAPABILITY) {
                return ngx_http_llm_answer(r, ctx, NGX_HTTP_BAD_REQUEST,
                                           ngx_http_llm_unserved(r, ctx));
            }

            if (reason == NGX_LLM_REASON_BUDGET) {
                return ngx_http_llm_answer(r, ctx,
                                           NGX_HTTP_TOO_MANY_REQUESTS,
                                           "token budget spent for every "
                                           "tier that can answer, retry in "
                                           "the next period");
            }

            return ngx_http_llm_answer(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       reason == NGX_LLM_REASON_DOWN
                                       ? "no tier can answer now, "
                                         "retry later"
                                       : "every tier is busy, retry later");
        }

        free_choice = (reason != NGX_LLM_REASON_PINNED
                       && reason != NGX_LLM_REASON_OVERRIDE
                       && reason != NGX_LLM_REASON_QUEUE
                       && tries < 4);

        /* a half-open breaker lets one request through: the probe */

        if (probe[tier] && free_choice) {
            if (!ngx_http_llm_probe_take(lmcf, tier)) {
                in.tiers[tier].down = 1;
                continue;
            }

            ctx->probing = 1;
        }

        /*
         * Reserve the slot, then check: two workers that read the same
         * count cannot both take the last free slot.
         */

        ts = lmcf->tiers[tier].sh;
        others = ts->others;

        n = ngx_atomic_fetch_add(&ts->inflight, 1) + 1;
        reserved = ngx_http_llm_share_reserved(lmcf, &lmcf->tiers[tier],
                                               others);

        if (n + others + reserved
            > lmcf->tiers[tier].max_inflight + lmcf->tiers[tier].queue
            && free_choice)
        {
            (void) ngx_atomic_fetch_add(&ts->inflight, -1);
            in.tiers[tier].inflight = n - 1 + others;
            in.tiers[tier].reserved = reserved;

            if (lmcf->share_interval) {
                /* turned away by this router's grant: its demand */
                (void) ngx_atomic_fetch_add(&ts->wanted, 1);
            }

            if (ctx->probing) {
                ctx->probing = 0;
                ts->probing = 0;
            }

            continue;
        }

        break;
    }

    ctx->tier = tier;
    ctx->reason = reason;
    ctx->counted = tier;

    (void) ngx_atomic_fetch_add(&lmcf->tiers[tier].sh->requests, 1);

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_set_body(ngx_http_request_t *r, char *data, size_t len,
    ngx_uint_t copy)
{
    u_char       *p;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    p = (u_char *) data;

    if (copy) {
        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p, data, len);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = p;
    b->last = p + len;
    b->start = p;
    b->end = p + len;
    b->memory = 1;
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


/*
 * The body to send with the tier's model in place of the requested one
 * (ngx_llm_request_rewrite_into()'s bytes: a tier's model name needs no
 * JSON escape, llm_router_tier checks it).  Up to NGX_HTTP_LLM_BODY_COPY
 * it is copied into one buffer; beyond, it goes as buffers: the client's
 * body where it lies, the model's JSON between them, nothing copied.
 */

static void
ngx_http_llm_piece(ngx_http_llm_pieces_t *pc, u_char *start, u_char *end)
{
    ngx_buf_t  *b;

    if (end == start) {
        return;
    }

    pc->len += end - start;

    if (pc->copy != NULL) {
        pc->copy = ngx_cpymem(pc->copy, start, end - start);
        return;
    }

    b = pc->b++;

    b->pos = start;
    b->last = end;
    b->start = start;
    b->end = end;
    b->memory = 1;

    pc->cl->buf = b;
    *pc->last = pc->cl;
    pc->last = &pc->cl->next;
    pc->cl++;
}


static ngx_int_t
ngx_http_llm_set_body_model(ngx_http_request_t *r, ngx_llm_request_t *req,
    ngx_str_t *body, ngx_str_t *model)
{
    u_char                  *p, *m, *m_end, *out;
    size_t                   mlen;
    ngx_uint_t               i, n;
    ngx_http_llm_pieces_t    pc;
    ngx_llm_request_cuts_t   cuts;

    ngx_llm_request_cuts(req, (char *) body->data, body->len, &cuts);

    mlen = sizeof("\"model\":\"\",") - 1 + model->len;

    /* one buffer, or one for each piece and one for the model */

    n = (body->len <= NGX_HTTP_LLM_BODY_COPY) ? 1 : 2 * cuts.n - 1;

    p = ngx_palloc(r->pool, n * (sizeof(ngx_buf_t) + sizeof(ngx_chain_t))
                            + mlen
                            + (n == 1 ? body->len + (cuts.n - 1) * mlen : 0));
    if (p == NULL) {
        return NGX_ERROR;
    }

    pc.b = (ngx_buf_t *) p;
    pc.cl = (ngx_chain_t *) (p + n * sizeof(ngx_buf_t));
    pc.last = &r->request_body->bufs;
    pc.len = 0;

    ngx_memzero(pc.b, n * sizeof(ngx_buf_t));

    m = (u_char *) (pc.cl + n);
    out = m + mlen;
    pc.copy = (n == 1) ? out : NULL;

    /* the model's JSON: a member, or a value */

    m_end = cuts.member ? ngx_cpymem(m, "\"model\":", 8) : m;
    *m_end++ = '"';
    m_end = ngx_cpymem(m_end, model->data, model->len);
    *m_end++ = '"';

    if (cuts.comma) {
        *m_end++ = ',';
    }

    for (i = 0; i < cuts.n; i++) {

        if (i > 0) {
            ngx_http_llm_piece(&pc, m, m_end);
        }

        ngx_http_llm_piece(&pc, body->data + cuts.start[i],
                           body->data + cuts.end[i]);
    }

    if (pc.copy != NULL) {
        /* the copy, as the one buffer */
        p = pc.copy;
        pc.copy = NULL;
        pc.len = 0;
        ngx_http_llm_piece(&pc, out, p);
    }

    *pc.last = NULL;
    (pc.b - 1)->last_buf = 1;

    r->headers_in.content_length_n = pc.len;

    return NGX_OK;
}


