
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Lexical near-duplicate test for short prompts, the "L2" response cache:
 * "what's the weather tomorrow?" and "Whats teh wether tomorow" are one
 * question; "set a timer for 5 minutes" and "... for 15 minutes", "turn on
 * the light" and "turn off the light", "weather in Paris" and "weather in
 * Lyon" are not.  A wrong answer costs more than a miss, so the decision is
 * made by hard rules checked exactly, and a similarity threshold on top:
 *
 *   1. normalise: case, accents (Latin-1, œ, æ, combining marks), quotes,
 *      punctuation, English contractions with or without the apostrophe
 *      ("what's", "whats", "don't", "dont"), French elisions ("l'heure",
 *      "n'allume"), politeness and fillers ("please", "hey jarvis", "can
 *      you", "s'il te plaît", "est-ce que"), articles and a few empty
 *      prepositions ("the", "a", "in", "le", "de"), plural "s";
 *      negations are never dropped ("not", "no", "never", "pas", "jamais");
 *   2. numbers, digits or words ("5", "five", "cinq", "twenty-five"), must
 *      be the same set on both sides (NUMBERS);
 *   3. negation and polarity words (not, no, never, on/off, open/close,
 *      start/stop, up/down, enable/disable, more/less, pas, allume/éteins,
 *      ouvre/ferme, monte/baisse...) must be the same set (NEGATION);
 *   4. every other kept word needs a counterpart on the other side: the
 *      same word, or a typo of it: the same first letter, and one edit
 *      (a letter added, dropped, changed, or two swapped) in words of 6
 *      or 7 letters, two from 8 letters; in words of 4 or 5 letters no
 *      change (only added, dropped or swapped letters); and below 8
 *      letters the last letter stays, or swaps with the one before
 *      ("Sophie"/"Sophia", "Daniel"/"Daniela" are two names).  So
 *      "wether"/"weather", "alram"/"alarm" are near; "Paris"/"Lyon",
 *      "Paris"/"parts", "bedroom"/"bathroom" are not (WORD).  A
 *      polarity word's typo ("inrease") is near it.
 *      A word after "from"/"to" ("depuis"/"vers") carries that role, so
 *      "from Paris to Lyon" is not "from Lyon to Paris";
 *   5. the similarity, Jaccard of the letter trigrams of the kept words,
 *      order-free, must reach the threshold: it measures how much typing
 *      noise separates two prompts that passed 2-4 (SIMILARITY).
 *
 * The signature is fixed-size and pointer-free, so it can be copied into
 * shared memory (472 bytes).  What it keeps of the prompt: the kept words
 * (after normalisation: no fillers, stop words, case or accents), each
 * cut to its first 14 bytes, sorted by hash so their order is lost, with
 * a 32-bit hash of the whole word; and a 512-bit set of letter trigrams.
 * The words are needed for the typo test: hashed letter sets (an earlier
 * version) collide, and "bedroom" passed for "bathroom" in the bench.
 * So the gist of a prompt can be read back from a signature; treat the
 * zone like the cache keys.
 *
 * Texts that are not compared (ngx_llm_sig_make() returns -1): empty,
 * longer than NGX_LLM_SIG_MAX_LEN bytes, invalid UTF-8, more than
 * NGX_LLM_SIG_WORDS words or more than NGX_LLM_SIG_TOKENS distinct kept
 * words, or nothing left after normalisation ("hey jarvis!").
 *
 * No nginx types; compare allocates nothing, make nothing either (about
 * 6 KB of stack).  The defaults were chosen by bench/similar.py
 * (bench/results/SIMILAR.md).
 */


#ifndef _NGX_LLM_SIMILAR_H_INCLUDED_
#define _NGX_LLM_SIMILAR_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_LLM_SIG_MAX_LEN      1024   /* bytes of text at most */
#define NGX_LLM_SIG_WORDS        192    /* words before normalisation */
#define NGX_LLM_SIG_TOKENS       20     /* distinct kept words */
#define NGX_LLM_SIG_TEXT         14     /* bytes kept of each */
#define NGX_LLM_SIG_BITS         512    /* the trigram set */

/* the default threshold: see bench/results/SIMILAR.md */
#define NGX_LLM_SIMILAR_THRESHOLD  0.5


typedef enum {
    NGX_LLM_SIMILAR_MATCH = 0,
    NGX_LLM_SIMILAR_NUMBERS,       /* different numbers */
    NGX_LLM_SIMILAR_NEGATION,      /* a negation or polarity word differs */
    NGX_LLM_SIMILAR_LENGTH,        /* kept word counts too far apart */
    NGX_LLM_SIMILAR_WORD,          /* a word with no near counterpart */
    NGX_LLM_SIMILAR_SIMILARITY,    /* below the threshold */
    NGX_LLM_SIMILAR_INVALID        /* a signature make() did not fill */
} ngx_llm_similar_e;


typedef struct {
    uint32_t  hash;       /* the normalised word, its kind and role mixed in */
    uint8_t   len;        /* bytes, 255 at most */
    uint8_t   kind;       /* low 4 bits: word, number, polar; high: role */
    char      text[NGX_LLM_SIG_TEXT];   /* its first bytes, NUL-padded */
} ngx_llm_sig_token_t;


typedef struct {
    uint64_t             trigrams[NGX_LLM_SIG_BITS / 64];
    ngx_llm_sig_token_t  tokens[NGX_LLM_SIG_TOKENS];   /* sorted by hash */
    uint32_t             magic;
    uint16_t             ntokens;
    uint16_t             nwords;     /* kept words that are not numbers or
                                        polarity words */
} ngx_llm_sig_t;


/*
 * Fills sig from text (UTF-8, len bytes): 0, or -1 when the text is not
 * comparable; sig is then zeroed, and compare answers INVALID.
 */
int ngx_llm_sig_make(ngx_llm_sig_t *sig, const char *text, size_t len);

/*
 * MATCH when b may be answered with a's answer at this threshold (0..1),
 * else the first rule that failed.  *similarity (may be NULL) gets the
 * trigram Jaccard in [0, 1] whatever the verdict (0 for INVALID).
 */
ngx_llm_similar_e ngx_llm_sig_compare(const ngx_llm_sig_t *a,
    const ngx_llm_sig_t *b, double threshold, double *similarity);

/* "match", "numbers", "negation", "length", "word", "similarity", ... */
const char *ngx_llm_similar_reason_name(ngx_llm_similar_e reason);


#endif /* _NGX_LLM_SIMILAR_H_INCLUDED_ */
