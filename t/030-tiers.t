# Beyond two tiers: five tiers by name and rank, end to end against mock
# Ollama servers: small (rank 0), a vision tier (rank 1,
# serves=chat,generate,vision), big (rank 2), a cloud tier (rank 3,
# overflow) and an embedding tier (serves=embed).  Routing by
# class and by what the request needs, the cloud tier only when no local
# tier has room, the fallback chain along the policy's order with its
# bound, and a 400 when no tier can serve what a request needs.
use strict;
use warnings;
use lib 't/lib';
use LLMTest small => ['--models', 'nomic-embed-text'];
use Test::More;
use JSON::PP;

$LLMTest::Tiers{vision} = { model => 'gemma3', name => 'vision',
                            env => 'TEST_NGINX_VISION_PORT' };
$LLMTest::Tiers{cloud} = { model => 'gpt-oss:120b', name => 'cloud',
                           env => 'TEST_NGINX_CLOUD_PORT' };
LLMTest::start_mock('vision');
LLMTest::start_mock('cloud');

my $json = JSON::PP->new->canonical;
my $port = LLMTest::free_port();
my $root = 't/servroot-tiers';
my ($big, $small, $vision, $cloud) =
    map { LLMTest::mock_port($_) } qw(big small vision cloud);

my $nginx = LLMTest::start_nginx($root, $port, <<"CONF");
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }
    upstream ollama_vision { server 127.0.0.1:$vision; keepalive 8; }
    upstream ollama_cloud { server 127.0.0.1:$cloud; keepalive 8; }
    llm_router_zone llm 1m;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b max_inflight=1;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b rank=2 max_inflight=1;
    llm_router_tier vision upstream=ollama_vision model=gemma3 rank=1 max_inflight=1 serves=chat,generate,vision;
    llm_router_tier cloud upstream=ollama_cloud model=gpt-oss:120b rank=3 overflow;
    llm_router_tier embed upstream=ollama_small model=nomic-embed-text rank=0 serves=embed;
    llm_router_breaker failures=100;

    server {
        listen 127.0.0.1:$port;
${\ LLMTest::fallback_server() }
        add_header X-LLM-Route \$llm_target always;
        add_header X-LLM-Reason \$llm_route_reason always;
        add_header X-LLM-Fallback \$llm_fallback always;
        location = /status { llm_router_status; }
    }
CONF

my $simple = 'What time is it?';
my $complex = 'Analyze the time complexity of heapsort, prove its worst case'
            . ' step by step and compare it with merge sort.';

sub chat {
    my ($text, %o) = @_;
    my $msg = { role => 'user', content => $text };
    $msg->{images} = ['iVBORw0KGgo='] if $o{image};
    my $r = ($o{async} ? \&LLMTest::http_close : \&LLMTest::http)->(
        $port, 'POST', '/api/chat',
        $json->encode({ model => 'auto', stream => JSON::PP::false,
                        messages => [$msg] }));
    return $r;
}

sub route {
    my $r = chat(@_);
    my $h = $r->{headers};
    return join ' ', $r->{status}, $h->{'x-llm-route'} // '-',
        $h->{'x-llm-reason'} // '-', $h->{'x-mock-name'} // '-';
}

is(route($simple), '200 small complexity small', 'simple: the lowest rank');
is(route($complex), '200 big complexity big',
   'complex: the highest local rank that serves chat');
is(route('What is in this picture?', image => 1),
   '200 vision capability vision', 'an image: the tier that sees');

my $e = LLMTest::http($port, 'POST', '/api/embed',
                      '{"model":"nomic-embed-text","input":"remember Friday"}');
is("$e->{status} $e->{headers}{'x-llm-route'} $e->{headers}{'x-llm-reason'}",
   '200 embed model', 'embeddings: the embedding tier');
is(route($simple), '200 small complexity small',
   '... which takes no prompt');

my $st = LLMTest::status($port);
is(join(',', sort keys %{ $st->{tiers} }), 'big,cloud,embed,small,vision',
   'status: a row per tier');
like(LLMTest::http($port, 'GET', '/status')->{content},
     qr/^llm_router_inflight_requests\{tier="cloud"\} 0$/m,
     'metrics: a series per tier');

# spill-over: big full, a complex prompt goes to the next rank down
LLMTest::mock_config('big', { ttft => 1500 });
my $kid = fork;
die "fork: $!" unless defined $kid;
if ($kid == 0) {
    chat($complex, async => 1);
    exit 0;
}
ok(LLMTest::wait_until(sub { LLMTest::status($port)->{tiers}{big}{inflight}
                             == 1 }, 10), 'big busy');
is(route($complex), '200 vision queue vision',
   'big full: the next rank down (spill-over)');
waitpid($kid, 0);
LLMTest::mock_restore('big');

# the cloud tier only on overflow: every local tier full
LLMTest::mock_config($_, { ttft => 1500 }) for qw(big small vision);
my @kids;
for my $text ($complex, $simple, 'Describe it.') {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        chat($text, async => 1, image => $text eq 'Describe it.');
        exit 0;
    }
    push @kids, $pid;
}
ok(LLMTest::wait_until(sub {
       my $t = LLMTest::status($port)->{tiers};
       $t->{big}{inflight} + $t->{small}{inflight} + $t->{vision}{inflight}
           == 3 }, 10), 'every local tier busy');
is(route($complex), '200 cloud overflow cloud',
   'locals full: the overflow tier');
waitpid($_, 0) for @kids;
LLMTest::mock_restore('big', 'small', 'vision');
ok(LLMTest::wait_until(sub { LLMTest::inflight_zero($port) }, 10),
   'in-flight back to 0');
is(route($complex), '200 big complexity big', 'room again: never the cloud');

# the fallback chain: the nearest rank, then the next
LLMTest::mock_config('big', { fail => 503 });
is(route($complex), '200 vision fallback vision',
   'big fails: the nearest rank');
LLMTest::mock_config('vision', { fail => 503 });
my $r = chat($complex);
is("$r->{status} $r->{headers}{'x-llm-route'}", '200 small',
   'big and vision fail: the next rank, the third and last attempt');
is($r->{headers}{'x-llm-fallback'}, 'vision->small', '... $llm_fallback');
LLMTest::mock_config('small', { fail => 503 });
$r = chat($complex);
is($r->{status}, 502, 'three tiers failed: no fourth attempt');
like($r->{content}, qr/"error":"no tier could answer: every tier asked failed"/,
     '... one JSON error');
is(LLMTest::mock_stats('cloud')->{requests}, 1,
   '... and the overflow tier was asked only when every local one was full');
LLMTest::mock_restore('big', 'small', 'vision');

LLMTest::stop_nginx($nginx);

# no tier that sees (tiers that say what they serve): an image gets a
# clear 400; a config where no tier says (serves=) routes as before
$nginx = LLMTest::start_nginx($root, $port, <<"CONF");
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }
    llm_router_zone llm 1m;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b serves=chat,generate,tools;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b serves=chat,generate,tools;
    server {
        listen 127.0.0.1:$port;
${\ LLMTest::fallback_server() }
    }
CONF
$r = chat('What is in this picture?', image => 1);
is($r->{status}, 400, 'an image and no vision tier: 400');
like($r->{content}, qr/"error":"no tier can serve this request: it has images/,
     '... saying why');
LLMTest::stop_nginx($nginx);

LLMTest::stop_mock($_) for qw(vision cloud);

done_testing();
