
/*
 * Copyright (C) ngx_llm_router authors
 *
 * A GPU's reading from an exporter's Prometheus text page.  The page is
 * read line by line, in place, never copied: "#" lines and blank lines
 * are skipped, every other line must be a sample,
 *
 *     name [{label="value",...}] value [timestamp]
 *
 * or the whole page is refused (HTML, JSON, a truncated answer).  Of the
 * samples only the metric names below are kept, and only for one GPU,
 * the one whose device label (the first of gpu, gpu_id, card, device,
 * UUID, gpu_uuid, uuid it carries) is the one asked for, or else the
 * first one the page names.  Label values are compared as written,
 * escapes included.
 *
 *   metric                          exporter                unit
 *   gpu_used_vram                   device-metrics-exporter MB (2^20)
 *   gpu_total_vram                                          MB
 *   gpu_free_vram                   (used = total - free)   MB
 *   gpu_gfx_activity                                        %
 *   gpu_edge_temperature            (else junction)         Celsius
 *   gpu_junction_temperature                                Celsius
 *   gpu_power_usage                 (else package power)    W
 *   gpu_package_power, gpu_average_package_power            W
 *   DCGM_FI_DEV_FB_USED             dcgm-exporter           MiB
 *   DCGM_FI_DEV_FB_TOTAL            (else used + free       MiB
 *   DCGM_FI_DEV_FB_FREE              + reserved)            MiB
 *   DCGM_FI_DEV_FB_RESERVED                                 MiB
 *   DCGM_FI_DEV_GPU_UTIL                                    %
 *   DCGM_FI_DEV_GPU_TEMP                                    Celsius
 *   DCGM_FI_DEV_POWER_USAGE                                 W
 *   node_drm_memory_vram_used_bytes node_exporter (drm)     bytes
 *   node_drm_memory_vram_size_bytes                         bytes
 *   node_drm_gpu_busy_percent                               %
 *
 * Values that are not finite, negative, or beyond 2^63 once in bytes,
 * millidegrees or microwatts are left out, as is a busy above 100 %.
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_llm_prom_parse.h"


#define NGX_LLM_PROM_MIB      1048576.0
#define NGX_LLM_PROM_MAX      9.2e18

#define NGX_LLM_PROM_BLANK(c)  ((c) == ' ' || (c) == '\t')
#define NGX_LLM_PROM_ALPHA(c)                                                 \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || (c) == '_')
#define NGX_LLM_PROM_DIGIT(c)  ((c) >= '0' && (c) <= '9')


typedef enum {
    NGX_LLM_PROM_F_USED = 0,
    NGX_LLM_PROM_F_TOTAL,
    NGX_LLM_PROM_F_FREE,
    NGX_LLM_PROM_F_RESERVED,
    NGX_LLM_PROM_F_BUSY,
    NGX_LLM_PROM_F_TEMP,
    NGX_LLM_PROM_F_POWER,
    NGX_LLM_PROM_F_N
} ngx_llm_prom_field_e;


typedef struct {
    const char             *name;
    ngx_llm_prom_field_e    field;
    int                     rank;      /* the lowest of a field's wins */
    double                  scale;     /* to bytes, %, milli-C, micro-W */
    const char             *exporter;
} ngx_llm_prom_metric_t;


#define NGX_LLM_PROM_LABELS   7

/* one sample line, pointing into the page */
typedef struct {
    const char             *name;
    size_t                  name_len;
    const char             *label[NGX_LLM_PROM_LABELS];   /* device ones */
    size_t                  label_len[NGX_LLM_PROM_LABELS];
    double                  value;
} ngx_llm_prom_sample_t;


typedef struct {
    double                  value[NGX_LLM_PROM_F_N];
    int                     rank[NGX_LLM_PROM_F_N];       /* -1: none */
    const char             *exporter[NGX_LLM_PROM_F_N];
    int                     chosen;    /* the first GPU's label is known */
    int                     id_label;  /* -1: a sample without one */
    const char             *id;
    size_t                  id_len;
} ngx_llm_prom_state_t;


static int ngx_llm_prom_line(const char *p, const char *end,
    ngx_llm_prom_sample_t *s);
static int ngx_llm_prom_value(const char *p, size_t len, double *value);
static int ngx_llm_prom_same(const char *a, size_t alen, const char *b,
    size_t blen);
static void ngx_llm_prom_sample(ngx_llm_prom_state_t *st,
    ngx_llm_prom_sample_t *s, const char *device, size_t device_len);


static const char  ngx_llm_prom_amd[] = "device-metrics-exporter";
static const char  ngx_llm_prom_dcgm[] = "dcgm-exporter";
static const char  ngx_llm_prom_node[] = "node_exporter";


static const ngx_llm_prom_metric_t  ngx_llm_prom_metrics[] = {

    { "gpu_used_vram", NGX_LLM_PROM_F_USED, 0, NGX_LLM_PROM_MIB,
      ngx_llm_prom_amd },
    { "gpu_total_vram", NGX_LLM_PROM_F_TOTAL, 0, NGX_LLM_PROM_MIB,
      ngx_llm_prom_amd },
    { "gpu_free_vram", NGX_LLM_PROM_F_FREE, 0, NGX_LLM_PROM_MIB,
      ngx_llm_prom_amd },
    { "gpu_gfx_activity", NGX_LLM_PROM_F_BUSY, 0, 1, ngx_llm_prom_amd },
    { "gpu_edge_temperature", NGX_LLM_PROM_F_TEMP, 0, 1000,
      ngx_llm_prom_amd },
    { "gpu_junction_temperature", NGX_LLM_PROM_F_TEMP, 1, 1000,
      ngx_llm_prom_amd },
    { "gpu_power_usage", NGX_LLM_PROM_F_POWER, 0, 1e6, ngx_llm_prom_amd },
    { "gpu_package_power", NGX_LLM_PROM_F_POWER, 1, 1e6, ngx_llm_prom_amd },
    { "gpu_average_package_power", NGX_LLM_PROM_F_POWER, 2, 1e6,
      ngx_llm_prom_amd },

    { "DCGM_FI_DEV_FB_USED", NGX_LLM_PROM_F_USED, 0, NGX_LLM_PROM_MIB,
      ngx_llm_prom_dcgm },
    { "DCGM_FI_DEV_FB_TOTAL", NGX_LLM_PROM_F_TOTAL, 0, NGX_LLM_PROM_MIB,
      ngx_llm_prom_dcgm },
    { "DCGM_FI_DEV_FB_FREE", NGX_LLM_PROM_F_FREE, 0, NGX_LLM_PROM_MIB,
      ngx_llm_prom_dcgm },
    { "DCGM_FI_DEV_FB_RESERVED", NGX_LLM_PROM_F_RESERVED, 0,
      NGX_LLM_PROM_MIB, ngx_llm_prom_dcgm },
    { "DCGM_FI_DEV_GPU_UTIL", NGX_LLM_PROM_F_BUSY, 0, 1, ngx_llm_prom_dcgm },
    { "DCGM_FI_DEV_GPU_TEMP", NGX_LLM_PROM_F_TEMP, 0, 1000,
      ngx_llm_prom_dcgm },
    { "DCGM_FI_DEV_POWER_USAGE", NGX_LLM_PROM_F_POWER, 0, 1e6,
      ngx_llm_prom_dcgm },

    { "node_drm_memory_vram_used_bytes", NGX_LLM_PROM_F_USED, 0, 1,
      ngx_llm_prom_node },
    { "node_drm_memory_vram_size_bytes", NGX_LLM_PROM_F_TOTAL, 0, 1,
      ngx_llm_prom_node },
    { "node_drm_gpu_busy_percent", NGX_LLM_PROM_F_BUSY, 0, 1,
      ngx_llm_prom_node },

    { NULL, 0, 0, 0, NULL }
};


/* the labels naming a GPU, in the order one is taken as its name */
static const char  *ngx_llm_prom_device_labels[NGX_LLM_PROM_LABELS] = {
    "gpu", "gpu_id", "card", "device", "UUID", "gpu_uuid", "uuid"
};


int
ngx_llm_prom_gpu(const char *text, size_t len, const char *device,
    size_t device_len, ngx_llm_prom_gpu_t *gpu, const char **err)
{
    int                     i;
    double                  used, total, v;
    const char             *p, *last, *eol, *end;
    ngx_llm_prom_state_t    st;
    ngx_llm_prom_sample_t   s;

    memset(gpu, 0, sizeof(ngx_llm_prom_gpu_t));
    memset(&st, 0, sizeof(ngx_llm_prom_state_t));

    for (i = 0; i < NGX_LLM_PROM_F_N; i++) {
        st.rank[i] = -1;
    }

    p = text;
    last = text + len;

    while (p < last) {
        eol = memchr(p, '\n', last - p);

        if (eol == NULL) {
            eol = last;
        }

        end = eol;

        if (end > p && end[-1] == '\r') {
            end--;
        }

        while (p < end && NGX_LLM_PROM_BLANK(*p)) {
            p++;
        }

        if (p < end && *p != '#') {

            if (ngx_llm_prom_line(p, end, &s) != 0) {
                *err = "not a Prometheus text page";
                return -1;
            }

            ngx_llm_prom_sample(&st, &s, device, device_len);
        }

        p = eol + 1;
    }

#define HAVE(f)  (st.rank[NGX_LLM_PROM_F_ ## f] >= 0)
#define VALUE(f)  st.value[NGX_LLM_PROM_F_ ## f]

    if (HAVE(USED)) {
        used = VALUE(USED);

    } else if (HAVE(TOTAL) && HAVE(FREE) && VALUE(FREE) <= VALUE(TOTAL)) {
        used = VALUE(TOTAL) - VALUE(FREE);

    } else {
        used = -1;
    }

    if (HAVE(TOTAL)) {
        total = VALUE(TOTAL);

    } else if (HAVE(USED) && HAVE(FREE)) {
        total = VALUE(USED) + VALUE(FREE)
                + (HAVE(RESERVED) ? VALUE(RESERVED) : 0);

    } else {
        total = -1;
    }

    if (used < 0 || total < 0) {
        *err = device_len ? "no VRAM metrics for this device on the page"
                          : "no VRAM metrics on the page";
        return -1;
    }

    if (total < 1 || used > total || total >= NGX_LLM_PROM_MAX) {
        *err = "VRAM numbers out of range";
        return -1;
    }

    gpu->used = (uint64_t) used;
    gpu->total = (uint64_t) total;
    gpu->exporter = HAVE(USED) ? st.exporter[NGX_LLM_PROM_F_USED]
                               : st.exporter[NGX_LLM_PROM_F_TOTAL];

    if (HAVE(BUSY) && VALUE(BUSY) <= 100) {
        gpu->busy = (uint64_t) (VALUE(BUSY) + 0.5);
        gpu->have |= NGX_LLM_PROM_BUSY;
    }

    if (HAVE(TEMP)) {
        v = VALUE(TEMP);
        gpu->temp = (uint64_t) (v + 0.5);
        gpu->have |= NGX_LLM_PROM_TEMP;
    }

    if (HAVE(POWER)) {
        v = VALUE(POWER);
        gpu->power = (uint64_t) (v + 0.5);
        gpu->have |= NGX_LLM_PROM_POWER;
    }

#undef HAVE
#undef VALUE

    return 0;
}


/* a sample line, from its first character to its end; 0 or -1 */

static int
ngx_llm_prom_line(const char *p, const char *end, ngx_llm_prom_sample_t *s)
{
    int          i;
    size_t       n;
    const char  *name, *v;

    memset(s, 0, sizeof(ngx_llm_prom_sample_t));

    if (!NGX_LLM_PROM_ALPHA(*p) && *p != ':') {
        return -1;
    }

    s->name = p;

    while (p < end
           && (NGX_LLM_PROM_ALPHA(*p) || NGX_LLM_PROM_DIGIT(*p) || *p == ':'))
    {
        p++;
    }

    s->name_len = p - s->name;

    while (p < end && NGX_LLM_PROM_BLANK(*p)) {
        p++;
    }

    if (p < end && *p == '{') {
        p++;

        for ( ;; ) {
            while (p < end && NGX_LLM_PROM_BLANK(*p)) {
                p++;
            }

            if (p == end) {
                return -1;
            }

            if (*p == '}') {
                p++;
                break;
            }

            name = p;

            if (!NGX_LLM_PROM_ALPHA(*p)) {
                return -1;
            }

            while (p < end
                   && (NGX_LLM_PROM_ALPHA(*p) || NGX_LLM_PROM_DIGIT(*p)))
            {
                p++;
            }

            n = p - name;

            while (p < end && NGX_LLM_PROM_BLANK(*p)) {
                p++;
            }

            if (p == end || *p++ != '=') {
                return -1;
            }

            while (p < end && NGX_LLM_PROM_BLANK(*p)) {
                p++;
            }

            if (p == end || *p++ != '"') {
                return -1;
            }

            v = p;

            while (p < end && *p != '"') {
                if (*p == '\\') {
                    p++;

                    if (p == end) {
                        return -1;
                    }
                }

                p++;
            }

            if (p == end) {
                return -1;
            }

            for (i = 0; i < NGX_LLM_PROM_LABELS; i++) {
                if (ngx_llm_prom_same(name, n, ngx_llm_prom_device_labels[i],
                                      strlen(ngx_llm_prom_device_labels[i])))
                {
                    s->label[i] = v;
                    s->label_len[i] = p - v;
                    break;
                }
            }

            p++;

            while (p < end && NGX_LLM_PROM_BLANK(*p)) {
                p++;
            }

            if (p < end && *p == ',') {
                p++;
                continue;
            }

            if (p < end && *p == '}') {
                p++;
                break;
            }

            return -1;
        }

        if (p == end || !NGX_LLM_PROM_BLANK(*p)) {
            return -1;
        }

    } else if (p == s->name + s->name_len) {
        /* no blank after the name */
        return -1;
    }

    while (p < end && NGX_LLM_PROM_BLANK(*p)) {
        p++;
    }

    v = p;

    while (p < end && !NGX_LLM_PROM_BLANK(*p)) {
        p++;
    }

    if (ngx_llm_prom_value(v, p - v, &s->value) != 0) {
        return -1;
    }

    /* an optional timestamp, in milliseconds */

    while (p < end && NGX_LLM_PROM_BLANK(*p)) {
        p++;
    }

    if (p < end && *p == '-') {
        p++;
    }

    v = p;

    while (p < end && NGX_LLM_PROM_DIGIT(*p)) {
        p++;
    }

    if (p == v && p < end) {
        return -1;
    }

    while (p < end && NGX_LLM_PROM_BLANK(*p)) {
        p++;
    }

    return p == end ? 0 : -1;
}


/* a float as Prometheus writes one (NaN, +Inf, -Inf included) */

static int
ngx_llm_prom_value(const char *p, size_t len, double *value)
{
    char    buf[64], *e;
    size_t  i;

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        /* strtod() would take hexadecimal and leading blanks too */
        if (p[i] == 'x' || p[i] == 'X' || p[i] == '\0') {
            return -1;
        }

        buf[i] = p[i];
    }

    buf[len] = '\0';

    *value = strtod(buf, &e);

    return (e == buf + len) ? 0 : -1;
}


static int
ngx_llm_prom_same(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}


/* keeps the sample if it is a known metric of the GPU asked for */

static void
ngx_llm_prom_sample(ngx_llm_prom_state_t *st, ngx_llm_prom_sample_t *s,
    const char *device, size_t device_len)
{
    int                           i, id;
    double                        v;
    const ngx_llm_prom_metric_t  *m;

    for (m = ngx_llm_prom_metrics; m->name; m++) {
        if (ngx_llm_prom_same(s->name, s->name_len, m->name,
                              strlen(m->name)))
        {
            break;
        }
    }

    if (m->name == NULL) {
        return;
    }

    if (device_len) {
        for (i = 0; i < NGX_LLM_PROM_LABELS; i++) {
            if (s->label[i] != NULL
                && ngx_llm_prom_same(s->label[i], s->label_len[i], device,
                                     device_len))
            {
                break;
            }
        }

        if (i == NGX_LLM_PROM_LABELS) {
            return;
        }

    } else {
        for (id = 0; id < NGX_LLM_PROM_LABELS; id++) {
            if (s->label[id] != NULL) {
                break;
            }
        }

        if (id == NGX_LLM_PROM_LABELS) {
            id = -1;
        }

        if (!st->chosen) {
            st->chosen = 1;
            st->id_label = id;
            st->id = (id >= 0) ? s->label[id] : NULL;
            st->id_len = (id >= 0) ? s->label_len[id] : 0;

        } else if (id != st->id_label
                   || (id >= 0
                       && !ngx_llm_prom_same(s->label[id], s->label_len[id],
                                             st->id, st->id_len)))
        {
            return;
        }
    }

    v = s->value * m->scale;

    if (isnan(v) || v < 0 || v >= NGX_LLM_PROM_MAX) {
        return;
    }

    if (st->rank[m->field] >= 0 && st->rank[m->field] <= m->rank) {
        return;
    }

    st->value[m->field] = v;
    st->rank[m->field] = m->rank;
    st->exporter[m->field] = m->exporter;
}
