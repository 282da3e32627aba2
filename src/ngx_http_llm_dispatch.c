
/*
 * Copyright (C) ngx_llm_router authors
 *
 * llm_router_dispatch: an upstream{} with no servers of its own that
 * hands each request to the upstream{} of the tier the router chose.
 * "proxy_pass http://NAME" then costs what a fixed proxy_pass costs:
 * no variable to evaluate, no URL to parse, no search through every
 * upstream{} by name per request, as "proxy_pass http://$llm_upstream"
 * does.  The tier's own balancer (least_conn, llm_router_balance, ...)
 * and keepalive run as they would for a proxy_pass to it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_dispatch.h"
#include "ngx_http_llm_ctx.h"


static ngx_int_t ngx_http_llm_dispatch_init(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_llm_dispatch_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);


/* llm_router_dispatch; in upstream{} */

char *
ngx_http_llm_dispatch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t      *lmcf;
    ngx_http_upstream_server_t    *us;
    ngx_http_upstream_srv_conf_t  *uscf;

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);
    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_router_module);

    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is the upstream's only method: remove "
                           "the other one", &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (uscf->servers->nelts > 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "upstream \"%V\" with \"%V\" takes no "
                           "\"server\": the tiers' upstream{} blocks have "
                           "them", &uscf->host, &cmd->name);
        return NGX_CONF_ERROR;
    }

    uscf->peer.init_upstream = ngx_http_llm_dispatch_init;
    uscf->flags = NGX_HTTP_UPSTREAM_CREATE;

    /*
     * nginx wants a server in every upstream{}: an empty one stands for
     * the tiers' (it has no address, and no balancer of nginx's sees it)
     */

    us = ngx_array_push(uscf->servers);
    if (us == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(us, sizeof(ngx_http_upstream_server_t));
    ngx_str_set(&us->name, "llm_router_dispatch");

    if (lmcf->dispatch_file == NULL) {
        lmcf->dispatch_file = cf->conf_file->file.name.data;
        lmcf->dispatch_line = cf->conf_file->line;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llm_dispatch_init(ngx_conf_t *cf, ngx_http_upstream_srv_conf_t *us)
{
    if (us->servers->nelts > 1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" with \"llm_router_dispatch\" takes "
                      "no \"server\": the tiers' upstream{} blocks have "
                      "them, in %s:%ui", &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    us->peer.init = ngx_http_llm_dispatch_init_peer;

    return NGX_OK;
}


ngx_uint_t
ngx_http_llm_dispatch_is(ngx_http_upstream_srv_conf_t *us)
{
    return us->peer.init_upstream == ngx_http_llm_dispatch_init;
}


static ngx_int_t
ngx_http_llm_dispatch_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_llm_tier_id_t              t;
    ngx_http_llm_main_conf_t      *lmcf;
    ngx_http_upstream_srv_conf_t  *tus;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);

    /* the tier $llm_upstream would name */
    t = ngx_http_llm_tier_of(r);

    if (t == NGX_LLM_NO_TIER) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm router: upstream \"%V\" has no tier to hand "
                      "the request to", &us->host);
        return NGX_ERROR;
    }

    tus = lmcf->tiers[t].uscf;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: %V dispatches to upstream %V",
                   &us->host, &tus->host);

    /* from here on the request is the tier upstream's, as if proxied to it */
    r->upstream->upstream = tus;

#if (NGX_HTTP_SSL)
    r->upstream->ssl_name = tus->host;
#endif

    return tus->peer.init(r, tus);
}
