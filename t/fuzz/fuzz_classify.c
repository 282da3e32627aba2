
/*
 * Copyright (C) ngx_llm_router authors
 *
 * libFuzzer target: the classifier on arbitrary bytes, whole and fed in
 * two pieces; the score stays in [0, 1] and the explanation fits.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_llm_classify.h"


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char                       buf[64];
    size_t                     cut, n;
    ngx_llm_classify_conf_t    conf;
    ngx_llm_classify_state_t   st;
    ngx_llm_classify_result_t  res;

    ngx_llm_classify_conf_default(&conf);
    ngx_llm_classify_text(data, size, &conf, &res);

    if (!(res.score >= 0 && res.score <= 1) || res.ntop > NGX_LLM_TOP_FEATURES)
    {
        abort();
    }

    n = ngx_llm_classify_explain(&res, buf, sizeof(buf));

    if (n >= sizeof(buf) || buf[n] != '\0') {
        abort();
    }

    cut = size ? data[0] % (size + 1) : 0;

    ngx_llm_classify_begin(&st);
    ngx_llm_classify_turn(&st);
    ngx_llm_classify_feed(&st, data, cut);
    ngx_llm_classify_feed(&st, data + cut, size - cut);
    ngx_llm_classify_end(&st, NULL, &conf, &res);

    if (!(res.score >= 0 && res.score <= 1)) {
        abort();
    }

    return 0;
}
