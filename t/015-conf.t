# Every nginx file under conf/ passes "nginx -t" with the module loaded:
# the production nginx.conf (with its snippets, the JSON log format and
# the JARVIS :5010 drop-in) and the make-run configuration.
use strict;
use warnings;
use lib 't/lib';
use LLMTest no_mocks => 1;
use Test::More;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use File::Basename qw(basename);

my $nginx = LLMTest::nginx_command();
my $module = LLMTest::module_path();
my $top = File::Spec->rel2abs('.');

sub check {
    my ($prefix, $conf) = @_;
    my $out = `$nginx -t -q -p $prefix/ -c $conf 2>&1`;
    return ($? == 0, $out);
}

# production layout: a copy of conf/ as /etc/nginx would hold it
my $p = tempdir(CLEANUP => 1);
mkdir "$p/conf";
mkdir "$p/conf/certs";
mkdir "$p/modules";
mkdir "$p/logs";
copy($_, "$p/conf/" . basename($_)) or die for glob("conf/*.conf");
copy('/etc/nginx/mime.types', "$p/conf/mime.types") or die "mime.types: $!";
symlink($module, "$p/modules/ngx_http_llm_router_module.so") or die;

# nginx.conf may load the module the Debian way, through Debian's stock
# "include /etc/nginx/modules-enabled/*.conf;": the copy's include points
# at a modules-enabled of its own holding the one line the package
# (make deb) installs there
my $loadline = 'load_module modules/ngx_http_llm_router_module.so;';
mkdir "$p/conf/modules-enabled";
open my $snippet, '>', "$p/conf/modules-enabled/50-mod-http-llm-router.conf" or die;
print $snippet "$loadline\n";
close $snippet;
{
    my $c = LLMTest::slurp("$p/conf/nginx.conf");
    $c =~ s{/etc/nginx/modules-enabled/}{$p/conf/modules-enabled/}g;
    open my $out, '>', "$p/conf/nginx.conf" or die;
    print $out $c;
    close $out;
}
system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=router"
       . " -keyout $p/conf/certs/router.key -out $p/conf/certs/router.crt"
       . " >/dev/null 2>&1") == 0 or die "openssl failed";

my @files = map { basename($_) } glob("conf/*.conf");
ok(scalar(@files) >= 5, "conf/ has the nginx files (@files)");

my ($ok, $out) = check($p, "$p/conf/nginx.conf");
ok($ok, "conf/nginx.conf (with every snippet) passes nginx -t") or diag($out);

my $main = LLMTest::slurp("$p/conf/nginx.conf");

# next to the package, a second load_module of the module would be fatal
# ("module ... is already loaded")
my $orig = LLMTest::slurp('conf/nginx.conf');
my $own = () = $orig =~ /^\s*load_module\s+\S*ngx_http_llm_router_module\.so\s*;/mg;
my $via = $orig =~ m{^\s*include\s+/etc/nginx/modules-enabled/\*\.conf\s*;}m ? 1 : 0;
is($own + $via, 1, "conf/nginx.conf loads the module once (its own load_module "
                   . "line or Debian's modules-enabled include, not both)");
like($orig, qr/\Q$loadline\E/,
     "... and says which line to put in modules-enabled without the package")
    if $via;
for my $f (@files) {
    next if $f eq 'nginx.conf';
    my $included = $main =~ /include\s+\Q$f\E;/
        || LLMTest::slurp("$p/conf/jarvis-5010.conf") =~ /include\s+\Q$f\E;/;
    ok($included, "conf/$f is checked through nginx.conf");
}

like($main, qr/listen\s+443 ssl http2;/, "TLS with HTTP/2 on 443");
like($main, qr/ssl_protocols\s+TLSv1\.2 TLSv1\.3;/, "TLS 1.2 and 1.3 only");
like($main, qr/return\s+301 https:/, "HTTP redirects to HTTPS");
like($main, qr/limit_req\s+zone=/, "per-client rate limit");
like(LLMTest::slurp("conf/jarvis-5010.conf"), qr/listen\s+127\.0\.0\.1:5010;/,
     "JARVIS drop-in on 5010");

# make run's configuration, rendered as conf/run.sh does
my $d = tempdir(CLEANUP => 1);
mkdir "$d/logs";
mkdir "$d/tmp";
my $demo = LLMTest::slurp("conf/demo.conf.in");
$demo =~ s/\@MODULE\@/$module/g;
$demo =~ s/\@USER\@/# default user/g;
$demo =~ s/\@PREFIX\@/$d/g;
$demo =~ s/\@PORT\@/18080/g;
$demo =~ s/\@BIG\@/127.0.0.1:1/g;
$demo =~ s/\@SMALL\@/127.0.0.1:2/g;
$demo =~ s/\@REDIS_PORT\@/6390/g;
$demo =~ s/\@CONF\@/$top\/conf/g;
$demo =~ s/\@GPU\@/source=off/g;
$demo =~ s/\@CLOUD\@/127.0.0.1:3/g;
$demo =~ s/\@VISION\@/llm_router_tier vision upstream=ollama_small model=gemma3 rank=1 serves=chat,generate,vision;/g;
open my $fh, '>', "$d/nginx.conf" or die;
print $fh $demo;
close $fh;
($ok, $out) = check($d, "$d/nginx.conf");
ok($ok, "conf/demo.conf.in (make run) passes nginx -t") or diag($out);

done_testing();
