# medcolor — build switches (darknet style): make GPU=1 CUDNN=1 DEBUG=1
GPU    ?= 0
CUDNN  ?= 0
DEBUG  ?= 0
# NATIVE=1 adds -march=native (faster; the binary then only runs on CPUs like this one)
NATIVE ?= 0
# CUDA architectures for GPU=1 (CUDA 13 dropped sm_70: V100 users build with CUDA 12 and ARCH=...)
ARCH   ?= -gencode arch=compute_75,code=sm_75 -gencode arch=compute_80,code=sm_80 \
          -gencode arch=compute_86,code=sm_86 -gencode arch=compute_89,code=sm_89 \
          -gencode arch=compute_90,code=sm_90 -gencode arch=compute_100,code=sm_100 \
          -gencode arch=compute_120,code=[sm_120,compute_120]
CUDA   ?= /usr/local/cuda
PYTHON ?= /usr/bin/python3

CC      ?= gcc
NVCC    ?= $(CUDA)/bin/nvcc
BUILD   ?= build
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wdouble-promotion \
           -Wformat=2 -Wvla -Wno-unused-parameter
SAN     ?=
# WERROR=1: warnings are errors (CI builds this way)
WERROR  ?= 0
ifeq ($(WERROR),1)
WARN    += -Werror
endif
BIN     ?= medcolor
CFLAGS  += $(SAN) -std=c11 -D_GNU_SOURCE -fopenmp -Iinclude -Isrc $(WARN) -MMD -MP
LDLIBS  += -lopenblas -lpng -ljpeg -lz -lm -lpthread -fopenmp $(SAN)

ifeq ($(DEBUG),1)
CFLAGS  += -O0 -g3
else
CFLAGS  += -O3 -g
endif
ifeq ($(NATIVE),1)
CFLAGS  += -march=native
endif
ifeq ($(GPU),1)
# GPU objects and binary never mix with the CPU build's: their own folder (build-gpu/medcolor)
# unless BUILD= / BIN= are given
ifeq ($(origin BUILD),file)
BUILD   := build-gpu
endif
ifeq ($(origin BIN),file)
BIN     := $(BUILD)/medcolor
endif
CFLAGS  += -DMC_GPU -I$(CUDA)/include
LDLIBS  += -L$(CUDA)/lib64 -Wl,-rpath,$(CUDA)/lib64 -lcudart -lcublas -lstdc++
NVFLAGS ?= -O3 -std=c++17 -lineinfo -Xcompiler -Wall,-Wextra,-Wno-unused-parameter
endif
ifeq ($(CUDNN),1)
CFLAGS  += -DMC_CUDNN
LDLIBS  += -lcudnn
endif
# MPI=1: data-parallel training over several processes (src/dist/, docs/distributed.md) with
# OpenMPI (mpicc's flags) and, in the GPU build, NCCL for the GPU buffers. Default: on when mpicc
# is installed (Debian: openmpi-bin libopenmpi-dev); MPI=0 builds exactly as without it.
MPICC  ?= mpicc
MPI    ?= $(if $(shell command -v $(MPICC) 2>/dev/null),1,0)
ifeq ($(MPI),1)
CFLAGS  += -DMC_MPI $(shell $(MPICC) --showme:compile 2>/dev/null || echo -I/usr/lib/x86_64-linux-gnu/openmpi/include)
LDLIBS  += $(shell $(MPICC) --showme:link 2>/dev/null || echo -lmpi)
ifeq ($(GPU),1)
LDLIBS  += -lnccl
endif
endif

# DICOM=1: DICOM images through GDCM (docs/dicom.md; Debian: libgdcm-dev). Default: on when GDCM's
# headers are found; DICOM=0 builds without (DICOM files are then refused with a message saying
# how to rebuild). Its one C++ file, src/data/dicom_gdcm.cpp, is compiled with $(CXX).
CXX      ?= g++
GDCM_INC ?= /usr/include/gdcm-3.0
DICOM    ?= $(if $(wildcard $(GDCM_INC)/gdcmImageReader.h),1,0)
DICOM_LIBS :=
ifeq ($(DICOM),1)
CFLAGS     += -DMC_DICOM
DICOM_LIBS := -lgdcmMSFF -lgdcmDSED -lgdcmDICT -lgdcmIOD -lgdcmCommon -lstdc++
LDLIBS     += $(DICOM_LIBS)
endif
CXXFLAGS ?= -O2 -g
CXXWARN  := -Wall -Wextra -Wshadow -Wno-unused-parameter $(if $(filter 1,$(WERROR)),-Werror,)

# the library: one folder per subsystem (docs/architecture.md); the CLI is src/cli/
SUBSYS   := core engine layers cpu dist data io imaging optim transfer train study
LIB_SRC  := $(sort $(foreach d,$(SUBSYS),$(wildcard src/$(d)/*.c)))
CLI_SRC  := $(filter-out src/cli/main.c,$(sort $(wildcard src/cli/*.c)))
CU_SRC   := $(if $(filter 1,$(GPU)),$(sort $(wildcard src/cuda/*.cu)),)
CXX_SRC  := $(if $(filter 1,$(DICOM)),src/data/dicom_gdcm.cpp,)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(CU_SRC:%.cu=$(BUILD)/%.o) $(CXX_SRC:%.cpp=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
LIB      := $(BUILD)/libmedcolor.a
CLILIB   := $(BUILD)/libmedcolor_cli.a

.PHONY: all test asan asan-fast tsan clean fixtures check-gpu-build bench demo demo-colorize
all: $(BIN)

$(BIN): $(BUILD)/src/cli/main.o $(CLILIB) $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

# the subcommands (src/cli/) in their own archive, so tests can call them too
$(CLILIB): $(CLI_OBJ)
	@rm -f $@
	@ar rcs $@ $^

# the subcommands' option tables (src/cli/, mc_opt) leave the trailing fields of an option out
# when it has no range of values
$(BUILD)/src/cli/%.o: CFLAGS += -Wno-missing-field-initializers

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# GDCM's headers hold asserts: NDEBUG, so that a malformed file is an error, never an abort. Under a
# sanitizer no UBSan vptr check: its C++ runtime does not come with the C link
$(BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(SAN) $(if $(SAN),-fno-sanitize=vptr,) -std=c++17 -DNDEBUG $(CXXFLAGS) $(CXXWARN) -Iinclude -Isrc -isystem $(GDCM_INC) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -Iinclude -Isrc -DMC_GPU $(if $(filter 1,$(CUDNN)),-DMC_CUDNN,) $(ARCH) -MMD -MP -c $< -o $@

# CI has no GPU: build the GPU library, binary and the two GPU tests (all of ARCH: about 70 s
# with -j2 here), run the tests (the device part skips with its message: test_gpu exits 77,
# accepted here, 1 if a check that could run failed) and a CPU command of the GPU binary (it
# must work on a machine without a GPU).
GPU_CI_BUILD := build-gpu-ci
check-gpu-build:
	$(MAKE) GPU=1 CUDNN=1 BUILD=$(GPU_CI_BUILD) BIN=$(GPU_CI_BUILD)/medcolor \
	        $(GPU_CI_BUILD)/medcolor $(GPU_CI_BUILD)/tests/test_gpu $(GPU_CI_BUILD)/tests/test_gpu_host
	MC_TMP=$$(mktemp -d) $(GPU_CI_BUILD)/tests/test_gpu_host
	MC_TMP=$$(mktemp -d) $(GPU_CI_BUILD)/tests/test_gpu; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 77 ]
	MC_TMP=$$(mktemp -d) MC_BIN=$(GPU_CI_BUILD)/medcolor bash tests/cli_info.sh

clean-gpu:
	rm -rf build-gpu $(GPU_CI_BUILD)

$(BUILD)/tests/%: tests/%.c tests/test.h $(CLILIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(CLILIB) $(LIB) $(LDLIBS)

# PyTorch fixtures (Debian's python3-torch; test dependency only)
FIXTURES := $(BUILD)/fixtures/.stamp
$(FIXTURES): $(filter-out tests/torch/make_network_fixtures.py tests/torch/make_transfer_fixtures.py \
                          tests/torch/make_explain_fixtures.py,$(wildcard tests/torch/*.py))
	@mkdir -p $(dir $@)
	$(PYTHON) tests/torch/make_layer_fixtures.py $(BUILD)/fixtures
	$(PYTHON) tests/torch/make_bf16_fixtures.py $(BUILD)/fixtures
	@touch $@
fixtures: $(FIXTURES)

# the 9 whole classifiers, the 3 colorization networks (tests/test_networks.c, tests/cli_predict.sh):
# ~330 MB, 3-6 min
NET_FIXTURES := $(BUILD)/fixtures/networks/.stamp
$(NET_FIXTURES): tests/torch/make_network_fixtures.py
	@mkdir -p $(dir $@)
	$(PYTHON) tests/torch/make_network_fixtures.py $(dir $@)
	@touch $@
fixtures: $(NET_FIXTURES)

# the colour transfer (tests/test_transfer.c, tests/cli_transfer.sh): torchvision's vgg19 to
# conv5_4 (F16, 40 MB), its taps, the objective's terms and gradients, the end-to-end images
TRANSFER_FIXTURES := $(BUILD)/fixtures/transfer/.stamp
$(TRANSFER_FIXTURES): tests/torch/make_transfer_fixtures.py
	@mkdir -p $(dir $@)
	$(PYTHON) tests/torch/make_transfer_fixtures.py $(dir $@)
	@touch $@
fixtures: $(TRANSFER_FIXTURES)

# Grad-CAM (tests/test_explain.c, tests/cli_explain.sh): three networks built with the classes of
# make_network_fixtures.py (the small classifier, resnet18-pixelshuffle, densenet121) with seeded
# weights, PyTorch's hook-based Grad-CAM of them in float32 and float64, matplotlib's jet: ~135 MB,
# 3-8 min on 2 cores (the float64 passes)
EXPLAIN_FIXTURES := $(BUILD)/fixtures/explain/.stamp
$(EXPLAIN_FIXTURES): tests/torch/make_explain_fixtures.py tests/torch/make_network_fixtures.py
	@mkdir -p $(dir $@)
	$(PYTHON) tests/torch/make_explain_fixtures.py $(dir $@)
	@touch $@
fixtures: $(EXPLAIN_FIXTURES)

# TESTS="test_cfg test_weights" runs only those test programs, CLI_TESTS="tests/cli_info.sh" only
# those shell tests (none: none of them); by default all of both
TESTS     ?=
CLI_TESTS ?=
TEST_RUN  := $(if $(filter none,$(TESTS)),,$(if $(strip $(TESTS)),$(TESTS:%=$(BUILD)/tests/%),$(TEST_BIN)))
# the network fixtures (minutes to make) only when a test that reads them runs; the same for the
# transfer's
NET_NEEDED := $(if $(strip $(TESTS)),$(filter %/test_networks,$(TEST_RUN)),yes)$(if $(strip $(CLI_TESTS)),$(filter %cli_predict.sh,$(CLI_TESTS)),yes)
TRANSFER_NEEDED := $(if $(strip $(TESTS)),$(filter %/test_transfer,$(TEST_RUN)),yes)$(if $(strip $(CLI_TESTS)),$(filter %cli_transfer.sh,$(CLI_TESTS)),yes)
EXPLAIN_NEEDED := $(if $(strip $(TESTS)),$(filter %/test_explain,$(TEST_RUN)),yes)$(if $(strip $(CLI_TESTS)),$(filter %cli_explain.sh,$(CLI_TESTS)),yes)
test: $(BIN) $(TEST_RUN) $(FIXTURES) $(if $(NET_NEEDED),$(NET_FIXTURES)) $(if $(TRANSFER_NEEDED),$(TRANSFER_FIXTURES)) \
      $(if $(EXPLAIN_NEEDED),$(EXPLAIN_FIXTURES))
	@MC_FIXTURES=$(BUILD)/fixtures MC_BUILD=$(BUILD) MC_BIN=./$(BIN) MC_CLI_TESTS="$(CLI_TESTS)" \
	        ./tests/run_all.sh $(TEST_RUN)

asan:
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0 \
	$(MAKE) BUILD=build-asan BIN=build-asan/medcolor DEBUG=1 MPI=0 \
	        SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

# CI's sanitizer pass: the same build, on the fast tests of every reader (cfg, .data and label
# files, images, weights and their trailer, safetensors, run files, the fuzz harnesses' seeds and
# regression inputs) and the CLI's bad-input tests. `make asan` runs everything (slow).
ASAN_FAST_TESTS := test_cfg test_datasets test_fuzz_replay test_image test_image_rgb test_netmeta test_winograd_simd \
                   test_regressions test_runfiles test_safetensors test_settings test_weights test_imaging \
                   test_rocstats test_colordata test_dicom test_gemm_f32 test_strided_simd
ASAN_FAST_CLI   := tests/cli_badinput.sh tests/cli_robustness.sh tests/cli_info.sh tests/cli_dicom.sh
asan-fast:
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0 \
	$(MAKE) BUILD=build-asan BIN=build-asan/medcolor DEBUG=1 MPI=0 \
	        SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	        TESTS="$(ASAN_FAST_TESTS)" CLI_TESTS="$(ASAN_FAST_CLI)" test

# ThreadSanitizer on the threaded batch loader (its worker threads, prefetch queue, free mid-epoch)
# and the bench loader run: build-tsan/, gcc's -fsanitize=thread. OpenMP is not used by the
# loader's code paths (libgomp is not instrumented: OpenMP regions would report false races).
tsan:
	$(MAKE) BUILD=build-tsan BIN=build-tsan/medcolor DEBUG=1 MPI=0 SAN="-fsanitize=thread" \
	        build-tsan/tests/test_loader
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" MC_TMP=$$(mktemp -d) build-tsan/tests/test_loader

# The demo: generate the synthetic dataset, train Color Module -> All (experiments/demo.exp),
# evaluate the best weights (ROC curves), colorize a few validation images.
# The weights carry their network (64x64), labels and data: eval and colorize take the run folder.
DEMO_RUN := build/demo-run
demo: $(BIN)
	@test -f build/demo/CheXpert-v1.0-small/valid.csv || ./$(BIN) demo-data build/demo
	@rm -rf $(DEMO_RUN)
	./$(BIN) train experiments/demo.exp
	./$(BIN) eval $(DEMO_RUN) -o $(DEMO_RUN)/eval
	./$(BIN) colorize $(DEMO_RUN) -o $(DEMO_RUN)/colorized \
	    build/demo/CheXpert-v1.0-small/valid/patient9000[0-3]/study1/view1_frontal.jpg
	@echo "demo: results in $(DEMO_RUN)/ (results.csv, eval/roc.png, colorized/)"

# The colorization demo (docs/colorize.md): generated colour shapes whose hue follows their grey
# level and shape; U-Net ResNet-18 at 64x64, 3 epochs on the CPU (experiments/demo-colorize.exp);
# prints the validation MSE beside the zero-chroma baseline's. THREADS=N: compute threads.
DEMO_COLOR_RUN := build/demo-colorize-run
THREADS ?= 2
demo-colorize: $(BIN)
	@test -d build/demo-colorize/color/val || ./$(BIN) demo-data --colorize build/demo-colorize
	@rm -rf $(DEMO_COLOR_RUN)
	./$(BIN) colorize-train experiments/demo-colorize.exp --threads $(THREADS) --plain
	./$(BIN) colorize-predict $(DEMO_COLOR_RUN)/best.weights -o $(DEMO_COLOR_RUN)/colourised --quiet \
	    build/demo-colorize/color/val/discs/0000[0-3].png build/demo-colorize/color/val/squares/0000[4-7].png
	@echo "demo-colorize: results in $(DEMO_COLOR_RUN)/ (log.csv, loss.png, samples/, colourised/)"

# Benchmarks are scripts, never timed tests: medcolor vs PyTorch in the same run
# (scripts/bench.sh, docs/performance.md): each float32 row the median of three alternating
# pairs (REPEAT=N to change it; about 30 minutes on 2 cores). QUICK=1: one timed step, one pair.
BENCH_BIN := $(BUILD)/bench_step
$(BENCH_BIN): bench/bench_step.c $(CLILIB) $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(CLILIB) $(LIB) $(LDLIBS)
LOADER_BENCH := $(BUILD)/bench_loader
$(LOADER_BENCH): bench/bench_loader.c $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)
TRANSFER_BENCH := $(BUILD)/bench_transfer
$(TRANSFER_BENCH): bench/bench_transfer.c $(CLILIB) $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(CLILIB) $(LIB) $(LDLIBS)
bench: $(BENCH_BIN) $(LOADER_BENCH) $(TRANSFER_BENCH)
	@BENCH_BIN=$(BENCH_BIN) PYTHON=$(PYTHON) QUICK=$(QUICK) ./scripts/bench.sh
	@TRANSFER_BENCH=$(TRANSFER_BENCH) PYTHON=$(PYTHON) QUICK=$(QUICK) ./scripts/bench_transfer.sh
	@echo "== loader throughput (320x320, augmentation on) =="
	$(LOADER_BENCH)

# ---- fuzzing (tests/fuzz/, docs/robustness.md) ------------------------------------------------
# make fuzz FUZZ_SECONDS=N: builds every harness with clang's libFuzzer, ASan and UBSan in
# build-fuzz/ and runs each for N seconds on its corpus (build-fuzz/corpus/NAME, grown from the
# committed seeds tests/fuzz/seeds/NAME); a crash is kept as build-fuzz/crashes/NAME-* and fails
# the run. FUZZ_RUNS=N stops a target after N executions if that comes first; FUZZ_TARGETS=
# picks targets. make fuzz-smoke: a few seconds per target (CI). The harnesses run in make test
# too, on their seeds and on the crash inputs in tests/regress/ (tests/test_fuzz_replay.c).
FUZZ_CC      ?= clang
FUZZ_CXX     ?= clang++
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?= 0
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
.PHONY: fuzz fuzz-smoke fuzz-build fuzz-seeds

fuzz-build:
	@$(MAKE) --no-print-directory CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) MPI=0 BUILD=$(FUZZ_BUILD) SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	        $(FUZZ_BUILD)/libmedcolor.a
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(wildcard $(FUZZ_BUILD)/libmedcolor.a)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Isrc $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< \
	        $(FUZZ_BUILD)/libmedcolor.a -lopenblas -lpng -ljpeg -lz -lm -lpthread -fopenmp $(DICOM_LIBS)

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_RUNS=$(FUZZ_RUNS) ./tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=5

# the seed corpora and dictionaries (committed; regenerate after a format changes)
fuzz-seeds:
	$(PYTHON) tests/fuzz/make_seeds.py tests/fuzz/seeds

# the harnesses replayed in make test: one binary with all of them (gcc, -DMC_FUZZ_REPLAY)
$(BUILD)/tests/test_fuzz_replay: tests/test_fuzz_replay.c $(FUZZ_SRC) tests/fuzz/fuzz.h tests/test.h $(CLILIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS)) -Itests -DMC_FUZZ_REPLAY -o $@ $< $(FUZZ_SRC) $(CLILIB) $(LIB) $(LDLIBS)

clean: clean-gpu
	rm -rf build build-asan build-tsan build-fuzz build-nompi medcolor

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
