
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Unit tests of the complexity classifier.
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "ngx_llm_classify.h"
#include "ngx_llm_classify_model.h"


static ngx_llm_classify_conf_t  conf;


static double
score(const char *text)
{
    ngx_llm_classify_result_t  res;

    ngx_llm_classify_text((const unsigned char *) text, strlen(text), &conf,
                          &res);
    return res.score;
}


static ngx_llm_class_e
cls(const char *text)
{
    ngx_llm_classify_result_t  res;

    ngx_llm_classify_text((const unsigned char *) text, strlen(text), &conf,
                          &res);
    return res.cls;
}


static void
test_thresholds(void)
{
    ngx_llm_classify_conf_t  c;

    ngx_llm_classify_conf_default(&c);
    CHECK(c.simple_below == 0.3 && c.complex_from == 0.7, "defaults");
    CHECK(ngx_llm_classify_class(0.0, &c) == NGX_LLM_CLASS_SIMPLE, "0.0");
    CHECK(ngx_llm_classify_class(0.299, &c) == NGX_LLM_CLASS_SIMPLE, "0.299");
    CHECK(ngx_llm_classify_class(0.3, &c) == NGX_LLM_CLASS_MEDIUM, "0.3");
    CHECK(ngx_llm_classify_class(0.699, &c) == NGX_LLM_CLASS_MEDIUM, "0.699");
    CHECK(ngx_llm_classify_class(0.7, &c) == NGX_LLM_CLASS_COMPLEX, "0.7");
    CHECK(ngx_llm_classify_class(1.0, &c) == NGX_LLM_CLASS_COMPLEX, "1.0");

    c.simple_below = 0.5;
    c.complex_from = 0.5;
    CHECK(ngx_llm_classify_class(0.49, &c) == NGX_LLM_CLASS_SIMPLE,
          "no medium band");
    CHECK(ngx_llm_classify_class(0.5, &c) == NGX_LLM_CLASS_COMPLEX,
          "no medium band, high");
}


/* prompts written for these tests, not taken from the dev set */

static void
test_held_out(void)
{
    static const char  *simple[] = {
        "Hi there!",
        "Good night JARVIS",
        "Set a timer for ten minutes.",
        "What is the capital of Peru?",
        "Allume la lumière de la cuisine.",
        "Quel temps fait-il demain à Paris ?",
        "How tall is Mount Everest?",
        "Merci, à plus tard !",
        "Play some relaxing music.",
        "What's the weather like today?",
        NULL
    };

    static const char  *medium[] = {
        "Write a birthday message for my sister.",
        "Explain how a refrigerator keeps food cold.",
        "Summarize the French revolution in a paragraph.",
        "Décris le fonctionnement d'un moteur électrique.",
        NULL
    };

    static const char  *complex[] = {
        "Analyze the trade-offs between eventual and strong consistency for"
        " a shopping cart service, and recommend a design with"
        " justification.",
        "Prove that there are infinitely many prime numbers, then explain"
        " why the same argument fails for twin primes.",
        "Refactor this function to remove the race condition and explain"
        " each change:\n```go\nfunc (c *Counter) Inc() {\n    c.n++\n}\n```",
        "Compare B-trees and LSM trees for a write-heavy time-series"
        " database, discuss compaction, read amplification and memory use,"
        " and justify which one you would pick.",
        "Analyse les causes de la fuite mémoire dans ce programme C et"
        " propose une correction argumentée :\n```c\nwhile (1) {\n"
        "    char *p = malloc(64);\n}\n```",
        "Design a rate limiter for a distributed API gateway, explain the"
        " algorithm, its memory cost and how it behaves when a node fails.",
        NULL
    };

    const char  **p;
    double        max_simple, min_complex, s;

    max_simple = 0;
    min_complex = 1;

    for (p = simple; *p; p++) {
        s = score(*p);
        max_simple = s > max_simple ? s : max_simple;

        if (cls(*p) != NGX_LLM_CLASS_SIMPLE) {
            printf("  simple prompt scored %.3f: %s\n", s, *p);
        }

        CHECK(cls(*p) == NGX_LLM_CLASS_SIMPLE, "held-out simple");
    }

    /* short plain tasks: the small model's, as the training labels say */
    for (p = medium; *p; p++) {
        s = score(*p);

        if (cls(*p) == NGX_LLM_CLASS_COMPLEX) {
            printf("  plain task scored %.3f: %s\n", s, *p);
        }

        CHECK(cls(*p) != NGX_LLM_CLASS_COMPLEX, "held-out plain task");
    }

    for (p = complex; *p; p++) {
        s = score(*p);
        min_complex = s < min_complex ? s : min_complex;

        if (cls(*p) != NGX_LLM_CLASS_COMPLEX) {
            printf("  complex prompt scored %.3f: %s\n", s, *p);
        }

        CHECK(cls(*p) == NGX_LLM_CLASS_COMPLEX, "held-out complex");
    }

    CHECK(max_simple < min_complex, "every simple below every complex");
}


static void
test_signals(void)
{
    ngx_llm_classify_result_t  res;
    const char                *t;

    CHECK(score("") > 0 && score("") < 0.3, "empty text: a low score");
    CHECK(cls("") == NGX_LLM_CLASS_SIMPLE, "empty text is simple");

    CHECK(score("Look at this:\n```\nint main(void) {\n    return 0;\n}\n```")
          > score("Look at this."), "a code block raises the score");

    CHECK(score("Démontre que 2 est premier.")
          > score("Dis que 2 est premier."), "French verb with accent");

    CHECK(score("DERIVE the formula") == score("derive the formula"),
          "case folded");

    CHECK(score("Explain quicksort.") < score("Explain quicksort, then prove"
          " its average complexity and compare it with heapsort."),
          "more asks score higher");

    CHECK(score("Write a 2000-word essay on rivers.")
          > score("Write a 20-word essay on rivers."),
          "a long requested output scores higher");

    CHECK(score("What is O(n log n)?") > score("What is n log n?"),
          "big-O notation is technical");

    t = "Analyze this and justify every step of the proof.";
    ngx_llm_classify_text((const unsigned char *) t, strlen(t), &conf, &res);

    CHECK(res.ntop >= 1 && res.contrib[res.top[0]] > 0,
          "the top feature raised the score");
    CHECK(res.score > 0 && res.score < 1, "score in (0, 1)");
}


/*
 * A long text repeating a few words (a pasted log, a list): the words'
 * term stays within its range in training, whichever way the words lean
 * (it is the sum over the square root of the terms, clamped: how far a
 * given phrase goes depends on the learned weights, so at least one of
 * them must reach an end), and the same text whole or cut in half scores
 * alike.
 */

static void
test_repeated_words(void)
{
    char                       *t;
    double                      w;
    size_t                      i, n, len, ends;
    ngx_llm_classify_result_t   res;
    ngx_llm_classify_state_t    st;

    static const char  *words[] = { "turn on the lights ", "quelle heure ",
                                    "proof lemma theorem " };

    ends = 0;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        len = strlen(words[i]);
        t = malloc(len * 20000 + 1);
        CHECK(t != NULL, "memory");

        if (t == NULL) {
            return;
        }

        for (n = 0; n < 20000; n++) {
            memcpy(t + n * len, words[i], len);
        }

        t[len * 20000] = '\0';

        ngx_llm_classify_text((const unsigned char *) t, len * 20000, &conf,
                              &res);

        CHECK(res.words >= ngx_llm_model_words_min
              && res.words <= ngx_llm_model_words_max,
              "the words' term within its range in training");

        ngx_llm_classify_begin(&st);
        ngx_llm_classify_turn(&st);
        ngx_llm_classify_feed(&st, (const unsigned char *) t, len * 10000 + 3);
        ngx_llm_classify_feed(&st, (const unsigned char *) t + len * 10000 + 3,
                              len * 10000 - 3);
        CHECK(ngx_llm_classify_score(&st, NULL) == res.score,
              "cut in two, the same score");

        /* the sum the clamp applies to, from the counters */
        w = (double) st.wsum * ngx_llm_model_words_scale
            / sqrt((double) st.nterms);

        if (w <= ngx_llm_model_words_min || w >= ngx_llm_model_words_max) {
            ends++;
        }

        CHECK(res.words == (w < ngx_llm_model_words_min
                            ? ngx_llm_model_words_min
                            : w > ngx_llm_model_words_max
                            ? ngx_llm_model_words_max : w),
              "the term is the sum, clamped to the range");

        free(t);
    }

    CHECK(ends >= 1, "20000 repeats of a phrase reach an end of the range");
    CHECK(ngx_llm_model_words_min <= 0 && ngx_llm_model_words_max >= 0,
          "the range holds a text without words");
}


static void
test_explain(void)
{
    char                       buf[128], tiny[8];
    size_t                     n;
    const char                *t;
    ngx_llm_classify_result_t  res;

    t = "Compare two sorting algorithms and prove which is faster.";
    ngx_llm_classify_text((const unsigned char *) t, strlen(t), &conf, &res);

    n = ngx_llm_classify_explain(&res, buf, sizeof(buf));
    CHECK(n == strlen(buf), "explain length");
    CHECK(strncmp(buf, ngx_llm_feature_name(res.top[0]),
                  strlen(ngx_llm_feature_name(res.top[0]))) == 0,
          "explain starts with the top contribution");

    n = ngx_llm_classify_explain(&res, tiny, sizeof(tiny));
    CHECK(n < sizeof(tiny) && tiny[n] == '\0', "explain truncates safely");

    CHECK(strcmp(ngx_llm_feature_name(NGX_LLM_F_CODE_LINES), "code_lines")
          == 0, "feature name");
    CHECK(strcmp(ngx_llm_feature_name(NGX_LLM_F_WORDS), "words") == 0,
          "the words' feature name");
    CHECK(strcmp(ngx_llm_feature_name(NGX_LLM_F_CONCEPT), "analyze") == 0,
          "a concept is named after its first word");
    CHECK(strcmp(ngx_llm_feature_name(9999), "none") == 0,
          "bad feature name");
}


static void
test_split_feed(void)
{
    size_t                     i, len;
    const char                *t;
    ngx_llm_classify_state_t   st;
    ngx_llm_classify_result_t  whole, part;

    t = "Analyze the 1500-word report, then explain why the code\n"
        "    x = f(y);\nfails. Prouve-le.";
    len = strlen(t);

    ngx_llm_classify_text((const unsigned char *) t, len, &conf, &whole);

    for (i = 0; i <= len; i++) {
        ngx_llm_classify_begin(&st);
        ngx_llm_classify_turn(&st);
        ngx_llm_classify_feed(&st, (const unsigned char *) t, i);
        ngx_llm_classify_feed(&st, (const unsigned char *) t + i, len - i);
        ngx_llm_classify_end(&st, NULL, &conf, &part);

        if (part.score != whole.score) {
            break;
        }
    }

    CHECK(i == len + 1, "feeding in two pieces gives the same score");
}


/*
 * A word's hash from its key (letters 1 to 6), its middle (7 to 14, one
 * 64-bit value) and the letters after: the fast path, the byte-by-byte
 * step, a run after a folded accent and a word cut between two feeds
 * give the same buckets, and each part of a word counts.
 */

typedef struct {
    uint32_t                   b[64];
    size_t                     n;
} buckets_t;


static void
buckets_sink(void *data, uint32_t bucket)
{
    buckets_t  *t = data;

    if (t->n < 64) {
        t->b[t->n++] = bucket;
    }
}


/* the hashed terms' buckets of w, as a sink gets them */

static void
sunk(const char *w, buckets_t *got)
{
    ngx_llm_classify_state_t   st;

    got->n = 0;
    ngx_llm_classify_begin(&st);
    st.sink = buckets_sink;
    st.sink_data = got;
    ngx_llm_classify_turn(&st);
    ngx_llm_classify_feed(&st, (const unsigned char *) w, strlen(w));
    (void) ngx_llm_classify_score(&st, NULL);
}


/* a word's bucket (the sink's first) */

static uint32_t
word_bucket(const char *w)
{
    buckets_t  got;

    sunk(w, &got);

    return got.n ? got.b[0] : 0xffffffff;
}


/* its stem's (the sink's third, after the pair's), or none */

static uint32_t
stem_bucket(const char *w)
{
    buckets_t  got;

    sunk(w, &got);

    return got.n == 3 && got.b[2] >= NGX_LLM_BUCKETS ? got.b[2] : 0xffffffff;
}


/* the words' sum and terms of t fed in pieces cut at cut (len: whole) */

static void
long_words_fed(const char *t, size_t len, size_t cut, int sink, int64_t *wsum,
    uint32_t *nterms)
{
    size_t                     k;
    buckets_t                  got;
    ngx_llm_classify_state_t   st;

    got.n = 0;
    ngx_llm_classify_begin(&st);

    if (sink) {
        st.sink = buckets_sink;
        st.sink_data = &got;
    }

    ngx_llm_classify_turn(&st);

    if (cut <= len) {
        ngx_llm_classify_feed(&st, (const unsigned char *) t, cut);
        ngx_llm_classify_feed(&st, (const unsigned char *) t + cut, len - cut);

    } else {
        for (k = 0; k < len; k++) {
            ngx_llm_classify_feed(&st, (const unsigned char *) t + k, 1);
        }
    }

    (void) ngx_llm_classify_score(&st, NULL);

    *wsum = st.wsum;
    *nterms = st.nterms;
}


static void
test_long_words(void)
{
    size_t     i, len;
    int64_t    wsum, w;
    uint32_t   nterms, n;

    /*
     * over 80 bytes: the fast path reads the text, not a copy; accents
     * after the 6th, at the 14th and after the 14th letter of a word the
     * fast path began ("hypercholestérolémie") take the run after a
     * folded accent
     */
    static const char  *t =
        "Internationalization, characteristically incomprehensibilities: "
        "the électroencéphalographiste's électroencéphalogrammes "
        "(counterrevolutionaries) word2vec abcdefghijklmnopqrstuvwxyz "
        "pneumonoultramicroscopicsilicovolcanoconiosis and sixsix seven77 "
        "fourteenletter fifteenletters Über-Fußballweltmeisterschaft "
        "hypercholestérolémie caractéristiques constitutionnélle";

    len = strlen(t);

    /* the fast path whole; the byte-by-byte step (a sink takes it) */
    long_words_fed(t, len, len, 0, &wsum, &nterms);
    long_words_fed(t, len, len, 1, &w, &n);
    CHECK(w == wsum && n == nterms && nterms == 42,
          "long words: the fast path and the step give the same terms");

    /* in two pieces cut at every byte, and byte by byte */

    for (i = 0; i <= len + 1; i++) {
        long_words_fed(t, len, i, 0, &w, &n);

        if (w != wsum || n != nterms) {
            break;
        }
    }

    CHECK(i == len + 2, "long words: the same terms whole, cut anywhere "
          "and byte by byte");

    /* each part of a word counts, and case does not */

    CHECK(word_bucket("abcdefghij") != word_bucket("abcdefxhij"),
          "a word's 7th letter counts");
    CHECK(word_bucket("abcdefghijklmn") != word_bucket("abcdefghijklmx"),
          "a word's 14th letter counts");
    CHECK(word_bucket("abcdefghijklmnop") != word_bucket("abcdefghijklmnox"),
          "a word's 16th letter counts");
    CHECK(word_bucket("Abcdefghijklmnop") == word_bucket("abcdefGHIJKLMNOP"),
          "a word's case does not count");
    CHECK(word_bucket("abcdef") != word_bucket("abcdefa"),
          "a letter after the key counts");

    /* a word of five letters or more has a stem: its first four */

    CHECK(stem_bucket("fuzzer") != 0xffffffff
          && stem_bucket("fuzzer") == stem_bucket("Fuzzing")
          && stem_bucket("fuzzer") == stem_bucket("fuzzy"),
          "words with the same first four letters share a stem");
    CHECK(stem_bucket("fuzz") == 0xffffffff
          && stem_bucket("1234567") == 0xffffffff,
          "a word under five letters and a number have no stem");
    CHECK(stem_bucket("fuzzer") != stem_bucket("fuzer"),
          "a stem's fourth letter counts");
    CHECK(stem_bucket("\xc3\xa9valuer") == stem_bucket("evaluation"),
          "a stem's accents are folded");
}


/* the score alone, then the explanation from the same state, later */

static void
test_score_then_end(void)
{
    int                        i, same;
    char                       a[128], b[128];
    const char                *t;
    ngx_llm_classify_hints_t   hints;
    ngx_llm_classify_state_t   st;
    ngx_llm_classify_result_t  whole, res;

    static const char  *texts[] = {
        "What is the capital of France?",
        "Analyze the 1500-word report, then explain why the code\n"
        "    x = f(y);\nfails. Prouve-le.",
        "Write a Python function that merges two sorted lists, with tests",
        "```\nint main(void) { return 0; }\n```\nwhy 3.",
        "hello `x",
        "caf\xc3",
        ""
    };

    same = 1;

    for (i = 0; i < (int) (sizeof(texts) / sizeof(texts[0])); i++) {
        t = texts[i];
        hints.max_tokens = (i % 3) * 2048;

        ngx_llm_classify_begin(&st);
        ngx_llm_classify_turn(&st);
        ngx_llm_classify_feed(&st, (const unsigned char *) t, strlen(t));
        ngx_llm_classify_end(&st, &hints, &conf, &whole);

        ngx_llm_classify_begin(&st);
        ngx_llm_classify_turn(&st);
        ngx_llm_classify_feed(&st, (const unsigned char *) t, strlen(t));

        if (ngx_llm_classify_score(&st, &hints) != whole.score
            || ngx_llm_classify_score(&st, &hints) != whole.score)
        {
            same = 0;
        }

        ngx_llm_classify_end(&st, &hints, &conf, &res);
        ngx_llm_classify_explain(&whole, a, sizeof(a));
        ngx_llm_classify_explain(&res, b, sizeof(b));

        if (res.score != whole.score || res.cls != whole.cls
            || res.ntop != whole.ntop || strcmp(a, b) != 0
            || memcmp(res.x, whole.x, sizeof(res.x)) != 0)
        {
            same = 0;
        }
    }

    CHECK(same, "the score alone is end()'s, and end() after it the same");
}


/* a message break counts as feeding "\n", wherever the text stops */

static void
test_break(void)
{
    int                        same;
    size_t                     i, len;
    const char                *t;
    ngx_llm_classify_state_t   a, b;
    ngx_llm_classify_result_t  ra, rb;

    t = "Analyze the 1500-word report, then `explain` why the code\n"
        "    x = f(y);\nfails in 3. Prouve-le, caf\xc3\xa9 ``` ok";
    len = strlen(t);
    same = 1;

    for (i = 0; i <= len; i++) {
        ngx_llm_classify_begin(&a);
        ngx_llm_classify_begin(&b);
        ngx_llm_classify_turn(&a);
        ngx_llm_classify_turn(&b);

        ngx_llm_classify_feed(&a, (const unsigned char *) t, i);
        ngx_llm_classify_feed(&a, (const unsigned char *) "\n", 1);
        ngx_llm_classify_feed(&a, (const unsigned char *) t + i, len - i);

        ngx_llm_classify_feed(&b, (const unsigned char *) t, i);
        ngx_llm_classify_break(&b);
        ngx_llm_classify_feed(&b, (const unsigned char *) t + i, len - i);

        if (memcmp(&a, &b, sizeof(a)) != 0) {
            same = 0;
        }

        ngx_llm_classify_end(&a, NULL, &conf, &ra);
        ngx_llm_classify_end(&b, NULL, &conf, &rb);

        if (ra.score != rb.score || memcmp(ra.x, rb.x, sizeof(ra.x)) != 0) {
            same = 0;
        }
    }

    CHECK(same, "a break is a \"\\n\" fed, cut anywhere");
}


static void
test_hostile(void)
{
    int                        c;
    size_t                     i, len;
    unsigned char             *big;
    ngx_llm_classify_hints_t   hints;
    ngx_llm_classify_state_t   st;
    ngx_llm_classify_result_t  res;

    /* every byte value, including NUL and lone UTF-8 lead bytes */
    len = 4096;
    big = malloc(len);
    CHECK(big != NULL, "malloc");

    for (i = 0; i < len; i++) {
        big[i] = (unsigned char) (i * 131 + 7);
    }

    ngx_llm_classify_text(big, len, &conf, &res);
    CHECK(res.score >= 0 && res.score <= 1, "binary input in range");
    free(big);

    /* 8 MB of one long word, of newlines, of backticks */
    len = 8 * 1024 * 1024;
    big = malloc(len);
    CHECK(big != NULL, "malloc");

    for (c = 0; c < 3; c++) {
        memset(big, "a\n`"[c], len);
        ngx_llm_classify_text(big, len, &conf, &res);
        CHECK(res.score >= 0 && res.score <= 1, "8 MB input in range");
    }

    free(big);

    ngx_llm_classify_begin(&st);
    ngx_llm_classify_turn(&st);
    ngx_llm_classify_feed(&st, (const unsigned char *) "hello", 5);
    hints.max_tokens = 8192;
    ngx_llm_classify_end(&st, &hints, &conf, &res);
    CHECK(res.contrib[NGX_LLM_F_MAX_TOKENS] > 0, "max_tokens hint counts");

    ngx_llm_classify_begin(&st);

    for (i = 0; i < 20; i++) {
        ngx_llm_classify_turn(&st);
    }

    ngx_llm_classify_end(&st, NULL, &conf, &res);
    CHECK(res.contrib[NGX_LLM_F_DEPTH] > 0, "conversation depth counts");
}


int
main(void)
{
    ngx_llm_classify_conf_default(&conf);

    test_thresholds();
    test_held_out();
    test_signals();
    test_repeated_words();
    test_explain();
    test_split_feed();
    test_long_words();
    test_score_then_end();
    test_break();
    test_hostile();

    UNIT_DONE("classify");
}
