
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Classifier cost per prompt size: builds prompts from a mix of English,
 * French and code (then 100 KB of each kind alone, and a chat),
 * classifies each many times, prints the median of
 * several runs in ns per prompt and ns per KB, in CPU time of the thread
 * (what other processes on a shared machine add least to).
 *
 *   classify-bench                   the timings
 *   classify-bench --instructions N [KIND]
 *                                    classifies N bytes of that text (or
 *                                    of its english, french or code
 *                                    pieces) 1 MB / N times, for
 *                                    callgrind; N: 100 KB by default
 *   classify-bench --file NAME PATH  the timing of real texts: PATH holds
 *                                    4-byte lengths and bytes, each text
 *                                    classified alone; prints NAME, the
 *                                    mean text's bytes and ns, ns per KB
 *   classify-bench --instructions-file PATH
 *                                    the texts of PATH, 1 MB / their
 *                                    bytes times, for callgrind
 *
 * Built with -DNGX_LLM_CLASSIFY_CHECK and a baseline classifier whose
 * public names are prefixed "ref_" (bench/classify-bench.sh check), it
 * also checks that both give the same results, bit for bit:
 *
 *   classify-bench --check TEXTS [N] TEXTS: 4-byte length, bytes, ...;
 *                                    N made-up texts (30000)
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_llm_classify.h"


/*
 * in the current model (src/ngx_llm_classify_model.c), which both builds
 * link; the baseline's own header does not declare them
 */
extern const double  ngx_llm_model_words_min;
extern const double  ngx_llm_model_words_max;


#define RUNS  7


static const char  *pieces[] = {
    "Analyze the time complexity of this function and explain why ",
    "Démontre que la suite converge, puis généralise la preuve. ",
    "```c\nint f(int *p) {\n    return p[0] + p[1];\n}\n```\n",
    "Hello JARVIS, turn on the lights and play some music please. ",
    "Compare Raft and Paxos; justify the trade-offs for 3 regions. ",
};


static double
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}


static int
cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


/* the kinds of text: all the pieces, or those of one kind */

static const struct {
    const char  *name;
    int          pieces[6];           /* -1 ends */
} kinds[] = {
    { "mix", { 0, 1, 2, 3, 4, -1 } },
    { "english", { 0, 3, 4, -1 } },
    { "french", { 1, -1 } },
    { "code", { 2, -1 } }
};


static void
fill_kind(char *text, size_t len, int kind)
{
    int          i;
    size_t       n, m;
    const char  *piece;

    for (n = 0, i = 0; n < len; i++) {

        if (kinds[kind].pieces[i] < 0) {
            i = 0;
        }

        piece = pieces[kinds[kind].pieces[i]];
        m = strlen(piece);
        m = m < len - n ? m : len - n;
        memcpy(text + n, piece, m);
        n += m;
    }
}


static void
fill(char *text, size_t len)
{
    fill_kind(text, len, 0);
}


static int
kind_index(const char *name)
{
    size_t  i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kinds[i].name, name) == 0) {
            return (int) i;
        }
    }

    return 0;
}


/*
 * A fixed amount of work, no clock: prompts of len bytes, 1 MB in all,
 * for instruction counts (callgrind --toggle-collect=ngx_llm_classify_text)
 */

static int
instructions(size_t len, int kind)
{
    char                      *text;
    size_t                     k, n;
    double                     sink;
    ngx_llm_classify_conf_t    conf;
    ngx_llm_classify_result_t  res;

    ngx_llm_classify_conf_default(&conf);
    ngx_llm_classify_init();

    text = malloc(len);

    if (text == NULL) {
        return 1;
    }

    fill_kind(text, len, kind);

    n = (1048576 + len - 1) / len;
    sink = 0;

    for (k = 0; k < n; k++) {
        ngx_llm_classify_text((unsigned char *) text, len, &conf, &res);
        sink += res.score;
    }

    printf("classified %zu bytes %zu times (%.3f)\n", len, n, sink);
    free(text);

    return 0;
}


/*
 * Real texts (bench/classify-bench.sh writes them: prompts of a corpus, a
 * README, C sources): the file's 4-byte lengths and bytes, read whole
 */

typedef struct {
    unsigned char  *data;
    size_t          size;             /* the file's bytes */
    size_t          bytes;            /* the texts' bytes */
    size_t          count;
} texts_t;


static int
texts_load(const char *path, texts_t *tx)
{
    FILE      *f;
    long       size;
    size_t     i;
    uint32_t   n;

    f = fopen(path, "rb");

    if (f == NULL) {
        perror(path);
        return -1;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fprintf(stderr, "%s: empty or unreadable\n", path);
        fclose(f);
        return -1;
    }

    tx->data = malloc((size_t) size);
    tx->size = (size_t) size;

    if (tx->data == NULL
        || fread(tx->data, 1, tx->size, f) != tx->size)
    {
        fprintf(stderr, "%s: cannot read\n", path);
        fclose(f);
        return -1;
    }

    fclose(f);

    tx->bytes = 0;
    tx->count = 0;

    for (i = 0; i + 4 <= tx->size; i += 4 + n) {
        memcpy(&n, tx->data + i, 4);

        if (n > tx->size - i - 4) {
            break;
        }

        tx->bytes += n;
        tx->count++;
    }

    if (i != tx->size || tx->count == 0 || tx->bytes == 0) {
        fprintf(stderr, "%s: bad record\n", path);
        return -1;
    }

    return 0;
}


/* every text classified alone, once; returns the sum of the scores */

static double
texts_classify(texts_t *tx, ngx_llm_classify_conf_t *conf)
{
    size_t                     i;
    double                     sink;
    uint32_t                   n;
    ngx_llm_classify_result_t  res;

    sink = 0;

    for (i = 0; i < tx->size; i += 4 + n) {
        memcpy(&n, tx->data + i, 4);
        ngx_llm_classify_text(tx->data + i + 4, n, conf, &res);
        sink += res.score;
    }

    return sink;
}


static int
file_timing(const char *name, const char *path)
{
    int                      r;
    size_t                   k, passes;
    double                   t0, runs[RUNS], ns, sink;
    texts_t                  tx;
    ngx_llm_classify_conf_t  conf;

    if (texts_load(path, &tx) != 0) {
        return 2;
    }

    ngx_llm_classify_conf_default(&conf);
    ngx_llm_classify_init();

    passes = 20000000 / tx.bytes + 3;
    sink = 0;

    for (r = 0; r < RUNS; r++) {
        t0 = now_ns();

        for (k = 0; k < passes; k++) {
            sink += texts_classify(&tx, &conf);
        }

        runs[r] = (now_ns() - t0) / passes;
    }

    qsort(runs, RUNS, sizeof(double), cmp);
    ns = runs[RUNS / 2];

    /* the mean text: its bytes, its time; then per KB of all */
    printf("%-10s %10zu %14.0f %12.1f\n", name, tx.bytes / tx.count,
           ns / tx.count, ns * 1024 / tx.bytes);
    free(tx.data);

    return sink < 0;
}


static int
file_instructions(const char *path)
{
    size_t                   k, passes;
    double                   sink;
    texts_t                  tx;
    ngx_llm_classify_conf_t  conf;

    if (texts_load(path, &tx) != 0) {
        return 2;
    }

    ngx_llm_classify_conf_default(&conf);
    ngx_llm_classify_init();

    passes = (1048576 + tx.bytes - 1) / tx.bytes;
    sink = 0;

    for (k = 0; k < passes; k++) {
        sink += texts_classify(&tx, &conf);
    }

    printf("classified %zu texts of %zu bytes %zu times (%.3f)\n",
           tx.count, tx.bytes, passes, sink);
    free(tx.data);

    return 0;
}


#if (NGX_LLM_CLASSIFY_CHECK)

/* the baseline: the same API, its names prefixed */
void ref_classify_begin(ngx_llm_classify_state_t *st);
void ref_classify_turn(ngx_llm_classify_state_t *st);
void ref_classify_feed(ngx_llm_classify_state_t *st, const unsigned char *p,
    size_t len);
void ref_classify_end(ngx_llm_classify_state_t *st,
    const ngx_llm_classify_hints_t *hints,
    const ngx_llm_classify_conf_t *conf, ngx_llm_classify_result_t *res);
void ref_classify_features(ngx_llm_classify_state_t *st,
    const ngx_llm_classify_hints_t *hints, double *x);


typedef struct {
    uint32_t                   *b;
    size_t                      n;
    size_t                      cap;
} terms_t;


/* what one classification gives: the result, the features, the terms */
typedef struct {
    ngx_llm_classify_result_t   res;
    double                      x[NGX_LLM_F_DENSE];
    terms_t                     terms;
} outcome_t;


typedef struct {
    unsigned long               texts;
    unsigned long               runs;
    unsigned long               differ;      /* current vs baseline */
    unsigned long               ref_differ;  /* baseline in pieces vs
                                                the baseline whole */
    unsigned long               clamped;     /* texts whose words' term
                                                the current code clamps */
} tally_t;


static ngx_llm_classify_conf_t   check_conf;
static size_t                    cuts[1 << 16];
static uint64_t                  rnd_state = 88172645463325252ULL;


static uint64_t
rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}


static void
term_sink(void *data, uint32_t bucket)
{
    terms_t   *t = data;
    uint32_t  *b;

    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 1024;
        b = realloc(t->b, t->cap * sizeof(uint32_t));

        if (b == NULL) {
            abort();
        }

        t->b = b;
    }

    t->b[t->n++] = bucket;
}


/* a text in pieces: cut[0] < cut[1] < ... < cut[ncut - 1] */

static void
classify(int ref, const unsigned char *t, size_t len, size_t *cut,
    size_t ncut, ngx_llm_classify_hints_t *hints, outcome_t *o)
{
    int                        pass;
    size_t                     i, from, to;
    ngx_llm_classify_state_t   st;

    for (pass = 0; pass < 2; pass++) {
        (ref ? ref_classify_begin : ngx_llm_classify_begin)(&st);

        if (pass == 1) {
            o->terms.n = 0;
            st.sink = term_sink;
            st.sink_data = &o->terms;
        }

        (ref ? ref_classify_turn : ngx_llm_classify_turn)(&st);

        for (i = 0, from = 0; i <= ncut; i++, from = to) {
            to = i < ncut ? cut[i] : len;
            (ref ? ref_classify_feed : ngx_llm_classify_feed)(&st, t + from,
                                                              to - from);
        }

        if (pass == 0) {
            (ref ? ref_classify_end : ngx_llm_classify_end)(&st, hints,
                                                            &check_conf,
                                                            &o->res);

        } else {
            (ref ? ref_classify_features : ngx_llm_classify_features)(&st,
                                                                hints, o->x);
        }
    }
}


/*
 * The baseline does not keep the words' term within its range in
 * training (ngx_llm_model_words_min, max): where the range binds, the
 * current code's term is the baseline's clamped, and the scores differ;
 * the features and terms are still the same, bit for bit.
 */

static double
clamped(double w)
{
    return w < ngx_llm_model_words_min ? ngx_llm_model_words_min
           : w > ngx_llm_model_words_max ? ngx_llm_model_words_max : w;
}


static int
same(outcome_t *a, outcome_t *b)
{
    if (clamped(a->res.words) != a->res.words) {
        if (b->res.words != clamped(a->res.words)) {
            return 0;
        }

    } else if (memcmp(&a->res, &b->res, sizeof(ngx_llm_classify_result_t))
               != 0)
    {
        return 0;
    }

    return memcmp(a->x, b->x, sizeof(a->x)) == 0
           && a->terms.n == b->terms.n
           && memcmp(a->terms.b, b->terms.b, a->terms.n * sizeof(uint32_t))
              == 0;
}


/*
 * One text: the baseline whole against the current whole, in two pieces
 * cut at every position, byte by byte and in random pieces
 */

static void
check_text(const unsigned char *t, size_t len, tally_t *tally)
{
    size_t                     i, n, k;
    static outcome_t           want, got;
    ngx_llm_classify_hints_t   hints;

    hints.max_tokens = (long) (rnd() % 3) * 2048;

    tally->texts++;
    classify(1, t, len, NULL, 0, &hints, &want);

    if (clamped(want.res.words) != want.res.words) {
        tally->clamped++;
    }

#define CHECK_RUN(ncut)                                                      \
    classify(0, t, len, cuts, ncut, &hints, &got);                           \
    tally->runs++;                                                           \
    if (!same(&want, &got)) {                                                \
        if (tally->differ++ < 5) {                                           \
            fprintf(stderr, "differs: %zu bytes in %zu pieces, "             \
                    "score %.17g, baseline %.17g: \"%.*s\"\n", len,           \
                    (size_t) (ncut) + 1, got.res.score, want.res.score,      \
                    (int) (len < 200 ? len : 200), t);                       \
        }                                                                    \
    }

    CHECK_RUN(0);

    /* two pieces, cut at every position (at 32 random ones if long) */
    if (len <= 65536) {
        for (i = 0; i <= len; i++) {
            cuts[0] = i;
            CHECK_RUN(1);
        }

    } else {
        for (k = 0; k < 32; k++) {
            cuts[0] = rnd() % (len + 1);
            CHECK_RUN(1);
        }
    }

    /* byte by byte, as far as cuts[] goes */
    if (len > 1 && len <= sizeof(cuts) / sizeof(cuts[0])) {
        for (i = 1; i < len; i++) {
            cuts[i - 1] = i;
        }

        CHECK_RUN(len - 1);

        /* the baseline's own pieces */
        classify(1, t, len, cuts, len - 1, &hints, &got);

        if (!same(&want, &got)) {
            tally->ref_differ++;
        }
    }

    /* random pieces of 1 to 16 bytes */
    for (k = 0; k < 3; k++) {
        for (i = 0, n = 0; n < sizeof(cuts) / sizeof(cuts[0]); n++) {
            i += 1 + rnd() % 16;

            if (i >= len) {
                break;
            }

            cuts[n] = i;
        }

        CHECK_RUN(n);
    }
}


/* made-up texts: the scanner's every kind of byte next to the others */

static size_t
random_text(unsigned char *t, size_t max)
{
    size_t       len, n, m;
    const char  *tok;

    static const char  *toks[] = {
        "a", "b", "o", "word", "Words", "analyze", "complexity", "pages",
        "1500", "3", "3.5", "2009", "x1", "A", "write", "function", "what",
        "\xc3\xa9", "\xc3\x89", "\xc3\x97", "\xc3", "\xc3\xc3", "\x80",
        "\xe2\x80\x99", "\xe2\x80", "\xc2\xa0", "\xe6\x97\xa5", "\xf0\x9f",
        "\xff", "_", "(", "O(n)", "o(", " ", " ", "  ", "\t", "\n", "\n",
        "\r", ".", ".", "..", "?", "!", ",", "`", "``", "```", "````", ";",
        "{", "}", "=", "+", "*", "-", "'", "\"", "\\", "#", "\0",
        "verylongwordsgoonandonpastasixtyfourbyteblockandintothenextone",
        "averyveryverylongwordofexactlysixtyfourlettersthatendsonaboundar",
        "Démontrééééégénéralisationsansfinquiserépètedanslesblocsàlasuite",
        "1234567890123456789012345678901234567890123456789012345678901234567",
        "\n                                                                  ",
        "\n\t  \t", "  \r\n", "\n    "
    };

    len = rnd() % max;

    for (n = 0; n < len; n += m) {
        if (rnd() % 16 == 0) {
            t[n] = (unsigned char) rnd();
            m = 1;
            continue;
        }

        tok = toks[rnd() % (sizeof(toks) / sizeof(toks[0]))];
        m = tok[0] ? strlen(tok) : 1;
        m = m < len - n ? m : len - n;
        memcpy(t + n, tok, m);
    }

    return len;
}


static int
check(const char *path, size_t nmade)
{
    FILE           *f;
    size_t          len, size, k;
    uint32_t        n;
    tally_t         file, made;
    unsigned char  *t, *big;

    ngx_llm_classify_conf_default(&check_conf);
    memset(&file, 0, sizeof(tally_t));
    memset(&made, 0, sizeof(tally_t));

    f = fopen(path, "rb");

    if (f == NULL) {
        perror(path);
        return 2;
    }

    size = 1 << 20;
    t = malloc(size);

    if (t == NULL) {
        return 2;
    }

    while (fread(&n, 4, 1, f) == 1) {
        len = n;

        if (len > size || fread(t, 1, len, f) != len) {
            fprintf(stderr, "%s: bad record\n", path);
            return 2;
        }

        check_text(t, len, &file);
    }

    fclose(f);

    for (k = 0; k < nmade; k++) {
        len = random_text(t, k < nmade / 100 ? 4096 : 300);
        check_text(t, len, &made);
    }

    /* the bench's prompts, 100 B to 1 MB */
    big = malloc(1048576);

    if (big == NULL) {
        return 2;
    }

    for (len = 100; len <= 1048576; len *= 4) {
        fill((char *) big, len);
        check_text(big, len, &made);
    }

    free(big);
    free(t);

    printf("%s: %lu texts, %lu runs, %lu differ from the baseline"
           " (the baseline byte by byte differs from itself whole"
           " on %lu; %lu texts with the words' term clamped, features"
           " compared)\n",
           path, file.texts, file.runs, file.differ, file.ref_differ,
           file.clamped);
    printf("made-up texts: %lu texts, %lu runs, %lu differ from the"
           " baseline (the baseline byte by byte differs from itself"
           " whole on %lu; %lu texts with the words' term clamped,"
           " features compared)\n",
           made.texts, made.runs, made.differ, made.ref_differ,
           made.clamped);

    return file.differ || made.differ;
}

#endif


int
main(int argc, char **argv)
{
    int                        r;
    char                      *text;
    size_t                     sizes[] = { 100, 1024, 10240, 102400,
                                           1048576 };
    size_t                     i, n, len, iters, k;
    double                     t0, runs[RUNS], ns, sink;
    ngx_llm_classify_conf_t    conf;
    ngx_llm_classify_result_t  res;

    if (argc > 1 && strcmp(argv[1], "--instructions") == 0) {
        return instructions(argc > 2 ? (size_t) atol(argv[2]) : 102400,
                            argc > 3 ? kind_index(argv[3]) : 0);
    }

    if (argc > 3 && strcmp(argv[1], "--file") == 0) {
        return file_timing(argv[2], argv[3]);
    }

    if (argc > 2 && strcmp(argv[1], "--instructions-file") == 0) {
        return file_instructions(argv[2]);
    }

#if (NGX_LLM_CLASSIFY_CHECK)
    if (argc > 2 && strcmp(argv[1], "--check") == 0) {
        return check(argv[2], argc > 3 ? (size_t) atol(argv[3]) : 30000);
    }
#endif

    ngx_llm_classify_conf_default(&conf);
    ngx_llm_classify_init();
    sink = 0;

    printf("%-10s %10s %14s %12s\n", "prompt", "bytes", "ns/prompt",
           "ns/KB");

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        len = sizes[i];
        text = malloc(len);

        if (text == NULL) {
            return 1;
        }

        fill(text, len);

        iters = 20000000 / len + 3;

        for (r = 0; r < RUNS; r++) {
            t0 = now_ns();

            for (k = 0; k < iters; k++) {
                ngx_llm_classify_text((unsigned char *) text, len, &conf,
                                      &res);
                sink += res.score;
            }

            runs[r] = (now_ns() - t0) / iters;
        }

        qsort(runs, RUNS, sizeof(double), cmp);
        ns = runs[RUNS / 2];

        printf("%-10zu %10zu %14.0f %12.1f\n", len, len, ns,
               ns * 1024 / len);
        free(text);
    }

    /* 100 KB of each kind alone */
    for (i = 1; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        len = 102400;
        text = malloc(len);

        if (text == NULL) {
            return 1;
        }

        fill_kind(text, len, (int) i);

        for (r = 0; r < RUNS; r++) {
            t0 = now_ns();

            for (k = 0; k < 200; k++) {
                ngx_llm_classify_text((unsigned char *) text, len, &conf,
                                      &res);
                sink += res.score;
            }

            runs[r] = (now_ns() - t0) / 200;
        }

        qsort(runs, RUNS, sizeof(double), cmp);
        ns = runs[RUNS / 2];

        printf("%-10s %10zu %14.0f %12.1f\n", kinds[i].name, len, ns,
               ns * 1024 / len);
        free(text);
    }

    /* a conversation of 200 messages of about 60 bytes each */
    {
        ngx_llm_classify_state_t  st;
        size_t                    total;

        total = 0;

        for (r = 0; r < RUNS; r++) {
            t0 = now_ns();

            for (k = 0; k < 2000; k++) {
                ngx_llm_classify_begin(&st);
                total = 0;

                for (n = 0; n < 200; n++) {
                    const char  *m = pieces[n % 5];

                    ngx_llm_classify_turn(&st);
                    ngx_llm_classify_feed(&st, (const unsigned char *) m,
                                          strlen(m));
                    total += strlen(m);
                }

                ngx_llm_classify_end(&st, NULL, &conf, &res);
                sink += res.score;
            }

            runs[r] = (now_ns() - t0) / 2000;
        }

        qsort(runs, RUNS, sizeof(double), cmp);
        ns = runs[RUNS / 2];

        printf("%-10s %10zu %14.0f %12.1f\n", "chat200", total, ns,
               ns * 1024 / total);
    }

    return sink < 0;
}
