
/*
 * Copyright (C) ngx_llm_router authors
 *
 * libFuzzer target: the Redis replies the cache acts on.  The input is a
 * RESP byte stream, parsed by hiredis's own reader as it would be off the
 * socket; every reply it yields is given to the GET, SET NX and MGET
 * interpretations for both framings.  A found entry lies inside the reply.
 * The reader has the module's guard against huge element counts.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_llm_cache_entry.h"


static void
check_found(const redisReply *str, const ngx_llm_entry_t *e)
{
    const unsigned char  *s, *end;

    s = (const unsigned char *) str->str;
    end = s + str->len;

    if (e->model < s || e->body + e->body_len != end) {
        abort();
    }
}


static void
check_reply(const redisReply *reply)
{
    int              stream;
    ngx_llm_entry_t  e;

    for (stream = 0; stream < 2; stream++) {

        if (ngx_llm_reply_get(reply, stream, &e) == NGX_LLM_REPLY_FOUND) {
            if (reply->type != REDIS_REPLY_STRING || e.stream != stream) {
                abort();
            }

            check_found(reply, &e);
        }

        if (ngx_llm_reply_poll(reply, stream, &e) == NGX_LLM_REPLY_FOUND) {
            if (reply->type != REDIS_REPLY_ARRAY || e.stream != stream) {
                abort();
            }

            check_found(reply->element[0], &e);
        }
    }

    (void) ngx_llm_reply_lock(reply);
}


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int           n;
    void         *reply;
    redisReader  *reader;

    reader = redisReaderCreate();
    if (reader == NULL) {
        return 0;
    }

    ngx_llm_reply_guard(reader);

    if (redisReaderFeed(reader, (const char *) data, size) == REDIS_OK) {

        for (n = 0; n < 64; n++) {
            reply = NULL;

            if (redisReaderGetReply(reader, &reply) != REDIS_OK
                || reply == NULL)
            {
                break;
            }

            check_reply(reply);
            freeReplyObject(reply);
        }
    }

    check_reply(NULL);

    redisReaderFree(reader);

    return 0;
}
