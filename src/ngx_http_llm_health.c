
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Active health checks.  At each interval one worker (elected in the
 * shared zone) asks every server of each tier's upstream, on nginx's
 * event loop, with the Host routed requests carry ($llm_upstream_host):
 * "GET /api/ps" says whether it answers and whether the tier's model is
 * loaded, "GET /api/tags" which models it has (model-named requests such
 * as /api/show or /api/embed go to the tier that has the model).  A tier
 * is up if one of its servers answers 200; when none does, the reason
 * is recorded and logged in a person's words (a 403 is Ollama's Host
 * guard, say).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <cjson/cJSON.h>

#include "ngx_http_llm_state.h"
#include "ngx_http_llm_health.h"
#include "ngx_http_llm_util.h"
#include "ngx_http_llm_fetch.h"
#include "ngx_llm_model.h"


#define NGX_HTTP_LLM_HC_MAX_ANSWER  (1024 * 1024)


typedef struct {
    ngx_event_t                 ev;
    ngx_llm_tier_id_t           tier;
    ngx_http_llm_main_conf_t   *lmcf;
} ngx_http_llm_hc_timer_t;


typedef struct {
    ngx_pool_t                 *pool;
    ngx_log_t                  *log;
    ngx_http_llm_main_conf_t   *lmcf;
    ngx_llm_tier_id_t           tier;
    ngx_uint_t                  pending;
    ngx_uint_t                  up;
    ngx_uint_t                  loaded;
    ngx_uint_t                  why;
    ngx_uint_t                  tags;      /* a /api/tags answer came */
    ngx_uint_t                  nmodels;
    uint64_t                    models[NGX_HTTP_LLM_MAX_MODELS];
} ngx_http_llm_hc_round_t;


#define NGX_HTTP_LLM_HC_PS    0
#define NGX_HTTP_LLM_HC_TAGS  1


static void ngx_http_llm_hc_start(ngx_event_t *ev);
static void ngx_http_llm_hc_done(ngx_http_llm_fetch_t *f);
static void ngx_http_llm_hc_end(ngx_http_llm_hc_round_t *round);
static cJSON *ngx_http_llm_hc_models(ngx_http_llm_fetch_t *f);
static ngx_uint_t ngx_http_llm_hc_ps(ngx_http_llm_hc_round_t *round,
    ngx_http_llm_fetch_t *f);
static void ngx_http_llm_hc_tags(ngx_http_llm_hc_round_t *round,
    ngx_http_llm_fetch_t *f);
static void ngx_http_llm_hc_add_model(ngx_http_llm_hc_round_t *round,
    cJSON *m);


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

    for (i = 0; i < lmcf->ntiers; i++) {

        t = ngx_pcalloc(cycle->pool, sizeof(ngx_http_llm_hc_timer_t));
        if (t == NULL) {
            return NGX_ERROR;
        }

        t->tier = (ngx_llm_tier_id_t) i;
        t->lmcf = lmcf;

        ngx_http_llm_start_timer(&t->ev, ngx_http_llm_hc_start, t,
                                 cycle->log);
    }

    return NGX_OK;
}


static void
ngx_http_llm_hc_start(ngx_event_t *ev)
{
    ngx_uint_t                      i, j, k;
    ngx_str_t                       uri;
    ngx_pool_t                     *pool;
    ngx_http_llm_tier_t            *tier;
    ngx_http_llm_fetch_t           *f;
    ngx_http_llm_hc_timer_t        *t;
    ngx_http_llm_hc_round_t        *round;
    ngx_http_upstream_server_t     *server;
    ngx_http_upstream_srv_conf_t   *uscf;

    static ngx_str_t  tags = ngx_string("/api/tags");

    t = ev->data;

    if (ngx_exiting) {
        return;
    }

    ngx_add_timer(ev, t->lmcf->health_interval);

    if (!ngx_http_llm_elect(&t->lmcf->tiers[t->tier].sh->check_started,
                            t->lmcf->health_interval))
    {
        return;
    }

    tier = &t->lmcf->tiers[t->tier];
    uscf = tier->uscf;

    if (tier->api == NGX_HTTP_LLM_API_OPENAI) {
        /* no /api/ps to ask: its answers feed its breaker */
        return;
    }

    if (uscf == NULL || uscf->servers == NULL || uscf->servers->nelts == 0) {
        return;
    }

    pool = ngx_create_pool(4096, ev->log);
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
    round->why = NGX_HTTP_LLM_WHY_FETCH;

    server = uscf->servers->elts;

    /* one pending slot for this loop, so no answer ends the round early */
    round->pending = 1;

    for (i = 0; i < uscf->servers->nelts; i++) {
        for (j = 0; j < server[i].naddrs; j++) {
            for (k = NGX_HTTP_LLM_HC_PS; k <= NGX_HTTP_LLM_HC_TAGS; k++) {
                uri = (k == NGX_HTTP_LLM_HC_PS) ? t->lmcf->health_uri : tags;

                f = ngx_http_llm_fetch(pool, ev->log, &server[i].addrs[j],
                                       &tier->host, "GET", &uri, NULL,
                                       t->lmcf->health_timeout,
                                       NGX_HTTP_LLM_HC_MAX_ANSWER,
                                       ngx_http_llm_hc_done, round);
                if (f == NULL) {
                    continue;
                }

                f->index = k;
                round->pending++;
            }
        }
    }

    if (--round->pending == 0) {
        ngx_http_llm_hc_end(round);
    }
}


static void
ngx_http_llm_hc_done(ngx_http_llm_fetch_t *f)
{
    ngx_http_llm_hc_round_t  *round = f->data;

    ngx_uint_t  resident;

    if (f->index == NGX_HTTP_LLM_HC_PS) {
        resident = ngx_http_llm_hc_ps(round, f);

        /*
         * each server's own residency, for llm_router_balance: unknown
         * while it does not answer the list of its loaded models
         */
        ngx_http_llm_server_resident(round->lmcf, round->tier,
                                     ngx_http_llm_server_key(f->pc.sockaddr,
                                                             f->pc.socklen),
                                     resident);

    } else {
        ngx_http_llm_hc_tags(round, f);
    }

    if (--round->pending == 0) {
        ngx_http_llm_hc_end(round);
    }
}


static void
ngx_http_llm_hc_end(ngx_http_llm_hc_round_t *round)
{
    ngx_http_llm_tier_health(round->lmcf, round->tier, round->up,
                             round->loaded, round->why, round->log);

    if (round->tags) {
        ngx_http_llm_tier_models(round->lmcf, round->tier, round->models,
                                 round->nmodels);
    }

    ngx_destroy_pool(round->pool);
}


/* the answer's "models" array, or NULL (the tree is the caller's) */

static cJSON *
ngx_http_llm_hc_models(ngx_http_llm_fetch_t *f)
{
    cJSON  *root;

    if (f->error != NGX_HTTP_LLM_FETCH_OK || f->status != NGX_HTTP_OK) {
        return NULL;
    }

    root = cJSON_ParseWithLength((char *) f->body.data, f->body.len);

    if (root != NULL && !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(
                                           root, "models")))
    {
        cJSON_Delete(root);
        return NULL;
    }

    return root;
}


/*
 * /api/ps: up, and is the tier's model among those loaded?  Returns this
 * server's answer: NGX_HTTP_LLM_YES, _NO, or _UNKNOWN (no list came)
 */

static ngx_uint_t
ngx_http_llm_hc_ps(ngx_http_llm_hc_round_t *round, ngx_http_llm_fetch_t *f)
{
    cJSON       *root, *m, *name;
    ngx_str_t   *model;
    ngx_uint_t   here;

    if (f->error != NGX_HTTP_LLM_FETCH_OK) {
        ngx_log_error(NGX_LOG_INFO, round->log, 0,
                      "llm router: health check of %V: %s",
                      f->pc.name, ngx_http_llm_fetch_error(f));

        if (round->why >= NGX_HTTP_LLM_WHY_FETCH) {
            round->why = NGX_HTTP_LLM_WHY_FETCH + f->error;
        }

        return NGX_HTTP_LLM_UNKNOWN;
    }

    if (f->status != NGX_HTTP_OK) {
        /* a status says more than a failed connection to another server */
        if (round->why >= NGX_HTTP_LLM_WHY_FETCH
            || f->status == NGX_HTTP_FORBIDDEN)
        {
            round->why = f->status;
        }

        return NGX_HTTP_LLM_UNKNOWN;
    }

    round->up = 1;

    root = ngx_http_llm_hc_models(f);

    if (root == NULL) {
        return NGX_HTTP_LLM_UNKNOWN;
    }

    model = &round->lmcf->tiers[round->tier].model;

    if (round->loaded == NGX_HTTP_LLM_UNKNOWN) {
        round->loaded = NGX_HTTP_LLM_NO;
    }

    here = 0;

    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "models")) {
        name = cJSON_GetObjectItemCaseSensitive(m, "model");

        if (!cJSON_IsString(name)) {
            name = cJSON_GetObjectItemCaseSensitive(m, "name");
        }

        if (cJSON_IsString(name)
            && ngx_llm_model_equal(name->valuestring,
                                   ngx_strlen(name->valuestring),
                                   (char *) model->data, model->len))
        {
            round->loaded = NGX_HTTP_LLM_YES;
            here = 1;
        }

        ngx_http_llm_hc_add_model(round, m);
    }

    cJSON_Delete(root);

    return here ? NGX_HTTP_LLM_YES : NGX_HTTP_LLM_NO;
}


static void
ngx_http_llm_hc_tags(ngx_http_llm_hc_round_t *round, ngx_http_llm_fetch_t *f)
{
    cJSON  *root, *m;

    root = ngx_http_llm_hc_models(f);

    if (root == NULL) {
        return;
    }

    round->tags = 1;

    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "models")) {
        ngx_http_llm_hc_add_model(round, m);
    }

    cJSON_Delete(root);
}


static void
ngx_http_llm_hc_add_model(ngx_http_llm_hc_round_t *round, cJSON *m)
{
    cJSON       *name;
    uint64_t     h;
    ngx_uint_t   i;

    name = cJSON_GetObjectItemCaseSensitive(m, "model");

    if (!cJSON_IsString(name)) {
        name = cJSON_GetObjectItemCaseSensitive(m, "name");
    }

    if (!cJSON_IsString(name)) {
        return;
    }

    h = ngx_llm_model_hash(name->valuestring, ngx_strlen(name->valuestring));

    if (h == 0) {
        return;
    }

    for (i = 0; i < round->nmodels; i++) {
        if (round->models[i] == h) {
            return;
        }
    }

    if (round->nmodels < NGX_HTTP_LLM_MAX_MODELS) {
        round->models[round->nmodels++] = h;
    }
}
