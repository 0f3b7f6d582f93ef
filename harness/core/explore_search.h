// The explorer's searches, one implementation per strategy, each in its own
// file: the complete ones, plain depth-first search (explore_dfs.cc) and
// dynamic partial-order reduction (explore_dpor.cc), which Explore()
// (explore.cc) runs once per preemption bound; and the sampling ones, seeded
// random walks (explore_random.cc) and strict PCT (explore_pct.cc), which
// ExploreSampled (explore_strategies.cc) draws schedules from.  Explore()
// does the rest: what each run showed, the determinism check, the evidence,
// shrinking.
#ifndef PAGERACE_HARNESS_CORE_EXPLORE_SEARCH_H_
#define PAGERACE_HARNESS_CORE_EXPLORE_SEARCH_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/base/rng.h"
#include "harness/core/explore.h"
#include "harness/sched/serial.h"

namespace pagerace::explore_internal {

// What a search is given: how to run a schedule, and where each run goes.
struct SearchEnv {
  const RunConfig* base = nullptr;
  const Scenario* scenario = nullptr;
  const ExploreOptions* options = nullptr;
  // Runs the scenario once under `chooser` (RunScheduleWith).
  std::function<absl::StatusOr<ScheduleRun>(sched::SerialChooser*, const RunRecording&)> run;
  // Every run the search makes, with its place in the search's order
  // (subtree, then run within it; explore.h's shards).  `note`: its reports
  // count (not another shard's run, made only to learn its subtree's picks;
  // dfs: not a smaller bound's schedule, which that bound's search
  // counted); `counted`: it is one of the bound's schedules (dfs) or traces
  // (dpor: run to its end, not cut short by a sleep set).  Returns false
  // when the search must stop (the schedule budget is spent, or the run
  // deadlocked).
  std::function<bool(const ScheduleRun&, bool note, bool counted, uint64_t subtree,
                     uint64_t subtree_run)>
      visit;
};

// The outcome of one bound's search (ExploreBound's fields).
struct SearchStats {
  uint64_t traces = 0;         // runs to the end that the search counts
  uint64_t sleep_blocked = 0;  // runs a sleep set cut short
  uint64_t pruned = 0;         // alternatives within the bound not branched into
  uint64_t executions = 0;
  bool cut = false;            // an alternative left out for the bound alone
  bool stopped = false;        // visit() said stop
};

// One bounded search: every schedule with at most `bound` preemptions, or
// one of each class of equivalent ones.
class BoundedSearch {
 public:
  virtual ~BoundedSearch() = default;
  virtual absl::StatusOr<SearchStats> Run(const SearchEnv& env, int bound) = 0;
};

std::unique_ptr<BoundedSearch> NewDfsSearch();
std::unique_ptr<BoundedSearch> NewDporSearch();

// One sampling search: every schedule drawn by a chooser from one seeded
// generator, in a fixed order (the same seed runs the same schedules).
class SampledSearch {
 public:
  // Runs one schedule under `chooser` (kept by a deadlocked run); the run is
  // counted as an execution, not as one of the search's schedules.
  using RunFn =
      std::function<absl::StatusOr<ScheduleRun>(std::unique_ptr<sched::SerialChooser>)>;

  virtual ~SampledSearch() = default;
  // InvalidArgument (one line) for options this strategy cannot run.
  virtual absl::Status Validate(const ExploreOptions& options) const { return absl::OkStatus(); }
  // Before the draws: what the strategy must measure (PCT: k).  Returns the
  // run that deadlocked, which ends the search, or nullopt.
  virtual absl::StatusOr<std::optional<ScheduleRun>> Prepare(const RunFn& run, int threads,
                                                             const ExploreOptions& options,
                                                             Rng* rng, ExploreResult* result) {
    return std::optional<ScheduleRun>();
  }
  // The chooser of the next schedule.
  virtual std::unique_ptr<sched::SerialChooser> Next(Rng* rng, const ExploreResult& result) = 0;
  // Whether the result reports the most choices a run made (PCT's k check).
  virtual bool reports_max_steps() const { return false; }
};

std::unique_ptr<SampledSearch> NewRandomSearch();
std::unique_ptr<SampledSearch> NewPctSearch();

// The subtrees below the shard split (the first shard_depth choices),
// numbered across bounds in the order a search meets them, and dealt
// round-robin to the shards (ExploreOptions).
class ShardSubtrees {
 public:
  struct Place {
    uint64_t subtree = 0;  // its number
    uint64_t run = 0;      // the run's place within it
    bool mine = false;     // this shard's
  };
  // The next run's place; `prefix_choices`: the choices its prefix fixes (a
  // prefix that ends above the split enters a subtree not yet met).
  Place Next(size_t prefix_choices, const ExploreOptions& o) {
    if (prefix_choices <= static_cast<size_t>(o.shard_depth)) {
      ++subtrees_;
      runs_ = 0;
    }
    Place p;
    p.subtree = subtrees_ - 1;
    p.run = runs_++;
    p.mine = p.subtree % static_cast<uint64_t>(o.shard_count) ==
             static_cast<uint64_t>(o.shard_index - 1);
    return p;
  }

 private:
  uint64_t subtrees_ = 0;
  uint64_t runs_ = 0;
};

// The cost of picking thread `t` at `c`: 1 if it preempts a thread that
// could go on.
inline int PreemptionCost(bool current_can_run, int current, int t) {
  return current_can_run && t != current;
}

}  // namespace pagerace::explore_internal

#endif  // PAGERACE_HARNESS_CORE_EXPLORE_SEARCH_H_
