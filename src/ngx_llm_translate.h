
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Dialect translation for tiers that speak OpenAI's API only (api=openai:
 * OpenRouter, vLLM, llama.cpp's server, LM Studio): an Ollama /api/chat or
 * /api/generate request becomes a /v1/chat/completions body, and the
 * answer, JSON or an SSE stream, becomes what Ollama would have answered.
 * Pure C: no nginx types, so it is unit-tested and fuzzed on its own.
 *
 * Ollama does the reverse in its compatibility layer (openai/openai.go,
 * middleware/openai.go); the comments in ngx_llm_translate.c name the
 * functions there each mapping mirrors.
 *
 * How a server calls it, for an Ollama-dialect request to such a tier
 * (OpenAI-dialect requests pass through untouched):
 *
 *   - where the body is rewritten for the tier, ngx_llm_translate_request()
 *     instead of ngx_llm_request_rewrite_into(), and the upstream URI
 *     /v1/chat/completions; _LOAD is answered locally as Ollama would
 *     ({"model", "created_at", "response": "", "done": true,
 *     "done_reason": "load"});
 *   - req->stream says which answer comes back: SSE, whose Content-Type
 *     becomes application/x-ndjson, or JSON, which stays application/json
 *     (Content-Length removed in both cases: the length changes);
 *   - a stream goes through ngx_llm_sse_init() (once, the state in the
 *     request's pool), ngx_llm_sse_feed() for each upstream buffer and
 *     ngx_llm_sse_finish() at its last one, output() appending the lines
 *     to the chain passed on; total_ns and eval_ns are set before each
 *     feed if the server measures them;
 *   - a JSON answer is gathered whole, then ngx_llm_translate_response();
 *     an answer with an error status goes through it too (never the SSE
 *     translator): _UPSTREAM keeps that status, or makes a 200 a 502;
 *   - cJSON's hooks must point at malloc() (not at a pool) during the
 *     stream calls: each event's tree is freed as soon as it is read.
 */


#ifndef _NGX_LLM_TRANSLATE_H_INCLUDED_
#define _NGX_LLM_TRANSLATE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "ngx_llm_request.h"


typedef void *(*ngx_llm_alloc_pt)(void *data, size_t size);


/* ngx_llm_translate_request() flags */

/*
 * OpenAI's own parameters only: top_k and min_p, which OpenRouter, vLLM,
 * llama.cpp and LM Studio take but api.openai.com refuses, are dropped
 */
#define NGX_LLM_TRANSLATE_STRICT   0x01


/* return codes */
#define NGX_LLM_TRANSLATE_OK        0
#define NGX_LLM_TRANSLATE_ERROR    -1   /* *error says why (static text) */
#define NGX_LLM_TRANSLATE_LOAD      1   /* no prompt: Ollama's load or
                                           unload, nothing to send */
#define NGX_LLM_TRANSLATE_UPSTREAM  2   /* the answer was an error: an
                                           Ollama {"error": ...} is out */


/*
 * Translates "req", an Ollama chat or generate request parsed with
 * ngx_llm_request_parse(), into an OpenAI chat completions body for
 * "model".  The text goes into a buffer from alloc(data, size), never
 * freed here; *out and *len describe it (a NUL follows, not counted).
 * Returns NGX_LLM_TRANSLATE_OK, _LOAD (a load or unload request: answer
 * it locally) or _ERROR with *error set.  cJSON's allocator (hooks) is
 * used for scratch nodes, freed before returning; the parsed tree of
 * "req" is only read, and may live in a pool.
 */
int ngx_llm_translate_request(ngx_llm_request_t *req, const char *model,
    unsigned flags, ngx_llm_alloc_pt alloc, void *data, char **out,
    size_t *len, const char **error);


/*
 * Translates a whole (non-streamed) OpenAI answer "body" into Ollama's
 * answer for "dialect" (NGX_LLM_DIALECT_OLLAMA_CHAT or _GENERATE): a
 * chat.completion becomes an /api/chat or /api/generate object, an
 * {"error": {"message": ...}} (or anything else that is no completion)
 * becomes {"error": "..."}.  "model" is the name the answer reports (NULL:
 * the upstream's own), "total_ns" its total_duration (0: unknown).
 * Output as for ngx_llm_translate_request(), no trailing newline.
 * Returns NGX_LLM_TRANSLATE_OK, _UPSTREAM (an error object was written:
 * keep the upstream status, or 502 if it was 200) or _ERROR (allocation).
 */
int ngx_llm_translate_response(ngx_llm_dialect_e dialect, const char *model,
    uint64_t total_ns, const char *body, size_t len, ngx_llm_alloc_pt alloc,
    void *data, char **out, size_t *out_len);


/* the streaming translator: SSE in, NDJSON out */

#define NGX_LLM_SSE_EVENT_MAX     (64 * 1024)
#define NGX_LLM_SSE_MODEL_MAX     256
#define NGX_LLM_SSE_TOOLS_MAX     16
#define NGX_LLM_SSE_ID_MAX        64
#define NGX_LLM_SSE_NAME_MAX      128
#define NGX_LLM_SSE_REASON_MAX    16

/* ngx_llm_sse_feed() and ngx_llm_sse_finish() */
#define NGX_LLM_SSE_AGAIN         0     /* more input expected */
#define NGX_LLM_SSE_DONE          1     /* final object out; the rest of
                                           the input is ignored */
#define NGX_LLM_SSE_FAILED       -1     /* an {"error": ...} line is out,
                                           the stream is over */
#define NGX_LLM_SSE_ABORT        -2     /* output() or alloc() failed:
                                           nothing more can be written */

/*
 * Receives one or more whole NDJSON lines, each ending in '\n'.  The bytes
 * are only valid during the call.  Returns 0, or -1 to stop the stream.
 */
typedef int (*ngx_llm_sse_output_pt)(void *data, const char *p, size_t len);


typedef struct {
    char                    id[NGX_LLM_SSE_ID_MAX];
    char                    name[NGX_LLM_SSE_NAME_MAX];
    int                     index;      /* OpenAI's tool call index */
    size_t                  args;       /* arguments in the tools buffer */
    size_t                  args_len;
} ngx_llm_sse_tool_t;


typedef struct {
    /* set by ngx_llm_sse_init() */
    ngx_llm_dialect_e       dialect;
    ngx_llm_sse_output_pt   output;
    void                   *data;
    size_t                  max;        /* event (and tool arguments) cap */

    /*
     * the final object's total_duration and eval_duration in nanoseconds,
     * which the caller may set at any time before the end (0: unknown)
     */
    uint64_t                total_ns;
    uint64_t                eval_ns;

    int                     state;      /* an NGX_LLM_SSE_* code */

    /* the SSE parser */
    unsigned                mode:2;     /* not yet known, SSE, JSON */
    unsigned                field:2;    /* data, other, ignored line */
    unsigned                bol:1;      /* at the beginning of a line */
    unsigned                cr:1;       /* the last byte was a CR */
    unsigned                space:1;    /* a value's first byte is next */
    unsigned                has_data:1;
    unsigned                too_long:1;
    unsigned                finished:1; /* a finish_reason was seen */
    unsigned                fixed_model:1;
    size_t                  name_len;   /* the field name read so far */
    char                    name[8];

    char                   *event;      /* max + 1 bytes */
    size_t                  event_len;
    char                   *line;       /* max + NGX_LLM_SSE_LINE_EXTRA */

    /* what the final object reports */
    char                    model[NGX_LLM_SSE_MODEL_MAX];
    char                    created_at[32];
    char                    reason[NGX_LLM_SSE_REASON_MAX];
    int64_t                 prompt_tokens;
    int64_t                 completion_tokens;

    /* tool calls, their arguments gathered in "tools" (max bytes) */
    ngx_llm_sse_tool_t      tool[NGX_LLM_SSE_TOOLS_MAX];
    unsigned                ntools;
    char                   *tools;
    size_t                  tools_len;
} ngx_llm_sse_t;


#define NGX_LLM_SSE_LINE_EXTRA    (NGX_LLM_SSE_MODEL_MAX * 6 + 1024)


/*
 * Prepares "sse" for one answer in "dialect" (OLLAMA_CHAT or _GENERATE).
 * "model" (may be NULL: the upstream's) is the name the lines report; it
 * is copied.  "max" caps an event's size (0: NGX_LLM_SSE_EVENT_MAX); the
 * buffers, about 3 * max bytes, come from one alloc(data, size) call and
 * are never freed here.  Nothing else is allocated but cJSON's nodes for
 * the event being read (and for the tool-call line), freed before
 * ngx_llm_sse_feed() returns.  Returns 0, or -1 if alloc() failed.
 */
int ngx_llm_sse_init(ngx_llm_sse_t *sse, ngx_llm_dialect_e dialect,
    const char *model, size_t max, ngx_llm_alloc_pt alloc, void *adata,
    ngx_llm_sse_output_pt output, void *odata);

/*
 * Feeds "len" bytes of the upstream body, split anywhere.  Every line it
 * completes goes to output() before it returns.  Returns an NGX_LLM_SSE_*
 * code; once it is not NGX_LLM_SSE_AGAIN, later calls do nothing and
 * return the same code.
 */
int ngx_llm_sse_feed(ngx_llm_sse_t *sse, const char *p, size_t len);

/*
 * The upstream body has ended: an answer that had its finish but no
 * [DONE] gets its final object, one that was cut short an error line.
 * A body that was JSON rather than SSE (an error answered with status
 * 200, say) is translated as ngx_llm_translate_response() would.
 */
int ngx_llm_sse_finish(ngx_llm_sse_t *sse);


/* RFC 3339 in UTC of a Unix time, Ollama's created_at: 21 bytes + NUL */
size_t ngx_llm_rfc3339(char *buf, size_t size, int64_t t);


#endif /* _NGX_LLM_TRANSLATE_H_INCLUDED_ */
