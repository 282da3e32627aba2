# Fault injection.  Every backend, client and Redis fault below has its
# expected outcome written down next to it (fallback, clean error, or a
# truncated stream); after each one every in-flight count is back to 0, a
# failed or cut answer is never cached, and the error log has nothing
# above "warn" and no crashed worker.  The GPU probe faults are in
# t/010-vram.t, "nginx -s reload" under traffic in t/016-reload.t; a
# binary-upgrade restart under load is at the end of this file.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use POSIX ();
use File::Spec;


sub conf {
    my ($port, $redis) = @_;
    return <<"CONF";
${\ LLMTest::tiers_conf() }
    llm_router_breaker failures=1000 cooldown=1s;
    llm_redis $redis timeout=300ms;

    server {
        listen 127.0.0.1:$port;
${\ LLMTest::fallback_server(read_timeout => '2s') }
        llm_cache on;
        llm_cache_max_size 16k;
        llm_cache_lock on;

        add_header X-LLM-Route \$llm_target always;
        add_header X-LLM-Fallback \$llm_fallback always;

        location = /status { llm_router_status; }
    }
CONF
}

my $n = 0;

# a complex prompt (routed to big), unique per call unless given a tag
sub gen {
    my ($stream, $tag) = @_;
    $tag //= "case " . $n++;
    my $s = $stream ? 'true' : 'false';
    return ('/api/generate', qq({"model":"auto","stream":$s,"prompt":"Analyze)
        . qq( the time complexity of heapsort, prove its worst case step by)
        . qq( step and compare it with merge sort ($tag)."}));
}

sub chat {
    my ($tag) = @_;
    $tag //= "case " . $n++;
    return ('/v1/chat/completions', qq({"model":"auto","stream":true,)
        . qq("messages":[{"role":"user","content":"Design a distributed)
        . qq( rate limiter, justify the trade-offs and prove it is)
        . qq( correct step by step ($tag)."}]}));
}

sub post { my ($port, $path, $body, %o) = @_; LLMTest::post_raw($port, $path, $body, undef, %o) }

my $rport = LLMTest::start_redis(undef, '--enable-debug-command', 'yes');
my $port = LLMTest::free_port();
my $root = "t/servroot-inject";
my $nginx = LLMTest::start_nginx($root, $port, conf($port, "127.0.0.1:$rport"),
                                 workers => 2, log_level => 'notice');
ok(LLMTest::wait_until(sub { LLMTest::status($port)->{cache}{redis} eq 'up' }, 15),
   "both workers connected to redis");

# After a case: in-flight back to 0, and the same request, with the
# backends healthy again, is a HIT when the answer was whole and a MISS
# when it was not (nothing partial stored).
sub after {
    my ($name, $cached, $path, $body) = @_;
    LLMTest::mock_restore('big', 'small');
    ok(LLMTest::wait_until(sub { LLMTest::inflight_zero($port) }, 10),
       "$name: in-flight back to 0");
    my $again;
    LLMTest::wait_until(sub {
        $again = post($port, $path, $body);
        # a leader that is still storing may briefly hold the fill lock
        $cached ? ($again->{headers}{'x-llm-cache'} // '') eq 'HIT' : 1;
    }, 5);
    is($again->{headers}{'x-llm-cache'}, $cached ? 'HIT' : 'MISS',
       "$name: " . ($cached ? "the whole answer was cached" : "nothing was cached"));
    ok($again->{complete}, "$name: the repeat is whole");
}

# --- backend faults ---------------------------------------------------------
#
#  case                              outcome
#  connection refused                fallback to small, whole answer, cached
#  reset before headers              fallback to small, whole answer, cached
#  500                               the backend's JSON 500 passed through
#  502 / 503 / 504                   fallback to small, whole answer, cached
#  hang before the first byte        proxy_read_timeout, fallback, cached
#  close mid-stream (NDJSON, SSE)    headers already sent: a cut stream (no
#                                    final chunk), not cached
#  close mid-answer (Content-Length) a cut answer, not cached
#  slow drip, 1 token per second     every token, whole, cached
#  oversized answer (> cache max)    whole answer, not cached

{
    my @req = gen(0);
    LLMTest::stop_mock('big');
    my $r = post($port, @req);
    is("$r->{status} $r->{headers}{'x-llm-route'} $r->{headers}{'x-llm-fallback'}",
       "200 small big->small", "refused: small answers");
    ok($r->{complete} && $r->{body} =~ /"done":true/, "refused: whole answer");
    LLMTest::start_mock('big');
    after("refused", 1, @req);
}

{
    my @req = gen(0);
    LLMTest::mock_config('big', { fail => 'reset' });
    my $r = post($port, @req);
    is("$r->{status} $r->{headers}{'x-llm-route'}", "200 small",
       "reset before headers: small answers");
    ok($r->{complete}, "reset before headers: whole answer");
    after("reset", 1, @req);
}

{
    my @req = gen(0);
    LLMTest::mock_config('big', { fail => 500 });
    my $r = post($port, @req);
    is("$r->{status} $r->{headers}{'x-llm-route'}", "500 big",
       "500: the backend's error reaches the client");
    like($r->{body}, qr/^\{"error":"mock-ollama: injected failure/, "500: as its JSON");
    ok($r->{complete}, "500: a whole response");
    after("500", 0, @req);
}

for my $code (502, 503, 504) {
    my @req = gen(0);
    LLMTest::mock_config('big', { fail => $code });
    my $r = post($port, @req);
    is("$r->{status} $r->{headers}{'x-llm-route'} $r->{headers}{'x-llm-fallback'}",
       "200 small big->small", "$code: small answers");
    ok($r->{complete} && $r->{body} =~ /"model":"llama3\.2:3b"/,
       "$code: whole answer, small's model");
    after("$code", 1, @req);
}

{
    my @req = gen(1);
    LLMTest::mock_config('big', { fail => 'hang' });
    my $t0 = time;
    my $r = post($port, @req);
    my $dt = time - $t0;
    is("$r->{status} $r->{headers}{'x-llm-route'}", "200 small",
       "hang before the first byte: small answers");
    ok($r->{complete} && $r->{body} =~ /"done":true/, "hang: the whole stream");
    cmp_ok($dt, '>=', 1.9, "hang: after proxy_read_timeout (2 s)");
    cmp_ok($dt, '<', 5, "hang: and not much later");
    after("hang", 1, @req);
}

{
    my @req = gen(1);
    LLMTest::mock_config('big', { fail => 'close', tokens => 8 });
    my $r = post($port, @req);
    is("$r->{status} $r->{headers}{'x-llm-route'}", "200 big",
       "NDJSON stream cut mid-way: the stream had started on big");
    ok(!$r->{complete}, "NDJSON: no final chunk, the client sees the cut");
    like($r->{body}, qr/"done":false/, "NDJSON: the tokens sent before the cut");
    unlike($r->{body}, qr/"done":true/, "NDJSON: no final line");
    after("NDJSON cut", 0, @req);
}

{
    my @req = chat();
    LLMTest::mock_config('big', { fail => 'close', tokens => 8 });
    my $r = post($port, @req);
    is("$r->{status} $r->{headers}{'x-llm-route'}", "200 big",
       "SSE stream cut mid-way: started on big");
    like($r->{headers}{'content-type'}, qr{^text/event-stream}, "SSE: event stream");
    ok(!$r->{complete}, "SSE: no final chunk");
    like($r->{body}, qr/^data: \{/m, "SSE: the events sent before the cut");
    unlike($r->{body}, qr/\[DONE\]/, "SSE: no [DONE]");
    after("SSE cut", 0, @req);
}

{
    my @req = gen(0);
    LLMTest::mock_config('big', { fail => 'close', tokens => 8 });
    my $r = post($port, @req);
    is($r->{status}, 200, "non-stream answer cut: status was sent");
    ok(!$r->{complete}, "non-stream cut: shorter than its Content-Length");
    after("non-stream cut", 0, @req);
}

{
    my @req = gen(1);
    LLMTest::mock_config('big', { tps => 1, tokens => 3, think_tokens => 0 });
    my $t0 = time;
    my $r = post($port, @req);
    is("$r->{status} $r->{headers}{'x-llm-route'}", "200 big",
       "slow drip (1 token/s): big answers, no timeout between tokens");
    ok($r->{complete} && $r->{body} =~ /"done":true/, "slow drip: whole stream");
    is(scalar(() = $r->{body} =~ /"done":false/g), 3, "slow drip: all 3 tokens");
    cmp_ok(time - $t0, '>=', 2.5, "slow drip: really took ~3 s");
    after("slow drip", 1, @req);
}

{
    my @req = gen(0);
    LLMTest::mock_config('big', { tokens => 4000 });
    my $r = post($port, @req);
    ok($r->{status} == 200 && $r->{complete}, "oversized answer: whole to the client");
    cmp_ok(length($r->{body}), '>', 16384, "oversized: larger than llm_cache_max_size");
    after("oversized", 0, @req);
}

# --- client faults ----------------------------------------------------------
#
#  case                              outcome
#  closes before the body is sent    nothing reaches a tier
#  closes during the cache lookup    late reply dropped, nothing reaches a tier
#  closes during a stream            backend request aborted, not cached
#  closes during a fallback          small's request aborted, not cached

{
    my $before = LLMTest::mock_stats('big')->{requests} + LLMTest::mock_stats('small')->{requests};
    my (undef, $body) = gen(0);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
    print $s "POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Length: "
        . length($body) . "\r\n\r\n" . substr($body, 0, 20);
    close $s;
    # the next request on the same workers shows the close was processed
    post($port, '/api/version', '');
    ok(LLMTest::wait_until(sub { LLMTest::inflight_zero($port) }, 5),
       "client gone before its body: in-flight 0");
    my $after = LLMTest::mock_stats('big')->{requests} + LLMTest::mock_stats('small')->{requests};
    is($after, $before, "client gone before its body: no tier contacted");
}

{
    my @req = gen(0);
    my $before = LLMTest::mock_stats('big')->{requests};
    my $sleeper = fork;
    if ($sleeper == 0) {
        LLMTest::redis($rport, 'DEBUG', 'SLEEP', '1');
        POSIX::_exit(0);
    }
    sleep 0.1;    # let DEBUG SLEEP reach redis before the request
    my $r = post($port, @req, close_after => 0.1);
    is($r->{status}, 0, "client gone during the lookup: left before an answer");
    waitpid($sleeper, 0);
    ok(LLMTest::wait_until(sub { LLMTest::inflight_zero($port) }, 5), "lookup: in-flight 0");
    after("client gone during the lookup", 0, @req);
    cmp_ok(LLMTest::mock_stats('big')->{requests} - $before, '<=', 2,
           "lookup: the abandoned request went no further than one tier call");
}

{
    my @req = gen(1);
    LLMTest::mock_config('big', { tps => 5, tokens => 20 });
    my $aborted = LLMTest::mock_stats('big')->{aborted};
    my $r = post($port, @req, close_after => 0.5);
    is($r->{status}, 200, "client gone mid-stream: the stream had started");
    ok(!$r->{complete}, "client gone mid-stream: it left before the end");
    ok(LLMTest::wait_until(sub { LLMTest::mock_stats('big')->{aborted} > $aborted }, 5),
       "mid-stream: big's generation aborted");
    after("client gone mid-stream", 0, @req);
}

{
    my @req = gen(0);
    LLMTest::mock_config('big', { fail => 503 });
    LLMTest::mock_config('small', { ttft => 3000 });
    my $aborted = LLMTest::mock_stats('small')->{aborted};
    my $r = post($port, @req, close_after => 0.5);
    is($r->{status}, 0, "client gone during a fallback: no answer yet");
    ok(LLMTest::wait_until(sub { LLMTest::mock_stats('small')->{aborted} > $aborted }, 5),
       "during a fallback: small's request aborted");
    after("client gone during a fallback", 0, @req);
}

# --- Redis faults -----------------------------------------------------------
#
#  case                              outcome
#  unreadable value under a key      MISS, answered, overwritten, then HIT
#  full (maxmemory, noeviction)      MISS, answered, nothing stored, warned
#  killed under load                 every request answered, no lock left
#  down / slow / wrong password      t/013-cache-faults.t
#  unexpected reply types            a fake server below: ERROR, answered

{
    my @req = gen(0, "garbage");
    my $r = post($port, @req);
    is($r->{headers}{'x-llm-cache'}, 'MISS', "fresh key: MISS");
    LLMTest::wait_until(sub { @{ LLMTest::redis($rport, 'KEYS', 'llm:[0-9a-f]*') } }, 5);
    my $keys = LLMTest::redis($rport, 'KEYS', 'llm:[0-9a-f]*');
    LLMTest::redis($rport, 'SET', $_, "not an entry") for @$keys;
    $r = post($port, @req);
    ok($r->{status} == 200 && $r->{complete}, "unreadable value: answered by the tier");
    is($r->{headers}{'x-llm-cache'}, 'MISS', "unreadable value: a MISS");
    after("unreadable value", 1, @req);
    LLMTest::redis($rport, 'FLUSHALL');
}

{
    LLMTest::redis($rport, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    LLMTest::redis($rport, 'SET', 'ballast', 'x' x 600_000);
    LLMTest::redis($rport, 'CONFIG', 'SET', 'maxmemory', '1000000');
    like(LLMTest::redis($rport, 'SET', 'probe', 'x'), qr/^OOM/, "redis is full");
    my @req = gen(0);
    my $r = post($port, @req);
    ok($r->{status} == 200 && $r->{complete}, "redis full: answered");
    is($r->{headers}{'x-llm-cache'}, 'MISS', "redis full: MISS");
    $r = post($port, @req);
    is($r->{headers}{'x-llm-cache'}, 'MISS', "redis full: nothing was stored");
    LLMTest::redis($rport, 'CONFIG', 'SET', 'maxmemory', '0');
    LLMTest::redis($rport, 'DEL', 'ballast');
    after("redis full", 0, gen(0));
    # the worker that warned says so when one of its stores succeeds
    ok(LLMTest::wait_until(sub {
        post($port, gen(0));
        LLMTest::slurp("$root/logs/error.log") =~ /redis stores answers again/ }, 10),
       "redis emptied: a notice when stores succeed again");
}

{
    LLMTest::mock_config('big', { ttft => 300 });
    LLMTest::mock_config('small', { ttft => 300 });
    my @reqs = map { ['POST', gen(0, "load " . ($_ % 5))] } 1 .. 30;
    my $out = "$root/load.json";
    my $kid = fork;
    if ($kid == 0) {
        my @res = LLMTest::parallel($port, @reqs);
        open my $f, '>', $out or POSIX::_exit(1);
        print $f JSON::PP->new->encode([ map { [$_->{status}, $_->{content}] } @res ]);
        close $f;
        POSIX::_exit(0);
    }
    ok(LLMTest::wait_until(sub { !LLMTest::inflight_zero($port) }, 5), "load started");
    LLMTest::stop_redis($rport);
    waitpid($kid, 0);
    my $res = JSON::PP->new->decode(LLMTest::slurp($out));
    is(scalar(@$res), 30, "redis killed under load: 30 answers back");
    is(scalar(grep { $_->[0] == 200 && $_->[1] =~ /"done":true/ } @$res), 30,
       "redis killed under load: every one a whole 200");
    LLMTest::mock_restore('big', 'small');
    ok(LLMTest::wait_until(sub { LLMTest::inflight_zero($port) }, 10),
       "redis killed under load: in-flight 0");
    LLMTest::start_redis($rport, '--enable-debug-command', 'yes');
    # every worker, not just the one that answers the status page
    ok(LLMTest::wait_until(sub {
           LLMTest::http($port, 'GET', '/status')->{content}
               =~ /^llm_router_redis_up 1$/m }, 15),
       "redis back: reconnected");
    my @req = gen(0, "load 1");
    my $r = post($port, @req);
    is($r->{headers}{'x-llm-cache'}, 'MISS', "redis back: MISS (it restarted empty)");
    after("redis killed under load", 1, @req);
}

LLMTest::stop_nginx($nginx);
my $log = LLMTest::slurp("$root/logs/error.log");
# nginx's own upstream errors ("connect() failed", "upstream timed out")
# are expected here; the module itself logs nothing above warn
unlike($log, qr/\[error\][^\n]*llm router|\[(crit|alert|emerg)\]/,
       "error log: nothing of ours above warn, nothing critical");
unlike($log, qr/exited on signal/, "no worker crashed");
my $oom = () = $log =~ /redis refused to store an answer: OOM/g;
ok($oom >= 1 && $oom <= 2, "redis full: warned once per worker (2), not per request")
    or diag("$oom warnings");
LLMTest::nginx_clean($root);

# --- a server answering with reply types Redis never sends to GET -----------

# a server speaking Redis's protocol on $port, one process per connection:
# $answer->($command, $per_connection) gives each command's reply, or
# undef for none; returns its pid once it accepts
sub fake_redis {
    my ($port, $answer) = @_;
    my $pid = fork;
    if ($pid == 0) {
        my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                      Listen => 8, ReuseAddr => 1) or POSIX::_exit(1);
        while (my $c = $l->accept) {
            next if fork;
            my %conn;
            while (defined(my $line = <$c>)) {
                next unless $line =~ /^\*(\d+)/;
                my @a;
                for (1 .. $1) { <$c>; my $v = <$c>; $v =~ s/\r\n$//; push @a, $v; }
                my $reply = $answer->(uc $a[0], \%conn);
                print $c $reply if defined $reply;
            }
            POSIX::_exit(0);
        }
        POSIX::_exit(0);
    }
    LLMTest::wait_until(sub { IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) }, 5);
    return $pid;
}

# its GETs get the odd replies in turn, the last of which makes the module
# drop the connection
my @odd = (":42\r\n", "*1\r\n\$1\r\nx\r\n", "+OK\r\n", "\$7\r\ngarbage\r\n",
           "*-1\r\n", "-WRONGTYPE Operation against a key\r\n",
           # an array count hiredis would allocate before the elements
           "*299999999\r\n");
my $fake_port = LLMTest::free_port();
my $fake = fake_redis($fake_port, sub {
    my ($cmd, $conn) = @_;
    return $cmd eq 'PING' ? "+PONG\r\n"
         : $cmd eq 'GET' ? $odd[$conn->{k}++ % @odd]
         : $cmd eq 'SET' ? ":0\r\n"
         : "*0\r\n";
});

$port = LLMTest::free_port();
$root = "t/servroot-inject-fake";
$nginx = LLMTest::start_nginx($root, $port, conf($port, "127.0.0.1:$fake_port"));
ok(LLMTest::wait_until(sub { LLMTest::status($port)->{cache}{redis} eq 'up' }, 10),
   "fake redis: connected");
my %seen;
for (1 .. 14) {
    # each request on a connected worker, so that every one sends its GET
    LLMTest::wait_until(sub { LLMTest::status($port)->{cache}{redis} eq 'up' }, 15);
    my $r = post($port, gen(0));
    $seen{ $r->{status} . ' ' . ($r->{complete} ? 'whole' : 'cut') }++;
    $seen{cache}{ $r->{headers}{'x-llm-cache'} // '-' }++;
}
is_deeply([grep { !ref $seen{$_} } sort keys %seen], ['200 whole'],
          "odd reply types: every request answered whole");
ok($seen{cache}{ERROR} && $seen{cache}{MISS}, "odd replies: ERROR for wrong types, MISS for unreadable values")
    or diag(explain($seen{cache}));
ok(LLMTest::wait_until(sub { LLMTest::inflight_zero($port) }, 5), "odd replies: in-flight 0");
LLMTest::stop_nginx($nginx);
kill 'TERM', $fake;
waitpid($fake, 0);
$log = LLMTest::slurp("$root/logs/error.log");
unlike($log, qr/\[error\][^\n]*llm router|\[(crit|alert|emerg)\]|exited on signal/,
       "odd replies: no error, no crash");
like($log, qr/unexpected Redis reply type/, "odd replies: warned");
like($log, qr/redis [^\n]* unavailable \(a reply longer than any of ours/,
     "a huge array count: the connection is dropped, not 2.4 GB allocated");
LLMTest::nginx_clean($root);

# --- a cache lookup pending when the worker quits ----------------------------
#
# Redis takes a GET and never answers: the request waits for its lookup
# with no timer but the command's. A graceful quit (nginx -s quit, a binary
# upgrade) must let it finish: the lookup times out (300 ms), the request
# goes to its tier as a miss and gets its whole answer before the worker
# exits. A worker that counted the command's timer as cancelable exited at
# once, dropping the connection ("open socket ... left in connection").

my $mute_port = LLMTest::free_port();
my $gets = File::Spec->rel2abs("t/servroot-quit-gets");
unlink $gets;
my $mute = fake_redis($mute_port, sub {
    my ($cmd) = @_;
    return "+PONG\r\n" if $cmd eq 'PING';
    if ($cmd eq 'GET') {
        open my $f, '>>', $gets or POSIX::_exit(1);
        print $f "GET\n";
        close $f;
    }
    return undef;
});

$port = LLMTest::free_port();
$root = "t/servroot-quit-lookup";
$nginx = LLMTest::start_nginx($root, $port, conf($port, "127.0.0.1:$mute_port"));
ok(LLMTest::wait_until(sub { LLMTest::status($port)->{cache}{redis} eq 'up' }, 10),
   "quit with a lookup pending: redis connected");
{
    my $out = File::Spec->rel2abs("$root/quit.json");
    my $kid = fork;
    if ($kid == 0) {
        my ($res) = LLMTest::parallel($port, ['POST', gen(0, "quit lookup")]);
        open my $f, '>', $out or POSIX::_exit(1);
        print $f JSON::PP->new->encode([$res->{status}, $res->{content}]);
        close $f;
        POSIX::_exit(0);
    }
    ok(LLMTest::wait_until(sub { -s $gets }, 5), "quit with a lookup pending: the GET is waiting");
    LLMTest::stop_nginx($nginx);
    waitpid($kid, 0);
    my $res = JSON::PP->new->decode(LLMTest::slurp($out));
    ok($res->[0] == 200 && $res->[1] =~ /"done":true/,
       "quit with a lookup pending: the request gets its whole answer")
        or diag(explain($res));
}
kill 'TERM', $mute;
waitpid($mute, 0);
unlink $gets;
$log = LLMTest::slurp("$root/logs/error.log");
unlike($log, qr/\[(crit|alert|emerg)\]|exited on signal/,
       "quit with a lookup pending: no socket left open, no crash");
LLMTest::nginx_clean($root);

# --- binary upgrade (USR2, WINCH, QUIT) under load ----------------------------
#
# A new master is started from the same binary while requests are in
# flight; the old one stops accepting, finishes its requests and quits.
# Every request gets one whole answer.

SKIP: {
    skip "binary upgrade is not run under valgrind", 8 if $ENV{TEST_NGINX_USE_VALGRIND};

    # nginx ignores USR2 while the process that started it is still its
    # parent, so this one runs as a daemon: the config start_nginx()
    # writes, with "daemon on"
    $port = LLMTest::free_port();
    $root = File::Spec->rel2abs("t/servroot-upgrade");
    # nginx passes only "env" variables to the new binary: keep the
    # sanitizer runtime of a test-asan run
    $nginx = LLMTest::start_nginx($root, $port, conf($port, "127.0.0.1:$rport"),
                                  workers => 2, main_config => $ENV{TEST_NGINX_PRELOAD}
                                  ? "env LD_PRELOAD;\nenv ASAN_OPTIONS;\nenv UBSAN_OPTIONS;" : '');
    LLMTest::stop_nginx($nginx);
    my $cf = "$root/conf/nginx.conf";
    my $text = LLMTest::slurp($cf) =~ s/^daemon off;/daemon on;/mr;
    open my $fh, '>', $cf or die;
    print $fh $text;
    close $fh;
    my $pidfile = "$root/logs/nginx.pid";
    unlink $pidfile;
    system(LLMTest::nginx_command() . " -p $root/ -c $cf -e $root/logs/error.log") == 0
        or die "nginx did not start\n";
    my $old;
    LLMTest::wait_until(sub { -e $pidfile && (LLMTest::slurp($pidfile) =~ /^(\d+)/)
                              && ($old = $1) && LLMTest::status($port) }, 10);
    LLMTest::mock_config('big', { ttft => 200 });
    LLMTest::mock_config('small', { ttft => 200 });

    my $out = "$root/upgrade.json";
    my $kid = fork;
    if ($kid == 0) {
        my @all;
        for my $round (1 .. 8) {
            push @all, LLMTest::parallel($port,
                map { ['POST', gen(0, "upgrade $round $_")] } 1 .. 6);
        }
        open my $f, '>', $out or POSIX::_exit(1);
        print $f JSON::PP->new->encode([ map { [$_->{status}, $_->{content}] } @all ]);
        close $f;
        POSIX::_exit(0);
    }

    ok(LLMTest::wait_until(sub { !LLMTest::inflight_zero($port) }, 5), "upgrade: load running");
    kill 'USR2', $old;
    my $new;
    ok(LLMTest::wait_until(sub {
        -e "$pidfile.oldbin" && LLMTest::slurp($pidfile) =~ /^(\d+)/
            && $1 != $old && ($new = $1) }, 10),
       "upgrade: a new master is running");
    kill 'WINCH', $old;
    kill 'QUIT', $old;
    waitpid($kid, 0);
    my $res = JSON::PP->new->decode(LLMTest::slurp($out));
    is(scalar(@$res), 48, "upgrade: 48 answers");
    is(scalar(grep { $_->[0] == 200 && $_->[1] =~ /"done":true/ } @$res), 48,
       "upgrade: every one a whole 200");
    ok(LLMTest::wait_until(sub { !kill 0, $old }, 10), "upgrade: the old master quit");
    LLMTest::mock_restore('big', 'small');
    my $r = post($port, gen(0));
    ok($r->{status} == 200 && $r->{complete}, "upgrade: the new master serves");
    ok(LLMTest::wait_until(sub { LLMTest::inflight_zero($port) }, 5), "upgrade: in-flight 0");
    kill 'QUIT', $new;
    LLMTest::wait_until(sub { !kill 0, $new }, 10);
    $log = LLMTest::slurp("$root/logs/error.log");
    unlike($log, qr/\[error\][^\n]*llm router|\[(crit|alert|emerg)\]|exited on signal/,
           "upgrade: nothing of ours above warn, no crash");
    LLMTest::nginx_clean($root);
}

done_testing();
