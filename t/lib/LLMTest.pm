package LLMTest;

# Test helper for the ngx_llm_router suites.  Works the same under the
# project's runner (t/runner) and under CPAN's Test::Nginx::Socket.
#
#   use LLMTest;                       # before "use Test::Nginx::Socket"
#   use LLMTest big => [qw(--ttft 50)], small => [qw(--tps 100)];
#   use Test::Nginx::Socket 'no_plan';
#
# On import it
#   * starts two mock Ollama backends (t/backend/mock-ollama.js):
#       big   - model gpt-oss:20b, name big
#       small - model llama3.2:3b, name small
#     on $ENV{TEST_NGINX_BIG_PORT} / $ENV{TEST_NGINX_SMALL_PORT}, or on
#     free ports when those are unset, and exports both variables so that
#     configs can say "server 127.0.0.1:$TEST_NGINX_BIG_PORT;";
#   * waits until each one is ready (its ready file exists and a TCP
#     connect succeeds), bounded by $ENV{LLMTEST_MOCK_TIMEOUT} (15 s);
#   * exports $ENV{TEST_NGINX_LLM_MODULE} (absolute path of the built
#     module: the variable if set, else build/ngx_http_llm_router_module.so
#     of this repository) and appends it to TEST_NGINX_LOAD_MODULES.
# The mocks are stopped in END and on INT/TERM/HUP.
#
# Import options (besides big => [...], small => [...]):
#   no_module => 1       do not require / load the llm module
#   no_mocks  => 1       do not start the mocks (start_mock() can later)
#   root_location => 1   keep the scaffold's default "location /" (see
#                        below)
#
# The suites route everything from their own "location /", which would
# clash with the static "location / { root html; }" that Test::Nginx adds
# to every server: unless root_location => 1 is given, an INIT block calls
# Test::Nginx::Socket's no_root_location() once the suite's
# "use Test::Nginx::Socket" has loaded it (works with both runners).
#
# Functions (not exported; call as LLMTest::name):
#   mock_stats($tier)            GET /_mock/stats, decoded
#   mock_config($tier, \%cfg)    POST /_mock/config, decoded answer
#   mock_reset(@tiers)           POST /_mock/reset (default: all running)
#   mock_restore(@tiers)         config as at start + reset
#   start_mock($tier, @args)     (re)start a tier on its port
#   stop_mock($tier)             stop a tier (its port stays reserved)
#   mock_port($tier), mock_url($tier), mock_log($tier), mock_pid($tier)
#   module_path(), tiers()
#   defaults($block)             block preprocessor: "--- http_config" is
#                                $HttpConfig unless the block has one
#   $LLMTest::HttpConfig         http-level config: upstreams ollama_big /
#                                ollama_small on the mock ports and the
#                                two llm_router_tier lines
#   free_port()                  a free TCP port on 127.0.0.1
#   start_nginx($servroot, $port, $http_conf, %opt)
#                                an nginx of its own (outside the data-
#                                section runner) with the loaded modules and
#                                $http_conf inside http {}; waits until
#                                $port accepts connections; returns a handle.
#                                %opt: workers (1), log_level (warn),
#                                main_config ('')
#   stop_nginx($handle)          QUIT/TERM/KILL with bounded waits; returns
#                                the wait status
#   slurp($file)                 file contents ('' when unreadable)
#   http($port, $method, $path, $body, \%h)
#                                one request on a kept-alive connection
#                                (http_close(): on a connection of its own)
#   pipeline($port, [$method, $path, $body, \%h], ...)
#                                pipelined requests on one connection
#
# Environment: LLMTEST_NODE (node binary), LLMTEST_MOCK_SCRIPT (mock
# script), LLMTEST_MOCK_TIMEOUT (seconds), LLMTEST_KEEP_LOGS (keep the
# mock logs' temporary directory).

use strict;
use warnings;

use Cwd ();
use File::Basename ();
use File::Spec ();
use File::Temp ();
use HTTP::Tiny ();
use IO::Socket::INET ();
use IO::Select ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

our $VERSION = '0.01';

my $LibDir  = File::Basename::dirname(Cwd::abs_path(__FILE__));
my $TDir    = File::Basename::dirname($LibDir);
my $RootDir = File::Basename::dirname($TDir);

our %Tiers = (
    big   => { model => 'gpt-oss:20b', name => 'big',
               env => 'TEST_NGINX_BIG_PORT' },
    small => { model => 'llama3.2:3b', name => 'small',
               env => 'TEST_NGINX_SMALL_PORT' },
    # a second big server, started on demand (start_mock('big2'))
    big2  => { model => 'gpt-oss:20b', name => 'big2',
               env => 'TEST_NGINX_BIG2_PORT' },
);
our @TierOrder = qw(big small);

our $Node = $ENV{LLMTEST_NODE} || 'node';
our $Script = $ENV{LLMTEST_MOCK_SCRIPT} || "$TDir/backend/mock-ollama.js";
our $StartTimeout = $ENV{LLMTEST_MOCK_TIMEOUT} || 15;

my $OwnerPid = $$;
my $KeepRootLocation;
my $Imported;
my $Dir;
my $Json = JSON::PP->new->utf8->canonical;

# The http-level configuration most blocks need: one upstream per mock
# tier and the two tiers.  The ports stay as $TEST_NGINX_*_PORT: both
# runners expand them when they write nginx.conf.
our $HttpConfig = <<'_EOC_';
    upstream ollama_big {
        server 127.0.0.1:$TEST_NGINX_BIG_PORT;
        keepalive 8;
    }
    upstream ollama_small {
        server 127.0.0.1:$TEST_NGINX_SMALL_PORT;
        keepalive 8;
    }
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    # the Host a loopback Ollama accepts (inherited by every location that
    # sets no proxy_set_header of its own)
    proxy_set_header Host $llm_upstream_host;
_EOC_

my %Nginx;    # pid => handle, for start_nginx()/stop_nginx()

sub tiers { @TierOrder }

# Block preprocessor (add_block_preprocessor(\&LLMTest::defaults)).
sub defaults {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    return $block;
}

sub slurp {
    my $f = shift;
    open my $in, '<', $f or return '';
    binmode $in;
    local $/;
    my $s = <$in>;
    close $in;
    return defined $s ? $s : '';
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "LLMTest: cannot find a free port: $!\n";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub _nginx_binary {
    my $b = $ENV{TEST_NGINX_BINARY};
    return $b if defined $b && $b ne '';
    for my $d (split /:/, $ENV{PATH} || '') {
        return "$d/nginx" if $d ne '' && -x "$d/nginx" && -f _;
    }
    return '/usr/sbin/nginx';
}

# nginx_command(): the nginx binary as a shell command, with the sanitizer
# runtime preloaded when the module under test was built with one
# (TEST_NGINX_PRELOAD, see "make test-asan")
sub nginx_command {
    my $pre = $ENV{TEST_NGINX_PRELOAD};
    return (defined $pre && $pre ne '' ? "LD_PRELOAD='$pre' " : '')
           . _nginx_binary();
}

sub start_nginx {
    my ($servroot, $port, $http_conf, %opt) = @_;
    die "LLMTest: start_nginx(\$servroot, \$port, \$http_conf)\n"
        unless defined $servroot && defined $port && defined $http_conf;
    $servroot = File::Spec->rel2abs($servroot);
    for my $d ($servroot, "$servroot/conf", "$servroot/logs") {
        next if -d $d;
        mkdir $d or die "LLMTest: cannot create $d: $!\n";
    }
    my $err = "$servroot/logs/error.log";
    for my $f ($err, "$servroot/logs/access.log", "$servroot/logs/stderr.log") {
        open my $fh, '>', $f or die "LLMTest: cannot write $f: $!\n";
        close $fh;
    }

    my $workers = $opt{workers} || 1;
    my $level = $opt{log_level} || 'warn';
    my $main = defined $opt{main_config} ? $opt{main_config} : '';
    my $mods = join '', map { "load_module $_;\n" }
                        grep { length } split /\s+/,
                        (defined $ENV{TEST_NGINX_LOAD_MODULES}
                         ? $ENV{TEST_NGINX_LOAD_MODULES} : '');
    my $user = $> == 0 ? "user root;\n" : '';
    my $temps = join '', map { "    ${_}_temp_path $servroot/${_}_temp;\n" }
                         qw(client_body proxy fastcgi uwsgi scgi);

    my $conf = "$mods${user}daemon off;\nmaster_process on;\n"
             . "worker_processes $workers;\n"
             . "error_log $err $level;\npid $servroot/logs/nginx.pid;\n"
             . "$main\n"
             . "events {\n    worker_connections 1024;\n}\n"
             . "http {\n    access_log $servroot/logs/access.log;\n$temps"
             . "    default_type text/plain;\n\n$http_conf\n}\n";
    my $cf = "$servroot/conf/nginx.conf";
    open my $out, '>', $cf or die "LLMTest: cannot write $cf: $!\n";
    print $out $conf;
    close $out;

    my @cmd = (_nginx_binary(), '-p', "$servroot/", '-c', $cf, '-e', $err);
    unlink glob("$servroot/logs/valgrind.*.log");
    if ($ENV{TEST_NGINX_USE_VALGRIND}) {
        unshift @cmd, 'valgrind', qw(-q --tool=memcheck --leak-check=full
            --show-possibly-lost=no --errors-for-leak-kinds=definite
            --num-callers=50),
            "--suppressions=$TDir/runner/valgrind-nginx.suppress",
            "--log-file=$servroot/logs/valgrind.%p.log";
    }
    my $pid = fork;
    die "LLMTest: fork failed: $!\n" unless defined $pid;
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$servroot/logs/stderr.log";
        open STDERR, '>>', "$servroot/logs/stderr.log";
        _set_pdeathsig();
        $ENV{LD_PRELOAD} = $ENV{TEST_NGINX_PRELOAD}
            if $ENV{TEST_NGINX_PRELOAD};
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        print STDERR "LLMTest: exec $cmd[0] failed: $!\n";
        POSIX::_exit(127);
    }
    my $h = { pid => $pid, servroot => $servroot, port => $port };
    $Nginx{$pid} = $h;

    my $deadline = Time::HiRes::time()
                   + ($ENV{TEST_NGINX_USE_VALGRIND} ? 60 : 10);
    while (1) {
        my $r = waitpid($pid, POSIX::WNOHANG());
        if ($r == $pid) {
            delete $Nginx{$pid};
            die "LLMTest: nginx exited during startup (status $?):\n"
                . slurp("$servroot/logs/stderr.log") . slurp($err);
        }
        last if _connect_ok($port);
        if (Time::HiRes::time() >= $deadline) {
            stop_nginx($h);
            die "LLMTest: nginx not listening on port $port after 10s:\n"
                . slurp($err);
        }
        Time::HiRes::sleep(0.02);
    }
    return $h;
}

sub stop_nginx {
    my $h = shift;
    return undef unless $h && $h->{pid};
    my $pid = $h->{pid};
    return $h->{status} if exists $h->{status};
    delete $Nginx{$pid};
    my $status;
    for my $step (['QUIT', 10], ['TERM', 5], ['KILL', 5]) {
        my ($sig, $secs) = @$step;
        kill $sig eq 'KILL' ? ('KILL', -$pid, $pid) : ($sig, $pid);
        my $deadline = Time::HiRes::time() + $secs;
        while (Time::HiRes::time() < $deadline) {
            my $r = waitpid($pid, POSIX::WNOHANG());
            if ($r == $pid || $r == -1) {
                $status = $r == $pid ? $? : undef;
                last;
            }
            Time::HiRes::sleep(0.02);
        }
        last if defined $status || !kill(0, $pid);
    }
    kill 'KILL', -$pid if kill 0, -$pid;    # leftover workers
    $h->{status} = $status;
    return $status;
}

sub module_path {
    my $m = $ENV{TEST_NGINX_LLM_MODULE};
    $m = "$RootDir/build/ngx_http_llm_router_module.so"
        unless defined $m && $m ne '';
    return File::Spec->rel2abs($m);
}

sub setup_module {
    my $path = module_path();
    die "LLMTest: the nginx module $path does not exist; build it first "
        . "(or point TEST_NGINX_LLM_MODULE at it)\n" unless -f $path;
    $ENV{TEST_NGINX_LLM_MODULE} = $path;

    my $mods = $ENV{TEST_NGINX_LOAD_MODULES};
    $mods = '' unless defined $mods;
    my %have = map { $_ => 1 } grep { length } split /\s+/, $mods;
    if (!$have{$path}) {
        $mods = join ' ', grep { length } $mods, $path;
        $ENV{TEST_NGINX_LOAD_MODULES} = $mods;
    }
    # CPAN's Test::Nginx::Util reads the variable when it is loaded:
    # keep it in step if it was loaded first
    if ($INC{'Test/Nginx/Util.pm'}) {
        no warnings 'once';
        $Test::Nginx::Util::LoadModules = $ENV{TEST_NGINX_LOAD_MODULES};
    }
    return $path;
}

sub import {
    my ($class, %opt) = @_;
    for my $k (keys %opt) {
        next if $Tiers{$k} || $k eq 'no_module' || $k eq 'no_mocks'
                || $k eq 'root_location';
        die "LLMTest: unknown import option '$k'\n";
    }
    return if $Imported++;

    $KeepRootLocation = 1 if $opt{root_location};

    setup_module() unless $opt{no_module};

    for my $tier (@TierOrder) {
        my $args = $opt{$tier} || [];
        die "LLMTest: the '$tier' option takes an array reference\n"
            unless ref $args eq 'ARRAY';
        $Tiers{$tier}{args} = [@$args];
    }

    return if $opt{no_mocks};

    for my $tier (@TierOrder) {
        eval { start_mock($tier); 1 } or do {
            my $err = $@;
            stop_all();
            die $err;
        };
    }
}

sub _workdir {
    return $Dir if defined $Dir;
    $Dir = File::Temp::tempdir('llmtest-XXXXXX', TMPDIR => 1,
                               CLEANUP => !$ENV{LLMTEST_KEEP_LOGS});
    return $Dir;
}

sub _tier {
    my $tier = shift;
    die "LLMTest: unknown tier '" . (defined $tier ? $tier : 'undef')
        . "' (known: @TierOrder)\n" unless defined $tier && $Tiers{$tier};
    return $Tiers{$tier};
}

sub mock_log {
    my $t = _tier(shift);
    return defined $t->{log} ? slurp($t->{log}) : '';
}

sub _log_tail {
    my $tier = shift;
    my @l = split /\n/, mock_log($tier);
    @l = @l[-20 .. -1] if @l > 20;
    return @l ? join('', map { "    $_\n" } @l) : "    (no output)\n";
}

# Makes the child get SIGTERM if this perl process dies without running
# its END blocks (Linux only; best effort).
sub _set_pdeathsig {
    local $@;
    eval {
        require 'sys/syscall.ph';
        syscall(&SYS_prctl, 1, 15);    # PR_SET_PDEATHSIG, SIGTERM
    };
}

sub _connect_ok {
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

sub start_mock {
    my ($tier, @args) = @_;
    my $t = _tier($tier);
    stop_mock($tier) if $t->{pid};
    $t->{args} = [@args] if @args;
    $t->{args} ||= [];

    my $dir = _workdir();
    my $ready = "$dir/$tier.ready";
    my $log = "$dir/$tier.log";
    unlink $ready;
    $t->{log} = $log;

    my $port = $t->{port};
    if (!defined $port && defined $ENV{$t->{env}} && $ENV{$t->{env}} ne '') {
        $port = $ENV{$t->{env}};
        die "LLMTest: bad port in $t->{env}: $port\n" unless $port =~ /^\d+$/;
    }

    die "LLMTest: mock backend script $Script not found\n" unless -f $Script;

    # without a fixed port the mock binds port 0 and reports the port it
    # got in the ready file (no race with other programs)
    my @cmd = ($Node, $Script, '--port', (defined $port ? $port : 0),
               '--model', $t->{model}, '--name', $t->{name},
               '--ready-file', $ready, @{ $t->{args} });

    open my $lfh, '>>', $log or die "LLMTest: cannot write $log: $!\n";
    print $lfh "### LLMTest: @cmd\n";
    close $lfh;

    my $pid = fork;
    die "LLMTest: fork failed: $!\n" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>>', $log;
        _set_pdeathsig();
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        print STDERR "LLMTest: exec $cmd[0] failed: $!\n";
        POSIX::_exit(127);
    }
    $t->{pid} = $pid;

    my $deadline = Time::HiRes::time() + $StartTimeout;
    my $step = 0.01;
    while (1) {
        my $r = waitpid($pid, POSIX::WNOHANG());
        if ($r == $pid) {
            my $st = $?;
            delete $t->{pid};
            my $how = ($st & 127) ? 'signal ' . ($st & 127)
                                  : 'exit code ' . ($st >> 8);
            die "LLMTest: mock backend '$tier' exited during startup "
                . "($how); its output:\n" . _log_tail($tier);
        }
        if (-s $ready) {
            my $got = slurp($ready);
            $got =~ s/\s+//g;
            if ($got =~ /^\d+$/ && _connect_ok($got)) {
                $t->{port} = $got;
                last;
            }
        }
        if (Time::HiRes::time() >= $deadline) {
            _kill($pid);
            delete $t->{pid};
            die "LLMTest: mock backend '$tier' not ready after "
                . "${StartTimeout}s; its output:\n" . _log_tail($tier);
        }
        Time::HiRes::sleep($step);
        $step *= 1.5;
        $step = 0.1 if $step > 0.1;
    }

    $ENV{$t->{env}} = $t->{port};
    if (!$t->{initial_config}) {
        my $c = eval { _request('GET', $tier, '/_mock/config') };
        $t->{initial_config} = $c if ref $c eq 'HASH';
    }
    return $t->{port};
}

sub _kill {
    my $pid = shift;
    kill 'TERM', $pid;
    my $deadline = Time::HiRes::time() + 5;
    while (Time::HiRes::time() < $deadline) {
        my $r = waitpid($pid, POSIX::WNOHANG());
        return if $r == $pid || $r == -1;
        Time::HiRes::sleep(0.02);
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub stop_mock {
    my $t = _tier(shift);
    my $pid = delete $t->{pid};
    return 0 unless $pid;
    _kill($pid);
    return 1;
}

sub stop_all {
    for my $tier (sort keys %Tiers) {
        stop_mock($tier) if $Tiers{$tier}{pid};
    }
}

sub mock_pid  { _tier(shift)->{pid} }

sub mock_port {
    my $tier = shift;
    my $t = _tier($tier);
    return $t->{port} if defined $t->{port};
    return $ENV{$t->{env}};
}

sub mock_url {
    my $tier = shift;
    my $port = mock_port($tier);
    die "LLMTest: no port known for mock '$tier'\n" unless defined $port;
    return "http://127.0.0.1:$port";
}

sub _request {
    my ($method, $tier, $path, $body) = @_;
    my $url = mock_url($tier) . $path;
    my $http = HTTP::Tiny->new(timeout => 10);
    my %o;
    if (defined $body) {
        $o{content} = ref $body ? $Json->encode($body) : $body;
        $o{headers} = { 'Content-Type' => 'application/json' };
    }
    my $res = $http->request($method, $url, \%o);
    if (!$res->{success}) {
        my $c = defined $res->{content} ? $res->{content} : '';
        die "LLMTest: $method $url failed: $res->{status} $res->{reason} $c\n";
    }
    my $c = $res->{content};
    return undef unless defined $c && length $c;
    my $data = eval { $Json->decode($c) };
    return defined $data ? $data : $c;
}

sub mock_stats {
    my $tier = shift;
    return _request('GET', $tier, '/_mock/stats');
}

sub mock_config {
    my ($tier, $cfg) = @_;
    die "LLMTest: mock_config(\$tier, \\%config) needs a hash reference\n"
        unless ref $cfg eq 'HASH';
    return _request('POST', $tier, '/_mock/config', $cfg);
}

sub _running_tiers {
    return grep { $Tiers{$_}{pid} } @TierOrder;
}

sub mock_reset {
    my @tiers = @_ ? @_ : _running_tiers();
    my %out;
    for my $tier (@tiers) {
        $out{$tier} = _request('POST', $tier, '/_mock/reset', '{}');
    }
    return @tiers == 1 ? $out{$tiers[0]} : \%out;
}

sub mock_restore {
    my @tiers = @_ ? @_ : _running_tiers();
    for my $tier (@tiers) {
        my $init = _tier($tier)->{initial_config};
        mock_config($tier, $init) if $init;
    }
    return mock_reset(@tiers);
}

INIT {
    if (!$KeepRootLocation && defined &Test::Nginx::Socket::no_root_location) {
        Test::Nginx::Socket::no_root_location();
    }
}

for my $sig (qw(INT TERM HUP)) {
    if (!$SIG{$sig} || $SIG{$sig} eq 'DEFAULT') {
        my $num = { HUP => 1, INT => 2, TERM => 15 }->{$sig};
        $SIG{$sig} = sub { exit(128 + $num) };
    }
}

END {
    if ($$ == $OwnerPid) {
        local $?;
        stop_nginx($_) for values %Nginx;
        stop_all();
    }
}


# --- helpers for suites that drive nginx themselves ------------------------

# nginx_clean($servroot): after stop_nginx(), tests that the error log
# shows no alert or crash and, under TEST_NGINX_USE_VALGRIND, that
# memcheck reported nothing.
sub nginx_clean {
    my $servroot = shift;
    # ASan/UBSan reports go to stderr: the error log in a worker,
    # stderr.log before the master opened its log
    my $log = slurp("$servroot/logs/error.log")
              . (slurp("$servroot/logs/stderr.log") // '');
    my @bad = grep { /\[(alert|crit|emerg)\]|exited on signal
                      |runtime\ error:|ERROR:\ AddressSanitizer/x }
              split /\n/, $log;
    Test::More::ok(!@bad, "$servroot: no alert, crash or sanitizer report in the logs")
        or Test::More::diag(join "\n", @bad);
    return unless $ENV{TEST_NGINX_USE_VALGRIND};
    my $vg = join '', map { slurp($_) } glob("$servroot/logs/valgrind.*.log");
    Test::More::is($vg, '', "$servroot: valgrind memcheck reported nothing");
}

# http($port, $method, $path, $body, \%headers): one request with
# HTTP::Tiny; returns its response hash (status, headers, content).  Like
# every real client (the ollama and openai libraries, JARVIS's HTTP
# session), it keeps its connection to each port alive and sends the next
# request on it; each process has its own connections (parallel() forks).
# http_close() sends one request on a connection of its own.
my %Agent;    # "pid:port" => HTTP::Tiny

sub http {
    my ($port, $method, $path, $body, $headers) = @_;
    my $h = $Agent{"$$:$port"} ||= HTTP::Tiny->new(timeout => 30,
                                                   keep_alive => 1);
    return _http($h, $port, $method, $path, $body, $headers);
}

sub http_close {
    my ($port, $method, $path, $body, $headers) = @_;
    my $h = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    return _http($h, $port, $method, $path, $body, $headers);
}

sub _http {
    my ($h, $port, $method, $path, $body, $headers) = @_;
    my %o = (headers => { %{ $headers || {} } });
    $o{content} = $body if defined $body;
    return $h->request($method, "http://127.0.0.1:$port$path", \%o);
}

# forget_connections(): drops the kept-alive connections (before nginx is
# stopped on purpose, say)
sub forget_connections {
    %Agent = ();
}

# pipeline($port, [$method, $path, $body, \%headers], ...): writes every
# request at once on one connection (HTTP/1.1 pipelining, keep-alive on
# all of them) and reads the answers in order.  Returns
# { responses => [ { status, headers, body, complete }, ... ],
#   open => 1 when the connection was still open after the last answer }.
sub pipeline {
    my ($port, @reqs) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "LLMTest: pipeline $port: $!\n";
    $s->autoflush(1);
    my $out = '';
    for my $r (@reqs) {
        my ($method, $path, $body, $h) = @$r;
        $body //= '';
        $out .= "$method $path HTTP/1.1\r\nHost: localhost\r\n";
        $out .= "Content-Type: application/json\r\n"
                . "Content-Length: " . length($body) . "\r\n"
            if $method ne 'GET' && $method ne 'HEAD';
        $out .= "$_: $h->{$_}\r\n" for sort keys %{ $h || {} };
        $out .= "\r\n$body";
    }
    print $s $out;

    my $sel = IO::Select->new($s);
    my ($buf, @res, $eof) = ('');
    my $deadline = Time::HiRes::time() + 30;
    while (@res < @reqs) {
        my $r = _parse_response(\$buf, $reqs[@res][0] eq 'HEAD');
        if ($r) { push @res, $r; next; }
        last if $eof;
        my $left = $deadline - Time::HiRes::time();
        last if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($s, $buf, 65536, length $buf);
        $eof = 1 unless $n;
    }
    # still open: nothing more to read, no EOF, within a short wait
    my $open = 0;
    if (!$eof && @res == @reqs) {
        $open = 1;
        if ($sel->can_read(0.05)) {
            my $n = sysread($s, my $extra, 65536);
            $open = 0 unless $n;
        }
    }
    close $s;
    return { responses => \@res, open => $open, rest => $buf };
}

# one whole response off the front of $$buf, or undef while incomplete
sub _parse_response {
    my ($buf, $head) = @_;
    my $he = index($$buf, "\r\n\r\n");
    return undef if $he < 0;
    my ($line, @h) = split /\r\n/, substr($$buf, 0, $he);
    my %r = (headers => {}, body => '', complete => 1);
    ($r{status}) = $line =~ m{^HTTP/1\.\d (\d{3})};
    for (@h) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $r{headers}{lc $k} = $v;
    }
    my $pos = $he + 4;
    if ($head || $r{status} == 204 || $r{status} == 304) {
        # no body
    } elsif (($r{headers}{'transfer-encoding'} // '') =~ /chunked/i) {
        while (1) {
            my $le = index($$buf, "\r\n", $pos);
            return undef if $le < 0;
            my $len = hex substr($$buf, $pos, $le - $pos);
            if ($len == 0) {
                my $te = index($$buf, "\r\n", $le + 2);
                return undef if $te < 0;
                $pos = $te + 2;
                last;
            }
            return undef if length($$buf) < $le + 2 + $len + 2;
            $r{body} .= substr($$buf, $le + 2, $len);
            $pos = $le + 2 + $len + 2;
        }
    } else {
        my $cl = $r{headers}{'content-length'} // 0;
        return undef if length($$buf) < $pos + $cl;
        $r{body} = substr($$buf, $pos, $cl);
        $pos += $cl;
    }
    substr($$buf, 0, $pos) = '';
    return \%r;
}

# raw_http($port, $request_text, %opt): writes the request bytes as given
# and reads the answer until the server closes (or opt{timeout}, default
# 30 s); returns { status, headers, body, complete, chunks }.  "complete"
# says the body ended as announced: the full Content-Length, or the last
# chunk of a chunked answer; a cut answer has complete 0.  chunks are the
# chunk payloads of a chunked answer, in order.  opt{close_after} closes
# the connection after that many seconds instead of reading to the end.
sub raw_http {
    my ($port, $req, %opt) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "LLMTest: raw_http $port: $!\n";
    $s->autoflush(1);
    print $s $req;
    my $deadline = Time::HiRes::time()
                   + ($opt{close_after} // $opt{timeout} // 30);
    my $sel = IO::Select->new($s);
    my $buf = '';
    while (1) {
        my $left = $deadline - Time::HiRes::time();
        last if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    close $s;

    my %r = (status => 0, headers => {}, body => '', complete => 0,
             chunks => [], raw => $buf);
    my $he = index($buf, "\r\n\r\n");
    return \%r if $he < 0;
    my ($line, @h) = split /\r\n/, substr($buf, 0, $he);
    ($r{status}) = $line =~ m{^HTTP/1\.\d (\d{3})};
    $r{status} //= 0;
    for (@h) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $r{headers}{lc $k} = $v;
    }
    my $rest = substr($buf, $he + 4);
    if (($r{headers}{'transfer-encoding'} // '') =~ /chunked/i) {
        while ($rest =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            if ($len == 0) { $r{complete} = 1; last; }
            last if length($rest) < $len + 2;
            push @{ $r{chunks} }, substr($rest, 0, $len);
            $r{body} .= substr($rest, 0, $len);
            substr($rest, 0, $len + 2) = '';
        }
        $r{body} .= $rest unless $r{complete};
    } elsif (defined(my $cl = $r{headers}{'content-length'})) {
        $r{body} = $rest;
        $r{complete} = length($rest) == $cl ? 1 : 0;
    } else {
        $r{body} = $rest;
    }
    return \%r;
}

# post_raw($port, $path, $body, \%headers): a POST as raw_http() sends it
sub post_raw {
    my ($port, $path, $body, $h, %opt) = @_;
    my $req = "POST $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            . "Content-Type: application/json\r\n"
            . "Content-Length: " . length($body) . "\r\n";
    $req .= "$_: $h->{$_}\r\n" for sort keys %{ $h || {} };
    return raw_http($port, "$req\r\n$body", %opt);
}

# parallel($port, [$method, $path, $body, \%headers], ...): sends every
# request at once, each from its own process; returns the responses in
# order, as hashes { status, headers, content }.
sub parallel {
    my ($port, @reqs) = @_;
    my @kids;
    for my $i (0 .. $#reqs) {
        my $file = _workdir() . "/par.$$.$i";
        my $pid = fork;
        die "LLMTest: fork failed: $!\n" unless defined $pid;
        if ($pid == 0) {
            my $res = http($port, @{ $reqs[$i] });
            open my $out, '>', $file or POSIX::_exit(1);
            print $out $Json->encode({ status => $res->{status},
                                       headers => $res->{headers},
                                       content => $res->{content} });
            close $out;
            POSIX::_exit(0);
        }
        push @kids, [$pid, $file];
    }
    my @res;
    for my $k (@kids) {
        waitpid($k->[0], 0);
        my $data = eval { $Json->decode(slurp($k->[1])) };
        unlink $k->[1];
        push @res, $data || { status => 0, headers => {}, content => '' };
    }
    return @res;
}

# status($port, $path): the router's status JSON, decoded
sub status {
    my ($port, $path) = @_;
    my $res = http($port, 'GET', ($path || '/status') . '?format=json');
    die "LLMTest: status: $res->{status} $res->{content}\n"
        unless $res->{status} == 200;
    return JSON::PP->new->decode($res->{content});
}

# tiers_conf(): the http-level lines most live suites share: an upstream
# per mock tier, the shared zone and the two tiers
sub tiers_conf {
    my ($big, $small) = map { mock_port($_) } qw(big small);
    return <<"EOC";
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }
    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    proxy_set_header Host \$llm_upstream_host;
EOC
}

# fallback_server(read_timeout => '1s'): the server-level lines of the
# README's fallback setup: proxy settings for the tiers, "location /" and
# "@llm_fallback", each moving a 502/503/504 to the other tier
sub fallback_server {
    my %o = @_;
    my $rt = $o{read_timeout} || '1s';
    return <<"EOC";
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$llm_upstream_host;
        proxy_buffering off;
        proxy_connect_timeout 1s;
        proxy_read_timeout $rt;
        proxy_intercept_errors on;
        recursive_error_pages on;

        location / {
            llm_router on;
            proxy_pass http://\$llm_upstream;
            error_page 401 403 502 503 504 = \@llm_fallback;
        }
        location \@llm_fallback {
            llm_router on;
            proxy_pass http://\$llm_upstream;
            error_page 401 403 502 503 504 = \@llm_fallback;
        }
EOC
}

# inflight_zero($port): both tiers' in-flight counts are 0 (status JSON)
sub inflight_zero {
    my $s = status(shift);
    return $s->{tiers}{big}{inflight} == 0 && $s->{tiers}{small}{inflight} == 0;
}

# wait_until(sub { ... }, $seconds): polls the condition (a readiness
# check, not a fixed sleep) until it holds; returns its last value
sub wait_until {
    my ($cond, $secs) = @_;
    my $deadline = Time::HiRes::time() + ($secs || 10);
    my $v;
    while (1) {
        $v = $cond->();
        return $v if $v || Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep(0.02);
    }
}


# --- a real redis-server for the cache suites -------------------------------

my %Redis;    # port => pid

# start_redis($port, @extra_args): starts redis-server on 127.0.0.1:$port
# (a free port if undef) and waits until it answers PING; returns the port
sub start_redis {
    my ($port, @args) = @_;
    $port = free_port() unless defined $port;
    my $log = _workdir() . "/redis-$port.log";
    my $pid = fork;
    die "LLMTest: fork failed: $!\n" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>>', $log;
        _set_pdeathsig();
        { no warnings 'exec';
          exec 'redis-server', '--port', $port, '--bind', '127.0.0.1',
               '--save', '', '--appendonly', 'no', @args; }
        POSIX::_exit(127);
    }
    $Redis{$port} = $pid;
    my $ok = wait_until(sub { my $r = eval { redis($port, 'PING') };
                              defined $r && ($r eq 'PONG' || $r =~ /NOAUTH/) },
                        10);
    die "LLMTest: redis-server on $port did not start:\n" . slurp($log)
        unless $ok;
    return $port;
}

sub stop_redis {
    my $port = shift;
    my $pid = delete $Redis{$port} or return;
    _kill($pid);
}

# redis($port, @command): one command over RESP; returns the reply (an
# error as "ERR ..." text, nil as undef, an array as an array ref)
sub redis {
    my ($port, @cmd) = @_;
    return redis_session($port, [@cmd]);
}

# redis_session($port, [cmd...], [cmd...]): several commands on one
# connection (AUTH, SELECT, ...); returns the last reply
sub redis_session {
    my ($port, @cmds) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "LLMTest: redis $port: $!\n";
    my $reply;
    for my $cmd (@cmds) {
        my $req = '*' . scalar(@$cmd) . "\r\n";
        $req .= '$' . length($_) . "\r\n$_\r\n" for @$cmd;
        print $s $req;
        $reply = _resp($s);
    }
    close $s;
    return $reply;
}

sub _resp {
    my $s = shift;
    my $line = <$s>;
    die "LLMTest: redis closed the connection\n" unless defined $line;
    $line =~ s/\r\n$//;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+' || $t eq '-' || $t eq ':';
    if ($t eq '$') {
        return undef if $v < 0;
        my $buf = '';
        while (length($buf) < $v + 2) {
            my $n = read($s, $buf, $v + 2 - length($buf), length $buf);
            last unless $n;
        }
        return substr($buf, 0, $v);
    }
    if ($t eq '*') {
        return undef if $v < 0;
        return [ map { _resp($s) } 1 .. $v ];
    }
    die "LLMTest: bad redis reply '$line'\n";
}

END {
    if ($$ == $OwnerPid) {
        local $?;
        stop_redis($_) for keys %Redis;
    }
}

1;
