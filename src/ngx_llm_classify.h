
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Prompt complexity classifier.  Pure C: no nginx types, no allocation,
 * one pass over the text, so it can be unit-tested, fuzzed and benchmarked
 * on its own and shared with the llm-classify command line tool.
 */


#ifndef _NGX_LLM_CLASSIFY_H_INCLUDED_
#define _NGX_LLM_CLASSIFY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef enum {
    NGX_LLM_CLASS_SIMPLE = 0,
    NGX_LLM_CLASS_MEDIUM,
    NGX_LLM_CLASS_COMPLEX
} ngx_llm_class_e;


typedef enum {
    NGX_LLM_F_LENGTH = 0,
    NGX_LLM_F_CODE,
    NGX_LLM_F_REASONING,
    NGX_LLM_F_TASK,
    NGX_LLM_F_ASKS,
    NGX_LLM_F_MATH,
    NGX_LLM_F_TECHNICAL,
    NGX_LLM_F_OUTPUT,
    NGX_LLM_F_CONSTRAINTS,
    NGX_LLM_F_DEPTH,
    NGX_LLM_F_SMALLTALK,
    NGX_LLM_F_BREVITY,
    NGX_LLM_F_COUNT
} ngx_llm_feature_e;


#define NGX_LLM_TOP_FEATURES  3


typedef struct {
    double              simple_below;     /* score < this: simple */
    double              complex_from;     /* score >= this: complex */
} ngx_llm_classify_conf_t;


/* hits per keyword concept: a bitmap of concepts seen */
#define NGX_LLM_CONCEPT_WORDS  8


typedef struct {
    /* running counters, filled by ngx_llm_classify_feed() */
    size_t              bytes;
    uint32_t            words;
    uint32_t            questions;
    uint32_t            sequencers;
    uint32_t            fences;
    uint32_t            code_lines;
    uint32_t            inline_code;
    uint32_t            math_ops;
    uint32_t            turns;
    uint32_t            big_output;
    uint32_t            cat_hits[NGX_LLM_F_COUNT];
    uint64_t            seen[NGX_LLM_CONCEPT_WORDS];

    /* word and line scanner state, carried across feed() calls */
    uint64_t            key;
    uint32_t            wlen;
    uint32_t            last_number;
    unsigned char       in_word;
    unsigned char       nomatch;
    unsigned char       in_number;
    unsigned char       number_near;
    unsigned char       in_fence;
    unsigned char       line_start;
    unsigned char       backticks;
    uint32_t            indent;
    uint32_t            line_syms;
    uint32_t            line_chars;
    unsigned char       line_last;
    unsigned char       prev;
} ngx_llm_classify_state_t;


typedef struct {
    double              score;            /* [0, 1] */
    ngx_llm_class_e     cls;
    double              contrib[NGX_LLM_F_COUNT];
    int                 top[NGX_LLM_TOP_FEATURES];
    int                 ntop;
} ngx_llm_classify_result_t;


/* generation hints known from the request, not from the text */
typedef struct {
    long                max_tokens;       /* 0: not given */
} ngx_llm_classify_hints_t;


void ngx_llm_classify_init(void);
void ngx_llm_classify_conf_default(ngx_llm_classify_conf_t *conf);

void ngx_llm_classify_begin(ngx_llm_classify_state_t *st);
void ngx_llm_classify_turn(ngx_llm_classify_state_t *st);
void ngx_llm_classify_feed(ngx_llm_classify_state_t *st,
    const unsigned char *p, size_t len);
void ngx_llm_classify_end(ngx_llm_classify_state_t *st,
    const ngx_llm_classify_hints_t *hints,
    const ngx_llm_classify_conf_t *conf, ngx_llm_classify_result_t *res);

/* convenience: one text, no hints */
void ngx_llm_classify_text(const unsigned char *p, size_t len,
    const ngx_llm_classify_conf_t *conf, ngx_llm_classify_result_t *res);

ngx_llm_class_e ngx_llm_classify_class(double score,
    const ngx_llm_classify_conf_t *conf);
const char *ngx_llm_class_name(ngx_llm_class_e cls);
const char *ngx_llm_feature_name(int feature);

/* "reasoning:0.90,code:0.62,length:0.31"; returns bytes written */
size_t ngx_llm_classify_explain(const ngx_llm_classify_result_t *res,
    char *buf, size_t size);


#endif /* _NGX_LLM_CLASSIFY_H_INCLUDED_ */
