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
CFLAGS  += -DMC_GPU -I$(CUDA)/include
LDLIBS  += -L$(CUDA)/lib64 -Wl,-rpath,$(CUDA)/lib64 -lcudart -lcublas
endif
ifeq ($(CUDNN),1)
CFLAGS  += -DMC_CUDNN
LDLIBS  += -lcudnn
endif

LIB_SRC  := $(sort $(wildcard src/*.c src/layers/*.c src/data/*.c src/io/*.c))
LIB_SRC  := $(filter-out src/main.c,$(LIB_SRC))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
CU_SRC   := $(if $(filter 1,$(GPU)),$(sort $(wildcard src/cuda/*.cu)),)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(CU_SRC:%.cu=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
LIB      := $(BUILD)/libmedcolor.a
CLILIB   := $(BUILD)/libmedcolor_cli.a

.PHONY: all test asan clean fixtures check-gpu-build
all: $(BIN)

$(BIN): $(BUILD)/src/main.o $(CLILIB) $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

# the subcommands (src/cli/) in their own archive, so tests can call them too
$(CLILIB): $(CLI_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) -O3 -std=c++17 -Iinclude -Isrc -DMC_GPU $(if $(filter 1,$(CUDNN)),-DMC_CUDNN,) $(ARCH) -c $< -o $@

$(BUILD)/tests/%: tests/%.c tests/test.h $(CLILIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(CLILIB) $(LIB) $(LDLIBS)

# PyTorch fixtures (Debian's python3-torch; test dependency only)
FIXTURES := $(BUILD)/fixtures/.stamp
$(FIXTURES): $(wildcard tests/torch/*.py)
	@mkdir -p $(dir $@)
	$(PYTHON) tests/torch/make_layer_fixtures.py $(BUILD)/fixtures
	@touch $@
fixtures: $(FIXTURES)

test: $(BIN) $(TEST_BIN) $(FIXTURES)
	@MC_FIXTURES=$(BUILD)/fixtures MC_BUILD=$(BUILD) MC_BIN=./$(BIN) ./tests/run_all.sh $(TEST_BIN)

asan:
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	$(MAKE) BUILD=build-asan BIN=build-asan/medcolor DEBUG=1 \
	        SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

clean:
	rm -rf build build-asan medcolor

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
