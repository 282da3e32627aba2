# L3: embeddings answered from disk.  The router gives each embeddings
# request $llm_cache_key, the hash of its endpoint, model, tenant and
# canonical body, and nginx's own proxy_cache keeps the answers on disk:
# a repeat (whatever its key order or spacing) never reaches the tier,
# also after nginx restarts; another text, model, endpoint or tenant is
# asked of the tier; a request the router cannot key is never cached.
use strict;
use warnings;
use lib 't/lib';
use LLMTest small => ['--models', 'nomic-embed-text,all-minilm'];
use Test::More;
use Cwd ();

my $port = LLMTest::free_port();
my $root = 't/servroot-embeddings';
system('rm', '-rf', "$root/cache");

sub conf {
    return <<"CONF";
${\ LLMTest::tiers_conf() }
    llm_redis 127.0.0.1:1 timeout=100ms;

    proxy_cache_path ${\ Cwd::getcwd() }/$root/cache levels=1:2 keys_zone=llm_embeddings:1m
                     inactive=30d use_temp_path=off;

    map \$llm_cache_key \$llm_no_embedding_key {
        ""       1;
        default  0;
    }

    server {
        listen 127.0.0.1:$port;
${\ LLMTest::fallback_server() }

        location ~ ^/(api/embed|api/embeddings|v1/embeddings)\$ {
            llm_router           on;
            proxy_pass           http://\$llm_upstream;
            proxy_buffering      on;
            proxy_cache          llm_embeddings;
            proxy_cache_methods  POST;
            proxy_cache_key      \$llm_cache_key;
            proxy_cache_valid    200  30d;
            proxy_cache_bypass   \$llm_no_embedding_key;
            proxy_no_cache       \$llm_no_embedding_key;
            add_header           X-Embedding-Cache  \$upstream_cache_status  always;
            add_header           X-Key              \$llm_cache_key  always;
        }
        location = /status { llm_router_status; }
    }
CONF
}

my $nginx = LLMTest::start_nginx($root, $port, conf());

sub embed {
    my ($path, $body, $h) = @_;
    my $r = LLMTest::http($port, 'POST', $path, $body, $h);
    return ($r->{headers}{'x-embedding-cache'} // '-') . ' '
           . ($r->{status} == 200 && $r->{content} =~ /"embeddings?"|"data"/
              ? 'vectors' : "$r->{status} $r->{content}");
}

sub asked { LLMTest::mock_stats('small')->{requests} }

my $e1 = '{"model":"nomic-embed-text","input":"the meeting moved to Friday"}';
my $n = asked();
is(embed('/api/embed', $e1), 'MISS vectors', 'first: asked of the tier');
is(asked(), $n + 1, '... which saw it');
is(embed('/api/embed', $e1), 'HIT vectors', 'again: from disk');
is(embed('/api/embed', qq( { "input" : "the meeting moved to Friday",\n)
                     . qq(  "model":"nomic-embed-text" })),
   'HIT vectors', 'another key order and spacing: from disk');
is(asked(), $n + 1, '... the tier saw neither');

is(embed('/api/embed', '{"model":"nomic-embed-text","input":"the meeting'
                     . ' moved to Monday"}'),
   'MISS vectors', 'another text: asked');
is(embed('/api/embed', '{"model":"all-minilm","input":"the meeting moved'
                     . ' to Friday"}'),
   'MISS vectors', 'another model: asked');
is(embed('/api/embeddings', '{"model":"nomic-embed-text","prompt":"the'
                          . ' meeting moved to Friday"}'),
   'MISS vectors', 'the legacy endpoint: asked');
is(embed('/v1/embeddings', $e1), 'MISS vectors', 'OpenAI\'s: asked');
is(embed('/v1/embeddings', $e1), 'HIT vectors', '... then from disk');
is(embed('/api/embed', $e1, { Authorization => 'Bearer other' }),
   'MISS vectors', 'another tenant: asked');

my $r = LLMTest::http($port, 'POST', '/api/embed', '{"input":"no model"}');
is($r->{headers}{'x-key'} // '', '', 'no model named: no key');
$n = asked();
LLMTest::http($port, 'POST', '/api/embed', '{"input":"no model"}');
is(asked(), $n + 1, '... and never answered from disk');

# a restart: the answers are still on disk
LLMTest::stop_nginx($nginx);
$nginx = LLMTest::start_nginx($root, $port, conf());
$n = asked();
is(embed('/api/embed', $e1), 'HIT vectors', 'after a restart: from disk');
is(embed('/v1/embeddings', $e1), 'HIT vectors', '... OpenAI\'s too');
is(asked(), $n, '... the tier saw nothing');

LLMTest::stop_nginx($nginx);

done_testing();
