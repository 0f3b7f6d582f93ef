// Who waits for which lock, and who holds it: the deadlock watchdog's and
// the lock-order checker's view (DESIGN §8, oracle 3).
//
// Lock slow paths publish what the calling thread is about to sleep on; the
// page lock records its owner in the page, and fs locks (OwnedMutex) record
// theirs.  Nothing here is on a fast path.
//
// Lock-order checking covers every lock class and lives in lock_order.h
// (LockOrderInversion(), ResetLockOrder(), included from here).
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
#include "harness/base/lock_order.h"
#include "harness/base/shared.h"

namespace pagerace {

enum class LockKind : uint32_t { kNone, kPage, kFsLock, kRwSem };

// The owner recorded for a page lock that a writer handed to its I/O: no
// thread holds it, the write's completion will release it (ceph's
// writepages_finish, v2.6.34).  Never a registered thread's id.
inline constexpr uint32_t kLockOwnerIo = UINT32_MAX;

// An fs lock that the deadlock watchdog names (journal / transaction start,
// ceph's snap_rwsem): a FutexMutex of the given class (lock_order.h: the
// journal is kFsLevel, outside the page lock; snap_rwsem is kSnapRwsem,
// inside it), with an owner for reports.
class ABSL_LOCKABLE OwnedMutex {
 public:
  OwnedMutex(LockClass cls, const char* name) : mu_(cls, name) {}
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION();
  void Unlock() ABSL_UNLOCK_FUNCTION();
  const char* name() const { return mu_.name(); }
  LockClass lock_class() const { return mu_.lock_class(); }
  uint32_t owner() const { return owner_.load(std::memory_order_acquire); }

 private:
  FutexMutex mu_;
  Shared<uint32_t> owner_{0};
};

// Slow-path bookkeeping.  `what` is a page index for kPage, an OwnedMutex*
// for kFsLock, a FutexRwSem* for kRwSem.
void NoteWaiting(LockKind kind, uint64_t what);
void NoteNotWaiting();

struct LockWait {
  uint32_t tid;
  LockKind kind;
  uint64_t what;  // page index, OwnedMutex* or FutexRwSem*
};
// A snapshot of every registered thread currently waiting on a lock.
std::vector<LockWait> CurrentLockWaits();
// What the thread `tid` has published it waits for (false: nothing).
// Allocation-free: the serial scheduler reads it inside the SIGSEGV handler.
bool LockWaitOf(uint32_t tid, LockWait* out);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_BASE_LOCK_WAIT_H_
