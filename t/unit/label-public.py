#!/usr/bin/python3
"""src/classifier/label_public.py on records written for this test, in
each public file's own form: which are kept, with which label, id and
source, and which are left out (a creative-writing prompt, a prompt not in
English, an Arena-Bench prompt listed as a duplicate, an IFEval prompt
over the instruction rule), and the usage error for an unknown kind.

    t/unit/label-public.py
"""

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, 'src', 'classifier', 'label_public.py')

passes = failures = 0


def check(name, ok, detail=''):
    global passes, failures
    if ok:
        passes += 1
    else:
        failures += 1
        print('FAIL: %s %s' % (name, detail))


def label(kind, records, tmp):
    path = os.path.join(tmp, kind + '.jsonl')
    with open(path, 'w', encoding='utf-8') as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + '\n')
    out = subprocess.run([sys.executable, TOOL, kind, path],
                         capture_output=True, text=True)
    return out.returncode, [json.loads(l) for l in out.stdout.splitlines()]


def expect(kind, records, want, tmp):
    """want: (id, label, source) of the records kept, in order"""
    rc, got = label(kind, records, tmp)
    check(kind + ': exit code', rc == 0, str(rc))
    check(kind + ': records kept',
          [(g['id'], g['label'], g['source']) for g in got] == want,
          str([g['id'] for g in got]))
    check(kind + ': corpus form', all(
        g['lang'] == 'en' and g['permissive'] is True
        and g['licence'] == 'Apache-2.0' and g['prompt'] == g['prompt'].strip()
        for g in got))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        expect('ifeval', [
            {'key': 1, 'prompt': ' Write a short note to my neighbour about '
             'the hedge, in two sentences. '},
            {'key': 2, 'prompt': 'Write a Python script that renames the '
             'files in a folder.'},
            {'key': 3, 'prompt': ' '.join(['word'] * 30)},
        ], [('ifeval:1', 'simple', 'ifeval')], tmp)

        expect('arenahard2', [
            {'uid': 'a1', 'category': 'hard_prompt', 'subcategory': 'coding',
             'prompt': 'How can I make this query use the index on the '
             'orders table when it filters by date?'},
            {'uid': 'a2', 'category': 'creative_writing',
             'subcategory': 'creative_writing',
             'prompt': 'Write a story about a lighthouse keeper and the '
             'last ship of the season.'},
            {'uid': 'a3', 'category': 'hard_prompt', 'subcategory': 'math',
             'prompt': 'Calcula el area de un triangulo con los lados 3, 4 y '
             '5 y explica por que es un triangulo rectangulo.'},
            {'uid': 'a4', 'category': 'hard_prompt', 'subcategory': 'coding',
             'prompt': 'Напиши функцию, которая сортирует список чисел.'},
            {'uid': 'a5', 'category': 'hard_prompt', 'subcategory': 'math',
             'prompt': 'Prove that the sum of two odd numbers is even.'},
        ], [('arenahard-v2:a1', 'complex', 'arenahard-v2'),
            ('arenahard-v2:a5', 'complex', 'arenahard-v2')], tmp)

        expect('arenabench1', [
            {'question_id': 'b1', 'category': 'arena-bench-v1',
             'turns': ['Explain how a hash table resizes itself and what it '
                       'costs.']},
            {'question_id': '80654f6d5b8847c0a833c9e5e93f7943',
             'category': 'arena-bench-v1',
             'turns': ['A prompt listed as a duplicate of an evaluation '
                       'item is left out by its id.']},
            {'question_id': 'b3', 'category': 'arena-bench-v1',
             'turns': ['Écris une fonction qui inverse une chaîne et dis-moi '
                       'pourquoi elle est correcte pour les accents.']},
        ], [('arena-bench-v1:b1', 'complex', 'arena-bench-v1')], tmp)

        rc, got = label('nosuchkind', [], tmp)
        check('unknown kind: usage error', rc != 0 and got == [], str(rc))

    print('label-public: %d passed, %d failed' % (passes, failures))
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
