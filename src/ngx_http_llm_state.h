
/*
 * Copyright (C) ngx_llm_router authors
 *
 * State shared by all workers: per-tier in-flight counts, failures,
 * circuit breaker, health check results, each server's residency and
 * in-flight count, and the latest GPU readings.
 */


#ifndef _NGX_HTTP_LLM_STATE_H_INCLUDED_
#define _NGX_HTTP_LLM_STATE_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


#define NGX_HTTP_LLM_BREAKER_CLOSED     0
#define NGX_HTTP_LLM_BREAKER_OPEN       1
#define NGX_HTTP_LLM_BREAKER_HALF_OPEN  2

#define NGX_HTTP_LLM_UNKNOWN            0
#define NGX_HTTP_LLM_YES                1
#define NGX_HTTP_LLM_NO                 2

#define NGX_HTTP_LLM_MAX_MODELS         64

/* why a health check found a tier down: an HTTP status, or this + error */
#define NGX_HTTP_LLM_WHY_FETCH          1000


/* what the response cache did with a request: a metric label too */

typedef enum {
    NGX_HTTP_LLM_CACHE_NONE = 0,
    NGX_HTTP_LLM_CACHE_HIT,
    NGX_HTTP_LLM_CACHE_MISS,
    NGX_HTTP_LLM_CACHE_BYPASS,
    NGX_HTTP_LLM_CACHE_ERROR,
    NGX_HTTP_LLM_CACHE_HIT_SIMILAR   /* a near-identical prompt's answer */
} ngx_http_llm_cache_e;


#define NGX_HTTP_LLM_MAX_SERVERS  16   /* a tier's servers with a residency */


typedef struct {
    ngx_atomic_t    key;           /* the server's address, hashed; 0: free */
    ngx_atomic_t    resident;      /* NGX_HTTP_LLM_YES, _NO, _UNKNOWN */
    ngx_atomic_t    inflight;      /* sent by llm_router_balance, not ended */
} ngx_http_llm_server_sh_t;


#define NGX_HTTP_LLM_M_CLASSES    4     /* simple, medium, complex, none */
#define NGX_HTTP_LLM_M_CACHE      6     /* off, hit, miss, bypass, error,
                                           hit-similar */
#define NGX_HTTP_LLM_M_CODES      5     /* 2xx 3xx 4xx 5xx other */
#define NGX_HTTP_LLM_M_BUCKETS    13    /* 12 bounds and +Inf */
#define NGX_HTTP_LLM_M_SCORES     10
#define NGX_HTTP_LLM_M_FALLBACK   4     /* 502 503 504 error */
#define NGX_HTTP_LLM_M_WORKERS    128
#define NGX_HTTP_LLM_M_RECENT     32    /* requests in the recent ring */

/* a recent request's "who": a tier's slot, or the cache, or no one */
#define NGX_HTTP_LLM_WHO_CACHE    NGX_LLM_MAX_TIERS
#define NGX_HTTP_LLM_WHO_NONE     (NGX_LLM_MAX_TIERS + 1)


typedef struct {
    ngx_atomic_t    bucket[NGX_HTTP_LLM_M_BUCKETS];
    ngx_atomic_t    sum_ms;
    ngx_atomic_t    count;
} ngx_http_llm_hist_t;


/*
 * One routed request, as the status page lists it: what was decided and
 * how it went, never its prompt.  seq is the request's number + 1, and 0
 * while a worker writes the entry: a reader keeps an entry only if seq
 * is the one it expects before and after copying it.
 */

typedef struct {
    ngx_atomic_t    seq;
    uint64_t        end_ms;       /* when it ended, ms since the epoch */
    uint32_t        duration_ms;
    uint16_t        score_milli;  /* 0 to 1000 */
    uint16_t        status;       /* HTTP */
    u_char          who;          /* tier slot, WHO_CACHE, WHO_NONE */
    u_char          cls;          /* NGX_HTTP_LLM_M_CLASSES - 1: none */
    u_char          reason;       /* ngx_llm_reason_e */
    u_char          cache;        /* ngx_http_llm_cache_e */
} ngx_http_llm_recent_t;


/* requests answered by one tier, by the cache, or by no one */

typedef struct {
    ngx_atomic_t         requests[NGX_HTTP_LLM_M_CLASSES]
                                 [NGX_LLM_REASON_COUNT]
                                 [NGX_HTTP_LLM_M_CACHE];
    ngx_atomic_t         responses[NGX_HTTP_LLM_M_CODES];
    ngx_http_llm_hist_t  duration;
} ngx_http_llm_served_t;


/*
 * A tier's slot in the zone.  Slots go by the tier's name, not by its
 * place in the configuration: after a reload that adds, removes or
 * reorders tiers, each keeps its counts, and the requests of old workers
 * still end on the right one.
 */

struct ngx_http_llm_tier_sh_s {
    u_char                          name[NGX_HTTP_LLM_TIER_NAME_LEN];

    ngx_atomic_t                    inflight;
    ngx_atomic_t                    failures;     /* consecutive */
    ngx_atomic_t                    breaker;
    ngx_atomic_t                    opened_at;    /* msec */
    ngx_atomic_t                    probing;      /* half-open probe out */
    ngx_atomic_t                    health;       /* up: YES, down: NO */
    ngx_atomic_t                    loaded;       /* model loaded */
    ngx_atomic_t                    checked_at;   /* msec of last check */
    ngx_atomic_t                    check_started;
    ngx_atomic_t                    requests;
    ngx_atomic_t                    fallbacks;    /* away from this tier */
    ngx_atomic_t                    down_why;     /* NGX_HTTP_LLM_WHY_* */
    ngx_atomic_t                    refused;      /* 401/403 last seen */
    ngx_atomic_t                    refusals;     /* answers 401/403 */
    ngx_atomic_t                    nmodels;
    ngx_atomic_t                    models[NGX_HTTP_LLM_MAX_MODELS];
                                                  /* its servers' models,
                                                     ngx_llm_model_hash() */

    /* metrics */
    ngx_http_llm_served_t           served;
    ngx_http_llm_hist_t             ttfb;
    ngx_atomic_t                    others;      /* in flight from the other
                                                    routers (llm_router_share) */
    ngx_atomic_t                    grant;       /* the most this router may
                                                    have in flight on the tier
                                                    (llm_router_share) */
    ngx_atomic_t                    wanted;      /* requests its grant turned
                                                    away since the last
                                                    exchange with Redis */
    ngx_atomic_t                    budget_tokens;   /* counted against
                                                        its budgets */
    ngx_atomic_t                    budget_refusals; /* skipped: spent */
    ngx_atomic_t                    prompt_tokens;
    ngx_atomic_t                    completion_tokens;
    ngx_atomic_t                    generation_us;
    ngx_atomic_t                    fallbacks_to[NGX_LLM_MAX_TIERS]
                                                [NGX_HTTP_LLM_M_FALLBACK];
                                                  /* by the other's slot */
    ngx_atomic_t                    health_checks[2];    /* up, down */
    ngx_atomic_t                    affinity[2];  /* conversations sent to
                                                     their server, not */

    /*
     * each server's residency of the tier's model (its /api/ps) and
     * requests in flight (llm_router_balance)
     */
    ngx_http_llm_server_sh_t        servers[NGX_HTTP_LLM_MAX_SERVERS];
};


typedef struct {
    ngx_atomic_t                    used;         /* bytes */
    ngx_atomic_t                    total;        /* bytes */
    ngx_atomic_t                    busy;         /* percent + 1, 0 none */
    ngx_atomic_t                    temp;         /* millidegrees + 1 */
    ngx_atomic_t                    power;        /* microwatts + 1 */
    ngx_atomic_t                    read_at;      /* msec, 0 never */
    ngx_atomic_t                    polled_at;    /* msec, poll election */
    ngx_atomic_t                    ok;           /* last poll worked */
} ngx_http_llm_gpu_sh_t;


struct ngx_http_llm_sh_s {
    ngx_http_llm_tier_sh_t          tiers[NGX_LLM_MAX_TIERS];
    ngx_http_llm_served_t           by_cache;     /* answered from the cache */
    ngx_http_llm_served_t           by_none;      /* answered by the router:
                                                     refused, bad, failed */
    ngx_atomic_t                    score[NGX_HTTP_LLM_M_SCORES];
    ngx_atomic_t                    score_sum_milli;
    ngx_atomic_t                    score_count;
    ngx_atomic_t                    cache[NGX_HTTP_LLM_M_CACHE];
    ngx_atomic_t                    cache_waits;    /* single-flight */
    ngx_atomic_t                    cache_stores;
    ngx_atomic_t                    redis[NGX_HTTP_LLM_M_WORKERS];
                                                  /* per worker: YES, NO */
    ngx_http_llm_gpu_sh_t           gpus[NGX_HTTP_LLM_MAX_GPUS];
    ngx_atomic_t                    router;       /* its name in Redis */
    ngx_atomic_t                    share_started;
    ngx_atomic_t                    share_read_at;   /* when the exchange
                                                        whose grants hold
                                                        was sent */
    ngx_atomic_t                    share_routers;   /* others seen */
    ngx_atomic_t                    share_since;     /* first started */
    ngx_atomic_t                    share_seq;       /* exchanges sent */
    ngx_atomic_t                    share_applied;   /* the one whose
                                                        grants hold */
    ngx_atomic_t                    share_alone;     /* no grant: logged */
    ngx_atomic_t                    recent_next;  /* requests so far */
    ngx_http_llm_recent_t           recent[NGX_HTTP_LLM_M_RECENT];
};


char *ngx_http_llm_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* gives each tier its slot in the state; NGX_ERROR if none is left */
ngx_int_t ngx_http_llm_tiers_bind(ngx_http_llm_main_conf_t *lmcf,
    ngx_log_t *log);

/* who answered: the tiers, then "cache", then "none"; NULL past them */
ngx_http_llm_served_t *ngx_http_llm_served_at(
    ngx_http_llm_main_conf_t *lmcf, ngx_uint_t k, ngx_str_t *label);

/* elects one worker per interval for a periodic job; returns 1 if it won */
ngx_uint_t ngx_http_llm_elect(ngx_atomic_t *last, ngx_msec_t interval);

void ngx_http_llm_inflight_add(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_atomic_int_t n);
ngx_uint_t ngx_http_llm_breaker_state(ngx_http_llm_main_conf_t *lmcf,
    ngx_uint_t tier);
ngx_uint_t ngx_http_llm_tier_down(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_uint_t *probe);
ngx_uint_t ngx_http_llm_probe_take(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier);
void ngx_http_llm_tier_result(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_uint_t ok, ngx_uint_t probing,
    ngx_log_t *log);
void ngx_http_llm_tier_health(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_uint_t up, ngx_uint_t loaded, ngx_uint_t why,
    ngx_log_t *log);
void ngx_http_llm_tier_answered(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_uint_t status, ngx_log_t *log);
ngx_uint_t ngx_http_llm_refusal(ngx_uint_t status);
void ngx_http_llm_tier_models(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, uint64_t *models, ngx_uint_t n);
ngx_atomic_uint_t ngx_http_llm_server_key(struct sockaddr *sa,
    socklen_t len);
ngx_http_llm_server_sh_t *ngx_http_llm_server(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_atomic_uint_t key, ngx_uint_t claim);
void ngx_http_llm_server_resident(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_atomic_uint_t key, ngx_uint_t resident);
ngx_uint_t ngx_http_llm_server_is_resident(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_atomic_uint_t key);
ngx_uint_t ngx_http_llm_tier_has_model(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, uint64_t model);
size_t ngx_http_llm_why(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_uint_t why, ngx_uint_t health, u_char *buf,
    size_t size);
double ngx_http_llm_gpu_vram(ngx_http_llm_main_conf_t *lmcf, ngx_uint_t gpu);


#endif /* _NGX_HTTP_LLM_STATE_H_INCLUDED_ */
