
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The answers the router assembles from its servers' own: the union of
 * their /api/tags, /api/ps and /v1/models (one entry per model, as Ollama
 * names them) plus the router's aliases ("auto") as well-formed entries,
 * the lowest /api/version, a /api/show for an alias, and one load or
 * unload answer for an alias sent to every tier.  Pure C over cJSON: no
 * nginx types.
 */


#ifndef _NGX_LLM_LISTS_H_INCLUDED_
#define _NGX_LLM_LISTS_H_INCLUDED_


#include <stddef.h>


/* one server's answer */
typedef struct {
    int           tier;         /* index of the tier it serves */
    int           status;       /* HTTP status; 0: no answer */
    const char   *body;
    size_t        len;
} ngx_llm_answer_t;


typedef struct {
    const char  **aliases;      /* "auto", "jarvis", ... */
    size_t        naliases;
    const char  **tier_models;  /* each tier's model, by tier index */
    size_t        ntiers;
    const char   *router;       /* "ngx_llm_router/0.2.0" */
    long          started;      /* the router's start, Unix time */
} ngx_llm_lists_conf_t;


/*
 * Each returns a NUL-terminated JSON text from cJSON's allocator (free it
 * as cJSON's hooks say), or NULL when no server gave a usable answer or
 * memory ran out.  *status is the HTTP status to answer with.
 */
char *ngx_llm_lists_tags(ngx_llm_answer_t *a, size_t n,
    ngx_llm_lists_conf_t *conf);
char *ngx_llm_lists_ps(ngx_llm_answer_t *a, size_t n,
    ngx_llm_lists_conf_t *conf);
char *ngx_llm_lists_models(ngx_llm_answer_t *a, size_t n,
    ngx_llm_lists_conf_t *conf);
char *ngx_llm_lists_model(ngx_llm_answer_t *a, size_t n,
    ngx_llm_lists_conf_t *conf, const char *id, size_t id_len);
char *ngx_llm_lists_version(ngx_llm_answer_t *a, size_t n,
    ngx_llm_lists_conf_t *conf);
char *ngx_llm_lists_show(ngx_llm_answer_t *a, size_t n,
    ngx_llm_lists_conf_t *conf, const char *alias);
char *ngx_llm_lists_load(ngx_llm_answer_t *a, size_t n,
    ngx_llm_lists_conf_t *conf, const char *alias, int unload,
    int *status);

/* compares two version strings ("0.12.3", "0.13.0-rc1"): <0, 0, >0 */
int ngx_llm_version_cmp(const char *a, const char *b);


#endif /* _NGX_LLM_LISTS_H_INCLUDED_ */
