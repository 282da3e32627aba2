
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Model names as Ollama's ParseName reads them (types/model/name.go).
 */


#include "unit.h"
#include "ngx_llm_model.h"


static const char *
norm(const char *s)
{
    static char  out[NGX_LLM_MODEL_MAX];

    if (ngx_llm_model_normalize(s, strlen(s), out) == 0) {
        return "(none)";
    }

    return out;
}


#define SAME(a, b)                                                            \
    CHECK(ngx_llm_model_equal(a, strlen(a), b, strlen(b)), a " == " b)
#define DIFF(a, b)                                                            \
    CHECK(!ngx_llm_model_equal(a, strlen(a), b, strlen(b)), a " != " b)
#define NORM(a, want)                                                         \
    CHECK(strcmp(norm(a), want) == 0, a " -> " want)


int
main(void)
{
    NORM("llama3.2:3b", "registry.ollama.ai/library/llama3.2:3b");
    NORM("llama3.2", "registry.ollama.ai/library/llama3.2:latest");
    NORM("GPT-OSS:20B", "registry.ollama.ai/library/gpt-oss:20b");
    NORM("library/llama3.2:3b", "registry.ollama.ai/library/llama3.2:3b");
    NORM("registry.ollama.ai/library/llama3.2:3b",
         "registry.ollama.ai/library/llama3.2:3b");
    NORM("https://registry.ollama.ai/library/llama3.2:3b",
         "registry.ollama.ai/library/llama3.2:3b");
    NORM("hf.co/bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M",
         "hf.co/bartowski/llama-3.2-3b-instruct-gguf:q4_k_m");
    NORM("myhost:5000/team/model:v1", "myhost:5000/team/model:v1");
    NORM("myhost:5000/team/model", "myhost:5000/team/model:latest");
    NORM("jdoe/mymodel", "registry.ollama.ai/jdoe/mymodel:latest");
    NORM("model:", "registry.ollama.ai/library/model:!missing!");
    NORM("/model", "registry.ollama.ai/!missing!/model:latest");
    NORM("", "(none)");

    SAME("gpt-oss:20b", "GPT-OSS:20B");
    SAME("gpt-oss:20b", "library/gpt-oss:20b");
    SAME("gpt-oss:20b", "registry.ollama.ai/library/gpt-oss:20b");
    SAME("nomic-embed-text", "nomic-embed-text:latest");
    SAME("Llama3.2:3B", "REGISTRY.OLLAMA.AI/LIBRARY/llama3.2:3b");
    DIFF("llama3.2:3b", "llama3.2");
    DIFF("llama3.2:3b", "llama3.2:1b");
    DIFF("jdoe/llama3.2:3b", "llama3.2:3b");
    DIFF("other.host/library/llama3.2:3b", "llama3.2:3b");
    DIFF("auto", "auto:1b");

    CHECK(ngx_llm_model_hash("gpt-oss:20b", 11)
          == ngx_llm_model_hash("GPT-OSS:20B", 11), "hash folds case");
    CHECK(ngx_llm_model_hash("llama3.2", 8)
          == ngx_llm_model_hash("llama3.2:latest", 15), "hash adds :latest");
    CHECK(ngx_llm_model_hash("llama3.2:3b", 11)
          != ngx_llm_model_hash("llama3.2:1b", 11), "hash tells tags apart");
    CHECK(ngx_llm_model_hash("", 0) == 0, "no hash for no name");

    UNIT_DONE("model");
}
