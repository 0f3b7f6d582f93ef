// The explorer (issue 11, DESIGN §9): runs a scenario (scenario.h) under the
// serializing scheduler (harness/sched/serial.h), one schedule at a time, on
// a fresh Machine each time, and searches its schedules exhaustively up to K
// preemptions (iterative context bounding, as CHESS: every schedule with 0
// preemptions, then every one with exactly 1, ... up to K), depth first.
//
// One schedule: the Machine is built, the scenario's setup runs on the
// driver's thread with no policy, then every scenario thread (a Role with a
// finite program) runs under the serial scheduler, which the schedule's
// picks steer; then, with the policy off, the driver syncs the file
// (sync_mapping with I/O completed inline) and runs the final checks (the
// auditor and the data ledger).  Violations are the oracle's reports.  A
// state where no thread can run is a deadlock: reported with who waits for
// what, held by whom; its threads are left blocked (and their Machine
// alive), so an exploration ends at its first deadlock.
//
// Thread-safety: one exploration at a time per process (the schedule policy
// is process-wide).
#ifndef PAGERACE_HARNESS_CORE_EXPLORE_H_
#define PAGERACE_HARNESS_CORE_EXPLORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/check/oracle.h"
#include "harness/core/config.h"
#include "harness/core/scenario.h"
#include "harness/sched/serial.h"

namespace pagerace {

// Why a schedule's pick could not run (ScheduleRun::infeasible): a schedule
// replayed under another scheme or configuration than it was found under.
// Steps are choices, numbered from 1 (the schedule string's Nth pick).
struct InfeasiblePick {
  int64_t step = 0;          // 0: every pick was feasible
  int thread = -1;           // the picked thread's index
  std::string thread_name;   // "writeback" ("" for no such thread)
  // "lock" (a page lock or a named fs lock), "page bit" (wait_on_page_*),
  // "word" (an unnamed harness lock), "waiting" (I/O, or the others to
  // finish), "finished", "no such thread".
  std::string why;
  std::string lock;          // "the lock of page 0", "journal", "PG_writeback of a page"
  int holder = -1;           // the holding thread's index (-1: unknown or I/O)
  std::string holder_name;   // "mmap0", "the write in flight (I/O)", "" unknown
  int64_t since_step = -1;   // the holder took it while running after this step (0: before step 1; -1: unknown)
  std::string message;       // "writeback cannot take the lock of page 0, held by mmap0 since step 2"
};

// The outcome of one schedule.
struct ScheduleRun {
  std::vector<sched::SerialChoice> choices;  // every choice, in order
  std::vector<int> picks;                    // choices' picks: the schedule
  int preemptions = 0;
  bool deadlocked = false;
  bool overflowed = false;       // more choices than recorded (scenario too long)
  int64_t infeasible_at = -1;    // the first pick that could not run (-1: none)
  uint64_t race_reports = 0;
  uint64_t data_losing_reports = 0;
  std::vector<RaceGroup> races;  // deadlock and lock-order inversion included
  // With infeasible_at >= 0: why, and the run went on with default picks
  // from there (its reports are that run's, not the schedule's).
  InfeasiblePick infeasible;

  std::string schedule() const { return sched::FormatSchedule(picks); }
};

// The Machine's configuration for a scenario under `base`'s scheme and
// adapter: its pages, mappings, thread counts and workload.
absl::StatusOr<RunConfig> ScenarioConfig(const RunConfig& base, const Scenario& scenario);

// Runs `scenario` once, following `picks` (then the default: keep the
// current thread, else the lowest-numbered runnable).  A pick that cannot
// run ends the following of `picks` (ScheduleRun::infeasible).  Errors are harness
// failures (the OS refused memory or mappings).
absl::StatusOr<ScheduleRun> RunSchedule(const RunConfig& base, const Scenario& scenario,
                                        const std::vector<int>& picks);

struct ExploreOptions {
  int max_preemptions = 2;
  uint64_t max_schedules = 0;  // 0: no limit (else the search stops, incomplete)
  // Each violation's schedule is run this many more times and compared
  // (choices and reports): the determinism check.
  int determinism_runs = 2;
};

struct ExploreViolation {
  RaceKind kind{};
  Invariant invariant{};
  bool data_losing = false;
  int preemptions = 0;     // of the first schedule showing it (the fewest)
  std::string schedule;    // that schedule
  uint64_t page = 0;
  std::string detail;
  uint64_t schedules = 0;  // explored schedules that showed it
  bool deterministic = false;  // re-runs of `schedule` gave the same choices and reports
};

struct ExploreBound {
  int preemptions = 0;
  uint64_t schedules = 0;  // schedules with exactly this many preemptions
  double elapsed_s = 0;
};

struct ExploreResult {
  RunConfig config;
  Scenario scenario;
  ExploreOptions options;
  std::vector<ExploreBound> bounds;
  uint64_t schedules = 0;   // distinct schedules (sum over bounds)
  uint64_t executions = 0;  // runs, re-runs of smaller bounds' prefixes included
  bool complete = false;    // every schedule up to max_preemptions was run
  bool deadlocked = false;  // stopped at a deadlock
  double elapsed_s = 0;
  std::vector<ExploreViolation> violations;  // one per kind/invariant/data_losing

  double schedules_per_s() const { return elapsed_s > 0 ? executions / elapsed_s : 0; }
};

struct ExploreProgress {
  int bound;
  uint64_t schedules;
  uint64_t executions;
  size_t violations;
  double elapsed_s;
};

// Depth-first search with iterative context bounding.  `on_progress` is
// called after every schedule (may be empty).
absl::StatusOr<ExploreResult> Explore(
    const RunConfig& base, const Scenario& scenario, const ExploreOptions& options,
    const std::function<void(const ExploreProgress&)>& on_progress);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CORE_EXPLORE_H_
