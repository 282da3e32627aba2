#!/usr/bin/env bash
#
# "make run": starts Redis, two Ollama tiers (mock ones unless OLLAMA_BIG /
# OLLAMA_SMALL point at real servers) and nginx with the module on
# 127.0.0.1:$PORT, routes one simple and one complex prompt, then serves
# until Ctrl-C, which stops everything it started.
#
#   PORT=8080                  router address (127.0.0.1:PORT)
#   OLLAMA_BIG=host:port       real Ollama serving gpt-oss:20b
#   OLLAMA_SMALL=host:port     real Ollama serving llama3.2:3b
#   REDIS_PORT=6390            local Redis started for the cache
#   NGINX=/usr/sbin/nginx      the nginx binary to run
#   DEMO_ONESHOT=1             stop after the two requests (used by tests)

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8080}
REDIS_PORT=${REDIS_PORT:-6390}
prefix=$top/build/run
pids=()

if [ -t 1 ]; then
    say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
else
    say() { printf '==> %s\n' "$*"; }
fi

stop_all() {
    trap - INT TERM EXIT
    if [ -f "$prefix/nginx.pid" ]; then
        kill -QUIT "$(cat "$prefix/nginx.pid")" 2>/dev/null || true
    fi
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap stop_all EXIT
trap 'echo; say "stopping"; exit 0' INT TERM

# waits until a TCP port accepts connections (bounded)
wait_port() {
    local port=$1 what=$2 i
    for i in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "error: $what did not start on port $port" >&2
    exit 1
}

# something else on the port would answer the demo in nginx's place
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "error: 127.0.0.1:$PORT is already in use; stop what listens" \
         "there or choose another port: PORT=8081 make run" >&2
    exit 1
fi

rm -rf "$prefix"
mkdir -p "$prefix/logs" "$prefix/tmp"

# the GPU the tiers run on: amdgpu's sysfs files, rocm-smi, or none
gpu="source=off"
for f in /sys/class/drm/card*/device/mem_info_vram_total; do
    if [ -r "$f" ]; then
        gpu="source=sysfs device=$(dirname "$f")"
        break
    fi
done
if [ "$gpu" = "source=off" ] && [ -e /dev/kfd ]; then
    gpu="source=rocm_smi"
fi

if command -v redis-server >/dev/null; then
    say "redis-server on 127.0.0.1:$REDIS_PORT"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
        --appendonly no --daemonize no > "$prefix/logs/redis.log" 2>&1 &
    pids+=($!)
    wait_port "$REDIS_PORT" redis-server
fi

# starts a mock tier; sets $addr to its address
start_mock() {
    local name=$1 model=$2; shift 2
    local ready=$prefix/$name.port
    node "$top/t/backend/mock-ollama.js" --port 0 --model "$model" \
        --name "$name" --ready-file "$ready" "$@" \
        > "$prefix/logs/mock-$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 200); do
        [ -s "$ready" ] && break
        sleep 0.05
    done
    [ -s "$ready" ] || { echo "error: mock $name did not start" >&2; exit 1; }
    addr="127.0.0.1:$(cat "$ready")"
}

if [ -n "${OLLAMA_BIG:-}" ] && [ -n "${OLLAMA_SMALL:-}" ]; then
    big=$OLLAMA_BIG
    small=$OLLAMA_SMALL
    say "real Ollama tiers: big=$big small=$small"
else
    # timings close to the real tiers: 20b ~22 tok/s, 3b ~52 tok/s
    start_mock big gpt-oss:20b --ttft 600 --tps 22 --tokens 12 --slots 4
    big=$addr
    start_mock small llama3.2:3b --ttft 150 --tps 52 --tokens 12 --slots 8 \
        --models nomic-embed-text,gemma3
    small=$addr
    say "mock Ollama tiers: big (gpt-oss:20b) on $big," \
        "small (llama3.2:3b) on $small"
fi

# a tier that sees: gemma3 on the small tier's server (the mock has it;
# your own servers: VISION_MODEL names one they have pulled)
vision="# no vision tier (VISION_MODEL=... adds one)"
if [ -z "${OLLAMA_BIG:-}" ] || [ -n "${VISION_MODEL:-}" ]; then
    vision="llm_router_tier  vision  upstream=ollama_small  model=${VISION_MODEL:-gemma3}  rank=1  max_inflight=2  gpu=rx7800  serves=chat,generate,vision;"
fi

# the paid API an overflow goes to: a mock of an OpenAI-compatible server
start_mock cloud gpt-oss:120b --ttft 300 --tps 80 --tokens 12 --slots 16
cloud=$addr

# nginx started as root runs its workers as "nobody", which must reach the
# cache and temporary files under $prefix; a checkout in a private
# directory (mode 0700, as mktemp -d makes) is out of its reach, and the
# embeddings cache would fail with "Permission denied".  Then the workers
# keep the invoking user.
user="# workers run as nginx's default user"
if [ "$(id -u)" = 0 ] \
        && ! runuser -u nobody -- test -x "$prefix/tmp" 2>/dev/null; then
    user="user  root;  # nobody cannot reach $prefix"
    say "workers run as root: user nobody cannot reach $prefix"
fi

sed -e "s|@MODULE@|$top/build/ngx_http_llm_router_module.so|" \
    -e "s|@USER@|$user|" \
    -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$PORT|" \
    -e "s|@BIG@|$big|" -e "s|@SMALL@|$small|" -e "s|@CLOUD@|$cloud|" \
    -e "s|@VISION@|$vision|" \
    -e "s|@REDIS_PORT@|$REDIS_PORT|" -e "s|@CONF@|$top/conf|" \
    -e "s|@GPU@|$gpu|" \
    "$top/conf/demo.conf.in" > "$prefix/nginx.conf"

nginx_bin=${NGINX:-/usr/sbin/nginx}
"$nginx_bin" -p "$prefix" -c "$prefix/nginx.conf" -t -q
"$nginx_bin" -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
pids+=($nginx_pid)
for _ in $(seq 1 200); do
    if ! kill -0 "$nginx_pid" 2>/dev/null; then
        echo "error: nginx did not start:" >&2
        tail -n 5 "$prefix/logs/error.log" >&2
        exit 1
    fi
    [ -s "$prefix/nginx.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") \
        2>/dev/null && break
    sleep 0.05
done
[ -s "$prefix/nginx.pid" ] || { echo "error: nginx did not start" >&2; exit 1; }
say "nginx with ngx_llm_router on http://127.0.0.1:$PORT"
if [ "$gpu" = "source=off" ]; then
    say "no AMD GPU found here: VRAM is not read (llm_gpu source=off)"
fi

ask() {
    local label=$1 path=$2 body=$3 out
    out=$(curl -sS -D - -o "$prefix/last-body" -X POST \
          -H 'Content-Type: application/json' --data-binary "$body" \
          "http://127.0.0.1:$PORT$path")
    echo
    say "$label: POST $path $body"
    printf '%s\n' "$out" | grep -i '^\(HTTP/\|X-LLM-\)' | tr -d '\r' \
        | sed 's/^/    /'
    printf '    body: %s\n' "$(head -c 300 "$prefix/last-body")"
}

ask "simple prompt" /api/generate \
    '{"model":"auto","prompt":"Hello JARVIS, what time is it?","stream":false}'
complex='{"model":"auto","messages":[{"role":"user","content":"Analyze the time complexity of quicksort, prove its average case step by step, and compare it with merge sort."}]}'
ask "complex prompt" /v1/chat/completions "$complex"

# the answer is written to Redis just after it was sent
for _ in $(seq 1 50); do
    [ "$(redis-cli -p "$REDIS_PORT" --raw keys 'llm:*' 2>/dev/null | wc -l)" -ge 2 ] && break
    sleep 0.05
done
ask "the complex prompt again (from the cache)" /v1/chat/completions "$complex"

if [ -z "${OLLAMA_BIG:-}" ]; then
    # an image: the tier that sees (gemma3 on the small tier's server)
    ask "a photo" /api/chat '{"model":"auto","stream":false,"messages":[{"role":"user","content":"What is in this photo?","images":["iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="]}]}'

    # every local tier full (30 answers at once, each slow to start): the
    # cloud tier
    for t in "$big" "$small"; do
        curl -s -o /dev/null -X POST "http://$t/_mock/config" -d '{"ttft":3000}'
    done
    curls=()
    for i in $(seq 1 30); do
        curl -s -o /dev/null -X POST "http://127.0.0.1:$PORT/api/generate" \
            -d '{"model":"auto","stream":false,"prompt":"Prove step by step that there are infinitely many primes, case '"$i"'.","options":{"num_predict":60}}' &
        curls+=($!)
    done
    for _ in $(seq 1 200); do
        busy=$(curl -s "http://127.0.0.1:$PORT/metrics" \
               | awk '/^llm_router_inflight_requests\{tier="(small|big|vision)"\}/ { n += $2 } END { print n + 0 }')
        [ "$busy" -ge 26 ] && break
        sleep 0.05
    done
    ask "one more while every local tier is full (overflow)" /api/generate \
        '{"model":"auto","stream":false,"prompt":"Prove step by step that the square root of 2 is irrational."}'
    wait "${curls[@]}"
    for t in "$big" "$small"; do
        curl -s -o /dev/null -X POST "http://$t/_mock/config" -d '{"ttft":150}'
    done
fi

# embeddings (the mock small tier has nomic-embed-text; against your own
# servers, EMBED_MODEL names a model one of them has pulled)
if [ -z "${OLLAMA_BIG:-}" ] || [ -n "${EMBED_MODEL:-}" ]; then
    embed='{"model":"'"${EMBED_MODEL:-nomic-embed-text}"'","input":"JARVIS, remember that the meeting moved to Friday."}'
    ask "embeddings" /api/embed "$embed"
    ask "the same embeddings again (from disk)" /api/embed "$embed"
fi

echo
say "live state: GET /metrics?format=json"
curl -sS "http://127.0.0.1:$PORT/metrics?format=json" | sed 's/^/    /'

if [ "${DEMO_ONESHOT:-0}" = 1 ]; then
    exit 0
fi

cat <<TXT

The router is serving on http://127.0.0.1:$PORT (logs in $prefix/logs).
Try:
  curl -s localhost:$PORT/api/tags
  curl -s localhost:$PORT/metrics                  (Prometheus)
  open http://127.0.0.1:$PORT/metrics?format=html  (status page)
  curl -si localhost:$PORT/generate -d '{"prompt":"Explain quantum computing", "max_tokens":100}'
  curl -sN localhost:$PORT/api/chat -d '{"model":"auto","messages":[{"role":"user","content":"Tell me a joke"}]}'
Ctrl-C stops nginx, the tiers and Redis.
TXT

wait
