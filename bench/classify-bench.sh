#!/usr/bin/env bash
# The classifier's cost per prompt size, against a baseline classifier in
# the same run: the hand-tuned one the learned model replaced (commit
# CLASSIFY_BASE), both built with -O2 from src/ alone.  Prints the median
# ns per prompt and per KB of each, interleaved runs, and the ratio; then
# instructions per KB of each under callgrind (time on a shared machine is
# noisy, instruction counts are not).
#   bench/classify-bench.sh            CLASSIFY_BASE=<commit> to compare another
set -euo pipefail
cd "$(dirname "$0")/.."
base=${CLASSIFY_BASE:-e6679f9}
mkdir -p build/classify-base
git show "$base:src/ngx_llm_classify.c" > build/classify-base/ngx_llm_classify.c
git show "$base:src/ngx_llm_classify.h" > build/classify-base/ngx_llm_classify.h
# the baseline had no model file; the current one has
cc -O2 -std=c99 -D_DEFAULT_SOURCE -Ibuild/classify-base -o build/classify-bench-base \
    bench/classify_bench.c build/classify-base/ngx_llm_classify.c -lm
cc -O2 -std=c99 -D_DEFAULT_SOURCE -Isrc -o build/classify-bench \
    bench/classify_bench.c src/ngx_llm_classify.c src/ngx_llm_classify_model.c -lm
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "baseline: the classifier at $base; current: the working tree"
for i in 1 2 3; do
    build/classify-bench-base > "build/classify-bench-base.$i"
    build/classify-bench > "build/classify-bench.$i"
done
python3 - <<'PY'
import statistics
def read(prefix):
    runs = []
    for i in (1, 2, 3):
        rows = {}
        for line in open('build/%s.%d' % (prefix, i)):
            f = line.split()
            if len(f) == 4 and f[0] != 'prompt':
                rows[f[0]] = (int(f[1]), float(f[2]), float(f[3]))
        runs.append(rows)
    return {k: (runs[0][k][0], statistics.median(r[k][1] for r in runs),
                statistics.median(r[k][2] for r in runs)) for k in runs[0]}
b, c = read('classify-bench-base'), read('classify-bench')
print('%-9s %9s %14s %14s %12s %12s %7s' % ('prompt', 'bytes', 'base ns', 'current ns',
      'base ns/KB', 'cur ns/KB', 'ratio'))
for k in b:
    print('%-9s %9d %14.0f %14.0f %12.1f %12.1f %7.2f' % (k, b[k][0], b[k][1], c[k][1],
          b[k][2], c[k][2], c[k][2] / b[k][2]))
PY
if command -v valgrind >/dev/null; then
    ir() {
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" --instructions 2>&1 \
            | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    }
    b=$(ir build/classify-bench-base)
    c=$(ir build/classify-bench)
    python3 -c "
b, c = $b, $c
print('instructions per KB (1 MB classified, callgrind): base %.0f, current %.0f, ratio %.2f'
      % (b / 1000, c / 1000, c / b))"
fi
