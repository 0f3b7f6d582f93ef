#include "harness/mm/filemap.h"

#include <cstring>

#include "harness/mm/gup.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/writeback.h"
#include "harness/base/stats.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

// find_or_create_page + read it in: the page locked and uptodate.
Page* grab_uptodate_page(MmContext& mm, uint64_t index) {
  bool created;
  Page* page = mm.mapping().find_or_create_page(index, &created);
  if (!PageUptodate(page)) {
    mm.a_ops().readpage(page);
    SetPageFlag(page, PG_uptodate);
    mm.trace(index, Event::kReadpage);
    mm.clear_stale_tail(index);  // read from the store: no stale bytes
  }
  return page;
}

uint64_t* slot_ptr(MmContext& mm, uint64_t index, uint32_t slot) {
  return reinterpret_cast<uint64_t*>(mm.mmu().kmap(index)) + slot;
}

}  // namespace

bool generic_perform_write(MmContext& mm, uint64_t index, uint32_t slot, uint64_t value) {
  CountStat(Stat::kPwrites);
  // A partial-page write must read the rest of the page first.
  Page* page = grab_uptodate_page(mm, index);
  SCHED_POINT(kPwriteAfterLockPage);
  const uint32_t off = slot * sizeof(uint64_t);
  mm.trace(index, Event::kWriteBegin);
  if (mm.a_ops().write_begin(page, off, sizeof(uint64_t)) < 0) {
    // -ENOSPC: pwrite fails, nothing is copied.
    CountStat(Stat::kRefused);
    unlock_page(page);
    put_page(page);
    return false;
  }
  mm.user_write_begin(index, slot);  // until this pwrite returns (I8)
  __atomic_store_n(slot_ptr(mm, index, slot), value, __ATOMIC_RELAXED);
  // A ->write_end that dirtied the page itself (buffer.c's, through
  // mark_buffer_dirty) says so; for the others the VM dirties it here.
  const int dirtied = mm.a_ops().write_end(page, off, sizeof(uint64_t));
  mm.trace(index, Event::kWriteEnd);
  if (dirtied <= 0) mm.set_page_dirty(page);
  mm.check_dirty_has_metadata(page);
  unlock_page(page);
  put_page(page);
  mm.user_write_end(index, slot);
  return true;
}

uint64_t generic_file_read_slot(MmContext& mm, uint64_t index, uint32_t slot) {
  Page* page = grab_uptodate_page(mm, index);
  uint64_t v = __atomic_load_n(slot_ptr(mm, index, slot), __ATOMIC_RELAXED);
  unlock_page(page);
  put_page(page);
  return v;
}

// Models mm/filemap.c:try_to_release_page() as of v2.6.29: never for a page
// under writeback; otherwise ->releasepage decides (every adapter has one:
// buffer's stands for try_to_free_buffers).
bool try_to_release_page(MmContext& mm, Page* page, Gfp gfp) {
  if (PageWriteback(page)) return false;
  if (!mm.a_ops().releasepage(page, gfp)) return false;
  mm.trace(page->index, Event::kReleaseBuffers);
  return true;
}

void remove_clean_page(MmContext& mm, Page* page, Event e, bool poison) {
  const uint64_t index = page->index;
  // Clean: if its bytes differ from the store, the VM lost track of a dirty
  // page and the data goes with the page (I0).
  if (PageUptodate(page)) {
    mm.checks().CleanMatchesStore(mm.page_state(page), [&](char* detail, size_t len) {
      return mm.page_matches_store(page, detail, len);
    });
  }
  // Poison while still cached and locked: a fault for this index waits on
  // our lock, then finds the page gone and reads a fresh one.
  if (poison) memset(mm.mmu().kmap(index), kEvictPoison, mm.page_size());
  mm.trace(index, e);
  mm.mapping().remove_from_page_cache(page);
}

namespace {

enum class Pageout { kKeep, kActivate, kSuccess, kClean };

// Models mm/vmscan.c:is_page_cache_freeable() as of v2.6.29: the references
// besides the cache's and reclaim's, less the one PG_private holds, must be
// none; differences: only the adapters whose private data pins the page
// (private_pins_page) get the discount.
// That check is what keeps pageout out of every fault's window: each fault
// holds a reference from its lookup to its set_page_dirty.
bool is_page_cache_freeable(MmContext& mm, const Page* page) {
  const int pinned = PagePrivate(page) && mm.a_ops().private_pins_page() ? 1 : 0;
  return page->refcount.load(std::memory_order_acquire) - pinned == 2;
}

// Models mm/vmscan.c:pageout() as of v2.6.29 (v2.6.30 and 5.15 the same in
// what is modeled) for a page that has its mapping; differences: no
// may_write_to_queue (congestion), no PG_reclaim, no handle_write_error /
// AOP_WRITEPAGE_ACTIVATE (no adapter returns them), never PAGEOUT_IO_SYNC
// (reclaim never waits on the write).  A filesystem without ->writepage
// gets PAGE_ACTIVATE: the page stays, dirty.  Entered with the page locked;
// kSuccess returns it unlocked (->writepage unlocks), the others locked.
Pageout pageout(MmContext& mm, Page* page) {
  if (!is_page_cache_freeable(mm, page)) return Pageout::kKeep;
  if (!mm.a_ops().has_writepage()) return Pageout::kActivate;
  if (!clear_page_dirty_for_io(mm, page)) return Pageout::kClean;
  SCHED_POINT(kPageoutAfterClearDirty);
  WritebackControl wbc;
  wbc.sync_mode = WritebackControl::kSyncNone;
  wbc.for_reclaim = true;
  mm.trace(page->index, Event::kPageout);
  writepage_starts(mm, page);
  mm.a_ops().writepage(page, wbc);  // unlocks
  writepage_done(mm, page);
  SCHED_POINT(kPageoutEnd);
  return Pageout::kSuccess;
}

// The body of shrink_page_list() for a page it holds locked; returns whether
// the page is still locked (the kernel's keep_locked) or not (keep).
bool shrink_locked_page(MmContext& mm, Page* page, ShrinkResult* r) {
  const uint64_t index = page->index;
  // Truncated between the lookup and the lock: page_mapping() is NULL, so
  // v2.6.29 neither unmaps nor frees it here.  Under writeback: WB_SYNC_NONE
  // reclaim (PAGEOUT_IO_ASYNC) keeps it.
  if (page->mapping.load(std::memory_order_acquire) != &mm.mapping() || PageWriteback(page)) {
    return true;
  }
  // try_to_unmap: a writable pte is a dirty one here, and its dirtiness
  // moves to the page.  This set_page_dirty can meet a page whose fs
  // metadata writeback already retired (legacy's window): I2.
  if (mm.mmu().try_to_unmap(page)) {
    r->pte_dirty = true;
    mm.trace(index, Event::kTryToUnmapDirty);
    mm.set_page_dirty(page);
    mm.check_dirty_has_metadata(page);
  }
  SCHED_POINT(kReclaimAfterTryToUnmap);
  // d824ec2a1546 ("mm: do not reclaim private data from pinned page",
  // v6.4; the patch read in the mm-commits/stable mail, not a v6.4 tree):
  // once unmapped the page cannot be newly pinned, and a pinned one is
  // activated rather than written out or stripped of its fs private data.
  // The pin-aware writeback proposals came with this patch (it was their
  // series' first part), so `skip` and `bounce` have it too.  5.15 has no
  // such check for file pages (its only page_maybe_dma_pinned test in
  // shrink_page_list is for anonymous pages).
  if (mm.pin_writeback() != PinWriteback::kNone && page_maybe_dma_pinned(page)) {
    CountStat(Stat::kPinnedKept);
    return true;
  }
  if (PageDirty(page)) {
    // v2.6.29 keeps a dirty page that was referenced, or when the caller may
    // not enter the fs or write; the model's reclaim is kswapd (__GFP_FS,
    // may_writepage) on a page found unreferenced (no young bit).
    switch (pageout(mm, page)) {
      case Pageout::kKeep:
      case Pageout::kActivate:  // back to the active list: kept, locked
        return true;
      case Pageout::kSuccess:
        r->paged_out = true;
        // The write is asynchronous unless the fs sent nothing (or finished
        // at once): only a page already clean and idle is freed now.
        if (PageWriteback(page) || PageDirty(page)) return false;
        if (!trylock_page(page)) return false;
        if (PageDirty(page) || PageWriteback(page)) return true;
        if (page->mapping.load(std::memory_order_acquire) != &mm.mapping()) return true;
        break;
      case Pageout::kClean:
        break;
    }
  }
  // Buffers (fs-private data) go first, even from a page still PG_dirty.
  if (PagePrivate(page) && !try_to_release_page(mm, page, Gfp::kFs)) return true;
  // __remove_mapping (page_freeze_refs(page, 2), then PageDirty): gives up
  // on a page anyone but the cache and reclaim holds -- a fault between its
  // lookup and its set_page_dirty keeps the page it works on -- or one
  // dirtied meanwhile.  The page then stays cached, unmapped.
  if (page->refcount.load(std::memory_order_acquire) != 2 || PageDirty(page)) return true;
  // Clean and unmapped: nothing can change its bytes now.
  remove_clean_page(mm, page, Event::kEvict, /*poison=*/true);
  CountStat(Stat::kEvictions);
  r->evicted = true;
  return true;
}

}  // namespace

// Models mm/vmscan.c:shrink_page_list() for one file page as of v2.6.29;
// differences: one page per call, chosen by the caller (no LRU, no
// page_referenced / activation: every page is treated as found unreferenced
// on its second scan); no mlock, no swap.  v2.6.30 differs only in names
// (may_unmap, page_has_private).  5.15 (the `modern` era) writes dirty file
// pages from kswapd only, and only pages already marked PG_reclaim on a node
// flagged dirty; the model lets every reclaim pass write (guess: the
// difference is one of frequency, not of the states it reaches).
ShrinkResult shrink_page(MmContext& mm, uint64_t index) {
  ShrinkResult r;
  SCHED_POINT(kReclaimBegin);
  Page* page = mm.mapping().find_get_page(index);
  if (!page) return r;
  // Reclaim does not sleep on a locked page.
  if (!trylock_page(page)) {
    put_page(page);
    return r;
  }
  SCHED_POINT(kReclaimAfterLockPage);
  if (shrink_locked_page(mm, page, &r)) unlock_page(page);
  put_page(page);
  return r;
}

bool pagevec_strip(MmContext& mm, uint64_t index) {
  SCHED_POINT(kStripBegin);
  Page* page = mm.mapping().find_get_page(index);
  if (!page) return false;
  bool released = false;
  if (PagePrivate(page) && trylock_page(page)) {
    // Re-checked under the lock.  A page truncated meanwhile had its fs data
    // dropped by ->invalidatepage already.
    if (PagePrivate(page) && page->mapping.load(std::memory_order_acquire) == &mm.mapping()) {
      released = try_to_release_page(mm, page, Gfp::kNoFs);
    }
    unlock_page(page);
  }
  put_page(page);
  SCHED_POINT(kStripEnd);
  return released;
}

}  // namespace pagerace
