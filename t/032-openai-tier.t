# A tier that speaks OpenAI's API only (api=openai), served by the mock's
# /v1/chat/completions: Ollama-dialect requests are translated to it and
# its answers back (JSON, and SSE to NDJSON when streaming), checked with
# raw HTTP and with the real `ollama` JS client; OpenAI-dialect requests
# pass as they are.  The tier is forced with the override header.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use JSON::PP;
use Cwd ();

$LLMTest::Tiers{cloud} = { model => 'gpt-oss:120b', name => 'cloud',
                           env => 'TEST_NGINX_CLOUD_PORT' };
LLMTest::start_mock('cloud');

my $json = JSON::PP->new->canonical;
my $port = LLMTest::free_port();
my $cloud = LLMTest::mock_port('cloud');

# a paid Ollama-API tier behind a front that shows the Authorization it got
my $front = LLMTest::free_port();
mkdir 't/servroot-openai';
open my $kf, '>', 't/servroot-openai/cloud.key' or die;
print $kf "  sk-test-0123456789  \n";
close $kf;
my $keyfile = Cwd::getcwd() . '/t/servroot-openai/cloud.key';

my $nginx = LLMTest::start_nginx('t/servroot-openai', $port, <<"CONF");
${\ LLMTest::tiers_conf() }
    upstream ollama_cloud { server 127.0.0.1:$cloud; keepalive 8; }
    upstream ollama_paid { server 127.0.0.1:$front; }
    llm_router_tier cloud upstream=ollama_cloud model=gpt-oss:120b rank=3 api=openai overflow;
    llm_router_tier paid upstream=ollama_paid model=gpt-oss:120b rank=4 api=ollama key_file=$keyfile overflow;

    server {
        listen 127.0.0.1:$front;
        location / {
            add_header X-Got-Authorization \$http_authorization always;
            proxy_pass http://127.0.0.1:$cloud;
        }
    }

    server {
        listen 127.0.0.1:$port;
${\ LLMTest::fallback_server() }
        proxy_set_header Authorization \$llm_upstream_authorization;
        llm_router_override_header X-LLM-Tier;
        add_header X-LLM-Route \$llm_target always;
    }
CONF

my %cloud = ('X-LLM-Tier' => 'cloud');

sub post {
    my ($path, $body) = @_;
    return LLMTest::http($port, 'POST', $path, $json->encode($body), \%cloud);
}

my $r = post('/api/chat', { model => 'auto', stream => JSON::PP::false,
                            messages => [{ role => 'user', content => 'Hi' }] });
is($r->{status}, 200, 'chat: 200');
is($r->{headers}{'x-llm-route'}, 'cloud', '... from the cloud tier');
is(LLMTest::mock_stats('cloud')->{last_path}, '/v1/chat/completions',
   '... asked in OpenAI\'s dialect');
like($r->{headers}{'content-type'}, qr{^application/json}, '... JSON');
my $a = eval { decode_json($r->{content}) } || {};
is($a->{model}, 'gpt-oss:120b', '... Ollama\'s answer: model');
is($a->{message}{role}, 'assistant', '... message');
ok(length($a->{message}{content} // ''), '... with content');
is($a->{done}, JSON::PP::true, '... done');
ok(($a->{eval_count} // 0) > 0 && ($a->{prompt_eval_count} // 0) > 0,
   '... token counts from usage');

$r = post('/api/chat', { model => 'auto',
                         messages => [{ role => 'user', content => 'Hi' }] });
is($r->{status}, 200, 'chat streamed (Ollama\'s default): 200');
like($r->{headers}{'content-type'}, qr{^application/x-ndjson}, '... NDJSON');
my @lines = split /\n/, $r->{content};
cmp_ok(scalar @lines, '>', 2, '... several lines');
my @objs = map { eval { decode_json($_) } } @lines;
is(scalar @objs, scalar @lines, '... each a JSON object');
is($objs[-1]{done}, JSON::PP::true, '... the last one done');
ok(($objs[-1]{eval_count} // 0) > 0, '... with its counts');
is(join('', map { $_->{message}{content} // '' } @objs[0 .. $#objs - 1]) ne '',
   1, '... the text in the lines before');

$r = post('/api/generate', { model => 'auto', prompt => 'Hi',
                             stream => JSON::PP::false });
$a = eval { decode_json($r->{content}) } || {};
ok(length($a->{response} // ''), 'generate: Ollama\'s "response"');

$r = post('/v1/chat/completions', { model => 'auto', stream => JSON::PP::true,
                                    messages => [{ role => 'user',
                                                   content => 'Hi' }] });
like($r->{content}, qr/^data: \{.*"chat\.completion\.chunk"/m,
     'OpenAI dialect: passed as it is (SSE)');
like($r->{content}, qr/^data: \[DONE\]/m, '... to its end');

# a paid tier's key from key_file=, sent in its place of the client's
$r = LLMTest::http($port, 'POST', '/api/chat',
                   $json->encode({ model => 'auto', stream => JSON::PP::false,
                                   messages => [{ role => 'user',
                                                  content => 'Hi' }] }),
                   { 'X-LLM-Tier' => 'paid', Authorization => 'Bearer client' });
is("$r->{status} $r->{headers}{'x-llm-route'}", '200 paid', 'the paid tier');
is($r->{headers}{'x-got-authorization'}, 'Bearer sk-test-0123456789',
   '... got the key of its key_file, not the client\'s');
unlike(LLMTest::slurp('t/servroot-openai/logs/error.log'), qr/sk-test/,
       '... and the key is in no log');

# the real ollama JS client, streaming and not, through the cloud tier
my $js = <<'JS';
import { Ollama } from 'ollama';
const o = new Ollama({ host: process.argv[2], headers: { 'X-LLM-Tier': 'cloud' } });
const a = await o.chat({ model: 'auto', messages: [{ role: 'user', content: 'Hi' }] });
console.log(`chat ${a.done} ${a.message.content.length > 0} ${a.eval_count > 0}`);
let text = '', last = null;
for await (const part of await o.chat({ model: 'auto', stream: true,
                                        messages: [{ role: 'user', content: 'Hi' }] })) {
    text += part.message.content; last = part;
}
console.log(`stream ${last.done} ${text.length > 0} ${last.eval_count > 0}`);
const g = await o.generate({ model: 'auto', prompt: 'Hi' });
console.log(`generate ${g.done} ${g.response.length > 0}`);
JS

SKIP: {
    skip 'the npm clients are not installed (t/007-clients.t installs them)', 3
        unless -d 't/clients/node_modules/ollama';
    open my $f, '>', 't/clients/openai-tier.mjs' or die;
    print $f $js;
    close $f;
    my $out = `node t/clients/openai-tier.mjs http://127.0.0.1:$port 2>&1`;
    unlink 't/clients/openai-tier.mjs';
    like($out, qr/^chat true true true$/m, 'ollama JS: chat') or diag($out);
    like($out, qr/^stream true true true$/m, 'ollama JS: a streamed chat');
    like($out, qr/^generate true true$/m, 'ollama JS: generate');
}

LLMTest::stop_nginx($nginx);
LLMTest::stop_mock('cloud');

done_testing();
