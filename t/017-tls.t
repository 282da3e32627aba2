# TLS: the router served over TLS + HTTP/2 (routing, streaming, cache hits,
# checked with curl --http2), and a tier reached over TLS with certificate
# verification on.  A throwaway CA and certificates come from openssl.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use File::Temp qw(tempdir);
use Time::HiRes qw(time);

my $ca = tempdir(CLEANUP => 1);
my $big = $ENV{TEST_NGINX_BIG_PORT};
my $small = $ENV{TEST_NGINX_SMALL_PORT};

sub sh { my $c = shift; my $out = `$c 2>&1`; die "$c:\n$out" if $?; $out }

# a CA, and a certificate for 127.0.0.1 / "ollama-small.test" signed by it
sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca"
   . " -keyout $ca/ca.key -out $ca/ca.crt");
open my $ext, '>', "$ca/ext.cnf" or die;
print $ext "subjectAltName=IP:127.0.0.1,DNS:ollama-small.test,DNS:localhost\n";
close $ext;
sh("openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1"
   . " -keyout $ca/server.key -out $ca/server.csr");
sh("openssl x509 -req -in $ca/server.csr -CA $ca/ca.crt -CAkey $ca/ca.key"
   . " -CAcreateserial -days 2 -extfile $ca/ext.cnf -out $ca/server.crt");

my $rport = LLMTest::start_redis(undef);
my $port = LLMTest::free_port();
my $tls_tier = LLMTest::free_port();
my $root = "t/servroot-tls";

my $nginx = LLMTest::start_nginx($root, $port, <<"CONF");
    # the small tier speaks TLS (a TLS terminator in front of the mock)
    server {
        listen 127.0.0.1:$tls_tier ssl;
        ssl_certificate $ca/server.crt;
        ssl_certificate_key $ca/server.key;
        location / { proxy_pass http://127.0.0.1:$small; proxy_buffering off; }
    }

    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }
    upstream ollama_small_tls { server 127.0.0.1:$tls_tier; keepalive 8; }
    upstream ollama_small_tls_nokeepalive { server 127.0.0.1:$tls_tier; }

    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    # a remote tier behind TLS: \$llm_upstream_scheme is https for it
    llm_router_tier cloud upstream=ollama_small_tls model=llama3.2:3b rank=3
                    tls host=ollama-small.test overflow;
    llm_redis 127.0.0.1:$rport timeout=1s;

    server {
        listen 127.0.0.1:$port ssl http2;
        ssl_certificate $ca/server.crt;
        ssl_certificate_key $ca/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$llm_upstream_host;
        proxy_buffering off;
        add_header X-LLM-Route \$llm_target always;

        location /api/ {
            llm_router on;
            llm_cache on;
            proxy_pass http://\$llm_upstream;
        }

        # both tiers over TLS, verified against the test CA
        location /tls/ {
            llm_router on;
            llm_router_dialect ollama_generate;
            proxy_pass https://ollama_small_tls/api/generate;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $ca/ca.crt;
            proxy_ssl_server_name on;
            proxy_ssl_name ollama-small.test;
            proxy_ssl_session_reuse on;
        }

        # one location for every tier, http or https by the tier
        location /mixed/ {
            llm_router on;
            llm_router_dialect ollama_generate;
            llm_router_override_header X-LLM-Tier;
            proxy_pass \$llm_upstream_scheme://\$llm_upstream/api/generate;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $ca/ca.crt;
            proxy_ssl_server_name on;
            proxy_ssl_name \$llm_upstream_host;
        }

        location /tls-wrong-name/ {
            llm_router on;
            llm_router_dialect ollama_generate;
            proxy_pass https://ollama_small_tls_nokeepalive/api/generate;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $ca/ca.crt;
            proxy_ssl_name not-the-cert.example;
        }
    }
CONF

my $curl = "curl -s --http2 --cacert $ca/ca.crt -D - -o $ca/body";

sub req {
    my ($path, $body, @extra) = @_;
    open my $b, '>', "$ca/req" or die;
    print $b $body;
    close $b;
    my $head = `$curl @extra -X POST --data-binary \@$ca/req https://127.0.0.1:$port$path`;
    my $content = LLMTest::slurp("$ca/body");
    return ($head, $content);
}

my ($h, $c) = req('/api/generate', '{"model":"auto","stream":false,"prompt":"Hello!"}');
like($h, qr{^HTTP/2 200}m, "HTTP/2 over TLS");
like($h, qr/^x-llm-route: small/mi, "a simple prompt routed to small");
like($c, qr/"model":"llama3\.2:3b"/, "... with the model rewritten");

($h, $c) = req('/api/generate', '{"model":"auto","stream":false,"prompt":"Analyze heapsort,'
               . ' prove its complexity step by step and compare it with merge sort."}');
like($h, qr/^x-llm-route: big/mi, "a complex prompt routed to big");

# streaming: the first chunk arrives while the tier is still generating
my $t0 = time;
($h, $c) = req('/api/chat', '{"model":"auto","messages":[{"role":"user","content":"Hi"}]}',
               '-H', "'X-Mock-Tokens: 4'", '-H', "'X-Mock-Tps: 0.5'", '--max-time', '1.5');
like($c, qr/\A\{[^\n]*"content":"tok0 "[^\n]*"done":false\}\n/, "streamed over HTTP/2: first chunk received");
unlike($c, qr/"done":true/, "... before the tier finished");

# cache hits over TLS
my $q = '{"model":"auto","stream":false,"prompt":"Cache me over TLS"}';
req('/api/generate', $q);
# (valgrind: the workers' first Redis connection may take a few retries)
ok(LLMTest::wait_until(sub { (req('/api/generate', $q))[0] =~ /^x-llm-cache: HIT/mi },
                       $ENV{TEST_NGINX_USE_VALGRIND} ? 30 : 5),
   "a repeated request is a cache hit over TLS");

# upstream TLS with verification
($h, $c) = req('/tls/', '{"model":"auto","stream":false,"prompt":"Hello!"}');
like($h, qr{^HTTP/2 200}m, "a tier over TLS, certificate verified");
like($c, qr/"model":"llama3\.2:3b".*"done":true/, "... answered, model rewritten");

($h, $c) = req('/tls-wrong-name/', '{"model":"auto","stream":false,"prompt":"Hello!"}');
like($h, qr{^HTTP/2 502}m, "a certificate for another name is refused (502)");
like(LLMTest::slurp("$root/logs/error.log"), qr/upstream SSL certificate does not match/,
     "... and logged");

# the scheme by the tier: https for a tier declared "tls", verified
($h, $c) = req('/mixed/', '{"model":"auto","stream":false,"prompt":"Hello!"}',
               '-H', "'X-LLM-Tier: cloud'");
like($h, qr{^HTTP/2 200}m, "a tls tier through \$llm_upstream_scheme");
like($h, qr/^x-llm-route: cloud/mi, "... the cloud tier");
($h, $c) = req('/mixed/', '{"model":"auto","stream":false,"prompt":"Hello!"}');
like($h, qr/^x-llm-route: small/mi, "... and plain http for the others");
like($c, qr/"done":true/, "... answered");

LLMTest::stop_nginx($nginx);
done_testing();
