# llm_router_balance: three mock servers in the big tier's upstream, the
# model loaded on one of them.  Warm first: requests go to the server that
# has the model resident while it has room (max_conns=), cold servers only
# past it; a conversation (affinity) stays on one server while it is up
# and moves when it is stopped.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use JSON::PP;

$LLMTest::Tiers{big3} = { model => 'gpt-oss:20b', name => 'big3',
                          env => 'TEST_NGINX_BIG3_PORT' };
LLMTest::start_mock($_) for qw(big2 big3);

my $json = JSON::PP->new->canonical;
my $port = LLMTest::free_port();
my ($b1, $b2, $b3, $small) = map { LLMTest::mock_port($_) }
                             qw(big big2 big3 small);

my $nginx = LLMTest::start_nginx('t/servroot-balance', $port, <<"CONF");
    upstream ollama_big {
        zone ollama_big 64k;
        llm_router_balance affinity;
        server 127.0.0.1:$b1 max_conns=2;
        server 127.0.0.1:$b2 max_conns=2;
        server 127.0.0.1:$b3 max_conns=2;
        keepalive 8;
    }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }
    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b max_inflight=12;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    llm_router_health_check interval=100ms timeout=1s;

    server {
        listen 127.0.0.1:$port;
${\ LLMTest::fallback_server(read_timeout => '10s') }
        location = /status { llm_router_status; }
    }
CONF

my $n = 0;
sub complex {
    return $json->encode({ model => 'auto', stream => JSON::PP::false,
        prompt => 'Prove step by step that there are infinitely many primes'
                . ' and analyze the proof, case ' . $n++ . '.' });
}

# the model loaded on big only, and a health round seen since
# unloaded on big2 and big3 (a mock loads its model at start)
for my $p ($b2, $b3) {
    LLMTest::http_close($p, 'POST', '/api/generate',
                        '{"model":"gpt-oss:20b","prompt":"","keep_alive":0}');
}
my $r = LLMTest::http_close($b1, 'POST', '/api/generate',
                            '{"model":"gpt-oss:20b","prompt":"",'
                            . '"keep_alive":"10m"}');
is($r->{status}, 200, 'the model loaded on big');
sub resident {
    return LLMTest::status($port)->{tiers}{big}{servers_resident} // 0;
}
ok(LLMTest::wait_until(sub { resident() == 1 }, 10),
   'the health check saw it: one server warm') or diag(resident());

my %to;
for (1 .. 6) {
    $r = LLMTest::http($port, 'POST', '/api/generate', complex());
    $to{ $r->{headers}{'x-mock-name'} // '-' }++;
}
is(join(',', map { "$_=$to{$_}" } sort keys %to), 'big=6',
   'warm first: every request to the server that has the model');

# a burst past its room: the warm server's two, the rest to cold ones
LLMTest::mock_config($_, { ttft => 1500 }) for qw(big big2 big3);
my $before = { map { $_ => LLMTest::mock_stats($_)->{requests} }
               qw(big big2 big3) };
my @kids;
for (1 .. 5) {
    my $body = complex();
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        LLMTest::http_close($port, 'POST', '/api/generate', $body);
        exit 0;
    }
    push @kids, $pid;
}
waitpid($_, 0) for @kids;
my %got = map { $_ => LLMTest::mock_stats($_)->{requests} - $before->{$_} }
          qw(big big2 big3);
is($got{big}, 2, 'a burst of 5: the warm server takes its room (2)');
is($got{big2} + $got{big3}, 3, '... the cold ones the rest');
LLMTest::mock_restore(qw(big big2 big3));

# a conversation stays on one server (all three warm now)
LLMTest::http_close($_, 'POST', '/api/generate',
                    '{"model":"gpt-oss:20b","prompt":"","keep_alive":"10m"}')
    for ($b2, $b3);
ok(LLMTest::wait_until(sub { resident() == 3 }, 10), 'all three warm');

my @turns = ({ role => 'system', content => 'You are JARVIS.' },
             { role => 'user', content => 'Plan my week in detail and '
                                        . 'justify every choice step by step.' });
my (%on, $first);
for my $t (1 .. 10) {
    $r = LLMTest::http($port, 'POST', '/api/chat',
                       $json->encode({ model => 'gpt-oss:20b',
                                       stream => JSON::PP::false,
                                       messages => \@turns }));
    my $server = $r->{headers}{'x-mock-name'} // '-';
    $first //= $server;
    $on{$server}++;
    push @turns, { role => 'assistant', content => "answer $t" },
                 { role => 'user', content => "and then, part $t?" };
}
is(scalar keys %on, 1, 'a 10-turn conversation stays on one server')
    or diag(join ',', %on);
like($first, qr/^big\d?$/, '... a big one');

LLMTest::stop_mock($first);
my %after;
for my $t (1 .. 4) {
    $r = LLMTest::http($port, 'POST', '/api/chat',
                       $json->encode({ model => 'gpt-oss:20b',
                                       stream => JSON::PP::false,
                                       messages => \@turns }));
    $after{ $r->{headers}{'x-mock-name'} // '-' }++ if $r->{status} == 200;
}
ok(!$after{$first} && scalar(keys %after) == 1,
   'its server stopped: the conversation moves, to one other server')
    or diag(join ',', %after);
LLMTest::start_mock($first);

LLMTest::stop_nginx($nginx);
LLMTest::stop_mock($_) for qw(big2 big3);

done_testing();
