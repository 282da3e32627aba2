
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
        || ngx_llm_request_tree(&req) != 0
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


/* the partition of a body ("none" when not text only) and its text */
static const char *
part(ngx_llm_dialect_e d, const char *body, const char *tenant,
    const char *model, char *text)
{
    static char        out[16][NGX_LLM_KEY_HEX + 1];
    static int         n;
    int                rc;
    char              *k;
    size_t             len;
    const char        *t;
    ngx_llm_request_t  req;

    k = out[n++ % 16];
    text[0] = '\0';

    if (ngx_llm_request_parse(&req, d, body, strlen(body), NULL) != 0
        || ngx_llm_request_tree(&req) != 0)
    {
        return "error";
    }

    rc = ngx_llm_cache_partition(&req, model, (unsigned char *) tenant,
                                 strlen(tenant), k, &t, &len);
    if (rc != 0) {
        ngx_llm_request_free(&req);
        return rc == 1 ? "none" : "error";
    }

    memcpy(text, t, len);
    text[len] = '\0';
    k[NGX_LLM_KEY_HEX] = '\0';
    ngx_llm_request_free(&req);

    return k;
}


int
main(void)
{
    int                hw, same;
    size_t             i, len;
    const char        *a, *b;
    unsigned char      buf[4096], d[2][NGX_LLM_SHA256_LEN];
    ngx_llm_sha256_t   h;

    /* FIPS 180-4's examples, with the CPU's SHA instructions if it has
       them, then with the portable rounds */

    for (hw = 1; hw >= 0; hw--) {
        ngx_llm_sha256_hw = hw ? -1 : 0;

        CHECK(sha_is("", 0, 1, "e3b0c44298fc1c149afbf4c8996fb924"
                               "27ae41e4649b934ca495991b7852b855"),
              "sha256 empty");
        CHECK(sha_is("abc", 3, 1, "ba7816bf8f01cfea414140de5dae2223"
                                  "b00361a396177a9cb410ff61f20015ad"),
              "sha256 abc");
        CHECK(sha_is("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                     56, 1, "248d6a61d20638b8e5c026930c3e6039"
                            "a33ce45964ff2167f6ecedd419db06c1"),
              "sha256 448 bits");
        CHECK(sha_is("a", 1, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67"
                                      "f1809a48a497200e046d39ccc7112cd0"),
              "sha256 a million a");
        CHECK(sha_is("0123456701234567012345670123456701234567012345670123"
                     "456701234567", 64, 10, "594847328451bdfa85056225462cc1d8"
                     "67d877fb388df0ce35f25ab5562bfbb5"),
              "sha256 640 bytes, whole blocks");
    }

    ngx_llm_sha256_hw = -1;
    (void) sha_is("", 0, 1, "");
    printf("# sha256: %s\n", ngx_llm_sha256_hw ? "the CPU's SHA instructions"
                                               : "the portable rounds");

    /* both ways give the same digest, whatever the lengths and pieces */

    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (unsigned char) (i * 131 + (i >> 7) * 17);
    }

    same = 1;

    for (len = 0; len <= sizeof(buf); len += 1 + len / 3) {
        for (hw = 0; hw < 2; hw++) {
            ngx_llm_sha256_hw = hw ? -1 : 0;
            ngx_llm_sha256_init(&h);

            for (i = 0; i < len; i += 1 + (i % 97)) {
                ngx_llm_sha256_update(&h, buf + i,
                                      (i + 1 + i % 97 > len) ? len - i
                                                              : 1 + i % 97);
            }

            ngx_llm_sha256_final(&h, d[hw]);
        }

        same = same && memcmp(d[0], d[1], NGX_LLM_SHA256_LEN) == 0;
    }

    CHECK(same, "sha256: the same digests from both ways, 0 to 4 KB in pieces");
    ngx_llm_sha256_hw = -1;

    /* the canonical form does not change unnoticed: stored entries would
       no longer be found */
    a = key(NGX_LLM_DIALECT_OLLAMA_GENERATE,
            "{\"model\":\"auto\",\"prompt\":\"1234567890\","
            "\"x\":[1,2.5,\"ab\",null,true]}", "t");
    CHECK(strcmp(a, "79bd1da557f35612c567c5b15c3d272b"
                    "2f08ef57e09c48d45e7889dc95eb7c52") == 0,
          "the key of a fixed body is the one earlier releases stored");

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


    /* the similar-prompt cache's partitions */

#define CHAT(sys, user)                                                       \
    "{\"model\":\"auto\",\"stream\":false,\"messages\":["                     \
    "{\"role\":\"system\",\"content\":\"" sys "\"},"                          \
    "{\"role\":\"user\",\"content\":\"" user "\"}]}"

    {
        char  ta[256], tb[256];

        a = part(NGX_LLM_DIALECT_OLLAMA_CHAT, CHAT("Be brief.", "whats the "
                 "weather tomorrow ?"), "t1", "auto/simple", ta);
        b = part(NGX_LLM_DIALECT_OLLAMA_CHAT, CHAT("Be brief.", "What is "
                 "the weather tomorrow"), "t1", "auto/simple", tb);
        CHECK(strlen(a) == 64 && strcmp(a, b) == 0,
              "partition: only the last user message differs: same");
        CHECK(strcmp(ta, "whats the weather tomorrow ?") == 0
              && strcmp(tb, "What is the weather tomorrow") == 0,
              "partition: the text compared is the last user message");

        b = part(NGX_LLM_DIALECT_OLLAMA_CHAT, CHAT("Be brief.", "x"), "t2",
                 "auto/simple", tb);
        CHECK(strcmp(a, b) != 0, "partition: another tenant");

        b = part(NGX_LLM_DIALECT_OLLAMA_CHAT, CHAT("Be brief.", "x"), "t1",
                 "auto/complex", tb);
        CHECK(strcmp(a, b) != 0, "partition: another class or model");

        b = part(NGX_LLM_DIALECT_OLLAMA_CHAT, CHAT("Be long.", "x"), "t1",
                 "auto/simple", tb);
        CHECK(strcmp(a, b) != 0, "partition: another system prompt");

        b = part(NGX_LLM_DIALECT_OPENAI_CHAT, CHAT("Be brief.", "x"), "t1",
                 "auto/simple", tb);
        CHECK(strcmp(a, b) != 0, "partition: another dialect");

        b = part(NGX_LLM_DIALECT_OLLAMA_CHAT,
                 "{\"model\":\"auto\",\"stream\":true,\"messages\":["
                 "{\"role\":\"system\",\"content\":\"Be brief.\"},"
                 "{\"role\":\"user\",\"content\":\"x\"}]}", "t1",
                 "auto/simple", tb);
        CHECK(strcmp(a, b) != 0, "partition: streamed or not");

        b = part(NGX_LLM_DIALECT_OLLAMA_CHAT,
                 "{\"model\":\"auto\",\"stream\":false,\"options\":"
                 "{\"temperature\":0},\"messages\":["
                 "{\"role\":\"system\",\"content\":\"Be brief.\"},"
                 "{\"role\":\"user\",\"content\":\"x\"}]}", "t1",
                 "auto/simple", tb);
        CHECK(strcmp(a, b) != 0, "partition: other parameters");

        a = part(NGX_LLM_DIALECT_OLLAMA_CHAT,
                 "{\"model\":\"auto\",\"stream\":false,\"messages\":["
                 "{\"role\":\"user\",\"content\":\"Hi\"},"
                 "{\"role\":\"assistant\",\"content\":\"Hello\"},"
                 "{\"role\":\"user\",\"content\":\"x\"}]}", "t1", "m", ta);
        b = part(NGX_LLM_DIALECT_OLLAMA_CHAT,
                 "{\"model\":\"auto\",\"stream\":false,\"messages\":["
                 "{\"role\":\"user\",\"content\":\"Hey\"},"
                 "{\"role\":\"assistant\",\"content\":\"Hello\"},"
                 "{\"role\":\"user\",\"content\":\"x\"}]}", "t1", "m", tb);
        CHECK(strcmp(a, b) != 0, "partition: other earlier turns");

        a = part(NGX_LLM_DIALECT_OLLAMA_CHAT,
                 "{\"messages\":[{\"role\":\"user\",\"content\":\"x\","
                 "\"images\":[\"aGk=\"]}]}", "", "m", ta);
        CHECK(strcmp(a, "none") == 0, "partition: images are not text");

        a = part(NGX_LLM_DIALECT_OLLAMA_CHAT,
                 "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                 "\"tools\":[{\"type\":\"function\"}]}", "", "m", ta);
        CHECK(strcmp(a, "none") == 0, "partition: tools bypass");

        a = part(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                 "{\"prompt\":\"x\",\"format\":\"json\"}", "", "m", ta);
        CHECK(strcmp(a, "none") == 0, "partition: a format bypasses");

        a = part(NGX_LLM_DIALECT_OPENAI_CHAT,
                 "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                 "\"text\",\"text\":\"x\"}]}]}", "", "m", ta);
        CHECK(strcmp(a, "none") == 0, "partition: content in parts bypass");

        a = part(NGX_LLM_DIALECT_OLLAMA_CHAT,
                 "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
                 "{\"role\":\"assistant\",\"content\":\"y\"}]}", "", "m", ta);
        CHECK(strcmp(a, "none") == 0,
              "partition: the last message not the user's");

        a = part(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                 "{\"prompt\":\"turn on the light\",\"system\":\"s\"}", "",
                 "m", ta);
        CHECK(strlen(a) == 64 && strcmp(ta, "turn on the light") == 0,
              "partition: a generate request compares its prompt");
    }

    UNIT_DONE("cache_key");
}
