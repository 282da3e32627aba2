# The router stands in for an Ollama server: against mock tiers that behave
# like the real server (loopback Host guard, name resolution, load/unload,
# lists, model-named endpoints; ported from Ollama's source), with the
# shipped locations snippet as it is.  Each block checks one way the router
# used to differ from Ollama where a client can tell.
use strict;
use warnings;
use lib 't/lib';
use LLMTest big => [qw(--models nomic-embed-text:latest)],
            small => [qw(--version 0.12.11)];
use Test::More;
use JSON::PP;
use Cwd ();

my $json = JSON::PP->new->canonical;
my $top = Cwd::getcwd();
my $conf = $ENV{LLMTEST_CONF_DIR} // "$top/conf";   # another tree's, for comparisons
my $rport = LLMTest::start_redis(undef);
my $port = LLMTest::free_port();
my $root = "t/servroot-ollama";
my ($big, $small) = map { LLMTest::mock_port($_) } qw(big small);

my $nginx = LLMTest::start_nginx($root, $port, <<"CONF", log_level => 'info');
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }
    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    llm_router_health_check interval=100ms timeout=1s;
    llm_router_breaker failures=100 cooldown=1s;
    llm_redis 127.0.0.1:$rport timeout=300ms;

    server {
        listen 127.0.0.1:$port;
        # the shipped snippet, unchanged
        include $conf/llm_router_locations.conf;
        location = /status { llm_router_status; }
    }
CONF

sub get { LLMTest::http($port, 'GET', @_) }
sub post {
    my ($path, $body, $h) = @_;
    return LLMTest::http($port, 'POST', $path,
                         ref $body ? $json->encode($body) : $body, $h);
}
sub dec { my $r = shift; my $d = eval { decode_json($r->{content}) }; $d || {} }
sub stats { LLMTest::mock_stats(shift) }

ok(LLMTest::wait_until(sub {
       my $s = LLMTest::status($port, '/status');
       $s->{tiers}{big}{healthy} && $s->{tiers}{small}{healthy}
           && $s->{cache}{redis} eq 'up' }, 15),
   "both tiers healthy through the Host guard, redis up");

# 1. Host: routed requests reach a loopback Ollama --------------------------

{
    LLMTest::mock_reset();
    my $r = post('/api/generate', { model => 'auto', stream => JSON::PP::false,
                                    prompt => 'Hello JARVIS' });
    is($r->{status}, 200, "a routed request is not refused by the Host guard");
    is(stats('small')->{forbidden} // 0, 0, "... the tier refused nothing");
    $r = post('/api/blobs/sha256:29fdb92e57cf0827ded04ae6461b5931d01fa595843f55d36f5b275a52087dd2', 'x');
    is($r->{status}, 501, "a passed-on request reaches the default tier (its own 501)");
    is(stats('small')->{forbidden} // 0, 0, "... not refused either");
}

# 2. names, as Ollama resolves them ------------------------------------------

for my $name ('GPT-OSS:20B', 'registry.ollama.ai/library/gpt-oss:20b',
              'library/gpt-oss:20b') {
    my $r = post('/api/generate', { model => $name, stream => JSON::PP::false,
                                    prompt => "name $name" });
    is($r->{status}, 200, "$name: served");
    is($r->{headers}{'x-llm-route'}, 'big', "$name: pinned to big");
    is($r->{headers}{'x-mock-model'}, 'gpt-oss:20b', "$name: sent as the configured name");
}
{
    my $r = post('/api/chat', { model => 'AUTO', stream => JSON::PP::false,
                                messages => [{ role => 'user', content => 'hi' }] });
    is("$r->{status} $r->{headers}{'x-llm-reason'}", "200 complexity", "AUTO is the alias");
    $r = post('/api/generate', { model => 'nomic-embed-text', prompt => 'x',
                                 stream => JSON::PP::false });
    is($r->{headers}{'x-llm-route'}, 'big', "a model only big's server has goes to big");
    is($r->{headers}{'x-mock-model'}, 'nomic-embed-text', "... named as the client named it");
    $r = post('/api/generate', { model => 'mistral:7b', prompt => 'x' });
    is($r->{status}, 404, "an unknown model: 404");
    is(dec($r)->{error}, "model 'mistral:7b' not found", "... in Ollama's words");
}

# 3. load, unload, preload: to the right server, never cached -------------------

sub cache_keys { scalar grep { !/lock/ } @{ LLMTest::redis($rport, 'KEYS', 'llm:*') || [] } }
sub on_path { my ($tier, $path) = @_; stats($tier)->{by_path}{$path} // 0 }

{
    LLMTest::mock_reset();
    my $keys = cache_keys();
    my $r = post('/api/generate', { model => 'gpt-oss:20b', prompt => '', keep_alive => 0 });
    is($r->{status}, 200, "unload (keep_alive 0, empty prompt): answered");
    is(dec($r)->{done_reason}, 'unload', "... done_reason unload, from the server");
    is(stats('big')->{unloads}, 1, "... big's server unloaded it");
    is($r->{headers}{'x-llm-class'} // '', '', "... not scored as a prompt");
    $r = post('/api/generate', { model => 'gpt-oss:20b' });
    is(dec($r)->{done_reason}, 'load', "load (no prompt): done_reason load");
    is(stats('big')->{loads}, 1, "... big's server loaded it");
    $r = post('/api/generate', { model => 'gpt-oss:20b', prompt => '', keep_alive => 0 });
    is(dec($r)->{done_reason}, 'unload', "the same unload again: the server's answer, not a cached load");
    is($r->{headers}{'x-llm-cache'}, 'BYPASS', "... not from the cache");
    is(stats('big')->{unloads}, 2, "... big's server unloaded it again");
    $r = post('/api/chat', { model => 'llama3.2:3b', messages => [] });
    is(dec($r)->{done_reason}, 'load', "chat with no messages: a load");
    is(on_path('small', '/api/chat'), 1, "... on small's server");
    is(on_path('big', '/api/chat'), 0, "... not on big's");
    $r = post('/api/generate', { model => 'auto', keep_alive => '0s' });
    is(dec($r)->{done_reason}, 'unload', "auto: unload every tier's model");
    is(dec($r)->{model}, 'auto', "... one answer naming auto");
    is(stats('small')->{unloads}, 1, "... small's server unloaded its model");
    is(stats('big')->{last_model}, 'gpt-oss:20b', "... big's was asked with its own");
    $r = post('/api/generate', { model => 'auto' });
    is(dec($r)->{done_reason}, 'load', "auto: load every tier's model");
    is(stats('big')->{loads} . ' ' . stats('small')->{loads}, '2 1', "... both servers loaded theirs");
    is(cache_keys(), $keys, "nothing cached for loads and unloads");
}

# 4. lists: the union of the servers' own, plus auto ------------------------

ok(LLMTest::wait_until(sub {
       my $m = dec(get('/api/tags'))->{models} || [];
       grep { $_->{name} eq 'nomic-embed-text:latest' } @$m }, 5),
   "/api/tags lists the other models on the servers");
{
    my $m = dec(get('/api/tags'))->{models};
    my %by = map { $_->{name} => $_ } @$m;
    is(join(',', sort keys %by), 'auto,gpt-oss:20b,llama3.2:3b,nomic-embed-text:latest',
       "/api/tags: one entry per model");
    like($by{auto}{digest}, qr/^[0-9a-f]{64}$/, "auto has a real-looking digest ('ollama list' slices [:12])");
    cmp_ok($by{auto}{size}, '>', 0, "... and a size");
    like($by{auto}{modified_at}, qr/^\d{4}-\d\d-\d\dT/, "... and a date");
    is($by{'gpt-oss:20b'}{digest}, (grep { $_->{name} eq 'gpt-oss:20b' }
                                    @{ decode_json(LLMTest::http($big, 'GET', '/api/tags')->{content})->{models} })[0]{digest},
       "a server's entry is passed on as it is");

    my $v = dec(get('/v1/models'));
    is(join(',', sort map { $_->{id} } @{ $v->{data} }),
       'auto,gpt-oss:20b,llama3.2:3b,nomic-embed-text:latest', "/v1/models: every server's models");
    is(get('/v1/models/GPT-OSS:20B')->{status}, 200, "/v1/models/{id}: found as Ollama names it");
    my $nf = get('/v1/models/nope:1b');
    is("$nf->{status} " . (dec($nf)->{error}{type} // ''), '404 not_found_error',
       "/v1/models/{id}: unknown, OpenAI's 404");

    $m = dec(get('/api/ps'))->{models};
    ok((grep { $_->{name} eq 'gpt-oss:20b' } @$m) && (grep { $_->{name} eq 'llama3.2:3b' } @$m),
       "/api/ps: the models loaded on both servers");

    $v = dec(get('/api/version'));
    is($v->{version}, '0.12.11', "/api/version: the lowest the servers report");
    like($v->{router}, qr{^ngx_llm_router/}, "... and the router's");
}

# 5. model-named endpoints go where the model is -------------------------------

{
    my $r = post('/api/show', { model => 'gpt-oss:20b' });
    is("$r->{status} $r->{headers}{'x-mock-name'}", "200 big", "/api/show gpt-oss:20b: big's server");
    ok(grep({ $_ eq 'thinking' } @{ dec($r)->{capabilities} || [] }), "... its own answer");
    $r = post('/api/show', { name => 'LLAMA3.2:3B' });
    is("$r->{status} $r->{headers}{'x-mock-name'}", "200 small", "/api/show with the legacy name key: small's");
    $r = post('/api/show', { model => 'auto' });
    is($r->{status}, 200, "/api/show auto: answered by the router");
    my $d = dec($r);
    like($d->{modelfile}, qr/auto.*gpt-oss:20b.*llama3\.2:3b/s, "... saying what auto is");
    is(join(',', sort @{ $d->{capabilities} }), 'completion,tools',
       "... with what every tier's model can do");
    ok($d->{details} && $d->{model_info}, "... details and model_info, as clients read them");
    $r = post('/api/embed', { model => 'nomic-embed-text', input => 'hello' });
    is("$r->{status} $r->{headers}{'x-mock-name'}", "200 big", "/api/embed: to the server with the model");
    is(scalar @{ dec($r)->{embeddings} || [] }, 1, "... its embeddings");
    $r = post('/v1/embeddings', { model => 'nomic-embed-text', input => ['a', 'b'] });
    is("$r->{status} $r->{headers}{'x-mock-name'}", "200 big", "/v1/embeddings: there too");
    $r = post('/api/embed', { model => 'auto', input => 'x' });
    is($r->{status}, 400, "/api/embed auto: a clear 400");
    $r = post('/api/delete', '{"model":"llama3.2:3b"}');
    is($r->{headers}{'x-mock-name'}, 'small', "/api/delete: to the server that has the model");
}

# 6. liveness and JSON errors when tiers are down --------------------------------

{
    my $r = get('/');
    is("$r->{status} $r->{content}", "200 Ollama is running", "GET /: from the router");
    $r = LLMTest::http($port, 'HEAD', '/');
    is($r->{status}, 200, "HEAD /");
    LLMTest::stop_mock('small');
    $r = get('/');
    is("$r->{status} $r->{content}", "200 Ollama is running", "GET / with the default tier down");
    $r = post('/api/blobs/sha256:29fdb92e57cf0827ded04ae6461b5931d01fa595843f55d36f5b275a52087dd2', 'x');
    is($r->{status}, 502, "a passed-on request, default tier down: 502");
    like($r->{content}, qr/^\{"error":"the small tier could not answer/, "... one JSON error, not HTML");
    LLMTest::stop_mock('big');
    $r = get('/api/tags');
    is($r->{status}, 502, "/api/tags, every tier down: 502");
    like($r->{content}, qr/^\{"error":/, "... in JSON");
    $r = get('/v1/models');
    like($r->{content}, qr/^\{"error":\{"message"/, "/v1/models, every tier down: OpenAI-style error");
    LLMTest::start_mock('big');
    LLMTest::start_mock('small');
    ok(LLMTest::wait_until(sub { get('/api/tags')->{status} == 200 }, 10), "back when they are");
}

# 7. JARVIS /generate: gpt-oss thinks within num_predict -------------------------

{
    # the mock counts thinking tokens against num_predict, as Ollama does
    my $r = post('/generate', { prompt => "Prove that there are infinitely many primes, step by step, and analyze the proof's structure rigorously.",
                                max_tokens => 5 });
    is($r->{headers}{'x-llm-route'}, 'big', "a complex JARVIS prompt goes to gpt-oss");
    my $d = dec($r);
    like($d->{response} // '', qr/tok0/, "max_tokens 5: the answer is not empty");
    is(dec(LLMTest::http($big, 'GET', '/_mock/stats'))->{last_model}, 'gpt-oss:20b', "sent to gpt-oss");
    $r = post('/generate', { prompt => 'hi', max_tokens => 5, think => JSON::PP::false });
    is($r->{status}, 200, "think is carried (false, to the small model)");
}

# 8. roles: Ollama folds their case ---------------------------------------------

{
    my $msg = "Analyze the time complexity of quicksort, prove its average case step by step, and compare it with merge sort and heapsort in depth.";
    my $a = post('/api/chat', { model => 'auto', stream => JSON::PP::false,
                                messages => [{ role => 'user', content => $msg }] });
    my $b = post('/api/chat', { model => 'auto', stream => JSON::PP::false,
                                messages => [{ role => 'User', content => $msg }] });
    is($b->{headers}{'x-llm-class'}, $a->{headers}{'x-llm-class'}, "role \"User\" is read as \"user\"");
    is($b->{headers}{'x-llm-complexity'}, $a->{headers}{'x-llm-complexity'}, "... same score");
}

LLMTest::forget_connections();
LLMTest::stop_nginx($nginx);
LLMTest::nginx_clean($root);

# 9. a tier that refuses the router: visible, a failure, and the health check
# says why --------------------------------------------------------------------

{
    my $root2 = "t/servroot-ollama-host";
    my $p2 = LLMTest::free_port();
    my $n2 = LLMTest::start_nginx($root2, $p2, <<"CONF", log_level => 'info');
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }
    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b host=router.example.com;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    llm_router_health_check interval=100ms timeout=1s;
    llm_router_breaker failures=100 cooldown=1s;
    llm_redis 127.0.0.1:$rport timeout=300ms;

    server {
        listen 127.0.0.1:$p2;
        include $conf/llm_router_locations.conf;
        location = /status { llm_router_status; }
    }
CONF
    ok(LLMTest::wait_until(sub { my $h = LLMTest::status($p2, '/status')->{tiers}{big}{healthy};
                                 defined $h && !$h }, 10),
       "health check: a tier answering 403 is down");
    my $s = LLMTest::status($p2, '/status');
    like($s->{tiers}{big}{down_reason}, qr/403 Forbidden to "Host: router\.example\.com".*host=localhost/,
         "... with a reason a person understands");
    my $r = LLMTest::http($p2, 'POST', '/api/generate',
                          '{"model":"gpt-oss:20b","stream":false,"prompt":"hi"}');
    is("$r->{status} $r->{headers}{'x-llm-fallback'}", "200 big->small",
       "a routed request the tier refuses falls back");
    $s = LLMTest::status($p2, '/status');
    cmp_ok($s->{tiers}{big}{refusals}, '>=', 1, "... the refusal is counted");
    is($s->{tiers}{big}{refusing}, 403, "... and shown");
    LLMTest::http($p2, 'POST', '/api/generate', '{"model":"gpt-oss:20b","stream":false,"prompt":"again"}')
        for 1 .. 3;
    LLMTest::forget_connections();
    LLMTest::stop_nginx($n2);
    my $log = LLMTest::slurp("$root2/logs/error.log");
    my @refuse = ($log =~ /big tier refuses requests: it answers 403 Forbidden/g);
    is(scalar @refuse, 1, "logged once per state change, not per request");
    my @down = ($log =~ /health check: big tier is down: it answers 403/g);
    is(scalar @down, 1, "the health check's reason logged once");
}

done_testing();
