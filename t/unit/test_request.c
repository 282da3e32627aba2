
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Unit tests of dialect parsing and model rewriting.
 */


#include <stdlib.h>

#include <cjson/cJSON.h>

#include "unit.h"
#include "ngx_llm_request.h"
#include "ngx_llm_request_scan.h"


/* parses, returns 0 or -1; the error text is left in *err */
static int
parse(ngx_llm_dialect_e d, const char *body, ngx_llm_request_t *req)
{
    int                        rc;
    ngx_llm_classify_state_t   st;

    ngx_llm_classify_begin(&st);
    rc = ngx_llm_request_parse(req, d, body, strlen(body), &st);

    return rc;
}


static int
parse_ok(ngx_llm_dialect_e d, const char *body)
{
    int                rc;
    ngx_llm_request_t  req;

    rc = parse(d, body, &req);
    ngx_llm_request_free(&req);

    return rc == 0;
}


/* rewrites with model "M" and compares with the expected body */
static int
rewrites_to(ngx_llm_dialect_e d, const char *body, const char *expect)
{
    int                ok;
    char              *out;
    size_t             len;
    ngx_llm_request_t  req;

    if (parse(d, body, &req) != 0) {
        printf("  parse failed: %s\n", req.error);
        ngx_llm_request_free(&req);
        return 0;
    }

    len = ngx_llm_request_rewrite(&req, body, strlen(body), "M", &out);
    ngx_llm_request_free(&req);

    ok = (out != NULL && len == strlen(expect) && strcmp(out, expect) == 0);

    if (!ok) {
        printf("  got    %s\n  expect %s\n", out ? out : "(null)", expect);
    }

    free(out);

    return ok;
}


static void
test_dialects(void)
{
#define PATH(s)  s, sizeof(s) - 1

    CHECK(ngx_llm_dialect_from_path(PATH("/api/generate"))
          == NGX_LLM_DIALECT_OLLAMA_GENERATE, "generate");
    CHECK(ngx_llm_dialect_from_path(PATH("/api/chat"))
          == NGX_LLM_DIALECT_OLLAMA_CHAT, "chat");
    CHECK(ngx_llm_dialect_from_path(PATH("/v1/chat/completions"))
          == NGX_LLM_DIALECT_OPENAI_CHAT, "openai chat");
    CHECK(ngx_llm_dialect_from_path(PATH("/v1/completions"))
          == NGX_LLM_DIALECT_OPENAI_COMPLETIONS, "openai completions");
    CHECK(ngx_llm_dialect_from_path(PATH("/generate"))
          == NGX_LLM_DIALECT_JARVIS, "jarvis");
    CHECK(ngx_llm_dialect_from_path(PATH("/llm/api/chat/"))
          == NGX_LLM_DIALECT_OLLAMA_CHAT, "prefix and trailing slash");
    CHECK(ngx_llm_dialect_from_path(PATH("/api/tags"))
          == NGX_LLM_DIALECT_NONE, "tags is no dialect");
    CHECK(ngx_llm_dialect_from_path(PATH("/")) == NGX_LLM_DIALECT_NONE,
          "root");
    CHECK(ngx_llm_dialect_from_name(PATH("openai_chat"))
          == NGX_LLM_DIALECT_OPENAI_CHAT, "by name");
    CHECK(ngx_llm_dialect_from_name(PATH("nope")) == NGX_LLM_DIALECT_NONE,
          "bad name");
    CHECK(strcmp(ngx_llm_dialect_name(NGX_LLM_DIALECT_JARVIS), "jarvis") == 0,
          "name");
    CHECK(ngx_llm_dialect_is_openai(NGX_LLM_DIALECT_OPENAI_COMPLETIONS)
          && !ngx_llm_dialect_is_openai(NGX_LLM_DIALECT_OLLAMA_CHAT),
          "openai family");
#undef PATH
}


static void
test_parse(void)
{
    ngx_llm_request_t  req;

    CHECK(parse(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                "{\"model\":\"auto\",\"prompt\":\"hi\","
                "\"options\":{\"num_predict\":64}}", &req) == 0,
          "generate parses");
    CHECK(req.model != NULL && strcmp(req.model, "auto") == 0, "model");
    CHECK(req.stream == 1, "ollama streams by default");
    CHECK(req.max_tokens == 64, "num_predict");
    ngx_llm_request_free(&req);

    CHECK(parse(NGX_LLM_DIALECT_OLLAMA_CHAT,
                "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
                "{\"role\":\"user\",\"content\":\"u\"}],\"stream\":false}",
                &req) == 0, "chat parses");
    CHECK(req.model == NULL, "no model");
    CHECK(req.stream == 0, "stream false");
    CHECK(req.messages == 2, "two messages");
    ngx_llm_request_free(&req);

    CHECK(parse(NGX_LLM_DIALECT_OPENAI_CHAT,
                "{\"model\":\"x\",\"max_tokens\":10,\"messages\":[{\"role\":"
                "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}}]},"
                "{\"role\":\"assistant\",\"content\":null,"
                "\"tool_calls\":[]}]}", &req) == 0,
          "openai content parts and null content");
    CHECK(req.stream == 0, "openai does not stream by default");
    CHECK(req.max_tokens == 10, "max_tokens");
    ngx_llm_request_free(&req);

    CHECK(parse_ok(NGX_LLM_DIALECT_OPENAI_COMPLETIONS,
                   "{\"prompt\":[\"a\",\"b\"],\"stream\":true}"),
          "completions prompt array");
    CHECK(parse_ok(NGX_LLM_DIALECT_JARVIS, "{\"prompt\":\"Hello\"}"),
          "jarvis minimal");
    CHECK(parse_ok(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                   " \r\n{\"prompt\":\"\"}\n "), "whitespace around");
}


/* Ollama's load and unload forms (GenerateHandler, ChatHandler) */

static void
test_load(void)
{
    size_t             i;
    ngx_llm_request_t  req;

    static const struct {
        ngx_llm_dialect_e   d;
        const char         *body;
        int                 load;
        int                 unload;
    }  cases[] = {
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"model\":\"x\"}", 1, 0 },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "{}", 1, 0 },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE,
          "{\"model\":\"x\",\"prompt\":\"\"}", 1, 0 },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE,
          "{\"model\":\"x\",\"prompt\":null,\"keep_alive\":0}", 1, 1 },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE,
          "{\"model\":\"x\",\"keep_alive\":\"0\"}", 1, 1 },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE,
          "{\"model\":\"x\",\"keep_alive\":\"0s\"}", 1, 1 },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE,
          "{\"model\":\"x\",\"keep_alive\":\"5m\"}", 1, 0 },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE,
          "{\"model\":\"x\",\"keep_alive\":-1}", 1, 0 },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE,
          "{\"model\":\"x\",\"prompt\":\"hi\",\"keep_alive\":0}", 0, 0 },
        { NGX_LLM_DIALECT_OLLAMA_CHAT, "{\"model\":\"x\",\"messages\":[]}",
          1, 0 },
        { NGX_LLM_DIALECT_OLLAMA_CHAT, "{\"model\":\"x\"}", 1, 0 },
        { NGX_LLM_DIALECT_OLLAMA_CHAT,
          "{\"model\":\"x\",\"messages\":[],\"keep_alive\":0}", 1, 1 },
        { NGX_LLM_DIALECT_OLLAMA_CHAT,
          "{\"messages\":[{\"role\":\"User\",\"content\":\"hi\"}]}",
          0, 0 },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK(parse(cases[i].d, cases[i].body, &req) == 0, cases[i].body);
        CHECK(req.load == cases[i].load, "load form");
        CHECK(req.unload == cases[i].unload, "unload form");
        ngx_llm_request_free(&req);
    }
}


static void
test_errors(void)
{
    int                i, n;
    char              *deep;
    ngx_llm_request_t  req;

    static const struct {
        ngx_llm_dialect_e   d;
        const char         *body;
    }  bad[] = {
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "not json" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":\"hi\"" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":\"hi\"} x" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "[\"prompt\"]" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "\"prompt\"" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":5}" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":\"a\",\"model\":5}" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE,
          "{\"prompt\":\"a\",\"stream\":\"yes\"}" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":\"a\",\"system\":[]}" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":\"a\",\"options\":1}" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE,
          "{\"prompt\":\"a\",\"options\":{\"num_predict\":\"9\"}}" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":\"\xff\xfe\"}" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":\"\xc0\xaf\"}" },
        { NGX_LLM_DIALECT_OPENAI_CHAT, "{\"messages\":[]}" },
        { NGX_LLM_DIALECT_OLLAMA_CHAT, "{\"messages\":{}}" },
        { NGX_LLM_DIALECT_OLLAMA_CHAT, "{\"messages\":[1]}" },
        { NGX_LLM_DIALECT_OLLAMA_CHAT, "{\"messages\":[{\"content\":\"a\"}]}" },
        { NGX_LLM_DIALECT_OLLAMA_CHAT,
          "{\"messages\":[{\"role\":\"user\",\"content\":[]}]}" },
        { NGX_LLM_DIALECT_OPENAI_CHAT,
          "{\"messages\":[{\"role\":\"user\",\"content\":5}]}" },
        { NGX_LLM_DIALECT_OPENAI_CHAT,
          "{\"messages\":[{\"role\":\"user\",\"content\":[5]}]}" },
        { NGX_LLM_DIALECT_OPENAI_CHAT,
          "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":1}]}]}" },
        { NGX_LLM_DIALECT_OPENAI_CHAT,
          "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],"
          "\"max_tokens\":\"many\"}" },
        { NGX_LLM_DIALECT_OPENAI_COMPLETIONS, "{\"prompt\":[1,2]}" },
        { NGX_LLM_DIALECT_OPENAI_COMPLETIONS, "{\"prompt\":{}}" },
        { NGX_LLM_DIALECT_JARVIS, "{\"max_tokens\":100}" },
        { NGX_LLM_DIALECT_NONE, "{\"prompt\":\"a\"}" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE,
          "{\"model\":\b\"auto\",\"prompt\":\"a\"}" },
        { NGX_LLM_DIALECT_OLLAMA_GENERATE, "{\"prompt\":\"a\x01b\"}" },
    };

    for (i = 0; i < (int) (sizeof(bad) / sizeof(bad[0])); i++) {
        n = parse(bad[i].d, bad[i].body, &req);

        if (n == 0) {
            printf("  accepted: %s\n", bad[i].body);
        }

        CHECK(n != 0 && req.error != NULL && req.error[0] != '\0',
              "bad body rejected with a message");
        ngx_llm_request_free(&req);
    }

    /* 100 000 levels of nesting: rejected, no stack exhaustion */
    n = 100000;
    deep = malloc(2 * n + 1);
    CHECK(deep != NULL, "malloc");
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';

    CHECK(!parse_ok(NGX_LLM_DIALECT_OLLAMA_GENERATE, deep), "deep arrays");

    deep[0] = '{';
    memcpy(deep + 1, "\"prompt\":\"a\",\"x\":", 17);
    CHECK(!parse_ok(NGX_LLM_DIALECT_OLLAMA_GENERATE, deep),
          "deep value inside an object");
    free(deep);

    /* a NUL byte inside the body */
    CHECK(ngx_llm_request_parse(&req, NGX_LLM_DIALECT_OLLAMA_GENERATE,
                                "{\"prompt\":\"a\"}\0{}", 16, NULL) != 0,
          "NUL then data");
    ngx_llm_request_free(&req);
}


static void
test_rewrite(void)
{
    char              *out;
    size_t             len;
    cJSON             *j, *opt;
    ngx_llm_request_t  req;
    const char        *body;

    CHECK(rewrites_to(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                      "{\"model\":\"auto\",\"prompt\":\"x\"}",
                      "{\"model\":\"M\",\"prompt\":\"x\"}"), "replace");

    /* numbers, spacing and nested "model" keys stay as sent */
    CHECK(rewrites_to(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                      "{ \"seed\" : 12345678901234567890123,\n"
                      "  \"model\" :  \"auto\" , \"prompt\":\"x\","
                      " \"o\":{\"model\":\"keep\"}, \"t\": 0.10000000 }",
                      "{ \"seed\" : 12345678901234567890123,\n"
                      "  \"model\" :  \"M\" , \"prompt\":\"x\","
                      " \"o\":{\"model\":\"keep\"}, \"t\": 0.10000000 }"),
          "only the top-level model changes");

    CHECK(rewrites_to(NGX_LLM_DIALECT_OLLAMA_CHAT,
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"}\"}]}",
                      "{\"model\":\"M\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"}\"}]}"), "insert when absent");

    CHECK(rewrites_to(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                      "{\"model\":\"a\",\"prompt\":\"x\",\"MODEL\":\"b\","
                      "\"mod\\u0065l\":null}",
                      "{\"model\":\"M\",\"prompt\":\"x\",\"MODEL\":\"M\","
                      "\"mod\\u0065l\":\"M\"}"),
          "every spelling a JSON decoder may take for model");

    CHECK(rewrites_to(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                      "{\"prompt\":\"say \\\"model\\\": x\",\"model\":\"a\"}",
                      "{\"prompt\":\"say \\\"model\\\": x\",\"model\":\"M\"}"),
          "escaped quotes in values");

    body = "{\"prompt\":\"Hello\",\"max_tokens\":100,\"temperature\":0.2,"
           "\"model\":\"auto\"}";

    CHECK(parse(NGX_LLM_DIALECT_JARVIS, body, &req) == 0, "jarvis parses");
    len = ngx_llm_request_rewrite(&req, body, strlen(body), "gpt-oss:20b",
                                  &out);
    ngx_llm_request_free(&req);

    CHECK(len > 0 && out != NULL, "jarvis translated");

    j = cJSON_Parse(out);
    opt = cJSON_GetObjectItemCaseSensitive(j, "options");

    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(j, "model")->valuestring,
                 "gpt-oss:20b") == 0, "jarvis model");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(j, "prompt")->valuestring,
                 "Hello") == 0, "jarvis prompt");
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "stream")),
          "jarvis stream false");
    CHECK(cJSON_GetObjectItemCaseSensitive(opt, "num_predict")->valuedouble
          == 100 + NGX_LLM_THINK_BUDGET,
          "jarvis num_predict: max_tokens and room for gpt-oss to think");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(j, "think")->valuestring,
                 "low") == 0, "jarvis to gpt-oss: think low");
    CHECK(cJSON_GetObjectItemCaseSensitive(opt, "temperature")->valuedouble
          == 0.2, "jarvis temperature");
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "max_tokens") == NULL,
          "jarvis max_tokens translated away");

    cJSON_Delete(j);
    free(out);
}


static void
test_utf8_escape(void)
{
    char  buf[64];

#define U(s)  ngx_llm_utf8_valid((const unsigned char *) s, sizeof(s) - 1)

    CHECK(U("plain ascii"), "ascii");
    CHECK(U("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "2, 3, 4 bytes");
    CHECK(!U("\xc3"), "truncated");
    CHECK(!U("\xc0\x80"), "overlong NUL");
    CHECK(!U("\xe0\x80\xaf"), "overlong 3 bytes");
    CHECK(!U("\xed\xa0\x80"), "surrogate");
    CHECK(!U("\xf4\x90\x80\x80"), "above U+10FFFF");
    CHECK(!U("\x80"), "lone continuation");
#undef U

    buf[ngx_llm_json_escape(buf, "a\"b\\c\n", 6)] = '\0';
    CHECK(strcmp(buf, "a\\\"b\\\\c\\u000a") == 0, "escape");
}


/* JARVIS: "think" carried through; gpt-oss's default keeps room */

static void
test_jarvis_think(void)
{
    char               *out;
    size_t              len;
    cJSON              *j, *opt;
    ngx_llm_request_t   req;
    const char         *body;

    body = "{\"prompt\":\"Hello\",\"max_tokens\":20}";

    CHECK(parse(NGX_LLM_DIALECT_JARVIS, body, &req) == 0, "jarvis parses");
    len = ngx_llm_request_rewrite(&req, body, strlen(body), "llama3.2:3b",
                                  &out);
    ngx_llm_request_free(&req);
    j = cJSON_Parse(out);
    opt = cJSON_GetObjectItemCaseSensitive(j, "options");
    CHECK(len > 0 && cJSON_GetObjectItemCaseSensitive(j, "think") == NULL,
          "jarvis to llama: no think (it would be refused)");
    CHECK(cJSON_GetObjectItemCaseSensitive(opt, "num_predict")->valuedouble
          == 20, "jarvis to llama: num_predict = max_tokens");
    cJSON_Delete(j);
    free(out);

    body = "{\"prompt\":\"Hello\",\"max_tokens\":20,\"think\":\"high\"}";

    CHECK(parse(NGX_LLM_DIALECT_JARVIS, body, &req) == 0, "jarvis parses");
    len = ngx_llm_request_rewrite(&req, body, strlen(body),
                                  "GPT-OSS:20B", &out);
    ngx_llm_request_free(&req);
    j = cJSON_Parse(out);
    opt = cJSON_GetObjectItemCaseSensitive(j, "options");
    CHECK(len > 0 && strcmp(cJSON_GetObjectItemCaseSensitive(j, "think")
                            ->valuestring, "high") == 0,
          "jarvis: the client's think is carried");
    CHECK(cJSON_GetObjectItemCaseSensitive(opt, "num_predict")->valuedouble
          == 20, "jarvis: the client chose, max_tokens kept");
    cJSON_Delete(j);
    free(out);
}


/*
 * The one pass: which requests it decides itself, and that what it
 * reads is what the cJSON tree reads (fields and score).
 */

typedef struct {
    ngx_llm_dialect_e   d;
    int                 decided;
    const char         *body;
} scan_case_t;


static const scan_case_t  scan_cases[] = {
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 1,
      "{\"model\":\"auto\",\"prompt\":\"What is 2+2?\",\"stream\":false}" },
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 1,
      " {\"Model\": null, \"prompt\": \"Caf\u00e9 \\n\\t\\\"x\\\" \\ud83d\\ude00\","
      " \"system\": \"be brief\", \"options\": {\"num_predict\": 12.5},"
      " \"images\": [], \"MODEL\": \"llama3.2:3b\"} " },
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 1,
      "{\"prompt\":\"Prouve que \\u00e9 \u00e0 la ligne\\n\","
      "\"stream\":null,\"stream\":5,\"x\":[1,-2.5e3,{\"a\":[true,false,null]}]}" },
    { NGX_LLM_DIALECT_OLLAMA_CHAT, 1,
      "{\"model\":\"auto\",\"messages\":[{\"role\":\"system\",\"content\":"
      "\"You are JARVIS.\"},{\"content\":\"Write a function to sort a list\","
      "\"role\":\"USER\",\"images\":[\"aGk=\"]}],\"options\":null}" },
    { NGX_LLM_DIALECT_OPENAI_CHAT, 1,
      "{\"model\":\"auto\",\"max_tokens\":null,\"max_tokens\":7,"
      "\"max_completion_tokens\":300,\"tools\":[{\"type\":\"function\"}],"
      "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
      "\"text\":\"Explain why the sky is blue\"},{\"type\":\"image_url\","
      "\"image_url\":{\"url\":\"x\"}},{\"type\":\"other\"}]},"
      "{\"role\":\"assistant\",\"content\":null}]}" },
    { NGX_LLM_DIALECT_OPENAI_COMPLETIONS, 1,
      "{\"prompt\":[\"a\",\"b\"],\"max_tokens\":2e2}" },
    { NGX_LLM_DIALECT_OPENAI_COMPLETIONS, 1, "{\"prompt\":[]}" },

    /* left to the tree: loads, JARVIS, rare spellings, and errors */
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 0, "{\"model\":\"m\"}" },
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 0, "{\"prompt\":\"\",\"keep_alive\":0}" },
    { NGX_LLM_DIALECT_OLLAMA_CHAT, 0, "{\"messages\":[]}" },
    { NGX_LLM_DIALECT_OPENAI_CHAT, 0, "{\"messages\":[]}" },
    { NGX_LLM_DIALECT_JARVIS, 0, "{\"prompt\":\"hi\",\"max_tokens\":5}" },
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 0, "{\"pro\\u006dpt\":\"hi\"}" },
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 0, "{\"prompt\":\"a\\u0000b\"}" },
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 0, "{\"prompt\":\"a\\ud800\"}" },
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 0, "{\"prompt\":\"\xc3(\"}" },
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 0, "{\"prompt\":\"a\x01\"}" },
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 0, "{\"prompt\":\"a\",}" },
    { NGX_LLM_DIALECT_OPENAI_COMPLETIONS, 0, "{\"prompt\":[" },
    { NGX_LLM_DIALECT_OPENAI_CHAT, 0, "{\"messages\":[" },
    { NGX_LLM_DIALECT_OPENAI_CHAT, 0,
      "{\"messages\":[{\"role\":\"user\",\"content\":[" },
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 0, "{" },
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 0, "{\"prompt\":\"a\"} x" },
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 0, "{\"prompt\":\"a\",\"n\":01}" },
    { NGX_LLM_DIALECT_OLLAMA_GENERATE, 0, "{\"prompt\":\"a\",\"stream\":1}" },
    { NGX_LLM_DIALECT_OLLAMA_CHAT, 0,
      "{\"messages\":[{\"role\":\"user\",\"content\":[]}]}" },
    { NGX_LLM_DIALECT_OPENAI_CHAT, 0,
      "{\"messages\":[{\"role\":\"us\\u0065r\",\"content\":\"x\"}]}" },
    { NGX_LLM_DIALECT_OPENAI_CHAT, 0,
      "{\"messages\":[{\"content\":\"x\"}]}" },
    { NGX_LLM_DIALECT_OPENAI_CHAT, 0, "{\"messages\":[1]}" },
    { NGX_LLM_DIALECT_OPENAI_CHAT, 0,
      "\xef\xbb\xbf{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}" },
};


static void
test_scan(void)
{
    int                        rc1, rc2;
    size_t                     i, len;
    unsigned                   k;
    ngx_llm_request_t          a, b;
    ngx_llm_classify_conf_t    conf;
    ngx_llm_classify_state_t   sa, sb;
    ngx_llm_classify_result_t  ra, rb;

    ngx_llm_classify_conf_default(&conf);

    for (i = 0; i < sizeof(scan_cases) / sizeof(scan_cases[0]); i++) {
        len = strlen(scan_cases[i].body);

        memset(&a, 0, sizeof(ngx_llm_request_t));
        a.dialect = scan_cases[i].d;
        a.body = scan_cases[i].body;
        a.len = len;
        ngx_llm_classify_begin(&sa);

        rc1 = ngx_llm_request_scan(&a, &sa);

        if (!scan_cases[i].decided) {
            CHECK(rc1 == -1, scan_cases[i].body);
            continue;
        }

        CHECK(rc1 == 0, scan_cases[i].body);

        ngx_llm_classify_begin(&sb);
        rc2 = ngx_llm_request_parse_tree(&b, scan_cases[i].d,
                                         scan_cases[i].body, len, &sb);

        CHECK(rc2 == 0, "the tree takes what the one pass takes");

        if (rc1 != 0 || rc2 != 0) {
            ngx_llm_request_free(&b);
            continue;
        }

        CHECK((a.model == NULL && b.model == NULL)
              || (a.model && b.model && strcmp(a.model, b.model) == 0),
              "same model");
        CHECK(a.stream == b.stream && a.max_tokens == b.max_tokens
              && a.messages == b.messages && a.tools == b.tools
              && a.images == b.images && a.insert_at == b.insert_at
              && a.model_keys == b.model_keys,
              "same fields");

        for (k = 0; k < a.model_keys; k++) {
            CHECK(a.model_start[k] == b.model_start[k]
                  && a.model_end[k] == b.model_end[k], "same model spans");
        }

        ngx_llm_classify_end(&sa, NULL, &conf, &ra);
        ngx_llm_classify_end(&sb, NULL, &conf, &rb);
        CHECK(ra.score == rb.score, "same score");

        ngx_llm_request_free(&b);
    }

    /* what the cases above read */
    parse(NGX_LLM_DIALECT_OLLAMA_GENERATE, scan_cases[1].body, &a);
    CHECK(strcmp(a.model, "llama3.2:3b") == 0 && a.model_keys == 2
          && a.max_tokens == 12 && a.stream == 1,
          "last model of any case, num_predict, Ollama streams");
    ngx_llm_request_free(&a);

    parse(NGX_LLM_DIALECT_OPENAI_CHAT, scan_cases[4].body, &a);
    CHECK(a.max_tokens == 300 && a.tools && a.images && a.messages == 2
          && a.stream == 0,
          "first max_tokens (null), max_completion_tokens, tools, image");
    ngx_llm_request_free(&a);

    parse(NGX_LLM_DIALECT_OLLAMA_CHAT, scan_cases[3].body, &a);
    CHECK(a.images && !a.tools && a.stream == 1, "a message's images");
    ngx_llm_request_free(&a);
}


int
main(void)
{
    test_dialects();
    test_parse();
    test_errors();
    test_load();
    test_jarvis_think();
    test_rewrite();
    test_utf8_escape();
    test_scan();

    UNIT_DONE("request");
}
