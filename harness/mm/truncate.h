// Truncation (DESIGN §7, the `truncate` workload): shrinking a file takes
// pages out of the page cache while faults may hold references to them;
// page->mapping = NULL is what the fault paths' `!mapping` re-checks catch.
#ifndef PAGERACE_HARNESS_MM_TRUNCATE_H_
#define PAGERACE_HARNESS_MM_TRUNCATE_H_

#include <cstdint>

#include "harness/mm/page.h"
#include "harness/mm/schemes.h"

namespace pagerace {

class MmContext;

// Sets i_size to `new_size`.  Shrinking unmaps and removes every page wholly
// past the new end, zeroes the tail of a page the new end falls inside (its
// ptes stay: it is still part of the file) and truncates the backing store.
// Growing does what the filesystem's ->setattr did in the scheme's era
// (AddressSpaceOps::setattr_calls_pagecache_isize_extended):
//   without     v2.6.29/30 (every fs) and 5.15 NFS: the fs's ->setattr work
//               (AddressSpaceOps::setattr_extend, with no page: an fs that
//               needs one locks it itself), then i_size; the VM takes no
//               page lock and zeroes nothing.
//   with        5.15 block filesystems: the old EOF page locked across
//               ->setattr's pagecache_isize_extended, the zeroing of its
//               tail and the i_size update.
// Models mm/memory.c:vmtruncate() with mm/truncate.c:truncate_inode_pages()
// as of v2.6.29 (v2.6.30's is the same); differences: one file; ->truncate
// (AddressSpaceOps::truncate_store) is called on shrink only (v2.6.29 calls
// it on growth too, where ext3_truncate's work concerns the block at the new
// size); a first trylock pass and the second unmap_mapping_range are folded
// into one locked pass.  Growth without pagecache_isize_extended under a
// v5.15 scheme models 5.15 fs/nfs/inode.c:nfs_vmtruncate(): i_size, then
// truncate_pagecache, which on growth does not write-protect the old EOF
// page.  Growth with it models the growth half of
// mm/truncate.c:truncate_setsize() as of v5.15 (ext4_setattr does the
// same inline); differences: the EOF page is locked across ->setattr and the
// i_size update, so pagecache_isize_extended's write-protection and the new
// size appear together (v5.15 raises i_size first and locks the page only
// inside pagecache_isize_extended: a store through a pte made writable at the
// old size may land unbacked in between, which POSIX leaves unspecified and
// the oracles would flag); the old EOF page's tail is zeroed (v5.15's
// truncate_setsize and ext4_setattr do not; xfs_setattr_size does, with
// iomap_zero_range).
void vmtruncate(MmContext& mm, int64_t new_size);

// One page of truncate_inode_pages_range(), the page found in the cache and
// locked by the caller: wait for its writeback, zap whatever pte a fault
// installed since the caller's unmap_mapping_range, drop its fs metadata
// (->invalidatepage), cancel PG_dirty (the data is thrown away) and take it
// out of the page cache.  The caller unlocks and drops its reference.
// Shared by vmtruncate and punch_hole (punch.h).  Models the per-page body
// of mm/truncate.c:truncate_inode_pages_range() (truncate_inode_page,
// truncate_complete_page) as of v2.6.29; 5.15's truncate_inode_page and
// truncate_cleanup_page take the same steps (both read); differences: the
// unmap and the invalidatepage of a partial page are the callers'.
// REQUIRES: page locked and still in the page cache.
void truncate_inode_page(MmContext& mm, Page* page);

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
