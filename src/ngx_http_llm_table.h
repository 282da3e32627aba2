
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The metrics table: one row per metric, naming it, saying what it
 * counts, its type, its labels, where its numbers are in the shared zone
 * and its key in the status JSON.  The Prometheus text, the JSON and the
 * HTML status page are all written from it.
 */


#ifndef _NGX_HTTP_LLM_TABLE_H_INCLUDED_
#define _NGX_HTTP_LLM_TABLE_H_INCLUDED_


#include "ngx_http_llm_router_module.h"
#include "ngx_http_llm_state.h"


#define NGX_HTTP_LLM_COUNTER     0
#define NGX_HTTP_LLM_GAUGE       1
#define NGX_HTTP_LLM_HISTOGRAM   2


/* whose the series are: the outer labels */

#define NGX_HTTP_LLM_BY_ZONE     0    /* one series, the zone's */
#define NGX_HTTP_LLM_BY_SERVED   1    /* tier="": the tiers, cache, none */
#define NGX_HTTP_LLM_BY_TIER     2    /* tier="": the tiers */
#define NGX_HTTP_LLM_BY_PAIR     3    /* from="",to="": two tiers */
#define NGX_HTTP_LLM_BY_GPU      4    /* gpu="": the GPUs */
#define NGX_HTTP_LLM_BY_SIMILAR  5    /* one series, the similar-prompt
                                         cache's zone (JSON: cache.similar) */
#define NGX_HTTP_LLM_BY_SERVER   6    /* tier="",server="": the servers of
                                         each tier's upstream{} */


/* row flags */

#define NGX_HTTP_LLM_F_NONZERO   0x01 /* series that are 0 are left out */
#define NGX_HTTP_LLM_F_REDIS     0x02 /* only when Redis is configured */
#define NGX_HTTP_LLM_F_JSON      0x04 /* JSON only: its name is not exported */
#define NGX_HTTP_LLM_F_CACHE     0x08 /* a zone row: in the JSON "cache" */
#define NGX_HTTP_LLM_F_OMIT      0x10 /* JSON: no key when unknown */
#define NGX_HTTP_LLM_F_SHARE     0x20 /* only with llm_router_share */

#define NGX_HTTP_LLM_MAX_LABELS  3
#define NGX_HTTP_LLM_MAX_BOUNDS  16


/* an inner label: its name and the values it takes */

typedef struct {
    char                          *name;
    ngx_uint_t                     first;     /* the first value shown */
    ngx_uint_t                     n;         /* values in the zone */
    char                         **values;    /* NULL: routing reasons;
                                                 n 0: the tier's model */
} ngx_http_llm_label_t;


/* a histogram's bounds, and their "le" labels as Prometheus shows them */

typedef struct {
    ngx_uint_t                     n;
    ngx_msec_t                    *bounds;
    char                         **le;
} ngx_http_llm_bounds_t;


typedef struct ngx_http_llm_metric_s  ngx_http_llm_metric_t;


/* one series: a row, its outer label's member and its inner labels */

typedef struct {
    ngx_http_llm_main_conf_t      *lmcf;
    ngx_http_llm_metric_t         *metric;
    u_char                        *base;      /* the member's numbers */
    ngx_uint_t                     who;       /* tier or GPU index */
    ngx_uint_t                     to;        /* a pair's second tier */
    ngx_addr_t                    *addr;      /* a server's */
    ngx_uint_t                     backup;    /* a backup server */
    ngx_str_t                      label[2];  /* the outer label(s) */
    ngx_uint_t                     at[NGX_HTTP_LLM_MAX_LABELS];
} ngx_http_llm_series_t;


/* a value: n / 10^digits, or unknown */

typedef struct {
    ngx_atomic_uint_t              n;
    ngx_uint_t                     digits;
    ngx_uint_t                     known;
} ngx_http_llm_value_t;


typedef struct {
    ngx_atomic_uint_t              bucket[NGX_HTTP_LLM_MAX_BOUNDS + 1];
    ngx_atomic_uint_t              sum;       /* sum / 10^digits */
    ngx_uint_t                     digits;
    ngx_atomic_uint_t              count;
} ngx_http_llm_hist_read_t;


typedef void (*ngx_http_llm_read_pt)(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
typedef void (*ngx_http_llm_read_hist_pt)(ngx_http_llm_series_t *s,
    ngx_http_llm_hist_read_t *h);


struct ngx_http_llm_metric_s {
    char                          *name;      /* Prometheus */
    char                          *help;
    ngx_uint_t                     type;
    ngx_uint_t                     by;
    ngx_http_llm_label_t          *labels[NGX_HTTP_LLM_MAX_LABELS];
    size_t                         offset;    /* in the member's struct */
    ngx_uint_t                     digits;
    ngx_http_llm_read_pt           read;      /* NULL: the atomic there */
    ngx_http_llm_bounds_t         *bounds;    /* a histogram's */
    ngx_http_llm_read_hist_pt      read_hist;
    char                          *json;      /* key, NULL: not in JSON */
    ngx_uint_t                     flags;
};


extern ngx_http_llm_metric_t   ngx_http_llm_metrics[];
extern ngx_http_llm_bounds_t   ngx_http_llm_duration_bounds;
extern ngx_http_llm_label_t    ngx_http_llm_label_class;
extern ngx_http_llm_label_t    ngx_http_llm_label_cache;
extern char                   *ngx_http_llm_type_names[];
extern char                   *ngx_http_llm_by_names[];


ngx_uint_t ngx_http_llm_metric_shown(ngx_http_llm_main_conf_t *lmcf,
    ngx_http_llm_metric_t *m);
ngx_uint_t ngx_http_llm_series_at(ngx_http_llm_main_conf_t *lmcf,
    ngx_http_llm_metric_t *m, ngx_uint_t k, ngx_http_llm_series_t *s);
ngx_uint_t ngx_http_llm_server_at(ngx_http_llm_main_conf_t *lmcf,
    ngx_uint_t k, ngx_http_llm_series_t *s);
void ngx_http_llm_series_value(ngx_http_llm_series_t *s,
    ngx_http_llm_value_t *v);
void ngx_http_llm_series_hist(ngx_http_llm_series_t *s,
    ngx_http_llm_hist_read_t *h);
ngx_uint_t ngx_http_llm_label_count(ngx_http_llm_label_t *l);
void ngx_http_llm_label_value(ngx_http_llm_series_t *s,
    ngx_http_llm_label_t *l, ngx_uint_t i, ngx_str_t *value);
double ngx_http_llm_quantile(ngx_http_llm_hist_t *h, double q);

/* the breaker: NGX_HTTP_LLM_BREAKER_CLOSED, _OPEN or _HALF_OPEN */
char *ngx_http_llm_breaker_name(ngx_uint_t state);


#endif /* _NGX_HTTP_LLM_TABLE_H_INCLUDED_ */
