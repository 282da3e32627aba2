
/*
 * Copyright (C) ngx_llm_router authors
 *
 * llm_router_balance [affinity] [margin=N]: a balancer for a tier's
 * upstream{}, used like least_conn.  A server that has the tier's model
 * loaded answers in about a second; one that must load it first costs
 * tens of seconds.  So:
 *
 *   1. warm first: among the servers that may be used (not down, not
 *      failed within fail_timeout, under max_conns, not tried), those with
 *      the model resident (each server's /api/ps, read by the health check
 *      and kept in the zone) and room; the least connections (by weight)
 *      among them; a cold server, or one whose residency is unknown, only
 *      when no warm one has room.  "Room" is max_conns= on the server line
 *      (set it to the server's OLLAMA_NUM_PARALLEL); with an upstream
 *      "zone", connections are counted across the workers.
 *   2. affinity: the turns of one conversation (the hash of its system
 *      prompt and first user message) prefer one server, chosen by
 *      rendezvous hashing (adding a server moves few conversations), while
 *      it is warm, may be used and has no more than "margin" connections
 *      more than the least busy warm server (default 2): the server keeps
 *      the conversation's context in its KV cache.
 *
 * Backup servers, and anything the rules above cannot place, go through
 * nginx's round robin, as least_conn does.
 *
 * For the metrics, in the zone: each server's requests in flight (picked,
 * not yet freed by the upstream, however the request ends), and per tier
 * the affinity hits (a conversation's request sent to its own server, the
 * first by rendezvous hashing among all the upstream's servers) and
 * misses (sent elsewhere: its server was cold, down, failed, full,
 * already tried or too busy).
 */


#include <cjson/cJSON.h>

#include "ngx_http_llm_balance.h"
#include "ngx_http_llm_ctx.h"
#include "ngx_http_llm_state.h"
#include "ngx_http_llm_util.h"


typedef struct {
    ngx_http_upstream_srv_conf_t      *upstream;    /* balanced by us */
    ngx_uint_t                         affinity;
    ngx_uint_t                         margin;
} ngx_http_llm_balance_conf_t;


typedef struct {
    ngx_http_upstream_rr_peer_data_t  *rrp;
    ngx_http_llm_main_conf_t          *lmcf;
    ngx_llm_tier_id_t                  tier;
    ngx_http_llm_balance_conf_t       *conf;
    uint32_t                           conversation;   /* 0: none */
    ngx_http_llm_server_sh_t          *server;    /* in flight on, or NULL */
    ngx_log_t                         *log;
} ngx_http_llm_balance_peer_t;


static ngx_int_t ngx_http_llm_balance_init(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_llm_balance_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_llm_balance_get(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_llm_balance_free(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state);
#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_llm_balance_set_session(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_llm_balance_save_session(ngx_peer_connection_t *pc,
    void *data);
#endif
static void ngx_http_llm_balance_count(ngx_http_llm_balance_peer_t *bp,
    ngx_peer_connection_t *pc);
static uint32_t ngx_http_llm_rendezvous(ngx_http_upstream_rr_peer_t *peer,
    uint32_t conversation);
static uint32_t ngx_http_llm_conversation(ngx_http_llm_ctx_t *ctx);
static ngx_uint_t ngx_http_llm_usable(ngx_http_upstream_rr_peer_data_t *rrp,
    ngx_http_upstream_rr_peer_t *peer, ngx_uint_t i, time_t now);


/*
 * The module's server configuration: in an upstream{}, the balancer's
 * settings ("upstream" is set once the balancer is its upstream's, even
 * behind keepalive).  It is the configuration's, as the upstream is, and
 * goes with it on a reload.
 */

void *
ngx_http_llm_balance_create_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_balance_conf_t));
}


/* llm_router_balance [affinity] [margin=N]; in upstream{} */

char *
ngx_http_llm_balance(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_int_t                      n;
    ngx_str_t                     *value;
    ngx_uint_t                     i;
    ngx_http_llm_balance_conf_t   *bc;
    ngx_http_upstream_srv_conf_t  *uscf;

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);
    bc = ngx_http_conf_get_module_srv_conf(cf, ngx_http_llm_router_module);

    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "load balancing method redefined");
    }

    bc->affinity = 0;
    bc->margin = 2;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "affinity") == 0) {
            bc->affinity = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "margin=", 7) == 0) {
            n = ngx_atoi(value[i].data + 7, value[i].len - 7);

            if (n == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" in \"%V\", it must be a "
                                   "number", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            bc->margin = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\"",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    uscf->peer.init_upstream = ngx_http_llm_balance_init;

    uscf->flags = NGX_HTTP_UPSTREAM_CREATE
                  |NGX_HTTP_UPSTREAM_WEIGHT
                  |NGX_HTTP_UPSTREAM_MAX_CONNS
                  |NGX_HTTP_UPSTREAM_MAX_FAILS
                  |NGX_HTTP_UPSTREAM_FAIL_TIMEOUT
                  |NGX_HTTP_UPSTREAM_DOWN
                  |NGX_HTTP_UPSTREAM_BACKUP;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llm_balance_init(ngx_conf_t *cf, ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_llm_balance_conf_t  *bc;

    if (ngx_http_upstream_init_round_robin(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    bc = ngx_http_conf_upstream_srv_conf(us, ngx_http_llm_router_module);
    bc->upstream = us;

    us->peer.init = ngx_http_llm_balance_init_peer;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_balance_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_uint_t                    i;
    ngx_http_llm_ctx_t           *ctx;
    ngx_http_llm_balance_peer_t  *bp;

    if (ngx_http_upstream_init_round_robin_peer(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    bp = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_balance_peer_t));
    if (bp == NULL) {
        return NGX_ERROR;
    }

    bp->rrp = r->upstream->peer.data;
    bp->lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);
    bp->tier = NGX_LLM_NO_TIER;
    bp->log = r->connection->log;
    bp->conf = ngx_http_conf_upstream_srv_conf(us, ngx_http_llm_router_module);

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_llm_router_module);

    /*
     * the request's tier, whose model's residency counts; else the first
     * tier on this upstream (tiers may share one)
     */

    if (ctx != NULL && ctx->tier != NGX_LLM_NO_TIER
        && bp->lmcf->tiers[ctx->tier].uscf == us)
    {
        bp->tier = ctx->tier;

    } else {
        for (i = 0; i < bp->lmcf->ntiers; i++) {
            if (bp->lmcf->tiers[i].uscf == us) {
                bp->tier = (ngx_llm_tier_id_t) i;
                break;
            }
        }
    }

    if (bp->lmcf->sh == NULL) {
        bp->tier = NGX_LLM_NO_TIER;
    }

    if (ctx != NULL && bp->conf != NULL && bp->conf->affinity) {
        bp->conversation = ngx_http_llm_conversation(ctx);
    }

    r->upstream->peer.data = bp;
    r->upstream->peer.get = ngx_http_llm_balance_get;
    r->upstream->peer.free = ngx_http_llm_balance_free;

#if (NGX_HTTP_SSL)
    r->upstream->peer.set_session = ngx_http_llm_balance_set_session;
    r->upstream->peer.save_session = ngx_http_llm_balance_save_session;
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_balance_get(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_llm_balance_peer_t  *bp = data;

    time_t                             now;
    uint32_t                           score, best_score, top_score;
    ngx_int_t                          rc;
    uintptr_t                          m;
    ngx_uint_t                         i, n, p, pw, pa, warm, min;
    ngx_http_upstream_rr_peer_t       *peer, *best, *bwarm, *bnear, *top;
    ngx_http_upstream_rr_peers_t      *peers;
    ngx_http_upstream_rr_peer_data_t  *rrp;

    rrp = bp->rrp;

    if (rrp->peers->single || bp->tier == NGX_LLM_NO_TIER) {
        rc = ngx_http_upstream_get_round_robin_peer(pc, rrp);

        if (rc == NGX_OK) {
            ngx_http_llm_balance_count(bp, pc);
        }

        return rc;
    }

    now = ngx_time();
    peers = rrp->peers;

    ngx_http_upstream_rr_peers_wlock(peers);

    best = NULL;
    bwarm = NULL;
    bnear = NULL;
    top = NULL;
    best_score = 0;
    top_score = 0;
    score = 0;
    p = 0;
    pw = 0;
    pa = 0;

    for (peer = peers->peer, i = 0; peer; peer = peer->next, i++) {

        /* the conversation's own server, whatever its state now */

        if (bp->conversation) {
            score = ngx_http_llm_rendezvous(peer, bp->conversation);

            if (top == NULL || score > top_score) {
                top = peer;
                top_score = score;
            }
        }

        if (!ngx_http_llm_usable(rrp, peer, i, now)) {
            continue;
        }

        warm = ngx_http_llm_server_is_resident(bp->lmcf, bp->tier,
                                               ngx_http_llm_server_key(
                                                   peer->sockaddr,
                                                   peer->socklen))
               == NGX_HTTP_LLM_YES;

        if (best == NULL
            || peer->conns * best->weight < best->conns * peer->weight)
        {
            best = peer;
            p = i;
        }

        if (warm
            && (bwarm == NULL
                || peer->conns * bwarm->weight < bwarm->conns * peer->weight))
        {
            bwarm = peer;
            pw = i;
        }

        if (warm && bp->conversation) {

            if (bnear == NULL || score > best_score) {
                bnear = peer;
                best_score = score;
                pa = i;
            }
        }
    }

    if (bwarm != NULL) {
        best = bwarm;
        p = pw;

        /* the conversation's server, unless far busier than the least */

        if (bnear != NULL) {
            min = bwarm->conns;

            if (bnear->conns <= min + bp->conf->margin) {
                best = bnear;
                p = pa;
            }
        }
    }

    if (bp->conversation) {
        /* affinity: a hit if the conversation's own server is the one */
        (void) ngx_atomic_fetch_add(
                   &bp->lmcf->tiers[bp->tier].sh->affinity[
                       (best != NULL && best == top) ? 0 : 1], 1);
    }

    if (best == NULL) {
        ngx_http_upstream_rr_peers_unlock(peers);

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "llm router: balance: no server, round robin");

        rc = ngx_http_upstream_get_round_robin_peer(pc, rrp);

        if (rc == NGX_OK) {
            ngx_http_llm_balance_count(bp, pc);
        }

        return rc;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "llm router: balance: %V, %s, %ui connections%s",
                   &best->name,
                   (best == bwarm || best == bnear) ? "warm" : "cold",
                   best->conns, best == bnear ? ", the conversation's" : "");

    if (now - best->checked > best->fail_timeout) {
        best->checked = now;
    }

    pc->sockaddr = best->sockaddr;
    pc->socklen = best->socklen;
    pc->name = &best->name;

    best->conns++;

    rrp->current = best;

    n = p / (8 * sizeof(uintptr_t));
    m = (uintptr_t) 1 << p % (8 * sizeof(uintptr_t));

    rrp->tried[n] |= m;

    ngx_http_upstream_rr_peers_unlock(peers);

    ngx_http_llm_balance_count(bp, pc);

    return NGX_OK;
}


/*
 * The server picked counts one more request in flight in the zone, until
 * the upstream frees it: after its answer, on a failure before the next
 * try, when the client goes away, whatever ends the request.
 */

static void
ngx_http_llm_balance_count(ngx_http_llm_balance_peer_t *bp,
    ngx_peer_connection_t *pc)
{
    if (bp->server != NULL) {
        (void) ngx_atomic_fetch_add(&bp->server->inflight, -1);
        bp->server = NULL;
    }

    if (bp->tier == NGX_LLM_NO_TIER) {
        return;
    }

    bp->server = ngx_http_llm_server(bp->lmcf, bp->tier,
                                     ngx_http_llm_server_key(pc->sockaddr,
                                                             pc->socklen),
                                     1);

    if (bp->server != NULL) {
        (void) ngx_atomic_fetch_add(&bp->server->inflight, 1);
    }
}


/* rendezvous hashing: the server with the highest score is the one */

static uint32_t
ngx_http_llm_rendezvous(ngx_http_upstream_rr_peer_t *peer,
    uint32_t conversation)
{
    uint32_t  score;

    score = ngx_murmur_hash2((u_char *) peer->sockaddr, peer->socklen)
            ^ conversation;

    return ngx_murmur_hash2((u_char *) &score, sizeof(score));
}


/* how an upstream is balanced: 0 not by us, 1 by us, 2 with affinity */

ngx_uint_t
ngx_http_llm_balanced(ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_llm_balance_conf_t  *bc;

    if (us == NULL || us->srv_conf == NULL) {
        return 0;
    }

    bc = ngx_http_conf_upstream_srv_conf(us, ngx_http_llm_router_module);

    if (bc == NULL || bc->upstream != us) {
        return 0;
    }

    return bc->affinity ? 2 : 1;
}


/*
 * A server of a balanced upstream as the balancer sees it now (with the
 * upstream's "zone", as every worker sees it; without, as this one does):
 * NGX_HTTP_LLM_SERVER_UP, _DOWN (marked down), _FAILED (max_fails within
 * fail_timeout), or _UNKNOWN (not balanced by us, or no such server).
 */

ngx_uint_t
ngx_http_llm_balance_state(ngx_http_upstream_srv_conf_t *us,
    ngx_addr_t *addr)
{
    time_t                         now;
    ngx_uint_t                     state;
    ngx_http_upstream_rr_peer_t   *peer;
    ngx_http_upstream_rr_peers_t  *peers, *list;

    if (!ngx_http_llm_balanced(us) || us->peer.data == NULL) {
        return NGX_HTTP_LLM_SERVER_UNKNOWN;
    }

    now = ngx_time();
    peers = us->peer.data;
    state = NGX_HTTP_LLM_SERVER_UNKNOWN;

    ngx_http_upstream_rr_peers_rlock(peers);

    for (list = peers; list; list = list->next) {
        for (peer = list->peer; peer; peer = peer->next) {

            if (ngx_cmp_sockaddr(peer->sockaddr, peer->socklen,
                                 addr->sockaddr, addr->socklen, 1)
                != NGX_OK)
            {
                continue;
            }

            if (peer->down) {
                state = NGX_HTTP_LLM_SERVER_DOWN;

            } else if (peer->max_fails
                       && peer->fails >= peer->max_fails
                       && now - peer->checked <= peer->fail_timeout)
            {
                state = NGX_HTTP_LLM_SERVER_FAILED;

            } else {
                state = NGX_HTTP_LLM_SERVER_UP;
            }

            goto done;
        }
    }

done:

    ngx_http_upstream_rr_peers_unlock(peers);

    return state;
}


/* may this request go to this server now (as least_conn judges it) */

static ngx_uint_t
ngx_http_llm_usable(ngx_http_upstream_rr_peer_data_t *rrp,
    ngx_http_upstream_rr_peer_t *peer, ngx_uint_t i, time_t now)
{
    uintptr_t   m;
    ngx_uint_t  n;

    n = i / (8 * sizeof(uintptr_t));
    m = (uintptr_t) 1 << i % (8 * sizeof(uintptr_t));

    if (rrp->tried[n] & m) {
        return 0;
    }

    if (peer->down) {
        return 0;
    }

    if (peer->max_fails
        && peer->fails >= peer->max_fails
        && now - peer->checked <= peer->fail_timeout)
    {
        return 0;
    }

    if (peer->max_conns && peer->conns >= peer->max_conns) {
        return 0;
    }

    return 1;
}


static void
ngx_http_llm_balance_free(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_llm_balance_peer_t  *bp = data;

    if (bp->server != NULL) {
        (void) ngx_atomic_fetch_add(&bp->server->inflight, -1);
        bp->server = NULL;
    }

    ngx_http_upstream_free_round_robin_peer(pc, bp->rrp, state);
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_llm_balance_set_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_llm_balance_peer_t  *bp = data;

    return ngx_http_upstream_set_round_robin_peer_session(pc, bp->rrp);
}


static void
ngx_http_llm_balance_save_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_llm_balance_peer_t  *bp = data;

    ngx_http_upstream_save_round_robin_peer_session(pc, bp->rrp);
}

#endif


/*
 * A conversation: the hash of its system prompt and first user message,
 * the same in every turn; 0 for a request with no earlier turns to keep.
 */

static uint32_t
ngx_http_llm_conversation(ngx_http_llm_ctx_t *ctx)
{
    cJSON     *msg, *role, *content;
    uint32_t   crc;
    ngx_uint_t user;

    if (ngx_http_llm_request_tree(ctx->request, &ctx->req) != NGX_OK) {
        return 0;
    }

    user = 0;
    ngx_crc32_init(crc);

    cJSON_ArrayForEach(msg, cJSON_GetObjectItemCaseSensitive(
                                (cJSON *) ctx->req.root, "messages"))
    {
        role = cJSON_GetObjectItemCaseSensitive(msg, "role");
        content = cJSON_GetObjectItemCaseSensitive(msg, "content");

        if (!cJSON_IsString(role) || !cJSON_IsString(content)) {
            continue;
        }

        if (ngx_strcmp(role->valuestring, "system") == 0
            || (ngx_strcmp(role->valuestring, "user") == 0 && !user))
        {
            ngx_crc32_update(&crc, (u_char *) role->valuestring,
                             ngx_strlen(role->valuestring));
            ngx_crc32_update(&crc, (u_char *) content->valuestring,
                             ngx_strlen(content->valuestring));

            user = user || ngx_strcmp(role->valuestring, "user") == 0;
        }
    }

    ngx_crc32_final(crc);

    return user ? (crc | 1) : 0;
}
