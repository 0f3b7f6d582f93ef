// Seeded choosers for the explorer's sampling strategies (DESIGN §9, issue
// 11): a uniform random walk and strict PCT.  Everything a run needs is drawn
// before it starts (or from fixed-size state), so Pick neither allocates nor
// locks: it runs with the run token held, possibly inside the SIGSEGV handler.
//
// Thread-safety: a chooser is used by one run; Pick is called only by the
// thread holding that run's token (the token's release/acquire orders the
// calls), everything else before the run starts or after it ends.
#ifndef PAGERACE_HARNESS_SCHED_CHOOSERS_H_
#define PAGERACE_HARNESS_SCHED_CHOOSERS_H_

#include <cstddef>
#include <cstdint>

#include "harness/base/rng.h"
#include "harness/sched/serial.h"

namespace pagerace::sched {

// At every choice, one of the runnable threads, uniformly.
class RandomChooser : public SerialChooser {
 public:
  explicit RandomChooser(uint64_t seed) : rng_(seed) {}
  int Pick(size_t index, uint32_t runnable, int current, bool current_can_run) override;

 private:
  Rng rng_;  // the token holder's
};

inline constexpr int kMaxPctDepth = 16;

// PCT's parameters and its guarantee: one run finds a bug of depth d with
// probability at least 1 / (n k^(d-1)).
struct PctParams {
  int n = 0;       // threads
  uint64_t k = 0;  // steps the change points are drawn from (1..k)
  int d = 0;       // depth: d-1 priority change points
  double bound() const;
};

// Strict PCT (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010,
// "A Randomized Scheduler with Probabilistic Guarantees of Finding Bugs"):
// the n threads get the initial priorities d, d+1, ..., d+n-1 in a random
// order; d-1 change points k_1..k_{d-1} are drawn from the steps 1..k; at
// every step the highest-priority runnable thread runs, and when step k_i has
// been taken the thread that took it drops to priority i (below every
// initial one).
//
// What a step is.  The serial scheduler asks a chooser only at a *choice*
// (two or more threads can run); a point where one thread can run is forced
// and not recorded.  Steps here are the stretches of execution between two
// choices: step s starts with the pick at choice s-1 and ends at choice s,
// where the thread running then (`current`) is the one that took it.  PCT
// runs on this coarser program unchanged: at a forced point the
// highest-priority runnable thread is the only one, so PCT would pick it
// too, and no scheduler can place a switch there.  The guarantee therefore
// holds for bugs whose depth is counted in these steps, with k the number of
// choices a run makes: a bug of depth d needs d-1 orderings between steps,
// each met by one change point landing on one step (p >= 1/k each, the
// points being distinct), and the right thread first (p >= 1/n).  A stretch
// in which a thread blocks and a forced hand-off runs another is one step,
// charged to the thread at its end.  A run that makes more than k choices
// has steps no change point can land on: the bound covers bugs whose
// orderings fall within its first k steps.
class PctChooser : public SerialChooser {
 public:
  // Draws the priorities and the change points from `rng`.  n <= kMaxSerialThreads,
  // 1 <= d <= kMaxPctDepth, k >= 1.  With k < d-1 there are only k change
  // points (every step is one).
  PctChooser(const PctParams& params, Rng* rng);
  int Pick(size_t index, uint32_t runnable, int current, bool current_can_run) override;

  // For tests and reports.
  int priority(int thread) const { return priority_[thread]; }
  int changes() const { return changes_; }
  uint64_t change_point(int i) const { return change_at_[i]; }  // k_{i+1}

 private:
  const int n_;
  int changes_ = 0;
  // Drawn before the run; priority_ is then changed by the token holder.
  uint64_t change_at_[kMaxPctDepth] = {};  // change_at_[i] = k_{i+1}
  int priority_[kMaxSerialThreads] = {};
};

}  // namespace pagerace::sched

#endif  // PAGERACE_HARNESS_SCHED_CHOOSERS_H_
