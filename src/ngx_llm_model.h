
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Model names as Ollama reads them (types/model/name.go, ParseName and
 * Name.EqualFold in github.com/ollama/ollama): "[host/][namespace/]model
 * [:tag]", host "registry.ollama.ai", namespace "library" and tag
 * "latest" when absent, compared without regard to case.  So
 * "GPT-OSS:20B", "library/gpt-oss:20b" and
 * "registry.ollama.ai/library/gpt-oss:20b" are one model, and "llama3.2"
 * is "llama3.2:latest".  No nginx types.
 */


#ifndef _NGX_LLM_MODEL_H_INCLUDED_
#define _NGX_LLM_MODEL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_LLM_MODEL_MAX  600    /* a normalised name fits in this */


/*
 * Writes the full, lowercased name ("registry.ollama.ai/library/
 * llama3.2:latest") into out (NGX_LLM_MODEL_MAX bytes, NUL-terminated);
 * returns its length, 0 for an empty or over-long name.
 */
size_t ngx_llm_model_normalize(const char *name, size_t len, char *out);

/* 1 when Ollama would take both names for the same model */
int ngx_llm_model_equal(const char *a, size_t alen, const char *b,
    size_t blen);

/*
 * 1 for a model that always thinks, whatever "think" says: gpt-oss
 * (Ollama's shouldUseHarmony, server/routes.go), by its name.
 */
int ngx_llm_model_always_thinks(const char *name, size_t len);

/* a 64-bit hash of the normalised name, never 0; 0 for a bad name */
uint64_t ngx_llm_model_hash(const char *name, size_t len);


#endif /* _NGX_LLM_MODEL_H_INCLUDED_ */
