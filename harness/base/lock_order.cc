#include "harness/base/lock_order.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "absl/strings/str_cat.h"
#include "harness/base/thread_registry.h"

namespace pagerace {
namespace {

static_assert(kNumLockClasses <= 32, "held classes are a 32-bit mask");

constexpr int Rank(LockClass c) { return static_cast<int>(c); }

// What the calling thread holds: a mask of classes, a count per class (locks
// of one class may nest, and are released in any order), and the name of the
// last lock taken in each class (for reports).  Constant-initialised POD: no
// TLS wrapper, nothing allocated.
struct HeldLocks {
  uint32_t mask;
  uint8_t count[kNumLockClasses];
  const char* name[kNumLockClasses];
};
constinit thread_local HeldLocks tls_held = {};

// The first violation of one (held, wanted) class pair: recorded once,
// allocation-free (it may happen inside the SIGSEGV handler, e.g. from
// ->page_mkwrite under `naive`), described later.  `seq` orders pairs by
// first sighting; 0 while the pair has not been seen.
struct Violation {
  std::atomic<bool> claimed{false};
  std::atomic<uint64_t> seq{0};
  std::atomic<uint32_t> tid{0};
  std::atomic<const char*> held_name{nullptr};
  std::atomic<const char*> wanted_name{nullptr};
};
Violation g_violations[kNumLockClasses][kNumLockClasses];
std::atomic<uint64_t> g_seq{0};

void RecordViolation(int held, int wanted, const char* held_name, const char* wanted_name) {
  Violation& v = g_violations[held][wanted];
  if (v.claimed.load(std::memory_order_relaxed) ||
      v.claimed.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  v.tid.store(current_thread().tid, std::memory_order_relaxed);
  v.held_name.store(held_name, std::memory_order_relaxed);
  v.wanted_name.store(wanted_name, std::memory_order_relaxed);
  v.seq.store(g_seq.fetch_add(1, std::memory_order_relaxed) + 1, std::memory_order_release);
}

// Rare path: the thread holds classes ranked at or after the one it wants.
void CheckSlow(uint32_t bad, int wanted, const char* wanted_name) {
  HeldLocks& h = tls_held;
  for (int held = 0; held < kNumLockClasses; ++held) {
    if (bad & (1u << held)) RecordViolation(held, wanted, h.name[held], wanted_name);
  }
}

}  // namespace

const char* LockClassName(LockClass c) {
  switch (c) {
    case LockClass::kMmapSem:
      return "mmap_sem";
    case LockClass::kInvalidateLock:
      return "invalidate_lock";
    case LockClass::kFsLevel:
      return "fs-level lock";
    case LockClass::kPageLock:
      return "page lock";
    case LockClass::kSnapRwsem:
      return "snap_rwsem";
    case LockClass::kPtl:
      return "pte lock";
    case LockClass::kInodeLock:
      return "fs inode lock";
    case LockClass::kTreeLock:
      return "dirty tag lock";
    case LockClass::kStore:
      return "backing store lock";
    case LockClass::kIoQueue:
      return "I/O queue lock";
    case LockClass::kPagePool:
      return "page pool lock";
    case LockClass::kOracle:
      return "oracle table lock";
    case LockClass::kThreadRegistry:
      return "thread registry lock";
    case LockClass::kStaleTail:
      return "stale tail record lock";
  }
  return "?";
}

void LockOrderAcquire(LockClass c, const char* name) {
  HeldLocks& h = tls_held;
  const int r = Rank(c);
  const uint32_t bit = 1u << r;
  // Held classes that rank after c, and c itself unless it nests.
  uint32_t bad = h.mask & ~(bit - 1);
  if (LockClassNests(c)) bad &= ~bit;
  if (bad) [[unlikely]] CheckSlow(bad, r, name);
  h.mask |= bit;
  ++h.count[r];
  h.name[r] = name;
}

void LockOrderTryAcquired(LockClass c, const char* name) {
  HeldLocks& h = tls_held;
  const int r = Rank(c);
  h.mask |= 1u << r;
  ++h.count[r];
  h.name[r] = name;
}

void LockOrderRelease(LockClass c) {
  HeldLocks& h = tls_held;
  const int r = Rank(c);
  if (h.count[r] == 0) return;  // taken before the record was (re)started
  if (--h.count[r] == 0) h.mask &= ~(1u << r);
}

bool LockOrderHeld(LockClass c) { return tls_held.mask & (1u << Rank(c)); }

std::string LockOrderInversion() {
  struct Seen {
    uint64_t seq;
    int held, wanted;
  };
  std::vector<Seen> seen;
  for (int held = 0; held < kNumLockClasses; ++held) {
    for (int wanted = 0; wanted < kNumLockClasses; ++wanted) {
      const uint64_t seq = g_violations[held][wanted].seq.load(std::memory_order_acquire);
      if (seq != 0) seen.push_back({seq, held, wanted});
    }
  }
  if (seen.empty()) return "";
  std::sort(seen.begin(), seen.end(), [](const Seen& a, const Seen& b) { return a.seq < b.seq; });
  auto cls = [](int r) { return LockClassName(static_cast<LockClass>(r)); };
  auto lock = [](const char* name, int r) {
    return absl::StrCat("'", name ? name : "?", "' (", LockClassName(static_cast<LockClass>(r)),
                        ")");
  };
  const Seen& first = seen.front();
  const Violation& v = g_violations[first.held][first.wanted];
  std::string out = absl::StrCat(
      lock(v.wanted_name.load(std::memory_order_relaxed), first.wanted), " taken by ",
      ThreadRole(v.tid.load(std::memory_order_relaxed)), " while holding ",
      lock(v.held_name.load(std::memory_order_relaxed), first.held),
      first.held == first.wanted ? ": this class does not nest with itself"
                                 : absl::StrCat(": lock_order.h puts the ", cls(first.wanted),
                                                " outside the ", cls(first.held)));
  for (size_t i = 1; i < seen.size(); ++i) {
    absl::StrAppend(&out, i == 1 ? "; also " : ", ", cls(seen[i].wanted), " under ",
                    cls(seen[i].held));
  }
  return out;
}

void ResetLockOrder() {
  for (auto& row : g_violations) {
    for (Violation& v : row) {
      v.seq.store(0, std::memory_order_relaxed);
      v.claimed.store(false, std::memory_order_release);
    }
  }
}

}  // namespace pagerace
