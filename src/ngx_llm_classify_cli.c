
/*
 * Copyright (C) ngx_llm_router authors
 *
 * llm-classify: scores prompts offline with the router's own classifier.
 *
 *   llm-classify [--eval] [--thresholds LOW HIGH] [FILE]
 *   llm-classify --features [FILE]
 *   llm-classify --feature-names
 *
 * Reads JSON lines: {"id", "endpoint", "body"} (the request as a client
 * sends it), {"id", "messages"} (an OpenAI chat's messages) or {"id",
 * "prompt"}; an optional "label" (simple, medium,
 * complex) is used by --eval, and "lang" and "source" group its figures.
 * Prints "id TAB score TAB class TAB features" per line; --eval also prints
 * the confusion matrix and, per language and per source: AUC of complex
 * against simple, complex classed complex, complex scored below 0.3,
 * simple classed simple, simple scored from 0.7.
 *
 * --features prints, instead, each record's feature values as the model
 * sees them, one JSON object a line ({"id", "label", "lang", "source",
 * "permissive", "x": [dense values], "b": [hashed terms' buckets: a
 * word's or a pair's, a stem's plus 32768]}): the training tool's input
 * (src/classifier/train.py).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ngx_llm_classify.h"
#include "ngx_llm_request.h"


#define MAX_ITEMS   200000
#define MAX_GROUPS  64


typedef struct {
    double  score;
    int     label;
    int     lang;
    int     source;
} item_t;


typedef struct {
    uint32_t   *b;
    size_t      n;
    size_t      cap;
} terms_t;


typedef struct {
    char        id[128];
    char        lang[16];
    char        source[64];
    int         label;
    int         permissive;
} record_t;


static int label_index(const char *label);
static int classify_line(const char *line, const ngx_llm_classify_conf_t *conf,
    ngx_llm_classify_result_t *res, record_t *rec, terms_t *terms);
static void sink(void *data, uint32_t bucket);
static void print_features(record_t *rec, terms_t *terms);
static int group(char names[][64], int *n, const char *name);
static void print_eval(item_t *items, size_t n, int matrix[3][3]);
static void print_group(const char *name, item_t *all, size_t n, int key,
    int which);
static double auc(item_t *all, size_t n, int key, int which);


static item_t  items[MAX_ITEMS];
static double  xfull[NGX_LLM_F_DENSE];      /* --features */
static char    langs[MAX_GROUPS][64];
static char    sources[MAX_GROUPS][64];
static int     nlangs, nsources;


int
main(int argc, char **argv)
{
    int                        eval, features, matrix[3][3], i;
    char                       buf[256], *line;
    FILE                      *f;
    size_t                     n, cap;
    ssize_t                    len;
    terms_t                    terms;
    record_t                   rec;
    ngx_llm_classify_conf_t    conf;
    ngx_llm_classify_result_t  res;

    eval = 0;
    features = 0;
    f = stdin;
    ngx_llm_classify_conf_default(&conf);

    for (i = 1; i < argc; i++) {

        if (strcmp(argv[i], "--eval") == 0) {
            eval = 1;

        } else if (strcmp(argv[i], "--features") == 0) {
            features = 1;

        } else if (strcmp(argv[i], "--feature-names") == 0) {
            for (i = 0; i < NGX_LLM_F_DENSE; i++) {
                printf("%s\n", ngx_llm_feature_name(i));
            }

            return 0;

        } else if (strcmp(argv[i], "--thresholds") == 0 && i + 2 < argc) {
            conf.simple_below = atof(argv[++i]);
            conf.complex_from = atof(argv[++i]);

        } else if (strcmp(argv[i], "-h") == 0
                   || strcmp(argv[i], "--help") == 0)
        {
            printf("usage: llm-classify [--eval] [--thresholds LOW HIGH]"
                   " [FILE]\n"
                   "       llm-classify --features [FILE]\n");
            return 0;

        } else {
            f = fopen(argv[i], "r");

            if (f == NULL) {
                perror(argv[i]);
                return 2;
            }
        }
    }

    memset(matrix, 0, sizeof(matrix));
    memset(&terms, 0, sizeof(terms));

    line = NULL;
    cap = 0;
    n = 0;

    while ((len = getline(&line, &cap, f)) != -1) {

        if (len <= 1) {
            continue;
        }

        terms.n = 0;

        if (classify_line(line, &conf, &res, &rec,
                          features ? &terms : NULL)
            != 0)
        {
            if (!features) {
                printf("%s\terror\n", rec.id);
            }

            continue;
        }

        if (features) {
            print_features(&rec, &terms);
            continue;
        }

        ngx_llm_classify_explain(&res, buf, sizeof(buf));

        printf("%s\t%.3f\t%s\t%s\n", rec.id, res.score,
               ngx_llm_class_name(res.cls), buf);

        if (rec.label >= 0) {
            matrix[rec.label][res.cls]++;

            if (n < MAX_ITEMS) {
                items[n].score = res.score;
                items[n].label = rec.label;
                items[n].lang = group(langs, &nlangs, rec.lang);
                items[n].source = group(sources, &nsources, rec.source);
                n++;
            }
        }
    }

    free(line);
    free(terms.b);

    if (eval) {
        print_eval(items, n, matrix);
    }

    return 0;
}


static int
label_index(const char *label)
{
    if (strcmp(label, "simple") == 0) {
        return NGX_LLM_CLASS_SIMPLE;
    }

    if (strcmp(label, "medium") == 0) {
        return NGX_LLM_CLASS_MEDIUM;
    }

    if (strcmp(label, "complex") == 0) {
        return NGX_LLM_CLASS_COMPLEX;
    }

    return -1;
}


static void
copy_field(cJSON *root, const char *name, char *dst, size_t size,
    const char *dflt)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(root, name);
    snprintf(dst, size, "%s", cJSON_IsString(item) ? item->valuestring : dflt);
}


static int
classify_line(const char *line, const ngx_llm_classify_conf_t *conf,
    ngx_llm_classify_result_t *res, record_t *rec, terms_t *terms)
{
    int                        rc;
    char                      *body;
    cJSON                     *root, *item, *endpoint, *prompt, *chat,
                              *messages;
    ngx_llm_dialect_e          dialect;
    ngx_llm_request_t          req;
    ngx_llm_classify_state_t   st;
    ngx_llm_classify_hints_t   hints;

    memset(rec, 0, sizeof(record_t));
    snprintf(rec->id, sizeof(rec->id), "-");
    rec->label = -1;

    root = cJSON_Parse(line);
    if (root == NULL) {
        return -1;
    }

    copy_field(root, "id", rec->id, sizeof(rec->id), "-");
    copy_field(root, "lang", rec->lang, sizeof(rec->lang), "-");
    copy_field(root, "source", rec->source, sizeof(rec->source), "-");

    item = cJSON_GetObjectItemCaseSensitive(root, "label");

    if (cJSON_IsString(item)) {
        rec->label = label_index(item->valuestring);
    }

    rec->permissive = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
                                       root, "permissive"));

    endpoint = cJSON_GetObjectItemCaseSensitive(root, "endpoint");
    item = cJSON_GetObjectItemCaseSensitive(root, "body");
    prompt = cJSON_GetObjectItemCaseSensitive(root, "prompt");
    messages = cJSON_GetObjectItemCaseSensitive(root, "messages");
    chat = NULL;

    if (!cJSON_IsObject(item) && cJSON_IsArray(messages)) {
        /* an OpenAI chat's messages alone: read as that chat's body */
        chat = cJSON_CreateObject();

        if (chat == NULL
            || !cJSON_AddItemReferenceToObject(chat, "messages", messages))
        {
            cJSON_Delete(chat);
            cJSON_Delete(root);
            return -1;
        }

        item = chat;
    }

    rc = -1;

    ngx_llm_classify_begin(&st);

    if (terms != NULL) {
        st.sink = sink;
        st.sink_data = terms;
    }

    hints.max_tokens = 0;

    if ((cJSON_IsString(endpoint) || chat != NULL) && cJSON_IsObject(item)) {
        dialect = chat != NULL ? NGX_LLM_DIALECT_OPENAI_CHAT
                  : ngx_llm_dialect_from_path(endpoint->valuestring,
                                              strlen(endpoint->valuestring));
        body = cJSON_PrintUnformatted(item);

        if (body != NULL) {
            if (ngx_llm_request_parse(&req, dialect, body, strlen(body), &st)
                == 0)
            {
                hints.max_tokens = req.max_tokens;
                rc = 0;
            }

            ngx_llm_request_free(&req);
            free(body);
        }

    } else if (cJSON_IsString(prompt)) {
        ngx_llm_classify_turn(&st);
        ngx_llm_classify_feed(&st, (unsigned char *) prompt->valuestring,
                              strlen(prompt->valuestring));
        rc = 0;
    }

    if (rc == 0 && terms != NULL) {
        /* every dense value, as the training tool wants them */
        ngx_llm_classify_features(&st, &hints, xfull);

    } else if (rc == 0) {
        ngx_llm_classify_end(&st, &hints, conf, res);
    }

    cJSON_Delete(chat);
    cJSON_Delete(root);

    return rc;
}


static void
sink(void *data, uint32_t bucket)
{
    terms_t  *t = data;

    uint32_t  *b;

    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 1024;
        b = realloc(t->b, t->cap * sizeof(uint32_t));

        if (b == NULL) {
            perror("llm-classify");
            exit(2);
        }

        t->b = b;
    }

    t->b[t->n++] = bucket;
}


/* a C string as a JSON string, quotes and escapes included */

static void
print_json_string(const char *s)
{
    char   *out;
    cJSON  *item;

    item = cJSON_CreateString(s);
    out = item != NULL ? cJSON_PrintUnformatted(item) : NULL;

    printf("%s", out != NULL ? out : "\"-\"");

    free(out);
    cJSON_Delete(item);
}


static void
print_features(record_t *rec, terms_t *terms)
{
    int     i;
    size_t  k;

    printf("{\"id\":");
    print_json_string(rec->id);
    printf(",\"label\":\"%s\",\"lang\":",
           rec->label >= 0 ? ngx_llm_class_name((ngx_llm_class_e) rec->label)
                           : "");
    print_json_string(rec->lang);
    printf(",\"source\":");
    print_json_string(rec->source);
    printf(",\"permissive\":%s,\"x\":[", rec->permissive ? "true" : "false");

    for (i = 0; i < NGX_LLM_F_DENSE; i++) {
        printf("%s%.9g", i ? "," : "", xfull[i]);
    }

    printf("],\"b\":[");

    for (k = 0; k < terms->n; k++) {
        printf("%s%u", k ? "," : "", terms->b[k]);
    }

    printf("]}\n");
}


static int
group(char names[][64], int *n, const char *name)
{
    int  i;

    for (i = 0; i < *n; i++) {
        if (strcmp(names[i], name) == 0) {
            return i;
        }
    }

    if (*n == MAX_GROUPS) {
        return MAX_GROUPS - 1;
    }

    snprintf(names[*n], 64, "%s", name);

    return (*n)++;
}


static void
print_eval(item_t *all, size_t n, int matrix[3][3])
{
    int  i, j, total;

    printf("\nconfusion matrix (rows: label, columns: predicted)\n");
    printf("%-10s %8s %8s %8s   %s\n", "", "simple", "medium", "complex",
           "recall");

    for (i = 0; i < 3; i++) {
        total = matrix[i][0] + matrix[i][1] + matrix[i][2];

        printf("%-10s %8d %8d %8d   %5.1f%%\n",
               ngx_llm_class_name((ngx_llm_class_e) i),
               matrix[i][0], matrix[i][1], matrix[i][2],
               total ? 100.0 * matrix[i][i] / total : 0.0);
    }

    j = matrix[0][0] + matrix[1][1] + matrix[2][2];
    total = 0;

    for (i = 0; i < 9; i++) {
        total += matrix[i / 3][i % 3];
    }

    printf("\n%-24s %6s %6s %8s %8s %8s %8s\n", "", "items", "AUC",
           "cx>=0.7", "cx<0.3", "si<0.3", "si>=0.7");

    for (i = 0; i < nlangs; i++) {
        printf("language ");
        print_group(langs[i], all, n, 0, i);
    }

    for (i = 0; i < nsources; i++) {
        printf("  source ");
        print_group(sources[i], all, n, 1, i);
    }

    printf("\ncolumns: AUC complex vs simple; %% of complex classed complex"
           " (>= 0.7), %% of complex scored < 0.3, %% of simple classed"
           " simple (< 0.3), %% of simple scored >= 0.7\n");

    printf("\naccuracy %.1f%% (%d/%d)  AUC complex vs simple %.3f\n",
           total ? 100.0 * j / total : 0.0, j, total, auc(all, n, -1, 0));
}


static void
print_group(const char *name, item_t *all, size_t n, int key, int which)
{
    size_t  i, items, cx, sx, cx_hi, cx_low, sx_lo, sx_hi;
    double  a;

    items = cx = sx = cx_hi = cx_low = sx_lo = sx_hi = 0;

    for (i = 0; i < n; i++) {
        if ((key ? all[i].source : all[i].lang) != which) {
            continue;
        }

        items++;

        if (all[i].label == NGX_LLM_CLASS_COMPLEX) {
            cx++;
            cx_hi += all[i].score >= 0.7;
            cx_low += all[i].score < 0.3;

        } else if (all[i].label == NGX_LLM_CLASS_SIMPLE) {
            sx++;
            sx_lo += all[i].score < 0.3;
            sx_hi += all[i].score >= 0.7;
        }
    }

    a = auc(all, n, key, which);

    printf("%-15s %6zu ", name, items);

    if (a >= 0) {
        printf("%6.3f ", a);

    } else {
        printf("%6s ", "-");
    }

    if (cx) {
        printf("%7.1f%% %7.1f%% ", 100.0 * cx_hi / cx, 100.0 * cx_low / cx);

    } else {
        printf("%8s %8s ", "-", "-");
    }

    if (sx) {
        printf("%7.1f%% %7.1f%%\n", 100.0 * sx_lo / sx, 100.0 * sx_hi / sx);

    } else {
        printf("%8s %8s\n", "-", "-");
    }
}


/* complex vs simple, over the items of a group (key -1: all); -1 if none */

static double
auc(item_t *all, size_t n, int key, int which)
{
    size_t  a, b;
    double  wins, pairs;

    wins = 0;
    pairs = 0;

    for (a = 0; a < n; a++) {
        if (all[a].label != NGX_LLM_CLASS_COMPLEX
            || (key == 0 && all[a].lang != which)
            || (key == 1 && all[a].source != which))
        {
            continue;
        }

        for (b = 0; b < n; b++) {
            if (all[b].label != NGX_LLM_CLASS_SIMPLE
                || (key == 0 && all[b].lang != which)
                || (key == 1 && all[b].source != which))
            {
                continue;
            }

            pairs++;

            if (all[a].score > all[b].score) {
                wins += 1;

            } else if (all[a].score == all[b].score) {
                wins += 0.5;
            }
        }
    }

    if (key >= 0 && pairs == 0) {
        return -1;
    }

    return pairs ? wins / pairs : 0.0;
}
