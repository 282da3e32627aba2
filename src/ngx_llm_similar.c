
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Lexical near-duplicates of short prompts: see ngx_llm_similar.h.
 *
 * ngx_llm_sig_make() reads the text in three passes over a stack copy:
 * the scanner folds case and accents and cuts words (letters and digits
 * apart: "5min" is "5" "min"; "1,5" is the number "1.5"); each word has
 * its contraction or elision expanded as it is cut; then filler phrases
 * are struck out, and the words left are looked up in one dictionary
 * (stop words, single fillers, number words, negation and polarity
 * words, "from"/"to") and turned into tokens.  Numbers spelt out are
 * summed the usual way ("twenty five", "quatre vingt dix") and stored in
 * digits, so "five" and "5" are one token.
 *
 * ngx_llm_sig_compare() checks numbers, then polarity words, then word
 * counts, then every word for a counterpart, then the similarity: at most
 * 24 x 24 token comparisons and 8 popcounts, no allocation.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_llm_similar.h"


#define NGX_LLM_SIG_MAGIC   0x53494731      /* "SIG1" */

#define NGX_LLM_TOK_WORD    1
#define NGX_LLM_TOK_NUMBER  2
#define NGX_LLM_TOK_POLAR   3

#define NGX_LLM_ROLE_FROM   1
#define NGX_LLM_ROLE_TO     2

/* kept word counts further apart than this fail at once */
#define NGX_LLM_LENGTH_GAP  2

#define NGX_LLM_PHRASE_MAX  5


/* dictionary kinds */
enum {
    D_STOP = 1,         /* an article, an empty preposition */
    D_FILLER,           /* politeness, greetings, the assistant's name */
    D_NUMBER,           /* value: the number */
    D_POLAR,            /* canon: the word it stands for, or itself */
    D_FROM,             /* marks the next word's role */
    D_TO
};


typedef struct {
    const char  *word;
    int          kind;
    long         value;
    const char  *canon;
} ngx_llm_dict_t;


typedef struct {
    const char  *p;
    size_t       len;
    int          skip;
} ngx_llm_word_t;


typedef struct {
    ngx_llm_word_t  *word;
    int              n;
    int              over;
} ngx_llm_words_t;


typedef struct {
    const char  *from;
    const char  *to[2];
} ngx_llm_expand_t;


static void ngx_llm_similar_scan(const unsigned char *s, size_t len,
    char *buf, ngx_llm_words_t *ws);
static void ngx_llm_similar_word(ngx_llm_words_t *ws, const char *p,
    size_t len);
static void ngx_llm_similar_plain(ngx_llm_words_t *ws, const char *p,
    size_t len);
static void ngx_llm_similar_push(ngx_llm_words_t *ws, const char *p,
    size_t len);
static void ngx_llm_similar_fillers(ngx_llm_words_t *ws);
static int ngx_llm_similar_build(ngx_llm_sig_t *sig, ngx_llm_words_t *ws);
static int ngx_llm_similar_add(ngx_llm_sig_t *sig, const char *p,
    size_t len, int kind, int role);
static const ngx_llm_dict_t *ngx_llm_similar_lookup(const char *p,
    size_t len);
static int ngx_llm_similar_utf8(const unsigned char *s, size_t len);
static int ngx_llm_similar_find(const ngx_llm_sig_t *sig, uint32_t hash);
static int ngx_llm_similar_near(const ngx_llm_sig_token_t *a,
    const ngx_llm_sig_token_t *b);
static int ngx_llm_similar_spelling(const char *a, size_t la,
    const char *b, size_t lb);
static int ngx_llm_similar_like(const char *p, size_t len,
    const char *word);
static int ngx_llm_similar_filler_typo(const char *p, size_t len);
static int ngx_llm_similar_cover(const ngx_llm_sig_t *a,
    const ngx_llm_sig_t *b, int kind);
static uint64_t ngx_llm_similar_mix(uint64_t h);
static uint64_t ngx_llm_similar_fnv(const char *p, size_t len);
static int ngx_llm_similar_popcount(uint64_t x);
static int ngx_llm_similar_dict_cmp(const void *a, const void *b);


/*
 * U+00C0..U+00FF folded to one ASCII letter; 0 for the two signs (U+00D7,
 * U+00F7) and for Æ/æ, which the scanner writes as "ae".
 */
static const char  ngx_llm_latin1[64] = {
    'a', 'a', 'a', 'a', 'a', 'a',  0,  'c',      /* À Á Â Ã Ä Å Æ Ç */
    'e', 'e', 'e', 'e', 'i', 'i', 'i', 'i',      /* È É Ê Ë Ì Í Î Ï */
    'd', 'n', 'o', 'o', 'o', 'o', 'o',  0,       /* Ð Ñ Ò Ó Ô Õ Ö × */
    'o', 'u', 'u', 'u', 'u', 'y', 't', 's',      /* Ø Ù Ú Û Ü Ý Þ ß */
    'a', 'a', 'a', 'a', 'a', 'a',  0,  'c',
    'e', 'e', 'e', 'e', 'i', 'i', 'i', 'i',
    'd', 'n', 'o', 'o', 'o', 'o', 'o',  0,
    'o', 'u', 'u', 'u', 'u', 'y', 't', 'y'
};


/* contractions typed without their apostrophe, and chat spellings */
static const ngx_llm_expand_t  ngx_llm_expand[] = {
    { "whats", { "what", "is" } },     { "thats", { "that", "is" } },
    { "wheres", { "where", "is" } },   { "whos", { "who", "is" } },
    { "hows", { "how", "is" } },       { "whens", { "when", "is" } },
    { "theres", { "there", "is" } },   { "heres", { "here", "is" } },
    { "dont", { "do", "not" } },       { "doesnt", { "does", "not" } },
    { "didnt", { "did", "not" } },     { "isnt", { "is", "not" } },
    { "arent", { "are", "not" } },     { "wasnt", { "was", "not" } },
    { "werent", { "were", "not" } },   { "cant", { "can", "not" } },
    { "cannot", { "can", "not" } },    { "couldnt", { "could", "not" } },
    { "wouldnt", { "would", "not" } }, { "shouldnt", { "should", "not" } },
    { "wont", { "will", "not" } },     { "havent", { "have", "not" } },
    { "hasnt", { "has", "not" } },     { "hadnt", { "had", "not" } },
    { "aint", { "is", "not" } },       { "im", { "i", "am" } },
    { "ive", { "i", "have" } },        { "youre", { "you", "are" } },
    { "theyre", { "they", "are" } },   { "lets", { "let", "us" } },
    { "gonna", { "going", "to" } },    { "wanna", { "want", "to" } },
    { "gimme", { "give", "me" } },     { "u", { "you", NULL } },
    { "ur", { "your", NULL } },        { "thx", { "thanks", NULL } },
    { "its", { "it", "is" } },
    { "pls", { "please", NULL } },     { "plz", { "please", NULL } },
    { NULL, { NULL, NULL } }
};


/* "X's" is "X is" after these; a possessive after any other word */
static const char  *ngx_llm_is_bases[] = {
    "what", "that", "it", "he", "she", "there", "here", "where", "who",
    "how", "when", "why", NULL
};


/* French elisions: "l'", "qu'", ... and the word each stands for */
static const ngx_llm_expand_t  ngx_llm_elision[] = {
    { "l", { "le", NULL } },    { "d", { "de", NULL } },
    { "j", { "je", NULL } },    { "m", { "me", NULL } },
    { "t", { "te", NULL } },    { "s", { "se", NULL } },
    { "c", { "ce", NULL } },    { "n", { "ne", NULL } },
    { "qu", { "que", NULL } },  { "jusqu", { "jusque", NULL } },
    { "lorsqu", { "lorsque", NULL } },
    { "puisqu", { "puisque", NULL } },
    { NULL, { NULL, NULL } }
};


/* filler phrases, struck out wherever they stand */
static const char  *ngx_llm_phrases[][NGX_LLM_PHRASE_MAX + 1] = {
    { "can", "you", NULL },                { "could", "you", NULL },
    { "would", "you", NULL },              { "will", "you", NULL },
    { "thank", "you", NULL },              { "tell", "me", NULL },
    { "for", "me", NULL },                 { "do", "you", "know", NULL },
    { "i", "want", "you", "to", NULL },    { "i", "need", "you", "to", NULL },
    { "i", "would", "like", "you", "to", NULL },
    { "est", "ce", "que", NULL },          { "peux", "tu", NULL },
    { "pourrais", "tu", NULL },            { "pouvez", "vous", NULL },
    { "pourriez", "vous", NULL },          { "tu", "peux", NULL },
    { "tu", "pourrais", NULL },            { "vous", "pouvez", NULL },
    { "dis", "moi", NULL },                { "dites", "moi", NULL },
    { "pour", "moi", NULL },               { "se", "il", "te", "plait", NULL },
    { "se", "il", "vous", "plait", NULL },
    { NULL }
};


/* sorted by word at first use */
static ngx_llm_dict_t  ngx_llm_dict[] = {

    /* stop words: carry nothing a retyping would keep */
    { "the", D_STOP, 0, NULL },    { "a", D_STOP, 0, NULL },
    { "an", D_STOP, 0, NULL },     { "of", D_STOP, 0, NULL },
    { "in", D_STOP, 0, NULL },     { "at", D_STOP, 0, NULL },
    { "for", D_STOP, 0, NULL },    { "and", D_STOP, 0, NULL },
    { "it", D_STOP, 0, NULL },     { "le", D_STOP, 0, NULL },
    { "la", D_STOP, 0, NULL },     { "les", D_STOP, 0, NULL },
    { "un", D_STOP, 0, NULL },     { "une", D_STOP, 0, NULL },
    { "des", D_STOP, 0, NULL },    { "du", D_STOP, 0, NULL },
    { "de", D_STOP, 0, NULL },     { "au", D_STOP, 0, NULL },
    { "aux", D_STOP, 0, NULL },    { "en", D_STOP, 0, NULL },
    { "dans", D_STOP, 0, NULL },   { "pour", D_STOP, 0, NULL },
    { "et", D_STOP, 0, NULL },     { "ne", D_STOP, 0, NULL },
    { "y", D_STOP, 0, NULL },      { "s", D_STOP, 0, NULL },

    /* fillers */
    { "please", D_FILLER, 0, NULL },    { "kindly", D_FILLER, 0, NULL },
    { "hey", D_FILLER, 0, NULL },       { "hi", D_FILLER, 0, NULL },
    { "hello", D_FILLER, 0, NULL },     { "ok", D_FILLER, 0, NULL },
    { "okay", D_FILLER, 0, NULL },      { "jarvis", D_FILLER, 0, NULL },
    { "thanks", D_FILLER, 0, NULL },    { "just", D_FILLER, 0, NULL },
    { "um", D_FILLER, 0, NULL },        { "uh", D_FILLER, 0, NULL },
    { "oh", D_FILLER, 0, NULL },        { "yo", D_FILLER, 0, NULL },
    { "svp", D_FILLER, 0, NULL },       { "stp", D_FILLER, 0, NULL },
    { "merci", D_FILLER, 0, NULL },     { "bonjour", D_FILLER, 0, NULL },
    { "salut", D_FILLER, 0, NULL },     { "coucou", D_FILLER, 0, NULL },

    /* number words; "un"/"une" are articles more often than numbers */
    { "zero", D_NUMBER, 0, NULL },        { "one", D_NUMBER, 1, NULL },
    { "two", D_NUMBER, 2, NULL },         { "three", D_NUMBER, 3, NULL },
    { "four", D_NUMBER, 4, NULL },        { "five", D_NUMBER, 5, NULL },
    { "six", D_NUMBER, 6, NULL },         { "seven", D_NUMBER, 7, NULL },
    { "eight", D_NUMBER, 8, NULL },       { "nine", D_NUMBER, 9, NULL },
    { "ten", D_NUMBER, 10, NULL },        { "eleven", D_NUMBER, 11, NULL },
    { "twelve", D_NUMBER, 12, NULL },     { "thirteen", D_NUMBER, 13, NULL },
    { "fourteen", D_NUMBER, 14, NULL },   { "fifteen", D_NUMBER, 15, NULL },
    { "sixteen", D_NUMBER, 16, NULL },    { "seventeen", D_NUMBER, 17, NULL },
    { "eighteen", D_NUMBER, 18, NULL },   { "nineteen", D_NUMBER, 19, NULL },
    { "twenty", D_NUMBER, 20, NULL },     { "thirty", D_NUMBER, 30, NULL },
    { "forty", D_NUMBER, 40, NULL },      { "fifty", D_NUMBER, 50, NULL },
    { "sixty", D_NUMBER, 60, NULL },      { "seventy", D_NUMBER, 70, NULL },
    { "eighty", D_NUMBER, 80, NULL },     { "ninety", D_NUMBER, 90, NULL },
    { "hundred", D_NUMBER, 100, NULL },   { "thousand", D_NUMBER, 1000, NULL },
    { "million", D_NUMBER, 1000000, NULL },
    { "deux", D_NUMBER, 2, NULL },        { "trois", D_NUMBER, 3, NULL },
    { "quatre", D_NUMBER, 4, NULL },      { "cinq", D_NUMBER, 5, NULL },
    { "sept", D_NUMBER, 7, NULL },        { "huit", D_NUMBER, 8, NULL },
    { "neuf", D_NUMBER, 9, NULL },        { "dix", D_NUMBER, 10, NULL },
    { "onze", D_NUMBER, 11, NULL },       { "douze", D_NUMBER, 12, NULL },
    { "treize", D_NUMBER, 13, NULL },     { "quatorze", D_NUMBER, 14, NULL },
    { "quinze", D_NUMBER, 15, NULL },     { "seize", D_NUMBER, 16, NULL },
    { "vingt", D_NUMBER, 20, NULL },      { "trente", D_NUMBER, 30, NULL },
    { "quarante", D_NUMBER, 40, NULL },   { "cinquante", D_NUMBER, 50, NULL },
    { "soixante", D_NUMBER, 60, NULL },   { "cent", D_NUMBER, 100, NULL },
    { "mille", D_NUMBER, 1000, NULL },

    /* negation */
    { "not", D_POLAR, 0, NULL },       { "no", D_POLAR, 0, NULL },
    { "never", D_POLAR, 0, NULL },     { "none", D_POLAR, 0, NULL },
    { "nothing", D_POLAR, 0, NULL },   { "nobody", D_POLAR, 0, NULL },
    { "neither", D_POLAR, 0, NULL },   { "nor", D_POLAR, 0, NULL },
    { "without", D_POLAR, 0, NULL },   { "yes", D_POLAR, 0, NULL },
    { "pas", D_POLAR, 0, NULL },       { "jamais", D_POLAR, 0, NULL },
    { "rien", D_POLAR, 0, NULL },      { "aucun", D_POLAR, 0, NULL },
    { "aucune", D_POLAR, 0, NULL },    { "sans", D_POLAR, 0, NULL },
    { "ni", D_POLAR, 0, NULL },        { "non", D_POLAR, 0, NULL },
    { "oui", D_POLAR, 0, NULL },       { "plus", D_POLAR, 0, NULL },
    { "moins", D_POLAR, 0, NULL },

    /* polarity, English */
    { "on", D_POLAR, 0, NULL },        { "off", D_POLAR, 0, NULL },
    { "open", D_POLAR, 0, NULL },      { "close", D_POLAR, 0, NULL },
    { "start", D_POLAR, 0, NULL },     { "stop", D_POLAR, 0, NULL },
    { "enable", D_POLAR, 0, NULL },    { "disable", D_POLAR, 0, NULL },
    { "activate", D_POLAR, 0, NULL },  { "deactivate", D_POLAR, 0, NULL },
    { "up", D_POLAR, 0, NULL },        { "down", D_POLAR, 0, NULL },
    { "increase", D_POLAR, 0, NULL },  { "decrease", D_POLAR, 0, NULL },
    { "raise", D_POLAR, 0, NULL },     { "lower", D_POLAR, 0, NULL },
    { "more", D_POLAR, 0, NULL },      { "less", D_POLAR, 0, NULL },
    { "lock", D_POLAR, 0, NULL },      { "unlock", D_POLAR, 0, NULL },
    { "mute", D_POLAR, 0, NULL },      { "unmute", D_POLAR, 0, NULL },
    { "play", D_POLAR, 0, NULL },      { "pause", D_POLAR, 0, NULL },
    { "resume", D_POLAR, 0, NULL },    { "add", D_POLAR, 0, NULL },
    { "remove", D_POLAR, 0, NULL },    { "delete", D_POLAR, 0, NULL },
    { "higher", D_POLAR, 0, NULL },    { "true", D_POLAR, 0, NULL },
    { "false", D_POLAR, 0, NULL },     { "before", D_POLAR, 0, NULL },
    { "after", D_POLAR, 0, NULL },     { "above", D_POLAR, 0, NULL },
    { "below", D_POLAR, 0, NULL },     { "warmer", D_POLAR, 0, NULL },
    { "colder", D_POLAR, 0, NULL },    { "louder", D_POLAR, 0, NULL },
    { "quieter", D_POLAR, 0, NULL },   { "brighter", D_POLAR, 0, NULL },
    { "dimmer", D_POLAR, 0, NULL },    { "min", D_POLAR, 0, "minimum" },
    { "minimum", D_POLAR, 0, NULL },   { "max", D_POLAR, 0, "maximum" },
    { "maximum", D_POLAR, 0, NULL },

    /* polarity, French, the verb's usual forms as one */
    { "allume", D_POLAR, 0, NULL },      { "allumer", D_POLAR, 0, "allume" },
    { "allumez", D_POLAR, 0, "allume" }, { "eteins", D_POLAR, 0, NULL },
    { "eteindre", D_POLAR, 0, "eteins" },
    { "eteignez", D_POLAR, 0, "eteins" },
    { "eteint", D_POLAR, 0, "eteins" },  { "ouvre", D_POLAR, 0, NULL },
    { "ouvrir", D_POLAR, 0, "ouvre" },   { "ouvrez", D_POLAR, 0, "ouvre" },
    { "ferme", D_POLAR, 0, NULL },       { "fermer", D_POLAR, 0, "ferme" },
    { "fermez", D_POLAR, 0, "ferme" },   { "monte", D_POLAR, 0, NULL },
    { "monter", D_POLAR, 0, "monte" },   { "montez", D_POLAR, 0, "monte" },
    { "baisse", D_POLAR, 0, NULL },      { "baisser", D_POLAR, 0, "baisse" },
    { "baissez", D_POLAR, 0, "baisse" }, { "active", D_POLAR, 0, NULL },
    { "activer", D_POLAR, 0, "active" }, { "activez", D_POLAR, 0, "active" },
    { "desactive", D_POLAR, 0, NULL },
    { "desactiver", D_POLAR, 0, "desactive" },
    { "desactivez", D_POLAR, 0, "desactive" },
    { "demarre", D_POLAR, 0, NULL },
    { "demarrer", D_POLAR, 0, "demarre" },
    { "demarrez", D_POLAR, 0, "demarre" },
    { "arrete", D_POLAR, 0, NULL },      { "arreter", D_POLAR, 0, "arrete" },
    { "arretez", D_POLAR, 0, "arrete" }, { "augmente", D_POLAR, 0, NULL },
    { "augmenter", D_POLAR, 0, "augmente" },
    { "diminue", D_POLAR, 0, NULL },
    { "diminuer", D_POLAR, 0, "diminue" },
    { "verrouille", D_POLAR, 0, NULL },
    { "deverrouille", D_POLAR, 0, NULL },
    { "ajoute", D_POLAR, 0, NULL },      { "ajouter", D_POLAR, 0, "ajoute" },
    { "supprime", D_POLAR, 0, NULL },
    { "supprimer", D_POLAR, 0, "supprime" },
    { "enleve", D_POLAR, 0, NULL },      { "sur", D_POLAR, 0, NULL },
    { "sous", D_POLAR, 0, NULL },        { "avant", D_POLAR, 0, NULL },
    { "apres", D_POLAR, 0, NULL },

    /* roles */
    { "from", D_FROM, 0, NULL },       { "depuis", D_FROM, 0, NULL },
    { "to", D_TO, 0, NULL },           { "into", D_TO, 0, NULL },
    { "towards", D_TO, 0, NULL },      { "vers", D_TO, 0, NULL },
    { "jusque", D_TO, 0, NULL }
};


#define NGX_LLM_DICT_N  (sizeof(ngx_llm_dict) / sizeof(ngx_llm_dict[0]))

static int  ngx_llm_dict_sorted;


int
ngx_llm_sig_make(ngx_llm_sig_t *sig, const char *text, size_t len)
{
    char             buf[NGX_LLM_SIG_MAX_LEN];
    ngx_llm_word_t   word[NGX_LLM_SIG_WORDS];
    ngx_llm_words_t  ws;

    memset(sig, 0, sizeof(ngx_llm_sig_t));

    if (text == NULL || len == 0 || len > NGX_LLM_SIG_MAX_LEN) {
        return -1;
    }

    if (ngx_llm_similar_utf8((const unsigned char *) text, len) != 0) {
        return -1;
    }

    if (!ngx_llm_dict_sorted) {
        qsort(ngx_llm_dict, NGX_LLM_DICT_N, sizeof(ngx_llm_dict_t),
              ngx_llm_similar_dict_cmp);
        ngx_llm_dict_sorted = 1;
    }

    ws.word = word;
    ws.n = 0;
    ws.over = 0;

    ngx_llm_similar_scan((const unsigned char *) text, len, buf, &ws);

    if (ws.over || ws.n == 0) {
        return -1;
    }

    ngx_llm_similar_fillers(&ws);

    if (ngx_llm_similar_build(sig, &ws) != 0) {
        memset(sig, 0, sizeof(ngx_llm_sig_t));
        return -1;
    }

    return 0;
}


/* strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF */

static int
ngx_llm_similar_utf8(const unsigned char *s, size_t len)
{
    size_t    i, n, k;
    uint32_t  cp, min;

    for (i = 0; i < len; i += n) {

        if (s[i] < 0x80) {
            if (s[i] == '\0') {
                return -1;
            }

            n = 1;
            continue;
        }

        if ((s[i] & 0xe0) == 0xc0) {
            n = 2; cp = s[i] & 0x1f; min = 0x80;

        } else if ((s[i] & 0xf0) == 0xe0) {
            n = 3; cp = s[i] & 0x0f; min = 0x800;

        } else if ((s[i] & 0xf8) == 0xf0) {
            n = 4; cp = s[i] & 0x07; min = 0x10000;

        } else {
            return -1;
        }

        if (n > len - i) {
            return -1;
        }

        for (k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return -1;
            }

            cp = (cp << 6) | (s[i + k] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return -1;
        }

        if (cp == 0) {
            return -1;
        }
    }

    return 0;
}


/*
 * Folds and cuts the text into buf (never longer than the text: every
 * character is written in as many bytes as it was read, or fewer) and
 * hands each word to ngx_llm_similar_word().
 */

static void
ngx_llm_similar_scan(const unsigned char *s, size_t len, char *buf,
    ngx_llm_words_t *ws)
{
    int       last;                 /* 0 none, 1 letter, 2 digit */
    char      f;
    size_t    i, n, k, start, out;
    uint32_t  cp;

    last = 0;
    start = 0;
    out = 0;

#define NGX_LLM_END()                                                         \
    do {                                                                      \
        if (out > start) {                                                    \
            ngx_llm_similar_word(ws, buf + start, out - start);               \
        }                                                                     \
        start = out;                                                          \
        last = 0;                                                             \
    } while (0)

#define NGX_LLM_LETTER(ch)                                                    \
    do {                                                                      \
        if (last == 2) {                                                      \
            NGX_LLM_END();                                                    \
        }                                                                     \
        buf[out++] = (char) (ch);                                             \
        last = 1;                                                             \
    } while (0)

    for (i = 0; i < len; i += n) {

        if (s[i] < 0x80) {
            n = 1;
            cp = s[i];

            if (cp >= 'A' && cp <= 'Z') {
                cp += 'a' - 'A';
            }

            if (cp >= 'a' && cp <= 'z') {
                NGX_LLM_LETTER(cp);

            } else if (cp >= '0' && cp <= '9') {
                if (last == 1) {
                    NGX_LLM_END();
                }

                buf[out++] = (char) cp;
                last = 2;

            } else if ((cp == '.' || cp == ',') && last == 2 && i + 1 < len
                       && s[i + 1] >= '0' && s[i + 1] <= '9')
            {
                buf[out++] = '.';

            } else if (cp == '\'' && last == 1 && i + 1 < len
                       && (((s[i + 1] | 0x20) >= 'a'
                            && (s[i + 1] | 0x20) <= 'z')
                           || s[i + 1] >= 0xc0))
            {
                buf[out++] = '\'';
                last = 3;

            } else {
                NGX_LLM_END();
            }

            continue;
        }

        n = (s[i] >= 0xf0) ? 4 : (s[i] >= 0xe0) ? 3 : 2;
        cp = s[i] & (0x7f >> n);

        for (k = 1; k < n; k++) {
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }

        if (cp >= 0xc0 && cp <= 0xff) {
            f = ngx_llm_latin1[cp - 0xc0];

            if (f) {
                NGX_LLM_LETTER(f);

            } else if (cp == 0xc6 || cp == 0xe6) {
                NGX_LLM_LETTER('a');
                buf[out++] = 'e';

            } else {
                NGX_LLM_END();
            }

        } else if (cp == 0x152 || cp == 0x153) {
            NGX_LLM_LETTER('o');
            buf[out++] = 'e';

        } else if (cp >= 0x300 && cp <= 0x36f) {
            /* a combining mark: "e" + U+0301 is "é", folded to "e" */
            continue;

        } else if (cp == 0x2019 || cp == 0x2018 || cp == 0x2bc) {
            /* typographic apostrophes, as '\'' */
            if (last == 1 && i + n < len
                && (((s[i + n] | 0x20) >= 'a' && (s[i + n] | 0x20) <= 'z')
                    || s[i + n] >= 0xc0))
            {
                buf[out++] = '\'';
                last = 3;

            } else {
                NGX_LLM_END();
            }

        } else if (cp < 0xc0 || (cp >= 0x2000 && cp <= 0x2bff)
                   || (cp >= 0x3000 && cp <= 0x303f)
                   || (cp >= 0xfe00 && cp <= 0xfe0f)
                   || (cp >= 0xff00 && cp <= 0xff0f)
                   || cp >= 0x1f000)
        {
            /* Latin-1 signs, punctuation, arrows, symbols, emoji */
            NGX_LLM_END();

        } else {
            /* a letter of another script, kept as it is */
            if (last == 2) {
                NGX_LLM_END();
            }

            memcpy(buf + out, s + i, n);
            out += n;
            last = 1;
        }
    }

    NGX_LLM_END();

#undef NGX_LLM_END
#undef NGX_LLM_LETTER
}


/* one word with its apostrophes: contractions and elisions expanded */

static void
ngx_llm_similar_word(ngx_llm_words_t *ws, const char *p, size_t len)
{
    int          i;
    size_t       pre, rlen, blen;
    const char  *q, *rest, *base;

    while (len > 0) {
        q = memchr(p, '\'', len);

        if (q == NULL) {
            ngx_llm_similar_plain(ws, p, len);
            return;
        }

        pre = q - p;
        rest = q + 1;
        rlen = len - pre - 1;

        if (pre == 0) {
            p = rest;
            len = rlen;
            continue;
        }

        if (memchr(rest, '\'', rlen) == NULL) {

            /* English: n't, 's, 're, 'm, 'll, 've, 'd */

            if (rlen == 1 && rest[0] == 't' && pre >= 2 && p[pre - 1] == 'n') {
                base = p;
                blen = pre - 1;

                if (blen == 2 && memcmp(p, "ca", 2) == 0) {
                    base = "can"; blen = 3;

                } else if (blen == 2 && memcmp(p, "wo", 2) == 0) {
                    base = "will"; blen = 4;

                } else if (blen == 3 && memcmp(p, "sha", 3) == 0) {
                    base = "shall"; blen = 5;

                } else if (blen == 2 && memcmp(p, "ai", 2) == 0) {
                    base = "is"; blen = 2;
                }

                ngx_llm_similar_push(ws, base, blen);
                ngx_llm_similar_push(ws, "not", 3);
                return;
            }

            if (rlen == 1 && rest[0] == 's') {
                ngx_llm_similar_push(ws, p, pre);

                for (i = 0; ngx_llm_is_bases[i]; i++) {
                    if (strlen(ngx_llm_is_bases[i]) == pre
                        && memcmp(ngx_llm_is_bases[i], p, pre) == 0)
                    {
                        ngx_llm_similar_push(ws, "is", 2);
                        return;
                    }
                }

                if (pre == 3 && memcmp(p, "let", 3) == 0) {
                    ngx_llm_similar_push(ws, "us", 2);
                }

                return;
            }

            base = NULL;

            if (rlen == 2 && memcmp(rest, "re", 2) == 0) {
                base = "are";

            } else if (rlen == 1 && rest[0] == 'm') {
                base = "am";

            } else if (rlen == 2 && memcmp(rest, "ll", 2) == 0) {
                base = "will";

            } else if (rlen == 2 && memcmp(rest, "ve", 2) == 0) {
                base = "have";

            } else if (rlen == 1 && rest[0] == 'd') {
                base = "would";
            }

            if (base) {
                ngx_llm_similar_push(ws, p, pre);
                ngx_llm_similar_push(ws, base, strlen(base));
                return;
            }
        }

        /* French: l', d', qu', ... */

        for (i = 0; ngx_llm_elision[i].from; i++) {
            if (strlen(ngx_llm_elision[i].from) == pre
                && memcmp(ngx_llm_elision[i].from, p, pre) == 0)
            {
                break;
            }
        }

        if (ngx_llm_elision[i].from) {
            ngx_llm_similar_push(ws, ngx_llm_elision[i].to[0],
                                 strlen(ngx_llm_elision[i].to[0]));

        } else {
            ngx_llm_similar_push(ws, p, pre);
        }

        p = rest;
        len = rlen;
    }
}


static void
ngx_llm_similar_plain(ngx_llm_words_t *ws, const char *p, size_t len)
{
    int                      i;
    ngx_llm_word_t          *prev;
    const ngx_llm_expand_t  *e;

    /* the apostrophe typed as a space: "what s", "don t" */

    prev = ws->n ? &ws->word[ws->n - 1] : NULL;

    if (len == 1 && p[0] == 's' && prev) {
        for (i = 0; ngx_llm_is_bases[i]; i++) {
            if (strlen(ngx_llm_is_bases[i]) == prev->len
                && memcmp(ngx_llm_is_bases[i], prev->p, prev->len) == 0)
            {
                ngx_llm_similar_push(ws, "is", 2);
                return;
            }
        }
    }

    if (len == 1 && p[0] == 't' && prev && prev->len >= 3
        && prev->p[prev->len - 1] == 'n')
    {
        for (i = 0; ngx_llm_expand[i].from; i++) {
            e = &ngx_llm_expand[i];

            if (e->to[1] && strcmp(e->to[1], "not") == 0
                && strlen(e->from) == prev->len + 1
                && memcmp(e->from, prev->p, prev->len) == 0)
            {
                ws->n--;
                ngx_llm_similar_push(ws, e->to[0], strlen(e->to[0]));
                ngx_llm_similar_push(ws, "not", 3);
                return;
            }
        }
    }

    for (i = 0; ngx_llm_expand[i].from; i++) {
        e = &ngx_llm_expand[i];

        if (strlen(e->from) == len && memcmp(e->from, p, len) == 0) {
            ngx_llm_similar_push(ws, e->to[0], strlen(e->to[0]));

            if (e->to[1]) {
                ngx_llm_similar_push(ws, e->to[1], strlen(e->to[1]));
            }

            return;
        }
    }

    ngx_llm_similar_push(ws, p, len);
}


static void
ngx_llm_similar_push(ngx_llm_words_t *ws, const char *p, size_t len)
{
    if (ws->n == NGX_LLM_SIG_WORDS) {
        ws->over = 1;
        return;
    }

    ws->word[ws->n].p = p;
    ws->word[ws->n].len = len;
    ws->word[ws->n].skip = 0;
    ws->n++;
}


static void
ngx_llm_similar_fillers(ngx_llm_words_t *ws)
{
    int           i, j, k;
    const char  **ph;

    for (i = 0; i < ws->n; i++) {

        for (j = 0; ngx_llm_phrases[j][0]; j++) {
            ph = ngx_llm_phrases[j];

            for (k = 0; ph[k] && i + k < ws->n; k++) {
                if (!ngx_llm_similar_like(ws->word[i + k].p,
                                          ws->word[i + k].len, ph[k]))
                {
                    break;
                }
            }

            if (ph[k] == NULL) {
                while (k--) {
                    ws->word[i + k].skip = 1;
                }

                break;
            }
        }
    }
}


/* the words left, as tokens: numbers summed, roles attached, plurals cut */

static int
ngx_llm_similar_build(ngx_llm_sig_t *sig, ngx_llm_words_t *ws)
{
    int                    i, j, role, kind;
    char                   num[24];
    long                   v, w;
    size_t                 len, k;
    const char            *p;
    ngx_llm_sig_token_t    t;
    const ngx_llm_dict_t  *d, *e;

    role = 0;

    for (i = 0; i < ws->n; i++) {

        if (ws->word[i].skip) {
            continue;
        }

        p = ws->word[i].p;
        len = ws->word[i].len;

        if (p[0] >= '0' && p[0] <= '9') {
            /* digits: "007" is "7", "1.50" stays as it is */
            while (len > 1 && p[0] == '0' && p[1] != '.') {
                p++;
                len--;
            }

            if (ngx_llm_similar_add(sig, p, len, NGX_LLM_TOK_NUMBER, 0)
                != 0)
            {
                return -1;
            }

            continue;
        }

        d = ngx_llm_similar_lookup(p, len);

        if (d == NULL && len > 3 && p[len - 1] == 's') {
            d = ngx_llm_similar_lookup(p, len - 1);

            if (d && d->kind != D_NUMBER && d->kind != D_POLAR) {
                d = NULL;
            }
        }

        if (d == NULL && ngx_llm_similar_filler_typo(p, len)) {
            continue;
        }

        kind = d ? d->kind : 0;

        switch (kind) {

        case D_STOP:
        case D_FILLER:
            continue;

        case D_FROM:
            role = NGX_LLM_ROLE_FROM;
            continue;

        case D_TO:
            role = NGX_LLM_ROLE_TO;
            continue;

        case D_NUMBER:
            v = d->value;

            for (j = i + 1; j < ws->n && !ws->word[j].skip; j++) {
                e = ngx_llm_similar_lookup(ws->word[j].p, ws->word[j].len);

                if (e == NULL || e->kind != D_NUMBER) {
                    break;
                }

                w = e->value;

                if (w == 100 || w == 1000 || w == 1000000) {
                    if (v >= 1000000000L) {
                        break;
                    }

                    v = (v == 0 ? 1 : v) * w;

                } else if (v >= 20 && v % 10 == 0 && w > 0 && w < 10
                           && v % 100 != 0)
                {
                    v += w;                  /* twenty five, vingt cinq */

                } else if ((v % 100 == 60 || v % 100 == 80)
                           && w >= 10 && w < 20)
                {
                    v += w;                  /* soixante dix */

                } else if (v == 4 && w == 20) {
                    v = 80;                  /* quatre vingt */

                } else if (v >= 100 && v % 100 == 0 && w < 100) {
                    v += w;                  /* hundred five, cent vingt */

                } else {
                    break;
                }
            }

            i = j - 1;

            k = sizeof(num);
            num[--k] = '\0';

            do {
                num[--k] = (char) ('0' + v % 10);
                v /= 10;
            } while (v && k);

            if (ngx_llm_similar_add(sig, num + k, sizeof(num) - 1 - k,
                                    NGX_LLM_TOK_NUMBER, 0)
                != 0)
            {
                return -1;
            }

            continue;

        case D_POLAR:
            p = d->canon ? d->canon : d->word;
            len = strlen(p);

            if (ngx_llm_similar_add(sig, p, len, NGX_LLM_TOK_POLAR, 0) != 0) {
                return -1;
            }

            continue;

        default:
            break;
        }

        /* a plural "s", not "ss": "lights" is "light" */
        if (len > 3 && p[len - 1] == 's' && p[len - 2] != 's') {
            len--;
        }

        if (ngx_llm_similar_add(sig, p, len, NGX_LLM_TOK_WORD, role) != 0) {
            return -1;
        }

        role = 0;
    }

    if (sig->ntokens == 0) {
        return -1;
    }

    /* sorted by hash, for the lookups in compare */

    for (i = 1; i < sig->ntokens; i++) {
        t = sig->tokens[i];

        for (j = i; j > 0 && sig->tokens[j - 1].hash > t.hash; j--) {
            sig->tokens[j] = sig->tokens[j - 1];
        }

        sig->tokens[j] = t;
    }

    sig->magic = NGX_LLM_SIG_MAGIC;

    return 0;
}


static int
ngx_llm_similar_add(ngx_llm_sig_t *sig, const char *p, size_t len, int kind,
    int role)
{
    int                   i;
    size_t                k;
    uint32_t              hash;
    uint64_t              h;
    unsigned char         prev, c, c2;
    ngx_llm_sig_token_t  *t;

    h = ngx_llm_similar_fnv(p, len);
    h = ngx_llm_similar_mix(h ^ ((uint64_t) (kind << 4 | role) << 56));
    hash = (uint32_t) (h ^ (h >> 32));

    /* the trigrams of "^word$", one centred on each letter */

    for (k = 0; k < len; k++) {
        prev = k == 0 ? '^' : (unsigned char) p[k - 1];
        c = (unsigned char) p[k];
        c2 = k + 1 < len ? (unsigned char) p[k + 1] : '$';

        h = ngx_llm_similar_mix(((uint64_t) prev << 16 | c << 8 | c2)
                                + 0x7f4a7c15);
        sig->trigrams[(h >> 6) % (NGX_LLM_SIG_BITS / 64)] |=
                                                     (uint64_t) 1 << (h & 63);
    }

    for (i = 0; i < sig->ntokens; i++) {
        if (sig->tokens[i].hash == hash) {
            return 0;
        }
    }

    if (sig->ntokens == NGX_LLM_SIG_TOKENS) {
        return -1;
    }

    t = &sig->tokens[sig->ntokens++];
    t->hash = hash;
    t->len = (uint8_t) (len > 255 ? 255 : len);
    t->kind = (uint8_t) (kind | role << 4);
    memcpy(t->text, p, len < NGX_LLM_SIG_TEXT ? len : NGX_LLM_SIG_TEXT);

    if (kind == NGX_LLM_TOK_WORD) {
        sig->nwords++;
    }

    return 0;
}


/*
 * "pelase", "thansk", "jarvsi": a typo of a filler of 6 letters or more
 * (a shorter one could be a real word: "salt" is one letter from "salut")
 */

static int
ngx_llm_similar_filler_typo(const char *p, size_t len)
{
    int                i;
    static const char  *fillers[] = {
        "please", "kindly", "thanks", "jarvis", "bonjour", "coucou", NULL
    };

    for (i = 0; fillers[i]; i++) {
        if (ngx_llm_similar_like(p, len, fillers[i])) {
            return 1;
        }
    }

    return 0;
}


static const ngx_llm_dict_t *
ngx_llm_similar_lookup(const char *p, size_t len)
{
    int     c;
    size_t  lo, hi, mid, n;

    lo = 0;
    hi = NGX_LLM_DICT_N;

    while (lo < hi) {
        mid = (lo + hi) / 2;
        n = strlen(ngx_llm_dict[mid].word);
        c = memcmp(ngx_llm_dict[mid].word, p, n < len ? n : len);

        if (c == 0) {
            c = (n > len) - (n < len);
        }

        if (c == 0) {
            return &ngx_llm_dict[mid];
        }

        if (c < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return NULL;
}


static int
ngx_llm_similar_dict_cmp(const void *a, const void *b)
{
    return strcmp(((const ngx_llm_dict_t *) a)->word,
                  ((const ngx_llm_dict_t *) b)->word);
}


ngx_llm_similar_e
ngx_llm_sig_compare(const ngx_llm_sig_t *a, const ngx_llm_sig_t *b,
    double threshold, double *similarity)
{
    int     i, inter, uni;
    double  sim;

    if (similarity) {
        *similarity = 0.0;
    }

    if (a->magic != NGX_LLM_SIG_MAGIC || b->magic != NGX_LLM_SIG_MAGIC
        || a->ntokens == 0 || a->ntokens > NGX_LLM_SIG_TOKENS
        || b->ntokens == 0 || b->ntokens > NGX_LLM_SIG_TOKENS
        || a->nwords > a->ntokens || b->nwords > b->ntokens)
    {
        return NGX_LLM_SIMILAR_INVALID;
    }

    inter = 0;
    uni = 0;

    for (i = 0; i < NGX_LLM_SIG_BITS / 64; i++) {
        inter += ngx_llm_similar_popcount(a->trigrams[i] & b->trigrams[i]);
        uni += ngx_llm_similar_popcount(a->trigrams[i] | b->trigrams[i]);
    }

    sim = uni ? (double) inter / uni : 0.0;

    if (similarity) {
        *similarity = sim;
    }

    if (!(threshold <= 1.0)) {
        threshold = 1.0;                /* NaN too */
    }

    if (!ngx_llm_similar_cover(a, b, NGX_LLM_TOK_NUMBER)
        || !ngx_llm_similar_cover(b, a, NGX_LLM_TOK_NUMBER))
    {
        return NGX_LLM_SIMILAR_NUMBERS;
    }

    if (!ngx_llm_similar_cover(a, b, NGX_LLM_TOK_POLAR)
        || !ngx_llm_similar_cover(b, a, NGX_LLM_TOK_POLAR))
    {
        return NGX_LLM_SIMILAR_NEGATION;
    }

    if (abs((int) a->nwords - (int) b->nwords) > NGX_LLM_LENGTH_GAP) {
        return NGX_LLM_SIMILAR_LENGTH;
    }

    if (!ngx_llm_similar_cover(a, b, NGX_LLM_TOK_WORD)
        || !ngx_llm_similar_cover(b, a, NGX_LLM_TOK_WORD))
    {
        return NGX_LLM_SIMILAR_WORD;
    }

    if (sim < threshold) {
        return NGX_LLM_SIMILAR_SIMILARITY;
    }

    return NGX_LLM_SIMILAR_MATCH;
}


/* 1 when every token of this kind in a has a counterpart in b */

static int
ngx_llm_similar_cover(const ngx_llm_sig_t *a, const ngx_llm_sig_t *b,
    int kind)
{
    int                         i, j, found;
    const ngx_llm_sig_token_t  *t;

    for (i = 0; i < a->ntokens; i++) {
        t = &a->tokens[i];

        if ((t->kind & 0x0f) != kind) {
            continue;
        }

        if (ngx_llm_similar_find(b, t->hash)) {
            continue;
        }

        found = 0;

        if (kind != NGX_LLM_TOK_NUMBER) {
            for (j = 0; j < b->ntokens; j++) {
                if (ngx_llm_similar_near(t, &b->tokens[j])) {
                    found = 1;
                    break;
                }
            }
        }

        if (!found) {
            return 0;
        }
    }

    return 1;
}


static int
ngx_llm_similar_find(const ngx_llm_sig_t *sig, uint32_t hash)
{
    int  lo, hi, mid;

    lo = 0;
    hi = sig->ntokens;

    while (lo < hi) {
        mid = (lo + hi) / 2;

        if (sig->tokens[mid].hash == hash) {
            return 1;
        }

        if (sig->tokens[mid].hash < hash) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return 0;
}


/* a typo: see ngx_llm_similar_spelling() */

static int
ngx_llm_similar_near(const ngx_llm_sig_token_t *a,
    const ngx_llm_sig_token_t *b)
{
    if ((a->kind >> 4) != (b->kind >> 4)
        || (a->kind & 0x0f) == NGX_LLM_TOK_NUMBER
        || (b->kind & 0x0f) == NGX_LLM_TOK_NUMBER)
    {
        return 0;
    }

    return ngx_llm_similar_spelling(a->text, a->len, b->text, b->len);
}


/*
 * Two spellings of one word, from their first NGX_LLM_SIG_TEXT bytes and
 * their whole lengths: the same first letter, 4 letters or more; the
 * optimal string alignment distance (insertions, deletions, changes,
 * swaps of two neighbours) at most 1 below 8 letters, 2 from 8, with a
 * change counting 2 below 6 letters; below 8 letters the last letter the
 * same, or the last two swapped.  A polarity word and a plain word may
 * be near: "inrease" is a typo of "increase", not another polarity;
 * numbers never are.
 */

static int
ngx_llm_similar_spelling(const char *a, size_t la, const char *b, size_t lb)
{
    int     d[NGX_LLM_SIG_TEXT + 1][NGX_LLM_SIG_TEXT + 1];
    int     i, j, v, sub, max;
    size_t  lmin, na, nb;

    lmin = la < lb ? la : lb;
    max = lmin >= 8 ? 2 : 1;

    if (lmin < 4 || a[0] != b[0]
        || (la > lb ? la - lb : lb - la) > (size_t) max)
    {
        return 0;
    }

    if (lmin < 8 && a[la - 1] != b[lb - 1]
        && !(la == lb && a[la - 1] == b[la - 2] && a[la - 2] == b[la - 1]))
    {
        return 0;
    }

    sub = lmin < 6 ? 2 : 1;

    na = la < NGX_LLM_SIG_TEXT ? la : NGX_LLM_SIG_TEXT;
    nb = lb < NGX_LLM_SIG_TEXT ? lb : NGX_LLM_SIG_TEXT;

    for (i = 0; i <= (int) na; i++) {
        d[i][0] = i;
    }

    for (j = 0; j <= (int) nb; j++) {
        d[0][j] = j;
    }

    for (i = 1; i <= (int) na; i++) {
        for (j = 1; j <= (int) nb; j++) {
            v = d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : sub);

            if (d[i - 1][j] + 1 < v) {
                v = d[i - 1][j] + 1;
            }

            if (d[i][j - 1] + 1 < v) {
                v = d[i][j - 1] + 1;
            }

            if (i > 1 && j > 1 && a[i - 1] == b[j - 2]
                && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
            {
                v = d[i - 2][j - 2] + 1;
            }

            d[i][j] = v;
        }
    }

    return d[na][nb] <= max;
}


/* the word p, or a typo of it */

static int
ngx_llm_similar_like(const char *p, size_t len, const char *word)
{
    size_t  n;

    n = strlen(word);

    if (n == len && memcmp(p, word, n) == 0) {
        return 1;
    }

    return n >= 5 && len >= 5 && ngx_llm_similar_spelling(p, len, word, n);
}


const char *
ngx_llm_similar_reason_name(ngx_llm_similar_e reason)
{
    switch (reason) {

    case NGX_LLM_SIMILAR_MATCH:
        return "match";

    case NGX_LLM_SIMILAR_NUMBERS:
        return "numbers";

    case NGX_LLM_SIMILAR_NEGATION:
        return "negation";

    case NGX_LLM_SIMILAR_LENGTH:
        return "length";

    case NGX_LLM_SIMILAR_WORD:
        return "word";

    case NGX_LLM_SIMILAR_SIMILARITY:
        return "similarity";

    case NGX_LLM_SIMILAR_INVALID:
        return "invalid";
    }

    return "unknown";
}


static uint64_t
ngx_llm_similar_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;

    return h;
}


static uint64_t
ngx_llm_similar_fnv(const char *p, size_t len)
{
    size_t    i;
    uint64_t  h;

    h = 0xcbf29ce484222325ULL;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) p[i];
        h *= 0x100000001b3ULL;
    }

    return h;
}


static int
ngx_llm_similar_popcount(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_popcountll(x);
#else
    int  n;

    for (n = 0; x; n++) {
        x &= x - 1;
    }

    return n;
#endif
}
