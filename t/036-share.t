# llm_router_share redis: two routers in front of the same big tier
# (max_inflight=2, no queue) share their in-flight counts through a real
# Redis.  Router A fills big; router B then sends complex prompts to small
# (reason queue) instead of a third request to big; when A is killed, its
# lease expires and B uses big again.  Redis down: each router counts
# alone, and says so.  llm_router_share_age_seconds: how old the last
# reading is (absent before the first).
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use JSON::PP;

my $json = JSON::PP->new->canonical;
my $rport = LLMTest::start_redis(undef);
my ($big, $small) = map { LLMTest::mock_port($_) } qw(big small);

sub conf {
    my ($port) = @_;
    return <<"CONF";
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }
    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b max_inflight=2;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    llm_redis 127.0.0.1:$rport timeout=300ms;
    llm_router_share redis interval=100ms lease=1s;

    server {
        listen 127.0.0.1:$port;
${\ LLMTest::fallback_server(read_timeout => '30s') }
        add_header X-LLM-Route \$llm_target always;
        add_header X-LLM-Reason \$llm_route_reason always;
        location = /status { llm_router_status; }
    }
CONF
}

my @port = map { LLMTest::free_port() } 0 .. 1;
my @nginx = map { LLMTest::start_nginx("t/servroot-share$_", $port[$_],
                                       conf($port[$_])) } 0 .. 1;

sub metric {
    my ($p, $re) = @_;
    my $m = LLMTest::http($p, 'GET', '/status')->{content};
    return $m =~ $re ? $1 : -1;
}

my $n = 0;
sub complex {
    return $json->encode({ model => 'auto', stream => JSON::PP::false,
        prompt => 'Prove step by step that there are infinitely many primes'
                . ' and analyze the proof, case ' . $n++ . '.' });
}

ok(LLMTest::wait_until(sub {
       metric($port[1], qr/^llm_router_share_routers (\d+)$/m) == 1 }, 10),
   'router B sees router A');

my $age_re = qr/^llm_router_share_age_seconds (\d+\.\d{3})$/m;
my $age = metric($port[1], $age_re);
ok($age >= 0 && $age < 1, "the reading's age: under a second ($age s)");
$age = LLMTest::status($port[1])->{router}{share_age_seconds};
ok(defined $age && $age >= 0 && $age < 1, "... in the JSON too ($age)");

# router A fills big with two slow requests
LLMTest::mock_config('big', { ttft => 4000 });
my @kids;
for (1 .. 2) {
    my $body = complex();
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        LLMTest::http_close($port[0], 'POST', '/api/generate', $body);
        exit 0;
    }
    push @kids, $pid;
}

ok(LLMTest::wait_until(sub {
       metric($port[1], qr/^llm_router_tier_shared_inflight\{tier="big"\} (\d+)$/m)
           == 2 }, 10),
   'router B reads A\'s two requests on big');

my $r = LLMTest::http($port[1], 'POST', '/api/generate', complex());
is("$r->{headers}{'x-llm-route'} $r->{headers}{'x-llm-reason'}",
   'small queue', 'router B: big is full across both routers, small');
is(LLMTest::mock_stats('big')->{max_inflight_seen}, 2,
   '... big never had more than its max_inflight');

# router A killed: its lease expires, B uses big again
kill 'KILL', $nginx[0]{pid};
waitpid($nginx[0]{pid}, 0);
kill 'KILL', $_ for @kids;
waitpid($_, 0) for @kids;
LLMTest::mock_restore('big');
ok(LLMTest::wait_until(sub {
       metric($port[1], qr/^llm_router_tier_shared_inflight\{tier="big"\} (\d+)$/m)
           == 0 }, 10),
   'router A killed: its lease expired, its counts freed');
$r = LLMTest::http($port[1], 'POST', '/api/generate', complex());
is($r->{headers}{'x-llm-route'}, 'big', '... big again from router B');

# Redis down: B counts alone, and says so
LLMTest::stop_redis($rport);
ok(LLMTest::wait_until(sub {
       LLMTest::slurp("t/servroot-share1/logs/error.log")
           =~ /in-flight counts not shared .*: this router counts alone/ },
       10), 'redis down: B logs that it counts alone');
$r = LLMTest::http($port[1], 'POST', '/api/generate', complex());
is($r->{headers}{'x-llm-route'}, 'big', '... and routes on its own counts');
ok(LLMTest::wait_until(sub { metric($port[1], $age_re) > 1 }, 10),
   '... its last reading ages past the lease (1 s): '
   . metric($port[1], $age_re) . ' s');

LLMTest::stop_nginx($nginx[1]);
LLMTest::nginx_clean('t/servroot-share1');

# a router that never read Redis: no age at all
my $cport = LLMTest::free_port();
my $c = LLMTest::start_nginx('t/servroot-share2', $cport, conf($cport));
my $m = LLMTest::http($cport, 'GET', '/status')->{content};
ok($m =~ /^# TYPE llm_router_share_age_seconds gauge$/m
   && $m !~ /^llm_router_share_age_seconds /m,
   'a router that never read the counts: llm_router_share_age_seconds '
   . 'absent');
my $j = LLMTest::status($cport)->{router};
ok(exists $j->{share_age_seconds} && !defined $j->{share_age_seconds},
   '... null in the JSON');
LLMTest::stop_nginx($c);
LLMTest::nginx_clean('t/servroot-share2');

done_testing();
