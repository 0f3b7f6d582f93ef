// Truncation (DESIGN §7, the `truncate` workload): shrinking a file takes
// pages out of the page cache while faults may hold references to them;
// page->mapping = NULL is what the fault paths' `!mapping` re-checks catch.
#ifndef PAGERACE_HARNESS_MM_TRUNCATE_H_
#define PAGERACE_HARNESS_MM_TRUNCATE_H_

#include <cstdint>

#include "harness/mm/page.h"

namespace pagerace {

class MmContext;

// Sets i_size to `new_size`.  Shrinking unmaps and removes every page wholly
// past the new end, zeroes the tail of a page the new end falls inside (its
// ptes stay: it is still part of the file) and truncates the backing store.
// Growing goes through the fs's ->setattr (AddressSpaceOps::setattr_extend)
// with the old EOF page locked, then raises i_size.
// Models mm/memory.c:vmtruncate() with mm/truncate.c:truncate_inode_pages()
// as of v2.6.29; differences: one file; on growth the EOF page is locked
// across ->setattr and the i_size update, so pagecache_isize_extended's
// write-protection and the new size appear together (the kernel raises
// i_size first: a store racing the extension may land unbacked, which POSIX
// leaves unspecified and the oracles would flag).
void vmtruncate(MmContext& mm, int64_t new_size);

// Models mm/truncate.c:pagecache_isize_extended() as of v3.18 (Jan Kara's
// fix for blocksize < page size): when the file grows past the block that
// held the old EOF, the locked EOF page is write-protected, so the next store
// beyond the old EOF faults into ->page_mkwrite, which allocates its blocks.
// Without it, a pte made writable while the page was the EOF page lets
// stores land in buffers that have no block.
void pagecache_isize_extended(MmContext& mm, Page* eof_page, int64_t from, int64_t to,
                              uint32_t blocksize);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_TRUNCATE_H_
