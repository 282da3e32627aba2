#!/usr/bin/python3
"""Labels public prompt collections the training corpus does not carry,
and writes them in the corpus's form (one JSON object a line) for
train.py --extra.  The prompts themselves stay outside the project.

    /usr/bin/python3 src/classifier/label_public.py ifeval input_data.jsonl \\
        > build/ifeval.jsonl

ifeval: IFEval (google-research/google-research,
    instruction_following_eval/data/input_data.jsonl, Apache-2.0): short
    instructions with format constraints ("Write a riddle about ...
    without using commas").  Labelled simple under the rule the corpus
    applies to its instruction-style pools: at most 25 words, no code
    words, no maths words or digit-operator-digit, no essay, report,
    analysis, comparison or step-by-step wording.  The others are left out
    (they are neither labelled complex by that rule nor by their source).

arenahard2: Arena-Hard v2.0 (lmarena/arena-hard-auto,
    data/arena-hard-v2.0/question.jsonl, Apache-2.0): real users' hard
    prompts from Chatbot Arena, coding and maths ("hard_prompt"), and
    creative writing.  The hard prompts are labelled complex, as the corpus
    labels Arena-Hard v0.1's; the creative-writing ones are left out (no
    rule of the corpus labels them).  English only: a prompt is kept when
    97 % of its letters are ASCII and it has more English function words
    than French or Spanish ones (the set also holds Russian, Chinese,
    Spanish, Portuguese... prompts; its few French ones are not told
    apart from Spanish reliably by so simple a rule).  None of them is an
    item, a substring or a near duplicate (word 3-gram Jaccard >= 0.5) of
    Arena-Hard v0.1, MT-Bench or Vicuna-bench, the collections the
    evaluation takes its hard chat prompts from.

arenabench1: Arena-Bench v1 (lmarena/arena-hard-auto at 9a01b42,
    data/arena-bench-v1/question.jsonl, Apache-2.0): the repository's
    first benchmark (November 2023, before it was named Arena-Hard), 300
    hard prompts from Chatbot Arena, first turns, labelled complex as
    Arena-Hard's are; English only, as above.  Three of them
    are items of Arena-Hard v0.1 or MT-Bench word for word (and two of
    those are in the corpus): they are left out by id.  No other one is a
    substring or a near duplicate of Arena-Hard v0.1, MT-Bench,
    Vicuna-bench, the corpus or Arena-Hard v2.0.
"""

import json
import re
import sys

HARD = re.compile(
    r"\b(code|coding|python|java|javascript|c\+\+|function|program|"
    r"programming|script|sql|html|css|algorithm|regex|api|json|debug|"
    r"compile|math|maths|mathematical|equation|calculate|solve|sum|integer|"
    r"probability|proof|prove|essay|report|analy[sz]e|analysis|compare|"
    r"comparison|step[- ]by[- ]step)\b", re.I)
DIGIT_OP_DIGIT = re.compile(r"\d\s*[-+*/x^=]\s*\d")


def simple_ok(text):
    return (len(text.split()) <= 25 and not HARD.search(text)
            and not DIGIT_OP_DIGIT.search(text))


def item(source, key, label, prompt):
    """a record in the corpus's form; every set here is English and
    Apache-2.0"""
    return {'id': '%s:%s' % (source, key), 'label': label, 'prompt': prompt,
            'source': source, 'lang': 'en', 'licence': 'Apache-2.0',
            'permissive': True}


def rows(path):
    for line in open(path, encoding='utf-8'):
        yield json.loads(line)


def ifeval(path):
    for row in rows(path):
        p = row['prompt'].strip()
        if simple_ok(p):
            yield item('ifeval', row['key'], 'simple', p)


ENGLISH = set("the a an is are to of and in for that with you i this it on "
              "be can".split())
OTHER = set("le la les des une est pour que qui avec dans sur pas je vous "
            "nous il elle el los las del por con para una es y".split())


def english(text):
    letters = [c for c in text if c.isalpha()]
    if not letters or sum(c.isascii() for c in letters) < 0.97 * len(letters):
        return False
    words = [w.strip('.,;:!?()"\'').lower() for w in text.split()]
    return (sum(w in ENGLISH for w in words)
            > sum(w in OTHER for w in words))


def arenahard2(path):
    for row in rows(path):
        p = row['prompt'].strip()
        if row['category'] == 'hard_prompt' and english(p):
            yield item('arenahard-v2', row['uid'], 'complex', p)


# Arena-Bench v1's prompts that are items of Arena-Hard v0.1 (the corpus's
# or the evaluation's) or of MT-Bench, word for word
ARENA_BENCH_DUPLICATES = {'80654f6d5b8847c0a833c9e5e93f7943',
                          '91956666f79a4a9688fa40972cfa994c',
                          '01f0684ccac74fdea8f21080cb61d591'}


def arenabench1(path):
    for row in rows(path):
        p = row['turns'][0].strip()
        if row['question_id'] not in ARENA_BENCH_DUPLICATES and english(p):
            yield item('arena-bench-v1', row['question_id'], 'complex', p)


def main():
    kinds = {'ifeval': ifeval, 'arenahard2': arenahard2,
             'arenabench1': arenabench1}
    if len(sys.argv) != 3 or sys.argv[1] not in kinds:
        sys.exit('usage: label_public.py ifeval|arenahard2|arenabench1 '
                 'FILE.jsonl')
    for it in kinds[sys.argv[1]](sys.argv[2]):
        sys.stdout.write(json.dumps(it, ensure_ascii=False) + '\n')


if __name__ == '__main__':
    main()
