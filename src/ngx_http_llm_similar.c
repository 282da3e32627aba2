
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The similar-prompt cache (L2).  On an exact miss the cache asks this
 * zone for an answer stored for a near-identical prompt: same partition
 * (tenant, model or class, dialect, stream, parameters, system prompt,
 * earlier turns), and a last user message the signature comparison
 * (ngx_llm_similar.c) finds near enough, with the same numbers, negations
 * and words.  The zone keeps no answer: only the signature and the Redis
 * key of the answer, which the cache then fetches as on an exact hit.
 *
 * A fixed array of entries, allocated once, in LRU order; a lookup scans
 * the entries under the zone's mutex (a 64-byte compare each, then the
 * signature comparison for the few of the same partition): a thousand
 * entries cost microseconds, and no allocation ever fails after start.
 */


#include "ngx_http_llm_similar.h"
#include "ngx_llm_cache_key.h"


typedef struct {
    ngx_queue_t                     queue;       /* lru or free */
    u_char                          part[NGX_LLM_KEY_HEX];
    u_char                          key[NGX_LLM_KEY_HEX];
    time_t                          stored;
    ngx_llm_sig_t                   sig;
} ngx_http_llm_similar_entry_t;


typedef struct {
    ngx_queue_t                     lru;         /* most recent first */
    ngx_queue_t                     free;
    ngx_http_llm_similar_stats_t    stats;
    ngx_uint_t                      nentries;
    ngx_http_llm_similar_entry_t    entries[1];
} ngx_http_llm_similar_sh_t;


typedef struct {
    ngx_uint_t                      entries;
    ngx_http_llm_similar_sh_t      *sh;
    ngx_slab_pool_t                *shpool;
} ngx_http_llm_similar_ctx_t;


static ngx_int_t ngx_http_llm_similar_init(ngx_shm_zone_t *shm_zone,
    void *data);
static size_t ngx_http_llm_similar_size(ngx_uint_t entries);


/* llm_cache_similar_zone NAME:SIZE [entries=N]; */

char *
ngx_http_llm_similar_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    u_char                      *p;
    size_t                       min;
    ssize_t                      size;
    ngx_int_t                    n;
    ngx_str_t                   *value, name, s;
    ngx_uint_t                   i;
    ngx_http_llm_similar_ctx_t  *ctx;

    if (lmcf->similar_zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_similar_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx->entries = NGX_HTTP_LLM_SIMILAR_ENTRIES;

    p = (u_char *) ngx_strchr(value[1].data, ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\" in \"%V\", "
                           "it must be NAME:SIZE", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"%V\"",
                           &s, &cmd->name);
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "entries=", 8) == 0) {
            n = ngx_atoi(value[i].data + 8, value[i].len - 8);

            if (n <= 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" in \"%V\", it must be "
                                   "a number above 0", &value[i],
                                   &cmd->name);
                return NGX_CONF_ERROR;
            }

            ctx->entries = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\"",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    min = ngx_http_llm_similar_size(ctx->entries);

    if (size < (ssize_t) min) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small for %ui entries in "
                           "\"%V\", it must be at least %uzk",
                           &name, ctx->entries, &cmd->name, min / 1024 + 1);
        return NGX_CONF_ERROR;
    }

    lmcf->similar_zone = ngx_shared_memory_add(cf, &name, size,
                                               &ngx_http_llm_router_module);
    if (lmcf->similar_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (lmcf->similar_zone->data != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used", &name);
        return NGX_CONF_ERROR;
    }

    lmcf->similar_zone->init = ngx_http_llm_similar_init;
    lmcf->similar_zone->data = ctx;

    return NGX_CONF_OK;
}


/* the entries, the slab pool's own pages, and room */

static size_t
ngx_http_llm_similar_size(ngx_uint_t entries)
{
    return ngx_align(sizeof(ngx_http_llm_similar_sh_t)
                     + (entries - 1) * sizeof(ngx_http_llm_similar_entry_t),
                     ngx_pagesize)
           + 8 * ngx_pagesize;
}


static ngx_int_t
ngx_http_llm_similar_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llm_similar_ctx_t  *octx = data;

    size_t                       size;
    ngx_uint_t                   i;
    ngx_slab_pool_t             *shpool;
    ngx_http_llm_similar_sh_t   *sh;
    ngx_http_llm_similar_ctx_t  *ctx;

    ctx = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    ctx->shpool = shpool;

    if (octx != NULL && octx->sh != NULL
        && octx->sh->nentries == ctx->entries)
    {
        /* a reload with the same zone: the entries stay */
        ctx->sh = octx->sh;
        return NGX_OK;
    }

    if (shm_zone->shm.exists && shpool->data != NULL) {
        sh = shpool->data;

        if (sh->nentries == ctx->entries) {
            ctx->sh = sh;
            return NGX_OK;
        }
    }

    size = sizeof(ngx_http_llm_similar_sh_t)
           + (ctx->entries - 1) * sizeof(ngx_http_llm_similar_entry_t);

    /*
     * Another entries= than before, on a reload: old workers still read
     * the old entries, so they stay, and the new ones must fit beside them.
     */

    sh = ngx_slab_calloc(shpool, size);
    if (sh == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "llm_cache_similar_zone \"%V\" cannot hold %ui "
                      "entries beside the old ones: restart nginx, or "
                      "give the zone another name",
                      &shm_zone->shm.name, ctx->entries);
        return NGX_ERROR;
    }

    ngx_queue_init(&sh->lru);
    ngx_queue_init(&sh->free);

    for (i = 0; i < ctx->entries; i++) {
        ngx_queue_insert_tail(&sh->free, &sh->entries[i].queue);
    }

    sh->nentries = ctx->entries;
    sh->stats.capacity = ctx->entries;

    shpool->data = sh;
    ctx->sh = sh;

    shpool->log_ctx = ngx_slab_alloc(shpool,
                                     sizeof(" in llm_cache_similar_zone \"\"")
                                     + shm_zone->shm.name.len);
    if (shpool->log_ctx != NULL) {
        ngx_sprintf(shpool->log_ctx, " in llm_cache_similar_zone \"%V\"%Z",
                    &shm_zone->shm.name);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_similar_find(ngx_shm_zone_t *zone, const u_char *partition,
    const ngx_llm_sig_t *sig, double threshold, u_char *key,
    double *similarity, time_t *age)
{
    double                         sim, best, near;
    ngx_queue_t                   *q;
    ngx_llm_similar_e              why, reject;
    ngx_http_llm_similar_sh_t     *sh;
    ngx_http_llm_similar_ctx_t    *ctx;
    ngx_http_llm_similar_entry_t  *e, *found;

    ctx = zone->data;
    sh = ctx->sh;

    (void) ngx_atomic_fetch_add(&sh->stats.lookups, 1);

    found = NULL;
    best = -1;
    near = -1;
    reject = NGX_LLM_SIMILAR_MATCH;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (q = ngx_queue_head(&sh->lru);
         q != ngx_queue_sentinel(&sh->lru);
         q = ngx_queue_next(q))
    {
        e = ngx_queue_data(q, ngx_http_llm_similar_entry_t, queue);

        if (ngx_memcmp(e->part, partition, NGX_LLM_KEY_HEX) != 0) {
            continue;
        }

        why = ngx_llm_sig_compare(sig, &e->sig, threshold, &sim);

        if (why == NGX_LLM_SIMILAR_MATCH) {
            if (sim > best) {
                best = sim;
                found = e;
            }

        } else if (sim > near) {
            /* the nearest refused entry says why there was no hit */
            near = sim;
            reject = why;
        }
    }

    if (found != NULL) {
        ngx_queue_remove(&found->queue);
        ngx_queue_insert_head(&sh->lru, &found->queue);

        ngx_memcpy(key, found->key, NGX_LLM_KEY_HEX);
        *similarity = best;
        *age = ngx_time() - found->stored;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (found == NULL) {
        if (reject != NGX_LLM_SIMILAR_MATCH) {
            (void) ngx_atomic_fetch_add(&sh->stats.rejects[reject], 1);
            *similarity = near;
        }

        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* a stored answer: its prompt's signature, most recent first */

void
ngx_http_llm_similar_add(ngx_shm_zone_t *zone, const u_char *partition,
    const ngx_llm_sig_t *sig, const u_char *key)
{
    ngx_queue_t                   *q;
    ngx_http_llm_similar_sh_t     *sh;
    ngx_http_llm_similar_ctx_t    *ctx;
    ngx_http_llm_similar_entry_t  *e;

    ctx = zone->data;
    sh = ctx->sh;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    /* the same answer again (stored after its entry expired): refreshed */

    for (q = ngx_queue_head(&sh->lru);
         q != ngx_queue_sentinel(&sh->lru);
         q = ngx_queue_next(q))
    {
        e = ngx_queue_data(q, ngx_http_llm_similar_entry_t, queue);

        if (ngx_memcmp(e->key, key, NGX_LLM_KEY_HEX) == 0) {
            ngx_queue_remove(q);
            goto fill;
        }
    }

    if (!ngx_queue_empty(&sh->free)) {
        q = ngx_queue_head(&sh->free);
        ngx_queue_remove(q);
        (void) ngx_atomic_fetch_add(&sh->stats.entries, 1);

    } else {
        /* full: the least recently used goes */
        q = ngx_queue_last(&sh->lru);
        ngx_queue_remove(q);
    }

    e = ngx_queue_data(q, ngx_http_llm_similar_entry_t, queue);

fill:

    ngx_memcpy(e->part, partition, NGX_LLM_KEY_HEX);
    ngx_memcpy(e->key, key, NGX_LLM_KEY_HEX);
    e->sig = *sig;
    e->stored = ngx_time();

    ngx_queue_insert_head(&sh->lru, &e->queue);

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/* the answer is gone from Redis (expired, evicted, flushed) */

void
ngx_http_llm_similar_forget(ngx_shm_zone_t *zone, const u_char *key)
{
    ngx_queue_t                   *q;
    ngx_http_llm_similar_sh_t     *sh;
    ngx_http_llm_similar_ctx_t    *ctx;
    ngx_http_llm_similar_entry_t  *e;

    ctx = zone->data;
    sh = ctx->sh;

    (void) ngx_atomic_fetch_add(&sh->stats.stale, 1);

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (q = ngx_queue_head(&sh->lru);
         q != ngx_queue_sentinel(&sh->lru);
         q = ngx_queue_next(q))
    {
        e = ngx_queue_data(q, ngx_http_llm_similar_entry_t, queue);

        if (ngx_memcmp(e->key, key, NGX_LLM_KEY_HEX) == 0) {
            ngx_queue_remove(q);
            ngx_queue_insert_head(&sh->free, q);
            (void) ngx_atomic_fetch_add(&sh->stats.entries, -1);
            break;
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


void
ngx_http_llm_similar_bypassed(ngx_shm_zone_t *zone)
{
    ngx_http_llm_similar_ctx_t  *ctx;

    ctx = zone->data;

    (void) ngx_atomic_fetch_add(&ctx->sh->stats.bypassed, 1);
}


ngx_http_llm_similar_stats_t *
ngx_http_llm_similar_stats(ngx_shm_zone_t *zone)
{
    ngx_http_llm_similar_ctx_t  *ctx;

    ctx = zone->data;

    return ctx->sh ? &ctx->sh->stats : NULL;
}
