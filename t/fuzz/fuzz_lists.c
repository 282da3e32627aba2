
/*
 * Copyright (C) ngx_llm_router authors
 *
 * libFuzzer target: the answers the router assembles from its servers'
 * own.  The input is split at NUL bytes into up to four server answers;
 * every assembler must take any bytes a server sends and give either
 * nothing or valid JSON, and a model name must normalise within bounds.
 */


#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ngx_llm_lists.h"
#include "ngx_llm_model.h"


static const char  *aliases[] = { "auto" };
static const char  *models[] = { "gpt-oss:20b", "llama3.2:3b" };


static void
check(char *out)
{
    cJSON  *root;

    if (out == NULL) {
        return;
    }

    root = cJSON_Parse(out);

    if (root == NULL) {
        abort();
    }

    cJSON_Delete(root);
    free(out);
}


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int                    status;
    char                   norm[NGX_LLM_MODEL_MAX];
    size_t                 n, i, start;
    ngx_llm_answer_t       a[4];
    ngx_llm_lists_conf_t   conf = { aliases, 1, models, 2, "r/1", 0 };

    n = 0;
    start = 0;

    for (i = 0; i <= size && n < 4; i++) {
        if (i == size || data[i] == '\0') {
            a[n].tier = (int) (n % 2);
            a[n].status = (start < size && data[start] == 'x') ? 500 : 200;
            a[n].body = (const char *) data + start;
            a[n].len = i - start;
            n++;
            start = i + 1;
        }
    }

    check(ngx_llm_lists_tags(a, n, &conf));
    check(ngx_llm_lists_ps(a, n, &conf));
    check(ngx_llm_lists_models(a, n, &conf));
    check(ngx_llm_lists_model(a, n, &conf, a[0].body,
                              a[0].len < 300 ? a[0].len : 300));
    check(ngx_llm_lists_version(a, n, &conf));
    check(ngx_llm_lists_show(a, n, &conf, "auto"));

    status = 0;
    free(ngx_llm_lists_load(a, n, &conf, "auto", 0, &status));

    if (ngx_llm_model_normalize(a[0].body, a[0].len, norm) >= sizeof(norm)) {
        abort();
    }

    return 0;
}
