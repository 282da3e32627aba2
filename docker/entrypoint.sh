#!/bin/sh
# Renders the router's nginx configuration from the environment, makes a
# self-signed certificate if none was mounted, then runs nginx.
#
# Tiers and cache:
#   OLLAMA_BIG     host:port of the big tier   (default host.docker.internal:11434)
#   OLLAMA_SMALL   host:port of the small tier (default ollama-small:11434)
#   REDIS_ADDR     IP:port of Redis (an IP: hiredis would resolve names blocking)
#   REDIS_PASSWORD Redis password
#
# Listeners (every "listen" line of nginx.conf and jarvis-5010.conf is
# rewritten from these):
#   LLM_ROUTER_LISTEN      all (default): every address of the container, the
#                          right choice on a bridge network, where published
#                          ports arrive on the container's own address (the
#                          host side is bound by "docker run -p" / compose);
#                          loopback: 127.0.0.1 (and ::1) only, for
#                          "docker run --network host", where the container's
#                          listeners are the host's
#   LLM_ROUTER_HTTP_PORT   plain HTTP, redirects to HTTPS (default 80)
#   LLM_ROUTER_HTTPS_PORT  TLS + HTTP/2, the API and /metrics (default 443)
#   LLM_ROUTER_JARVIS_PORT JARVIS's plain-HTTP gateway (default 5010; the
#                          image's HEALTHCHECK asks it for /api/version)
#   LLM_ROUTER_IPV6        auto (default): IPv6 listeners only when the
#                          container's loopback has ::1 (Docker 20.10 turns
#                          IPv6 off there unless the network has IPv6 or the
#                          container runs with
#                          --sysctl net.ipv6.conf.lo.disable_ipv6=0);
#                          on: always (nginx fails to start without IPv6);
#                          off: IPv4 only
#   LLM_ROUTER_CONF_DIR    nginx's configuration directory (default /etc/nginx;
#                          templates/ in it holds the unrendered files)
set -eu
: "${OLLAMA_BIG:=host.docker.internal:11434}"
: "${OLLAMA_SMALL:=ollama-small:11434}"
: "${REDIS_ADDR:=172.28.0.10:6379}"
: "${REDIS_PASSWORD:=}"
: "${LLM_ROUTER_LISTEN:=all}"
: "${LLM_ROUTER_HTTP_PORT:=80}"
: "${LLM_ROUTER_HTTPS_PORT:=443}"
: "${LLM_ROUTER_JARVIS_PORT:=5010}"
: "${LLM_ROUTER_IPV6:=auto}"
: "${LLM_ROUTER_CONF_DIR:=/etc/nginx}"

die() { echo "llm-router-entrypoint: $*" >&2; exit 64; }

case "$LLM_ROUTER_LISTEN" in
    all|loopback) ;;
    *) die "LLM_ROUTER_LISTEN must be 'all' or 'loopback', not '$LLM_ROUTER_LISTEN'" ;;
esac
for p in "$LLM_ROUTER_HTTP_PORT" "$LLM_ROUTER_HTTPS_PORT" "$LLM_ROUTER_JARVIS_PORT"; do
    case "$p" in
        ''|*[!0-9]*) die "listen ports must be numbers, not '$p'" ;;
    esac
    [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "bad listen port $p"
done

# ::1 on the loopback interface (/proc/net/if_inet6 lists the addresses of
# the container's interfaces; it is empty when IPv6 is disabled)
has_ipv6_loopback() {
    [ -r /proc/net/if_inet6 ] &&
        awk '$1 == "00000000000000000000000000000001" && $6 == "lo" { f = 1 }
             END { exit !f }' /proc/net/if_inet6
}
case "$LLM_ROUTER_IPV6" in
    on|off) ipv6=$LLM_ROUTER_IPV6 ;;
    auto) if has_ipv6_loopback; then ipv6=on; else ipv6=off; fi ;;
    *) die "LLM_ROUTER_IPV6 must be auto, on or off, not '$LLM_ROUTER_IPV6'" ;;
esac

dir=$LLM_ROUTER_CONF_DIR
tpl=$dir/templates

# render_listen SRC DST: copies SRC, rewriting each "listen" line: the port
# (80, 443, 5010 -> the LLM_ROUTER_*_PORT values), the address (per
# LLM_ROUTER_LISTEN) and IPv6 lines dropped when IPv6 is off; parameters
# such as "ssl http2" are kept.  worker_rlimit_nofile is capped at $nofile.
# the workers may raise their open-file limit up to the container's hard
# limit, not beyond: nginx.conf's worker_rlimit_nofile is capped at it
nofile=$(ulimit -Hn 2>/dev/null || echo unlimited)

render_listen() {
    awk -v mode="$LLM_ROUTER_LISTEN" -v ipv6="$ipv6" \
        -v p80="$LLM_ROUTER_HTTP_PORT" -v p443="$LLM_ROUTER_HTTPS_PORT" \
        -v p5010="$LLM_ROUTER_JARVIS_PORT" -v nofile="$nofile" '
    nofile ~ /^[0-9]+$/ &&
    match($0, /^[ \t]*worker_rlimit_nofile[ \t]+[0-9]+[ \t]*;/) {
        n = $0
        sub(/^[ \t]*worker_rlimit_nofile[ \t]+/, "", n)
        sub(/[ \t]*;.*/, "", n)
        if (n + 0 > nofile + 0) {
            printf "llm-router: worker_rlimit_nofile %s lowered to %s, the" \
                   " container'"'"'s limit (docker run --ulimit nofile=...)\n", \
                   n, nofile > "/dev/stderr"
            sub(/worker_rlimit_nofile[ \t]+[0-9]+/, "worker_rlimit_nofile  " nofile)
        }
        print
        next
    }
    match($0, /^[ \t]*listen[ \t]+/) {
        head = substr($0, 1, RLENGTH)
        rest = substr($0, RLENGTH + 1)
        match(rest, /^[^ \t;]+/)
        addr = substr(rest, 1, RLENGTH)
        rest = substr(rest, RLENGTH + 1)
        if (addr ~ /^unix:/) { print; next }
        v6 = (addr ~ /^\[/)
        port = addr
        if (port ~ /:/) sub(/.*:/, "", port)
        else if (port !~ /^[0-9]+$/) { print; next }   # a host name: as is
        if (port == "80") port = p80
        else if (port == "443") port = p443
        else if (port == "5010") port = p5010
        if (v6 && ipv6 != "on") next
        if (mode == "loopback") addr = (v6 ? "[::1]:" : "127.0.0.1:") port
        else addr = (v6 ? "[::]:" : "") port
        print head addr rest
        next
    }
    { print }' "$1" > "$2.tmp"
    mv -f "$2.tmp" "$2"
}

render_listen "$tpl/nginx.conf" "$dir/nginx.conf"
render_listen "$tpl/jarvis-5010.conf" "$dir/jarvis-5010.conf"

REDIS_AUTH=""
[ -n "$REDIS_PASSWORD" ] && REDIS_AUTH="password=$REDIS_PASSWORD"
export OLLAMA_BIG OLLAMA_SMALL REDIS_ADDR REDIS_AUTH
envsubst '$OLLAMA_BIG $OLLAMA_SMALL $REDIS_ADDR $REDIS_AUTH' \
    < "$tpl/llm_router_http.conf.template" \
    > "$dir/llm_router_http.conf"

if [ ! -f "$dir/certs/router.crt" ]; then
    mkdir -p "$dir/certs"
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=llm-router \
        -keyout "$dir/certs/router.key" -out "$dir/certs/router.crt" \
        >/dev/null 2>&1
fi

if [ "$LLM_ROUTER_LISTEN" = loopback ]; then where="127.0.0.1"; else where="every address"; fi
[ "$ipv6" = on ] && where="$where, IPv4 and IPv6" || where="$where, IPv4 only"
echo "llm-router: http $LLM_ROUTER_HTTP_PORT, https $LLM_ROUTER_HTTPS_PORT," \
     "jarvis $LLM_ROUTER_JARVIS_PORT on $where; tiers big=$OLLAMA_BIG" \
     "small=$OLLAMA_SMALL; redis $REDIS_ADDR" >&2
exec "$@"
