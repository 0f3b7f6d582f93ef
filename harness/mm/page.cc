#include "harness/mm/page.h"

#include <cstdio>
#include <cstdlib>

#include "harness/base/lock_order.h"
#include "harness/base/lock_wait.h"
#include "harness/base/thread_registry.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

// Sleeps until `bit` is clear in page->flags.  Sets PG_waiters first so the
// clearing side knows to wake.
void wait_on_bit(Page* page, uint32_t bit) {
  sched::BlockedScope blocked(page->flags.raw(), bit);
  for (;;) {
    uint32_t f = page->flags.load(std::memory_order_acquire);
    if (!(f & bit)) return;
    if (!(f & PG_waiters) &&
        !page->flags.compare_exchange_weak(f, f | PG_waiters, std::memory_order_acq_rel)) {
      continue;
    }
    futex_wait(page->flags.raw(), f | PG_waiters);
  }
}

void wake_if_waiters(Page* page, uint32_t old_flags) {
  if (old_flags & PG_waiters) futex_wake_all(page->flags.raw());
}

}  // namespace

void get_page(Page* page) { page->refcount.fetch_add(1, std::memory_order_relaxed); }

void put_page(Page* page) {
  int32_t old = page->refcount.fetch_sub(1, std::memory_order_acq_rel);
  if (old == 1) {
    page->pool->Free(page);
  } else if (old <= 0) {
    fprintf(stderr, "pagerace: harness bug: put_page on page %llu with refcount %d\n",
            static_cast<unsigned long long>(page->index), old);
    abort();
  }
}

namespace {
std::atomic<PageLockObserver*> g_lock_observer{nullptr};

// The page lock's name in lock-order reports (class kPageLock).
constexpr const char* kPageLockName = "PG_locked";

void NoteLock(const Page* page, bool locked) {
  if (PageLockObserver* o = g_lock_observer.load(std::memory_order_acquire)) {
    o->OnPageLock(page, locked);
  }
}
}  // namespace

void SetPageLockObserver(PageLockObserver* observer) {
  g_lock_observer.store(observer, std::memory_order_release);
}

namespace {

// Takes PG_locked if free and records the owner; no lock-order bookkeeping.
bool page_trylock_bit(Page* page) {
  if (page->flags.fetch_or(PG_locked, std::memory_order_acquire) & PG_locked) return false;
  page->lock_owner.store(current_thread().tid, std::memory_order_relaxed);
  NoteLock(page, true);
  NoteLockTaken(page->flags.raw(), PG_locked);
  return true;
}

}  // namespace

// Models include/linux/pagemap.h:trylock_page() as of v2.6.29.  A trylock
// cannot wait: held, not order-checked (lock_order.h).
bool trylock_page(Page* page) {
  if (!page_trylock_bit(page)) return false;
  LockOrderTryAcquired(LockClass::kPageLock, kPageLockName);
  return true;
}

// Models mm/filemap.c:__lock_page() as of v2.6.29; differences: a futex on
// the flags word instead of a hashed bit waitqueue; the owner is recorded.
void lock_page(Page* page) {
  // Checked as an attempt, before it may sleep: in a deadlock it never
  // returns, and the inversion must still be known.
  LockOrderAcquire(LockClass::kPageLock, kPageLockName);
  if (page_trylock_bit(page)) return;
  // Published before the scope: under the serial policy the scope's hook is
  // where the thread stops, and a deadlock report must see the wait.
  NoteWaiting(LockKind::kPage, page->index);
  sched::BlockedScope blocked(page->flags.raw(), PG_locked, page->lock_owner.raw());
  for (;;) {
    uint32_t f = page->flags.load(std::memory_order_relaxed);
    if (!(f & PG_locked)) {
      if (page->flags.compare_exchange_weak(f, f | PG_locked, std::memory_order_acquire)) break;
      continue;
    }
    if (!(f & PG_waiters) &&
        !page->flags.compare_exchange_weak(f, f | PG_waiters, std::memory_order_relaxed)) {
      continue;
    }
    futex_wait(page->flags.raw(), f | PG_waiters);
  }
  NoteNotWaiting();
  page->lock_owner.store(current_thread().tid, std::memory_order_relaxed);
  NoteLock(page, true);
  NoteLockTaken(page->flags.raw(), PG_locked);
}

namespace {

// Clears PG_locked (and PG_waiters with it: every sleeper is woken and
// re-arms it); aborts on a page that was not locked.
void page_unlock_bit(Page* page) {
  page->lock_owner.store(0, std::memory_order_relaxed);
  // Clearing PG_waiters with the lock: every sleeper is woken and re-arms it.
  uint32_t old = page->flags.fetch_and(~(PG_locked | PG_waiters), std::memory_order_release);
  if (!(old & PG_locked)) {
    fprintf(stderr, "pagerace: harness bug: unlock_page of unlocked page %llu\n",
            static_cast<unsigned long long>(page->index));
    abort();
  }
  wake_if_waiters(page, old);
}

}  // namespace

// Models mm/filemap.c:unlock_page() as of v2.6.29: wakes every waiter.
void unlock_page(Page* page) {
  NoteLock(page, false);
  LockOrderRelease(LockClass::kPageLock);
  page_unlock_bit(page);
}

void hand_off_page_lock(Page* page) {
  const uint32_t owner = page->lock_owner.load(std::memory_order_relaxed);
  if (!PageLocked(page) || owner != current_thread().tid) {
    fprintf(stderr, "pagerace: harness bug: hand_off_page_lock of page %llu not held by us\n",
            static_cast<unsigned long long>(page->index));
    abort();
  }
  LockOrderRelease(LockClass::kPageLock);
  page->lock_owner.store(kLockOwnerIo, std::memory_order_relaxed);
  NoteLockTaken(page->flags.raw(), PG_locked, /*to_io=*/true);
}

void unlock_page_from_io(Page* page) {
  if (page->lock_owner.load(std::memory_order_relaxed) != kLockOwnerIo) {
    fprintf(stderr, "pagerace: harness bug: unlock_page_from_io of page %llu not handed off\n",
            static_cast<unsigned long long>(page->index));
    abort();
  }
  NoteLock(page, false);
  page_unlock_bit(page);
}

// Models include/linux/pagemap.h:wait_on_page_locked() and
// wait_on_page_writeback() as of v2.6.29.
void wait_on_page_locked(Page* page) {
  if (PageLocked(page)) wait_on_bit(page, PG_locked);
}

void wait_on_page_writeback(Page* page) {
  if (PageWriteback(page)) wait_on_bit(page, PG_writeback);
}

void clear_page_writeback(Page* page) {
  uint32_t old = page->flags.fetch_and(~(PG_writeback | PG_waiters), std::memory_order_acq_rel);
  wake_if_waiters(page, old);
}

PagePool::PagePool(size_t capacity) : capacity_(capacity), pages_(new Page[capacity]) {
  FutexLock l(&mu_);
  free_.reserve(capacity);
  for (size_t i = capacity; i-- > 0;) {
    pages_[i].pool = this;
    pages_[i].pool_slot = static_cast<uint32_t>(i);
    free_.push_back(static_cast<uint32_t>(i));
  }
}

Page* PagePool::Alloc(uint64_t index, AddressSpace* mapping) {
  uint32_t slot;
  {
    FutexLock l(&mu_);
    if (free_.empty()) {
      fprintf(stderr, "pagerace: harness bug: page pool exhausted (%zu pages in use)\n",
              capacity_);
      abort();
    }
    slot = free_.back();
    free_.pop_back();  // never reallocates: capacity reserved up front
  }
  Page* p = &pages_[slot];
  p->index = index;
  p->flags.store(0, std::memory_order_relaxed);
  p->lock_owner.store(0, std::memory_order_relaxed);
  p->mkwrite_window.store(0, std::memory_order_relaxed);
  p->gup_write.store(0, std::memory_order_relaxed);
  p->mapcount.store(0, std::memory_order_relaxed);
  p->dirty_accounted.store(0, std::memory_order_relaxed);
  p->dirtying.store(0, std::memory_order_relaxed);
  p->generation.fetch_add(1, std::memory_order_relaxed);
  p->mapping.store(mapping, std::memory_order_relaxed);
  p->refcount.store(1, std::memory_order_release);
  return p;
}

void PagePool::Free(Page* page) {
  page->mapping.store(nullptr, std::memory_order_relaxed);
  FutexLock l(&mu_);
  free_.push_back(page->pool_slot);
}

size_t PagePool::in_use() const {
  FutexLock l(&mu_);
  return capacity_ - free_.size();
}

}  // namespace pagerace
