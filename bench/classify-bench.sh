#!/usr/bin/env bash
# The classifier's cost per prompt size, against a baseline classifier in
# the same run: the one at commit CLASSIFY_BASE (by default 624fa9c, the
# byte-by-byte scanner the fast path replaced), both built from src/ alone,
# with each of CLASSIFY_CFLAGS (comma separated; by default -O2, and -O,
# what nginx builds the module with).
#
# Per size (100 B to 1 MB of a mix of English, French and code, 100 KB
# of each kind alone, and a 200-message chat): ns per prompt and per KB,
# the least of CLASSIFY_ROUNDS (5) interleaved runs, each the median of 7,
# in CPU time of the thread (what other processes on a shared machine add
# least to); then instructions per KB under callgrind,
# ngx_llm_classify_text() alone, which do not move with the machine's
# load.  Writes the figures to bench/results/CLASSIFY.md.
#
#   bench/classify-bench.sh          timings and instructions
#   bench/classify-bench.sh check    the same results, bit for bit: the
#       current classifier against the baseline (which must have this
#       state layout: 8237208 and later) on every text of CLASSIFY_TEXTS
#       whole, in two pieces cut at every byte, byte by byte and in random
#       pieces, and on made-up texts; then build/llm-classify of both
#       trees on the same files, plain and --features, diffed
set -euo pipefail
cd "$(dirname "$0")/.."
base=${CLASSIFY_BASE:-624fa9c}
flagsets=${CLASSIFY_CFLAGS:--O2,-O}
rounds=${CLASSIFY_ROUNDS:-5}
texts=${CLASSIFY_TEXTS:-../shared/prompts/dev.jsonl ../shared/training/train.jsonl src/classifier/written-fr.jsonl}
py=$(command -v /usr/bin/python3 || command -v python3)

mkdir -p build/classify-base
for f in ngx_llm_classify.c ngx_llm_classify.h ngx_llm_classify_model.h; do
    git show "$base:src/$f" > "build/classify-base/$f"
done

# the keyword lists are the model's vocabulary, not the scanner: the
# baseline's source gets the current tree's ngx_llm_concepts[]
concepts() {
    "$py" - "$1" src/ngx_llm_classify.c <<'PY'
import sys
def table(s):
    a = s.index('ngx_llm_concepts[] = {')
    return a, s.index('{ 0, NULL, 0 }', a)
dst, cur = open(sys.argv[1]).read(), open(sys.argv[2]).read()
(a, b), (c, d) = table(dst), table(cur)
open(sys.argv[1], 'w').write(dst[:a] + cur[c:d] + dst[b:])
PY
}
concepts build/classify-base/ngx_llm_classify.c

# and what the scanner has gained since, so that both compute the same
# buckets: a word's letters 7 to 14 hashed as one 64-bit value
# (ngx_llm_word_hash()), and its stem, its first four letters, hashed
# into the words' sum (ngx_llm_stem())
scanner() {
    "$py" - "$1" <<'PY'
import sys
d = sys.argv[1]
src = d + '/ngx_llm_classify.c'
hdr = d + '/ngx_llm_classify.h'
def patch(path, pairs):
    s = open(path).read()
    for old, new in pairs:
        if s.count(old) != 1:
            sys.exit('classify-bench: cannot give %s the scanner\'s changes'
                     % path)
        s = s.replace(old, new)
    open(path, 'w').write(s)
patch(hdr, [('    uint64_t            key;\n',
             '    uint64_t            key;\n    uint64_t            mid;\n')])
patch(src, [
    ('''                        ^ st->hash;''',
     '''                        ^ (uint32_t) ((st->mid * 0xc2b2ae3d27d4eb4fULL)
                                      >> 32)
                        ^ st->hash;'''),
    ('''        st->key = 0;
        st->hash = NGX_LLM_FNV_BASIS;''',
     '''        st->key = 0;
        st->mid = 0;
        st->hash = NGX_LLM_FNV_BASIS;'''),
    ('''        st->key |= (uint64_t) c << (8 * st->wlen);

    } else {''',
     '''        st->key |= (uint64_t) c << (8 * st->wlen);

    } else if (st->wlen < NGX_LLM_KEY_LEN + 8) {
        st->mid |= (uint64_t) c << (8 * (st->wlen - NGX_LLM_KEY_LEN));

    } else {'''),
    ('''                    key |= (uint64_t) c << (8 * (wlen - 1));

                } else {''',
     '''                    key |= (uint64_t) c << (8 * (wlen - 1));

                } else if (wlen <= NGX_LLM_KEY_LEN + 8) {
                    st->mid |= (uint64_t) c
                               << (8 * (wlen - 1 - NGX_LLM_KEY_LEN));

                } else {'''),
])
patch(hdr, [
    ('#define NGX_LLM_BUCKETS      (1 << NGX_LLM_BUCKET_BITS)\n',
     '#define NGX_LLM_BUCKETS      (1 << NGX_LLM_BUCKET_BITS)\n'
     '#define NGX_LLM_STEM_BITS    13\n'
     '#define NGX_LLM_STEMS        (1 << NGX_LLM_STEM_BITS)\n'
     '#define NGX_LLM_STEM_FROM    5\n')])
patch(d + '/ngx_llm_classify_model.h', [
    ('extern const int16_t  ngx_llm_model_words[NGX_LLM_BUCKETS];\n',
     'extern const int16_t  ngx_llm_model_words[NGX_LLM_BUCKETS];\n'
     'extern const int16_t  ngx_llm_model_stems[NGX_LLM_STEMS];\n')])
patch(src, [
    ('''    st->prev_hash = h;

    st->words++;''',
     '''    st->prev_hash = h;

    if (!st->in_number && st->wlen >= NGX_LLM_STEM_FROM) {
        uint32_t  sb = ((uint32_t) st->key * 0x85ebca6bu)
                       >> (32 - NGX_LLM_STEM_BITS);

        st->wsum += ngx_llm_model_stems[sb];

        if (st->sink != NULL) {
            st->sink(st->sink_data, NGX_LLM_BUCKETS + sb);
        }
    }

    st->words++;''')])
PY
}
scanner build/classify-base

# both with the current model: the scanner is what is compared
build() {
    # shellcheck disable=SC2086
    cc $1 -std=c99 -D_DEFAULT_SOURCE -Ibuild/classify-base \
        -o build/classify-bench-base \
        bench/classify_bench.c build/classify-base/ngx_llm_classify.c \
        src/ngx_llm_classify_model.c -lm
    # shellcheck disable=SC2086
    cc $1 -std=c99 -D_DEFAULT_SOURCE -Isrc -o build/classify-bench \
        bench/classify_bench.c src/ngx_llm_classify.c \
        src/ngx_llm_classify_model.c -lm
}

if [ "${1:-}" = check ]; then
    # the baseline's public names prefixed ref_, linked beside the current
    renames=""
    for f in init conf_default begin turn feed end text class class_name \
             features explain; do
        renames="$renames -Dngx_llm_classify_$f=ref_classify_$f"
    done
    renames="$renames -Dngx_llm_class_name=ref_class_name"
    renames="$renames -Dngx_llm_feature_name=ref_feature_name"
    # shellcheck disable=SC2086
    cc -O2 -std=c99 -D_DEFAULT_SOURCE $renames -Ibuild/classify-base \
        -c -o build/classify-base/ref.o build/classify-base/ngx_llm_classify.c
    cc -O2 -g -std=c99 -D_DEFAULT_SOURCE -DNGX_LLM_CLASSIFY_CHECK=1 -Isrc \
        -o build/classify-check bench/classify_bench.c src/ngx_llm_classify.c \
        src/ngx_llm_classify_model.c build/classify-base/ref.o -lm

    # each record's prompt (or its body's texts, a line each) and the raw
    # line itself: 4-byte length, bytes
    # shellcheck disable=SC2086
    "$py" - build/classify-check.texts $texts <<'PY'
import json, struct, sys
out = open(sys.argv[1], 'wb')
def strings(v, acc):
    if isinstance(v, str):
        acc.append(v)
    elif isinstance(v, list):
        for x in v:
            strings(x, acc)
    elif isinstance(v, dict):
        for k, x in v.items():
            if k in ('prompt', 'system', 'content', 'text', 'messages'):
                strings(x, acc)
for path in sys.argv[2:]:
    for line in open(path, 'rb'):
        rec = json.loads(line)
        acc = []
        if isinstance(rec.get('prompt'), str):
            acc.append(rec['prompt'])
        else:
            strings(rec.get('body', {}), acc)
        for t in ('\n'.join(acc).encode('utf-8', 'surrogatepass'),
                  line.rstrip(b'\n')):
            out.write(struct.pack('<I', len(t)) + t)
PY
    build/classify-check --check build/classify-check.texts

    # the command line tool of both trees on the same files
    rm -rf build/classify-base/tree
    mkdir -p build/classify-base/tree
    git archive "$base" | tar -x -C build/classify-base/tree
    # with the current model, as the bench binaries: the model was retrained
    # after the baseline, and the scanner is what is compared
    cp src/ngx_llm_classify_model.c build/classify-base/tree/src/
    concepts build/classify-base/tree/src/ngx_llm_classify.c
    scanner build/classify-base/tree/src
    make -s -C build/classify-base/tree \
        "$PWD/build/classify-base/tree/build/llm-classify" >/dev/null
    # and the current tree without the words' term's range (the baseline
    # has none): where the range binds, the scores differ by design
    rm -rf build/classify-base/current
    mkdir -p build/classify-base/current
    git ls-files -z | xargs -0 cp --parents -t build/classify-base/current
    sed -i -e 's/^\(const double   ngx_llm_model_words_min = \).*/\1-1e300;/' \
           -e 's/^\(const double   ngx_llm_model_words_max = \).*/\11e300;/' \
        build/classify-base/current/src/ngx_llm_classify_model.c
    make -s -C build/classify-base/current \
        "$PWD/build/classify-base/current/build/llm-classify" >/dev/null
    same=0
    for f in $texts; do
        for mode in "" --features; do
            # shellcheck disable=SC2086
            if cmp -s <(build/classify-base/tree/build/llm-classify $mode "$f") \
                      <(build/classify-base/current/build/llm-classify $mode \
                                                           "$f"); then
                echo "llm-classify ${mode:-(scores)} $f: the same bytes"
            else
                echo "llm-classify ${mode:-(scores)} $f: DIFFERS"
                same=1
            fi
        done
    done
    exit $same
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "baseline: the classifier at $base; current: the working tree"

# Real texts besides the made-up mix, whose five pieces repeat every 300
# bytes: the corpus's prompts when ../shared is there, each alone, and
# joined, cut in pieces of 100 KB; the project's own written French
# prompts each alone; its Markdown and its C sources in pieces of 100 KB.
# Every row classifies all its texts in turn: a text classified again and
# again costs less than the first time (the CPU learns its branches: the
# corpus's English costs about half as much per KB in 100 KB pieces each
# repeated as all in turn), and a server sees a prompt once.  4-byte
# length, bytes, per text.
corpus=${CLASSIFY_CORPUS:-../shared/training/train.jsonl}
rm -rf build/classify-text
mkdir -p build/classify-text
"$py" - build/classify-text "$corpus" <<'PY'
import glob, json, os, struct, sys
out, corpus = sys.argv[1], sys.argv[2]

def write(name, texts):
    with open(os.path.join(out, name + '.texts'), 'wb') as f:
        for t in texts:
            f.write(struct.pack('<I', len(t)) + t)

def pieces(texts, size):
    t = b'\n'.join(texts)
    return [t[i:i + size] for i in range(0, len(t), size)]

def prompts(path, lang=None):
    got = []
    for line in open(path, encoding='utf-8'):
        if line.strip():
            rec = json.loads(line)
            if lang is None or rec.get('lang') == lang:
                got.append(rec['prompt'].encode('utf-8'))
    return got

if os.path.exists(corpus):
    for lang in ('en', 'fr'):
        p = prompts(corpus, lang)
        write(lang + '-prompts', p)
        write(lang + '-joined', pieces(p, 102400))
else:
    print('%s: not there, the corpus\'s prompts skipped' % corpus)
write('fr-written', prompts('src/classifier/written-fr.jsonl'))
write('markdown', pieces([open(f, 'rb').read() for f in
                          ['README.md'] + sorted(glob.glob('bench/*.md'))
                          + sorted(glob.glob('bench/results/*.md'))],
                         102400))
write('c-source', pieces([open(f, 'rb').read()
                          for f in sorted(glob.glob('src/*.c'))], 102400))
PY
texts_files=$(ls build/classify-text/*.texts)

ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        --toggle-collect=ngx_llm_classify_text "$@" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

set=0
IFS=, read -r -a sets <<< "$flagsets"
for cflags in "${sets[@]}"; do
    set=$((set + 1))
    build "$cflags"
    for i in $(seq "$rounds"); do
        build/classify-bench-base > "build/classify-bench-base.$set.$i"
        build/classify-bench > "build/classify-bench.$set.$i"
        for t in $texts_files; do
            n=$(basename "$t" .texts)
            build/classify-bench-base --file "$n" "$t" \
                >> "build/classify-bench-base.$set.$i"
            build/classify-bench --file "$n" "$t" \
                >> "build/classify-bench.$set.$i"
        done
    done
    : > "build/classify-bench.$set.ir"
    if command -v valgrind >/dev/null; then
        for s in 100 1024 10240 102400 1048576; do
            echo "$s $s $(ir build/classify-bench-base --instructions "$s") $(ir build/classify-bench --instructions "$s")" \
                >> "build/classify-bench.$set.ir"
        done
        for k in english french code; do
            echo "$k 102400 $(ir build/classify-bench-base --instructions 102400 $k) $(ir build/classify-bench --instructions 102400 $k)" \
                >> "build/classify-bench.$set.ir"
        done
        for t in $texts_files; do
            # the texts' bytes: the file's less 4 a text
            b=$("$py" -c 'import struct, sys
d = open(sys.argv[1], "rb").read(); i = n = 0
while i < len(d):
    k = struct.unpack("<I", d[i:i + 4])[0]; n += k; i += 4 + k
print(n)' "$t")
            echo "$(basename "$t" .texts) $b $(ir build/classify-bench-base --instructions-file "$t") $(ir build/classify-bench --instructions-file "$t")" \
                >> "build/classify-bench.$set.ir"
        done
    fi
done

"$py" - "$rounds" "$base" "$flagsets" "$corpus" <<'PY'
import os, subprocess, sys, time
rounds, base, flagsets = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(',')
corpus = sys.argv[4]

def read(prefix):
    runs = []
    for i in range(1, rounds + 1):
        rows = {}
        for line in open('build/%s.%d' % (prefix, i)):
            f = line.split()
            if len(f) == 4 and f[0] != 'prompt':
                rows[f[0]] = (int(f[1]), float(f[2]), float(f[3]))
        runs.append(rows)
    return {k: (runs[0][k][0], min(r[k][1] for r in runs),
                min(r[k][2] for r in runs)) for k in runs[0]}

def name(k):
    n = {'100': '100 B', '1024': '1 KB', '10240': '10 KB',
         '102400': '100 KB', '1048576': '1 MB',
         'english': '100 KB, English only', 'french': '100 KB, French only',
         'code': '100 KB, code only', 'chat200': '200-message chat',
         'en-prompts': 'corpus, English prompts, each alone',
         'en-joined': 'corpus, English prompts joined, 100 KB pieces',
         'fr-prompts': 'corpus, French prompts, each alone',
         'fr-joined': 'corpus, French prompts joined, 100 KB pieces',
         'fr-written': 'written French prompts, each alone',
         'markdown': 'the Markdown files, 100 KB pieces',
         'c-source': 'src/*.c, 100 KB pieces'}
    return n.get(k, k)

cpu = ''
for line in open('/proc/cpuinfo'):
    if line.startswith('model name'):
        cpu = line.split(':', 1)[1].strip()
        break
cc = subprocess.run(['cc', '--version'], capture_output=True,
                    text=True).stdout.splitlines()[0]
# the tree measured: dirty if what is built differs (not these results)
tree = subprocess.run(['git', 'describe', '--always'],
                      capture_output=True, text=True).stdout.strip()
built = ['src', 'bench/classify_bench.c', 'bench/classify-bench.sh']
if subprocess.run(['git', 'diff', '--quiet', 'HEAD', '--'] + built).returncode:
    tree += '-dirty'

md = ['# The classifier\'s cost per prompt size', '',
      'Command: `bench/classify-bench.sh` (baseline `CLASSIFY_BASE=%s`), run '
      'on %s (UTC) on %d shared cores (%s), %s. Both classifiers are built '
      'from `src/` alone with the same flags and the same learned model; '
      'the baseline is the byte-by-byte scanner at `%s`, the current one the '
      'tree at `%s`.'
      % (base, time.strftime('%Y-%m-%d %H:%M', time.gmtime()),
         os.cpu_count(), cpu, cc, base, tree),
      '',
      'The text is English, French and code (`bench/classify_bench.c`), '
      'classified whole with `ngx_llm_classify_text()`, then 100 KB of '
      'each kind alone; the chat is 200 messages of about 60 bytes fed one '
      'by one. That made-up text repeats five pieces every 300 bytes, and '
      'the CPU learns its branches: real text costs more. The rows below '
      'it are real texts: the training corpus\'s prompts (`%s`, when it is '
      'there), joined and cut in pieces of 100 KB, and each classified '
      'alone (bytes and ns: the mean prompt); the project\'s written French '
      'prompts (`src/classifier/written-fr.jsonl`); its Markdown files and '
      'its C sources in pieces of 100 KB. Each row classifies all its texts '
      'in turn, as a server sees a prompt once: one text classified again '
      'and again gets faster as the CPU learns it. Time: CPU time of the '
      'thread, the least of %d interleaved runs of each, every run the '
      'median of 7. Instructions: callgrind, `ngx_llm_classify_text()` '
      'alone, 1 MB classified in prompts of the size, per 1024 bytes; '
      'they do not move with the machine\'s load, the time does. '
      '`bench/classify-bench.sh check` proves the two give the same '
      'results, bit for bit.' % (corpus, rounds)]

for n, cflags in enumerate(flagsets, 1):
    b = read('classify-bench-base.%d' % n)
    c = read('classify-bench.%d' % n)
    ir = {}
    for line in open('build/classify-bench.%d.ir' % n):
        f = line.split()
        if len(f) == 4:
            s = int(f[1])
            total = (1048576 + s - 1) // s * s      # bytes classified
            ir[f[0]] = (int(f[2]) * 1024 / total, int(f[3]) * 1024 / total)

    if n == 1:
        # the current classifier alone, as bench/bench.py reads it
        print('%-10s %10s %14s %12s' % ('prompt', 'bytes', 'ns/prompt',
                                        'ns/KB'))
        for k in c:
            print('%-10s %10d %14.0f %12.1f' % (k, c[k][0], c[k][1], c[k][2]))

    print('\ncc %s' % cflags)
    print('%-17s %9s %9s %9s %9s %9s %6s %10s %10s %6s' % (
          'prompt', 'bytes', 'base ns', 'cur ns', 'base/KB', 'cur/KB',
          'ratio', 'base i/KB', 'cur i/KB', 'ratio'))
    md += ['', '## `cc %s`' % cflags, '',
           '| prompt | bytes | baseline ns | current ns | baseline ns/KB | '
           'current ns/KB | ratio | baseline instr/KB | current instr/KB | '
           'ratio |',
           '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for k in c:
        bi, ci = ir.get(k, (0, 0))
        print('%-17s %9d %9.0f %9.0f %9.0f %9.0f %6.2f %10s %10s %6s' % (
              name(k), b[k][0], b[k][1], c[k][1], b[k][2], c[k][2],
              c[k][2] / b[k][2], '%.0f' % bi if bi else '-',
              '%.0f' % ci if ci else '-', '%.2f' % (ci / bi) if bi else '-'))
        md.append('| %s | %d | %.0f | %.0f | %.0f | %.0f | %.2f | %s | %s | '
                  '%s |' % (name(k), b[k][0], b[k][1], c[k][1], b[k][2],
                            c[k][2], c[k][2] / b[k][2],
                            '%.0f' % bi if bi else '-',
                            '%.0f' % ci if ci else '-',
                            '%.2f' % (ci / bi) if bi else '-'))
    kb = [c[k][2] for k in c if k.isdigit() and int(k) >= 1024]
    md += ['', 'From 1 KB to 1 MB of the mix the current classifier costs '
           '%.0f to %.0f ns per KB (target: at most 1000); English alone '
           '%.0f, French %.0f, code %.0f.'
           % (min(kb), max(kb), c['english'][2], c['french'][2],
              c['code'][2])]
    real = [k for k in ('en-joined', 'fr-joined', 'markdown', 'c-source',
                        'en-prompts', 'fr-prompts', 'fr-written') if k in c]
    if real:
        md += ['', 'Real texts: %s.' % '; '.join(
               '%s %.0f ns per KB (baseline %.0f, %.2f)'
               % (name(k), c[k][2], b[k][2], c[k][2] / b[k][2])
               for k in real)]

os.makedirs('bench/results', exist_ok=True)
with open('bench/results/CLASSIFY.md', 'w') as f:
    f.write('\n'.join(md) + '\n')
print('\nwritten: bench/results/CLASSIFY.md')
PY
