#include "harness/mm/punch.h"

#include <algorithm>

#include "absl/base/thread_annotations.h"
#include "harness/check/root_cause.h"
#include "harness/mm/fixes.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/truncate.h"
#include "harness/sched/sched.h"

namespace pagerace {

// The invalidate_lock is taken only where the run's kernel has it: a
// conditional lock the analysis cannot follow.
void punch_hole(MmContext& mm, uint64_t first, uint64_t npages,
                const std::function<void()>& pagecache_truncated)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  // v2.6.29/30: no FALLOC_FL_PUNCH_HOLE (include/linux/falloc.h has
  // FALLOC_FL_KEEP_SIZE alone; sys_fallocate accepts the unknown bit beside
  // KEEP_SIZE and ext4_fallocate preallocates): the file is unchanged.
  if (mm.era() < KernelEra::kV5_15) return;
  AddressSpace& mapping = mm.mapping();
  const uint64_t ps = mm.page_size();
  const int64_t isize = mapping.i_size();
  // No punch at or past EOF; a range past it ends with the page holding
  // the last byte (ext4_punch_hole's clamp, in whole pages).
  const uint64_t eof_pages = static_cast<uint64_t>((isize + static_cast<int64_t>(ps) - 1) /
                                                   static_cast<int64_t>(ps));
  const uint64_t end = std::min({first + npages, eof_pages, mm.pages()});
  if (first >= end) return;
  SCHED_POINT(kPunchBegin);
  // "Prevent page faults from reinstantiating pages we have released from
  // page cache": filemap_invalidate_lock, held to the end.
  const bool excl = mm.has_fix(Fix::kea3d7209ca01);
  if (excl) mapping.invalidate_lock().WriteLock();
  // truncate_pagecache_range: unmap_mapping_range over the whole pages,
  // then truncate_inode_pages_range.
  for (uint64_t i = first; i < end; ++i) mm.mmu().zap_index(i);
  for (uint64_t i = first; i < end; ++i) {
    Page* page = mapping.find_lock_page(i);
    if (!page) continue;
    truncate_inode_page(mm, page);
    unlock_page(page);
    put_page(page);
  }
  if (pagecache_truncated) pagecache_truncated();
  // Without the fix a fault may bring a page of the range back in from
  // here until the blocks are freed.
  if (!excl) {
    for (uint64_t i = first; i < end; ++i) {
      mm.open_window(i, FaultPath::kPunch, FaultWindow::kPagecacheTruncatedBeforeBlocksFreed);
    }
  }
  SCHED_POINT(kPunchAfterPagecacheTruncated);
  // The harness's look, not the kernel's: a page of the range cached again
  // now was read from the blocks about to go (and may have buffers on
  // them); freeing the blocks under it is the fix's transition.
  for (uint64_t i = first; i < end; ++i) {
    if (Page* page = mapping.find_get_page(i)) {
      mm.transition(i, FaultPath::kPunch, FaultWindow::kPagecacheTruncatedBeforeBlocksFreed);
      put_page(page);
    }
  }
  // ext4_journal_start, ext4_es_remove_extent, ext4_ext_remove_space: the
  // range's blocks go back to the allocator and read as a hole.
  mm.a_ops().punch_store(first, end - first);
  for (uint64_t i = first; i < end; ++i) mm.trace(i, Event::kPunchFreeBlocks);
  if (!excl) {
    for (uint64_t i = first; i < end; ++i) mm.close_window(i);
  }
  if (excl) mapping.invalidate_lock().WriteUnlock();
  SCHED_POINT(kPunchEnd);
}

}  // namespace pagerace
