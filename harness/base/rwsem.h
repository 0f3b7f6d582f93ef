// A reader-writer semaphore for the modeled kernel's rw_semaphores that the
// model needs as such: the process's mmap_sem (faults, get_user_pages and
// madvise read it; mremap writes it) and 5.15's mapping->invalidate_lock
// (->page_mkwrite and filemap_fault read it; a hole punch writes it).
//
// One futex word: the count of readers, plus kWriter while a writer holds
// it.  Readers wait only while a writer holds it (not while one waits: the
// kernel's rwsem queues readers behind a waiting writer, which can only add
// waiting, never remove a race; the model keeps the readers' freedom).
// Async-signal-safe in the sense FutexMutex is (futex.h): the SIGSEGV
// handler takes the mmap_sem for reading.  A waiter tells the schedule
// controller what it sleeps on (BlockedScope), as the lock slow paths do.
//
// Thread-safety: safe for concurrent access.
#ifndef PAGERACE_HARNESS_BASE_RWSEM_H_
#define PAGERACE_HARNESS_BASE_RWSEM_H_

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "harness/base/lock_order.h"
#include "harness/base/shared.h"

namespace pagerace {

class ABSL_LOCKABLE FutexRwSem {
 public:
  explicit FutexRwSem(LockClass cls, const char* name = nullptr)
      : cls_(cls), name_(name ? name : LockClassName(cls)) {}
  FutexRwSem(const FutexRwSem&) = delete;
  FutexRwSem& operator=(const FutexRwSem&) = delete;

  // down_read / up_read.
  void ReadLock() ABSL_SHARED_LOCK_FUNCTION();
  void ReadUnlock() ABSL_UNLOCK_FUNCTION();
  // down_write / up_write.
  void WriteLock() ABSL_EXCLUSIVE_LOCK_FUNCTION();
  void WriteUnlock() ABSL_UNLOCK_FUNCTION();

  LockClass lock_class() const { return cls_; }
  const char* name() const { return name_; }
  // Racy peeks (tests, assertions).
  bool IsWriteLocked() const { return word_.load(std::memory_order_relaxed) & kWriter; }
  uint32_t readers() const { return word_.load(std::memory_order_relaxed) & ~kWriter; }
  uint32_t sleepers() const { return sleepers_.load(std::memory_order_relaxed); }

 private:
  static constexpr uint32_t kWriter = 1u << 31;

  // For the explorer's dependence relation (shared.h), a reader's taking
  // and releasing read the semaphore (readers commute: the count ends the
  // same in either order, and neither waits for the other) and a writer's
  // write it; the word itself is touched through raw().
  Shared<uint32_t> sem_{0, SharedKind::kLock};
  std::atomic<uint32_t>& word_ = *sem_.raw();
  // Threads asleep on word_: an unlock wakes them only when there are some.
  std::atomic<uint32_t> sleepers_{0};
  const LockClass cls_;
  const char* const name_;
};

class ABSL_SCOPED_LOCKABLE ReadLockScope {
 public:
  explicit ReadLockScope(FutexRwSem* sem) ABSL_SHARED_LOCK_FUNCTION(sem) : sem_(sem) {
    sem_->ReadLock();
  }
  ~ReadLockScope() ABSL_UNLOCK_FUNCTION() { sem_->ReadUnlock(); }
  ReadLockScope(const ReadLockScope&) = delete;
  ReadLockScope& operator=(const ReadLockScope&) = delete;

 private:
  FutexRwSem* const sem_;
};

class ABSL_SCOPED_LOCKABLE WriteLockScope {
 public:
  explicit WriteLockScope(FutexRwSem* sem) ABSL_EXCLUSIVE_LOCK_FUNCTION(sem) : sem_(sem) {
    sem_->WriteLock();
  }
  ~WriteLockScope() ABSL_UNLOCK_FUNCTION() { sem_->WriteUnlock(); }
  WriteLockScope(const WriteLockScope&) = delete;
  WriteLockScope& operator=(const WriteLockScope&) = delete;

 private:
  FutexRwSem* const sem_;
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_BASE_RWSEM_H_
