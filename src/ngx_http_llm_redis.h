
/*
 * Copyright (C) ngx_llm_router authors
 *
 * One persistent, non-blocking Redis connection per worker: hiredis's
 * async API driven by nginx's event loop, with per-command timeouts on
 * nginx timers, AUTH/SELECT on connect, and reconnection with backoff.
 */


#ifndef _NGX_HTTP_LLM_REDIS_H_INCLUDED_
#define _NGX_HTTP_LLM_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "ngx_http_llm_router_module.h"


/* a worker's connection as its slot in the zone shows it to all */
#define NGX_HTTP_LLM_REDIS_SHARED_UNUSED  0    /* no worker, or refused */
#define NGX_HTTP_LLM_REDIS_SHARED_UP      1
#define NGX_HTTP_LLM_REDIS_SHARED_DOWN    2


struct ngx_http_llm_redis_conf_s {
    ngx_str_t                  addr;          /* host:port or unix:path */
    ngx_str_t                  host;          /* NUL terminated */
    ngx_int_t                  port;          /* 0: unix socket */
    ngx_str_t                  password;
    ngx_int_t                  db;
    ngx_msec_t                 timeout;
    ngx_msec_t                 connect_timeout;
};


/*
 * Called once per command: with the reply, or with NULL on error, timeout
 * or disconnection.  Not called at all after ngx_http_llm_redis_forget().
 */
typedef void (*ngx_http_llm_redis_pt)(void *data, redisReply *reply);


typedef struct ngx_http_llm_redis_cmd_s  ngx_http_llm_redis_cmd_t;


char *ngx_http_llm_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_llm_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_llm_redis_conf_t *rcf, ngx_atomic_t *shared_state);
ngx_uint_t ngx_http_llm_redis_ready(void);
void ngx_http_llm_redis_exit_process(void);

/* sends a command; returns NULL when Redis is not usable right now */
ngx_http_llm_redis_cmd_t *ngx_http_llm_redis_send(int argc,
    const char **argv, const size_t *argvlen, ngx_http_llm_redis_pt handler,
    void *data);

/* the caller is going away: the reply, when it comes, is dropped */
void ngx_http_llm_redis_forget(ngx_http_llm_redis_cmd_t *cmd);


#endif /* _NGX_HTTP_LLM_REDIS_H_INCLUDED_ */
