# Bad requests get a JSON error in the client's dialect, never a crash.
use lib 't/lib';
use LLMTest;
use Test::Nginx::Socket 'no_plan';

no_shuffle();
add_block_preprocessor(sub {
    my $block = shift;
    LLMTest::defaults($block);
    $block->set_value("config", <<'CONF') unless defined $block->config;
    llm_router_max_body_size 64k;
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
CONF
    $block->set_value("no_error_log", "[alert]\n[crit]\n[emerg]\nsignal")
        unless defined $block->no_error_log;
});
run_tests();

__DATA__

=== TEST 1: not JSON
--- request
POST /api/generate
hello there
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body
{"error":"request body is not valid JSON"}



=== TEST 2: truncated JSON
--- request
POST /api/chat
{"model":"auto","messages":[{"role":"user","content":"Hi"
--- error_code: 400
--- response_body
{"error":"request body is not valid JSON"}



=== TEST 3: valid JSON without a prompt: a JARVIS request needs one
--- request
POST /generate
{"model":"auto"}
--- error_code: 400
--- response_body
{"error":"missing \"prompt\""}



=== TEST 4: chat without messages, OpenAI style error
--- request
POST /v1/chat/completions
{"model":"auto","prompt":"Hi"}
--- error_code: 400
--- response_body
{"error":{"message":"missing \"messages\"","type":"invalid_request_error","param":null,"code":null}}



=== TEST 5: wrong type for the prompt
--- request
POST /api/generate
{"prompt":["Hi"]}
--- error_code: 400
--- response_body
{"error":"\"prompt\" must be a string"}



=== TEST 6: wrong type for the model
--- request
POST /api/generate
{"model":42,"prompt":"Hi"}
--- error_code: 400
--- response_body
{"error":"\"model\" must be a string"}



=== TEST 7: wrong type for stream
--- request
POST /api/chat
{"messages":[{"role":"user","content":"Hi"}],"stream":"yes"}
--- error_code: 400
--- response_body
{"error":"\"stream\" must be a boolean"}



=== TEST 8: a top-level array
--- request
POST /v1/completions
[{"prompt":"Hi"}]
--- error_code: 400
--- response_body
{"error":{"message":"request body must be a JSON object","type":"invalid_request_error","param":null,"code":null}}



=== TEST 9: empty body
--- request
POST /api/generate
--- error_code: 400
--- response_body
{"error":"empty request body, expected a JSON object"}



=== TEST 10: body over llm_router_max_body_size (Content-Length)
--- request eval
"POST /api/generate\n" . '{"prompt":"' . ("a" x 70000) . '"}'
--- error_code: 413
--- response_body
{"error":"request body too large"}



=== TEST 11: body over llm_router_max_body_size (chunked)
--- raw_request eval
my $chunk = "a" x 40000;
"POST /api/generate HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
. sprintf("%x\r\n%s\r\n", length($chunk), $chunk) x 2 . "0\r\n\r\n"
--- error_code: 413
--- response_body
{"error":"request body too large"}



=== TEST 12: GET on a generation endpoint
--- request
GET /api/chat
--- error_code: 405
--- response_headers
Allow: POST
--- response_body
{"error":"method not allowed, use POST"}



=== TEST 13: 100 000 levels of nesting
--- request eval
"POST /api/generate\n" . '{"prompt":"a","x":' . ("[" x 100000) . ("]" x 100000) . '}'
--- config
    llm_router_max_body_size 1m;
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
--- error_code: 400
--- response_body
{"error":"request body is not valid JSON"}



=== TEST 14: invalid UTF-8 in the prompt
--- request eval
"POST /api/generate\n{\"prompt\":\"caf\xe9 \xff\"}"
--- error_code: 400
--- response_body
{"error":"prompt text is not valid UTF-8"}



=== TEST 15: a NUL byte after the JSON object
--- request eval
"POST /api/generate\n{\"prompt\":\"hi\"}\0{\"x\":1}"
--- error_code: 400
--- response_body
{"error":"request body is not valid JSON: control character"}



=== TEST 15b: control characters that cJSON alone would take as whitespace
--- request eval
"POST /api/generate\n{\"model\":\x08\x08\n\x08\"auto\",\"prompt\":\"hi\"}"
--- error_code: 400
--- response_body
{"error":"request body is not valid JSON: control character"}



=== TEST 15c: trailing data after the object
--- request
POST /api/generate
{"prompt":"hi"} {"x":1}
--- error_code: 400
--- response_body
{"error":"request body is not valid JSON: trailing data"}



=== TEST 16: message content of the wrong type for Ollama chat
--- request
POST /api/chat
{"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}
--- error_code: 400
--- response_body
{"error":"message \"content\" must be a string"}



=== TEST 17: thousands of messages are fine
--- config
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
--- request eval
"POST /api/chat\n" . '{"stream":false,"messages":['. CORE::join(",", ('{"role":"user","content":"Hi"}') x 3000) . ']}'
--- error_code: 200
--- response_headers
X-Mock-Name: big



=== TEST 18: a bad request is logged at info without the prompt
--- log_level: info
--- request
POST /api/generate
{"prompt":12345, "secret":"do-not-log-me"}
--- error_code: 400
--- error_log
llm router: bad ollama_generate request: "prompt" must be a string
--- no_error_log
do-not-log-me



=== TEST 19: a huge prompt string within the limit is routed
--- config
    llm_router_max_body_size 1m;
    client_body_buffer_size 1m;
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
--- request eval
"POST /api/generate\n" . '{"stream":false,"prompt":"' . ("word " x 180000) . '"}'
--- error_code: 200
--- response_body_like: "done":true



=== TEST 20: duplicate keys: the last one counts, as in Ollama's decoder
--- request
POST /api/generate
{"model":"nope","prompt":"x","stream":false,"model":"auto","prompt":"Hi"}
--- more_headers
X-Mock-Echo: 1
--- error_code: 200
--- response_body_like: "body_raw":"\{\\"model\\":\\"llama3\.2:3b\\",\\"prompt\\":\\"x\\",\\"stream\\":false,\\"model\\":\\"llama3\.2:3b\\",\\"prompt\\":\\"Hi\\"\}"



=== TEST 21: a non-JSON content type with a JSON body is accepted
--- request
POST /api/generate
{"prompt":"Hi","stream":false}
--- more_headers
Content-Type: text/plain
--- error_code: 200
--- response_body_like: "done":true



=== TEST 22: a form-encoded body is not JSON
--- request
POST /api/generate
prompt=Hi&stream=false
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- error_code: 400
--- response_body
{"error":"request body is not valid JSON"}



=== TEST 23: a chunked body within the limit is routed
--- raw_request eval
"POST /api/generate HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
. "5\r\n{\"pro\r\n" . "19\r\nmpt\":\"Hi\",\"stream\":false}\r\n" . "0\r\n\r\n"
--- error_code: 200
--- response_body_like: "done":true



=== TEST 24: a raw NUL byte inside a string
--- request eval
"POST /api/generate\n{\"prompt\":\"h\0i\"}"
--- error_code: 400
--- response_body
{"error":"request body is not valid JSON: control character"}



=== TEST 25: an escaped NUL (\u0000) inside the prompt
--- request
POST /api/generate
{"prompt":"a\u0000b","stream":false}
--- more_headers
X-Mock-Echo: 1
--- error_code: 200
--- response_body_like: "body_raw":"\{\\"model\\":\\"llama3\.2:3b\\",\\"prompt\\":\\"a\\\\u0000b\\"



=== TEST 26: a JSON string as the whole body
--- request
POST /api/generate
"just a string"
--- error_code: 400
--- response_body
{"error":"request body must be a JSON object"}



=== TEST 27: a huge number of keys
--- config
    llm_router_max_body_size 1m;
    client_body_buffer_size 1m;
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
--- request eval
"POST /api/generate\n{" . CORE::join(",", map { "\"k$_\":$_" } 1 .. 50000) . ",\"prompt\":\"Hi\",\"stream\":false}"
--- error_code: 200
--- response_body_like: "done":true
