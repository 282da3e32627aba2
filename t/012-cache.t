# Redis response cache with a real redis-server: hits, tenants, streams
# replayed in their framing, what is never stored, bypass, single-flight.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use Time::HiRes ();

my $rport = LLMTest::start_redis(undef);
my $port = LLMTest::free_port();
my $servroot = "t/servroot-cache";
my $big = $ENV{TEST_NGINX_BIG_PORT};
my $small = $ENV{TEST_NGINX_SMALL_PORT};

my $nginx = LLMTest::start_nginx($servroot, $port, <<"CONF", workers => 2);
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }

    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    llm_redis 127.0.0.1:$rport timeout=300ms;

    server {
        listen 127.0.0.1:$port;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$llm_upstream_host;
        proxy_buffering off;
        llm_cache on;
        llm_cache_ttl 60s;
        llm_cache_bypass \$http_x_no_cache;
        add_header X-LLM-Route \$llm_target always;

        location / {
            llm_router on;
            proxy_pass http://\$llm_upstream;
        }
        location /small-cap/ {
            llm_router on;
            llm_router_dialect ollama_generate;
            llm_cache_max_size 100;
            proxy_pass http://\$llm_upstream/api/generate;
        }
        location = /status { llm_router_status; }
    }
CONF

ok(LLMTest::wait_until(sub {
       LLMTest::http($port, 'GET', '/status')->{content}
           =~ /^llm_router_redis_connected_workers 2$/m }, 30),
   "both workers connected to redis");

sub keys_n { scalar @{ LLMTest::redis($rport, 'KEYS', 'llm:*') || [] } }

sub stored_after {
    my ($n) = @_;
    return LLMTest::wait_until(sub { keys_n() >= $n }, 5);
}

sub post {
    my ($body, $h, $path) = @_;
    return LLMTest::http($port, 'POST', $path || '/api/chat', $body, $h);
}

# 1. miss, then hit for the same request written differently --------------

my $a = '{"model":"auto","stream":false,"messages":[{"role":"user","content":"Hi there"}],"options":{"temperature":0.2,"seed":7}}';
my $b = qq({ "options" : { "seed":7, "temperature":0.20 },\n "stream":false, "messages":[{"content":"Hi there","role":"user"}], "model":"auto" });

my $r1 = post($a);
is($r1->{headers}{'x-llm-cache'}, 'MISS', "first request: MISS");
is($r1->{headers}{'x-mock-name'}, 'small', "... answered by a tier");
ok(stored_after(1), "... then stored in redis (asynchronously)");

my $before = LLMTest::mock_stats('small')->{requests};
my $st0 = LLMTest::status($port);
my $r2 = post($b);
is($r2->{headers}{'x-llm-cache'}, 'HIT', "same request, other key order and spacing: HIT");
is($r2->{content}, $r1->{content}, "... the same answer, byte for byte");
is($r2->{headers}{'content-type'}, $r1->{headers}{'content-type'}, "... same content type");
ok(!defined $r2->{headers}{'x-mock-name'}, "... no tier answered");
is($r2->{headers}{'x-llm-route'}, 'cache', "... \$llm_target is cache");
is(LLMTest::mock_stats('small')->{requests}, $before, "... the backend saw nothing");
my $st1 = LLMTest::status($port);
is($st1->{tiers}{small}{requests}, $st0->{tiers}{small}{requests},
   "... and no tier counted it");
is($st1->{tiers}{small}{inflight} + $st1->{tiers}{big}{inflight}, 0, "in-flight 0");

# 2. tenants never share ---------------------------------------------------

my $t = '{"model":"auto","stream":false,"prompt":"What is the capital of Peru?"}';
my $r = post($t, { Authorization => 'Bearer alice' }, '/api/generate');
is($r->{headers}{'x-llm-cache'}, 'MISS', "alice: MISS");
ok(stored_after(2), "alice's answer stored");
$r = post($t, { Authorization => 'Bearer bob' }, '/api/generate');
is($r->{headers}{'x-llm-cache'}, 'MISS', "bob, same request: MISS (other tenant)");
$r = post($t, { Authorization => 'Bearer alice' }, '/api/generate');
is($r->{headers}{'x-llm-cache'}, 'HIT', "alice again: HIT");

# 3. streams: NDJSON and SSE replayed in their framing ----------------------

my $s = '{"model":"auto","prompt":"Say hello in French"}';
$r1 = post($s, {}, '/api/generate');
is($r1->{headers}{'x-llm-cache'}, 'MISS', "NDJSON stream: MISS");
my $n = keys_n();
ok(stored_after($n), "stream stored");
LLMTest::wait_until(sub { keys_n() > $n - 1 }, 5);
$r2 = post($s, {}, '/api/generate');
is($r2->{headers}{'x-llm-cache'}, 'HIT', "NDJSON stream again: HIT");
is($r2->{headers}{'content-type'}, 'application/x-ndjson', "... NDJSON content type");
is($r2->{content}, $r1->{content}, "... the same lines");
like($r2->{content}, qr/\A(\{[^\n]*"done":false\}\n)+\{[^\n]*"done":true[^\n]*\}\n\z/,
     "... NDJSON lines ending with done:true");

$r = post('{"model":"auto","prompt":"Say hello in French","stream":false}', {}, '/api/generate');
is($r->{headers}{'x-llm-cache'}, 'MISS', "the non-stream form of it is another entry");

my $sse = '{"model":"auto","stream":true,"messages":[{"role":"user","content":"Count to three"}]}';
$r1 = post($sse, {}, '/v1/chat/completions');
is($r1->{headers}{'x-llm-cache'}, 'MISS', "SSE stream: MISS");
ok(LLMTest::wait_until(sub {
       post($sse, {}, '/v1/chat/completions')->{headers}{'x-llm-cache'} eq 'HIT' }, 5),
   "SSE stream again: HIT");
$r2 = post($sse, {}, '/v1/chat/completions');
is($r2->{content}, $r1->{content}, "... same events");
like($r2->{content}, qr/\A(data: \{[^\n]*\}\n\n)+data: \[DONE\]\n\n\z/, "... ending with [DONE]");

# the replay really is one event per chunk
{
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die;
    print $sock "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        . "Content-Length: " . length($sse) . "\r\n\r\n$sse";
    local $/;
    my $raw = <$sock>;
    my ($body) = $raw =~ /\r\n\r\n(.*)\z/s;
    my @chunks = ($body =~ /(?:^|\r\n)([0-9a-f]+)\r\ndata: /g);
    my @events = ($r2->{content} =~ /^data: /mg);
    is(scalar(@chunks), scalar(@events), "replayed SSE: one chunk per event");
}

# 4. never stored: errors, broken streams, oversized answers ---------------

$n = keys_n();
$r = post('{"model":"auto","stream":false,"prompt":"unique 1"}', { 'X-Mock-Fail' => 500 }, '/api/generate');
is($r->{status}, 500, "a 500 from the tier");
$r = post('{"model":"auto","prompt":"unique 2"}', { 'X-Mock-Fail' => 'close' }, '/api/generate');
unlike($r->{content}, qr/"done":true/, "a stream cut in the middle");
$r = post('{"model":"auto","stream":false,"prompt":"unique 3"}', {}, '/small-cap/');
is($r->{headers}{'x-llm-cache'}, 'MISS', "an answer over llm_cache_max_size");
# a marker request after them, on the same connection order
post('{"model":"auto","stream":false,"prompt":"marker"}', {}, '/api/generate');
ok(stored_after($n + 1), "the marker is stored");
is(keys_n(), $n + 1, "... and nothing else: no error, no partial stream, nothing over the cap");
for my $p ("unique 1", "unique 3") {
    my $path = $p eq 'unique 3' ? '/small-cap/' : '/api/generate';
    $r = post(qq({"model":"auto","stream":false,"prompt":"$p"}), {}, $path);
    is($r->{headers}{'x-llm-cache'}, 'MISS', "'$p' is still a MISS");
}

# 5. bypass ------------------------------------------------------------------

$r = post($a, { 'Cache-Control' => 'no-cache' });
is($r->{headers}{'x-llm-cache'}, 'BYPASS', "Cache-Control: no-cache: BYPASS");
is($r->{headers}{'x-mock-name'}, 'small', "... served by the tier");
$r = post($a, { 'X-No-Cache' => '1' });
is($r->{headers}{'x-llm-cache'}, 'BYPASS', "llm_cache_bypass: BYPASS");
$r = post('{"prompt":5}', {}, '/api/generate');
is($r->{status}, 400, "a bad request is not looked up");
is($r->{headers}{'x-llm-cache'}, 'BYPASS', "... and says BYPASS");

# 6. single-flight: one backend request for two identical ones --------------

LLMTest::mock_reset('small');
my @res = LLMTest::parallel($port,
    map { ['POST', '/api/generate', '{"model":"auto","stream":false,"prompt":"single flight"}',
           { 'X-Mock-Ttft' => 600 }] } 1 .. 3);
is(scalar(grep { $_->{status} == 200 } @res), 3, "three identical requests answered");
is(LLMTest::mock_stats('small')->{requests}, 1, "... the backend saw one");
my %c = map { ($_->{headers}{'x-llm-cache'} // '') => 1 } @res;
ok($c{MISS} && $c{HIT}, "... one MISS, the others HIT after waiting");
is($res[0]{content}, $res[1]{content}, "... same answer");
cmp_ok(LLMTest::status($port)->{cache}{single_flight_waits}, '>=', 2, "status counts the waits");

# the holder fails: the waiter goes on alone
LLMTest::mock_reset('small');
my $holder = fork;
if ($holder == 0) {
    post('{"model":"auto","stream":false,"prompt":"fails once"}',
         { 'X-Mock-Ttft' => 500, 'X-Mock-Fail' => 'close' }, '/api/generate');
    POSIX::_exit(0);
}
ok(LLMTest::wait_until(sub { scalar @{ LLMTest::redis($rport, 'KEYS', 'llm:lock:*') || [] } }, 5),
   "the first request holds the fill lock");
$r = post('{"model":"auto","stream":false,"prompt":"fails once"}', {}, '/api/generate');
waitpid($holder, 0);
is($r->{status}, 200, "the holder's answer broke: the waiter was answered by the tier");
is($r->{headers}{'x-llm-cache'}, 'MISS', "... as a MISS");
is(LLMTest::mock_stats('small')->{requests}, 2, "... after the holder's attempt");

ok(LLMTest::wait_until(sub { my $x = LLMTest::status($port)->{tiers};
                             $x->{small}{inflight} + $x->{big}{inflight} == 0 }, 5),
   "in-flight back to 0");

LLMTest::stop_nginx($nginx);
LLMTest::nginx_clean($servroot);

done_testing();
