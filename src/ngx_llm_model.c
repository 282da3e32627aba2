
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Model names, read the way Ollama reads them: see ngx_llm_model.h.
 */


#include <string.h>

#include "ngx_llm_model.h"


#define NGX_LLM_MISSING  "!missing!"   /* Ollama's MissingPart, folded */


typedef struct {
    const char  *p;
    size_t       len;
} ngx_llm_part_t;


static void ngx_llm_model_cut(ngx_llm_part_t *rest, char sep,
    ngx_llm_part_t *after, int *found);
static char *ngx_llm_model_put(char *out, char *end, ngx_llm_part_t *part,
    const char *dflt);


/*
 * Ollama's ParseNameBare: the tag after the last ':' when it comes after
 * the last '/', then model, namespace and host from the right, each cut
 * at the last '/'; a "scheme://" before the host is dropped.  An empty
 * part next to a separator is Ollama's "!MISSING!".
 */

size_t
ngx_llm_model_normalize(const char *name, size_t len, char *out)
{
    int             found;
    char           *p, *end;
    size_t          i;
    const char     *colon, *slash, *scheme;
    ngx_llm_part_t  rest, host, ns, model, tag;

    if (len == 0 || len > NGX_LLM_MODEL_MAX - 64) {
        return 0;
    }

    host.len = ns.len = tag.len = 0;
    host.p = ns.p = tag.p = "";

    colon = NULL;
    slash = NULL;

    for (i = 0; i < len; i++) {
        if (name[i] == ':') {
            colon = name + i;

        } else if (name[i] == '/') {
            slash = name + i;
        }
    }

    rest.p = name;
    rest.len = len;

    if (colon != NULL && (slash == NULL || colon > slash)) {
        ngx_llm_model_cut(&rest, ':', &tag, &found);
    }

    ngx_llm_model_cut(&rest, '/', &model, &found);

    if (!found) {
        model = rest;
        goto done;
    }

    ngx_llm_model_cut(&rest, '/', &ns, &found);

    if (!found) {
        ns = rest;
        goto done;
    }

    host = rest;

    for (scheme = rest.p; scheme + 3 <= rest.p + rest.len; scheme++) {
        if (memcmp(scheme, "://", 3) == 0) {
            host.p = scheme + 3;
            host.len = rest.p + rest.len - host.p;
            break;
        }
    }

done:

    p = out;
    end = out + NGX_LLM_MODEL_MAX - 1;

    p = ngx_llm_model_put(p, end, &host, "registry.ollama.ai");
    *p++ = '/';
    p = ngx_llm_model_put(p, end, &ns, "library");
    *p++ = '/';
    p = ngx_llm_model_put(p, end, &model, NULL);
    *p++ = ':';
    p = ngx_llm_model_put(p, end, &tag, "latest");
    *p = '\0';

    for (i = 0; out + i < p; i++) {
        if (out[i] >= 'A' && out[i] <= 'Z') {
            out[i] = (char) (out[i] | 0x20);
        }
    }

    return (size_t) (p - out);
}


/*
 * Ollama's cutPromised: splits rest at its last sep; an empty side of a
 * separator that is there becomes "!MISSING!".
 */

static void
ngx_llm_model_cut(ngx_llm_part_t *rest, char sep, ngx_llm_part_t *after,
    int *found)
{
    size_t  i;

    for (i = rest->len; i > 0; i--) {
        if (rest->p[i - 1] == sep) {
            after->p = rest->p + i;
            after->len = rest->len - i;
            rest->len = i - 1;
            *found = 1;

            if (after->len == 0) {
                after->p = NGX_LLM_MISSING;
                after->len = sizeof(NGX_LLM_MISSING) - 1;
            }

            if (rest->len == 0) {
                rest->p = NGX_LLM_MISSING;
                rest->len = sizeof(NGX_LLM_MISSING) - 1;
            }

            return;
        }
    }

    *found = 0;
}


static char *
ngx_llm_model_put(char *out, char *end, ngx_llm_part_t *part,
    const char *dflt)
{
    const char  *s;
    size_t       n;

    s = part->p;
    n = part->len;

    if (n == 0 && dflt != NULL) {
        s = dflt;
        n = strlen(dflt);
    }

    if (n > (size_t) (end - out) - 4) {
        n = (size_t) (end - out) - 4;
    }

    memcpy(out, s, n);

    return out + n;
}


int
ngx_llm_model_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t  n, m;
    char    na[NGX_LLM_MODEL_MAX], nb[NGX_LLM_MODEL_MAX];

    if (alen == blen && memcmp(a, b, alen) == 0) {
        /* the same bytes: the same name, if it is one */
        return ngx_llm_model_normalize(a, alen, na) != 0;
    }

    n = ngx_llm_model_normalize(a, alen, na);
    m = ngx_llm_model_normalize(b, blen, nb);

    return n != 0 && n == m && memcmp(na, nb, n) == 0;
}


uint64_t
ngx_llm_model_hash(const char *name, size_t len)
{
    size_t    i, n;
    uint64_t  h;
    char      norm[NGX_LLM_MODEL_MAX];

    n = ngx_llm_model_normalize(name, len, norm);

    if (n == 0) {
        return 0;
    }

    /* FNV-1a */
    h = 0xcbf29ce484222325ULL;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char) norm[i];
        h *= 0x100000001b3ULL;
    }

    return h ? h : 1;
}


int
ngx_llm_model_always_thinks(const char *name, size_t len)
{
    size_t  n;
    char   *model, norm[NGX_LLM_MODEL_MAX];

    n = ngx_llm_model_normalize(name, len, norm);

    if (n == 0) {
        return 0;
    }

    /* the model part: after the last '/' */
    model = strrchr(norm, '/');
    model = model ? model + 1 : norm;

    return strncmp(model, "gpt-oss", 7) == 0;
}
