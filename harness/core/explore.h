// The explorer (issue 11, DESIGN §9): runs a scenario (scenario.h) under the
// serializing scheduler (harness/sched/serial.h), one schedule at a time, on
// a fresh Machine each time (its threads parked between schedules), and
// searches its schedules up to K preemptions (iterative context bounding, as
// CHESS: bound 0, then 1, ... up to K), depth first, either every schedule
// (`--por=none`, explore_dfs.cc) or one per class of schedules that differ
// only in the order of independent steps (`--por=dpor`, the default:
// dynamic partial-order reduction over the accesses shared.h records,
// explore_dpor.cc); or with no bound (kAllPreemptions); or samples schedules
// by seeded random walks or strict PCT (explore_strategies.cc).  A
// depth-first search splits into shards that separate processes run and
// MergeShards adds up.
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
#include "absl/strings/string_view.h"
#include "harness/check/oracle.h"
#include "harness/core/config.h"
#include "harness/core/scenario.h"
#include "harness/sched/choosers.h"
#include "harness/sched/serial.h"

namespace pagerace {

class MmContext;

// One entry of a schedule's total-order log: every trace event and oracle
// report of the run, in the order they happened (one thread runs at a time,
// so the order is the execution's).  The determinism check compares two
// runs' logs; the story of a counterexample is told from one.
struct LogEntry {
  enum Phase : uint8_t { kSetup, kRun, kFinal };
  Phase phase = kRun;
  int8_t thread = -1;   // scenario thread index (kRun); -1 in setup and final checks
  uint32_t step = 0;    // choices made before it (kRun)
  uint64_t page = 0;
  bool report = false;  // an oracle report (else a trace event)
  uint16_t what = 0;    // Event, or RaceKind for a report
  uint8_t invariant = 0;  // a report's Invariant; a window event's FaultWindow
  bool data_losing = false;
  friend bool operator==(const LogEntry& a, const LogEntry& b) {
    return a.phase == b.phase && a.thread == b.thread && a.step == b.step && a.page == b.page &&
           a.report == b.report && a.what == b.what && a.invariant == b.invariant &&
           a.data_losing == b.data_losing;
  }
};

// The words a story uses for this run's scheme and adapter.
struct StoryVocabulary {
  const char* page_mkwrite = "->page_mkwrite";  // "nfs_vm_page_mkwrite"
  const char* metadata = "fs metadata";         // "write request (nfs_page)"
  const char* do_fault = "__do_fault";          // the not-present write fault's function
  const char* do_wp_page = "do_wp_page";
};

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
  std::vector<LogEntry> log;     // the total-order log (see LogEntry)
  bool log_overflowed = false;   // the log holds only its first entries
  StoryVocabulary vocabulary;
  uint64_t faults = 0;           // user faults handled, the setup's included (0 if deadlocked)
  // Faults that made a pte writable while its page was under writeback, on
  // a device without stable writes (Stat::kWritableDuringWriteback).
  uint64_t writable_during_writeback = 0;
  // With infeasible_at >= 0: why, and the run went on with default picks
  // from there (its reports are that run's, not the schedule's).
  InfeasiblePick infeasible;

  std::string schedule() const { return sched::FormatSchedule(picks); }
  // The schedule without its trailing default picks: it replays the same run.
  std::string short_schedule() const;
};

// Tells `run` as numbered steps in kernel terms, one per stretch of one
// thread (the setup first, unnumbered; the final sync and checks last), each
// ending with what made the scheduler switch, and every oracle report in
// the step that made it: "2. writeback: clear_page_dirty_for_io → page_mkclean
// → ->writepage … (the lock of page 0 ...)".
std::vector<std::string> TellStory(const Scenario& scenario, const ScheduleRun& run);

// Where two runs of one schedule first differ ("" if they do not): choices,
// log or reports.
std::string FirstDifference(const ScheduleRun& a, const ScheduleRun& b);

// The Machine's configuration for a scenario under `base`'s scheme and
// adapter: its pages, mappings, thread counts and workload.
absl::StatusOr<RunConfig> ScenarioConfig(const RunConfig& base, const Scenario& scenario);

// Runs `scenario` once, following `picks` (then the default: keep the
// current thread, else the lowest-numbered runnable).  A pick that cannot
// run ends the following of `picks` (ScheduleRun::infeasible).  Errors are harness
// failures (the OS refused memory or mappings).
absl::StatusOr<ScheduleRun> RunSchedule(const RunConfig& base, const Scenario& scenario,
                                        const std::vector<int>& picks,
                                        const std::function<void(MmContext&)>& op_hook = {});
// What a partial-order reduction watches in a run (explore_dpor.cc): told
// of every decision, and of every shared access (shared.h) while the
// scenario's threads run (not in the setup or the final checks).
struct RunRecording {
  sched::DecisionObserver* observer = nullptr;
  AccessRecorder* recorder = nullptr;
};
// The same with any chooser.  After a deadlock the blocked threads keep the
// run (never freed), and the chooser and recording with it: the caller must
// not free them.
absl::StatusOr<ScheduleRun> RunScheduleWith(const RunConfig& base, const Scenario& scenario,
                                            sched::SerialChooser* chooser,
                                            const std::function<void(MmContext&)>& op_hook = {},
                                            const RunRecording& recording = {});

enum class ExploreStrategy {
  kDfs,     // every schedule up to the bound, depth first (complete)
  kRandom,  // seeded random walks: every choice uniform among runnable threads
  kPct,     // strict PCT (sched/choosers.h), seeded
};
const char* ExploreStrategyName(ExploreStrategy s);  // "dfs", "random", "pct"
absl::StatusOr<ExploreStrategy> ExploreStrategyByName(absl::string_view name);

// How the dfs strategy reduces its search (issue 21).
enum class ExplorePor {
  // Dynamic partial-order reduction (explore_dpor.cc): one schedule per
  // class of schedules that differ only in the order of independent steps
  // (steps that touch no shared object in common, or only read it), with
  // sleep sets; backtracking points added as bounded partial-order
  // reduction adds them, so that the preemption bound stays sound.
  kDpor,
  kNone,  // every schedule up to the bound
};
const char* ExplorePorName(ExplorePor p);  // "dpor", "none"
absl::StatusOr<ExplorePor> ExplorePorByName(absl::string_view name);

// ExploreOptions::max_preemptions: no bound.  One search (dpor: with every
// sleep set, which a bound can void) covers every schedule or an
// equivalent; its one ExploreBound row has preemptions = kAllPreemptions,
// and a violation's preemptions are those of the first schedule with the
// fewest that the search met (not proven the fewest possible, as the
// bounded searches' are).
inline constexpr int kAllPreemptions = -1;

// random and pct run this many schedules unless told otherwise.
inline constexpr uint64_t kDefaultSampledSchedules = 1000;
// dfs shards split the tree at its first kDefaultShardDepth choices.
inline constexpr int kDefaultShardDepth = 6;

struct ExploreOptions {
  ExploreStrategy strategy = ExploreStrategy::kDfs;
  ExplorePor por = ExplorePor::kDpor;  // dfs
  int max_preemptions = 2;     // dfs; kAllPreemptions: no bound
  // dfs: 0 is no limit (else the search stops, incomplete); random, pct: the
  // schedules to run (0: kDefaultSampledSchedules).
  uint64_t max_schedules = 0;
  uint64_t seed = 1;           // random, pct
  int pct_depth = 3;           // pct: d
  // dfs: this process explores shard `shard_index` (1-based) of
  // `shard_count`.  The subtrees below the first `shard_depth` choices are
  // numbered in the order the search meets them (every shard walks the
  // choices above them alike) and dealt round-robin: shard i runs those
  // numbered i-1 mod N, and, of the others, only the first schedule (the one
  // that tells it the subtree's picks).  Together the N shards count every
  // schedule of one unsharded run exactly once, bound by bound.
  int shard_index = 1;
  int shard_count = 1;
  int shard_depth = kDefaultShardDepth;
  // Each violation's schedule is run this many more times and compared
  // (choices, total-order log and reports): the determinism check.
  int determinism_runs = 2;
  // dfs: shrink the first violation (data-losing preferred) to a minimal
  // counterexample and tell its story (`pagerace explore` does; a caller
  // that only wants the search's verdict leaves it off: shrinking explores
  // every candidate scenario again).
  bool minimize = false;
  // Test seam: called by each scenario thread before each of its ops (a
  // model that reads state no schedule controls, like a clock, is what the
  // determinism check must catch).
  std::function<void(MmContext&)> op_hook;
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
  bool deterministic = false;  // re-runs of `schedule` gave the same choices, log and reports
  std::string nondeterminism;  // where the re-runs differed ("" if they did not)
  // dfs: where `schedule` comes in the search's order (subtree number, then
  // run within that subtree), the same in every shard and in an unsharded
  // run: MergeShards keeps the earliest.
  uint64_t dfs_subtree = 0;
  uint64_t dfs_run = 0;
  uint32_t cause = 0;  // packed RootCause of `schedule`'s report (root_cause.h)
};

// A root cause the search met (root_cause.h): every violating schedule's
// reports are counted under the causes the model gave them, once per
// schedule.  The cause's best evidence is its first schedule with the fewest
// preemptions, told as a story.
struct ExploreCause {
  uint32_t cause = 0;         // packed RootCause
  bool data_losing = false;   // some report under it lost data
  int preemptions = 0;        // of `schedule`: the fewest that show it
  // The first schedule with that many, preferring one whose report under
  // this cause lost data (`schedule_data_losing`).
  std::string schedule;
  bool schedule_data_losing = false;
  uint64_t schedules = 0;     // schedules whose reports include it
  uint64_t symptoms = 0;      // bit per RaceKind reported under it
  uint64_t dfs_subtree = 0;   // dfs: `schedule`'s place in the search's order
  uint64_t dfs_run = 0;
  std::vector<std::string> story;  // TellStory of `schedule` (empty if not told)
};

// The first violation, shrunk: fewer ops, threads, pages and mappings while
// a violation of the same kind, invariant and data loss stays within the
// same preemption bound.
struct MinimalCounterexample {
  ExploreViolation violation;      // as found in the shrunk scenario
  Scenario scenario;               // shrunk; scenario.text is its text form
  std::string schedule;            // its shortest replaying schedule string
  std::vector<std::string> story;  // TellStory of that schedule
  int original_ops = 0;            // ops (setup included) before shrinking
  int ops = 0;                     // after
  uint64_t candidates = 0;         // scenarios explored while shrinking
};

struct ExploreBound {
  int preemptions = 0;
  uint64_t schedules = 0;  // schedules with exactly this many preemptions
  double elapsed_s = 0;
  // This bound's search (every bound's search starts over from the empty
  // schedule): the schedules it ran to their end (dpor: traces, one per
  // class of equivalent schedules it reached; none: every schedule with up
  // to this many preemptions), the runs a sleep set cut short (dpor), and
  // the alternatives within the bound it did not branch into (dpor).
  uint64_t traces = 0;
  uint64_t sleep_blocked = 0;
  uint64_t pruned = 0;
  // Some alternative was left out for the bound alone (else this search
  // was every schedule's, whatever the bound).
  bool cut = false;
  uint64_t executions = 0;
};

struct ExploreResult {
  RunConfig config;
  Scenario scenario;
  ExploreOptions options;
  std::vector<ExploreBound> bounds;
  uint64_t schedules = 0;   // distinct schedules (sum over bounds)
  uint64_t executions = 0;  // runs, re-runs of smaller bounds' prefixes included
  bool complete = false;    // every schedule up to max_preemptions was run (or its equivalent)
  // The last bound's search cut nothing for the bound: every schedule, at
  // any number of preemptions, was covered (--preemptions=all ends there).
  bool complete_unbounded = false;
  bool deadlocked = false;  // stopped at a deadlock
  double elapsed_s = 0;
  std::vector<ExploreViolation> violations;  // one per kind/invariant/data_losing
  std::vector<ExploreCause> causes;          // in the order the search met them
  bool nondeterministic = false;  // some violation's re-runs differed
  bool has_minimal = false;
  MinimalCounterexample minimal;  // with has_minimal
  // Schedules that showed any violation (random, pct: bounds then count the
  // schedules run by their preemptions).
  uint64_t violating_schedules = 0;
  // Schedules in which a fault made a pte writable while its page was under
  // writeback (allowed where the device needs no stable writes): a
  // relaxation's witness (history entries with `relaxation yes`).
  uint64_t writable_during_writeback_schedules = 0;
  // pct: n, d, and k measured before the search (the most choices of the
  // default schedule and kPctCalibrationWalks random walks); the most choices
  // any PCT run made (above k: steps no change point could land on).
  sched::PctParams pct;
  uint64_t pct_max_steps = 0;
  // dfs shards merged into this result (MergeShards), in order; empty for
  // one process's result.
  std::vector<int> merged_shards;

  double schedules_per_s() const { return elapsed_s > 0 ? executions / elapsed_s : 0; }
  // random, pct: the share of schedules run that showed a violation.
  double observed_rate() const {
    return schedules ? static_cast<double>(violating_schedules) / schedules : 0;
  }
};

// Shrinks `violation` of `scenario` (see MinimalCounterexample); each
// candidate scenario is explored up to the violation's preemptions, at most
// `max_runs` runs each.
absl::StatusOr<MinimalCounterexample> Minimize(const RunConfig& base, const Scenario& scenario,
                                               const ExploreViolation& violation,
                                               uint64_t max_runs);
// pct measures k with the default schedule and this many random walks.
// The same shrinking, keeping a root cause instead of a kind: a smaller
// scenario keeps `violation` when a violation of its search has the same
// `cause` (and loses data, if `violation` does); the kept schedule is that
// violation's (the fewest preemptions showing the cause).
absl::StatusOr<MinimalCounterexample> MinimizeCause(const RunConfig& base,
                                                    const Scenario& scenario,
                                                    const ExploreViolation& violation,
                                                    uint64_t max_runs);
// Of `r`'s violations, one whose report has root cause `cause` (and lost
// data, with `data_losing`), the fewest preemptions first; nullptr if none.
const ExploreViolation* ViolationOfCause(const ExploreResult& r, uint32_t cause,
                                         bool data_losing);
inline constexpr int kPctCalibrationWalks = 8;

struct ExploreProgress {
  int bound;
  uint64_t schedules;
  uint64_t executions;
  size_t violations;
  double elapsed_s;
};

// Depth-first search with iterative context bounding, or the sampling
// strategy `options` names.  `on_progress` is called after every schedule
// (may be empty).
absl::StatusOr<ExploreResult> Explore(
    const RunConfig& base, const Scenario& scenario, const ExploreOptions& options,
    const std::function<void(const ExploreProgress&)>& on_progress);

// Adds up the results of dfs shards of one exploration (same scheme,
// adapter, scenario, bound, limit, shard count and depth; InvalidArgument
// naming the difference otherwise, or a shard given twice): schedules per
// bound and in all, runs, violations (each from its earliest schedule in
// the search's order, schedules showing it summed), elapsed time (the
// longest shard's).  Complete only if every shard is, all N present.
absl::StatusOr<ExploreResult> MergeShards(const std::vector<ExploreResult>& shards);

namespace explore_internal {
// explore_strategies.cc: random walks and PCT, run by Explore; fills
// `result`'s bounds, schedules, executions, violations and pct fields.
absl::Status ExploreSampled(const RunConfig& base, const Scenario& scenario,
                            const ExploreOptions& options,
                            const std::function<void(const ExploreProgress&)>& on_progress,
                            ExploreResult* result);
// Counts `r`'s reports under their causes (ExploreCause), at `subtree`/`run`
// of a dfs search (0 for the sampling strategies).
void NoteCauses(const ScheduleRun& r, uint64_t subtree, uint64_t run, ExploreResult* result);
}  // namespace explore_internal

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CORE_EXPLORE_H_
