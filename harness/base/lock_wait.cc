#include "harness/base/lock_wait.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "harness/base/thread_registry.h"

namespace pagerace {
namespace {

struct Waiting {
  std::atomic<uint32_t> kind{0};
  std::atomic<uint64_t> what{0};
};
std::array<Waiting, kMaxThreads + 1> g_waiting;

thread_local int tls_page_locks = 0;
thread_local int tls_fs_locks = 0;
thread_local const char* tls_fs_lock_name = nullptr;  // the last fs lock taken

// A lock-order edge: recorded once, allocation-free (it may be recorded
// inside the SIGSEGV handler, from ->page_mkwrite); described later.
struct Edge {
  std::atomic<bool> seen{false};
  std::atomic<uint32_t> tid{0};
  std::atomic<const char*> lock{nullptr};
};
Edge g_page_then_fs;  // an fs lock taken while holding a page lock
Edge g_fs_then_page;  // a page lock taken while holding an fs lock

void NoteEdge(Edge* e, const char* lock) {
  if (e->seen.load(std::memory_order_acquire)) return;
  e->tid.store(current_thread().tid, std::memory_order_relaxed);
  e->lock.store(lock, std::memory_order_relaxed);
  e->seen.store(true, std::memory_order_release);
}

}  // namespace

void OwnedMutex::Lock() {
  if (tls_page_locks > 0) NoteEdge(&g_page_then_fs, name_);
  if (!mu_.TryLock()) {
    NoteWaiting(LockKind::kFsLock, reinterpret_cast<uint64_t>(this));
    mu_.Lock();
    NoteNotWaiting();
  }
  owner_.store(current_thread().tid, std::memory_order_release);
  ++tls_fs_locks;
  tls_fs_lock_name = name_;
}

void OwnedMutex::Unlock() {
  --tls_fs_locks;
  owner_.store(0, std::memory_order_release);
  mu_.Unlock();
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

void NotePageLocked(int delta) {
  if (delta > 0 && tls_fs_locks > 0) NoteEdge(&g_fs_then_page, tls_fs_lock_name);
  tls_page_locks += delta;
}

void NotePageLockAttempt() {
  if (tls_fs_locks > 0) NoteEdge(&g_fs_then_page, tls_fs_lock_name);
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

std::string LockOrderInversion() {
  if (!g_page_then_fs.seen.load(std::memory_order_acquire) ||
      !g_fs_then_page.seen.load(std::memory_order_acquire)) {
    return "";
  }
  return absl::StrCat("'", g_page_then_fs.lock.load(), "' taken by ",
                      ThreadRole(g_page_then_fs.tid.load()), " while holding a page lock; ",
                      "a page lock taken by ", ThreadRole(g_fs_then_page.tid.load()),
                      " while holding '", g_fs_then_page.lock.load(), "'");
}

void ResetLockOrder() {
  g_page_then_fs.seen.store(false);
  g_fs_then_page.seen.store(false);
}

}  // namespace pagerace
