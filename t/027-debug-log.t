# "error_log ... debug" tells a request's story: one routed request, the
# same request answered from the cache, and one that falls back from a
# failed tier.  Each story is the request's "llm router:" lines, in order
# (nginx must be built --with-debug, as Debian's is).  The stories are
# printed with TEST_VERBOSE=1; README "Reading a debug log" shows them.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;

my $simple = '{"model":"auto","stream":false,"prompt":"What time is it in'
    . ' Paris?"}';
my $complex = '{"model":"auto","stream":false,"prompt":"Analyze the time'
    . ' complexity of heapsort, prove its worst case step by step and'
    . ' compare it with merge sort."}';

plan skip_all => 'nginx without --with-debug'
    unless `${\ ($ENV{TEST_NGINX_BINARY} || "nginx") } -V 2>&1`
           =~ /--with-debug/;

my $rport = LLMTest::start_redis(undef);
my $port = LLMTest::free_port();
my $root = 't/servroot-debug';

my $nginx = LLMTest::start_nginx($root, $port, <<"CONF", log_level => 'debug');
${\ LLMTest::tiers_conf() }
    llm_redis 127.0.0.1:$rport timeout=1s;

    server {
        listen 127.0.0.1:$port;
${\ LLMTest::fallback_server() }
        llm_cache on;
        llm_cache_lock on;
        add_header X-LLM-Route \$llm_target always;
        location = /status { llm_router_status; }
    }
CONF

ok(LLMTest::wait_until(sub { LLMTest::status($port)->{cache}{redis} eq 'up' },
                       10), 'redis connected');

my $log = "$root/logs/error.log";

# the "llm router:" lines of the request made by $send
sub story {
    my ($name, $send) = @_;
    my $from = -s $log;
    my $r = $send->();
    LLMTest::wait_until(sub { LLMTest::slurp($log) =~ /done, \S+[^\n]*\n\z/
                              || 0 }, 2);
    LLMTest::wait_until(sub { LLMTest::inflight_zero($port) }, 5);
    my $text = substr(LLMTest::slurp($log), $from);
    my @lines = map { s/^.*?\[debug\] \d+#\d+: (\*\d+ )?//r }
                grep { /llm router: / } split /\n/, $text;
    note("--- $name\n" . join("\n", @lines));
    return ($r, join("\n", @lines));
}

# the patterns, in this order, each on a later line than the one before
sub in_order {
    my ($story, $name, @want) = @_;
    my @lines = split /\n/, $story;
    my $i = 0;
    for my $w (@want) {
        $i++ while $i < @lines && $lines[$i] !~ $w;
        if ($i >= @lines) {
            fail("$name: $w");
            diag($story);
            return;
        }
        $i++;
    }
    pass("$name: the story in order");
}

my ($r, $s) = story('routed', sub {
    LLMTest::http_close($port, 'POST', '/api/generate', $simple) });
is($r->{status}, 200, 'routed: 200');
in_order($s, 'routed',
    qr{"/api/generate" ollama_generate, a prompt},
    qr{new -> (ready|reading body)},
    qr{bytes, model "auto", single, score [0-9.]+: simple},
    qr{cache GET llm:},
    qr{redis GET sent},
    qr{ready -> looking up the cache},
    qr{redis \S+ replied: nil},
    qr{cache miss, taking the fill lock},
    qr{cache fill lock taken},
    qr{looking up the cache -> looked up},
    qr{cache MISS},
    qr{looked up -> routed},
    qr{class:simple -> small \(complexity\), ollama_small},
    qr{cache SET, \d+ bytes for 300 s},
    qr{done, routed},
    qr{small tier answered});

($r, $s) = story('cached', sub {
    LLMTest::http_close($port, 'POST', '/api/generate', $simple) });
is($r->{headers}{'x-llm-cache'}, 'HIT', 'cached: a HIT');
in_order($s, 'cached',
    qr{a prompt},
    qr{score [0-9.]+: simple},
    qr{ready -> looking up the cache},
    qr{redis \S+ replied: a string},
    qr{looking up the cache -> looked up},
    qr{cache HIT},
    qr{looked up -> replaying from the cache},
    qr{replaying \d+ bytes of llama3\.2:3b},
    qr{done, replaying from the cache});

LLMTest::stop_mock('big');
($r, $s) = story('fallback', sub {
    LLMTest::http_close($port, 'POST', '/api/generate', $complex,
                        { 'Cache-Control' => 'no-cache' }) });
is($r->{headers}{'x-llm-route'}, 'small', 'fallback: answered by small');
in_order($s, 'fallback',
    qr{score [0-9.]+: complex},
    qr{cache bypassed: Cache-Control},
    qr{ready -> routed},
    qr{-> big \(complexity\), ollama_big},
    qr{back in "/api/generate", routed},
    qr{big tier failed \(502\)},
    qr{big tier failed, retrying on small},
    qr{routed -> failed over},
    qr{-> small \(fallback\), ollama_small, rewritten: 0},
    qr{done, failed over},
    qr{small tier answered});
LLMTest::start_mock('big');

LLMTest::stop_nginx($nginx);
LLMTest::stop_redis($rport);

done_testing();
