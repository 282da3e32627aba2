# llm_router_dispatch: "proxy_pass http://llm_tiers" to an upstream{} that
# hands each request to the chosen tier's upstream{}, instead of
# "proxy_pass http://$llm_upstream".  The same routing, fallback and
# pass-through as with the variable, the tiers' keepalive kept (one
# connection to the tier for many requests), TLS names untouched, and
# nginx -t refusing what cannot work.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;

my $simple = '{"model":"auto","stream":false,"prompt":"What is the capital'
    . ' of France?"}';
my $complex = '{"model":"auto","stream":false,"prompt":"Analyze the time'
    . ' complexity of heapsort, prove its worst case step by step and'
    . ' compare it with merge sort."}';

my ($big, $small) = map { LLMTest::mock_port($_) } qw(big small);
my $port = LLMTest::free_port();

my $nginx = LLMTest::start_nginx("t/servroot-dispatch", $port, <<"CONF");
${\ LLMTest::tiers_conf() }
    llm_router_breaker failures=100;
    upstream llm_tiers { llm_router_dispatch; }

    server {
        listen 127.0.0.1:$port;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        # \$proxy_host is "llm_tiers" here: Ollama wants its own name
        proxy_set_header Host \$llm_upstream_host;
        proxy_connect_timeout 1s;
        proxy_intercept_errors on;
        recursive_error_pages on;
        add_header X-LLM-Route \$llm_target always;
        add_header X-LLM-Fallback \$llm_fallback always;
        add_header X-Up \$upstream_addr always;

        location / {
            llm_router on;
            proxy_pass http://llm_tiers;
            error_page 502 503 504 = \@llm_fallback;
        }
        location \@llm_fallback {
            llm_router on;
            proxy_pass http://llm_tiers;
            error_page 502 503 504 = \@llm_fallback;
        }
        location = /status { llm_router_status; }
    }
CONF

sub post {
    my ($body, $path) = @_;
    return LLMTest::http($port, 'POST', $path || '/api/generate', $body);
}

sub summary {
    my $r = shift;
    my $h = $r->{headers};
    return join ' ', $r->{status}, $h->{'x-llm-route'} // '-',
        $h->{'x-llm-fallback'} // '-', $h->{'x-mock-name'} // '-',
        $h->{'x-up'} // '-';
}

is(summary(post($simple)), "200 small - small 127.0.0.1:$small",
   'a simple prompt: the small tier\'s upstream');
is(summary(post($complex)), "200 big - big 127.0.0.1:$big",
   'a complex prompt: the big tier\'s upstream');

my $r = post('{"model":"gpt-oss:20b","stream":false,"prompt":"hi"}');
is(summary($r), "200 big - big 127.0.0.1:$big", 'a pinned model');
like($r->{content}, qr/"model":"gpt-oss:20b"/, '... answered by that model');

$r = LLMTest::http($port, 'GET', '/api/tags');
is($r->{status}, 200, 'a pass-through endpoint (the router\'s own list)');

$r = post('{"model":"llama3.2:3b"}', '/api/show');
is(summary($r), "200 small - small 127.0.0.1:$small",
   'a named endpoint goes where its model is');

# the tier's keepalive holds: many requests, one connection to the tier
LLMTest::forget_connections();
is(post($simple)->{status}, 200, 'a warm-up request');
my $before = `ss -Htn state established '( dport = :$small )' | wc -l` + 0;
post($simple) for 1 .. 20;
my $after = `ss -Htn state established '( dport = :$small )' | wc -l` + 0;
ok($after <= $before && $after >= 1,
   "20 requests reuse the tier's kept-alive connections ($before, then $after)");

# fallback through the same upstream
LLMTest::stop_mock('big');
like(summary(post($complex)),
     qr/^200 small big->small small 127\.0\.0\.1:$big : 127\.0\.0\.1:$small$/,
     'big down: the fallback goes to small through llm_tiers');
LLMTest::start_mock('big');
ok(LLMTest::wait_until(sub { post($complex)->{headers}{'x-llm-route'} eq 'big' }, 20),
   'big back: complex prompts to big again');

ok(LLMTest::wait_until(sub { LLMTest::inflight_zero($port) }, 10),
   'nothing left in flight');

# nginx -t: what cannot work is refused
my $bin = LLMTest::nginx_command();
sub nginx_t {
    my ($http) = @_;
    my $dir = "t/servroot-dispatch-t";
    mkdir $dir; mkdir "$dir/logs";
    open my $f, '>', "$dir/nginx.conf" or die;
    printf $f "%sevents {}\nhttp {\n%s\n}\n",
        (LLMTest::module_path() ? 'load_module ' . LLMTest::module_path()
                                  . ";\n" : ''), $http;
    close $f;
    return scalar `$bin -t -p $dir/ -c nginx.conf 2>&1`;
}

like(nginx_t(<<"CONF"), qr/upstream "llm_tiers" with "llm_router_dispatch" takes no "server"/,
    upstream u { server 127.0.0.1:1; }
    llm_router_tier big upstream=u model=m;
    upstream llm_tiers { llm_router_dispatch; server 127.0.0.1:2; }
CONF
   'nginx -t: a dispatch upstream with a server');

like(nginx_t(<<"CONF"), qr/tier "big" has upstream=127\.0\.0\.1:1, which is none/,
    llm_router_tier big upstream=127.0.0.1:1 model=m;
    upstream llm_tiers { llm_router_dispatch; }
    server { listen 127.0.0.1:1; location / { llm_router on; proxy_pass http://llm_tiers; } }
CONF
   'nginx -t: a tier whose upstream= is no upstream{}');

like(nginx_t(<<"CONF"), qr/"llm_router_dispatch" is the upstream's only method/,
    upstream u { server 127.0.0.1:1; }
    llm_router_tier big upstream=u model=m;
    upstream llm_tiers { least_conn; llm_router_dispatch; }
CONF
   'nginx -t: another balancer in the same upstream');

like(nginx_t(<<"CONF"), qr/tier "big" has upstream=llm_tiers, which hands requests to the tiers/,
    upstream llm_tiers { llm_router_dispatch; }
    llm_router_tier big upstream=llm_tiers model=m;
CONF
   'nginx -t: a tier sent to the dispatching upstream itself');

done_testing();
