
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Ollama <-> OpenAI translation for api=openai tiers.  Ollama's own
 * compatibility layer goes the other way (openai/openai.go and
 * middleware/openai.go in ollama/ollama); where a mapping here is the
 * inverse of one there, the comment names the Go function.
 *
 * Requests: the parsed Ollama tree is only read.  The OpenAI body is a
 * new cJSON tree whose big members (tools, schemas, message texts) are
 * references to the client's nodes, not copies, printed once.
 *
 * Streams: a byte-at-a-time SSE reader (no assumption about where the
 * upstream's reads split) gathers one event's data in a fixed buffer,
 * cJSON parses the event, and each content delta becomes one NDJSON line
 * written by hand into a second fixed buffer.  Tool-call deltas gather in
 * a third; they come out, as Ollama's tools parser sends them, in one
 * done:false line of their own just before the final object.
 */


#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ngx_llm_translate.h"


#define NGX_LLM_SSE_MODE_START    0
#define NGX_LLM_SSE_MODE_SSE      1
#define NGX_LLM_SSE_MODE_JSON     2

#define NGX_LLM_SSE_FIELD_NAME    0
#define NGX_LLM_SSE_FIELD_DATA    1
#define NGX_LLM_SSE_FIELD_SKIP    2

/* an upstream error's text is cut there in what the client gets */
#define NGX_LLM_ERROR_MAX         1024

#define NGX_LLM_TOOLS_USED_MAX    64


static cJSON *ngx_llm_tr_messages(ngx_llm_request_t *req, cJSON *root,
    const char **error);
static cJSON *ngx_llm_tr_message(cJSON *msg, unsigned n, cJSON **calls,
    unsigned long long *used, const char **error);
static cJSON *ngx_llm_tr_images(const char *text, cJSON *images,
    const char **error);
static cJSON *ngx_llm_tr_image_url(const char *b64);
static cJSON *ngx_llm_tr_tool_calls(cJSON *calls, unsigned n,
    const char **error);
static const char *ngx_llm_tr_tool_call_id(cJSON *msg, cJSON *calls,
    unsigned long long *used);
static int ngx_llm_tr_options(cJSON *out, cJSON *root, unsigned flags);
static int ngx_llm_tr_format(cJSON *out, cJSON *root);
static int ngx_llm_tr_think(cJSON *out, cJSON *root);
static int ngx_llm_tr_print(cJSON *tree, ngx_llm_alloc_pt alloc,
    void *data, char **out, size_t *len);
static int ngx_llm_tr_answer(ngx_llm_dialect_e dialect, const char *model,
    uint64_t total_ns, cJSON *root, cJSON **tree, const char **why);
static cJSON *ngx_llm_tr_tool_calls_back(cJSON *calls);
static cJSON *ngx_llm_tr_error(cJSON *root, const char *body, size_t len,
    const char *why);
static const char *ngx_llm_tr_error_message(cJSON *root);
static void ngx_llm_tr_clean(char *dst, size_t size, const char *src,
    size_t n);
static int ngx_llm_tr_final_fields(cJSON *out, const char *reason,
    uint64_t total_ns, uint64_t eval_ns, double prompt, double eval);
static const char *ngx_llm_tr_done_reason(const char *finish);
static int64_t ngx_llm_tr_seconds(cJSON *item);
static int ngx_llm_tr_add_ref(cJSON *obj, const char *name, cJSON *item);
static void ngx_llm_tr_lower(char *s);

static int ngx_llm_sse_step(ngx_llm_sse_t *sse, const char *p,
    const char *end, const char **next);
static int ngx_llm_sse_data(ngx_llm_sse_t *sse);
static int ngx_llm_sse_line_end(ngx_llm_sse_t *sse);
static int ngx_llm_sse_append(ngx_llm_sse_t *sse, const char *p, size_t n);
static int ngx_llm_sse_event(ngx_llm_sse_t *sse);
static int ngx_llm_sse_delta(ngx_llm_sse_t *sse, cJSON *root);
static int ngx_llm_sse_tool_delta(ngx_llm_sse_t *sse, cJSON *calls);
static int ngx_llm_sse_content(ngx_llm_sse_t *sse, const char *content,
    const char *thinking);
static int ngx_llm_sse_final(ngx_llm_sse_t *sse);
static int ngx_llm_sse_tools_line(ngx_llm_sse_t *sse);
static int ngx_llm_sse_json_body(ngx_llm_sse_t *sse);
static int ngx_llm_sse_fail(ngx_llm_sse_t *sse, const char *msg);
static int ngx_llm_sse_emit(ngx_llm_sse_t *sse, const char *p, size_t n);
static int ngx_llm_sse_emit_tree(ngx_llm_sse_t *sse, cJSON *tree);
static char *ngx_llm_sse_head(ngx_llm_sse_t *sse, char *p);
static int ngx_llm_sse_copy(char *dst, size_t size, const char *src,
    size_t n);
static size_t ngx_llm_escaped_len(const char *s, size_t len);
static char *ngx_llm_escape(char *dst, const char *s, size_t len);


/* the request: Ollama chat or generate -> OpenAI chat completions */

int
ngx_llm_translate_request(ngx_llm_request_t *req, const char *model,
    unsigned flags, ngx_llm_alloc_pt alloc, void *data, char **out,
    size_t *len, const char **error)
{
    int     rc;
    cJSON  *root, *body, *messages, *item, *tools;

    *out = NULL;
    *len = 0;
    *error = NULL;

    if (req->dialect != NGX_LLM_DIALECT_OLLAMA_CHAT
        && req->dialect != NGX_LLM_DIALECT_OLLAMA_GENERATE)
    {
        *error = "only Ollama chat and generate requests are translated";
        return NGX_LLM_TRANSLATE_ERROR;
    }

    if (req->load) {
        /* nothing like a load or an unload in OpenAI's API */
        return NGX_LLM_TRANSLATE_LOAD;
    }

    if (ngx_llm_request_tree(req) != 0) {
        *error = "out of memory";
        return NGX_LLM_TRANSLATE_ERROR;
    }

    root = req->root;

    body = cJSON_CreateObject();
    if (body == NULL) {
        goto nomem;
    }

    if (cJSON_AddStringToObject(body, "model", model) == NULL) {
        goto nomem;
    }

    messages = ngx_llm_tr_messages(req, root, error);

    if (messages == NULL) {
        cJSON_Delete(body);
        return NGX_LLM_TRANSLATE_ERROR;
    }

    cJSON_AddItemToObject(body, "messages", messages);

    /*
     * Ollama streams unless told not to (req->stream has that default
     * applied); the usage chunk, asked for, fills the final object's
     * counts: middleware/openai.go ChatWriter.writeResponse sends it
     * after the finish chunk only when include_usage is set.
     */

    if (cJSON_AddBoolToObject(body, "stream", req->stream ? 1 : 0) == NULL) {
        goto nomem;
    }

    if (req->stream) {
        item = cJSON_AddObjectToObject(body, "stream_options");

        if (item == NULL
            || cJSON_AddTrueToObject(item, "include_usage") == NULL)
        {
            goto nomem;
        }
    }

    if (ngx_llm_tr_options(body, root, flags) != 0
        || ngx_llm_tr_format(body, root) != 0
        || ngx_llm_tr_think(body, root) != 0)
    {
        goto nomem;
    }

    /* api.Tool is OpenAI's tool object: FromChatRequest passes them on */
    tools = cJSON_GetObjectItemCaseSensitive(root, "tools");

    if (cJSON_IsArray(tools) && tools->child != NULL
        && req->dialect == NGX_LLM_DIALECT_OLLAMA_CHAT)
    {
        if (ngx_llm_tr_add_ref(body, "tools", tools) != 0) {
            goto nomem;
        }
    }

    rc = ngx_llm_tr_print(body, alloc, data, out, len);
    cJSON_Delete(body);

    if (rc != 0) {
        *error = "out of memory";
        return NGX_LLM_TRANSLATE_ERROR;
    }

    return NGX_LLM_TRANSLATE_OK;

nomem:

    cJSON_Delete(body);
    *error = "out of memory";
    return NGX_LLM_TRANSLATE_ERROR;
}


/*
 * Chat messages one for one; generate's "system" and "prompt" (with its
 * "images") as a system and a user message.  Generate's "suffix" (fill in
 * the middle), "template", "context" and "raw" have no chat completions
 * equivalent and are dropped.
 */

static cJSON *
ngx_llm_tr_messages(ngx_llm_request_t *req, cJSON *root,
    const char **error)
{
    unsigned             n;
    cJSON               *out, *msg, *om, *calls, *item, *images;
    unsigned long long   used;

    out = cJSON_CreateArray();
    if (out == NULL) {
        goto nomem;
    }

    if (req->dialect == NGX_LLM_DIALECT_OLLAMA_GENERATE) {

        item = cJSON_GetObjectItemCaseSensitive(root, "system");

        if (cJSON_IsString(item) && item->valuestring[0] != '\0') {
            om = cJSON_CreateObject();
            if (om == NULL) {
                goto nomem;
            }

            cJSON_AddItemToArray(out, om);

            if (cJSON_AddStringToObject(om, "role", "system") == NULL
                || ngx_llm_tr_add_ref(om, "content", item) != 0)
            {
                goto nomem;
            }
        }

        om = cJSON_CreateObject();
        if (om == NULL) {
            goto nomem;
        }

        cJSON_AddItemToArray(out, om);

        if (cJSON_AddStringToObject(om, "role", "user") == NULL) {
            goto nomem;
        }

        item = cJSON_GetObjectItemCaseSensitive(root, "prompt");
        images = cJSON_GetObjectItemCaseSensitive(root, "images");

        if (cJSON_IsArray(images) && images->child != NULL) {
            item = ngx_llm_tr_images(item->valuestring, images, error);

            if (item == NULL) {
                cJSON_Delete(out);
                return NULL;
            }

            cJSON_AddItemToObject(om, "content", item);

        } else if (ngx_llm_tr_add_ref(om, "content", item) != 0) {
            goto nomem;
        }

        return out;
    }

    calls = NULL;
    used = 0;
    n = 0;

    msg = cJSON_GetObjectItemCaseSensitive(root, "messages");

    for (msg = msg->child; msg != NULL; msg = msg->next, n++) {
        om = ngx_llm_tr_message(msg, n, &calls, &used, error);

        if (om == NULL) {
            cJSON_Delete(out);
            return NULL;
        }

        cJSON_AddItemToArray(out, om);
    }

    return out;

nomem:

    cJSON_Delete(out);
    *error = "out of memory";
    return NULL;
}


/*
 * One chat message: the inverse of FromChatRequest (openai/openai.go).
 * Ollama folds the role's case (api.Message.UnmarshalJSON).  "thinking"
 * of an earlier answer is dropped: OpenAI takes no reasoning back.
 */

static cJSON *
ngx_llm_tr_message(cJSON *msg, unsigned n, cJSON **calls,
    unsigned long long *used, const char **error)
{
    cJSON       *om, *role, *content, *images, *tc, *item;
    const char  *text, *id;

    role = cJSON_GetObjectItemCaseSensitive(msg, "role");
    content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    images = cJSON_GetObjectItemCaseSensitive(msg, "images");
    tc = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");

    text = cJSON_IsString(content) ? content->valuestring : "";

    om = cJSON_CreateObject();
    if (om == NULL) {
        goto nomem;
    }

    item = cJSON_AddStringToObject(om, "role", role->valuestring);
    if (item == NULL) {
        goto nomem;
    }

    ngx_llm_tr_lower(item->valuestring);

    if (cJSON_IsArray(images) && images->child != NULL) {
        item = ngx_llm_tr_images(text, images, error);

        if (item == NULL) {
            cJSON_Delete(om);
            return NULL;
        }

        cJSON_AddItemToObject(om, "content", item);

    } else if (cJSON_IsString(content)) {
        if (ngx_llm_tr_add_ref(om, "content", content) != 0) {
            goto nomem;
        }

    } else if (cJSON_AddStringToObject(om, "content", "") == NULL) {
        goto nomem;
    }

    if (cJSON_IsArray(tc) && tc->child != NULL) {
        item = ngx_llm_tr_tool_calls(tc, n, error);

        if (item == NULL) {
            cJSON_Delete(om);
            return NULL;
        }

        cJSON_AddItemToObject(om, "tool_calls", item);

        /* the calls the next tool results answer */
        *calls = item;
        *used = 0;
    }

    if (strcmp(cJSON_GetObjectItemCaseSensitive(om, "role")->valuestring,
               "tool") == 0)
    {
        id = ngx_llm_tr_tool_call_id(msg, *calls, used);

        if (id != NULL && cJSON_AddStringToObject(om, "tool_call_id", id)
                          == NULL)
        {
            goto nomem;
        }
    }

    return om;

nomem:

    cJSON_Delete(om);
    *error = "out of memory";
    return NULL;
}


/*
 * Ollama's images (base64, no type) become image_url content parts with a
 * data URL after the text; decodeImageURL (openai/openai.go) takes jpeg,
 * png and webp data URLs, which is what the magic bytes say here.
 */

static cJSON *
ngx_llm_tr_images(const char *text, cJSON *images, const char **error)
{
    cJSON  *parts, *part, *img;

    parts = cJSON_CreateArray();
    if (parts == NULL) {
        goto nomem;
    }

    if (text != NULL && text[0] != '\0') {
        part = cJSON_CreateObject();
        if (part == NULL) {
            goto nomem;
        }

        cJSON_AddItemToArray(parts, part);

        if (cJSON_AddStringToObject(part, "type", "text") == NULL
            || cJSON_AddItemToObject(part, "text",
                                     cJSON_CreateStringReference(text))
               == 0)
        {
            goto nomem;
        }
    }

    for (img = images->child; img != NULL; img = img->next) {

        if (!cJSON_IsString(img)) {
            cJSON_Delete(parts);
            *error = "\"images\" must be an array of base64 strings";
            return NULL;
        }

        part = cJSON_CreateObject();
        if (part == NULL) {
            goto nomem;
        }

        cJSON_AddItemToArray(parts, part);

        if (cJSON_AddStringToObject(part, "type", "image_url") == NULL) {
            goto nomem;
        }

        if (cJSON_AddItemToObject(part, "image_url",
                                  ngx_llm_tr_image_url(img->valuestring))
            == 0)
        {
            goto nomem;
        }
    }

    return parts;

nomem:

    cJSON_Delete(parts);
    *error = "out of memory";
    return NULL;
}


static cJSON *
ngx_llm_tr_image_url(const char *b64)
{
    char        *url;
    size_t       n;
    cJSON       *obj, *str;
    const char  *type;

    obj = cJSON_CreateObject();
    if (obj == NULL) {
        return NULL;
    }

    if (strncmp(b64, "data:", 5) == 0) {
        /* already a data URL */
        if (cJSON_AddItemToObject(obj, "url",
                                  cJSON_CreateStringReference(b64)) == 0)
        {
            cJSON_Delete(obj);
            return NULL;
        }

        return obj;
    }

    /* the first bytes of each format, base64-encoded */
    if (strncmp(b64, "iVBORw0KGgo", 11) == 0) {
        type = "png";

    } else if (strncmp(b64, "R0lGOD", 6) == 0) {
        type = "gif";

    } else if (strncmp(b64, "UklGR", 5) == 0) {
        type = "webp";

    } else {
        type = "jpeg";      /* "/9j/", and a guess for anything else */
    }

    n = strlen(b64);

    /* owned by the string node: cJSON_Delete() frees it with cJSON_free */
    url = cJSON_malloc(sizeof("data:image/jpeg;base64,") + n);
    if (url == NULL) {
        cJSON_Delete(obj);
        return NULL;
    }

    sprintf(url, "data:image/%s;base64,", type);
    memcpy(url + strlen(url), b64, n + 1);

    str = cJSON_CreateStringReference(url);
    if (str == NULL) {
        cJSON_free(url);
        cJSON_Delete(obj);
        return NULL;
    }

    str->type &= ~cJSON_IsReference;
    cJSON_AddItemToObject(obj, "url", str);

    return obj;
}


/*
 * An assistant's tool calls: Ollama's arguments are an object, OpenAI's a
 * JSON string (the inverse of FromCompletionToolCall, openai/openai.go).
 * OpenAI needs an id that tool results name; calls without one get
 * "call_<message>_<call>".
 */

static cJSON *
ngx_llm_tr_tool_calls(cJSON *calls, unsigned n, const char **error)
{
    char         buf[48], *args;
    unsigned     i;
    cJSON       *out, *call, *oc, *fn, *ofn, *item;

    out = cJSON_CreateArray();
    if (out == NULL) {
        goto nomem;
    }

    for (call = calls->child, i = 0; call != NULL; call = call->next, i++) {

        fn = cJSON_GetObjectItemCaseSensitive(call, "function");
        item = cJSON_GetObjectItemCaseSensitive(fn, "name");

        if (!cJSON_IsObject(call) || !cJSON_IsObject(fn)
            || !cJSON_IsString(item))
        {
            cJSON_Delete(out);
            *error = "a tool call needs a \"function\" with a \"name\"";
            return NULL;
        }

        oc = cJSON_CreateObject();
        if (oc == NULL) {
            goto nomem;
        }

        cJSON_AddItemToArray(out, oc);

        item = cJSON_GetObjectItemCaseSensitive(call, "id");

        if (cJSON_IsString(item) && item->valuestring[0] != '\0') {
            if (ngx_llm_tr_add_ref(oc, "id", item) != 0) {
                goto nomem;
            }

        } else {
            snprintf(buf, sizeof(buf), "call_%u_%u", n, i);

            if (cJSON_AddStringToObject(oc, "id", buf) == NULL) {
                goto nomem;
            }
        }

        if (cJSON_AddStringToObject(oc, "type", "function") == NULL) {
            goto nomem;
        }

        ofn = cJSON_AddObjectToObject(oc, "function");
        if (ofn == NULL) {
            goto nomem;
        }

        if (ngx_llm_tr_add_ref(ofn, "name",
                               cJSON_GetObjectItemCaseSensitive(fn, "name"))
            != 0)
        {
            goto nomem;
        }

        item = cJSON_GetObjectItemCaseSensitive(fn, "arguments");

        if (cJSON_IsString(item)) {
            /* a client that sent OpenAI's form already */
            if (ngx_llm_tr_add_ref(ofn, "arguments", item) != 0) {
                goto nomem;
            }

            continue;
        }

        if (item == NULL || cJSON_IsNull(item)) {
            args = NULL;

        } else {
            args = cJSON_PrintUnformatted(item);
            if (args == NULL) {
                goto nomem;
            }
        }

        item = cJSON_AddStringToObject(ofn, "arguments",
                                       args != NULL ? args : "{}");
        cJSON_free(args);

        if (item == NULL) {
            goto nomem;
        }
    }

    return out;

nomem:

    cJSON_Delete(out);
    *error = "out of memory";
    return NULL;
}


/*
 * The id of the call a tool result answers: its own "tool_call_id", else
 * the first unanswered call of the last assistant message with the same
 * function name as "tool_name" (the inverse of nameFromToolCallID in
 * openai/openai.go), else the first unanswered call.
 */

static const char *
ngx_llm_tr_tool_call_id(cJSON *msg, cJSON *calls, unsigned long long *used)
{
    int          pass;
    unsigned     k;
    cJSON       *item, *call, *name;
    const char  *want;

    item = cJSON_GetObjectItemCaseSensitive(msg, "tool_call_id");

    if (cJSON_IsString(item) && item->valuestring[0] != '\0') {
        return item->valuestring;
    }

    if (calls == NULL) {
        return NULL;
    }

    item = cJSON_GetObjectItemCaseSensitive(msg, "tool_name");
    want = cJSON_IsString(item) ? item->valuestring : NULL;

    /* pass 0: a call of that name, pass 1: any */

    for (pass = (want == NULL); pass < 2; pass++) {

        for (call = calls->child, k = 0;
             call != NULL && k < NGX_LLM_TOOLS_USED_MAX;
             call = call->next, k++)
        {
            if (*used & (1ULL << k)) {
                continue;
            }

            if (pass == 0) {
                name = cJSON_GetObjectItemCaseSensitive(call, "function");
                name = cJSON_GetObjectItemCaseSensitive(name, "name");

                if (!cJSON_IsString(name)
                    || strcmp(name->valuestring, want) != 0)
                {
                    continue;
                }
            }

            *used |= 1ULL << k;
            item = cJSON_GetObjectItemCaseSensitive(call, "id");

            return cJSON_IsString(item) ? item->valuestring : NULL;
        }
    }

    return NULL;
}


/*
 * Ollama's options that OpenAI has, the inverse of FromChatRequest
 * (openai/openai.go): num_predict is max_tokens (its -1, unlimited, and
 * -2, fill the context, have no equivalent and are dropped), stop a
 * string or an array.  Unlike FromChatRequest nothing is defaulted: an
 * absent temperature stays the server's default.  Ollama's other options
 * (num_ctx, repeat_penalty, mirostat, ...) are the server's business.
 */

static int
ngx_llm_tr_options(cJSON *out, cJSON *root, unsigned flags)
{
    cJSON        *options, *item;
    const char  **name;

    static const char  *numbers[] = { "temperature", "top_p", "seed",
                                      "frequency_penalty",
                                      "presence_penalty", NULL };
    static const char  *extensions[] = { "top_k", "min_p", NULL };

    options = cJSON_GetObjectItemCaseSensitive(root, "options");

    if (!cJSON_IsObject(options)) {
        return 0;
    }

    item = cJSON_GetObjectItemCaseSensitive(options, "num_predict");

    if (cJSON_IsNumber(item) && item->valuedouble >= 1
        && item->valuedouble < 1e9)
    {
        if (cJSON_AddNumberToObject(out, "max_tokens",
                                    (double) (long) item->valuedouble)
            == NULL)
        {
            return -1;
        }
    }

    for (name = numbers; *name != NULL; name++) {
        item = cJSON_GetObjectItemCaseSensitive(options, *name);

        if (cJSON_IsNumber(item) && ngx_llm_tr_add_ref(out, *name, item) != 0)
        {
            return -1;
        }
    }

    if (!(flags & NGX_LLM_TRANSLATE_STRICT)) {
        for (name = extensions; *name != NULL; name++) {
            item = cJSON_GetObjectItemCaseSensitive(options, *name);

            if (cJSON_IsNumber(item)
                && ngx_llm_tr_add_ref(out, *name, item) != 0)
            {
                return -1;
            }
        }
    }

    item = cJSON_GetObjectItemCaseSensitive(options, "stop");

    if ((cJSON_IsString(item) && item->valuestring[0] != '\0')
        || (cJSON_IsArray(item) && item->child != NULL))
    {
        if (ngx_llm_tr_add_ref(out, "stop", item) != 0) {
            return -1;
        }
    }

    return 0;
}


/*
 * "format": "json" is response_format json_object, a schema json_schema;
 * the inverse of FromChatRequest's response_format (openai/openai.go),
 * which reads only json_schema.schema: OpenAI also wants a name.
 */

static int
ngx_llm_tr_format(cJSON *out, cJSON *root)
{
    cJSON  *format, *rf, *js;

    format = cJSON_GetObjectItemCaseSensitive(root, "format");

    if (cJSON_IsString(format) && strcmp(format->valuestring, "json") == 0) {
        rf = cJSON_AddObjectToObject(out, "response_format");

        if (rf == NULL
            || cJSON_AddStringToObject(rf, "type", "json_object") == NULL)
        {
            return -1;
        }

        return 0;
    }

    if (!cJSON_IsObject(format)) {
        return 0;
    }

    rf = cJSON_AddObjectToObject(out, "response_format");
    if (rf == NULL) {
        return -1;
    }

    if (cJSON_AddStringToObject(rf, "type", "json_schema") == NULL) {
        return -1;
    }

    js = cJSON_AddObjectToObject(rf, "json_schema");

    if (js == NULL
        || cJSON_AddStringToObject(js, "name", "response") == NULL
        || ngx_llm_tr_add_ref(js, "schema", format) != 0)
    {
        return -1;
    }

    return 0;
}


/*
 * "think": a level is reasoning_effort, the inverse of
 * thinkFromReasoningEffort (openai/openai.go), Ollama's "max" OpenAI's
 * "xhigh".  true and false are dropped: they leave thinking to the
 * model's default, and a reasoning_effort sent to a model that does not
 * reason is refused by OpenAI.
 */

static int
ngx_llm_tr_think(cJSON *out, cJSON *root)
{
    cJSON       *think;
    const char  *effort;

    think = cJSON_GetObjectItemCaseSensitive(root, "think");

    if (!cJSON_IsString(think)) {
        return 0;
    }

    effort = think->valuestring;

    if (strcmp(effort, "max") == 0) {
        effort = "xhigh";

    } else if (strcmp(effort, "low") != 0 && strcmp(effort, "medium") != 0
               && strcmp(effort, "high") != 0)
    {
        return 0;
    }

    return cJSON_AddStringToObject(out, "reasoning_effort", effort) == NULL
           ? -1 : 0;
}


static int
ngx_llm_tr_print(cJSON *tree, ngx_llm_alloc_pt alloc, void *data,
    char **out, size_t *len)
{
    char    *text, *buf;
    size_t   n;

    text = cJSON_PrintUnformatted(tree);
    if (text == NULL) {
        return -1;
    }

    n = strlen(text);

    buf = alloc(data, n + 1);
    if (buf == NULL) {
        cJSON_free(text);
        return -1;
    }

    memcpy(buf, text, n + 1);
    cJSON_free(text);

    *out = buf;
    *len = n;

    return 0;
}


/* a node that points at "item"'s value, freed without it */

static int
ngx_llm_tr_add_ref(cJSON *obj, const char *name, cJSON *item)
{
    return cJSON_AddItemReferenceToObject(obj, name, item) ? 0 : -1;
}


static void
ngx_llm_tr_lower(char *s)
{
    for ( /* void */ ; *s != '\0'; s++) {
        if (*s >= 'A' && *s <= 'Z') {
            *s |= 0x20;
        }
    }
}


/* a whole answer: OpenAI chat.completion -> Ollama chat or generate */

int
ngx_llm_translate_response(ngx_llm_dialect_e dialect, const char *model,
    uint64_t total_ns, const char *body, size_t len, ngx_llm_alloc_pt alloc,
    void *data, char **out, size_t *out_len)
{
    int          rc, upstream;
    cJSON       *root, *tree;
    const char  *why;

    *out = NULL;
    *out_len = 0;

    root = cJSON_ParseWithLength(body, len);

    why = NULL;
    rc = ngx_llm_tr_answer(dialect, model, total_ns, root, &tree, &why);

    if (rc < 0) {
        cJSON_Delete(root);
        return NGX_LLM_TRANSLATE_ERROR;
    }

    upstream = (rc > 0);

    if (upstream) {
        tree = ngx_llm_tr_error(root, body, len, why);

        if (tree == NULL) {
            cJSON_Delete(root);
            return NGX_LLM_TRANSLATE_ERROR;
        }
    }

    rc = ngx_llm_tr_print(tree, alloc, data, out, out_len);

    cJSON_Delete(tree);
    cJSON_Delete(root);

    if (rc != 0) {
        return NGX_LLM_TRANSLATE_ERROR;
    }

    return upstream ? NGX_LLM_TRANSLATE_UPSTREAM : NGX_LLM_TRANSLATE_OK;
}


/*
 * The inverse of ToChatCompletion (openai/openai.go): choices[0].message
 * is the message (reasoning, or vLLM's reasoning_content, its thinking),
 * usage the counts as ToUsage fills them, finish_reason the done_reason.
 * Returns 0 with *tree set, 1 when "root" is no completion (*why may
 * say more), -1 on allocation failure.  Nodes of "root" are referenced:
 * *tree must be deleted before it.
 */

static int
ngx_llm_tr_answer(ngx_llm_dialect_e dialect, const char *model,
    uint64_t total_ns, cJSON *root, cJSON **tree, const char **why)
{
    char         date[32];
    cJSON       *out, *choice, *msg, *item, *content, *thinking, *calls,
                *usage, *om;
    double       prompt, eval;
    const char  *reason;

    *tree = NULL;

    if (!cJSON_IsObject(root)) {
        return 1;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "error");

    if (item != NULL && !cJSON_IsNull(item)) {
        return 1;
    }

    choice = cJSON_GetObjectItemCaseSensitive(root, "choices");
    choice = cJSON_IsArray(choice) ? choice->child : NULL;
    msg = cJSON_GetObjectItemCaseSensitive(choice, "message");

    if (!cJSON_IsObject(choice) || !cJSON_IsObject(msg)) {
        return 1;
    }

    content = cJSON_GetObjectItemCaseSensitive(msg, "content");

    thinking = cJSON_GetObjectItemCaseSensitive(msg, "reasoning");

    if (!cJSON_IsString(thinking)) {
        thinking = cJSON_GetObjectItemCaseSensitive(msg,
                                                    "reasoning_content");
    }

    calls = NULL;
    item = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");

    if (cJSON_IsArray(item) && item->child != NULL
        && dialect == NGX_LLM_DIALECT_OLLAMA_CHAT)
    {
        calls = ngx_llm_tr_tool_calls_back(item);

        if (calls == NULL) {
            *why = "upstream tool call arguments are not a JSON object";
            return 1;
        }
    }

    out = cJSON_CreateObject();
    if (out == NULL) {
        goto nomem;
    }

    if (model == NULL) {
        item = cJSON_GetObjectItemCaseSensitive(root, "model");
        model = cJSON_IsString(item) ? item->valuestring : "";
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "created");

    ngx_llm_rfc3339(date, sizeof(date), cJSON_IsNumber(item)
                                        ? ngx_llm_tr_seconds(item)
                                        : (int64_t) time(NULL));

    if (cJSON_AddStringToObject(out, "model", model) == NULL
        || cJSON_AddStringToObject(out, "created_at", date) == NULL)
    {
        goto nomem;
    }

    if (dialect == NGX_LLM_DIALECT_OLLAMA_CHAT) {
        om = cJSON_AddObjectToObject(out, "message");

        if (om == NULL
            || cJSON_AddStringToObject(om, "role", "assistant") == NULL)
        {
            goto nomem;
        }

    } else {
        om = out;
    }

    if (cJSON_IsString(content)) {
        if (ngx_llm_tr_add_ref(om, dialect == NGX_LLM_DIALECT_OLLAMA_CHAT
                                   ? "content" : "response", content)
            != 0)
        {
            goto nomem;
        }

    } else if (cJSON_AddStringToObject(om,
                                       dialect == NGX_LLM_DIALECT_OLLAMA_CHAT
                                       ? "content" : "response", "")
               == NULL)
    {
        goto nomem;
    }

    if (cJSON_IsString(thinking) && thinking->valuestring[0] != '\0'
        && ngx_llm_tr_add_ref(om, "thinking", thinking) != 0)
    {
        goto nomem;
    }

    if (calls != NULL) {
        cJSON_AddItemToObject(om, "tool_calls", calls);
        calls = NULL;
    }

    item = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
    reason = ngx_llm_tr_done_reason(cJSON_IsString(item) ? item->valuestring
                                                         : NULL);

    usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    item = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
    prompt = cJSON_IsNumber(item) ? item->valuedouble : 0;
    item = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
    eval = cJSON_IsNumber(item) ? item->valuedouble : 0;

    if (ngx_llm_tr_final_fields(out, reason, total_ns, 0, prompt, eval) != 0)
    {
        goto nomem;
    }

    *tree = out;

    return 0;

nomem:

    cJSON_Delete(calls);
    cJSON_Delete(out);
    return -1;
}


/*
 * OpenAI's tool calls as Ollama's: arguments, a JSON string, parsed into
 * an object (FromCompletionToolCall in openai/openai.go refuses the
 * request as "invalid tool call arguments" when they are not JSON; here
 * the answer becomes an error), function.index the call's position.
 * NULL when arguments are not an object or on allocation failure.
 */

static cJSON *
ngx_llm_tr_tool_calls_back(cJSON *calls)
{
    int     i;
    cJSON  *out, *call, *oc, *fn, *ofn, *item, *args;

    out = cJSON_CreateArray();
    if (out == NULL) {
        return NULL;
    }

    for (call = calls->child, i = 0; call != NULL; call = call->next, i++) {

        fn = cJSON_GetObjectItemCaseSensitive(call, "function");

        oc = cJSON_CreateObject();
        if (oc == NULL) {
            goto failed;
        }

        cJSON_AddItemToArray(out, oc);

        item = cJSON_GetObjectItemCaseSensitive(call, "id");

        if (cJSON_IsString(item) && item->valuestring[0] != '\0'
            && ngx_llm_tr_add_ref(oc, "id", item) != 0)
        {
            goto failed;
        }

        ofn = cJSON_AddObjectToObject(oc, "function");

        if (ofn == NULL || cJSON_AddNumberToObject(ofn, "index", i) == NULL) {
            goto failed;
        }

        item = cJSON_GetObjectItemCaseSensitive(fn, "name");

        if (cJSON_IsString(item)) {
            if (ngx_llm_tr_add_ref(ofn, "name", item) != 0) {
                goto failed;
            }

        } else if (cJSON_AddStringToObject(ofn, "name", "") == NULL) {
            goto failed;
        }

        item = cJSON_GetObjectItemCaseSensitive(fn, "arguments");

        if (cJSON_IsObject(item)) {
            /* some servers send the object itself */
            if (ngx_llm_tr_add_ref(ofn, "arguments", item) != 0) {
                goto failed;
            }

            continue;
        }

        if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
            args = cJSON_CreateObject();

        } else {
            args = cJSON_Parse(item->valuestring);

            if (args != NULL && !cJSON_IsObject(args)) {
                cJSON_Delete(args);
                args = NULL;
            }
        }

        if (args == NULL) {
            goto failed;
        }

        cJSON_AddItemToObject(ofn, "arguments", args);
    }

    return out;

failed:

    cJSON_Delete(out);
    return NULL;
}


/*
 * Ollama's {"error": "..."}: the text of OpenAI's error object
 * (middleware/openai.go writeError does the reverse), or of a body that
 * is not JSON at all, as writeError also does, cut and cleaned.
 */

static cJSON *
ngx_llm_tr_error(cJSON *root, const char *body, size_t len, const char *why)
{
    char         buf[NGX_LLM_ERROR_MAX + 1];
    cJSON       *out;
    size_t       n;
    const char  *msg;

    msg = ngx_llm_tr_error_message(root);

    if (msg != NULL) {
        n = strlen(msg);

    } else if (root == NULL) {
        /* "" for an empty body: said so below */
        msg = body;
        n = len;

    } else {
        msg = why != NULL ? why
                          : "upstream answer is not an OpenAI chat completion";
        n = strlen(msg);
    }

    ngx_llm_tr_clean(buf, sizeof(buf), msg, n);

    if (buf[0] == '\0') {
        strcpy(buf, "upstream answered with an empty body");
    }

    out = cJSON_CreateObject();

    if (out != NULL && cJSON_AddStringToObject(out, "error", buf) == NULL) {
        cJSON_Delete(out);
        return NULL;
    }

    return out;
}


/* the text of an error answer or event, NULL if it is none */

static const char *
ngx_llm_tr_error_message(cJSON *root)
{
    cJSON  *err, *item;

    err = cJSON_GetObjectItemCaseSensitive(root, "error");

    if (err == NULL || cJSON_IsNull(err)) {
        return NULL;
    }

    if (cJSON_IsString(err) && err->valuestring[0] != '\0') {
        return err->valuestring;
    }

    item = cJSON_GetObjectItemCaseSensitive(err, "message");

    if (cJSON_IsString(item) && item->valuestring[0] != '\0') {
        return item->valuestring;
    }

    return "upstream error";
}


/*
 * Copies at most size - 1 bytes of "src" into "dst", NUL terminated,
 * control characters as spaces, cut on a character boundary, outer white
 * space trimmed, any invalid UTF-8 byte as '?': valid JSON string text.
 */

static void
ngx_llm_tr_clean(char *dst, size_t size, const char *src, size_t n)
{
    size_t  i;

    while (n > 0 && (*src == ' ' || *src == '\t' || *src == '\r'
                     || *src == '\n'))
    {
        src++;
        n--;
    }

    if (n > size - 1) {
        n = size - 1;

        while (n > 0 && ((unsigned char) src[n] & 0xc0) == 0x80) {
            n--;
        }
    }

    for (i = 0; i < n; i++) {
        dst[i] = (unsigned char) src[i] < 0x20 ? ' ' : src[i];
    }

    while (n > 0 && dst[n - 1] == ' ') {
        n--;
    }

    dst[n] = '\0';

    if (!ngx_llm_utf8_valid((unsigned char *) dst, n)) {
        for (i = 0; i < n; i++) {
            if ((unsigned char) dst[i] >= 0x80) {
                dst[i] = '?';
            }
        }
    }
}


/*
 * The final object's fields after "message" (or "response"), in
 * api.ChatResponse's order.  Ollama measures the durations; here only
 * what the caller measured is known, the rest is 0.
 */

static int
ngx_llm_tr_final_fields(cJSON *out, const char *reason, uint64_t total_ns,
    uint64_t eval_ns, double prompt, double eval)
{
    if (cJSON_AddTrueToObject(out, "done") == NULL
        || cJSON_AddStringToObject(out, "done_reason", reason) == NULL
        || cJSON_AddNumberToObject(out, "total_duration", (double) total_ns)
           == NULL
        || cJSON_AddNumberToObject(out, "load_duration", 0) == NULL
        || cJSON_AddNumberToObject(out, "prompt_eval_count", prompt) == NULL
        || cJSON_AddNumberToObject(out, "prompt_eval_duration", 0) == NULL
        || cJSON_AddNumberToObject(out, "eval_count", eval) == NULL
        || cJSON_AddNumberToObject(out, "eval_duration", (double) eval_ns)
           == NULL)
    {
        return -1;
    }

    return 0;
}


/*
 * finish_reason as done_reason: Ollama has "stop" and "length" for
 * answers; "tool_calls" is its "stop" with calls (ToChatCompletion and
 * FinishChunk in openai/openai.go), and so is anything else.
 */

static const char *
ngx_llm_tr_done_reason(const char *finish)
{
    if (finish != NULL && strcmp(finish, "length") == 0) {
        return "length";
    }

    return "stop";
}


/* a "created" number as a time, clamped before it is converted */

static int64_t
ngx_llm_tr_seconds(cJSON *item)
{
    double  d;

    d = item->valuedouble;

    if (!(d > 0)) {
        return 0;
    }

    return d < 253402300799.0 ? (int64_t) d : 253402300799LL;
}


size_t
ngx_llm_rfc3339(char *buf, size_t size, int64_t t)
{
    int        n;
    time_t     tt;
    struct tm  tm;

    /* years 1970 to 9999 */
    if (t < 0) {
        t = 0;

    } else if (t > 253402300799LL) {
        t = 253402300799LL;
    }

    tt = (time_t) t;

    if (gmtime_r(&tt, &tm) == NULL) {
        memset(&tm, 0, sizeof(struct tm));
        tm.tm_year = 70;
        tm.tm_mday = 1;
    }

    n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);

    return n > 0 && (size_t) n < size ? (size_t) n : 0;
}


/* a stream: OpenAI SSE chunks -> Ollama NDJSON lines */

int
ngx_llm_sse_init(ngx_llm_sse_t *sse, ngx_llm_dialect_e dialect,
    const char *model, size_t max, ngx_llm_alloc_pt alloc, void *adata,
    ngx_llm_sse_output_pt output, void *odata)
{
    char  *buf;

    memset(sse, 0, sizeof(ngx_llm_sse_t));

    if (max == 0) {
        max = NGX_LLM_SSE_EVENT_MAX;
    }

    buf = alloc(adata, (max + 1) + (max + NGX_LLM_SSE_LINE_EXTRA) + max);
    if (buf == NULL) {
        return -1;
    }

    sse->dialect = dialect;
    sse->output = output;
    sse->data = odata;
    sse->max = max;
    sse->state = NGX_LLM_SSE_AGAIN;
    sse->bol = 1;

    sse->event = buf;
    sse->line = buf + max + 1;
    sse->tools = sse->line + max + NGX_LLM_SSE_LINE_EXTRA;

    if (model != NULL) {
        (void) ngx_llm_sse_copy(sse->model, sizeof(sse->model), model,
                                strlen(model));
        sse->fixed_model = 1;
    }

    /* until a chunk says when it was made */
    ngx_llm_rfc3339(sse->created_at, sizeof(sse->created_at),
                    (int64_t) time(NULL));

    return 0;
}


int
ngx_llm_sse_feed(ngx_llm_sse_t *sse, const char *p, size_t len)
{
    int          rc;
    const char  *end;

    end = p + len;

    while (p < end && sse->state == NGX_LLM_SSE_AGAIN) {

        if (sse->mode == NGX_LLM_SSE_MODE_START) {

            if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
                p++;
                continue;
            }

            /*
             * JSON where SSE was expected: an error answered as such, or
             * a server that did not stream; read whole, translated at the
             * end
             */
            sse->mode = (*p == '{') ? NGX_LLM_SSE_MODE_JSON
                                    : NGX_LLM_SSE_MODE_SSE;
        }

        if (sse->mode == NGX_LLM_SSE_MODE_JSON) {
            (void) ngx_llm_sse_append(sse, p, end - p);
            break;
        }

        rc = ngx_llm_sse_step(sse, p, end, &p);

        if (rc != NGX_LLM_SSE_AGAIN) {
            break;
        }
    }

    return sse->state;
}


/*
 * One step of the SSE reader (the event stream format of the HTML
 * standard): a line ending (LF, CR LF or CR), a field name's byte, or the
 * rest of a value up to the line's end.  Only "data" fields count, their
 * lines joined with LF; comments (": keep-alive", which OpenRouter sends)
 * and other fields are skipped; an empty line ends an event.
 */

static int
ngx_llm_sse_step(ngx_llm_sse_t *sse, const char *p, const char *end,
    const char **next)
{
    int          rc;
    const char  *q;

    *next = p + 1;

    if (sse->cr) {
        sse->cr = 0;

        if (*p == '\n') {
            return NGX_LLM_SSE_AGAIN;
        }
    }

    if (*p == '\r' || *p == '\n') {
        sse->cr = (*p == '\r');
        return ngx_llm_sse_line_end(sse);
    }

    if (sse->bol) {
        sse->bol = 0;
        sse->name_len = 0;

        if (*p == ':') {
            sse->field = NGX_LLM_SSE_FIELD_SKIP;
            return NGX_LLM_SSE_AGAIN;
        }

        sse->field = NGX_LLM_SSE_FIELD_NAME;
    }

    switch (sse->field) {

    case NGX_LLM_SSE_FIELD_NAME:

        if (*p != ':') {
            if (sse->name_len < sizeof(sse->name)) {
                sse->name[sse->name_len] = *p;
            }

            if (sse->name_len <= sizeof(sse->name)) {
                sse->name_len++;
            }

            return NGX_LLM_SSE_AGAIN;
        }

        if (sse->name_len == 4 && memcmp(sse->name, "data", 4) == 0) {
            sse->field = NGX_LLM_SSE_FIELD_DATA;
            sse->space = 1;
            return ngx_llm_sse_data(sse);
        }

        sse->field = NGX_LLM_SSE_FIELD_SKIP;
        return NGX_LLM_SSE_AGAIN;

    case NGX_LLM_SSE_FIELD_DATA:

        /* one space after the colon is not part of the value */
        if (sse->space) {
            sse->space = 0;

            if (*p == ' ') {
                return NGX_LLM_SSE_AGAIN;
            }
        }

        for (q = p; q < end && *q != '\r' && *q != '\n'; q++) {
            /* void */
        }

        *next = q;

        rc = ngx_llm_sse_append(sse, p, q - p);

        return rc;

    default: /* NGX_LLM_SSE_FIELD_SKIP */

        for (q = p; q < end && *q != '\r' && *q != '\n'; q++) {
            /* void */
        }

        *next = q;

        return NGX_LLM_SSE_AGAIN;
    }
}


/* a data line starts: lines of one event are joined with LF */

static int
ngx_llm_sse_data(ngx_llm_sse_t *sse)
{
    if (sse->has_data) {
        return ngx_llm_sse_append(sse, "\n", 1);
    }

    sse->has_data = 1;

    return NGX_LLM_SSE_AGAIN;
}


static int
ngx_llm_sse_line_end(ngx_llm_sse_t *sse)
{
    int  rc;

    if (sse->bol) {
        /* an empty line: the event, if it had data */

        if (!sse->has_data) {
            return NGX_LLM_SSE_AGAIN;
        }

        rc = ngx_llm_sse_event(sse);

        sse->event_len = 0;
        sse->has_data = 0;

        return rc;
    }

    sse->bol = 1;

    /* "data" alone on its line is an empty data field */
    if (sse->field == NGX_LLM_SSE_FIELD_NAME && sse->name_len == 4
        && memcmp(sse->name, "data", 4) == 0)
    {
        return ngx_llm_sse_data(sse);
    }

    return NGX_LLM_SSE_AGAIN;
}


static int
ngx_llm_sse_append(ngx_llm_sse_t *sse, const char *p, size_t n)
{
    if (n > sse->max - sse->event_len) {
        return ngx_llm_sse_fail(sse, "upstream event too long");
    }

    memcpy(sse->event + sse->event_len, p, n);
    sse->event_len += n;

    return NGX_LLM_SSE_AGAIN;
}


/*
 * One event: "[DONE]" ends the stream (the final object goes out then,
 * after the usage chunk that middleware/openai.go ChatWriter.writeResponse
 * sends between the finish chunk and [DONE]); an error event ends it
 * with Ollama's error line, which is how Ollama's streamResponse
 * (server/routes.go) reports an error after the first byte.
 */

static int
ngx_llm_sse_event(ngx_llm_sse_t *sse)
{
    int          rc;
    cJSON       *root;
    const char  *msg;

    if (sse->event_len == 6 && memcmp(sse->event, "[DONE]", 6) == 0) {
        return ngx_llm_sse_final(sse);
    }

    root = cJSON_ParseWithLength(sse->event, sse->event_len);

    if (root == NULL) {
        return ngx_llm_sse_fail(sse, "upstream sent an event that is not"
                                     " JSON");
    }

    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ngx_llm_sse_fail(sse, "upstream sent an event that is not"
                                     " a JSON object");
    }

    msg = ngx_llm_tr_error_message(root);

    if (msg != NULL) {
        rc = ngx_llm_sse_fail(sse, msg);

    } else {
        rc = ngx_llm_sse_delta(sse, root);
    }

    cJSON_Delete(root);

    return rc;
}


/* a chat.completion.chunk, the inverse of ToStreamChunks (openai.go) */

static int
ngx_llm_sse_delta(ngx_llm_sse_t *sse, cJSON *root)
{
    int          rc;
    cJSON       *item, *choice, *delta, *usage;
    const char  *content, *thinking;

    item = cJSON_GetObjectItemCaseSensitive(root, "model");

    if (!sse->fixed_model && cJSON_IsString(item)) {
        (void) ngx_llm_sse_copy(sse->model, sizeof(sse->model),
                                item->valuestring, strlen(item->valuestring));
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "created");

    if (cJSON_IsNumber(item)) {
        ngx_llm_rfc3339(sse->created_at, sizeof(sse->created_at),
                        ngx_llm_tr_seconds(item));
    }

    /* in its own chunk (choices empty) or, on some servers, the last */
    usage = cJSON_GetObjectItemCaseSensitive(root, "usage");

    if (cJSON_IsObject(usage)) {
        item = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");

        if (cJSON_IsNumber(item) && item->valuedouble >= 0
            && item->valuedouble < 1e15)
        {
            sse->prompt_tokens = (int64_t) item->valuedouble;
        }

        item = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");

        if (cJSON_IsNumber(item) && item->valuedouble >= 0
            && item->valuedouble < 1e15)
        {
            sse->completion_tokens = (int64_t) item->valuedouble;
        }
    }

    /* n > 1 is not Ollama's: the choice of index 0 only */
    item = cJSON_GetObjectItemCaseSensitive(root, "choices");

    for (choice = cJSON_IsArray(item) ? item->child : NULL;
         choice != NULL;
         choice = choice->next)
    {
        item = cJSON_GetObjectItemCaseSensitive(choice, "index");

        if (item == NULL || (cJSON_IsNumber(item) && item->valuedouble == 0))
        {
            break;
        }
    }

    if (!cJSON_IsObject(choice)) {
        return NGX_LLM_SSE_AGAIN;
    }

    delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");

    if (cJSON_IsObject(delta)) {
        item = cJSON_GetObjectItemCaseSensitive(delta, "content");
        content = cJSON_IsString(item) ? item->valuestring : "";

        /* Ollama's and OpenRouter's "reasoning", vLLM's
         * "reasoning_content" */
        item = cJSON_GetObjectItemCaseSensitive(delta, "reasoning");

        if (!cJSON_IsString(item)) {
            item = cJSON_GetObjectItemCaseSensitive(delta,
                                                    "reasoning_content");
        }

        thinking = cJSON_IsString(item) ? item->valuestring : "";

        if (content[0] != '\0' || thinking[0] != '\0') {
            rc = ngx_llm_sse_content(sse, content, thinking);

            if (rc != NGX_LLM_SSE_AGAIN) {
                return rc;
            }
        }

        item = cJSON_GetObjectItemCaseSensitive(delta, "tool_calls");

        if (cJSON_IsArray(item) && sse->dialect == NGX_LLM_DIALECT_OLLAMA_CHAT)
        {
            rc = ngx_llm_sse_tool_delta(sse, item);

            if (rc != NGX_LLM_SSE_AGAIN) {
                return rc;
            }
        }
    }

    item = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");

    if (cJSON_IsString(item)) {
        (void) ngx_llm_sse_copy(sse->reason, sizeof(sse->reason),
                                item->valuestring, strlen(item->valuestring));
        sse->finished = 1;
    }

    return NGX_LLM_SSE_AGAIN;
}


/*
 * Tool-call deltas: the first of a call has its index, id and name, the
 * next ones pieces of its arguments.  Calls are kept in the order they
 * start, their arguments one after the other in the tools buffer; a piece
 * for an earlier call (parallel calls interleaved) is inserted in place.
 */

static int
ngx_llm_sse_tool_delta(ngx_llm_sse_t *sse, cJSON *calls)
{
    int                  index;
    size_t               n, at;
    unsigned             i, k;
    cJSON               *call, *item, *fn;
    ngx_llm_sse_tool_t  *t;

    for (call = calls->child, k = 0; call != NULL; call = call->next, k++) {

        if (!cJSON_IsObject(call)) {
            continue;
        }

        item = cJSON_GetObjectItemCaseSensitive(call, "index");

        index = (cJSON_IsNumber(item) && item->valuedouble >= 0
                 && item->valuedouble < 1e6)
                ? (int) item->valuedouble : (int) k;

        for (i = 0; i < sse->ntools; i++) {
            if (sse->tool[i].index == index) {
                break;
            }
        }

        if (i == sse->ntools) {
            if (sse->ntools == NGX_LLM_SSE_TOOLS_MAX) {
                return ngx_llm_sse_fail(sse, "too many upstream tool calls");
            }

            t = &sse->tool[sse->ntools++];
            memset(t, 0, sizeof(ngx_llm_sse_tool_t));
            t->index = index;
            t->args = sse->tools_len;
        }

        t = &sse->tool[i];

        item = cJSON_GetObjectItemCaseSensitive(call, "id");

        if (cJSON_IsString(item) && item->valuestring[0] != '\0'
            && ngx_llm_sse_copy(t->id, sizeof(t->id), item->valuestring,
                                strlen(item->valuestring))
               != 0)
        {
            return ngx_llm_sse_fail(sse, "upstream tool call id too long");
        }

        fn = cJSON_GetObjectItemCaseSensitive(call, "function");
        item = cJSON_GetObjectItemCaseSensitive(fn, "name");

        if (cJSON_IsString(item) && item->valuestring[0] != '\0'
            && ngx_llm_sse_copy(t->name, sizeof(t->name), item->valuestring,
                                strlen(item->valuestring))
               != 0)
        {
            return ngx_llm_sse_fail(sse, "upstream tool name too long");
        }

        item = cJSON_GetObjectItemCaseSensitive(fn, "arguments");

        if (!cJSON_IsString(item)) {
            continue;
        }

        n = strlen(item->valuestring);

        if (n > sse->max - sse->tools_len) {
            return ngx_llm_sse_fail(sse, "upstream tool call too long");
        }

        at = t->args + t->args_len;

        memmove(sse->tools + at + n, sse->tools + at, sse->tools_len - at);
        memcpy(sse->tools + at, item->valuestring, n);

        sse->tools_len += n;
        t->args_len += n;

        for (i = i + 1; i < sse->ntools; i++) {
            sse->tool[i].args += n;
        }
    }

    return NGX_LLM_SSE_AGAIN;
}


/*
 * One content delta as one line, written by hand: with the JSON escapes
 * of ngx_llm_escape() a text takes at most the room it took in the event
 * (but for raw control characters, which are checked for).
 */

static int
ngx_llm_sse_content(ngx_llm_sse_t *sse, const char *content,
    const char *thinking)
{
    char    *p;
    size_t   cl, tl, need;

    cl = strlen(content);
    tl = strlen(thinking);

    need = ngx_llm_escaped_len(sse->model, strlen(sse->model))
           + ngx_llm_escaped_len(content, cl)
           + ngx_llm_escaped_len(thinking, tl) + 160;

    if (need > sse->max + NGX_LLM_SSE_LINE_EXTRA) {
        return ngx_llm_sse_fail(sse, "upstream event too long");
    }

    p = ngx_llm_sse_head(sse, sse->line);

    if (sse->dialect == NGX_LLM_DIALECT_OLLAMA_CHAT) {
        p = stpcpy(p, "\"message\":{\"role\":\"assistant\",\"content\":\"");
        p = ngx_llm_escape(p, content, cl);
        *p++ = '"';

        if (tl != 0) {
            p = stpcpy(p, ",\"thinking\":\"");
            p = ngx_llm_escape(p, thinking, tl);
            *p++ = '"';
        }

        *p++ = '}';

    } else {
        p = stpcpy(p, "\"response\":\"");
        p = ngx_llm_escape(p, content, cl);
        *p++ = '"';

        if (tl != 0) {
            p = stpcpy(p, ",\"thinking\":\"");
            p = ngx_llm_escape(p, thinking, tl);
            *p++ = '"';
        }
    }

    p = stpcpy(p, ",\"done\":false}\n");

    return ngx_llm_sse_emit(sse, sse->line, p - sse->line);
}


/*
 * The end: the gathered tool calls in a done:false line of their own, as
 * Ollama's tools parser sends them, then the final object with the
 * counts of the usage chunk (ToUsage in openai/openai.go, reversed).
 */

static int
ngx_llm_sse_final(ngx_llm_sse_t *sse)
{
    int          rc;
    char        *p;
    const char  *reason;

    if (sse->ntools != 0 && sse->dialect == NGX_LLM_DIALECT_OLLAMA_CHAT) {
        rc = ngx_llm_sse_tools_line(sse);

        if (rc != NGX_LLM_SSE_AGAIN) {
            return rc;
        }
    }

    reason = ngx_llm_tr_done_reason(sse->finished ? sse->reason : NULL);

    p = ngx_llm_sse_head(sse, sse->line);

    if (sse->dialect == NGX_LLM_DIALECT_OLLAMA_CHAT) {
        p = stpcpy(p, "\"message\":{\"role\":\"assistant\",\"content\":\"\"}");

    } else {
        p = stpcpy(p, "\"response\":\"\"");
    }

    p += sprintf(p, ",\"done\":true,\"done_reason\":\"%s\","
                 "\"total_duration\":%llu,\"load_duration\":0,"
                 "\"prompt_eval_count\":%lld,\"prompt_eval_duration\":0,"
                 "\"eval_count\":%lld,\"eval_duration\":%llu}\n",
                 reason, (unsigned long long) sse->total_ns,
                 (long long) sse->prompt_tokens,
                 (long long) sse->completion_tokens,
                 (unsigned long long) sse->eval_ns);

    rc = ngx_llm_sse_emit(sse, sse->line, p - sse->line);

    if (rc == NGX_LLM_SSE_AGAIN) {
        sse->state = NGX_LLM_SSE_DONE;
    }

    return sse->state;
}


static int
ngx_llm_sse_tools_line(ngx_llm_sse_t *sse)
{
    int                  rc;
    unsigned             i;
    cJSON               *out, *msg, *calls, *call, *fn, *args;
    ngx_llm_sse_tool_t  *t;

    out = cJSON_CreateObject();
    if (out == NULL) {
        goto nomem;
    }

    if (cJSON_AddStringToObject(out, "model", sse->model) == NULL
        || cJSON_AddStringToObject(out, "created_at", sse->created_at)
           == NULL)
    {
        goto nomem;
    }

    msg = cJSON_AddObjectToObject(out, "message");

    if (msg == NULL
        || cJSON_AddStringToObject(msg, "role", "assistant") == NULL
        || cJSON_AddStringToObject(msg, "content", "") == NULL)
    {
        goto nomem;
    }

    calls = cJSON_AddArrayToObject(msg, "tool_calls");
    if (calls == NULL) {
        goto nomem;
    }

    for (i = 0; i < sse->ntools; i++) {
        t = &sse->tool[i];

        if (t->args_len == 0) {
            args = cJSON_CreateObject();

        } else {
            args = cJSON_ParseWithLength(sse->tools + t->args, t->args_len);

            if (args == NULL || !cJSON_IsObject(args)) {
                cJSON_Delete(args);
                cJSON_Delete(out);
                return ngx_llm_sse_fail(sse, "upstream tool call arguments"
                                             " are not a JSON object");
            }
        }

        if (args == NULL) {
            goto nomem;
        }

        call = cJSON_CreateObject();
        if (call == NULL) {
            cJSON_Delete(args);
            goto nomem;
        }

        cJSON_AddItemToArray(calls, call);

        if (t->id[0] != '\0'
            && cJSON_AddStringToObject(call, "id", t->id) == NULL)
        {
            cJSON_Delete(args);
            goto nomem;
        }

        fn = cJSON_AddObjectToObject(call, "function");

        if (fn == NULL
            || cJSON_AddNumberToObject(fn, "index", i) == NULL
            || cJSON_AddStringToObject(fn, "name", t->name) == NULL)
        {
            cJSON_Delete(args);
            goto nomem;
        }

        cJSON_AddItemToObject(fn, "arguments", args);
    }

    if (cJSON_AddFalseToObject(out, "done") == NULL) {
        goto nomem;
    }

    rc = ngx_llm_sse_emit_tree(sse, out);
    cJSON_Delete(out);

    return rc;

nomem:

    cJSON_Delete(out);
    sse->state = NGX_LLM_SSE_ABORT;
    return sse->state;
}


int
ngx_llm_sse_finish(ngx_llm_sse_t *sse)
{
    if (sse->state != NGX_LLM_SSE_AGAIN) {
        return sse->state;
    }

    switch (sse->mode) {

    case NGX_LLM_SSE_MODE_START:
        return ngx_llm_sse_fail(sse, "upstream answered with an empty body");

    case NGX_LLM_SSE_MODE_JSON:
        return ngx_llm_sse_json_body(sse);
    }

    /* a last line or event without its line ending is taken as it is */

    if (!sse->bol && ngx_llm_sse_line_end(sse) != NGX_LLM_SSE_AGAIN) {
        return sse->state;
    }

    if (sse->has_data) {
        sse->bol = 1;

        if (ngx_llm_sse_line_end(sse) != NGX_LLM_SSE_AGAIN) {
            return sse->state;
        }
    }

    if (sse->finished) {
        /* the finish chunk came, [DONE] did not: the answer is whole */
        return ngx_llm_sse_final(sse);
    }

    return ngx_llm_sse_fail(sse, "upstream stream ended before the answer"
                                 " was complete");
}


/* JSON instead of a stream: one answer, or the error, in one line */

static int
ngx_llm_sse_json_body(ngx_llm_sse_t *sse)
{
    int          rc;
    cJSON       *root, *tree;
    const char  *why;

    root = cJSON_ParseWithLength(sse->event, sse->event_len);

    why = NULL;
    rc = ngx_llm_tr_answer(sse->dialect,
                           sse->fixed_model ? sse->model : NULL,
                           sse->total_ns, root, &tree, &why);

    if (rc < 0) {
        cJSON_Delete(root);
        sse->state = NGX_LLM_SSE_ABORT;
        return sse->state;
    }

    if (rc > 0) {
        tree = ngx_llm_tr_error(root, sse->event, sse->event_len, why);

        if (tree == NULL) {
            cJSON_Delete(root);
            sse->state = NGX_LLM_SSE_ABORT;
            return sse->state;
        }
    }

    if (ngx_llm_sse_emit_tree(sse, tree) == NGX_LLM_SSE_AGAIN) {
        sse->state = (rc == 0) ? NGX_LLM_SSE_DONE : NGX_LLM_SSE_FAILED;
    }

    cJSON_Delete(tree);
    cJSON_Delete(root);

    return sse->state;
}


/* Ollama's error line; the stream is over */

static int
ngx_llm_sse_fail(ngx_llm_sse_t *sse, const char *msg)
{
    char    *p, buf[NGX_LLM_ERROR_MAX + 1];
    size_t   n;

    ngx_llm_tr_clean(buf, sizeof(buf), msg, strlen(msg));

    if (buf[0] == '\0') {
        strcpy(buf, "upstream error");
    }

    n = strlen(buf);

    /* the line buffer is at least NGX_LLM_SSE_LINE_EXTRA bytes */
    while (ngx_llm_escaped_len(buf, n) + 16 > NGX_LLM_SSE_LINE_EXTRA) {
        n--;

        while (n > 0 && ((unsigned char) buf[n] & 0xc0) == 0x80) {
            n--;
        }
    }

    p = stpcpy(sse->line, "{\"error\":\"");
    p = ngx_llm_escape(p, buf, n);
    p = stpcpy(p, "\"}\n");

    if (ngx_llm_sse_emit(sse, sse->line, p - sse->line) == NGX_LLM_SSE_AGAIN)
    {
        sse->state = NGX_LLM_SSE_FAILED;
    }

    return sse->state;
}


static int
ngx_llm_sse_emit(ngx_llm_sse_t *sse, const char *p, size_t n)
{
    if (sse->output(sse->data, p, n) != 0) {
        sse->state = NGX_LLM_SSE_ABORT;
        return sse->state;
    }

    return NGX_LLM_SSE_AGAIN;
}


static int
ngx_llm_sse_emit_tree(ngx_llm_sse_t *sse, cJSON *tree)
{
    int      rc;
    char    *text, *line;
    size_t   n;

    text = cJSON_PrintUnformatted(tree);
    if (text == NULL) {
        sse->state = NGX_LLM_SSE_ABORT;
        return sse->state;
    }

    n = strlen(text);

    if (n + 1 <= sse->max + NGX_LLM_SSE_LINE_EXTRA) {
        line = sse->line;

    } else {
        line = cJSON_malloc(n + 1);

        if (line == NULL) {
            cJSON_free(text);
            sse->state = NGX_LLM_SSE_ABORT;
            return sse->state;
        }
    }

    memcpy(line, text, n);
    line[n] = '\n';
    cJSON_free(text);

    rc = ngx_llm_sse_emit(sse, line, n + 1);

    if (line != sse->line) {
        cJSON_free(line);
    }

    return rc;
}


/* {"model":"...","created_at":"...", */

static char *
ngx_llm_sse_head(ngx_llm_sse_t *sse, char *p)
{
    p = stpcpy(p, "{\"model\":\"");
    p = ngx_llm_escape(p, sse->model, strlen(sse->model));
    p = stpcpy(p, "\",\"created_at\":\"");
    p = stpcpy(p, sse->created_at);
    p = stpcpy(p, "\",");

    return p;
}


/*
 * Copies "src" NUL terminated; one that does not fit is cut on a UTF-8
 * character boundary and -1 returned
 */

static int
ngx_llm_sse_copy(char *dst, size_t size, const char *src, size_t n)
{
    int  rc;

    rc = 0;

    if (n > size - 1) {
        n = size - 1;

        while (n > 0 && ((unsigned char) src[n] & 0xc0) == 0x80) {
            n--;
        }

        rc = -1;
    }

    memcpy(dst, src, n);
    dst[n] = '\0';

    return rc;
}


/*
 * JSON string escapes as short as JSON has them: \" \\ \n \r \t \b \f,
 * other control characters \u00XX, everything else as it is
 */

static size_t
ngx_llm_escaped_len(const char *s, size_t len)
{
    size_t         n;
    unsigned char  c;

    for (n = len; len--; s++) {
        c = (unsigned char) *s;

        if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t'
            || c == '\b' || c == '\f')
        {
            n++;

        } else if (c < 0x20) {
            n += 5;
        }
    }

    return n;
}


static char *
ngx_llm_escape(char *dst, const char *s, size_t len)
{
    unsigned char      c;
    static const char  hex[] = "0123456789abcdef";

    while (len--) {
        c = (unsigned char) *s++;

        switch (c) {

        case '"':
        case '\\':
            *dst++ = '\\';
            *dst++ = (char) c;
            break;

        case '\n':
            *dst++ = '\\';
            *dst++ = 'n';
            break;

        case '\r':
            *dst++ = '\\';
            *dst++ = 'r';
            break;

        case '\t':
            *dst++ = '\\';
            *dst++ = 't';
            break;

        case '\b':
            *dst++ = '\\';
            *dst++ = 'b';
            break;

        case '\f':
            *dst++ = '\\';
            *dst++ = 'f';
            break;

        default:
            if (c < 0x20) {
                *dst++ = '\\';
                *dst++ = 'u';
                *dst++ = '0';
                *dst++ = '0';
                *dst++ = hex[c >> 4];
                *dst++ = hex[c & 0xf];

            } else {
                *dst++ = (char) c;
            }
        }
    }

    return dst;
}
