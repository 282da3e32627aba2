# "make run"'s script (conf/run.sh) starts Redis, the mock tiers and nginx,
# and routes its simple prompt to the small tier and its complex prompt to
# the big tier.  DEMO_ONESHOT=1 makes it stop after the two requests.
# With OLLAMA_BIG / OLLAMA_SMALL it fronts servers started apart from it,
# here mock tiers that enforce Ollama's loopback Host rule, and every
# endpoint a client uses works through it.  A port already taken stops it
# with a clear error.
use strict;
use warnings;
use lib 't/lib';
use LLMTest big => [qw(--models nomic-embed-text:latest)];
use Test::More;
use JSON::PP;
use POSIX ();
use IO::Socket::INET;

my $json = JSON::PP->new;

# 1. the demo, mock tiers of its own

{
    my $port = LLMTest::free_port();
    my $redis = LLMTest::free_port();
    my $out = `DEMO_ONESHOT=1 PORT=$port REDIS_PORT=$redis conf/run.sh 2>&1`;
    is($? >> 8, 0, "conf/run.sh exits cleanly") or diag($out);

    my ($simple, $complex) = split /complex prompt/, $out, 2;
    like($simple // '', qr/X-LLM-Route: small/, "simple prompt on the small tier");
    like($simple // '', qr/X-LLM-Model: llama3\.2:3b/, "small tier model");
    like($simple // '', qr/X-LLM-Class: simple/, "simple class");
    like($complex // '', qr/X-LLM-Route: big/, "complex prompt on the big tier");
    like($complex // '', qr/X-LLM-Model: gpt-oss:20b/, "big tier model");
    like($complex // '', qr/X-LLM-Reason: complexity/, "reason shown");
    like($complex // '', qr/body: \{"id":"chatcmpl-/, "an OpenAI answer came back");
    like($out, qr/X-LLM-Cache: HIT/, "the repeat comes from the cache");
    my (undef, $photo) = split /==> a photo: /, $out, 2;
    like($photo // '', qr/X-LLM-Route: vision\s+X-LLM-Model: gemma3/,
         "a photo: the tier that sees");
    my (undef, $over) = split /==> one more while every local tier is full/,
                              $out, 2;
    like($over // '', qr/X-LLM-Route: cloud/, "every local tier full: the "
         . "cloud tier");
    like($over // '', qr/X-LLM-Reason: overflow/, "... reason overflow");
    like($over // '', qr/body: \{"model":"gpt-oss:120b".*"done":true/,
         "... its OpenAI answer translated to Ollama's");
    my (undef, $embed) = split /==> embeddings: /, $out, 2;
    my ($first, $again) = split /from disk/, $embed // '', 2;
    like($first // '', qr/X-LLM-Embedding-Cache: MISS/,
         "embeddings: asked of the tier the first time");
    like($again // '', qr/X-LLM-Embedding-Cache: HIT/,
         "... answered from disk the second time");
    like($again // '', qr/body: \{"model":"nomic-embed-text","embeddings":\[\[/,
         "... with the vectors");
    my $log = LLMTest::slurp("build/run/logs/error.log");
    unlike($log, qr/Failed to open drm|Exception caught/, "no rocm-smi noise in the error log");
}

# 2. a port already taken: a clear error, not a demo against someone else

{
    my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Proto => 'tcp', Listen => 5, ReuseAddr => 1);
    my $port = $busy->sockport;
    my $out = `DEMO_ONESHOT=1 PORT=$port REDIS_PORT=@{[ LLMTest::free_port() ]} conf/run.sh 2>&1`;
    isnt($? >> 8, 0, "port in use: conf/run.sh fails");
    like($out, qr/127\.0\.0\.1:$port is already in use/, "... and says why");
    unlike($out, qr/X-LLM-Route/, "... without routing anything");
    close $busy;
}

# 3. OLLAMA_BIG / OLLAMA_SMALL: servers of their own, strict about Host

my ($big, $small) = map { LLMTest::mock_port($_) } qw(big small);
my $port = LLMTest::free_port();
my $redis = LLMTest::free_port();
my $out = "build/run-real.out";
unlink $out;
my $pid = fork;
die "fork: $!" unless defined $pid;
if ($pid == 0) {
    POSIX::setsid();
    open STDOUT, '>', $out;
    open STDERR, '>&', \*STDOUT;
    { no warnings 'exec';
      exec 'env', "OLLAMA_BIG=127.0.0.1:$big", "OLLAMA_SMALL=127.0.0.1:$small",
           "PORT=$port", "REDIS_PORT=$redis", 'conf/run.sh'; }
    POSIX::_exit(127);
}

ok(LLMTest::wait_until(sub { LLMTest::slurp($out) =~ /The router is serving/ }, 60),
   "make run serves against the separate servers") or diag(LLMTest::slurp($out));
like(LLMTest::slurp($out), qr/real Ollama tiers: big=127\.0\.0\.1:$big/, "... it says which");

sub req {
    my ($method, $path, $body) = @_;
    my $r = LLMTest::http($port, $method, $path,
                          defined $body && ref $body ? $json->encode($body) : $body);
    $r->{json} = eval { decode_json($r->{content}) } || {};
    return $r;
}

my $r = req('GET', '/');
is("$r->{status} $r->{content}", "200 Ollama is running", "GET /");
is(req('HEAD', '/')->{status}, 200, "HEAD /");
$r = req('GET', '/api/tags');
is(join(',', sort map { $_->{name} } @{ $r->{json}{models} || [] }),
   'auto,gpt-oss:20b,jarvis,llama3.2:3b,nomic-embed-text:latest', "/api/tags");
$r = req('GET', '/api/ps');
is(scalar @{ $r->{json}{models} || [] }, 2, "/api/ps");
$r = req('GET', '/api/version');
like($r->{json}{version} // '', qr/^0\.\d+\.\d+/, "/api/version: the servers'");
$r = req('GET', '/v1/models');
is(scalar @{ $r->{json}{data} || [] }, 5, "/v1/models");
$r = req('POST', '/api/show', { model => 'gpt-oss:20b' });
is("$r->{status} $r->{headers}{'x-mock-name'}", "200 big", "/api/show gpt-oss:20b");
$r = req('POST', '/api/show', { model => 'auto' });
is($r->{status}, 200, "/api/show auto");
$r = req('POST', '/api/embed', { model => 'nomic-embed-text', input => 'x' });
is("$r->{status} $r->{headers}{'x-mock-name'}", "200 big", "/api/embed");
$r = req('POST', '/api/generate', { model => 'llama3.2:3b', keep_alive => 0 });
is($r->{json}{done_reason}, 'unload', "unload");
$r = req('POST', '/api/generate', { model => 'auto' });
is($r->{json}{done_reason}, 'load', "load through auto");
$r = req('POST', '/api/chat', { model => 'auto',
                                messages => [{ role => 'user', content => 'Tell me a joke' }] });
my @lines = split /\n/, $r->{content};
ok($r->{status} == 200 && @lines > 2 && $lines[-1] =~ /"done":true/, "a streamed chat");
my $gen = { model => 'auto', stream => JSON::PP::false, prompt => 'What time is it?' };
$r = req('POST', '/api/generate', $gen);
is("$r->{status} $r->{headers}{'x-llm-cache'}", "200 MISS", "generate: MISS");
ok(LLMTest::wait_until(sub { req('POST', '/api/generate', $gen)->{headers}{'x-llm-cache'} eq 'HIT' }, 5),
   "... then HIT");
$r = req('POST', '/generate', { prompt => 'Explain quantum computing', max_tokens => 20 });
ok($r->{status} == 200 && length($r->{json}{response} // ''), "JARVIS /generate");
is(LLMTest::mock_stats('big')->{forbidden} + LLMTest::mock_stats('small')->{forbidden}, 0,
   "the servers refused nothing (Host)");

LLMTest::forget_connections();
kill 'INT', -$pid;
my $done = LLMTest::wait_until(sub { waitpid($pid, POSIX::WNOHANG()) == $pid }, 20);
ok($done, "Ctrl-C stops make run");
ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp'),
   "... and its nginx");

done_testing();
