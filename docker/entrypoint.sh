#!/bin/sh
# Renders the http-level router config from the environment, makes a
# self-signed certificate if none was mounted, then runs nginx.
#   OLLAMA_BIG     host:port of the big tier   (default host.docker.internal:11434)
#   OLLAMA_SMALL   host:port of the small tier (default ollama-small:11434)
#   REDIS_ADDR     IP:port of Redis (an IP: hiredis would resolve names blocking)
#   REDIS_PASSWORD Redis password
set -eu
: "${OLLAMA_BIG:=host.docker.internal:11434}"
: "${OLLAMA_SMALL:=ollama-small:11434}"
: "${REDIS_ADDR:=172.28.0.10:6379}"
: "${REDIS_PASSWORD:=}"
REDIS_AUTH=""
[ -n "$REDIS_PASSWORD" ] && REDIS_AUTH="password=$REDIS_PASSWORD"
export OLLAMA_BIG OLLAMA_SMALL REDIS_ADDR REDIS_AUTH
envsubst '$OLLAMA_BIG $OLLAMA_SMALL $REDIS_ADDR $REDIS_AUTH' \
    < /etc/nginx/templates/llm_router_http.conf.template \
    > /etc/nginx/llm_router_http.conf
if [ ! -f /etc/nginx/certs/router.crt ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=llm-router \
        -keyout /etc/nginx/certs/router.key -out /etc/nginx/certs/router.crt \
        >/dev/null 2>&1
fi
exec "$@"
