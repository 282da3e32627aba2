package Test::Nginx::Socket;

# A small, self-contained runner for the subset of the Test::Nginx::Socket
# data-section format used by this project's suites (see t/runner/README.md).
# Built on Test::Base; the same .t files also run under CPAN's
# Test::Nginx::Socket.
#
# Process model: for every block nginx is started as a child process in
# the foreground ("daemon off"), readiness is detected by polling for its
# listening socket, the request(s) are sent with a raw socket client, the
# checks run, and nginx is stopped again (QUIT, then TERM, then KILL, with
# bounded waits) so that every block starts clean.

use strict;
use warnings;

use Test::Base -base;

use Carp ();
use Fcntl ();
use File::Basename ();
use File::Path ();
use File::Spec ();
use IO::Socket::INET ();
use List::Util ();
use POSIX ();
use Scalar::Util ();
use Time::HiRes ();

use Test::Nginx::Runner::HTTP ();

our $VERSION = '0.01';

our @EXPORT = qw(
    env_to_nginx is_str run_tests run_test
    repeat_each config_preamble worker_connections master_process_enabled
    no_long_string workers master_on master_off log_level no_shuffle
    no_root_location server_name server_addr server_root html_dir
    server_port server_port_for_client timeout check_accum_error_log
    add_block_preprocessor bail_out add_test_cleanup_handler
    add_cleanup_handler add_response_body_check
    use_hup no_nginx_manager
);

# ----------------------------------------------------------------------
# settings

our $Verbose = $ENV{TEST_NGINX_VERBOSE};
our $RepeatEach = 1;
our $NoShuffle = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoLongString;
our $NoRootLocation = 0;
our $ConfigPreamble = '';
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $Workers = 1;
our $WorkerConnections = 64;
our $LogLevel = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $ServerAddr = '127.0.0.1';
our $ServerName = 'localhost';
our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $Timeout = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $BlockTimeout = $ENV{TEST_NGINX_BLOCK_TIMEOUT} || 10;
our $TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $UseValgrind = $ENV{TEST_NGINX_USE_VALGRIND};
our $WorkerUser = $ENV{TEST_NGINX_WORKER_USER};
our $ValgrindErrorExitCode = 99;

if (defined $WorkerUser && $WorkerUser !~ /^\w[-\w]*(?:\s+\w[-\w]*)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

our $NginxBinary = find_nginx_binary();

our $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $StderrFile = "$LogDir/nginx.stderr";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

our @BlockPreprocessors;
our @CleanupHandlers;
our @TestCleanupHandlers;
our @ResponseBodyChecks;
our @EnvToNginx;

# run-time state
our $NginxVersion;      # canonical: 1.022001
our $NginxV = '';       # output of nginx -V
our $NginxPid;
our $PrevConfig;
our $ErrLogFilePos = 0;
our @ExtraErrLogLines;  # nginx's stderr, for --- must_die blocks
our $RandPorts = {};
our $OwnerPid = $$;
our $Block;             # block being run

# Sections of CPAN's Test::Nginx::Socket that this runner does not
# implement: a block using one fails loudly instead of silently behaving
# differently from the CPAN scaffold.
our %UnsupportedSections = map { $_ => 1 } qw(
    pipelined_requests http2 http3 no_http2 no_http3 curl curl_options
    curl_protocol curl_error stap stap_out stap_out_like stap_out_unlike
    tcp_listen tcp_reply tcp_query tcp_query_len tcp_shutdown
    tcp_shutdown_delay tcp_reply_delay tcp_no_close tcp_query_auto_timeout
    udp_listen udp_reply udp_query udp_reply_delay
    response_body_filters response_body_json_sort
    skip_nginx2 skip_openssl skip_slave todo todo_nginx
    post_setup_server_root reload_fails shutdown_error_log
    no_shutdown_error_log server_addr_for_client request_eval
    response_body_eval charset http09 error_log_file
    quic_max_idle_timeout write_resp_body_file
);

# ----------------------------------------------------------------------
# exported configuration functions

sub repeat_each (@) {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}

sub no_shuffle () { $NoShuffle = 1 }

sub no_long_string () { $NoLongString = 1 }

sub no_root_location () { $NoRootLocation = 1 }

sub check_accum_error_log () { $CheckAccumErrLog = 1 }

sub config_preamble ($) { $ConfigPreamble = shift }

sub workers (@) {
    $Workers = shift if @_;
    return $Workers;
}

sub worker_connections (@) {
    $WorkerConnections = shift if @_;
    return $WorkerConnections;
}

sub log_level (@) {
    $LogLevel = shift if @_;
    return $LogLevel;
}

sub master_on () { $MasterProcessEnabled = 'on' }

sub master_off () { $MasterProcessEnabled = 'off' }

sub master_process_enabled (@) {
    if (@_) {
        $MasterProcessEnabled = shift() ? 'on' : 'off';
    }
    return $MasterProcessEnabled;
}

sub server_addr (@) {
    $ServerAddr = shift if @_;
    return $ServerAddr;
}

sub server_name (@) {
    $ServerName = shift if @_;
    return $ServerName;
}

sub server_port (@) {
    $ServerPort = shift if @_;
    return $ServerPort;
}

sub server_port_for_client (@) {
    $ServerPortForClient = shift if @_;
    return $ServerPortForClient;
}

sub server_root () { $ServRoot }

sub html_dir () { $HtmlDir }

sub timeout (@) {
    $Timeout = shift if @_;
    return $Timeout;
}

sub env_to_nginx (@) {
    Carp::croak("env_to_nginx: no arguments specified") unless @_;
    for my $v (@_) {
        if ($v !~ /^[A-Za-z_]/ || $v =~ /\n/) {
            Carp::croak("env_to_nginx: bad argument value: $v\n");
        }
        push @EnvToNginx, $v;
    }
}

sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }

sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }

sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }

sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

sub use_hup () {
    die "use_hup() is not supported by the project's test runner\n";
}

sub no_nginx_manager () {
    die "no_nginx_manager() is not supported by the project's test runner\n";
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# ----------------------------------------------------------------------
# small helpers

sub find_nginx_binary {
    my $bin = $ENV{TEST_NGINX_BINARY};
    if (defined $bin && $bin ne '') {
        return $bin if $bin =~ m{/};
        my $p = search_path($bin);
        return defined $p ? $p : $bin;
    }
    my $p = search_path('nginx');
    return $p if defined $p;
    return '/usr/sbin/nginx';
}

sub search_path {
    my $cmd = shift;
    for my $dir (split /:/, ($ENV{PATH} || '')) {
        next if $dir eq '';
        my $f = "$dir/$cmd";
        return $f if -f $f && -x _;
    }
    return undef;
}

sub parse_time ($) {
    my $t = shift;
    return undef unless defined $t;
    $t =~ s/^\s+|\s+$//g;
    if ($t =~ s/([^_a-zA-Z])ms$/$1/) {
        $t = $t / 1000;
    } else {
        $t =~ s/([^_a-zA-Z])s$/$1/;
    }
    return $t;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /g;
    $s =~ s/\s{2,}/ /g;
    return $s;
}

sub fmt_str ($) {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub escape_str {
    my $s = shift;
    return 'undef' unless defined $s;
    $s =~ s/\\/\\\\/g;
    $s =~ s/\n/\\n/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\t/\\t/g;
    $s =~ s/([\x00-\x1f\x7f-\xff])/sprintf('\\x%02x', ord $1)/ge;
    return $s;
}

sub slurp {
    my $f = shift;
    open my $in, '<', $f or return undef;
    binmode $in;
    local $/;
    my $s = <$in>;
    close $in;
    return $s;
}

sub tail_lines {
    my ($text, $n) = @_;
    return '' unless defined $text && length $text;
    my @l = split /\n/, $text;
    @l = @l[-$n .. -1] if @l > $n;
    return join("\n", @l) . "\n";
}

sub gen_rand_port {
    my ($used) = @_;
    for (1 .. 1000) {
        my $port = 1988 + int rand 63000;
        next if $used->{$port};
        my $s = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                      LocalPort => $port, Proto => 'tcp',
                                      Listen => 5, ReuseAddr => 1);
        if ($s) {
            close $s;
            return $port;
        }
    }
    return undef;
}

sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;
    $rand_ports ||= {};

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            if (!defined $rand_ports->{$var}) {
                my %used = ($ServerPort => 1, map { $_ => 1 } values %$rand_ports);
                my $p = gen_rand_port(\%used);
                bail_out("$name - Cannot find an available listening port number for $var.\n")
                    unless defined $p;
                $rand_ports->{$var} = $p;
            }
            $val = $rand_ports->{$var};
        } else {
            bail_out("$name - No environment $var defined.\n")
                unless defined $ENV{$var};
            $val = $ENV{$var};
        }
        $val;
    }ge;

    return $text;
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    if ($NoLongString) {
        return Test::More::is($got, $expected, $desc);
    }
    return is_long_string($got, $expected, $desc);
}

# Like Test::More::is, but on failure reports where two long strings
# start to differ instead of dumping both of them.
sub is_long_string {
    my ($got, $exp, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (!defined $got || !defined $exp) {
        return Test::More::is($got, $exp, $desc);
    }
    my $tb = Test::More->builder;
    my $ok = $tb->ok($got eq $exp, $desc);
    return $ok if $ok;

    my $pos = 0;
    if ((my $x = "$got" ^ "$exp") =~ /^(\0*)/) {
        $pos = length $1;
    }
    my $min = length($got) < length($exp) ? length($got) : length($exp);
    $pos = $min if $pos > $min;
    my $line = 1 + (substr($exp, 0, $pos) =~ tr/\n//);
    my $from = $pos > 20 ? $pos - 20 : 0;
    my $ex = sub {
        my $s = shift;
        my $piece = substr($s, $from, 60);
        $piece = '' unless defined $piece;
        return '"' . ($from ? '...' : '') . escape_str($piece)
               . ($from + 60 < length $s ? '...' : '') . '"';
    };
    $tb->diag(sprintf("         got: %s\n      length: %d\n"
                      . "    expected: %s\n      length: %d\n"
                      . "    strings begin to differ at char %d (line %d)",
                      $ex->($got), length $got, $ex->($exp), length $exp,
                      $pos + 1, $line));
    return $ok;
}

# ----------------------------------------------------------------------
# nginx version / config

sub nginx_version {
    return $NginxVersion if defined $NginxVersion;
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        $out = '' unless defined $out;
        bail_out("Cannot run the nginx binary \"$NginxBinary\" "
                 . "(set TEST_NGINX_BINARY): $out");
    }
    $NginxV = $out;
    if ($out =~ m{(?:nginx|openresty)[^/\s]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        $NginxVersion = sprintf "%d.%03d%03d", $1, $2, $3;
        return $NginxVersion;
    }
    bail_out("Failed to parse the output of \"$NginxBinary -V\": $out");
}

sub load_modules {
    my $mods = $ENV{TEST_NGINX_LOAD_MODULES};
    return () unless defined $mods;
    return grep { length } split /\s+/, $mods;
}

sub master_mode {
    return ($MasterProcessEnabled eq 'on' || $Workers > 1) ? 'on' : 'off';
}

sub setup_server_root {
    for my $d ($ServRoot, $LogDir, $ConfDir) {
        next if -d $d;
        File::Path::make_path($d, { mode => 0755 })
            or bail_out("Failed to create directory $d: $!\n");
    }
    # fresh html dir (user files of earlier blocks must not leak)
    File::Path::remove_tree($HtmlDir) if -d $HtmlDir;
    File::Path::make_path($HtmlDir, { mode => 0755 })
        or bail_out("Failed to create directory $HtmlDir: $!\n");

    # logs are reused but truncated
    for my $f ($ErrLogFile, $AccLogFile, $StderrFile) {
        open my $fh, '>', $f or bail_out("Cannot truncate $f: $!\n");
        close $fh;
    }
    unlink $PidFile;
    unlink glob("$LogDir/valgrind.*.log");

    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index or bail_out("Can't open $index for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

sub write_user_files {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        my @list;
        my ($fname, $body);
        for my $line (split /^/m, $files) {
            if ($line =~ /^>>> (\S+)/) {
                push @list, [$fname, $body] if defined $fname;
                ($fname, $body) = ($1, undef);
            } else {
                $body .= $line;
            }
        }
        push @list, [$fname, $body] if defined $fname;
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - --- user_files: only a string or an ARRAY is accepted");
    }

    for my $f (@$files) {
        my ($fname, $body) = @$f;
        $body = '' unless defined $body;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        my $dir = File::Basename::dirname($path);
        File::Path::make_path($dir) unless -d $dir;
        $body = expand_env_in_text($body, $name, $rand_ports);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;
    }
}

sub write_config_file {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    my $http_config = expand_env_in_text($block->http_config, $name, $rand_ports);
    my $main_config = expand_env_in_text($block->main_config, $name, $rand_ports);
    my $post_main = expand_env_in_text($block->post_main_config, $name, $rand_ports);
    $http_config = '' unless defined $http_config;
    $main_config = '' unless defined $main_config;
    $post_main = '' unless defined $post_main;
    $config = '' unless defined $config;

    my $server_name = $block->server_name;
    $server_name = $ServerName unless defined $server_name;
    $server_name =~ s/^\s+|\s+$//g;
    (my $qname = $server_name) =~ s/\\/\\\\/g;
    $qname =~ s/'/\\'/g;

    my $master = master_mode();

    my @temp;
    for my $t (qw(client_body proxy fastcgi scgi uwsgi)) {
        next if $http_config =~ /\b${t}_temp_path\b/;
        next if $t =~ /^(?:fastcgi|scgi|uwsgi)$/
                && $NginxV =~ /--without-http_${t}_module/;
        push @temp, "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }

    my $conf = '';
    $conf .= "# generated by t/runner/Test/Nginx/Socket.pm for: $name\n";
    $conf .= "worker_processes  $Workers;\n";
    $conf .= "daemon off;\n";
    $conf .= "master_process $master;\n";
    $conf .= "error_log $ErrLogFile $LogLevel;\n";
    $conf .= "pid       $PidFile;\n";
    for my $v (@EnvToNginx) {
        my $e = $v =~ /\s/ ? "'$v'" : $v;
        $conf .= "env $e;\n";
    }
    if (defined $WorkerUser) {
        $conf .= "user $WorkerUser;\n";
    } elsif ($> == 0) {
        $conf .= "user root;\n";
    }
    $conf .= "\n";
    for my $m (load_modules()) {
        $conf .= "load_module $m;\n";
    }
    $conf .= "\n$main_config\n\n";
    $conf .= "http {\n";
    $conf .= "    access_log $AccLogFile;\n";
    $conf .= join '', @temp;
    $conf .= "    default_type text/plain;\n";
    $conf .= "    keepalive_timeout  68000ms;\n\n";
    $conf .= "$http_config\n";
    $conf .= "    server {\n";
    $conf .= "        listen          $ServerPort;\n";
    $conf .= "        server_name     '$qname';\n";
    $conf .= "        client_max_body_size 30M;\n\n";
    $conf .= "        # Begin preamble config...\n$ConfigPreamble\n";
    $conf .= "        # End preamble config...\n\n";
    $conf .= "        # Begin test case config...\n$config\n";
    $conf .= "        # End test case config.\n\n";
    if (!$NoRootLocation) {
        $conf .= "        location / {\n"
               . "            root $HtmlDir;\n"
               . "            index index.html index.htm;\n"
               . "        }\n";
    }
    $conf .= "    }\n}\n\n";
    $conf .= "$post_main\n\n";
    $conf .= "events {\n";
    $conf .= "    accept_mutex off;\n";
    $conf .= "    worker_connections  $WorkerConnections;\n";
    $conf .= "}\n";

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out $conf;
    close $out;
}

# ----------------------------------------------------------------------
# nginx process control

sub valgrind_cmd {
    my $vg = search_path('valgrind');
    bail_out("TEST_NGINX_USE_VALGRIND is set but valgrind is not in PATH")
        unless $vg;
    my @cmd = ($vg);
    my $opt = $UseValgrind;

    my $supp;
    my $tdir = File::Basename::dirname(File::Spec->rel2abs($0));
    for my $f ("$tdir/valgrind.suppress", 't/valgrind.suppress',
               'valgrind.suppress')
    {
        if (-f $f) {
            $supp = File::Spec->rel2abs($f);
            last;
        }
    }

    # the runner's own suppressions for exit-time allocations of the
    # nginx core (see t/runner/valgrind-nginx.suppress)
    my $core_supp = File::Spec->catfile(
        File::Basename::dirname(File::Spec->rel2abs(__FILE__)),
        File::Spec->updir, File::Spec->updir, 'valgrind-nginx.suppress');
    my @supp = grep { defined && -f } $core_supp, $supp;

    if ($opt =~ /^\s*\d+\s*$/) {
        push @cmd, qw(-q --tool=memcheck --leak-check=full
                      --show-possibly-lost=no --errors-for-leak-kinds=definite
                      --num-callers=50 --gen-suppressions=all);
        push @cmd, "--error-exitcode=$ValgrindErrorExitCode";
    } else {
        push @cmd, '-q', split ' ', $opt;
        push @cmd, "--error-exitcode=$ValgrindErrorExitCode"
            unless $opt =~ /--error-exitcode/;
    }
    push @cmd, map { "--suppressions=$_" } @supp;
    push @cmd, "--log-file=$LogDir/valgrind.%p.log"
        unless $opt =~ /--log-file/;
    return @cmd;
}

sub start_nginx {
    my (%o) = @_;
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    push @cmd, '-e', $ErrLogFile if nginx_version() >= 1.019005;
    if ($UseValgrind && !$o{no_valgrind}) {
        unshift @cmd, valgrind_cmd();
    }
    warn "starting: @cmd\n" if $Verbose;

    open my $fh, '>', $StderrFile or bail_out("Cannot truncate $StderrFile: $!");
    close $fh;

    my $pid = fork;
    bail_out("fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        # child: own process group, so that a stuck master and its
        # workers can be killed together
        POSIX::setpgid(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $StderrFile;
        open STDERR, '>>', $StderrFile;
        set_pdeathsig();
        # a sanitizer runtime for a module built with ASan/UBSan
        $ENV{LD_PRELOAD} = $ENV{TEST_NGINX_PRELOAD}
            if $ENV{TEST_NGINX_PRELOAD};
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        print STDERR "exec $cmd[0] failed: $!\n";
        POSIX::_exit(127);
    }
    $NginxPid = $pid;
    return $pid;
}

# Makes the child get SIGTERM if this perl process dies without running
# its END blocks, so that no nginx is left behind on the test port
# (Linux only; best effort).
sub set_pdeathsig {
    local $@;
    eval {
        require 'sys/syscall.ph';
        syscall(&SYS_prctl, 1, 15);    # PR_SET_PDEATHSIG, SIGTERM
    };
}

# The inodes of the TCP sockets in LISTEN state on $port.
sub listening_inodes {
    my $port = shift;
    my %inodes;
    my $seen_any;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $f or next;
        $seen_any = 1;
        <$in>;
        while (my $l = <$in>) {
            my @c = split ' ', $l;
            next unless @c >= 10;
            my ($p) = $c[1] =~ /:([0-9A-Fa-f]+)$/ or next;
            next unless hex($p) == $port && $c[3] eq '0A';
            $inodes{$c[9]} = 1;
        }
        close $in;
    }
    return $seen_any ? \%inodes : undef;
}

# True when process $pid holds a socket listening on $port.  Reads /proc
# so that the probe itself leaves no trace in nginx's error log (a probe
# connection would log "client closed connection while waiting for
# request" and debug lines into the very log the block checks).  Falls
# back to a TCP connect where /proc is not available.
sub nginx_listening {
    my ($pid, $port) = @_;
    my $inodes = listening_inodes($port);
    if (!$inodes) {
        my $s = IO::Socket::INET->new(PeerAddr => $ServerAddr, PeerPort => $port,
                                      Proto => 'tcp', Timeout => 0.2);
        return 0 unless $s;
        close $s;
        return 1;
    }
    return 0 unless %$inodes;
    opendir my $dh, "/proc/$pid/fd" or return 0;
    while (defined(my $fd = readdir $dh)) {
        next unless $fd =~ /^\d+$/;
        my $l = readlink "/proc/$pid/fd/$fd";
        next unless defined $l;
        if ($l =~ /^socket:\[(\d+)\]$/ && $inodes->{$1}) {
            closedir $dh;
            return 1;
        }
    }
    closedir $dh;
    return 0;
}

# Waits until nginx listens on the port, exits, or $bound seconds pass.
# Returns ('ready') | ('exited', $status) | ('timeout').
sub wait_nginx_ready {
    my ($pid, $bound) = @_;
    my $deadline = Time::HiRes::time() + $bound;
    my $step = 0.005;
    while (1) {
        my $r = waitpid($pid, POSIX::WNOHANG());
        if ($r == $pid) {
            my $st = $?;
            undef $NginxPid;
            return ('exited', $st);
        }
        return ('ready') if nginx_listening($pid, $ServerPort);
        return ('timeout') if Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep($step);
        $step *= 1.5;
        $step = 0.05 if $step > 0.05;
    }
}

sub wait_exit {
    my ($pid, $secs) = @_;
    my $deadline = Time::HiRes::time() + $secs;
    while (1) {
        my $r = waitpid($pid, POSIX::WNOHANG());
        return (1, $?) if $r == $pid;
        return (1, undef) if $r == -1;   # not our child any more
        return (0) if Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep(0.01);
    }
}

# Stops the running nginx: QUIT, then TERM, then KILL (process group),
# each with a bounded wait.  Returns a hash describing how it ended.
sub stop_nginx {
    my $pid = $NginxPid;
    return undef unless defined $pid;
    undef $NginxPid;

    my %st;
    my $r = waitpid($pid, POSIX::WNOHANG());
    if ($r == $pid) {
        $st{status} = $?;
        $st{early} = 1;
    } elsif ($r == -1) {
        $st{gone} = 1;
    } else {
        my $quit_wait = $UseValgrind ? 60 : 5;
        kill 'QUIT', $pid;
        my ($done, $status) = wait_exit($pid, $quit_wait);
        if (!$done) {
            $st{needed_term} = 1;
            kill 'TERM', $pid;
            ($done, $status) = wait_exit($pid, $UseValgrind ? 20 : 3);
        }
        if (!$done) {
            $st{needed_kill} = 1;
            kill 'KILL', -$pid;
            kill 'KILL', $pid;
            ($done, $status) = wait_exit($pid, 5);
        }
        $st{status} = $status;
    }
    # workers left over by a master that did not exit cleanly
    if (kill 0, -$pid) {
        Time::HiRes::sleep(0.1);
        kill 'KILL', -$pid if kill 0, -$pid;
    }
    return \%st;
}

sub describe_status {
    my $st = shift;
    return 'unknown status' unless defined $st;
    if (POSIX::WIFSIGNALED($st)) {
        my $sig = POSIX::WTERMSIG($st);
        return "killed by signal $sig" . (($st & 128) ? ' (core dumped)' : '');
    }
    return 'exit code ' . POSIX::WEXITSTATUS($st);
}

sub nginx_diag {
    my $d = '';
    my $err = slurp($ErrLogFile);
    if (defined $err && length $err) {
        $d .= "--- tail of $ErrLogFile:\n" . tail_lines($err, 30);
    }
    my $stderr = slurp($StderrFile);
    if (defined $stderr && length $stderr) {
        $d .= "--- nginx stderr:\n" . tail_lines($stderr, 30);
    }
    for my $f (sort glob("$LogDir/valgrind.*.log")) {
        my $v = slurp($f);
        next unless defined $v && $v =~ /\S/;
        $d .= "--- $f:\n" . tail_lines($v, 200);
    }
    return $d;
}

# After a block: was there a crash, an abnormal exit, or a valgrind
# report?  Adds one failing test (with the logs as diagnostics) if so.
sub check_nginx_health {
    my ($name, $st) = @_;
    my @problems;

    if ($st) {
        if ($st->{early}) {
            push @problems, "nginx exited while the test was running ("
                            . describe_status($st->{status}) . ")";
        } elsif ($st->{needed_kill}) {
            push @problems, "nginx did not exit after QUIT and TERM; killed";
        } elsif (defined $st->{status} && $st->{status} != 0) {
            my $s = $st->{status};
            if (!POSIX::WIFSIGNALED($s) && $UseValgrind
                && POSIX::WEXITSTATUS($s) == $ValgrindErrorExitCode)
            {
                push @problems, "valgrind reported memcheck errors";
            } else {
                push @problems, "nginx exited abnormally ("
                                . describe_status($s) . ")";
            }
        }
    }

    my $err = slurp($ErrLogFile);
    if (defined $err) {
        for my $l (split /\n/, $err) {
            if ($l =~ /exited on signal \d+/ || $l =~ /\bsignal 11\b/) {
                push @problems, "crash reported in error.log: $l";
            } elsif ($l =~ /runtime error:|ERROR: AddressSanitizer/) {
                # ASan/UBSan write to stderr: the error log in a worker
                push @problems, "sanitizer report in error.log: $l";
            } elsif ($UseValgrind
                     && $l =~ /exited with code $ValgrindErrorExitCode\b/)
            {
                push @problems, "valgrind reported memcheck errors in a "
                                . "worker: $l";
            }
        }
    }

    if ($UseValgrind) {
        # error records (leak records that are not errors, e.g. "possibly
        # lost" with user-supplied options, are only shown in the diag)
        my $re = qr/are definitely lost|Invalid (?:read|write|free)
                    |uninitialised|Conditional jump|Syscall param
                    |Mismatched free|overlap/x;
        for my $f (sort glob("$LogDir/valgrind.*.log")) {
            my $v = slurp($f);
            next unless defined $v && $v =~ /^==\d+== .*$re/m;
            push @problems, "valgrind reported errors (see $f)";
        }
    }

    return 1 unless @problems;

    my $tb = Test::More->builder;
    $tb->ok(0, "$name - nginx crashed or exited abnormally");
    $tb->diag(join("\n", @problems) . "\n" . nginx_diag());
    return 0;
}

# ----------------------------------------------------------------------
# running

# Two runs of the suites on one machine would fight over the port and the
# servroot: hold a lock (per port, outside servroot) while running.
our $PortLock;

sub lock_port {
    return if $PortLock;
    my $dir = File::Spec->tmpdir;
    my $file = "$dir/test-nginx-runner-port-$ServerPort.lock";
    open my $fh, '>>', $file or return;    # best effort
    if (!flock($fh, Fcntl::LOCK_EX() | Fcntl::LOCK_NB())) {
        my $wait = $ENV{TEST_NGINX_LOCK_WAIT} || 900;
        Test::More::diag("another test run uses port $ServerPort ($file); "
                         . "waiting up to ${wait}s");
        my $deadline = Time::HiRes::time() + $wait;
        while (!flock($fh, Fcntl::LOCK_EX() | Fcntl::LOCK_NB())) {
            bail_out("port $ServerPort still in use by another test run "
                     . "after ${wait}s ($file)")
                if Time::HiRes::time() >= $deadline;
            Time::HiRes::sleep(0.2);
        }
    }
    $PortLock = $fh;
}

sub run_tests () {
    srand($$ + int(Time::HiRes::time() * 1000000));
    nginx_version();
    lock_port();

    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = Test::Base::blocks();
    @blocks = List::Util::shuffle(@blocks) unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value('name', $0 . ' ' . $block->name);
        run_test($block);
        $_->($block) for @TestCleanupHandlers;
    }

    cleanup();
}

sub block_bound {
    my ($block, $timeout) = @_;
    my $wait = parse_time($block->wait) || 0;
    my $nreq = 1;
    my $req = $block->request;
    $nreq = @$req if ref $req eq 'ARRAY';
    my $need = $nreq * (2 * $timeout + 1) + 2 * $wait + 2;
    my $bound = $BlockTimeout > $need ? $BlockTimeout : $need;
    $bound *= $RepeatEach;
    $bound *= 10 if $UseValgrind;
    return $bound;
}

sub unsupported_sections {
    my $block = shift;
    my $order = $block->_section_order;
    return grep { $UnsupportedSections{$_} } @{ $order || [] };
}

sub run_test ($) {
    my $block = shift;
    return if defined $block->SKIP;

    my $name = $block->name;
    local $Block = $block;

    if (my @bad = unsupported_sections($block)) {
        my $tb = Test::More->builder;
        for my $s (@bad) {
            $tb->ok(0, "$name - section \"--- $s\" is not supported by the "
                       . "project's test runner (t/runner)");
        }
        return;
    }

    my $rand_ports = {};
    local $RandPorts = $rand_ports;

    my $config = $block->config;
    if (defined $config) {
        $config = expand_env_in_text($config, $name, $rand_ports);
        $PrevConfig = $config;
    } else {
        bail_out("$name - No '--- config' section specified and could not "
                 . "get previous one.")
            unless defined $PrevConfig;
        $config = $PrevConfig;
    }

    local $LogLevel = $LogLevel;
    if (my $l = $block->log_level) {
        ($LogLevel = $l) =~ s/^\s+|\s+$//g;
    }

    # --- skip_eval / --- skip_nginx
    my ($skip_n, $skip_reason) = skip_info($block);
    if (defined $skip_n) {
        for (1 .. $RepeatEach) {
            SKIP: { Test::More::skip("$name - $skip_reason", $skip_n) }
        }
        return;
    }

    stop_nginx() if defined $NginxPid;
    setup_server_root();
    write_user_files($block, $rand_ports);
    write_config_file($block, $config, $rand_ports);

    if (defined $block->must_die) {
        run_must_die($block);
        return;
    }

    my $timeout = parse_time($block->timeout);
    $timeout = $Timeout unless defined $timeout && length $timeout;

    my $pid = start_nginx();
    my ($state, $status) = wait_nginx_ready($pid, $UseValgrind ? 120 : 10);
    if ($state ne 'ready') {
        my $why = $state eq 'exited'
                  ? "nginx exited during startup (" . describe_status($status) . ")"
                  : "nginx did not start listening on port $ServerPort in time";
        stop_nginx();
        my $tb = Test::More->builder;
        $tb->ok(0, "$name - failed to start nginx: $why");
        $tb->diag("command: $NginxBinary -p $ServRoot/ -c $ConfFile\n"
                  . nginx_diag());
        return;
    }

    my $bound = block_bound($block, $timeout);
    my $ok = eval {
        local $SIG{ALRM} = sub { die "__TEST_NGINX_BLOCK_TIMEOUT__\n" };
        Time::HiRes::alarm($bound);

        if (my $init = $block->init) {
            eval $init;
            bail_out("$name - init failed: $@") if $@;
        }

        $ErrLogFilePos = 0;
        for my $i (0 .. $RepeatEach - 1) {
            write_user_files($block, $rand_ports) if $i > 0;
            run_test_helper($block, $i, $timeout);
        }

        Time::HiRes::alarm(0);
        1;
    };
    Time::HiRes::alarm(0);
    my $err = $@;

    if (!$ok) {
        if ($err eq "__TEST_NGINX_BLOCK_TIMEOUT__\n") {
            my $tb = Test::More->builder;
            $tb->ok(0, "$name - block did not finish within its overall time "
                       . "bound of ${bound}s");
            $tb->diag(nginx_diag());
        } else {
            stop_nginx();
            die $err;
        }
    }

    my $st = stop_nginx();
    check_nginx_health($name, $st);
}

sub skip_info {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $s = $block->skip_eval)) {
        if ($s =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            my ($n, $code) = ($1, $2);
            my $should = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code "
                     . "\"$code\": $@") if $@;
            return ($n, 'skip_eval') if $should;
        } else {
            bail_out("$name - Invalid --- skip_eval spec: $s");
        }
    }

    if (defined(my $s = $block->skip_nginx)) {
        if ($s =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/) {
            my ($n, $op, $reason) = ($1, $2, $6);
            my $ver = sprintf "%d.%03d%03d", $3, $4, $5;
            my $cur = nginx_version();
            my $should = $op eq '<'  ? $cur <  $ver
                       : $op eq '<=' ? $cur <= $ver
                       : $op eq '>'  ? $cur >  $ver
                       :               $cur >= $ver;
            $reason = "nginx version $op $3.$4.$5" unless $reason;
            return ($n, $reason) if $should;
        } else {
            bail_out("$name - Invalid --- skip_nginx spec: $s");
        }
    }

    return ();
}

sub run_must_die {
    my $block = shift;
    my $name = $block->name;
    my $must_die = $block->must_die;
    $must_die =~ s/^\s+|\s+$//g if defined $must_die;
    my $tb = Test::More->builder;

    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        my $pid = start_nginx(no_valgrind => 1);
        my ($state, $status) = wait_nginx_ready($pid, 10);

        if ($state eq 'exited') {
            if (POSIX::WIFSIGNALED($status)) {
                $tb->ok(0, "$name - nginx core dumped");
                $tb->diag(describe_status($status) . "\n" . nginx_diag());
            } elsif (Scalar::Util::looks_like_number($must_die)) {
                Test::More::is(POSIX::WEXITSTATUS($status), $must_die,
                               "$name - die with the expected exit code");
            } else {
                Test::More::isnt($status, 0, "$name - die as expected");
            }
        } else {
            if (Scalar::Util::looks_like_number($must_die)) {
                Test::More::is(0, $must_die,
                               "$name - die with the expected exit code");
            } else {
                Test::More::isnt(0, 0, "$name - die as expected");
            }
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it (req $i)\n";
            stop_nginx();
        }

        my $stderr = slurp($StderrFile);
        my $log = slurp($ErrLogFile);
        $log = '' unless defined $log;
        local @ExtraErrLogLines;
        for my $l (split /^/m, defined $stderr ? $stderr : '') {
            (my $msg = $l) =~ s/^nginx: \[\w+\]\s*//;
            chomp $msg;
            next if $msg eq '' || index($log, $msg) >= 0;
            push @ExtraErrLogLines, $l =~ /\n\z/ ? $l : "$l\n";
        }
        check_error_log($block, undef, $i, 0);
    }
}

# Returns a list of requests; each: { packets => [...], head => bool }.
# Returns () after failing a test when the block's request is unusable.
sub requests_from_block {
    my $block = shift;
    my $name = $block->name;
    my $tb = Test::More->builder;

    my $mk = sub {
        my @p = @_;
        my $all = join '', @p;
        return { packets => \@p, head => ($all =~ /^\s*HEAD\s+/ ? 1 : 0) };
    };

    if (defined $block->raw_request) {
        my $raw = $block->raw_request;
        return $mk->(ref $raw eq 'ARRAY' ? @$raw : ($raw));
    }

    my $request = $block->request;
    if (!defined $request) {
        $tb->ok(0, "$name - no --- request or --- raw_request section");
        return ();
    }

    my $more = $block->more_headers;
    $more = '' unless defined $more;
    my @reqs = ref $request eq 'ARRAY' ? @$request : ($request);
    if (ref $request && ref $request ne 'ARRAY') {
        $tb->ok(0, "$name - invalid --- request: must be a string or an "
                   . "array of requests");
        return ();
    }

    my @out;
    my $i = 0;
    for my $r (@reqs) {
        if (ref $r) {
            $tb->ok(0, "$name - requests split into packets are not "
                       . "supported by the project's test runner");
            return ();
        }
        my $hdr = $more;
        if (ref $more eq 'ARRAY') {
            $hdr = $more->[$i];
            bail_out("--- more_headers lacks data for the ${i}th request")
                unless defined $hdr;
        }
        my $bytes = eval {
            Test::Nginx::Runner::HTTP::build_request(
                request => $r, more_headers => $hdr, host => $ServerName,
                connection => 'close');
        };
        if (!defined $bytes) {
            chomp(my $e = $@);
            $tb->ok(0, "$name - $e");
            return ();
        }
        push @out, $mk->($bytes);
        $i++;
    }
    return @out;
}

sub indexed_value {
    my ($name, $value, $idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    return $value->[0] if ref $value eq 'ARRAY';
    return $value;
}

sub run_test_helper {
    my ($block, $rep, $timeout) = @_;
    my $name = $block->name;
    my $tb = Test::More->builder;

    my @reqs = requests_from_block($block);
    return unless @reqs;

    my $need_array = @reqs > 1;
    my $res;

    for my $idx (0 .. $#reqs) {
        my $req = $reqs[$idx];
        my $r = Test::Nginx::Runner::HTTP::send_packets(
            host => $ServerAddr, port => $ServerPortForClient,
            packets => $req->{packets}, timeout => $timeout,
            delay => parse_time($block->raw_request_middle_delay),
            shutdown => shutdown_arg($block));

        if (defined $r->{connect_error}) {
            $tb->ok(0, "$name - Can't connect to $ServerAddr:"
                       . "$ServerPortForClient: $r->{connect_error} (aborted)");
            $tb->diag(nginx_diag());
        }
        if ($r->{timed_out} && !defined $block->abort) {
            $tb->ok(0, "ERROR: client socket timed out - $name");
        }
        if (defined $r->{error}) {
            warn "WARNING: $name - HTTP response read failure: $r->{error}\n";
        }

        if (!defined $block->ignore_response) {
            my $p = Test::Nginx::Runner::HTTP::parse_response($r->{resp},
                                                              $req->{head});
            if (defined $p->{error}) {
                $tb->ok(0, "$name - $p->{error}");
            }
            if (defined $p->{warning}) {
                warn "WARNING: $name - $p->{warning}\n";
            }
            if (defined $p->{left} && !$need_array) {
                (my $left = $p->{left}) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last "
                     . "chunk in response: \"$left\"\n";
            }
            $res = $p->{res};
            my $raw_headers = $p->{raw_headers};

            check_error_code($block, $res, $idx, $need_array);
            check_raw_response_headers($block, $raw_headers, $idx, $need_array);
            check_response_headers($block, $res, $raw_headers, $idx, $need_array);
            check_response_body($block, $res, $idx, $rep, $need_array);
        }

        if ($idx < $#reqs) {
            Time::HiRes::sleep(parse_time($block->wait)) if $block->wait;
            check_error_log($block, $res, $rep, $need_array);
            check_access_log($block, $rep) unless defined $block->ignore_response;
        }
    }

    Time::HiRes::sleep(parse_time($block->wait)) if $block->wait;
    check_error_log($block, $res, $rep, $need_array);
    check_access_log($block, $rep) unless defined $block->ignore_response;
}

sub shutdown_arg {
    my $block = shift;
    my $s = $block->shutdown;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    return $s eq '' ? 1 : $s;
}

# ----------------------------------------------------------------------
# checks

sub check_error_code {
    my ($block, $res, $idx, $need_array) = @_;
    my $name = $block->name;
    my $got = ($res && $res->code) || '';
    if (defined $block->error_code_like) {
        my $v = indexed_value($name, scalar($block->error_code_like), $idx, $need_array);
        Test::More::like($got, qr/$v/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        Test::More::is($got, indexed_value($name, scalar($block->error_code), $idx,
                                           $need_array),
                       "$name - status code ok");
    } else {
        Test::More::is($got, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers {
    my ($block, $raw, $idx, $need_array) = @_;
    my $name = $block->name;
    if (defined $block->raw_response_headers_like) {
        my $e = indexed_value($name, scalar($block->raw_response_headers_like), $idx,
                              $need_array);
        Test::More::like($raw, qr/$e/s, "$name - raw resp headers like");
    }
    if (defined $block->raw_response_headers_unlike) {
        my $e = indexed_value($name, scalar($block->raw_response_headers_unlike), $idx,
                              $need_array);
        Test::More::unlike($raw, qr/$e/s, "$name - raw resp headers unlike");
    }
}

# "Name: value" lines; "!Name" means the header must be absent.
# Returns a list of [name, value-or-undef] in file order (one entry per
# name: a later line for the same name replaces an earlier one).
sub parse_expected_headers {
    my $text = shift;
    my (@order, %val);
    for my $line (split /\n/, defined $text ? $text : '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        my ($key, $v);
        if ($line =~ s/^!\s*//) {
            ($key, $v) = ($line, undef);
        } else {
            ($key, $v) = split /\s*:\s*/, $line, 2;
        }
        push @order, $key unless exists $val{$key};
        $val{$key} = $v;
    }
    return map { [$_, $val{$_}] } @order;
}

sub check_response_headers {
    my ($block, $res, $raw, $idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my @h = parse_expected_headers(
            indexed_value($name, scalar($block->response_headers), $idx, $need_array));
        for my $h (@h) {
            my ($key, $val) = @$h;
            if (!defined $val) {
                Test::More::unlike($raw, qr/^\s*\Q$key\E\s*:/ms,
                                   "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $got = $res ? $res->header($key) : undef;
            $got = '' unless defined $got;
            Test::More::is($got, $val, "$name - header $key ok");
        }
    } elsif (defined $block->response_headers_like) {
        my @h = parse_expected_headers(
            indexed_value($name, scalar($block->response_headers_like), $idx,
                          $need_array));
        for my $h (@h) {
            my ($key, $val) = @$h;
            $val = '' unless defined $val;
            my $got = $res ? $res->header($key) : undef;
            $got = '' unless defined $got;
            Test::More::like($got, qr/^$val$/, "$name - header $key like ok");
        }
    }
}

sub check_response_body {
    my ($block, $res, $idx, $rep, $need_array) = @_;
    my $name = $block->name;

    my $content = $res ? $res->content : undef;
    if (defined $content) {
        $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gm;
        $content =~ s/^Connection: TE, close\r\n//gm;
    }

    if (defined $block->response_body) {
        my $expected = indexed_value($name, scalar($block->response_body), $idx,
                                     $need_array);
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $expected = expand_env_in_text($expected, $name, $RandPorts);
        }
        my $what = "(repeated req $rep, req $idx)";
        if (ref $expected) {
            Test::More::like($content, $expected,
                             "$name - response_body - like $what");
        } elsif ($NoLongString) {
            Test::More::is($content, $expected,
                           "$name - response_body - response is expected $what");
        } else {
            is_long_string($content, $expected,
                           "$name - response_body - response is expected $what");
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my ($pat, $type);
        if (defined $block->response_body_like) {
            ($pat, $type) = (scalar($block->response_body_like), 'like');
        } else {
            ($pat, $type) = (scalar($block->response_body_unlike), 'unlike');
        }
        $pat = indexed_value($name, $pat, $idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = trim($content);
        $summary = '' unless defined $summary;
        $summary = substr($summary, 0, 100) . '...' if length $summary > 100;
        my $desc = "$name - response_body_$type - response is expected ($summary)";
        if ($type eq 'like') {
            Test::More::like($content, qr/$pat/s, $desc);
        } else {
            Test::More::unlike($content, qr/$pat/s, $desc);
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $idx, $rep, 0);
    }
}

sub error_log_data {
    # log-phase messages are written after the response was sent
    Time::HiRes::sleep($TestNginxSleep * 3);
    my @lines;
    if (open my $in, '<', $ErrLogFile) {
        seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos > 0;
        @lines = <$in>;
        $ErrLogFilePos = tell $in unless $CheckAccumErrLog;
        close $in;
    }
    push @lines, @ExtraErrLogLines;
    return \@lines;
}

sub access_log_data {
    Time::HiRes::sleep($TestNginxSleep * 3);
    open my $in, '<', $AccLogFile or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}

sub patterns_of {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub value_contains {
    my ($val, $pat) = @_;
    if (!ref $val || ref $val eq 'Regexp') {
        return $val =~ /\Q$pat\E/;
    }
    if (ref $val eq 'ARRAY') {
        for my $v (@$val) {
            return 1 if defined $v && value_contains($v, $pat);
        }
    }
    return 0;
}

sub line_matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ /$pat/ : index($line, $pat) >= 0;
}

# --- error_log / --- no_error_log / --- grep_error_log(_out) and the
# log file (logical name $log) they are about
sub check_log_patterns {
    my (%a) = @_;
    my ($name, $lines, $log, $rep) = @a{qw(name lines log rep)};
    my $tb = Test::More->builder;
    my $shown;

    if (defined $a{want}) {
        my $pats = patterns_of($a{want});
        for my $line (@$lines) {
            for my $pat (@$pats) {
                next unless defined $pat;
                if (line_matches($line, $pat)) {
                    $tb->ok(1, "$name - pattern \"$pat\" matches a line in $log (req $rep)");
                    undef $pat;
                }
            }
        }
        for my $pat (@$pats) {
            next unless defined $pat;
            $tb->ok(0, "$name - pattern \"$pat\" should match a line in $log (req $rep)");
            if (!$shown++) {
                $tb->diag("--- $log lines checked:\n" . tail_lines(join('', @$lines), 40));
            }
        }
    }

    if (defined $a{unwanted}) {
        my $pats = patterns_of($a{unwanted});
        my %found;
        for my $i (0 .. $#$lines) {
            my $line = $lines->[$i];
            for my $pat (@$pats) {
                next unless defined $pat;
                next unless line_matches($line, $pat);
                $found{$pat} = 1;
                my $ln = fmt_str($line);
                my $p = fmt_str($pat);
                my $last = $i + 9 < $#$lines ? $i + 9 : $#$lines - 1;
                my @more = $last >= $i + 1 ? @$lines[$i + 1 .. $last] : ();
                $tb->ok(0, "$name - pattern \"$p\" should not match any line in "
                           . "$log but matches line \"$ln\" (req $rep)\n"
                           . join('', @more));
            }
        }
        for my $pat (@$pats) {
            next unless defined $pat;
            next if $found{$pat};
            my $p = fmt_str($pat);
            $tb->ok(1, "$name - pattern \"$p\" does not match a line in $log (req $rep)");
        }
    }
}

sub check_error_log {
    my ($block, $res, $rep, $need_array) = @_;
    my $name = $block->name;
    my $tb = Test::More->builder;
    my $lines;

    my $grep_pat = $block->grep_error_log;
    if (ref $grep_pat eq 'ARRAY') {
        $grep_pat = $grep_pat->[$rep];
    }
    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- "
                 . "grep_error_log is defined") unless defined $expected;
        $expected = $expected->[$rep] if ref $expected eq 'ARRAY';
        $expected = expand_env_in_text($expected, $name, $RandPorts)
            unless ref $expected;
        $lines ||= error_log_data();
        my $matched = '';
        for my $line (@$lines) {
            if (ref $grep_pat ? $line =~ /$grep_pat/ : $line =~ /\Q$grep_pat\E/) {
                my $m = $&;
                $matched .= "$m\n" if $m !~ /\n/;
            }
        }
        my $desc = "$name - grep_error_log_out (req $rep)";
        if (ref $expected eq 'Regexp') {
            Test::More::like($matched, $expected, $desc);
        } else {
            is_str($matched, $expected, $desc);
        }
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- "
                 . "grep_error_log_out is defined");
    }

    my %check = map { $_ => 1 } qw(alert crit emerg);
    for my $sec (scalar($block->error_log), scalar($block->no_error_log)) {
        next unless defined $sec;
        for my $lvl (keys %check) {
            delete $check{$lvl} if value_contains($sec, "[$lvl");
        }
    }

    if (defined $block->error_log || defined $block->no_error_log) {
        $lines ||= error_log_data();
        check_log_patterns(name => $name, lines => $lines, log => 'error.log',
                           rep => $rep, want => scalar($block->error_log),
                           unwanted => scalar($block->no_error_log));
    }

    $lines ||= error_log_data();
    for my $line (@$lines) {
        for my $lvl (sort keys %check) {
            if ($line =~ /\[$lvl\]/) {
                warn "WARNING: $name - " . fmt_str($line) . "\n";
            }
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            (my $l = $line) =~ s/\n\z//;
            $tb->ok(0, "$name - $l");
        }
    }
}

sub check_access_log {
    my ($block, $rep) = @_;
    return unless defined $block->access_log || defined $block->no_access_log;
    check_log_patterns(name => $block->name, lines => access_log_data(),
                       log => 'access.log', rep => $rep,
                       want => scalar($block->access_log),
                       unwanted => scalar($block->no_access_log));
}

# ----------------------------------------------------------------------
# cleanup

sub cleanup {
    for my $h (@CleanupHandlers) {
        $h->();
    }
    stop_nginx() if defined $NginxPid && $$ == $OwnerPid;
}

for my $sig (qw(INT TERM HUP)) {
    if (!$SIG{$sig} || $SIG{$sig} eq 'DEFAULT') {
        my $num = { INT => 2, HUP => 1, TERM => 15 }->{$sig};
        $SIG{$sig} = sub { exit(128 + $num) };
    }
}

END {
    if ($$ == $OwnerPid && defined $NginxPid) {
        local $?;
        stop_nginx();
    }
}

1;
