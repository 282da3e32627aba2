# docker/: the compose file validates (docker-compose config), the image's
# nginx configuration (the entrypoint's rendering of the template) passes
# nginx -t, and the Dockerfile has the expected shape.  No Docker engine
# is needed: nothing here runs a container.
use strict;
use warnings;
use lib 't/lib';
use LLMTest no_mocks => 1;
use Test::More;
use File::Temp qw(tempdir);
use File::Copy qw(copy);

my $nginx = LLMTest::nginx_command();

SKIP: {
    skip "docker-compose not installed", 2 unless -x '/usr/bin/docker-compose';
    my $out = `REDIS_PASSWORD=test docker-compose -f docker/compose.yml config 2>&1`;
    is($?, 0, "docker-compose config validates docker/compose.yml") or diag($out);
    like($out, qr/host\.docker\.internal:host-gateway/, "the host's Ollama via host-gateway");
}

my $df = LLMTest::slurp('docker/Dockerfile');
is(scalar(() = $df =~ /^FROM debian:bookworm/mg), 2, "multi-stage, Debian bookworm");
like($df, qr/RUN make module/, "built with the Makefile target CI uses");
like($df, qr/^HEALTHCHECK /m, "a health check");
like($df, qr/libcjson1 libhiredis0\.14/, "runtime image with the runtime libraries only");


# the entrypoint's rendering, with reachable addresses for nginx -t
my $p = tempdir(CLEANUP => 1);
mkdir "$p/conf";
mkdir "$p/conf/certs";
mkdir "$p/modules";
mkdir "$p/logs";
copy("conf/$_", "$p/conf/$_") or die "$_: $!"
    for qw(nginx.conf llm_router_locations.conf llm_log_format.conf jarvis-5010.conf);
copy('/etc/nginx/mime.types', "$p/conf/mime.types") or die;
symlink(LLMTest::module_path(), "$p/modules/ngx_http_llm_router_module.so") or die;
system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=t"
       . " -keyout $p/conf/certs/router.key -out $p/conf/certs/router.crt"
       . " >/dev/null 2>&1") == 0 or die;
my $t = LLMTest::slurp('docker/llm_router_http.conf.template');
my %env = (OLLAMA_BIG => '127.0.0.1:11434', OLLAMA_SMALL => '127.0.0.1:11435',
           REDIS_ADDR => '127.0.0.1:6379', REDIS_AUTH => 'password=test');
$t =~ s/\$\{(\w+)\}/$env{$1}/g;
unlike($t, qr/\$\{/, "every template variable is set by the entrypoint");
open my $fh, '>', "$p/conf/llm_router_http.conf" or die;
print $fh $t;
close $fh;
my $out = `$nginx -t -q -p $p/ -c $p/conf/nginx.conf 2>&1`;
is($?, 0, "the container's nginx configuration passes nginx -t") or diag($out);

like(LLMTest::slurp('docker/entrypoint.sh'), qr/envsubst '\$OLLAMA_BIG \$OLLAMA_SMALL \$REDIS_ADDR \$REDIS_AUTH'/,
     "the entrypoint substitutes exactly the template's variables");

done_testing();
