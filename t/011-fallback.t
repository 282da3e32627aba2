# Fallback to the other tier, circuit breaker, and active health checks.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;


my $complex = '{"model":"auto","stream":false,"prompt":"Analyze the time'
    . ' complexity of heapsort, prove its worst case step by step and'
    . ' compare it with merge sort."}';
my $complex_stream = $complex =~ s/"stream":false/"stream":true/r;
my $medium = '{"model":"auto","stream":false,"prompt":"Describe how a'
    . ' hash table handles collisions."}';

sub conf {
    my ($port, $extra) = @_;
    return <<"CONF";
${\ LLMTest::tiers_conf() }
    $extra

    server {
        listen 127.0.0.1:$port;
${\ LLMTest::fallback_server() }
        add_header X-LLM-Route \$llm_target always;
        add_header X-LLM-Reason \$llm_route_reason always;
        add_header X-LLM-Fallback \$llm_fallback always;

        location = /generate {
            llm_router on;
            proxy_pass http://\$llm_upstream/api/generate;
            error_page 502 503 504 = \@llm_fallback_generate;
        }
        location \@llm_fallback_generate {
            llm_router on;
            proxy_pass http://\$llm_upstream/api/generate;
            error_page 502 503 504 = \@llm_fallback_generate;
        }
        location = /status { llm_router_status; }
    }
CONF
}

sub post {
    my ($port, $body, $path, $h) = @_;
    my $r = LLMTest::http($port, 'POST', $path || '/api/generate', $body, $h);
    return $r;
}

sub summary {
    my $r = shift;
    my $h = $r->{headers};
    return join ' ', $r->{status}, $h->{'x-llm-route'} // '-',
        $h->{'x-llm-reason'} // '-', $h->{'x-llm-fallback'} // '-',
        $h->{'x-mock-name'} // '-';
}

# --- fallback ---------------------------------------------------------------

my $port = LLMTest::free_port();
my $nginx = LLMTest::start_nginx("t/servroot-fallback", $port,
                                 conf($port, "llm_router_breaker failures=100;"));

is(summary(post($port, $complex)), "200 big complexity - big", "big serves normally");

LLMTest::stop_mock('big');
is(summary(post($port, $complex)), "200 small fallback big->small small",
   "big down (connection refused): answered by small");
my $r = post($port, '{"prompt":"Prove Fermat\'s little theorem step by step and justify each step."}', '/generate');
is(summary($r), "200 small fallback big->small small",
   "JARVIS /generate falls back too");
like($r->{content}, qr/"model":"llama3\.2:3b"/, "... with the small model written in");

# a body past 4 KB goes upstream as pieces of the client's own bytes
my $large = '{"model":"auto","stream":false,"prompt":"'
    . ('Explain the proof step by step. ' x 280) . '"}';
$r = post($port, $large);
is(summary($r), "200 small fallback big->small small",
   "a large body falls back too");
like($r->{content}, qr/"model":"llama3\.2:3b"/, "... with the small model written in");
LLMTest::start_mock('big');
$r = post($port, $large);
is(summary($r), "200 big complexity - big", "a large body on big");
like($r->{content}, qr/"model":"gpt-oss:20b"/, "... with the big model written in");

LLMTest::mock_config('big', { fail => 503 });
is(summary(post($port, $complex)), "200 small fallback big->small small",
   "big answering 503: answered by small");

LLMTest::mock_config('big', { fail => 'hang' });
$r = post($port, $complex_stream);
is(summary($r), "200 small fallback big->small small",
   "big hanging past the read timeout, streamed request: small streams it");
like($r->{content}, qr/"done":true/, "... the whole stream");

LLMTest::mock_config('big', { fail => 503 });
LLMTest::mock_config('small', { fail => 503 });
$r = post($port, $complex);
is($r->{status}, 502, "both failing: one clean 502");
is($r->{content}, qq({"error":"no tier could answer: both failed"}\n), "... in JSON");

$r = post($port, '{"model":"auto","messages":[{"role":"user","content":"Hi"}]}',
          '/v1/chat/completions');
is($r->{status}, 502, "both failing, OpenAI dialect");
like($r->{content}, qr/^\{"error":\{"message":"no tier could answer: both failed","type":"api_error"/,
     "... OpenAI-style error");

LLMTest::mock_restore('big', 'small');
ok(LLMTest::wait_until(sub { LLMTest::inflight_zero($port) }, 5), "in-flight back to 0");
my $st = LLMTest::status($port);
cmp_ok($st->{tiers}{big}{fallbacks}, '>=', 5, "status counts fallbacks away from big");
LLMTest::stop_nginx($nginx);

# --- circuit breaker --------------------------------------------------------

$port = LLMTest::free_port();
$nginx = LLMTest::start_nginx("t/servroot-breaker", $port,
                              conf($port, "llm_router_breaker failures=2 cooldown=1s;"));

LLMTest::mock_config('big', { fail => 503 });
post($port, $complex) for 1 .. 2;
$st = LLMTest::status($port);
is($st->{tiers}{big}{breaker}, 'open', "two failures in a row open the breaker");

my $stats = LLMTest::mock_stats('big');
is(summary(post($port, $complex)), "200 small down - small",
   "while open: complex goes straight to small, reason down");
is(LLMTest::mock_stats('big')->{requests}, $stats->{requests}, "... big not even tried");

LLMTest::mock_restore('big');
ok(LLMTest::wait_until(sub { LLMTest::status($port)->{tiers}{big}{breaker} eq 'half-open' }, 5),
   "after the cool-down: half-open");
is(summary(post($port, $complex)), "200 big complexity - big",
   "the probe goes to big and succeeds");
is(LLMTest::status($port)->{tiers}{big}{breaker}, 'closed', "breaker closed again");

# a failed probe reopens it
LLMTest::mock_config('big', { fail => 503 });
post($port, $complex) for 1 .. 2;
ok(LLMTest::wait_until(sub { LLMTest::status($port)->{tiers}{big}{breaker} eq 'half-open' }, 5),
   "open, then half-open again");
is(summary(post($port, $complex)), "200 small fallback big->small small",
   "the probe fails: answered by small");
is(LLMTest::status($port)->{tiers}{big}{breaker}, 'open', "breaker open again");
LLMTest::mock_restore('big');
ok(LLMTest::wait_until(sub { LLMTest::inflight_zero($port) }, 5), "in-flight back to 0");
LLMTest::stop_nginx($nginx);

# --- health check -----------------------------------------------------------

$port = LLMTest::free_port();
$nginx = LLMTest::start_nginx("t/servroot-health", $port,
                              conf($port, "llm_router_health_check interval=100ms timeout=500ms;"),
                              workers => 2);

ok(LLMTest::wait_until(sub {
       my $t = LLMTest::status($port)->{tiers};
       ($t->{big}{healthy} // 0) eq '1' && ($t->{big}{model_loaded} // 0) eq '1'
   }, 5), "health check: big up, model loaded (from /api/ps)");

LLMTest::stop_mock('big');
ok(LLMTest::wait_until(sub { !LLMTest::status($port)->{tiers}{big}{healthy} }, 5),
   "big stopped: marked down without user traffic");
is(summary(post($port, $complex)), "200 small down - small",
   "complex goes to small, reason down");

LLMTest::start_mock('big');
ok(LLMTest::wait_until(sub { LLMTest::status($port)->{tiers}{big}{healthy} }, 5),
   "big back: marked up by the health check");
is(summary(post($port, $complex)), "200 big complexity - big", "and used again");

LLMTest::mock_config('big', { model => 'something-else:1b' });
ok(LLMTest::wait_until(sub {
       my $l = LLMTest::status($port)->{tiers}{big}{model_loaded};
       defined $l && !$l
   }, 5), "big's model no longer loaded (cold)");
is(summary(post($port, $medium)), "200 small cold - small",
   "a medium prompt avoids a cold big tier");
is(summary(post($port, $complex)), "200 big complexity - big",
   "a complex prompt accepts it");
LLMTest::mock_restore('big');
ok(LLMTest::wait_until(sub { LLMTest::status($port)->{tiers}{big}{model_loaded} }, 5),
   "loaded again");
is(summary(post($port, $medium)), "200 big complexity - big", "medium back on big");
ok(LLMTest::wait_until(sub { LLMTest::inflight_zero($port) }, 5), "in-flight back to 0");

LLMTest::stop_nginx($nginx);

LLMTest::nginx_clean("t/servroot-$_") for qw(fallback breaker health);

done_testing();
