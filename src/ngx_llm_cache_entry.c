
/*
 * Copyright (C) ngx_llm_router authors
 */


#include <string.h>

#include "ngx_llm_cache_entry.h"


#define NGX_LLM_ENTRY_MAGIC  "LLM1 "


#if (HIREDIS_MAJOR >= 1)
typedef size_t  ngx_llm_elements_t;
#else
typedef int     ngx_llm_elements_t;
#endif


static void *ngx_llm_reply_array(const redisReadTask *task,
    ngx_llm_elements_t elements);


static redisReplyObjectFunctions  ngx_llm_reply_fn;
static void *(*ngx_llm_reply_create_array)(const redisReadTask *task,
    ngx_llm_elements_t elements);


size_t
ngx_llm_entry_header_len(size_t model_len, size_t type_len)
{
    return sizeof(NGX_LLM_ENTRY_MAGIC "0  \n") - 1 + model_len + type_len;
}


unsigned char *
ngx_llm_entry_write_header(unsigned char *p, int stream,
    const unsigned char *model, size_t model_len, const unsigned char *type,
    size_t type_len)
{
    memcpy(p, NGX_LLM_ENTRY_MAGIC, sizeof(NGX_LLM_ENTRY_MAGIC) - 1);
    p += sizeof(NGX_LLM_ENTRY_MAGIC) - 1;

    *p++ = stream ? '1' : '0';
    *p++ = ' ';

    memcpy(p, model, model_len);
    p += model_len;
    *p++ = ' ';

    memcpy(p, type, type_len);
    p += type_len;
    *p++ = '\n';

    return p;
}


int
ngx_llm_entry_decode(const unsigned char *p, size_t len, ngx_llm_entry_t *e)
{
    const unsigned char  *end, *model, *type, *nl;

    end = p + len;

    if (len < sizeof(NGX_LLM_ENTRY_MAGIC "0 m x\n") - 1
        || memcmp(p, NGX_LLM_ENTRY_MAGIC, sizeof(NGX_LLM_ENTRY_MAGIC) - 1)
           != 0
        || (p[5] != '0' && p[5] != '1') || p[6] != ' ')
    {
        return -1;
    }

    model = p + 7;

    type = memchr(model, ' ', end - model);
    if (type == NULL || type == model) {
        return -1;
    }

    type++;

    nl = memchr(type, '\n', end - type);
    if (nl == NULL || nl == type) {
        return -1;
    }

    e->stream = (p[5] == '1');
    e->model = model;
    e->model_len = type - 1 - model;
    e->type = type;
    e->type_len = nl - type;
    e->body = nl + 1;
    e->body_len = end - (nl + 1);

    return 0;
}


int
ngx_llm_entry_is_sse(const unsigned char *type, size_t type_len)
{
    return type_len >= sizeof("text/event-stream") - 1
           && memcmp(type, "text/event-stream",
                     sizeof("text/event-stream") - 1) == 0;
}


const unsigned char *
ngx_llm_entry_next_event(const unsigned char *p, const unsigned char *end,
    int sse)
{
    const unsigned char  *next;

    for ( ;; ) {
        next = memchr(p, '\n', end - p);

        if (next == NULL) {
            return end;
        }

        next++;

        if (!sse) {
            return next;
        }

        if (next < end && *next == '\n') {
            return next + 1;
        }

        p = next;
    }
}


int
ngx_llm_entry_complete(const unsigned char *body, size_t len, int stream,
    int openai)
{
    const unsigned char  *end, *p;

    static const char  done[] = "\"done\":true";

    if (!stream) {
        return len > 0;
    }

    end = body + len;

    while (end > body && (end[-1] == '\n' || end[-1] == '\r')) {
        end--;
    }

    if (openai) {
        return end - body >= 12 && memcmp(end - 12, "data: [DONE]", 12) == 0;
    }

    /* NDJSON: the last line says "done":true */

    for (p = end; p > body && p[-1] != '\n'; p--) { /* void */ }

    for ( /* void */ ; end - p >= (long) sizeof(done) - 1; p++) {
        if (memcmp(p, done, sizeof(done) - 1) == 0) {
            return 1;
        }
    }

    return 0;
}


static ngx_llm_reply_e
ngx_llm_reply_entry(const redisReply *reply, int stream, ngx_llm_entry_t *e)
{
    if (ngx_llm_entry_decode((const unsigned char *) reply->str, reply->len,
                             e)
        != 0
        || e->stream != (stream != 0))
    {
        return NGX_LLM_REPLY_ABSENT;
    }

    return NGX_LLM_REPLY_FOUND;
}


ngx_llm_reply_e
ngx_llm_reply_get(const redisReply *reply, int stream, ngx_llm_entry_t *e)
{
    if (reply == NULL) {
        return NGX_LLM_REPLY_ERROR;
    }

    switch (reply->type) {

    case REDIS_REPLY_NIL:
        return NGX_LLM_REPLY_ABSENT;

    case REDIS_REPLY_STRING:
        return ngx_llm_reply_entry(reply, stream, e);

    default:
        /* an error, or a type GET never returns: not our server's answer */
        return NGX_LLM_REPLY_ERROR;
    }
}


ngx_llm_reply_e
ngx_llm_reply_lock(const redisReply *reply)
{
    if (reply == NULL) {
        return NGX_LLM_REPLY_ERROR;
    }

    switch (reply->type) {

    case REDIS_REPLY_STATUS:
        return (reply->len == 2 && memcmp(reply->str, "OK", 2) == 0)
               ? NGX_LLM_REPLY_LOCKED : NGX_LLM_REPLY_ERROR;

    case REDIS_REPLY_NIL:
        return NGX_LLM_REPLY_BUSY;

    default:
        return NGX_LLM_REPLY_ERROR;
    }
}


ngx_llm_reply_e
ngx_llm_reply_poll(const redisReply *reply, int stream, ngx_llm_entry_t *e)
{
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2
        || reply->element[0] == NULL || reply->element[1] == NULL)
    {
        return NGX_LLM_REPLY_ABSENT;
    }

    if (reply->element[0]->type == REDIS_REPLY_STRING
        && ngx_llm_reply_entry(reply->element[0], stream, e)
           == NGX_LLM_REPLY_FOUND)
    {
        return NGX_LLM_REPLY_FOUND;
    }

    if (reply->element[0]->type == REDIS_REPLY_NIL
        && reply->element[1]->type == REDIS_REPLY_STRING)
    {
        return NGX_LLM_REPLY_WAIT;
    }

    /* the holder is gone, or the value is unreadable: go on alone */
    return NGX_LLM_REPLY_ABSENT;
}


void
ngx_llm_reply_guard(redisReader *reader)
{
    if (reader->fn == NULL || reader->fn == &ngx_llm_reply_fn) {
        return;
    }

    if (ngx_llm_reply_create_array == NULL) {
        ngx_llm_reply_fn = *reader->fn;
        ngx_llm_reply_create_array = reader->fn->createArray;
        ngx_llm_reply_fn.createArray = ngx_llm_reply_array;
    }

    reader->fn = &ngx_llm_reply_fn;
}


static void *
ngx_llm_reply_array(const redisReadTask *task, ngx_llm_elements_t elements)
{
    if (elements > NGX_LLM_REPLY_MAX_ELEMENTS) {
        /* NULL: the reader fails with an error, the connection is reset */
        return NULL;
    }

    return ngx_llm_reply_create_array(task, elements);
}
