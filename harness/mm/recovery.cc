#include "harness/mm/recovery.h"

#include <atomic>

namespace pagerace {
namespace {
thread_local RecoveryPoint tls_recovery;
}  // namespace

RecoveryPoint& current_recovery_point() { return tls_recovery; }

// noinline: the sigsetjmp frame must be this function's own, and nothing
// the caller keeps in registers may be clobbered by the jump.
__attribute__((noinline)) bool guarded_store(uint64_t* addr, uint64_t value) {
  RecoveryPoint& rp = tls_recovery;
  if (sigsetjmp(rp.env, 0) != 0) {
    rp.armed = false;
    return false;
  }
  rp.armed = true;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  __atomic_store_n(addr, value, __ATOMIC_RELAXED);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  rp.armed = false;
  return true;
}

__attribute__((noinline)) bool guarded_load(const uint64_t* addr, uint64_t* value) {
  RecoveryPoint& rp = tls_recovery;
  if (sigsetjmp(rp.env, 0) != 0) {
    rp.armed = false;
    return false;
  }
  rp.armed = true;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  *value = __atomic_load_n(addr, __ATOMIC_RELAXED);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  rp.armed = false;
  return true;
}

void recover_from_failed_fault() {
  RecoveryPoint& rp = tls_recovery;
  if (rp.armed) siglongjmp(rp.env, 1);
}

}  // namespace pagerace
