// Hole punch (fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) against
// faults: the file keeps its size, the range's pages leave the page cache and
// its blocks are freed, so the range reads as zeros.  The order is the
// kernel's: truncate_pagecache_range first, then the filesystem frees the
// blocks.  Between the two, nothing but a lock keeps a fault from bringing a
// page of the range back in, read from blocks about to be freed: its buffers
// then map blocks the file no longer owns, and what is stored into it is
// written to a freed block (lost to the file, and in the kernel written over
// whatever another file put there).  ea3d7209ca01 (v4.5) made faults and the
// punch exclude each other (ext4's i_mmap_sem, 5.15's
// mapping->invalidate_lock: AddressSpace::invalidate_lock).
//
// Thread-safety: takes the locks it names; the caller holds none.
#ifndef PAGERACE_HARNESS_MM_PUNCH_H_
#define PAGERACE_HARNESS_MM_PUNCH_H_

#include <cstdint>
#include <functional>

namespace pagerace {

class MmContext;

// Punches whole pages [first, first + npages), clamped to the page holding
// the last byte inside i_size (ext4_punch_hole punches nothing at or past
// EOF).  `pagecache_truncated`, if given, runs once the range's pages are out
// of the page cache, before the blocks are freed (the workload's ledger
// marks there what the punch legitimately threw away: a store after this
// point must survive).  Under a v2.6.29/30 scheme there is no hole punch
// (FALLOC_FL_PUNCH_HOLE is not in those releases: fallocate with it only
// preallocates, KEEP_SIZE): nothing changes and the callback is not run.
//
// Models fs/ext4/inode.c:ext4_punch_hole() with
// mm/truncate.c:truncate_pagecache_range() as of v5.15: invalidate_lock
// taken for writing (with ea3d7209ca01; reverted, v4.4's punch takes no
// lock that faults take), unmap_mapping_range of the whole pages, then
// truncate_inode_pages_range (each page locked, its writeback waited for,
// re-zapped, ->invalidatepage, cancel_dirty_page, removed:
// truncate_inode_page), then the journal and the block freeing
// (AddressSpaceOps::punch_store: ext4_es_remove_extent,
// ext4_ext_remove_space), then the lock dropped.  Differences: whole pages
// only (no partial-page or partial-block zeroing, ext4_zero_partial_blocks);
// no inode_lock (i_rwsem): the model's write(2) path is not excluded, so
// scenarios refuse pwrite threads beside a punch and the punch workload has
// no pwriters; the filemap_write_and_wait_range 5.15 runs first (before
// inode_lock, so a store can redirty the range right after it: nothing the
// punch relies on) is not modeled, the pages' data being thrown away in
// either case; no inode_dio_wait, ext4_break_layouts, i_disksize update or
// mtime.
void punch_hole(MmContext& mm, uint64_t first, uint64_t npages,
                const std::function<void()>& pagecache_truncated = nullptr);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_PUNCH_H_
