
/*
 * Copyright (C) ngx_llm_router authors
 *
 * llm_router_share redis [interval=200ms] [lease=2s]: routers in front of
 * the same tiers share their in-flight counts through Redis, so that
 * together they do not send a tier more than its max_inflight.
 *
 * At each interval one worker of each router (elected in the zone):
 *
 *   publishes its router's counts, a lease that expires by itself:
 *       SET llm:share:<router> "<count> <count> ..." PX <lease>
 *       SADD llm:share:routers <router>
 *   reads the others':
 *       SMEMBERS llm:share:routers, then MGET of their leases;
 *       a router whose lease expired (it crashed, or lost Redis) is
 *       dropped from the set, its counts freed.
 *
 * The sums of the other routers' counts, per tier (by name: every router
 * lists its tiers in its own order), go into the zone, and the policy and
 * the slot reservation add them to the router's own.  Requests never wait
 * on Redis: they read the last sums.  Redis down, or a reading older than
 * a lease: the others count 0, each router counts alone, and the log says
 * so once.
 */


#include "ngx_http_llm_share.h"
#include "ngx_http_llm_state.h"
#include "ngx_http_llm_util.h"
#include "ngx_http_llm_redis.h"


#define NGX_HTTP_LLM_SHARE_VALUE  (NGX_LLM_MAX_TIERS                          \
                                   * (NGX_HTTP_LLM_TIER_NAME_LEN + 24))


#define NGX_HTTP_LLM_SHARE_ROUTERS  64


typedef struct {
    ngx_event_t                  ev;
    ngx_http_llm_main_conf_t    *lmcf;
    ngx_uint_t                   alone;     /* logged that we count alone */

    /* the other routers asked for, between SMEMBERS and MGET */
    ngx_uint_t                   n;
    u_char                       id[NGX_HTTP_LLM_SHARE_ROUTERS][32];
    size_t                       len[NGX_HTTP_LLM_SHARE_ROUTERS];
} ngx_http_llm_share_timer_t;


static void ngx_http_llm_share_tick(ngx_event_t *ev);
static void ngx_http_llm_share_members(void *data, redisReply *reply);
static void ngx_http_llm_share_counts(void *data, redisReply *reply);
static void ngx_http_llm_share_alone(ngx_http_llm_share_timer_t *t,
    const char *why);
static void ngx_http_llm_share_ignore(void *data, redisReply *reply);


static ngx_http_llm_share_timer_t  ngx_http_llm_share_timer;


/* llm_router_share redis [interval=TIME] [lease=TIME]; */

char *
ngx_http_llm_share(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    value = cf->args->elts;

    if (lmcf->share_interval) {
        return "is duplicate";
    }

    if (ngx_strcmp(value[1].data, "redis") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" in \"%V\", it must be \"redis\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (lmcf->redis == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs \"llm_redis\" (declared before it)",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    lmcf->share_interval = 200;
    lmcf->share_lease = 2000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_http_llm_param_msec(&value[i], "interval=",
                                    &lmcf->share_interval)
            == NGX_OK
            || ngx_http_llm_param_msec(&value[i], "lease=",
                                       &lmcf->share_lease)
               == NGX_OK)
        {
            continue;
        }

        goto invalid;
    }

    if (lmcf->share_interval == 0
        || lmcf->share_lease < 2 * lmcf->share_interval)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": the lease must be at least twice the "
                           "interval", &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\"",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


ngx_int_t
ngx_http_llm_share_init_process(ngx_cycle_t *cycle,
    ngx_http_llm_main_conf_t *lmcf)
{
    if (lmcf->share_interval == 0 || lmcf->sh == NULL || !lmcf->used) {
        return NGX_OK;
    }

    while (lmcf->sh->router == 0) {
        /* this router's name in Redis, the same for all its workers */
        (void) ngx_atomic_cmp_set(&lmcf->sh->router, 0,
                                  ((ngx_atomic_uint_t) ngx_random() << 1)
                                  | 1);
    }

    ngx_http_llm_share_timer.lmcf = lmcf;

    ngx_http_llm_start_timer(&ngx_http_llm_share_timer.ev,
                             ngx_http_llm_share_tick,
                             &ngx_http_llm_share_timer, cycle->log);

    return NGX_OK;
}


static void
ngx_http_llm_share_tick(ngx_event_t *ev)
{
    ngx_http_llm_share_timer_t *t = ev->data;

    u_char                    *p, id[NGX_INT_T_LEN + 16], ms[NGX_INT_T_LEN];
    u_char                     value[NGX_HTTP_LLM_SHARE_VALUE];
    const char                *argv[5];
    size_t                     argvlen[5];
    ngx_uint_t                 i;
    ngx_http_llm_sh_t         *sh;
    ngx_http_llm_main_conf_t  *lmcf;

    if (ngx_exiting) {
        return;
    }

    lmcf = t->lmcf;
    sh = lmcf->sh;

    ngx_add_timer(ev, lmcf->share_interval);

    /* a reading older than a lease is no reading */
    if (sh->share_read_at
        && (ngx_msec_int_t) (ngx_current_msec - sh->share_read_at)
           > (ngx_msec_int_t) lmcf->share_lease)
    {
        for (i = 0; i < lmcf->ntiers; i++) {
            lmcf->tiers[i].sh->others = 0;
        }
    }

    if (!ngx_http_llm_elect(&sh->share_started, lmcf->share_interval)) {
        return;
    }

    if (!ngx_http_llm_redis_ready()) {
        ngx_http_llm_share_alone(t, "redis is not connected");
        return;
    }

    /* "<tier>=<count> ..." for every tier of this router */

    p = value;

    for (i = 0; i < lmcf->ntiers; i++) {
        p = ngx_sprintf(p, "%V=%uA ", &lmcf->tiers[i].name,
                        lmcf->tiers[i].sh->inflight);
    }

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (char *) id;
    argvlen[1] = ngx_sprintf(id, "llm:share:%xA", sh->router) - id;
    argv[2] = (char *) value;
    argvlen[2] = p - value;
    argv[3] = "PX";
    argvlen[3] = 2;
    argv[4] = (char *) ms;
    argvlen[4] = ngx_sprintf(ms, "%M", lmcf->share_lease) - ms;

    (void) ngx_http_llm_redis_send(5, argv, argvlen,
                                   ngx_http_llm_share_ignore, NULL);

    argv[0] = "SADD";
    argvlen[0] = 4;
    argv[2] = (char *) id + sizeof("llm:share:") - 1;
    argvlen[2] = argvlen[1] - (sizeof("llm:share:") - 1);
    argv[1] = "llm:share:routers";
    argvlen[1] = sizeof("llm:share:routers") - 1;

    (void) ngx_http_llm_redis_send(3, argv, argvlen,
                                   ngx_http_llm_share_ignore, NULL);

    argv[0] = "SMEMBERS";
    argvlen[0] = 8;

    if (ngx_http_llm_redis_send(2, argv, argvlen, ngx_http_llm_share_members,
                                t)
        == NULL)
    {
        ngx_http_llm_share_alone(t, "redis refused the command");
    }
}


/* the other routers: ask for their leases */

static void
ngx_http_llm_share_members(void *data, redisReply *reply)
{
    ngx_http_llm_share_timer_t *t = data;

    u_char        own[32], keys[NGX_HTTP_LLM_SHARE_ROUTERS][48];
    size_t        i, ownlen, argvlen[NGX_HTTP_LLM_SHARE_ROUTERS + 1];
    const char   *argv[NGX_HTTP_LLM_SHARE_ROUTERS + 1];
    redisReply   *e;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_http_llm_share_alone(t, "no answer to SMEMBERS");
        return;
    }

    ownlen = ngx_sprintf(own, "%xA", t->lmcf->sh->router) - own;

    argv[0] = "MGET";
    argvlen[0] = 4;
    t->n = 0;

    for (i = 0; i < reply->elements && t->n < NGX_HTTP_LLM_SHARE_ROUTERS;
         i++)
    {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 31
            || (e->len == ownlen && ngx_memcmp(e->str, own, ownlen) == 0))
        {
            continue;
        }

        ngx_memcpy(t->id[t->n], e->str, e->len);
        t->len[t->n] = e->len;

        argv[t->n + 1] = (char *) keys[t->n];
        argvlen[t->n + 1] = ngx_sprintf(keys[t->n], "llm:share:%*s",
                                        e->len, e->str)
                            - keys[t->n];
        t->n++;
    }

    if (t->n == 0) {
        /* no other router: nothing to add */
        ngx_http_llm_share_counts(t, NULL);
        return;
    }

    if (ngx_http_llm_redis_send(t->n + 1, argv, argvlen,
                                ngx_http_llm_share_counts, t)
        == NULL)
    {
        ngx_http_llm_share_alone(t, "redis refused the command");
    }
}


/* the other routers' counts, summed by tier name */

static void
ngx_http_llm_share_counts(void *data, redisReply *reply)
{
    ngx_http_llm_share_timer_t *t = data;

    u_char                    *p, *end, *eq, *sp;
    size_t                     argvlen[3];
    ngx_int_t                  n;
    ngx_str_t                  name;
    ngx_uint_t                 i, k, sum[NGX_LLM_MAX_TIERS], routers;
    const char                *argv[3];
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = t->lmcf;

    ngx_memzero(sum, sizeof(sum));
    routers = 0;

    if (t->n && (reply == NULL || reply->type != REDIS_REPLY_ARRAY)) {
        ngx_http_llm_share_alone(t, "no answer to MGET");
        return;
    }

    for (k = 0; t->n && k < reply->elements && k < t->n; k++) {

        if (reply->element[k]->type != REDIS_REPLY_STRING) {
            /* an expired lease: that router is gone, its counts freed */
            argv[0] = "SREM";
            argvlen[0] = 4;
            argv[1] = "llm:share:routers";
            argvlen[1] = sizeof("llm:share:routers") - 1;
            argv[2] = (char *) t->id[k];
            argvlen[2] = t->len[k];

            (void) ngx_http_llm_redis_send(3, argv, argvlen,
                                           ngx_http_llm_share_ignore, NULL);
            continue;
        }

        p = (u_char *) reply->element[k]->str;
        end = p + reply->element[k]->len;

        routers++;

        while (p < end) {
            sp = ngx_strlchr(p, end, ' ');
            sp = sp ? sp : end;
            eq = ngx_strlchr(p, sp, '=');

            if (eq != NULL) {
                name.data = p;
                name.len = eq - p;
                n = ngx_atoi(eq + 1, sp - eq - 1);

                for (i = 0; n > 0 && i < lmcf->ntiers; i++) {
                    if (lmcf->tiers[i].name.len == name.len
                        && ngx_strncmp(lmcf->tiers[i].name.data, name.data,
                                       name.len) == 0)
                    {
                        sum[i] += n;
                    }
                }
            }

            p = sp + 1;
        }
    }

    for (i = 0; i < lmcf->ntiers; i++) {
        lmcf->tiers[i].sh->others = sum[i];
    }

    lmcf->sh->share_read_at = ngx_current_msec;
    lmcf->sh->share_routers = routers;

    if (t->alone) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "llm router: counts shared with the other routers "
                      "again");
        t->alone = 0;
    }
}


static void
ngx_http_llm_share_alone(ngx_http_llm_share_timer_t *t, const char *why)
{
    ngx_uint_t                 i;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = t->lmcf;

    for (i = 0; i < lmcf->ntiers; i++) {
        lmcf->tiers[i].sh->others = 0;
    }

    if (!t->alone) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "llm router: in-flight counts not shared (%s): this "
                      "router counts alone", why);
        t->alone = 1;
    }
}


static void
ngx_http_llm_share_ignore(void *data, redisReply *reply)
{
}
