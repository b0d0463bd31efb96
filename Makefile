# SPDX-License-Identifier: GPL-2.0
# rslab's entry points. Kbuild (the file Kbuild) describes the module itself;
# this Makefile only dispatches to scripts/, which run the toolchain in the
# Debian trixie root (see README.md; RSLAB_NO_ROOT=1 runs them directly).
#
#   make [ARCH=x86_64|riscv64] [KDIR=...] [CLIPPY=1]   build rslab.ko
#   make test        every test (host crate, then each tier of scripts/test.sh)
#   make run         boot a test kernel, load rslab, show its sysfs tree
#   make check       rustfmt and clippy
#   make clean

ARCH ?= x86_64
export KDIR

.PHONY: modules test run bench check fmt clean
modules:
	scripts/module.sh $(ARCH) $(if $(CLIPPY),CLIPPY=1)

test:
	scripts/test.sh

run:
	scripts/run.sh $(ARCH)

bench:
	scripts/bench.sh

check:
	scripts/check.sh

fmt:
	scripts/check.sh --fix

clean:
	rm -rf out rust/target
