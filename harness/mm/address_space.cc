#include "harness/mm/address_space.h"

#include "harness/base/lock_order.h"
#include "harness/base/sched_hooks.h"
#include "harness/base/thread_registry.h"
#include "harness/check/trace.h"
#include "harness/mm/address_space_ops.h"

namespace pagerace {

AddressSpace::AddressSpace(uint64_t pages, PagePool* pool, Tracer* tracer)
    : pages_(pages), pool_(pool), tracer_(tracer) {
  FutexLock l(&tree_lock_);
  slots_.reset(new Page*[pages]());
  dirty_tag_.reset(new uint8_t[pages]());
}

// Models mm/filemap.c:find_get_page() as of v2.6.29; differences: the tree
// lock instead of RCU and a speculative reference.
Page* AddressSpace::find_get_page(uint64_t index) {
  FutexLock l(&tree_lock_);
  Page* p = slots_[index];
  if (p) get_page(p);
  return p;
}

// Models mm/filemap.c:find_lock_page() as of v2.6.29.
Page* AddressSpace::find_lock_page(uint64_t index) {
  for (;;) {
    Page* p = find_get_page(index);
    if (!p) return nullptr;
    lock_page(p);
    // The page may have been detached while we slept on its lock.
    if (p->mapping.load(std::memory_order_acquire) == this) return p;
    unlock_page(p);
    put_page(p);
  }
}

// Models mm/filemap.c:find_or_create_page() as of v2.6.29; differences:
// pages come from the fixed pool, never fail.
Page* AddressSpace::find_or_create_page(uint64_t index, bool* created) {
  *created = false;
  for (;;) {
    if (Page* p = find_lock_page(index)) return p;
    Page* fresh = pool_->Alloc(index, this);  // ref for the cache
    SetPageFlag(fresh, PG_locked);
    fresh->lock_owner.store(current_thread().tid, std::memory_order_relaxed);
    {
      FutexLock l(&tree_lock_);
      if (slots_[index] != nullptr) {
        // Lost the race to add: retry the lookup.
        fresh->flags.store(0, std::memory_order_relaxed);
        put_page(fresh);
        continue;
      }
      slots_[index] = fresh;
    }
    get_page(fresh);  // the caller's reference
    // Locked before anyone could see it, so it never waited: a trylock for
    // the lock-order check.
    LockOrderTryAcquired(LockClass::kPageLock, "PG_locked");
    NoteLockTaken(fresh->flags.raw(), PG_locked);
    tracer_->Record(index, Event::kPageAlloc);
    *created = true;
    return fresh;
  }
}

// Models mm/filemap.c:remove_from_page_cache() as of v2.6.29.
void AddressSpace::remove_from_page_cache(Page* page) {
  {
    FutexLock l(&tree_lock_);
    if (slots_[page->index] == page) slots_[page->index] = nullptr;
    if (dirty_tag_[page->index]) {
      dirty_tag_[page->index] = 0;
      nr_dirty_.fetch_sub(1, std::memory_order_relaxed);
    }
    page->mapping.store(nullptr, std::memory_order_release);
  }
  put_page(page);  // the cache's reference
}

bool AddressSpace::replace_page(Page* old, Page* newpage, int extra) {
  {
    FutexLock l(&tree_lock_);
    if (slots_[old->index] != old ||
        old->refcount.load(std::memory_order_acquire) != 2 + extra) {
      return false;
    }
    slots_[old->index] = newpage;
    newpage->mapping.store(this, std::memory_order_release);
    old->mapping.store(nullptr, std::memory_order_release);
  }
  put_page(old);  // the cache's reference
  return true;
}

void AddressSpace::tag_dirty(Page* page) {
  bool newly = false;
  {
    FutexLock l(&tree_lock_);
    // Re-check under the tree lock: truncate may have detached the page.
    if (page->mapping.load(std::memory_order_acquire) != this) return;
    // account_page_dirtied.
    nr_file_dirty_.fetch_add(1, std::memory_order_relaxed);
    page->dirty_accounted.fetch_add(1, std::memory_order_acq_rel);
    if (!dirty_tag_[page->index]) {
      dirty_tag_[page->index] = 1;
      nr_dirty_.fetch_add(1, std::memory_order_relaxed);
      newly = true;
    }
  }
  if (newly) {
    dirty_events_.fetch_add(1, std::memory_order_release);
    futex_wake_all(dirty_events_.raw());
  }
}

// Only while PG_dirty is clear, checked under the tree lock: a
// set_page_dirty that raced in after the caller cleared PG_dirty (legacy
// dirties without the page lock) has tagged, or will tag, the page under this
// lock, and its tag must stay (the kernel clears the tag in
// set_page_writeback under the same condition).
void AddressSpace::clear_dirty_tag(Page* page) {
  FutexLock l(&tree_lock_);
  if (dirty_tag_[page->index] && slots_[page->index] == page && !PageDirty(page)) {
    dirty_tag_[page->index] = 0;
    nr_dirty_.fetch_sub(1, std::memory_order_relaxed);
  }
}

bool test_set_page_writeback(Page* page) {
  const bool was = TestSetPageFlag(page, PG_writeback);
  // The dirty tag goes here, with the page still locked: an fsync that
  // looks at the tags after this waits for the write instead
  // (filemap_fdatawait), and one that looked before finds the page tagged
  // and waits for its lock.
  if (AddressSpace* mapping = page->mapping.load(std::memory_order_acquire)) {
    mapping->clear_dirty_tag(page);
  }
  return was;
}

uint64_t AddressSpace::nrpages() {
  FutexLock l(&tree_lock_);
  uint64_t n = 0;
  for (uint64_t i = 0; i < pages_; ++i) n += slots_[i] != nullptr;
  return n;
}

void AddressSpace::collect_dirty(std::vector<uint64_t>* out) {
  FutexLock l(&tree_lock_);
  for (uint64_t i = 0; i < pages_; ++i) {
    if (dirty_tag_[i]) out->push_back(i);
  }
}

bool AddressSpace::account_page_cleaned(Page* page) {
  nr_file_dirty_.fetch_sub(1, std::memory_order_relaxed);
  // `dirtying` first, then the share.  A setter whose TestSetPageDirty came
  // before the caller's TestClearPageDirty raised `dirtying` before it, so
  // the read sees it raised -- unless the setter has lowered it again, which
  // it does only after counting the page (tag_dirty): then the share below
  // holds its count.  Read the other way round, a setter that counted and
  // finished between the two reads would look like a bare SetPageDirty.
  const bool setter_pending = page->dirtying.load(std::memory_order_acquire) > 0;
  const int32_t share = page->dirty_accounted.fetch_sub(1, std::memory_order_acq_rel);
  return share > 0 || setter_pending;
}

// Models mm/page-writeback.c:__set_page_dirty_nobuffers() as of v2.6.29
// (5.15's the same, lock_page_memcg aside): TestSetPageDirty, then under
// the tree lock, if the page is still the mapping's, account_page_dirtied
// and the dirty tag.  Differences: no __mark_inode_dirty.
int __set_page_dirty_nobuffers(Page* page) {
  SetPageDirtyScope scope(page);
  if (TestSetPageFlag(page, PG_dirty)) return 0;
  if (AddressSpace* mapping = page->mapping.load(std::memory_order_acquire)) {
    mapping->tag_dirty(page);
  }
  return 1;
}

int AddressSpaceOps::set_page_dirty(Page* page) { return __set_page_dirty_nobuffers(page); }

}  // namespace pagerace
