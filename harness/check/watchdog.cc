#include "harness/check/watchdog.h"

#include "absl/strings/str_cat.h"
#include "harness/base/lock_wait.h"
#include "harness/base/rwsem.h"
#include "harness/base/thread_registry.h"

namespace pagerace {

bool Watchdog::Stuck(uint64_t progress, int64_t now_ns) {
  if (!started_ || progress != mark_) {
    started_ = true;
    mark_ = progress;
    mark_at_ = now_ns;
    return false;
  }
  return now_ns - mark_at_ > limit_ns_ && !CurrentLockWaits().empty();
}

std::string DescribeLockWaits(absl::FunctionRef<uint32_t(uint64_t page)> page_lock_owner,
                              uint64_t* first_page) {
  std::string out;
  *first_page = 0;
  bool have_page = false;
  for (const LockWait& w : CurrentLockWaits()) {
    std::string what;
    uint32_t owner = 0;
    if (w.kind == LockKind::kPage) {
      what = absl::StrCat("the lock of page ", w.what);
      owner = page_lock_owner(w.what);
      if (!have_page) *first_page = w.what;
      have_page = true;
    } else if (w.kind == LockKind::kRwSem) {
      what = reinterpret_cast<const FutexRwSem*>(w.what)->name();
    } else {
      const auto* m = reinterpret_cast<const OwnedMutex*>(w.what);
      what = m->name();
      owner = m->owner();
    }
    const std::string holder = owner == kLockOwnerIo ? std::string("the write in flight (I/O)")
                               : owner                ? ThreadRole(owner)
                                                      : std::string("?");
    absl::StrAppend(&out, out.empty() ? "" : "; ", ThreadRole(w.tid), " waits for ", what,
                    " held by ", holder);
  }
  return out;
}

}  // namespace pagerace
