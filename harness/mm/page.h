// struct page and the page lock (DESIGN §5), modeled on include/linux/mm_types.h
// and mm/filemap.c of v2.6.29.
//
// Flags are one 32-bit atomic word; the lock and writeback waits are futex
// waits on it (like the kernel's bit waitqueues), so the SIGSEGV handler can
// block on them and TSan sees every handoff.  Page objects come from a fixed
// pool (the handler must not allocate); a reference count keeps an object from
// being reused while anyone still points at it — a fault that dropped its
// locks, an in-flight write, a pte, the page cache.
#ifndef PAGERACE_HARNESS_MM_PAGE_H_
#define PAGERACE_HARNESS_MM_PAGE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "harness/base/futex.h"
#include "harness/base/lock_order.h"
#include "harness/base/shared.h"

namespace pagerace {

class AddressSpace;
class PagePool;

inline constexpr uint32_t PG_locked = 1u << 0;
inline constexpr uint32_t PG_dirty = 1u << 1;
inline constexpr uint32_t PG_writeback = 1u << 2;
inline constexpr uint32_t PG_uptodate = 1u << 3;
inline constexpr uint32_t PG_private = 1u << 4;
inline constexpr uint32_t PG_waiters = 1u << 5;  // someone sleeps on this word

struct Page {
  // Constant while the page is referenced (set by PagePool::Alloc).
  uint64_t index = 0;
  PagePool* pool = nullptr;
  uint32_t pool_slot = 0;

  // Atomic; PG_locked is the page lock.  PG_dirty is set by set_page_dirty
  // and cleared by clear_page_dirty_for_io (page locked); PG_writeback is set
  // by ->writepage (page locked) and cleared by end_page_writeback.
  Shared<uint32_t> flags{0, SharedKind::kPageFlags};
  // Atomic; NULL once truncated or evicted.  Written under the page lock.
  Shared<AddressSpace*> mapping{nullptr};
  Shared<int32_t> refcount{0};
  // Atomic; tid of the page lock's holder (for reports), 0 when unlocked,
  // kLockOwnerIo (lock_wait.h) while a write that was handed the lock is in
  // flight.
  Shared<uint32_t> lock_owner{0};
  // Atomic; faults currently between making a pte writable and calling
  // set_page_dirty (I1's allowed window).
  Shared<int32_t> mkwrite_window{0};
  // Atomic; write references taken by get_user_pages (gup.h) whose
  // set_page_dirty_lock has not run yet: "the device" may be writing the
  // page through the kernel alias.  Harness bookkeeping, no kernel field:
  // like a writable pte, it means the page's bytes may be newer than the VM
  // thinks (I0 is not asked of such a page).  Incremented under the pte's
  // ptl as the reference is taken; decremented under the page lock after
  // set_page_dirty.
  Shared<int32_t> gup_write{0};
  // Atomic; bumped by every PagePool::Alloc of this object: a holder who
  // dropped its reference can tell the frame was freed and reused since.
  // Harness bookkeeping, no kernel field.
  Shared<uint32_t> generation{0};
  // Atomic; the ptes that map the page (the kernel's _mapcount + 1):
  // changed under each pte's ptl as ShadowMmu installs and removes the page
  // (page_add_file_rmap / page_remove_rmap), read without a lock by
  // page_mapped().
  Shared<int32_t> mapcount{0};
  // Atomic; this page's share of NR_FILE_DIRTY (address_space.h, dirty
  // accounting): +1 where the kernel's account_page_dirtied counts it, -1
  // where clear_page_dirty_for_io or cancel_dirty_page un-count it; moved
  // with PG_dirty by migration.  Harness bookkeeping: the kernel keeps only
  // the sum (per zone and per bdi).
  Shared<int32_t> dirty_accounted{0};
  // Atomic; set_page_dirty calls between their TestSetPageDirty and their
  // accounting (the kernel's __set_page_dirty_nobuffers takes the tree lock
  // in between).  Harness bookkeeping, for I10's scope.
  Shared<int32_t> dirtying{0};

  bool test(uint32_t bit) const { return flags.load(std::memory_order_acquire) & bit; }
};

// Models include/linux/mm.h:page_mapped() (v2.6.29; 5.15 the same for a
// small page): a lock-free read of the mapcount.
inline bool page_mapped(const Page* p) { return p->mapcount.load(std::memory_order_acquire) > 0; }
inline bool PageLocked(const Page* p) { return p->test(PG_locked); }
inline bool PageDirty(const Page* p) { return p->test(PG_dirty); }
inline bool PageWriteback(const Page* p) { return p->test(PG_writeback); }
inline bool PageUptodate(const Page* p) { return p->test(PG_uptodate); }
inline bool PagePrivate(const Page* p) { return p->test(PG_private); }
inline void SetPageFlag(Page* p, uint32_t bit) { p->flags.fetch_or(bit, std::memory_order_acq_rel); }
inline void ClearPageFlag(Page* p, uint32_t bit) {
  p->flags.fetch_and(~bit, std::memory_order_acq_rel);
}
// Returns whether the bit was set before.
inline bool TestSetPageFlag(Page* p, uint32_t bit) {
  return p->flags.fetch_or(bit, std::memory_order_acq_rel) & bit;
}
inline bool TestClearPageFlag(Page* p, uint32_t bit) {
  return p->flags.fetch_and(~bit, std::memory_order_acq_rel) & bit;
}

void get_page(Page* page);
// Drops a reference; the last one returns the object to its pool.
void put_page(Page* page);

// Page lock, models mm/filemap.c:__lock_page() and friends.
void lock_page(Page* page);
// Page-lock tracing (--trace-out): when set, told of every acquisition
// (after it) and release (before it).  Off by default: the lock events would
// crowd the per-page traces reports carry.  The observer must outlive every
// page lock operation until it is unset (nullptr).
class PageLockObserver {
 public:
  virtual void OnPageLock(const Page* page, bool locked) = 0;

 protected:
  ~PageLockObserver() = default;
};
void SetPageLockObserver(PageLockObserver* observer);
bool trylock_page(Page* page);
// Wakes every waiter: wait_on_page_locked() waiters do not take the lock.
void unlock_page(Page* page);
void wait_on_page_locked(Page* page);
// A page lock handed from the thread that took it to the completion of the
// write it started, as ceph_writepages_start hands each page to
// writepages_finish (fs/ceph/addr.c, v2.6.34; the kernel has no call for
// it: the completion just calls unlock_page).  hand_off_page_lock: REQUIRES
// the caller holds the page lock; the lock stays taken, but this thread no
// longer holds it (lock-order bookkeeping ends, the owner becomes
// kLockOwnerIo).  unlock_page_from_io: the completion's unlock_page, on
// whatever thread completes the write; the observer sees the release there.
void hand_off_page_lock(Page* page);
void unlock_page_from_io(Page* page);
void wait_on_page_writeback(Page* page);
// Clears PG_writeback and wakes its waiters (the flag half of
// end_page_writeback; the VM's end_page_writeback adds tracing).
void clear_page_writeback(Page* page);

// A fixed pool of Page objects (no allocation on the fault path).
// Thread-safe.
class PagePool {
 public:
  explicit PagePool(size_t capacity);
  // A fresh page for `index` with one reference, all flags clear, mapping
  // set.  Aborts with a dump when the pool is exhausted (a leak is a harness
  // bug).
  Page* Alloc(uint64_t index, AddressSpace* mapping);
  void Free(Page* page);
  size_t capacity() const { return capacity_; }
  size_t in_use() const;

 private:
  const size_t capacity_;
  std::unique_ptr<Page[]> pages_;
  mutable FutexMutex mu_{LockClass::kPagePool, "page pool"};
  std::vector<uint32_t> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_PAGE_H_
