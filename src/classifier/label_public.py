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


def ifeval(path):
    for line in open(path, encoding='utf-8'):
        row = json.loads(line)
        p = row['prompt'].strip()
        if simple_ok(p):
            yield {'id': 'ifeval:%d' % row['key'], 'label': 'simple',
                   'prompt': p, 'source': 'ifeval', 'lang': 'en',
                   'licence': 'Apache-2.0', 'permissive': True}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ('ifeval',):
        sys.exit('usage: label_public.py ifeval input_data.jsonl')
    for it in ifeval(sys.argv[2]):
        sys.stdout.write(json.dumps(it, ensure_ascii=False) + '\n')


if __name__ == '__main__':
    main()
