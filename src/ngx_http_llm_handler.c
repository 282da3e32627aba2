
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The request path: read the body, classify, pick a tier from the live
 * state, rewrite the model, count the request in flight until it ends,
 * and on a failed tier (an error_page redirect back into a router
 * location) retry once on the other tier.  Runs in the precontent phase,
 * after access control.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <cjson/cJSON.h>

#include "ngx_http_llm_state.h"
#include "ngx_llm_model.h"


static void ngx_http_llm_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_route(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_fallback(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_pinned(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_llm_request_t *req,
    ngx_llm_tier_id_t *pinned);
static ngx_llm_tier_id_t ngx_http_llm_override(ngx_http_request_t *r);
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
static void ngx_http_llm_cleanup(void *data);
static ngx_int_t ngx_http_llm_answer_json(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *body);


static ngx_str_t  ngx_http_llm_reasons[NGX_LLM_REASON_COUNT];


ngx_str_t *
ngx_http_llm_reason_str(ngx_llm_reason_e reason)
{
    return &ngx_http_llm_reasons[(unsigned) reason < NGX_LLM_REASON_COUNT
                                 ? reason : NGX_LLM_REASON_NONE];
}


ngx_int_t
ngx_http_llm_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_uint_t                 dialect, kind;
    ngx_http_llm_ctx_t        *ctx;
    ngx_http_llm_loc_conf_t   *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (!llcf->enable || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_llm_get_ctx(r);

    if (ctx != NULL) {
        if (ctx->in_location) {
            /* phases run again in the same location */

            if (ctx->routed) {
                return NGX_DECLINED;
            }

            /*
             * Still reading the body or waiting for Redis: a write event
             * on a kept-alive connection may run the phases meanwhile.
             */

            if (!ctx->body_ready || ctx->waiting_body || ctx->lookup
                || ctx->answered)
            {
                return NGX_DONE;
            }

            return ngx_http_llm_route(r, ctx);
        }

        /* back in a router location after an internal redirect */
        ctx->in_location = 1;

        if (ctx->routed) {
            return ngx_http_llm_fallback(r, ctx);
        }

        if (ctx->dialect != NGX_LLM_DIALECT_NONE && ctx->body_ready) {
            return ngx_http_llm_route(r, ctx);
        }

        return NGX_DECLINED;
    }

    dialect = llcf->dialect;

    if (dialect == NGX_HTTP_LLM_DIALECT_URI) {
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

    ctx = ngx_http_llm_ctx_create(r, dialect);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->kind = kind;

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

    if (rc == NGX_AGAIN || !ctx->body_ready) {
        ctx->waiting_body = 1;
        return NGX_DONE;
    }

    return ngx_http_llm_route(r, ctx);
}


/* the request's context, kept across internal redirects by its cleanup */

ngx_http_llm_ctx_t *
ngx_http_llm_ctx_create(ngx_http_request_t *r, ngx_uint_t dialect)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    /* the cleanup ends the in-flight count and keeps ctx across redirects */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    ctx->request = r;
    ctx->lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);
    ctx->dialect = dialect;
    ctx->tier = NGX_LLM_NO_TIER;
    ctx->counted = NGX_LLM_NO_TIER;
    ctx->fallback_from = NGX_LLM_NO_TIER;
    ctx->pinned = NGX_LLM_NO_TIER;
    ctx->reason = NGX_LLM_REASON_NONE;
    ctx->in_location = 1;

    cln->handler = ngx_http_llm_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_llm_router_module);

    return ctx;
}


/*
 * The module context, also after an internal redirect, which clears
 * r->ctx: the request's pool cleanup still points at it.
 */

ngx_http_llm_ctx_t *
ngx_http_llm_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_llm_router_module);

    if (ctx != NULL) {
        return ctx;
    }

    for (cln = r->main->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_llm_cleanup) {
            ctx = cln->data;
            ctx->in_location = 0;
            ngx_http_set_ctx(r->main, ctx, ngx_http_llm_router_module);
            return ctx;
        }
    }

    return NULL;
}


static void
ngx_http_llm_body_handler(ngx_http_request_t *r)
{
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_llm_get_ctx(r);

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
    ngx_int_t                  rc;
    ngx_str_t                  body;
    ngx_llm_tier_id_t          pinned;
    ngx_llm_request_t          req;
    ngx_http_llm_loc_conf_t   *llcf;
    ngx_llm_classify_state_t   st;
    ngx_llm_classify_hints_t   hints;
    ngx_llm_classify_result_t  res;

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

    ngx_llm_classify_begin(&st);

    /* the tree lives in the request pool: no per-node malloc() and free() */
    ngx_http_llm_json_pool(r->pool);

    rc = ngx_llm_request_parse(&req, ctx->dialect, (char *) body.data,
                               body.len, &st);

    ngx_http_llm_json_pool(NULL);
    req.borrowed = 1;

    if (rc != 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm router: bad %s request: %s",
                      ngx_llm_dialect_name(ctx->dialect), req.error);

        rc = ngx_http_llm_answer(r, ctx, NGX_HTTP_BAD_REQUEST, req.error);
        ngx_llm_request_free(&req);
        return rc;
    }

    hints.max_tokens = req.max_tokens;
    ngx_llm_classify_end(&st, &hints, &llcf->classify, &res);

    ctx->score = res.score;
    ctx->cls = res.cls;
    ctx->classified = 1;
    ctx->stream = req.stream ? 1 : 0;
    ctx->result = res;

    rc = ngx_http_llm_pinned(r, ctx, &req, &pinned);

    if (rc != NGX_OK) {
        ngx_llm_request_free(&req);
        return rc;
    }

    if (req.load) {
        /* a load or unload: no prompt to score, nothing to cache */
        ctx->classified = 0;
        ctx->unload = req.unload;

        if (pinned == NGX_LLM_NO_TIER) {
            rc = ngx_http_llm_load_all(r, ctx, &req, &body);
            ngx_llm_request_free(&req);
            return rc;
        }

        ctx->kind = NGX_HTTP_LLM_KIND_PASS;
        ctx->tier = pinned;
        ctx->reason = NGX_LLM_REASON_PINNED;
        ctx->routed = 1;

        rc = ctx->rewrite ? ngx_http_llm_rewrite(r, ctx, &req, &body)
                          : NGX_OK;
        ngx_llm_request_free(&req);

        return rc == NGX_OK ? NGX_DECLINED : rc;
    }

    /* kept until the rewrite: a cache lookup may come in between */
    ctx->pinned = pinned;
    ctx->req = req;
    ctx->req_held = 1;
    ctx->body = body;

    if (llcf->cache && ctx->lmcf->redis != NULL) {
        rc = ngx_http_llm_cache_lookup(r, ctx);

        if (rc == NGX_DONE) {
            /* the Redis callback resumes the phases */
            ctx->lookup = 1;
            r->write_event_handler = ngx_http_request_empty_handler;
            return NGX_DONE;
        }

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_llm_route_continue(r, ctx);
}


/* after the cache said no: pick the tier and rewrite the body */

ngx_int_t
ngx_http_llm_route_continue(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t          rc;
    ngx_llm_request_t  req;

    /*
     * The parsed request is taken out of ctx first: an answer given here
     * (a 503 when no tier can take it) may free the request, ctx with it.
     * Its tree is in the request's pool: freeing it only forgets it.
     */

    req = ctx->req;
    ctx->req_held = 0;

    rc = ngx_http_llm_pick(r, ctx, ctx->pinned);

    if (rc != NGX_OK) {
        ngx_llm_request_free(&req);
        return rc;
    }

    rc = ngx_http_llm_rewrite(r, ctx, &req, &ctx->body);

    ngx_llm_request_free(&req);

    if (rc != NGX_OK) {
        return rc;
    }

    ctx->routed = 1;

    ngx_log_debug6(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: %s %s score:%.3f class:%s -> %V (%s)",
                   ngx_llm_dialect_name(ctx->dialect),
                   ctx->stream ? "stream" : "single", ctx->score,
                   ngx_llm_class_name(ctx->cls),
                   &ctx->lmcf->tiers[ctx->tier].name,
                   ngx_llm_reason_name(ctx->reason));

    return NGX_DECLINED;
}


/*
 * The tier we sent the request to failed before answering (connection
 * refused, timeout, 502/503/504) and error_page brought the request back
 * here: retry once on the other tier, or answer in JSON.
 */

static ngx_int_t
ngx_http_llm_fallback(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_str_t                  body;
    ngx_uint_t                 probe[NGX_LLM_MAX_TIERS];
    ngx_llm_tier_id_t          failed, other;
    ngx_llm_request_t          req;
    ngx_llm_policy_in_t        in;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ctx->lmcf;
    failed = ctx->tier;

    if (r->upstream_states != NULL && r->upstream_states->nelts) {
        ctx->fallback_status = ((ngx_http_upstream_state_t *)
                                r->upstream_states->elts)
                               [r->upstream_states->nelts - 1].status;
    }

    ngx_http_llm_tier_answered(lmcf, failed, ctx->fallback_status,
                               r->connection->log);

    if (ctx->kind != NGX_HTTP_LLM_KIND_PROMPT) {
        /* passed on as it came: one clean JSON answer, no other tier */
        ngx_http_llm_tier_result(lmcf, failed, 0, 0, r->connection->log);
        ctx->outcome_done = 1;

        return ngx_http_llm_answer(r, ctx,
                                   ctx->fallback_status
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

    other = ngx_llm_policy_next(&in, failed, 0);

    ngx_http_llm_metrics_fallback(lmcf, failed, other, ctx->fallback_status);

    if (ctx->fallback_from != NGX_LLM_NO_TIER) {
        ctx->outcome_done = 1;
        return ngx_http_llm_answer(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                   "no tier could answer: both failed");
    }

    if (!ctx->rewrite) {
        /* a model only the failed tier's servers have */
        ctx->outcome_done = 1;
        return ngx_http_llm_answer(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                   ngx_http_llm_failed(r, ctx));
    }

    if (other == NGX_LLM_NO_TIER || in.tiers[other].down
        || (probe[other] && !ngx_http_llm_probe_take(lmcf, other)))
    {
        ctx->outcome_done = 1;
        return ngx_http_llm_answer(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "no tier can answer now, retry later");
    }

    ctx->probing = probe[other];

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "llm router: %V tier failed, retrying on %V",
                  &lmcf->tiers[failed].name, &lmcf->tiers[other].name);

    ngx_http_llm_inflight_add(lmcf, failed, -1);
    ngx_http_llm_inflight_add(lmcf, other, 1);

    ctx->counted = other;
    ctx->fallback_from = failed;
    ctx->tier = other;
    ctx->reason = NGX_LLM_REASON_FALLBACK;

    /*
     * Rewritten for the other tier from the client's own body: a JARVIS
     * request is translated anew (what gpt-oss was given, "think" say,
     * the small model would refuse).
     */

    body = ctx->body;

    if (ngx_llm_request_parse(&req, ctx->dialect, (char *) body.data,
                              body.len, NULL)
        != 0)
    {
        ngx_llm_request_free(&req);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_llm_rewrite(r, ctx, &req, &body);

    ngx_llm_request_free(&req);

    return rc == NGX_OK ? NGX_DECLINED : rc;
}


void *
ngx_http_llm_pool_alloc(void *data, size_t size)
{
    return ngx_pnalloc((ngx_pool_t *) data, size);
}


static ngx_int_t
ngx_http_llm_rewrite(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_llm_request_t *req, ngx_str_t *body)
{
    char                 *out;
    size_t                len;
    ngx_int_t             rc;
    ngx_http_llm_tier_t  *tier;

    tier = &ctx->lmcf->tiers[ctx->tier];

    if (!ctx->rewrite && req->dialect != NGX_LLM_DIALECT_JARVIS) {
        /* another model of the tier's servers: sent as the client named it */
        return NGX_OK;
    }

    if (req->dialect != NGX_LLM_DIALECT_JARVIS) {
        /* written straight into the request pool */
        len = ngx_llm_request_rewrite_into(req, (char *) body->data,
                                           body->len,
                                           (char *) tier->model.data,
                                           ngx_http_llm_pool_alloc, r->pool,
                                           &out);
        if (len == 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_llm_set_body(r, out, len, 0) == NGX_OK
               ? NGX_OK : NGX_HTTP_INTERNAL_SERVER_ERROR;
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
        if (ngx_llm_model_equal((char *) name[i].data, name[i].len,
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

    if (ctx->fallback_status) {
        p = ngx_sprintf(msg, "the %V tier could not answer (%ui)",
                        &tier->name, ctx->fallback_status);

    } else {
        p = ngx_sprintf(msg, "the %V tier could not answer", &tier->name);
    }

    *p = '\0';

    return (char *) msg;
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


/* the policy's view of the tiers: live counts, health, residency, VRAM */

static void
ngx_http_llm_policy_in(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_llm_policy_in_t *in, ngx_uint_t *probe)
{
    ngx_uint_t                 i;
    ngx_atomic_uint_t          loaded;
    ngx_http_llm_tier_t       *tier;
    ngx_llm_policy_tier_t     *t;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ctx->lmcf;

    in->cls = ctx->cls;
    in->score = ctx->score;
    in->pinned = NGX_LLM_NO_TIER;
    in->override = NGX_LLM_NO_TIER;
    in->ntiers = lmcf->ntiers;

    for (i = 0; i < lmcf->ntiers; i++) {
        tier = &lmcf->tiers[i];
        t = &in->tiers[i];

        loaded = tier->sh->loaded;

        t->inflight = tier->sh->inflight;
        t->max_inflight = tier->max_inflight;
        t->queue = tier->queue;
        t->rank = tier->rank;
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
    ngx_uint_t                 probe[NGX_LLM_MAX_TIERS], tries, free_choice;
    ngx_atomic_uint_t          n;
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

        if (tier == NGX_LLM_NO_TIER) {
            ctx->reason = reason;

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

        n = ngx_atomic_fetch_add(&ts->inflight, 1) + 1;

        if (n > lmcf->tiers[tier].max_inflight + lmcf->tiers[tier].queue
            && free_choice)
        {
            (void) ngx_atomic_fetch_add(&ts->inflight, -1);
            in.tiers[tier].inflight = n - 1;

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
 * Runs once when the request is freed, however it ended: the request
 * leaves the in-flight count, and the tier's answer feeds its breaker.
 */

static void
ngx_http_llm_cleanup(void *data)
{
    ngx_http_llm_ctx_t  *ctx = data;

    ngx_uint_t            status;
    ngx_llm_tier_id_t     tier;
    ngx_http_request_t   *r;

    r = ctx->request;

    ngx_http_llm_cache_cleanup(ctx);

    if (ctx->kind == NGX_HTTP_LLM_KIND_PROMPT) {
        ngx_http_llm_metrics_request(ctx);
    }

    if (ctx->counted == NGX_LLM_NO_TIER) {
        return;
    }

    tier = ctx->counted;
    ctx->counted = NGX_LLM_NO_TIER;

    ngx_http_llm_inflight_add(ctx->lmcf, tier, -1);

    if (ctx->outcome_done) {
        return;
    }

    status = r->headers_out.status;

    if (r->upstream_states != NULL && r->upstream_states->nelts) {
        status = ((ngx_http_upstream_state_t *) r->upstream_states->elts)
                 [r->upstream_states->nelts - 1].status;

        ngx_http_llm_tier_answered(ctx->lmcf, tier, status, r->connection->log);

        if (status == 0) {
            status = r->headers_out.status;
        }
    }

    if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR
        || ngx_http_llm_refusal(status))
    {
        ngx_http_llm_tier_result(ctx->lmcf, tier, 0, ctx->probing,
                                 r->connection->log);

    } else if (status >= NGX_HTTP_OK && status != NGX_HTTP_CLIENT_CLOSED_REQUEST
               && !ctx->answered)
    {
        ngx_http_llm_tier_result(ctx->lmcf, tier, 1, ctx->probing,
                                 r->connection->log);

    } else if (ctx->probing) {
        /* no verdict: let another request probe */
        ctx->lmcf->tiers[tier].sh->probing = 0;
    }
}


ngx_str_t *
ngx_http_llm_features(ngx_http_llm_ctx_t *ctx, ngx_str_t *s)
{
    if (!ctx->features_done) {
        ctx->features_len = ngx_llm_classify_explain(&ctx->result,
                                                     (char *) ctx->features,
                                                     sizeof(ctx->features));
        ctx->features_done = 1;
    }

    s->data = ctx->features;
    s->len = ctx->features_len;

    return s;
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


void
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


void
ngx_http_llm_handler_init(void)
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

    ctx->answered = 1;

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


