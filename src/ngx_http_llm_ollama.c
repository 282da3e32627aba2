
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The router standing in for an Ollama server on the endpoints that are
 * not prompts, so that a client that works against Ollama works
 * unchanged against the router:
 *
 *   GET|HEAD /                 "Ollama is running", from the router itself
 *   GET /api/tags, /api/ps,    asked of every server of every tier at
 *   /v1/models[/{id}],         once, on the event loop; the union of their
 *   /api/version               answers plus the aliases ("auto"), or the
 *                              lowest version
 *   /api/show, /api/embed,     to the tier whose servers have the named
 *   /api/embeddings,           model (the health check's /api/tags, and
 *   /v1/embeddings, /api/pull, the tier's configured model), else to the
 *   /api/push, /api/create,    default tier; /api/show of an alias is
 *   /api/copy, /api/delete     assembled from every tier's model's
 *   a load or unload of an     sent to every tier with its own model,
 *   alias                      one answer
 *   anything else              to the default tier, a JSON error if it
 *                              fails
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <cjson/cJSON.h>

#include "ngx_http_llm_ollama.h"
#include "ngx_http_llm_ctx.h"
#include "ngx_http_llm_state.h"
#include "ngx_http_llm_util.h"
#include "ngx_http_llm_fetch.h"
#include "ngx_llm_lists.h"
#include "ngx_llm_cache_key.h"
#include "ngx_llm_model.h"


#define NGX_HTTP_LLM_FAN_MAX_ANSWER   (4 * 1024 * 1024)
#define NGX_HTTP_LLM_FAN_TIMEOUT      10000     /* lists, show */
#define NGX_HTTP_LLM_FAN_LOAD_TIMEOUT 600000    /* a cold load: ~42 s */

#define NGX_HTTP_LLM_FAN_SHOW        100    /* beyond ngx_llm_endpoint_e */
#define NGX_HTTP_LLM_FAN_LOAD        101


typedef struct {
    ngx_http_request_t     *request;
    ngx_http_llm_ctx_t     *ctx;
    ngx_uint_t              what;      /* ngx_llm_endpoint_e or FAN_* */
    ngx_uint_t              pending;
    ngx_array_t             fetches;   /* of ngx_http_llm_fetch_t * */
    ngx_str_t               name;      /* the id or alias asked for */
    ngx_uint_t              unload;
    unsigned                openai:1;
    unsigned                done:1;
} ngx_http_llm_fan_t;


static ngx_int_t ngx_http_llm_root(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_pass(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_fan_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_uint_t what, ngx_str_t *name,
    const char *method, ngx_str_t *uri, ngx_str_t *bodies);
static void ngx_http_llm_fan_done(ngx_http_llm_fetch_t *f);
static void ngx_http_llm_fan_cleanup(void *data);
static void ngx_http_llm_fan_answer(ngx_http_llm_fan_t *fan);
static ngx_int_t ngx_http_llm_fan_conf(ngx_http_request_t *r,
    ngx_llm_lists_conf_t *conf);
static ngx_str_t *ngx_http_llm_named_model(ngx_http_request_t *r,
    cJSON *root, const char *const *keys);
static ngx_int_t ngx_http_llm_is_alias(ngx_http_llm_main_conf_t *lmcf,
    ngx_str_t *name);
static ngx_int_t ngx_http_llm_embedding_key(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, cJSON *root, ngx_str_t *model);




/*
 * A request on a path that is no prompt dialect.  NGX_AGAIN: it names a
 * model in its body, read it (ngx_http_llm_named() goes on from there).
 */

ngx_int_t
ngx_http_llm_endpoint(ngx_http_request_t *r)
{
    ngx_str_t            id, uri;
    ngx_uint_t           get;
    const char          *idp;
    const char *const   *keys;
    ngx_llm_endpoint_e   ep;
    ngx_http_llm_ctx_t  *ctx;

    ep = ngx_llm_endpoint_from_path((char *) r->uri.data, r->uri.len, &idp,
                                    &id.len, &keys);
    id.data = (u_char *) idp;

    get = r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD);

    switch (ep) {

    case NGX_LLM_EP_ROOT:
        return get ? ngx_http_llm_root(r) : ngx_http_llm_pass(r);

    case NGX_LLM_EP_TAGS:
    case NGX_LLM_EP_PS:
    case NGX_LLM_EP_VERSION:
    case NGX_LLM_EP_MODELS:
    case NGX_LLM_EP_MODEL_INFO:

        if (!get) {
            return ngx_http_llm_pass(r);
        }

        ctx = ngx_http_llm_ctx_create(r, NGX_LLM_DIALECT_NONE,
                                      NGX_HTTP_LLM_KIND_LIST);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            r->keepalive = 0;
        }

        /* asked of every server as the client asked the router */
        uri.data = (u_char *) (ep == NGX_LLM_EP_TAGS ? "/api/tags"
                               : ep == NGX_LLM_EP_PS ? "/api/ps"
                               : ep == NGX_LLM_EP_VERSION ? "/api/version"
                               : "/v1/models");
        uri.len = ngx_strlen(uri.data);

        return ngx_http_llm_fan_start(r, ctx, ep, &id, "GET", &uri, NULL);

    case NGX_LLM_EP_NAMED:

        if (r->method & (NGX_HTTP_POST|NGX_HTTP_DELETE)) {
            return NGX_AGAIN;
        }

        return ngx_http_llm_pass(r);

    default:
        return ngx_http_llm_pass(r);
    }
}


/* Ollama's liveness answer (server/routes.go, GenerateRoutes: "/") */

static ngx_int_t
ngx_http_llm_root(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  body = ngx_string("Ollama is running");

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    rc = ngx_http_llm_send(r, NGX_HTTP_OK, "text/plain; charset=utf-8",
                           &body);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * To the default tier as it came.  A context marks it routed, so that a
 * failed tier (error_page back into a router location) gets one JSON
 * answer instead of looping through the error pages.
 */

static ngx_int_t
ngx_http_llm_pass(ngx_http_request_t *r)
{
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_llm_ctx_create(r, NGX_LLM_DIALECT_NONE,
                                  NGX_HTTP_LLM_KIND_PASS);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->tier = ctx->lmcf->default_tier;
    ctx->reason = NGX_LLM_REASON_DEFAULT;
    ngx_http_llm_set_state(ctx, NGX_HTTP_LLM_ROUTED);

    return NGX_DECLINED;
}


/*
 * A body that names a model (the body is read): to the tier that has it;
 * /api/show of an alias is assembled from every tier's model.
 */

ngx_int_t
ngx_http_llm_named(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                    *p;
    cJSON                     *root;
    uint64_t                   h;
    ngx_str_t                  body, *model, uri, *bodies;
    ngx_llm_tier_id_t          t;
    size_t                     idlen;
    ngx_uint_t                 i;
    const char                *idp;
    const char *const         *keys;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ctx->lmcf;

    ctx->kind = NGX_HTTP_LLM_KIND_PASS;
    ctx->tier = lmcf->default_tier;
    ctx->reason = NGX_LLM_REASON_DEFAULT;

    (void) ngx_llm_endpoint_from_path((char *) r->uri.data, r->uri.len, &idp,
                                      &idlen, &keys);

    if (ngx_http_llm_body(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_llm_json_pool(r->pool);
    root = cJSON_ParseWithLength((char *) body.data, body.len);
    ngx_http_llm_json_pool(NULL);

    /* no model named: the server answers with its own error */
    model = (root != NULL && keys != NULL)
            ? ngx_http_llm_named_model(r, root, keys) : NULL;

    if (model == NULL) {
        ngx_http_llm_set_state(ctx, NGX_HTTP_LLM_ROUTED);
        return NGX_DECLINED;
    }

    ctx->requested_model = *model;

    if (ngx_http_llm_is_alias(lmcf, model)) {

        if (!ngx_http_llm_uri_is(r, "/api/show")) {
            return ngx_http_llm_answer(r, ctx, NGX_HTTP_BAD_REQUEST,
                                       "this endpoint needs a model's own "
                                       "name, not the router's alias");
        }

        bodies = ngx_pcalloc(r->pool, NGX_LLM_MAX_TIERS * sizeof(ngx_str_t));
        if (bodies == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        for (i = 0; i < lmcf->ntiers; i++) {
            p = ngx_pnalloc(r->pool, lmcf->tiers[i].model.len
                                     + sizeof("{\"model\":\"\"}"));
            if (p == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            bodies[i].data = p;
            bodies[i].len = ngx_sprintf(p, "{\"model\":\"%V\"}",
                                        &lmcf->tiers[i].model) - p;
        }

        ngx_str_set(&uri, "/api/show");

        return ngx_http_llm_fan_start(r, ctx, NGX_HTTP_LLM_FAN_SHOW, model,
                                      "POST", &uri, bodies);
    }

    /* the tier configured with it, else the first whose servers have it */

    t = NGX_LLM_NO_TIER;
    h = ngx_llm_model_hash((char *) model->data, model->len);

    for (i = 0; i < lmcf->ntiers; i++) {
        if (ngx_llm_model_equal((char *) lmcf->tiers[i].model.data,
                                lmcf->tiers[i].model.len,
                                (char *) model->data, model->len))
        {
            t = (ngx_llm_tier_id_t) i;
            break;
        }
    }

    for (i = 0; t == NGX_LLM_NO_TIER && i < lmcf->ntiers; i++) {
        if (h != 0
            && ngx_http_llm_tier_has_model(lmcf, (ngx_llm_tier_id_t) i, h))
        {
            t = (ngx_llm_tier_id_t) i;
        }
    }

    if (t != NGX_LLM_NO_TIER) {
        ctx->tier = t;
        ctx->reason = NGX_LLM_REASON_MODEL;
    }

    if (ngx_http_llm_embedding_key(r, ctx, root, model) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_llm_set_state(ctx, NGX_HTTP_LLM_ROUTED);

    return NGX_DECLINED;
}


static ngx_str_t *
ngx_http_llm_named_model(ngx_http_request_t *r, cJSON *root,
    const char *const *keys)
{
    cJSON      *item;
    ngx_str_t  *s;

    for ( /* void */ ; *keys != NULL; keys++) {
        item = cJSON_GetObjectItemCaseSensitive(root, *keys);

        if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
            continue;
        }

        s = ngx_palloc(r->pool, sizeof(ngx_str_t));
        if (s == NULL) {
            return NULL;
        }

        s->len = ngx_strlen(item->valuestring);
        s->data = ngx_pnalloc(r->pool, s->len);
        if (s->data == NULL) {
            return NULL;
        }

        ngx_memcpy(s->data, item->valuestring, s->len);

        return s;
    }

    return NULL;
}


static ngx_int_t
ngx_http_llm_is_alias(ngx_http_llm_main_conf_t *lmcf, ngx_str_t *name)
{
    ngx_str_t   *alias;
    ngx_uint_t   i;

    alias = lmcf->auto_models->elts;

    for (i = 0; i < lmcf->auto_models->nelts; i++) {
        if (ngx_llm_model_equal((char *) alias[i].data, alias[i].len,
                                (char *) name->data, name->len))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * A load or unload (a prompt-less generate or chat) naming an alias: sent
 * to every tier, each with its own model; "auto" stands for all of them.
 */

ngx_int_t
ngx_http_llm_load_all(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_llm_request_t *req, ngx_str_t *body)
{
    char        *out;
    size_t       len;
    ngx_str_t   *bodies, uri, name;
    ngx_uint_t   i;

    bodies = ngx_pcalloc(r->pool, NGX_LLM_MAX_TIERS * sizeof(ngx_str_t));
    if (bodies == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < ctx->lmcf->ntiers; i++) {
        len = ngx_llm_request_rewrite_into(req, (char *) body->data,
                                           body->len,
                                           (char *) ctx->lmcf->tiers[i]
                                                        .model.data,
                                           ngx_http_llm_pool_alloc, r->pool,
                                           &out);
        if (len == 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        bodies[i].data = (u_char *) out;
        bodies[i].len = len;
    }

    uri.data = (u_char *) (ctx->dialect == NGX_LLM_DIALECT_OLLAMA_CHAT
                           ? "/api/chat" : "/api/generate");
    uri.len = ngx_strlen(uri.data);

    name = ctx->requested_model;

    return ngx_http_llm_fan_start(r, ctx, NGX_HTTP_LLM_FAN_LOAD, &name,
                                  "POST", &uri, bodies);
}


/*
 * $llm_cache_key of an embeddings request: the same text and model always
 * give the same vector, so proxy_cache can keep the answer on disk under
 * the hash of the endpoint, the model, the tenant and the canonical body.
 */

static ngx_int_t
ngx_http_llm_embedding_key(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    cJSON *root, ngx_str_t *model)
{
    u_char                   *uri, *name;
    ngx_str_t                 tenant;
    ngx_http_llm_loc_conf_t  *llcf;

    if (!ngx_http_llm_uri_is(r, "/api/embed")
        && !ngx_http_llm_uri_is(r, "/api/embeddings")
        && !ngx_http_llm_uri_is(r, "/v1/embeddings"))
    {
        return NGX_OK;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (ngx_http_complex_value(r, llcf->cache_tenant, &tenant) != NGX_OK) {
        return NGX_ERROR;
    }

    uri = ngx_pnalloc(r->pool, r->uri.len + model->len + 2);
    if (uri == NULL) {
        return NGX_ERROR;
    }

    name = ngx_cpymem(uri, r->uri.data, r->uri.len);
    *name++ = '\0';
    *ngx_cpymem(name, model->data, model->len) = '\0';

    if (ngx_llm_cache_key_body(root, (char *) uri, (char *) name,
                               tenant.data, tenant.len,
                               (char *) ctx->cache.key)
        != 0)
    {
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: embeddings of %V, key %*s", model,
                   (size_t) NGX_LLM_KEY_HEX, ctx->cache.key);

    return NGX_OK;
}


/*
 * Asks every server of every tier (bodies: one per tier, or NULL) and
 * answers once all have answered or failed.
 */

static ngx_int_t
ngx_http_llm_fan_start(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t what, ngx_str_t *name, const char *method, ngx_str_t *uri,
    ngx_str_t *bodies)
{
    ngx_uint_t                     i, j, k, t, dup;
    ngx_pool_cleanup_t            *cln;
    ngx_http_llm_fan_t            *fan;
    ngx_http_llm_tier_t           *tier;
    ngx_http_llm_fetch_t          *f, **fp;
    ngx_http_upstream_server_t    *server;
    ngx_http_upstream_srv_conf_t  *uscf;

    fan = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_fan_t));
    if (fan == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_array_init(&fan->fetches, r->pool, 4,
                       sizeof(ngx_http_llm_fetch_t *))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    fan->request = r;
    fan->ctx = ctx;
    fan->what = what;
    fan->name = *name;
    fan->unload = (ctx->kind == NGX_HTTP_LLM_KIND_UNLOAD);
    fan->openai = (what == NGX_LLM_EP_MODELS
                   || what == NGX_LLM_EP_MODEL_INFO);

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_llm_fan_cleanup;
    cln->data = fan;

    fan->pending = 1;

    for (t = 0; t < ctx->lmcf->ntiers; t++) {
        tier = &ctx->lmcf->tiers[t];
        uscf = tier->uscf;

        if (tier->api == NGX_HTTP_LLM_API_OPENAI) {
            /* no Ollama lists to ask: its model is not on this machine */
            continue;
        }

        if (uscf == NULL || uscf->servers == NULL) {
            continue;
        }

        /* a list is asked once of servers two tiers share */
        dup = 0;

        for (k = 0; bodies == NULL && k < t; k++) {
            if (ctx->lmcf->tiers[k].uscf == uscf) {
                dup = 1;
            }
        }

        if (dup) {
            continue;
        }

        server = uscf->servers->elts;

        for (i = 0; i < uscf->servers->nelts; i++) {
            for (j = 0; j < server[i].naddrs; j++) {

                f = ngx_http_llm_fetch(r->pool, r->connection->log,
                                       &server[i].addrs[j], &tier->host,
                                       method, uri,
                                       bodies ? &bodies[t] : NULL,
                                       what == NGX_HTTP_LLM_FAN_LOAD
                                       ? NGX_HTTP_LLM_FAN_LOAD_TIMEOUT
                                       : NGX_HTTP_LLM_FAN_TIMEOUT,
                                       NGX_HTTP_LLM_FAN_MAX_ANSWER,
                                       ngx_http_llm_fan_done, fan);
                if (f == NULL) {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                f->index = t;

                fp = ngx_array_push(&fan->fetches);
                if (fp == NULL) {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                *fp = f;
                fan->pending++;
            }
        }
    }

    /* the client waits for the last server's answer */
    ngx_http_llm_suspend(r, ctx, NGX_HTTP_LLM_ASKING);

    if (--fan->pending == 0) {
        ngx_http_llm_fan_answer(fan);
    }

    return NGX_DONE;
}


static void
ngx_http_llm_fan_done(ngx_http_llm_fetch_t *f)
{
    ngx_http_llm_fan_t  *fan = f->data;

    if (f->error != NGX_HTTP_LLM_FETCH_OK) {
        ngx_log_error(NGX_LOG_INFO, f->log, 0,
                      "llm router: %V tier's %V: %s",
                      &fan->ctx->lmcf->tiers[f->index].name, f->pc.name,
                      ngx_http_llm_fetch_error(f));

    } else {
        ngx_http_llm_tier_answered(fan->ctx->lmcf, f->index, f->status,
                                   f->log);
    }

    if (--fan->pending == 0) {
        ngx_http_llm_fan_answer(fan);
    }
}


/* the client left first: no answer may call back into it */

static void
ngx_http_llm_fan_cleanup(void *data)
{
    ngx_http_llm_fan_t  *fan = data;

    ngx_uint_t             i;
    ngx_http_llm_fetch_t **f;

    f = fan->fetches.elts;

    for (i = 0; i < fan->fetches.nelts; i++) {
        ngx_http_llm_fetch_cancel(f[i]);
    }

    fan->done = 1;
}


static void
ngx_http_llm_fan_answer(ngx_http_llm_fan_t *fan)
{
    int                    status;
    char                  *out, *name;
    ngx_int_t              rc;
    ngx_str_t              body;
    ngx_uint_t             i, n;
    ngx_connection_t      *c;
    ngx_llm_answer_t      *a;
    ngx_http_request_t    *r;
    ngx_http_llm_fetch_t **f;
    ngx_llm_lists_conf_t   conf;

    r = fan->request;
    c = r->connection;

    if (fan->done) {
        return;
    }

    fan->done = 1;
    ngx_http_llm_wake(r, fan->ctx, NGX_HTTP_LLM_ANSWERED);

    f = fan->fetches.elts;
    n = fan->fetches.nelts;

    a = ngx_pcalloc(r->pool, (n + 1) * sizeof(ngx_llm_answer_t));
    name = ngx_pnalloc(r->pool, fan->name.len + 1);

    if (a == NULL || name == NULL
        || ngx_http_llm_fan_conf(r, &conf) != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        ngx_http_run_posted_requests(c);
        return;
    }

    if (fan->name.len) {
        ngx_memcpy(name, fan->name.data, fan->name.len);
    }

    name[fan->name.len] = '\0';

    for (i = 0; i < n; i++) {
        a[i].tier = (int) f[i]->index;
        a[i].status = f[i]->error == NGX_HTTP_LLM_FETCH_OK
                      ? (int) f[i]->status : 0;
        a[i].body = (char *) f[i]->body.data;
        a[i].len = f[i]->body.len;
    }

    status = NGX_HTTP_OK;

    /* the JSON tree and text live in the request's pool */
    ngx_http_llm_json_pool(r->pool);

    switch (fan->what) {

    case NGX_LLM_EP_TAGS:
        out = ngx_llm_lists_tags(a, n, &conf);
        break;

    case NGX_LLM_EP_PS:
        out = ngx_llm_lists_ps(a, n, &conf);
        break;

    case NGX_LLM_EP_VERSION:
        out = ngx_llm_lists_version(a, n, &conf);
        break;

    case NGX_LLM_EP_MODELS:
        out = ngx_llm_lists_models(a, n, &conf);
        break;

    case NGX_LLM_EP_MODEL_INFO:
        out = ngx_llm_lists_model(a, n, &conf, (char *) fan->name.data,
                                  fan->name.len);

        if (out == NULL) {
            /* Ollama's RetrieveMiddleware: not_found_error, 404 */
            for (i = 0; i < n && a[i].status != NGX_HTTP_OK; i++) {
                /* void */
            }

            if (i < n) {
                status = NGX_HTTP_NOT_FOUND;
            }
        }

        break;

    case NGX_HTTP_LLM_FAN_SHOW:
        out = ngx_llm_lists_show(a, n, &conf, name);
        break;

    default: /* NGX_HTTP_LLM_FAN_LOAD */
        out = ngx_llm_lists_load(a, n, &conf, name, (int) fan->unload,
                                 &status);
        break;
    }

    ngx_http_llm_json_pool(NULL);

    if (out == NULL) {
        /* answered and finalized there */
        (void) ngx_http_llm_answer(r, fan->ctx,
                                   status == NGX_HTTP_NOT_FOUND
                                   ? NGX_HTTP_NOT_FOUND : NGX_HTTP_BAD_GATEWAY,
                                   status == NGX_HTTP_NOT_FOUND
                                   ? ngx_http_llm_not_found(r, &fan->name)
                                   : "no tier answered");

        ngx_http_run_posted_requests(c);
        return;
    }

    body.data = (u_char *) out;
    body.len = ngx_strlen(out);

    /* what Ollama's gin sends with its JSON */
    rc = ngx_http_llm_send(r, status, "application/json; charset=utf-8",
                           &body);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_llm_fan_conf(ngx_http_request_t *r, ngx_llm_lists_conf_t *conf)
{
    u_char                    *p;
    ngx_str_t                 *alias;
    ngx_uint_t                 i;
    const char               **names, **models;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);

    alias = lmcf->auto_models->elts;

    names = ngx_palloc(r->pool, lmcf->auto_models->nelts * sizeof(char *));
    models = ngx_palloc(r->pool, NGX_LLM_MAX_TIERS * sizeof(char *));

    if (names == NULL || models == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < lmcf->auto_models->nelts; i++) {
        p = ngx_pnalloc(r->pool, alias[i].len + 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        *ngx_cpymem(p, alias[i].data, alias[i].len) = '\0';
        names[i] = (char *) p;
    }

    for (i = 0; i < lmcf->ntiers; i++) {
        /* configuration strings end with a NUL */
        models[i] = (char *) lmcf->tiers[i].model.data;
    }

    conf->aliases = names;
    conf->naliases = lmcf->auto_models->nelts;
    conf->tier_models = models;
    conf->ntiers = lmcf->ntiers;
    conf->router = "ngx_llm_router/" NGX_HTTP_LLM_ROUTER_VERSION;
    conf->started = (long) lmcf->started;

    return NGX_OK;
}
