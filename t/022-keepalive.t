# Clients keep their connections alive (the ollama and openai libraries,
# JARVIS's HTTP session, every SDK) and some pipeline: every kind of answer
# the router gives (cache miss, hit, stream, bypass, client error, unknown
# model, fallback, its own endpoints) on one connection, in sequence and
# pipelined, and single-flight waiters on kept-alive connections.  Every
# answer is checked, and the connection must survive them all.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use Time::HiRes ();

my $json = JSON::PP->new->canonical;
my $rport = LLMTest::start_redis(undef);
my $port = LLMTest::free_port();
my $root = "t/servroot-keepalive";
my $tiers = LLMTest::tiers_conf();
my $fallback = LLMTest::fallback_server();

unlink "$root/logs/ka.log";
my $nginx = LLMTest::start_nginx($root, $port, <<"CONF", log_level => 'info');
$tiers
    llm_redis 127.0.0.1:$rport timeout=300ms;
    llm_router_breaker failures=100 cooldown=1s;
    log_format ka '\$connection \$connection_requests \$status \$llm_cache \$sent_http_x_llm_cache';
    access_log logs/ka.log ka;

    server {
        listen 127.0.0.1:$port;
        keepalive_requests 1000;
        llm_cache on;
        llm_cache_ttl 60s;
        llm_router_max_body_size 4k;
        add_header X-Conn \$connection always;
        add_header X-Conn-Requests \$connection_requests always;
        add_header X-LLM-Fallback \$llm_fallback always;
$fallback
        location = /status { llm_router_status; }
    }
CONF

ok(LLMTest::wait_until(sub {
       LLMTest::http_close($port, 'GET', '/status')->{content}
           =~ /^llm_router_redis_connected_workers 1$/m }, 30),
   "the worker is connected to redis");

my $n = 0;
sub uniq { "keep-alive prompt " . $$ . " " . $n++ }

# [label, method, path, body, headers, check(res) -> (ok, why)]
sub steps {
    my $p1 = uniq();
    my $p2 = uniq();
    my $p3 = uniq();
    my $p4 = uniq();
    my $gen1 = qq({"model":"auto","stream":false,"prompt":"$p1"});
    my $chat = qq({"model":"auto","messages":[{"role":"user","content":"$p2"}]});
    my $oai = qq({"model":"auto","stream":true,"messages":[{"role":"user","content":"$p3"}]});
    my $oai1 = qq({"model":"auto","messages":[{"role":"user","content":"$p4"}]});
    my $cache = sub { my $want = shift; sub {
        my $r = shift;
        return ($r->{status} == 200 && ($r->{headers}{'x-llm-cache'} // '') eq $want,
                "$r->{status} " . ($r->{headers}{'x-llm-cache'} // '-'));
    } };
    my $ndjson_done = sub {
        my $r = shift;
        my @l = split /\n/, $r->{body};
        my $last = eval { decode_json($l[-1]) } || {};
        return (@l > 1 && $last->{done}, scalar(@l) . " lines");
    };
    my $sse_done = sub { my $r = shift;
        return ($r->{body} =~ /data: \[DONE\]\n\n\z/, 'SSE ends with [DONE]') };
    my $tokens = sub { my $r = shift;
        my $d = eval { decode_json($r->{body}) } || {};
        return (($d->{response} // '') =~ /^tok0 /, $r->{body}) };
    my $status = sub { my $want = shift; sub { my $r = shift;
        return ($r->{status} == $want && $r->{body} =~ /"error"/,
                "$r->{status} $r->{body}") } };
    my $all = sub { my @c = @_; sub { my $r = shift;
        for my $c (@c) { my ($ok, $why) = $c->($r); return (0, $why) unless $ok }
        return (1, '') } };

    return (
        ['generate, miss', 'POST', '/api/generate', $gen1, {}, $all->($cache->('MISS'), $tokens)],
        ['generate, hit', 'POST', '/api/generate', $gen1, {}, $all->($cache->('HIT'), $tokens)],
        ['chat stream, miss', 'POST', '/api/chat', $chat, {}, $all->($cache->('MISS'), $ndjson_done)],
        ['chat stream, hit', 'POST', '/api/chat', $chat, {}, $all->($cache->('HIT'), $ndjson_done)],
        ['openai stream, miss', 'POST', '/v1/chat/completions', $oai, {}, $all->($cache->('MISS'), $sse_done)],
        ['openai stream, hit', 'POST', '/v1/chat/completions', $oai, {}, $all->($cache->('HIT'), $sse_done)],
        ['no-cache: bypass', 'POST', '/api/generate', $gen1, { 'Cache-Control' => 'no-cache' },
         $all->($cache->('BYPASS'), $tokens)],
        ['bad JSON: 400', 'POST', '/api/generate', '{"model":', {}, $status->(400)],
        ['unknown model: 404', 'POST', '/api/chat',
         qq({"model":"no-such-model:1b","messages":[{"role":"user","content":"hi"}]}), {}, $status->(404)],
        ['wrong method: 405', 'GET', '/api/generate', undef, {}, $status->(405)],
        ['body over the limit: 413', 'POST', '/api/generate',
         '{"model":"auto","prompt":"' . ('x' x 5000) . '"}', {}, $status->(413)],
        ['router endpoint: tags', 'GET', '/api/tags', undef, {},
         sub { my $r = shift; ($r->{status} == 200 && $r->{body} =~ /"models"/, $r->{status}) }],
        ['openai, miss', 'POST', '/v1/chat/completions', $oai1, {}, $cache->('MISS')],
        ['openai, hit', 'POST', '/v1/chat/completions', $oai1, {}, $cache->('HIT')],
        ['generate, hit again', 'POST', '/api/generate', $gen1, {}, $all->($cache->('HIT'), $tokens)],
    );
}

sub check_steps {
    my ($how, $steps, $res) = @_;
    my ($conn, $i) = (undef, 0);
    for my $s (@$steps) {
        my $r = $res->[$i++];
        if (!$r) {
            fail("$how: $s->[0]: no answer");
            next;
        }
        my ($ok, $why) = $s->[5]->($r);
        ok($ok, "$how: $s->[0]") or diag($why);
        $conn //= $r->{headers}{'x-conn'};
        is($r->{headers}{'x-conn'} // '', $conn // '', "$how: $s->[0]: same connection");
    }
}

# 1. in sequence, on one kept-alive connection (HTTP::Tiny, as clients do)

{
    my @steps = steps();
    my @res;
    for my $s (@steps) {
        my $r = LLMTest::http($port, @$s[1 .. 4]);
        $r->{body} = $r->{content};
        push @res, $r;
    }
    check_steps('sequence', \@steps, \@res);
    is($res[-1]{headers}{'x-conn-requests'}, scalar(@steps),
       "sequence: all " . scalar(@steps) . " requests on the connection");
}

# 2. pipelined: every request written at once

{
    my @steps = steps();
    my $p = LLMTest::pipeline($port, map { [ @$_[1 .. 4] ] } @steps);
    is(scalar @{ $p->{responses} }, scalar @steps, "pipelined: one answer per request");
    check_steps('pipelined', \@steps, $p->{responses});
    ok($p->{open}, "pipelined: the connection is still open after the last answer");
    is($p->{rest}, '', "pipelined: nothing after the last answer");
}

# 3. a fallback on a kept-alive connection, then more requests on it

{
    LLMTest::mock_config('big', { fail => 503 });
    my $c = qq({"model":"gpt-oss:20b","stream":false,"prompt":"${\ uniq()}"});
    my $r = LLMTest::http($port, 'POST', '/api/generate', $c);
    is($r->{status}, 200, "fallback: answered");
    like($r->{headers}{'x-llm-fallback'} // '', qr/big/, "fallback: from big");
    my $conn = $r->{headers}{'x-conn'};
    LLMTest::mock_restore('big');
    for my $i (1 .. 3) {
        my $q = LLMTest::http($port, 'POST', '/api/generate', $c);
        is($q->{status}, 200, "after the fallback: request $i answered");
        is($q->{headers}{'x-conn'}, $conn, "after the fallback: request $i on the same connection");
    }
}

# 4. single-flight on kept-alive connections: A fills the key from a slow
# tier, B waits for it; both connections then carry on

sub send_req {
    my ($s, $body, $h) = @_;
    my $req = "POST /api/generate HTTP/1.1\r\nHost: localhost\r\n"
            . "Content-Type: application/json\r\nContent-Length: "
            . length($body) . "\r\n";
    $req .= "$_: $h->{$_}\r\n" for sort keys %{ $h || {} };
    print $s "$req\r\n$body";
}

sub read_one {
    my $s = shift;
    my $sel = IO::Select->new($s);
    my $buf = \(${*$s}{ka_buf} //= '');
    my $deadline = Time::HiRes::time() + 15;
    while (1) {
        my $r = LLMTest::_parse_response($buf, 0);
        return $r if $r;
        my $left = $deadline - Time::HiRes::time();
        return undef if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($s, $$buf, 65536, length $$buf);
        return undef unless $n;
    }
}

{
    my $prompt = uniq();
    my $body = qq({"model":"auto","stream":false,"prompt":"$prompt"});
    my ($a, $b) = map { IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                              Proto => 'tcp', Timeout => 5) } 1 .. 2;
    $_->autoflush(1) for $a, $b;

    send_req($a, $body, { 'X-Mock-Ttft' => 400 });
    ok(LLMTest::wait_until(sub { @{ LLMTest::redis($rport, 'KEYS', 'llm:lock:*') || [] } }, 5),
       "single-flight: A holds the fill lock");
    send_req($b, $body);

    my $ra = read_one($a);
    my $rb = read_one($b);
    is(($ra && "$ra->{status} $ra->{headers}{'x-llm-cache'}") // 'none', "200 MISS", "single-flight: A fills (MISS)");
    is(($rb && "$rb->{status} $rb->{headers}{'x-llm-cache'}") // 'none', "200 HIT", "single-flight: B waits and gets the answer (HIT)");
    is($ra && $rb && $json->decode($ra->{body})->{response},
       $rb && $json->decode($rb->{body})->{response}, "single-flight: the same answer");

    for my $round (1 .. 2) {
        my $next = qq({"model":"auto","stream":false,"prompt":"${\ uniq()}"});
        send_req($a, $next);
        send_req($b, $next) if $round == 2;
        my $na = read_one($a);
        is($na && $na->{status}, 200, "single-flight: A's connection carries on (round $round)");
        is($na && $na->{headers}{'x-conn-requests'}, $round + 1, "... as its request " . ($round + 1));
        if ($round == 2) {
            my $nb = read_one($b);
            is($nb && $nb->{status}, 200, "single-flight: B's connection carries on");
            is($nb && $nb->{headers}{'x-conn-requests'}, 2, "... as its request 2");
        }
    }
    close $_ for $a, $b;
}

ok(LLMTest::wait_until(sub { LLMTest::inflight_zero($port) }, 5), "in-flight back to 0");

LLMTest::forget_connections();
LLMTest::stop_nginx($nginx);
LLMTest::nginx_clean($root);

my $log = LLMTest::slurp("$root/logs/error.log");
unlike($log, qr/header already sent/, "no answer written twice");
my @ka = grep { !/ - -$/ } split /\n/, LLMTest::slurp("$root/logs/ka.log");
my @odd = grep { my @f = split / /; $f[3] ne $f[4] } @ka;
ok(@ka > 30 && !@odd, "access log: \$llm_cache agrees with X-LLM-Cache on each of "
   . scalar(@ka) . " requests") or diag(join "\n", @odd);

done_testing();
