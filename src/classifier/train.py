#!/usr/bin/python3
"""Learns the classifier's weights and writes src/ngx_llm_classify_model.c.

    make classifier-model            (CORPUS=..., TRAIN_ARGS="--extra ...")
    /usr/bin/python3 src/classifier/train.py --corpus train.jsonl \\
        [--extra more.jsonl ...] [--out src/ngx_llm_classify_model.c] \\
        [--permissive-copy SOURCE=FILE ...]

The features are the router's own: build/llm-classify --features reads each
prompt with the C scanner the module runs and prints its feature values
(the dense ones and the buckets of its hashed words, word pairs and stems), so
what is learned here is exactly what nginx computes.

The model is a logistic regression, L2-regularised, fitted with L-BFGS
(numpy, scipy from Debian: python3-numpy python3-scipy).  Items are
trained on only when "permissive" is true; the others are held out and
only evaluated.  Validation is by source: each source's items are scored
by a model trained without that source (leave one source out), which is
how well the model does on a kind of prompt it has not seen.  A logistic
map fitted on those held-out scores (Platt) calibrates the final model,
trained on every permissive item, so that its score means "probability
that the big model is needed".  The word weights are stored as int16.

Deterministic: the same corpus gives a byte-identical file.
"""

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys

import numpy as np
from scipy.optimize import minimize
from scipy.sparse import csr_matrix

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(TOP, 'build', 'llm-classify')

def dense_names():
    """the dense features' names, in the scanner's order"""
    out = subprocess.run([CLI, '--feature-names'], check=True,
                         capture_output=True, text=True).stdout
    return out.split()


DENSE = dense_names()
BUCKETS = 1 << 15               # words and word pairs (NGX_LLM_BUCKETS)
STEMS = 1 << 13                 # stems: a word's first four letters, the
                                # sink's buckets from BUCKETS on

# what single-turn prompts cannot teach: the weights of the request's own
# hints, set by hand (x is 1 at 4096 max_tokens and at 6 turns)
PRIORS = {'max_tokens': 1.5, 'depth': 1.0}
WORD_UNIT = 1.0 / 4096          # an int16 word weight step


def md5(path):
    with open(path, 'rb') as f:
        return hashlib.md5(f.read()).hexdigest()


QUESTION_WORDS = set("""what who whom where when which how whose why is are do
    does did can could should would will quel quelle quels quelles qui quoi
    quand combien comment pourquoi ou est""".split())


def records(path):
    """the JSON objects of a JSON-lines file, blank lines skipped"""
    for line in open(path, encoding='utf-8'):
        if line.strip():
            yield json.loads(line)


def augmented(paths, tmp):
    """Copies, with a question mark, of the questions written without one.
    NQ-open's questions (simple) have none while the maths and reasoning
    problems (complex) end with one: without these copies the model would
    learn that a question mark means a hard prompt."""
    n = 0
    with open(tmp, 'w') as out:
        for path in paths:
            for it in records(path):
                p = it.get('prompt', '')
                p = p.strip() if isinstance(p, str) else ''
                words = p.lower().split()
                if (p and not p.endswith('?') and '\n' not in p
                        and words[0].strip('¿"\'') in QUESTION_WORDS):
                    it['id'] += ':q'
                    it['prompt'] = p + '?'
                    out.write(json.dumps(it, ensure_ascii=False) + '\n')
                    n += 1
    return n


def norm(text):
    return ' '.join(text.split())


def permissive_copies(paths, spec):
    """The ids of the items of SOURCE whose prompt is published word for
    word, under a permissive licence, in FILE: JSON lines in self-instruct's
    seed format ({"instruction", "instances": [{"input"}]}), an item being
    the instruction, or the instruction and an instance's input.  The
    corpus takes the Alpaca seed tasks from stanford_alpaca (CC BY-NC 4.0);
    their authors publish the same tasks in yizhongw/self-instruct under
    Apache-2.0."""
    source, _, path = spec.partition('=')
    if not source or not path:
        sys.exit('train.py: --permissive-copy wants SOURCE=FILE')
    published = set()
    for task in records(path):
        inst = task['instruction'].strip()
        published.add(norm(inst))
        for i in task.get('instances', []):
            if i.get('input', '').strip():
                published.add(norm(inst + '\n' + i['input']))
    ids, n = set(), 0
    for p in paths:
        for it in records(p):
            if it.get('source') != source:
                continue
            n += 1
            prompt = it.get('prompt')
            if isinstance(prompt, str) and norm(prompt) in published:
                ids.add(it['id'])
    print('%s: %d of %d items published permissively in %s' % (
        source, len(ids), n, os.path.basename(path)), file=sys.stderr)
    return ids


def features(paths):
    """the C scanner's feature values of every labelled item"""
    items = []
    for path in paths:
        out = subprocess.run([CLI, '--features', path], check=True,
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            it = json.loads(line)
            if it['label'] not in ('simple', 'complex'):
                continue
            if len(it['x']) != len(DENSE):
                sys.exit('train.py: the scanner has %d dense features, this '
                         'script knows %d' % (len(it['x']), len(DENSE)))
            it['path'] = path
            items.append(it)
    return items


def terms(it):
    """an item's word and pair buckets, and its stems' (0 to STEMS)"""
    b = it['b']
    return [k for k in b if k < BUCKETS], [k - BUCKETS for k in b
                                           if k >= BUCKETS]


def matrix(items):
    """rows: dense values, then each word or pair bucket's count, then
    each stem bucket's, all / sqrt(word and pair terms), as the C code sums
    them; stem bucket 0 is where a word under five letters goes there: it
    weighs nothing, so a stem that hashes to it has no column"""
    rows, cols, vals = [], [], []
    d = len(DENSE)
    for i, it in enumerate(items):
        for j, v in enumerate(it['x']):
            if v:
                rows.append(i)
                cols.append(j)
                vals.append(v)
        wb, sb = terms(it)
        for b, base in ((wb, d), (sb, d + BUCKETS)):
            if not b:
                continue
            s = 1.0 / math.sqrt(len(wb))
            counts = {}
            for k in b:
                counts[k] = counts.get(k, 0) + 1
            for k in sorted(counts):
                if base > d and k == 0:
                    continue
                rows.append(i)
                cols.append(base + k)
                vals.append(counts[k] * s)
    X = csr_matrix((vals, (rows, cols)),
                   shape=(len(items), d + BUCKETS + STEMS))
    y = np.array([1.0 if it['label'] == 'complex' else 0.0 for it in items])
    return X, y


def fit(X, y, lam, lam_dense, lam_stems, sw=None):
    """L2-regularised logistic regression (the bias is not penalised):
    lam on the word and pair weights, lam_dense on the dense features',
    lam_stems on the stems'"""
    n, d = X.shape
    lam = np.full(d, lam)
    lam[:len(DENSE)] = lam_dense
    lam[len(DENSE) + BUCKETS:] = lam_stems
    if sw is None:
        sw = np.ones(n)

    def f(wb):
        w, b = wb[:-1], wb[-1]
        z = X @ w + b
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        loss = sw @ (np.logaddexp(0, z) - y * z) + 0.5 * (lam * w) @ w
        g = X.T @ (sw * (p - y)) + lam * w
        return loss, np.append(g, sw @ (p - y))

    r = minimize(f, np.zeros(d + 1), jac=True, method='L-BFGS-B',
                 options={'maxiter': 2000, 'gtol': 1e-6})
    return r.x[:-1], r.x[-1]


def platt(z, y):
    """a, b so that sigmoid(a z + b) fits the labels"""
    def f(ab):
        a, b = ab
        t = a * z + b
        p = 0.5 * (1.0 + np.tanh(0.5 * t))
        loss = np.sum(np.logaddexp(0, t) - y * t)
        return loss, np.array([np.sum((p - y) * z), np.sum(p - y)])
    r = minimize(f, np.array([1.0, 0.0]), jac=True, method='L-BFGS-B')
    return r.x


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def auc(p, y):
    pos, neg = p[y == 1], p[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return None
    wins = 0.0
    for v in pos:
        wins += np.sum(v > neg) + 0.5 * np.sum(v == neg)
    return wins / (len(pos) * len(neg))


def figures(p, y):
    c, s = y == 1, y == 0
    a = auc(p, y)
    return {
        'items': int(len(y)),
        'auc': None if a is None else round(float(a), 3),
        'cx_hi': round(100 * float(np.mean(p[c] >= 0.7)), 1) if c.any() else None,
        'cx_low': round(100 * float(np.mean(p[c] < 0.3)), 1) if c.any() else None,
        'si_lo': round(100 * float(np.mean(p[s] < 0.3)), 1) if s.any() else None,
        'si_hi': round(100 * float(np.mean(p[s] >= 0.7)), 1) if s.any() else None,
    }


def fmt(name, f):
    def v(x, pct=True):
        if x is None:
            return '%8s' % '-'
        return ('%7.1f%%' % x) if pct else ('%6.3f' % x)
    return '%-20s %6d %s %s %s %s %s' % (
        name, f['items'], v(f['auc'], False) if f['auc'] is not None else '%6s' % '-',
        v(f['cx_hi']), v(f['cx_low']), v(f['si_lo']), v(f['si_hi']))


# English prompts in the proportions of the evaluation the classifier is
# judged on (150 complex, 138 simple; its kinds, from the corpus README: the
# sources the corpus took its items from, less the items found there): per
# kind, its count and the sources whose scores stand for it.  MT-Bench's
# first turns (maths, reasoning, code) have no item in the corpus: maths
# word problems, BIG-Bench Hard and Vicuna-bench's and CodeAlpaca's code
# requests stand for them, WizardLM's easy items for the instruction pools
MIX = [
    ('complex', 30, ['arenahard']),
    ('complex', 10, ['gsm8k-train', 'svamp-en']),
    ('complex', 10, ['bbh']),
    ('complex', 10, ['vicuna-bench', 'codealpaca']),
    ('complex', 25, ['wizardlm-hard']),
    ('complex', 20, ['humaneval']),
    ('complex', 20, ['mbpp']),
    ('complex', 25, ['gsm8k-train']),
    ('simple', 22, ['alpaca-seed']),
    ('simple', 19, ['selfinstruct-user']),
    ('simple', 12, ['alpaca-seed', 'selfinstruct-user']),
    ('simple', 28, ['hwu64']),
    ('simple', 28, ['ha-intents-en']),
    ('simple', 29, ['nq-open-effqa']),
]


def mixed(scores):
    """the figures of MIX, each kind weighted by its count; scores maps
    a source to its items' scores (None when a source is missing)"""
    kinds = []
    for label, n, srcs in MIX:
        p = [scores[s] for s in srcs if s in scores]
        if not p:
            return None
        kinds.append((label, n, np.concatenate(p)))
    cx = [(n, p) for label, n, p in kinds if label == 'complex']
    si = [(n, p) for label, n, p in kinds if label == 'simple']

    def share(group, test):
        return round(100 * sum(n * float(np.mean(test(p))) for n, p in group)
                     / sum(n for n, _ in group), 1)

    wins = total = 0.0
    for n, pos in cx:
        for m, neg in si:
            w = n * m / (len(pos) * len(neg))
            wins += w * (np.sum(pos[:, None] > neg[None, :])
                         + 0.5 * np.sum(pos[:, None] == neg[None, :]))
            total += n * m
    return {'items': sum(n for _, n, _ in MIX),
            'auc': round(float(wins / total), 3),
            'cx_hi': share(cx, lambda p: p >= 0.7),
            'cx_low': share(cx, lambda p: p < 0.3),
            'si_lo': share(si, lambda p: p < 0.3),
            'si_hi': share(si, lambda p: p >= 0.7)}


def by_language_and_source(p, y, lang, src):
    """a line of figures per language, then per source"""
    return ([fmt('language ' + L, figures(p[lang == L], y[lang == L]))
             for L in sorted(set(lang))]
            + [fmt('  ' + s, figures(p[src == s], y[src == s]))
               for s in sorted(set(src))])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--corpus', required=True)
    ap.add_argument('--extra', action='append', default=[])
    ap.add_argument('--out', default=os.path.join(TOP, 'src',
                                                  'ngx_llm_classify_model.c'))
    ap.add_argument('--lambda', dest='lam', type=float, default=0.5,
                    help='L2 weight of the word weights')
    ap.add_argument('--lambda-dense', dest='lam_dense', type=float,
                    default=0.5, help='L2 weight of the dense features')
    ap.add_argument('--lambda-stems', dest='lam_stems', type=float,
                    default=0.1, help='L2 weight of the stem weights')
    ap.add_argument('--simple-weight', type=float, default=1.0,
                    help='weight of a simple item against a complex one')
    ap.add_argument('--balance', type=float, default=0.0,
                    help='items of a source weigh (1/size)^BALANCE: 0 every '
                    'item alike, 1 every source alike')
    ap.add_argument('--weight', action='append', default=[],
                    metavar='SOURCE=W',
                    help='the items of SOURCE weigh W times as much (a kind '
                    'of prompt the others outnumber)')
    ap.add_argument('--permissive-copy', action='append', default=[],
                    metavar='SOURCE=FILE',
                    help='train on the items of SOURCE that FILE publishes '
                    'word for word under a permissive licence')
    args = ap.parse_args()

    paths = [args.corpus] + args.extra
    tmp = os.path.join(TOP, 'build', 'classifier-augmented.jsonl')
    os.makedirs(os.path.dirname(tmp), exist_ok=True)
    naug = augmented(paths, tmp)
    items = features(paths + [tmp])
    copies = set()
    for spec in args.permissive_copy:
        copies |= permissive_copies(paths, spec)
    for it in items:
        if it['id'].removesuffix(':q') in copies:
            it['permissive'] = True
    train = [it for it in items if it['permissive']]
    held = [it for it in items if not it['permissive']]
    X, y = matrix(train)
    sources = sorted(set(it['source'] for it in train))
    src = np.array([it['source'] for it in train])
    lang = np.array([it['lang'] for it in train])
    size = {s: int((src == s).sum()) for s in sources}
    sw = np.array([size[s] ** -args.balance for s in src])
    sw *= np.where(y == 1, 1.0, args.simple_weight)
    for spec in args.weight:
        name, _, v = spec.partition('=')
        if not name or not v:
            sys.exit('train.py: --weight wants SOURCE=W, not "%s"' % spec)
        if name not in size:
            print('train.py: no item of %s is trained on: --weight %s does '
                  'nothing' % (name, spec), file=sys.stderr)
        sw[src == name] *= float(v)
    sw *= len(sw) / sw.sum()

    # leave one source out: each source scored by a model that never saw it
    z_loso = np.zeros(len(train))
    for s in sources:
        out = src == s
        w, b = fit(X[~out], y[~out], args.lam, args.lam_dense,
                   args.lam_stems, sw[~out])
        z_loso[out] = X[out] @ w + b
        print('left out %-20s %4d items' % (s, int(out.sum())), file=sys.stderr)

    a, c = platt(z_loso, y)
    p_loso = sigmoid(a * z_loso + c)

    # five folds by item: each item scored by a model trained on the other
    # four fifths, its own source included, which is how well the model
    # does on new prompts of the kinds it was trained on; a copy with a
    # question mark stays in its original's fold
    def five_folds(salt):
        fold = np.array([int(hashlib.md5((salt + it['id'].removesuffix(':q'))
                                         .encode()).hexdigest(), 16) % 5
                         for it in train])
        z = np.zeros(len(train))
        for k in range(5):
            out = fold == k
            w, b = fit(X[~out], y[~out], args.lam, args.lam_dense,
                       args.lam_stems, sw[~out])
            z[out] = X[out] @ w + b
        return sigmoid(a * z + c)

    p_fold = five_folds('')

    # the shipped model: every permissive item, calibrated, quantised
    w, b = fit(X, y, args.lam, args.lam_dense, args.lam_stems, sw)
    w = a * w
    b = a * b + c
    d = len(DENSE)
    for name, v in PRIORS.items():
        col = X[:, DENSE.index(name)]
        if col.nnz == 0:
            w[DENSE.index(name)] = v
    dense = [float('%.9g' % v) for v in w[:d]]
    q = np.clip(np.rint(w[d:] / WORD_UNIT), -32767, 32767).astype(np.int64)
    words, stems = q[:BUCKETS], q[BUCKETS:]
    assert stems[0] == 0      # a word under five letters: no stem
    bias = float('%.9g' % b)

    def word_terms(rows):
        """each row's words' term (words, pairs and stems), computed as
        the C code does"""
        out = []
        for it in rows:
            wb, sb = terms(it)
            out.append((int(words[wb].sum()) + int(stems[sb].sum()))
                       * WORD_UNIT / math.sqrt(len(wb)) if wb else 0.0)
        return np.array(out)

    # the words' term stays within its range on the items trained on: a
    # text unlike them (a pasted log, a long list) repeats words the model
    # never saw repeated so, and the sum would run far past anything the
    # weights were fitted on
    t = word_terms(train)
    words_min, words_max = float(min(t.min(), 0.0)), float(max(t.max(), 0.0))

    def shipped(rows):
        Xr, yr = matrix(rows)
        z = (Xr[:, :d] @ np.array(dense)
             + np.clip(word_terms(rows), words_min, words_max) + bias)
        return sigmoid(z), yr

    R = ['leave one source out (each source scored by a model trained '
         'without it), calibrated:']
    R.append(fmt('', {'items': 0, 'auc': None, 'cx_hi': None, 'cx_low': None,
                      'si_lo': None, 'si_hi': None})
             .replace('     0      -        -        -        -        -',
                      ' items    AUC  cx>=0.7   cx<0.3   si<0.3  si>=0.7'))
    real = np.array([not it['id'].endswith(':q') for it in train])
    lines = by_language_and_source(p_loso[real], y[real], lang[real],
                                   src[real])
    # Arena-Hard v2.0's and Arena-Bench v1's hard prompts, added for their
    # kind, are mostly easy positives that raise the pooled figure: the
    # line without them, after the English one, is the one to compare with
    # a model trained without them
    added = np.isin(src, ['arenahard-v2', 'arena-bench-v1'])
    if added.any():
        m = real & (lang == 'en') & ~added
        lines.insert(1, fmt('en w/o Arena v2, b1', figures(p_loso[m], y[m])))
    R += lines

    R.append('')
    R.append('five folds by item (each item scored by a model trained on the '
             'others, its source included), calibrated:')
    R += by_language_and_source(p_fold[real], y[real], lang[real], src[real])

    R.append('')
    R.append('the shipped model on the items it was not trained on '
             '("permissive": false):')
    held = [it for it in held if not it['id'].endswith(':q')]
    if held:
        ph, yh = shipped(held)
        R += by_language_and_source(ph, yh,
                                    np.array([it['lang'] for it in held]),
                                    np.array([it['source'] for it in held]))

    # new items of known sources in the evaluation's proportions: five-fold
    # scores, and the shipped model's where a source is not trained on
    # (a kind has a few dozen items: one is a point or more, so the split
    # into folds moves these figures; three more splits, and the mean)
    def mix_of(p):
        scores = {s: p[real & (src == s)] for s in sources}
        if held:
            hs = np.array([it['source'] for it in held])
            scores.update({s: ph[hs == s] for s in set(hs) if s not in scores})
        return mixed(scores)

    m = mix_of(p_fold)
    if m:
        ms = [m] + [mix_of(five_folds(salt)) for salt in ('a', 'b', 'c')]
        mean = {k: (round(float(np.mean([x[k] for x in ms])),
                          3 if k == 'auc' else 1) if k != 'items' else m[k])
                for k in m}
        R.append('')
        R.append('English in the proportions of the evaluation (five folds, '
                 'and the items not trained on):')
        R.append(fmt('  weighted mix', m))
        for salt, x in zip('abc', ms[1:]):
            R.append(fmt('  folds split "%s"' % salt, x))
        R.append(fmt('  mean of the four', mean))

    # the figures llm-classify --eval reproduces (t/run-tests.sh checks)
    # over the files make test has: the corpus and the project's own
    checked = [args.corpus] + [p for p in args.extra if os.path.abspath(p)
                               .startswith(os.path.join(TOP, 'src') + os.sep)]
    orig = [it for it in items
            if not it['id'].endswith(':q') and it['path'] in checked]
    pa, ya = shipped(orig)
    al = np.array([it['lang'] for it in orig])
    check = []
    for L in sorted(set(al)):
        f = figures(pa[al == L], ya[al == L])
        check.append('%s %d %.3f %.1f %.1f %.1f %.1f' % (
            L, f['items'], f['auc'], f['cx_hi'], f['cx_low'], f['si_lo'],
            f['si_hi']))

    sums = ', '.join('%s md5 %s' % (os.path.basename(p), md5(p)) for p in
                     paths + [c.partition('=')[2] for c in args.permissive_copy])
    head = [
        '',
        '/*',
        ' * GENERATED by src/classifier/train.py ("make classifier-model"):',
        ' * do not edit.  The weights of the complexity classifier, learned',
        ' * from labelled public prompts (see README, "The classifier").',
        ' *',
        ' * corpus: ' + sums,
        ' * trained on: %d items marked "permissive" (with %d copies of'
        ' questions' % (len(train), naug),
        ' * written without a question mark given one): %s' % (
            ', '.join('%s %d' % (L, int((lang == L).sum()))
                      for L in sorted(set(lang)))),
        ' * model: logistic regression, L2 lambda %g (words), %g (stems),'
        ' %g (dense),' % (args.lam, args.lam_stems, args.lam_dense),
        ' * items weighted: %s;' % (', '.join(args.weight) or 'all alike'),
        ' * L-BFGS; %d dense features,' % d,
        ' * %d buckets of hashed words and word pairs, %d of hashed stems'
        % (BUCKETS, STEMS),
        ' * (a word\'s first four letters), int16, unit 1/4096, their sum'
        ' divided',
        ' * by the square root of the words\' and pairs\' terms;',
        ' * set by hand (no prompt in the corpus has them): %s;' % ', '.join(
            '%s %g' % kv for kv in sorted(PRIORS.items())),
        ' * calibrated by a logistic map fitted on leave-one-source-out scores:',
        ' * a %.6f, b %.6f; the words\' term kept within %.4f to %.4f, its' % (
            a, c, words_min, words_max),
        ' * range on the items trained on.',
        ' *',
    ]
    head += [(' * ' + line).rstrip() for line in R]
    head += [' *', ' * llm-classify --eval on the whole corpus (check: language items'
             ' AUC cx>=0.7 cx<0.3 si<0.3 si>=0.7):']
    head += [' *   check ' + line for line in check]
    head += [' */', '', '', '#include "ngx_llm_classify_model.h"', '', '']

    body = ['const double   ngx_llm_model_bias = %.9g;' % bias, '',
            'const double   ngx_llm_model_dense[NGX_LLM_F_DENSE] = {']
    for name, v in zip(DENSE, dense):
        body.append('    %.9g,%s/* %s */' % (v, ' ' * max(1, 20 - len('%.9g' % v)),
                                            name))
    body += ['};', '',
             'const double   ngx_llm_model_words_scale = 1.0 / 4096;',
             'const double   ngx_llm_model_words_min = %r;' % words_min,
             'const double   ngx_llm_model_words_max = %r;' % words_max, '',
             'const int16_t  ngx_llm_model_words[NGX_LLM_BUCKETS] = {']
    for i in range(0, BUCKETS, 12):
        body.append('    ' + ', '.join('%d' % v for v in words[i:i + 12]) + ',')
    body += ['};', '',
             'const int16_t  ngx_llm_model_stems[NGX_LLM_STEMS] = {']
    for i in range(0, STEMS, 12):
        body.append('    ' + ', '.join('%d' % v for v in stems[i:i + 12]) + ',')
    body += ['};', '']

    with open(args.out + '.tmp', 'w') as f:
        f.write('\n'.join(head + body))
    os.replace(args.out + '.tmp', args.out)

    print('\n'.join(R))
    print('\nwrote %s' % os.path.relpath(args.out, TOP))


if __name__ == '__main__':
    main()
