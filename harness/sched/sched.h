// Schedule control (DESIGN §9).
//
// Named points sit in the modeled kernel at every lock drop, reacquire and
// re-check (points.def).  SCHED_POINT(kX) costs one relaxed load while no
// policy is active.  Policies:
//   off     — pure stress, the OS schedules;
//   jitter  — at each point, with a seeded probability, yield or sleep a
//             seeded number of microseconds (KCSAN / rr-chaos style);
//   ordered — a list of dependencies "A < B": a thread reaching B first waits
//             until A has been reached.  If every participating thread is
//             blocked (on a harness lock or in an ordered wait), the waiting
//             dependency cannot be satisfied under this scheme: it is dropped
//             (counted in OrderedSkipped()) and the thread proceeds.  That is
//             what lets one forced interleaving run under a scheme whose
//             locking forbids it (the `locked` scheme holds the page lock
//             across the window that `legacy` leaves open).
//             A thread counts as blocked only while the lock bit it sleeps on
//             is still set, so a thread about to be woken is not mistaken for
//             a stuck one.  Every thread a participant can wait for must be
//             registered (RegisterThread) for the detection to be exact.
//             "Every thread blocked" rarely holds in a stress run (its monitor,
//             idle I/O and reclaim threads and the other workers go on), so
//             the policy also looks for the waiting it imposes behind a lock:
//             dependency A<B is infeasible when every thread inside A's
//             function (its last point has A's prefix, "write_cache_pages:"),
//             on its way to A, sleeps on a lock whose holder, following
//             holders from lock to lock, is a thread held at B by that same
//             dependency.  Under `locked` the fault holds the page lock at
//             do_wp_page:before_ptl_relock, so a writeback pass that must end
//             first waits for that lock forever.  The first such dependency is
//             recorded (OrderedInfeasible()) and dropped at once, before the
//             kernel-impossible wait can become a watchdog deadlock.  The
//             threads checked are those of the window's other side: inside
//             A's function, or inside the function of the point released by
//             an earlier dependency whose A lies in B's function (a derived
//             order lists "F's point < W's first point" first, "W's last point
//             < F's next point" second).  Such a pair is one window: the
//             second counts A only from when the first was passed, so a
//             writeback pass that ended before the fault opened the window
//             does not close it.
//   pct     — PCT (Burckhardt et al., ASPLOS 2010), approximated on real
//             threads: every thread gets a random priority at start; at d-1
//             step counts drawn uniformly from [1, k] the thread taking that
//             step drops to a priority below every initial one.  At each
//             point a thread waits pct_unit_us for every live, not
//             lock-blocked thread of higher priority, so higher priorities
//             run ahead.  Strict PCT (one thread running at a time) finds a
//             bug of depth d with probability >= 1/(n k^(d-1)); the result
//             states n, k, d and that bound for the strict scheduler.
//   serial  — the explorer's (serial.h): one thread at a time, each pick
//             made by a chooser; configured by its driver, not by --sched.
//
// Thread-safety: Configure/Reset require that no registered thread is running
// harness code; everything else is safe for concurrent use, including from
// the SIGSEGV handler (no allocation, errno preserved).
#ifndef PAGERACE_HARNESS_SCHED_SCHED_H_
#define PAGERACE_HARNESS_SCHED_SCHED_H_

#include <atomic>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "harness/base/sched_hooks.h"

namespace pagerace::sched {

enum Point : uint16_t {
#define X(id, name) id,
#include "harness/sched/points.def"
#undef X
  kNumPoints
};

const char* PointName(Point p);
// Looks a point up by its user-visible name.
absl::StatusOr<Point> PointByName(absl::string_view name);

// kSerial is the explorer's (serial.h): configured by its driver, never by
// --sched (PolicyByName does not accept it).
enum class Policy { kOff, kJitter, kOrdered, kPct, kSerial };
const char* PolicyName(Policy p);
absl::StatusOr<Policy> PolicyByName(absl::string_view name);

// "A<B": B waits until A has been reached.  `page` >= 0 binds A to one page:
// only A's hits at that page index count ("end_io:done@33": the completion of
// page 33's I/O, not another page's).  Only points that report a page
// (SCHED_POINT_PAGE: end_io:begin, end_io:done) can be bound; the parser
// refuses a page on any other.
struct OrderedDep {
  Point before;
  Point after;
  int32_t page = -1;
};
// Parses "A<B,C<D" (point names), A optionally "A@PAGE".
absl::StatusOr<std::vector<OrderedDep>> ParseOrderedDeps(absl::string_view spec);

struct Options {
  Policy policy = Policy::kOff;
  uint64_t seed = 1;
  // jitter: a point delays with probability 1/jitter_one_in; the delay is a
  // yield or a sleep of 1..jitter_max_us microseconds.
  uint32_t jitter_one_in = 8;
  uint32_t jitter_max_us = 50;
  std::vector<OrderedDep> deps;  // ordered
  // pct: depth d (d-1 priority changes), steps k the change points are drawn
  // from, and the wait per higher-priority thread at a point.
  uint32_t pct_depth = 3;
  uint64_t pct_steps = 20000;
  uint32_t pct_unit_us = 20;
};

struct PctStats {
  uint32_t n = 0;      // threads that took part (most alive at once)
  uint64_t k = 0;      // the step range the change points were drawn from
  uint32_t d = 0;      // depth
  uint64_t steps = 0;  // schedule points actually passed
  double bound() const;  // 1 / (n k^(d-1))
};
PctStats Pct();

void Configure(const Options& options);
void Reset();  // policy off, counters cleared
// Ends the forced schedule for the rest of the run: every ordered wait
// returns now and no later point waits.  The runner calls it when it stops
// the workers, so a thread waiting for a point that will never come (the run
// ended first) can still be joined.  Safe for concurrent use.
void Release();

// An ordered dependency the scheme's locking forbids, as the ordered policy
// found it: `blocked`, inside dep.before's function (its last point was
// `blocked_at`), sleeps on a lock (`lock_kind`/`lock_what` as in
// harness/base/lock_wait.h: a page index or an OwnedMutex*) held by `holder`;
// following holders ends at `waiter`, held at dep.after by the dependency
// (`holder == waiter` when the wait is direct).  Tids as in the registry.
struct InfeasibleDep {
  OrderedDep dep{};
  uint32_t waiter = 0;
  uint32_t blocked = 0;
  Point blocked_at{};
  uint32_t lock_kind = 0;  // LockKind
  uint64_t lock_what = 0;
  uint32_t holder = 0;
};
// The first infeasible dependency of the run, if one was found (and dropped).
// Safe for concurrent use.
bool OrderedInfeasible(InfeasibleDep* out);
// "write_cache_pages:end<do_wp_page:before_ptl_relock: writeback (at
// write_cache_pages:before_lock_page) waits for the lock of page 33, held by
// mmap0, which waits at do_wp_page:before_ptl_relock for write_cache_pages:end".
// Names threads by role (the registry keeps a role until its tid is reused:
// call it before another run registers threads).  Allocates: not for the
// SIGSEGV handler.
std::string DescribeInfeasible(const InfeasibleDep& d);

// What became of each ordered dependency, decided when a thread first
// reached its B with the dependency open: kMet (A had been reached, or was
// while B waited), kInfeasible (the scheme's locking forbids it:
// OrderedInfeasible names it), kAllBlocked (every participant was blocked
// with A unmet and no lock chain led back to B: dropped), kEnded (the run
// stopped while B waited), kUnreached (no thread reached B).
enum class DepOutcome : uint8_t { kUnreached, kMet, kInfeasible, kAllBlocked, kEnded };
const char* DepOutcomeName(DepOutcome o);  // "met", "infeasible", ...
// The run's dependencies in order with their outcomes:
// "A<B: met, C@33<D: met".  "" without the ordered policy.  Safe for
// concurrent use; allocates.
std::string DescribeOrderedOutcomes();

// Counters for reports and tests.
uint64_t Hits(Point p);
uint64_t OrderedSkipped();
// Threads now in an ordered wait whose dependency is unmet.
int OrderedWaiters();
uint64_t JitterDelays();

// "A<B" or "A@PAGE<B", as ParseOrderedDeps reads it.
std::string DepName(const OrderedDep& d);

// The calling thread retries work whose outcome only another thread can
// change (a fault that returned VM_FAULT_NOPAGE with its pte and i_size as
// they were: the retry would do the same).  Under the serial scheduler it
// waits until another participant has taken a step (SerialRun::Spin);
// under the other policies it returns at once (the other CPUs run anyway).
void SpinRetry();

namespace internal {
extern std::atomic<bool> g_enabled;
inline constexpr uint64_t kNoPage = ~0ull;
void AtPoint(Point p, uint64_t page = kNoPage);
}  // namespace internal

// Lock slow paths mark blocking with pagerace::BlockedScope (base).
using ::pagerace::BlockedScope;

}  // namespace pagerace::sched

#define SCHED_POINT(p)                                                           \
  do {                                                                           \
    if (__builtin_expect(                                                        \
            ::pagerace::sched::internal::g_enabled.load(std::memory_order_relaxed), \
            0))                                                                  \
      ::pagerace::sched::internal::AtPoint(::pagerace::sched::p);                \
  } while (0)

// SCHED_POINT for a point chosen by the caller at run time (a helper shared by
// several kernel paths fires the points of the path that called it).  Same
// cost: one relaxed load while no policy is active.
#define SCHED_POINT_AT(point)                                                    \
  do {                                                                           \
    if (__builtin_expect(                                                        \
            ::pagerace::sched::internal::g_enabled.load(std::memory_order_relaxed), \
            0))                                                                  \
      ::pagerace::sched::internal::AtPoint(point);                               \
  } while (0)

// SCHED_POINT at a point that concerns one page (its index): an ordered
// dependency bound to that page ("end_io:done@33") counts only its hits.
#define SCHED_POINT_PAGE(p, index)                                               \
  do {                                                                           \
    if (__builtin_expect(                                                        \
            ::pagerace::sched::internal::g_enabled.load(std::memory_order_relaxed), \
            0))                                                                  \
      ::pagerace::sched::internal::AtPoint(::pagerace::sched::p, (index));       \
  } while (0)

#endif  // PAGERACE_HARNESS_SCHED_SCHED_H_
