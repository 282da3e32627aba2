
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Stored cache entries and the Redis replies that carry them.  Pure C +
 * hiredis's reply type, so the decoder, the stream splitter and the reply
 * handling can be unit-tested and fuzzed without nginx.
 *
 * Entry: "LLM1 <stream 0|1> <model> <content-type>\n<body>".
 */


#ifndef _NGX_LLM_CACHE_ENTRY_H_INCLUDED_
#define _NGX_LLM_CACHE_ENTRY_H_INCLUDED_


#include <stddef.h>

#include <hiredis/hiredis.h>


typedef struct {
    int                   stream;
    const unsigned char  *model;
    size_t                model_len;
    const unsigned char  *type;
    size_t                type_len;
    const unsigned char  *body;
    size_t                body_len;
} ngx_llm_entry_t;


typedef enum {
    NGX_LLM_REPLY_ERROR = 0,    /* Redis trouble: go on without the cache */
    NGX_LLM_REPLY_ABSENT,       /* no usable entry */
    NGX_LLM_REPLY_FOUND,        /* an entry, decoded into the out struct */
    NGX_LLM_REPLY_LOCKED,       /* SET NX took the fill lock */
    NGX_LLM_REPLY_BUSY,         /* someone else holds the fill lock */
    NGX_LLM_REPLY_WAIT          /* still being filled: poll again */
} ngx_llm_reply_e;


/*
 * hiredis allocates a multi-bulk reply's element array from the count on
 * the wire, before the elements arrive: "*300000000" would cost 2.4 GB.
 * Our commands get at most two elements back; ngx_llm_reply_guard() makes
 * a reader refuse (as a protocol error) arrays longer than this.
 */
#define NGX_LLM_REPLY_MAX_ELEMENTS  64

void ngx_llm_reply_guard(redisReader *reader);


/* the bytes before the body; write_header returns the end of what it wrote */
size_t ngx_llm_entry_header_len(size_t model_len, size_t type_len);
unsigned char *ngx_llm_entry_write_header(unsigned char *p, int stream,
    const unsigned char *model, size_t model_len, const unsigned char *type,
    size_t type_len);

/* 0 and *e filled, or -1 when the bytes are not an entry */
int ngx_llm_entry_decode(const unsigned char *p, size_t len,
    ngx_llm_entry_t *e);

int ngx_llm_entry_is_sse(const unsigned char *type, size_t type_len);

/*
 * The end of the stream event starting at p: an NDJSON line with its '\n',
 * or an SSE event with its blank line; end when the last one is unfinished.
 */
const unsigned char *ngx_llm_entry_next_event(const unsigned char *p,
    const unsigned char *end, int sse);

/* 1 when a body may be stored: non-empty, a stream with its final event */
int ngx_llm_entry_complete(const unsigned char *body, size_t len,
    int stream, int openai);

/*
 * What a Redis reply means.  "stream" is the framing the request wants: an
 * entry of the other framing is ABSENT.
 *   GET  llm:<key>                      ERROR, ABSENT, FOUND
 *   SET  llm:lock:<key> 1 NX PX <ms>    LOCKED, BUSY, ERROR
 *   MGET llm:<key> llm:lock:<key>       FOUND, WAIT, ABSENT (lock gone)
 */
ngx_llm_reply_e ngx_llm_reply_get(const redisReply *reply, int stream,
    ngx_llm_entry_t *e);
ngx_llm_reply_e ngx_llm_reply_lock(const redisReply *reply);
ngx_llm_reply_e ngx_llm_reply_poll(const redisReply *reply, int stream,
    ngx_llm_entry_t *e);


#endif /* _NGX_LLM_CACHE_ENTRY_H_INCLUDED_ */
