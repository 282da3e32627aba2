# ngx_llm_router: build, run and test.
#
#   make run     build, start Redis, two mock Ollama tiers and nginx, route
#                a simple and a complex prompt, serve until Ctrl-C
#   make test    build, run the C unit tests and every t/*.t suite
#
# Both install the Debian packages they need first (as root).

NGINX_SRC   ?= /usr/share/nginx/src
NGINX       ?= /usr/sbin/nginx
PORT        ?= 8080
BUILD       := $(CURDIR)/build
MODULE      := $(BUILD)/ngx_http_llm_router_module.so
CC          ?= cc
UNIT_CFLAGS ?= -O2 -g -Wall -Wextra -Werror -std=c99 -D_DEFAULT_SOURCE

DEB_PACKAGES := gcc make pkg-config curl openssl ca-certificates apache2-utils \
                nginx nginx-dev libcjson-dev \
                libhiredis-dev librocm-smi-dev redis-server \
                libtest-base-perl libtext-diff-perl libipc-run-perl \
                liburi-perl libwww-perl prometheus chromium docker-compose \
                clang libclang-rt-14-dev

PURE_SRCS := src/ngx_llm_classify.c src/ngx_llm_classify_model.c \
             src/ngx_llm_request.c src/ngx_llm_request_scan.c \
             src/ngx_llm_json.c src/ngx_llm_policy.c \
             src/ngx_llm_model.c src/ngx_llm_lists.c \
             src/ngx_llm_cache_key.c src/ngx_llm_cache_entry.c \
             src/ngx_llm_similar.c src/ngx_llm_translate.c \
             src/ngx_llm_prom_parse.c
PURE_LIBS := -lcjson -lhiredis -lm
MODULE_SRCS := $(wildcard src/ngx_http_*.c src/ngx_http_*.h) $(PURE_SRCS) \
               src/ngx_llm_classify.h src/ngx_llm_request.h src/ngx_llm_request_scan.h \
               src/ngx_llm_json.h src/ngx_llm_policy.h src/ngx_llm_cache_key.h \
               src/ngx_llm_cache_entry.h src/ngx_llm_model.h src/ngx_llm_lists.h \
               src/ngx_llm_classify_model.h src/ngx_llm_similar.h \
               src/ngx_llm_translate.h src/ngx_llm_prom_parse.h

.PHONY: all deps module unit cli test run bench clean fuzz fuzz-smoke matrix \
        classifier-model classifier-data \
        fuzz-long module-asan test-asan test-valgrind soak check-hard \
        deb deb-deps test-docker bench-cache-key

all: module cli

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -q && \
	    apt-get install -y -q -o DPkg::Lock::Timeout=600 $$missing; \
	fi

# -O2 as distributions build nginx (nginx's own default is -O)
$(BUILD)/nginx/Makefile: config Makefile
	@mkdir -p $(BUILD)
	cd $(NGINX_SRC) && $$(test -x ./configure && echo ./configure \
	    || echo auto/configure) --with-compat --with-debug \
	    --with-cc-opt=-O2 \
	    --add-dynamic-module=$(CURDIR) --builddir=$(BUILD)/nginx \
	    > $(BUILD)/configure.log 2>&1 \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(BUILD)/nginx/Makefile $(MODULE_SRCS)
	cd $(NGINX_SRC) && $(MAKE) -s -f $(BUILD)/nginx/Makefile modules
	@# a new file, not rewritten in place: a running nginx has the old one mapped
	cp $(BUILD)/nginx/ngx_http_llm_router_module.so $@.tmp && mv -f $@.tmp $@

module: $(MODULE)

$(BUILD)/llm-classify: src/ngx_llm_classify_cli.c $(PURE_SRCS) \
                       $(wildcard src/ngx_llm_*.h)
	@mkdir -p $(BUILD)
	$(CC) $(UNIT_CFLAGS) -Isrc -o $@ src/ngx_llm_classify_cli.c \
	    $(PURE_SRCS) $(PURE_LIBS)

cli: $(BUILD)/llm-classify

# the cache key with the CPU's SHA instructions and without (bench/)
$(BUILD)/cache-key-bench: bench/cache_key_bench.c $(PURE_SRCS)
	@mkdir -p $(BUILD)
	$(CC) $(UNIT_CFLAGS) -Isrc -o $@ bench/cache_key_bench.c \
	    $(PURE_SRCS) $(PURE_LIBS)

bench-cache-key: $(BUILD)/cache-key-bench
	@$(BUILD)/cache-key-bench

$(BUILD)/unit-%: t/unit/test_%.c t/unit/unit.h $(PURE_SRCS)
	@mkdir -p $(BUILD)
	$(CC) $(UNIT_CFLAGS) -Isrc -It/unit -o $@ $< $(PURE_SRCS) $(PURE_LIBS)

UNIT_TESTS := $(patsubst t/unit/test_%.c,$(BUILD)/unit-%,$(wildcard t/unit/test_*.c))

unit: $(UNIT_TESTS)

test: deps
	@$(MAKE) --no-print-directory module cli unit
	@t/run-tests.sh

# the container image (docker/Dockerfile) built and run in a private dockerd
# against the mock tiers and redis on 127.0.0.1 (t/025-docker.t, part of
# make test too): ~8 minutes the first time (debootstrap, apt in the build),
# ~1 minute with build/docker's caches.  Needs root; skipped when it cannot run
test-docker:
	@perl t/harness.pl t/025-docker.t

run: deps
	@$(MAKE) --no-print-directory module cli
	@PORT=$(PORT) NGINX=$(NGINX) conf/run.sh

# the classifier's weights, learned from the labelled corpus: writes
# src/ngx_llm_classify_model.c (README, "The classifier").  CORPUS is a
# JSONL of {"id","label","prompt","lang","source","permissive"}; TRAIN_ARGS
# e.g. "--extra my-traffic.jsonl --lambda 3"
CORPUS ?= $(CURDIR)/../shared/training/train.jsonl

# the short instructions (simple) and Arena-Hard's open questions (complex)
# weigh more: commands and factoid questions outnumber the one, maths and
# code the other, and they are what the two classes are confused on
TRAIN_WEIGHTS ?= --weight selfinstruct-user=3 --weight alpaca-seed=3 \
                 --weight ifeval=2 --weight arenahard=1.5 \
                 --weight arenahard-v2=1.5

# public prompts the corpus does not carry, all Apache-2.0, kept out of
# the project: "make classifier-data" downloads them into PUBLIC_DATA
PUBLIC_DATA ?= $(CURDIR)/build/public-data
IFEVAL_URL = https://raw.githubusercontent.com/Podtech-AI/IFEval/5bdf377eb9cc20f16d377dc5c38413cee22550a6/data/input_data.jsonl
IFEVAL_MD5 = 4c2c43252cc2d32969218a4252fc7212
SEEDS_URL = https://raw.githubusercontent.com/yizhongw/self-instruct/0b26ccaa415992100fa32df62d41b994cf928e23/data/seed_tasks.jsonl
SEEDS_MD5 = ad94c38ebba765b1d509934dbe3b45a4
ARENA2_URL = https://raw.githubusercontent.com/lmarena/arena-hard-auto/9a1d3864b1a4388635b856fdd7eefb2cc8142525/data/arena-hard-v2.0/question.jsonl
ARENA2_MD5 = d65122e6e4fb2790a40b38228580ef07
ARENA1_URL = https://raw.githubusercontent.com/lmarena/arena-hard-auto/9a01b42f09c226d8ccee257938ccd6288a89f82b/data/arena-bench-v1/question.jsonl
ARENA1_MD5 = a4b08d664baa247dd8a4bf90a57c4c92
IFEVAL = $(PUBLIC_DATA)/ifeval-input_data.jsonl
SEEDS = $(PUBLIC_DATA)/self-instruct-seed_tasks.jsonl
ARENA2 = $(PUBLIC_DATA)/arena-hard-v2.0-question.jsonl
ARENA1 = $(PUBLIC_DATA)/arena-bench-v1-question.jsonl

classifier-data:
	@mkdir -p $(PUBLIC_DATA)
	@for f in "$(IFEVAL) $(IFEVAL_URL) $(IFEVAL_MD5)" \
	          "$(SEEDS) $(SEEDS_URL) $(SEEDS_MD5)" \
	          "$(ARENA2) $(ARENA2_URL) $(ARENA2_MD5)" \
	          "$(ARENA1) $(ARENA1_URL) $(ARENA1_MD5)"; do \
	    set -- $$f; \
	    [ -s "$$1" ] || { curl -fsSL -o "$$1.tmp" "$$2" \
	        && mv "$$1.tmp" "$$1"; } || exit 1; \
	    echo "$$3  $$1" | md5sum -c --quiet || exit 1; \
	done; echo "public prompts in $(PUBLIC_DATA)"

classifier-model: deps cli
	@dpkg -s python3-numpy python3-scipy >/dev/null 2>&1 || \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	        -o DPkg::Lock::Timeout=600 python3-numpy python3-scipy
	@if [ -s $(IFEVAL) ] && [ -s $(SEEDS) ] && [ -s $(ARENA2) ] \
	        && [ -s $(ARENA1) ]; then \
	    /usr/bin/python3 src/classifier/label_public.py ifeval $(IFEVAL) \
	        > $(BUILD)/ifeval.jsonl; \
	    /usr/bin/python3 src/classifier/label_public.py arenahard2 \
	        $(ARENA2) > $(BUILD)/arenahard2.jsonl; \
	    /usr/bin/python3 src/classifier/label_public.py arenabench1 \
	        $(ARENA1) > $(BUILD)/arenabench1.jsonl; \
	    public="--extra $(BUILD)/ifeval.jsonl"; \
	    public="$$public --extra $(BUILD)/arenahard2.jsonl"; \
	    public="$$public --extra $(BUILD)/arenabench1.jsonl"; \
	    public="$$public --permissive-copy alpaca-seed=$(SEEDS)"; \
	else \
	    echo "note: no IFEval, self-instruct seeds, Arena-Hard v2.0 or" \
	         "Arena-Bench v1" \
	         "in $(PUBLIC_DATA)" \
	         "(make classifier-data fetches them): the model will differ" \
	         "from the shipped one"; \
	fi; \
	set -x; /usr/bin/python3 src/classifier/train.py --corpus $(CORPUS) \
	    --extra src/classifier/written-fr.jsonl $$public $(TRAIN_WEIGHTS) \
	    $(TRAIN_ARGS)

# the module against every nginx source tree or tarball in NGINX_SRCS
# (default ../shared/nginx) and Debian's, warnings as errors; nginx -t with
# each version's own binary; a static build of the newest answering from
# the cache.  Prints a table (build/matrix/, see README "Build and install")
NGINX_SRCS ?= $(CURDIR)/../shared/nginx

matrix: deps
	@NGINX_SRCS=$(NGINX_SRCS) perl t/matrix.pl

# benchmarks: bench/results/REPORT.md and charts (about 15 minutes)
bench: deps
	@$(MAKE) --no-print-directory module
	@for p in wrk gnuplot-nox; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi
	@test -f bench/peers/node_modules/@portkey-ai/gateway/package.json || \
	    (mkdir -p bench/peers && cd bench/peers && \
	     npm install --no-audit --no-fund --loglevel=error \
	         @portkey-ai/gateway@1.15.2) || \
	    echo "Portkey could not be installed: that comparison is skipped"
	python3 bench/bench.py $(BENCH_ARGS)

# everything the build, the tests and the bench write into the tree
clean:
	rm -rf $(BUILD) t/servroot t/servroot-* t/clients/node_modules \
	    bench/results/run bench/peers
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Debian package libnginx-mod-http-llm-router (debian/, built with nginx-dev's
# dh-sequence-nginx against Debian's nginx, like Debian's own libnginx-mod-*):
#   make deb   build/deb/libnginx-mod-http-llm-router_<version>_<arch>.deb
# dpkg-buildpackage runs on a copy in build/deb/src, in a network namespace
# of its own where unshare allows it (the build needs no network)
DEB_BUILD_DEPS := build-essential dpkg-dev debhelper fakeroot nginx nginx-dev \
                  libcjson-dev libhiredis-dev
DEB_SRCS := config README.md $(wildcard src/* conf/* debian/* debian/*/*)
DEB_OFFLINE = $(shell unshare -n true 2>/dev/null && echo unshare -n)

deb-deps:
	@missing=""; \
	for p in $(DEB_BUILD_DEPS); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -q && \
	    apt-get install -y -q -o DPkg::Lock::Timeout=600 $$missing; \
	fi

deb: deb-deps
	@$(MAKE) --no-print-directory $(BUILD)/deb/.built
	@ls $(BUILD)/deb/libnginx-mod-http-llm-router_*.deb

$(BUILD)/deb/.built: $(DEB_SRCS)
	@v=$$(sed -n '1s/^[^(]*(\([^)-]*\)-[^)]*).*/\1/p' debian/changelog); \
	m=$$(sed -n 's/^#define  *NGX_HTTP_LLM_ROUTER_VERSION  *"\(.*\)"/\1/p' \
	    src/ngx_http_llm_router_module.h); \
	if [ -z "$$v" ] || [ "$$v" != "$$m" ]; then \
	    echo "debian/changelog is at '$$v', the module at '$$m': add a changelog entry"; \
	    exit 1; \
	fi
	rm -rf $(BUILD)/deb/src $(BUILD)/deb/libnginx-mod-http-llm-router*
	mkdir -p $(BUILD)/deb/src
	cp -r config src conf debian README.md $(BUILD)/deb/src/
	cd $(BUILD)/deb/src && $(DEB_OFFLINE) dpkg-buildpackage -us -uc -b \
	    > $(BUILD)/deb/build.log 2>&1 \
	    || { tail -n 40 $(BUILD)/deb/build.log; exit 1; }
	touch $@

# the status page is edited as HTML and compiled in as a C string
status-page: src/ngx_http_llm_status_page.h
src/ngx_http_llm_status_page.h: src/ngx_http_llm_status_page.html src/gen_status_page.py
	python3 src/gen_status_page.py $< $@

# libFuzzer targets (clang, ASan + UBSan): t/fuzz/fuzz_*.c
FUZZ_CC     ?= clang
FUZZ_FLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined -Isrc
FUZZ_TARGETS := $(patsubst t/fuzz/fuzz_%.c,$(BUILD)/fuzz-%,$(wildcard t/fuzz/fuzz_*.c))

$(BUILD)/fuzz-%: t/fuzz/fuzz_%.c $(PURE_SRCS)
	@mkdir -p $(BUILD)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(PURE_SRCS) $(PURE_LIBS)

fuzz: $(FUZZ_TARGETS)

# a short run of each target from a fixed seed (part of make test)
fuzz-smoke: fuzz
	@for f in $(FUZZ_TARGETS); do \
	    n=$$(basename $$f); \
	    rm -rf $(BUILD)/corpus-$$n; \
	    cp -r t/fuzz/corpus $(BUILD)/corpus-$$n; \
	    if $$f -seed=1 -max_total_time=$${FUZZ_SMOKE_SECONDS:-30} -max_len=4096 \
	        -artifact_prefix=$(BUILD)/$$n- $(BUILD)/corpus-$$n \
	        > $(BUILD)/$$n.log 2>&1; then \
	        echo "$$n: $$(tail -n 1 $(BUILD)/$$n.log)"; \
	    else \
	        tail -n 30 $(BUILD)/$$n.log; echo "$$n: FAILED"; exit 1; \
	    fi; \
	done

# the long checks (see README, "Reliability checks"):
#   fuzz-long      each fuzz target for FUZZ_SECONDS (default 600), ASan+UBSan
#   test-asan      the whole Test::Nginx suite, module built with ASan+UBSan
#   test-valgrind  the whole Test::Nginx suite under valgrind memcheck
#   soak           SOAK_SECONDS (default 1800) of mixed load with faults
fuzz-long: fuzz
	@for f in $(FUZZ_TARGETS); do \
	    n=$$(basename $$f); \
	    rm -rf $(BUILD)/long-corpus-$$n; \
	    cp -r t/fuzz/corpus $(BUILD)/long-corpus-$$n; \
	    echo "== $$n for $${FUZZ_SECONDS:-600} s"; \
	    $$f -max_total_time=$${FUZZ_SECONDS:-600} -max_len=65536 \
	        -artifact_prefix=$(BUILD)/long-$$n- \
	        -print_final_stats=1 $(BUILD)/long-corpus-$$n \
	        > $(BUILD)/long-$$n.log 2>&1 || \
	        { tail -n 40 $(BUILD)/long-$$n.log; exit 1; }; \
	    grep -E "^stat::number_of_executed_units|^#[0-9]+[[:space:]]+DONE" \
	        $(BUILD)/long-$$n.log | tail -n 2; \
	done

# the module built with ASan + UBSan (gcc's runtimes, preloaded into
# Debian's nginx by the test runners through TEST_NGINX_PRELOAD)
ASAN_MODULE := $(BUILD)/asan/ngx_http_llm_router_module.so
SAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer

$(BUILD)/asan/nginx/Makefile: config
	@mkdir -p $(BUILD)/asan
	cd $(NGINX_SRC) && $$(test -x ./configure && echo ./configure \
	    || echo auto/configure) --with-compat --with-debug \
	    --with-cc-opt="-g -O1 $(SAN_FLAGS)" \
	    --with-ld-opt="$(SAN_FLAGS)" \
	    --add-dynamic-module=$(CURDIR) --builddir=$(BUILD)/asan/nginx \
	    > $(BUILD)/asan/configure.log 2>&1 \
	    || { tail -20 $(BUILD)/asan/configure.log; exit 1; }

$(ASAN_MODULE): $(BUILD)/asan/nginx/Makefile $(MODULE_SRCS)
	cd $(NGINX_SRC) && $(MAKE) -s -f $(BUILD)/asan/nginx/Makefile modules
	cp $(BUILD)/asan/nginx/ngx_http_llm_router_module.so $@.tmp && mv -f $@.tmp $@

module-asan: $(ASAN_MODULE)

# leaks are valgrind's job (test-valgrind): LeakSanitizer cannot tell
# nginx's own exit-time allocations apart in Debian's stripped binary
test-asan: deps module cli unit module-asan
	@rm -rf $(BUILD)/asan/logs; mkdir -p $(BUILD)/asan/logs
	@TEST_NGINX_LLM_MODULE=$(ASAN_MODULE) \
	TEST_NGINX_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=$(BUILD)/asan/logs/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(BUILD)/asan/logs/ubsan \
	    perl t/harness.pl $(T) 2>&1 | tee $(BUILD)/asan/harness.log
	@if ls $(BUILD)/asan/logs | grep -q .; then \
	    echo "sanitizer reports:"; head -n 60 $(BUILD)/asan/logs/*; \
	    echo "test-asan: FAILED"; exit 1; \
	fi
	@tail -n 1 $(BUILD)/asan/harness.log | grep -q ' 0 failed' \
	    && echo "test-asan: no sanitizer report"

test-valgrind: deps module cli unit
	@TEST_NGINX_USE_VALGRIND=1 perl t/harness.pl $(T) 2>&1 \
	    | tee $(BUILD)/valgrind-harness.log
	@tail -n 1 $(BUILD)/valgrind-harness.log | grep -q ' 0 failed' \
	    && echo "test-valgrind: no memcheck report"

# 30 minutes of mixed load with injected faults: bench/results/SOAK.md
soak: deps module
	@python3 bench/soak.py

check-hard: deps fuzz-long test-asan test-valgrind soak
