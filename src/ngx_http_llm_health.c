
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Active health checks.  At each interval one worker (elected in the
 * shared zone) sends "GET /api/ps" to every server of each tier's
 * upstream, on nginx's event loop, and records whether the tier answers
 * and whether its model is loaded.  A tier is up if one of its servers
 * answers 200.
 */


#include <cjson/cJSON.h>

#include "ngx_http_llm_state.h"
#include "ngx_http_llm_health.h"


#define NGX_HTTP_LLM_HC_BUFFER  65536


typedef struct {
    ngx_event_t                 ev;
    ngx_uint_t                  tier;
    ngx_http_llm_main_conf_t   *lmcf;
} ngx_http_llm_hc_timer_t;


typedef struct {
    ngx_pool_t                 *pool;
    ngx_log_t                  *log;
    ngx_http_llm_main_conf_t   *lmcf;
    ngx_uint_t                  tier;
    ngx_uint_t                  pending;
    ngx_uint_t                  up;
    ngx_uint_t                  loaded;
} ngx_http_llm_hc_round_t;


typedef struct {
    ngx_peer_connection_t       pc;
    ngx_http_llm_hc_round_t    *round;
    ngx_buf_t                  *request;
    ngx_buf_t                  *response;
} ngx_http_llm_hc_peer_t;


static void ngx_http_llm_hc_start(ngx_event_t *ev);
static void ngx_http_llm_hc_connect(ngx_http_llm_hc_round_t *round,
    ngx_addr_t *addr);
static void ngx_http_llm_hc_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_llm_hc_send(ngx_http_llm_hc_peer_t *peer);
static ngx_int_t ngx_http_llm_hc_recv(ngx_http_llm_hc_peer_t *peer);
static void ngx_http_llm_hc_done(ngx_http_llm_hc_peer_t *peer,
    ngx_uint_t ok);
static ngx_uint_t ngx_http_llm_hc_parse(ngx_http_llm_hc_round_t *round,
    ngx_buf_t *b, ngx_uint_t *loaded);


/* llm_router_health_check [interval=5s] [timeout=2s] [uri=/api/ps] | off; */

char *
ngx_http_llm_health_check(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_int_t    rc;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (lmcf->health_interval != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    lmcf->health_interval = 5000;
    lmcf->health_timeout = 2000;
    ngx_str_set(&lmcf->health_uri, "/api/ps");

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        lmcf->health_interval = 0;
        return NGX_CONF_OK;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        rc = ngx_http_llm_param_msec(&value[i], "interval=",
                                     &lmcf->health_interval);

        if (rc == NGX_OK && lmcf->health_interval >= 10) {
            continue;
        }

        if (rc != NGX_DECLINED) {
            goto invalid;
        }

        rc = ngx_http_llm_param_msec(&value[i], "timeout=",
                                     &lmcf->health_timeout);

        if (rc == NGX_OK) {
            continue;
        }

        if (rc == NGX_ERROR) {
            goto invalid;
        }

        if (ngx_strncmp(value[i].data, "uri=/", 5) == 0) {
            lmcf->health_uri.data = value[i].data + 4;
            lmcf->health_uri.len = value[i].len - 4;

            if (ngx_strlchr(lmcf->health_uri.data,
                            lmcf->health_uri.data + lmcf->health_uri.len,
                            ' ')
                != NULL)
            {
                goto invalid;
            }

            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\"",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


ngx_int_t
ngx_http_llm_health_init_process(ngx_cycle_t *cycle,
    ngx_http_llm_main_conf_t *lmcf)
{
    ngx_uint_t                i;
    ngx_http_llm_hc_timer_t  *t;

    if (lmcf->health_interval == 0 || !lmcf->used) {
        return NGX_OK;
    }

    for (i = 0; i < NGX_HTTP_LLM_TIERS; i++) {

        t = ngx_pcalloc(cycle->pool, sizeof(ngx_http_llm_hc_timer_t));
        if (t == NULL) {
            return NGX_ERROR;
        }

        t->tier = i;
        t->lmcf = lmcf;

        ngx_http_llm_start_timer(&t->ev, ngx_http_llm_hc_start, t,
                                 cycle->log);
    }

    return NGX_OK;
}


static void
ngx_http_llm_hc_start(ngx_event_t *ev)
{
    ngx_uint_t                      i, j;
    ngx_pool_t                     *pool;
    ngx_http_llm_tier_t            *tier;
    ngx_http_llm_hc_timer_t        *t;
    ngx_http_llm_hc_round_t        *round;
    ngx_http_upstream_server_t     *server;
    ngx_http_upstream_srv_conf_t   *uscf;

    t = ev->data;

    if (ngx_exiting) {
        return;
    }

    ngx_add_timer(ev, t->lmcf->health_interval);

    if (!ngx_http_llm_elect(&t->lmcf->sh->tiers[t->tier].check_started,
                            t->lmcf->health_interval))
    {
        return;
    }

    tier = &t->lmcf->tiers[t->tier];
    uscf = tier->uscf;

    if (uscf == NULL || uscf->servers == NULL || uscf->servers->nelts == 0) {
        return;
    }

    pool = ngx_create_pool(1024, ev->log);
    if (pool == NULL) {
        return;
    }

    round = ngx_pcalloc(pool, sizeof(ngx_http_llm_hc_round_t));
    if (round == NULL) {
        ngx_destroy_pool(pool);
        return;
    }

    round->pool = pool;
    round->log = ev->log;
    round->lmcf = t->lmcf;
    round->tier = t->tier;
    round->loaded = NGX_HTTP_LLM_UNKNOWN;

    server = uscf->servers->elts;

    /* one pending slot for this loop, so no answer ends the round early */
    round->pending = 1;

    for (i = 0; i < uscf->servers->nelts; i++) {
        for (j = 0; j < server[i].naddrs; j++) {
            round->pending++;
            ngx_http_llm_hc_connect(round, &server[i].addrs[j]);
        }
    }

    if (--round->pending == 0) {
        ngx_http_llm_tier_health(round->lmcf, round->tier, round->up,
                                 round->loaded, round->log);
        ngx_destroy_pool(pool);
    }
}


static void
ngx_http_llm_hc_connect(ngx_http_llm_hc_round_t *round, ngx_addr_t *addr)
{
    u_char                  *p;
    size_t                   len;
    ngx_int_t                rc;
    ngx_connection_t        *c;
    ngx_http_llm_hc_peer_t  *peer;

    peer = ngx_pcalloc(round->pool, sizeof(ngx_http_llm_hc_peer_t));
    if (peer == NULL) {
        round->pending--;
        return;
    }

    peer->round = round;

    len = sizeof("GET  HTTP/1.0" CRLF "Host: " CRLF
                 "User-Agent: ngx_llm_router" CRLF CRLF)
          + round->lmcf->health_uri.len + addr->name.len;

    peer->request = ngx_create_temp_buf(round->pool, len);
    peer->response = ngx_create_temp_buf(round->pool, NGX_HTTP_LLM_HC_BUFFER);

    if (peer->request == NULL || peer->response == NULL) {
        round->pending--;
        return;
    }

    p = peer->request->last;
    p = ngx_sprintf(p, "GET %V HTTP/1.0" CRLF "Host: %V" CRLF
                    "User-Agent: ngx_llm_router" CRLF CRLF,
                    &round->lmcf->health_uri, &addr->name);
    peer->request->last = p;

    peer->pc.sockaddr = addr->sockaddr;
    peer->pc.socklen = addr->socklen;
    peer->pc.name = &addr->name;
    peer->pc.get = ngx_event_get_peer;
    peer->pc.log = round->log;
    peer->pc.log_error = NGX_ERROR_INFO;

    rc = ngx_event_connect_peer(&peer->pc);

    if (rc == NGX_ERROR || rc == NGX_DECLINED || rc == NGX_BUSY) {
        if (peer->pc.connection != NULL) {
            ngx_close_connection(peer->pc.connection);
            peer->pc.connection = NULL;
        }

        round->pending--;
        return;
    }

    c = peer->pc.connection;
    c->data = peer;
    c->pool = round->pool;
    c->read->handler = ngx_http_llm_hc_handler;
    c->write->handler = ngx_http_llm_hc_handler;

    ngx_add_timer(c->write, round->lmcf->health_timeout);

    if (rc == NGX_OK) {
        /* connected at once: send now */
        ngx_http_llm_hc_handler(c->write);
    }
}


static void
ngx_http_llm_hc_handler(ngx_event_t *ev)
{
    ngx_int_t                rc;
    ngx_connection_t        *c;
    ngx_http_llm_hc_peer_t  *peer;

    c = ev->data;
    peer = c->data;

    if (ev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "llm router: health check of %V timed out",
                      peer->pc.name);
        ngx_http_llm_hc_done(peer, 0);
        return;
    }

    if (peer->request->pos < peer->request->last) {
        rc = ngx_http_llm_hc_send(peer);

        if (rc == NGX_AGAIN) {
            return;
        }

        if (rc == NGX_ERROR) {
            ngx_http_llm_hc_done(peer, 0);
            return;
        }
    }

    rc = ngx_http_llm_hc_recv(peer);

    if (rc == NGX_AGAIN) {
        return;
    }

    ngx_http_llm_hc_done(peer, rc == NGX_OK);
}


static ngx_int_t
ngx_http_llm_hc_send(ngx_http_llm_hc_peer_t *peer)
{
    ssize_t            n;
    ngx_buf_t         *b;
    ngx_connection_t  *c;

    c = peer->pc.connection;
    b = peer->request;

    while (b->pos < b->last) {

        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                return NGX_ERROR;
            }

            return NGX_AGAIN;
        }

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        b->pos += n;
    }

    return NGX_OK;
}


/* reads up to EOF; NGX_OK when the answer was a 200 */

static ngx_int_t
ngx_http_llm_hc_recv(ngx_http_llm_hc_peer_t *peer)
{
    ssize_t            n;
    ngx_buf_t         *b;
    ngx_connection_t  *c;

    c = peer->pc.connection;
    b = peer->response;

    for ( ;; ) {

        if (b->last == b->end) {
            /* enough to judge: a longer answer is cut here */
            break;
        }

        n = c->recv(c, b->last, b->end - b->last);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
                return NGX_ERROR;
            }

            return NGX_AGAIN;
        }

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (n == 0) {
            break;
        }

        b->last += n;
    }

    return NGX_OK;
}


static void
ngx_http_llm_hc_done(ngx_http_llm_hc_peer_t *peer, ngx_uint_t ok)
{
    ngx_uint_t                loaded;
    ngx_http_llm_hc_round_t  *round;

    round = peer->round;

    if (peer->pc.connection != NULL) {
        ngx_close_connection(peer->pc.connection);
        peer->pc.connection = NULL;
    }

    if (ok && ngx_http_llm_hc_parse(round, peer->response, &loaded)) {
        round->up = 1;

        if (loaded == NGX_HTTP_LLM_YES
            || round->loaded == NGX_HTTP_LLM_UNKNOWN)
        {
            round->loaded = loaded;
        }
    }

    if (--round->pending == 0) {
        ngx_http_llm_tier_health(round->lmcf, round->tier, round->up,
                                 round->loaded, round->log);
        ngx_destroy_pool(round->pool);
    }
}


/* a 200 answer; from /api/ps, is the tier's model among those loaded? */

static ngx_uint_t
ngx_http_llm_hc_parse(ngx_http_llm_hc_round_t *round, ngx_buf_t *b,
    ngx_uint_t *loaded)
{
    u_char               *body;
    cJSON                *root, *models, *m, *name;
    ngx_str_t            *model;

    *loaded = NGX_HTTP_LLM_UNKNOWN;

    if (b->last - b->pos < 12
        || ngx_strncmp(b->pos, "HTTP/1.", 7) != 0
        || ngx_strncmp(b->pos + 8, " 200", 4) != 0)
    {
        return 0;
    }

    body = ngx_strlcasestrn(b->pos, b->last, (u_char *) CRLF CRLF, 4 - 1);

    if (body == NULL) {
        return 1;
    }

    body += 4;

    root = cJSON_ParseWithLength((char *) body, b->last - body);

    if (root == NULL) {
        return 1;
    }

    models = cJSON_GetObjectItemCaseSensitive(root, "models");

    if (cJSON_IsArray(models)) {
        *loaded = NGX_HTTP_LLM_NO;
        model = &round->lmcf->tiers[round->tier].model;

        cJSON_ArrayForEach(m, models) {
            name = cJSON_GetObjectItemCaseSensitive(m, "model");

            if (!cJSON_IsString(name)) {
                name = cJSON_GetObjectItemCaseSensitive(m, "name");
            }

            if (cJSON_IsString(name)
                && ngx_strlen(name->valuestring) == model->len
                && ngx_strncmp(name->valuestring, model->data, model->len)
                   == 0)
            {
                *loaded = NGX_HTTP_LLM_YES;
                break;
            }
        }
    }

    cJSON_Delete(root);

    return 1;
}
