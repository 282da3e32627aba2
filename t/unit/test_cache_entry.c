
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Stored cache entries, the stream replayer's event splitter and the
 * meaning of each Redis reply.
 */


#include <stdlib.h>

#include "ngx_llm_cache_entry.h"
#include "unit.h"


#define S(s)  (const unsigned char *) (s), sizeof(s) - 1


static int
decodes(const char *s)
{
    ngx_llm_entry_t  e;

    return ngx_llm_entry_decode((const unsigned char *) s, strlen(s), &e)
           == 0;
}


static int
events(const char *body, int sse, const char **expect)
{
    const unsigned char  *p, *next, *end;

    p = (const unsigned char *) body;
    end = p + strlen(body);

    while (p < end) {
        next = ngx_llm_entry_next_event(p, end, sse);

        if (*expect == NULL || strlen(*expect) != (size_t) (next - p)
            || memcmp(*expect, p, next - p) != 0)
        {
            return 0;
        }

        expect++;
        p = next;
    }

    return *expect == NULL;
}


static redisReply *
reply(int type, const char *str)
{
    redisReply  *r;

    r = calloc(1, sizeof(redisReply));
    r->type = type;

    if (str != NULL) {
        r->str = (char *) str;
        r->len = strlen(str);
    }

    return r;
}


int
main(void)
{
    unsigned char     buf[128], *p;
    ngx_llm_entry_t   e;
    redisReply       *r, *arr, *el[2];

    static const char  entry[] =
        "LLM1 1 gpt-oss:20b application/x-ndjson\n{\"done\":true}\n";

    /* round trip */

    CHECK(ngx_llm_entry_decode(S(entry), &e) == 0, "decodes");
    CHECK(e.stream == 1, "stream flag");
    CHECK(e.model_len == 11 && memcmp(e.model, "gpt-oss:20b", 11) == 0,
          "model");
    CHECK(e.type_len == 20 && memcmp(e.type, "application/x-ndjson", 20) == 0,
          "content type");
    CHECK(e.body_len == 14 && memcmp(e.body, "{\"done\":true}\n", 14) == 0,
          "body");

    p = ngx_llm_entry_write_header(buf, 1, S("gpt-oss:20b"),
                                   S("application/x-ndjson"));
    CHECK((size_t) (p - buf) == ngx_llm_entry_header_len(11, 20)
          && memcmp(buf, entry, p - buf) == 0, "header written back");

    CHECK(decodes("LLM1 0 m application/json; charset=utf-8\n{}"),
          "content type with parameters");
    CHECK(decodes("LLM1 0 m x\n"), "empty body decodes");

    /* not entries */

    CHECK(!decodes(""), "empty");
    CHECK(!decodes("LLM2 0 m x\n{}"), "other version");
    CHECK(!decodes("LLM1 2 m x\n{}"), "bad stream flag");
    CHECK(!decodes("LLM1 0  x\n{}"), "empty model");
    CHECK(!decodes("LLM1 0 m \n{}"), "empty type");
    CHECK(!decodes("LLM1 0 m x{}"), "no header end");
    CHECK(!decodes("LLM1 0 mx\n{}"), "no type");
    CHECK(!decodes("{\"response\":\"hi\"}"), "a bare answer");

    /* replayer */

    {
        const char  *nd[] = { "{\"a\":1}\n", "{\"b\":2}\n", "{\"c\"", NULL };
        const char  *sse[] = { "data: 1\n\n", "data: 2\nid: 3\n\n",
                               "data: [DONE]\n\n", NULL };
        const char  *cut[] = { "data: 1\n\n", "data: 2\n", NULL };

        CHECK(events("{\"a\":1}\n{\"b\":2}\n{\"c\"", 0, nd), "NDJSON lines");
        CHECK(events("data: 1\n\ndata: 2\nid: 3\n\ndata: [DONE]\n\n", 1, sse),
              "SSE events");
        CHECK(events("data: 1\n\ndata: 2\n", 1, cut), "SSE last unfinished");
    }

    CHECK(ngx_llm_entry_is_sse(S("text/event-stream; charset=utf-8")),
          "SSE type");
    CHECK(!ngx_llm_entry_is_sse(S("text/event")), "short type");

    /* completeness */

    CHECK(ngx_llm_entry_complete(S("{\"done\":false}\n{\"done\":true}\n"),
                                 1, 0), "NDJSON done");
    CHECK(!ngx_llm_entry_complete(S("{\"done\":true}\n{\"done\":false}\n"),
                                  1, 0), "NDJSON last line not done");
    CHECK(ngx_llm_entry_complete(S("data: {}\n\ndata: [DONE]\n\n"), 1, 1),
          "SSE done");
    CHECK(!ngx_llm_entry_complete(S("data: {}\n\n"), 1, 1), "SSE cut");
    CHECK(!ngx_llm_entry_complete(S(""), 0, 0), "empty answer");
    CHECK(ngx_llm_entry_complete(S("{}"), 0, 1), "whole answer");

    /* replies */

    CHECK(ngx_llm_reply_get(NULL, 0, &e) == NGX_LLM_REPLY_ERROR,
          "GET disconnected");

    r = reply(REDIS_REPLY_NIL, NULL);
    CHECK(ngx_llm_reply_get(r, 0, &e) == NGX_LLM_REPLY_ABSENT, "GET nil");
    CHECK(ngx_llm_reply_lock(r) == NGX_LLM_REPLY_BUSY, "SET NX nil");
    free(r);

    r = reply(REDIS_REPLY_STRING, entry);
    CHECK(ngx_llm_reply_get(r, 1, &e) == NGX_LLM_REPLY_FOUND, "GET hit");
    CHECK(ngx_llm_reply_get(r, 0, &e) == NGX_LLM_REPLY_ABSENT,
          "GET other framing");
    free(r);

    r = reply(REDIS_REPLY_STRING, "garbage");
    CHECK(ngx_llm_reply_get(r, 0, &e) == NGX_LLM_REPLY_ABSENT, "GET garbage");
    free(r);

    r = reply(REDIS_REPLY_INTEGER, NULL);
    CHECK(ngx_llm_reply_get(r, 0, &e) == NGX_LLM_REPLY_ERROR, "GET integer");
    CHECK(ngx_llm_reply_lock(r) == NGX_LLM_REPLY_ERROR, "SET NX integer");
    CHECK(ngx_llm_reply_poll(r, 0, &e) == NGX_LLM_REPLY_ABSENT,
          "MGET integer");
    free(r);

    r = reply(REDIS_REPLY_ERROR, "OOM command not allowed");
    CHECK(ngx_llm_reply_get(r, 0, &e) == NGX_LLM_REPLY_ERROR, "GET error");
    CHECK(ngx_llm_reply_lock(r) == NGX_LLM_REPLY_ERROR, "SET NX error");
    free(r);

    r = reply(REDIS_REPLY_STATUS, "OK");
    CHECK(ngx_llm_reply_lock(r) == NGX_LLM_REPLY_LOCKED, "SET NX OK");
    free(r);

    r = reply(REDIS_REPLY_STATUS, "QUEUED");
    CHECK(ngx_llm_reply_lock(r) == NGX_LLM_REPLY_ERROR, "SET NX other status");
    free(r);

    arr = reply(REDIS_REPLY_ARRAY, NULL);
    arr->elements = 2;
    arr->element = el;

    el[0] = reply(REDIS_REPLY_NIL, NULL);
    el[1] = reply(REDIS_REPLY_STRING, "1");
    CHECK(ngx_llm_reply_poll(arr, 0, &e) == NGX_LLM_REPLY_WAIT,
          "MGET still filling");

    el[1]->type = REDIS_REPLY_NIL;
    CHECK(ngx_llm_reply_poll(arr, 0, &e) == NGX_LLM_REPLY_ABSENT,
          "MGET holder gone");

    el[0]->type = REDIS_REPLY_STRING;
    el[0]->str = (char *) entry;
    el[0]->len = sizeof(entry) - 1;
    CHECK(ngx_llm_reply_poll(arr, 1, &e) == NGX_LLM_REPLY_FOUND,
          "MGET filled");

    arr->elements = 1;
    CHECK(ngx_llm_reply_poll(arr, 1, &e) == NGX_LLM_REPLY_ABSENT,
          "MGET short array");

    free(el[0]);
    free(el[1]);
    free(arr);

    /* the reader's guard against huge element counts */

    {
        void         *out;
        redisReader  *rd;

        rd = redisReaderCreate();
        ngx_llm_reply_guard(rd);
        redisReaderFeed(rd, "*2\r\n$-1\r\n$1\r\n1\r\n", 16);
        out = NULL;
        CHECK(redisReaderGetReply(rd, &out) == REDIS_OK && out != NULL
              && ((redisReply *) out)->elements == 2, "2 elements read");
        freeReplyObject(out);
        redisReaderFree(rd);

        rd = redisReaderCreate();
        ngx_llm_reply_guard(rd);
        redisReaderFeed(rd, "*299999999\r\n", 13);
        out = NULL;
        CHECK(redisReaderGetReply(rd, &out) == REDIS_ERR && out == NULL,
              "an array of 299 999 999 elements is refused, not allocated");
        redisReaderFree(rd);
    }

    UNIT_DONE("cache_entry");
}
