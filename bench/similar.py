#!/usr/bin/python3
"""The near-duplicate test (src/ngx_llm_similar.c) on labelled pairs, to
choose its default threshold; writes bench/results/SIMILAR.md.

    /usr/bin/python3 bench/similar.py [--seed N] [--out FILE]

Pairs, three groups:

- public: the Microsoft Research Paraphrase Corpus test split (1725 pairs
  of news sentences, labelled paraphrase or not).  Its text stays outside
  the repository: PARAPHRASE_DATA names its folder (default
  ../data/paraphrase beside the checkout, msr_paraphrase_test.txt in it);
  absent, the group is skipped with a message;
- retypings, generated here from assistant commands and questions
  (English and French): typos, case, punctuation, word order, politeness
  and fillers, contractions, accents, numbers in digits or words; each
  should hit;
- hard negatives, generated from the same templates: another number,
  the other polarity (on/off, open/close...) or a negation, another city,
  name, room, object; with retyping noise on top half of the time; none
  should hit.

For each threshold: hit rate (retypings, public paraphrases) and wrong-hit
rate (hard negatives, public non-paraphrases), with the hard rules and
with the similarity alone (what a plain threshold cache would do).  The
default is the lowest threshold whose wrong-hit rate on the hard
negatives is at most 0.5 %.  Then the cost of make and compare.
"""

import os
import random
import re
import subprocess
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, 'build')
TOOL = os.path.join(BUILD, 'similar-bench')
DATA = os.environ.get('PARAPHRASE_DATA',
                      os.path.join(os.path.dirname(ROOT), 'data', 'paraphrase'))
MRPC = os.path.join(DATA, 'msr_paraphrase_test.txt')
THRESHOLDS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
WRONG_MAX = 0.005
MARGIN = 0.005

SEED = 16
OUT = os.path.join(ROOT, 'bench', 'results', 'SIMILAR.md')
for a in sys.argv[1:]:
    if a.startswith('--seed='):
        SEED = int(a.split('=', 1)[1])
    elif a.startswith('--out='):
        OUT = a.split('=', 1)[1]

# --- templates --------------------------------------------------------------
#
# " | " separates chunks that may be said in another order; {slot}s are
# filled from the lists below.  kind "cmd" takes "please/could you",
# "q" takes "can you tell me"; "neg" says where a negation can go.

SLOTS = {
    'num': ['2', '3', '5', '7', '10', '12', '15', '20', '25', '30', '45', '50',
            '90', '100'],
    'city': ['Paris', 'Lyon', 'London', 'Berlin', 'Madrid', 'Rome', 'Tokyo',
             'New York', 'Boston', 'Austin', 'Marseille', 'Nice', 'Lille',
             'Toulouse', 'Bordeaux', 'Geneva', 'Montreal', 'Dublin'],
    'name': ['Alice', 'Bob', 'Mom', 'Dad', 'Julie', 'Marc', 'Sophie', 'Paul',
             'Emma', 'Lucas', 'Chloe', 'Thomas', 'Sarah', 'David'],
    'room': ['kitchen', 'bedroom', 'living room', 'bathroom', 'garage',
             'office', 'hallway', 'garden'],
    'piece': ['cuisine', 'chambre', 'salon', 'salle de bain', 'garage',
              'bureau', 'couloir', 'jardin'],
    'genre': ['jazz', 'rock', 'classical music', 'hip hop', 'reggae',
              'metal', 'blues', 'techno'],
    'thing': ['milk', 'eggs', 'bread', 'coffee', 'butter', 'apples',
              'rice', 'cheese'],
    'chose': ['lait', 'oeufs', 'pain', 'café', 'beurre', 'pommes', 'riz',
              'fromage'],
    'day': ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday',
            'Saturday', 'Sunday', 'tomorrow'],
    'jour': ['lundi', 'mardi', 'mercredi', 'jeudi', 'vendredi', 'samedi',
             'dimanche', 'demain'],
    'lang': ['French', 'Spanish', 'German', 'Italian', 'Japanese',
             'Portuguese'],
    'device': ['light', 'lamp', 'fan', 'heater', 'TV', 'radio'],
    'appareil': ['lumière', 'lampe', 'ventilateur', 'chauffage', 'télé',
                 'radio'],
}

# polarity pairs: {on} takes one side, a hard negative the other
POLAR = {
    'on': [('on', 'off')],
    'open': [('open', 'close')],
    'start': [('start', 'stop')],
    'updown': [('up', 'down')],
    'incdec': [('increase', 'decrease')],
    'enable': [('enable', 'disable')],
    'lock': [('lock', 'unlock')],
    'allume': [('allume', 'éteins')],
    'ouvre': [('ouvre', 'ferme')],
    'monte': [('monte', 'baisse')],
}

TEMPLATES = [
    # (language, kind, template)
    ('en', 'q', "what's the weather | in {city} | tomorrow"),
    ('en', 'q', "what is the weather like | in {city}"),
    ('en', 'q', "will it rain | in {city} | on {day}"),
    ('en', 'q', "what time is it | in {city}"),
    ('en', 'cmd', "set a timer for {num} minutes"),
    ('en', 'cmd', "set an alarm for {num} am | on {day}"),
    ('en', 'cmd', "remind me to call {name} | in {num} minutes"),
    ('en', 'cmd', "call {name}"),
    ('en', 'cmd', "send a message to {name}"),
    ('en', 'cmd', "turn {on} the {room} {device}"),
    ('en', 'cmd', "switch {on} the {device} | in the {room}"),
    ('en', 'cmd', "{open} the {room} door"),
    ('en', 'cmd', "{open} the blinds | in the {room}"),
    ('en', 'cmd', "{start} the vacuum cleaner | in the {room}"),
    ('en', 'cmd', "turn the volume {updown}"),
    ('en', 'cmd', "{incdec} the temperature | in the {room}"),
    ('en', 'cmd', "{enable} the alarm | on {day}"),
    ('en', 'cmd', "{lock} the front door"),
    ('en', 'cmd', "play some {genre} | in the {room}"),
    ('en', 'cmd', "add {thing} to the shopping list"),
    ('en', 'cmd', "set the thermostat to {num} degrees"),
    ('en', 'q', "how far is {city} from {city2}"),
    ('en', 'q', "what's {num} times {num2}"),
    ('en', 'q', "convert {num} euros to dollars"),
    ('en', 'q', "how do you say hello in {lang}"),
    ('en', 'q', "translate good morning into {lang}"),
    ('en', 'q', "what's on my calendar | on {day}"),
    ('en', 'q', "when is my next meeting with {name}"),
    ('en', 'q', "who won the football game | on {day}"),
    ('en', 'q', "what's the traffic like | to {city}"),
    ('en', 'q', "how long does it take to boil {num} eggs"),
    ('en', 'q', "is the {room} {device} {on}"),
    ('en', 'q', "what's the population of {city}"),
    ('en', 'q', "what's the capital of {lang2}"),
    ('fr', 'q', "quel temps fera-t-il | à {city} | {jour}"),
    ('fr', 'q', "est-ce qu'il va pleuvoir | à {city} | {jour}"),
    ('fr', 'q', "quelle heure est-il | à {city}"),
    ('fr', 'cmd', "mets un minuteur de {numfr} minutes"),
    ('fr', 'cmd', "réveille-moi à {numfr} heures | {jour}"),
    ('fr', 'cmd', "appelle {name}"),
    ('fr', 'cmd', "{allume} la {appareil} | de la {piece}"),
    ('fr', 'cmd', "{ouvre} les volets | de la {piece}"),
    ('fr', 'cmd', "{monte} le chauffage | dans le {piece}"),
    ('fr', 'cmd', "ajoute du {chose} à la liste de courses"),
    ('fr', 'cmd', "mets de la musique {genre} | dans le {piece}"),
    ('fr', 'q', "combien font {numfr} fois {num2}"),
    ('fr', 'q', "quelle est la distance entre {city} et {city2}"),
    ('fr', 'q', "c'est quoi mon programme | {jour}"),
]

LANG2 = ['France', 'Spain', 'Germany', 'Italy', 'Japan', 'Portugal']
NUMWORDS_EN = {'2': 'two', '3': 'three', '5': 'five', '7': 'seven',
               '10': 'ten', '12': 'twelve', '15': 'fifteen', '20': 'twenty',
               '25': 'twenty-five', '30': 'thirty', '45': 'forty five',
               '50': 'fifty', '90': 'ninety', '100': 'one hundred'}
NUMWORDS_FR = {'2': 'deux', '3': 'trois', '5': 'cinq', '7': 'sept',
               '10': 'dix', '12': 'douze', '15': 'quinze', '20': 'vingt',
               '25': 'vingt-cinq', '30': 'trente', '45': 'quarante-cinq',
               '50': 'cinquante', '90': 'quatre-vingt-dix', '100': 'cent'}

NEIGHBOURS = {}
for row in ('qwertyuiop', 'asdfghjkl', 'zxcvbnm'):
    for i, c in enumerate(row):
        NEIGHBOURS[c] = (row[i - 1] if i else '') + (row[i + 1:i + 2])


# --- filling and retyping ----------------------------------------------------

def slot_values(rnd, tmpl):
    """One value per slot of the template."""
    vals = {}
    for s in re.findall(r'\{(\w+)\}', tmpl):
        if s in vals:
            continue
        if s in POLAR:
            vals[s] = rnd.choice(POLAR[s])[0]
        elif s in ('num', 'num2', 'numfr'):
            vals[s] = rnd.choice(SLOTS['num'])
        elif s == 'city2':
            vals[s] = rnd.choice([c for c in SLOTS['city']
                                  if c != vals.get('city')])
        elif s == 'lang2':
            vals[s] = rnd.choice(LANG2)
        else:
            vals[s] = rnd.choice(SLOTS[s])
    return vals


def other_value(rnd, slot, value):
    """A different value for the slot: the hard negative's change."""
    if slot in POLAR:
        a, b = POLAR[slot][0]
        return b if value == a else a
    if slot in ('num', 'num2', 'numfr'):
        near = [v for v in SLOTS['num'] if v != value]
        # often a near number: 5 / 15, 5 / 50
        close = [v for v in near if value in v or v in value]
        return rnd.choice(close) if close and rnd.random() < 0.5 \
            else rnd.choice(near)
    pool = {'city2': 'city', 'lang2': None}.get(slot, slot)
    values = LANG2 if pool is None else SLOTS[pool]
    return rnd.choice([v for v in values if v != value])


def render(tmpl, vals, lang, order=None, numwords=False):
    chunks = [c.strip() for c in tmpl.split('|')]
    if order:
        chunks = [chunks[i] for i in order]

    def fill(m):
        s = m.group(1)
        v = vals[s]
        if s in ('num', 'num2', 'numfr') and numwords:
            v = (NUMWORDS_FR if lang == 'fr' else NUMWORDS_EN)[v]
        return v
    return re.sub(r'\{(\w+)\}', fill, ' '.join(chunks))


def strip_accents(s):
    return ''.join(c for c in unicodedata.normalize('NFD', s)
                   if unicodedata.category(c) != 'Mn')


def typo(rnd, text):
    words = text.split(' ')
    idx = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not idx:
        return text
    i = rnd.choice(idx)
    w = words[i]
    k = rnd.randrange(1, len(w) - 1)     # not the first letter
    op = rnd.choice(['swap', 'drop', 'double', 'near'])
    if op == 'swap':
        w = w[:k] + w[k + 1] + w[k] + w[k + 2:]
    elif op == 'drop':
        w = w[:k] + w[k + 1:]
    elif op == 'double':
        w = w[:k] + w[k] + w[k:]
    else:
        c = w[k].lower()
        if NEIGHBOURS.get(c):
            w = w[:k] + rnd.choice(NEIGHBOURS[c]) + w[k + 1:]
    words[i] = w
    return ' '.join(words)


CONTRACT = [("what's", ['what is', 'whats']), ('what is', ["what's"]),
            ("it's", ['it is', 'its']), ('do not', ["don't", 'dont']),
            ("how's", ['how is']), ("c'est", ["c est"]),
            ("est-ce qu'il", ["est ce qu il"])]

POLITE = {
    ('en', 'cmd'): (['please ', 'hey jarvis, ', 'jarvis, ', 'can you ',
                     'could you ', 'could you please ', 'hey, '],
                    [' please', ' please?', ', thanks', ' thank you', ' for me']),
    ('en', 'q'): (['hey jarvis, ', 'jarvis, ', 'can you tell me ',
                   'tell me ', 'hey, ', 'ok jarvis '],
                  [' please', '?', ', thanks', ' please?']),
    ('fr', 'cmd'): (["s'il te plaît ", 'jarvis, ', 'peux-tu ',
                     'est-ce que tu peux ', 'tu peux '],
                    [" s'il te plaît", ' stp', ', merci', ' svp']),
    ('fr', 'q'): (['jarvis, ', 'dis-moi ', 'est-ce que tu sais ',
                   'bonjour, '],
                  [" s'il te plaît", ' ?', ', merci']),
}

RETYPINGS = ['typo', 'case', 'punct', 'order', 'polite', 'contraction',
             'accents', 'numwords', 'article']


def retype(rnd, lang, kind, tmpl, vals, kinds):
    """The template said again with these kinds of changes."""
    nchunks = len(tmpl.split('|'))
    order = None
    if 'order' in kinds and nchunks > 1:
        order = list(range(nchunks))
        while order == sorted(order):
            rnd.shuffle(order)
    numwords = 'numwords' in kinds and any(
        s in vals for s in ('num', 'num2', 'numfr'))
    t = render(tmpl, vals, lang, order, numwords)
    if 'contraction' in kinds:
        for a, bs in CONTRACT:
            if a in t:
                t = t.replace(a, rnd.choice(bs), 1)
                break
    if 'article' in kinds:
        t = re.sub(r'\b(the|a|an|le|la|les) ', '', t, count=1)
    if 'polite' in kinds:
        pre, post = POLITE[(lang, kind)]
        r = rnd.random()
        if r < 0.4:
            t = rnd.choice(pre) + t
        elif r < 0.8:
            t = t + rnd.choice(post)
        else:
            t = rnd.choice(pre) + t + rnd.choice(post)
    if 'accents' in kinds:
        t = strip_accents(t)
    if 'typo' in kinds:
        t = typo(rnd, t)
    if 'case' in kinds:
        t = rnd.choice([t.upper(), t.capitalize(), t.title(), t.lower()])
    if 'punct' in kinds:
        t = t.replace(',', '').replace("'", ' ' if rnd.random() < 0.3
                                       else "'")
        t = t + rnd.choice(['?', ' ?', '!', '...', '.', ' ??'])
        if rnd.random() < 0.3:
            t = '  ' + t.replace(' ', '  ', 1)
    return t


def applicable(kind, lang, tmpl, vals):
    ks = ['typo', 'case', 'punct', 'polite', 'article']
    if '|' in tmpl:
        ks.append('order')
    if lang == 'fr' and strip_accents(tmpl) != tmpl or \
            any(strip_accents(v) != v for v in vals.values()):
        ks.append('accents')
    if any(s in vals for s in ('num', 'num2', 'numfr')):
        ks.append('numwords')
    if any(a in render(tmpl, vals, lang) for a, _ in CONTRACT):
        ks.append('contraction')
    return ks


NEGATION = {'en': [(r'^(turn|switch|set|add|call|send|play|lock|open|start|'
                    r'enable|increase|remind)\b', r"don't \1"),
                   (r'^(will it)\b', r'will it not'),
                   (r'^is the', 'is the'), ],
            'fr': [(r'^(allume|ouvre|monte|mets|appelle|ajoute|réveille)'
                    r'(\S*)', r'ne \1\2 pas')]}


def generate(rnd):
    """(group, kind, a, b) rows: retypings, then hard negatives."""
    rows = []
    for lang, kind, tmpl in TEMPLATES:
        for _ in range(30):
            vals = slot_values(rnd, tmpl)
            base = render(tmpl, vals, lang)
            ks = applicable(kind, lang, tmpl, vals)
            # one kind of change, or two or three together
            n = rnd.choice([1, 1, 2, 3])
            chosen = rnd.sample(ks, min(n, len(ks)))
            label = chosen[0] if len(chosen) == 1 else 'mixed'
            rows.append(('retype', label, base,
                         retype(rnd, lang, kind, tmpl, vals, chosen)))

            # a hard negative: one slot changed, maybe retyped too
            slots = list(vals)
            s = rnd.choice(slots)
            v2 = dict(vals)
            v2[s] = other_value(rnd, s, vals[s])
            if s in POLAR:
                nk = 'polarity'
            elif s.startswith('num'):
                nk = 'number'
            elif s in ('city', 'city2', 'name', 'lang', 'lang2', 'day',
                       'jour'):
                nk = 'entity'
            else:
                nk = 'object'
            noise = rnd.sample(['typo', 'case', 'punct', 'polite'],
                               rnd.choice([0, 0, 1, 2]))
            rows.append(('hardneg', nk, base,
                         retype(rnd, lang, kind, tmpl, v2, noise)))

            # a negation added, where the sentence takes one
            for pat, rep in NEGATION[lang]:
                if re.search(pat, base) and rnd.random() < 0.35:
                    neg = re.sub(pat, rep, base, count=1)
                    if neg != base:
                        rows.append(('hardneg', 'negation', base, neg))
                    break
    return rows


def mrpc_rows():
    if not os.path.exists(MRPC):
        print('public pairs skipped: %s not found (PARAPHRASE_DATA)' % MRPC)
        return []
    rows = []
    with open(MRPC, encoding='utf-8-sig') as f:
        next(f)
        for line in f:
            p = line.rstrip('\n').split('\t')
            if len(p) != 5:
                continue
            rows.append(('public', 'paraphrase' if p[0] == '1' else 'other',
                         p[3], p[4]))
    return rows


# --- running -------------------------------------------------------------------

def build():
    os.makedirs(BUILD, exist_ok=True)
    subprocess.check_call(
        ['cc', '-O2', '-g', '-Wall', '-Wextra', '-Werror', '-std=c99',
         '-D_DEFAULT_SOURCE', '-I' + os.path.join(ROOT, 'src'), '-o', TOOL,
         os.path.join(ROOT, 'bench', 'similar_bench.c'),
         os.path.join(ROOT, 'src', 'ngx_llm_similar.c')])


def judge(rows):
    text = ''.join('%s\t%s\n' % (r[2].replace('\t', ' ').replace('\n', ' '),
                                 r[3].replace('\t', ' ').replace('\n', ' '))
                   for r in rows)
    out = subprocess.run([TOOL, 'pairs'], input=text.encode(),
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    res = []
    for line in out.splitlines():
        v, s = line.split('\t')
        res.append((v, float(s)))
    assert len(res) == len(rows)
    return res


def rate(rs, t, rules=True):
    if not rs:
        return float('nan')
    if rules:
        hit = sum(1 for v, s in rs if v == 'match' and s >= t)
    else:
        hit = sum(1 for v, s in rs if v != 'incomparable' and s >= t)
    return hit / len(rs)


def pct(x):
    return '—' if x != x else '%.1f' % (100 * x)


def cost():
    out = subprocess.run([TOOL, 'time'], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    t = dict(l.split('\t') for l in out.splitlines())
    res = {'make_ns': float(t['make_ns']), 'compare_ns': float(t['compare_ns'])}
    try:
        base = callgrind([TOOL, 'instructions', 'none'])
        for what, n in (('make', 20000), ('compare', 200000)):
            ir = callgrind([TOOL, 'instructions', what])
            res[what + '_ir'] = (ir - base) / n
    except (OSError, ValueError):
        pass
    return res


def callgrind(argv):
    p = subprocess.run(['valgrind', '--tool=callgrind',
                        '--callgrind-out-file=/dev/null'] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    m = re.search(r'Collected : (\d+)', p.stderr.decode())
    if not m:
        raise ValueError('no callgrind count')
    return int(m.group(1))


def main():
    build()
    rnd = random.Random(SEED)
    gen = generate(rnd)
    pub = mrpc_rows()
    rows = gen + pub
    res = judge(rows)

    groups = {}
    for r, v in zip(rows, res):
        groups.setdefault((r[0], r[1]), []).append(v)

    def group(name, kinds=None):
        out = []
        for (g, k), rs in groups.items():
            if g == name and (kinds is None or k in kinds):
                out += rs
        return out

    retype_all = group('retype')
    hard_all = group('hardneg')
    pub_pos = group('public', ['paraphrase'])
    pub_neg = group('public', ['other'])

    # the thresholds within the wrong-hit budget; of those, the highest
    # that keeps the retypings' hit rate within MARGIN of the best: a
    # margin against hard negatives the rules would miss, for free
    ok = [t for t in THRESHOLDS if rate(hard_all, t) <= WRONG_MAX]
    chosen = None
    if ok:
        best = max(rate(retype_all, t) for t in ok)
        chosen = max(t for t in ok if rate(retype_all, t) >= best - MARGIN)

    L = []
    L.append('# The L2 cache\'s near-duplicate test: choosing the threshold')
    L.append('')
    L.append('`/usr/bin/python3 bench/similar.py` (seed %d), the library in '
             '`src/ngx_llm_similar.c` built with `cc -O2`.  Rates are '
             'hits over pairs, in %%; "rules" is `ngx_llm_sig_compare()` '
             '(numbers, negation/polarity, every word with a counterpart, '
             'then the trigram Jaccard threshold); "sim only" is the same '
             'Jaccard alone, what a plain threshold cache would answer.'
             % SEED)
    L.append('')
    L.append('## Pairs')
    L.append('')
    L.append('| group | pairs | should |')
    L.append('|---|---:|---|')
    L.append('| generated retypings | %d | hit |' % len(retype_all))
    L.append('| generated hard negatives | %d | miss |' % len(hard_all))
    if pub:
        L.append('| MRPC test, paraphrases | %d | hit (a news paraphrase is '
                 'rarely a retyping) |' % len(pub_pos))
        L.append('| MRPC test, not paraphrases | %d | miss |' % len(pub_neg))
    else:
        L.append('| MRPC | skipped | `%s` absent |' % MRPC)
    L.append('')
    L.append('Generated from %d assistant templates (%d English, %d French), '
             'slots filled at random; retypings change the wording with one '
             'to three of: %s; hard negatives change one slot (a number, the '
             'polarity word, a city/name/day/language, a room/object/genre) '
             'or add a negation, with typing noise on about half of them.'
             % (len(TEMPLATES), sum(1 for t in TEMPLATES if t[0] == 'en'),
                sum(1 for t in TEMPLATES if t[0] == 'fr'),
                ', '.join(RETYPINGS)))
    L.append('')
    L.append('## Hit and wrong-hit rates per threshold')
    L.append('')
    head = ('| threshold | retypings hit | hard negatives wrong hit | '
            'MRPC paraphrases hit | MRPC others wrong hit | '
            'sim only: retypings | sim only: hard negatives | '
            'sim only: MRPC others |')
    L.append(head)
    L.append('|---:|---:|---:|---:|---:|---:|---:|---:|')
    for t in THRESHOLDS:
        L.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
            ('**%.2f**' if t == chosen else '%.2f') % t,
            pct(rate(retype_all, t)), pct(rate(hard_all, t)),
            pct(rate(pub_pos, t)), pct(rate(pub_neg, t)),
            pct(rate(retype_all, t, False)), pct(rate(hard_all, t, False)),
            pct(rate(pub_neg, t, False))))
    L.append('')
    if chosen is None:
        L.append('No threshold keeps wrong hits on the hard negatives at '
                 '%.1f %% or less.' % (100 * WRONG_MAX))
        chosen = THRESHOLDS[-1]
    else:
        L.append('**Default: %.2f**: of the thresholds with at most '
                 '%.1f %% wrong hits on the hard negatives, the highest '
                 'that keeps the retypings\' hit rate within %.1f point of '
                 'the best (%s %% wrong hits, %s %% of retypings hit).  '
                 'A higher threshold costs retypings and buys nothing on '
                 'this bench; a lower one gains no retyping and drops the '
                 'margin against a hard negative the rules would miss.' % (
                     chosen, 100 * WRONG_MAX, 100 * MARGIN,
                     pct(rate(hard_all, chosen)),
                     pct(rate(retype_all, chosen))))
    hdr = open(os.path.join(ROOT, 'src', 'ngx_llm_similar.h')).read()
    m = re.search(r'#define NGX_LLM_SIMILAR_THRESHOLD\s+([0-9.]+)', hdr)
    if m and abs(float(m.group(1)) - chosen) > 1e-9:
        L.append('')
        L.append('**`NGX_LLM_SIMILAR_THRESHOLD` in `src/ngx_llm_similar.h` '
                 'is %s: set it to %.2f.**' % (m.group(1), chosen))
    elif m:
        L.append('`NGX_LLM_SIMILAR_THRESHOLD` in `src/ngx_llm_similar.h` '
                 'is this value.')
    L.append('')

    L.append('## At the default, by kind')
    L.append('')
    L.append('| group | kind | pairs | hit | verdicts |')
    L.append('|---|---|---:|---:|---|')
    for (g, k) in sorted(groups):
        rs = groups[(g, k)]
        verdicts = {}
        for v, s in rs:
            if v == 'match' and s < chosen:
                v = 'similarity'
            verdicts[v] = verdicts.get(v, 0) + 1
        L.append('| %s | %s | %d | %s | %s |' % (
            g, k, len(rs), pct(rate(rs, chosen)),
            ', '.join('%s %d' % kv for kv in
                      sorted(verdicts.items(), key=lambda x: -x[1]))))
    L.append('')

    wrong = [(r, v) for r, v in zip(rows, res)
             if r[0] in ('hardneg',) and v[0] == 'match' and v[1] >= chosen]
    missed = [(r, v) for r, v in zip(rows, res)
              if r[0] == 'retype' and not (v[0] == 'match'
                                           and v[1] >= chosen)]
    L.append('## Examples at the default')
    L.append('')
    L.append('Wrong hits on the hard negatives (%d):' % len(wrong))
    L.append('')
    for r, v in wrong[:12]:
        L.append('- %s: "%s" / "%s" (%.2f)' % (r[1], r[2], r[3], v[1]))
    L.append('')
    L.append('Missed retypings (%d), the first 15:' % len(missed))
    L.append('')
    for r, v in missed[:15]:
        L.append('- %s: "%s" / "%s": %s (%.2f)' % (r[1], r[2], r[3],
                                                    v[0], v[1]))
    L.append('')

    c = cost()
    L.append('## Cost')
    L.append('')
    L.append('Eight prompts of 28 to 56 bytes, English and French '
             '(`build/similar-bench time`, median of 7 runs, CPU time of '
             'the thread): **%.2f µs per make, %.0f ns per compare**.'
             % (c['make_ns'] / 1000, c['compare_ns']))
    if 'make_ir' in c:
        L.append('Under callgrind: %.0f instructions per make, %.0f per '
                 'compare.' % (c['make_ir'], c['compare_ir']))
    L.append('')
    L.append('The signature is %s bytes.' % sig_size())
    L.append('')
    if pub:
        L.append('## The public set')
        L.append('')
        L.append('Microsoft Research Paraphrase Corpus, test split '
                 '(`msr_paraphrase_test.txt`, 1725 pairs), from '
                 'https://github.com/magsail/MRPC at commit '
                 'e7803fe61c002e49fa0aec30336b3d5b4f6fc399 (`MRPC/`), the '
                 'file Microsoft distributes; licence: the Microsoft '
                 'Research Shared Source License Agreement (MSR-SSLA, '
                 'non-commercial use; the text is kept beside the data as '
                 '`MRPC-LICENCE.html`, from '
                 'https://github.com/brmson/dataset-sts at commit '
                 'e1d3375f5b3bc24f21aa4e46f96eb379e9fc1081, '
                 '`data/para/msr/LICENCE.html`).  Its text is not in this '
                 'repository: the bench reads it from `$PARAPHRASE_DATA` '
                 '(default `../data/paraphrase`).')
        L.append('')
    L.append('## Reading it')
    L.append('')
    L.append(NOTES.strip())
    L.append('')
    with open(OUT, 'w') as f:
        f.write('\n'.join(L))
    print('\n'.join(L))


NOTES = """
- The hard rules, not the threshold, keep the wrong hits out: with them,
  no threshold from 0 to 0.95 lets a generated hard negative through;
  the similarity alone (GPTCache's way) lets 85 % of them through at 0.5
  and still 2 % at 0.9, while hitting fewer retypings.  The threshold
  then only measures typing noise: a typo in a 3-word prompt weighs more
  than in a 7-word one ("set an alarm for 7" / "set an alram for 7" is
  0.38, a miss at 0.5).
- The generated hard negatives are of the kinds the rules were written
  for (numbers, polarity, negation, a changed entity or object), by the
  same hand: their 0 % says the rules do what they say, not that nothing
  else slips through.  The MRPC non-paraphrases are the independent
  check: no wrong hit at any threshold (most are refused for a number, a
  negation word or a word with no counterpart), against 32 % for the
  similarity alone at 0.5.
- MRPC paraphrases almost never hit (under 1 %): they are news sentences
  rewritten with other words, which this test refuses by design; it is
  for a user retyping a short prompt, not for paraphrase detection.
  About 12 % of MRPC pairs are not comparable: more than 20 distinct kept
  words.
- Known misses: a changed letter in a word of 4 or 5 letters ("lught",
  "alsrm": refused, since "Paris"/"parts" and "timer"/"times" are one
  change too), a typo in the first letter, typos in words of 3 letters or
  less, a typo in a short filler ("cold you").
- Known limits: word order is free except after "from"/"to"
  ("depuis"/"vers"): "John called Mary" and "Mary called John" match,
  and so do French "de Paris à Lyon" / "de Lyon à Paris".  Synonyms are
  different words ("switch on" / "turn on" miss).  Letters outside
  Latin-1, œ and æ are not case-folded.
- An earlier version kept, per word, a 64-bit hashed set of its letter
  bigrams instead of its first 14 bytes, and judged typos by their Dice
  coefficient: hash collisions let "bedroom" pass for "bathroom" (0.1 %
  wrong hits); the edit distance on the kept bytes has none.
"""


def sig_size():
    src = ('#include <stdio.h>\n#include "ngx_llm_similar.h"\n'
           'int main(void){printf("%zu", sizeof(ngx_llm_sig_t));return 0;}\n')
    exe = os.path.join(BUILD, 'similar-size')
    p = subprocess.run(['cc', '-std=c99', '-I' + os.path.join(ROOT, 'src'),
                        '-x', 'c', '-', '-o', exe], input=src.encode())
    if p.returncode:
        return '?'
    return subprocess.run([exe], stdout=subprocess.PIPE).stdout.decode()


if __name__ == '__main__':
    main()
