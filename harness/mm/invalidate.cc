#include "harness/mm/invalidate.h"

#include "harness/base/stats.h"
#include "harness/check/root_cause.h"
#include "harness/mm/filemap.h"
#include "harness/mm/fixes.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/zap.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

// Models mm/truncate.c:invalidate_complete_page() with
// mm/vmscan.c:remove_mapping() as of v2.6.29: ->releasepage without
// __GFP_FS, then, under the tree lock, the reference freeze (the cache's and
// the caller's: 2) and PageDirty.  016eb4a0ed06 put the reference test
// there (v2.6.18: `page_count(page) != 2`; 0fd0e6b05aa, v2.6.19, moved it
// into remove_mapping; v2.6.27 made it page_freeze_refs: all read in the
// mirror).  REQUIRES: page locked.
bool invalidate_complete_page(MmContext& mm, Page* page) {
  if (page->mapping.load(std::memory_order_acquire) != &mm.mapping()) return false;
  if (PagePrivate(page) && !try_to_release_page(mm, page, Gfp::kNoFs)) return false;
  const bool held = page->refcount.load(std::memory_order_acquire) != 2;
  if (held && !mm.reverted(Fix::k016eb4a0ed06)) return false;
  if (PageDirty(page)) return false;
  if (held) {
    // v2.6.18-rc6: only PageDirty kept a page; whoever holds this one (a
    // get_user_pages caller about to write into it) now holds a page no
    // one will write back.
    mm.transition(page->index, FaultPath::kInvalidate, FaultWindow::kRemovedReferencedPage);
  }
  // The holder still reads and writes the detached page through the kernel
  // alias: no poison for it (the frame is the index's, a harness limit).
  remove_clean_page(mm, page, Event::kInvalidatePage, /*poison=*/!held);
  CountStat(Stat::kEvictions);
  return true;
}

// Models mm/truncate.c:invalidate_complete_page2() as of v2.6.29 (5.15 the
// same): ->releasepage with GFP_KERNEL, then, under the tree lock, only
// PageDirty keeps the page; the reference count is ignored.  REQUIRES: page
// locked, unmapped.
bool invalidate_complete_page2(MmContext& mm, Page* page) {
  if (page->mapping.load(std::memory_order_acquire) != &mm.mapping()) return false;
  if (PagePrivate(page) && !try_to_release_page(mm, page, Gfp::kFs)) return false;
  if (PageDirty(page)) return false;
  // A holder other than the cache and us (a get_user_pages caller) keeps
  // the detached page: its frame is not poisoned under it.
  const bool held = page->refcount.load(std::memory_order_acquire) != 2;
  remove_clean_page(mm, page, Event::kInvalidatePage, /*poison=*/!held);
  CountStat(Stat::kEvictions);
  return true;
}

}  // namespace

const char* Invalidate2Name(Invalidate2 r) {
  switch (r) {
    case Invalidate2::kNotCached: return "not_cached";
    case Invalidate2::kRemoved: return "removed";
    case Invalidate2::kBusy: return "busy";
    case Invalidate2::kLaunderFailed: return "launder_failed";
  }
  return "?";
}

bool invalidate_mapping_page(MmContext& mm, uint64_t index) {
  Page* page = mm.mapping().find_get_page(index);
  if (!page) return false;
  // Invalidation never sleeps on a page lock (trylock_page; 5.15's
  // find_lock_entries the same).
  if (!trylock_page(page)) {
    put_page(page);
    return false;
  }
  bool removed = false;
  if (page->mapping.load(std::memory_order_acquire) == &mm.mapping() && !PageDirty(page) &&
      !PageWriteback(page) && !page_mapped(page)) {
    SCHED_POINT(kInvalidateAfterMappedCheck);
    removed = invalidate_complete_page(mm, page);
  }
  unlock_page(page);
  put_page(page);
  return removed;
}

Invalidate2 invalidate_inode_pages2_page(MmContext& mm, uint64_t index) {
  Page* page = mm.mapping().find_lock_page(index);
  if (!page) return Invalidate2::kNotCached;
  wait_on_page_writeback(page);
  // unmap_mapping_range: every pte of the page, each through zap_pte_range
  // (a dirty pte's dirtiness to set_page_dirty, the TLB flush).  The page
  // lock keeps faults from mapping it again.
  if (page_mapped(page)) {
    for (int v = 0; v < mm.mappings(); ++v) zap_page_range(mm, v, index);
  }
  if (page_mapped(page)) {
    mm.oracle().Report(RaceKind::kKernelBug, Invariant::kFs, index, 0, 0,
                       "BUG_ON(page_mapped(page)) in invalidate_inode_pages2_range: a pte "
                       "maps the locked page after unmap_mapping_range");
  }
  // do_launder_page: a dirty page goes to ->launder_page, if the fs has one.
  // --revert=e3db7691e9f3: before it (v2.6.20-rc's invalidate_inode_pages2_range,
  // read at the fix's parent in the v2.6.34 mirror) there was no
  // ->launder_page: invalidate_complete_page2 went straight to ->releasepage
  // (GFP_KERNEL), where NFS wrote the page itself (nfs.cc).
  int err = 0;
  if (PageDirty(page) && mm.a_ops().has_launder_page() && !mm.reverted(Fix::ke3db7691e9f3)) {
    mm.trace(index, Event::kLaunderPage);
    err = mm.a_ops().launder_page(page);
  }
  Invalidate2 r = Invalidate2::kLaunderFailed;
  if (err == 0) {
    SCHED_POINT(kInvalidate2BeforeComplete);
    r = invalidate_complete_page2(mm, page) ? Invalidate2::kRemoved : Invalidate2::kBusy;
    if (r == Invalidate2::kBusy) mm.trace(index, Event::kInvalidateBusy);
  }
  unlock_page(page);
  put_page(page);
  return r;
}

}  // namespace pagerace
