
/*
 * Copyright (C) ngx_llm_router authors
 *
 * The Prometheus text exposition (format 0.0.4), written by walking the
 * metrics table: for each row, its HELP and TYPE lines, then one line per
 * series, outer labels first, inner labels in the row's order, a
 * histogram's cumulative buckets, sum and count.  Read from the shared
 * zone without any lock.
 */


#include "ngx_http_llm_prom.h"
#include "ngx_http_llm_out.h"
#include "ngx_http_llm_table.h"


static void ngx_http_llm_prom_metric(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf, ngx_http_llm_metric_t *m);
static void ngx_http_llm_prom_series(ngx_http_llm_out_t *out,
    ngx_http_llm_series_t *s, ngx_uint_t depth);
static void ngx_http_llm_prom_hist(ngx_http_llm_out_t *out,
    ngx_http_llm_series_t *s);
static void ngx_http_llm_prom_labels(ngx_http_llm_out_t *out,
    ngx_http_llm_series_t *s, ngx_uint_t depth, char *suffix, char *le);


ngx_int_t
ngx_http_llm_prom_handler(ngx_http_request_t *r)
{
    ngx_http_llm_out_t         out;
    ngx_http_llm_metric_t     *m;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);

    ngx_http_llm_out_init(&out, r->pool);

    for (m = ngx_http_llm_metrics; m->name; m++) {

        if (!(m->flags & NGX_HTTP_LLM_F_JSON)
            && ngx_http_llm_metric_shown(lmcf, m))
        {
            ngx_http_llm_prom_metric(&out, lmcf, m);
        }
    }

    return ngx_http_llm_out_send(r, &out,
                                 "text/plain; version=0.0.4; charset=utf-8");
}


static void
ngx_http_llm_prom_metric(ngx_http_llm_out_t *out,
    ngx_http_llm_main_conf_t *lmcf, ngx_http_llm_metric_t *m)
{
    ngx_uint_t             k;
    ngx_http_llm_series_t  s;

    ngx_http_llm_out_printf(out, "# HELP %s %s\n# TYPE %s %s\n",
                            m->name, m->help,
                            m->name, ngx_http_llm_type_names[m->type]);

    for (k = 0; ngx_http_llm_series_at(lmcf, m, k, &s); k++) {

        if (m->type == NGX_HTTP_LLM_HISTOGRAM) {
            ngx_http_llm_prom_hist(out, &s);

        } else {
            ngx_http_llm_prom_series(out, &s, 0);
        }
    }
}


/* every value of the inner labels from depth on, then the line */

static void
ngx_http_llm_prom_series(ngx_http_llm_out_t *out, ngx_http_llm_series_t *s,
    ngx_uint_t depth)
{
    ngx_uint_t              i, n;
    ngx_http_llm_value_t    v;
    ngx_http_llm_label_t   *l;
    ngx_http_llm_metric_t  *m;

    m = s->metric;

    if (depth < NGX_HTTP_LLM_MAX_LABELS && m->labels[depth] != NULL) {
        l = m->labels[depth];
        n = ngx_http_llm_label_count(l);

        for (i = 0; i < n; i++) {
            s->at[depth] = l->first + i;
            ngx_http_llm_prom_series(out, s, depth + 1);
        }

        return;
    }

    ngx_http_llm_series_value(s, &v);

    if (!v.known || (v.n == 0 && (m->flags & NGX_HTTP_LLM_F_NONZERO))) {
        return;
    }

    ngx_http_llm_prom_labels(out, s, depth, "", NULL);
    ngx_http_llm_out_fixed(out, v.n, v.digits);
    ngx_http_llm_out_text(out, (u_char *) "\n", 1);
}


static void
ngx_http_llm_prom_hist(ngx_http_llm_out_t *out, ngx_http_llm_series_t *s)
{
    ngx_uint_t                 i;
    ngx_atomic_uint_t          n;
    ngx_http_llm_bounds_t     *b;
    ngx_http_llm_hist_read_t   h;

    b = s->metric->bounds;

    ngx_http_llm_series_hist(s, &h);

    for (n = 0, i = 0; i < b->n; i++) {
        n += h.bucket[i];

        ngx_http_llm_prom_labels(out, s, 0, "_bucket", b->le[i]);
        ngx_http_llm_out_printf(out, "%uA\n", n);
    }

    n += h.bucket[i];

    ngx_http_llm_prom_labels(out, s, 0, "_bucket", "+Inf");
    ngx_http_llm_out_printf(out, "%uA\n", n);

    ngx_http_llm_prom_labels(out, s, 0, "_sum", NULL);
    ngx_http_llm_out_fixed(out, h.sum, h.digits);
    ngx_http_llm_out_text(out, (u_char *) "\n", 1);

    ngx_http_llm_prom_labels(out, s, 0, "_count", NULL);
    ngx_http_llm_out_printf(out, "%uA\n", h.count);
}


/* "name{labels} ", the name with its suffix, up to the value */

static void
ngx_http_llm_prom_labels(ngx_http_llm_out_t *out, ngx_http_llm_series_t *s,
    ngx_uint_t depth, char *suffix, char *le)
{
    char                   *sep;
    ngx_str_t               value;
    ngx_uint_t              i;
    ngx_http_llm_label_t   *l;
    ngx_http_llm_metric_t  *m;

    m = s->metric;

    ngx_http_llm_out_printf(out, "%s%s", m->name, suffix);

    switch (m->by) {

    case NGX_HTTP_LLM_BY_ZONE:
    case NGX_HTTP_LLM_BY_SIMILAR:
        sep = "{";
        break;

    case NGX_HTTP_LLM_BY_PAIR:
        ngx_http_llm_out_printf(out, "{from=\"%V\",to=\"%V\"",
                                &s->label[0], &s->label[1]);
        sep = ",";
        break;

    case NGX_HTTP_LLM_BY_GPU:
        ngx_http_llm_out_printf(out, "{gpu=\"%V\"", &s->label[0]);
        sep = ",";
        break;

    case NGX_HTTP_LLM_BY_SERVER:
        ngx_http_llm_out_printf(out, "{tier=\"%V\",server=\"%V\"",
                                &s->label[0], &s->label[1]);
        sep = ",";
        break;

    default:
        ngx_http_llm_out_printf(out, "{tier=\"%V\"", &s->label[0]);
        sep = ",";
    }

    for (i = 0; i < depth; i++) {
        l = m->labels[i];
        ngx_http_llm_label_value(s, l, s->at[i] - l->first, &value);

        ngx_http_llm_out_printf(out, "%s%s=\"%V\"", sep, l->name, &value);
        sep = ",";
    }

    if (le != NULL) {
        ngx_http_llm_out_printf(out, "%sle=\"%s\"", sep, le);
        sep = ",";
    }

    ngx_http_llm_out_printf(out, "%s ", (sep[0] == ',') ? "}" : "");
}
