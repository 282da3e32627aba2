
/*
 * Copyright (C) ngx_llm_router authors
 *
 * libFuzzer target: the canonical cache key.  The key of a parsed request
 * is deterministic, and two tenants never share it.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_llm_cache_key.h"


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char               a[NGX_LLM_KEY_HEX], b[NGX_LLM_KEY_HEX],
                       c[NGX_LLM_KEY_HEX];
    ngx_llm_request_t  req;
    ngx_llm_dialect_e  d;

    if (size < 1) {
        return 0;
    }

    d = (ngx_llm_dialect_e) (data[0] % 5 + 1);

    if (ngx_llm_request_parse(&req, d, (const char *) data + 1, size - 1,
                              NULL)
        == 0)
    {
        if (ngx_llm_request_tree(&req) != 0) {
            abort();
        }

        if (ngx_llm_cache_key(&req, req.model, (unsigned char *) "t1", 2, a)
            != 0
            || ngx_llm_cache_key(&req, req.model, (unsigned char *) "t1", 2, b)
               != 0
            || ngx_llm_cache_key(&req, req.model, (unsigned char *) "t2", 2, c)
               != 0)
        {
            abort();
        }

        if (memcmp(a, b, sizeof(a)) != 0 || memcmp(a, c, sizeof(a)) == 0) {
            abort();
        }
    }

    ngx_llm_request_free(&req);

    return 0;
}
