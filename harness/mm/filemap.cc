#include "harness/mm/filemap.h"

#include <cstring>

#include "harness/mm/mm_context.h"
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
  __atomic_store_n(slot_ptr(mm, index, slot), value, __ATOMIC_RELAXED);
  // A ->write_end that dirtied the page itself (buffer.c's, through
  // mark_buffer_dirty) says so; for the others the VM dirties it here.
  const int dirtied = mm.a_ops().write_end(page, off, sizeof(uint64_t));
  mm.trace(index, Event::kWriteEnd);
  if (dirtied <= 0) mm.set_page_dirty(page);
  mm.check_dirty_has_metadata(page);
  unlock_page(page);
  put_page(page);
  return true;
}

uint64_t generic_file_read_slot(MmContext& mm, uint64_t index, uint32_t slot) {
  Page* page = grab_uptodate_page(mm, index);
  uint64_t v = __atomic_load_n(slot_ptr(mm, index, slot), __ATOMIC_RELAXED);
  unlock_page(page);
  put_page(page);
  return v;
}

bool shrink_page(MmContext& mm, uint64_t index) {
  Page* page = mm.mapping().find_get_page(index);
  if (!page) return false;
  if (!trylock_page(page)) {
    put_page(page);
    return false;
  }
  SCHED_POINT(kReclaimAfterLockPage);
  bool evicted = false;
  if (page->mapping.load(std::memory_order_acquire) == &mm.mapping() && !PageDirty(page) &&
      !PageWriteback(page) && page->mkwrite_window.load(std::memory_order_acquire) == 0 &&
      mm.a_ops().releasepage(page) && mm.mmu().try_to_unmap_clean(page) &&
      // __remove_mapping (v2.6.29: page_freeze_refs(page, 2)) gives up on a
      // page anyone but the cache and reclaim still holds: a fault between
      // its lookup and its page lock (inside ->page_mkwrite, say) keeps the
      // page it is working on.  The page stays cached, unmapped.
      page->refcount.load(std::memory_order_acquire) == 2) {
    // Clean and unmapped: nothing can change its bytes now.  If they differ
    // from the store, the VM lost track of a dirty page and the data goes
    // with the page (I0).
    if (PageUptodate(page)) {
      mm.checks().CleanMatchesStore(mm.page_state(page), [&](char* detail, size_t len) {
        return mm.page_matches_store(page, detail, len);
      });
    }
    // Poison while still cached and locked: a fault for this index waits on
    // our lock, then finds the page gone and reads a fresh one.
    memset(mm.mmu().kmap(index), kEvictPoison, mm.page_size());
    mm.trace(index, Event::kEvict);
    mm.mapping().remove_from_page_cache(page);
    CountStat(Stat::kEvictions);
    evicted = true;
  }
  unlock_page(page);
  put_page(page);
  return evicted;
}

}  // namespace pagerace
