# Streamed answers (NDJSON and SSE) pass through chunk by chunk.
use lib 't/lib';
use LLMTest;
use Test::Nginx::Socket 'no_plan';

no_shuffle();
add_block_preprocessor(sub {
    my $block = shift;
    LLMTest::defaults($block);
    $block->set_value("config", <<'CONF') unless defined $block->config;
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        proxy_buffering off;
        add_header X-LLM-Stream $llm_stream always;
    }
CONF
});
run_tests();

__DATA__

=== TEST 1: Ollama generate streams NDJSON by default
--- request
POST /api/generate
{"model":"auto","prompt":"Hi"}
--- more_headers
X-Mock-Tokens: 3
--- error_code: 200
--- response_headers
Content-Type: application/x-ndjson
X-LLM-Stream: 1
--- response_body_like: ^(\{"model":"llama3\.2:3b","created_at":"[^"]+","response":"tok\d ","done":false\}\n){3}\{"model":"llama3\.2:3b",.*"done":true,.*"eval_count":3,.*\}\n$



=== TEST 2: OpenAI chat streams SSE events ending with [DONE]
--- request
POST /v1/chat/completions
{"model":"auto","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}
--- more_headers
X-Mock-Tokens: 2
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
X-LLM-Stream: 1
--- response_body_like: ^data: \{"id":"chatcmpl-[^\n]*"object":"chat\.completion\.chunk".*\n\n(data: [^\n]+\n\n)+data: \{[^\n]*"usage":\{"prompt_tokens":\d+,"completion_tokens":2,"total_tokens":\d+\}[^\n]*\n\ndata: \[DONE\]\n\n$



=== TEST 3: the first NDJSON chunk reaches the client before the backend finishes
The mock sends a token every 2 s; the client gives up after 1 s of silence
and must already hold the first line, and only it.
--- request
POST /api/chat HTTP/1.0
{"model":"auto","messages":[{"role":"user","content":"Hi"}]}
--- more_headers
X-Mock-Tokens: 4
X-Mock-Tps: 0.5
--- timeout: 1
--- abort
--- error_code: 200
--- response_body_like: \A\{"model":"llama3\.2:3b","created_at":"[^"]+","message":\{"role":"assistant","content":"tok0 "\},"done":false\}\n\z



=== TEST 4: the first SSE event reaches the client before the backend finishes
--- request
POST /v1/completions HTTP/1.0
{"model":"auto","stream":true,"prompt":"Hi"}
--- more_headers
X-Mock-Tokens: 4
X-Mock-Tps: 0.5
--- timeout: 1
--- abort
--- error_code: 200
--- response_body_like: \Adata: \{[^\n]*"text":"tok0 "[^\n]*\}\n\n\z



=== TEST 5: stream false gets one JSON object
--- request
POST /api/generate
{"model":"auto","prompt":"Hi","stream":false}
--- error_code: 200
--- response_headers
Content-Type: application/json; charset=utf-8
X-LLM-Stream: 0
--- response_body_like: ^\{"model":"llama3\.2:3b".*"done":true.*\}$
