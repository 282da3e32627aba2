
/*
 * Copyright (C) ngx_llm_router authors
 *
 * llm_router_share redis: the routers in front of the same tiers split
 * each tier's room between them, as grants leased from Redis on a timer.
 */


#ifndef _NGX_HTTP_LLM_SHARE_H_INCLUDED_
#define _NGX_HTTP_LLM_SHARE_H_INCLUDED_


#include "ngx_http_llm_router_module.h"


char *ngx_http_llm_share(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_llm_share_init_process(ngx_cycle_t *cycle,
    ngx_http_llm_main_conf_t *lmcf);

/* slots of the tier held for the other routers (0 when not shared) */
ngx_atomic_uint_t ngx_http_llm_share_reserved(
    ngx_http_llm_main_conf_t *lmcf, ngx_http_llm_tier_t *tier,
    ngx_atomic_uint_t others);

/* counts a request the grants turned away as its tier's demand */
void ngx_http_llm_share_wanted(ngx_http_llm_main_conf_t *lmcf,
    const ngx_llm_policy_in_t *in, const ngx_llm_policy_conf_t *conf,
    ngx_llm_tier_id_t picked);


#endif /* _NGX_HTTP_LLM_SHARE_H_INCLUDED_ */
