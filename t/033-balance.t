# llm_router_balance: three mock servers in the big tier's upstream, the
# model loaded on one of them.  Warm first: requests go to the server that
# has the model resident while it has room (max_conns=), cold servers only
# past it; a conversation (affinity) stays on one server while it is up
# and moves when it is stopped.  The per-server metrics follow: requests
# in flight on each server (back to 0 however a request ends: answered,
# client gone, server stopped, answer cut, connection reset), the model's
# residency on each, affinity hits and misses, the servers in the JSON.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use JSON::PP;
use IO::Socket::INET;

$LLMTest::Tiers{big3} = { model => 'gpt-oss:20b', name => 'big3',
                          env => 'TEST_NGINX_BIG3_PORT' };
LLMTest::start_mock($_) for qw(big2 big3);

my $json = JSON::PP->new->canonical;
my $port = LLMTest::free_port();
my ($b1, $b2, $b3, $small) = map { LLMTest::mock_port($_) }
                             qw(big big2 big3 small);

my %opt = (log_level => 'notice');    # "reconfiguring" on a reload
my $nginx = LLMTest::start_nginx('t/servroot-balance', $port, <<"CONF", %opt);
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

# a per-server series of the Prometheus text: its value, undef if absent
sub series {
    my ($name, $tier, $p, $text) = @_;
    $text //= LLMTest::http($port, 'GET', '/status')->{content};
    my $re = quotemeta("$name\{tier=\"$tier\",server=\"127.0.0.1:$p\"} ");
    return $text =~ /^$re(\S+)$/m ? $1 + 0 : undef;
}
sub flight { series('llm_router_server_inflight_requests', 'big', $_[0]) }
sub flights {
    my $text = LLMTest::http($port, 'GET', '/status')->{content};
    return map { series('llm_router_server_inflight_requests', 'big', $_,
                        $text) // -1 } ($b1, $b2, $b3);
}
sub on_server {
    my ($p, $name) = @_;
    return series("llm_router_server_$name", 'big', $p);
}
sub servers {
    return { map { $_->{address} => $_ }
             @{ LLMTest::status($port)->{tiers}{$_[0] // 'big'}{servers} } };
}
sub affinity {
    my $t = LLMTest::status($port)->{tiers}{big};
    return ($t->{affinity_hits}, $t->{affinity_misses});
}

ok(LLMTest::wait_until(sub {
       (on_server($b1, 'model_resident') // -1) == 1
       && (on_server($b2, 'model_resident') // -1) == 0
       && (on_server($b3, 'model_resident') // -1) == 0 }, 10),
   'per server: the model resident on big, not on big2 and big3');
my $s = servers();
is(join(' ', map { "$_ $s->{$_}{state} $s->{$_}{inflight} "
                   . ($s->{$_}{backup} ? 'backup' : 'primary') }
             sort keys %$s),
   join(' ', map { "127.0.0.1:$_ up 0 primary" } sort ($b1, $b2, $b3)),
   'JSON: the big tier lists its three servers, up, none in flight');
is_deeply([ map { $_->{address} }
            @{ LLMTest::status($port)->{tiers}{big}{servers} } ],
          [ map { "127.0.0.1:$_" } ($b1, $b2, $b3) ],
          '... in the upstream\'s order');
my $sm = servers('small')->{"127.0.0.1:$small"};
ok($sm && !defined $sm->{inflight} && !defined $sm->{state}
   && LLMTest::wait_until(sub {
          (servers('small')->{"127.0.0.1:$small"}{resident} // 0) eq '1' }, 5),
   'small (not llm_router_balance\'s): its server listed, residency '
   . 'known, in flight and state not');
my $prom = LLMTest::http($port, 'GET', '/status')->{content};
ok(!defined series('llm_router_server_inflight_requests', 'small', $small,
                   $prom)
   && defined series('llm_router_server_model_resident', 'small', $small,
                     $prom),
   '... nor in Prometheus');
unlike($prom, qr/^llm_router_tier_affinity_\w+\{tier="small"\}/m,
       'affinity counted only for a tier that keeps it');

my %to;
for (1 .. 6) {
    $r = LLMTest::http($port, 'POST', '/api/generate', complex());
    $to{ $r->{headers}{'x-mock-name'} // '-' }++;
}
is(join(',', map { "$_=$to{$_}" } sort keys %to), 'big=6',
   'warm first: every request to the server that has the model');
is(join(' ', flights()), '0 0 0', 'in flight per server: 0 after them');

# a client that goes away mid-request frees its server
LLMTest::mock_config('big', { ttft => 20000 });
my $body = complex();
my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                              Proto => 'tcp', Timeout => 5)
    or die "connect: $!";
print $c "POST /api/generate HTTP/1.1\r\nHost: localhost\r\n"
    . "Content-Type: application/json\r\n"
    . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
ok(LLMTest::wait_until(sub { (flight($b1) // 0) == 1 }, 10),
   'a slow request: 1 in flight on the warm server')
    or diag(join ' ', flights());
close $c;
ok(LLMTest::wait_until(sub { join(' ', flights()) eq '0 0 0' }, 10),
   '... the client gone mid-request: 0 again, before the answer')
    or diag(join ' ', flights());
ok(LLMTest::wait_until(sub { LLMTest::mock_stats('big')->{aborted} == 1 }, 5),
   '... and the server saw the request aborted');
is(LLMTest::status($port)->{tiers}{big}{inflight}, 0,
   '... the tier\'s count too');
LLMTest::mock_restore('big');

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
my @f;
ok(LLMTest::wait_until(sub {
       @f = flights();
       $f[0] == 2 && $f[0] + $f[1] + $f[2] == 5 }, 10),
   'in flight per server during the burst: 2 on the warm one, 5 in all')
    or diag("@f");
waitpid($_, 0) for @kids;
ok(LLMTest::wait_until(sub { join(' ', flights()) eq '0 0 0' }, 10),
   '... 0 on each once answered') or diag(join ' ', flights());
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
ok(!grep({ (on_server($_, 'model_resident') // 0) != 1 } ($b1, $b2, $b3)),
   '... each server\'s residency flipped to 1');
is(join(' ', map { $_ // 'none' } affinity()), '0 0',
   'no conversation yet: no affinity hit or miss');

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
is(join(' ', affinity()), '10 0', '... 10 affinity hits, no miss');
like(LLMTest::http($port, 'GET', '/status')->{content},
     qr/^llm_router_tier_affinity_hits_total\{tier="big"\} 10$/m,
     '... in Prometheus too');
my $fport = LLMTest::mock_port($first);

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
my ($hits, $misses) = affinity();
ok($misses >= 4 && $hits <= 11,
   '... each of its 4 turns an affinity miss') or diag("$hits $misses");
ok(LLMTest::wait_until(sub { join(' ', flights()) eq '0 0 0' }, 10),
   '... the stopped server\'s failed tries freed: 0 in flight on each')
    or diag(join ' ', flights());
ok(LLMTest::wait_until(sub {
       !defined on_server($fport, 'model_resident')
       && !defined servers()->{"127.0.0.1:$fport"}{resident} }, 10),
   '... its residency unknown while it does not answer');
LLMTest::start_mock($first);
ok(LLMTest::wait_until(sub {
       (on_server($fport, 'model_resident') // 0) == 1 }, 10),
   'started again: its model resident again');

# the model unloaded from a server: its residency flips to 0
my ($other) = grep { $_ != $fport } ($b1, $b2, $b3);
LLMTest::http_close($other, 'POST', '/api/generate',
                    '{"model":"gpt-oss:20b","prompt":"","keep_alive":0}');
ok(LLMTest::wait_until(sub {
       (on_server($other, 'model_resident') // -1) == 0
       && servers()->{"127.0.0.1:$other"}{resident} eq '0' }, 10),
   'the model unloaded from one server: resident 0 there');

# an answer cut, a connection reset (a POST is not retried on the same
# tier): each server freed; the reset one failed for the balancer
# (max_fails=1) until fail_timeout
my %name = (big => $b1, big2 => $b2, big3 => $b3);
LLMTest::http($port, 'POST', '/api/generate', complex(),
              { 'X-Mock-Fail' => 'close' });
my %failed = map { $_ => LLMTest::mock_stats($_)->{failed} } keys %name;
LLMTest::http($port, 'POST', '/api/generate', complex(),
              { 'X-Mock-Fail' => 'reset' });
ok(LLMTest::wait_until(sub { join(' ', flights()) eq '0 0 0' }, 10),
   'an answer cut and a connection reset: 0 in flight on each')
    or diag(join ' ', flights());
my @reset = map { $name{$_} }
            grep { LLMTest::mock_stats($_)->{failed} > $failed{$_} }
            sort keys %name;
$s = servers();
is(scalar(@reset) . ' ' . ($s->{"127.0.0.1:$reset[0]"}{state} // 'none')
   . ' ' . (on_server($reset[0], 'up') // 'none'),
   '1 failed 0', 'the server that reset: failed as the balancer sees it '
   . '(JSON), llm_router_server_up 0');

# two reloads: the new workers balance with the new configuration's
# settings (and the master keeps them in the configuration's own memory)
my $log = 't/servroot-balance/logs/error.log';
for my $n (1, 2) {
    my $was = () = LLMTest::slurp($log) =~ /reconfiguring/g;
    kill 'HUP', $nginx->{pid};
    ok(LLMTest::wait_until(sub {
           (() = LLMTest::slurp($log) =~ /reconfiguring/g) > $was }, 10),
       "reload $n");
}
ok(LLMTest::wait_until(sub {
       my $st = eval {
           LLMTest::http_close($port, 'GET', '/status?format=json') };
       $st && $st->{status} == 200
       && $st->{content} =~ /"address":"127.0.0.1:$reset[0]"[^}]*"state":"up"/
   }, 10),
   'a new worker answers: the reset server up again (new peers)');
($hits, $misses) = affinity();
$r = LLMTest::http_close($port, 'POST', '/api/chat',
                         $json->encode({ model => 'gpt-oss:20b',
                                         stream => JSON::PP::false,
                                         messages => \@turns }));
my ($hits2, $misses2) = affinity();
ok($r->{status} == 200 && $hits2 + $misses2 == $hits + $misses + 1,
   '... and balances the conversation with affinity: one more pick '
   . 'counted') or diag("$r->{status} $hits $misses $hits2 $misses2");

LLMTest::stop_nginx($nginx);
LLMTest::nginx_clean('t/servroot-balance');
LLMTest::stop_mock($_) for qw(big2 big3);

done_testing();
