// Who waits for which lock, and who holds it: the deadlock watchdog's and
// the lock-order checker's view (DESIGN §8, oracle 3).
//
// Lock slow paths publish what the calling thread is about to sleep on; the
// page lock records its owner in the page, and fs-level locks (OwnedMutex)
// record theirs.  Nothing here is on a fast path.
//
// Lock-order checking (lockdep in miniature): each thread counts the page
// locks and fs-level locks it holds; taking an fs-level lock while holding a
// page lock, and a page lock while holding an fs-level lock, are the two
// edges of the ABBA the `naive` scheme creates.  Once both have been seen,
// the inversion is reported, before (or without) the deadlock.
//
// Thread-safety: safe for concurrent access.
#ifndef PAGERACE_HARNESS_BASE_LOCK_WAIT_H_
#define PAGERACE_HARNESS_BASE_LOCK_WAIT_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "harness/base/futex.h"

namespace pagerace {

enum class LockKind : uint32_t { kNone, kPage, kFsLock };

// An fs-level lock (journal / transaction start, snap rwsem, extent lock):
// outermost in lock_order.h, with a name and an owner for reports.
class ABSL_LOCKABLE OwnedMutex {
 public:
  explicit OwnedMutex(const char* name) : name_(name) {}
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION();
  void Unlock() ABSL_UNLOCK_FUNCTION();
  const char* name() const { return name_; }
  uint32_t owner() const { return owner_.load(std::memory_order_acquire); }

 private:
  const char* const name_;
  FutexMutex mu_;
  std::atomic<uint32_t> owner_{0};
};

// Slow-path bookkeeping.  `what` is a page index for kPage, an OwnedMutex*
// for kFsLock.
void NoteWaiting(LockKind kind, uint64_t what);
void NoteNotWaiting();
// Held-lock counts of the calling thread (for the lock-order check).
void NotePageLocked(int delta);
// Called before sleeping on a page lock.  As in lockdep, the attempt makes
// the edge (an fs lock held, a page lock wanted), so the inversion is
// reported even when the first attempt in that order is the one that
// deadlocks and never acquires the page.
void NotePageLockAttempt();

struct LockWait {
  uint32_t tid;
  LockKind kind;
  uint64_t what;  // page index or OwnedMutex*
};
// A snapshot of every registered thread currently waiting on a lock.
std::vector<LockWait> CurrentLockWaits();

// The first lock-order inversion seen ("" while none), and resetting it.
std::string LockOrderInversion();
void ResetLockOrder();

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_BASE_LOCK_WAIT_H_
