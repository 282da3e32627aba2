
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Unit tests of the Ollama <-> OpenAI translation: requests, whole
 * answers, and SSE streams split at every byte offset.  The fixtures in
 * t/unit/fixtures/ are answers of t/backend/mock-ollama.js captured with
 * t/unit/fixtures/capture.sh.
 *
 * With arguments it is a filter for t/translate-mock.py:
 *   unit-translate request chat|generate MODEL   Ollama body -> OpenAI
 *   unit-translate answer chat|generate          OpenAI JSON -> Ollama
 *   unit-translate stream chat|generate          SSE -> NDJSON
 * reading stdin, writing stdout; exit 1 when the result is an error.
 */


#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "unit.h"
#include "ngx_llm_translate.h"


#define OUT_MAX  (1024 * 1024)


typedef struct {
    char    *p;
    size_t   len;
    unsigned lines;
    int      fail;          /* output() returns -1 after this many calls */
    int      calls;
} out_t;


static const char  *fixtures_dir = "t/unit/fixtures";


static void *
test_alloc(void *data, size_t size)
{
    void  **last;

    /* one live block per test at a time, freed by the caller */
    last = data;
    *last = malloc(size);

    return *last;
}


static int
test_output(void *data, const char *p, size_t len)
{
    size_t   i;
    out_t   *out;

    out = data;

    if (out->fail && ++out->calls >= out->fail) {
        return -1;
    }

    if (len == 0 || p[len - 1] != '\n' || out->len + len > OUT_MAX) {
        /* output() gets whole lines only */
        out->len = OUT_MAX + 1;
        return -1;
    }

    memcpy(out->p + out->len, p, len);
    out->len += len;

    for (i = 0; i < len; i++) {
        out->lines += (p[i] == '\n');
    }

    return 0;
}


static char *
slurp(const char *name, size_t *len)
{
    char    path[512], *buf;
    FILE   *f;
    long    n;

    snprintf(path, sizeof(path), "%s/%s", fixtures_dir, name);

    f = fopen(path, "rb");
    if (f == NULL) {
        printf("  cannot open %s\n", path);
        *len = 0;
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    buf = malloc(n + 1);

    if (buf == NULL || fread(buf, 1, n, f) != (size_t) n) {
        fclose(f);
        free(buf);
        *len = 0;
        return NULL;
    }

    fclose(f);
    buf[n] = '\0';
    *len = n;

    return buf;
}


/* parses an Ollama body and translates it for model "M" */

static cJSON *
request(ngx_llm_dialect_e d, const char *body, unsigned flags, int *rc,
    const char **error)
{
    char               *out;
    void               *block;
    size_t              len;
    cJSON              *json;
    ngx_llm_request_t   req;

    *error = NULL;

    if (ngx_llm_request_parse(&req, d, body, strlen(body), NULL) != 0) {
        printf("  parse failed: %s\n", req.error);
        ngx_llm_request_free(&req);
        *rc = -100;
        return NULL;
    }

    block = NULL;
    *rc = ngx_llm_translate_request(&req, "M", flags, test_alloc, &block,
                                    &out, &len, error);
    ngx_llm_request_free(&req);

    if (*rc != NGX_LLM_TRANSLATE_OK) {
        free(block);
        return NULL;
    }

    json = cJSON_ParseWithLength(out, len);

    if (json == NULL || strlen(out) != len) {
        printf("  not JSON: %s\n", out);
    }

    free(block);

    return json;
}


/* the JSON text of a path in a tree, "" if absent */

static const char *
at(cJSON *root, const char *path)
{
    char         key[64];
    cJSON       *item;
    size_t       n;
    const char  *p, *dot;
    static char  text[4096];

    item = root;

    for (p = path; item != NULL && *p != '\0'; p = *dot ? dot + 1 : dot) {
        dot = strchr(p, '.');

        if (dot == NULL) {
            dot = p + strlen(p);
        }

        n = dot - p;

        if (n >= sizeof(key)) {
            return "";
        }

        memcpy(key, p, n);
        key[n] = '\0';

        if (key[0] >= '0' && key[0] <= '9') {
            item = cJSON_GetArrayItem(item, atoi(key));

        } else {
            item = cJSON_GetObjectItemCaseSensitive(item, key);
        }
    }

    if (item == NULL) {
        return "";
    }

    p = cJSON_PrintUnformatted(item);

    if (p == NULL) {
        return "";
    }

    snprintf(text, sizeof(text), "%s", p);
    cJSON_free((void *) p);

    return text;
}


#define IS(json, path, expect)                                                \
    CHECK(strcmp(at(json, path), expect) == 0, path " = " expect)


static void
test_request_chat(void)
{
    int          rc;
    cJSON       *j;
    const char  *err;

    j = request(NGX_LLM_DIALECT_OLLAMA_CHAT,
                "{\"model\":\"auto\",\"messages\":["
                "{\"role\":\"System\",\"content\":\"be brief\"},"
                "{\"role\":\"user\",\"content\":\"hi\"}],"
                "\"keep_alive\":\"5m\",\"think\":true}",
                0, &rc, &err);

    CHECK(rc == NGX_LLM_TRANSLATE_OK && j != NULL, "chat translated");
    IS(j, "model", "\"M\"");
    IS(j, "messages.0.role", "\"system\"");
    IS(j, "messages.0.content", "\"be brief\"");
    IS(j, "messages.1.role", "\"user\"");
    IS(j, "messages.1.content", "\"hi\"");

    /* Ollama streams by default: OpenAI is told, and asked for usage */
    IS(j, "stream", "true");
    IS(j, "stream_options", "{\"include_usage\":true}");
    IS(j, "keep_alive", "");
    IS(j, "think", "");
    IS(j, "reasoning_effort", "");
    IS(j, "temperature", "");
    cJSON_Delete(j);

    j = request(NGX_LLM_DIALECT_OLLAMA_CHAT,
                "{\"model\":\"auto\",\"stream\":false,\"think\":\"high\","
                "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                0, &rc, &err);
    IS(j, "stream", "false");
    IS(j, "stream_options", "");
    IS(j, "reasoning_effort", "\"high\"");
    cJSON_Delete(j);

    j = request(NGX_LLM_DIALECT_OLLAMA_CHAT,
                "{\"model\":\"auto\",\"think\":\"max\","
                "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                0, &rc, &err);
    IS(j, "reasoning_effort", "\"xhigh\"");
    cJSON_Delete(j);

    /* no messages: a load, nothing to send */
    j = request(NGX_LLM_DIALECT_OLLAMA_CHAT, "{\"model\":\"auto\"}", 0, &rc,
                &err);
    CHECK(j == NULL && rc == NGX_LLM_TRANSLATE_LOAD, "chat load");

    /* only Ollama's dialects */
    j = request(NGX_LLM_DIALECT_OPENAI_CHAT,
                "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                "\"content\":\"hi\"}]}", 0, &rc, &err);
    CHECK(j == NULL && rc == NGX_LLM_TRANSLATE_ERROR && err != NULL,
          "openai refused");
}


static void
test_request_generate(void)
{
    int          rc;
    cJSON       *j;
    const char  *err;

    j = request(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                "{\"model\":\"auto\",\"prompt\":\"Why is the sky blue?\","
                "\"system\":\"You are a physicist.\",\"suffix\":\"end\","
                "\"raw\":false,\"context\":[1,2,3],\"stream\":false}",
                0, &rc, &err);

    CHECK(rc == NGX_LLM_TRANSLATE_OK && j != NULL, "generate translated");
    IS(j, "messages.0", "{\"role\":\"system\","
                        "\"content\":\"You are a physicist.\"}");
    IS(j, "messages.1", "{\"role\":\"user\","
                        "\"content\":\"Why is the sky blue?\"}");
    IS(j, "messages.2", "");
    IS(j, "stream", "false");
    IS(j, "suffix", "");
    IS(j, "context", "");
    IS(j, "prompt", "");
    cJSON_Delete(j);

    /* no system: one message; streamed by default */
    j = request(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                "{\"model\":\"auto\",\"prompt\":\"hi\",\"system\":\"\"}",
                0, &rc, &err);
    IS(j, "messages", "[{\"role\":\"user\",\"content\":\"hi\"}]");
    IS(j, "stream", "true");
    IS(j, "stream_options.include_usage", "true");
    cJSON_Delete(j);

    j = request(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                "{\"model\":\"auto\",\"prompt\":\"\",\"keep_alive\":0}",
                0, &rc, &err);
    CHECK(j == NULL && rc == NGX_LLM_TRANSLATE_LOAD, "generate unload");
}


static void
test_request_images(void)
{
    int          rc;
    cJSON       *j;
    const char  *err;

    j = request(NGX_LLM_DIALECT_OLLAMA_CHAT,
                "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\","
                "\"content\":\"what is this?\",\"images\":["
                "\"iVBORw0KGgoAAAANSUhEUg==\",\"/9j/4AAQSkZJRg==\","
                "\"UklGRiQAAABXRUJQ\",\"R0lGODlhAQABAAAAACw=\","
                "\"data:image/png;base64,AAAA\"]}]}",
                0, &rc, &err);

    CHECK(rc == NGX_LLM_TRANSLATE_OK && j != NULL, "images translated");
    IS(j, "messages.0.content.0", "{\"type\":\"text\","
                                  "\"text\":\"what is this?\"}");
    IS(j, "messages.0.content.1", "{\"type\":\"image_url\",\"image_url\":"
       "{\"url\":\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==\"}}");
    IS(j, "messages.0.content.2.image_url.url",
       "\"data:image/jpeg;base64,/9j/4AAQSkZJRg==\"");
    IS(j, "messages.0.content.3.image_url.url",
       "\"data:image/webp;base64,UklGRiQAAABXRUJQ\"");
    IS(j, "messages.0.content.4.image_url.url",
       "\"data:image/gif;base64,R0lGODlhAQABAAAAACw=\"");
    IS(j, "messages.0.content.5.image_url.url",
       "\"data:image/png;base64,AAAA\"");
    cJSON_Delete(j);

    /* generate: the prompt's images; an image alone has no text part */
    j = request(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                "{\"model\":\"auto\",\"prompt\":\"describe\","
                "\"images\":[\"/9j/AA==\"]}", 0, &rc, &err);
    IS(j, "messages.0.content.0.text", "\"describe\"");
    IS(j, "messages.0.content.1.image_url.url",
       "\"data:image/jpeg;base64,/9j/AA==\"");
    cJSON_Delete(j);

    j = request(NGX_LLM_DIALECT_OLLAMA_CHAT,
                "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\","
                "\"content\":\"\",\"images\":[\"/9j/AA==\"]}]}",
                0, &rc, &err);
    IS(j, "messages.0.content.0.type", "\"image_url\"");
    IS(j, "messages.0.content.1", "");
    cJSON_Delete(j);

    j = request(NGX_LLM_DIALECT_OLLAMA_CHAT,
                "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\","
                "\"content\":\"x\",\"images\":[42]}]}", 0, &rc, &err);
    CHECK(j == NULL && rc == NGX_LLM_TRANSLATE_ERROR && err != NULL,
          "image not a string");
}


static void
test_request_tools(void)
{
    int          rc;
    cJSON       *j;
    const char  *err;

    j = request(NGX_LLM_DIALECT_OLLAMA_CHAT,
                "{\"model\":\"auto\",\"messages\":["
                "{\"role\":\"user\",\"content\":\"weather in Paris and"
                " Rome?\"},"
                "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":["
                "{\"id\":\"call_a\",\"function\":{\"index\":0,"
                "\"name\":\"get_weather\",\"arguments\":{\"city\":"
                "\"Paris\"}}},"
                "{\"function\":{\"index\":1,\"name\":\"get_time\","
                "\"arguments\":{\"tz\":\"CET\",\"n\":[1,2]}}}]},"
                "{\"role\":\"tool\",\"content\":\"12:00\","
                "\"tool_name\":\"get_time\"},"
                "{\"role\":\"tool\",\"content\":\"sunny\"},"
                "{\"role\":\"tool\",\"content\":\"x\","
                "\"tool_call_id\":\"given\"}],"
                "\"tools\":[{\"type\":\"function\",\"function\":{"
                "\"name\":\"get_weather\",\"parameters\":{\"type\":"
                "\"object\",\"properties\":{\"city\":{\"type\":"
                "\"string\"}}}}}]}",
                0, &rc, &err);

    CHECK(rc == NGX_LLM_TRANSLATE_OK && j != NULL, "tools translated");
    IS(j, "tools.0.function.name", "\"get_weather\"");
    IS(j, "tools.0.function.parameters.properties.city.type", "\"string\"");
    IS(j, "messages.1.tool_calls.0",
       "{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":"
       "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}");
    IS(j, "messages.1.tool_calls.1.id", "\"call_1_1\"");
    IS(j, "messages.1.tool_calls.1.function.arguments",
       "\"{\\\"tz\\\":\\\"CET\\\",\\\"n\\\":[1,2]}\"");

    /* results: by tool_name, then the next unanswered call, or as given */
    IS(j, "messages.2", "{\"role\":\"tool\",\"content\":\"12:00\","
                        "\"tool_call_id\":\"call_1_1\"}");
    IS(j, "messages.3.tool_call_id", "\"call_a\"");
    IS(j, "messages.4.tool_call_id", "\"given\"");
    IS(j, "messages.2.tool_name", "");
    cJSON_Delete(j);

    j = request(NGX_LLM_DIALECT_OLLAMA_CHAT,
                "{\"model\":\"auto\",\"messages\":["
                "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":["
                "{\"function\":{\"arguments\":{}}}]}]}", 0, &rc, &err);
    CHECK(j == NULL && rc == NGX_LLM_TRANSLATE_ERROR && err != NULL,
          "tool call without a name");

    /* generate has no tools */
    j = request(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                "{\"model\":\"auto\",\"prompt\":\"x\",\"tools\":[{}]}",
                0, &rc, &err);
    IS(j, "tools", "");
    cJSON_Delete(j);
}


static void
test_request_options(void)
{
    int          rc;
    cJSON       *j;
    const char  *err;
    const char  *body;

    body = "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\","
           "\"content\":\"x\"}],\"options\":{\"temperature\":0.2,"
           "\"top_p\":0.9,\"top_k\":40,\"min_p\":0.05,\"seed\":7,"
           "\"stop\":[\"\\n\\n\",\"END\"],\"num_predict\":128,"
           "\"frequency_penalty\":0.5,\"presence_penalty\":-0.5,"
           "\"num_ctx\":8192,\"repeat_penalty\":1.1,\"mirostat\":0}}";

    j = request(NGX_LLM_DIALECT_OLLAMA_CHAT, body, 0, &rc, &err);

    CHECK(rc == NGX_LLM_TRANSLATE_OK && j != NULL, "options translated");
    IS(j, "temperature", "0.2");
    IS(j, "top_p", "0.9");
    IS(j, "top_k", "40");
    IS(j, "min_p", "0.05");
    IS(j, "seed", "7");
    IS(j, "stop", "[\"\\n\\n\",\"END\"]");
    IS(j, "max_tokens", "128");
    IS(j, "frequency_penalty", "0.5");
    IS(j, "presence_penalty", "-0.5");
    IS(j, "num_predict", "");
    IS(j, "num_ctx", "");
    IS(j, "options", "");
    IS(j, "repeat_penalty", "");
    cJSON_Delete(j);

    j = request(NGX_LLM_DIALECT_OLLAMA_CHAT, body, NGX_LLM_TRANSLATE_STRICT,
                &rc, &err);
    IS(j, "top_k", "");
    IS(j, "min_p", "");
    IS(j, "temperature", "0.2");
    cJSON_Delete(j);

    /* -1 (unlimited) and -2 (fill the context) have no max_tokens */
    j = request(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                "{\"model\":\"auto\",\"prompt\":\"x\",\"options\":{"
                "\"num_predict\":-1,\"stop\":\"###\",\"temperature\":\"hot\""
                "}}", 0, &rc, &err);
    IS(j, "max_tokens", "");
    IS(j, "stop", "\"###\"");
    IS(j, "temperature", "");
    cJSON_Delete(j);
}


static void
test_request_format(void)
{
    int          rc;
    cJSON       *j;
    const char  *err;

    j = request(NGX_LLM_DIALECT_OLLAMA_CHAT,
                "{\"model\":\"auto\",\"format\":\"json\",\"messages\":["
                "{\"role\":\"user\",\"content\":\"x\"}]}", 0, &rc, &err);
    IS(j, "response_format", "{\"type\":\"json_object\"}");
    IS(j, "format", "");
    cJSON_Delete(j);

    j = request(NGX_LLM_DIALECT_OLLAMA_GENERATE,
                "{\"model\":\"auto\",\"prompt\":\"x\",\"format\":{"
                "\"type\":\"object\",\"properties\":{\"age\":{\"type\":"
                "\"integer\"}},\"required\":[\"age\"]}}", 0, &rc, &err);
    IS(j, "response_format",
       "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"response\","
       "\"schema\":{\"type\":\"object\",\"properties\":{\"age\":{\"type\":"
       "\"integer\"}},\"required\":[\"age\"]}}}");
    cJSON_Delete(j);

    j = request(NGX_LLM_DIALECT_OLLAMA_CHAT,
                "{\"model\":\"auto\",\"format\":\"\",\"messages\":["
                "{\"role\":\"user\",\"content\":\"x\"}]}", 0, &rc, &err);
    IS(j, "response_format", "");
    cJSON_Delete(j);
}


/* a whole answer */

static cJSON *
answer(ngx_llm_dialect_e d, const char *model, const char *body, size_t len,
    int *rc)
{
    char   *out;
    void   *block;
    size_t  n;
    cJSON  *json;

    block = NULL;
    *rc = ngx_llm_translate_response(d, model, 1500000000ULL, body, len,
                                     test_alloc, &block, &out, &n);

    if (*rc == NGX_LLM_TRANSLATE_ERROR) {
        free(block);
        return NULL;
    }

    json = cJSON_ParseWithLength(out, n);
    free(block);

    return json;
}


static void
test_answer(void)
{
    int          rc;
    char        *body;
    size_t       len;
    cJSON       *j;
    const char  *s;

    body = slurp("chat.json", &len);
    CHECK(body != NULL, "chat.json");

    j = answer(NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, body, len, &rc);
    CHECK(rc == NGX_LLM_TRANSLATE_OK && j != NULL, "chat answer");
    IS(j, "model", "\"llama3.2:3b\"");
    IS(j, "created_at", "\"2026-11-30T13:23:28Z\"");
    IS(j, "message", "{\"role\":\"assistant\",\"content\":"
                     "\"tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 \"}");
    IS(j, "done", "true");
    IS(j, "done_reason", "\"stop\"");
    IS(j, "total_duration", "1500000000");
    IS(j, "load_duration", "0");
    IS(j, "prompt_eval_count", "2");
    IS(j, "prompt_eval_duration", "0");
    IS(j, "eval_count", "8");
    IS(j, "eval_duration", "0");
    IS(j, "response", "");
    cJSON_Delete(j);

    /* the same as /api/generate, under the name the client asked for */
    j = answer(NGX_LLM_DIALECT_OLLAMA_GENERATE, "small", body, len, &rc);
    IS(j, "model", "\"small\"");
    IS(j, "response", "\"tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 \"");
    IS(j, "message", "");
    IS(j, "eval_count", "8");
    cJSON_Delete(j);
    free(body);

    body = slurp("chat-think.json", &len);
    j = answer(NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, body, len, &rc);
    IS(j, "message.thinking",
       "\"think0 think1 think2 think3 think4 think5 \"");
    IS(j, "eval_count", "14");
    cJSON_Delete(j);
    free(body);

    body = slurp("chat-tools.json", &len);
    j = answer(NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, body, len, &rc);
    CHECK(rc == NGX_LLM_TRANSLATE_OK, "tools answer");
    IS(j, "message.content", "\"\"");
    s = at(j, "message.tool_calls.0.id");
    CHECK(strncmp(s, "\"call_", 6) == 0, "tool call id");
    IS(j, "message.tool_calls.0.function",
       "{\"index\":0,\"name\":\"get_weather\",\"arguments\":{\"city\":"
       "\"mock\"}}");

    /* tool_calls is Ollama's stop */
    IS(j, "done_reason", "\"stop\"");
    cJSON_Delete(j);
    free(body);

    s = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"
        "null,\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\","
        "\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]},"
        "\"finish_reason\":\"tool_calls\"}]}";
    j = answer(NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, s, strlen(s), &rc);
    CHECK(rc == NGX_LLM_TRANSLATE_UPSTREAM, "bad tool arguments");
    IS(j, "error", "\"upstream tool call arguments are not a JSON object\"");
    cJSON_Delete(j);

    s = "{\"id\":\"x\",\"created\":0,\"model\":\"m\",\"choices\":[{"
        "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
        "\"cut\",\"reasoning_content\":\"hmm\"},\"finish_reason\":"
        "\"length\"}]}";
    j = answer(NGX_LLM_DIALECT_OLLAMA_GENERATE, NULL, s, strlen(s), &rc);
    IS(j, "created_at", "\"1970-01-01T00:00:00Z\"");
    IS(j, "done_reason", "\"length\"");
    IS(j, "thinking", "\"hmm\"");
    IS(j, "prompt_eval_count", "0");
    cJSON_Delete(j);

    /* a "created" no time_t holds (found by the fuzzer) */
    s = "{\"created\":1e300,\"choices\":[{\"message\":{}}]}";
    j = answer(NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, s, strlen(s), &rc);
    IS(j, "created_at", "\"9999-12-31T23:59:59Z\"");
    IS(j, "model", "\"\"");
    cJSON_Delete(j);
}


static void
test_answer_errors(void)
{
    int          rc;
    char        *body;
    size_t       len;
    cJSON       *j;
    const char  *s;

    body = slurp("error-503.json", &len);
    j = answer(NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, body, len, &rc);
    CHECK(rc == NGX_LLM_TRANSLATE_UPSTREAM, "error answer");
    IS(j, "", "{\"error\":\"mock-ollama: injected failure (status 503)\"}");
    cJSON_Delete(j);
    free(body);

    s = "{\"error\":\"plain\"}";
    j = answer(NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, s, strlen(s), &rc);
    IS(j, "error", "\"plain\"");
    cJSON_Delete(j);

    s = "<html>\r\n<h1>502 Bad Gateway</h1>\r\n</html>\n";
    j = answer(NGX_LLM_DIALECT_OLLAMA_GENERATE, NULL, s, strlen(s), &rc);
    CHECK(rc == NGX_LLM_TRANSLATE_UPSTREAM, "html answer");
    IS(j, "error", "\"<html>  <h1>502 Bad Gateway</h1>  </html>\"");
    cJSON_Delete(j);

    j = answer(NGX_LLM_DIALECT_OLLAMA_GENERATE, NULL, "", 0, &rc);
    IS(j, "error", "\"upstream answered with an empty body\"");
    cJSON_Delete(j);

    s = "{\"object\":\"list\",\"data\":[]}";
    j = answer(NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, s, strlen(s), &rc);
    IS(j, "error", "\"upstream answer is not an OpenAI chat completion\"");
    cJSON_Delete(j);

    /* invalid UTF-8 in a non-JSON body does not reach the client */
    s = "bad \xff\xfe bytes";
    j = answer(NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, s, strlen(s), &rc);
    IS(j, "error", "\"bad ?? bytes\"");
    cJSON_Delete(j);
}


/* streams */

typedef struct {
    int     rc;
    out_t   out;
} run_t;


/* feeds "in" in pieces cut at the offsets in "cuts" (ascending) */

static void
run(run_t *r, ngx_llm_dialect_e d, const char *model, size_t max,
    const char *in, size_t len, const size_t *cuts, size_t ncuts,
    int finish)
{
    void           *block;
    size_t          i, from, to;
    ngx_llm_sse_t   sse;

    r->out.len = 0;
    r->out.lines = 0;
    r->out.calls = 0;

    block = NULL;

    if (ngx_llm_sse_init(&sse, d, model, max, test_alloc, &block,
                         test_output, &r->out)
        != 0)
    {
        r->rc = -100;
        return;
    }

    sse.total_ns = 2000;
    sse.eval_ns = 1000;

    r->rc = NGX_LLM_SSE_AGAIN;
    from = 0;

    for (i = 0; i <= ncuts; i++) {
        to = (i < ncuts) ? cuts[i] : len;
        r->rc = ngx_llm_sse_feed(&sse, in + from, to - from);
        from = to;
    }

    if (finish) {
        r->rc = ngx_llm_sse_finish(&sse);
    }

    /* the output is a copy: the buffers go now */
    free(block);
}


/* the NDJSON of "in" is the same however it is split */

static int
splits_agree(ngx_llm_dialect_e d, const char *in, size_t len, run_t *whole)
{
    int      ok;
    char    *ref;
    size_t   cut[2], i, reflen;
    run_t    r;

    r.out.p = malloc(OUT_MAX + 1);
    r.out.fail = 0;

    run(whole, d, NULL, 0, in, len, NULL, 0, 1);

    ref = whole->out.p;
    reflen = whole->out.len;
    ok = 1;

    /* one cut at every offset */
    for (i = 0; i <= len && ok; i++) {
        cut[0] = i;
        run(&r, d, NULL, 0, in, len, cut, 1, 1);

        if (r.rc != whole->rc || r.out.len != reflen
            || memcmp(r.out.p, ref, reflen) != 0)
        {
            printf("  differs when cut at %zu\n", i);
            ok = 0;
        }
    }

    /* two cuts, every 7th pair, and byte by byte */
    for (i = 0; i + 7 <= len && ok; i += 3) {
        cut[0] = i;
        cut[1] = i + 7;
        run(&r, d, NULL, 0, in, len, cut, 2, 1);

        if (r.out.len != reflen || memcmp(r.out.p, ref, reflen) != 0) {
            printf("  differs when cut at %zu and %zu\n", i, i + 7);
            ok = 0;
        }
    }

    if (ok) {
        size_t  *cuts;

        cuts = malloc(len * sizeof(size_t));

        for (i = 0; i < len; i++) {
            cuts[i] = i;
        }

        run(&r, d, NULL, 0, in, len, cuts, len, 1);
        free(cuts);

        if (r.out.len != reflen || memcmp(r.out.p, ref, reflen) != 0) {
            printf("  differs byte by byte\n");
            ok = 0;
        }
    }

    free(r.out.p);

    return ok;
}


/* line n (from 0) of the output, parsed */

static cJSON *
line(out_t *out, unsigned n)
{
    char  *p, *end, *nl;

    p = out->p;
    end = out->p + out->len;

    while (n-- > 0) {
        nl = memchr(p, '\n', end - p);

        if (nl == NULL) {
            return NULL;
        }

        p = nl + 1;
    }

    nl = memchr(p, '\n', end - p);

    return nl ? cJSON_ParseWithLength(p, nl - p) : NULL;
}


static void
test_stream_fixtures(void)
{
    char    *in;
    size_t   len;
    cJSON   *j;
    run_t    r;

    r.out.p = malloc(OUT_MAX + 1);
    r.out.fail = 0;

    in = slurp("chat-stream.sse", &len);
    CHECK(in != NULL && splits_agree(NGX_LLM_DIALECT_OLLAMA_CHAT, in, len,
                                     &r),
          "chat stream: every split agrees");
    CHECK(r.rc == NGX_LLM_SSE_DONE, "chat stream done");
    CHECK(r.out.lines == 9, "8 tokens and the final object");

    j = line(&r.out, 0);
    CHECK(j != NULL, "first line is JSON");
    IS(j, "", "{\"model\":\"llama3.2:3b\",\"created_at\":"
              "\"2026-11-30T13:23:28Z\",\"message\":{\"role\":"
              "\"assistant\",\"content\":\"tok0 \"},\"done\":false}");
    cJSON_Delete(j);

    j = line(&r.out, 8);
    IS(j, "", "{\"model\":\"llama3.2:3b\",\"created_at\":"
              "\"2026-11-30T13:23:28Z\",\"message\":{\"role\":"
              "\"assistant\",\"content\":\"\"},\"done\":true,"
              "\"done_reason\":\"stop\",\"total_duration\":2000,"
              "\"load_duration\":0,\"prompt_eval_count\":2,"
              "\"prompt_eval_duration\":0,\"eval_count\":8,"
              "\"eval_duration\":1000}");
    cJSON_Delete(j);

    CHECK(splits_agree(NGX_LLM_DIALECT_OLLAMA_GENERATE, in, len, &r),
          "generate stream: every split agrees");
    j = line(&r.out, 3);
    IS(j, "response", "\"tok3 \"");
    IS(j, "message", "");
    cJSON_Delete(j);
    j = line(&r.out, 8);
    IS(j, "response", "\"\"");
    IS(j, "eval_count", "8");
    cJSON_Delete(j);
    free(in);

    in = slurp("chat-think-stream.sse", &len);
    CHECK(in != NULL && splits_agree(NGX_LLM_DIALECT_OLLAMA_CHAT, in, len,
                                     &r),
          "thinking stream: every split agrees");
    j = line(&r.out, 0);
    IS(j, "message", "{\"role\":\"assistant\",\"content\":\"\","
                     "\"thinking\":\"think0 \"}");
    cJSON_Delete(j);
    j = line(&r.out, 6);
    IS(j, "message.content", "\"tok0 \"");
    IS(j, "message.thinking", "");
    cJSON_Delete(j);
    j = line(&r.out, r.out.lines - 1);
    IS(j, "model", "\"gpt-oss:20b\"");
    IS(j, "eval_count", "14");
    cJSON_Delete(j);
    free(in);

    in = slurp("chat-tools-stream.sse", &len);
    CHECK(in != NULL && splits_agree(NGX_LLM_DIALECT_OLLAMA_CHAT, in, len,
                                     &r),
          "tool stream: every split agrees");
    CHECK(r.out.lines == 2, "a tool line and the final object");
    j = line(&r.out, 0);
    IS(j, "done", "false");
    IS(j, "message.content", "\"\"");
    IS(j, "message.tool_calls.0.function",
       "{\"index\":0,\"name\":\"get_weather\",\"arguments\":{\"city\":"
       "\"mock\"}}");
    CHECK(strncmp(at(j, "message.tool_calls.0.id"), "\"call_", 6) == 0,
          "tool id");
    cJSON_Delete(j);
    j = line(&r.out, 1);
    IS(j, "done_reason", "\"stop\"");
    IS(j, "prompt_eval_count", "3");
    cJSON_Delete(j);
    free(in);

    /* without include_usage: no counts, but a done_reason of length */
    in = slurp("chat-length-stream.sse", &len);
    CHECK(in != NULL && splits_agree(NGX_LLM_DIALECT_OLLAMA_CHAT, in, len,
                                     &r),
          "length stream: every split agrees");
    j = line(&r.out, r.out.lines - 1);
    IS(j, "done_reason", "\"length\"");
    IS(j, "eval_count", "0");
    cJSON_Delete(j);
    free(in);

    /* cut off by an upstream error: no finish, no [DONE] */
    in = slurp("chat-midstream.sse", &len);
    CHECK(in != NULL && splits_agree(NGX_LLM_DIALECT_OLLAMA_CHAT, in, len,
                                     &r),
          "midstream failure: every split agrees");
    CHECK(r.rc == NGX_LLM_SSE_FAILED, "midstream failure fails");
    j = line(&r.out, r.out.lines - 1);
    IS(j, "", "{\"error\":\"upstream stream ended before the answer was"
              " complete\"}");
    cJSON_Delete(j);
    free(in);

    free(r.out.p);
}


/*
 * What OpenRouter and vLLM send: comments, CR LF, an event in two data
 * lines, usage on the finish chunk, reasoning_content, escapes, parallel
 * tool calls with their arguments in pieces, interleaved.
 */

static const char  stream_mixed[] =
    ": OPENROUTER PROCESSING\r\n\r\n"
    "event: message\r\nid: 1\r\n"
    "data: {\"id\":\"g1\",\"created\":1700000000,\"model\":\"qwen/qwen3\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":null,\"reasoning_content\":\"Let me \\\"think\\\"\"}}]}"
    "\r\n\r\n"
    "data:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Caf\\u00e9\\n"
    "\\t\xe2\x9c\x93 \\ud83d\\ude00\"},\r\n"
    "data: \"finish_reason\":null}]}\r\n\r\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
    "{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":"
    "{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
    "{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\": \"}}]}}]}"
    "\r\r"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
    "{\"index\":1,\"id\":\"call_2\",\"function\":{\"name\":\"get_time\","
    "\"arguments\":\"{\\\"tz\\\"\"}}]}}]}\n\n"
    ":keep-alive\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
    "{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}},"
    "{\"index\":1,\"function\":{\"arguments\":\": \\\"CET\\\"}\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"other\"}},"
    "{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],"
    "\"usage\":{\"prompt_tokens\":31,\"completion_tokens\":17}}\n\n"
    "data: [DONE]\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"after\"}}]}"
    "\n\n";


static void
test_stream_mixed(void)
{
    cJSON  *j;
    run_t   r;

    r.out.p = malloc(OUT_MAX + 1);
    r.out.fail = 0;

    CHECK(splits_agree(NGX_LLM_DIALECT_OLLAMA_CHAT, stream_mixed,
                       sizeof(stream_mixed) - 1, &r),
          "mixed stream: every split agrees");
    CHECK(r.rc == NGX_LLM_SSE_DONE, "mixed stream done");
    CHECK(r.out.lines == 4, "thinking, content, tools, final");

    j = line(&r.out, 0);
    IS(j, "", "{\"model\":\"qwen/qwen3\",\"created_at\":"
              "\"2023-11-14T22:13:20Z\",\"message\":{\"role\":"
              "\"assistant\",\"content\":\"\",\"thinking\":"
              "\"Let me \\\"think\\\"\"},\"done\":false}");
    cJSON_Delete(j);

    j = line(&r.out, 1);
    IS(j, "message.content", "\"Caf\xc3\xa9\\n\\t\xe2\x9c\x93 "
                             "\xf0\x9f\x98\x80\"");
    cJSON_Delete(j);

    j = line(&r.out, 2);
    IS(j, "message.tool_calls",
       "[{\"id\":\"call_1\",\"function\":{\"index\":0,\"name\":"
       "\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}},"
       "{\"id\":\"call_2\",\"function\":{\"index\":1,\"name\":"
       "\"get_time\",\"arguments\":{\"tz\":\"CET\"}}}]");
    IS(j, "done", "false");
    cJSON_Delete(j);

    j = line(&r.out, 3);
    IS(j, "done_reason", "\"stop\"");
    IS(j, "prompt_eval_count", "31");
    IS(j, "eval_count", "17");
    cJSON_Delete(j);

    free(r.out.p);
}


static void
test_stream_errors(void)
{
    char         big[600];
    cJSON       *j;
    run_t        r;
    size_t       n;
    const char  *s;

    r.out.p = malloc(OUT_MAX + 1);
    r.out.fail = 0;

    /*
     * an error event after some content; "created" is given, so that no
     * split sees the clock move (the time is stamped when it is absent)
     */
    s = "data: {\"created\":1700000000,"
        "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}"
        "\n\n"
        "data: {\"error\":{\"message\":\"Provider returned error\","
        "\"code\":502}}\n\n"
        "data: {\"created\":1700000000,"
        "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}"
        "\n\n";
    CHECK(splits_agree(NGX_LLM_DIALECT_OLLAMA_CHAT, s, strlen(s), &r),
          "error event: every split agrees");
    CHECK(r.rc == NGX_LLM_SSE_FAILED && r.out.lines == 2, "error event");
    j = line(&r.out, 1);
    IS(j, "", "{\"error\":\"Provider returned error\"}");
    cJSON_Delete(j);

    /* malformed */
    s = "data: {\"created\":1700000000,"
        "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}"
        "\n\ndata: {\"choices\":[\n\ndata: [DONE]\n\n";
    CHECK(splits_agree(NGX_LLM_DIALECT_OLLAMA_CHAT, s, strlen(s), &r),
          "malformed: every split agrees");
    CHECK(r.rc == NGX_LLM_SSE_FAILED && r.out.lines == 2, "malformed");
    j = line(&r.out, 1);
    IS(j, "error", "\"upstream sent an event that is not JSON\"");
    cJSON_Delete(j);

    s = "data: [1,2]\n\n";
    run(&r, NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, 0, s, strlen(s), NULL, 0, 0);
    CHECK(r.rc == NGX_LLM_SSE_FAILED, "not an object");

    /* JSON where a stream was expected: an error answered with 200 */
    s = "\n{\"error\":{\"message\":\"rate limited\",\"code\":429}}\n";
    CHECK(splits_agree(NGX_LLM_DIALECT_OLLAMA_GENERATE, s, strlen(s), &r),
          "json body: every split agrees");
    CHECK(r.rc == NGX_LLM_SSE_FAILED && r.out.lines == 1, "json error");
    j = line(&r.out, 0);
    IS(j, "", "{\"error\":\"rate limited\"}");
    cJSON_Delete(j);

    /* ... or a server that did not stream: one final line */
    s = "{\"created\":1,\"model\":\"m\",\"choices\":[{\"message\":{"
        "\"content\":\"all\"},\"finish_reason\":\"stop\"}],\"usage\":{"
        "\"prompt_tokens\":1,\"completion_tokens\":2}}";
    run(&r, NGX_LLM_DIALECT_OLLAMA_GENERATE, "tier", 0, s, strlen(s), NULL, 0,
        1);
    CHECK(r.rc == NGX_LLM_SSE_DONE && r.out.lines == 1, "json answer");
    j = line(&r.out, 0);
    IS(j, "model", "\"tier\"");
    IS(j, "response", "\"all\"");
    IS(j, "done", "true");
    IS(j, "total_duration", "2000");
    cJSON_Delete(j);

    /* empty, and cut before the first event ended */
    run(&r, NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, 0, "", 0, NULL, 0, 1);
    CHECK(r.rc == NGX_LLM_SSE_FAILED, "empty stream");
    j = line(&r.out, 0);
    IS(j, "error", "\"upstream answered with an empty body\"");
    cJSON_Delete(j);

    /* a last event without its blank line, [DONE] never sent */
    s = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},"
        "\"finish_reason\":\"stop\"}]}";
    run(&r, NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, 0, s, strlen(s), NULL, 0, 1);
    CHECK(r.rc == NGX_LLM_SSE_DONE && r.out.lines == 2, "unterminated");

    /* an event over the cap; the cap is exact */
    memset(big, 'x', sizeof(big));
    n = sprintf(big, "data: {\"choices\":[{\"index\":0,\"delta\":{"
                     "\"content\":\"");
    memset(big + n, 'y', 300);
    n += 300;
    n += sprintf(big + n, "\"}}]}\n\n");

    run(&r, NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, 256, big, n, NULL, 0, 0);
    CHECK(r.rc == NGX_LLM_SSE_FAILED && r.out.lines == 1, "over-long event");
    j = line(&r.out, 0);
    IS(j, "error", "\"upstream event too long\"");
    cJSON_Delete(j);

    run(&r, NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, n - 8, big, n, NULL, 0, 0);
    CHECK(r.rc == NGX_LLM_SSE_AGAIN && r.out.lines == 1, "event at the cap");

    run(&r, NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, n - 9, big, n, NULL, 0, 0);
    CHECK(r.rc == NGX_LLM_SSE_FAILED, "event one byte over the cap");

    /* too many tool calls */
    {
        char    tools[8192];
        size_t  k;

        k = sprintf(tools, "data: {\"choices\":[{\"index\":0,\"delta\":{"
                           "\"tool_calls\":[");

        for (n = 0; n <= NGX_LLM_SSE_TOOLS_MAX; n++) {
            k += sprintf(tools + k, "%s{\"index\":%zu,\"function\":{"
                         "\"name\":\"f\",\"arguments\":\"{}\"}}",
                         n ? "," : "", n);
        }

        k += sprintf(tools + k, "]}}]}\n\n");
        run(&r, NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, 0, tools, k, NULL, 0, 0);
        CHECK(r.rc == NGX_LLM_SSE_FAILED, "too many tool calls");
    }

    /* tool arguments that are no object */
    s = "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
        "{\"index\":0,\"function\":{\"name\":\"f\",\"arguments\":\"{\"}}]},"
        "\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n";
    run(&r, NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, 0, s, strlen(s), NULL, 0, 1);
    CHECK(r.rc == NGX_LLM_SSE_FAILED, "bad tool arguments in a stream");

    /* the output callback refuses: abort, and nothing more */
    s = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}"
        "\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}"
        "\n\n";
    r.out.fail = 2;
    run(&r, NGX_LLM_DIALECT_OLLAMA_CHAT, NULL, 0, s, strlen(s), NULL, 0, 1);
    CHECK(r.rc == NGX_LLM_SSE_ABORT && r.out.lines == 1, "output refused");
    r.out.fail = 0;

    free(r.out.p);
}


static void
test_misc(void)
{
    char  buf[32];

    CHECK(ngx_llm_rfc3339(buf, sizeof(buf), 1700000000) == 20
          && strcmp(buf, "2023-11-14T22:13:20Z") == 0, "rfc3339");
    CHECK(ngx_llm_rfc3339(buf, sizeof(buf), -5) == 20
          && strcmp(buf, "1970-01-01T00:00:00Z") == 0, "rfc3339 negative");
    CHECK(ngx_llm_rfc3339(buf, sizeof(buf), 1LL << 60) == 20
          && strcmp(buf, "9999-12-31T23:59:59Z") == 0, "rfc3339 far");
    CHECK(ngx_llm_rfc3339(buf, 10, 0) == 0, "rfc3339 small buffer");
}


/* the filter mode, for t/translate-mock.py */

static int
stdout_output(void *data, const char *p, size_t len)
{
    (void) data;

    return fwrite(p, 1, len, stdout) == len ? 0 : -1;
}


static int
filter(int argc, char **argv)
{
    int                 rc;
    char               *in, *out;
    void               *block, *block2;
    size_t              len, n, size;
    const char         *err;
    ngx_llm_sse_t       sse;
    ngx_llm_request_t   req;
    ngx_llm_dialect_e   d;

    if (argc < 3) {
        return 2;
    }

    d = strcmp(argv[2], "generate") == 0 ? NGX_LLM_DIALECT_OLLAMA_GENERATE
                                         : NGX_LLM_DIALECT_OLLAMA_CHAT;

    size = 1 << 16;
    len = 0;
    in = malloc(size);

    if (strcmp(argv[1], "stream") == 0) {
        block = NULL;

        if (ngx_llm_sse_init(&sse, d, NULL, 0, test_alloc, &block,
                             stdout_output, NULL)
            != 0)
        {
            return 2;
        }

        /* small reads, as they come */
        while ((n = fread(in, 1, 100, stdin)) > 0) {
            ngx_llm_sse_feed(&sse, in, n);
        }

        rc = ngx_llm_sse_finish(&sse);
        free(block);
        free(in);

        return rc == NGX_LLM_SSE_DONE ? 0 : 1;
    }

    while ((n = fread(in + len, 1, size - len, stdin)) > 0) {
        len += n;

        if (len == size) {
            size *= 2;
            in = realloc(in, size);
        }
    }

    block = NULL;

    if (strcmp(argv[1], "request") == 0 && argc > 3) {
        if (ngx_llm_request_parse(&req, d, in, len, NULL) != 0) {
            fprintf(stderr, "%s\n", req.error);
            return 1;
        }

        rc = ngx_llm_translate_request(&req, argv[3], 0, test_alloc, &block,
                                       &out, &n, &err);
        ngx_llm_request_free(&req);

        if (rc != NGX_LLM_TRANSLATE_OK) {
            fprintf(stderr, "%s\n", err ? err : "load");
            return 1;
        }

    } else {
        rc = ngx_llm_translate_response(d, NULL, 0, in, len, test_alloc,
                                        &block, &out, &n);

        if (rc == NGX_LLM_TRANSLATE_ERROR) {
            return 2;
        }
    }

    fwrite(out, 1, n, stdout);
    block2 = block;
    free(block2);
    free(in);

    return rc == NGX_LLM_TRANSLATE_OK ? 0 : 1;
}


int
main(int argc, char **argv)
{
    static char  dir[512];
    char        *slash;
    FILE        *f;

    if (argc > 1) {
        return filter(argc, argv);
    }

    /* run from the top of the tree, or from anywhere as build/unit-* */
    f = fopen("t/unit/fixtures/chat.json", "rb");

    if (f != NULL) {
        fclose(f);

    } else if ((slash = strrchr(argv[0], '/')) != NULL) {
        snprintf(dir, sizeof(dir), "%.*s/../t/unit/fixtures",
                 (int) (slash - argv[0]), argv[0]);
        fixtures_dir = dir;
    }

    test_request_chat();
    test_request_generate();
    test_request_images();
    test_request_tools();
    test_request_options();
    test_request_format();
    test_answer();
    test_answer_errors();
    test_stream_fixtures();
    test_stream_mixed();
    test_stream_errors();
    test_misc();

    UNIT_DONE("translate");
}
