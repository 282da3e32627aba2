
/*
 * Copyright (C) ngx_llm_router authors
 *
 * SHA-256 (FIPS 180-4) and the canonical request form hashed for the
 * cache key.  The canonical form is the request's JSON with object keys
 * sorted, no whitespace, numbers in one printed form, the effective
 * "stream" value, and without fields that do not change the answer
 * ("keep_alive").  It is streamed into the hash as it is produced, never
 * built in memory, and walks the tree without recursion limits beyond
 * cJSON's own nesting limit.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#if (defined __x86_64__ && defined __GNUC__)
#define NGX_LLM_SHA_NI  1
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "ngx_llm_cache_key.h"


#define ROR(x, n)  (((x) >> (n)) | ((x) << (32 - (n))))


static const uint32_t  ngx_llm_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};


static void ngx_llm_sha256_blocks(ngx_llm_sha256_t *ctx,
    const unsigned char *p, size_t n);
static void ngx_llm_sha256_block(ngx_llm_sha256_t *ctx,
    const unsigned char *p);
#if (NGX_LLM_SHA_NI)
static void ngx_llm_sha256_ni(ngx_llm_sha256_t *ctx, const unsigned char *p,
    size_t n);
#endif
static void ngx_llm_key_begin(ngx_llm_sha256_t *h, const char *version,
    const unsigned char *tenant, size_t tenant_len);
static void ngx_llm_key_hex(ngx_llm_sha256_t *h, char *hex);
static int ngx_llm_canon(ngx_llm_sha256_t *h, const cJSON *item, int top,
    int stream, const cJSON *skip);
static const cJSON *ngx_llm_last_text(const ngx_llm_request_t *req);
static void ngx_llm_canon_string(ngx_llm_sha256_t *h, const char *s);
static int ngx_llm_cmp_keys(const void *a, const void *b);


void
ngx_llm_sha256_init(ngx_llm_sha256_t *ctx)
{
    static const uint32_t  iv[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    };

    memcpy(ctx->state, iv, sizeof(iv));
    ctx->bytes = 0;
    ctx->used = 0;
}


/*
 * -1: not known yet, 0: the portable rounds, 1: the CPU's SHA instructions
 * (x86 SHA extensions: every AMD Zen, Intel since Ice Lake and Goldmont)
 */

int  ngx_llm_sha256_hw = -1;


static void
ngx_llm_sha256_blocks(ngx_llm_sha256_t *ctx, const unsigned char *p,
    size_t n)
{
#if (NGX_LLM_SHA_NI)
    unsigned  a, b, c, d;

    if (ngx_llm_sha256_hw < 0) {
        /* leaf 7: EBX bit 29 is SHA; leaf 1: ECX bit 19 is SSE4.1 */
        ngx_llm_sha256_hw = __get_cpuid_count(7, 0, &a, &b, &c, &d)
                            && (b & (1u << 29))
                            && __get_cpuid(1, &a, &b, &c, &d)
                            && (c & (1u << 19));
    }

    if (ngx_llm_sha256_hw) {
        ngx_llm_sha256_ni(ctx, p, n);
        return;
    }
#endif

    while (n--) {
        ngx_llm_sha256_block(ctx, p);
        p += 64;
    }
}


#if (NGX_LLM_SHA_NI)

/*
 * n blocks with the SHA instructions.  They keep the state as ABEF and
 * CDGH, each with A or C in the highest lane; the message words are
 * big-endian; sha256rnds2 does two rounds with the low two lanes of its
 * third operand (message word plus constant), and sha256msg1/msg2 work
 * out four words of the schedule from the sixteen before them.
 */

__attribute__((target("sha,sse4.1")))
static void
ngx_llm_sha256_ni(ngx_llm_sha256_t *ctx, const unsigned char *p, size_t n)
{
    int      i;
    __m128i  st0, st1, save0, save1, t, m[4], swap;

    swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);

    t = _mm_loadu_si128((const __m128i *) &ctx->state[0]);      /* DCBA */
    st1 = _mm_loadu_si128((const __m128i *) &ctx->state[4]);    /* HGFE */

    t = _mm_shuffle_epi32(t, 0xb1);                             /* CDAB */
    st1 = _mm_shuffle_epi32(st1, 0x1b);                         /* EFGH */
    st0 = _mm_alignr_epi8(t, st1, 8);                           /* ABEF */
    st1 = _mm_blend_epi16(st1, t, 0xf0);                        /* CDGH */

    while (n--) {
        save0 = st0;
        save1 = st1;

        for (i = 0; i < 16; i++) {

            if (i < 4) {
                m[i] = _mm_shuffle_epi8(
                           _mm_loadu_si128((const __m128i *) (p + 16 * i)),
                           swap);

            } else {
                /* w[t-16] + s0(w[t-15]) + w[t-7], then + s1(w[t-2]) */
                t = _mm_add_epi32(_mm_sha256msg1_epu32(m[i & 3],
                                                       m[(i + 1) & 3]),
                                  _mm_alignr_epi8(m[(i + 3) & 3],
                                                  m[(i + 2) & 3], 4));
                m[i & 3] = _mm_sha256msg2_epu32(t, m[(i + 3) & 3]);
            }

            t = _mm_add_epi32(m[i & 3], _mm_loadu_si128(
                                  (const __m128i *) &ngx_llm_sha256_k[4 * i]));
            st1 = _mm_sha256rnds2_epu32(st1, st0, t);
            st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(t, 0x0e));
        }

        st0 = _mm_add_epi32(st0, save0);
        st1 = _mm_add_epi32(st1, save1);
        p += 64;
    }

    t = _mm_shuffle_epi32(st0, 0x1b);                           /* FEBA */
    st1 = _mm_shuffle_epi32(st1, 0xb1);                         /* DCHG */
    st0 = _mm_blend_epi16(t, st1, 0xf0);                        /* DCBA */
    st1 = _mm_alignr_epi8(st1, t, 8);                           /* HGFE */

    _mm_storeu_si128((__m128i *) &ctx->state[0], st0);
    _mm_storeu_si128((__m128i *) &ctx->state[4], st1);
}

#endif


static void
ngx_llm_sha256_block(ngx_llm_sha256_t *ctx, const unsigned char *p)
{
    int       i;
    uint32_t  w[64], a, b, c, d, e, f, g, h, t1, t2, s0, s1;

    for (i = 0; i < 16; i++) {
        w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16
               | (uint32_t) p[4 * i + 2] << 8 | p[4 * i + 3];
    }

    for (i = 16; i < 64; i++) {
        s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }

    a = ctx->state[0];
    b = ctx->state[1];
    c = ctx->state[2];
    d = ctx->state[3];
    e = ctx->state[4];
    f = ctx->state[5];
    g = ctx->state[6];
    h = ctx->state[7];

    for (i = 0; i < 64; i++) {
        s1 = ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25);
        t1 = h + s1 + ((e & f) ^ (~e & g)) + ngx_llm_sha256_k[i] + w[i];
        s0 = ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22);
        t2 = s0 + ((a & b) ^ (a & c) ^ (b & c));

        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }

    ctx->state[0] += a;
    ctx->state[1] += b;
    ctx->state[2] += c;
    ctx->state[3] += d;
    ctx->state[4] += e;
    ctx->state[5] += f;
    ctx->state[6] += g;
    ctx->state[7] += h;
}


void
ngx_llm_sha256_update(ngx_llm_sha256_t *ctx, const void *data, size_t len)
{
    size_t                n;
    const unsigned char  *p;

    p = data;
    ctx->bytes += len;

    if (ctx->used) {
        n = 64 - ctx->used;
        n = n < len ? n : len;

        memcpy(ctx->block + ctx->used, p, n);
        ctx->used += n;
        p += n;
        len -= n;

        if (ctx->used < 64) {
            return;
        }

        ngx_llm_sha256_blocks(ctx, ctx->block, 1);
        ctx->used = 0;
    }

    if (len >= 64) {
        ngx_llm_sha256_blocks(ctx, p, len / 64);
        p += len & ~(size_t) 63;
        len &= 63;
    }

    memcpy(ctx->block, p, len);
    ctx->used = len;
}


void
ngx_llm_sha256_final(ngx_llm_sha256_t *ctx,
    unsigned char out[NGX_LLM_SHA256_LEN])
{
    int            i;
    uint64_t       bits;
    unsigned char  pad[72];
    size_t         n;

    bits = ctx->bytes * 8;

    n = (ctx->used < 56) ? 56 - ctx->used : 120 - ctx->used;

    memset(pad, 0, sizeof(pad));
    pad[0] = 0x80;

    for (i = 0; i < 8; i++) {
        pad[n + i] = (unsigned char) (bits >> (56 - 8 * i));
    }

    ngx_llm_sha256_update(ctx, pad, n + 8);

    for (i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char) (ctx->state[i] >> 24);
        out[4 * i + 1] = (unsigned char) (ctx->state[i] >> 16);
        out[4 * i + 2] = (unsigned char) (ctx->state[i] >> 8);
        out[4 * i + 3] = (unsigned char) ctx->state[i];
    }
}


int
ngx_llm_cache_key(const ngx_llm_request_t *req, const char *model,
    const unsigned char *tenant, size_t tenant_len, char *hex)
{
    const char        *dialect;
    ngx_llm_sha256_t   h;

    if (req->root == NULL) {
        /* ngx_llm_request_tree() was not called */
        return -1;
    }

    ngx_llm_key_begin(&h, "llm1", tenant, tenant_len);

    dialect = ngx_llm_dialect_name(req->dialect);
    ngx_llm_sha256_update(&h, dialect, strlen(dialect) + 1);
    ngx_llm_canon_string(&h, model != NULL && model[0] ? model : "auto");

    if (ngx_llm_canon(&h, req->root, 1, req->stream, NULL) != 0) {
        return -1;
    }

    ngx_llm_key_hex(&h, hex);

    return 0;
}


int
ngx_llm_cache_partition(const ngx_llm_request_t *req, const char *model,
    const unsigned char *tenant, size_t tenant_len, char *hex,
    const char **text, size_t *text_len)
{
    const char        *dialect;
    const cJSON       *last;
    ngx_llm_sha256_t   h;

    if (req->root == NULL) {
        return -1;
    }

    last = ngx_llm_last_text(req);

    if (last == NULL) {
        return 1;
    }

    ngx_llm_key_begin(&h, "llm2", tenant, tenant_len);

    dialect = ngx_llm_dialect_name(req->dialect);
    ngx_llm_sha256_update(&h, dialect, strlen(dialect) + 1);
    ngx_llm_canon_string(&h, model != NULL && model[0] ? model : "auto");

    if (ngx_llm_canon(&h, req->root, 1, req->stream, last) != 0) {
        return -1;
    }

    ngx_llm_key_hex(&h, hex);

    *text = last->valuestring;
    *text_len = strlen(last->valuestring);

    return 0;
}


int
ngx_llm_cache_key_body(const void *root, const char *endpoint,
    const char *model, const unsigned char *tenant, size_t tenant_len,
    char *hex)
{
    ngx_llm_sha256_t  h;

    ngx_llm_key_begin(&h, "llm3", tenant, tenant_len);

    ngx_llm_canon_string(&h, endpoint);
    ngx_llm_canon_string(&h, model != NULL ? model : "");

    if (ngx_llm_canon(&h, root, 1, -1, NULL) != 0) {
        return -1;
    }

    ngx_llm_key_hex(&h, hex);

    return 0;
}


/* length-prefixed parts: no two (tenant, rest) pairs collide */

static void
ngx_llm_key_begin(ngx_llm_sha256_t *h, const char *version,
    const unsigned char *tenant, size_t tenant_len)
{
    char  len[32];

    ngx_llm_sha256_init(h);

    snprintf(len, sizeof(len), "%s %zu:", version, tenant_len);
    ngx_llm_sha256_update(h, len, strlen(len));
    ngx_llm_sha256_update(h, tenant, tenant_len);
}


static void
ngx_llm_key_hex(ngx_llm_sha256_t *h, char *hex)
{
    int                  i;
    unsigned char        digest[NGX_LLM_SHA256_LEN];
    static const char    xdigit[] = "0123456789abcdef";

    ngx_llm_sha256_final(h, digest);

    for (i = 0; i < NGX_LLM_SHA256_LEN; i++) {
        hex[2 * i] = xdigit[digest[i] >> 4];
        hex[2 * i + 1] = xdigit[digest[i] & 0xf];
    }
}


/*
 * The text a similar prompt is compared on: the last message when it is
 * the user's and plain text, or a generate request's prompt.  NULL when
 * the request is not text only: images anywhere, tools, a format schema,
 * content in parts.
 */

static const cJSON *
ngx_llm_last_text(const ngx_llm_request_t *req)
{
    const cJSON         *root, *item, *msgs, *msg, *role;
    const char *const   *k;

    static const char  *not_text[] = {
        "tools", "functions", "tool_choice", "format", "response_format",
        "images", "suffix", NULL
    };

    root = req->root;

    if (!cJSON_IsObject(root)) {
        return NULL;
    }

    for (k = not_text; *k; k++) {
        item = cJSON_GetObjectItemCaseSensitive(root, *k);

        if (item != NULL && !cJSON_IsNull(item)
            && !(cJSON_IsString(item) && item->valuestring[0] == '\0'))
        {
            return NULL;
        }
    }

    msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");

    if (msgs == NULL) {
        item = cJSON_GetObjectItemCaseSensitive(root, "prompt");
        return cJSON_IsString(item) ? item : NULL;
    }

    if (!cJSON_IsArray(msgs)) {
        return NULL;
    }

    item = NULL;

    for (msg = msgs->child; msg != NULL; msg = msg->next) {
        if (!cJSON_IsObject(msg)
            || cJSON_GetObjectItemCaseSensitive(msg, "images") != NULL
            || cJSON_GetObjectItemCaseSensitive(msg, "tool_calls") != NULL)
        {
            return NULL;
        }

        item = cJSON_GetObjectItemCaseSensitive(msg, "content");

        if (!cJSON_IsString(item)) {
            return NULL;
        }

        role = cJSON_GetObjectItemCaseSensitive(msg, "role");

        if (msg->next == NULL
            && !(cJSON_IsString(role)
                 && strcmp(role->valuestring, "user") == 0))
        {
            return NULL;
        }
    }

    return item;
}


static int
ngx_llm_canon(ngx_llm_sha256_t *h, const cJSON *item, int top, int stream,
    const cJSON *skip)
{
    int           n, i;
    char          num[64];
    const cJSON  *child, **keys;

    if (cJSON_IsObject(item)) {
        n = 0;

        for (child = item->child; child != NULL; child = child->next) {
            n++;
        }

        keys = malloc((n ? n : 1) * sizeof(cJSON *));
        if (keys == NULL) {
            return -1;
        }

        n = 0;

        for (child = item->child; child != NULL; child = child->next) {

            if (top && child->string != NULL
                && (strcmp(child->string, "keep_alive") == 0
                    || strcmp(child->string, "stream") == 0
                    || strcasecmp(child->string, "model") == 0))
            {
                /* replaced by the effective values, or irrelevant */
                continue;
            }

            keys[n++] = child;
        }

        qsort(keys, n, sizeof(cJSON *), ngx_llm_cmp_keys);

        ngx_llm_sha256_update(h, "{", 1);

        if (top && stream >= 0) {
            ngx_llm_sha256_update(h, stream ? "\"stream\":true,"
                                            : "\"stream\":false,",
                                  stream ? 14 : 15);
        }

        for (i = 0; i < n; i++) {
            if (i) {
                ngx_llm_sha256_update(h, ",", 1);
            }

            ngx_llm_canon_string(h, keys[i]->string ? keys[i]->string : "");
            ngx_llm_sha256_update(h, ":", 1);

            if (ngx_llm_canon(h, keys[i], 0, 0, skip) != 0) {
                free(keys);
                return -1;
            }
        }

        free(keys);
        ngx_llm_sha256_update(h, "}", 1);

        return 0;
    }

    if (cJSON_IsArray(item)) {
        ngx_llm_sha256_update(h, "[", 1);

        for (child = item->child; child != NULL; child = child->next) {
            if (child != item->child) {
                ngx_llm_sha256_update(h, ",", 1);
            }

            if (ngx_llm_canon(h, child, 0, 0, skip) != 0) {
                return -1;
            }
        }

        ngx_llm_sha256_update(h, "]", 1);

        return 0;
    }

    if (item == skip) {
        /* the compared text: the partition holds everything else */
        ngx_llm_sha256_update(h, "?", 1);

    } else if (cJSON_IsString(item)) {
        ngx_llm_canon_string(h, item->valuestring);

    } else if (cJSON_IsNumber(item)) {
        n = snprintf(num, sizeof(num), "%.17g", item->valuedouble);
        ngx_llm_sha256_update(h, num, n);

    } else if (cJSON_IsTrue(item)) {
        ngx_llm_sha256_update(h, "true", 4);

    } else if (cJSON_IsFalse(item)) {
        ngx_llm_sha256_update(h, "false", 5);

    } else {
        ngx_llm_sha256_update(h, "null", 4);
    }

    return 0;
}


/* a string as its length and bytes: no escaping needed to be unique */

static void
ngx_llm_canon_string(ngx_llm_sha256_t *h, const char *s)
{
    char    len[24], *p;
    size_t  n, v;

    n = strlen(s);

    /* '"', the length in decimal, ':' (no printf: this is per string) */

    p = len + sizeof(len);
    *--p = ':';
    v = n;

    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v);

    *--p = '"';

    ngx_llm_sha256_update(h, p, len + sizeof(len) - p);
    ngx_llm_sha256_update(h, s, n);
}


static int
ngx_llm_cmp_keys(const void *a, const void *b)
{
    const cJSON  *x = *(const cJSON **) a;
    const cJSON  *y = *(const cJSON **) b;

    return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}
