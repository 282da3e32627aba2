
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Request dialects: read a JSON body, check it, feed the prompt text to
 * the classifier, and rewrite the model.  A request is read in one pass
 * (ngx_llm_request_scan.c); what that pass leaves undecided, and whatever
 * needs a tree (the cache key, translations), goes through cJSON.  Pure
 * C: no nginx types, so it is unit-tested and fuzzed on its own.
 */


#ifndef _NGX_LLM_REQUEST_H_INCLUDED_
#define _NGX_LLM_REQUEST_H_INCLUDED_


#include <stddef.h>

#include "ngx_llm_classify.h"
#include "ngx_llm_json.h"


typedef enum {
    NGX_LLM_DIALECT_NONE = 0,
    NGX_LLM_DIALECT_OLLAMA_GENERATE,
    NGX_LLM_DIALECT_OLLAMA_CHAT,
    NGX_LLM_DIALECT_OPENAI_CHAT,
    NGX_LLM_DIALECT_OPENAI_COMPLETIONS,
    NGX_LLM_DIALECT_JARVIS
} ngx_llm_dialect_e;


#define NGX_LLM_MAX_MODEL_KEYS  8

/* tokens given to gpt-oss to think in on top of a JARVIS max_tokens */
#define NGX_LLM_THINK_BUDGET    256


typedef struct {
    ngx_llm_dialect_e   dialect;

    /* the requested model, in model_buf or borrowed from the tree;
     * NULL if absent */
    const char         *model;

    int                 stream;           /* effective, after defaults */
    long                think_budget;     /* set by the caller: tokens
                                             added to a JARVIS request's
                                             max_tokens for gpt-oss to
                                             think in */
    int                 load;             /* no prompt: a load (Ollama) */
    int                 unload;           /* ... with keep_alive 0 */
    long                max_tokens;       /* 0: not given */
    unsigned            messages;

    /* spans of every top-level "model" value in the original body */
    size_t              model_start[NGX_LLM_MAX_MODEL_KEYS];
    size_t              model_end[NGX_LLM_MAX_MODEL_KEYS];
    unsigned            model_keys;

    /* where a "model" member can be inserted: just after the '{' */
    size_t              insert_at;

    unsigned            tools:1;          /* a non-empty "tools" */
    unsigned            images:1;         /* images or image parts */

    const char         *error;            /* static text when parse fails */

    const char         *body;             /* the body parsed, borrowed */
    size_t              len;

    void               *root;             /* cJSON tree, NULL until
                                             ngx_llm_request_tree() */
    int                 borrowed;         /* the tree's memory is not ours:
                                             free() only forgets it */

    char                model_buf[64];
} ngx_llm_request_t;


/* the Ollama and OpenAI endpoints that are not prompts */
typedef enum {
    NGX_LLM_EP_OTHER = 0,       /* anything else: the default tier */
    NGX_LLM_EP_ROOT,            /* GET|HEAD /: "Ollama is running" */
    NGX_LLM_EP_TAGS,            /* GET /api/tags */
    NGX_LLM_EP_PS,              /* GET /api/ps */
    NGX_LLM_EP_VERSION,         /* GET /api/version */
    NGX_LLM_EP_MODELS,          /* GET /v1/models */
    NGX_LLM_EP_MODEL_INFO,      /* GET /v1/models/{id} */
    NGX_LLM_EP_NAMED            /* a body naming a model: /api/show, ... */
} ngx_llm_endpoint_e;


ngx_llm_dialect_e ngx_llm_dialect_from_path(const char *path, size_t len);

/*
 * The endpoint of a path that is no prompt dialect; for MODEL_INFO *id
 * is the model's id in the path.  For NAMED, *keys lists the JSON keys
 * that may name the model, in Ollama's order.
 */
ngx_llm_endpoint_e ngx_llm_endpoint_from_path(const char *path, size_t len,
    const char **id, size_t *id_len, const char *const **keys);
ngx_llm_dialect_e ngx_llm_dialect_from_name(const char *name, size_t len);
const char *ngx_llm_dialect_name(ngx_llm_dialect_e dialect);
int ngx_llm_dialect_is_openai(ngx_llm_dialect_e dialect);

/*
 * Parses "body" (len bytes, need not be NUL terminated) as a request of
 * "dialect" and feeds its prompt text to "st" (may be NULL).  Returns 0,
 * or -1 with req->error set.  ngx_llm_request_free() must be called in
 * both cases.
 */
int ngx_llm_request_parse(ngx_llm_request_t *req, ngx_llm_dialect_e dialect,
    const char *body, size_t len, ngx_llm_classify_state_t *st);

/*
 * The same through a cJSON tree alone: what ngx_llm_request_parse() does
 * with the requests its one pass leaves undecided.  Both must agree on
 * every request (the request fuzzer checks it).
 */
int ngx_llm_request_parse_tree(ngx_llm_request_t *req,
    ngx_llm_dialect_e dialect, const char *body, size_t len,
    ngx_llm_classify_state_t *st);

/*
 * The request's cJSON tree, parsed from its body on first use (the body
 * must still be there): 0, or -1 when out of memory.
 */
int ngx_llm_request_tree(ngx_llm_request_t *req);

/*
 * Writes the body to send upstream with "model" in place of the requested
 * model into *out (malloc'ed, to be freed with free()); returns its length,
 * or 0 on allocation failure.  The JARVIS dialect is translated into an
 * Ollama generate request; other bodies are copied byte for byte but for
 * the model value.
 */
size_t ngx_llm_request_rewrite(ngx_llm_request_t *req, const char *body,
    size_t len, const char *model, char **out);

/*
 * Where a rewrite puts the model: the body's pieces, the model between
 * each two.  With no "model" member, two pieces around req->insert_at,
 * and the model goes in as a member ("model":"..."), followed by a comma
 * when the object has other members; else one piece more than the
 * values, each value replaced by the model as a JSON string.
 */
typedef struct {
    size_t              start[NGX_LLM_MAX_MODEL_KEYS + 1];
    size_t              end[NGX_LLM_MAX_MODEL_KEYS + 1];
    unsigned            n;
    unsigned            member:1;
    unsigned            comma:1;
} ngx_llm_request_cuts_t;

void ngx_llm_request_cuts(const ngx_llm_request_t *req, const char *body,
    size_t len, ngx_llm_request_cuts_t *cuts);

/*
 * The same for bodies that are not translated (all but JARVIS): the
 * result is written into a buffer from alloc(data, size), never freed
 * here.  Returns its length, or 0 when alloc() fails.
 */
size_t ngx_llm_request_rewrite_into(ngx_llm_request_t *req,
    const char *body, size_t len, const char *model,
    void *(*alloc)(void *data, size_t size), void *data, char **out);

void ngx_llm_request_free(ngx_llm_request_t *req);



#endif /* _NGX_LLM_REQUEST_H_INCLUDED_ */
