#include "harness/base/thread_registry.h"

#include <array>
#include <cstdio>
#include <cstdlib>

#include "absl/base/thread_annotations.h"
#include "harness/base/futex.h"
#include "harness/base/lock_order.h"
#include "harness/base/sched_hooks.h"

namespace pagerace {
namespace {

thread_local ThreadInfo tls_info;

struct Registry {
  FutexMutex mu{LockClass::kThreadRegistry, "thread registry"};
  // Which tids a live thread holds.  A tid is given back when its thread
  // unregisters and reused (lowest first); its role name stays for reports
  // until then.
  std::array<bool, kMaxThreads + 1> live ABSL_GUARDED_BY(mu) = {};
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
    tid = 1;
    while (tid <= static_cast<uint32_t>(kMaxThreads) && r.live[tid]) ++tid;
    if (tid > static_cast<uint32_t>(kMaxThreads)) {
      // Sharing a tid would corrupt lock owners and the scheduler's
      // per-thread state: stop here rather than hang later.
      fprintf(stderr, "pagerace: harness bug: more than %d live harness threads\n", kMaxThreads);
      abort();
    }
    r.live[tid] = true;
    r.roles[tid] = role;
  }
  tls_info.tid = tid;
  tls_info.user_access = user_access;
  tls_info.stats = stats;
  auto parsed = ParseRole(role);
  tls_info.kind = parsed.ok() ? parsed->kind : RoleKind::kMain;
  NotifyThreadStart(tid);
  return tid;
}

void UnregisterThread() {
  NotifyThreadExit();
  if (const uint32_t tid = tls_info.tid; tid >= 1 && tid <= static_cast<uint32_t>(kMaxThreads)) {
    Registry& r = registry();
    FutexLock l(&r.mu);
    r.live[tid] = false;
  }
  tls_info = ThreadInfo{};
}

std::string ThreadRole(uint32_t tid) {
  Registry& r = registry();
  FutexLock l(&r.mu);
  if (tid == 0 || tid > kMaxThreads || r.roles[tid].empty()) return "?";
  return r.roles[tid];
}

std::vector<std::string> ThreadRoleNames() {
  Registry& r = registry();
  FutexLock l(&r.mu);
  return std::vector<std::string>(r.roles.begin(), r.roles.end());
}

void ResetThreadRegistry() {
  Registry& r = registry();
  FutexLock l(&r.mu);
  for (size_t tid = 0; tid < r.roles.size(); ++tid) {
    if (!r.live[tid]) r.roles[tid].clear();
  }
}

}  // namespace pagerace
