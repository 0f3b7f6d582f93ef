// The stress driver (DESIGN §9, §10): builds the Machine for a RunConfig,
// runs every role on a thread of its own, each looping over its steps until
// the run ends (its duration, its op budget, `--stop-on`, SIGINT, or the
// watchdog finding a deadlock), then stops the roles in phases, syncs,
// checks the ledger and gathers the result.
#ifndef PAGERACE_HARNESS_CORE_STRESS_DRIVER_H_
#define PAGERACE_HARNESS_CORE_STRESS_DRIVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/check/oracle.h"
#include "harness/check/root_cause.h"
#include "harness/core/config.h"
#include "harness/core/exact.h"
#include "harness/base/stats.h"
#include "harness/base/thread_registry.h"
#include "harness/check/trace.h"

namespace pagerace {

struct RunResult {
  RunConfig config;
  double elapsed_s = 0;
  bool interrupted = false;       // stopped by SIGINT: the result is partial
  // The watchdog found a deadlock.  The stuck threads were left blocked,
  // detached, sharing the machine with nobody else: the caller must report
  // and _exit without cleanup.
  bool deadlocked = false;
  uint64_t stats[static_cast<int>(Stat::kNumStats)] = {};
  uint64_t fault_p50_ns = 0;
  uint64_t fault_p99_ns = 0;
  uint64_t race_reports = 0;      // every report, duplicates included
  uint64_t data_losing_reports = 0;
  uint64_t ungrouped_reports = 0; // reports beyond the distinct-signature table
  std::vector<RaceGroup> races;   // distinct signatures, first detection first
  // Every report's root cause with its count and symptoms (every report,
  // those past the race table included), and the fault windows opened and
  // entered (harness/check/root_cause.h).
  std::vector<CauseTracker::CauseCount> causes;
  std::vector<CauseTracker::WindowCount> windows;
  uint64_t jitter_delays = 0;
  // --sched=ordered: the first dependency the scheme's locking forbids
  // (sched::DescribeInfeasible), "" when none.
  std::string ordered_infeasible;
  // --sched=ordered: every dependency with what became of it
  // (sched::DescribeOrderedOutcomes), "" otherwise.
  std::string ordered_outcomes;
  sched::PctStats pct;  // meaningful with --sched=pct
  // With config.trace_out: every page's last events (page lock holds
  // included), for the Chrome trace.
  std::vector<std::pair<uint64_t, std::vector<TraceEntry>>> page_traces;
  // Each tid's role as the run registered it (ThreadRoleNames): the races'
  // traces name their threads from it, after other runs reused the tids.
  std::vector<std::string> thread_roles;
  // Filled after the run by the caller (`pagerace` does unless --exact=off):
  // each root cause's race turned into an exact counterexample (exact.h).
  std::vector<ExactCounterexample> exact;

  uint64_t stat(Stat s) const { return stats[static_cast<int>(s)]; }
  bool race_found() const { return race_reports > 0; }
  // The role of `tid` in this run ("?" if none; the registry's now for a
  // result without thread_roles).
  std::string role_of(uint32_t tid) const {
    if (thread_roles.empty()) return ThreadRole(tid);
    return tid < thread_roles.size() && !thread_roles[tid].empty() ? thread_roles[tid] : "?";
  }
};

// Live numbers for a progress line.
struct Progress {
  double elapsed_s;
  double target_s;  // 0 when bounded by ops
  uint64_t ops;
  uint64_t faults;
  uint64_t races;
};

// Runs `config`.  `interrupt`, when set by a signal handler, stops the run
// early; the result is then marked interrupted.  `on_progress` is called
// about every 0.5 s from the calling thread (may be empty).  Errors are
// harness failures (the OS refused memory or mappings).
absl::StatusOr<RunResult> RunStress(const RunConfig& config, const std::atomic<bool>* interrupt,
                                    const std::function<void(const Progress&)>& on_progress);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CORE_STRESS_DRIVER_H_
