#include "harness/base/sched_hooks.h"

namespace pagerace {
namespace internal {
std::atomic<const SchedHooks*> g_sched_hooks{nullptr};
std::atomic<bool> g_track_blocked{false};
}  // namespace internal

void InstallSchedHooks(const SchedHooks* hooks) {
  internal::g_sched_hooks.store(hooks, std::memory_order_release);
}

void SetTrackBlocked(bool on) { internal::g_track_blocked.store(on, std::memory_order_release); }

}  // namespace pagerace
