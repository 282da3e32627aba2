# Every request dialect: what the backend receives after the rewrite.
# X-Mock-Echo makes the mock answer with the request it got.
use lib 't/lib';
use LLMTest;
use Test::Nginx::Socket 'no_plan';

no_shuffle();
add_block_preprocessor(\&LLMTest::defaults);
run_tests();

__DATA__

=== TEST 1: Ollama generate: model rewritten, every other byte untouched
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
--- more_headers
X-Mock-Echo: 1
--- request
POST /api/generate
{ "model" : "auto", "prompt":"Hello", "seed": 12345678901234567890123, "options":{"temperature":0.10000, "model":"keep"}, "stream":false }
--- error_code: 200
--- response_body_like: "path":"/api/generate".*"body_raw":"\{ \\"model\\" : \\"llama3\.2:3b\\", \\"prompt\\":\\"Hello\\", \\"seed\\": 12345678901234567890123, \\"options\\":\{\\"temperature\\":0\.10000, \\"model\\":\\"keep\\"\}, \\"stream\\":false \}"



=== TEST 2: Ollama chat: missing model is inserted
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
--- more_headers
X-Mock-Echo: 1
--- request
POST /api/chat
{"messages":[{"role":"user","content":"Merci beaucoup !"}],"stream":false}
--- error_code: 200
--- response_body_like: "body_raw":"\{\\"model\\":\\"llama3\.2:3b\\",\\"messages\\":\[\{\\"role\\":\\"user\\",\\"content\\":\\"Merci beaucoup !\\"\}\],\\"stream\\":false\}"



=== TEST 3: OpenAI chat with content parts
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Class $llm_class always;
    }
--- request
POST /v1/chat/completions
{"model":"auto","messages":[{"role":"system","content":"You are JARVIS."},{"role":"user","content":[{"type":"text","text":"Design a database schema for invoices, justify each index"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"text","text":" and explain how you would migrate it."}]}]}
--- error_code: 200
--- response_headers
X-LLM-Class: complex
X-Mock-Model: gpt-oss:20b
--- response_body_like: "object":"chat\.completion".*"model":"gpt-oss:20b"



=== TEST 4: OpenAI completions with a prompt array: routed, and Ollama's own 400 passed on
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Class $llm_class always;
    }
--- request
POST /v1/completions
{"model":"auto","prompt":["Say hi","Say bye"],"max_tokens":5}
--- error_code: 400
--- response_headers
X-Mock-Model: llama3.2:3b
X-LLM-Class: simple
--- response_body_like: cannot unmarshal array into Go struct field CompletionRequest.prompt



=== TEST 5: JARVIS /generate is translated to an Ollama generate request
--- config
    location = /generate {
        llm_router on;
        proxy_pass http://$llm_upstream/api/generate;
        add_header X-LLM-Dialect $llm_dialect always;
    }
--- more_headers
X-Mock-Echo: 1
--- request
POST /generate
{"prompt":"Hello","max_tokens":100}
--- error_code: 200
--- response_headers
X-LLM-Dialect: jarvis
--- response_body_like: "path":"/api/generate".*"body":\{"model":"llama3\.2:3b","prompt":"Hello","stream":false,"options":\{"num_predict":100\}\}



=== TEST 6: JARVIS gateway answers like Ollama generate (curl -d sends a form content type)
--- config
    location = /generate {
        llm_router on;
        proxy_pass http://$llm_upstream/api/generate;
    }
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- request
POST /generate
{"prompt":"Analyze this algorithm's complexity and prove its worst case step by step."}
--- error_code: 200
--- response_headers
X-Mock-Name: big
--- response_body_like: ^\{"model":"gpt-oss:20b",.*"response":"tok0 .*"done":true



=== TEST 7: a body over client_body_buffer_size stays in memory (the router raises it to llm_router_max_body_size): no temporary file
--- config
    client_body_buffer_size 1k;
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Class $llm_class always;
    }
--- more_headers
X-Mock-Echo: 1
--- request eval
"POST /api/generate\n" . '{"model":"auto","stream":false,"prompt":"' . ("Compare and justify the design. " x 300) . '"}'
--- error_code: 200
--- response_headers
X-LLM-Class: complex
X-Mock-Name: big
--- response_body_like: "content-length":"\d+".*"body_raw":"\{\\"model\\":\\"gpt-oss:20b\\",\\"stream\\":false,\\"prompt\\":\\"Compare and justify
--- no_error_log
buffered to a temporary file
[alert]
[crit]



=== TEST 7b: a body nginx keeps in a file (client_body_in_file_only) is still read
--- config
    client_body_in_file_only clean;
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
        add_header X-LLM-Class $llm_class always;
    }
--- more_headers
X-Mock-Echo: 1
--- request eval
"POST /api/generate\n" . '{"model":"auto","stream":false,"prompt":"' . ("Compare and justify the design. " x 300) . '"}'
--- error_code: 200
--- response_headers
X-LLM-Class: complex
X-Mock-Name: big
--- response_body_like: "content-length":"\d+".*"body_raw":"\{\\"model\\":\\"gpt-oss:20b\\",\\"stream\\":false,\\"prompt\\":\\"Compare and justify



=== TEST 8: a chunked request body is read and re-sent with a length
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
--- more_headers
X-Mock-Echo: 1
--- raw_request eval
"POST /api/generate HTTP/1.1\r
Host: localhost\r
Connection: close\r
X-Mock-Echo: 1\r
Transfer-Encoding: chunked\r
\r
f\r
{\"prompt\":\"Hi\",\r
10\r
 \"stream\":false}\r
0\r
\r
"
--- error_code: 200
--- response_body_like: "content-length":"53".*"body_raw":"\{\\"model\\":\\"llama3\.2:3b\\",\\"prompt\\":\\"Hi\\", \\"stream\\":false\}"



=== TEST 9: a custom path with an explicit dialect
--- config
    location = /ask {
        llm_router on;
        llm_router_dialect ollama_chat;
        proxy_pass http://$llm_upstream/api/chat;
        add_header X-LLM-Dialect $llm_dialect always;
    }
--- request
POST /ask
{"model":"auto","messages":[{"role":"user","content":"Hi"}],"stream":false}
--- error_code: 200
--- response_headers
X-LLM-Dialect: ollama_chat
X-Mock-Model: llama3.2:3b
--- response_body_like: "message":\{"role":"assistant"
