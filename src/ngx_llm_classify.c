
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Prompt complexity classifier: a logistic model learned from labelled
 * public prompts (src/classifier/train.py, weights in the generated
 * ngx_llm_classify_model.c).
 *
 * One pass over the text feeds counters (words, numbers, sentences, lines
 * that look like code, fenced blocks, keyword concepts in English and
 * French with accents folded) and, word by word, the learned weights of
 * the word and of the pair it makes with the previous word, looked up by
 * hash in a table of 2^15 buckets.
 *
 * The pass goes 64 bytes at a time: SSE2 compares turn a block into a bit
 * per letter and per space, and a loop goes from a word's start to the
 * next byte that is neither (ngx_llm_fast()), hashing each word once,
 * with the sums in registers; a byte-by-byte step takes what is rarer
 * (ngx_llm_step()).  A text fed in pieces, cut anywhere, counts as it
 * does whole.
 *
 * At the end the counters become feature values x, and the score is the
 * logistic of
 *
 *     b + sum(w_i x_i) + (sum of the word weights) / sqrt(terms)
 *
 * a calibrated probability that the big model is needed.  Each term is a
 * feature's contribution; the largest ones explain the score.
 */


#include <math.h>
#include <stdio.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define NGX_LLM_SSE2  1
#else
#define NGX_LLM_SSE2  0
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NGX_LLM_LITTLE_ENDIAN  1
#else
#define NGX_LLM_LITTLE_ENDIAN  0
#endif

#if defined(__GNUC__)
#define ngx_llm_inline       inline __attribute__((always_inline))
#define ngx_llm_unlikely(x)  __builtin_expect(!!(x), 0)
#define ngx_llm_likely(x)    __builtin_expect(!!(x), 1)
#else
#define ngx_llm_inline       inline
#define ngx_llm_unlikely(x)  (x)
#define ngx_llm_likely(x)    (x)
#endif

#include "ngx_llm_classify.h"
#include "ngx_llm_classify_model.h"


#define NGX_LLM_KEY_LEN       6
#define NGX_LLM_MID_END       14      /* letters 7 to 14: the middle */
#define NGX_LLM_TABLE_SIZE    1024
#define NGX_LLM_NAME_LEN      24

/* a unit after a number ("1500 words"): no feature of its own */
#define NGX_LLM_C_UNIT        NGX_LLM_F_CONCEPT

/* what a concept's words also are, besides their category */
#define NGX_LLM_QUESTION_WORD  1
#define NGX_LLM_MAKE_VERB      2
#define NGX_LLM_CODE_NOUN      4
#define NGX_LLM_NO_CATEGORY    0xff

/* word hashes: FNV-1a; a number is one token, whatever its digits */
#define NGX_LLM_FNV_BASIS      0x811c9dc5u
#define NGX_LLM_FNV_PRIME      0x01000193u
#define NGX_LLM_NUMBER_HASH    0x9e3779b9u
#define NGX_LLM_START_HASH     0x7f4a7c15u

#define NGX_LLM_MAKE_WINDOW    6     /* "write" within the first words */

/* the length feature of texts this short is worked out once */
#define NGX_LLM_LENGTHS        1024

/*
 * an entry per 2^12th of the keys' hash (8 KB): most words are rejected;
 * the one key's slot + 1, or NGX_LLM_FILTER_MANY for more than one key
 */
#define NGX_LLM_FILTER_BITS    12
#define NGX_LLM_FILTER_MANY    0xffff

/* a chunk's last byte that the next chunk's first byte explains */
#define NGX_LLM_PENDING_STOP   1     /* "3." : a sentence unless a digit */
#define NGX_LLM_PENDING_LATIN  2     /* 0xc3: "é" if a continuation byte */


typedef struct {
    int                 category;
    const char         *words;           /* space separated, folded */
    int                 flags;
} ngx_llm_concept_t;


typedef struct {
    uint64_t            key;
    uint16_t            concept;
    uint8_t             seen;            /* concept >> 6: st->seen[] */
    uint8_t             category;
    uint8_t             flags;
    uint8_t             used;
    uint8_t             min_len;         /* of the words listed with this */
    uint8_t             max_len;         /* key: "fonction" is not
                                            "fonctionne" */
} ngx_llm_slot_t;


/* what a byte after a word of letters is to the fast path */
#define NGX_LLM_A_SPACE        0     /* the word ends */
#define NGX_LLM_A_STOP         1     /* and a sentence: ".", "!" */
#define NGX_LLM_A_QUESTION     2     /* and a sentence, a question */
#define NGX_LLM_A_BREAK        3     /* ",", ":", quotes: the word ends */
#define NGX_LLM_A_ENDS         4     /* the same: ";", "\n", "`", "’"... */
#define NGX_LLM_A_PAREN        5     /* the same, but "O(" is "bigo" */
#define NGX_LLM_A_GOES_ON      6     /* a digit, "_", "é": the step's */


/* byte classes of the scanner */
enum {
    C_BREAK = 0,
    C_LETTER,
    C_DIGIT,
    C_SPACE,
    C_NEWLINE,
    C_STOP,
    C_QUESTION,
    C_SYMBOL,
    C_MATH,
    C_BACKTICK,
    C_IDENT,
    C_UTF8_LATIN,
    C_UTF8_PUNCT,
    C_UTF8_OTHER,
    C_UTF8_CONT
};


static void ngx_llm_keyword(ngx_llm_classify_state_t *st,
    ngx_llm_slot_t *s, uint32_t wlen);


static const ngx_llm_concept_t  ngx_llm_concepts[] = {

    /* reasoning, analysis, design: the strongest sign of a hard prompt */
    { NGX_LLM_F_REASONING, "analyze analyse analysis analyzing analysing", 0 },
    { NGX_LLM_F_REASONING, "compare comparison comparer comparez", 0 },
    { NGX_LLM_F_REASONING, "justify justification justifie justifiez", 0 },
    { NGX_LLM_F_REASONING, "evaluate evaluation evalue evaluer assess", 0 },
    { NGX_LLM_F_REASONING, "critique criticize critical", 0 },
    { NGX_LLM_F_REASONING, "derive derivation derives derived", 0 },
    { NGX_LLM_F_REASONING, "prove proves proved proven proof proofs"
                           " prouve prouver preuve demonstrate demontre", 0 },
    { NGX_LLM_F_REASONING, "design designing concevoir concois conception"
                           " architect architecture", 0 },
    { NGX_LLM_F_REASONING, "optimize optimise optimisation optimal", 0 },
    { NGX_LLM_F_REASONING, "tradeoff trade tradeoffs compromis compromise", 0 },
    { NGX_LLM_F_REASONING, "implications consequences", 0 },
    { NGX_LLM_F_REASONING, "recommend recommande recommandation", 0 },
    { NGX_LLM_F_REASONING, "argue argument argumentee argumente", 0 },
    { NGX_LLM_F_REASONING, "investigate diagnose diagnostic troubleshoot", 0 },
    { NGX_LLM_F_REASONING, "identify identifie identifier", 0 },
    { NGX_LLM_F_REASONING, "step steps etape etapes", 0 },
    { NGX_LLM_F_REASONING, "why pourquoi", 0 },
    { NGX_LLM_F_REASONING, "plan plans planning planifie strategy strategie"
                           " roadmap", 0 },
    { NGX_LLM_F_REASONING, "risk risks risque risques mitigate", 0 },
    { NGX_LLM_F_REASONING, "discuss discussion discute discuter", 0 },
    { NGX_LLM_F_REASONING, "implement implementation implemente", 0 },
    { NGX_LLM_F_REASONING, "refactor refactoring", 0 },
    { NGX_LLM_F_REASONING, "debug debugging debogue", 0 },
    { NGX_LLM_F_REASONING, "review reviewing revue", 0 },
    { NGX_LLM_F_REASONING, "fix fixes corrige corriger correct corrected", 0 },
    { NGX_LLM_F_REASONING, "validate validation valider valide", 0 },
    { NGX_LLM_F_REASONING, "reasoning reason raisonnement", 0 },
    { NGX_LLM_F_REASONING, "solve solves solving resoudre", 0 },
    { NGX_LLM_F_REASONING, "estimate estimation", 0 },

    /* a generation or explanation task: medium on its own */
    { NGX_LLM_F_TASK, "write writes writing ecris ecrire ecrivez redige"
                      " draft", 0 },
    { NGX_LLM_F_TASK, "explain explanation explique expliquer", 0 },
    { NGX_LLM_F_TASK, "summarize summarise summary resume resumer", 0 },
    { NGX_LLM_F_TASK, "describe description decris decrire", 0 },
    { NGX_LLM_F_TASK, "propose proposal suggest suggestion", 0 },
    { NGX_LLM_F_TASK, "difference differences differ", 0 },
    { NGX_LLM_F_TASK, "outline illustrate", 0 },

    /* technical vocabulary */
    { NGX_LLM_F_TECHNICAL, "algorithm algorithme", 0 },
    { NGX_LLM_F_TECHNICAL, "complexity complexite", 0 },
    { NGX_LLM_F_TECHNICAL, "memory memoire", 0 },
    { NGX_LLM_F_TECHNICAL, "thread threads", 0 },
    { NGX_LLM_F_TECHNICAL, "race races deadlock", 0 },
    { NGX_LLM_F_TECHNICAL, "lock locks mutex", 0 },
    { NGX_LLM_F_TECHNICAL, "atomic atomics atomique", 0 },
    { NGX_LLM_F_TECHNICAL, "concurrency concurrent", 0 },
    { NGX_LLM_F_TECHNICAL, "schema schemas", 0 },
    { NGX_LLM_F_TECHNICAL, "index indexes indices", 0 },
    { NGX_LLM_F_TECHNICAL, "migration migrate migrations", 0 },
    { NGX_LLM_F_TECHNICAL, "database databases sql", 0 },
    { NGX_LLM_F_TECHNICAL, "tenant tenants", 0 },
    { NGX_LLM_F_TECHNICAL, "latency latence", 0 },
    { NGX_LLM_F_TECHNICAL, "replicated replication replica", 0 },
    { NGX_LLM_F_TECHNICAL, "consensus leader", 0 },
    { NGX_LLM_F_TECHNICAL, "cache caching buffer", 0 },
    { NGX_LLM_F_TECHNICAL, "pointer pointeur malloc", 0 },
    { NGX_LLM_F_TECHNICAL, "async asynchronous promise promesse goroutine", 0 },
    { NGX_LLM_F_TECHNICAL, "stack trace", 0 },
    { NGX_LLM_F_TECHNICAL, "kubernetes docker deploy deployment deploiement", 0 },
    { NGX_LLM_F_TECHNICAL, "microservices monolith monolithe", 0 },
    { NGX_LLM_F_TECHNICAL, "attention gradient", 0 },
    { NGX_LLM_F_TECHNICAL, "protocol tcp udp http", 0 },
    { NGX_LLM_F_TECHNICAL, "hash json yaml api", 0 },
    { NGX_LLM_F_TECHNICAL, "recursion recursive recursif", 0 },
    { NGX_LLM_F_TECHNICAL, "python javascript typescript golang rust java"
                           " kotlin php perl haskell ocaml lua matlab"
                           " powershell html css xml vba fortran cobol"
                           " erlang clojure verilog vhdl", 0 },
    { NGX_LLM_F_TECHNICAL, "function functions fonction", 0 },
    { NGX_LLM_F_TECHNICAL, "compiler kernel syscall regex", 0 },
    { NGX_LLM_F_TECHNICAL, "network server serveur client", 0 },
    { NGX_LLM_F_TECHNICAL, "encryption crypto cryptographic", 0 },
    { NGX_LLM_F_TECHNICAL, "process processus", 0 },
    { NGX_LLM_F_TECHNICAL, "scalability performance throughput bottleneck", 0 },
    { NGX_LLM_F_TECHNICAL, "queue sharding cluster", 0 },
    { NGX_LLM_F_TECHNICAL, "bigo", 0 },

    /* frameworks, libraries and tools a programmer names */
    { NGX_LLM_F_TECHNICAL, "numpy pytorch tensorflow keras sklearn scikit"
                           " matplotlib seaborn plotly jupyter streamlit"
                           " langchain huggingface fastapi nextjs nodejs"
                           " jquery laravel dotnet wpf xaml tkinter pygame"
                           " opengl vulkan cuda webgl pytest junit terraform"
                           " ansible nginx git github gitlab aws gcp"
                           " firebase mongodb postgres postgresql mysql"
                           " sqlite redis hadoop linux ubuntu macos vscode"
                           " npm webpack arduino dataframe dataframes svg"
                           " shader shaders sdk gui frontend backend", 0 },

    /* mathematics */
    { NGX_LLM_F_MATH, "theorem theoreme lemma lemme", 0 },
    { NGX_LLM_F_MATH, "integral integrale", 0 },
    { NGX_LLM_F_MATH, "derivative", 0 },
    { NGX_LLM_F_MATH, "equation equations", 0 },
    { NGX_LLM_F_MATH, "induction inductive", 0 },
    { NGX_LLM_F_MATH, "irrational irrationnelle", 0 },
    { NGX_LLM_F_MATH, "fibonacci golden ratio", 0 },
    { NGX_LLM_F_MATH, "probability probabilite statistics statistique", 0 },
    { NGX_LLM_F_MATH, "polynomial logarithm exponential", 0 },
    { NGX_LLM_F_MATH, "calculus algebra geometry geometrie", 0 },
    { NGX_LLM_F_MATH, "vector vecteur matrix matrice", 0 },
    { NGX_LLM_F_MATH, "prime primes modulo", 0 },
    { NGX_LLM_F_MATH, "racine carree puissance", 0 },
    { NGX_LLM_F_MATH, "integer entier", 0 },
    { NGX_LLM_F_MATH, "quadratic infinite infini", 0 },

    /* asks for a long answer */
    { NGX_LLM_F_OUTPUT, "detailed detail details detaille", 0 },
    { NGX_LLM_F_OUTPUT, "thorough thoroughly exhaustive exhaustif", 0 },
    { NGX_LLM_F_OUTPUT, "essay essai article", 0 },
    { NGX_LLM_F_OUTPUT, "report rapport", 0 },
    { NGX_LLM_F_OUTPUT, "blog tutorial tutoriel", 0 },
    { NGX_LLM_F_OUTPUT, "depth elaborate extensive", 0 },
    { NGX_LLM_F_OUTPUT, "chapter chapitre", 0 },

    /* constraints on the answer */
    { NGX_LLM_F_CONSTRAINTS, "without sans", 0 },
    { NGX_LLM_F_CONSTRAINTS, "must doit doivent", 0 },
    { NGX_LLM_F_CONSTRAINTS, "only seulement uniquement", 0 },
    { NGX_LLM_F_CONSTRAINTS, "exactly exactement", 0 },
    { NGX_LLM_F_CONSTRAINTS, "each every chaque", 0 },
    { NGX_LLM_F_CONSTRAINTS, "ensure ensuring garantir guarantee", 0 },
    { NGX_LLM_F_CONSTRAINTS, "never jamais", 0 },
    { NGX_LLM_F_CONSTRAINTS, "least within", 0 },
    { NGX_LLM_F_CONSTRAINTS, "constraint constraints contrainte", 0 },
    { NGX_LLM_F_CONSTRAINTS, "require requires requirement", 0 },
    { NGX_LLM_F_CONSTRAINTS, "avoid eviter", 0 },

    /* small talk and home commands */
    { NGX_LLM_F_SMALLTALK, "hello hi hey bonjour salut bonsoir", 0 },
    { NGX_LLM_F_SMALLTALK, "thanks thank merci", 0 },
    { NGX_LLM_F_SMALLTALK, "bye goodbye", 0 },
    { NGX_LLM_F_SMALLTALK, "joke jokes blague", 0 },
    { NGX_LLM_F_SMALLTALK, "light lights lumiere lumieres lamp", 0 },
    { NGX_LLM_F_SMALLTALK, "music musique song", 0 },
    { NGX_LLM_F_SMALLTALK, "remind reminder rappelle rappel", 0 },
    { NGX_LLM_F_SMALLTALK, "timer alarm alarme", 0 },
    { NGX_LLM_F_SMALLTALK, "weather meteo", 0 },

    /* asks for a short answer */
    { NGX_LLM_F_BREVITY, "short brief briefly bref breve", 0 },
    { NGX_LLM_F_BREVITY, "court courte quick quickly", 0 },
    { NGX_LLM_F_BREVITY, "liner concise concis tldr", 0 },

    /* units after a number: "1500-word", "10 pages" */
    { NGX_LLM_C_UNIT, "word words mots", 0 },
    { NGX_LLM_C_UNIT, "page pages", 0 },
    { NGX_LLM_C_UNIT, "lines lignes paragraphs paragraphes", 0 },

    /* more than one ask in a row */
    { NGX_LLM_F_SEQUENCE, "then puis ensuite finally enfin afterwards", 0 },
    { NGX_LLM_F_SEQUENCE, "include including inclure inclus", 0 },

    /* a question (first word), a code request (a verb early, a noun) */
    { NGX_LLM_NO_CATEGORY, "what whats who whom where when which how whose"
                           " quel quelle quels quelles qui quoi quand combien"
                           " comment lequel laquelle", NGX_LLM_QUESTION_WORD },
    { NGX_LLM_NO_CATEGORY, "implement implemente implementer code coder"
                           " create cree creer build complete completer"
                           " write writes ecris ecrire ecrivez",
      NGX_LLM_MAKE_VERB },
    { NGX_LLM_NO_CATEGORY, "program programme programs script scripts"
                           " class classe method methode query requete"
                           " regex sql snippet function functions fonction"
                           " fonctions algorithm algorithme",
      NGX_LLM_CODE_NOUN },

    { 0, NULL, 0 }
};


static const char  *ngx_llm_feature_names[NGX_LLM_F_CONCEPT] = {
    "length",
    "words_5",
    "words_10",
    "words_17",
    "words_25",
    "words_40",
    "words_80",
    "words_more",
    "numbers",
    "numbers2",
    "math_ops",
    "lines",
    "fences",
    "code_lines",
    "symbols",
    "years",
    "sentences",
    "question_word",
    "one_question",
    "code_request",
    "short_plain",
    "reasoning",
    "task",
    "math",
    "technical",
    "output",
    "constraints",
    "smalltalk",
    "brevity",
    "sequence",
    "size",
    "depth",
    "max_tokens"
};


/* a concept's feature is named after its first word: "analyze" */
static char  ngx_llm_concept_names[NGX_LLM_CONCEPTS][NGX_LLM_NAME_LEN];


static const char  *ngx_llm_class_names[] = {
    "simple",
    "medium",
    "complex"
};


/* Latin-1 supplement letters (second byte of U+00C0..U+00FF), folded */
static const char  ngx_llm_fold_c3[64] =
    "aaaaaaaceeeeiiiidnooooo\0ouuuuyts"
    "aaaaaaaceeeeiiiidnooooo\0ouuuuyty";


/* a word's key and middle in 64-bit loads at its start and 7th letter */
static const struct {
    uint64_t  key;
    uint64_t  mid;
} ngx_llm_len_masks[NGX_LLM_MID_END + 1] = {
    { 0, 0 },
    { 0xff, 0 },
    { 0xffff, 0 },
    { 0xffffff, 0 },
    { 0xffffffffULL, 0 },
    { 0xffffffffffULL, 0 },
    { 0xffffffffffffULL, 0 },
    { 0xffffffffffffULL, 0xff },
    { 0xffffffffffffULL, 0xffff },
    { 0xffffffffffffULL, 0xffffff },
    { 0xffffffffffffULL, 0xffffffffULL },
    { 0xffffffffffffULL, 0xffffffffffULL },
    { 0xffffffffffffULL, 0xffffffffffffULL },
    { 0xffffffffffffULL, 0xffffffffffffffULL },
    { 0xffffffffffffULL, 0xffffffffffffffffULL }
};


/* the same: a word's stem in its key, none (0) under five letters */
static const uint32_t  ngx_llm_stem_mask[NGX_LLM_MID_END + 1] = {
    0, 0, 0, 0, 0, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
    0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff
};


/* the first 0 to 8 bytes of a 64-bit load: a key's (up to 6), a middle's */
static const uint64_t  ngx_llm_key_mask[8 + 1] = {
    0, 0xff, 0xffff, 0xffffff, 0xffffffffULL, 0xffffffffffULL,
    0xffffffffffffULL, 0xffffffffffffffULL, 0xffffffffffffffffULL
};


/*
 * the keywords' slots after slot 0, which stays empty (a word's key is
 * never 0): the filter's 0 points at it
 */
static ngx_llm_slot_t         ngx_llm_slots[1 + NGX_LLM_TABLE_SIZE];
static ngx_llm_slot_t *const  ngx_llm_table = ngx_llm_slots + 1;
static uint16_t        ngx_llm_filter[1 << NGX_LLM_FILTER_BITS];
static unsigned char   ngx_llm_ctab[256];
static unsigned char   ngx_llm_after[256];
static double          ngx_llm_length[NGX_LLM_LENGTHS];
static int             ngx_llm_ready;


static uint32_t
ngx_llm_hash(uint64_t key)
{
    return (uint32_t) ((key * 0x9e3779b97f4a7c15ULL) >> 54);
}


/* the index of the lowest bit set in x (x is not 0) */

static ngx_llm_inline size_t
ngx_llm_ctz(uint64_t x)
{
    return (size_t) __builtin_ctzll(x) & 63;
}


/*
 * A word's hash: its key's (the first six letters, multiplied), its
 * middle's (letters 7 to 14, multiplied) and the FNV-1a hash of the
 * letters after them (the basis when there are none).  The middle in one
 * multiply lets the fast path take a word of up to 14 letters with no
 * branch on its length.
 */

static ngx_llm_inline uint32_t
ngx_llm_word_hash(uint64_t m, uint64_t mid, uint32_t hash)
{
    return (uint32_t) (m >> 32)
           ^ (uint32_t) ((mid * 0xc2b2ae3d27d4eb4fULL) >> 32) ^ hash;
}


/*
 * A stem's bucket: the first four letters of a word of five or more, as
 * its key has them; 0, a shorter word's stem, is bucket 0, which weighs
 * nothing, so that the fast path adds a stem's weight without a branch
 */

static ngx_llm_inline uint32_t
ngx_llm_stem_hash(uint32_t stem)
{
    return (stem * 0x85ebca6bu) >> (32 - NGX_LLM_STEM_BITS);
}


static ngx_llm_inline uint32_t
ngx_llm_stem_bucket(uint64_t key, uint32_t wlen)
{
    return ngx_llm_stem_hash((uint32_t) key
                             & ngx_llm_stem_mask[wlen < NGX_LLM_MID_END
                                                 ? wlen : NGX_LLM_MID_END]);
}


/* an ASCII letter, either case */

static ngx_llm_inline int
ngx_llm_letter(unsigned char c)
{
    return (unsigned char) ((c | 0x20) - 'a') < 26;
}


static void
ngx_llm_table_add(uint64_t key, int len, int concept, int category,
    int flags)
{
    uint16_t        *f;
    uint32_t         i;
    ngx_llm_slot_t  *s;

    len = len < 255 ? len : 255;

    for (i = ngx_llm_hash(key); ; i = (i + 1) % NGX_LLM_TABLE_SIZE) {

        s = &ngx_llm_table[i];

        if (!s->used) {
            s->key = key;
            s->concept = (uint16_t) concept;
            s->seen = (uint8_t) (concept >> 6);
            s->category = (uint8_t) category;
            s->flags = (uint8_t) flags;
            s->min_len = (uint8_t) len;
            s->max_len = (uint8_t) len;
            s->used = 1;
            break;
        }

        if (s->key == key) {
            /* the first listing's category; the flags and lengths of all */
            s->flags |= (uint8_t) flags;
            s->min_len = len < s->min_len ? (uint8_t) len : s->min_len;
            s->max_len = len > s->max_len ? (uint8_t) len : s->max_len;
            break;
        }
    }

    /* the filter: the top bits of the product ngx_llm_hash() takes 10 of */
    f = &ngx_llm_filter[(key * 0x9e3779b97f4a7c15ULL)
                        >> (64 - NGX_LLM_FILTER_BITS)];

    if (*f == 0) {
        *f = (uint16_t) (i + 1);

    } else if (*f != i + 1) {
        *f = NGX_LLM_FILTER_MANY;
    }
}


void
ngx_llm_classify_init(void)
{
    int          c, n;
    uint64_t     key;
    const char  *w;

    if (ngx_llm_ready) {
        return;
    }

    for (c = 0; c < 256; c++) {
        ngx_llm_ctab[c] = C_BREAK;
    }

    for (c = 'a'; c <= 'z'; c++) {
        ngx_llm_ctab[c] = C_LETTER;
        ngx_llm_ctab[c - 32] = C_LETTER;
    }

    for (c = '0'; c <= '9'; c++) {
        ngx_llm_ctab[c] = C_DIGIT;
    }

    ngx_llm_ctab[' '] = C_SPACE;
    ngx_llm_ctab['\t'] = C_SPACE;
    ngx_llm_ctab['\r'] = C_SPACE;
    ngx_llm_ctab['\n'] = C_NEWLINE;
    ngx_llm_ctab['.'] = C_STOP;
    ngx_llm_ctab['!'] = C_STOP;
    ngx_llm_ctab['?'] = C_QUESTION;
    ngx_llm_ctab['`'] = C_BACKTICK;
    ngx_llm_ctab['_'] = C_IDENT;

    for (w = "{}()[];<>|&\\#$@~"; *w; w++) {
        ngx_llm_ctab[(unsigned char) *w] = C_SYMBOL;
    }

    for (w = "=+*/^%"; *w; w++) {
        ngx_llm_ctab[(unsigned char) *w] = C_MATH;
    }

    for (c = 0x80; c < 0xc0; c++) {
        ngx_llm_ctab[c] = C_UTF8_CONT;
    }

    for (c = 0xc0; c < 0x100; c++) {
        ngx_llm_ctab[c] = C_UTF8_OTHER;
    }

    ngx_llm_ctab[0xc2] = C_UTF8_PUNCT;
    ngx_llm_ctab[0xc3] = C_UTF8_LATIN;
    ngx_llm_ctab[0xe2] = C_UTF8_PUNCT;

    for (c = 0; c < 256; c++) {

        switch (ngx_llm_ctab[c]) {

        case C_SPACE:
            ngx_llm_after[c] = NGX_LLM_A_SPACE;
            break;

        case C_STOP:
            ngx_llm_after[c] = NGX_LLM_A_STOP;
            break;

        case C_QUESTION:
            ngx_llm_after[c] = NGX_LLM_A_QUESTION;
            break;

        case C_BREAK:
            ngx_llm_after[c] = NGX_LLM_A_BREAK;
            break;

        case C_NEWLINE:
        case C_SYMBOL:
        case C_MATH:
        case C_BACKTICK:
        case C_UTF8_PUNCT:
            ngx_llm_after[c] = NGX_LLM_A_ENDS;
            break;

        default: /* a letter, a digit, "_", a byte of a non-ASCII letter */
            ngx_llm_after[c] = NGX_LLM_A_GOES_ON;
        }
    }

    ngx_llm_after['('] = NGX_LLM_A_PAREN;

    for (c = 0; ngx_llm_concepts[c].words != NULL; c++) {

        w = ngx_llm_concepts[c].words;

        for (n = 0; w[n] && w[n] != ' ' && n < NGX_LLM_NAME_LEN - 1; n++) {
            ngx_llm_concept_names[c][n] = w[n];
        }

        ngx_llm_concept_names[c][n] = '\0';

        while (*w) {
            while (*w == ' ') {
                w++;
            }

            key = 0;

            for (n = 0; *w && *w != ' '; w++, n++) {
                if (n < NGX_LLM_KEY_LEN) {
                    key |= (uint64_t) (unsigned char) *w << (8 * n);
                }
            }

            if (n) {
                ngx_llm_table_add(key, n, c, ngx_llm_concepts[c].category,
                                  ngx_llm_concepts[c].flags);
            }
        }
    }

    for ( /* void */ ; c < NGX_LLM_CONCEPTS; c++) {
        snprintf(ngx_llm_concept_names[c], NGX_LLM_NAME_LEN, "unused%d", c);
    }

    for (n = 0; n < NGX_LLM_LENGTHS; n++) {
        ngx_llm_length[n] = log(1.0 + n) / log(1000.0);
    }

    ngx_llm_ready = 1;
}


void
ngx_llm_classify_conf_default(ngx_llm_classify_conf_t *conf)
{
    conf->simple_below = 0.3;
    conf->complex_from = 0.7;
}


void
ngx_llm_classify_begin(ngx_llm_classify_state_t *st)
{
    ngx_llm_classify_init();

    memset(st, 0, sizeof(ngx_llm_classify_state_t));
    st->line_start = 1;
    st->prev_hash = NGX_LLM_START_HASH;
}


void
ngx_llm_classify_turn(ngx_llm_classify_state_t *st)
{
    st->turns++;
}


/* a hashed term: its learned weight, and the sink's copy when training */

static void
ngx_llm_term(ngx_llm_classify_state_t *st, uint32_t h)
{
    uint32_t  bucket;

    bucket = (h * 0x9e3779b1u) >> (32 - NGX_LLM_BUCKET_BITS);

    st->wsum += ngx_llm_model_words[bucket];
    st->nterms++;

    if (st->sink != NULL) {
        st->sink(st->sink_data, bucket);
    }
}


/*
 * A word's stem: its weight joins the words' sum, which stays divided by
 * the square root of the words' and pairs' terms (two a word); the sink
 * gets it after NGX_LLM_BUCKETS
 */

static void
ngx_llm_stem(ngx_llm_classify_state_t *st, uint32_t bucket)
{
    st->wsum += ngx_llm_model_stems[bucket];

    if (st->sink != NULL) {
        st->sink(st->sink_data, NGX_LLM_BUCKETS + bucket);
    }
}


/* the keyword slot of a key, or NULL; m is the key times the constant */

static ngx_llm_inline ngx_llm_slot_t *
ngx_llm_lookup(uint64_t key, uint64_t m)
{
    uint32_t         i;
    ngx_llm_slot_t  *s;

    /*
     * The filter's entry: the one key there, or none (the empty slot 0),
     * compared without a branch on the entry first.  Most words are no
     * keyword, but which are is what real text makes the CPU mispredict.
     */

    i = ngx_llm_filter[m >> (64 - NGX_LLM_FILTER_BITS)];
    s = &ngx_llm_slots[i != NGX_LLM_FILTER_MANY ? i : 0];

    if (s->key == key) {
        return s;
    }

    if (ngx_llm_likely(i != NGX_LLM_FILTER_MANY)) {
        return NULL;
    }

    /* a word's key is never 0, an empty slot's is */

    for (i = (uint32_t) (m >> 54); ; i = (i + 1) % NGX_LLM_TABLE_SIZE) {

        s = &ngx_llm_table[i];

        if (s->key == key) {
            return s;
        }

        if (s->key == 0) {
            return NULL;
        }
    }
}


static void
ngx_llm_word_end(ngx_llm_classify_state_t *st)
{
    uint32_t         h;
    uint64_t         m;
    ngx_llm_slot_t  *s;

    if (!st->in_word) {
        return;
    }

    st->in_word = 0;

    /* the word, and the pair it makes with the previous one */
    m = st->key * 0x9e3779b97f4a7c15ULL;
    h = st->in_number ? NGX_LLM_NUMBER_HASH
                      : ngx_llm_word_hash(m, st->mid, st->hash);

    ngx_llm_term(st, h);
    ngx_llm_term(st, (st->prev_hash * NGX_LLM_FNV_PRIME) ^ h ^ 0x5bd1e995u);
    st->prev_hash = h;

    if (!st->in_number && st->wlen >= NGX_LLM_STEM_FROM) {
        ngx_llm_stem(st, ngx_llm_stem_hash((uint32_t) st->key));
    }

    st->words++;

    if (st->in_number) {
        st->in_number = 0;
        st->number_word = st->words + 1;

        /* "in 2009": a year, as in a trivia question, not a quantity */
        if (st->last_number >= 1000 && st->last_number <= 2100)
        {
            st->years++;

        } else {
            st->numbers++;
        }

        return;
    }

    if (st->nomatch || st->wlen == 0) {
        return;
    }

    s = ngx_llm_lookup(st->key, m);

    if (s != NULL) {
        ngx_llm_keyword(st, s, st->wlen);
    }
}


/* a keyword: its concept, once, and what it marks */

static void
ngx_llm_keyword(ngx_llm_classify_state_t *st, ngx_llm_slot_t *s,
    uint32_t wlen)
{
    /* the first six letters match: the length must be one listed */
    if (wlen < s->min_len || wlen > s->max_len) {
        return;
    }

    if ((s->flags & NGX_LLM_QUESTION_WORD) && st->words == 1) {
        st->question_word = 1;
    }

    if ((s->flags & NGX_LLM_MAKE_VERB) && st->words <= NGX_LLM_MAKE_WINDOW) {
        st->make_verb = 1;
    }

    if (s->flags & NGX_LLM_CODE_NOUN) {
        st->code_noun = 1;
    }

    /* a list that only marks words (question, code request) is no feature */
    if (s->category == NGX_LLM_NO_CATEGORY) {
        return;
    }

    /* each concept once: a feature of its own */
    if (st->seen[s->seen] & (1ULL << (s->concept & 63))) {
        return;
    }

    st->seen[s->seen] |= 1ULL << (s->concept & 63);

    if (s->category == NGX_LLM_C_UNIT) {
        if (st->words == st->number_word
            && ((s->key & 0xff) == 'p' ? st->last_number >= 2
                : (s->key & 0xff) == 'l' ? st->last_number >= 100
                : st->last_number >= 300))
        {
            st->big_output++;
        }

        return;
    }

    st->cat_hits[s->category]++;
}


static void
ngx_llm_word_char(ngx_llm_classify_state_t *st, unsigned char c)
{
    if (!st->in_word) {
        st->in_word = 1;
        st->nomatch = 0;
        st->in_number = 0;
        st->wlen = 0;
        st->key = 0;
        st->mid = 0;
        st->hash = NGX_LLM_FNV_BASIS;
    }

    if (st->wlen < NGX_LLM_KEY_LEN) {
        st->key |= (uint64_t) c << (8 * st->wlen);

    } else if (st->wlen < NGX_LLM_MID_END) {
        st->mid |= (uint64_t) c << (8 * (st->wlen - NGX_LLM_KEY_LEN));

    } else {
        st->hash = (st->hash ^ c) * NGX_LLM_FNV_PRIME;
    }

    st->wlen++;
}


/* a line that had characters ends: is it code? */

static ngx_llm_inline void
ngx_llm_line_count(ngx_llm_classify_state_t *st)
{
    unsigned char  c;

    c = st->line_last;
    st->lines++;

    if (st->in_fence
        || (st->indent >= 2 && st->line_syms > 0)
        || c == ';' || c == '{' || c == '}'
        || st->line_syms >= 4)
    {
        st->code_lines++;
    }
}


static void
ngx_llm_line_end(ngx_llm_classify_state_t *st)
{
    if (st->line_chars > 0) {
        ngx_llm_line_count(st);
    }

    st->line_start = 1;
    st->indent = 0;
    st->line_syms = 0;
    st->line_chars = 0;
    st->backticks = 0;
}


/* the 8 bytes at p, the first the lowest */

static ngx_llm_inline uint64_t
ngx_llm_load64(const unsigned char *p)
{
#if (NGX_LLM_LITTLE_ENDIAN)
    uint64_t  v;

    memcpy(&v, p, 8);
    return v;
#else
    int       i;
    uint64_t  v;

    for (v = 0, i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }

    return v;
#endif
}


/*
 * The length of the run of ASCII letters at p, 16 bytes at a time with
 * SSE2: a letter is a byte whose lower case (| 0x20) is in 'a'..'z', that
 * is, once 5 is added, a signed byte above 0x65 (0x66..0x7f).
 */

static ngx_llm_inline size_t
ngx_llm_letter_run(const unsigned char *p, const unsigned char *end)
{
    const unsigned char  *q;

#if (NGX_LLM_SSE2)
    unsigned  bits;
    __m128i   v;

    for (q = p; end - q >= 16; q += 16) {
        v = _mm_loadu_si128((const __m128i *) q);
        v = _mm_add_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)),
                         _mm_set1_epi8(5));
        bits = (unsigned) _mm_movemask_epi8(
                              _mm_cmpgt_epi8(v, _mm_set1_epi8(0x65)))
               ^ 0xffff;

        if (bits) {
            return (size_t) (q - p) + __builtin_ctz(bits);
        }
    }

#else
    q = p;
#endif

    while (q < end && ngx_llm_letter(*q)) {
        q++;
    }

    return (size_t) (q - p);
}


/* k (at most 8) letters at p, lower-cased, the first in the lowest byte */

static ngx_llm_inline uint64_t
ngx_llm_letters64(const unsigned char *p, const unsigned char *end, size_t k)
{
    size_t    i;
    uint64_t  v;

    if (end - p >= 8) {
        return (ngx_llm_load64(p) | 0x2020202020202020ULL)
               & ngx_llm_key_mask[k];
    }

    for (v = 0, i = 0; i < k; i++) {
        v |= (uint64_t) (p[i] | 0x20) << (8 * i);
    }

    return v;
}


/*
 * n letters at p, lower-cased, from the word's byte number wlen on: the
 * first six bytes of a word are its key, the next eight its middle, the
 * rest go into its hash
 */

static ngx_llm_inline void
ngx_llm_add_letters(const unsigned char *p, const unsigned char *end,
    size_t n, uint32_t wlen, uint64_t *key, uint64_t *mid, uint32_t *hash)
{
    size_t    i, k, j;
    uint32_t  h;

    k = 0;

    if (wlen < NGX_LLM_KEY_LEN) {
        k = NGX_LLM_KEY_LEN - wlen;
        k = k < n ? k : n;
        *key |= ngx_llm_letters64(p, end, k) << (8 * wlen);
    }

    if (k < n && wlen + k < NGX_LLM_MID_END) {
        j = NGX_LLM_MID_END - (wlen + k);
        j = j < n - k ? j : n - k;
        *mid |= ngx_llm_letters64(p + k, end, j)
                << (8 * (wlen + k - NGX_LLM_KEY_LEN));
        k += j;
    }

    if (k < n) {
        h = *hash;

        for (i = k; i < n; i++) {
            h = (h ^ (p[i] | 0x20)) * NGX_LLM_FNV_PRIME;
        }

        *hash = h;
    }
}


#if (NGX_LLM_SSE2)

/*
 * 16 bytes at p: a bit per ASCII letter, a bit per space (' '); | 0x20
 * lower-cases a letter, + 5 then puts 'a'..'z' above 0x65, at the top
 * of the signed bytes (the compare then needs no copy of its constant)
 */

static ngx_llm_inline void
ngx_llm_bits16(const unsigned char *p, uint64_t *letters, uint64_t *spaces)
{
    __m128i  v, l, s;

    v = _mm_loadu_si128((const __m128i *) p);
    s = _mm_cmpeq_epi8(v, _mm_set1_epi8(' '));
    l = _mm_cmpgt_epi8(_mm_add_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)),
                                    _mm_set1_epi8(5)),
                       _mm_set1_epi8(0x65));

    *letters = (uint32_t) _mm_movemask_epi8(l);
    *spaces = (uint32_t) _mm_movemask_epi8(s);
}

#endif


/* 64 bytes at p: a bit per ASCII letter, a bit per space */

static ngx_llm_inline void
ngx_llm_bits64(const unsigned char *p, uint64_t *letters, uint64_t *spaces)
{
    uint64_t  l, s;

#if (NGX_LLM_SSE2)
    uint64_t  la, lb, lc, ld, sa, sb, sc, sd;

    ngx_llm_bits16(p, &la, &sa);
    ngx_llm_bits16(p + 16, &lb, &sb);
    ngx_llm_bits16(p + 32, &lc, &sc);
    ngx_llm_bits16(p + 48, &ld, &sd);

    l = la | lb << 16 | lc << 32 | ld << 48;
    s = sa | sb << 16 | sc << 32 | sd << 48;

#else
    int  i;

    for (l = 0, s = 0, i = 0; i < 64; i++) {
        l |= (uint64_t) ngx_llm_letter(p[i]) << i;
        s |= (uint64_t) (p[i] == ' ') << i;
    }

#endif

    *letters = l;
    *spaces = s;
}


/* "é" and the like at p: the letter it folds to, or 0 */

static ngx_llm_inline unsigned char
ngx_llm_folded(const unsigned char *p, const unsigned char *end)
{
    if (end - p >= 2 && p[0] == 0xc3 && (p[1] & 0xc0) == 0x80) {
        return (unsigned char) ngx_llm_fold_c3[p[1] & 0x3f];
    }

    return 0;
}


/*
 * The rest of a word from r: folded letters ("é") a character at a
 * time, each with the run of ASCII letters after it at once; returns
 * where it stops.
 */

static const unsigned char *
ngx_llm_word_rest(const unsigned char *r, const unsigned char *end,
    uint64_t *key, uint64_t *mid, uint32_t *hash, uint32_t *wlen)
{
    size_t         n;
    uint32_t       h, w;
    uint64_t       k, d;
    unsigned char  c;

    k = *key;
    d = *mid;
    h = *hash;
    w = *wlen;

    for ( ;; ) {

        /* a letter before r has ended the run: r is no ASCII letter */

        c = ngx_llm_folded(r, end);

        if (c == 0) {
            break;
        }

        if (w < NGX_LLM_KEY_LEN) {
            k |= (uint64_t) c << (8 * w);

        } else if (w < NGX_LLM_MID_END) {
            d |= (uint64_t) c << (8 * (w - NGX_LLM_KEY_LEN));

        } else {
            h = (h ^ c) * NGX_LLM_FNV_PRIME;
        }

        r += 2;
        w++;

        n = ngx_llm_letter_run(r, end);

        if (n) {
            ngx_llm_add_letters(r, end, n, w, &k, &d, &h);
            r += n;
            w += (uint32_t) n;
        }
    }

    *key = k;
    *mid = d;
    *hash = h;
    *wlen = w;

    return r;
}


/*
 * The fast path: plain text and code, outside a word.  A block of 64
 * bytes becomes bits: letters, spaces, the rest; the loop then goes from
 * event to event (a word's start, a byte neither a letter nor a space),
 * spaces and a word's letters costing nothing, a plain word (letters, then
 * a space or punctuation) taking no call but for a keyword.  It returns
 * at what it leaves to the byte by byte step: "_", a letter other than
 * Latin, a number that goes on ("2nd", "3." at a chunk's end), or the
 * byte after a word that may go on ("word2", "o(", a word the chunk cuts),
 * the word then begun in the state.  The block is kept for when the step
 * gives back.
 */

typedef struct {
    const unsigned char  *b;              /* the block: b[0] to b[valid] */
    size_t                valid;
    uint64_t              letters;
    uint64_t              spaces;
    const unsigned char  *kb;             /* b, or its copy: kb[0] to
                                             kb[79] can be read, 0x80
                                             past the chunk */
    unsigned char         buf[64 + 32];
} ngx_llm_block_t;


/* the spaces at b[from] on, in the block */

static ngx_llm_inline uint32_t
ngx_llm_spaces(ngx_llm_block_t *blk, size_t from)
{
    uint64_t  m;

    if (from >= blk->valid) {
        return 0;
    }

    /* past valid, spaces has no bit */
    m = ~blk->spaces >> from;

    return (uint32_t) (m ? ngx_llm_ctz(m) : 64 - from);
}


/* the hash of the letters p[0] to p[n - 1], lower-cased, on from h */

static ngx_llm_inline uint32_t
ngx_llm_hash_letters(const unsigned char *p, const unsigned char *end,
    size_t n, uint32_t h)
{
    size_t    k;
    uint64_t  v;

    while (n > 0 && end - p >= 8) {
        v = ngx_llm_load64(p) | 0x2020202020202020ULL;
        k = n < 8 ? n : 8;
        p += k;
        n -= k;

        /* k bytes of v, the lowest first */

        switch (k) {
        case 8:
            h = (h ^ (uint32_t) (v & 0xff)) * NGX_LLM_FNV_PRIME;
            v >>= 8;
            /* fall through */
        case 7:
            h = (h ^ (uint32_t) (v & 0xff)) * NGX_LLM_FNV_PRIME;
            v >>= 8;
            /* fall through */
        case 6:
            h = (h ^ (uint32_t) (v & 0xff)) * NGX_LLM_FNV_PRIME;
            v >>= 8;
            /* fall through */
        case 5:
            h = (h ^ (uint32_t) (v & 0xff)) * NGX_LLM_FNV_PRIME;
            v >>= 8;
            /* fall through */
        case 4:
            h = (h ^ (uint32_t) (v & 0xff)) * NGX_LLM_FNV_PRIME;
            v >>= 8;
            /* fall through */
        case 3:
            h = (h ^ (uint32_t) (v & 0xff)) * NGX_LLM_FNV_PRIME;
            v >>= 8;
            /* fall through */
        case 2:
            h = (h ^ (uint32_t) (v & 0xff)) * NGX_LLM_FNV_PRIME;
            v >>= 8;
            /* fall through */
        default:
            h = (h ^ (uint32_t) (v & 0xff)) * NGX_LLM_FNV_PRIME;
        }
    }

    for ( /* void */ ; n > 0; n--) {
        h = (h ^ (*p++ | 0x20)) * NGX_LLM_FNV_PRIME;
    }

    return h;
}


/* a word that ended: its term and the pair's, what it counts */

static ngx_llm_inline void
ngx_llm_word(ngx_llm_classify_state_t *st, uint64_t key, uint64_t mid,
    uint32_t hash, uint32_t wlen)
{
    uint32_t         h, pair;
    uint64_t         m;
    ngx_llm_slot_t  *s;

    m = key * 0x9e3779b97f4a7c15ULL;
    h = ngx_llm_word_hash(m, mid, hash);
    pair = (st->prev_hash * NGX_LLM_FNV_PRIME) ^ h ^ 0x5bd1e995u;

    st->wsum += ngx_llm_model_words[(h * 0x9e3779b1u)
                                    >> (32 - NGX_LLM_BUCKET_BITS)]
                + ngx_llm_model_words[(pair * 0x9e3779b1u)
                                      >> (32 - NGX_LLM_BUCKET_BITS)]
                + ngx_llm_model_stems[ngx_llm_stem_bucket(key, wlen)];
    st->prev_hash = h;
    st->words++;

    s = ngx_llm_lookup(key, m);

    /* a keyword seen before, that marks nothing: nothing more to count */
    if (s != NULL
        && (s->flags
            || !(st->seen[s->seen] & (1ULL << (s->concept & 63)))))
    {
        ngx_llm_keyword(st, s, wlen);
    }
}


/*
 * A word the fast loop does not end itself: one past the block, one with
 * "é", one that may go on.  Returns the byte after it; the word is begun
 * in the state (st->in_word) if it may go on.
 */

static const unsigned char *
ngx_llm_word_slow(ngx_llm_classify_state_t *st, const unsigned char *r,
    const unsigned char *end, uint64_t key, uint64_t mid, uint32_t hash,
    uint32_t wlen)
{
    int  act;

    act = r < end ? ngx_llm_after[*r] : NGX_LLM_A_GOES_ON;

    if (act == NGX_LLM_A_GOES_ON && r < end && *r == 0xc3) {
        r = ngx_llm_word_rest(r, end, &key, &mid, &hash, &wlen);
        act = r < end ? ngx_llm_after[*r] : NGX_LLM_A_GOES_ON;
    }

    st->line_start = 0;
    st->line_chars = 1;
    st->line_last = r[-1];

    if (act >= NGX_LLM_A_PAREN
        && (act == NGX_LLM_A_GOES_ON || (wlen == 1 && key == 'o')))
    {
        /* the word may go on ("word2", "o(", the chunk's end) */
        st->in_word = 1;
        st->nomatch = 0;
        st->in_number = 0;
        st->key = key;
        st->mid = mid;
        st->hash = hash;
        st->wlen = wlen;
        return r;
    }

    ngx_llm_word(st, key, mid, hash, wlen);

    if (act == NGX_LLM_A_STOP || act == NGX_LLM_A_QUESTION) {
        st->sentences++;
    }

    return r;
}


/*
 * The fast path's rarer bytes outside a word, at p: a tab or a carriage
 * return, a word that starts with "é".  Returns the byte after what it
 * took, or NULL when the byte is the step's ("_", a letter other than
 * Latin, "×").
 */

static const unsigned char *
ngx_llm_other(ngx_llm_classify_state_t *st, const unsigned char *p,
    const unsigned char *end)
{
    unsigned char  c, f;

    c = *p;

    switch (ngx_llm_ctab[c]) {

    case C_SPACE:
        if (st->line_start) {
            st->indent += (c == '\t') ? 4 : 1;
        }

        return p + 1;

    case C_UTF8_LATIN:
        f = ngx_llm_folded(p, end);

        if (f == 0) {
            return NULL;
        }

        return ngx_llm_word_slow(st, p + 2, end, f, 0, NGX_LLM_FNV_BASIS, 1);

    default:
        return NULL;
    }
}


static const unsigned char *
ngx_llm_fast(ngx_llm_classify_state_t *st, const unsigned char *p,
    const unsigned char *end, ngx_llm_block_t *blk)
{
    size_t                valid, pos, e, n, k, cross;
    int64_t               wsum;
    uint32_t              words, prev, hash, h, pair, val;
    uint64_t              L, X, key, mid, m;
    unsigned char         c, act, ls;
    ngx_llm_slot_t       *s;
    const unsigned char  *b, *kb, *r;

    /*
     * the running sums in registers, in the state around calls; the terms
     * are two a word, counted at the end; st->line_chars is !ls, written
     * when read
     */

    wsum = st->wsum;
    prev = st->prev_hash;
    words = st->words;
    st->nterms -= 2 * words;
    ls = st->line_start;

    while (p < end) {

        b = blk->b;

        if (b == NULL || p < b || p >= b + blk->valid) {

            /* a new block: 64 bytes at p, or what is left, copied */

            b = p;
            blk->b = b;

            if (end - b >= 64 + 16) {
                blk->valid = 64;
                blk->kb = b;

            } else {
                blk->valid = end - b < 64 ? (size_t) (end - b) : 64;
                blk->kb = blk->buf;
                memset(blk->buf, 0x80, sizeof(blk->buf));
                memcpy(blk->buf, b, end - b < 80 ? (size_t) (end - b) : 80);
            }

            ngx_llm_bits64(blk->kb, &blk->letters, &blk->spaces);

            if (blk->valid < 64) {
                blk->letters &= (1ULL << blk->valid) - 1;
                blk->spaces &= (1ULL << blk->valid) - 1;
            }
        }

        valid = blk->valid;
        kb = blk->kb;
        L = blk->letters;

        if (ls) {
            /* spaces at the line's start: its indent */
            st->indent += ngx_llm_spaces(blk, p - b);
        }

        /* the events: where a word starts, bytes neither letter nor space */

        e = p - b;
        X = ((L & ~(L << 1)) | ~(L | blk->spaces)) & (~0ULL << e);

        if (valid < 64) {
            X &= (1ULL << valid) - 1;
        }

        while (X) {

            pos = ngx_llm_ctz(X);

            if ((L >> pos) & 1) {

                /* a word: its run of letters, the key and the hash */

                m = ~L >> pos;
                cross = (m == 0);

                if (ngx_llm_unlikely(cross)) {
                    /* it goes on past the block */
                    n = 64 - pos + ngx_llm_letter_run(b + 64, end);

                } else {
                    n = ngx_llm_ctz(m);
                }

                /* what ends it; past the chunk, the copy has 0x80 */

                if (ngx_llm_likely(!cross)) {
                    act = ngx_llm_after[kb[pos + n]];

                } else {
                    act = b + pos + n < end ? ngx_llm_after[b[pos + n]]
                                            : NGX_LLM_A_GOES_ON;
                }

                /*
                 * the key, letters 7 to 14, without a branch: whether a
                 * word is longer than its key is as random as the text
                 * (kb can be read to kb[pos + 14]; past the word, the
                 * masks)
                 */

                k = n < NGX_LLM_MID_END ? n : NGX_LLM_MID_END;
                key = (ngx_llm_load64(kb + pos) | 0x2020202020202020ULL)
                      & ngx_llm_len_masks[k].key;
                mid = (ngx_llm_load64(kb + pos + NGX_LLM_KEY_LEN)
                       | 0x2020202020202020ULL)
                      & ngx_llm_len_masks[k].mid;
                hash = NGX_LLM_FNV_BASIS;

                if (ngx_llm_unlikely(n > NGX_LLM_MID_END)) {
                    hash = ngx_llm_hash_letters(b + pos + NGX_LLM_MID_END,
                                                end, n - NGX_LLM_MID_END,
                                                hash);
                }

                if (ngx_llm_unlikely(act >= NGX_LLM_A_PAREN)) {
                    st->wsum = wsum;
                    st->prev_hash = prev;
                    st->words = words;

                    r = ngx_llm_word_slow(st, b + pos + n, end, key, mid,
                                          hash, (uint32_t) n);

                    wsum = st->wsum;
                    prev = st->prev_hash;
                    words = st->words;
                    ls = st->line_start;

                    if (st->in_word) {
                        p = r;
                        goto done;
                    }

                    e = r - b;
                    goto next;
                }

                ls = 0;
                st->line_last = 'a';      /* a letter: not ';', '{', '}' */

                /* the word ends: its term, the pair's, its stem's */

                m = key * 0x9e3779b97f4a7c15ULL;
                h = ngx_llm_word_hash(m, mid, hash);
                pair = (prev * NGX_LLM_FNV_PRIME) ^ h ^ 0x5bd1e995u;

                wsum += ngx_llm_model_words[(h * 0x9e3779b1u)
                                            >> (32 - NGX_LLM_BUCKET_BITS)]
                        + ngx_llm_model_words[(pair * 0x9e3779b1u)
                                              >> (32 - NGX_LLM_BUCKET_BITS)]
                        + ngx_llm_model_stems[
                              ngx_llm_stem_hash((uint32_t) key
                                                & ngx_llm_stem_mask[k])];
                prev = h;
                words++;

                s = ngx_llm_lookup(key, m);

                if (s != NULL
                    && (s->flags
                        || !(st->seen[s->seen]
                             & (1ULL << (s->concept & 63)))))
                {
                    st->words = words;
                    ngx_llm_keyword(st, s, (uint32_t) n);
                }

                e = pos + n;

                if (act != NGX_LLM_A_SPACE && act <= NGX_LLM_A_BREAK) {
                    /* punctuation after it: ".", "?", "," taken here */
                    if (act != NGX_LLM_A_BREAK) {
                        st->sentences++;

                        if (act == NGX_LLM_A_QUESTION) {
                            st->questions++;
                        }
                    }

                    st->line_last = b[e];
                    X &= ~(1ULL << (e & 63));   /* (e > 63: X is done) */
                    e++;
                }

                /*
                 * what ended it is the next event, or a space; a word past
                 * the block was its last event (its letters are no word's
                 * start), the next block starts after it: e
                 */
                X &= X - 1;
                continue;
            }

            /* a byte neither a letter nor a space: the common ones here */

            c = b[pos];

            /* the most common in code first, without the switch's jump */

            if (ngx_llm_ctab[c] == C_SYMBOL) {
                st->symbols++;
                st->line_syms++;
                ls = 0;
                st->line_last = c;
                X &= X - 1;
                continue;
            }

            switch (ngx_llm_ctab[c]) {

            case C_MATH:
                st->math_ops++;
                st->line_syms++;
                break;

            case C_QUESTION:
                st->questions++;
                break;

            case C_STOP:
            case C_BREAK:
            case C_UTF8_PUNCT:
            case C_UTF8_CONT:
                break;

            case C_NEWLINE:

                /*
                 * ngx_llm_line_end() with the line's characters in ls,
                 * then the next line's indent
                 */

                if (!ls) {
                    ngx_llm_line_count(st);
                }

                ls = 1;
                st->line_syms = 0;
                st->backticks = 0;
                st->indent = ngx_llm_spaces(blk, pos + 1);
                X &= X - 1;
                continue;

            case C_BACKTICK:

                /*
                 * three in a row open or close a fenced block, at once
                 * when none is pending; past the chunk, kb has 0x80
                 */

                if (st->backticks == 0 && kb[pos + 1] == '`'
                    && kb[pos + 2] == '`')
                {
                    st->in_fence = !st->in_fence;
                    st->fences++;
                    ls = 0;
                    st->line_last = c;
                    e = pos + 3;
                    goto next;
                }

                /* one that ends the chunk waits for the next feed() */

                if (++st->backticks == 3) {
                    st->backticks = 0;
                    st->in_fence = !st->in_fence;
                    st->fences++;

                } else if (b + pos + 1 < end && b[pos + 1] != '`') {
                    if (st->backticks == 1) {
                        st->inline_code++;
                    }

                    st->backticks = 0;
                }

                break;

            case C_DIGIT:

                /* a number, if nothing makes it go on: "2009", "3.5" */

                r = b + pos;
                val = 0;

                do {
                    if (val < 100000000) {
                        val = val * 10 + (*r - '0');
                    }

                    r++;

                } while (r < end && ngx_llm_ctab[*r] == C_DIGIT);

                if (r == end || ngx_llm_after[*r] == NGX_LLM_A_GOES_ON
                    || (ngx_llm_ctab[*r] == C_STOP && r + 1 == end))
                {
                    p = b + pos;
                    goto done;
                }

                h = NGX_LLM_NUMBER_HASH;
                pair = (prev * NGX_LLM_FNV_PRIME) ^ h ^ 0x5bd1e995u;
                wsum += ngx_llm_model_words[(h * 0x9e3779b1u)
                                            >> (32 - NGX_LLM_BUCKET_BITS)]
                        + ngx_llm_model_words[(pair * 0x9e3779b1u)
                                              >> (32 - NGX_LLM_BUCKET_BITS)];
                prev = h;
                words++;

                st->number_word = words + 1;
                st->last_number = val;

                /* "in 2009": a year, as in a trivia question */
                if (val >= 1000 && val <= 2100) {
                    st->years++;

                } else {
                    st->numbers++;
                }

                /* "3." ends a sentence, "3.5" does not */
                if ((ngx_llm_after[*r] == NGX_LLM_A_STOP
                     || ngx_llm_after[*r] == NGX_LLM_A_QUESTION)
                    && !(ngx_llm_ctab[*r] == C_STOP
                         && ngx_llm_ctab[r[1]] == C_DIGIT))
                {
                    st->sentences++;
                }

                ls = 0;
                st->line_last = r[-1];

                e = r - b;
                goto next;

            default:
                goto other;
            }

            ls = 0;
            st->line_last = c;
            X &= X - 1;
            continue;

        other:

            st->wsum = wsum;
            st->prev_hash = prev;
            st->words = words;
            st->line_start = ls;

            r = ngx_llm_other(st, b + pos, end);

            wsum = st->wsum;
            prev = st->prev_hash;
            words = st->words;
            ls = st->line_start;

            if (r == NULL) {
                p = b + pos;
                goto done;
            }

            if (st->in_word) {
                /* a word that started with "é" and may go on */
                p = r;
                goto done;
            }

            e = r - b;

        next:

            if (e >= valid) {
                /* a word or a number past the block: the next one there */
                goto past;
            }

            if (ls) {
                /* after a tab at the line's start: more of its indent */
                st->indent += ngx_llm_spaces(blk, e);
            }

            X &= ~0ULL << e;
        }

        if (e < valid) {
            e = valid;
        }

    past:

        p = b + e;
    }

done:

    st->wsum = wsum;
    st->prev_hash = prev;
    st->words = words;
    st->nterms += 2 * words;
    st->line_start = ls;
    st->line_chars = !ls;

    return p;
}


/*
 * One step of the scanner: a byte (two for a folded letter), or a run of
 * letters.  Where what a byte means depends on the next one and the chunk
 * ends there, the next feed() (or the end) decides, so that a text fed in
 * any pieces gives what it gives whole.
 */

static const unsigned char *
ngx_llm_step(ngx_llm_classify_state_t *st, const unsigned char *p,
    const unsigned char *end)
{
    size_t         n;
    unsigned char  c, f;

    c = *p;

    if (ngx_llm_letter(c)) {

        if (!st->in_word) {
            st->in_word = 1;
            st->nomatch = 0;
            st->in_number = 0;
            st->wlen = 0;
            st->key = 0;
            st->mid = 0;
            st->hash = NGX_LLM_FNV_BASIS;

        } else if (st->in_number) {
            /* "1500x" is no number and no keyword */
            st->in_number = 0;
            st->nomatch = 1;
        }

        n = ngx_llm_letter_run(p, end);
        ngx_llm_add_letters(p, end, n, st->wlen, &st->key, &st->mid,
                            &st->hash);
        st->wlen += (uint32_t) n;

        p += n;
        st->line_start = 0;
        st->line_chars = 1;
        st->line_last = p[-1] | 0x20;

        return p;
    }

    p++;

    switch (ngx_llm_ctab[c]) {

    case C_SPACE:
        ngx_llm_word_end(st);

        if (st->line_start) {
            st->indent += (c == '\t') ? 4 : 1;
        }

        return p;

    case C_NEWLINE:
        ngx_llm_word_end(st);
        ngx_llm_line_end(st);
        return p;

    case C_DIGIT:
        if (!st->in_word) {
            ngx_llm_word_char(st, c);
            st->in_number = 1;
            st->last_number = 0;
        }

        if (st->in_number) {
            if (st->last_number < 100000000) {
                st->last_number = st->last_number * 10 + (c - '0');
            }

        } else {
            ngx_llm_word_char(st, c);
        }

        break;

    case C_IDENT:
    case C_UTF8_OTHER:
        ngx_llm_word_char(st, c);
        st->nomatch = 1;
        break;

    case C_UTF8_CONT:
        if (st->in_word) {
            st->nomatch = 1;
        }

        break;

    case C_UTF8_LATIN:
        if (p == end) {
            /* the next feed() has the rest of the character */
            st->pending |= NGX_LLM_PENDING_LATIN;
            break;
        }

        if ((*p & 0xc0) == 0x80) {
            f = (unsigned char) ngx_llm_fold_c3[*p & 0x3f];
            p++;

            if (f) {
                ngx_llm_word_char(st, f);
                break;
            }
        }

        ngx_llm_word_end(st);
        break;

    case C_BACKTICK:
        /* a run of three backticks opens or closes a fenced block */
        if (++st->backticks == 3) {
            st->backticks = 0;
            st->in_fence = !st->in_fence;
            st->fences++;

        } else if (p < end && *p != '`') {
            if (st->backticks == 1) {
                st->inline_code++;
            }

            st->backticks = 0;
        }

        ngx_llm_word_end(st);
        break;

    case C_QUESTION:
        st->questions++;

        if (st->in_word) {
            st->sentences++;
        }

        ngx_llm_word_end(st);
        break;

    case C_MATH:
        st->math_ops++;
        st->line_syms++;
        ngx_llm_word_end(st);
        break;

    case C_SYMBOL:
        if (c == '(' && st->in_word && st->wlen == 1
            && (st->key == 'o'))
        {
            /* O(n) notation */
            st->key = 'b' | 'i' << 8 | 'g' << 16 | (uint64_t) 'o' << 24;
            st->wlen = 4;
        }

        st->line_syms++;
        st->symbols++;
        ngx_llm_word_end(st);
        break;

    case C_STOP:
        /* "." after a word ends a sentence ("3.5" is one number) */
        if (st->in_word) {
            if (!st->in_number) {
                st->sentences++;

            } else if (p == end) {
                st->pending |= NGX_LLM_PENDING_STOP;

            } else if (ngx_llm_ctab[*p] != C_DIGIT) {
                st->sentences++;
            }
        }

        ngx_llm_word_end(st);
        break;

    default:
        /*
         * C_BREAK, C_UTF8_PUNCT: U+0080..U+00BF and U+2000..U+2FFF,
         * quotes, dashes, spaces (their continuation bytes then change
         * nothing)
         */
        ngx_llm_word_end(st);
        break;
    }

    st->line_start = 0;
    st->line_chars = 1;
    st->line_last = c;

    return p;
}


/* what the last feed() left to its next byte: this one */

static const unsigned char *
ngx_llm_pending(ngx_llm_classify_state_t *st, const unsigned char *p)
{
    unsigned char  c, f;

    c = *p;

    if (st->backticks && c != '`') {
        if (st->backticks == 1) {
            st->inline_code++;
        }

        st->backticks = 0;
    }

    if ((st->pending & NGX_LLM_PENDING_STOP) && ngx_llm_ctab[c] != C_DIGIT) {
        st->sentences++;
    }

    if (st->pending & NGX_LLM_PENDING_LATIN) {
        st->pending = 0;

        if ((c & 0xc0) == 0x80) {
            f = (unsigned char) ngx_llm_fold_c3[c & 0x3f];

            if (f) {
                ngx_llm_word_char(st, f);

            } else {
                ngx_llm_word_end(st);
            }

            return p + 1;
        }

        ngx_llm_word_end(st);
        return p;
    }

    st->pending = 0;

    return p;
}


/* the same at the end of the text */

static void
ngx_llm_pending_end(ngx_llm_classify_state_t *st)
{
    if (st->backticks == 1) {
        st->inline_code++;
    }

    st->backticks = 0;

    if (st->pending & NGX_LLM_PENDING_STOP) {
        st->sentences++;
    }

    st->pending = 0;
}


void
ngx_llm_classify_feed(ngx_llm_classify_state_t *st, const unsigned char *p,
    size_t len)
{
    ngx_llm_block_t       blk;
    const unsigned char  *end;

    end = p + len;
    st->bytes += len;

    if (len == 0) {
        return;
    }

    if (st->pending || st->backticks) {
        p = ngx_llm_pending(st, p);
    }

    blk.b = NULL;

    while (p < end) {

        if (!st->in_word && st->sink == NULL) {
            p = ngx_llm_fast(st, p, end, &blk);

            if (p == end) {
                break;
            }
        }

        p = ngx_llm_step(st, p, end);
    }
}


/*
 * What feed(st, "\n", 1) does, step by step: the byte the last feed()
 * left pending is explained, the word ends, then the line.
 */

void
ngx_llm_classify_break(ngx_llm_classify_state_t *st)
{
    static const unsigned char  nl = '\n';

    st->bytes++;

    if (st->pending || st->backticks) {
        (void) ngx_llm_pending(st, &nl);
    }

    ngx_llm_word_end(st);
    ngx_llm_line_end(st);
}


static double
ngx_llm_cap(double v, double cap)
{
    return v < cap ? v / cap : 1.0;
}


/*
 * The feature values, each in about [0, 1], from the counters: what the
 * model weighs.  Also the training tool's input (llm-classify --features),
 * so the weights are learned on exactly these values.  Only the values
 * that are not 0 are kept, in the features' order: a short prompt has a
 * few, and the score sums only those (adding a weight times 0 changes no
 * bit of the sum).
 */

typedef struct {
    int                 n;
    uint8_t             f[NGX_LLM_F_CONCEPT];
    double              v[NGX_LLM_F_CONCEPT];
} ngx_llm_values_t;


static ngx_llm_inline void
ngx_llm_value(ngx_llm_values_t *x, int f, double v)
{
    x->f[x->n] = (uint8_t) f;
    x->v[x->n] = v;
    x->n += (v != 0);
}


static void
ngx_llm_counted(ngx_llm_classify_state_t *st,
    const ngx_llm_classify_hints_t *hints, ngx_llm_values_t *x)
{
    int       band;
    uint32_t  blocks, words, c;

    ngx_llm_pending_end(st);
    ngx_llm_word_end(st);
    ngx_llm_line_end(st);

    words = st->words;
    x->n = 0;

    ngx_llm_value(x, NGX_LLM_F_LENGTH,
                  words < NGX_LLM_LENGTHS
                  ? ngx_llm_length[words]
                  : log(1.0 + words) / log(1000.0));

    /* length in bands: its effect need not be a straight line */
    band = words <= 5 ? NGX_LLM_F_WORDS_5
           : words <= 10 ? NGX_LLM_F_WORDS_10
           : words <= 17 ? NGX_LLM_F_WORDS_17
           : words <= 25 ? NGX_LLM_F_WORDS_25
           : words <= 40 ? NGX_LLM_F_WORDS_40
           : words <= 80 ? NGX_LLM_F_WORDS_80 : NGX_LLM_F_WORDS_MORE;

    ngx_llm_value(x, band, 1);

    if (st->numbers) {
        ngx_llm_value(x, NGX_LLM_F_NUMBERS, ngx_llm_cap(st->numbers, 8));
        ngx_llm_value(x, NGX_LLM_F_NUMBERS2, st->numbers >= 2);
    }

    if (st->math_ops) {
        ngx_llm_value(x, NGX_LLM_F_MATH_OPS, ngx_llm_cap(st->math_ops, 10));
    }

    if (st->lines) {
        ngx_llm_value(x, NGX_LLM_F_LINES, ngx_llm_cap(st->lines, 30));
    }

    blocks = (st->fences + 1) / 2;
    ngx_llm_value(x, NGX_LLM_F_FENCES, blocks > 0);

    c = st->code_lines + st->inline_code / 2;

    if (c) {
        ngx_llm_value(x, NGX_LLM_F_CODE_LINES, ngx_llm_cap(c, 20));
    }

    if (st->symbols && words) {
        ngx_llm_value(x, NGX_LLM_F_SYMBOLS,
                      ngx_llm_cap((double) st->symbols / words, 1));
    }

    if (st->years) {
        ngx_llm_value(x, NGX_LLM_F_YEARS, ngx_llm_cap(st->years, 3));
    }

    if (st->sentences) {
        ngx_llm_value(x, NGX_LLM_F_SENTENCES, ngx_llm_cap(st->sentences, 10));
    }

    ngx_llm_value(x, NGX_LLM_F_QUESTION_WORD, st->question_word);
    ngx_llm_value(x, NGX_LLM_F_ONE_QUESTION,
                  st->questions >= 1 && st->sentences <= 1);
    ngx_llm_value(x, NGX_LLM_F_CODE_REQUEST, st->make_verb && st->code_noun);
    ngx_llm_value(x, NGX_LLM_F_SHORT_PLAIN,
                  words <= 25 && !st->code_noun
                  && st->code_lines == 0 && blocks == 0
                  && st->math_ops == 0 && st->numbers < 2
                  && st->cat_hits[NGX_LLM_F_MATH] == 0
                  && st->cat_hits[NGX_LLM_F_OUTPUT] == 0);

    /* the categories' words, up to three of each */
    for (c = NGX_LLM_F_REASONING; c <= NGX_LLM_F_SEQUENCE; c++) {
        if (st->cat_hits[c]) {
            ngx_llm_value(x, c, ngx_llm_cap(st->cat_hits[c], 3));
        }
    }

    ngx_llm_value(x, NGX_LLM_F_SIZE, st->big_output > 0);

    if (st->turns > 1) {
        ngx_llm_value(x, NGX_LLM_F_DEPTH, ngx_llm_cap(st->turns - 1, 5));
    }

    if (hints != NULL && hints->max_tokens >= 1024) {
        ngx_llm_value(x, NGX_LLM_F_MAX_TOKENS,
                      hints->max_tokens >= 4096 ? 1.0 : 0.5);
    }
}


/* every dense value, 0 where none was kept */

static void
ngx_llm_values(ngx_llm_classify_state_t *st,
    const ngx_llm_classify_hints_t *hints, double *dense)
{
    int               i;
    ngx_llm_values_t  x;

    ngx_llm_counted(st, hints, &x);

    for (i = 0; i < NGX_LLM_F_CONCEPT; i++) {
        dense[i] = 0;
    }

    for (i = 0; i < x.n; i++) {
        dense[x.f[i]] = x.v[i];
    }
}


void
ngx_llm_classify_features(ngx_llm_classify_state_t *st,
    const ngx_llm_classify_hints_t *hints, double *x)
{
    int  i;

    ngx_llm_values(st, hints, x);

    for (i = 0; i < NGX_LLM_CONCEPTS; i++) {
        x[NGX_LLM_F_CONCEPT + i] = (st->seen[i >> 6] >> (i & 63)) & 1;
    }
}


/*
 * The words' term, kept within the range it had on the prompts the model
 * was trained on: a text unlike them (a pasted log, a long list) repeats
 * words as no training prompt did, and the sum would grow with the square
 * root of its length, past anything the weights were fitted on.
 */

static double
ngx_llm_words_term(const ngx_llm_classify_state_t *st)
{
    double  w;

    w = (double) st->wsum * ngx_llm_model_words_scale
        / sqrt((double) st->nterms);

    return w < ngx_llm_model_words_min ? ngx_llm_model_words_min
           : w > ngx_llm_model_words_max ? ngx_llm_model_words_max : w;
}


/* keeps the largest positive contributions, largest first */

static void
ngx_llm_top(ngx_llm_classify_result_t *res, int feature, double c)
{
    int  j, k;

    if (c <= 0) {
        return;
    }

    for (j = 0; j < res->ntop; j++) {
        if (c > res->top_contrib[j]) {
            break;
        }
    }

    if (j == NGX_LLM_TOP_FEATURES) {
        return;
    }

    k = res->ntop < NGX_LLM_TOP_FEATURES ? res->ntop : res->ntop - 1;

    for ( /* void */ ; k > j; k--) {
        res->top[k] = res->top[k - 1];
        res->top_contrib[k] = res->top_contrib[k - 1];
    }

    res->top[j] = feature;
    res->top_contrib[j] = c;

    if (res->ntop < NGX_LLM_TOP_FEATURES) {
        res->ntop++;
    }
}


void
ngx_llm_classify_end(ngx_llm_classify_state_t *st,
    const ngx_llm_classify_hints_t *hints,
    const ngx_llm_classify_conf_t *conf, ngx_llm_classify_result_t *res)
{
    int       i, b;
    double    z, w;
    uint64_t  bits;

    memset(res, 0, sizeof(ngx_llm_classify_result_t));

    ngx_llm_values(st, hints, res->x);

    z = ngx_llm_model_bias;

    for (i = 0; i < NGX_LLM_F_CONCEPT; i++) {
        res->contrib[i] = ngx_llm_model_dense[i] * res->x[i];
        z += res->contrib[i];
        ngx_llm_top(res, i, res->contrib[i]);
    }

    /* the concepts seen: their weights (a concept's value is 1) */
    for (i = 0; i < NGX_LLM_CONCEPT_WORDS; i++) {
        for (bits = st->seen[i]; bits; bits &= bits - 1) {
            b = 64 * i + (int) ngx_llm_ctz(bits);
            w = ngx_llm_model_dense[NGX_LLM_F_CONCEPT + b];
            z += w;
            ngx_llm_top(res, NGX_LLM_F_CONCEPT + b, w);
        }
    }

    /* the words' weights, as if each term's value were 1 / sqrt(terms) */
    if (st->nterms) {
        res->words = ngx_llm_words_term(st);
        z += res->words;
        ngx_llm_top(res, NGX_LLM_F_WORDS, res->words);
    }

    res->score = 1.0 / (1.0 + exp(-z));
    res->cls = ngx_llm_classify_class(res->score, conf);
}


/* ngx_llm_classify_end()'s sum, in its order, without keeping its terms */

double
ngx_llm_classify_score(ngx_llm_classify_state_t *st,
    const ngx_llm_classify_hints_t *hints)
{
    int               i;
    double            z;
    uint64_t          bits;
    ngx_llm_values_t  x;

    ngx_llm_counted(st, hints, &x);

    z = ngx_llm_model_bias;

    for (i = 0; i < x.n; i++) {
        z += ngx_llm_model_dense[x.f[i]] * x.v[i];
    }

    for (i = 0; i < NGX_LLM_CONCEPT_WORDS; i++) {
        for (bits = st->seen[i]; bits; bits &= bits - 1) {
            z += ngx_llm_model_dense[NGX_LLM_F_CONCEPT + 64 * i
                                     + ngx_llm_ctz(bits)];
        }
    }

    if (st->nterms) {
        z += ngx_llm_words_term(st);
    }

    return 1.0 / (1.0 + exp(-z));
}


void
ngx_llm_classify_text(const unsigned char *p, size_t len,
    const ngx_llm_classify_conf_t *conf, ngx_llm_classify_result_t *res)
{
    ngx_llm_classify_state_t  st;

    ngx_llm_classify_begin(&st);
    ngx_llm_classify_turn(&st);
    ngx_llm_classify_feed(&st, p, len);
    ngx_llm_classify_end(&st, NULL, conf, res);
}


ngx_llm_class_e
ngx_llm_classify_class(double score, const ngx_llm_classify_conf_t *conf)
{
    if (score >= conf->complex_from) {
        return NGX_LLM_CLASS_COMPLEX;
    }

    if (score >= conf->simple_below) {
        return NGX_LLM_CLASS_MEDIUM;
    }

    return NGX_LLM_CLASS_SIMPLE;
}


const char *
ngx_llm_class_name(ngx_llm_class_e cls)
{
    return ngx_llm_class_names[cls];
}


const char *
ngx_llm_feature_name(int feature)
{
    if (feature < 0 || feature >= NGX_LLM_F_COUNT) {
        return "none";
    }

    if (feature == NGX_LLM_F_WORDS) {
        return "words";
    }

    if (feature >= NGX_LLM_F_CONCEPT) {
        ngx_llm_classify_init();
        return ngx_llm_concept_names[feature - NGX_LLM_F_CONCEPT];
    }

    return ngx_llm_feature_names[feature];
}


size_t
ngx_llm_classify_explain(const ngx_llm_classify_result_t *res, char *buf,
    size_t size)
{
    int     i, n;
    size_t  len;

    len = 0;

    if (size == 0) {
        return 0;
    }

    buf[0] = '\0';

    for (i = 0; i < res->ntop; i++) {
        n = snprintf(buf + len, size - len, "%s%s:%.2f", i ? "," : "",
                     ngx_llm_feature_name(res->top[i]),
                     res->top_contrib[i]);

        if (n < 0 || (size_t) n >= size - len) {
            buf[len] = '\0';
            break;
        }

        len += n;
    }

    return len;
}
