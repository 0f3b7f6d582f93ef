// A run's configuration: parsed and validated from the command line's flag
// strings before any work starts, so bad input fails fast with one line.
// Drivers build a Machine from it (harness/core/machine.h).
#ifndef PAGERACE_HARNESS_CORE_CONFIG_H_
#define PAGERACE_HARNESS_CORE_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fs_adapters/adapter_registry.h"
#include "harness/check/oracle.h"
#include "harness/mm/fixes.h"
#include "harness/mm/gup.h"
#include "harness/mm/schemes.h"
#include "harness/sched/sched.h"
#include "workloads/workloads.h"

namespace pagerace {

// The flags as given (strings; empty = not given).
struct RawFlags {
  std::string scheme, fs, workload, threads, pwriters, pages, mappings, duration, ops, seed,
      sched, order, pct_depth, jitter_max_us, out, trace_out, stop_on, gup, pin_writeback, revert;
};

// Typed: the scheme, adapter and workload are registry entries, resolved once
// by ParseConfig (or named directly by tests: `c.scheme = &Scheme("locked")`).
struct RunConfig {
  const SchemeEntry* scheme = &Scheme("legacy");
  const AdapterEntry* fs = &Adapter("nfs");
  const WorkloadEntry* workload = &Workload("mixed");
  int threads = 2;
  int pwriters = 1;
  uint64_t pages = 64;
  int mappings = 2;
  absl::Duration duration = absl::Seconds(10);  // used when ops == 0
  uint64_t ops = 0;                             // total worker ops; 0 = by duration
  // With ops: the run also ends after this long (zero: no cap).  Tests that
  // stop at a report set it: the workers' budgets are equal shares, and a
  // paced role (the pwriter, one pwrite per 20 us pause) can take minutes
  // over a share the mmap workers finish in a second.
  absl::Duration ops_time_cap = absl::ZeroDuration();
  uint64_t seed = 1;
  sched::Policy sched = sched::Policy::kOff;
  std::string order;  // --sched=ordered: "A<B,C<D" (point names), as given
  std::vector<sched::OrderedDep> deps;
  int pct_depth = 3;  // --sched=pct: d
  int jitter_max_us = 50;  // --sched=jitter: longest delay at a point
  // --gup (workloads with get_user_pages callers: `dio`): as given, or the
  // scheme's era's call when not given (GupModeForEra).
  GupMode gup = GupMode::kGet;
  bool gup_given = false;
  // --pin-writeback: writeback's and reclaim's answer to pinned pages.
  PinWriteback pin_writeback = PinWriteback::kNone;
  // --revert=COMMIT[,COMMIT...]: fixes whose switches follow the pre-fix
  // source (harness/mm/fixes.h), each checked against the scheme and fs.
  FixSet reverts;
  std::string out;     // result JSON path; empty = none
  std::string trace_out;  // Chrome trace path; empty = none
  std::string binary;  // argv[0], for the replay command
  // --stop-on (as given; "" = run the whole duration): race | data_losing |
  // an invariant name.  Parsed into the three fields below, which tests also
  // set directly.
  std::string stop_on;
  bool stop_at_first_race = false;  // end the run at the first report that matches:
  std::optional<Invariant> stop_invariant;  // of this invariant, if set
  bool stop_needs_losing = false;           // and data-losing (any report), if set
  // And of this root cause (RootCause::Id(), "move_ptes/..."), if set: the
  // history's stress column, which counts only its fix's race.  No flag.
  std::string stop_cause;
  // --replay: end the run at the first report of this kind (and invariant).
  std::optional<RaceKind> stop_kind;
  // --replay with --sched=ordered: end the run when the ordered policy finds
  // a dependency the scheme's locking forbids (sched::OrderedInfeasible()):
  // the forced interleaving cannot happen here, and that is the answer.
  bool stop_on_infeasible = false;
};

// The get_user_pages call of a scheme's era: get_user_pages (FOLL_GET) in
// v2.6.29/30, pin_user_pages (FOLL_PIN, since v5.6) in 5.15.
GupMode GupModeForEra(const SchemeEntry& scheme);
// Whether the workload runs get_user_pages callers (`dio`).
bool WorkloadHasGup(const WorkloadEntry& workload);
// The notes a run prints once (summary and result JSON) about its
// get_user_pages variant: a refused FOLL_LONGTERM, a --pin-writeback that
// FOLL_GET references cannot trigger.  Empty when none applies.
std::vector<std::string> GupNotes(const RunConfig& config, uint64_t longterm_refused);

// InvalidArgument with a message naming the flag and the problem.
absl::StatusOr<RunConfig> ParseConfig(const RawFlags& raw);
// --revert's value for `scheme` on `fs`: each commit known, modeled, held
// by the scheme's era and in the fs or the VM (fixes.h RevertRefusal).
absl::StatusOr<FixSet> ParseReverts(absl::string_view value, const SchemeEntry& scheme,
                                    const AdapterEntry& fs);
// `pagerace --list`: every registered scheme (with the invariant a mutant
// must trip), adapter, workload and known fix (with its release and whether
// --revert can switch it), one line each.
std::string FormatRegistries();
// The command line that re-runs this configuration.
std::string ReplayCommand(const RunConfig& config);
std::string DurationFlag(absl::Duration d);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CORE_CONFIG_H_
