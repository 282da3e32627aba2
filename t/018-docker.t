# docker/ without a Docker engine: the compose file validates
# (docker-compose config) and binds its published ports to 127.0.0.1
# unless told otherwise, the entrypoint's rendering of the image's nginx
# configuration passes nginx -t (every listener mode), and the Dockerfile
# has the expected shape.  t/025-docker.t builds the image and runs it.
use strict;
use warnings;
use lib 't/lib';
use LLMTest no_mocks => 1;
use Test::More;
use File::Temp qw(tempdir);
use File::Copy qw(copy);

my $nginx = LLMTest::nginx_command();

sub compose_config {
    my %env = (REDIS_PASSWORD => 'test', @_);
    my $e = join ' ', map { "$_=$env{$_}" } sort keys %env;
    my $out = `env -u LLM_ROUTER_BIND -u LLM_ROUTER_JARVIS_BIND $e docker-compose -f docker/compose.yml config 2>&1`;
    return ($?, $out);
}

SKIP: {
    skip "docker-compose not installed", 6 unless -x '/usr/bin/docker-compose';
    my ($st, $out) = compose_config();
    is($st, 0, "docker-compose config validates docker/compose.yml") or diag($out);
    like($out, qr/host\.docker\.internal:host-gateway/, "the host's Ollama via host-gateway");
    my ($router) = $out =~ /^  router:\n(.*?)^  \S/ms;
    $router //= '';
    my @ports = $router =~ /^    - (\S*:\d+:\d+\S*)$/mg;
    is_deeply([sort @ports], ['127.0.0.1:443:443/tcp', '127.0.0.1:5010:5010/tcp',
                              '127.0.0.1:80:80/tcp'],
              "the router's ports are published on the host's 127.0.0.1 only")
        or diag($router);
    my @others = grep { !/^127\.0\.0\.1:/ } $out =~ /^    - (\S*:\d+:\d+\S*)$/mg;
    is_deeply(\@others, [], "... and so are every other service's");

    ($st, $out) = compose_config(LLM_ROUTER_BIND => '0.0.0.0');
    ($router) = $out =~ /^  router:\n(.*?)^  \S/ms;
    @ports = ($router // '') =~ /^    - (\S*:\d+:\d+\S*)$/mg;
    is_deeply([sort @ports], ['0.0.0.0:443:443/tcp', '0.0.0.0:80:80/tcp',
                              '127.0.0.1:5010:5010/tcp'],
              "LLM_ROUTER_BIND=0.0.0.0 publishes 80 and 443 on every address, "
              . "not the JARVIS port") or diag($out);
    ($st, $out) = compose_config(LLM_ROUTER_JARVIS_BIND => '192.0.2.7');
    like($out, qr/^    - 192\.0\.2\.7:5010:5010\/tcp$/m, "LLM_ROUTER_JARVIS_BIND moves 5010");
}

my $df = LLMTest::slurp('docker/Dockerfile');
is(scalar(() = $df =~ /^FROM debian:bookworm/mg), 2, "multi-stage, Debian bookworm");
like($df, qr/RUN make module/, "built with the Makefile target CI uses");
like($df, qr/^HEALTHCHECK /m, "a health check");
my ($hc) = $df =~ /^(HEALTHCHECK (?:.*\\\n)*.*)$/m;
like($hc // '', qr/127\.0\.0\.1:\$\{LLM_ROUTER_JARVIS_PORT:-5010\}\/api\/version/,
     "... on the JARVIS port the entrypoint was given");
like($df, qr/libcjson1 libhiredis0\.14/, "runtime image with the runtime libraries only");
like($df, qr/^COPY conf\/nginx\.conf conf\/jarvis-5010\.conf docker\/llm_router_http\.conf\.template \\\n\s+\/etc\/nginx\/templates\/$/m,
     "the files the entrypoint renders are templates");
like($df, qr/^STOPSIGNAL SIGQUIT$/m, "docker stop: nginx's graceful shutdown");


# the entrypoint's rendering (the real script, into a directory of its own),
# with reachable addresses for nginx -t
sub render {
    my %env = @_;
    my $p = tempdir(CLEANUP => 1);
    mkdir "$p/conf";
    mkdir "$p/conf/templates";
    mkdir "$p/modules";
    mkdir "$p/logs";
    copy("conf/$_", "$p/conf/$_") or die "$_: $!"
        for qw(llm_router_locations.conf llm_router_embeddings.conf
               llm_log_format.conf);
    copy("conf/$_", "$p/conf/templates/$_") or die "$_: $!"
        for qw(nginx.conf jarvis-5010.conf);
    copy('docker/llm_router_http.conf.template', "$p/conf/templates/") or die;
    copy('/etc/nginx/mime.types', "$p/conf/mime.types") or die;
    symlink(LLMTest::module_path(), "$p/modules/ngx_http_llm_router_module.so") or die;
    my $e = join ' ', map { "$_='$env{$_}'" } sort keys %env;
    my $out = `env $e LLM_ROUTER_CONF_DIR=$p/conf OLLAMA_BIG=127.0.0.1:11434 OLLAMA_SMALL=127.0.0.1:11435 REDIS_ADDR=127.0.0.1:6379 REDIS_PASSWORD=test sh docker/entrypoint.sh true 2>&1`;
    die "the entrypoint failed: $out" if $?;
    # an nginx.conf that loads the module through Debian's modules-enabled
    # (as the image does then): a modules-enabled of its own
    my $c = LLMTest::slurp("$p/conf/nginx.conf");
    if ($c !~ /^\s*load_module\s.*ngx_http_llm_router_module/m) {
        mkdir "$p/conf/modules-enabled";
        open my $s, '>', "$p/conf/modules-enabled/50-mod-http-llm-router.conf" or die;
        print $s "load_module modules/ngx_http_llm_router_module.so;\n";
        close $s;
        $c =~ s{/etc/nginx/modules-enabled/}{$p/conf/modules-enabled/}g;
        open my $f, '>', "$p/conf/nginx.conf" or die;
        print $f $c;
        close $f;
    }
    return ($p, $out);
}

my ($p, $msg) = render();
my $t = LLMTest::slurp("$p/conf/llm_router_http.conf");
unlike($t, qr/\$\{/, "every template variable is set by the entrypoint");
like($t, qr/^llm_redis\s+127\.0\.0\.1:6379\s+password=test\s/m, "... Redis with its password");
ok(-s "$p/conf/certs/router.crt" && -s "$p/conf/certs/router.key", "... a self-signed certificate");
my $out = `$nginx -t -q -p $p/ -c $p/conf/nginx.conf 2>&1`;
is($?, 0, "the container's nginx configuration passes nginx -t") or diag($out);

like(LLMTest::slurp('docker/entrypoint.sh'), qr/envsubst '\$OLLAMA_BIG \$OLLAMA_SMALL \$REDIS_ADDR \$REDIS_AUTH'/,
     "the entrypoint substitutes exactly the template's variables");

sub listens {
    my $p = shift;
    my $all = LLMTest::slurp("$p/conf/nginx.conf") . LLMTest::slurp("$p/conf/jarvis-5010.conf");
    return [sort map { s/\s+/ /gr } $all =~ /^\s*listen\s+([^;]*);/mg];
}

# the image's defaults without IPv6 on the loopback (Docker 20.10): every
# address, IPv4 only, where the published ports arrive
($p, $msg) = render(LLM_ROUTER_IPV6 => 'off');
is_deeply(listens($p), ['443 ssl http2', '5010', '80'],
          "default listeners, no IPv6: 80, 443, 5010 on every IPv4 address");
like($msg, qr/^llm-router: http 80, https 443, jarvis 5010 on every address, IPv4 only;/m,
     "... as the entrypoint reports");
$out = `$nginx -t -q -p $p/ -c $p/conf/nginx.conf 2>&1`;
is($?, 0, "... nginx -t") or diag($out);

($p, $msg) = render(LLM_ROUTER_IPV6 => 'on');
is_deeply(listens($p), ['443 ssl http2', '5010', '80', '[::]:443 ssl http2', '[::]:5010', '[::]:80'],
          "with IPv6: [::] too");

# --network host: loopback, ports of one's own
($p, $msg) = render(LLM_ROUTER_LISTEN => 'loopback', LLM_ROUTER_IPV6 => 'on',
                    LLM_ROUTER_HTTP_PORT => 8080, LLM_ROUTER_HTTPS_PORT => 8443,
                    LLM_ROUTER_JARVIS_PORT => 15010);
is_deeply(listens($p), ['127.0.0.1:15010', '127.0.0.1:8080', '127.0.0.1:8443 ssl http2',
                        '[::1]:15010', '[::1]:8080', '[::1]:8443 ssl http2'],
          "LLM_ROUTER_LISTEN=loopback with ports of its own");
$out = `$nginx -t -q -p $p/ -c $p/conf/nginx.conf 2>&1`;
is($?, 0, "... nginx -t") or diag($out);

# bad values stop the container at once, with the reason
$out = `LLM_ROUTER_CONF_DIR=/nonexistent LLM_ROUTER_LISTEN=public sh docker/entrypoint.sh true 2>&1`;
isnt($?, 0, "LLM_ROUTER_LISTEN=public is refused");
like($out, qr/LLM_ROUTER_LISTEN must be 'all' or 'loopback'/, "... saying why");
$out = `LLM_ROUTER_CONF_DIR=/nonexistent LLM_ROUTER_HTTPS_PORT=https sh docker/entrypoint.sh true 2>&1`;
isnt($?, 0, "a port that is not a number is refused");

done_testing();
