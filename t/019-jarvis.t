# The JARVIS drop-in (conf/jarvis-5010.conf with conf/llm_router_locations.conf)
# answers the assistant's own commands unchanged: its curl call and its ab
# benchmark (on a free port instead of 5010).
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use File::Temp qw(tempdir);

my $port = LLMTest::free_port();
my $root = File::Spec->rel2abs("t/servroot-jarvis");
my $big = $ENV{TEST_NGINX_BIG_PORT};
my $small = $ENV{TEST_NGINX_SMALL_PORT};
my $rport = LLMTest::start_redis(undef);

mkdir $root;
mkdir "$root/conf";
my $loc = LLMTest::slurp('conf/llm_router_locations.conf');
open my $f, '>', "$root/conf/llm_router_locations.conf" or die;
print $f $loc;
close $f;
my $drop = LLMTest::slurp('conf/jarvis-5010.conf');
$drop =~ s/listen\s+127\.0\.0\.1:5010;/listen 127.0.0.1:$port;/;
$drop =~ s/\n\s*listen\s+\[::1\]:5010;//;
$drop =~ s/include\s+llm_router_locations\.conf;/include $root\/conf\/llm_router_locations.conf;/;

my $nginx = LLMTest::start_nginx($root, $port, <<"CONF");
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }
    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b max_inflight=4 queue=4;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b max_inflight=8 queue=8;
    llm_redis 127.0.0.1:$rport timeout=1s;
$drop
CONF

my $out = `curl -s -D - -X POST localhost:$port/generate -d '{"prompt":"Hello"}'`;
like($out, qr{^HTTP/1\.1 200}m, "curl -X POST .../generate -d '{\"prompt\":\"Hello\"}' works unchanged");
like($out, qr/^X-LLM-Route: small/mi, "... routed to the small tier");
like($out, qr/"response":"tok0 /, "... with an Ollama generate answer");

$out = `curl -s -D - -X POST localhost:$port/generate -d '{"prompt":"Analyze this algorithm complexity and prove its worst case step by step"}'`;
like($out, qr/^X-LLM-Route: big/mi, "the study's complex query goes to the big tier");

my $d = tempdir(CLEANUP => 1);
open my $p, '>', "$d/payload.json" or die;
print $p '{"prompt":"Explain quantum computing", "max_tokens":100}';
close $p;
SKIP: {
    skip "ab (apache2-utils) not installed", 2 unless -x '/usr/bin/ab';
    $out = `ab -n 100 -c 10 -T application/json -p $d/payload.json http://127.0.0.1:$port/generate 2>&1`;
    like($out, qr/Complete requests:\s+100\b/, "ab -n 100 -c 10 completes");
    # ab counts an answer whose length differs from the first one as
    # "failed (Length)"; the mock's timings (total_duration, ...) vary in
    # digits, so only connect, receive and exception failures count here
    my ($conn, $recv, $exc) = $out =~ /\(Connect: (\d+), Receive: (\d+), Length: \d+, Exceptions: (\d+)\)/;
    $conn //= 0; $recv //= 0; $exc //= 0;
    ok($out =~ /Failed requests:\s+0\b/ || ($conn + $recv + $exc == 0 && $out !~ /Non-2xx/),
       "... with no failed request (connect, receive, exceptions, non-2xx)") or diag($out);
}

LLMTest::stop_nginx($nginx);
LLMTest::nginx_clean($root);
done_testing();
