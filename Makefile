# SPDX-License-Identifier: Apache-2.0
# profd: one non-recursive Makefile; every generated file goes under $(OUTPUT).
#
#   make            build .output/profd (BPF objects, skeletons, protobuf code, agent)
#   make test       unit tests under ASan+UBSan, the BPF integration tests (root), then the
#                   kernel matrix's quick set on Debian 12's newest 6.1 and 6.12 (qemu)
#   make test-kernels KERNELS="linux-image-..."  the whole kernel matrix on those packages
#   make bench      overhead benchmarks (root; prints ratios, not part of the tests)
#   make demo       profile a bundled workload and show `go tool pprof -top`
#   make deps       install the Debian 12 packages profd needs to build and test
#   make vmlinux    refresh bpf/vmlinux/x86/vmlinux.h from the running kernel's BTF
#   make install    PREFIX=/usr/local DESTDIR= (binary, systemd unit, /etc/profd/profd.ini)

OUTPUT    ?= .output
CC        ?= cc
CLANG     ?= clang
BPFTOOL   ?= bpftool
PROTOC_C  ?= protoc-c
ARCH      := x86
PREFIX    ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR   ?= $(PREFIX)/lib/systemd/system
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

PKGS      := libbpf libelf libdw zlib libprotobuf-c libcurl inih libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS    ?= -g -O2
WARN      := -Wall -Wextra -Werror -Wno-missing-field-initializers
CPPFLAGS  := -D_GNU_SOURCE -Iinclude -Idaemon -I$(OUTPUT) -I$(OUTPUT)/skel -I$(OUTPUT)/pb -DPROFD_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -MMD -MP
LDLIBS    := $(PKG_LIBS) -llzma -lstdc++ -lpthread -lm
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# BPF: CO-RE objects from bpf/*.bpf.c against the committed vmlinux.h.
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(OUTPUT)/skel/%.skel.h,$(BPF_SRCS))
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Ibpf/vmlinux/$(ARCH) -Iinclude -Ibpf \
	$(shell $(CLANG) -v -E - </dev/null 2>&1 | sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

# Userspace: every .c under daemon/ except main.c is library code shared with the tests.
PROTO_C   := $(patsubst daemon/pprof/%.proto,$(OUTPUT)/pb/%.pb-c.c,$(wildcard daemon/pprof/*.proto))
DAEMON_SRCS := $(filter-out daemon/main.c,$(shell find daemon -name '*.c' | sort))
LIB_OBJS  := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(DAEMON_SRCS)) $(patsubst $(OUTPUT)/%.c,$(OUTPUT)/obj/%.o,$(PROTO_C))
SAN_OBJS  := $(patsubst $(OUTPUT)/obj/%,$(OUTPUT)/san/%,$(LIB_OBJS))

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_OBJS := $(patsubst %.c,$(OUTPUT)/san/%.o,$(UNIT_SRCS) tests/unit/runner.c)

WORKLOAD_SRCS := $(wildcard tests/workloads/*.c)
WORKLOADS := $(patsubst tests/workloads/%.c,$(OUTPUT)/workloads/%,$(filter-out tests/workloads/lib%.c,$(WORKLOAD_SRCS))) \
	$(patsubst tests/workloads/%.cc,$(OUTPUT)/workloads/%,$(wildcard tests/workloads/*.cc))
WORKLOAD_LIBS := $(patsubst tests/workloads/%.c,$(OUTPUT)/workloads/%.so,$(filter tests/workloads/lib%.c,$(WORKLOAD_SRCS)))

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: FORCE all test test-unit test-integration test-kernels bench demo deps vmlinux install clean format
all: $(OUTPUT)/profd

$(OUTPUT)/bpf $(OUTPUT)/skel $(OUTPUT)/pb $(OUTPUT)/workloads:
	$(Q)mkdir -p $@

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h include/profd/*.h) | $(OUTPUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/skel/%.skel.h: $(OUTPUT)/bpf/%.bpf.o | $(OUTPUT)/skel
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(OUTPUT)/pb/%.pb-c.c $(OUTPUT)/pb/%.pb-c.h: daemon/pprof/%.proto | $(OUTPUT)/pb
	$(call msg,PROTOC,$<)
	$(Q)$(PROTOC_C) --proto_path=daemon/pprof --c_out=$(OUTPUT)/pb $<

# Generated headers must exist before any userspace object is compiled.
GEN_HDRS := $(SKELS) $(PROTO_C:.c=.h)

$(OUTPUT)/obj/%.o: %.c $(GEN_HDRS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(OUTPUT)/obj/pb/%.o: $(OUTPUT)/pb/%.c $(GEN_HDRS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -std=gnu11 $(CFLAGS) -c $< -o $@

$(OUTPUT)/san/%.o: %.c $(GEN_HDRS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(OUTPUT)/san/pb/%.o: $(OUTPUT)/pb/%.c $(GEN_HDRS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -std=gnu11 $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(OUTPUT)/profd: $(OUTPUT)/obj/daemon/main.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# The same agent built with ASan+UBSan: the integration tests run it.
$(OUTPUT)/profd-san: $(OUTPUT)/san/daemon/main.o $(SAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

# Unit tests: every `void test_NAME(void)` in tests/unit/test_*.c is collected by sed.
# Regenerated every time (cheap), replaced only when the list changed, so a
# removed test file drops out too.
$(OUTPUT)/tests.h: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)sed -n 's/^void \(test_[a-z0-9_]*\)(void)$$/TEST(\1)/p' $(UNIT_SRCS) > $@.tmp
	$(Q)cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

FORCE:

$(OUTPUT)/san/tests/unit/runner.o: $(OUTPUT)/tests.h

$(OUTPUT)/unit-tests: $(UNIT_OBJS) $(SAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

# Test workloads: built the way their tests need (see each file's header);
# a `// cflags: ...` line adds flags after WL_CFLAGS (e.g. -fomit-frame-pointer).
WL_CFLAGS := -g -O1 -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fno-inline -Wall -Werror
$(OUTPUT)/workloads/lib%.so: tests/workloads/lib%.c | $(OUTPUT)/workloads
	$(call msg,WL,$@)
	$(Q)$(CC) $(WL_CFLAGS) $(shell sed -n 's|^// cflags: ||p' $<) -shared -fPIC $< -o $@

# A workload may add flags with `// cflags: ...` and `// link: ...` lines.
$(OUTPUT)/workloads/%: tests/workloads/%.c $(WORKLOAD_LIBS) | $(OUTPUT)/workloads
	$(call msg,WL,$@)
	$(Q)$(CC) $(WL_CFLAGS) $(shell sed -n 's|^// cflags: ||p' $<) $< -o $@ \
		-L$(OUTPUT)/workloads -Wl,-rpath,'$$ORIGIN' $(shell sed -n 's|^// link: ||p' $<) -lpthread

$(OUTPUT)/workloads/%: tests/workloads/%.cc | $(OUTPUT)/workloads
	$(call msg,WL,$@)
	$(Q)$(CXX) $(WL_CFLAGS) $< -o $@ -lpthread

workloads: $(WORKLOADS) $(WORKLOAD_LIBS)

test-unit: $(OUTPUT)/unit-tests workloads
	$(OUTPUT)/unit-tests

test-integration: $(OUTPUT)/profd $(OUTPUT)/profd-san workloads
	PROFD=$(OUTPUT)/profd-san WORKLOADS=$(OUTPUT)/workloads bash tests/integration/run.sh

# The kernel matrix (tests/kernels/run.sh): Debian kernel packages booted
# under qemu run the plain build (ASan under an emulated CPU is too slow).
# KERNELS: packages (default: the newest 6.1 and 6.12 of Debian 12).
test-kernels: $(OUTPUT)/profd workloads
	KERNEL_SET=full KERNELS="$(KERNELS)" PROFD=$(OUTPUT)/profd WORKLOADS=$(OUTPUT)/workloads \
		bash tests/kernels/run.sh

# One closing line counts every test of every suite.
test: $(OUTPUT)/unit-tests $(OUTPUT)/profd $(OUTPUT)/profd-san workloads
	PROFD=$(OUTPUT)/profd-san KERNEL_PROFD=$(OUTPUT)/profd WORKLOADS=$(OUTPUT)/workloads \
		UNIT=$(OUTPUT)/unit-tests bash tests/run-all.sh

bench: $(OUTPUT)/profd workloads
	PROFD=$(OUTPUT)/profd WORKLOADS=$(OUTPUT)/workloads bash tests/bench/run.sh

demo: $(OUTPUT)/profd workloads
	bash tests/demo.sh

deps:
	bash scripts/deps.sh

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux/$(ARCH)/vmlinux.h

# The unit goes where systemd looks for this prefix ($(PREFIX)/lib/systemd/system
# is on its search path for /usr and /usr/local), with ExecStart naming the
# installed binary and configuration. An existing profd.ini is kept.
install: $(OUTPUT)/profd
	install -D -m 0755 $(OUTPUT)/profd $(DESTDIR)$(PREFIX)/bin/profd
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local/bin/profd|$(PREFIX)/bin/profd|' \
	    -e 's|/etc/profd/profd.ini|$(SYSCONFDIR)/profd/profd.ini|g' \
	    systemd/profd.service > $(DESTDIR)$(UNITDIR)/profd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/profd.service
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/profd
	test -e $(DESTDIR)$(SYSCONFDIR)/profd/profd.ini || \
		install -m 0644 config/profd.ini $(DESTDIR)$(SYSCONFDIR)/profd/profd.ini

format:
	clang-format -i $(shell find daemon include bpf tests -name '*.[ch]' -not -path '*/vmlinux/*')

clean:
	rm -rf $(OUTPUT)

-include $(shell find $(OUTPUT) -name '*.d' 2>/dev/null)

.DELETE_ON_ERROR:
.SECONDARY:
