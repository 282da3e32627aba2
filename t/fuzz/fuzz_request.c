
/*
 * Copyright (C) ngx_llm_router authors
 *
 * libFuzzer target: request parsing, prompt extraction and the model
 * rewrite, for every dialect.  The first byte picks the dialect.  After a
 * successful rewrite of a non-JARVIS body, the result must parse again and
 * carry the new model at top level.  The one-pass reading and the cJSON
 * tree's must agree on every input: the verdict, every field, the score.
 */


#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ngx_llm_request.h"


static void
same(ngx_llm_request_t *a, ngx_llm_request_t *b)
{
    unsigned  i;

    if ((a->model == NULL) != (b->model == NULL)
        || (a->model != NULL && strcmp(a->model, b->model) != 0)
        || a->stream != b->stream || a->load != b->load
        || a->unload != b->unload || a->max_tokens != b->max_tokens
        || a->messages != b->messages || a->tools != b->tools
        || a->images != b->images || a->model_keys != b->model_keys
        || a->insert_at != b->insert_at)
    {
        abort();
    }

    for (i = 0; i < a->model_keys; i++) {
        if (a->model_start[i] != b->model_start[i]
            || a->model_end[i] != b->model_end[i])
        {
            abort();
        }
    }
}


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int                        rc, rc2;
    char                      *out;
    size_t                     len;
    cJSON                     *again, *model;
    ngx_llm_request_t          req, req2;
    ngx_llm_dialect_e          d;
    ngx_llm_classify_state_t   st, st2;
    ngx_llm_classify_conf_t    conf;
    ngx_llm_classify_result_t  res2;
    ngx_llm_classify_result_t  res;

    if (size < 1) {
        return 0;
    }

    d = (ngx_llm_dialect_e) (data[0] % 5 + 1);

    ngx_llm_classify_conf_default(&conf);
    ngx_llm_classify_begin(&st);
    ngx_llm_classify_begin(&st2);

    rc = ngx_llm_request_parse(&req, d, (const char *) data + 1, size - 1,
                               &st);
    rc2 = ngx_llm_request_parse_tree(&req2, d, (const char *) data + 1,
                                     size - 1, &st2);

    if (rc != rc2) {
        abort();
    }

    if (rc != 0) {
        if (req.error == NULL || strcmp(req.error, req2.error) != 0) {
            abort();
        }

        ngx_llm_request_free(&req);
        ngx_llm_request_free(&req2);
        return 0;
    }

    same(&req, &req2);
    ngx_llm_request_free(&req2);

    ngx_llm_classify_end(&st, NULL, &conf, &res);
    ngx_llm_classify_end(&st2, NULL, &conf, &res2);

    if (res.score != res2.score || res.cls != res2.cls) {
        abort();
    }

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
