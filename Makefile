# Makefile -- builds login-fcgi, relay and the WeChat stand-in, runs the
# system and its tests.
#
#   make            release build: login-fcgi/login-fcgi, relay/relay,
#                   build/release/tools/wx-standin/wx-standin
#   make asan       the same code with AddressSanitizer + UBSan (build/asan/)
#   make test       install what is missing, build, run every test suite
#   make run        start the whole system locally (PostgreSQL, nginx, ...)
#   make migrate    apply sql/ migrations to $$DATABASE_URL
#   make psql       psql on the local cluster as the read-only DBA role
#   make bench      benchmarks (see README); make bench-tools builds their programs
#   make fuzz       fuzz every parser for FUZZ_SECONDS each
#   make soak       thousands of clients for minutes, PostgreSQL restarted (tools/soak.js)
#
# Sources are found by wildcard: a new .c file in shared/, login-fcgi/,
# relay/ or tools/wx-standin/ needs no edit here. Unit tests are tests/unit/<part>/test_*.c, each
# one cmocka program linked with that part's objects (minus main.o).

BUILD    ?= release
OUT      := build/$(BUILD)
CC       ?= cc
PKGS     := libpq libcurl openssl jansson

CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -g -Wall -Wextra -Werror -Wshadow \
                 -Wstrict-prototypes -Wformat=2 -MMD -MP -Ishared \
                 $(shell pkg-config --cflags $(PKGS))
ifeq ($(BUILD),asan)
CFLAGS_MODE := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_MODE := -fsanitize=address,undefined
else ifeq ($(BUILD),fuzz)
CC := clang
CFLAGS_MODE := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
               -fno-sanitize-recover=undefined
LDFLAGS_MODE := -fsanitize=fuzzer,address,undefined
else
CFLAGS_MODE := -O2
LDFLAGS_MODE :=
# gperftools' tcmalloc for the two services: its per-thread caches cost
# login-fcgi's 32 workers and the relay about a tenth less CPU than glibc's
# malloc (docs/performance-history.md, "Seventh round, in short").
# `make MALLOC_LIB=` builds without it. Sanitizer builds keep their own allocator.
MALLOC_LIB ?= -ltcmalloc_minimal
endif
CFLAGS  += $(CFLAGS_COMMON) $(CFLAGS_MODE)
LDFLAGS += $(LDFLAGS_MODE)

LIBS_SHARED := $(shell pkg-config --libs libpq openssl jansson) -lpthread
LIBS_LOGIN  := $(shell pkg-config --libs libcurl) $(LIBS_SHARED)
LIBS_RELAY  := -lwslay $(LIBS_SHARED)
LIBS_STANDIN := $(shell pkg-config --libs openssl jansson) -lm
LIBS_TEST   := $(shell pkg-config --libs cmocka)

SHARED_OBJ := $(patsubst %.c,$(OUT)/%.o,$(wildcard shared/*.c))
LOGIN_OBJ  := $(patsubst %.c,$(OUT)/%.o,$(wildcard login-fcgi/*.c))
RELAY_OBJ  := $(patsubst %.c,$(OUT)/%.o,$(wildcard relay/*.c))
LOGIN_LIB_OBJ := $(filter-out %/main.o,$(LOGIN_OBJ))
RELAY_LIB_OBJ := $(filter-out %/main.o,$(RELAY_OBJ))
# The WeChat stand-in (tools/wx-standin/): started by tools/stack.sh for
# `make run`, the tests and the benchmark.
STANDIN_OBJ := $(patsubst %.c,$(OUT)/%.o,$(wildcard tools/wx-standin/*.c))
STANDIN_LIB_OBJ := $(filter-out %/main.o,$(STANDIN_OBJ))

PROGRAMS := $(if $(LOGIN_OBJ),$(OUT)/login-fcgi/login-fcgi) $(if $(RELAY_OBJ),$(OUT)/relay/relay) \
            $(OUT)/tools/wx-standin/wx-standin

UNIT_SHARED := $(patsubst tests/unit/%.c,$(OUT)/tests/unit/%,$(wildcard tests/unit/shared/test_*.c))
UNIT_LOGIN  := $(patsubst tests/unit/%.c,$(OUT)/tests/unit/%,$(wildcard tests/unit/login/test_*.c))
UNIT_RELAY  := $(patsubst tests/unit/%.c,$(OUT)/tests/unit/%,$(wildcard tests/unit/relay/test_*.c))
UNIT_STANDIN := $(patsubst tests/unit/%.c,$(OUT)/tests/unit/%,$(wildcard tests/unit/standin/test_*.c))
UNIT_TESTS  := $(UNIT_SHARED) $(UNIT_LOGIN) $(UNIT_RELAY) $(UNIT_STANDIN)

# libFuzzer targets: tests/fuzz/fuzz_<part>_<name>.c, linked like unit tests.
FUZZ_SHARED := $(patsubst tests/%.c,$(OUT)/tests/%,$(wildcard tests/fuzz/fuzz_shared_*.c))
FUZZ_LOGIN  := $(patsubst tests/%.c,$(OUT)/tests/%,$(wildcard tests/fuzz/fuzz_login_*.c))
FUZZ_RELAY  := $(patsubst tests/%.c,$(OUT)/tests/%,$(wildcard tests/fuzz/fuzz_relay_*.c))
FUZZ_STANDIN := $(patsubst tests/%.c,$(OUT)/tests/%,$(wildcard tests/fuzz/fuzz_standin_*.c))
FUZZ_TARGETS := $(FUZZ_SHARED) $(FUZZ_LOGIN) $(FUZZ_RELAY) $(FUZZ_STANDIN)

.PHONY: all asan programs unit-tests fuzz-targets test deps run migrate psql bench bench-tools fuzz \
        clean format
.DEFAULT_GOAL := all

ifeq ($(BUILD),release)
all: programs
	@$(if $(LOGIN_OBJ),ln -sf ../$(OUT)/login-fcgi/login-fcgi login-fcgi/login-fcgi)
	@$(if $(RELAY_OBJ),ln -sf ../$(OUT)/relay/relay relay/relay)
else
all: programs
endif

programs: $(PROGRAMS)
unit-tests: $(UNIT_TESTS)
fuzz-targets: $(FUZZ_TARGETS)

asan:
	$(MAKE) BUILD=asan programs unit-tests bench-tools

$(OUT)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(OUT)/libshared.a: $(SHARED_OBJ)
	$(AR) rcs $@ $^

$(OUT)/login-fcgi/login-fcgi: $(LOGIN_OBJ) $(OUT)/libshared.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_LOGIN) $(MALLOC_LIB)

$(OUT)/relay/relay: $(RELAY_OBJ) $(OUT)/libshared.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_RELAY) $(MALLOC_LIB)

$(OUT)/tools/wx-standin/wx-standin: $(STANDIN_OBJ) $(OUT)/libshared.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_STANDIN)

$(UNIT_SHARED): $(OUT)/tests/unit/%: $(OUT)/tests/unit/%.o $(OUT)/libshared.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_TEST) $(LIBS_SHARED)

$(UNIT_LOGIN): $(OUT)/tests/unit/%: $(OUT)/tests/unit/%.o $(LOGIN_LIB_OBJ) $(OUT)/libshared.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_TEST) $(LIBS_LOGIN)

$(UNIT_RELAY): $(OUT)/tests/unit/%: $(OUT)/tests/unit/%.o $(RELAY_LIB_OBJ) $(OUT)/libshared.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_TEST) $(LIBS_RELAY)

$(UNIT_STANDIN): $(OUT)/tests/unit/%: $(OUT)/tests/unit/%.o $(STANDIN_LIB_OBJ) $(OUT)/libshared.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_TEST) $(LIBS_STANDIN)

$(FUZZ_SHARED): $(OUT)/tests/%: $(OUT)/tests/%.o $(OUT)/libshared.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_SHARED)

$(FUZZ_LOGIN): $(OUT)/tests/%: $(OUT)/tests/%.o $(LOGIN_LIB_OBJ) $(OUT)/libshared.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_LOGIN)

$(FUZZ_RELAY): $(OUT)/tests/%: $(OUT)/tests/%.o $(RELAY_LIB_OBJ) $(OUT)/libshared.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_RELAY)

$(FUZZ_STANDIN): $(OUT)/tests/%: $(OUT)/tests/%.o $(STANDIN_LIB_OBJ) $(OUT)/libshared.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_STANDIN)

$(OUT)/tests/fuzz/%.o: CFLAGS += -Ilogin-fcgi -Irelay
$(OUT)/tests/fuzz/fuzz_standin_%.o: CFLAGS += -iquote tools/wx-standin

# Unit tests may include test data and headers of the part they test.
$(OUT)/tests/unit/%.o: CFLAGS += -Ilogin-fcgi -Irelay -Itests/unit
# Each part's own headers first for its tests: some names repeat across
# parts (loop.h in login-fcgi/ and relay/, and in tools/wx-standin/).
$(OUT)/tests/unit/standin/%.o: CFLAGS += -iquote tools/wx-standin
$(OUT)/tests/unit/relay/%.o: CFLAGS += -iquote relay
$(OUT)/tests/unit/login/%.o: CFLAGS += -iquote login-fcgi

deps:
	tools/install-deps.sh

test: deps
	$(MAKE) all bench-tools
	$(MAKE) asan
	tests/run.sh

run: deps all
	tools/stack.sh run

migrate:
	sql/migrate.sh

psql:
	tools/psql.sh

# The load generator of `make bench` (tools/bench/): links the shared objects.
BENCH_OBJ := $(patsubst %.c,$(OUT)/%.o,$(wildcard tools/bench/*.c))
$(OUT)/tools/bench/loadgen: $(BENCH_OBJ) $(OUT)/libshared.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_SHARED) -lm

# The bare broadcaster (tools/bare-relay/): scenario (a)'s yardstick, built
# on the relay's loop, sockets, handshake and frames.
BARE_OBJ := $(patsubst %.c,$(OUT)/%.o,$(wildcard tools/bare-relay/*.c)) \
            $(addprefix $(OUT)/relay/,loop.o net.o http_head.o handshake.o frame.o)
$(OUT)/tools/bare-relay/%.o: CFLAGS += -Irelay
$(OUT)/tools/bare-relay/bare-relay: $(BARE_OBJ) $(OUT)/libshared.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_RELAY)

# Built by `make test` too, so that a change to the relay's loop or frames
# cannot break them unnoticed.
bench-tools: $(OUT)/tools/bench/loadgen $(OUT)/tools/bare-relay/bare-relay

bench: deps all bench-tools
	tools/bench.sh

fuzz:
	tools/fuzz.sh $${FUZZ_SECONDS:-60}

soak: deps all  # minutes-long soak on a fresh stack (tools/soak.js: SOAK_CLIENTS, SOAK_SECONDS, ...); not part of make test
	ulimit -n 65536 2>/dev/null || ulimit -n $$(ulimit -Hn); node tools/soak.js

format:
	clang-format -i shared/*.[ch] login-fcgi/*.[ch] relay/*.[ch] tools/wx-standin/*.[ch] \
	    tools/bare-relay/*.[ch] \
	    tests/unit/*/*.[ch]

clean:
	rm -rf build login-fcgi/login-fcgi relay/relay

-include $(shell find build -name '*.d' 2>/dev/null)
