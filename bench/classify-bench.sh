#!/usr/bin/env bash
# Classifier cost per prompt size (median of 7 runs), built with -O2 from
# src/ alone.  Usage: bench/classify-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
cc -O2 -std=c99 -D_DEFAULT_SOURCE -Isrc -o build/classify-bench \
    bench/classify_bench.c src/ngx_llm_classify.c -lm
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
build/classify-bench
