// Harness thread identities.
//
// Each harness thread registers a role ("mmap0", "writeback", ...: the kinds
// in thread_roles.def, formed by RoleName) and gets a
// small id used in traces and lock-owner fields.  The registry also holds the
// thread's stats block and whether the thread may touch user mappings: a
// fault in a user mapping taken by any other thread is a harness bug, not a
// modeled fault.
#ifndef PAGERACE_HARNESS_BASE_THREAD_REGISTRY_H_
#define PAGERACE_HARNESS_BASE_THREAD_REGISTRY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "harness/base/thread_roles.h"

namespace pagerace {

struct ThreadStats;

constexpr int kMaxThreads = 256;

struct ThreadInfo {
  uint32_t tid = 0;              // 1-based; 0 = unregistered
  bool user_access = false;      // may store/load through user mappings
  ThreadStats* stats = nullptr;  // owned by the caller of RegisterThread
  RoleKind kind = RoleKind::kMain;  // the role's kind (kMain for unnamed roles like "setup")
};

// The calling thread's identity (zero-initialised until registered).
ThreadInfo& current_thread();

// Registers the calling thread under `role`; returns its tid, the lowest not
// held by a live thread (UnregisterThread gives it back).  Names are kept for
// reports until the tid is reused.  More than kMaxThreads live threads is a
// harness bug (abort).  Thread-safe.
uint32_t RegisterThread(const std::string& role, bool user_access, ThreadStats* stats);
void UnregisterThread();
// The role registered for `tid` ("?" if none).  Thread-safe.
std::string ThreadRole(uint32_t tid);
// Every tid's role ("" where none), indexed by tid: a run keeps it for its
// reports, since a later run in the process (the explorer's) reuses tids.
std::vector<std::string> ThreadRoleNames();
// Forgets the roles of tids no live thread holds (between independent runs in
// one process, e.g. tests).
void ResetThreadRegistry();

// RAII registration for a scope (a thread body, a test).
class ScopedThread {
 public:
  ScopedThread(const std::string& role, bool user_access, ThreadStats* stats = nullptr) {
    RegisterThread(role, user_access, stats);
  }
  // Registers under RoleName(kind, index).
  ScopedThread(RoleKind kind, int index, bool user_access, ThreadStats* stats = nullptr)
      : ScopedThread(RoleName(kind, index), user_access, stats) {}
  ~ScopedThread() { UnregisterThread(); }
  ScopedThread(const ScopedThread&) = delete;
  ScopedThread& operator=(const ScopedThread&) = delete;
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_BASE_THREAD_REGISTRY_H_
