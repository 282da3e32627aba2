# The requested model: "auto" and aliases let the router decide, a tier's
# model pins that tier, anything else is refused.
use lib 't/lib';
use LLMTest;
use Test::Nginx::Socket 'no_plan';

no_shuffle();
add_block_preprocessor(\&LLMTest::defaults);
run_tests();

__DATA__

=== TEST 1: the big tier's model pins a simple prompt to the big tier
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Route $llm_target always;
        add_header X-LLM-Reason $llm_route_reason always;
        add_header X-LLM-Class $llm_class always;
    }
--- request
POST /api/generate
{"model":"gpt-oss:20b","prompt":"Hello","stream":false}
--- error_code: 200
--- response_headers
X-LLM-Route: big
X-LLM-Reason: pinned
X-LLM-Class: simple
X-Mock-Name: big



=== TEST 2: the small tier's model pins a complex prompt to the small tier
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Reason $llm_route_reason always;
    }
--- request
POST /v1/chat/completions
{"model":"llama3.2:3b","messages":[{"role":"user","content":"Prove the four colour theorem step by step and justify every lemma."}]}
--- error_code: 200
--- response_headers
X-LLM-Reason: pinned
X-Mock-Name: small



=== TEST 3: configured aliases mean auto
--- http_config eval: $LLMTest::HttpConfig . "llm_router_auto_models auto jarvis gpt-4o;"
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Reason $llm_route_reason always;
        add_header X-Req $llm_requested_model always;
    }
--- request
POST /v1/chat/completions
{"model":"gpt-4o","messages":[{"role":"user","content":"Hi!"}]}
--- error_code: 200
--- response_headers
X-LLM-Reason: complexity
X-Req: gpt-4o
X-Mock-Model: llama3.2:3b



=== TEST 4: an unknown model is refused in the dialect's style (Ollama)
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
--- request
POST /api/generate
{"model":"mistral:7b","prompt":"Hi"}
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body
{"error":"model 'mistral:7b' not found"}



=== TEST 5: an unknown model is refused in the dialect's style (OpenAI)
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
--- request
POST /v1/chat/completions
{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}
--- error_code: 404
--- response_body
{"error":{"message":"model 'gpt-4o' not found","type":"not_found_error","param":null,"code":null}}



=== TEST 6: an empty or null model means auto
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Reason $llm_route_reason always;
    }
--- request
POST /api/generate
{"model":null,"prompt":"Hi","stream":false}
--- error_code: 200
--- response_headers
X-LLM-Reason: complexity
X-Mock-Model: llama3.2:3b



=== TEST 7: two spellings of the model key: read as Ollama reads them (last wins), both rewritten
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Reason $llm_route_reason always;
    }
--- more_headers
X-Mock-Echo: 1
--- request
POST /api/generate
{"model":"auto","prompt":"Hi","stream":false,"Model":"gpt-oss:20b"}
--- error_code: 200
--- response_headers
X-LLM-Reason: pinned
X-Mock-Name: big
--- response_body_like: "body_raw":"\{\\"model\\":\\"gpt-oss:20b\\",\\"prompt\\":\\"Hi\\",\\"stream\\":false,\\"Model\\":\\"gpt-oss:20b\\"\}"
