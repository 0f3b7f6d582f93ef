#include "harness/base/thread_registry.h"

#include <array>

#include "absl/base/thread_annotations.h"
#include "harness/base/futex.h"
#include "harness/base/lock_order.h"
#include "harness/base/sched_hooks.h"

namespace pagerace {
namespace {

thread_local ThreadInfo tls_info;

struct Registry {
  FutexMutex mu{LockClass::kThreadRegistry, "thread registry"};
  uint32_t next ABSL_GUARDED_BY(mu) = 1;
  std::array<std::string, kMaxThreads + 1> roles ABSL_GUARDED_BY(mu);
};

Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

}  // namespace

ThreadInfo& current_thread() { return tls_info; }

uint32_t RegisterThread(const std::string& role, bool user_access, ThreadStats* stats) {
  Registry& r = registry();
  uint32_t tid;
  {
    FutexLock l(&r.mu);
    tid = r.next <= kMaxThreads ? r.next++ : kMaxThreads;
    r.roles[tid] = role;
  }
  tls_info.tid = tid;
  tls_info.user_access = user_access;
  tls_info.stats = stats;
  NotifyThreadStart(tid);
  return tid;
}

void UnregisterThread() {
  NotifyThreadExit();
  tls_info = ThreadInfo{};
}

std::string ThreadRole(uint32_t tid) {
  Registry& r = registry();
  FutexLock l(&r.mu);
  if (tid == 0 || tid > kMaxThreads || r.roles[tid].empty()) return "?";
  return r.roles[tid];
}

void ResetThreadRegistry() {
  Registry& r = registry();
  FutexLock l(&r.mu);
  r.next = 1;
  for (auto& s : r.roles) s.clear();
}

}  // namespace pagerace
