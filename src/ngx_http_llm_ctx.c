
/*
 * Copyright (C) ngx_llm_router authors
 *
 * A request's context: created once, found again after an internal
 * redirect (which clears r->ctx) through its pool cleanup, moved from
 * state to state with a debug line each time, suspended and woken with
 * the request's count kept right, and ended by that cleanup: the request
 * leaves its tier's in-flight count, the tier's answer feeds its breaker,
 * and the request is recorded in the metrics.
 */


#include "ngx_http_llm_ctx.h"
#include "ngx_http_llm_state.h"
#include "ngx_http_llm_metrics.h"


#define NGX_HTTP_LLM_FEATURES_LEN  96


static void ngx_http_llm_ctx_cleanup(void *data);


static const char  *ngx_http_llm_states[] = {
    "new",
    "reading body",
    "ready",
    "looking up the cache",
    "waiting for another request's answer",
    "looked up",
    "checking budgets",
    "budgets known",
    "routed",
    "failed over",
    "replaying from the cache",
    "asking every server",
    "answered"
};


ngx_http_llm_ctx_t *
ngx_http_llm_ctx_create(ngx_http_request_t *r, ngx_llm_dialect_e dialect,
    ngx_http_llm_kind_e kind)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    ctx->state = NGX_HTTP_LLM_NEW;
    ctx->request = r;
    ctx->lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);
    ctx->uri_changes = r->uri_changes;
    ctx->dialect = dialect;
    ctx->kind = kind;
    ctx->tier = NGX_LLM_NO_TIER;
    ctx->pinned = NGX_LLM_NO_TIER;
    ctx->counted = NGX_LLM_NO_TIER;
    ctx->failed = NGX_LLM_NO_TIER;
    ctx->reason = NGX_LLM_REASON_NONE;

    cln->handler = ngx_http_llm_ctx_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_llm_router_module);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: \"%V\" %s, %s", &r->uri,
                   ngx_llm_dialect_name(dialect),
                   kind == NGX_HTTP_LLM_KIND_PROMPT ? "a prompt"
                   : kind == NGX_HTTP_LLM_KIND_NAMED ? "names a model"
                   : kind == NGX_HTTP_LLM_KIND_LIST ? "a list"
                   : "passed as it came");

    return ctx;
}


/*
 * The context, also after an internal redirect, which clears r->ctx: the
 * request's pool cleanup still points at it.  Finding it changes nothing.
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
        if (cln->handler == ngx_http_llm_ctx_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r->main, ctx, ngx_http_llm_router_module);
            return ctx;
        }
    }

    return NULL;
}


/* the request's tier, else the default one: what $llm_upstream names */

ngx_llm_tier_id_t
ngx_http_llm_tier_of(ngx_http_request_t *r)
{
    ngx_http_llm_ctx_t        *ctx;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);
    ctx = ngx_http_llm_get_ctx(r);

    return (ctx != NULL && ctx->tier != NGX_LLM_NO_TIER) ? ctx->tier
                                                         : lmcf->default_tier;
}


void
ngx_http_llm_set_state(ngx_http_llm_ctx_t *ctx, ngx_http_llm_state_e state)
{
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "llm router: %s -> %s",
                   ngx_http_llm_state_name(ctx->state),
                   ngx_http_llm_state_name(state));

    ctx->state = state;
}


/* the phase handler returns NGX_DONE: the request waits for an event */

void
ngx_http_llm_suspend(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_state_e state)
{
    ngx_http_llm_set_state(ctx, state);

    r->main->count++;

    /* a write event on a kept-alive connection must not run the phases */
    r->write_event_handler = ngx_http_request_empty_handler;
}


/*
 * The event came: the count raised by ngx_http_llm_suspend() (or by
 * ngx_http_read_client_request_body()) is dropped.
 */

void
ngx_http_llm_wake(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_state_e state)
{
    ngx_http_llm_set_state(ctx, state);

    r->main->count--;
}


/* woken, and the phases go on from the router's phase handler */

void
ngx_http_llm_resume(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_state_e state)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_llm_wake(r, ctx, state);

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);

    ngx_http_run_posted_requests(c);
}


const char *
ngx_http_llm_state_name(ngx_http_llm_state_e state)
{
    return (ngx_uint_t) state < sizeof(ngx_http_llm_states)
                                / sizeof(ngx_http_llm_states[0])
           ? ngx_http_llm_states[state] : "?";
}


/*
 * The classifier's top contributions, worked out and formatted on first
 * use: routing needed the score alone (ngx_llm_classify_score()), and the
 * classified text is kept for this.
 */

ngx_str_t *
ngx_http_llm_features(ngx_http_llm_ctx_t *ctx)
{
    u_char                    *p;
    ngx_http_llm_loc_conf_t   *llcf;
    ngx_llm_classify_result_t  res;

    if (ctx->features.data == NULL) {
        p = ngx_pnalloc(ctx->request->pool, NGX_HTTP_LLM_FEATURES_LEN);
        if (p == NULL) {
            ngx_str_set(&ctx->features, "");
            return &ctx->features;
        }

        llcf = ngx_http_get_module_loc_conf(ctx->request,
                                            ngx_http_llm_router_module);

        ngx_llm_classify_end(&ctx->text, &ctx->hints, &llcf->classify, &res);

        ctx->features.len = ngx_llm_classify_explain(&res, (char *) p,
                                                     NGX_HTTP_LLM_FEATURES_LEN);
        ctx->features.data = p;
    }

    return &ctx->features;
}


/*
 * Runs once when the request is freed, however it ended: the request
 * leaves the in-flight count, and the tier's answer feeds its breaker.
 */

static void
ngx_http_llm_ctx_cleanup(void *data)
{
    ngx_http_llm_ctx_t  *ctx = data;

    ngx_uint_t                 status;
    ngx_llm_tier_id_t          tier;
    ngx_http_request_t        *r;
    ngx_http_llm_main_conf_t  *lmcf;

    r = ctx->request;
    lmcf = ctx->lmcf;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: done, %s", ngx_http_llm_state_name(ctx->state));

    if (ctx->kind != NGX_HTTP_LLM_KIND_PASS) {
        ngx_http_llm_metrics_request(ctx);
    }

    if (ctx->counted == NGX_LLM_NO_TIER) {
        return;
    }

    tier = ctx->counted;
    ctx->counted = NGX_LLM_NO_TIER;

    ngx_http_llm_inflight_add(lmcf, tier, -1);

    if (ctx->state != NGX_HTTP_LLM_ROUTED
        && ctx->state != NGX_HTTP_LLM_FAILED_OVER)
    {
        /*
         * Never sent to the tier (the router answered, or failed before
         * it could), or the tier's verdict is already recorded.
         */

        if (ctx->probing) {
            /* no verdict: let another request probe */
            lmcf->tiers[tier].sh->probing = 0;
        }

        return;
    }

    status = r->headers_out.status;

    if (r->upstream_states != NULL && r->upstream_states->nelts) {
        status = ((ngx_http_upstream_state_t *) r->upstream_states->elts)
                 [r->upstream_states->nelts - 1].status;

        ngx_http_llm_tier_answered(lmcf, tier, status, r->connection->log);

        if (status == 0) {
            status = r->headers_out.status;
        }
    }

    if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR
        || ngx_http_llm_refusal(status))
    {
        ngx_http_llm_tier_result(lmcf, tier, 0, ctx->probing,
                                 r->connection->log);

    } else if (status >= NGX_HTTP_OK
               && status != NGX_HTTP_CLIENT_CLOSED_REQUEST)
    {
        ngx_http_llm_tier_result(lmcf, tier, 1, ctx->probing,
                                 r->connection->log);

    } else if (ctx->probing) {
        lmcf->tiers[tier].sh->probing = 0;
    }
}
