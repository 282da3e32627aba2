
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The answers assembled from the servers': unions, aliases, versions,
 * /api/show of an alias, a load of an alias.
 */


#include <stdlib.h>

#include <cjson/cJSON.h>

#include "unit.h"
#include "ngx_llm_lists.h"


static const char  *aliases[] = { "auto", "jarvis" };
static const char  *models[] = { "gpt-oss:20b", "llama3.2:3b" };

static ngx_llm_lists_conf_t  conf = {
    aliases, 2, models, 2, "ngx_llm_router/test", 1796000000
};


#define ANSWER(t, st, b)  { t, st, b, sizeof(b) - 1 }


static int
count(cJSON *root, const char *array)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, array));
}


static cJSON *
entry(cJSON *root, const char *array, const char *key, const char *name)
{
    cJSON  *e, *v;

    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root, array)) {
        v = cJSON_GetObjectItemCaseSensitive(e, key);

        if (cJSON_IsString(v) && strcmp(v->valuestring, name) == 0) {
            return e;
        }
    }

    return NULL;
}


static void
test_tags(void)
{
    char   *out;
    cJSON  *root, *e, *d;

    ngx_llm_answer_t  a[] = {
        ANSWER(0, 200, "{\"models\":[{\"name\":\"gpt-oss:20b\",\"model\":"
               "\"gpt-oss:20b\",\"size\":13000,\"digest\":\"aa\"},"
               "{\"name\":\"nomic-embed-text:latest\",\"model\":"
               "\"nomic-embed-text:latest\",\"size\":270}]}"),
        ANSWER(1, 200, "{\"models\":[{\"name\":\"llama3.2:3b\",\"model\":"
               "\"llama3.2:3b\",\"size\":2000},{\"name\":\"GPT-OSS:20B\","
               "\"model\":\"GPT-OSS:20B\",\"size\":1}]}"),
        ANSWER(1, 0, ""),
        ANSWER(0, 500, "{\"error\":\"x\"}"),
    };

    out = ngx_llm_lists_tags(a, 4, &conf);
    root = cJSON_Parse(out);

    CHECK(root != NULL, "tags: JSON");
    CHECK(count(root, "models") == 5, "tags: 2 aliases + 3 models, once each");

    e = entry(root, "models", "name", "auto");
    CHECK(e != NULL, "tags: auto listed");
    CHECK(strlen(cJSON_GetObjectItemCaseSensitive(e, "digest")->valuestring)
          == 64, "tags: auto's digest is 64 hex");
    CHECK(cJSON_GetObjectItemCaseSensitive(e, "size")->valuedouble == 13000,
          "tags: auto's size is the largest tier model's");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(e, "modified_at")
                 ->valuestring, "2026-11-30T00:53:20Z") == 0,
          "tags: auto's date is the router's start");
    d = cJSON_GetObjectItemCaseSensitive(e, "details");
    CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(d, "families")),
          "tags: auto has details");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(entry(root, "models",
                                                        "name", "jarvis"),
                                                  "digest")->valuestring,
                 cJSON_GetObjectItemCaseSensitive(e, "digest")->valuestring)
          != 0, "tags: each alias its own digest");
    CHECK(entry(root, "models", "name", "GPT-OSS:20B") == NULL,
          "tags: the same model under another spelling once");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(
                     entry(root, "models", "name", "gpt-oss:20b"), "digest")
                 ->valuestring, "aa") == 0,
          "tags: a server's entry as it came");

    cJSON_Delete(root);
    free(out);

    CHECK(ngx_llm_lists_tags(&a[2], 2, &conf) == NULL,
          "tags: no server answered, no list");
}


static void
test_models_ps_version(void)
{
    char   *out;
    cJSON  *root;

    ngx_llm_answer_t  m[] = {
        ANSWER(0, 200, "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-oss:20b\","
               "\"object\":\"model\",\"created\":1,\"owned_by\":\"library\"}]}"),
        ANSWER(1, 200, "{\"object\":\"list\",\"data\":[{\"id\":\"llama3.2:3b\","
               "\"object\":\"model\",\"created\":2,\"owned_by\":\"library\"}]}"),
    };

    ngx_llm_answer_t  v[] = {
        ANSWER(0, 200, "{\"version\":\"0.13.0\"}"),
        ANSWER(1, 200, "{\"version\":\"0.12.11\"}"),
        ANSWER(1, 200, "{\"version\":\"0.13.0-rc1\"}"),
    };

    out = ngx_llm_lists_models(m, 2, &conf);
    root = cJSON_Parse(out);
    CHECK(count(root, "data") == 4, "v1 models: aliases + both servers'");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(
                     entry(root, "data", "id", "auto"), "owned_by")
                 ->valuestring, "ngx_llm_router") == 0,
          "v1 models: auto owned by the router");
    cJSON_Delete(root);
    free(out);

    out = ngx_llm_lists_model(m, 2, &conf, "LLAMA3.2:3B", 11);
    root = cJSON_Parse(out);
    CHECK(root != NULL && strcmp(cJSON_GetObjectItemCaseSensitive(root, "id")
                                 ->valuestring, "llama3.2:3b") == 0,
          "v1 model: found as Ollama names it");
    cJSON_Delete(root);
    free(out);

    out = ngx_llm_lists_model(m, 2, &conf, "Auto", 4);
    root = cJSON_Parse(out);
    CHECK(root != NULL && strcmp(cJSON_GetObjectItemCaseSensitive(root, "id")
                                 ->valuestring, "Auto") == 0,
          "v1 model: an alias, as the client wrote it");
    cJSON_Delete(root);
    free(out);

    CHECK(ngx_llm_lists_model(m, 2, &conf, "nope", 4) == NULL,
          "v1 model: unknown");

    out = ngx_llm_lists_ps(m, 0, &conf);
    CHECK(out == NULL, "ps: nobody answered");

    out = ngx_llm_lists_version(v, 3, &conf);
    root = cJSON_Parse(out);
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(root, "version")
                 ->valuestring, "0.12.11") == 0, "version: the lowest");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(root, "router")
                 ->valuestring, "ngx_llm_router/test") == 0,
          "version: and the router's");
    cJSON_Delete(root);
    free(out);

    CHECK(ngx_llm_version_cmp("0.12.11", "0.12.9") > 0, "12.11 > 12.9");
    CHECK(ngx_llm_version_cmp("0.13.0-rc1", "0.13.0") < 0, "rc before release");
    CHECK(ngx_llm_version_cmp("v0.13.0", "0.13.0") == 0, "a leading v");
}


static void
test_show_load(void)
{
    int     status;
    char   *out;
    cJSON  *root, *caps;

    ngx_llm_answer_t  s[] = {
        ANSWER(0, 200, "{\"modelfile\":\"FROM gpt-oss\",\"details\":"
               "{\"family\":\"gptoss\"},\"capabilities\":[\"completion\","
               "\"tools\",\"thinking\"]}"),
        ANSWER(1, 200, "{\"modelfile\":\"FROM llama\",\"capabilities\":"
               "[\"completion\",\"tools\"]}"),
    };

    ngx_llm_answer_t  l[] = {
        ANSWER(0, 200, "{\"model\":\"gpt-oss:20b\",\"created_at\":\"x\","
               "\"response\":\"\",\"done\":true,\"done_reason\":\"unload\"}"),
        ANSWER(1, 200, "{\"model\":\"llama3.2:3b\",\"done\":true}"),
    };

    ngx_llm_answer_t  bad[] = {
        ANSWER(0, 200, "{\"model\":\"gpt-oss:20b\",\"done\":true}"),
        ANSWER(1, 404, "{\"error\":\"model 'llama3.2:3b' not found\"}"),
    };

    out = ngx_llm_lists_show(s, 2, &conf, "auto");
    root = cJSON_Parse(out);
    caps = cJSON_GetObjectItemCaseSensitive(root, "capabilities");
    CHECK(cJSON_GetArraySize(caps) == 2, "show: the capabilities both have");
    CHECK(strstr(cJSON_GetObjectItemCaseSensitive(root, "modelfile")
                 ->valuestring, "\"auto\" routes") != NULL,
          "show: says what the alias is");
    CHECK(cJSON_GetObjectItemCaseSensitive(root, "details") != NULL,
          "show: the first tier's details");
    cJSON_Delete(root);
    free(out);

    out = ngx_llm_lists_load(l, 2, &conf, "auto", 1, &status);
    root = cJSON_Parse(out);
    CHECK(status == 200, "load: 200 when every tier answered");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(root, "model")->valuestring,
                 "auto") == 0, "load: names the alias");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(root, "done_reason")
                 ->valuestring, "unload") == 0, "load: the servers' shape");
    cJSON_Delete(root);
    free(out);

    out = ngx_llm_lists_load(bad, 2, &conf, "auto", 0, &status);
    CHECK(status == 404 && strstr(out, "not found") != NULL,
          "load: a tier's failure passed on");
    free(out);
}


int
main(void)
{
    test_tags();
    test_models_ps_version();
    test_show_load();

    UNIT_DONE("lists");
}
