
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The classifier's learned weights: ngx_llm_classify_model.c is generated
 * by src/classifier/train.py ("make classifier-model").
 */


#ifndef _NGX_LLM_CLASSIFY_MODEL_H_INCLUDED_
#define _NGX_LLM_CLASSIFY_MODEL_H_INCLUDED_


#include "ngx_llm_classify.h"


extern const double   ngx_llm_model_bias;
extern const double   ngx_llm_model_dense[NGX_LLM_F_DENSE];
extern const double   ngx_llm_model_words_scale;  /* a bucket's unit */
extern const double   ngx_llm_model_words_min;    /* the words' term's */
extern const double   ngx_llm_model_words_max;    /*   range in training */
extern const int16_t  ngx_llm_model_words[NGX_LLM_BUCKETS];
extern const int16_t  ngx_llm_model_stems[NGX_LLM_STEMS];   /* same unit */


#endif /* _NGX_LLM_CLASSIFY_MODEL_H_INCLUDED_ */
