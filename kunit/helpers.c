// SPDX-License-Identifier: GPL-2.0
/*
 * rslab_kunit.ko's C side: rslab's own one-line wrappers (its instance of
 * the allocator needs them), without rslab's exports, and the wrappers only
 * the tests use (declared in kunit/util.rs).
 */
#define RSLAB_NO_EXPORTS
#include "../src/glue/helpers.c"

#include <kunit/test.h>
#include <kunit/test-bug.h>

int rslab_fail_setup(char *str);
void rslab_fail_quiet(void);
void rslab_kunit_skip(const char *reason);
int rslab_addr_to_nid(const void *addr);

int rslab_fail_setup(char *str) { return setup_fault_attr(&rslab_fail, str); }
#ifdef CONFIG_FAULT_INJECTION
void rslab_fail_quiet(void) { rslab_fail.verbose = 0; }
#else
void rslab_fail_quiet(void) { }
#endif
void rslab_kunit_skip(const char *reason) { kunit_mark_skipped(kunit_get_current_test(), "%s", reason); }
int rslab_addr_to_nid(const void *addr) { return page_to_nid(virt_to_page(addr)); }
