
/*
 * Copyright (C) ngx_llm_router authors
 */


#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "ngx_llm_request.h"
#include "ngx_llm_request_scan.h"
#include "ngx_llm_model.h"


typedef struct {
    const char         *suffix;
    const char         *name;
    ngx_llm_dialect_e   dialect;
} ngx_llm_dialect_map_t;


static int ngx_llm_parse_tree(ngx_llm_request_t *req,
    ngx_llm_classify_state_t *st);
static void ngx_llm_request_needs(ngx_llm_request_t *req);
static int ngx_llm_nonempty(cJSON *item);
static int ngx_llm_parse_load(ngx_llm_request_t *req, cJSON *root);
static int ngx_llm_parse_prompt_generate(ngx_llm_request_t *req,
    cJSON *root, ngx_llm_classify_state_t *st);
static int ngx_llm_parse_messages(ngx_llm_request_t *req, cJSON *root,
    ngx_llm_classify_state_t *st);
static int ngx_llm_parse_prompt_completions(ngx_llm_request_t *req,
    cJSON *root, ngx_llm_classify_state_t *st);
static int ngx_llm_feed(ngx_llm_request_t *req, ngx_llm_classify_state_t *st,
    const char *text);
static int ngx_llm_get_max_tokens(ngx_llm_request_t *req, cJSON *obj,
    const char *name);
static int ngx_llm_scan_top(ngx_llm_request_t *req, const char *p,
    size_t len);
static const char *ngx_llm_skip_string(const char *p, const char *end);
static const char *ngx_llm_skip_value(const char *p, const char *end);
static int ngx_llm_key_is_model(const char *p, const char *end);
static void *ngx_llm_malloc(void *data, size_t size);
static char *ngx_llm_translate_jarvis(ngx_llm_request_t *req,
    const char *model);


static const ngx_llm_dialect_map_t  ngx_llm_dialects[] = {
    { "/api/generate", "ollama_generate", NGX_LLM_DIALECT_OLLAMA_GENERATE },
    { "/api/chat", "ollama_chat", NGX_LLM_DIALECT_OLLAMA_CHAT },
    { "/v1/chat/completions", "openai_chat", NGX_LLM_DIALECT_OPENAI_CHAT },
    { "/v1/completions", "openai_completions",
      NGX_LLM_DIALECT_OPENAI_COMPLETIONS },
    { "/generate", "jarvis", NGX_LLM_DIALECT_JARVIS },
    { NULL, NULL, NGX_LLM_DIALECT_NONE }
};


ngx_llm_dialect_e
ngx_llm_dialect_from_path(const char *path, size_t len)
{
    size_t                        n;
    const ngx_llm_dialect_map_t  *d;

    /* a trailing slash is tolerated: "/api/chat/" */
    if (len > 1 && path[len - 1] == '/') {
        len--;
    }

    for (d = ngx_llm_dialects; d->suffix != NULL; d++) {
        n = strlen(d->suffix);

        if (len >= n && memcmp(path + len - n, d->suffix, n) == 0) {
            return d->dialect;
        }
    }

    return NGX_LLM_DIALECT_NONE;
}


/*
 * Endpoints that name a model in their body (Ollama's ShowHandler,
 * EmbedHandler, EmbeddingsHandler, PullHandler, PushHandler,
 * CreateHandler, CopyHandler, DeleteHandler; the OpenAI embeddings
 * middleware): the keys that name it, the first one present wins.
 */

static const char *const  ngx_llm_keys_model[] = { "model", "name", NULL };
static const char *const  ngx_llm_keys_copy[] = { "source", NULL };

static const struct {
    const char          *suffix;
    const char *const   *keys;
} ngx_llm_named[] = {
    { "/api/show", ngx_llm_keys_model },
    { "/api/embed", ngx_llm_keys_model },
    { "/api/embeddings", ngx_llm_keys_model },
    { "/v1/embeddings", ngx_llm_keys_model },
    { "/api/pull", ngx_llm_keys_model },
    { "/api/push", ngx_llm_keys_model },
    { "/api/create", ngx_llm_keys_model },
    { "/api/copy", ngx_llm_keys_copy },
    { "/api/delete", ngx_llm_keys_model },
    { NULL, NULL }
};


static int
ngx_llm_suffix(const char *path, size_t len, const char *suffix)
{
    size_t  n;

    n = strlen(suffix);

    return len >= n && memcmp(path + len - n, suffix, n) == 0;
}


ngx_llm_endpoint_e
ngx_llm_endpoint_from_path(const char *path, size_t len, const char **id,
    size_t *id_len, const char *const **keys)
{
    size_t       i;
    const char  *p;

    *id = NULL;
    *id_len = 0;
    *keys = NULL;

    if (len == 1 && path[0] == '/') {
        return NGX_LLM_EP_ROOT;
    }

    /* /v1/models/{id}: an id may hold a '/' ("library/llama3.2") */
    for (p = path; p + 11 < path + len; p++) {
        if (memcmp(p, "/v1/models/", 11) == 0) {
            *id = p + 11;
            *id_len = path + len - *id;
            return NGX_LLM_EP_MODEL_INFO;
        }
    }

    if (len > 1 && path[len - 1] == '/') {
        len--;
    }

    if (ngx_llm_suffix(path, len, "/api/tags")) {
        return NGX_LLM_EP_TAGS;
    }

    if (ngx_llm_suffix(path, len, "/api/ps")) {
        return NGX_LLM_EP_PS;
    }

    if (ngx_llm_suffix(path, len, "/api/version")) {
        return NGX_LLM_EP_VERSION;
    }

    if (ngx_llm_suffix(path, len, "/v1/models")) {
        return NGX_LLM_EP_MODELS;
    }

    for (i = 0; ngx_llm_named[i].suffix != NULL; i++) {
        if (ngx_llm_suffix(path, len, ngx_llm_named[i].suffix)) {
            *keys = ngx_llm_named[i].keys;
            return NGX_LLM_EP_NAMED;
        }
    }

    return NGX_LLM_EP_OTHER;
}


ngx_llm_dialect_e
ngx_llm_dialect_from_name(const char *name, size_t len)
{
    const ngx_llm_dialect_map_t  *d;

    for (d = ngx_llm_dialects; d->suffix != NULL; d++) {
        if (strlen(d->name) == len && memcmp(d->name, name, len) == 0) {
            return d->dialect;
        }
    }

    return NGX_LLM_DIALECT_NONE;
}


const char *
ngx_llm_dialect_name(ngx_llm_dialect_e dialect)
{
    const ngx_llm_dialect_map_t  *d;

    for (d = ngx_llm_dialects; d->suffix != NULL; d++) {
        if (d->dialect == dialect) {
            return d->name;
        }
    }

    return "none";
}


int
ngx_llm_dialect_is_openai(ngx_llm_dialect_e dialect)
{
    return dialect == NGX_LLM_DIALECT_OPENAI_CHAT
           || dialect == NGX_LLM_DIALECT_OPENAI_COMPLETIONS;
}


int
ngx_llm_request_parse(ngx_llm_request_t *req, ngx_llm_dialect_e dialect,
    const char *body, size_t len, ngx_llm_classify_state_t *st)
{
    memset(req, 0, sizeof(ngx_llm_request_t));
    req->dialect = dialect;
    req->think_budget = NGX_LLM_THINK_BUDGET;
    req->body = body;
    req->len = len;

    /* the one pass decides nearly every request */
    if (ngx_llm_request_scan(req, st) == 0) {
        return 0;
    }

    if (st != NULL) {
        ngx_llm_classify_begin(st);
    }

    return ngx_llm_request_parse_tree(req, dialect, body, len, st);
}


int
ngx_llm_request_parse_tree(ngx_llm_request_t *req,
    ngx_llm_dialect_e dialect, const char *body, size_t len,
    ngx_llm_classify_state_t *st)
{
    memset(req, 0, sizeof(ngx_llm_request_t));
    req->dialect = dialect;
    req->think_budget = NGX_LLM_THINK_BUDGET;
    req->body = body;
    req->len = len;

    if (ngx_llm_parse_tree(req, st) != 0) {
        return -1;
    }

    ngx_llm_request_needs(req);

    return 0;
}


int
ngx_llm_request_tree(ngx_llm_request_t *req)
{
    if (req->root != NULL) {
        return 0;
    }

    /* the body was read as valid JSON: only memory can fail here */
    req->root = cJSON_ParseWithLengthOpts(req->body, req->len, NULL, 0);

    return req->root != NULL ? 0 : -1;
}


/* the whole body as a cJSON tree: the exact verdict on any request */

static int
ngx_llm_parse_tree(ngx_llm_request_t *req, ngx_llm_classify_state_t *st)
{
    int                 rc;
    size_t              len;
    cJSON              *root, *item;
    const char         *body, *end, *last;
    ngx_llm_dialect_e   dialect;

    body = req->body;
    len = req->len;
    dialect = req->dialect;

    if (len == 0) {
        req->error = "empty request body, expected a JSON object";
        return -1;
    }

    /*
     * JSON allows no raw control characters but tab, CR and LF: cJSON
     * would take them as whitespace, Ollama's decoder would not.
     */
    for (end = body, last = body + len; end < last; end++) {
        if ((unsigned char) *end < 0x20
            && *end != '\t' && *end != '\n' && *end != '\r')
        {
            req->error = "request body is not valid JSON: control character";
            return -1;
        }
    }

    root = cJSON_ParseWithLengthOpts(body, len, &end, 0);

    if (root == NULL) {
        req->error = "request body is not valid JSON";
        return -1;
    }

    req->root = root;

    last = body + len;

    while (end < last
           && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
    {
        end++;
    }

    if (end != last) {
        req->error = "request body is not valid JSON: trailing data";
        return -1;
    }

    if (!cJSON_IsObject(root)) {
        req->error = "request body must be a JSON object";
        return -1;
    }

    /* Ollama decodes keys case-insensitively, and the last one wins */
    for (item = root->child; item != NULL; item = item->next) {

        if (item->string == NULL || strcasecmp(item->string, "model") != 0) {
            continue;
        }

        if (cJSON_IsNull(item)) {
            req->model = NULL;
            continue;
        }

        if (!cJSON_IsString(item)) {
            req->error = "\"model\" must be a string";
            return -1;
        }

        req->model = item->valuestring;
    }

    if (ngx_llm_scan_top(req, body, len) != 0) {
        return -1;
    }

    switch (dialect) {

    case NGX_LLM_DIALECT_OLLAMA_GENERATE:
    case NGX_LLM_DIALECT_JARVIS:
        rc = ngx_llm_parse_prompt_generate(req, root, st);
        break;

    case NGX_LLM_DIALECT_OLLAMA_CHAT:
    case NGX_LLM_DIALECT_OPENAI_CHAT:
        rc = ngx_llm_parse_messages(req, root, st);
        break;

    case NGX_LLM_DIALECT_OPENAI_COMPLETIONS:
        rc = ngx_llm_parse_prompt_completions(req, root, st);
        break;

    default:
        req->error = "unknown request dialect";
        return -1;
    }

    if (rc != 0) {
        return -1;
    }

    /* streaming defaults: Ollama streams unless told not to, OpenAI not */
    req->stream = (dialect == NGX_LLM_DIALECT_OLLAMA_GENERATE
                   || dialect == NGX_LLM_DIALECT_OLLAMA_CHAT);

    item = cJSON_GetObjectItemCaseSensitive(root, "stream");

    if (item != NULL && !cJSON_IsNull(item)) {

        if (!cJSON_IsBool(item)) {
            req->error = "\"stream\" must be a boolean";
            return -1;
        }

        req->stream = cJSON_IsTrue(item);
    }

    if (dialect == NGX_LLM_DIALECT_JARVIS) {
        req->stream = 0;
    }

    return 0;
}


/*
 * What the request needs of a tier: to see images (Ollama's "images", or
 * OpenAI's content parts of type image_url), to call tools.
 */

static void
ngx_llm_request_needs(ngx_llm_request_t *req)
{
    cJSON  *root, *msgs, *msg, *item, *part;

    root = req->root;

    req->tools = ngx_llm_nonempty(cJSON_GetObjectItemCaseSensitive(root,
                                                                   "tools"));
    req->images = ngx_llm_nonempty(cJSON_GetObjectItemCaseSensitive(root,
                                                                    "images"));

    msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");

    cJSON_ArrayForEach(msg, msgs) {

        if (ngx_llm_nonempty(cJSON_GetObjectItemCaseSensitive(msg, "images")))
        {
            req->images = 1;
        }

        item = cJSON_GetObjectItemCaseSensitive(msg, "content");

        cJSON_ArrayForEach(part, item) {
            if (cJSON_GetObjectItemCaseSensitive(part, "image_url") != NULL) {
                req->images = 1;
            }
        }
    }
}


static int
ngx_llm_nonempty(cJSON *item)
{
    return cJSON_IsArray(item) && item->child != NULL;
}


/*
 * A request without a prompt: Ollama loads the model, or unloads it when
 * "keep_alive" is zero (a number of seconds, or a Go duration string such
 * as "0", "0s", "0m").
 */

static int
ngx_llm_parse_load(ngx_llm_request_t *req, cJSON *root)
{
    const char  *p;
    cJSON       *ka;

    req->load = 1;

    ka = cJSON_GetObjectItemCaseSensitive(root, "keep_alive");

    if (cJSON_IsNumber(ka)) {
        req->unload = (ka->valuedouble == 0);

    } else if (cJSON_IsString(ka) && ka->valuestring[0] != '\0') {
        req->unload = 1;

        for (p = ka->valuestring; *p; p++) {
            if (*p >= '1' && *p <= '9') {
                req->unload = 0;
                break;
            }

            if (strchr("0.+-nsumh", *p) == NULL && (unsigned char) *p < 0x80) {
                req->unload = 0;
                break;
            }
        }
    }

    return 0;
}


static int
ngx_llm_parse_prompt_generate(ngx_llm_request_t *req, cJSON *root,
    ngx_llm_classify_state_t *st)
{
    cJSON  *prompt, *system, *options;

    prompt = cJSON_GetObjectItemCaseSensitive(root, "prompt");

    if ((prompt == NULL || cJSON_IsNull(prompt)
         || (cJSON_IsString(prompt) && prompt->valuestring[0] == '\0'))
        && req->dialect == NGX_LLM_DIALECT_OLLAMA_GENERATE)
    {
        /* Ollama's GenerateHandler: no prompt loads (or unloads) */
        return ngx_llm_parse_load(req, root);
    }

    if (prompt == NULL || cJSON_IsNull(prompt)) {
        req->error = "missing \"prompt\"";
        return -1;
    }

    if (!cJSON_IsString(prompt)) {
        req->error = "\"prompt\" must be a string";
        return -1;
    }

    system = cJSON_GetObjectItemCaseSensitive(root, "system");

    if (system != NULL && !cJSON_IsNull(system) && !cJSON_IsString(system)) {
        req->error = "\"system\" must be a string";
        return -1;
    }

    if (system != NULL && cJSON_IsString(system)
        && !ngx_llm_utf8_valid((unsigned char *) system->valuestring,
                               strlen(system->valuestring)))
    {
        req->error = "\"system\" is not valid UTF-8";
        return -1;
    }

    if (req->dialect == NGX_LLM_DIALECT_JARVIS) {
        if (ngx_llm_get_max_tokens(req, root, "max_tokens") != 0) {
            return -1;
        }

    } else {
        options = cJSON_GetObjectItemCaseSensitive(root, "options");

        if (options != NULL && !cJSON_IsNull(options)) {

            if (!cJSON_IsObject(options)) {
                req->error = "\"options\" must be an object";
                return -1;
            }

            if (ngx_llm_get_max_tokens(req, options, "num_predict") != 0) {
                return -1;
            }
        }
    }

    if (st != NULL) {
        ngx_llm_classify_turn(st);
    }

    return ngx_llm_feed(req, st, prompt->valuestring);
}


static int
ngx_llm_parse_messages(ngx_llm_request_t *req, cJSON *root,
    ngx_llm_classify_state_t *st)
{
    int     user;
    cJSON  *messages, *msg, *role, *content, *part, *text;

    messages = cJSON_GetObjectItemCaseSensitive(root, "messages");

    if (req->dialect == NGX_LLM_DIALECT_OLLAMA_CHAT
        && (messages == NULL || cJSON_IsNull(messages)
            || (cJSON_IsArray(messages) && messages->child == NULL)))
    {
        /* Ollama's ChatHandler: no messages loads (or unloads) */
        return ngx_llm_parse_load(req, root);
    }

    if (messages == NULL || cJSON_IsNull(messages)) {
        req->error = "missing \"messages\"";
        return -1;
    }

    if (!cJSON_IsArray(messages)) {
        req->error = "\"messages\" must be an array";
        return -1;
    }

    if (messages->child == NULL) {
        req->error = "\"messages\" must not be empty";
        return -1;
    }

    for (msg = messages->child; msg != NULL; msg = msg->next) {

        req->messages++;

        if (!cJSON_IsObject(msg)) {
            req->error = "each message must be an object";
            return -1;
        }

        role = cJSON_GetObjectItemCaseSensitive(msg, "role");

        if (!cJSON_IsString(role)) {
            req->error = "each message needs a \"role\" string";
            return -1;
        }

        /* only what the user wrote measures the task (Ollama folds
         * the role's case) */
        user = strcasecmp(role->valuestring, "user") == 0;

        if (user && st != NULL) {
            ngx_llm_classify_turn(st);
        }

        content = cJSON_GetObjectItemCaseSensitive(msg, "content");

        if (content == NULL || cJSON_IsNull(content)) {
            continue;
        }

        if (cJSON_IsString(content)) {
            if (ngx_llm_feed(req, user ? st : NULL, content->valuestring)
                != 0)
            {
                return -1;
            }

            continue;
        }

        if (req->dialect != NGX_LLM_DIALECT_OPENAI_CHAT
            || !cJSON_IsArray(content))
        {
            req->error = req->dialect == NGX_LLM_DIALECT_OPENAI_CHAT
                         ? "message \"content\" must be a string or an array"
                         : "message \"content\" must be a string";
            return -1;
        }

        for (part = content->child; part != NULL; part = part->next) {

            if (!cJSON_IsObject(part)) {
                req->error = "each content part must be an object";
                return -1;
            }

            text = cJSON_GetObjectItemCaseSensitive(part, "text");

            if (text == NULL) {
                /* image_url, input_audio, ...: nothing to score */
                continue;
            }

            if (!cJSON_IsString(text)) {
                req->error = "content part \"text\" must be a string";
                return -1;
            }

            if (ngx_llm_feed(req, user ? st : NULL, text->valuestring) != 0) {
                return -1;
            }
        }
    }

    if (req->dialect == NGX_LLM_DIALECT_OPENAI_CHAT) {
        if (ngx_llm_get_max_tokens(req, root, "max_tokens") != 0
            || ngx_llm_get_max_tokens(req, root, "max_completion_tokens") != 0)
        {
            return -1;
        }

    } else {
        content = cJSON_GetObjectItemCaseSensitive(root, "options");

        if (content != NULL && !cJSON_IsNull(content)) {

            if (!cJSON_IsObject(content)) {
                req->error = "\"options\" must be an object";
                return -1;
            }

            if (ngx_llm_get_max_tokens(req, content, "num_predict") != 0) {
                return -1;
            }
        }
    }

    return 0;
}


static int
ngx_llm_parse_prompt_completions(ngx_llm_request_t *req, cJSON *root,
    ngx_llm_classify_state_t *st)
{
    cJSON  *prompt, *item;

    prompt = cJSON_GetObjectItemCaseSensitive(root, "prompt");

    if (prompt == NULL || cJSON_IsNull(prompt)) {
        req->error = "missing \"prompt\"";
        return -1;
    }

    if (st != NULL) {
        ngx_llm_classify_turn(st);
    }

    if (cJSON_IsString(prompt)) {
        if (ngx_llm_feed(req, st, prompt->valuestring) != 0) {
            return -1;
        }

    } else if (cJSON_IsArray(prompt)) {

        for (item = prompt->child; item != NULL; item = item->next) {

            if (!cJSON_IsString(item)) {
                req->error = "\"prompt\" must be a string or an array of"
                             " strings";
                return -1;
            }

            if (ngx_llm_feed(req, st, item->valuestring) != 0) {
                return -1;
            }
        }

    } else {
        req->error = "\"prompt\" must be a string or an array of strings";
        return -1;
    }

    return ngx_llm_get_max_tokens(req, root, "max_tokens");
}


static int
ngx_llm_feed(ngx_llm_request_t *req, ngx_llm_classify_state_t *st,
    const char *text)
{
    size_t  len;

    len = strlen(text);

    if (!ngx_llm_utf8_valid((const unsigned char *) text, len)) {
        req->error = "prompt text is not valid UTF-8";
        return -1;
    }

    if (st != NULL) {
        /* a message boundary is a line break for the scanner */
        ngx_llm_classify_feed(st, (const unsigned char *) text, len);
        ngx_llm_classify_break(st);
    }

    return 0;
}


static int
ngx_llm_get_max_tokens(ngx_llm_request_t *req, cJSON *obj, const char *name)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (item == NULL || cJSON_IsNull(item)) {
        return 0;
    }

    if (!cJSON_IsNumber(item)) {
        req->error = "token limit must be a number";
        return -1;
    }

    if (item->valuedouble > 0 && item->valuedouble < 1e9) {
        req->max_tokens = (long) item->valuedouble;
    }

    return 0;
}


/*
 * Finds the spans of top-level "model" values in the raw body, so that the
 * rewrite can leave every other byte as the client sent it.  The body is
 * known to be a valid JSON object here.  No recursion: nested values are
 * skipped by counting brackets.
 */

static int
ngx_llm_scan_top(ngx_llm_request_t *req, const char *body, size_t len)
{
    int          model;
    const char  *p, *end, *key, *value;

    p = body;
    end = body + len;

    while (p < end && *p != '{') {
        p++;
    }

    if (p == end) {
        req->error = "request body must be a JSON object";
        return -1;
    }

    p++;
    req->insert_at = p - body;

    for ( ;; ) {

        while (p < end && *p != '"' && *p != '}') {
            p++;
        }

        if (p == end || *p == '}') {
            return 0;
        }

        key = p;
        p = ngx_llm_skip_string(p, end);

        if (p == NULL) {
            break;
        }

        model = ngx_llm_key_is_model(key + 1, p - 1);

        while (p < end && *p != ':') {
            p++;
        }

        if (p == end) {
            break;
        }

        p++;

        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'
                           || *p == '\n'))
        {
            p++;
        }

        value = p;
        p = ngx_llm_skip_value(p, end);

        if (p == NULL) {
            break;
        }

        if (model) {
            if (req->model_keys == NGX_LLM_MAX_MODEL_KEYS) {
                req->error = "too many \"model\" keys";
                return -1;
            }

            req->model_start[req->model_keys] = value - body;
            req->model_end[req->model_keys] = p - body;
            req->model_keys++;
        }

        while (p < end && *p != ',' && *p != '}') {
            p++;
        }

        if (p == end || *p == '}') {
            return 0;
        }

        p++;
    }

    req->error = "request body is not valid JSON";
    return -1;
}


/* p points at the opening quote; returns the byte after the closing one */

static const char *
ngx_llm_skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {

        if (*p == '\\') {
            p++;
            continue;
        }

        if (*p == '"') {
            return p + 1;
        }
    }

    return NULL;
}


static const char *
ngx_llm_skip_value(const char *p, const char *end)
{
    size_t  depth;

    if (p < end && *p == '"') {
        return ngx_llm_skip_string(p, end);
    }

    depth = 0;

    while (p < end) {

        switch (*p) {

        case '"':
            p = ngx_llm_skip_string(p, end);

            if (p == NULL) {
                return NULL;
            }

            continue;

        case '{':
        case '[':
            depth++;
            break;

        case '}':
        case ']':
            if (depth == 0) {
                return p;
            }

            if (--depth == 0) {
                return p + 1;
            }

            break;

        case ',':
        case ' ':
        case '\t':
        case '\r':
        case '\n':
            if (depth == 0) {
                return p;
            }

            break;
        }

        p++;
    }

    return depth == 0 ? p : NULL;
}


/* compares a raw JSON key (escapes allowed) with "model", ignoring case */

static int
ngx_llm_key_is_model(const char *p, const char *end)
{
    int          c, i;
    size_t       n;
    const char  *want;

    want = "model";

    for (n = 0; p < end; n++) {

        c = (unsigned char) *p++;

        if (c == '\\') {
            if (p == end) {
                return 0;
            }

            c = (unsigned char) *p++;

            if (c == 'u') {
                if (end - p < 4 || p[0] != '0' || p[1] != '0') {
                    return 0;
                }

                c = 0;

                for (i = 2; i < 4; i++) {
                    c <<= 4;

                    if (p[i] >= '0' && p[i] <= '9') {
                        c |= p[i] - '0';

                    } else if ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f') {
                        c |= (p[i] | 0x20) - 'a' + 10;

                    } else {
                        return 0;
                    }
                }

                p += 4;

            } else {
                return 0;
            }
        }

        if (n >= 5 || (c | 0x20) != want[n]) {
            return 0;
        }
    }

    return n == 5;
}


static void *
ngx_llm_malloc(void *data, size_t size)
{
    (void) data;

    return malloc(size);
}


size_t
ngx_llm_request_rewrite(ngx_llm_request_t *req, const char *body,
    size_t len, const char *model, char **out)
{
    char  *buf;

    *out = NULL;

    if (req->dialect == NGX_LLM_DIALECT_JARVIS) {
        buf = ngx_llm_translate_jarvis(req, model);

        if (buf == NULL) {
            return 0;
        }

        *out = buf;
        return strlen(buf);
    }

    return ngx_llm_request_rewrite_into(req, body, len, model,
                                        ngx_llm_malloc, NULL, out);
}


void
ngx_llm_request_cuts(const ngx_llm_request_t *req, const char *body,
    size_t len, ngx_llm_request_cuts_t *cuts)
{
    size_t       from, i;
    const char  *p;

    if (req->model_keys == 0) {
        cuts->n = 2;
        cuts->start[0] = 0;
        cuts->end[0] = req->insert_at;
        cuts->start[1] = req->insert_at;
        cuts->end[1] = len;
        cuts->member = 1;

        /* an empty object takes no comma */
        p = body + req->insert_at;

        while (p < body + len && (*p == ' ' || *p == '\t' || *p == '\r'
                                  || *p == '\n'))
        {
            p++;
        }

        cuts->comma = (p < body + len && *p != '}');

        return;
    }

    from = 0;

    for (i = 0; i < req->model_keys; i++) {
        cuts->start[i] = from;
        cuts->end[i] = req->model_start[i];
        from = req->model_end[i];
    }

    cuts->start[i] = from;
    cuts->end[i] = len;
    cuts->n = req->model_keys + 1;
    cuts->member = 0;
    cuts->comma = 0;
}


size_t
ngx_llm_request_rewrite_into(ngx_llm_request_t *req, const char *body,
    size_t len, const char *model, void *(*alloc)(void *data, size_t size),
    void *data, char **out)
{
    char                    *buf, *q;
    size_t                   size, mlen, i;
    ngx_llm_request_cuts_t   cuts;

    *out = NULL;

    mlen = strlen(model);
    size = len + (req->model_keys + 1) * (6 * mlen + 12) + 1;

    buf = alloc(data, size);
    if (buf == NULL) {
        return 0;
    }

    ngx_llm_request_cuts(req, body, len, &cuts);

    q = buf;

    for (i = 0; i < cuts.n; i++) {

        if (i > 0) {
            /* the model between two pieces */

            if (cuts.member) {
                memcpy(q, "\"model\":", 8);
                q += 8;
            }

            *q++ = '"';
            q += ngx_llm_json_escape(q, model, mlen);
            *q++ = '"';

            if (cuts.comma) {
                *q++ = ',';
            }
        }

        memcpy(q, body + cuts.start[i], cuts.end[i] - cuts.start[i]);
        q += cuts.end[i] - cuts.start[i];
    }

    *q = '\0';
    *out = buf;

    return q - buf;
}


static char *
ngx_llm_translate_jarvis(ngx_llm_request_t *req, const char *model)
{
    long          budget;
    char         *text;
    cJSON        *root, *out, *options, *item;
    const char  **name;

    static const char  *copy[] = { "prompt", "system", "format", "images",
                                   "keep_alive", "think", NULL };
    static const char  *opts[] = { "temperature", "top_p", "top_k", "seed",
                                   "stop", NULL };

    root = req->root;

    out = cJSON_CreateObject();
    if (out == NULL) {
        return NULL;
    }

    if (cJSON_AddStringToObject(out, "model", model) == NULL) {
        goto failed;
    }

    for (name = copy; *name != NULL; name++) {
        item = cJSON_GetObjectItemCaseSensitive(root, *name);

        if (item != NULL) {
            item = cJSON_Duplicate(item, 1);

            if (item == NULL) {
                goto failed;
            }

            cJSON_AddItemToObject(out, *name, item);
        }
    }

    if (cJSON_AddFalseToObject(out, "stream") == NULL) {
        goto failed;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "options");

    options = cJSON_IsObject(item) ? cJSON_Duplicate(item, 1)
                                   : cJSON_CreateObject();
    if (options == NULL) {
        goto failed;
    }

    cJSON_AddItemToObject(out, "options", options);

    budget = 0;

    if (cJSON_GetObjectItemCaseSensitive(root, "think") == NULL
        && ngx_llm_model_always_thinks(model, strlen(model)))
    {
        /*
         * gpt-oss always thinks (Ollama ignores "think": false for it)
         * and its thinking tokens count against num_predict: at the
         * lowest level, with room for the thinking on top of the
         * client's max_tokens, a short answer is not left empty.
         */

        if (cJSON_AddStringToObject(out, "think", "low") == NULL) {
            goto failed;
        }

        budget = req->think_budget;
    }

    if (req->max_tokens > 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(options, "num_predict");

        if (cJSON_AddNumberToObject(options, "num_predict",
                                    (double) (req->max_tokens + budget))
            == NULL)
        {
            goto failed;
        }
    }

    for (name = opts; *name != NULL; name++) {
        item = cJSON_GetObjectItemCaseSensitive(root, *name);

        if (item != NULL) {
            item = cJSON_Duplicate(item, 1);

            if (item == NULL) {
                goto failed;
            }

            cJSON_DeleteItemFromObjectCaseSensitive(options, *name);
            cJSON_AddItemToObject(options, *name, item);
        }
    }

    text = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);

    return text;

failed:

    cJSON_Delete(out);
    return NULL;
}


void
ngx_llm_request_free(ngx_llm_request_t *req)
{
    if (req->root != NULL) {
        if (!req->borrowed) {
            cJSON_Delete(req->root);
        }

        req->root = NULL;
    }

    req->model = NULL;
}
