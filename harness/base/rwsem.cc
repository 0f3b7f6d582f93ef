#include "harness/base/rwsem.h"

#include <climits>

#include "harness/base/futex.h"
#include "harness/base/lock_wait.h"
#include "harness/base/sched_hooks.h"

namespace pagerace {

void FutexRwSem::ReadLock() {
  LockOrderAcquire(cls_, name_);
  uint32_t c = word_.load(std::memory_order_relaxed);
  for (;;) {
    // Each attempt (a waiter's after it wakes included) is an access.
    NoteAccess(sem_.id(), /*write=*/false);
    if (!(c & kWriter)) {
      if (word_.compare_exchange_weak(c, c + 1, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
        return;
      }
      continue;
    }
    NoteWaiting(LockKind::kRwSem, reinterpret_cast<uint64_t>(this));
    BlockedScope blocked(&word_, kWriter);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    // Re-read after announcing: an unlock that saw no sleepers has already
    // cleared the writer bit.
    c = word_.load(std::memory_order_seq_cst);
    if (c & kWriter) futex_wait(&word_, c);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    NoteNotWaiting();
    c = word_.load(std::memory_order_relaxed);
  }
}

void FutexRwSem::ReadUnlock() {
  LockOrderRelease(cls_);
  NoteAccess(sem_.id(), /*write=*/false);
  const uint32_t before = word_.fetch_sub(1, std::memory_order_seq_cst);
  if (before == 1 && sleepers_.load(std::memory_order_seq_cst)) futex_wake(&word_, INT_MAX);
}

void FutexRwSem::WriteLock() {
  LockOrderAcquire(cls_, name_);
  uint32_t c = 0;
  for (;;) {
    NoteAccess(sem_.id(), /*write=*/true);
    if (word_.compare_exchange_weak(c, kWriter, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
      return;
    }
    if (c == 0) continue;
    NoteWaiting(LockKind::kRwSem, reinterpret_cast<uint64_t>(this));
    BlockedScope blocked(&word_, ~0u);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    c = word_.load(std::memory_order_seq_cst);
    if (c != 0) futex_wait(&word_, c);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    NoteNotWaiting();
    c = 0;
  }
}

void FutexRwSem::WriteUnlock() {
  LockOrderRelease(cls_);
  NoteAccess(sem_.id(), /*write=*/true);
  word_.store(0, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst)) futex_wake(&word_, INT_MAX);
}

}  // namespace pagerace
