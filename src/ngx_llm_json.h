
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


/* skips JSON whitespace; returns the next byte, or -1 at the end */
int ngx_llm_json_ws(ngx_llm_json_t *j);

/*
 * The functions below return 0, or -1 when the input is not JSON this
 * reader takes (j->p is then anywhere).
 */

/* expects c (after whitespace) and steps over it */
int ngx_llm_json_expect(ngx_llm_json_t *j, int c);

/*
 * In an object or array opened with ngx_llm_json_open(): returns 1 when
 * another member or element follows (after its comma: j->p is at it),
 * 0 when the closing bracket was read, -1 on error.  *n counts the
 * members seen so far; start it at 0.
 */
int ngx_llm_json_open(ngx_llm_json_t *j, int open);
int ngx_llm_json_more(ngx_llm_json_t *j, int close, unsigned *n);

/* a member's name and the colon after it; j->p is then at the value */
int ngx_llm_json_key(ngx_llm_json_t *j, ngx_llm_json_str_t *key);

/* a string value, at its opening quote */
int ngx_llm_json_string(ngx_llm_json_t *j, ngx_llm_json_str_t *s);

/* a number: its bytes, at most 63 of them (cJSON's own limit) */
int ngx_llm_json_number(ngx_llm_json_t *j, const unsigned char **start,
    size_t *len);

/* any value, checked and skipped */
int ngx_llm_json_skip(ngx_llm_json_t *j);

/* is j->p at this literal (true, false, null)?  steps over it if so */
int ngx_llm_json_literal(ngx_llm_json_t *j, const char *word, size_t len);

/*
 * Hands a string's text to fn, unescaped, in one or more pieces; returns
 * -1 if its raw bytes are not valid UTF-8 (what escapes give always is).
 */
int ngx_llm_json_text(const ngx_llm_json_str_t *s, ngx_llm_json_text_pt fn,
    void *data);

/* does the unescaped string equal word (len bytes), ignoring ASCII case? */
int ngx_llm_json_caseeq(const ngx_llm_json_str_t *s, const char *word,
    size_t len);

int ngx_llm_utf8_valid(const unsigned char *p, size_t len);

/* JSON-escapes src into dst (size at least 6 * len + 1); returns length */
size_t ngx_llm_json_escape(char *dst, const char *src, size_t len);


#endif /* _NGX_LLM_JSON_H_INCLUDED_ */
