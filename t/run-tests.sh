#!/usr/bin/env bash
#
# The test runner behind "make test": the C unit tests, then every t/*.t
# suite against a real nginx with the built module, real mock Ollama tiers
# and (where a suite needs it) a real redis-server.  The last line is the
# total: "N passed, N failed".  Exits non-zero on any failure.

set -u
cd "$(dirname "$0")/.."

export TEST_NGINX_BINARY=${TEST_NGINX_BINARY:-/usr/sbin/nginx}
export TEST_NGINX_LLM_MODULE=${TEST_NGINX_LLM_MODULE:-$PWD/build/ngx_http_llm_router_module.so}

passed=0
failed=0
failures=()    # what failed, repeated above the total where a log's tail shows it

add_counts() {
    # reads "...: N passed, M failed" and adds to the totals; $2 names the part
    local line=$1 what=$2 p f
    p=$(sed -n 's/.* \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p' <<< "$line")
    f=$(sed -n 's/.* \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p' <<< "$line")
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-1}))
    [ "${f:-1}" -eq 0 ] || failures+=("$what: ${f:-no count} failed")
}

fail() {
    # one failed check: $1 names it
    failed=$((failed + 1))
    failures+=("$1")
}

echo "== C unit tests"
for t in build/unit-*; do
    out=$("$t" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    add_counts "$(tail -n 1 <<< "$out")" "$t"
    if [ $rc -ne 0 ] && [ "$failed" -eq 0 ]; then
        fail "$t: exit code $rc"
    fi
done

# the api=openai translation through the mock's /v1/chat/completions
echo "== translation against the mock's OpenAI API"
out=$(t/unit/translate-mock.py 2>&1)
grep -E 'FAIL|^translate-mock' <<< "$out"
add_counts "$(tail -n 1 <<< "$out")" "t/unit/translate-mock.py"

# the labels given to the public prompt files make classifier-data fetches
echo "== label_public.py on written records"
out=$(/usr/bin/python3 t/unit/label-public.py 2>&1)
grep -E 'FAIL|^label-public' <<< "$out"
add_counts "$(tail -n 1 <<< "$out")" "t/unit/label-public.py"

echo "== fuzz smoke (libFuzzer + ASan + UBSan, fixed seed)"
if command -v clang >/dev/null 2>&1; then
    out=$(make --no-print-directory -s fuzz-smoke 2>&1)
    printf '%s\n' "$out" | grep -E '^fuzz-|FAILED|ERROR' | head -n 40
    ok=$(grep -c '^fuzz-[a-z_]*: Done' <<< "$out")
    bad=$(grep -c 'FAILED' <<< "$out")
    passed=$((passed + ok))
    failed=$((failed + bad))
    [ "$bad" -eq 0 ] || failures+=("fuzz smoke: $bad failed")
    if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then
        echo "FAIL: no fuzz target ran"
        fail "fuzz smoke: no target ran"
    fi
else
    echo "FAIL: clang is not installed"
    fail "fuzz smoke: clang is not installed"
fi

echo "== llm-classify reads a prompt, a chat's messages and a request alike"
forms=$(build/llm-classify <<'EOF'
{"id": "prompt", "prompt": "Write a C function that reverses a linked list"}
{"id": "messages", "messages": [{"role": "user", "content": "Write a C function that reverses a linked list"}]}
{"id": "request", "endpoint": "/v1/chat/completions", "body": {"model": "auto", "messages": [{"role": "user", "content": "Write a C function that reverses a linked list"}]}}
{"id": "none", "messages": "Write a C function"}
EOF
)
echo "$forms"
if [ "$(cut -f2- <<< "$forms" | sed -n 1,3p | sort -u | wc -l)" = 1 ] \
   && grep -q 'complex' <<< "$forms" \
   && [ "$(sed -n 4p <<< "$forms")" = "$(printf 'none\terror')" ]
then
    passed=$((passed + 1))
else
    echo "FAIL: the three forms of one prompt score differently, or a" \
         "record without a prompt was not an error"
    fail "llm-classify: record forms"
fi

echo "== llm-classify on the labelled dev set"
if [ -f ../shared/prompts/dev.jsonl ]; then
    out=$(build/llm-classify --eval ../shared/prompts/dev.jsonl)
    sed -n '/^ *simple *medium *complex/,$p' <<< "$out"
    # AUC 1, and no simple prompt classed complex nor complex classed simple
    crossed=$(awk '$1 == "simple" && NF == 5 { n += $4 }
                   $1 == "complex" && NF == 5 { n += $2 }
                   END { print n + 0 }' <<< "$out")
    if grep -q 'AUC complex vs simple 1.000' <<< "$out" && [ "$crossed" = 0 ]
    then
        passed=$((passed + 1))
    else
        echo "FAIL: the dev set no longer separates (AUC below 1, or" \
             "$crossed simple/complex prompts classed the other way)"
        fail "llm-classify: the dev set no longer separates"
    fi
else
    echo "skipped: ../shared/prompts/dev.jsonl is not beside the repository"
fi

# the committed weights give the figures recorded in their file's header
echo "== the classifier's recorded figures on its training corpus"
corpus=../shared/training/train.jsonl
if [ -f "$corpus" ]; then
    want=$(sed -n 's/^ \*   check //p' src/ngx_llm_classify_model.c)
    got=$(cat "$corpus" src/classifier/written-fr.jsonl \
          | build/llm-classify --eval \
          | awk '/^language/ { gsub("%", ""); print $2, $3, $4, $5, $6, $7, $8 }')
    printf 'recorded:\n%s\nnow:\n%s\n' "$want" "$got"
    if [ -n "$want" ] && [ "$want" = "$got" ]; then
        passed=$((passed + 1))
    else
        echo "FAIL: the weights do not give the figures recorded with them"
        fail "llm-classify: the recorded figures differ"
    fi
else
    echo "skipped: $corpus is not beside the repository"
fi

echo "== Test::Nginx suites (nginx: $TEST_NGINX_BINARY)"
mkdir -p build
perl t/harness.pl "$@" 2>&1 | tee build/harness.log
add_counts "$(tail -n 1 build/harness.log)" "suites on $TEST_NGINX_BINARY"
while IFS= read -r l; do failures+=("${l#tap failed: }"); done \
    < <(grep '^tap failed: ' build/harness.log)

# The module against every nginx it is given (../shared/nginx's upstream
# releases, or NGINX_SRCS), then every suite again on the newest of them,
# built from source.  Skipped, with a word, when no tarball is there.
if [ $# -eq 0 ]; then
    srcs=${NGINX_SRCS:-../shared/nginx}
    if compgen -G "$srcs/nginx-*.tar.gz" >/dev/null \
        || compgen -G "$srcs/nginx-*/" >/dev/null
    then
        echo "== nginx version matrix (make matrix, sources in $srcs)"
        start=$(date +%s)
        NGINX_SRCS=$srcs perl t/matrix.pl 2>&1 | tee build/matrix.log
        ok=$(grep -c '^| [0-9].* | ok | ok | ok | \(ok\|-\)' build/matrix.log)
        bad=$(grep -c '^| [0-9]' build/matrix.log)
        passed=$((passed + ok))
        failed=$((failed + bad - ok))
        [ "$bad" -eq "$ok" ] || failures+=("nginx version matrix: $((bad - ok)) failed")
        [ "$bad" -gt 0 ] || fail "nginx version matrix: no version built"
        echo "matrix: $(( $(date +%s) - start )) s"

        if [ -f build/matrix/newest.env ]; then
            # shellcheck disable=SC1091
            . build/matrix/newest.env
            echo "== Test::Nginx suites on nginx $NGINX_VERSION built from source"
            start=$(date +%s)
            suites=$(ls t/[0-9]*.t | grep -v -e '-deb\.t$' -e '-docker\.t$')
            TEST_NGINX_BINARY=$TEST_NGINX_BINARY \
            TEST_NGINX_LLM_MODULE=$TEST_NGINX_LLM_MODULE \
                perl t/harness.pl $suites 2>&1 | tee build/harness-newest.log
            add_counts "$(tail -n 1 build/harness-newest.log)" \
                "suites on nginx $NGINX_VERSION"
            while IFS= read -r l; do
                failures+=("on $NGINX_VERSION: ${l#tap failed: }")
            done < <(grep '^tap failed: ' build/harness-newest.log)
            echo "suites on $NGINX_VERSION: $(( $(date +%s) - start )) s"
        fi
    else
        echo "skipped: the nginx version matrix and the suites on the newest" \
             "nginx (no nginx-*.tar.gz in $srcs; NGINX_SRCS=dir)"
    fi
fi

echo
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
