# cnnc — top-level Makefile.
#
#   make            build cnnc, libcnnrt, and refresh generated/
#   make demo       dependency step, build, compile an example network
#   make test       dependency step, build, run the test suite (CI runs this)
#   make test-large heavier end-to-end checks (not in CI)
#   make size       Cortex-M4 flash, RAM and stack of three examples' generated C
#   make install    PREFIX=/usr/local DESTDIR= (and make uninstall): see the end
#
# Our code builds at -Wall -Wextra -Wpedantic -Werror; flex/bison output with
# relaxed flags.  Objects and binaries live in build/.

CC      ?= cc
PYTHON  := /usr/bin/python3
B       := build
WARN    := -Wall -Wextra -Wpedantic -Werror
CFLAGS  ?= -O2 -g
# override: kept when CFLAGS is given on the command line (make test-sanitize)
override CFLAGS += -std=c11 -D_XOPEN_SOURCE=700 -MMD -MP
# cnnrt's kernels share their work over OpenMP threads (runtime/cnnrt_par.h);
# every program linking libcnnrt links the OpenMP runtime (gcc: libgomp,
# clang: libomp)
override CFLAGS += -fopenmp
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS   := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)

CC_SRCS := $(filter-out compiler/main.c compiler/calibrate.c compiler/eval.c $(wildcard compiler/import*.c),$(wildcard compiler/*.c))
# cnnc shares self-contained files with cnnrt: how output files are
# written, the random initialiser of fresh weights, the output-size rule,
# and the safetensors reader and writer
CC_OBJS := $(CC_SRCS:compiler/%.c=$(B)/compiler/%.o) $(B)/compiler/lex.yy.o $(B)/compiler/parse.tab.o \
           $(B)/runtime/outfile.o $(B)/runtime/init.o $(B)/runtime/shape.o $(B)/runtime/safetensors.o
# `cnnc import` (ONNX, darknet): in cnnc only, with protobuf-c and the C
# that protoc-c generates from the onnx.proto Debian's libonnx-dev installs
ONNX_PROTO := /usr/include/onnx/onnx.proto
IMP_OBJS := $(patsubst compiler/%.c,$(B)/import/%.o,$(wildcard compiler/import*.c)) $(B)/import/onnx.pb-c.o
IMP_LIBS := -lprotobuf-c
# int8 calibration and cnnc eval run the float network with cnnrt: in cnnc only
CAL_OBJS := $(B)/compiler/calibrate.o $(B)/compiler/eval.o
RT_SRCS := $(wildcard runtime/*.c)
RT_OBJS := $(RT_SRCS:runtime/%.c=$(B)/runtime/%.o)

UNIT_CC := $(wildcard tests/compiler/test_cc_*.c)
UNIT_RT := $(wildcard tests/runtime/test_rt_*.c)
UNIT_BINS := $(UNIT_CC:%.c=$(B)/%) $(UNIT_RT:%.c=$(B)/%)

.PHONY: all deps demo test test-large clean generated fuzz fuzz-build test-sanitize
all: $(B)/cnnc $(B)/libcnnrt.a $(B)/cnnc-train generated

# generated/: the C cnnc writes for the examples whose output stays small
# (weights baked in, under ~2 MiB), with the default seed; checked in so
# users can read it, and diffed by tests/codegen/suite_generated.sh.
# generated/cortex-m/: the same for a microcontroller (--target cortex-m).
GENERATED_NETS := lenet5 convnetjs_mnist convnetjs_cifar10
GENERATED_CM   := convnetjs_mnist
TEMPLATES := $(wildcard compiler/templates/*.m4)
generated: $(GENERATED_NETS:%=generated/%.c) $(GENERATED_CM:%=generated/cortex-m/%.c)
generated/%.c: dsl_examples/%.net $(B)/cnnc $(TEMPLATES)
	$(B)/cnnc --target x86-64 $< -o $@
generated/cortex-m/%.c: dsl_examples/%.net $(B)/cnnc $(TEMPLATES)
	@mkdir -p $(@D)
	$(B)/cnnc --target cortex-m $< -o $@

# docs/graphs/: a Graphviz picture of every example (cnnc --dot, dot -Tsvg);
# the small ones are checked in (docs/graphs/.gitignore) and the README shows one
.PHONY: docs
EXAMPLES := $(basename $(notdir $(wildcard dsl_examples/*.net)))
docs: $(EXAMPLES:%=docs/graphs/%.svg)
docs/graphs/%.svg: dsl_examples/%.net $(B)/cnnc
	@mkdir -p $(@D) $(B)/docs
	$(B)/cnnc $< --dot -o $(B)/docs/$*.dot
	dot -Tsvg $(B)/docs/$*.dot -o $@.tmp && mv $@.tmp $@

deps:
	@sh scripts/deps.sh

# --- the compiler -----------------------------------------------------------
$(B)/compiler/parse.tab.c $(B)/compiler/parse.tab.h &: compiler/parse.y
	@mkdir -p $(@D)
	bison -Wall -Werror -o $(B)/compiler/parse.tab.c --defines=$(B)/compiler/parse.tab.h $<

$(B)/compiler/lex.yy.c $(B)/compiler/lex.yy.h &: compiler/lex.l
	@mkdir -p $(@D)
	flex -o $(B)/compiler/lex.yy.c --header-file=$(B)/compiler/lex.yy.h $<

$(B)/compiler/lex.yy.o: $(B)/compiler/lex.yy.c $(B)/compiler/parse.tab.h
	$(CC) $(CFLAGS) -Icompiler -Iruntime -I$(B)/compiler -Wno-unused-function -Wno-sign-compare -c -o $@ $<

$(B)/compiler/parse.tab.o: $(B)/compiler/parse.tab.c $(B)/compiler/lex.yy.h
	$(CC) $(CFLAGS) -Icompiler -Iruntime -I$(B)/compiler -c -o $@ $<

# the build tree's cnnc finds its templates here; CNNC_TEMPLATE_DIR overrides
TEMPLATE_DIR ?= $(CURDIR)/compiler/templates
$(B)/compiler/emit.o $(B)/compiler/m4run.o: override CFLAGS += -DCNNC_TEMPLATE_DIR='"$(TEMPLATE_DIR)"'

$(B)/compiler/%.o: compiler/%.c $(B)/compiler/parse.tab.h $(B)/compiler/lex.yy.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -Icompiler -Iruntime -I$(B)/compiler -c -o $@ $<

$(B)/cnnc: $(B)/compiler/main.o $(CC_OBJS) $(IMP_OBJS) $(CAL_OBJS) $(B)/libcnnrt.a
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(IMP_LIBS) $(BLAS_LIBS) -lcjson -lz -lm

$(B)/import/onnx.pb-c.c $(B)/import/onnx.pb-c.h &: $(ONNX_PROTO)
	@mkdir -p $(@D)
	protoc-c --c_out=$(B)/import --proto_path=$(dir $(ONNX_PROTO)) $(notdir $(ONNX_PROTO))

$(B)/import/onnx.pb-c.o: $(B)/import/onnx.pb-c.c
	$(CC) $(CFLAGS) -I$(B)/import -c -o $@ $<

$(B)/import/%.o: compiler/%.c $(B)/import/onnx.pb-c.h $(B)/compiler/parse.tab.h $(B)/compiler/lex.yy.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -Icompiler -Iruntime -I$(B)/compiler -I$(B)/import -c -o $@ $<

# --- the runtime --------------------------------------------------------------
# The kernels are written for the vectoriser: -O3 (same results as -O2: no
# fast-math, and ISO C mode keeps floating-point contraction off), and
# -fno-math-errno (nothing reads errno; sqrtf can then vectorise, same results).
RT_OPT := -O3 -fno-math-errno
$(RT_OBJS): CFLAGS += $(RT_OPT)
$(B)/runtime/%.o: runtime/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(BLAS_CFLAGS) -Iruntime -c -o $@ $<

$(B)/libcnnrt.a: $(RT_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

# --- the trainer ----------------------------------------------------------------
$(B)/trainer/%.o: trainer/%.c $(B)/compiler/parse.tab.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(BLAS_CFLAGS) -Icompiler -Iruntime -I$(B)/compiler -c -o $@ $<

$(B)/cnnc-train: $(B)/trainer/cnnc-train.o $(B)/trainer/args.o $(B)/trainer/plot.o $(CC_OBJS) $(B)/libcnnrt.a
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(BLAS_LIBS) -lcjson -lz -lm

# --- tests --------------------------------------------------------------------
$(B)/tests/compiler/test_cc_%: tests/compiler/test_cc_%.c $(CC_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -Icompiler -Iruntime -I$(B)/compiler -o $@ $(filter %.c %.o,$^) -lcmocka -lcjson -lm

$(B)/tests/runtime/test_rt_%: tests/runtime/test_rt_%.c $(B)/libcnnrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(BLAS_CFLAGS) -Iruntime -o $@ $< $(B)/libcnnrt.a $(BLAS_LIBS) -lcmocka -lcjson -lz -lm

# tests/runtime/gradcheck.c: cnnrt's loss, gradients and training steps on a
# .net, for tests/ref/train_ref.py to compare against PyTorch
$(B)/tests/runtime/gradcheck: tests/runtime/gradcheck.c $(CC_OBJS) $(B)/libcnnrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(BLAS_CFLAGS) -Icompiler -Iruntime -I$(B)/compiler -o $@ $< \
		$(CC_OBJS) $(B)/libcnnrt.a $(BLAS_LIBS) -lcjson -lz -lm

demo: deps all
	$(B)/cnnc dsl_examples/lenet5.net --report
	@mkdir -p $(B)/demo
	$(B)/cnnc dsl_examples/lenet5.net -o $(B)/demo/lenet5.c
	$(CC) -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror $(BLAS_CFLAGS) -c $(B)/demo/lenet5.c -o $(B)/demo/lenet5.o
	@echo "wrote $(B)/demo/lenet5.c and $(B)/demo/lenet5.h; they compile: $(B)/demo/lenet5.o"

test: deps all $(UNIT_BINS) $(B)/tests/runtime/gradcheck
	@sh tests/run.sh $(B)

test-large: deps all
	@sh tests/run_large.sh $(B)

# flash, RAM, activation peak and deepest stack chain of lenet5,
# convnetjs_mnist and resnet20 compiled for the Cortex-M4 (scripts/size.sh)
.PHONY: size
size: all
	@sh scripts/size.sh $(B)

# --- fuzzing and sanitizers ------------------------------------------------------
# make fuzz [FUZZ_SECONDS=N]  build the libFuzzer targets of fuzz/ (clang, ASan,
#                             UBSan) in build-fuzz/ and run each for N seconds
# make test-sanitize          cnnc, cnnrt, the tests and the generated code of
#                             every example under ASan + UBSan, in build-san/
SAN_FLAGS    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_B       := build-fuzz
FUZZ_TARGETS := frontend safetensors idx checkpoint trainopts onnx darknet
FUZZ_SECONDS ?= 60
FUZZ_COV     ?=
# (the long campaign used FUZZ_B=build-fuzzfast FUZZ_COV=-fno-sanitize-coverage=trace-cmp: 1.7x the speed)
SAN_B        := build-san

fuzz-build:
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link $(FUZZ_COV) $(SAN_FLAGS)" \
		$(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz/fuzz_%)

fuzz: deps fuzz-build
	@sh fuzz/run.sh $(FUZZ_B) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

$(B)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(CC_OBJS) $(B)/libcnnrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(WARN) $(BLAS_CFLAGS) -Icompiler -Iruntime -I$(B)/compiler -o $@ $< \
		$(CC_OBJS) $(B)/libcnnrt.a $(BLAS_LIBS) -lcjson -lz -lm

# cnnc import of an ONNX model or a darknet cfg: the importer objects and protobuf-c as well
$(B)/fuzz/fuzz_onnx $(B)/fuzz/fuzz_darknet: $(B)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(CC_OBJS) $(IMP_OBJS) $(B)/libcnnrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(WARN) $(BLAS_CFLAGS) -Icompiler -Iruntime -I$(B)/compiler -o $@ $< \
		$(CC_OBJS) $(IMP_OBJS) $(B)/libcnnrt.a $(BLAS_LIBS) $(IMP_LIBS) -lcjson -lz -lm

# cnnc-train's option parser: trainer/args.c and the runtime (optimizer defaults)
$(B)/fuzz/fuzz_trainopts: fuzz/fuzz_trainopts.c $(B)/trainer/args.o $(B)/libcnnrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(WARN) $(BLAS_CFLAGS) -Itrainer -Iruntime -o $@ $< \
		$(B)/trainer/args.o $(B)/libcnnrt.a $(BLAS_LIBS) -lcjson -lz -lm

test-sanitize: deps
	@$(MAKE) --no-print-directory B=$(SAN_B) CC=clang CFLAGS="-O1 -g $(SAN_FLAGS)" \
		$(SAN_B)/cnnc $(SAN_B)/libcnnrt.a $(SAN_B)/cnnc-train $(UNIT_BINS:$(B)/%=$(SAN_B)/%) $(SAN_B)/tests/runtime/gradcheck
	@sh tests/sanitize.sh $(SAN_B)

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# ============================================================================
# bench-train: cnnrt training steps and a Fashion-MNIST epoch against
# PyTorch (bench/train/; a benchmark, not a test).
# ============================================================================
$(B)/bench-train/steptime: bench/train/steptime.c $(CC_OBJS) $(B)/libcnnrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(BLAS_CFLAGS) -Icompiler -Iruntime -I$(B)/compiler -o $@ $< \
		$(CC_OBJS) $(B)/libcnnrt.a $(BLAS_LIBS) -lcjson -lz -lm

.PHONY: bench-train
bench-train: $(B)/bench-train/steptime
	$(PYTHON) bench/train/bench_train.py --steptime $(B)/bench-train/steptime

# ============================================================================
# make install [PREFIX=/usr/local] [DESTDIR=]    and    make uninstall
#
#   PREFIX/bin/cnnc, cnnc-train      the programs
#   PREFIX/lib/libcnnrt.a, .so       the runtime (shared: soname libcnnrt.so.0)
#   PREFIX/lib/pkgconfig/cnnrt.pc    pkg-config --cflags --libs cnnrt [--static]
#   PREFIX/include/cnnrt.h, cnnrt_net.h, cnnrt_acts.def
#   PREFIX/share/cnnc/templates/     the m4 templates cnnc runs on
#   PREFIX/share/man/man1/           cnnc.1, cnnc-train.1
#   PREFIX/share/doc/cnnc/           language.md, report.md, failures.md, checkpoint.md
#
# The installed cnnc looks for its templates in $CNNC_TEMPLATE_DIR, then in
# ../share/cnnc/templates beside its own binary (so a moved tree still
# works), then in PREFIX/share/cnnc/templates, compiled into a separate
# m4run.o (build/install/): the build tree's cnnc is not the one installed.
# ============================================================================
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/cnnc
TEMPLATEDIR := $(DATADIR)/cnnc/templates
INSTALL     ?= install
CNNC_VERSION := $(shell sed -n 's/^\#define CNNC_VERSION "\(.*\)"/\1/p' compiler/cnnc.h)
SO_MAJOR    := 0
SO_NAME     := libcnnrt.so.$(SO_MAJOR)
SO_FILE     := libcnnrt.so.$(CNNC_VERSION)
RT_PIC_OBJS := $(RT_SRCS:runtime/%.c=$(B)/pic/runtime/%.o)
MAN1        := docs/man/cnnc.1 docs/man/cnnc-train.1

# the runtime again, position-independent, for the shared library (with
# the static library's options)
$(RT_PIC_OBJS): CFLAGS += $(RT_OPT)
$(B)/pic/runtime/%.o: runtime/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC $(WARN) $(BLAS_CFLAGS) -Iruntime -c -o $@ $<

$(B)/$(SO_FILE): $(RT_PIC_OBJS)
	$(CC) $(CFLAGS) -shared -Wl,-soname,$(SO_NAME) -Wl,--no-undefined -o $@ $^ $(BLAS_LIBS) -lcjson -lz -lm

# the installed cnnc: m4run.o knows TEMPLATEDIR; what depends on the
# install paths is rebuilt when they change
INSTALL_PATHS := $(PREFIX) $(LIBDIR) $(INCLUDEDIR) $(TEMPLATEDIR)
$(B)/install/paths: FORCE
	@mkdir -p $(@D)
	@echo '$(INSTALL_PATHS)' | cmp -s - $@ || echo '$(INSTALL_PATHS)' > $@

$(B)/install/m4run.o: compiler/m4run.c $(B)/install/paths $(B)/compiler/parse.tab.h
	$(CC) $(CFLAGS) $(WARN) -DCNNC_TEMPLATE_DIR='"$(TEMPLATEDIR)"' -Icompiler -Iruntime -I$(B)/compiler -c -o $@ $<

$(B)/install/cnnc: $(B)/compiler/main.o $(filter-out $(B)/compiler/m4run.o,$(CC_OBJS)) $(IMP_OBJS) $(CAL_OBJS) \
		$(B)/install/m4run.o $(B)/libcnnrt.a
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(IMP_LIBS) $(BLAS_LIBS) -lcjson -lz -lm

$(B)/install/cnnrt.pc: runtime/cnnrt.pc.in $(B)/install/paths
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(CNNC_VERSION)|' $< > $@

.PHONY: install uninstall FORCE
FORCE:

install: $(B)/install/cnnc $(B)/cnnc-train $(B)/libcnnrt.a $(B)/$(SO_FILE) $(B)/install/cnnrt.pc
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(TEMPLATEDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 755 $(B)/install/cnnc $(B)/cnnc-train $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 644 $(B)/libcnnrt.a $(DESTDIR)$(LIBDIR)
	$(INSTALL) -m 755 $(B)/$(SO_FILE) $(DESTDIR)$(LIBDIR)
	ln -sf $(SO_FILE) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/libcnnrt.so
	$(INSTALL) -m 644 $(B)/install/cnnrt.pc $(DESTDIR)$(LIBDIR)/pkgconfig
	$(INSTALL) -m 644 runtime/cnnrt.h runtime/cnnrt_net.h runtime/cnnrt_acts.def $(DESTDIR)$(INCLUDEDIR)
	$(INSTALL) -m 644 $(TEMPLATES) $(DESTDIR)$(TEMPLATEDIR)
	$(INSTALL) -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 644 docs/language.md docs/report.md docs/failures.md docs/checkpoint.md $(DESTDIR)$(DOCDIR)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

# removes exactly what install wrote, and the directories of ours it leaves empty
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cnnc $(DESTDIR)$(BINDIR)/cnnc-train
	rm -f $(DESTDIR)$(LIBDIR)/libcnnrt.a $(DESTDIR)$(LIBDIR)/$(SO_FILE) $(DESTDIR)$(LIBDIR)/$(SO_NAME) \
		$(DESTDIR)$(LIBDIR)/libcnnrt.so $(DESTDIR)$(LIBDIR)/pkgconfig/cnnrt.pc
	rm -f $(DESTDIR)$(INCLUDEDIR)/cnnrt.h $(DESTDIR)$(INCLUDEDIR)/cnnrt_net.h $(DESTDIR)$(INCLUDEDIR)/cnnrt_acts.def
	rm -f $(DESTDIR)$(TEMPLATEDIR)/*.m4
	rm -f $(MAN1:docs/man/%=$(DESTDIR)$(MANDIR)/man1/%)
	rm -f $(DESTDIR)$(DOCDIR)/language.md $(DESTDIR)$(DOCDIR)/report.md $(DESTDIR)$(DOCDIR)/failures.md \
		$(DESTDIR)$(DOCDIR)/checkpoint.md
	rmdir $(DESTDIR)$(TEMPLATEDIR) $(DESTDIR)$(DATADIR)/cnnc $(DESTDIR)$(DOCDIR) 2>/dev/null || true

# --- make bench: speed of the generated code (not part of make test) ---------
# The default-mode and --standalone C of lenet5, resnet20 and resnet18, built
# at -O2 -march=native -fopenmp, against PyTorch's fastest inference mode, on
# 1 and 2 threads; prints ms/image, GFLOP/s and PyTorch/cnnc (bench/bench.py);
# then the int8 rows: --quantize int8 against the float C and PyTorch's own
# float and int8 models, batch 1, one thread (bench/int8.py).
# BENCH_ARGS passes options, e.g. BENCH_ARGS="--only resnet20 --secs 5".
.PHONY: bench
bench: deps $(B)/cnnc $(B)/cnnc-train
	$(PYTHON) bench/bench.py --cnnc $(B)/cnnc --out $(B)/bench $(BENCH_ARGS)
	$(PYTHON) bench/int8.py --cnnc $(B)/cnnc --out $(B)/bench-int8

# how close cnnc's conv algorithm rule comes to the fastest algorithm
# (cnnc --tune) over many conv shapes on this machine (bench/conv_sweep.py)
.PHONY: conv-sweep
conv-sweep: deps $(B)/cnnc
	$(PYTHON) bench/conv_sweep.py --cnnc $(B)/cnnc --dir $(B)/conv-sweep $(SWEEP_ARGS)
