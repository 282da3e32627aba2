
/*
 * Copyright (C) ngx_llm_router authors
 *
 * libFuzzer target: the Ollama -> OpenAI request translation, the answer
 * translation, and the SSE -> NDJSON translator.  The first byte picks
 * what is fuzzed and how.  A stream is fed whole and in pieces whose
 * sizes come from the input: both must give the same NDJSON, every line
 * a JSON object, the whole bounded by the input's size.
 */


#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ngx_llm_translate.h"


typedef struct {
    char    *p;
    size_t   len;
    size_t   size;
    size_t   longest;
} fuzz_out_t;


static void *
fuzz_alloc(void *data, size_t size)
{
    void  **last;

    last = data;
    *last = malloc(size);

    return *last;
}


static int
fuzz_output(void *data, const char *p, size_t len)
{
    cJSON       *line;
    fuzz_out_t  *out;

    out = data;

    /* whole lines, each one JSON object */
    if (len == 0 || p[len - 1] != '\n' || memchr(p, '\n', len) != p + len - 1)
    {
        abort();
    }

    line = cJSON_ParseWithLength(p, len - 1);

    if (!cJSON_IsObject(line)) {
        abort();
    }

    cJSON_Delete(line);

    if (len > out->longest) {
        out->longest = len;
    }

    if (out->len + len > out->size) {
        abort();
    }

    memcpy(out->p + out->len, p, len);
    out->len += len;

    return 0;
}


static int
fuzz_stream(ngx_llm_dialect_e d, size_t max, const unsigned char *data,
    size_t size, const unsigned char *cuts, size_t ncuts, fuzz_out_t *out)
{
    int             rc;
    void           *block;
    size_t          at, n, i;
    ngx_llm_sse_t   sse;

    block = NULL;

    if (ngx_llm_sse_init(&sse, d, NULL, max, fuzz_alloc, &block,
                         fuzz_output, out)
        != 0)
    {
        abort();
    }

    /* time(NULL) could differ between the two runs */
    strcpy(sse.created_at, "2024-01-01T00:00:00Z");

    at = 0;
    i = 0;

    while (at < size) {
        n = (ncuts > 0) ? (size_t) cuts[i++ % ncuts] % 64 + 1 : size;

        if (n > size - at) {
            n = size - at;
        }

        rc = ngx_llm_sse_feed(&sse, (const char *) data + at, n);
        at += n;

        if (rc != NGX_LLM_SSE_AGAIN && rc != ngx_llm_sse_feed(&sse, "x", 1)) {
            abort();
        }
    }

    rc = ngx_llm_sse_finish(&sse);

    if (rc == NGX_LLM_SSE_AGAIN || rc != ngx_llm_sse_finish(&sse)) {
        abort();
    }

    free(block);

    return rc;
}


static void
fuzz_request(ngx_llm_dialect_e d, const unsigned char *data, size_t size,
    unsigned flags)
{
    int                 rc;
    char               *out;
    void               *block;
    size_t              len;
    cJSON              *json, *item;
    const char         *err;
    ngx_llm_request_t   req;

    if (ngx_llm_request_parse(&req, d, (const char *) data, size, NULL) != 0)
    {
        ngx_llm_request_free(&req);
        return;
    }

    block = NULL;
    rc = ngx_llm_translate_request(&req, "m", flags, fuzz_alloc, &block,
                                   &out, &len, &err);

    if (rc == NGX_LLM_TRANSLATE_OK) {
        json = cJSON_ParseWithLength(out, len);

        item = cJSON_GetObjectItemCaseSensitive(json, "model");

        if (!cJSON_IsString(item) || strcmp(item->valuestring, "m") != 0) {
            abort();
        }

        item = cJSON_GetObjectItemCaseSensitive(json, "messages");

        if (!cJSON_IsArray(item) || item->child == NULL) {
            abort();
        }

        item = cJSON_GetObjectItemCaseSensitive(json, "stream");

        if (!cJSON_IsBool(item) || cJSON_IsTrue(item) != req.stream) {
            abort();
        }

        cJSON_Delete(json);
        free(block);

    } else if (rc == NGX_LLM_TRANSLATE_ERROR) {
        if (err == NULL || block != NULL) {
            abort();
        }

    } else if (rc != NGX_LLM_TRANSLATE_LOAD || !req.load) {
        abort();
    }

    ngx_llm_request_free(&req);
}


static void
fuzz_answer(ngx_llm_dialect_e d, const unsigned char *data, size_t size)
{
    int      rc;
    char    *out;
    void    *block;
    size_t   len;
    cJSON   *json;

    block = NULL;
    rc = ngx_llm_translate_response(d, NULL, 0, (const char *) data, size,
                                    fuzz_alloc, &block, &out, &len);

    if (rc == NGX_LLM_TRANSLATE_ERROR) {
        abort();
    }

    json = cJSON_ParseWithLength(out, len);

    if (!cJSON_IsObject(json)
        || (rc == NGX_LLM_TRANSLATE_UPSTREAM)
           != (cJSON_GetObjectItemCaseSensitive(json, "error") != NULL))
    {
        abort();
    }

    cJSON_Delete(json);
    free(block);
}


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int                  rc1, rc2;
    size_t               max, ncuts, bound;
    unsigned             how;
    fuzz_out_t           a, b;
    ngx_llm_dialect_e    d;
    const unsigned char *cuts;

    if (size < 2) {
        return 0;
    }

    how = data[0];
    data++;
    size--;

    d = (how & 1) ? NGX_LLM_DIALECT_OLLAMA_GENERATE
                  : NGX_LLM_DIALECT_OLLAMA_CHAT;

    switch ((how >> 1) % 4) {

    case 0:
        fuzz_request(d, data, size, (how >> 3) & NGX_LLM_TRANSLATE_STRICT);
        return 0;

    case 1:
        fuzz_answer(d, data, size);
        return 0;

    default:
        break;
    }

    /*
     * a small cap now and then, else one below the default (the buffers
     * of 3 * NGX_LLM_SSE_EVENT_MAX would cost more time than the rest);
     * up to 7 piece sizes from the tail
     */
    max = (how & 0x80) ? 200 + data[0] : 4096 + 16 * data[0];
    ncuts = (how >> 4) & 7;

    if (ncuts >= size) {
        ncuts = 0;
    }

    cuts = data + size - ncuts;
    size -= ncuts;

    /*
     * the output is bounded by the input: a line per event at most (the
     * smallest event with content is some 40 bytes), each no longer than
     * its content and a head (the model's name, escaped), plus the tool
     * line and the final object
     */
    bound = 4 * size + (size / 32 + 4) * NGX_LLM_SSE_LINE_EXTRA
            + 2 * max
            + NGX_LLM_SSE_TOOLS_MAX * 6 * (NGX_LLM_SSE_ID_MAX
                                           + NGX_LLM_SSE_NAME_MAX);

    a.size = b.size = bound;
    a.len = b.len = 0;
    a.longest = b.longest = 0;
    a.p = malloc(bound);
    b.p = malloc(bound);

    rc1 = fuzz_stream(d, max, data, size, NULL, 0, &a);
    rc2 = fuzz_stream(d, max, data, size, cuts, ncuts, &b);

    if (rc1 != rc2 || a.len != b.len || memcmp(a.p, b.p, a.len) != 0) {
        abort();
    }

    free(a.p);
    free(b.p);

    return 0;
}
