
/*
 * Copyright (C) ngx_llm_router authors
 *
 * llm_router_share redis [interval=200ms] [lease=2s]: routers in front of
 * the same tiers never put more on a tier, together, than its
 * max_inflight + queue (its "room"), however their bursts meet, and a
 * request never waits on Redis.
 *
 * Quota leasing.  Each router holds, per tier, a grant: the most requests
 * it may have in flight there.  A request checks its router's own count
 * against the grant in the zone, the fast path it always had; the grants
 * of the live routers add up to at most the tier's room.
 *
 * At each interval one worker of each router (elected in the zone) sends
 * one EVAL of the script below with, per tier, the router's requests in
 * flight, its demand (those plus the requests its grant turned away since
 * the last exchange) and the grant it enforces.  In one atomic step the
 * script
 *
 *   drops the routers whose lease expired (a router killed, or cut off
 *   from Redis, for a lease): their slots are free again;
 *   splits the tier's room among the live routers, max-min fair by demand
 *   and never below a router's requests in flight; what nobody asks for
 *   is split evenly, so an idle router still has slots for its next
 *   burst;
 *   gives the caller its share, but never more than the room the others
 *   hold: for each other router the largest of its requests in flight, the
 *   grant it enforces, and any grant the script gave it that it may still
 *   apply (a reply on its way).  So a grant that shrinks frees its slots
 *   for the others only once its router has reported using the smaller
 *   one, and the sum of what the routers may fill never exceeds the room.
 *
 * Each exchange has a number.  A reply is applied, under the zone's lock,
 * only if no later exchange's was, so replies that arrive out of order
 * (two workers, two connections) never bring back an older grant; each
 * exchange reports the number of the grants it enforces, and the grants
 * given up to that number are known dead.  A report that reaches Redis
 * after a later one of the same router is ignored (the later one stands).
 * t/036-share.t runs the script alone against random interleavings of
 * exchanges, admissions and replies late, out of order or lost.
 *
 * A router that has never had an answer holds no slot (its grants are 0:
 * every tier is full for it, and llm_router_both_full decides) for at
 * most a lease; a router without an answer for a lease (Redis down, or
 * never reached) counts alone: its grant becomes the tier's whole room,
 * as without llm_router_share, and the log says so once.  Within a lease
 * it keeps its last grants, which the others still count.
 *
 * Redis holds, per tier, a hash llm:share:tier:<name>, by router: "<expiry>
 * <exchange of the report> <exchange whose grants it enforces> <in flight>
 * <demand> <grant it enforces> <last exchange whose grant it may still
 * apply> <the largest such grant>", all integers, the expiry in ms of
 * Redis's clock.
 */


#include "ngx_http_llm_share.h"
#include "ngx_http_llm_state.h"
#include "ngx_http_llm_util.h"
#include "ngx_http_llm_redis.h"


/* EVAL, the script, the key count, a key per tier, 4 + 4 per tier */
#define NGX_HTTP_LLM_SHARE_ARGS  (7 + 5 * NGX_LLM_MAX_TIERS)

#define NGX_HTTP_LLM_SHARE_BUF   (NGX_LLM_MAX_TIERS                           \
                                  * (sizeof("llm:share:tier:")                \
                                     + NGX_HTTP_LLM_TIER_NAME_LEN             \
                                     + 4 * (NGX_ATOMIC_T_LEN + 1))            \
                                  + 4 * (NGX_ATOMIC_T_LEN + 1) + 64)


typedef struct {
    ngx_event_t                  ev;
    ngx_http_llm_main_conf_t    *lmcf;
    const char                  *why;       /* no grant: the last reason */
    ngx_uint_t                   busy;      /* an exchange is out */
    ngx_uint_t                   failed;    /* its error logged */
    ngx_atomic_uint_t            seq;       /* the exchange out */
    ngx_msec_t                   sent;
} ngx_http_llm_share_timer_t;


typedef struct {
    int                          argc;
    const char                  *argv[NGX_HTTP_LLM_SHARE_ARGS];
    size_t                       argvlen[NGX_HTTP_LLM_SHARE_ARGS];
    u_char                      *pos;
    u_char                      *end;
    u_char                       buf[NGX_HTTP_LLM_SHARE_BUF];
} ngx_http_llm_share_cmd_t;


static void ngx_http_llm_share_tick(ngx_event_t *ev);
static void ngx_http_llm_share_lapse(ngx_http_llm_share_timer_t *t);
static void ngx_http_llm_share_send(ngx_http_llm_share_timer_t *t);
static void ngx_http_llm_share_arg(ngx_http_llm_share_cmd_t *c,
    const char *fmt, ...);
static void ngx_http_llm_share_granted(void *data, redisReply *reply);
static void ngx_http_llm_share_lock(ngx_http_llm_main_conf_t *lmcf);
static void ngx_http_llm_share_unlock(ngx_http_llm_main_conf_t *lmcf);


static ngx_http_llm_share_timer_t  ngx_http_llm_share_timer;


/*
 * KEYS: llm:share:tier:<name>, a tier each.  ARGV: the router, the lease
 * (ms), this exchange's number, the number of the exchange whose grants
 * the router enforces, then per tier: its room, the router's requests in
 * flight, its demand, the grant it enforces.  Returns per tier: the new
 * grant, the other routers' requests in flight, the other live routers.
 * The text between the two markers is also run by t/036-share.t.
 */

static const char  ngx_http_llm_share_lua[] =
    "-- llm_router_share: begin\n"
    "local id, lease = ARGV[1], tonumber(ARGV[2])\n"
    "local seq, applied = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local clock = redis.call('TIME')\n"
    "local now = tonumber(clock[1]) * 1000\n"
    "            + math.floor(tonumber(clock[2]) / 1000)\n"
    "\n"
    "-- the room split among routers: at least f (in flight), at most w\n"
    "-- (demand) while demand exceeds it, max-min fair; else w each and\n"
    "-- the rest evenly; ids sorted, the first ones get the odd slots\n"
    "local function split(room, ids, f, w)\n"
    "  local a, n, sf, sw = {}, #ids, 0, 0\n"
    "  for _, r in ipairs(ids) do\n"
    "    sf = sf + f[r]\n"
    "    sw = sw + w[r]\n"
    "  end\n"
    "  if sf >= room then\n"
    "    return f\n"
    "  end\n"
    "  if sw <= room then\n"
    "    local left = room - sw\n"
    "    for j, r in ipairs(ids) do\n"
    "      a[r] = w[r] + math.floor(left / n)\n"
    "      if j <= left % n then a[r] = a[r] + 1 end\n"
    "    end\n"
    "    return a\n"
    "  end\n"
    "  local lo, hi = 0, room\n"
    "  while lo < hi do\n"
    "    local mid, s = math.floor((lo + hi + 1) / 2), 0\n"
    "    for _, r in ipairs(ids) do\n"
    "      s = s + math.min(w[r], math.max(f[r], mid))\n"
    "    end\n"
    "    if s <= room then lo = mid else hi = mid - 1 end\n"
    "  end\n"
    "  local left = room\n"
    "  for _, r in ipairs(ids) do\n"
    "    a[r] = math.min(w[r], math.max(f[r], lo))\n"
    "    left = left - a[r]\n"
    "  end\n"
    "  for _, r in ipairs(ids) do\n"
    "    if left > 0 and f[r] <= lo and lo < w[r] then\n"
    "      a[r] = a[r] + 1\n"
    "      left = left - 1\n"
    "    end\n"
    "  end\n"
    "  return a\n"
    "end\n"
    "\n"
    "local out = {}\n"
    "for k = 1, #KEYS do\n"
    "  local at = 4 + (k - 1) * 4\n"
    "  local room, i = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])\n"
    "  local d, g = tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4])\n"
    "  local s, a, ps, pg = seq, applied, 0, 0\n"
    "  local ids, f, w, held, busy = {id}, {}, {}, 0, 0\n"
    "  local h = redis.call('HGETALL', KEYS[k])\n"
    "  for j = 1, #h, 2 do\n"
    "    local r, v = h[j], {}\n"
    "    for x in string.gmatch(h[j + 1], '%d+') do\n"
    "      v[#v + 1] = tonumber(x)\n"
    "    end\n"
    "    if #v ~= 8 or v[1] < now then\n"
    "      redis.call('HDEL', KEYS[k], r)\n"
    "    elseif r == id then\n"
    "      -- a later exchange ran first (another worker's): its report\n"
    "      -- stands\n"
    "      if v[2] > seq then\n"
    "        s, a, i, d, g = v[2], v[3], v[4], v[5], v[6]\n"
    "      end\n"
    "      ps, pg = v[7], v[8]\n"
    "    else\n"
    "      ids[#ids + 1] = r\n"
    "      f[r] = v[4]\n"
    "      w[r] = math.min(room, math.max(v[4], v[5]))\n"
    "      held = held + math.max(v[4], v[6], v[8])\n"
    "      busy = busy + v[4]\n"
    "    end\n"
    "  end\n"
    "  -- grants given by exchanges up to the one it enforces: never again\n"
    "  if ps <= a then ps, pg = 0, 0 end\n"
    "  f[id] = i\n"
    "  w[id] = math.min(room, math.max(i, d))\n"
    "  table.sort(ids)\n"
    "  local share = split(room, ids, f, w)[id]\n"
    "  local grant = math.max(0, math.min(share, room - held))\n"
    "  if seq > a then ps, pg = math.max(ps, seq), math.max(pg, grant) end\n"
    "  redis.call('HSET', KEYS[k], id,\n"
    "             string.format('%d %d %d %d %d %d %d %d', now + lease,\n"
    "                           s, a, i, d, g, ps, pg))\n"
    "  redis.call('PEXPIRE', KEYS[k], lease)\n"
    "  out[#out + 1] = grant\n"
    "  out[#out + 1] = busy\n"
    "  out[#out + 1] = #ids - 1\n"
    "end\n"
    "return out\n"
    "-- llm_router_share: end\n";


/* llm_router_share redis [interval=TIME] [lease=TIME]; */

char *
ngx_http_llm_share(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    value = cf->args->elts;

    if (lmcf->share_interval) {
        return "is duplicate";
    }

    if (ngx_strcmp(value[1].data, "redis") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" in \"%V\", it must be \"redis\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (lmcf->redis == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs \"llm_redis\" (declared before it)",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    lmcf->share_interval = 200;
    lmcf->share_lease = 2000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_http_llm_param_msec(&value[i], "interval=",
                                    &lmcf->share_interval)
            == NGX_OK
            || ngx_http_llm_param_msec(&value[i], "lease=",
                                       &lmcf->share_lease)
               == NGX_OK)
        {
            continue;
        }

        goto invalid;
    }

    if (lmcf->share_interval == 0
        || lmcf->share_lease < 2 * lmcf->share_interval)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": the lease must be at least twice the "
                           "interval", &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\"",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


ngx_int_t
ngx_http_llm_share_init_process(ngx_cycle_t *cycle,
    ngx_http_llm_main_conf_t *lmcf)
{
    if (lmcf->share_interval == 0 || lmcf->sh == NULL || !lmcf->used) {
        return NGX_OK;
    }

    while (lmcf->sh->router == 0) {
        /* this router's name in Redis, the same for all its workers */
        (void) ngx_atomic_cmp_set(&lmcf->sh->router, 0,
                                  ((ngx_atomic_uint_t) ngx_random() << 1)
                                  | 1);
    }

    /* a lease from now without an answer, and this router counts alone */
    (void) ngx_atomic_cmp_set(&lmcf->sh->share_since, 0,
                              (ngx_atomic_uint_t) ngx_current_msec);

    ngx_http_llm_share_timer.lmcf = lmcf;
    ngx_http_llm_share_timer.why = "no answer from redis yet";

    ngx_http_llm_start_timer(&ngx_http_llm_share_timer.ev,
                             ngx_http_llm_share_tick,
                             &ngx_http_llm_share_timer, cycle->log);

    return NGX_OK;
}


/*
 * The slots reserved for the other routers, as the policy counts them: of
 * the tier's room left by their requests in flight ("others", their part
 * of the reading), what this router's grant does not cover.  With it, a
 * tier is full for this router when its own requests reach its grant.
 */

ngx_atomic_uint_t
ngx_http_llm_share_reserved(ngx_http_llm_main_conf_t *lmcf,
    ngx_http_llm_tier_t *tier, ngx_atomic_uint_t others)
{
    ngx_atomic_uint_t  room, grant;

    if (lmcf->share_interval == 0) {
        return 0;
    }

    room = tier->max_inflight + tier->queue;
    room = room > others ? room - others : 0;
    grant = tier->sh->grant;

    return room > grant ? room - grant : 0;
}


/*
 * Demand: a request the grants turned away.  Had this router more slots,
 * the policy would have sent it to a tier its grant keeps full: that
 * tier's demand at the next exchange is one more.
 */

void
ngx_http_llm_share_wanted(ngx_http_llm_main_conf_t *lmcf,
    const ngx_llm_policy_in_t *in, const ngx_llm_policy_conf_t *conf,
    ngx_llm_tier_id_t picked)
{
    unsigned                      i, room, held;
    ngx_llm_reason_e              reason;
    ngx_llm_tier_id_t             want;
    ngx_llm_policy_in_t           all;
    const ngx_llm_policy_tier_t  *t;

    held = 0;

    for (i = 0; i < in->ntiers; i++) {
        t = &in->tiers[i];
        room = t->max_inflight + t->queue;

        if (t->reserved && t->inflight < room
            && t->inflight + t->reserved >= room)
        {
            held |= 1u << i;
        }
    }

    if (held == 0) {
        return;
    }

    all = *in;

    for (i = 0; i < all.ntiers; i++) {
        all.tiers[i].reserved = 0;
    }

    want = ngx_llm_policy_pick(&all, conf, &reason);

    if (want != NGX_LLM_NO_TIER && want != picked && (held & (1u << want))) {
        (void) ngx_atomic_fetch_add(&lmcf->tiers[want].sh->wanted, 1);
    }
}


static void
ngx_http_llm_share_tick(ngx_event_t *ev)
{
    ngx_http_llm_share_timer_t *t = ev->data;

    ngx_http_llm_main_conf_t  *lmcf;

    if (ngx_exiting) {
        return;
    }

    lmcf = t->lmcf;

    ngx_add_timer(ev, lmcf->share_interval);

    if (!ngx_http_llm_redis_ready()) {
        t->why = "redis is not connected";
    }

    ngx_http_llm_share_lapse(t);

    if (!ngx_http_llm_elect(&lmcf->sh->share_started, lmcf->share_interval)
        || t->busy || !ngx_http_llm_redis_ready())
    {
        return;
    }

    ngx_http_llm_share_send(t);
}


/* no answer for a lease: this router counts alone, and says so once */

static void
ngx_http_llm_share_lapse(ngx_http_llm_share_timer_t *t)
{
    ngx_uint_t                 i;
    ngx_msec_t                 last;
    ngx_http_llm_sh_t         *sh;
    ngx_http_llm_tier_t       *tier;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = t->lmcf;
    sh = lmcf->sh;

    ngx_http_llm_share_lock(lmcf);

    last = (ngx_msec_t) (sh->share_read_at ? sh->share_read_at
                                           : sh->share_since);

    if ((ngx_msec_int_t) (ngx_current_msec - last)
        <= (ngx_msec_int_t) lmcf->share_lease)
    {
        ngx_http_llm_share_unlock(lmcf);
        return;
    }

    for (i = 0; i < lmcf->ntiers; i++) {
        tier = &lmcf->tiers[i];
        tier->sh->grant = tier->max_inflight + tier->queue;
        tier->sh->others = 0;
    }

    sh->share_routers = 0;

    ngx_http_llm_share_unlock(lmcf);

    if (ngx_atomic_cmp_set(&sh->share_alone, 0, 1)) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "llm router: in-flight counts not shared (%s): this "
                      "router counts alone", t->why);
    }
}


static void
ngx_http_llm_share_send(ngx_http_llm_share_timer_t *t)
{
    ngx_uint_t                 i;
    ngx_atomic_uint_t          applied, wanted, grant[NGX_LLM_MAX_TIERS];
    ngx_http_llm_sh_t         *sh;
    ngx_http_llm_tier_t       *tier;
    ngx_http_llm_share_cmd_t   c;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = t->lmcf;
    sh = lmcf->sh;

    /* the grants this router enforces, and whose they are */

    ngx_http_llm_share_lock(lmcf);

    applied = sh->share_applied;

    for (i = 0; i < lmcf->ntiers; i++) {
        grant[i] = lmcf->tiers[i].sh->grant;
    }

    ngx_http_llm_share_unlock(lmcf);

    t->seq = ngx_atomic_fetch_add(&sh->share_seq, 1) + 1;
    t->sent = ngx_current_msec;

    c.argc = 0;
    c.pos = c.buf;
    c.end = c.buf + sizeof(c.buf);

    c.argv[c.argc] = "EVAL";
    c.argvlen[c.argc++] = 4;
    c.argv[c.argc] = ngx_http_llm_share_lua;
    c.argvlen[c.argc++] = sizeof(ngx_http_llm_share_lua) - 1;

    ngx_http_llm_share_arg(&c, "%ui", lmcf->ntiers);

    for (i = 0; i < lmcf->ntiers; i++) {
        ngx_http_llm_share_arg(&c, "llm:share:tier:%V",
                               &lmcf->tiers[i].name);
    }

    ngx_http_llm_share_arg(&c, "%xA", sh->router);
    ngx_http_llm_share_arg(&c, "%M", lmcf->share_lease);
    ngx_http_llm_share_arg(&c, "%uA", t->seq);
    ngx_http_llm_share_arg(&c, "%uA", applied);

    for (i = 0; i < lmcf->ntiers; i++) {
        tier = &lmcf->tiers[i];

        wanted = tier->sh->wanted;
        (void) ngx_atomic_fetch_add(&tier->sh->wanted, -wanted);

        ngx_http_llm_share_arg(&c, "%ui", tier->max_inflight + tier->queue);
        ngx_http_llm_share_arg(&c, "%uA", tier->sh->inflight);
        ngx_http_llm_share_arg(&c, "%uA", tier->sh->inflight + wanted);
        ngx_http_llm_share_arg(&c, "%uA", grant[i]);
    }

    if (ngx_http_llm_redis_send(c.argc, c.argv, c.argvlen,
                                ngx_http_llm_share_granted, t)
        == NULL)
    {
        t->why = "redis refused the command";
        return;
    }

    t->busy = 1;
}


static void
ngx_http_llm_share_arg(ngx_http_llm_share_cmd_t *c, const char *fmt, ...)
{
    u_char   *last;
    va_list   args;

    va_start(args, fmt);
    last = ngx_vslprintf(c->pos, c->end, fmt, args);
    va_end(args);

    c->argv[c->argc] = (char *) c->pos;
    c->argvlen[c->argc] = last - c->pos;
    c->argc++;
    c->pos = last;
}


/* the script's answer: this router's new grants */

static void
ngx_http_llm_share_granted(void *data, redisReply *reply)
{
    ngx_http_llm_share_timer_t *t = data;

    ngx_uint_t                 i, routers;
    redisReply               **e;
    ngx_http_llm_sh_t         *sh;
    ngx_http_llm_tier_sh_t    *ts;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = t->lmcf;
    sh = lmcf->sh;

    t->busy = 0;

    if (reply == NULL) {
        t->why = "no answer from redis";
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        t->why = "redis answered an error";

        if (!t->failed) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "llm router: redis answered the share script "
                          "with \"%*s\"", (size_t) reply->len, reply->str);
            t->failed = 1;
        }

        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 3 * lmcf->ntiers)
    {
        t->why = "an unexpected answer from redis";
        return;
    }

    e = reply->element;

    for (i = 0; i < reply->elements; i++) {
        if (e[i]->type != REDIS_REPLY_INTEGER || e[i]->integer < 0) {
            t->why = "an unexpected answer from redis";
            return;
        }
    }

    t->failed = 0;
    routers = 0;

    ngx_http_llm_share_lock(lmcf);

    /* a later exchange's grants already hold: this one is stale */

    if ((ngx_atomic_int_t) (t->seq - sh->share_applied) > 0) {

        for (i = 0; i < lmcf->ntiers; i++) {
            ts = lmcf->tiers[i].sh;
            ts->grant = (ngx_atomic_uint_t) e[3 * i]->integer;
            ts->others = (ngx_atomic_uint_t) e[3 * i + 1]->integer;
            routers = ngx_max(routers, (ngx_uint_t) e[3 * i + 2]->integer);
        }

        sh->share_applied = t->seq;
        sh->share_read_at = t->sent;
        sh->share_routers = routers;
    }

    ngx_http_llm_share_unlock(lmcf);

    if (sh->share_alone && ngx_atomic_cmp_set(&sh->share_alone, 1, 0)) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "llm router: counts shared with the other routers "
                      "again");
    }
}


/* the zone's lock: grants and the number of their exchange go together */

static void
ngx_http_llm_share_lock(ngx_http_llm_main_conf_t *lmcf)
{
    ngx_slab_pool_t  *shpool;

    if (lmcf->shm_zone != NULL) {
        shpool = (ngx_slab_pool_t *) lmcf->shm_zone->shm.addr;
        ngx_shmtx_lock(&shpool->mutex);
    }
}


static void
ngx_http_llm_share_unlock(ngx_http_llm_main_conf_t *lmcf)
{
    ngx_slab_pool_t  *shpool;

    if (lmcf->shm_zone != NULL) {
        shpool = (ngx_slab_pool_t *) lmcf->shm_zone->shm.addr;
        ngx_shmtx_unlock(&shpool->mutex);
    }
}
