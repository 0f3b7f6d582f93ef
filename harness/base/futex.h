// Futex-based primitives shared by the modeled kernel.
//
// Everything the SIGSEGV handler may block on is built here from a 32-bit
// atomic word and the futex syscall, so that
//   - TSan sees every acquire/release as an atomic operation (no invisible
//     happens-before from an uninstrumented library), and
//   - the handler never allocates: a waiter needs no per-thread structure.
//
// The slow paths report "this thread is about to block" to the schedule
// controller (harness/sched), which the `ordered` policy uses to detect that a
// forced interleaving cannot be satisfied (every participant blocked).
#ifndef PAGERACE_HARNESS_BASE_FUTEX_H_
#define PAGERACE_HARNESS_BASE_FUTEX_H_

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "harness/base/lock_order.h"
#include "harness/base/shared.h"

namespace pagerace {

// Blocks while *word == expected (or until a spurious wake-up).
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected);
// As futex_wait, but returns after at most `timeout_ns`.
void futex_wait_for(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns);
void futex_wake(std::atomic<uint32_t>* word, int count);
inline void futex_wake_all(std::atomic<uint32_t>* word) { futex_wake(word, 0x7fffffff); }

// A small mutex (Drepper's "Futexes are tricky", mutex 2): 0 free, 1 locked,
// 2 locked with waiters.  Async-signal-safe in the sense the harness needs:
// usable from the synchronous SIGSEGV handler of a thread that holds no
// harness lock at the faulting instruction.
//
// Every mutex belongs to a lock class (lock_order.h), given at construction:
// each acquisition is checked against the declared order (a few thread-local
// integer operations, no syscall).  The name, a string literal, is for
// reports; it defaults to the class name.
//
// Thread-safety: safe for concurrent access.
class ABSL_LOCKABLE FutexMutex {
 public:
  explicit FutexMutex(LockClass cls, const char* name = nullptr)
      : cls_(cls), name_(name ? name : LockClassName(cls)) {}
  FutexMutex(const FutexMutex&) = delete;
  FutexMutex& operator=(const FutexMutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    LockOrderAcquire(cls_, name_);  // checked as an attempt, before it may sleep
    LockWord();
  }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    if (!TryLockWord()) return false;
    LockOrderTryAcquired(cls_, name_);
    return true;
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    LockOrderRelease(cls_);
    UnlockWord();
  }
  LockClass lock_class() const { return cls_; }
  const char* name() const { return name_; }
  // Documentation for the analysis; the word is not owner-tracked.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}
  bool IsLocked() const { return word_.load(std::memory_order_relaxed) != 0; }

 private:
  friend class OwnedMutex;  // checks the order itself, then uses the word

  // The lock word alone, without the lock-order bookkeeping.
  void LockWord() {
    uint32_t c = 0;
    if (!word_.compare_exchange_strong(c, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      LockSlow(c);
    }
  }
  bool TryLockWord() {
    uint32_t c = 0;
    return word_.compare_exchange_strong(c, 1, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }
  void UnlockWord() {
    if (word_.exchange(0, std::memory_order_release) == 2) futex_wake(word_.raw(), 1);
  }
  void LockSlow(uint32_t c);

  // Taking or releasing it writes it (shared.h).
  Shared<uint32_t> word_{0, SharedKind::kLock};
  const LockClass cls_;
  const char* const name_;
};

class ABSL_SCOPED_LOCKABLE FutexLock {
 public:
  explicit FutexLock(FutexMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~FutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  FutexLock(const FutexLock&) = delete;
  FutexLock& operator=(const FutexLock&) = delete;

 private:
  FutexMutex* const mu_;
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_BASE_FUTEX_H_
