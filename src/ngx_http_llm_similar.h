
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The similar-prompt cache (L2): a zone of shared memory holding, for the
 * last answers stored in Redis, the signature of the prompt's last user
 * message, its partition and the Redis key of the answer, in LRU order.
 */


#ifndef _NGX_HTTP_LLM_SIMILAR_H_INCLUDED_
#define _NGX_HTTP_LLM_SIMILAR_H_INCLUDED_


#include "ngx_http_llm_router_module.h"
#include "ngx_llm_similar.h"


#define NGX_HTTP_LLM_SIMILAR_ENTRIES  1000
#define NGX_HTTP_LLM_SIMILAR_REASONS  (NGX_LLM_SIMILAR_INVALID + 1)


typedef struct {
    ngx_atomic_t                lookups;
    ngx_atomic_t                hits;
    ngx_atomic_t                stale;       /* matched, gone from Redis */
    ngx_atomic_t                bypassed;    /* not text only */
    ngx_atomic_t                rejects[NGX_HTTP_LLM_SIMILAR_REASONS];
    ngx_atomic_t                entries;
    ngx_atomic_t                capacity;
} ngx_http_llm_similar_stats_t;


char *ngx_http_llm_similar_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * NGX_OK: an entry of this partition whose prompt is near enough; its
 * Redis key (NGX_LLM_KEY_HEX bytes) is copied to key.  NGX_DECLINED: none.
 */
ngx_int_t ngx_http_llm_similar_find(ngx_shm_zone_t *zone,
    const u_char *partition, const ngx_llm_sig_t *sig, double threshold,
    u_char *key, double *similarity, time_t *age);
void ngx_http_llm_similar_add(ngx_shm_zone_t *zone, const u_char *partition,
    const ngx_llm_sig_t *sig, const u_char *key);
void ngx_http_llm_similar_forget(ngx_shm_zone_t *zone, const u_char *key);
void ngx_http_llm_similar_bypassed(ngx_shm_zone_t *zone);
ngx_http_llm_similar_stats_t *ngx_http_llm_similar_stats(
    ngx_shm_zone_t *zone);


#endif /* _NGX_HTTP_LLM_SIMILAR_H_INCLUDED_ */
