
/*
 * Copyright (C) ngx_llm_router authors
 *
 * SHA-256 test vectors and cache key properties.
 */


#include <stdlib.h>

#include "unit.h"
#include "ngx_llm_cache_key.h"


static void
hex(const unsigned char *d, char *out)
{
    int  i;

    for (i = 0; i < NGX_LLM_SHA256_LEN; i++) {
        sprintf(out + 2 * i, "%02x", d[i]);
    }
}


static int
sha_is(const char *msg, size_t len, size_t reps, const char *want)
{
    char              out[65];
    size_t            i;
    unsigned char     d[NGX_LLM_SHA256_LEN];
    ngx_llm_sha256_t  h;

    ngx_llm_sha256_init(&h);

    for (i = 0; i < reps; i++) {
        ngx_llm_sha256_update(&h, msg, len);
    }

    ngx_llm_sha256_final(&h, d);
    hex(d, out);

    return strcmp(out, want) == 0;
}


/* the key of a body, as a NUL-terminated string in a static buffer */
static const char *
key(ngx_llm_dialect_e d, const char *body, const char *tenant)
{
    static char        out[16][NGX_LLM_KEY_HEX + 1];
    static int         n;
    char              *k;
    ngx_llm_request_t  req;

    k = out[n++ % 16];

    if (ngx_llm_request_parse(&req, d, body, strlen(body), NULL) != 0
        || ngx_llm_cache_key(&req, req.model, (unsigned char *) tenant,
                             strlen(tenant), k) != 0)
    {
        ngx_llm_request_free(&req);
        return "error";
    }

    k[NGX_LLM_KEY_HEX] = '\0';
    ngx_llm_request_free(&req);

    return k;
}


int
main(void)
{
    const char  *a, *b;

    CHECK(sha_is("", 0, 1, "e3b0c44298fc1c149afbf4c8996fb924"
                           "27ae41e4649b934ca495991b7852b855"), "sha256 empty");
    CHECK(sha_is("abc", 3, 1, "ba7816bf8f01cfea414140de5dae2223"
                              "b00361a396177a9cb410ff61f20015ad"), "sha256 abc");
    CHECK(sha_is("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                 56, 1, "248d6a61d20638b8e5c026930c3e6039"
                        "a33ce45964ff2167f6ecedd419db06c1"), "sha256 448 bits");
    CHECK(sha_is("a", 1, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67"
                                  "f1809a48a497200e046d39ccc7112cd0"),
          "sha256 a million a");

    a = key(NGX_LLM_DIALECT_OLLAMA_CHAT,
            "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\","
            "\"content\":\"Hi\"}],\"options\":{\"temperature\":0.5,"
            "\"top_k\":40},\"stream\":false}", "Bearer a");
    b = key(NGX_LLM_DIALECT_OLLAMA_CHAT,
            " {\"stream\" : false ,\n \"options\":{\"top_k\":40,"
            "\"temperature\":0.50},\"messages\":[{\"content\":\"Hi\","
            "\"role\":\"user\"}], \"model\":\"auto\", \"keep_alive\":\"5m\"}",
            "Bearer a");
    CHECK(strcmp(a, "error") != 0 && strlen(a) == 64, "key is 64 hex digits");
    CHECK(strcmp(a, b) == 0, "key order, whitespace, keep_alive: same key");

    b = key(NGX_LLM_DIALECT_OLLAMA_CHAT,
            "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\","
            "\"content\":\"Hi\"}],\"options\":{\"temperature\":0.5,"
            "\"top_k\":40},\"stream\":false}", "Bearer b");
    CHECK(strcmp(a, b) != 0, "another tenant: another key");

    b = key(NGX_LLM_DIALECT_OLLAMA_CHAT,
            "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\","
            "\"content\":\"Hi\"}],\"options\":{\"temperature\":0.6,"
            "\"top_k\":40},\"stream\":false}", "Bearer a");
    CHECK(strcmp(a, b) != 0, "another option value: another key");

    b = key(NGX_LLM_DIALECT_OLLAMA_CHAT,
            "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\","
            "\"content\":\"Hi\"}],\"options\":{\"temperature\":0.5,"
            "\"top_k\":40}}", "Bearer a");
    CHECK(strcmp(a, b) != 0, "streamed (Ollama default) and not: two keys");

    b = key(NGX_LLM_DIALECT_OLLAMA_CHAT,
            "{\"model\":\"gpt-oss:20b\",\"messages\":[{\"role\":\"user\","
            "\"content\":\"Hi\"}],\"options\":{\"temperature\":0.5,"
            "\"top_k\":40},\"stream\":false}", "Bearer a");
    CHECK(strcmp(a, b) != 0, "another requested model: another key");

    a = key(NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":\"Hi\"}", "");
    b = key(NGX_LLM_DIALECT_OLLAMA_GENERATE,
            "{\"prompt\":\"Hi\",\"model\":\"auto\"}", "");
    CHECK(strcmp(a, b) == 0, "absent model is auto");

    b = key(NGX_LLM_DIALECT_JARVIS, "{\"prompt\":\"Hi\"}", "");
    CHECK(strcmp(a, b) != 0, "dialects never share keys");

    /* tenant/body boundary: "ab" + "c" is not "a" + "bc" */
    a = key(NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":\"x\"}", "ab");
    b = key(NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":\"x\"}", "a");
    CHECK(strcmp(a, b) != 0, "tenant is length-prefixed");

    a = key(NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":\"a\\\"b\"}", "");
    b = key(NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":\"a\",\"b\":\"\"}",
            "");
    CHECK(strcmp(a, b) != 0, "strings are length-prefixed");

    UNIT_DONE("cache_key");
}
