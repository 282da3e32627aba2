# Real client libraries from npm at pinned versions (ollama, @langchain/ollama,
# openai; t/clients/package.json), pointed at the router, over the surface
# clients use: list, show, ps, version, load and unload, generate and chat
# streaming with thinking and tools, embeddings, models, errors.  Each call is
# checked against what the mock tier received.  The packages are installed
# from npm into t/clients/node_modules (ignored by git).
use strict;
use warnings;
use lib 't/lib';
use LLMTest big => [qw(--models nomic-embed-text:latest)];
use Test::More;
use File::Path qw(make_path);

my $servroot = "t/servroot-clients";
my $npm_log = "$servroot.npm.log";

if (!-d "t/clients/node_modules/ollama" || !-d "t/clients/node_modules/openai"
    || !-d "t/clients/node_modules/\@langchain/ollama")
{
    system("cd t/clients && npm install --no-audit --no-fund --loglevel=error"
           . " > ../../$npm_log 2>&1") == 0
        or plan skip_all => "npm install failed (see $npm_log)";
}

my $port = LLMTest::free_port();
my $nginx = LLMTest::start_nginx($servroot, $port, <<"CONF");
    upstream ollama_big { server 127.0.0.1:$ENV{TEST_NGINX_BIG_PORT}; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$ENV{TEST_NGINX_SMALL_PORT}; keepalive 8; }
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    llm_router_zone llm 1m;
    llm_router_health_check interval=100ms;

    server {
        listen 127.0.0.1:$port;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$llm_upstream_host;
        proxy_buffering off;
        location / {
            llm_router on;
            proxy_pass http://\$llm_upstream;
        }
    }
CONF

# the health check has read the servers' model lists
LLMTest::wait_until(sub {
    LLMTest::http($port, 'POST', '/api/show', '{"model":"nomic-embed-text"}')
        ->{status} == 200 }, 10);

my @lines = `node t/clients/clients.mjs http://127.0.0.1:$port @{[ LLMTest::mock_url('big') ]} @{[ LLMTest::mock_url('small') ]} 2>&1`;
my $rc = $?;
my $checks = 0;

for my $line (@lines) {
    chomp $line;
    if ($line =~ /^ok - (.*)/) {
        pass($1);
        $checks++;
    } elsif ($line =~ /^not ok - ([^:]*): (.*)/) {
        fail($1);
        diag($2);
        $checks++;
    } else {
        diag($line);
    }
}

is($checks, 21, "every client check ran");
is($rc, 0, "client script exit status");

LLMTest::stop_nginx($nginx);
LLMTest::nginx_clean($servroot);

done_testing();
