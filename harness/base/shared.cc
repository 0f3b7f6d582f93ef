#include "harness/base/shared.h"

namespace pagerace {
namespace shared_internal {
std::atomic<AccessRecorder*> g_recorder{nullptr};
std::atomic<uint32_t> g_next_id{0};
std::atomic<uint32_t> g_hidden_kinds{0};
}  // namespace shared_internal

void SetAccessRecorder(AccessRecorder* recorder) {
  shared_internal::g_recorder.store(recorder, std::memory_order_release);
}

void ResetSharedIds() { shared_internal::g_next_id.store(0, std::memory_order_relaxed); }

void HideSharedKind(SharedKind kind, bool hidden) {
  const uint32_t bit = 1u << static_cast<int>(kind);
  if (hidden) {
    shared_internal::g_hidden_kinds.fetch_or(bit, std::memory_order_relaxed);
  } else {
    shared_internal::g_hidden_kinds.fetch_and(~bit, std::memory_order_relaxed);
  }
}

}  // namespace pagerace
