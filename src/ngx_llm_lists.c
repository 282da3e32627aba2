
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Answers assembled from the servers' own: see ngx_llm_lists.h.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ngx_llm_lists.h"
#include "ngx_llm_model.h"
#include "ngx_llm_cache_key.h"


static cJSON *ngx_llm_lists_union(ngx_llm_answer_t *a, size_t n,
    const char *array, const char *key, const char *key2);
static const char *ngx_llm_lists_name(cJSON *entry, const char *key,
    const char *key2);
static cJSON *ngx_llm_lists_find(cJSON *list, const char *key,
    const char *key2, const char *name, size_t len);
static void ngx_llm_lists_digest(const char *alias, char *hex);
static void ngx_llm_lists_time(long t, char *buf, size_t size);
static int ngx_llm_lists_is_alias(ngx_llm_lists_conf_t *conf,
    const char *name, size_t len);
static char *ngx_llm_lists_print(cJSON *root);
static int ngx_llm_lists_answered(ngx_llm_answer_t *a, size_t n);


/* every model once, in the order the tiers and servers gave them */

static cJSON *
ngx_llm_lists_union(ngx_llm_answer_t *a, size_t n, const char *array,
    const char *key, const char *key2)
{
    size_t       i;
    cJSON       *out, *root, *item, *e;
    const char  *name;

    out = cJSON_CreateArray();
    if (out == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (a[i].status != 200 || a[i].body == NULL) {
            continue;
        }

        root = cJSON_ParseWithLength(a[i].body, a[i].len);
        if (root == NULL) {
            continue;
        }

        item = cJSON_GetObjectItemCaseSensitive(root, array);

        if (cJSON_IsArray(item)) {
            cJSON_ArrayForEach(e, item) {
                name = ngx_llm_lists_name(e, key, key2);

                if (name == NULL
                    || ngx_llm_lists_find(out, key, key2, name,
                                          strlen(name)) != NULL)
                {
                    continue;
                }

                cJSON_AddItemToArray(out, cJSON_Duplicate(e, 1));
            }
        }

        cJSON_Delete(root);
    }

    return out;
}


static const char *
ngx_llm_lists_name(cJSON *entry, const char *key, const char *key2)
{
    cJSON  *name;

    name = cJSON_GetObjectItemCaseSensitive(entry, key);

    if (!cJSON_IsString(name) && key2 != NULL) {
        name = cJSON_GetObjectItemCaseSensitive(entry, key2);
    }

    return cJSON_IsString(name) ? name->valuestring : NULL;
}


static cJSON *
ngx_llm_lists_find(cJSON *list, const char *key, const char *key2,
    const char *name, size_t len)
{
    cJSON       *e;
    const char  *s;

    cJSON_ArrayForEach(e, list) {
        s = ngx_llm_lists_name(e, key, key2);

        if (s != NULL && ngx_llm_model_equal(s, strlen(s), name, len)) {
            return e;
        }
    }

    return NULL;
}


/* a stable digest for an alias: what "ollama list" shows as its ID */

static void
ngx_llm_lists_digest(const char *alias, char *hex)
{
    size_t            i;
    unsigned char     d[NGX_LLM_SHA256_LEN];
    ngx_llm_sha256_t  h;

    static const char  digits[] = "0123456789abcdef";

    ngx_llm_sha256_init(&h);
    ngx_llm_sha256_update(&h, "ngx_llm_router alias ", 21);
    ngx_llm_sha256_update(&h, alias, strlen(alias));
    ngx_llm_sha256_final(&h, d);

    for (i = 0; i < NGX_LLM_SHA256_LEN; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 0xf];
    }

    hex[2 * NGX_LLM_SHA256_LEN] = '\0';
}


static void
ngx_llm_lists_time(long t, char *buf, size_t size)
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        snprintf(buf, size, "1970-01-01T00:00:00Z");
    }
}


static int
ngx_llm_lists_is_alias(ngx_llm_lists_conf_t *conf, const char *name,
    size_t len)
{
    size_t  i;

    for (i = 0; i < conf->naliases; i++) {
        if (ngx_llm_model_equal(conf->aliases[i], strlen(conf->aliases[i]),
                                name, len))
        {
            return 1;
        }
    }

    return 0;
}


/* some server answered 200: without one, there is no list to give */

static int
ngx_llm_lists_answered(ngx_llm_answer_t *a, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (a[i].status == 200 && a[i].body != NULL) {
            return 1;
        }
    }

    return 0;
}


static char *
ngx_llm_lists_print(cJSON *root)
{
    char  *out;

    if (root == NULL) {
        return NULL;
    }

    out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);

    return out;
}


/*
 * /api/tags: the aliases first, then every server's models once.  An
 * alias looks like a model to clients ("ollama list" shows its digest's
 * first 12 characters): a stable digest, the router's start as
 * modified_at, the size of the largest tier model, family "router".
 */

char *
ngx_llm_lists_tags(ngx_llm_answer_t *a, size_t n, ngx_llm_lists_conf_t *conf)
{
    char     digest[2 * NGX_LLM_SHA256_LEN + 1], when[32];
    double   size, s;
    size_t   i;
    cJSON   *list, *root, *out, *e, *d, *fam, *m;

    if (!ngx_llm_lists_answered(a, n)) {
        return NULL;
    }

    list = ngx_llm_lists_union(a, n, "models", "model", "name");
    if (list == NULL) {
        return NULL;
    }

    size = 0;

    for (i = 0; i < conf->ntiers; i++) {
        if (conf->tier_models[i] == NULL) {
            continue;
        }

        m = ngx_llm_lists_find(list, "model", "name", conf->tier_models[i],
                               strlen(conf->tier_models[i]));

        if (m != NULL) {
            s = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m,
                                                                    "size"));
            if (s == s && s > size) {
                size = s;
            }
        }
    }

    ngx_llm_lists_time(conf->started, when, sizeof(when));

    root = cJSON_CreateObject();
    out = cJSON_AddArrayToObject(root, "models");

    if (root == NULL || out == NULL) {
        cJSON_Delete(root);
        cJSON_Delete(list);
        return NULL;
    }

    for (i = 0; i < conf->naliases; i++) {
        e = cJSON_CreateObject();
        cJSON_AddItemToArray(out, e);

        ngx_llm_lists_digest(conf->aliases[i], digest);

        cJSON_AddStringToObject(e, "name", conf->aliases[i]);
        cJSON_AddStringToObject(e, "model", conf->aliases[i]);
        cJSON_AddStringToObject(e, "modified_at", when);
        cJSON_AddNumberToObject(e, "size", size);
        cJSON_AddStringToObject(e, "digest", digest);

        d = cJSON_AddObjectToObject(e, "details");
        cJSON_AddStringToObject(d, "parent_model", "");
        cJSON_AddStringToObject(d, "format", "router");
        cJSON_AddStringToObject(d, "family", "router");
        fam = cJSON_AddArrayToObject(d, "families");
        cJSON_AddItemToArray(fam, cJSON_CreateString("router"));
        cJSON_AddStringToObject(d, "parameter_size", "");
        cJSON_AddStringToObject(d, "quantization_level", "");
    }

    while (cJSON_GetArraySize(list) > 0) {
        cJSON_AddItemToArray(out, cJSON_DetachItemFromArray(list, 0));
    }

    cJSON_Delete(list);

    return ngx_llm_lists_print(root);
}


/* /api/ps: the models loaded on any server; an alias is never loaded */

char *
ngx_llm_lists_ps(ngx_llm_answer_t *a, size_t n, ngx_llm_lists_conf_t *conf)
{
    cJSON   *list, *root;

    (void) conf;

    if (!ngx_llm_lists_answered(a, n)) {
        return NULL;
    }

    list = ngx_llm_lists_union(a, n, "models", "model", "name");
    if (list == NULL) {
        return NULL;
    }

    root = cJSON_CreateObject();
    if (root == NULL) {
        cJSON_Delete(list);
        return NULL;
    }

    cJSON_AddItemToObject(root, "models", list);

    return ngx_llm_lists_print(root);
}


/* GET /v1/models: the aliases, then every server's models once */

char *
ngx_llm_lists_models(ngx_llm_answer_t *a, size_t n,
    ngx_llm_lists_conf_t *conf)
{
    size_t   i;
    cJSON   *list, *root, *data, *e;

    if (!ngx_llm_lists_answered(a, n)) {
        return NULL;
    }

    list = ngx_llm_lists_union(a, n, "data", "id", NULL);
    if (list == NULL) {
        return NULL;
    }

    root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    data = cJSON_AddArrayToObject(root, "data");

    if (root == NULL || data == NULL) {
        cJSON_Delete(root);
        cJSON_Delete(list);
        return NULL;
    }

    for (i = 0; i < conf->naliases; i++) {
        e = cJSON_CreateObject();
        cJSON_AddItemToArray(data, e);
        cJSON_AddStringToObject(e, "id", conf->aliases[i]);
        cJSON_AddStringToObject(e, "object", "model");
        cJSON_AddNumberToObject(e, "created", (double) conf->started);
        cJSON_AddStringToObject(e, "owned_by", "ngx_llm_router");
    }

    while (cJSON_GetArraySize(list) > 0) {
        cJSON_AddItemToArray(data, cJSON_DetachItemFromArray(list, 0));
    }

    cJSON_Delete(list);

    return ngx_llm_lists_print(root);
}


/* GET /v1/models/{id}: one entry of the list above, or NULL */

char *
ngx_llm_lists_model(ngx_llm_answer_t *a, size_t n,
    ngx_llm_lists_conf_t *conf, const char *id, size_t id_len)
{
    char   *name;
    cJSON  *list, *e;

    if (ngx_llm_lists_is_alias(conf, id, id_len)) {
        /* the alias as the client wrote it */
        name = malloc(id_len + 1);
        if (name == NULL) {
            return NULL;
        }

        memcpy(name, id, id_len);
        name[id_len] = '\0';

        e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "id", name);
        cJSON_AddStringToObject(e, "object", "model");
        cJSON_AddNumberToObject(e, "created", (double) conf->started);
        cJSON_AddStringToObject(e, "owned_by", "ngx_llm_router");
        free(name);

        return ngx_llm_lists_print(e);
    }

    list = ngx_llm_lists_union(a, n, "data", "id", NULL);
    if (list == NULL) {
        return NULL;
    }

    e = ngx_llm_lists_find(list, "id", NULL, id, id_len);

    if (e == NULL) {
        cJSON_Delete(list);
        return NULL;
    }

    e = cJSON_Duplicate(e, 1);
    cJSON_Delete(list);

    return ngx_llm_lists_print(e);
}


/* GET /api/version: the lowest the servers report, and the router's */

char *
ngx_llm_lists_version(ngx_llm_answer_t *a, size_t n,
    ngx_llm_lists_conf_t *conf)
{
    char    *low;
    size_t   i;
    cJSON   *root, *v, *out;

    low = NULL;
    out = NULL;

    for (i = 0; i < n; i++) {
        if (a[i].status != 200 || a[i].body == NULL) {
            continue;
        }

        root = cJSON_ParseWithLength(a[i].body, a[i].len);
        v = cJSON_GetObjectItemCaseSensitive(root, "version");

        if (cJSON_IsString(v)
            && (low == NULL || ngx_llm_version_cmp(v->valuestring, low) < 0))
        {
            free(low);
            low = malloc(strlen(v->valuestring) + 1);

            if (low != NULL) {
                memcpy(low, v->valuestring, strlen(v->valuestring) + 1);
            }
        }

        cJSON_Delete(root);
    }

    if (low == NULL) {
        return NULL;
    }

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "version", low);
    cJSON_AddStringToObject(out, "router", conf->router);
    free(low);

    return ngx_llm_lists_print(out);
}


int
ngx_llm_version_cmp(const char *a, const char *b)
{
    int    i;
    long   x, y;
    char  *ea, *eb;

    if (*a == 'v') {
        a++;
    }

    if (*b == 'v') {
        b++;
    }

    for (i = 0; i < 3; i++) {
        x = strtol(a, &ea, 10);
        y = strtol(b, &eb, 10);

        if (x != y) {
            return x < y ? -1 : 1;
        }

        a = (*ea == '.') ? ea + 1 : ea;
        b = (*eb == '.') ? eb + 1 : eb;
    }

    /* a pre-release ("-rc1") comes before the release */
    if (*a == '-' && *b != '-') {
        return -1;
    }

    if (*b == '-' && *a != '-') {
        return 1;
    }

    return strcmp(a, b) < 0 ? -1 : strcmp(a, b) > 0;
}


/*
 * POST /api/show for an alias: the answers are each tier's model's own
 * show, by tier.  The first tier's is the base; the capabilities are
 * those every tier's model has (what the alias can promise), and the
 * modelfile says what the alias is.
 */

char *
ngx_llm_lists_show(ngx_llm_answer_t *a, size_t n, ngx_llm_lists_conf_t *conf,
    const char *alias)
{
    int      found, k;
    char    *text, *p;
    size_t   i, len;
    cJSON   *base, *root, *caps, *c, *other, *keep;

    base = NULL;
    caps = NULL;

    for (i = 0; i < n; i++) {
        if (a[i].status != 200 || a[i].body == NULL) {
            continue;
        }

        root = cJSON_ParseWithLength(a[i].body, a[i].len);

        if (!cJSON_IsObject(root)) {
            cJSON_Delete(root);
            continue;
        }

        other = cJSON_GetObjectItemCaseSensitive(root, "capabilities");

        if (base == NULL) {
            base = root;
            caps = cJSON_IsArray(other) ? other : NULL;
            continue;
        }

        if (caps != NULL) {
            /* keep those the other model has too */
            for (k = cJSON_GetArraySize(caps) - 1; k >= 0; k--) {
                c = cJSON_GetArrayItem(caps, k);
                found = 0;

                cJSON_ArrayForEach(keep, other) {
                    if (cJSON_IsString(c) && cJSON_IsString(keep)
                        && strcmp(c->valuestring, keep->valuestring) == 0)
                    {
                        found = 1;
                        break;
                    }
                }

                if (!found) {
                    cJSON_DeleteItemFromArray(caps, k);
                }
            }
        }

        cJSON_Delete(root);
    }

    if (base == NULL) {
        return NULL;
    }

    len = 128 + strlen(alias);

    for (i = 0; i < conf->ntiers; i++) {
        len += (conf->tier_models[i] ? strlen(conf->tier_models[i]) : 0) + 2;
    }

    text = malloc(len);

    if (text != NULL) {
        p = text + sprintf(text, "# ngx_llm_router: \"%s\" routes each "
                           "request to one of:", alias);

        for (i = 0; i < conf->ntiers; i++) {
            if (conf->tier_models[i] != NULL) {
                p += sprintf(p, " %s", conf->tier_models[i]);
            }
        }

        sprintf(p, "\n");

        cJSON_DeleteItemFromObjectCaseSensitive(base, "modelfile");
        cJSON_AddStringToObject(base, "modelfile", text);
        free(text);
    }

    return ngx_llm_lists_print(base);
}


/*
 * A load or unload of an alias went to every tier with the tier's model:
 * one answer in the servers' own shape, naming the alias; the first
 * failure, if any, is passed on as it came.
 */

char *
ngx_llm_lists_load(ngx_llm_answer_t *a, size_t n, ngx_llm_lists_conf_t *conf,
    const char *alias, int unload, int *status)
{
    char   *out;
    size_t  i;
    cJSON  *root;

    (void) conf;
    (void) unload;

    for (i = 0; i < n; i++) {
        if (a[i].status != 200) {
            *status = a[i].status ? a[i].status : 502;

            if (a[i].status == 0 || a[i].body == NULL) {
                return NULL;
            }

            out = malloc(a[i].len + 1);
            if (out != NULL) {
                memcpy(out, a[i].body, a[i].len);
                out[a[i].len] = '\0';
            }

            return out;
        }
    }

    *status = 200;

    if (n == 0) {
        return NULL;
    }

    root = cJSON_ParseWithLength(a[0].body, a[0].len);

    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        *status = 502;
        return NULL;
    }

    cJSON_DeleteItemFromObjectCaseSensitive(root, "model");
    cJSON_AddStringToObject(root, "model", alias);

    return ngx_llm_lists_print(root);
}
