# Self-test of the test scaffolding: exercises every data-section feature
# the project's suites rely on, with stock nginx directives only (no
# llm module, no mock backends).  It must pass both under the project's
# runner (prove -It/runner -It/lib t/) and under CPAN's
# Test::Nginx::Socket (prove -I/path/to/test-nginx/lib -It/lib t/).

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use File::Temp ();
use IO::Socket::INET ();

$ENV{TEST_NGINX_SELFTEST_GREETING} = 'hello from the environment';

repeat_each(2);
no_shuffle();
env_to_nginx('SELFTEST_ENV_VAR');

# Blocks that say nothing about the error log must not log errors.
add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->error_log && !defined $block->no_error_log
        && !defined $block->must_die)
    {
        $block->set_value('no_error_log', "[error]\n[crit]\n[alert]\n");
    }
});

run_tests();

# --- ONLY, plan tests => N, master_on(), workers(), log_level() and
# no_long_string() change the whole file, so they are checked by running
# a small generated suite in a child perl with its own port and servroot.
{
    my $dir = File::Temp::tempdir('runner-selftest-XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
    my $inner = "$dir/inner.t";
    open my $out, '>', $inner or die "cannot write $inner: $!";
    print $out <<'_EOT_';
use strict;
use warnings;
use Test::Nginx::Socket;

master_on();
workers(2);
log_level('info');
no_long_string();

plan tests => repeat_each() * 4 * blocks();

run_tests();

__DATA__

=== TEST 1: not selected (a failing block)
--- config
    location = /t { return 500; }
--- request
GET /t
--- error_code: 599

=== TEST 2: the ONLY block
--- ONLY
--- config
    location = /t { return 200 "only\n"; }
--- request
GET /t
--- response_body
only
--- grep_error_log eval: qr/start worker process(?= \d)/
--- grep_error_log_out
start worker process
start worker process
--- no_error_log
[debug]

=== TEST 3: not selected either
--- config
    location = /t { return 500; }
--- request
GET /t
--- error_code: 599
_EOT_
    close $out;

    my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Proto => 'tcp', Listen => 1)
        or die "cannot find a free port: $!";
    my $port = $probe->sockport;
    close $probe;

    local $ENV{TEST_NGINX_PORT} = $port;
    local $ENV{TEST_NGINX_SERVER_PORT} = $port;
    local $ENV{TEST_NGINX_SERVROOT} = "$dir/servroot";

    my @inc = map { "-I$_" } grep { !ref && -d } @INC;
    my $cmd = join ' ', map { quotemeta } $^X, @inc, $inner;
    my $tap = `$cmd 2>$dir/stderr`;
    my $rc = $?;
    my $stderr = do { local (@ARGV, $/) = ("$dir/stderr"); <> };

    is($rc, 0, 'ONLY suite: exits with status 0')
        or diag("TAP:\n$tap\nstderr:\n$stderr");
    like($tap, qr/^1\.\.4$/m, 'ONLY suite: plan tests => N is honoured');
    like($tap, qr/^ok \d+ - .*TEST 2: the ONLY block - status code ok$/m,
         'ONLY suite: the ONLY block ran');
    unlike($tap, qr/TEST [13]:/, 'ONLY suite: the other blocks did not run');
    unlike($tap, qr/^not ok/m, 'ONLY suite: no failures');
    like($stderr, qr/I found ONLY/, 'ONLY suite: warns about ONLY');
}

__DATA__

=== TEST 1: return, response headers, $TEST_NGINX_* expansion
--- config
    location = /t {
        add_header X-Selftest yes;
        return 200 "$TEST_NGINX_SELFTEST_GREETING\n";
    }
--- request
GET /t
--- error_code: 200
--- response_headers
X-Selftest: yes
Content-Type: text/plain
!X-Not-There
--- response_body
hello from the environment
--- timeout: 2



=== TEST 2: main_config, http_config and more_headers
--- main_config
worker_rlimit_nofile 1024;
--- http_config
    map $http_x_selftest $selftest_mapped {
        default  "unknown";
        "ping"   "pong";
    }
--- config
    location = /map {
        return 200 "mapped=$selftest_mapped ua=$http_user_agent\n";
    }
--- request
GET /map
--- more_headers
X-Selftest: ping
User-Agent: selftest-agent
--- response_body
mapped=pong ua=selftest-agent



=== TEST 3: POST body after the request line, computed Content-Length
--- config
    location = /echo {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo-back;
        proxy_set_header X-Body $request_body;
        proxy_set_header X-Len $content_length;
    }
    location = /echo-back {
        return 200 "method=$request_method len=$http_x_len body=$http_x_body\n";
    }
--- request
POST /echo
{"model":"m","prompt":"hi"}
--- response_body
method=POST len=27 body={"model":"m","prompt":"hi"}



=== TEST 4: request eval, response_headers_like, multi-line response_body_like
--- config
    location = /lines {
        add_header X-Num 12345;
        return 200 "line one\nline two: $arg_k2\nline three\n";
    }
--- request eval
"GET /lines?" . CORE::join("&", map { "k$_=v$_" } 1 .. 3)
--- response_headers_like
X-Num: \d+
Content-Length: \d+
--- response_body_like chomp
^line one\n.*v2\nline three$



=== TEST 5: raw_request (HTTP/1.0) and response_body_unlike
--- config
    location = /raw {
        return 200 "raw ok, proto=$server_protocol\n";
    }
--- raw_request eval
"GET /raw HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_headers
!Transfer-Encoding
--- response_body_unlike chomp
HTTP/1\.1



=== TEST 6: a chunked response is de-chunked
--- config
    location = /chunked {
        default_type text/html;
        ssi on;
        set $part "second";
        return 200 'first <!--# echo var="part" --> third';
    }
--- request
GET /chunked
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body chomp
first second third



=== TEST 7: error_log substrings (open() failure of a 404)
--- config
--- request
GET /selftest-does-not-exist.html
--- error_code: 404
--- error_log
open() "
selftest-does-not-exist.html" failed (2: No such file or directory)
--- no_error_log
[crit]
[alert]



=== TEST 8: error_log eval / no_error_log eval with qr//
--- config
    location = /missing {
        root /nonexistent-selftest-dir;
    }
--- request
GET /missing
--- error_code: 404
--- error_log eval
[qr{open\(\) "/nonexistent-selftest-dir/missing" failed}, qr/\[error\]/]
--- no_error_log eval
qr/\[emerg\]/



=== TEST 9: must_die on an unknown directive
--- config
    location = /t {
        selftest_no_such_directive on;
    }
--- must_die
--- suppress_stderr
--- error_log eval
[qr/\[emerg\] .*unknown directive/, 'directive "selftest_no_such_directive"']



=== TEST 10: timeout + abort: a stalled body is not a failure
--- config eval
"location = /slow {
    limit_rate_after 1000;
    limit_rate 1;
    return 200 '" . ("x" x 3000) . "';
}"
--- request
GET /slow
--- timeout: 0.5
--- abort
--- response_headers
Content-Length: 3000
--- response_body_like chomp
^x{100,2999}$



=== TEST 11: wait, empty response_body, access_log
--- config
    location = /wait {
        return 204;
    }
--- request
GET /wait
--- error_code: 204
--- wait: 0.1
--- response_body
--- access_log
"GET /wait HTTP/1.1" 204



=== TEST 12: a SKIP block never runs
--- SKIP
--- config
    location = /t { return 500; }
--- request
GET /t
--- error_code: 599



=== TEST 13: the LAST block
--- config
    location = /last {
        return 200 "last\n";
    }
--- request
GET /last
--- response_body
last
--- LAST



=== TEST 14: after LAST, never runs
--- config
    location = /t { return 500; }
--- request
GET /t
--- error_code: 599
