# "nginx -s reload" under traffic: in-flight requests finish on the old
# workers, none is dropped, the shared zone keeps its numbers, and every
# in-flight count returns to 0.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;

my $port = LLMTest::free_port();
my $root = "t/servroot-reload";
my $big = $ENV{TEST_NGINX_BIG_PORT};
my $small = $ENV{TEST_NGINX_SMALL_PORT};

my %opt = (workers => 2, log_level => 'notice');
my $nginx = LLMTest::start_nginx($root, $port, <<"CONF", %opt);
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }
    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    server {
        listen 127.0.0.1:$port;
        proxy_set_header Host \$llm_upstream_host;
        location / {
            llm_router on;
            proxy_pass http://\$llm_upstream;
        }
        location = /metrics { llm_router_status; }
    }
CONF

sub tiers { LLMTest::status($port, '/metrics')->{tiers} }

my $complex = '{"model":"auto","stream":false,"prompt":"Analyze heapsort, prove its'
    . ' complexity and compare it with merge sort step by step."}';
my $simple = '{"model":"auto","stream":false,"prompt":"Hello!"}';

LLMTest::http($port, 'POST', '/api/generate', $simple) for 1 .. 3;
my $before = tiers()->{small}{requests};

my $kid = fork;
if ($kid == 0) {
    my @res = LLMTest::parallel($port,
        (map { ['POST', '/api/generate', $complex, { 'X-Mock-Ttft' => 1500 }] } 1 .. 3),
        (map { ['POST', '/api/generate', $simple, { 'X-Mock-Ttft' => 1500 }] } 1 .. 3));
    POSIX::_exit(scalar(grep { $_->{status} == 200 } @res));
}

ok(LLMTest::wait_until(sub { my $t = tiers(); $t->{big}{inflight} + $t->{small}{inflight} == 6 }, 5),
   "6 requests in flight");
kill 'HUP', $nginx->{pid};
ok(LLMTest::wait_until(sub {
       LLMTest::slurp("$root/logs/error.log") =~ /reconfiguring/ }, 5), "reload started");

waitpid($kid, 0);
is($? >> 8, 6, "all 6 in-flight requests were answered (200) across the reload");

ok(LLMTest::wait_until(sub { my $t = tiers(); $t->{big}{inflight} + $t->{small}{inflight} == 0 }, 10),
   "in-flight back to 0 after the old workers finished");
cmp_ok(tiers()->{small}{requests}, '>=', $before + 3, "the zone kept its counters through the reload");

my $r = LLMTest::http($port, 'POST', '/api/generate', $simple);
is($r->{status}, 200, "the new workers route");

LLMTest::stop_nginx($nginx);
LLMTest::nginx_clean($root);

done_testing();
