#include "harness/base/lock_wait.h"

#include <array>

#include "harness/base/sched_hooks.h"
#include "harness/base/thread_registry.h"

namespace pagerace {
namespace {

struct Waiting {
  std::atomic<uint32_t> kind{0};
  std::atomic<uint64_t> what{0};
};
std::array<Waiting, kMaxThreads + 1> g_waiting;

}  // namespace

// As FutexMutex::Lock, publishing the wait for the watchdog when the lock is
// busy.  The order is checked first: the attempt makes the edge.
void OwnedMutex::Lock() {
  LockOrderAcquire(mu_.lock_class(), mu_.name());
  if (!mu_.TryLockWord()) {
    NoteWaiting(LockKind::kFsLock, reinterpret_cast<uint64_t>(this));
    mu_.LockWord();
    NoteNotWaiting();
  }
  owner_.store(current_thread().tid, std::memory_order_release);
  NoteLockTaken(mu_.word_.raw(), ~0u);
}

void OwnedMutex::Unlock() {
  owner_.store(0, std::memory_order_release);
  LockOrderRelease(mu_.lock_class());
  mu_.UnlockWord();
}

void NoteWaiting(LockKind kind, uint64_t what) {
  const uint32_t tid = current_thread().tid;
  if (tid == 0 || tid > kMaxThreads) return;
  g_waiting[tid].what.store(what, std::memory_order_relaxed);
  g_waiting[tid].kind.store(static_cast<uint32_t>(kind), std::memory_order_release);
}

void NoteNotWaiting() {
  const uint32_t tid = current_thread().tid;
  if (tid == 0 || tid > kMaxThreads) return;
  g_waiting[tid].kind.store(0, std::memory_order_release);
}

std::vector<LockWait> CurrentLockWaits() {
  std::vector<LockWait> out;
  for (uint32_t tid = 1; tid <= kMaxThreads; ++tid) {
    const auto kind = static_cast<LockKind>(g_waiting[tid].kind.load(std::memory_order_acquire));
    if (kind == LockKind::kNone) continue;
    out.push_back({tid, kind, g_waiting[tid].what.load(std::memory_order_relaxed)});
  }
  return out;
}

bool LockWaitOf(uint32_t tid, LockWait* out) {
  if (tid == 0 || tid > kMaxThreads) return false;
  const auto kind = static_cast<LockKind>(g_waiting[tid].kind.load(std::memory_order_acquire));
  if (kind == LockKind::kNone) return false;
  *out = {tid, kind, g_waiting[tid].what.load(std::memory_order_relaxed)};
  return true;
}

}  // namespace pagerace
