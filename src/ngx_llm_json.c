
/*
 * Copyright (C) ngx_llm_router authors
 */


#include <stdint.h>
#include <string.h>

#if (defined __SSE2__)
#include <emmintrin.h>
#endif

#include "ngx_llm_json.h"


#define NGX_LLM_JSON_TEXT_BUF  256


static const unsigned char *ngx_llm_json_stop(const unsigned char *p,
    const unsigned char *end, unsigned *high);
static int ngx_llm_json_hex4(const unsigned char *p, unsigned *code);
static int ngx_llm_json_escape_len(const unsigned char *p,
    const unsigned char *end, unsigned *code);
static size_t ngx_llm_json_utf8(unsigned code, unsigned char *out);


int
ngx_llm_json_ws_run(ngx_llm_json_t *j)
{
    const unsigned char  *p, *end;

    for (p = j->p, end = j->end; p < end; p++) {

        switch (*p) {

        case ' ':
        case '\t':
        case '\r':
        case '\n':
            continue;
        }

        j->p = p;

        return *p;
    }

    j->p = p;

    return -1;
}


/*
 * The first byte at or after p that ends a run of plain string bytes: a
 * quote, a backslash or a control character; end if none.  The raw bytes
 * passed over are or'ed into *high.
 */

#if (defined __SSE2__)

/*
 * A byte per stop in 16 bytes: x ^ 0x02 is at most 0x20 for a control
 * character (0x00..0x1f ^ 0x02 stays there) and for '"' alone (0x22 ^
 * 0x02 is 0x20), then the backslash
 */

static inline __m128i
ngx_llm_json_stops(__m128i x)
{
    __m128i  v;

    v = _mm_xor_si128(x, _mm_set1_epi8(0x02));

    return _mm_or_si128(_mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x20)),
                                       _mm_set1_epi8(0x20)),
                        _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
}

#endif


static const unsigned char *
ngx_llm_json_stop(const unsigned char *p, const unsigned char *end,
    unsigned *high)
{
    unsigned  c;

#if (defined __SSE2__)
    int       bits;
    __m128i   x, a, b, d, seen;

    seen = _mm_setzero_si128();

    /* a short string ends in its first 16 bytes */

    if (end - p >= 16) {
        x = _mm_loadu_si128((const __m128i *) p);
        bits = _mm_movemask_epi8(ngx_llm_json_stops(x));

        if (bits) {
            /* the bytes before the stop */
            *high |= _mm_movemask_epi8(x) & (bits ^ (bits - 1));
            return p + __builtin_ctz(bits);
        }

        seen = x;
        p += 16;
    }

    /* a long one, 64 bytes at a time; the block with the stop, below */

    while (end - p >= 64) {
        x = _mm_loadu_si128((const __m128i *) p);
        a = _mm_loadu_si128((const __m128i *) (p + 16));
        b = _mm_loadu_si128((const __m128i *) (p + 32));
        d = _mm_loadu_si128((const __m128i *) (p + 48));

        if (_mm_movemask_epi8(
                _mm_or_si128(_mm_or_si128(ngx_llm_json_stops(x),
                                          ngx_llm_json_stops(a)),
                             _mm_or_si128(ngx_llm_json_stops(b),
                                          ngx_llm_json_stops(d)))))
        {
            break;
        }

        seen = _mm_or_si128(seen, _mm_or_si128(_mm_or_si128(x, a),
                                               _mm_or_si128(b, d)));
        p += 64;
    }

    while (end - p >= 16) {
        x = _mm_loadu_si128((const __m128i *) p);
        bits = _mm_movemask_epi8(ngx_llm_json_stops(x));

        if (bits) {
            *high |= _mm_movemask_epi8(x) & (bits ^ (bits - 1));
            *high |= _mm_movemask_epi8(seen);
            return p + __builtin_ctz(bits);
        }

        seen = _mm_or_si128(seen, x);
        p += 16;
    }

    *high |= _mm_movemask_epi8(seen);
#endif

    for ( /* void */ ; p < end; p++) {
        c = *p;

        if (c == '"' || c == '\\' || c < 0x20) {
            return p;
        }

        *high |= c & 0x80;
    }

    return p;
}


static int
ngx_llm_json_hex4(const unsigned char *p, unsigned *code)
{
    unsigned  i, c, v;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            c -= '0';

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            c = (c | 0x20) - 'a' + 10;

        } else {
            return -1;
        }

        v = (v << 4) | c;
    }

    *code = v;

    return 0;
}


/*
 * The escape at p (a backslash): its length, and in *code the character
 * it stands for; 0 for what cJSON would reject, and for \u0000 (cJSON
 * cuts the string there: the tree decides such strings).
 */

static int
ngx_llm_json_escape_len(const unsigned char *p, const unsigned char *end,
    unsigned *code)
{
    unsigned  lo;

    if (end - p < 2) {
        return 0;
    }

    switch (p[1]) {
    case '"':  *code = '"'; return 2;
    case '\\': *code = '\\'; return 2;
    case '/':  *code = '/'; return 2;
    case 'b':  *code = '\b'; return 2;
    case 'f':  *code = '\f'; return 2;
    case 'n':  *code = '\n'; return 2;
    case 'r':  *code = '\r'; return 2;
    case 't':  *code = '\t'; return 2;
    case 'u':  break;
    default:   return 0;
    }

    if (end - p < 6 || ngx_llm_json_hex4(p + 2, code) != 0 || *code == 0) {
        return 0;
    }

    if (*code >= 0xdc00 && *code <= 0xdfff) {
        return 0;
    }

    if (*code < 0xd800 || *code > 0xdbff) {
        return 6;
    }

    /* a high surrogate: a low one must follow */

    if (end - p < 12 || p[6] != '\\' || p[7] != 'u'
        || ngx_llm_json_hex4(p + 8, &lo) != 0
        || lo < 0xdc00 || lo > 0xdfff)
    {
        return 0;
    }

    *code = 0x10000 + (((*code & 0x3ff) << 10) | (lo & 0x3ff));

    return 12;
}


int
ngx_llm_json_string(ngx_llm_json_t *j, ngx_llm_json_str_t *s)
{
    int                   n;
    unsigned              high, code;
    const unsigned char  *p;

    p = j->p + 1;
    high = 0;

    s->start = p;
    s->escaped = 0;

    for ( ;; ) {
        p = ngx_llm_json_stop(p, j->end, &high);

        if (p == j->end) {
            return -1;
        }

        switch (*p) {

        case '"':
            s->end = p;
            s->ascii = (high == 0);
            j->p = p + 1;
            return 0;

        case '\\':
            n = ngx_llm_json_escape_len(p, j->end, &code);

            if (n == 0) {
                return -1;
            }

            s->escaped = 1;
            p += n;
            break;

        case '\t':
        case '\r':
        case '\n':
            /* raw in a string: cJSON takes them */
            p++;
            break;

        default:
            return -1;
        }
    }
}


int
ngx_llm_json_number(ngx_llm_json_t *j, const unsigned char **start,
    size_t *len)
{
    const unsigned char  *p, *end;

    p = j->p;
    end = j->end;

    *start = p;

    if (p < end && *p == '-') {
        p++;
    }

    if (p == end || *p < '0' || *p > '9') {
        return -1;
    }

    if (*p == '0') {
        p++;

    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && *p == '.') {
        if (++p == end || *p < '0' || *p > '9') {
            return -1;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == end || *p < '0' || *p > '9') {
            return -1;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    *len = p - *start;

    if (*len > 63) {
        return -1;
    }

    j->p = p;

    return 0;
}


int
ngx_llm_json_skip(ngx_llm_json_t *j)
{
    int                   rc;
    size_t                len;
    unsigned              n;
    ngx_llm_json_str_t    s;
    const unsigned char  *start;

    switch (ngx_llm_json_ws(j)) {

    case '"':
        return ngx_llm_json_string(j, &s);

    case '{':
        if (ngx_llm_json_open(j, '{') != 0) {
            return -1;
        }

        n = 0;

        while ((rc = ngx_llm_json_more(j, '}', &n)) == 1) {
            if (ngx_llm_json_key(j, &s) != 0 || ngx_llm_json_skip(j) != 0) {
                return -1;
            }
        }

        return rc;

    case '[':
        if (ngx_llm_json_open(j, '[') != 0) {
            return -1;
        }

        n = 0;

        while ((rc = ngx_llm_json_more(j, ']', &n)) == 1) {
            if (ngx_llm_json_skip(j) != 0) {
                return -1;
            }
        }

        return rc;

    case 't':
        return ngx_llm_json_literal(j, "true", 4) ? 0 : -1;

    case 'f':
        return ngx_llm_json_literal(j, "false", 5) ? 0 : -1;

    case 'n':
        return ngx_llm_json_literal(j, "null", 4) ? 0 : -1;

    default:
        return ngx_llm_json_number(j, &start, &len);
    }
}


int
ngx_llm_json_text(const ngx_llm_json_str_t *s, ngx_llm_json_text_pt fn,
    void *data)
{
    int                   n;
    size_t                used;
    unsigned              code;
    unsigned char         buf[NGX_LLM_JSON_TEXT_BUF];
    const unsigned char  *p, *run;

    if (!s->escaped) {
        if (!s->ascii && !ngx_llm_utf8_valid(s->start, s->end - s->start)) {
            return -1;
        }

        fn(data, s->start, s->end - s->start);
        return 0;
    }

    /* runs of raw bytes and decoded escapes, gathered in buf */

    used = 0;
    p = s->start;

    while (p < s->end) {
        run = p;

        while (p < s->end && *p != '\\') {
            p++;
        }

        if (p > run) {
            if (!s->ascii && !ngx_llm_utf8_valid(run, p - run)) {
                return -1;
            }

            if ((size_t) (p - run) > NGX_LLM_JSON_TEXT_BUF - used) {
                if (used) {
                    fn(data, buf, used);
                    used = 0;
                }

                fn(data, run, p - run);

            } else {
                memcpy(buf + used, run, p - run);
                used += p - run;
            }
        }

        if (p == s->end) {
            break;
        }

        n = ngx_llm_json_escape_len(p, s->end, &code);
        p += n;

        if (NGX_LLM_JSON_TEXT_BUF - used < 4) {
            fn(data, buf, used);
            used = 0;
        }

        used += ngx_llm_json_utf8(code, buf + used);
    }

    if (used) {
        fn(data, buf, used);
    }

    return 0;
}


static size_t
ngx_llm_json_utf8(unsigned code, unsigned char *out)
{
    if (code < 0x80) {
        out[0] = (unsigned char) code;
        return 1;
    }

    if (code < 0x800) {
        out[0] = (unsigned char) (0xc0 | (code >> 6));
        out[1] = (unsigned char) (0x80 | (code & 0x3f));
        return 2;
    }

    if (code < 0x10000) {
        out[0] = (unsigned char) (0xe0 | (code >> 12));
        out[1] = (unsigned char) (0x80 | ((code >> 6) & 0x3f));
        out[2] = (unsigned char) (0x80 | (code & 0x3f));
        return 3;
    }

    out[0] = (unsigned char) (0xf0 | (code >> 18));
    out[1] = (unsigned char) (0x80 | ((code >> 12) & 0x3f));
    out[2] = (unsigned char) (0x80 | ((code >> 6) & 0x3f));
    out[3] = (unsigned char) (0x80 | (code & 0x3f));
    return 4;
}


int
ngx_llm_utf8_valid(const unsigned char *p, size_t len)
{
    unsigned int          c, min, n;
    const unsigned char  *end;

    end = p + len;

    while (p < end) {

        c = *p++;

        if (c < 0x80) {
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            min = 0x80;
            c &= 0x1f;

        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            min = 0x800;
            c &= 0x0f;

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            min = 0x10000;
            c &= 0x07;

        } else {
            return 0;
        }

        if ((size_t) (end - p) < n) {
            return 0;
        }

        while (n--) {
            if ((*p & 0xc0) != 0x80) {
                return 0;
            }

            c = (c << 6) | (*p++ & 0x3f);
        }

        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


size_t
ngx_llm_json_escape(char *dst, const char *src, size_t len)
{
    char                 *d;
    unsigned char         c;
    static const char     hex[] = "0123456789abcdef";

    d = dst;

    while (len--) {
        c = (unsigned char) *src++;

        if (c == '"' || c == '\\') {
            *d++ = '\\';
            *d++ = (char) c;

        } else if (c < 0x20) {
            *d++ = '\\';
            *d++ = 'u';
            *d++ = '0';
            *d++ = '0';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 0xf];

        } else {
            *d++ = (char) c;
        }
    }

    return d - dst;
}
