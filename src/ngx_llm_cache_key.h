
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Response cache key: SHA-256 over a canonical form of the request, so
 * that bodies differing only in key order or whitespace share an entry,
 * plus a tenant part, so that two tenants never do.  Pure C + cJSON.
 */


#ifndef _NGX_LLM_CACHE_KEY_H_INCLUDED_
#define _NGX_LLM_CACHE_KEY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "ngx_llm_request.h"


#define NGX_LLM_SHA256_LEN  32
#define NGX_LLM_KEY_HEX     (2 * NGX_LLM_SHA256_LEN)


typedef struct {
    uint32_t            state[8];
    uint64_t            bytes;
    unsigned char       block[64];
    size_t              used;
} ngx_llm_sha256_t;


/* 0 forces the portable rounds (tests); -1, the default, asks the CPU */
extern int  ngx_llm_sha256_hw;

void ngx_llm_sha256_init(ngx_llm_sha256_t *ctx);
void ngx_llm_sha256_update(ngx_llm_sha256_t *ctx, const void *data,
    size_t len);
void ngx_llm_sha256_final(ngx_llm_sha256_t *ctx,
    unsigned char out[NGX_LLM_SHA256_LEN]);

/*
 * Writes the hex key of a parsed request into hex (NGX_LLM_KEY_HEX bytes,
 * not NUL terminated).  "model" is the model the client asked for ("auto"
 * when absent), "tenant" the tenant part.  Returns 0, or -1 when out of
 * memory.
 */
int ngx_llm_cache_key(const ngx_llm_request_t *req, const char *model,
    const unsigned char *tenant, size_t tenant_len, char *hex);

/*
 * For the similar-prompt cache: the hex key of the request's partition
 * (the tenant, the dialect, "model" — the model or the class an alias
 * resolved to —, the parameters, the system prompt and every earlier
 * turn: the whole canonical form but the compared text) and that text,
 * the last user message or a generate request's prompt, borrowed from the
 * tree.  Returns 0; 1 when the request is not text only (images, tools,
 * a format schema, content in parts, the last message not the user's);
 * -1 when out of memory.
 */
int ngx_llm_cache_partition(const ngx_llm_request_t *req, const char *model,
    const unsigned char *tenant, size_t tenant_len, char *hex,
    const char **text, size_t *text_len);

/*
 * The hex key of any JSON body (a cJSON tree; an embeddings request, say):
 * the endpoint, the model it goes to, the tenant and the canonical body.
 */
int ngx_llm_cache_key_body(const void *root, const char *endpoint,
    const char *model, const unsigned char *tenant, size_t tenant_len,
    char *hex);


#endif /* _NGX_LLM_CACHE_KEY_H_INCLUDED_ */
