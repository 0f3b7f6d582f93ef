#include "harness/base/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "harness/base/sched_hooks.h"

namespace pagerace {

// errno is saved because these run inside the SIGSEGV handler.
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected) {
  int saved = errno;
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected,
          nullptr, nullptr, 0);
  errno = saved;
}

void futex_wait_for(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns) {
  int saved = errno;
  struct timespec ts;
  ts.tv_sec = timeout_ns / 1000000000;
  ts.tv_nsec = timeout_ns % 1000000000;
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, &ts,
          nullptr, 0);
  errno = saved;
}

void futex_wake(std::atomic<uint32_t>* word, int count) {
  int saved = errno;
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, count, nullptr,
          nullptr, 0);
  errno = saved;
}

void FutexMutex::LockSlow(uint32_t c) {
  BlockedScope blocked(word_.raw());
  if (c != 2) c = word_.exchange(2, std::memory_order_acquire);
  while (c != 0) {
    futex_wait(word_.raw(), 2);
    c = word_.exchange(2, std::memory_order_acquire);
  }
}

}  // namespace pagerace
