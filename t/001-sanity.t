# Basic routing: a simple prompt goes to the small tier, a complex one to the
# big tier, the model is rewritten, and the decision shows in variables.
use lib 't/lib';
use LLMTest;
use Test::Nginx::Socket 'no_plan';

no_shuffle();
add_block_preprocessor(\&LLMTest::defaults);
run_tests();

__DATA__

=== TEST 1: simple prompt goes to the small tier
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Route $llm_target always;
        add_header X-LLM-Model $llm_model always;
        add_header X-LLM-Class $llm_class always;
        add_header X-LLM-Reason $llm_route_reason always;
    }
--- request
POST /api/generate
{"model":"auto","prompt":"Hello","stream":false}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- response_headers
X-LLM-Route: small
X-LLM-Model: llama3.2:3b
X-LLM-Class: simple
X-LLM-Reason: complexity
X-Mock-Name: small
X-Mock-Model: llama3.2:3b
--- response_body_like: "model":"llama3\.2:3b".*"done":true
--- no_error_log
[error]



=== TEST 2: complex prompt goes to the big tier
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Route $llm_target always;
        add_header X-LLM-Class $llm_class always;
        add_header X-LLM-Complexity $llm_complexity always;
    }
--- request
POST /api/generate
{"model":"auto","prompt":"Analyze the time and space complexity of merge sort, prove it is optimal for comparison sorts, and compare it with quicksort step by step.","stream":false}
--- error_code: 200
--- response_headers
X-LLM-Route: big
X-LLM-Class: complex
X-Mock-Name: big
X-Mock-Model: gpt-oss:20b
--- response_headers_like
X-LLM-Complexity: 0\.[7-9]\d\d
--- no_error_log
[error]



=== TEST 3: medium prompt goes to the big tier while it has room
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Class $llm_class always;
    }
--- request
POST /api/chat
{"model":"auto","messages":[{"role":"user","content":"Describe how a hash table handles collisions."}],"stream":false}
--- error_code: 200
--- response_headers
X-LLM-Class: medium
X-Mock-Name: big



=== TEST 4: every decision variable in one response
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-Vars "t=$llm_target u=$llm_upstream m=$llm_model c=$llm_class r=$llm_route_reason d=$llm_dialect s=$llm_stream q=$llm_requested_model" always;
        add_header X-Features $llm_features always;
    }
--- request
POST /v1/chat/completions
{"model":"auto","messages":[{"role":"user","content":"Prove that the square root of 2 is irrational and justify each step."}]}
--- error_code: 200
--- response_headers
X-Vars: t=big u=ollama_big m=gpt-oss:20b c=complex r=complexity d=openai_chat s=0 q=auto
--- response_headers_like
X-Features: ^reasoning:\d\.\d\d(,\w+:\d\.\d\d)*$



=== TEST 5: /api/tags lists auto and every tier's model
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
--- request
GET /api/tags
--- error_code: 200
--- response_headers
Content-Type: application/json; charset=utf-8
--- response_body_like: ^\{"models":\[\{"name":"auto".*\{"name":"gpt-oss:20b".*\{"name":"llama3\.2:3b"



=== TEST 6: /api/version is answered by the router
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
--- request
GET /api/version
--- error_code: 200
--- response_body_like: ^\{"version":"[0-9.]+","router":"ngx_llm_router/



=== TEST 7: other Ollama endpoints pass through to the default tier
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Route $llm_target always;
        add_header X-LLM-Reason $llm_route_reason always;
    }
--- request
POST /api/blobs/sha256:29fdb92e57cf0827ded04ae6461b5931d01fa595843f55d36f5b275a52087dd2
x
--- error_code: 501
--- response_headers
X-LLM-Route: small
X-LLM-Reason: default
X-Mock-Name: small



=== TEST 8: the default tier is configurable
--- http_config eval: $LLMTest::HttpConfig . "llm_router_default_tier big;"
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
--- request
POST /api/blobs/sha256:29fdb92e57cf0827ded04ae6461b5931d01fa595843f55d36f5b275a52087dd2
x
--- error_code: 501
--- response_headers
X-Mock-Name: big



=== TEST 9: locations without llm_router are untouched
--- config
    location / {
        proxy_pass http://ollama_small;
        add_header X-LLM-Class "[$llm_class]" always;
    }
--- request
POST /api/generate
{"model":"llama3.2:3b","prompt":"Prove Fermat's little theorem step by step.","stream":false}
--- error_code: 200
--- response_headers
X-LLM-Class: []
X-Mock-Model: llama3.2:3b



=== TEST 10: thresholds change the class
--- config
    location / {
        llm_router on;
        llm_router_thresholds 0.001 0.002;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Class $llm_class always;
    }
--- request
POST /api/generate
{"model":"auto","prompt":"What time is it in Tokyo?","stream":false}
--- error_code: 200
--- response_headers
X-LLM-Class: complex
X-Mock-Name: big
