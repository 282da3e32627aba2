
/*
 * Copyright (C) ngx_llm_router authors
 *
 * libFuzzer target: the near-duplicate test.  The input is cut in two at
 * its first byte's choice; both halves are made into signatures (each
 * from a heap copy of its exact length, so ASan sees any read past it)
 * and compared both ways.  A refused text leaves a zeroed signature and
 * compare says INVALID; the similarity is in [0, 1] and the same both
 * ways; a text matches itself at threshold 1; compare never accepts
 * garbage bytes as a signature.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_llm_similar.h"


static char *
dup(const unsigned char *p, size_t n)
{
    char  *s;

    s = malloc(n ? n : 1);

    if (s == NULL) {
        abort();
    }

    memcpy(s, p, n);

    return s;
}


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int                 ra, rb;
    char               *a, *b;
    size_t              cut;
    double              s1, s2, t;
    ngx_llm_sig_t       sa, sb, junk;
    ngx_llm_similar_e   v1, v2;

    if (size < 1) {
        return 0;
    }

    cut = size > 1 ? data[0] % size : 0;
    t = (data[0] & 0x0f) / 15.0;
    data++;
    size--;
    cut = cut > size ? size : cut;

    a = dup(data, cut);
    b = dup(data + cut, size - cut);

    ra = ngx_llm_sig_make(&sa, a, cut);
    rb = ngx_llm_sig_make(&sb, b, size - cut);

    v1 = ngx_llm_sig_compare(&sa, &sb, t, &s1);
    v2 = ngx_llm_sig_compare(&sb, &sa, t, &s2);

    if ((ra != 0 || rb != 0) != (v1 == NGX_LLM_SIMILAR_INVALID)) {
        abort();
    }

    if (!(s1 >= 0.0 && s1 <= 1.0) || s1 != s2) {
        abort();
    }

    if ((v1 == NGX_LLM_SIMILAR_MATCH) != (v2 == NGX_LLM_SIMILAR_MATCH)) {
        abort();
    }

    if (ra == 0
        && ngx_llm_sig_compare(&sa, &sa, 1.0, &s1) != NGX_LLM_SIMILAR_MATCH)
    {
        abort();
    }

    if (ra == 0 && s1 != 1.0) {
        abort();
    }

    if (ngx_llm_similar_reason_name(v1) == NULL) {
        abort();
    }

    /* arbitrary bytes as a signature: a verdict, no crash */
    if (size >= sizeof(junk)) {
        memcpy(&junk, data, sizeof(junk));
        v1 = ngx_llm_sig_compare(&junk, &junk, t, &s1);

        if (!(s1 >= 0.0 && s1 <= 1.0)) {
            abort();
        }

        (void) ngx_llm_similar_reason_name(v1);
    }

    free(a);
    free(b);

    return 0;
}
