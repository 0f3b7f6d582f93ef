#include "harness/sched/sched.h"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "harness/base/futex.h"
#include "harness/base/rwsem.h"
#include "harness/base/lock_wait.h"
#include "harness/base/rng.h"
#include "harness/base/thread_registry.h"
#include "harness/sched/serial.h"

namespace pagerace::sched {
namespace internal {
std::atomic<bool> g_enabled{false};
}  // namespace internal

namespace {

constexpr const char* kPointNames[] = {
#define X(id, name) name,
#include "harness/sched/points.def"
#undef X
};

constexpr int kMaxDeps = 64;

// A policy parameter: written by Configure(), read by any registered thread.
// Atomic, because a thread may start (and seed its generator, OnThreadStart)
// or reach a point while another configures the next run: a test's I/O
// thread started before the test configures the ordered policy, for one.
// Relaxed: each value is read on its own; a reader that needs the whole
// configuration synchronises with g_enabled / g_num_deps (release in
// Configure, acquire in the points).
template <typename T>
class Param {
 public:
  constexpr explicit Param(T v) : v_(v) {}
  Param() : v_(T{}) {}
  operator T() const { return v_.load(std::memory_order_relaxed); }
  Param& operator=(T v) {
    v_.store(v, std::memory_order_relaxed);
    return *this;
  }
  T get() const { return *this; }

 private:
  std::atomic<T> v_;
};

std::atomic<Policy> g_policy{Policy::kOff};
Param<uint64_t> g_seed{1};
Param<uint32_t> g_jitter_one_in{8};
Param<uint32_t> g_jitter_max_us{50};
std::atomic<int> g_num_deps{0};
Param<OrderedDep> g_deps[kMaxDeps];

// Shared counters: atomics.
std::array<std::atomic<uint64_t>, kNumPoints> g_hits;
std::atomic<uint64_t> g_skipped{0};
std::atomic<uint64_t> g_delays{0};
std::array<std::atomic<bool>, kMaxDeps> g_dep_done;
// Each dependency's DepOutcome: the first decided wins (kUnreached until).
std::array<std::atomic<uint8_t>, kMaxDeps> g_dep_outcome;
// Dependency i is met once A has been reached more than g_dep_base[i] times:
// 0 from the start, or A's count when its window opened (Met()).  A
// dependency bound to a page counts A's hits at that page (g_dep_hits).
std::array<std::atomic<uint64_t>, kMaxDeps> g_dep_base;
std::array<std::atomic<uint64_t>, kMaxDeps> g_dep_hits;
// Ordered bookkeeping.  `g_gen` is the futex word waiters sleep on; every
// change to the counts below bumps it and wakes them.
std::atomic<int> g_participants{0};
// What each registered thread (by tid) is blocked on: the futex word and the
// bits that keep it blocked; kJoining for "blocked regardless".
// `owner`: the lock's holder tid word, when the lock records one.
struct BlockedOn {
  std::atomic<const std::atomic<uint32_t>*> word{nullptr};
  std::atomic<uint32_t> mask{0};
  std::atomic<const std::atomic<uint32_t>*> owner{nullptr};
};
const std::atomic<uint32_t> kJoining{~0u};
std::array<BlockedOn, kMaxThreads + 1> g_blocked_on;
// The dependency each thread waits for in OrderedWait, plus one (0: none).
std::array<std::atomic<int>, kMaxThreads + 1> g_wait_dep;
std::atomic<uint32_t> g_gen{0};
std::atomic<bool> g_released{false};  // Release(): ordered waits return
// The last point each registered thread (by tid) reached (kNumPoints: none
// yet), and each point's function: the index of the first point with the
// same "function:" prefix (written by Configure).
std::array<std::atomic<uint16_t>, kMaxThreads + 1> g_last_point;
Param<uint16_t> g_point_fn[kNumPoints];
// The first infeasible dependency: claimed by one waiter, its fields written
// by that waiter, then published by g_infeasible_ready (release); read only
// after an acquire load of it.
std::atomic<bool> g_infeasible_claimed{false};
std::atomic<bool> g_infeasible_ready{false};
InfeasibleDep g_infeasible;

thread_local Rng tls_rng;

// PCT state.  Priorities by tid; change points fixed at Configure.
constexpr int kMaxPctChanges = 16;
Param<uint32_t> g_pct_depth{3};
Param<uint64_t> g_pct_steps{20000};
Param<uint32_t> g_pct_unit_us{20};
Param<uint64_t> g_change_at[kMaxPctChanges];
std::atomic<uint64_t> g_steps{0};
std::atomic<uint32_t> g_max_live{0};
std::atomic<uint32_t> g_live_now{0};
std::array<std::atomic<int64_t>, kMaxThreads + 1> g_prio;
std::array<std::atomic<bool>, kMaxThreads + 1> g_live;

void Bump() {
  g_gen.fetch_add(1, std::memory_order_acq_rel);
  futex_wake_all(&g_gen);
}

void Jitter() {
  Rng& rng = tls_rng;
  if (rng.Below(g_jitter_one_in) != 0) return;
  g_delays.fetch_add(1, std::memory_order_relaxed);
  if (rng.Below(2) == 0) {
    sched_yield();
    return;
  }
  int saved = errno;
  struct timespec ts = {0, static_cast<long>(1 + rng.Below(g_jitter_max_us)) * 1000};
  nanosleep(&ts, nullptr);
  errno = saved;
}

// How often dependency i's A has been reached: at its page, when bound to one.
uint64_t ACount(int i) {
  const OrderedDep d = g_deps[i];
  return d.page >= 0 ? g_dep_hits[i].load(std::memory_order_acquire)
                     : g_hits[d.before].load(std::memory_order_acquire);
}

// Whether dependency i's A point has been reached (since its window opened).
bool Met(int i) { return ACount(i) > g_dep_base[i].load(std::memory_order_acquire); }

// Threads in an ordered wait whose dependency is still unmet (one whose
// dependency was met but that has not run yet is not stuck).
int StuckWaiters() {
  int n = 0;
  for (const auto& d : g_wait_dep) {
    const int i = d.load(std::memory_order_acquire) - 1;
    if (i >= 0 && !Met(i)) ++n;
  }
  return n;
}

// Threads sleeping on a lock bit that is still set.
int TrulyBlocked() {
  int n = 0;
  for (const BlockedOn& b : g_blocked_on) {
    const std::atomic<uint32_t>* w = b.word.load(std::memory_order_acquire);
    if (w && (w->load(std::memory_order_acquire) & b.mask.load(std::memory_order_acquire))) ++n;
  }
  return n;
}

bool LockBlocked(uint32_t tid) {
  const BlockedOn& b = g_blocked_on[tid];
  const std::atomic<uint32_t>* w = b.word.load(std::memory_order_acquire);
  return w && (w->load(std::memory_order_acquire) & b.mask.load(std::memory_order_acquire));
}

// The dependency `tid` is held by (in an ordered wait whose A is unmet), or -1.
int HeldAt(uint32_t tid) {
  const int i = g_wait_dep[tid].load(std::memory_order_acquire) - 1;
  if (i < 0 || g_dep_done[i].load(std::memory_order_acquire) || Met(i)) {
    return -1;
  }
  return i;
}

// The holder of the lock `tid` sleeps on, while it sleeps on one whose bit is
// still set and that records its holder (a page lock); 0 otherwise (running,
// not a lock, no holder known, or handed to the I/O).
uint32_t LockHolder(uint32_t tid) {
  const BlockedOn& b = g_blocked_on[tid];
  const std::atomic<uint32_t>* w = b.word.load(std::memory_order_acquire);
  const std::atomic<uint32_t>* owner = b.owner.load(std::memory_order_acquire);
  if (!w || w == &kJoining || !owner) return 0;
  if (!(w->load(std::memory_order_acquire) & b.mask.load(std::memory_order_acquire))) return 0;
  const uint32_t h = owner->load(std::memory_order_acquire);
  return h >= 1 && h <= static_cast<uint32_t>(kMaxThreads) ? h : 0;
}

// Whether thread `t` is on the other side of dependency i's window: inside
// A's function (on its way to A), or inside the function of the point a
// partner dependency released (the window's opening: a derived order lists
// "F's point < W's first point" before "W's last point < F's next point",
// F's two points in one function).
bool InWindow(int i, uint32_t t) {
  const uint16_t last = g_last_point[t].load(std::memory_order_acquire);
  if (last >= kNumPoints) return false;
  const uint16_t fn = g_point_fn[last];
  if (fn == g_point_fn[g_deps[i].get().before]) return true;
  const int ndeps = g_num_deps.load(std::memory_order_acquire);
  for (int j = 0; j < i && j < ndeps; ++j) {
    if (g_point_fn[g_deps[j].get().before] == g_point_fn[g_deps[i].get().after] &&
        g_point_fn[g_deps[j].get().after] == fn) {
      return true;
    }
  }
  return false;
}

// Whether dependency i's own waiting forbids its window: a thread of the
// window's other side (InWindow) sleeps on a lock whose holder chain, lock by
// lock, ends at a thread held at B by dependency i.  That thread cannot do
// its part inside the window while the window is held open, whatever other
// threads may still do (an unrelated I/O completion may reach A, but not the
// one the window is for).  Threads held by a dependency themselves are left
// out.  Fills `out` with the first such chain.  Allocation-free: it runs
// inside the SIGSEGV handler.
bool FindInfeasible(int i, InfeasibleDep* out) {
  for (uint32_t t = 1; t <= static_cast<uint32_t>(kMaxThreads); ++t) {
    if (HeldAt(t) >= 0 || !InWindow(i, t)) continue;
    const uint32_t holder = LockHolder(t);
    uint32_t cur = holder;
    // A chain longer than the thread count has a cycle that does not pass a
    // waiter of dependency i: not this dependency's doing.
    for (int hops = 0; cur != 0 && HeldAt(cur) != i && hops < kMaxThreads; ++hops) {
      cur = HeldAt(cur) >= 0 ? 0 : LockHolder(cur);
    }
    if (cur == 0 || HeldAt(cur) != i) continue;
    LockWait w{};
    LockWaitOf(t, &w);
    *out = {g_deps[i].get(), cur, t, static_cast<Point>(g_last_point[t].load(std::memory_order_acquire)),
            static_cast<uint32_t>(w.kind), w.what, holder};
    return true;
  }
  return false;
}

void RecordInfeasible(const InfeasibleDep& d) {
  if (g_infeasible_claimed.exchange(true, std::memory_order_acq_rel)) return;
  g_infeasible = d;
  g_infeasible_ready.store(true, std::memory_order_release);
}

void PctPoint() {
  const uint32_t tid = current_thread().tid;
  if (tid == 0 || tid > static_cast<uint32_t>(kMaxThreads)) return;
  const uint64_t step = g_steps.fetch_add(1, std::memory_order_relaxed) + 1;
  for (uint32_t i = 0; i + 1 < g_pct_depth && i < kMaxPctChanges; ++i) {
    // The i-th change drops the thread below every initial priority (which
    // are >= d), later changes lower still.
    if (step == g_change_at[i]) g_prio[tid].store(g_pct_depth.get() - 1 - i, std::memory_order_relaxed);
  }
  const int64_t mine = g_prio[tid].load(std::memory_order_relaxed);
  uint32_t higher = 0;
  for (uint32_t t = 1; t <= static_cast<uint32_t>(kMaxThreads); ++t) {
    if (t == tid || !g_live[t].load(std::memory_order_relaxed)) continue;
    const int64_t p = g_prio[t].load(std::memory_order_relaxed);
    if ((p > mine || (p == mine && t < tid)) && !LockBlocked(t)) ++higher;
  }
  if (higher == 0) return;
  const int saved = errno;
  struct timespec ts = {0, static_cast<long>(higher * g_pct_unit_us) * 1000};
  nanosleep(&ts, nullptr);
  errno = saved;
}

// Dependency j ("F's point < W's first point") has just been passed: the
// window it opens is closed by its partners ("W's last point < F's next
// point", F's points in one function), which count W's last point from now
// on (partners listed after it, as DeriveOrder writes them).  A derived
// order is one window: a writeback pass that ended before the
// fault opened it is not the pass the window is for.
void OpenWindow(int j) {
  const int ndeps = g_num_deps.load(std::memory_order_acquire);
  for (int i = 0; i < ndeps; ++i) {
    if (i <= j || g_dep_done[i].load(std::memory_order_acquire) ||
        g_point_fn[g_deps[i].get().after] != g_point_fn[g_deps[j].get().before]) {
      continue;
    }
    g_dep_base[i].store(ACount(i), std::memory_order_release);
  }
}

void Decide(int i, DepOutcome o) {
  uint8_t unreached = static_cast<uint8_t>(DepOutcome::kUnreached);
  g_dep_outcome[i].compare_exchange_strong(unreached, static_cast<uint8_t>(o),
                                           std::memory_order_acq_rel);
}

void OrderedWait(Point p) {
  const int ndeps = g_num_deps.load(std::memory_order_acquire);
  for (int i = 0; i < ndeps; ++i) {
    if (g_deps[i].get().after != p || g_dep_done[i].load(std::memory_order_acquire)) continue;
    if (g_released.load(std::memory_order_acquire)) return;
    const uint32_t tid = current_thread().tid;
    if (tid != 0) g_wait_dep[tid].store(i + 1, std::memory_order_release);
    Bump();
    for (;;) {
      uint32_t gen = g_gen.load(std::memory_order_acquire);
      if (Met(i)) {
        Decide(i, DepOutcome::kMet);
        break;
      }
      if (g_released.load(std::memory_order_acquire)) {
        Decide(i, DepOutcome::kEnded);
        break;
      }
      if (g_dep_done[i].load(std::memory_order_acquire)) break;  // dropped by another waiter
      InfeasibleDep inf;
      if (FindInfeasible(i, &inf)) {
        Decide(i, DepOutcome::kInfeasible);
        RecordInfeasible(inf);
        g_skipped.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      if (TrulyBlocked() + StuckWaiters() >=
          g_participants.load(std::memory_order_acquire)) {
        Decide(i, DepOutcome::kAllBlocked);
        g_skipped.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      futex_wait(&g_gen, gen);
    }
    if (!g_dep_done[i].exchange(true, std::memory_order_acq_rel)) OpenWindow(i);
    if (tid != 0) g_wait_dep[tid].store(0, std::memory_order_release);
    Bump();
  }
}

}  // namespace

void SpinRetry() {
  if (g_policy.load(std::memory_order_relaxed) != Policy::kSerial) return;
  if (SerialRun* run = internal::CurrentSerialRun()) run->Spin();
}

namespace internal {

void AtPoint(Point p, uint64_t page) {
  const Policy policy = g_policy.load(std::memory_order_relaxed);
  if (policy == Policy::kOrdered) {
    const uint32_t tid = current_thread().tid;
    if (tid >= 1 && tid <= static_cast<uint32_t>(kMaxThreads)) {
      g_last_point[tid].store(p, std::memory_order_release);
    }
  }
  switch (policy) {
    case Policy::kOff:
      break;
    case Policy::kJitter:
      Jitter();
      break;
    case Policy::kOrdered:
      OrderedWait(p);
      break;
    case Policy::kPct:
      PctPoint();
      break;
    case Policy::kSerial:
      if (SerialRun* run = CurrentSerialRun()) run->AtPoint(p);
      break;
  }
  if (policy == Policy::kOrdered && page != kNoPage) {
    const int ndeps = g_num_deps.load(std::memory_order_acquire);
    for (int i = 0; i < ndeps; ++i) {
      const OrderedDep d = g_deps[i];
      if (d.before == p && d.page >= 0 && static_cast<uint64_t>(d.page) == page) {
        g_dep_hits[i].fetch_add(1, std::memory_order_acq_rel);
      }
    }
  }
  g_hits[p].fetch_add(1, std::memory_order_acq_rel);
  if (policy == Policy::kOrdered) Bump();
}

void NoteBlocked(const std::atomic<uint32_t>* word, uint32_t mask,
                 const std::atomic<uint32_t>* owner) {
  if (g_policy.load(std::memory_order_relaxed) == Policy::kSerial) {
    // The thread sleeps on the run token until its lock bit is clear.
    if (SerialRun* run = CurrentSerialRun()) run->Blocked(word, mask);
    return;
  }
  const uint32_t tid = current_thread().tid;
  if (tid == 0) return;  // not a participant
  BlockedOn& b = g_blocked_on[tid];
  b.mask.store(mask, std::memory_order_release);
  b.owner.store(owner, std::memory_order_release);
  b.word.store(word ? word : &kJoining, std::memory_order_release);
  Bump();
}

void NoteLockTaken(const std::atomic<uint32_t>* word, uint32_t mask, bool to_io) {
  if (g_policy.load(std::memory_order_relaxed) != Policy::kSerial) return;
  if (SerialRun* run = CurrentSerialRun()) run->LockTaken(word, mask, to_io);
}

void NoteUnblocked() {
  if (g_policy.load(std::memory_order_relaxed) == Policy::kSerial) return;
  const uint32_t tid = current_thread().tid;
  if (tid == 0) return;
  g_blocked_on[tid].word.store(nullptr, std::memory_order_release);
  Bump();
}

}  // namespace internal

const char* PointName(Point p) { return p < kNumPoints ? kPointNames[p] : "?"; }

absl::StatusOr<Point> PointByName(absl::string_view name) {
  for (int i = 0; i < kNumPoints; ++i) {
    if (name == kPointNames[i]) return static_cast<Point>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown schedule point '", name, "'"));
}

const char* PolicyName(Policy p) {
  switch (p) {
    case Policy::kOff: return "off";
    case Policy::kJitter: return "jitter";
    case Policy::kOrdered: return "ordered";
    case Policy::kPct: return "pct";
    case Policy::kSerial: return "serial";
  }
  return "?";
}

absl::StatusOr<Policy> PolicyByName(absl::string_view name) {
  if (name == "off") return Policy::kOff;
  if (name == "jitter") return Policy::kJitter;
  if (name == "ordered") return Policy::kOrdered;
  if (name == "pct") return Policy::kPct;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown schedule policy '", name, "' (want off|jitter|ordered|pct)"));
}

absl::StatusOr<std::vector<OrderedDep>> ParseOrderedDeps(absl::string_view spec) {
  std::vector<OrderedDep> deps;
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    std::vector<absl::string_view> ab = absl::StrSplit(item, '<');
    if (ab.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat("bad dependency '", item, "' (want A<B)"));
    }
    absl::string_view a_name = absl::StripAsciiWhitespace(ab[0]);
    int32_t page = -1;
    if (auto at = a_name.find('@'); at != absl::string_view::npos) {
      if (!absl::SimpleAtoi(a_name.substr(at + 1), &page) || page < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad page in dependency '", item, "' (want A@PAGE<B, PAGE a page index)"));
      }
      a_name = a_name.substr(0, at);
    }
    auto a = PointByName(a_name);
    if (!a.ok()) return a.status();
    // Only the points that report their page (SCHED_POINT_PAGE) can be bound.
    if (page >= 0 && *a != kEndIoBegin && *a != kEndIoDone) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dependency '", item, "': ", a_name, " reports no page (only end_io:begin and end_io:done take @PAGE)"));
    }
    auto b = PointByName(absl::StripAsciiWhitespace(ab[1]));
    if (!b.ok()) return b.status();
    deps.push_back({*a, *b, page});
  }
  if (deps.size() > kMaxDeps) return absl::InvalidArgumentError("too many ordered dependencies");
  return deps;
}

void Configure(const Options& options) {
  Reset();
  g_policy.store(options.policy, std::memory_order_release);
  g_seed = options.seed;
  g_jitter_one_in = options.jitter_one_in ? options.jitter_one_in : 1;
  g_jitter_max_us = options.jitter_max_us ? options.jitter_max_us : 1;
  const int ndeps = static_cast<int>(std::min<size_t>(options.deps.size(), kMaxDeps));
  for (int i = 0; i < ndeps; ++i) g_deps[i] = options.deps[i];
  g_num_deps.store(ndeps, std::memory_order_release);
  for (int p = 0; p < kNumPoints; ++p) {
    const absl::string_view name = kPointNames[p];
    const absl::string_view fn = name.substr(0, name.find(':'));
    g_point_fn[p] = static_cast<uint16_t>(p);
    for (int q = 0; q < p; ++q) {
      if (absl::string_view(kPointNames[q]).substr(0, absl::string_view(kPointNames[q]).find(':')) ==
          fn) {
        g_point_fn[p] = static_cast<uint16_t>(q);
        break;
      }
    }
  }
  g_pct_depth = std::clamp<uint32_t>(options.pct_depth, 1, kMaxPctChanges + 1);
  g_pct_steps = std::max<uint64_t>(1, options.pct_steps);
  g_pct_unit_us = options.pct_unit_us;
  uint64_t pct_seed = options.seed ^ 0x9c7ULL;
  Rng rng(splitmix64(pct_seed));
  for (uint32_t i = 0; i + 1 < g_pct_depth; ++i) g_change_at[i] = 1 + rng.Below(g_pct_steps);
  // Lock-blocked tracking serves ordered (drop detection) and pct (a thread
  // asleep on a lock does not hold others back).
  // serial: a blocking thread hands the run token on.
  SetTrackBlocked(options.policy == Policy::kOrdered || options.policy == Policy::kPct ||
                  options.policy == Policy::kSerial);
  internal::g_enabled.store(options.policy != Policy::kOff, std::memory_order_release);
}

void Release() {
  g_released.store(true, std::memory_order_release);
  Bump();
}

void Reset() {
  g_released.store(false, std::memory_order_release);
  internal::g_enabled.store(false, std::memory_order_release);
  SetTrackBlocked(false);
  g_policy.store(Policy::kOff, std::memory_order_release);
  g_num_deps.store(0, std::memory_order_release);
  for (auto& h : g_hits) h.store(0, std::memory_order_relaxed);
  for (auto& d : g_dep_done) d.store(false, std::memory_order_relaxed);
  for (auto& o : g_dep_outcome) o.store(0, std::memory_order_relaxed);
  for (auto& b : g_dep_base) b.store(0, std::memory_order_relaxed);
  for (auto& h : g_dep_hits) h.store(0, std::memory_order_relaxed);
  for (auto& l : g_last_point) l.store(kNumPoints, std::memory_order_relaxed);
  g_infeasible_ready.store(false, std::memory_order_relaxed);
  g_infeasible_claimed.store(false, std::memory_order_relaxed);
  g_skipped.store(0);
  g_delays.store(0);
  g_steps.store(0);
  g_max_live.store(g_live_now.load());
}

double PctStats::bound() const {
  if (n == 0 || k == 0 || d == 0) return 0;
  return 1.0 / (static_cast<double>(n) * std::pow(static_cast<double>(k), d - 1.0));
}

PctStats Pct() {
  PctStats s;
  s.n = g_max_live.load();
  s.k = g_pct_steps;
  s.d = g_pct_depth;
  s.steps = g_steps.load();
  return s;
}

uint64_t Hits(Point p) { return g_hits[p].load(std::memory_order_acquire); }

const char* DepOutcomeName(DepOutcome o) {
  switch (o) {
    case DepOutcome::kUnreached: return "unreached";
    case DepOutcome::kMet: return "met";
    case DepOutcome::kInfeasible: return "infeasible";
    case DepOutcome::kAllBlocked: return "dropped (every thread blocked)";
    case DepOutcome::kEnded: return "ended (the run stopped while it waited)";
  }
  return "?";
}

std::string DescribeOrderedOutcomes() {
  if (g_policy.load(std::memory_order_acquire) != Policy::kOrdered) return "";
  std::string out;
  const int ndeps = g_num_deps.load(std::memory_order_acquire);
  for (int i = 0; i < ndeps; ++i) {
    const auto o = static_cast<DepOutcome>(g_dep_outcome[i].load(std::memory_order_acquire));
    absl::StrAppend(&out, i ? ", " : "", DepName(g_deps[i]), ": ", DepOutcomeName(o));
  }
  return out;
}

bool OrderedInfeasible(InfeasibleDep* out) {
  if (!g_infeasible_ready.load(std::memory_order_acquire)) return false;
  *out = g_infeasible;
  return true;
}

std::string DescribeInfeasible(const InfeasibleDep& d) {
  std::string lock;
  switch (static_cast<LockKind>(d.lock_kind)) {
    case LockKind::kPage:
      lock = absl::StrCat("the lock of page ", d.lock_what);
      break;
    case LockKind::kFsLock:
      lock = reinterpret_cast<const OwnedMutex*>(d.lock_what)->name();
      break;
    case LockKind::kRwSem:
      lock = reinterpret_cast<const FutexRwSem*>(d.lock_what)->name();
      break;
    case LockKind::kNone:
      lock = "a lock";
      break;
  }
  std::string out = absl::StrCat(DepName(d.dep), ": ",
                                 ThreadRole(d.blocked), " (at ", PointName(d.blocked_at),
                                 ") waits for ", lock, ", held by ", ThreadRole(d.holder));
  if (d.holder != d.waiter) absl::StrAppend(&out, ", which waits (lock by lock) on ", ThreadRole(d.waiter));
  absl::StrAppend(&out, ", which waits at ", PointName(d.dep.after), " for ",
                  PointName(d.dep.before));
  if (d.dep.page >= 0) absl::StrAppend(&out, " of page ", d.dep.page);
  return out;
}

std::string DepName(const OrderedDep& d) {
  std::string a = PointName(d.before);
  if (d.page >= 0) absl::StrAppend(&a, "@", d.page);
  return absl::StrCat(a, "<", PointName(d.after));
}
uint64_t OrderedSkipped() { return g_skipped.load(); }
int OrderedWaiters() { return StuckWaiters(); }
uint64_t JitterDelays() { return g_delays.load(); }

namespace {

void OnThreadStart(uint32_t tid) {
  uint64_t s = g_seed * 0x100000001b3ULL + tid;
  tls_rng.Seed(splitmix64(s));
  if (tid >= 1 && tid <= static_cast<uint32_t>(kMaxThreads)) {
    // Initial PCT priorities: distinct-ish random values, all >= d.
    uint64_t p = s ^ 0x5ca1ab1eULL;
    g_prio[tid].store(static_cast<int64_t>(g_pct_depth) +
                          static_cast<int64_t>(splitmix64(p) % 1000000),
                      std::memory_order_relaxed);
    g_live[tid].store(true, std::memory_order_relaxed);
    const uint32_t live = g_live_now.fetch_add(1) + 1;
    uint32_t m = g_max_live.load();
    while (live > m && !g_max_live.compare_exchange_weak(m, live)) {
    }
  }
  if (tid >= 1 && tid <= static_cast<uint32_t>(kMaxThreads)) {
    g_last_point[tid].store(kNumPoints, std::memory_order_release);
  }
  g_participants.fetch_add(1, std::memory_order_acq_rel);
  Bump();
}

void OnThreadExit() {
  const uint32_t tid = current_thread().tid;
  if (tid >= 1 && tid <= static_cast<uint32_t>(kMaxThreads)) {
    g_last_point[tid].store(kNumPoints, std::memory_order_release);
  }
  if (tid >= 1 && tid <= static_cast<uint32_t>(kMaxThreads) && g_live[tid].exchange(false)) {
    g_live_now.fetch_sub(1);
  }
  g_participants.fetch_sub(1, std::memory_order_acq_rel);
  Bump();
}

// The primitives below the scheduler (thread registry, lock slow paths)
// reach it through this table, installed before main().
const SchedHooks kHooks = {OnThreadStart, OnThreadExit, internal::NoteBlocked,
                           internal::NoteUnblocked, internal::NoteLockTaken};
[[maybe_unused]] const bool kHooksInstalled = (InstallSchedHooks(&kHooks), true);

}  // namespace

}  // namespace pagerace::sched
