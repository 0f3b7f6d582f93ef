#include "harness/mm/truncate.h"

#include "harness/mm/mm_context.h"
#include "harness/sched/sched.h"

namespace pagerace {

void vmtruncate(MmContext& mm, int64_t new_size) {
  AddressSpace& mapping = mm.mapping();
  const int64_t old_size = mapping.i_size();
  SCHED_POINT(kTruncateBegin);
  if (new_size >= old_size) {
    mapping.set_i_size(new_size);
    SCHED_POINT(kTruncateEnd);
    return;
  }
  // i_size first: from here on a fault past the new end gets SIGBUS, and a
  // fault that looked the page up earlier finds it past EOF once it has the
  // page lock (filemap_fault re-checks) or finds it detached (!mapping).
  mapping.set_i_size(new_size);
  const uint64_t first = static_cast<uint64_t>(new_size) / mm.page_size();
  // unmap_mapping_range: zap every pte past the new end.
  for (uint64_t i = first; i < mm.pages(); ++i) mm.mmu().zap_index(i);
  // truncate_inode_pages: each page locked, waited for, re-zapped (a fault
  // may have mapped it again before it saw the new i_size), its fs metadata
  // invalidated, and removed from the page cache.
  for (uint64_t i = first; i < mm.pages(); ++i) {
    Page* page = mapping.find_lock_page(i);
    if (!page) continue;
    wait_on_page_writeback(page);
    mm.mmu().zap_index(i);
    if (PagePrivate(page)) mm.a_ops().invalidatepage(page);
    // cancel_dirty_page: the data is being thrown away.
    ClearPageFlag(page, PG_dirty);
    mm.trace(i, Event::kTruncate);
    mapping.remove_from_page_cache(page);
    unlock_page(page);
    put_page(page);
  }
  mm.a_ops().truncate_store(new_size);
  SCHED_POINT(kTruncateEnd);
}

}  // namespace pagerace
