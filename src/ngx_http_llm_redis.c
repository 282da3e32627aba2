
/*
 * Copyright (C) ngx_llm_router authors
 *
 * hiredis 0.14 ships no nginx adapter and no async timeouts: this file is
 * both.  hiredis's addRead/delRead/addWrite/delWrite/cleanup hooks map to
 * level-triggered events of an ngx_connection_t wrapping the socket, and
 * every command carries an nginx timer.  A command's memory is its own
 * (not a request's), freed when hiredis hands back its reply (or NULL on
 * disconnection), so a late reply never touches a finished request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/async.h>

#include "ngx_http_llm_redis.h"
#include "ngx_http_llm_util.h"
#include "ngx_llm_cache_entry.h"


/* this worker's connection */
typedef enum {
    NGX_HTTP_LLM_REDIS_DOWN = 0,
    NGX_HTTP_LLM_REDIS_CONNECTING,
    NGX_HTTP_LLM_REDIS_READY,
    NGX_HTTP_LLM_REDIS_REFUSED            /* AUTH or SELECT failed */
} ngx_http_llm_redis_state_e;

#define NGX_HTTP_LLM_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_LLM_REDIS_BACKOFF_MAX  10000


struct ngx_http_llm_redis_cmd_s {
    ngx_event_t                   timer;
    ngx_http_llm_redis_pt         handler;
    void                         *data;
    unsigned                      answered:1;
};


typedef struct {
    redisAsyncContext            *ac;
    ngx_connection_t             *conn;
    ngx_http_llm_redis_state_e    state;
    ngx_http_llm_redis_state_e    reported;    /* last state logged */
    ngx_msec_t                    backoff;
    ngx_event_t                   retry;
    ngx_event_t                   connect_timer;
    ngx_http_llm_redis_conf_t    *conf;
    ngx_log_t                    *log;
    ngx_atomic_t                 *shared_state;   /* this worker's, in shm */
} ngx_http_llm_redis_t;


static void ngx_http_llm_redis_connect(ngx_event_t *ev);
static void ngx_http_llm_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_llm_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_llm_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_http_llm_redis_on_hello(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_llm_redis_down(ngx_http_llm_redis_state_e state,
    const char *why);
static void ngx_http_llm_redis_schedule(void);
static void ngx_http_llm_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_llm_redis_timeout(ngx_event_t *ev);
#if (NGX_DEBUG)
static const char *ngx_http_llm_redis_reply_name(redisReply *reply);
#endif
static void ngx_http_llm_redis_read(ngx_event_t *ev);
static void ngx_http_llm_redis_write(ngx_event_t *ev);
static void ngx_http_llm_redis_add_read(void *privdata);
static void ngx_http_llm_redis_del_read(void *privdata);
static void ngx_http_llm_redis_add_write(void *privdata);
static void ngx_http_llm_redis_del_write(void *privdata);
static void ngx_http_llm_redis_cleanup(void *privdata);


static ngx_http_llm_redis_t  ngx_http_llm_redis_worker;


/* llm_redis ADDRESS [password=...] [db=N] [timeout=T] [connect_timeout=T]; */

char *
ngx_http_llm_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    u_char                     *colon;
    ngx_int_t                   rc;
    ngx_str_t                  *value, v;
    ngx_uint_t                  i;
    ngx_http_llm_redis_conf_t  *rcf;

    if (lmcf->redis != NULL) {
        return "is duplicate";
    }

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_redis_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    rcf->addr = value[1];
    rcf->timeout = 100;
    rcf->connect_timeout = 500;

    if (ngx_strncmp(value[1].data, "unix:", 5) == 0) {
        rcf->host.data = value[1].data + 5;
        rcf->host.len = value[1].len - 5;

        if (rcf->host.len == 0) {
            goto bad_address;
        }

    } else {
        colon = ngx_strlchr(value[1].data, value[1].data + value[1].len, ':');

        if (colon == NULL) {
            goto bad_address;
        }

        rcf->host.data = value[1].data;
        rcf->host.len = colon - value[1].data;
        rcf->port = ngx_atoi(colon + 1, value[1].data + value[1].len
                                        - colon - 1);

        /* hiredis resolves names with a blocking getaddrinfo(): IPs only */
        if (rcf->port == NGX_ERROR || rcf->port < 1 || rcf->port > 65535
            || ngx_inet_addr(rcf->host.data, rcf->host.len) == INADDR_NONE)
        {
            goto bad_address;
        }
    }

    /* a NUL-terminated copy for hiredis */
    v.data = ngx_pnalloc(cf->pool, rcf->host.len + 1);
    if (v.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(v.data, rcf->host.data, rcf->host.len);
    v.data[rcf->host.len] = '\0';
    v.len = rcf->host.len;
    rcf->host = v;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "password=", 9) == 0) {
            rcf->password.data = value[i].data + 9;
            rcf->password.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            rcf->db = ngx_atoi(value[i].data + 3, value[i].len - 3);

            if (rcf->db == NGX_ERROR) {
                goto invalid;
            }

            continue;
        }

        rc = ngx_http_llm_param_msec(&value[i], "timeout=", &rcf->timeout);

        if (rc == NGX_DECLINED) {
            rc = ngx_http_llm_param_msec(&value[i], "connect_timeout=",
                                         &rcf->connect_timeout);
        }

        if (rc == NGX_OK) {
            continue;
        }

        if (rc == NGX_ERROR) {
            goto invalid;
        }

        goto invalid;
    }

    lmcf->redis = rcf;

    return NGX_CONF_OK;

bad_address:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid address \"%V\" in \"%V\", it must be "
                       "IP:PORT or unix:PATH", &value[1], &cmd->name);
    return NGX_CONF_ERROR;

invalid:

    /* never echo a password */
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%*s...\" in \"%V\"",
                       ngx_min(value[i].len, 9), value[i].data, &cmd->name);
    return NGX_CONF_ERROR;
}


ngx_int_t
ngx_http_llm_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_llm_redis_conf_t *rcf, ngx_atomic_t *shared_state)
{
    ngx_http_llm_redis_t  *rd;

    rd = &ngx_http_llm_redis_worker;

    rd->shared_state = shared_state;
    *shared_state = NGX_HTTP_LLM_REDIS_SHARED_DOWN;

    rd->conf = rcf;
    rd->log = cycle->log;
    rd->state = NGX_HTTP_LLM_REDIS_DOWN;
    rd->reported = NGX_HTTP_LLM_REDIS_CONNECTING;
    rd->backoff = NGX_HTTP_LLM_REDIS_BACKOFF_MIN;

    /*
     * nginx's debug log names a timer by ev->data as a connection
     * (ngx_event_ident), so a timer's data must point to readable memory
     */
    rd->retry.handler = ngx_http_llm_redis_connect;
    rd->retry.data = rd;
    rd->retry.log = cycle->log;
    rd->retry.cancelable = 1;

    rd->connect_timer.handler = ngx_http_llm_redis_connect_timeout;
    rd->connect_timer.data = rd;
    rd->connect_timer.log = cycle->log;
    rd->connect_timer.cancelable = 1;

    ngx_http_llm_redis_connect(&rd->retry);

    return NGX_OK;
}


void
ngx_http_llm_redis_exit_process(void)
{
    ngx_http_llm_redis_t  *rd;

    rd = &ngx_http_llm_redis_worker;

    rd->state = NGX_HTTP_LLM_REDIS_REFUSED;    /* no reconnection */
    *rd->shared_state = NGX_HTTP_LLM_REDIS_SHARED_UNUSED;

    if (rd->retry.timer_set) {
        ngx_del_timer(&rd->retry);
    }

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    if (rd->ac != NULL) {
        /* pending commands get NULL replies; the cleanup hook frees c */
        redisAsyncFree(rd->ac);
    }
}


ngx_uint_t
ngx_http_llm_redis_ready(void)
{
    return ngx_http_llm_redis_worker.state == NGX_HTTP_LLM_REDIS_READY;
}


static void
ngx_http_llm_redis_connect(ngx_event_t *ev)
{
    ngx_connection_t           *c;
    redisAsyncContext          *ac;
    ngx_http_llm_redis_t       *rd;
    ngx_http_llm_redis_conf_t  *rcf;

    rd = &ngx_http_llm_redis_worker;
    rcf = rd->conf;

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    if (rcf->port == 0) {
        ac = redisAsyncConnectUnix((char *) rcf->host.data);

    } else {
        ac = redisAsyncConnect((char *) rcf->host.data, (int) rcf->port);
    }

    if (ac == NULL) {
        ngx_http_llm_redis_down(NGX_HTTP_LLM_REDIS_DOWN, "out of memory");
        return;
    }

    if (ac->err) {
        ngx_http_llm_redis_down(NGX_HTTP_LLM_REDIS_DOWN, ac->errstr);
        redisAsyncFree(ac);
        return;
    }

    ngx_llm_reply_guard(ac->c.reader);

    c = ngx_get_connection(ac->c.fd, rd->log);
    if (c == NULL) {
        ngx_http_llm_redis_down(NGX_HTTP_LLM_REDIS_DOWN, "no free connection");
        redisAsyncFree(ac);
        return;
    }

    c->read->handler = ngx_http_llm_redis_read;
    c->write->handler = ngx_http_llm_redis_write;
    c->read->log = rd->log;
    c->write->log = rd->log;
    c->data = ac;

    rd->ac = ac;
    rd->conn = c;
    rd->state = NGX_HTTP_LLM_REDIS_CONNECTING;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "llm router: redis %V connecting", &rd->conf->addr);

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_llm_redis_add_read;
    ac->ev.delRead = ngx_http_llm_redis_del_read;
    ac->ev.addWrite = ngx_http_llm_redis_add_write;
    ac->ev.delWrite = ngx_http_llm_redis_del_write;
    ac->ev.cleanup = ngx_http_llm_redis_cleanup;

    redisAsyncSetConnectCallback(ac, ngx_http_llm_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_http_llm_redis_on_disconnect);

    /* hiredis learns the connect result on the first writable event */
    ngx_http_llm_redis_add_write(c);

    ngx_add_timer(&rd->connect_timer, rcf->connect_timeout);
}


static void
ngx_http_llm_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_llm_redis_t  *rd;

    rd = &ngx_http_llm_redis_worker;

    if (rd->ac != NULL && rd->state == NGX_HTTP_LLM_REDIS_CONNECTING) {
        ngx_http_llm_redis_down(NGX_HTTP_LLM_REDIS_DOWN, "connect timed out");
        redisAsyncFree(rd->ac);
    }
}


static void
ngx_http_llm_redis_on_connect(const redisAsyncContext *ac, int status)
{
    int                         argc;
    const char                 *argv[2];
    size_t                      argvlen[2];
    u_char                      db[NGX_INT_T_LEN];
    ngx_http_llm_redis_t       *rd;
    ngx_http_llm_redis_conf_t  *rcf;

    rd = &ngx_http_llm_redis_worker;
    rcf = rd->conf;

    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        ngx_http_llm_redis_down(NGX_HTTP_LLM_REDIS_DOWN, ac->errstr);
        return;
    }

    /* AUTH and SELECT go first; commands wait until both answered */

    if (rcf->password.len) {
        argv[0] = "AUTH";
        argvlen[0] = 4;
        argv[1] = (char *) rcf->password.data;
        argvlen[1] = rcf->password.len;

        redisAsyncCommandArgv((redisAsyncContext *) ac,
                              ngx_http_llm_redis_on_hello, (void *) "AUTH",
                              2, argv, argvlen);
    }

    argc = 1;
    argv[0] = "PING";
    argvlen[0] = 4;

    if (rcf->db) {
        argc = 2;
        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = (char *) db;
        argvlen[1] = ngx_sprintf(db, "%i", rcf->db) - db;
    }

    redisAsyncCommandArgv((redisAsyncContext *) ac,
                          ngx_http_llm_redis_on_hello, (void *) argv[0],
                          argc, argv, argvlen);
}


static void
ngx_http_llm_redis_on_hello(redisAsyncContext *ac, void *r, void *privdata)
{
    char                  *what;
    redisReply            *reply;
    ngx_http_llm_redis_t  *rd;

    rd = &ngx_http_llm_redis_worker;
    reply = r;
    what = privdata;

    if (reply == NULL) {
        /* disconnected: on_disconnect says why */
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        if (rd->reported != NGX_HTTP_LLM_REDIS_REFUSED) {
            ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                          "llm router: redis %V refused %s: %*s; the cache "
                          "is off until it accepts", &rd->conf->addr, what,
                          (size_t) ngx_min(reply->len, 200), reply->str);
        }

        rd->state = NGX_HTTP_LLM_REDIS_REFUSED;
        rd->reported = NGX_HTTP_LLM_REDIS_REFUSED;
        *rd->shared_state = NGX_HTTP_LLM_REDIS_SHARED_DOWN;
        redisAsyncDisconnect(ac);
        return;
    }

    if (ngx_strcmp(what, "AUTH") == 0) {
        return;
    }

    ngx_del_timer(&rd->connect_timer);

    rd->state = NGX_HTTP_LLM_REDIS_READY;
    rd->backoff = NGX_HTTP_LLM_REDIS_BACKOFF_MIN;

    *rd->shared_state = NGX_HTTP_LLM_REDIS_SHARED_UP;

    if (rd->reported != NGX_HTTP_LLM_REDIS_READY) {
        ngx_log_error(NGX_LOG_NOTICE, rd->log, 0,
                      "llm router: redis %V connected", &rd->conf->addr);
        rd->reported = NGX_HTTP_LLM_REDIS_READY;
    }
}


static void
ngx_http_llm_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_llm_redis_t  *rd;

    rd = &ngx_http_llm_redis_worker;

    if (rd->state == NGX_HTTP_LLM_REDIS_REFUSED) {
        /* wrong password or db: retry, slowly */
        rd->backoff = NGX_HTTP_LLM_REDIS_BACKOFF_MAX;
        ngx_http_llm_redis_schedule();
        return;
    }

    ngx_http_llm_redis_down(NGX_HTTP_LLM_REDIS_DOWN,
                            status == REDIS_OK ? "connection closed"
                            : ac->err == REDIS_ERR_OOM
                              ? "a reply longer than any of ours, "
                                "or out of memory"
                            : ac->errstr);
}


/* the connection is gone or never came: log once, retry with backoff */

static void
ngx_http_llm_redis_down(ngx_http_llm_redis_state_e state, const char *why)
{
    ngx_http_llm_redis_t  *rd;

    rd = &ngx_http_llm_redis_worker;

    rd->state = state;
    *rd->shared_state = NGX_HTTP_LLM_REDIS_SHARED_DOWN;

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    if (rd->reported != NGX_HTTP_LLM_REDIS_DOWN) {
        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "llm router: redis %V unavailable (%s), the cache is "
                      "bypassed until it is back", &rd->conf->addr, why);
        rd->reported = NGX_HTTP_LLM_REDIS_DOWN;
    }

    ngx_http_llm_redis_schedule();
}


static void
ngx_http_llm_redis_schedule(void)
{
    ngx_http_llm_redis_t  *rd;

    rd = &ngx_http_llm_redis_worker;

    if (ngx_exiting || ngx_terminate || rd->retry.timer_set) {
        return;
    }

    ngx_add_timer(&rd->retry, rd->backoff);

    rd->backoff = ngx_min(rd->backoff * 2, NGX_HTTP_LLM_REDIS_BACKOFF_MAX);
}


ngx_http_llm_redis_cmd_t *
ngx_http_llm_redis_send(int argc, const char **argv, const size_t *argvlen,
    ngx_http_llm_redis_pt handler, void *data)
{
    ngx_http_llm_redis_t      *rd;
    ngx_http_llm_redis_cmd_t  *cmd;

    rd = &ngx_http_llm_redis_worker;

    if (rd->conf == NULL || rd->state != NGX_HTTP_LLM_REDIS_READY) {
        return NULL;
    }

    cmd = ngx_calloc(sizeof(ngx_http_llm_redis_cmd_t), rd->log);
    if (cmd == NULL) {
        return NULL;
    }

    cmd->handler = handler;
    cmd->data = data;

    if (redisAsyncCommandArgv(rd->ac, ngx_http_llm_redis_reply, cmd, argc,
                              argv, argvlen)
        != REDIS_OK)
    {
        ngx_free(cmd);
        return NULL;
    }

    /*
     * not cancelable: a request waiting for a lookup's reply has no other
     * timer, and a worker shutting down gracefully (nginx -s quit, a
     * binary upgrade) would otherwise exit before the reply and drop it;
     * the worker waits at most this timeout more
     */

    cmd->timer.handler = ngx_http_llm_redis_timeout;
    cmd->timer.data = cmd;
    cmd->timer.log = rd->log;

    ngx_add_timer(&cmd->timer, rd->conf->timeout);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "llm router: redis %*s sent, %p", argvlen[0], argv[0], cmd);

    return cmd;
}


void
ngx_http_llm_redis_forget(ngx_http_llm_redis_cmd_t *cmd)
{
    if (cmd == NULL) {
        return;
    }

    cmd->data = NULL;
    cmd->answered = 1;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }
}


static void
ngx_http_llm_redis_timeout(ngx_event_t *ev)
{
    ngx_http_llm_redis_cmd_t  *cmd;

    cmd = ev->data;

    /* the command stays in hiredis's queue; its reply will be dropped */
    cmd->answered = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "llm router: redis %p timed out", cmd);

    cmd->handler(cmd->data, NULL);
}


#if (NGX_DEBUG)

static const char *
ngx_http_llm_redis_reply_name(redisReply *reply)
{
    if (reply == NULL) {
        return "nothing";
    }

    switch (reply->type) {
    case REDIS_REPLY_STRING:
        return "a string";
    case REDIS_REPLY_ARRAY:
        return "an array";
    case REDIS_REPLY_INTEGER:
        return "an integer";
    case REDIS_REPLY_NIL:
        return "nil";
    case REDIS_REPLY_STATUS:
        return "a status";
    case REDIS_REPLY_ERROR:
        return "an error";
    default:
        return "a reply";
    }
}

#endif


/* hiredis calls this exactly once per command, reply NULL if dropped */

static void
ngx_http_llm_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_http_llm_redis_cmd_t  *cmd = privdata;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_http_llm_redis_worker.log, 0,
                   "llm router: redis %p replied: %s%s", cmd,
                   ngx_http_llm_redis_reply_name(r),
                   cmd->answered ? ", dropped" : "");

    if (!cmd->answered) {
        cmd->answered = 1;

        if (cmd->timer.timer_set) {
            ngx_del_timer(&cmd->timer);
        }

        cmd->handler(cmd->data, r);
    }

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    ngx_free(cmd);
}


static void
ngx_http_llm_redis_read(ngx_event_t *ev)
{
    ngx_connection_t  *c;

    c = ev->data;

    redisAsyncHandleRead(c->data);
}


static void
ngx_http_llm_redis_write(ngx_event_t *ev)
{
    ngx_connection_t  *c;

    c = ev->data;

    redisAsyncHandleWrite(c->data);
}


/* level-triggered: hiredis reads once per event and expects to be called
 * again while data is pending */

static void
ngx_http_llm_redis_add_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_llm_redis_del_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_llm_redis_add_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->write->active) {
        (void) ngx_add_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_llm_redis_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


/* hiredis is freeing the context and will close the socket itself */

static void
ngx_http_llm_redis_cleanup(void *privdata)
{
    ngx_connection_t      *c = privdata;
    ngx_http_llm_redis_t  *rd;

    rd = &ngx_http_llm_redis_worker;

    ngx_http_llm_redis_del_read(c);
    ngx_http_llm_redis_del_write(c);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->fd = (ngx_socket_t) -1;
    ngx_free_connection(c);

    if (rd->conn == c) {
        rd->conn = NULL;
        rd->ac = NULL;

        if (rd->state == NGX_HTTP_LLM_REDIS_READY
            || rd->state == NGX_HTTP_LLM_REDIS_CONNECTING)
        {
            rd->state = NGX_HTTP_LLM_REDIS_DOWN;
            *rd->shared_state = NGX_HTTP_LLM_REDIS_SHARED_DOWN;
        }
    }
}
