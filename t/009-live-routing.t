# Live routing across workers: queue depth, in-flight counts in the shared
# zone, a two-server tier, the override header, and refusal when full.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use IO::Socket::INET;

my $servroot = "t/servroot-live";
my $port = LLMTest::free_port();
my $big = $ENV{TEST_NGINX_BIG_PORT};
my $small = $ENV{TEST_NGINX_SMALL_PORT};
my $big2 = LLMTest::start_mock('big2');

my $complex = '{"model":"auto","stream":false,"prompt":"Analyze the time'
    . ' complexity of heapsort, prove its worst case step by step and'
    . ' compare it with merge sort."}';
my $simple = '{"model":"auto","stream":false,"prompt":"Hello!"}';
my %slow = ('X-Mock-Ttft' => 1500);

my $nginx = LLMTest::start_nginx($servroot, $port, <<"CONF", workers => 2);
    upstream ollama_big {
        zone ollama_big 64k;
        least_conn;
        server 127.0.0.1:$big;
        server 127.0.0.1:$big2;
        keepalive 8;
    }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }

    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b max_inflight=2;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b max_inflight=16;

    server {
        listen 127.0.0.1:$port reuseport;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$llm_upstream_host;
        add_header X-LLM-Route \$llm_target always;
        add_header X-LLM-Reason \$llm_route_reason always;
        add_header X-Worker \$pid always;

        location / {
            llm_router on;
            proxy_pass http://\$llm_upstream;
        }
        location /forced/ {
            llm_router on;
            llm_router_override_header X-LLM-Tier;
            llm_router_dialect ollama_generate;
            proxy_pass http://\$llm_upstream/api/generate;
        }
        location /full/ {
            llm_router on;
            llm_router_overload reject retry_after=7s;
            llm_router_dialect ollama_generate;
            proxy_pass http://\$llm_upstream/api/generate;
        }
        location = /status { llm_router_status; }
    }
CONF

sub inflight {
    my $s = LLMTest::status($port);
    return ($s->{tiers}{big}{inflight}, $s->{tiers}{small}{inflight});
}

# 1. queue depth: 12 complex requests at once, big takes 2 ------------------

my $pid = fork;
if ($pid == 0) {
    # while they run, the zone shows them in flight
    my $seen = LLMTest::wait_until(sub {
        my ($b, $s) = inflight();
        return $b == 2 && $s == 10 ? 1 : 0;
    }, 10);
    POSIX::_exit($seen ? 0 : 1);
}

my @res = LLMTest::parallel($port,
    map { ['POST', '/api/generate', $complex, \%slow] } 1 .. 12);
waitpid($pid, 0);
is($? >> 8, 0, "while running: 2 in flight on big, 10 on small (status)");

my %route;
my %reason;
my %workers;
for my $r (@res) {
    $route{$r->{headers}{'x-llm-route'} || 'none'}++;
    $reason{$r->{headers}{'x-llm-reason'} || 'none'}++;
    $workers{$r->{headers}{'x-worker'} || 0}++;
}

is($route{big}, 2, "exactly max_inflight=2 complex requests on big, across workers");
is($route{small}, 10, "the other 10 on small");
is($reason{complexity}, 2, "big ones: reason complexity");
is($reason{queue}, 10, "small ones: reason queue");
is(scalar(grep { $_->{status} == 200 } @res), 12, "every request answered");
cmp_ok(scalar(keys %workers), '>=', 2, "requests were spread over both workers");

my ($b, $s) = inflight();
is("$b/$s", "0/0", "in-flight back to 0 after the burst");

# 2. two-server tier: nginx balances inside it -----------------------------

LLMTest::mock_reset('big', 'big2');
@res = LLMTest::parallel($port,
    map { ['POST', '/api/generate', $complex, { 'X-Mock-Ttft' => 300 }] } 1 .. 2);
my %served = map { ($_->{headers}{'x-mock-name'} || 'none') => 1 } @res;
ok($served{big} && $served{big2},
   "the big tier's two servers each took one request (least_conn)");
is(LLMTest::status($port)->{tiers}{big}{inflight}, 0, "tier count back to 0");

# 3. override header --------------------------------------------------------

my $r = LLMTest::http($port, 'POST', '/forced/', $simple, { 'X-LLM-Tier' => 'big' });
is($r->{headers}{'x-llm-route'}, 'big', "override header forces a simple prompt to big");
is($r->{headers}{'x-llm-reason'}, 'override', "reason override");

$r = LLMTest::http($port, 'POST', '/api/generate', $simple, { 'X-LLM-Tier' => 'big' });
is($r->{headers}{'x-llm-route'}, 'small', "the header is ignored where not enabled");

$r = LLMTest::http($port, 'POST', '/forced/', $simple, { 'X-LLM-Tier' => 'huge' });
is($r->{headers}{'x-llm-route'}, 'small', "an unknown tier in the header is ignored");

# 4. both full: refuse with 503 and Retry-After -----------------------------

my $filler = fork;
if ($filler == 0) {
    LLMTest::parallel($port,
        (map { ['POST', '/api/generate', $complex, { 'X-Mock-Ttft' => 1500 }] } 1 .. 2),
        (map { ['POST', '/api/generate', $simple, { 'X-Mock-Ttft' => 1500 }] } 1 .. 16));
    POSIX::_exit(0);
}

ok(LLMTest::wait_until(sub { my ($b, $s) = inflight(); $b == 2 && $s == 16 }, 10),
   "both tiers full (2/2 and 16/16)");

$r = LLMTest::http($port, 'POST', '/full/', $simple);
is($r->{status}, 503, "refused while both are full");
is($r->{headers}{'retry-after'}, '7', "Retry-After from llm_router_overload");
is($r->{headers}{'x-llm-reason'}, 'full', "reason full");
is($r->{content}, qq({"error":"every tier is busy, retry later"}\n),
   "JSON error in the Ollama style");

$r = LLMTest::http($port, 'POST', '/api/generate', $simple, { 'X-Mock-Ttft' => 10 });
is($r->{status}, 200, "least_loaded (the default) still serves");
is($r->{headers}{'x-llm-reason'}, 'queue', "... with reason queue");

waitpid($filler, 0);

($b, $s) = inflight();
is("$b/$s", "0/0", "in-flight back to 0");

# 5. a client that goes away mid-stream leaves the count ---------------------

{
    my $body = '{"model":"auto","prompt":"Hello!"}';
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                     Proto => 'tcp', Timeout => 5)
        or die "connect: $!";
    print $sock "POST /api/generate HTTP/1.1\r\nHost: localhost\r\n"
        . "X-Mock-Tokens: 50\r\nX-Mock-Tps: 5\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n$body";
    my $got = '';
    while ($got !~ /"done":false/) {
        my $n = sysread($sock, $got, 4096, length $got);
        last unless $n;
    }
    like($got, qr/"response":"tok0 "/, "the stream started");
    my ($b, $s) = inflight();
    is($s, 1, "one request in flight on small while streaming");
    close $sock;
    ok(LLMTest::wait_until(sub { my ($b, $s) = inflight(); $b + $s == 0 }, 10),
       "client closed mid-stream: in-flight back to 0");
}

LLMTest::stop_nginx($nginx);
LLMTest::nginx_clean($servroot);

done_testing();
