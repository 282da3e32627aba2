
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


/*
 * The features a prompt is scored on: counts and signs the scanner reads,
 * each with a learned weight, and "words", the learned weights of the
 * prompt's words, word pairs and stems (hashed) together: a stem is a
 * word's first four letters, which a word the model never saw shares
 * with words it did ("fuzzer", "fuzzing").  The names are what
 * $llm_features reports.
 */

typedef enum {
    NGX_LLM_F_LENGTH = 0,        /* log(1 + words) */
    NGX_LLM_F_WORDS_5,           /* 1 to 5 words */
    NGX_LLM_F_WORDS_10,          /* 6 to 10 */
    NGX_LLM_F_WORDS_17,          /* 11 to 17 */
    NGX_LLM_F_WORDS_25,          /* 18 to 25 */
    NGX_LLM_F_WORDS_40,          /* 26 to 40 */
    NGX_LLM_F_WORDS_80,          /* 41 to 80 */
    NGX_LLM_F_WORDS_MORE,        /* more */
    NGX_LLM_F_NUMBERS,           /* numbers in the text */
    NGX_LLM_F_NUMBERS2,          /* two numbers or more */
    NGX_LLM_F_MATH_OPS,          /* = + * / ^ % */
    NGX_LLM_F_LINES,
    NGX_LLM_F_FENCES,            /* ``` blocks */
    NGX_LLM_F_CODE_LINES,        /* lines that look like code */
    NGX_LLM_F_SYMBOLS,           /* braces, brackets, ... per word */
    NGX_LLM_F_YEARS,             /* 1000..2100: a date, not a quantity */
    NGX_LLM_F_SENTENCES,
    NGX_LLM_F_QUESTION_WORD,     /* starts with what, who, quel, combien */
    NGX_LLM_F_ONE_QUESTION,      /* one sentence, a question */
    NGX_LLM_F_CODE_REQUEST,      /* "write a function", "écris un script" */
    NGX_LLM_F_SHORT_PLAIN,       /* 25 words at most, no code, no maths,
                                    no essay: a plain short request */
    NGX_LLM_F_REASONING,         /* analyse, prove, compare, justifie */
    NGX_LLM_F_TASK,              /* write, explain, summarize, décris */
    NGX_LLM_F_MATH,              /* theorem, integral, probabilité */
    NGX_LLM_F_TECHNICAL,         /* algorithm, thread, protocol */
    NGX_LLM_F_OUTPUT,            /* detailed, essay, report */
    NGX_LLM_F_CONSTRAINTS,       /* without, exactly, each */
    NGX_LLM_F_SMALLTALK,         /* hello, thanks, lights, weather */
    NGX_LLM_F_BREVITY,           /* short, brief, quick */
    NGX_LLM_F_SEQUENCE,          /* then, puis, finally */
    NGX_LLM_F_SIZE,              /* "a 1500-word post", "10 pages" */
    NGX_LLM_F_DEPTH,             /* conversation turns */
    NGX_LLM_F_MAX_TOKENS,        /* the request asks for a long answer */

    /* one per keyword concept: its words in English and French, folded */
    NGX_LLM_F_CONCEPT,
    NGX_LLM_F_DENSE = NGX_LLM_F_CONCEPT + 160,

    NGX_LLM_F_WORDS = NGX_LLM_F_DENSE,   /* hashed words, pairs, stems */
    NGX_LLM_F_COUNT
} ngx_llm_feature_e;


/* the hashed word and word-pair weights: 2^15 buckets */
#define NGX_LLM_BUCKET_BITS  15
#define NGX_LLM_BUCKETS      (1 << NGX_LLM_BUCKET_BITS)

/*
 * and the stems': 2^13 buckets of the first four letters of the words of
 * five letters or more (bucket 0, where the shorter ones go, weighs 0)
 */
#define NGX_LLM_STEM_BITS    13
#define NGX_LLM_STEMS        (1 << NGX_LLM_STEM_BITS)
#define NGX_LLM_STEM_FROM    5


#define NGX_LLM_TOP_FEATURES  3


typedef struct {
    double              simple_below;     /* score < this: simple */
    double              complex_from;     /* score >= this: complex */
} ngx_llm_classify_conf_t;


/* keyword concepts: a bitmap of those seen */
#define NGX_LLM_CONCEPTS       (NGX_LLM_F_DENSE - NGX_LLM_F_CONCEPT)
#define NGX_LLM_CONCEPT_WORDS  ((NGX_LLM_CONCEPTS + 63) / 64)


typedef struct {
    /* running counters, filled by ngx_llm_classify_feed() */
    size_t              bytes;
    uint32_t            words;
    uint32_t            numbers;
    uint32_t            years;
    uint32_t            questions;
    uint32_t            sentences;
    uint32_t            lines;
    uint32_t            symbols;
    uint32_t            fences;
    uint32_t            code_lines;
    uint32_t            inline_code;
    uint32_t            math_ops;
    uint32_t            turns;
    uint32_t            big_output;
    uint32_t            cat_hits[NGX_LLM_F_CONCEPT];
    uint64_t            seen[NGX_LLM_CONCEPT_WORDS];
    unsigned            question_word:1;   /* the first word */
    unsigned            make_verb:1;       /* write, implement: early */
    unsigned            code_noun:1;       /* function, script, query */

    /* the learned word weights, summed as the words come */
    int64_t             wsum;
    uint32_t            nterms;
    uint32_t            prev_hash;

    /*
     * with a sink, every hashed term is also handed to it (training): a
     * word's or a pair's bucket, a stem's plus NGX_LLM_BUCKETS
     */
    void              (*sink)(void *data, uint32_t bucket);
    void               *sink_data;

    /* word and line scanner state, carried across feed() calls */
    uint64_t            key;
    uint64_t            mid;              /* letters 7 to 14 */
    uint32_t            hash;
    uint32_t            wlen;
    uint32_t            last_number;
    uint32_t            number_word;      /* the word after the last
                                             number: "1500 words" */
    unsigned char       in_word;
    unsigned char       nomatch;
    unsigned char       in_number;
    unsigned char       in_fence;
    unsigned char       line_start;
    unsigned char       backticks;
    uint32_t            indent;
    uint32_t            line_syms;
    uint32_t            line_chars;
    unsigned char       line_last;
    unsigned char       pending;          /* the last byte fed, when what
                                             it means depends on the next */
} ngx_llm_classify_state_t;


typedef struct {
    double              score;            /* [0, 1]: P(the big model is
                                             needed), calibrated */
    ngx_llm_class_e     cls;
    double              x[NGX_LLM_F_CONCEPT];       /* the values, and */
    double              contrib[NGX_LLM_F_CONCEPT]; /* weight x value, of
                                                       the counted features */
    double              words;            /* the words' contribution */
    int                 top[NGX_LLM_TOP_FEATURES];
    double              top_contrib[NGX_LLM_TOP_FEATURES];
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

/* a message boundary: the same as feeding "\n", without a pass */
void ngx_llm_classify_break(ngx_llm_classify_state_t *st);

void ngx_llm_classify_end(ngx_llm_classify_state_t *st,
    const ngx_llm_classify_hints_t *hints,
    const ngx_llm_classify_conf_t *conf, ngx_llm_classify_result_t *res);

/*
 * The score alone, what routing needs: ngx_llm_classify_end() without
 * the contributions and the top features.  Both end the text the same
 * way and can be called again on the state, in any order, with the same
 * hints: they give the same score, so the explanation can wait until
 * someone asks for it.
 */
double ngx_llm_classify_score(ngx_llm_classify_state_t *st,
    const ngx_llm_classify_hints_t *hints);

/* convenience: one text, no hints */
void ngx_llm_classify_text(const unsigned char *p, size_t len,
    const ngx_llm_classify_conf_t *conf, ngx_llm_classify_result_t *res);

ngx_llm_class_e ngx_llm_classify_class(double score,
    const ngx_llm_classify_conf_t *conf);
const char *ngx_llm_class_name(ngx_llm_class_e cls);
const char *ngx_llm_feature_name(int feature);

/*
 * Every dense feature's value, model-free, into x[NGX_LLM_F_DENSE]
 * (training); ends the text like ngx_llm_classify_end(), which must not
 * be called after it.
 */
void ngx_llm_classify_features(ngx_llm_classify_state_t *st,
    const ngx_llm_classify_hints_t *hints, double *x);

/* "reasoning:0.90,code:0.62,length:0.31"; returns bytes written */
size_t ngx_llm_classify_explain(const ngx_llm_classify_result_t *res,
    char *buf, size_t size);


#endif /* _NGX_LLM_CLASSIFY_H_INCLUDED_ */
