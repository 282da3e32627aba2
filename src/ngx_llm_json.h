
/*
 * Copyright (C) ngx_llm_router authors
 *
 * A validating JSON reader that walks a body once, in place: strings are
 * spans of the body, found 16 bytes at a time; nothing is allocated.  It
 * accepts a subset of what cJSON accepts (JSON as RFC 8259 writes it, with
 * cJSON's limits), so whatever it rejects can be handed to cJSON for the
 * exact verdict.  Pure C: no nginx types.
 */


#ifndef _NGX_LLM_JSON_H_INCLUDED_
#define _NGX_LLM_JSON_H_INCLUDED_


#include <stddef.h>
#include <string.h>


/* deeper values are left to cJSON (whose own limit is 1000) */
#define NGX_LLM_JSON_MAX_DEPTH  128


typedef struct {
    const unsigned char  *p;
    const unsigned char  *end;
    unsigned              depth;
} ngx_llm_json_t;


typedef struct {
    const unsigned char  *start;        /* the first byte of the text */
    const unsigned char  *end;          /* its closing quote */
    unsigned              escaped:1;    /* holds a backslash escape */
    unsigned              ascii:1;      /* every raw byte is below 0x80 */
} ngx_llm_json_str_t;


typedef void (*ngx_llm_json_text_pt)(void *data, const unsigned char *p,
    size_t len);


/*
 * The small steps below are inline: a request walks them at every member
 * and element.  The functions return 0, or -1 when the input is not JSON
 * this reader takes (j->p is then anywhere).
 */

/* a string value, at its opening quote */
int ngx_llm_json_string(ngx_llm_json_t *j, ngx_llm_json_str_t *s);

/* ngx_llm_json_ws()'s loop, for a run of whitespace */
int ngx_llm_json_ws_run(ngx_llm_json_t *j);


/* skips JSON whitespace; returns the next byte, or -1 at the end */

static inline int
ngx_llm_json_ws(ngx_llm_json_t *j)
{
    const unsigned char  *p;

    /* whitespace is ' ', '\t', '\r', '\n': at most ' ' */

    p = j->p;

    if (p < j->end) {
        if (*p > ' ') {
            return *p;
        }

        /* one space, as after ": " and ", " */
        if (*p == ' ' && p + 1 < j->end && p[1] > ' ') {
            j->p = p + 1;
            return p[1];
        }
    }

    return ngx_llm_json_ws_run(j);
}


/* expects c (after whitespace) and steps over it */

static inline int
ngx_llm_json_expect(ngx_llm_json_t *j, int c)
{
    if (ngx_llm_json_ws(j) != c) {
        return -1;
    }

    j->p++;

    return 0;
}


/*
 * In an object or array opened with ngx_llm_json_open(): returns 1 when
 * another member or element follows (after its comma: j->p is at it),
 * 0 when the closing bracket was read, -1 on error.  *n counts the
 * members seen so far; start it at 0.
 */

static inline int
ngx_llm_json_open(ngx_llm_json_t *j, int open)
{
    if (j->depth == NGX_LLM_JSON_MAX_DEPTH
        || ngx_llm_json_expect(j, open) != 0)
    {
        return -1;
    }

    j->depth++;

    return 0;
}


static inline int
ngx_llm_json_more(ngx_llm_json_t *j, int close, unsigned *n)
{
    int  c;

    c = ngx_llm_json_ws(j);

    if (c == close) {
        j->p++;
        j->depth--;
        return 0;
    }

    if (c == -1) {
        /* the body ends inside the object or array */
        return -1;
    }

    if (*n > 0) {
        if (c != ',') {
            return -1;
        }

        j->p++;

        if (ngx_llm_json_ws(j) == -1) {
            return -1;
        }
    }

    (*n)++;

    return 1;
}


/* a member's name and the colon after it; j->p is then at the value */

static inline int
ngx_llm_json_key(ngx_llm_json_t *j, ngx_llm_json_str_t *key)
{
    if (ngx_llm_json_ws(j) != '"'
        || ngx_llm_json_string(j, key) != 0
        || ngx_llm_json_expect(j, ':') != 0
        || ngx_llm_json_ws(j) == -1)
    {
        return -1;
    }

    return 0;
}


/* a number: its bytes, at most 63 of them (cJSON's own limit) */
int ngx_llm_json_number(ngx_llm_json_t *j, const unsigned char **start,
    size_t *len);

/* any value, checked and skipped */
int ngx_llm_json_skip(ngx_llm_json_t *j);

/* is j->p at this literal (true, false, null)?  steps over it if so */

static inline int
ngx_llm_json_literal(ngx_llm_json_t *j, const char *word, size_t len)
{
    if ((size_t) (j->end - j->p) < len || memcmp(j->p, word, len) != 0) {
        return 0;
    }

    j->p += len;

    return 1;
}


/*
 * Hands a string's text to fn, unescaped, in one or more pieces; returns
 * -1 if its raw bytes are not valid UTF-8 (what escapes give always is).
 */
int ngx_llm_json_text(const ngx_llm_json_str_t *s, ngx_llm_json_text_pt fn,
    void *data);

/*
 * Does the unescaped string equal word (len bytes, lower case), ignoring
 * ASCII case?
 */

static inline int
ngx_llm_json_caseeq(const ngx_llm_json_str_t *s, const char *word,
    size_t len)
{
    size_t  i;

    if (s->escaped || (size_t) (s->end - s->start) != len) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((s->start[i] | 0x20) != (unsigned char) word[i]) {
            return 0;
        }
    }

    return 1;
}


int ngx_llm_utf8_valid(const unsigned char *p, size_t len);

/* JSON-escapes src into dst (size at least 6 * len + 1); returns length */
size_t ngx_llm_json_escape(char *dst, const char *src, size_t len);


#endif /* _NGX_LLM_JSON_H_INCLUDED_ */
