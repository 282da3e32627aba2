
/*
 * Copyright (C) ngx_llm_router authors
 *
 * libFuzzer target: request parsing, prompt extraction and the model
 * rewrite, for every dialect.  The first byte picks the dialect.  After a
 * successful rewrite of a non-JARVIS body, the result must parse again and
 * carry the new model at top level.
 */


#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ngx_llm_request.h"


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char                      *out;
    size_t                     len;
    cJSON                     *again, *model;
    ngx_llm_request_t          req, req2;
    ngx_llm_dialect_e          d;
    ngx_llm_classify_state_t   st;
    ngx_llm_classify_conf_t    conf;
    ngx_llm_classify_result_t  res;

    if (size < 1) {
        return 0;
    }

    d = (ngx_llm_dialect_e) (data[0] % 5 + 1);

    ngx_llm_classify_conf_default(&conf);
    ngx_llm_classify_begin(&st);

    if (ngx_llm_request_parse(&req, d, (const char *) data + 1, size - 1, &st)
        != 0)
    {
        if (req.error == NULL) {
            abort();
        }

        ngx_llm_request_free(&req);
        return 0;
    }

    ngx_llm_classify_end(&st, NULL, &conf, &res);

    if (!(res.score >= 0 && res.score <= 1)) {
        abort();
    }

    len = ngx_llm_request_rewrite(&req, (const char *) data + 1, size - 1,
                                  "m\"x", &out);
    if (len == 0 || out == NULL) {
        abort();
    }

    if (d != NGX_LLM_DIALECT_JARVIS) {
        again = cJSON_ParseWithLength(out, len);

        if (again == NULL) {
            abort();
        }

        /* any spelling a JSON decoder may take for it */
        model = cJSON_GetObjectItem(again, "model");

        if (!cJSON_IsString(model) || strcmp(model->valuestring, "m\"x") != 0)
        {
            abort();
        }

        cJSON_Delete(again);

        /* and it is still a valid request of its dialect */
        if (ngx_llm_request_parse(&req2, d, out, len, NULL) != 0) {
            abort();
        }

        ngx_llm_request_free(&req2);
    }

    free(out);
    ngx_llm_request_free(&req);

    return 0;
}
