#!/usr/bin/env perl
#
# "make matrix": builds the module against every nginx source tree given
# (tarballs or unpacked trees; NGINX_SRCS, default ../shared/nginx) and
# Debian's own (nginx-dev, /usr/share/nginx/src), warnings as errors, and
# checks that each version's own binary loads it (nginx -t).  The newest
# version is also built with the module compiled in (--add-module), and
# that binary must answer a repeated request from the cache with an
# X-LLM-Cache header: the module's filters are in place.
#
#   perl t/matrix.pl [SRC ...]       prints a table, exits 1 on a failure
#
# Builds go to build/matrix/VERSION/ and are reused while the module's
# config is unchanged (only the module's objects are rebuilt).  The newest
# build's binary and module are what "make test" runs every suite against
# (build/matrix/newest.env).

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/lib";
use LLMTest no_mocks => 1, no_module => 1;
use Cwd ();
use File::Path qw(make_path);
use File::Basename qw(basename);

my $top = Cwd::abs_path("$FindBin::Bin/..");
my $out = "$top/build/matrix";
make_path($out);

my @srcs = @ARGV;
if (!@srcs) {
    my $dir = $ENV{NGINX_SRCS} // "$top/../shared/nginx";
    @srcs = sort glob("$dir/nginx-*.tar.gz"), grep { -d } glob("$dir/nginx-*/");
}
die "matrix: no nginx sources given (NGINX_SRCS=dir or arguments)\n" unless @srcs;

my $jobs = $ENV{MATRIX_JOBS} || 2;
my $with = '--with-compat --with-debug --with-threads --with-http_ssl_module '
         . '--with-http_v2_module --with-http_stub_status_module';

sub say { print "==> @_\n" }

sub run {
    my ($cmd, $log) = @_;
    my $rc = system("($cmd) > '$log' 2>&1");
    return $rc == 0;
}

sub newer {
    # the first file is newer than every other one given
    my ($f, @deps) = @_;
    return 0 unless -e $f;
    my $t = (stat $f)[9];
    for (@deps) { return 0 if -e $_ && (stat $_)[9] > $t }
    return 1;
}

sub unpack_src {
    my $src = shift;
    return $src =~ s{/$}{}r if -d $src;
    my $name = basename($src) =~ s/\.tar\.gz$//r;
    my $dir = "$out/src/$name";
    if (!-d $dir) {
        make_path("$out/src");
        run("tar -xzf '$src' -C '$out/src'", "$out/src/$name.untar.log")
            or die "matrix: cannot unpack $src\n";
    }
    return $dir;
}

sub version_of {
    my $dir = shift;
    open my $h, '<', "$dir/src/core/nginx.h" or return 'unknown';
    while (<$h>) { return $1 if /#define NGINX_VERSION\s+"([^"]+)"/ }
    return 'unknown';
}

sub configure_cmd {
    my $dir = shift;
    return -x "$dir/configure" ? './configure' : 'auto/configure';
}

# --- one version: configure, build, nginx -t --------------------------------

my @rows;
my $fail = 0;
my $newest;

sub check_t {
    my ($bin, $so, $ver) = @_;
    my $p = "$out/$ver/t";
    make_path("$p/logs");
    open my $c, '>', "$p/nginx.conf" or die;
    print $c <<"CONF";
load_module $so;
error_log $p/logs/error.log;
pid $p/logs/nginx.pid;
events {}
http {
    upstream ollama_big { server 127.0.0.1:11434; }
    upstream ollama_small { server 127.0.0.1:11435; }
    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    server {
        listen 127.0.0.1:1;
        location / {
            llm_router on;
            proxy_set_header Host \$llm_upstream_host;
            proxy_pass http://\$llm_upstream;
        }
    }
}
CONF
    close $c;
    return run("'$bin' -t -p '$p/' -c '$p/nginx.conf'", "$p/nginx-t.log");
}

sub build {
    my ($dir, $ver, $kind) = @_;
    my $obj = "$out/$ver/$kind";
    my $log = "$out/$ver/$kind";
    my $add = $kind eq 'static' ? "--add-module=$top" : "--add-dynamic-module=$top";
    my $reduced = !-f "$dir/src/core/nginx.c";    # Debian's nginx-dev tree
    my %r = (configure => 'ok', build => 'ok');

    if (!newer("$obj/Makefile", "$top/config", __FILE__)) {
        my $with_here = $reduced ? '--with-compat' : $with;
        if (!run("cd '$dir' && " . configure_cmd($dir) . " $with_here $add "
                 . "--builddir='$obj'", "$log.configure.log"))
        {
            $r{configure} = 'FAILED';
            return \%r;
        }
    }
    my $target = $reduced ? 'modules' : '';
    if (!run("cd '$dir' && make -j$jobs -f '$obj/Makefile' $target", "$log.build.log")) {
        $r{build} = 'FAILED';
        return \%r;
    }
    my $warn = `grep -c 'warning:' '$log.build.log'`;
    chomp $warn;
    $r{build} = "FAILED ($warn warnings)" if $warn;
    $r{obj} = $obj;
    return \%r;
}

my @trees;
for my $src (@srcs) {
    my $dir = unpack_src($src);
    push @trees, [ $dir, version_of($dir) ];
}
if (-d '/usr/share/nginx/src' && -x '/usr/sbin/nginx') {
    push @trees, [ '/usr/share/nginx/src', version_of('/usr/share/nginx/src') . ' (Debian)' ];
}

sub vkey { my @v = ($_[0] =~ /(\d+)\.(\d+)\.(\d+)/); sprintf "%05d%05d%05d", @v }
my ($top_tree) = sort { vkey($b->[1]) cmp vkey($a->[1]) }
                 grep { $_->[1] !~ /Debian/ } @trees;

for my $t (@trees) {
    my ($dir, $ver) = @$t;
    (my $tag = $ver) =~ s/ \(Debian\)/-debian/;
    make_path("$out/$tag");
    say "nginx $ver: configure, build";
    my $r = build($dir, $tag, 'dynamic');
    my $bin = $ver =~ /Debian/ ? '/usr/sbin/nginx' : "$r->{obj}/nginx";
    my $so = $r->{obj} ? "$r->{obj}/ngx_http_llm_router_module.so" : '';
    my $t_ok = ($r->{build} eq 'ok' && -f $so && check_t($bin, $so, $tag))
               ? 'ok' : 'FAILED';
    my $static = '-';

    if ($top_tree && $dir eq $top_tree->[0]) {
        say "nginx $ver: static build (--add-module)";
        my $s = build($dir, $tag, 'static');
        $static = $s->{build} eq 'ok' && $s->{configure} eq 'ok'
                  ? static_check("$s->{obj}/nginx", $tag) : "build FAILED";
        $newest = { version => $ver, bin => $bin, so => $so,
                    static => "$s->{obj}/nginx" };
    }

    push @rows, [ $ver, $r->{configure}, $r->{build}, $t_ok, $static ];
    $fail++ if grep { !/^(ok|-)/ } @{ $rows[-1] }[1 .. 4];
}

# --- the static binary answers from the cache ---------------------------------

sub static_check {
    my ($bin, $ver) = @_;
    local $ENV{TEST_NGINX_BINARY} = $bin;
    local $ENV{TEST_NGINX_LOAD_MODULES} = '';
    local $ENV{TEST_NGINX_PRELOAD} = '';
    my $res = eval {
        LLMTest::start_mock('big');
        LLMTest::start_mock('small');
        my $rport = LLMTest::start_redis(undef);
        my $port = LLMTest::free_port();
        my $h = LLMTest::start_nginx("$out/$ver/static-run", $port,
                                     LLMTest::tiers_conf() . <<"CONF");
    llm_redis 127.0.0.1:$rport;
    server {
        listen 127.0.0.1:$port;
        llm_cache on;
        location / {
            llm_router on;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$llm_upstream_host;
            proxy_pass http://\$llm_upstream;
        }
    }
CONF
        my $body = '{"model":"auto","stream":false,"prompt":"static build"}';
        my @seen;
        LLMTest::wait_until(sub {
            my $r = LLMTest::http_close($port, 'POST', '/api/generate', $body);
            push @seen, $r->{headers}{'x-llm-cache'} // 'none';
            $seen[-1] eq 'HIT';
        }, 15);
        LLMTest::stop_nginx($h);
        LLMTest::stop_redis($rport);
        LLMTest::stop_all();
        $seen[-1] eq 'HIT' ? 'ok (X-LLM-Cache: HIT)'
                           : "FAILED (X-LLM-Cache: @seen)";
    };
    return $res // "FAILED ($@)";
}

# --- the table ------------------------------------------------------------------

print "\n| nginx | configure | build (-Werror, no warning) | nginx -t, module loaded | static build answers from the cache |\n";
print "|---|---|---|---|---|\n";
print '| ' . join(' | ', @$_) . " |\n" for @rows;
print "\n";

if ($newest) {
    open my $e, '>', "$out/newest.env" or die;
    print $e "TEST_NGINX_BINARY=$newest->{bin}\nTEST_NGINX_LLM_MODULE=$newest->{so}\n"
           . "NGINX_VERSION=$newest->{version}\n";
    close $e;
}

print $fail ? "matrix: $fail version(s) FAILED\n" : "matrix: all versions ok\n";
exit($fail ? 1 : 0);
