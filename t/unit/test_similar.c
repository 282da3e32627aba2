
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Unit tests for the lexical near-duplicate test: each way of retyping a
 * prompt matches, each kind of hard negative is refused for its reason,
 * the threshold, texts that are not comparable, and the signature's
 * contract (fixed size, copied by value).
 */


#include <stdlib.h>

#include "unit.h"
#include "ngx_llm_similar.h"


#define T  NGX_LLM_SIMILAR_THRESHOLD


static int
verdict(const char *a, const char *b, double threshold, double *sim)
{
    ngx_llm_sig_t  sa, sb;

    if (ngx_llm_sig_make(&sa, a, strlen(a)) != 0
        || ngx_llm_sig_make(&sb, b, strlen(b)) != 0)
    {
        return -1;
    }

    return (int) ngx_llm_sig_compare(&sa, &sb, threshold, sim);
}


static void
match(const char *a, const char *b)
{
    int     r;
    double  sim;

    r = verdict(a, b, T, &sim);

    if (r != NGX_LLM_SIMILAR_MATCH) {
        printf("  \"%s\" / \"%s\": %s, similarity %.2f\n", a, b,
               r < 0 ? "not comparable"
                     : ngx_llm_similar_reason_name((ngx_llm_similar_e) r),
               sim);
    }

    CHECK(r == NGX_LLM_SIMILAR_MATCH, a);
}


static void
refuse(const char *a, const char *b, ngx_llm_similar_e reason)
{
    int     r, r2;
    double  sim;

    r = verdict(a, b, T, &sim);
    r2 = verdict(b, a, T, &sim);

    if (r != (int) reason) {
        printf("  \"%s\" / \"%s\": %s, wanted %s\n", a, b,
               r < 0 ? "not comparable"
                     : ngx_llm_similar_reason_name((ngx_llm_similar_e) r),
               ngx_llm_similar_reason_name(reason));
    }

    CHECK(r == (int) reason, a);
    CHECK(r2 == (int) reason, "the same both ways");
}


static void
test_retyping(void)
{
    /* case, punctuation, whitespace, contractions with or without ' */
    match("what's the weather tomorrow?", "What is the weather tomorrow");
    match("what's the weather tomorrow?", "whats the weather tomorrow ?");
    match("What\xe2\x80\x99s the weather tomorrow", "what is the weather "
          "tomorrow!!!");
    match("  WHAT'S   THE\tWEATHER\nTOMORROW  ", "what is the weather "
          "tomorrow");
    match("don't turn off the light", "do not turn off the light");
    match("dont turn off the light", "do not turn off the light");
    match("I can't hear you", "i cannot hear you");
    match("it's raining, isn't it?", "its raining isnt it");
    match("what's the weather", "what s the weather");
    match("don't turn it off", "don t turn it off");

    /* typos */
    match("what's the weather tomorrow", "whats the wether tomorow");
    match("set an alarm for 7 tomorrow morning",
          "set an alram for 7 tomorrow morning");
    match("call Sarah", "call Sarha");
    match("start the vacuum cleaner in the garage",
          "start the vacumu cleaner in the garaeg");
    match("how do I receive a package", "how do i recieve a package");
    match("turn on the kitchen lights", "turn on the kitchen light");

    /* word order */
    match("what's the weather in Paris tomorrow",
          "tomorrow in Paris, what's the weather");
    match("weather in Paris", "Paris weather");

    /* politeness and fillers */
    match("turn on the kitchen light", "please turn on the kitchen light");
    match("turn on the kitchen light",
          "Hey Jarvis, could you turn on the kitchen light please?");
    match("what time is it", "can you tell me what time is it");
    match("allume la lumière de la cuisine",
          "Jarvis, peux-tu allumer la lumière de la cuisine s'il te plaît");

    /* accents, French */
    match("Quel temps fera-t-il demain à Paris ?",
          "quel temps fera t il demain a paris");
    match("réveille-moi à sept heures", "reveille moi a 7 heures");
    match("l'heure qu'il est", "l\xe2\x80\x99heure qu\xe2\x80\x99il est");
    match("cafe\xcc\x81 pre\xcc\x80s d'ici", "café près d'ici");

    /* numbers written either way */
    match("set a timer for five minutes", "set a timer for 5 minutes");
    match("set a timer for twenty-five minutes",
          "set timer for 25 minutes");
    match("mets un minuteur de cinq minutes", "mets un minuteur de 5 min"
          "utes");
    match("quatre-vingt-dix euros", "90 euros");
    match("timer for 07 minutes", "timer for seven minutes");
}


static void
test_hard_negatives(void)
{
    refuse("set a timer for 5 minutes", "set a timer for 15 minutes",
           NGX_LLM_SIMILAR_NUMBERS);
    refuse("set a timer for five minutes", "set a timer for six minutes",
           NGX_LLM_SIMILAR_NUMBERS);
    refuse("mets un minuteur de cinq minutes",
           "mets un minuteur de quinze minutes", NGX_LLM_SIMILAR_NUMBERS);
    refuse("set the thermostat to 21.5", "set the thermostat to 21",
           NGX_LLM_SIMILAR_NUMBERS);
    refuse("what's the weather", "what's the weather on day 2",
           NGX_LLM_SIMILAR_NUMBERS);

    refuse("turn on the light", "turn off the light",
           NGX_LLM_SIMILAR_NEGATION);
    refuse("turn on the light", "don't turn on the light",
           NGX_LLM_SIMILAR_NEGATION);
    refuse("is it going to rain", "is it not going to rain",
           NGX_LLM_SIMILAR_NEGATION);
    refuse("open the garage door", "close the garage door",
           NGX_LLM_SIMILAR_NEGATION);
    refuse("turn the volume up", "turn the volume down",
           NGX_LLM_SIMILAR_NEGATION);
    refuse("enable the alarm", "disable the alarm",
           NGX_LLM_SIMILAR_NEGATION);
    refuse("allume la lumière", "éteins la lumière",
           NGX_LLM_SIMILAR_NEGATION);
    refuse("allume la lumière", "n'allume pas la lumière",
           NGX_LLM_SIMILAR_NEGATION);
    refuse("ouvre les volets", "ferme les volets",
           NGX_LLM_SIMILAR_NEGATION);
    refuse("I never drink coffee", "I drink coffee",
           NGX_LLM_SIMILAR_NEGATION);
    refuse("please turn on the light", "please don't turn on the light",
           NGX_LLM_SIMILAR_NEGATION);

    refuse("weather in Paris", "weather in Lyon", NGX_LLM_SIMILAR_WORD);
    refuse("weather in Paris", "weather in parts", NGX_LLM_SIMILAR_WORD);
    refuse("call mom", "call dad", NGX_LLM_SIMILAR_WORD);
    refuse("turn on the kitchen light", "turn on the bedroom light",
           NGX_LLM_SIMILAR_WORD);
    refuse("where is the meeting", "when is the meeting",
           NGX_LLM_SIMILAR_WORD);
    refuse("what is my name", "what is your name", NGX_LLM_SIMILAR_WORD);
    refuse("what was the score", "what is the score",
           NGX_LLM_SIMILAR_WORD);
    refuse("flights from Paris to Lyon", "flights from Lyon to Paris",
           NGX_LLM_SIMILAR_WORD);
    refuse("turn on the bedroom light", "turn on the bathroom light",
           NGX_LLM_SIMILAR_WORD);
    refuse("call Sophie", "call Sophia", NGX_LLM_SIMILAR_WORD);
    refuse("call Daniel", "call Daniela", NGX_LLM_SIMILAR_WORD);
    refuse("set a timer", "set a times", NGX_LLM_SIMILAR_WORD);
    refuse("play some jazz", "play some rock", NGX_LLM_SIMILAR_WORD);

    refuse("weather", "weather in paris tomorrow morning early",
           NGX_LLM_SIMILAR_LENGTH);
}


static void
test_threshold(void)
{
    int     r;
    double  sim, sim2;

    r = verdict("turn on the kitchen light", "turn on the kitchen light",
                1.0, &sim);
    CHECK(r == NGX_LLM_SIMILAR_MATCH, "identical texts at threshold 1");
    CHECK(sim == 1.0, "identical texts: similarity 1");

    r = verdict("whats the wether tomorow", "what is the weather tomorrow",
                1.0, &sim);
    CHECK(r == NGX_LLM_SIMILAR_SIMILARITY, "typos refused at threshold 1");
    CHECK(sim > 0.5 && sim < 1.0, "typos: similarity between 0.5 and 1");

    r = verdict("whats the wether tomorow", "what is the weather tomorrow",
                sim, &sim2);
    CHECK(r == NGX_LLM_SIMILAR_MATCH, "matches at its own similarity");
    CHECK(sim2 == sim, "the similarity does not depend on the threshold");

    r = verdict("whats the wether tomorow", "what is the weather tomorrow",
                sim + 0.01, NULL);
    CHECK(r == NGX_LLM_SIMILAR_SIMILARITY, "refused just above it");

    /* a typo weighs more in a short prompt: below the default */
    r = verdict("set an alarm for 7", "set an alram for 7", T, &sim);
    CHECK(r == NGX_LLM_SIMILAR_SIMILARITY, "a typo in a 3-word prompt");
    CHECK(verdict("set an alarm for 7", "set an alram for 7", 0.3, NULL)
          == NGX_LLM_SIMILAR_MATCH, "... matches at 0.3");

    r = verdict("turn on the light", "turn on the light", 0.0 / 0.0, &sim);
    CHECK(r == NGX_LLM_SIMILAR_MATCH, "NaN threshold is 1: identical match");

    r = verdict("turn on the light", "turn on the lights", 0.0, &sim);
    CHECK(r == NGX_LLM_SIMILAR_MATCH, "threshold 0");

    /* the hard rules hold at threshold 0 */
    r = verdict("timer for 5 minutes", "timer for 6 minutes", 0.0, &sim);
    CHECK(r == NGX_LLM_SIMILAR_NUMBERS, "numbers at threshold 0");
    CHECK(sim > 0.5, "numbers: the similarity alone would have matched");

    r = verdict("weather in Paris", "weather in Lyon", 0.0, NULL);
    CHECK(r == NGX_LLM_SIMILAR_WORD, "words at threshold 0");
}


static void
test_not_comparable(void)
{
    char           big[NGX_LLM_SIG_MAX_LEN + 2];
    ngx_llm_sig_t  s, z;
    double         sim;
    size_t         i;

    CHECK(ngx_llm_sig_make(&s, "", 0) == -1, "empty");
    CHECK(ngx_llm_sig_make(&s, "  ?! ", 5) == -1, "punctuation only");
    CHECK(ngx_llm_sig_make(&s, "Hey Jarvis, please!", 19) == -1,
          "fillers only");
    CHECK(ngx_llm_sig_make(&s, "the a an", 8) == -1, "stop words only");
    CHECK(ngx_llm_sig_make(&s, "caf\xc3", 4) == -1, "truncated UTF-8");
    CHECK(ngx_llm_sig_make(&s, "caf\xc3\x28", 5) == -1, "bad continuation");
    CHECK(ngx_llm_sig_make(&s, "\xc0\xaf", 2) == -1, "overlong");
    CHECK(ngx_llm_sig_make(&s, "\xed\xa0\x80", 3) == -1, "surrogate");
    CHECK(ngx_llm_sig_make(&s, "\xf4\x90\x80\x80", 4) == -1,
          "past U+10FFFF");
    CHECK(ngx_llm_sig_make(&s, "a\0b", 3) == -1, "NUL");

    for (i = 0; i < sizeof(big); i++) {
        big[i] = (i % 6 == 5) ? ' ' : 'a' + (i / 6) % 26;
    }

    CHECK(ngx_llm_sig_make(&s, big, NGX_LLM_SIG_MAX_LEN + 1) == -1,
          "too long");
    CHECK(ngx_llm_sig_make(&s, big, 200) == -1, "too many distinct words");
    CHECK(ngx_llm_sig_make(&s, big, 60) == 0, "ten words are fine");

    memset(&z, 0, sizeof(z));
    CHECK(ngx_llm_sig_make(&s, "turn on the light", 17) == 0, "made");
    CHECK(ngx_llm_sig_compare(&s, &z, 0.0, &sim) == NGX_LLM_SIMILAR_INVALID,
          "a zeroed signature is invalid");
    CHECK(sim == 0.0, "invalid: similarity 0");

    CHECK(ngx_llm_sig_make(&z, "", 0) == -1
          && ngx_llm_sig_compare(&z, &z, 0.0, NULL)
             == NGX_LLM_SIMILAR_INVALID,
          "a refused text leaves an invalid signature");
}


static void
test_signature(void)
{
    ngx_llm_sig_t  a, b, *c;

    CHECK(sizeof(ngx_llm_sig_t) <= 512, "signature fits in 512 bytes");

    CHECK(ngx_llm_sig_make(&a, "turn on the kitchen light", 25) == 0,
          "made");
    CHECK(ngx_llm_sig_make(&b, "turn on the kitchen light", 25) == 0,
          "made again");
    CHECK(memcmp(&a, &b, sizeof(a)) == 0, "deterministic, no padding junk");

    /* copied like shared memory would: by bytes, to another address */
    c = malloc(sizeof(ngx_llm_sig_t));
    CHECK(c != NULL, "malloc");

    if (c) {
        memcpy(c, &a, sizeof(a));
        memset(&a, 0xff, sizeof(a));
        CHECK(ngx_llm_sig_compare(c, &b, T, NULL) == NGX_LLM_SIMILAR_MATCH,
              "a copy compares");
        free(c);
    }

    CHECK(strcmp(ngx_llm_similar_reason_name(NGX_LLM_SIMILAR_MATCH),
                 "match") == 0, "reason name");
    CHECK(strcmp(ngx_llm_similar_reason_name(NGX_LLM_SIMILAR_NEGATION),
                 "negation") == 0, "reason name");
    CHECK(strcmp(ngx_llm_similar_reason_name((ngx_llm_similar_e) 99),
                 "unknown") == 0, "unknown reason");
}


int
main(void)
{
    test_retyping();
    test_hard_negatives();
    test_threshold();
    test_not_comparable();
    test_signature();

    UNIT_DONE("similar");
}
