
/*
 * Copyright (C) ngx_llm_router authors
 *
 * Prompt complexity classifier.
 *
 * One pass over the text feeds counters: words, lines that look like code,
 * fenced blocks, and keyword concepts in English and French (accents
 * folded).  A word is looked up by its first six letters packed into an
 * integer, so each word costs one hash probe.  At the end the counters are
 * turned into per-feature contributions whose sum s gives the score
 * 1 - e^-s, so that contributions add up and the score stays in [0, 1).
 */


#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ngx_llm_classify.h"


#define NGX_LLM_KEY_LEN       6
#define NGX_LLM_TABLE_SIZE    1024
#define NGX_LLM_MAX_CONCEPTS  (NGX_LLM_CONCEPT_WORDS * 64)

/* pseudo-categories, beyond the scored features */
#define NGX_LLM_C_UNIT        (NGX_LLM_F_COUNT + 0)
#define NGX_LLM_C_SEQUENCE    (NGX_LLM_F_COUNT + 1)


typedef struct {
    int                 category;
    const char         *words;           /* space separated, folded */
} ngx_llm_concept_t;


typedef struct {
    uint64_t            key;
    uint16_t            concept;
    uint8_t             category;
    uint8_t             used;
} ngx_llm_slot_t;


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


static const ngx_llm_concept_t  ngx_llm_concepts[] = {

    /* reasoning, analysis, design: the strongest sign of a hard prompt */
    { NGX_LLM_F_REASONING, "analyze analyse analysis analyzing analysing" },
    { NGX_LLM_F_REASONING, "compare comparison comparer comparez" },
    { NGX_LLM_F_REASONING, "justify justification justifie justifiez" },
    { NGX_LLM_F_REASONING, "evaluate evaluation evalue evaluer assess" },
    { NGX_LLM_F_REASONING, "critique criticize critical" },
    { NGX_LLM_F_REASONING, "derive derivation derives derived" },
    { NGX_LLM_F_REASONING, "prove proves proved proven proving proof proofs"
                           " prouve prouver preuve demonstrate demontre" },
    { NGX_LLM_F_REASONING, "design designing concevoir concois conception"
                           " architect architecture" },
    { NGX_LLM_F_REASONING, "optimize optimise optimisation optimal" },
    { NGX_LLM_F_REASONING, "tradeoff trade tradeoffs compromis compromise" },
    { NGX_LLM_F_REASONING, "implications consequences" },
    { NGX_LLM_F_REASONING, "recommend recommande recommandation" },
    { NGX_LLM_F_REASONING, "argue argument argumentee argumente" },
    { NGX_LLM_F_REASONING, "investigate diagnose diagnostic troubleshoot" },
    { NGX_LLM_F_REASONING, "identify identifie identifier" },
    { NGX_LLM_F_REASONING, "step steps etape etapes" },
    { NGX_LLM_F_REASONING, "why pourquoi" },
    { NGX_LLM_F_REASONING, "plan plans planning planifie strategy strategie"
                           " roadmap" },
    { NGX_LLM_F_REASONING, "risk risks risque risques mitigate" },
    { NGX_LLM_F_REASONING, "discuss discussion discute discuter" },
    { NGX_LLM_F_REASONING, "implement implementation implemente" },
    { NGX_LLM_F_REASONING, "refactor refactoring" },
    { NGX_LLM_F_REASONING, "debug debugging debogue" },
    { NGX_LLM_F_REASONING, "review reviewing revue" },
    { NGX_LLM_F_REASONING, "fix fixes corrige corriger correct corrected" },
    { NGX_LLM_F_REASONING, "validate validation valider valide" },
    { NGX_LLM_F_REASONING, "reasoning reason raisonnement" },
    { NGX_LLM_F_REASONING, "solve solves solving resoudre" },
    { NGX_LLM_F_REASONING, "estimate estimation" },

    /* a generation or explanation task: medium on its own */
    { NGX_LLM_F_TASK, "write writes writing ecris ecrire ecrivez redige"
                      " draft compose" },
    { NGX_LLM_F_TASK, "explain explanation explique expliquer" },
    { NGX_LLM_F_TASK, "summarize summarise summary resume resumer" },
    { NGX_LLM_F_TASK, "describe description decris decrire" },
    { NGX_LLM_F_TASK, "propose proposal suggest suggestion" },
    { NGX_LLM_F_TASK, "difference differences differ" },
    { NGX_LLM_F_TASK, "outline illustrate" },

    /* technical vocabulary */
    { NGX_LLM_F_TECHNICAL, "algorithm algorithme" },
    { NGX_LLM_F_TECHNICAL, "complexity complexite" },
    { NGX_LLM_F_TECHNICAL, "memory memoire" },
    { NGX_LLM_F_TECHNICAL, "thread threads" },
    { NGX_LLM_F_TECHNICAL, "race races deadlock" },
    { NGX_LLM_F_TECHNICAL, "lock locks mutex" },
    { NGX_LLM_F_TECHNICAL, "atomic atomics atomique" },
    { NGX_LLM_F_TECHNICAL, "concurrency concurrent" },
    { NGX_LLM_F_TECHNICAL, "schema schemas" },
    { NGX_LLM_F_TECHNICAL, "index indexes indices" },
    { NGX_LLM_F_TECHNICAL, "migration migrate migrations" },
    { NGX_LLM_F_TECHNICAL, "database databases sql" },
    { NGX_LLM_F_TECHNICAL, "tenant tenants" },
    { NGX_LLM_F_TECHNICAL, "latency latence" },
    { NGX_LLM_F_TECHNICAL, "replicated replication replica" },
    { NGX_LLM_F_TECHNICAL, "consensus leader" },
    { NGX_LLM_F_TECHNICAL, "cache caching buffer" },
    { NGX_LLM_F_TECHNICAL, "pointer pointeur malloc" },
    { NGX_LLM_F_TECHNICAL, "async asynchronous promise promesse goroutine" },
    { NGX_LLM_F_TECHNICAL, "stack trace" },
    { NGX_LLM_F_TECHNICAL, "kubernetes docker deploy deployment deploiement" },
    { NGX_LLM_F_TECHNICAL, "microservices monolith monolithe" },
    { NGX_LLM_F_TECHNICAL, "transformer attention gradient" },
    { NGX_LLM_F_TECHNICAL, "protocol tcp udp http" },
    { NGX_LLM_F_TECHNICAL, "hash json yaml api" },
    { NGX_LLM_F_TECHNICAL, "recursion recursive recursif" },
    { NGX_LLM_F_TECHNICAL, "python javascript golang rust java" },
    { NGX_LLM_F_TECHNICAL, "function functions fonction" },
    { NGX_LLM_F_TECHNICAL, "compiler kernel syscall regex" },
    { NGX_LLM_F_TECHNICAL, "network server serveur client" },
    { NGX_LLM_F_TECHNICAL, "encryption crypto cryptographic" },
    { NGX_LLM_F_TECHNICAL, "process processus" },
    { NGX_LLM_F_TECHNICAL, "scalability performance throughput bottleneck" },
    { NGX_LLM_F_TECHNICAL, "queue sharding cluster" },
    { NGX_LLM_F_TECHNICAL, "bigo" },

    /* mathematics */
    { NGX_LLM_F_MATH, "theorem theoreme lemma lemme" },
    { NGX_LLM_F_MATH, "integral integrale" },
    { NGX_LLM_F_MATH, "derivative" },
    { NGX_LLM_F_MATH, "equation equations" },
    { NGX_LLM_F_MATH, "induction inductive" },
    { NGX_LLM_F_MATH, "irrational irrationnelle" },
    { NGX_LLM_F_MATH, "fibonacci golden ratio" },
    { NGX_LLM_F_MATH, "probability probabilite statistics statistique" },
    { NGX_LLM_F_MATH, "polynomial logarithm exponential" },
    { NGX_LLM_F_MATH, "calculus algebra geometry geometrie" },
    { NGX_LLM_F_MATH, "vector vecteur matrix matrice" },
    { NGX_LLM_F_MATH, "prime primes modulo" },
    { NGX_LLM_F_MATH, "racine carree puissance" },
    { NGX_LLM_F_MATH, "integer entier" },
    { NGX_LLM_F_MATH, "quadratic infinite infini" },

    /* asks for a long answer */
    { NGX_LLM_F_OUTPUT, "detailed detail details detaille" },
    { NGX_LLM_F_OUTPUT, "thorough thoroughly exhaustive exhaustif" },
    { NGX_LLM_F_OUTPUT, "essay essai article" },
    { NGX_LLM_F_OUTPUT, "report rapport" },
    { NGX_LLM_F_OUTPUT, "blog tutorial tutoriel" },
    { NGX_LLM_F_OUTPUT, "depth elaborate extensive" },
    { NGX_LLM_F_OUTPUT, "chapter chapitre" },

    /* constraints on the answer */
    { NGX_LLM_F_CONSTRAINTS, "without sans" },
    { NGX_LLM_F_CONSTRAINTS, "must doit doivent" },
    { NGX_LLM_F_CONSTRAINTS, "only seulement uniquement" },
    { NGX_LLM_F_CONSTRAINTS, "exactly exactement" },
    { NGX_LLM_F_CONSTRAINTS, "each every chaque" },
    { NGX_LLM_F_CONSTRAINTS, "ensure ensuring garantir guarantee" },
    { NGX_LLM_F_CONSTRAINTS, "never jamais" },
    { NGX_LLM_F_CONSTRAINTS, "least within" },
    { NGX_LLM_F_CONSTRAINTS, "constraint constraints contrainte" },
    { NGX_LLM_F_CONSTRAINTS, "require requires requirement" },
    { NGX_LLM_F_CONSTRAINTS, "avoid eviter" },

    /* small talk and home commands */
    { NGX_LLM_F_SMALLTALK, "hello hi hey bonjour salut bonsoir" },
    { NGX_LLM_F_SMALLTALK, "thanks thank merci" },
    { NGX_LLM_F_SMALLTALK, "bye goodbye" },
    { NGX_LLM_F_SMALLTALK, "joke jokes blague" },
    { NGX_LLM_F_SMALLTALK, "light lights lumiere lumieres lamp" },
    { NGX_LLM_F_SMALLTALK, "music musique song" },
    { NGX_LLM_F_SMALLTALK, "remind reminder rappelle rappel" },
    { NGX_LLM_F_SMALLTALK, "timer alarm alarme" },
    { NGX_LLM_F_SMALLTALK, "weather meteo" },

    /* asks for a short answer */
    { NGX_LLM_F_BREVITY, "short brief briefly bref breve" },
    { NGX_LLM_F_BREVITY, "court courte quick quickly" },
    { NGX_LLM_F_BREVITY, "liner concise concis tldr" },

    /* units after a number: "1500-word", "10 pages" */
    { NGX_LLM_C_UNIT, "word words mots" },
    { NGX_LLM_C_UNIT, "page pages" },
    { NGX_LLM_C_UNIT, "lines lignes paragraphs paragraphes" },

    /* more than one ask in a row */
    { NGX_LLM_C_SEQUENCE, "then puis ensuite finally enfin afterwards" },
    { NGX_LLM_C_SEQUENCE, "include including inclure inclus" },

    { 0, NULL }
};


static const char  *ngx_llm_feature_names[NGX_LLM_F_COUNT] = {
    "length",
    "code",
    "reasoning",
    "task",
    "asks",
    "math",
    "technical",
    "output",
    "constraints",
    "depth",
    "smalltalk",
    "brevity"
};


static const char  *ngx_llm_class_names[] = {
    "simple",
    "medium",
    "complex"
};


/* Latin-1 supplement letters (second byte of U+00C0..U+00FF), folded */
static const char  ngx_llm_fold_c3[64] =
    "aaaaaaaceeeeiiiidnooooo\0ouuuuyts"
    "aaaaaaaceeeeiiiidnooooo\0ouuuuyty";


static ngx_llm_slot_t  ngx_llm_table[NGX_LLM_TABLE_SIZE];
static unsigned char   ngx_llm_ctab[256];
static int             ngx_llm_ready;


static uint32_t
ngx_llm_hash(uint64_t key)
{
    return (uint32_t) ((key * 0x9e3779b97f4a7c15ULL) >> 54);
}


static void
ngx_llm_table_add(uint64_t key, int concept, int category)
{
    uint32_t  i;

    for (i = ngx_llm_hash(key); ; i = (i + 1) % NGX_LLM_TABLE_SIZE) {

        if (!ngx_llm_table[i].used) {
            ngx_llm_table[i].key = key;
            ngx_llm_table[i].concept = (uint16_t) concept;
            ngx_llm_table[i].category = (uint8_t) category;
            ngx_llm_table[i].used = 1;
            return;
        }

        if (ngx_llm_table[i].key == key) {
            /* first listing wins */
            return;
        }
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

    for (c = 0; ngx_llm_concepts[c].words != NULL; c++) {

        w = ngx_llm_concepts[c].words;

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
                ngx_llm_table_add(key, c, ngx_llm_concepts[c].category);
            }
        }
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
}


void
ngx_llm_classify_turn(ngx_llm_classify_state_t *st)
{
    st->turns++;
}


static void
ngx_llm_word_end(ngx_llm_classify_state_t *st)
{
    uint32_t         i;
    ngx_llm_slot_t  *s;

    if (!st->in_word) {
        return;
    }

    st->in_word = 0;
    st->words++;

    if (st->in_number) {
        st->in_number = 0;
        st->number_near = 2;
        return;
    }

    if (st->number_near) {
        st->number_near--;
    }

    if (st->nomatch || st->wlen == 0) {
        return;
    }

    for (i = ngx_llm_hash(st->key); ; i = (i + 1) % NGX_LLM_TABLE_SIZE) {

        s = &ngx_llm_table[i];

        if (!s->used) {
            return;
        }

        if (s->key == st->key) {
            break;
        }
    }

    if (s->category == NGX_LLM_C_UNIT) {
        if (st->number_near
            && ((s->key & 0xff) == 'p' ? st->last_number >= 2
                : (s->key & 0xff) == 'l' ? st->last_number >= 100
                : st->last_number >= 300))
        {
            st->big_output++;
        }

        return;
    }

    if (s->category == NGX_LLM_C_SEQUENCE) {
        st->sequencers++;
        return;
    }

    if (st->seen[s->concept >> 6] & (1ULL << (s->concept & 63))) {
        return;
    }

    st->seen[s->concept >> 6] |= 1ULL << (s->concept & 63);
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
    }

    if (st->wlen < NGX_LLM_KEY_LEN) {
        st->key |= (uint64_t) c << (8 * st->wlen);
    }

    st->wlen++;
}


static void
ngx_llm_line_end(ngx_llm_classify_state_t *st)
{
    unsigned char  c;

    if (st->line_chars > 0) {
        c = st->line_last;

        if (st->in_fence
            || (st->indent >= 2 && st->line_syms > 0)
            || c == ';' || c == '{' || c == '}'
            || st->line_syms >= 4)
        {
            st->code_lines++;
        }
    }

    st->line_start = 1;
    st->indent = 0;
    st->line_syms = 0;
    st->line_chars = 0;
    st->backticks = 0;
}


void
ngx_llm_classify_feed(ngx_llm_classify_state_t *st, const unsigned char *p,
    size_t len)
{
    uint64_t              key;
    uint32_t              wlen;
    unsigned char         c, f;
    const unsigned char  *end;

    end = p + len;
    st->bytes += len;

    while (p < end) {

        c = *p++;

        switch (ngx_llm_ctab[c]) {

        case C_BACKTICK:
            /* a run of three backticks opens or closes a fenced block */
            if (++st->backticks == 3) {
                st->backticks = 0;
                st->in_fence = !st->in_fence;
                st->fences++;

            } else if (p == end || *p != '`') {
                if (st->backticks == 1) {
                    st->inline_code++;
                }

                st->backticks = 0;
            }

            ngx_llm_word_end(st);
            break;

        case C_LETTER:
            if (st->in_number) {
                /* "1500x" is no number and no keyword */
                st->in_number = 0;
                st->nomatch = 1;
            }

            ngx_llm_word_char(st, c | 0x20);

            /* the hot loop: a run of ASCII letters */
            key = st->key;
            wlen = st->wlen;

            while (p < end && ngx_llm_ctab[*p] == C_LETTER) {
                c = *p++;

                if (++wlen <= NGX_LLM_KEY_LEN) {
                    key |= (uint64_t) (c | 0x20) << (8 * (wlen - 1));
                }
            }

            st->key = key;
            st->wlen = wlen;
            break;

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
            ngx_llm_word_char(st, c);
            st->nomatch = 1;
            break;

        case C_UTF8_LATIN:
            if (p < end && (*p & 0xc0) == 0x80) {
                f = (unsigned char) ngx_llm_fold_c3[*p & 0x3f];
                p++;

                if (f) {
                    ngx_llm_word_char(st, f);
                    break;
                }
            }

            ngx_llm_word_end(st);
            break;

        case C_UTF8_PUNCT:
            /* U+0080..U+00BF and U+2000..U+2FFF: quotes, dashes, spaces */
            while (p < end && (*p & 0xc0) == 0x80) {
                p++;
            }

            ngx_llm_word_end(st);
            break;

        case C_UTF8_OTHER:
            ngx_llm_word_char(st, c);
            st->nomatch = 1;
            break;

        case C_UTF8_CONT:
            if (st->in_word) {
                st->nomatch = 1;
            }

            break;

        case C_SPACE:
            ngx_llm_word_end(st);

            if (st->line_start) {
                st->indent += (c == '\t') ? 4 : 1;
            }

            continue;

        case C_NEWLINE:
            ngx_llm_word_end(st);
            ngx_llm_line_end(st);
            continue;

        case C_QUESTION:
            st->questions++;
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
            ngx_llm_word_end(st);
            break;

        default: /* C_STOP, C_BREAK */
            ngx_llm_word_end(st);
            break;
        }

        st->line_start = 0;
        st->line_chars++;
        st->line_last = c;
    }
}


static double
ngx_llm_ladder(uint32_t hits, double first, double next, double cap)
{
    double  v;

    if (hits == 0) {
        return 0;
    }

    v = first + next * (hits - 1);

    return v < cap ? v : cap;
}


static double
ngx_llm_min(double a, double b)
{
    return a < b ? a : b;
}


void
ngx_llm_classify_end(ngx_llm_classify_state_t *st,
    const ngx_llm_classify_hints_t *hints,
    const ngx_llm_classify_conf_t *conf, ngx_llm_classify_result_t *res)
{
    int        i, j, k;
    double     s, *c;
    uint32_t   blocks, verbs;

    ngx_llm_word_end(st);
    ngx_llm_line_end(st);

    memset(res, 0, sizeof(ngx_llm_classify_result_t));
    c = res->contrib;

    c[NGX_LLM_F_LENGTH] = 0.1 * log2(1.0 + st->words / 4.0);

    blocks = (st->fences + 1) / 2;
    c[NGX_LLM_F_CODE] = ngx_llm_min(0.5 * blocks, 0.6)
                        + ngx_llm_min(0.06 * st->code_lines, 0.6)
                        + ngx_llm_min(0.05 * st->inline_code, 0.15);

    c[NGX_LLM_F_REASONING] = ngx_llm_ladder(st->cat_hits[NGX_LLM_F_REASONING],
                                            0.55, 0.35, 1.6);
    c[NGX_LLM_F_TASK] = ngx_llm_ladder(st->cat_hits[NGX_LLM_F_TASK],
                                       0.35, 0.2, 0.8);

    verbs = st->cat_hits[NGX_LLM_F_REASONING] + st->cat_hits[NGX_LLM_F_TASK];
    c[NGX_LLM_F_ASKS] = ngx_llm_min(0.12 * (verbs > 2 ? verbs - 2 : 0)
                                    + 0.1 * st->sequencers
                                    + 0.1 * (st->questions > 1
                                             ? st->questions - 1 : 0),
                                    0.5);

    c[NGX_LLM_F_MATH] = ngx_llm_ladder(st->cat_hits[NGX_LLM_F_MATH],
                                       0.3, 0.2, 0.9)
                        + ngx_llm_min(0.02 * st->math_ops, 0.2);

    c[NGX_LLM_F_TECHNICAL] = ngx_llm_min(0.1
                                       * st->cat_hits[NGX_LLM_F_TECHNICAL],
                                       0.5);

    c[NGX_LLM_F_OUTPUT] = ngx_llm_min(0.3 * st->cat_hits[NGX_LLM_F_OUTPUT]
                                      + 0.6 * st->big_output, 0.9);

    if (hints != NULL && hints->max_tokens >= 1024) {
        c[NGX_LLM_F_OUTPUT] += hints->max_tokens >= 4096 ? 0.5 : 0.3;
    }

    c[NGX_LLM_F_CONSTRAINTS] = ngx_llm_min(0.12
                                     * st->cat_hits[NGX_LLM_F_CONSTRAINTS],
                                     0.4);

    c[NGX_LLM_F_DEPTH] = ngx_llm_min(0.1 * (st->turns > 1 ? st->turns - 1 : 0),
                                     0.5);

    c[NGX_LLM_F_SMALLTALK] = -ngx_llm_min(0.3
                                          * st->cat_hits[NGX_LLM_F_SMALLTALK],
                                          0.6);
    c[NGX_LLM_F_BREVITY] = -ngx_llm_min(0.15
                                        * st->cat_hits[NGX_LLM_F_BREVITY],
                                        0.3);

    s = 0;

    for (i = 0; i < NGX_LLM_F_COUNT; i++) {
        s += c[i];
    }

    res->score = s > 0 ? 1.0 - exp(-s) : 0;
    res->cls = ngx_llm_classify_class(res->score, conf);

    /* the largest positive contributions, largest first */
    for (i = 0; i < NGX_LLM_F_COUNT; i++) {

        if (c[i] <= 0) {
            continue;
        }

        for (j = 0; j < res->ntop; j++) {
            if (c[i] > c[res->top[j]]) {
                break;
            }
        }

        if (j == NGX_LLM_TOP_FEATURES) {
            continue;
        }

        k = res->ntop < NGX_LLM_TOP_FEATURES ? res->ntop : res->ntop - 1;

        for ( /* void */ ; k > j; k--) {
            res->top[k] = res->top[k - 1];
        }

        res->top[j] = i;

        if (res->ntop < NGX_LLM_TOP_FEATURES) {
            res->ntop++;
        }
    }
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
                     ngx_llm_feature_names[res->top[i]],
                     res->contrib[res->top[i]]);

        if (n < 0 || (size_t) n >= size - len) {
            buf[len] = '\0';
            break;
        }

        len += n;
    }

    return len;
}
