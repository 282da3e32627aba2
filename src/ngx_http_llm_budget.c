
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Token budgets for paid tiers.
 *
 *   llm_router_budget cloud 200000 per=1d key=$http_authorization;
 *
 * The tokens a tenant (the key's value) spent on a tier in the current
 * period are kept in Redis under llm:budget:<tier>:<period>:<tenant hash>,
 * so every worker and every router in front of the same Redis shares
 * them.  Before a tier is picked, one MGET asks for the tenant's spend on
 * every budgeted tier; a tier whose budget is spent is skipped by the
 * policy (reason "budget").  When the request ends, the prompt and answer
 * tokens the tier reported (the answer's final chunk) are added with
 * INCRBY, and the key expires after its period.  Redis down or slow: the
 * budgeted tiers count as spent (fail closed: a paid tier is never used
 * without its spend known).
 */


#include "ngx_http_llm_budget.h"
#include "ngx_http_llm_ctx.h"
#include "ngx_http_llm_state.h"
#include "ngx_http_llm_metrics.h"
#include "ngx_http_llm_redis.h"
#include "ngx_llm_cache_key.h"


#define NGX_HTTP_LLM_BUDGET_KEY_LEN                                           \
    (sizeof("llm:budget:") - 1 + NGX_HTTP_LLM_TIER_NAME_LEN + 1              \
     + NGX_TIME_T_LEN + 1 + 16)


static void ngx_http_llm_budget_done(void *data, redisReply *reply);
static size_t ngx_http_llm_budget_key(ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_tier_t *tier, u_char *buf);
static void ngx_http_llm_budget_cleanup(void *data);
static void ngx_http_llm_budget_ignore(void *data, redisReply *reply);


/* llm_router_budget TIER TOKENS per=TIME key=VALUE; */

char *
ngx_http_llm_budget(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    time_t                             period;
    ngx_int_t                          n;
    ngx_str_t                         *value, v;
    ngx_uint_t                         i, t;
    ngx_http_llm_tier_t               *tier;
    ngx_http_complex_value_t          *key;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;
    tier = NULL;

    for (t = 0; t < lmcf->ntiers; t++) {
        if (lmcf->tiers[t].name.len == value[1].len
            && ngx_strncmp(lmcf->tiers[t].name.data, value[1].data,
                           value[1].len) == 0)
        {
            tier = &lmcf->tiers[t];
            break;
        }
    }

    if (tier == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" %V: no such tier (declare it with "
                           "\"llm_router_tier\" first)", &cmd->name,
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (tier->budget) {
        return "is duplicate";
    }

    n = ngx_atoi(value[2].data, value[2].len);

    if (n == NGX_ERROR || n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid tokens \"%V\" in \"%V\", it must be a "
                           "positive number", &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    period = 0;
    key = NULL;

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "per=", 4) == 0) {
            v.data = value[i].data + 4;
            v.len = value[i].len - 4;

            period = ngx_parse_time(&v, 1);

            if (period == (time_t) NGX_ERROR || period == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" in \"%V\", it must be a "
                                   "time such as \"per=1d\"", &value[i],
                                   &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "key=", 4) == 0) {
            key = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
            if (key == NULL) {
                return NGX_CONF_ERROR;
            }

            v.data = value[i].data + 4;
            v.len = value[i].len - 4;

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

            ccv.cf = cf;
            ccv.value = &v;
            ccv.complex_value = key;

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\"",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (period == 0 || key == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" %V: \"per=\" and \"key=\" are needed",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    if (lmcf->redis == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs \"llm_redis\" (declared before it)",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    tier->budget = n;
    tier->budget_period = period;
    tier->budget_key = key;
    lmcf->budgets = 1;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_llm_budget_check(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                    *p;
    size_t                    *argvlen;
    ngx_str_t                  tenant;
    ngx_uint_t                 i, n;
    const char               **argv;
    ngx_pool_cleanup_t        *cln;
    ngx_http_llm_tier_t       *tier;
    ngx_llm_sha256_t           h;
    ngx_http_llm_main_conf_t  *lmcf;
    u_char                     digest[NGX_LLM_SHA256_LEN];

    lmcf = ctx->lmcf;

    argv = ngx_palloc(r->pool, (lmcf->ntiers + 1) * sizeof(char *));
    argvlen = ngx_palloc(r->pool, (lmcf->ntiers + 1) * sizeof(size_t));
    p = ngx_pnalloc(r->pool, lmcf->ntiers * NGX_HTTP_LLM_BUDGET_KEY_LEN);
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (argv == NULL || argvlen == NULL || p == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_llm_budget_cleanup;
    cln->data = ctx;

    ctx->budget_at = ngx_time();

    argv[0] = "MGET";
    argvlen[0] = 4;
    n = 1;

    for (i = 0; i < lmcf->ntiers; i++) {
        tier = &lmcf->tiers[i];

        if (tier->budget == 0) {
            continue;
        }

        if (ngx_http_complex_value(r, tier->budget_key, &tenant) != NGX_OK) {
            return NGX_ERROR;
        }

        /* one hash per tier: each budget has its own key */
        ngx_llm_sha256_init(&h);
        ngx_llm_sha256_update(&h, tenant.data, tenant.len);
        ngx_llm_sha256_final(&h, digest);
        ngx_hex_dump(ctx->budget_tenant[i], digest, 8);

        argv[n] = (char *) p;
        argvlen[n] = ngx_http_llm_budget_key(ctx, tier, p);
        p += argvlen[n];
        n++;
    }

    /* fail closed: until Redis says otherwise, every budget is spent */
    for (i = 0; i < lmcf->ntiers; i++) {
        if (lmcf->tiers[i].budget) {
            ctx->spent |= 1u << i;
        }
    }

    ctx->budget_cmd = ngx_http_llm_redis_send(n, argv, argvlen,
                                              ngx_http_llm_budget_done, ctx);
    if (ctx->budget_cmd == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm router: redis not connected, the budgeted tiers "
                      "are skipped");
        return NGX_DECLINED;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm router: budgets: MGET of %ui", n - 1);

    return NGX_DONE;
}


static void
ngx_http_llm_budget_done(void *data, redisReply *reply)
{
    ngx_http_llm_ctx_t  *ctx = data;

    ngx_uint_t                 i, k;
    ngx_int_t                  spent;
    redisReply                *e;
    ngx_http_llm_tier_t       *tier;
    ngx_http_llm_main_conf_t  *lmcf;

    ctx->budget_cmd = NULL;
    lmcf = ctx->lmcf;

    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY) {

        for (i = 0, k = 0; i < lmcf->ntiers; i++) {
            tier = &lmcf->tiers[i];

            if (tier->budget == 0) {
                continue;
            }

            if (k >= reply->elements) {
                break;
            }

            e = reply->element[k++];
            spent = 0;

            if (e->type == REDIS_REPLY_STRING) {
                spent = ngx_atoi((u_char *) e->str, e->len);

                if (spent == NGX_ERROR) {
                    continue;              /* unreadable: stays spent */
                }
            }

            if ((ngx_uint_t) spent < tier->budget) {
                ctx->spent &= ~(1u << i);

            } else {
                (void) ngx_atomic_fetch_add(&tier->sh->budget_refusals, 1);
            }

            ngx_log_debug3(NGX_LOG_DEBUG_HTTP,
                           ctx->request->connection->log, 0,
                           "llm router: budget of %V: %i of %ui spent",
                           &tier->name, spent, tier->budget);
        }
    }

    ngx_http_llm_resume(ctx->request, ctx, NGX_HTTP_LLM_BUDGETED);
}


/* llm:budget:<tier>:<period start>:<tenant hash> */

static size_t
ngx_http_llm_budget_key(ngx_http_llm_ctx_t *ctx, ngx_http_llm_tier_t *tier,
    u_char *buf)
{
    time_t  start;

    start = ctx->budget_at - ctx->budget_at % tier->budget_period;

    return ngx_sprintf(buf, "llm:budget:%V:%T:%*s", &tier->name, start,
                       (size_t) 16,
                       ctx->budget_tenant[tier - ctx->lmcf->tiers])
           - buf;
}


/* the request ends: its tokens count against its tier's budget */

static void
ngx_http_llm_budget_cleanup(void *data)
{
    ngx_http_llm_ctx_t  *ctx = data;

    u_char                 key[NGX_HTTP_LLM_BUDGET_KEY_LEN];
    u_char                 n[NGX_INT_T_LEN], ttl[NGX_TIME_T_LEN];
    const char            *argv[3];
    size_t                 argvlen[3];
    ngx_uint_t             tokens;
    ngx_http_llm_tier_t   *tier;

    if (ctx->budget_cmd != NULL) {
        ngx_http_llm_redis_forget(ctx->budget_cmd);
        ctx->budget_cmd = NULL;
    }

    if (ctx->counted == NGX_LLM_NO_TIER) {
        return;
    }

    tier = &ctx->lmcf->tiers[ctx->counted];

    if (tier->budget == 0) {
        return;
    }

    ngx_http_llm_metrics_tokens(ctx);

    tokens = ctx->tokens.in + ctx->tokens.out;

    if (!ctx->tokens.seen || tokens == 0) {
        return;
    }

    (void) ngx_atomic_fetch_add(&tier->sh->budget_tokens, tokens);

    /* the request's pool is being destroyed: the key is on the stack */

    argv[0] = "INCRBY";
    argvlen[0] = 6;
    argv[1] = (char *) key;
    argvlen[1] = ngx_http_llm_budget_key(ctx, tier, key);
    argv[2] = (char *) n;
    argvlen[2] = ngx_sprintf(n, "%ui", tokens) - n;

    (void) ngx_http_llm_redis_send(3, argv, argvlen,
                                   ngx_http_llm_budget_ignore, NULL);

    /* kept a period past its own, then gone */
    argv[0] = "EXPIRE";
    argvlen[0] = 6;
    argv[2] = (char *) ttl;
    argvlen[2] = ngx_sprintf(ttl, "%T", 2 * tier->budget_period) - ttl;

    (void) ngx_http_llm_redis_send(3, argv, argvlen,
                                   ngx_http_llm_budget_ignore, NULL);
}


static void
ngx_http_llm_budget_ignore(void *data, redisReply *reply)
{
}
