
/*
 * Copyright (C) ngx_llm_router authors
 *
 * A request's context and its progress, one state at a time:
 *
 *   NEW --------------------------> READY          the body is in memory
 *    `--> READING --(body read)--'    |
 *                                     |--> ANSWERED   by the router: an
 *                                     |               error, no tier, ...
 *                                     |--> ASKING --> ANSWERED
 *                                     |    (every server, for a list)
 *                                     |--> LOOKUP ---------> LOOKED_UP
 *                                     |    (Redis) `-> WAITING --^
 *                                     |          (single-flight)  |
 *                                     |                hit: REPLAYING
 *                                     |                miss: v
 *                                     |  (budgets: BUDGETING --> BUDGETED,
 *                                     |   Redis asked for the spends)
 *                                     `--------------------> ROUTED
 *                                                              |
 *          error_page brought it back from a failed tier:      v
 *          the next tier, or an answer            FAILED_OVER | ANSWERED
 *
 * READING, LOOKUP, WAITING, BUDGETING and ASKING are the suspended
 * states: the phase handler returned NGX_DONE with the request's count
 * raised, and the event that ends the wait (the body read, a Redis reply,
 * the last server's answer) wakes it.  Only ngx_http_llm_suspend() and
 * ngx_http_llm_wake() touch the count.  The phase handler acts on the
 * state; nothing else runs the phases.
 */


#ifndef _NGX_HTTP_LLM_CTX_H_INCLUDED_
#define _NGX_HTTP_LLM_CTX_H_INCLUDED_


#include "ngx_http_llm_router_module.h"
#include "ngx_http_llm_state.h"
#include "ngx_llm_similar.h"


typedef enum {
    NGX_HTTP_LLM_NEW = 0,
    NGX_HTTP_LLM_READING,
    NGX_HTTP_LLM_READY,
    NGX_HTTP_LLM_LOOKUP,
    NGX_HTTP_LLM_WAITING,
    NGX_HTTP_LLM_LOOKED_UP,
    NGX_HTTP_LLM_BUDGETING,
    NGX_HTTP_LLM_BUDGETED,
    NGX_HTTP_LLM_ROUTED,
    NGX_HTTP_LLM_FAILED_OVER,
    NGX_HTTP_LLM_REPLAYING,
    NGX_HTTP_LLM_ASKING,
    NGX_HTTP_LLM_ANSWERED
} ngx_http_llm_state_e;


typedef enum {
    NGX_HTTP_LLM_KIND_PROMPT = 0,   /* a prompt: classified, routed */
    NGX_HTTP_LLM_KIND_NAMED,        /* a body naming a model */
    NGX_HTTP_LLM_KIND_LOAD,         /* a prompt-less load */
    NGX_HTTP_LLM_KIND_UNLOAD,       /* keep_alive 0: an unload */
    NGX_HTTP_LLM_KIND_LIST,         /* a list asked of every server */
    NGX_HTTP_LLM_KIND_PASS          /* to one tier as it came */
} ngx_http_llm_kind_e;


/* the response cache's part: the lookup, single-flight and the copy */

typedef struct {
    ngx_http_llm_cache_e       status;
    u_char                     key[64];
    void                      *cmd;          /* pending Redis command */
    ngx_event_t                wait;         /* single-flight poll */
    ngx_msec_t                 wait_start;
    ngx_str_t                  hit;          /* a HIT's stored answer, */
    ngx_str_t                  model;        /* its model */
    ngx_str_t                  type;         /* and content type */
    ngx_chain_t               *copy;         /* of the response */
    ngx_chain_t              **copy_last;
    size_t                     copy_size;
    ngx_str_t                  copy_type;

    /* the similar-prompt cache: this prompt's partition and signature */
    u_char                     part[64];
    ngx_llm_sig_t             *sig;          /* NULL: not compared */
    u_char                     similar[64];  /* the Redis key it matched */
    double                     similarity;
    time_t                     age;

    unsigned                   copying:1;
    unsigned                   stored:1;
    unsigned                   leader:1;     /* holds the fill lock */
} ngx_http_llm_cache_ctx_t;


/* what the answer's final chunk said, for metrics and logs */

typedef struct {
    u_char                    *tail;         /* allocated on first use */
    size_t                     tail_len;
    ngx_uint_t                 in;
    ngx_uint_t                 out;
    ngx_uint_t                 eval_us;
    unsigned                   seen:1;
} ngx_http_llm_tokens_t;


struct ngx_http_llm_ctx_s {
    ngx_http_llm_state_e       state;
    ngx_http_request_t        *request;
    ngx_http_llm_main_conf_t  *lmcf;
    ngx_uint_t                 uri_changes;  /* r->uri_changes when last
                                                in a router location */
    ngx_llm_dialect_e          dialect;
    ngx_http_llm_kind_e        kind;
    ngx_str_t                  requested_model;

    /* the decision */
    ngx_llm_tier_id_t          tier;
    ngx_llm_reason_e           reason;
    ngx_llm_tier_id_t          pinned;
    ngx_llm_tier_id_t          counted;      /* in flight on */
    ngx_llm_tier_id_t          failed;       /* the tier that failed */
    ngx_uint_t                 tried;        /* a bit per tier asked */
    ngx_uint_t                 spent;        /* a bit per tier whose budget
                                                is spent */
    void                      *budget_cmd;   /* pending Redis command */
    time_t                     budget_at;
    u_char                     budget_tenant[NGX_LLM_MAX_TIERS][16];
    ngx_uint_t                 needs;        /* NGX_LLM_SERVES_* */
    ngx_uint_t                 failed_status;
    ngx_llm_class_e            cls;
    double                     score;

    /* the text as classified: $llm_features is worked out on first use */
    ngx_llm_classify_state_t   text;
    ngx_llm_classify_hints_t   hints;
    ngx_str_t                  features;

    /* kept from parse to rewrite: a cache lookup may come in between */
    ngx_llm_request_t          req;
    ngx_str_t                  body;

    ngx_http_llm_cache_ctx_t   cache;
    ngx_http_llm_tokens_t      tokens;
    void                      *translation;  /* of an api=openai answer */

    unsigned                   classified:1;
    unsigned                   stream:1;
    unsigned                   rewrite:1;    /* the model is a tier's */
    unsigned                   probing:1;    /* this request probes a tier */
    unsigned                   openai:1;     /* sent in OpenAI's dialect,
                                                answered in Ollama's */
};


ngx_http_llm_ctx_t *ngx_http_llm_ctx_create(ngx_http_request_t *r,
    ngx_llm_dialect_e dialect, ngx_http_llm_kind_e kind);
ngx_http_llm_ctx_t *ngx_http_llm_get_ctx(ngx_http_request_t *r);
ngx_llm_tier_id_t ngx_http_llm_tier_of(ngx_http_request_t *r);
void ngx_http_llm_set_state(ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_state_e state);
void ngx_http_llm_suspend(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_state_e state);
void ngx_http_llm_wake(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_state_e state);
void ngx_http_llm_resume(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_state_e state);
const char *ngx_http_llm_state_name(ngx_http_llm_state_e state);
ngx_str_t *ngx_http_llm_features(ngx_http_llm_ctx_t *ctx);


#endif /* _NGX_HTTP_LLM_CTX_H_INCLUDED_ */
