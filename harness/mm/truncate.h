// Truncation (DESIGN §7, the `truncate` workload): shrinking a file takes
// pages out of the page cache while faults may hold references to them;
// page->mapping = NULL is what the fault paths' `!mapping` re-checks catch.
#ifndef PAGERACE_HARNESS_MM_TRUNCATE_H_
#define PAGERACE_HARNESS_MM_TRUNCATE_H_

#include <cstdint>

namespace pagerace {

class MmContext;

// Sets i_size to `new_size` (a multiple of the page size).  Shrinking unmaps
// and removes every page past the new end and truncates the backing store;
// growing only raises i_size (the new pages read back as zeros).
// Models mm/memory.c:vmtruncate() with mm/truncate.c:truncate_inode_pages()
// as of v2.6.29; differences: page-aligned sizes only (no partial-page
// zeroing), one file.
void vmtruncate(MmContext& mm, int64_t new_size);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_TRUNCATE_H_
