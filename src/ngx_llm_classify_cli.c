
/*
 * Copyright (C) ngx_llm_router authors
 *
 * llm-classify: scores prompts offline with the router's own classifier.
 *
 *   llm-classify [--eval] [--thresholds LOW HIGH] [FILE]
 *
 * Reads JSON lines: {"id", "endpoint", "body"} (the request as a client
 * sends it) or {"id", "prompt"}; an optional "label" is used by --eval.
 * Prints "id score class features" per line; --eval also prints the
 * confusion matrix and the AUC of complex against simple.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ngx_llm_classify.h"
#include "ngx_llm_request.h"


#define MAX_ITEMS  100000


typedef struct {
    double  score;
    int     label;
} item_t;


static int label_index(const char *label);
static int classify_line(const char *line, const ngx_llm_classify_conf_t *conf,
    ngx_llm_classify_result_t *res, char *id, size_t id_size, int *label);
static void print_eval(item_t *items, size_t n, int matrix[3][3]);


static item_t  items[MAX_ITEMS];


int
main(int argc, char **argv)
{
    int                        eval, label, matrix[3][3], i;
    char                       id[64], features[128], *line;
    FILE                      *f;
    size_t                     n, cap;
    ssize_t                    len;
    ngx_llm_classify_conf_t    conf;
    ngx_llm_classify_result_t  res;

    eval = 0;
    f = stdin;
    ngx_llm_classify_conf_default(&conf);

    for (i = 1; i < argc; i++) {

        if (strcmp(argv[i], "--eval") == 0) {
            eval = 1;

        } else if (strcmp(argv[i], "--thresholds") == 0 && i + 2 < argc) {
            conf.simple_below = atof(argv[++i]);
            conf.complex_from = atof(argv[++i]);

        } else if (strcmp(argv[i], "-h") == 0
                   || strcmp(argv[i], "--help") == 0)
        {
            printf("usage: llm-classify [--eval] [--thresholds LOW HIGH]"
                   " [FILE]\n");
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

    line = NULL;
    cap = 0;
    n = 0;

    while ((len = getline(&line, &cap, f)) != -1) {

        if (len <= 1) {
            continue;
        }

        if (classify_line(line, &conf, &res, id, sizeof(id), &label) != 0) {
            printf("%s\terror\n", id);
            continue;
        }

        ngx_llm_classify_explain(&res, features, sizeof(features));

        printf("%s\t%.3f\t%s\t%s\n", id, res.score,
               ngx_llm_class_name(res.cls), features);

        if (label >= 0) {
            matrix[label][res.cls]++;

            if (n < MAX_ITEMS) {
                items[n].score = res.score;
                items[n].label = label;
                n++;
            }
        }
    }

    free(line);

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


static int
classify_line(const char *line, const ngx_llm_classify_conf_t *conf,
    ngx_llm_classify_result_t *res, char *id, size_t id_size, int *label)
{
    int                        rc;
    char                      *body;
    cJSON                     *root, *item, *endpoint, *prompt;
    ngx_llm_dialect_e          dialect;
    ngx_llm_request_t          req;
    ngx_llm_classify_state_t   st;
    ngx_llm_classify_hints_t   hints;

    snprintf(id, id_size, "-");
    *label = -1;

    root = cJSON_Parse(line);
    if (root == NULL) {
        return -1;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "id");

    if (cJSON_IsString(item)) {
        snprintf(id, id_size, "%s", item->valuestring);
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "label");

    if (cJSON_IsString(item)) {
        *label = label_index(item->valuestring);
    }

    endpoint = cJSON_GetObjectItemCaseSensitive(root, "endpoint");
    item = cJSON_GetObjectItemCaseSensitive(root, "body");
    prompt = cJSON_GetObjectItemCaseSensitive(root, "prompt");

    rc = -1;

    if (cJSON_IsString(endpoint) && cJSON_IsObject(item)) {
        dialect = ngx_llm_dialect_from_path(endpoint->valuestring,
                                            strlen(endpoint->valuestring));
        body = cJSON_PrintUnformatted(item);

        if (body != NULL) {
            ngx_llm_classify_begin(&st);

            if (ngx_llm_request_parse(&req, dialect, body, strlen(body), &st)
                == 0)
            {
                hints.max_tokens = req.max_tokens;
                ngx_llm_classify_end(&st, &hints, conf, res);
                rc = 0;
            }

            ngx_llm_request_free(&req);
            free(body);
        }

    } else if (cJSON_IsString(prompt)) {
        ngx_llm_classify_text((unsigned char *) prompt->valuestring,
                              strlen(prompt->valuestring), conf, res);
        rc = 0;
    }

    cJSON_Delete(root);

    return rc;
}


static void
print_eval(item_t *all, size_t n, int matrix[3][3])
{
    int      i, j, total;
    size_t   a, b;
    double   wins, pairs;

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

    wins = 0;
    pairs = 0;

    for (a = 0; a < n; a++) {
        if (all[a].label != NGX_LLM_CLASS_COMPLEX) {
            continue;
        }

        for (b = 0; b < n; b++) {
            if (all[b].label != NGX_LLM_CLASS_SIMPLE) {
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

    j = matrix[0][0] + matrix[1][1] + matrix[2][2];
    total = 0;

    for (i = 0; i < 9; i++) {
        total += matrix[i / 3][i % 3];
    }

    printf("\naccuracy %.1f%% (%d/%d)  AUC complex vs simple %.3f\n",
           total ? 100.0 * j / total : 0.0, j, total,
           pairs ? wins / pairs : 0.0);
}
