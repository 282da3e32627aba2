
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Every rule here is the tree parser's (ngx_llm_request.c), read in one
 * pass: a name is looked up the way cJSON_GetObjectItemCaseSensitive()
 * does (exact, the first one wins) but "model" (any case, the last one
 * wins), and a request is handed back undecided rather than judged
 * differently.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_llm_request_scan.h"


/* text pieces kept until their message (or the request) is read through */
#define NGX_LLM_SCAN_TEXTS  16


typedef struct {
    ngx_llm_request_t         *req;
    ngx_llm_classify_state_t  *st;
    const unsigned char       *body;
    ngx_llm_json_t             j;

    ngx_llm_json_str_t         text[NGX_LLM_SCAN_TEXTS];
    unsigned                   ntext;

    /* the token limits' numbers, NULL when absent or null */
    const unsigned char       *limit[3];
    size_t                     limit_len[3];

    unsigned                   seen;     /* NGX_LLM_SEEN_* */
} ngx_llm_scan_t;


#define NGX_LLM_SEEN_STREAM     0x01
#define NGX_LLM_SEEN_PROMPT     0x02
#define NGX_LLM_SEEN_SYSTEM     0x04
#define NGX_LLM_SEEN_MESSAGES   0x08
#define NGX_LLM_SEEN_OPTIONS    0x10
#define NGX_LLM_SEEN_TOOLS      0x20
#define NGX_LLM_SEEN_IMAGES     0x40
#define NGX_LLM_SEEN_MAX_TOKENS 0x80
#define NGX_LLM_SEEN_MAX_COMPL  0x100

/* the limits, by where they come from */
#define NGX_LLM_LIMIT_MAX_TOKENS  0
#define NGX_LLM_LIMIT_MAX_COMPL   1
#define NGX_LLM_LIMIT_PREDICT     2


static int ngx_llm_scan_member(ngx_llm_scan_t *sc, ngx_llm_json_str_t *key);
static int ngx_llm_scan_model(ngx_llm_scan_t *sc);
static int ngx_llm_scan_messages(ngx_llm_scan_t *sc);
static int ngx_llm_scan_message(ngx_llm_scan_t *sc);
static int ngx_llm_scan_parts(ngx_llm_scan_t *sc);
static int ngx_llm_scan_prompts(ngx_llm_scan_t *sc);
static int ngx_llm_scan_options(ngx_llm_scan_t *sc);
static int ngx_llm_scan_limit(ngx_llm_scan_t *sc, unsigned which);
static int ngx_llm_scan_nonempty(ngx_llm_scan_t *sc, int *nonempty);
static int ngx_llm_scan_text(ngx_llm_scan_t *sc);
static int ngx_llm_scan_feed(ngx_llm_scan_t *sc, int scored);
static void ngx_llm_scan_classify(void *data, const unsigned char *p,
    size_t len);
static void ngx_llm_scan_nothing(void *data, const unsigned char *p,
    size_t len);


#define ngx_llm_key(key, name)                                              \
    ((size_t) ((key)->end - (key)->start) == sizeof(name) - 1              \
     && memcmp((key)->start, name, sizeof(name) - 1) == 0)


int
ngx_llm_request_scan(ngx_llm_request_t *req, ngx_llm_classify_state_t *st)
{
    char                 num[64];
    unsigned             n, i;
    double               v;
    ngx_llm_scan_t       sc;
    ngx_llm_json_str_t   key;
    ngx_llm_dialect_e    d;

    d = req->dialect;

    if (d == NGX_LLM_DIALECT_JARVIS || d == NGX_LLM_DIALECT_NONE) {
        return -1;
    }

    memset(&sc, 0, sizeof(ngx_llm_scan_t));
    sc.req = req;
    sc.st = st;
    sc.body = (const unsigned char *) req->body;
    sc.j.p = sc.body;
    sc.j.end = sc.body + req->len;

    if (ngx_llm_json_open(&sc.j, '{') != 0) {
        return -1;
    }

    req->insert_at = sc.j.p - sc.body;

    n = 0;

    while ((i = ngx_llm_json_more(&sc.j, '}', &n)) == 1) {
        if (ngx_llm_json_key(&sc.j, &key) != 0
            || key.escaped
            || ngx_llm_scan_member(&sc, &key) != 0)
        {
            return -1;
        }
    }

    if (i != 0 || ngx_llm_json_ws(&sc.j) != -1) {
        return -1;
    }

    /* the dialect's own members */

    switch (d) {

    case NGX_LLM_DIALECT_OLLAMA_GENERATE:
        /* no prompt, or an empty one: a load */
        if (sc.ntext != 1 || sc.text[0].start == sc.text[0].end) {
            return -1;
        }

        break;

    case NGX_LLM_DIALECT_OPENAI_COMPLETIONS:
        if (!(sc.seen & NGX_LLM_SEEN_PROMPT)) {
            return -1;
        }

        break;

    default:
        /* chats: no messages, or none, is a load or an error */
        if (req->messages == 0) {
            return -1;
        }
    }

    if (d == NGX_LLM_DIALECT_OLLAMA_GENERATE
        || d == NGX_LLM_DIALECT_OPENAI_COMPLETIONS)
    {
        if (st != NULL) {
            ngx_llm_classify_turn(st);
        }

        if (ngx_llm_scan_feed(&sc, 1) != 0) {
            return -1;
        }
    }

    /* the last valid limit wins, in the tree parser's order */

    for (i = 0; i < 3; i++) {
        if (sc.limit[i] == NULL) {
            continue;
        }

        memcpy(num, sc.limit[i], sc.limit_len[i]);
        num[sc.limit_len[i]] = '\0';

        v = strtod(num, NULL);

        if (v > 0 && v < 1e9) {
            req->max_tokens = (long) v;
        }
    }

    req->stream = (d == NGX_LLM_DIALECT_OLLAMA_GENERATE
                   || d == NGX_LLM_DIALECT_OLLAMA_CHAT)
                  ? (req->stream != 2) : (req->stream == 1);

    return 0;
}


/*
 * One member of the request object.  req->stream is set to 1 (true), 2
 * (false) or left 0 (absent or null) here, and made a flag at the end.
 */

static int
ngx_llm_scan_member(ngx_llm_scan_t *sc, ngx_llm_json_str_t *key)
{
    int                 nonempty;
    unsigned            bit;
    ngx_llm_json_t     *j;
    ngx_llm_dialect_e   d;
    ngx_llm_json_str_t  s;

    j = &sc->j;
    d = sc->req->dialect;

    if (ngx_llm_json_caseeq(key, "model", 5)) {
        return ngx_llm_scan_model(sc);
    }

    bit = 0;

    switch (key->end - key->start) {

    case 5:
        if (ngx_llm_key(key, "tools")) {
            bit = NGX_LLM_SEEN_TOOLS;
        }
        break;

    case 6:
        bit = ngx_llm_key(key, "stream") ? NGX_LLM_SEEN_STREAM
              : ngx_llm_key(key, "prompt") ? NGX_LLM_SEEN_PROMPT
              : ngx_llm_key(key, "system") ? NGX_LLM_SEEN_SYSTEM
              : ngx_llm_key(key, "images") ? NGX_LLM_SEEN_IMAGES : 0;
        break;

    case 7:
        if (ngx_llm_key(key, "options")) {
            bit = NGX_LLM_SEEN_OPTIONS;
        }
        break;

    case 8:
        if (ngx_llm_key(key, "messages")) {
            bit = NGX_LLM_SEEN_MESSAGES;
        }
        break;

    case 10:
        if (ngx_llm_key(key, "max_tokens")
            && (d == NGX_LLM_DIALECT_OPENAI_CHAT
                || d == NGX_LLM_DIALECT_OPENAI_COMPLETIONS))
        {
            bit = NGX_LLM_SEEN_MAX_TOKENS;
        }
        break;

    case 21:
        if (ngx_llm_key(key, "max_completion_tokens")
            && d == NGX_LLM_DIALECT_OPENAI_CHAT)
        {
            bit = NGX_LLM_SEEN_MAX_COMPL;
        }
        break;
    }

    /* a later duplicate is not looked at: only checked */

    if (bit == 0 || (sc->seen & bit)) {
        return ngx_llm_json_skip(j);
    }

    sc->seen |= bit;

    switch (bit) {

    case NGX_LLM_SEEN_STREAM:
        if (ngx_llm_json_literal(j, "true", 4)) {
            sc->req->stream = 1;
            return 0;
        }

        if (ngx_llm_json_literal(j, "false", 5)) {
            sc->req->stream = 2;
            return 0;
        }

        return ngx_llm_json_literal(j, "null", 4) ? 0 : -1;

    case NGX_LLM_SEEN_PROMPT:
        if (d == NGX_LLM_DIALECT_OLLAMA_GENERATE) {
            if (*j->p != '"') {
                return -1;
            }

            return ngx_llm_json_string(j, &sc->text[sc->ntext++]);
        }

        if (d == NGX_LLM_DIALECT_OPENAI_COMPLETIONS) {
            return ngx_llm_scan_prompts(sc);
        }

        return ngx_llm_json_skip(j);

    case NGX_LLM_SEEN_SYSTEM:
        if (d != NGX_LLM_DIALECT_OLLAMA_GENERATE) {
            return ngx_llm_json_skip(j);
        }

        if (ngx_llm_json_literal(j, "null", 4)) {
            return 0;
        }

        /* not scored, but it must be UTF-8 */
        if (*j->p != '"' || ngx_llm_json_string(j, &s) != 0) {
            return -1;
        }

        return ngx_llm_json_text(&s, ngx_llm_scan_nothing, NULL);

    case NGX_LLM_SEEN_MESSAGES:
        if (d != NGX_LLM_DIALECT_OLLAMA_CHAT
            && d != NGX_LLM_DIALECT_OPENAI_CHAT)
        {
            /* images in another dialect's "messages": the tree's case */
            return -1;
        }

        return ngx_llm_scan_messages(sc);

    case NGX_LLM_SEEN_MAX_TOKENS:
        return ngx_llm_scan_limit(sc, NGX_LLM_LIMIT_MAX_TOKENS);

    case NGX_LLM_SEEN_MAX_COMPL:
        return ngx_llm_scan_limit(sc, NGX_LLM_LIMIT_MAX_COMPL);

    case NGX_LLM_SEEN_OPTIONS:
        if (d != NGX_LLM_DIALECT_OLLAMA_GENERATE
            && d != NGX_LLM_DIALECT_OLLAMA_CHAT)
        {
            return ngx_llm_json_skip(j);
        }

        return ngx_llm_scan_options(sc);

    default: /* NGX_LLM_SEEN_TOOLS, NGX_LLM_SEEN_IMAGES */
        if (ngx_llm_scan_nonempty(sc, &nonempty) != 0) {
            return -1;
        }

        if (nonempty) {
            if (bit == NGX_LLM_SEEN_TOOLS) {
                sc->req->tools = 1;

            } else {
                sc->req->images = 1;
            }
        }

        return 0;
    }
}


/* a top-level "model", in any case: its span for the rewrite */

static int
ngx_llm_scan_model(ngx_llm_scan_t *sc)
{
    size_t               len;
    ngx_llm_json_t      *j;
    ngx_llm_request_t   *req;
    ngx_llm_json_str_t   s;

    j = &sc->j;
    req = sc->req;

    if (req->model_keys == NGX_LLM_MAX_MODEL_KEYS) {
        return -1;
    }

    req->model_start[req->model_keys] = j->p - sc->body;

    if (ngx_llm_json_literal(j, "null", 4)) {
        req->model = NULL;

    } else {
        if (*j->p != '"' || ngx_llm_json_string(j, &s) != 0 || s.escaped) {
            return -1;
        }

        len = s.end - s.start;

        if (len >= sizeof(req->model_buf)) {
            return -1;
        }

        memcpy(req->model_buf, s.start, len);
        req->model_buf[len] = '\0';
        req->model = req->model_buf;
    }

    req->model_end[req->model_keys++] = j->p - sc->body;

    return 0;
}


static int
ngx_llm_scan_messages(ngx_llm_scan_t *sc)
{
    int        rc;
    unsigned   n;

    if (ngx_llm_json_open(&sc->j, '[') != 0) {
        /* null, or not an array: a load or an error */
        return -1;
    }

    n = 0;

    while ((rc = ngx_llm_json_more(&sc->j, ']', &n)) == 1) {
        if (ngx_llm_scan_message(sc) != 0) {
            return -1;
        }
    }

    return rc;
}


/* one message: read through, then its text is checked and scored */

static int
ngx_llm_scan_message(ngx_llm_scan_t *sc)
{
    int                 rc, nonempty, user;
    unsigned            n, seen;
    ngx_llm_json_t     *j;
    ngx_llm_json_str_t  key, role;

    j = &sc->j;

    if (ngx_llm_json_open(j, '{') != 0) {
        return -1;
    }

    sc->ntext = 0;
    seen = 0;
    n = 0;

    while ((rc = ngx_llm_json_more(j, '}', &n)) == 1) {

        if (ngx_llm_json_key(j, &key) != 0 || key.escaped) {
            return -1;
        }

        if (!(seen & 1) && ngx_llm_key(&key, "role")) {
            seen |= 1;

            if (*j->p != '"' || ngx_llm_json_string(j, &role) != 0
                || role.escaped)
            {
                return -1;
            }

            continue;
        }

        if (!(seen & 2) && ngx_llm_key(&key, "content")) {
            seen |= 2;

            if (ngx_llm_json_literal(j, "null", 4)) {
                continue;
            }

            if (*j->p == '"') {
                if (ngx_llm_scan_text(sc) != 0) {
                    return -1;
                }

                continue;
            }

            if (sc->req->dialect != NGX_LLM_DIALECT_OPENAI_CHAT) {
                return -1;
            }

            if (ngx_llm_scan_parts(sc) != 0) {
                return -1;
            }

            continue;
        }

        if (!(seen & 4) && ngx_llm_key(&key, "images")) {
            seen |= 4;

            if (ngx_llm_scan_nonempty(sc, &nonempty) != 0) {
                return -1;
            }

            if (nonempty) {
                sc->req->images = 1;
            }

            continue;
        }

        if (ngx_llm_json_skip(j) != 0) {
            return -1;
        }
    }

    if (rc != 0 || !(seen & 1)) {
        return -1;
    }

    sc->req->messages++;

    /* only what the user wrote measures the task (Ollama folds the
     * role's case) */
    user = ngx_llm_json_caseeq(&role, "user", 4);

    if (user && sc->st != NULL) {
        ngx_llm_classify_turn(sc->st);
    }

    return ngx_llm_scan_feed(sc, user);
}


/* OpenAI's content parts: the text of each, an image_url is noted */

static int
ngx_llm_scan_parts(ngx_llm_scan_t *sc)
{
    int                 rc, text;
    unsigned            n, m;
    ngx_llm_json_t     *j;
    ngx_llm_json_str_t  key;

    j = &sc->j;

    if (ngx_llm_json_open(j, '[') != 0) {
        return -1;
    }

    n = 0;

    while ((rc = ngx_llm_json_more(j, ']', &n)) == 1) {

        if (ngx_llm_json_open(j, '{') != 0) {
            return -1;
        }

        text = 0;
        m = 0;

        while ((rc = ngx_llm_json_more(j, '}', &m)) == 1) {

            if (ngx_llm_json_key(j, &key) != 0 || key.escaped) {
                return -1;
            }

            if (!text && ngx_llm_key(&key, "text")) {
                text = 1;

                if (*j->p != '"' || ngx_llm_scan_text(sc) != 0) {
                    return -1;
                }

                continue;
            }

            if (ngx_llm_key(&key, "image_url")) {
                sc->req->images = 1;
            }

            if (ngx_llm_json_skip(j) != 0) {
                return -1;
            }
        }

        if (rc != 0) {
            return -1;
        }
    }

    return rc;
}


/* a completions "prompt": a string or an array of strings */

static int
ngx_llm_scan_prompts(ngx_llm_scan_t *sc)
{
    int        rc;
    unsigned   n;

    if (*sc->j.p == '"') {
        return ngx_llm_scan_text(sc);
    }

    if (ngx_llm_json_open(&sc->j, '[') != 0) {
        return -1;
    }

    n = 0;

    while ((rc = ngx_llm_json_more(&sc->j, ']', &n)) == 1) {
        if (*sc->j.p != '"' || ngx_llm_scan_text(sc) != 0) {
            return -1;
        }
    }

    return rc;
}


/* Ollama's "options": an object, or null; its first "num_predict" */

static int
ngx_llm_scan_options(ngx_llm_scan_t *sc)
{
    int                 rc, seen;
    unsigned            n;
    ngx_llm_json_t     *j;
    ngx_llm_json_str_t  key;

    j = &sc->j;

    if (ngx_llm_json_literal(j, "null", 4)) {
        return 0;
    }

    if (ngx_llm_json_open(j, '{') != 0) {
        return -1;
    }

    seen = 0;
    n = 0;

    while ((rc = ngx_llm_json_more(j, '}', &n)) == 1) {

        if (ngx_llm_json_key(j, &key) != 0 || key.escaped) {
            return -1;
        }

        if (!seen && ngx_llm_key(&key, "num_predict")) {
            seen = 1;

            if (ngx_llm_scan_limit(sc, NGX_LLM_LIMIT_PREDICT) != 0) {
                return -1;
            }

            continue;
        }

        if (ngx_llm_json_skip(j) != 0) {
            return -1;
        }
    }

    return rc;
}


/* a token limit: a number, or null */

static int
ngx_llm_scan_limit(ngx_llm_scan_t *sc, unsigned which)
{
    if (ngx_llm_json_literal(&sc->j, "null", 4)) {
        return 0;
    }

    return ngx_llm_json_number(&sc->j, &sc->limit[which],
                               &sc->limit_len[which]);
}


/* tools or images: a non-empty array counts; anything else is skipped */

static int
ngx_llm_scan_nonempty(ngx_llm_scan_t *sc, int *nonempty)
{
    const unsigned char  *start;

    start = sc->j.p;
    *nonempty = 0;

    if (ngx_llm_json_skip(&sc->j) != 0) {
        return -1;
    }

    if (*start == '[') {
        start++;

        while (*start == ' ' || *start == '\t' || *start == '\r'
               || *start == '\n')
        {
            start++;
        }

        *nonempty = (*start != ']');
    }

    return 0;
}


/* a string whose text is checked and maybe scored once its turn is read */

static int
ngx_llm_scan_text(ngx_llm_scan_t *sc)
{
    if (sc->ntext == NGX_LLM_SCAN_TEXTS) {
        return -1;
    }

    return ngx_llm_json_string(&sc->j, &sc->text[sc->ntext++]);
}


/*
 * The kept texts: each must be UTF-8; scored ones go to the classifier,
 * a message boundary being a line break for its scanner.
 */

static int
ngx_llm_scan_feed(ngx_llm_scan_t *sc, int scored)
{
    unsigned  i;

    for (i = 0; i < sc->ntext; i++) {

        if (!scored || sc->st == NULL) {
            if (ngx_llm_json_text(&sc->text[i], ngx_llm_scan_nothing, NULL)
                != 0)
            {
                return -1;
            }

            continue;
        }

        if (ngx_llm_json_text(&sc->text[i], ngx_llm_scan_classify, sc->st)
            != 0)
        {
            return -1;
        }

        ngx_llm_classify_break(sc->st);
    }

    sc->ntext = 0;

    return 0;
}


static void
ngx_llm_scan_classify(void *data, const unsigned char *p, size_t len)
{
    ngx_llm_classify_feed(data, p, len);
}


static void
ngx_llm_scan_nothing(void *data, const unsigned char *p, size_t len)
{
    (void) data;
    (void) p;
    (void) len;
}
