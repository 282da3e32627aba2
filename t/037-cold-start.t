# A cold start, as real Ollama shows it: a model that is loading is not in
# /api/ps until it is loaded (server/sched.go Scheduler.load adds its
# runner to the loaded ones only once llama.Load has returned), so the
# health check never finds a server warm before it can answer, and
# llm_router_balance keeps sending to the warm server meanwhile.  The mock
# (t/backend/mock-ollama.js, --load-ms) does the same, and a request that
# waits for a slot during the load waits for the load once.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use JSON::PP;
use Time::HiRes ();

my $load = 1500;
LLMTest::start_mock('big2', '--load-ms', $load, '--slots', 1);

my $json = JSON::PP->new->canonical;
my ($b1, $b2, $small) = map { LLMTest::mock_port($_) } qw(big big2 small);
my $unload = '{"model":"gpt-oss:20b","prompt":"","keep_alive":0}';

sub ps {
    my $r = LLMTest::http_close(shift, 'GET', '/api/ps');
    return join ',', map { $_->{name} } @{ $json->decode($r->{content})->{models} };
}

# @pids = later(sub { ... }): runs it in a child, now
sub later {
    my $code = shift;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        $code->();
        POSIX::_exit(0);
    }
    return $pid;
}

my $gen = '{"model":"gpt-oss:20b","prompt":"hi","stream":false}';

# the mock alone
LLMTest::http_close($b2, 'POST', '/api/generate', $unload);
is(ps($b2), '', 'mock: the model unloaded');
my $t0 = Time::HiRes::time();
my @kids = map { later(sub { LLMTest::http_close($b2, 'POST', '/api/generate',
                                                 $gen) }) } 1 .. 2;
ok(LLMTest::wait_until(sub { LLMTest::mock_stats('big2')->{loads} == 1 }, 5),
   'mock: it loads the model');
is(ps($b2), '', '... and while it loads, /api/ps does not list it');
waitpid($_, 0) for @kids;
my $took = Time::HiRes::time() - $t0;
is(ps($b2), 'gpt-oss:20b', '... once loaded, it does');
cmp_ok($took, '<', 1.5 * $load / 1000,
       sprintf('two requests, one slot: the second waits for the load '
               . 'once (%.2f s)', $took));

# through the router: big warm, big2 cold
my $port = LLMTest::free_port();
my $nginx = LLMTest::start_nginx('t/servroot-cold', $port, <<"CONF");
    upstream ollama_big {
        zone ollama_big 64k;
        llm_router_balance;
        server 127.0.0.1:$b1 max_conns=1;
        server 127.0.0.1:$b2 max_conns=1;
        keepalive 8;
    }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }
    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b max_inflight=4;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    llm_router_health_check interval=100ms timeout=1s;

    server {
        listen 127.0.0.1:$port;
${\ LLMTest::fallback_server(read_timeout => '10s') }
        location = /status { llm_router_status; }
    }
CONF

sub resident {
    return LLMTest::status($port)->{tiers}{big}{servers_resident} // 0;
}

LLMTest::http_close($b2, 'POST', '/api/generate', $unload);
ok(LLMTest::wait_until(sub { resident() == 1 }, 10), 'one server warm');

# a slow request fills big (max_conns=1): the next goes to big2, which
# starts loading
LLMTest::mock_config('big', { ttft => 3 * $load });
my $n = 0;
sub complex {
    return $json->encode({ model => 'auto', stream => JSON::PP::false,
        prompt => 'Prove step by step that there are infinitely many primes'
                . ' and analyze the proof, case ' . $n++ . '.' });
}
my @k = (later(sub { LLMTest::http_close($port, 'POST', '/api/generate',
                                        complex()) }));
ok(LLMTest::wait_until(sub { LLMTest::mock_stats('big')->{inflight} == 1 }, 5),
   'router: the warm server busy');
push @k, later(sub { LLMTest::http_close($port, 'POST', '/api/generate',
                                         complex()) });
ok(LLMTest::wait_until(sub { LLMTest::mock_stats('big2')->{loads} == 2 }, 5),
   '... the cold one takes the next and loads the model');
Time::HiRes::sleep(0.5);
is(resident(), 1, '... and is not warm while it loads');
ok(LLMTest::wait_until(sub { resident() == 2 }, 10),
   '... warm once loaded');
waitpid($_, 0) for @k;
LLMTest::mock_restore('big');

LLMTest::stop_nginx($nginx);
LLMTest::nginx_clean('t/servroot-cold');
LLMTest::stop_mock('big2');

done_testing();
