
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The shared zone holds one fixed-size structure of atomics, allocated
 * from the zone's slab pool: counters are updated with atomic operations,
 * never under a lock, so no request waits on another worker.
 */


#include "ngx_http_llm_state.h"


static ngx_int_t ngx_http_llm_zone_init(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_uint_t ngx_http_llm_tier_busy(ngx_http_llm_tier_sh_t *ts);


/* llm_router_zone NAME SIZE; */

char *
ngx_http_llm_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    size_t      min;
    ssize_t     size;
    ngx_str_t  *value;

    if (lmcf->shm_zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"%V\"",
                           &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    /* the state, the slab pool's own pages, and room */
    min = ngx_align(sizeof(ngx_http_llm_sh_t), ngx_pagesize)
          + 8 * ngx_pagesize;

    if (size < (ssize_t) min) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small in \"%V\", "
                           "it must be at least %uzk",
                           &value[1], &cmd->name, min / 1024);
        return NGX_CONF_ERROR;
    }

    lmcf->shm_zone = ngx_shared_memory_add(cf, &value[1], size,
                                           &ngx_http_llm_router_module);
    if (lmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (lmcf->shm_zone->data != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used", &value[1]);
        return NGX_CONF_ERROR;
    }

    lmcf->shm_zone->init = ngx_http_llm_zone_init;
    lmcf->shm_zone->data = lmcf;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llm_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llm_main_conf_t  *olmcf = data;

    ngx_slab_pool_t           *shpool;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = shm_zone->data;

    if (olmcf != NULL) {
        /* reload: keep the counts of requests still running */
        lmcf->sh = olmcf->sh;
        return ngx_http_llm_tiers_bind(lmcf, shm_zone->shm.log);
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        lmcf->sh = shpool->data;
        return ngx_http_llm_tiers_bind(lmcf, shm_zone->shm.log);
    }

    lmcf->sh = ngx_slab_calloc(shpool, sizeof(ngx_http_llm_sh_t));
    if (lmcf->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = lmcf->sh;

    shpool->log_ctx = ngx_slab_alloc(shpool,
                                     sizeof(" in llm_router_zone \"\"")
                                     + shm_zone->shm.name.len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in llm_router_zone \"%V\"%Z",
                &shm_zone->shm.name);

    return ngx_http_llm_tiers_bind(lmcf, shm_zone->shm.log);
}


/*
 * Each tier takes the slot that bears its name; a new name takes a slot
 * no tier of this configuration names and no request holds, its old
 * numbers cleared.
 */

ngx_int_t
ngx_http_llm_tiers_bind(ngx_http_llm_main_conf_t *lmcf, ngx_log_t *log)
{
    ngx_uint_t               i, j, k, named;
    ngx_http_llm_tier_t     *tier;
    ngx_http_llm_tier_sh_t  *ts;

    for (i = 0; i < lmcf->ntiers; i++) {
        tier = &lmcf->tiers[i];
        tier->sh = NULL;

        for (j = 0; j < NGX_LLM_MAX_TIERS; j++) {
            ts = &lmcf->sh->tiers[j];

            if (ngx_strncmp(ts->name, tier->name.data, tier->name.len) == 0
                && ts->name[tier->name.len] == '\0')
            {
                break;
            }
        }

        if (j == NGX_LLM_MAX_TIERS) {

            for (j = 0; j < NGX_LLM_MAX_TIERS; j++) {
                ts = &lmcf->sh->tiers[j];

                if (ngx_http_llm_tier_busy(ts)) {
                    continue;
                }

                named = 0;

                for (k = 0; k < lmcf->ntiers; k++) {
                    if (ngx_strcmp(ts->name, lmcf->tiers[k].name.data) == 0) {
                        named = 1;
                        break;
                    }
                }

                if (!named) {
                    break;
                }
            }

            if (j == NGX_LLM_MAX_TIERS) {
                ngx_log_error(NGX_LOG_EMERG, log, 0,
                              "llm router: no room for tier \"%V\" in the "
                              "shared state (tiers of earlier "
                              "configurations still answer): reload later "
                              "or restart", &tier->name);
                return NGX_ERROR;
            }

            ts = &lmcf->sh->tiers[j];
            ngx_memzero(ts, sizeof(ngx_http_llm_tier_sh_t));
            ngx_memcpy(ts->name, tier->name.data, tier->name.len);
        }

        tier->sh = ts;
        tier->slot = j;
    }

    return NGX_OK;
}


/* a request still counts on the slot: on the tier, or on one of its servers */

static ngx_uint_t
ngx_http_llm_tier_busy(ngx_http_llm_tier_sh_t *ts)
{
    ngx_uint_t  i;

    if (ts->inflight != 0) {
        return 1;
    }

    for (i = 0; i < NGX_HTTP_LLM_MAX_SERVERS; i++) {
        if (ts->servers[i].inflight != 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * Who answered: each tier in turn, then the cache, then no one (the
 * router itself: refused, bad requests, failures before a tier).
 */

ngx_http_llm_served_t *
ngx_http_llm_served_at(ngx_http_llm_main_conf_t *lmcf, ngx_uint_t k,
    ngx_str_t *label)
{
    static ngx_str_t  cache = ngx_string("cache");
    static ngx_str_t  none = ngx_string("none");

    if (k < lmcf->ntiers) {
        *label = lmcf->tiers[k].name;
        return &lmcf->tiers[k].sh->served;
    }

    if (k == lmcf->ntiers) {
        *label = cache;
        return &lmcf->sh->by_cache;
    }

    if (k == lmcf->ntiers + 1) {
        *label = none;
        return &lmcf->sh->by_none;
    }

    return NULL;
}


ngx_uint_t
ngx_http_llm_elect(ngx_atomic_t *last, ngx_msec_t interval)
{
    ngx_msec_t         now;
    ngx_atomic_uint_t  old;

    now = ngx_current_msec;
    old = *last;

    if (old != 0
        && (ngx_msec_int_t) (now - (ngx_msec_t) old)
           < (ngx_msec_int_t) (interval - interval / 10))
    {
        return 0;
    }

    return ngx_atomic_cmp_set(last, old, (ngx_atomic_uint_t) now);
}


void
ngx_http_llm_inflight_add(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_atomic_int_t n)
{
    ngx_http_llm_tier_sh_t  *ts;

    ts = lmcf->tiers[tier].sh;

    (void) ngx_atomic_fetch_add(&ts->inflight, n);

    if (n > 0) {
        (void) ngx_atomic_fetch_add(&ts->requests, 1);
    }
}


/*
 * The one place the breaker's state is worked out: an open breaker whose
 * cool-down has passed is half-open (it lets one probe through).
 */

ngx_uint_t
ngx_http_llm_breaker_state(ngx_http_llm_main_conf_t *lmcf, ngx_uint_t tier)
{
    ngx_msec_int_t           age;
    ngx_http_llm_tier_sh_t  *ts;

    ts = lmcf->tiers[tier].sh;

    if (ts->breaker != NGX_HTTP_LLM_BREAKER_OPEN) {
        return NGX_HTTP_LLM_BREAKER_CLOSED;
    }

    age = (ngx_msec_int_t) (ngx_current_msec - (ngx_msec_t) ts->opened_at);

    return (age >= (ngx_msec_int_t) lmcf->breaker_cooldown)
           ? NGX_HTTP_LLM_BREAKER_HALF_OPEN : NGX_HTTP_LLM_BREAKER_OPEN;
}


/*
 * Is the tier to be avoided?  A breaker whose cool-down has passed lets
 * one request through: *probe is set when the caller must take the probe
 * with ngx_http_llm_probe_take() before sending to this tier.
 */

ngx_uint_t
ngx_http_llm_tier_down(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_uint_t *probe)
{
    ngx_http_llm_tier_sh_t  *ts;

    ts = lmcf->tiers[tier].sh;
    *probe = 0;

    switch (ngx_http_llm_breaker_state(lmcf, tier)) {

    case NGX_HTTP_LLM_BREAKER_CLOSED:
        return ts->health == NGX_HTTP_LLM_NO;

    case NGX_HTTP_LLM_BREAKER_OPEN:
        return 1;

    default: /* NGX_HTTP_LLM_BREAKER_HALF_OPEN: one request probes */

        if (ts->probing) {
            return 1;
        }

        *probe = 1;

        return 0;
    }
}


ngx_uint_t
ngx_http_llm_probe_take(ngx_http_llm_main_conf_t *lmcf, ngx_llm_tier_id_t tier)
{
    return ngx_atomic_cmp_set(&lmcf->tiers[tier].sh->probing, 0, 1);
}


void
ngx_http_llm_tier_result(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_uint_t ok, ngx_uint_t probing, ngx_log_t *log)
{
    ngx_atomic_uint_t        failures;
    ngx_http_llm_tier_sh_t  *ts;

    ts = lmcf->tiers[tier].sh;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                   "llm router: %V tier %s%s, %uA failures before",
                   &lmcf->tiers[tier].name, ok ? "answered" : "failed",
                   probing ? " a probe" : "", ts->failures);

    if (ok) {
        ts->failures = 0;

        if (ts->breaker == NGX_HTTP_LLM_BREAKER_OPEN
            && ngx_atomic_cmp_set(&ts->breaker, NGX_HTTP_LLM_BREAKER_OPEN,
                                  NGX_HTTP_LLM_BREAKER_CLOSED))
        {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "llm router: %V tier answered, breaker closed",
                          &lmcf->tiers[tier].name);
        }

    } else {
        failures = ngx_atomic_fetch_add(&ts->failures, 1) + 1;

        if (probing) {
            ts->opened_at = ngx_current_msec;

            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "llm router: %V tier probe failed, breaker "
                          "stays open", &lmcf->tiers[tier].name);

        } else if (failures >= lmcf->breaker_failures
                   && ts->breaker == NGX_HTTP_LLM_BREAKER_CLOSED)
        {
            ts->opened_at = ngx_current_msec;

            if (ngx_atomic_cmp_set(&ts->breaker,
                                   NGX_HTTP_LLM_BREAKER_CLOSED,
                                   NGX_HTTP_LLM_BREAKER_OPEN))
            {
                ngx_log_error(NGX_LOG_WARN, log, 0,
                              "llm router: %V tier failed %uA times in a "
                              "row, breaker open for %M ms",
                              &lmcf->tiers[tier].name, failures,
                              lmcf->breaker_cooldown);
            }
        }
    }

    if (probing) {
        ts->probing = 0;
    }
}


void
ngx_http_llm_tier_health(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_uint_t up, ngx_uint_t loaded, ngx_uint_t why,
    ngx_log_t *log)
{
    u_char                   text[512];
    size_t                   len;
    ngx_atomic_uint_t        health;
    ngx_http_llm_tier_sh_t  *ts;

    ts = lmcf->tiers[tier].sh;

    health = up ? NGX_HTTP_LLM_YES : NGX_HTTP_LLM_NO;
    why = up ? 0 : why;

    if (ts->health != health || ts->down_why != why) {

        if (up) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "llm router: health check: %V tier is up",
                          &lmcf->tiers[tier].name);

        } else {
            len = ngx_http_llm_why(lmcf, tier, why, 1, text, sizeof(text));

            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "llm router: health check: %V tier is down: %*s",
                          &lmcf->tiers[tier].name, len, text);
        }
    }

    (void) ngx_atomic_fetch_add(&ts->health_checks[up ? 0 : 1], 1);

    ts->health = health;
    ts->down_why = why;
    ts->loaded = loaded;
    ts->checked_at = ngx_current_msec;

    if (up) {
        /* a tier that answers its health check is used again at once */
        ngx_http_llm_tier_result(lmcf, tier, 1, 0, log);
    }
}


/* a person's words for why a tier is down or refuses requests */

size_t
ngx_http_llm_why(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_uint_t why, ngx_uint_t health, u_char *buf,
    size_t size)
{
    u_char               *p;
    ngx_http_llm_tier_t  *t;

    static const char  *errors[] = {
        "no answer",
        "connection failed",
        "timed out",
        "connection closed before the answer",
        "answer too large",
        "not an HTTP answer"
    };

    t = &lmcf->tiers[tier];

    if (why >= NGX_HTTP_LLM_WHY_FETCH) {
        why -= NGX_HTTP_LLM_WHY_FETCH;
        p = ngx_snprintf(buf, size, "%s",
                         errors[why < 6 ? why : 0]);

    } else if (why == NGX_HTTP_FORBIDDEN && health) {
        p = ngx_snprintf(buf, size,
                         "it answers 403 Forbidden to \"Host: %V\" (an "
                         "Ollama listening on a loopback address accepts "
                         "only IP addresses, localhost, its machine's name "
                         "and *.localhost, *.local, *.internal names): set "
                         "\"host=localhost\" on \"llm_router_tier %V\"",
                         &t->host, &t->name);

    } else if (why == NGX_HTTP_FORBIDDEN) {
        p = ngx_snprintf(buf, size,
                         "it answers 403 Forbidden (an Ollama listening on "
                         "a loopback address refuses a Host that is not an "
                         "IP address, localhost, its machine's name or a "
                         "*.localhost, *.local, *.internal name, and nginx "
                         "sends the upstream block's name unless told): "
                         "add \"proxy_set_header Host $llm_upstream_host;\" "
                         "(here \"%V\") next to the other proxy_set_header "
                         "lines of every location that routes", &t->host);

    } else if (why == NGX_HTTP_UNAUTHORIZED) {
        p = ngx_snprintf(buf, size,
                         "it answers 401 Unauthorized (it wants credentials "
                         "the router does not send)");

    } else if (why) {
        p = ngx_snprintf(buf, size, "it answers %ui", why);

    } else {
        p = ngx_snprintf(buf, size, "unknown");
    }

    return p - buf;
}


/*
 * Statuses by which a tier refuses to serve the router at all, whatever
 * the request: they are failures of the tier (breaker, fallback), not
 * the client's.
 */

ngx_uint_t
ngx_http_llm_refusal(ngx_uint_t status)
{
    return status == NGX_HTTP_UNAUTHORIZED || status == NGX_HTTP_FORBIDDEN
           || status == 407 || status == 421;
}


/* every answer a tier gave: its refusals are counted and logged once */

void
ngx_http_llm_tier_answered(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_uint_t status, ngx_log_t *log)
{
    u_char                   text[512];
    size_t                   len;
    ngx_atomic_uint_t        old;
    ngx_http_llm_tier_sh_t  *ts;

    ts = lmcf->tiers[tier].sh;
    old = ts->refused;

    if (ngx_http_llm_refusal(status)) {
        (void) ngx_atomic_fetch_add(&ts->refusals, 1);

        if (old != status && ngx_atomic_cmp_set(&ts->refused, old, status)) {
            len = ngx_http_llm_why(lmcf, tier, status, 0, text,
                                   sizeof(text));

            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "llm router: %V tier refuses requests: %*s",
                          &lmcf->tiers[tier].name, len, text);
        }

        return;
    }

    if (old && status >= NGX_HTTP_OK && status < NGX_HTTP_BAD_REQUEST
        && ngx_atomic_cmp_set(&ts->refused, old, 0))
    {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "llm router: %V tier accepts requests again",
                      &lmcf->tiers[tier].name);
    }
}


/* the models the tier's servers have, from the health check's /api/tags */

void
ngx_http_llm_tier_models(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, uint64_t *models, ngx_uint_t n)
{
    ngx_uint_t               i;
    ngx_http_llm_tier_sh_t  *ts;

    ts = lmcf->tiers[tier].sh;
    n = ngx_min(n, NGX_HTTP_LLM_MAX_MODELS);

    if (ts->nmodels == n) {
        for (i = 0; i < n; i++) {
            if (ts->models[i] != models[i]) {
                break;
            }
        }

        if (i == n) {
            return;
        }
    }

    /* readers may see a mix for an instant: a miss, never a crash */

    ts->nmodels = 0;

    for (i = 0; i < n; i++) {
        ts->models[i] = (ngx_atomic_uint_t) models[i];
    }

    ts->nmodels = n;
}


/* a server of a tier, by its address: the key of its residency slot */

ngx_atomic_uint_t
ngx_http_llm_server_key(struct sockaddr *sa, socklen_t len)
{
    return ngx_crc32_long((u_char *) sa, len) | 1;
}


/*
 * A server's slot in its tier's state, by its key; with claim, a free
 * slot becomes its own if it has none (NULL when all are taken).
 */

ngx_http_llm_server_sh_t *
ngx_http_llm_server(ngx_http_llm_main_conf_t *lmcf, ngx_llm_tier_id_t tier,
    ngx_atomic_uint_t key, ngx_uint_t claim)
{
    ngx_uint_t                 i;
    ngx_http_llm_server_sh_t  *s;

    s = lmcf->tiers[tier].sh->servers;

    for (i = 0; i < NGX_HTTP_LLM_MAX_SERVERS; i++) {

        if (s[i].key == key) {
            return &s[i];
        }

        if (s[i].key == 0) {

            if (!claim) {
                return NULL;
            }

            if (ngx_atomic_cmp_set(&s[i].key, 0, key) || s[i].key == key) {
                return &s[i];
            }
        }
    }

    return NULL;
}


/* a health check's answer: is the tier's model loaded on this server? */

void
ngx_http_llm_server_resident(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_atomic_uint_t key, ngx_uint_t resident)
{
    ngx_http_llm_server_sh_t  *s;

    s = ngx_http_llm_server(lmcf, tier, key, 1);

    if (s != NULL) {
        s->resident = resident;
    }
}


ngx_uint_t
ngx_http_llm_server_is_resident(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, ngx_atomic_uint_t key)
{
    ngx_http_llm_server_sh_t  *s;

    s = ngx_http_llm_server(lmcf, tier, key, 0);

    return (s != NULL) ? s->resident : NGX_HTTP_LLM_UNKNOWN;
}


ngx_uint_t
ngx_http_llm_tier_has_model(ngx_http_llm_main_conf_t *lmcf,
    ngx_llm_tier_id_t tier, uint64_t model)
{
    ngx_uint_t               i, n;
    ngx_http_llm_tier_sh_t  *ts;

    ts = lmcf->tiers[tier].sh;
    n = ngx_min(ts->nmodels, NGX_HTTP_LLM_MAX_MODELS);

    for (i = 0; i < n; i++) {
        if (ts->models[i] == (ngx_atomic_uint_t) model) {
            return 1;
        }
    }

    return 0;
}


double
ngx_http_llm_gpu_vram(ngx_http_llm_main_conf_t *lmcf, ngx_uint_t gpu)
{
    ngx_msec_t              age, limit;
    ngx_atomic_uint_t       used, total;
    ngx_http_llm_gpu_t     *g;
    ngx_http_llm_gpu_sh_t  *gs;

    if (gpu == NGX_HTTP_LLM_NO_GPU) {
        return -1;
    }

    g = lmcf->gpus.elts;
    gs = &lmcf->sh->gpus[gpu];

    if (!gs->ok || gs->read_at == 0) {
        return -1;
    }

    /*
     * a reading older than three intervals is no reading; an exporter's
     * page may take up to its fetch timeout more to come
     */
    age = ngx_current_msec - (ngx_msec_t) gs->read_at;
    limit = 3 * g[gpu].interval;

    if (g[gpu].source == NGX_HTTP_LLM_GPU_PROMETHEUS) {
        limit += g[gpu].timeout;
    }

    if ((ngx_msec_int_t) age > (ngx_msec_int_t) limit) {
        return -1;
    }

    used = gs->used;
    total = gs->total;

    if (total == 0) {
        return -1;
    }

    return (double) used / total;
}
