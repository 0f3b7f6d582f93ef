// A stress race turned into an exact counterexample (issue 21, item 6).
//
// A stress run's threads ran free or jittered, so its races have no schedule
// string: their replay is approximate (the ordered derivation, or jitter
// until it recurs).  This derives, from one race of each root cause, a
// scenario (scenario.h) for the explorer:
//   - the threads and ops that touched the race's page in its recorded
//     trace, from the fault that opened the cause's window (or, for a
//     transition, the fault before it) to the report: a store for each mmap
//     thread's write fault (a `write` for a write fault on a not-present
//     pte), a writeback pass for each clear_page_dirty_for_io, a pwrite for
//     each write_begin, a reclaim / migrate / invalidate / strip for the
//     reclaim thread's events, a grow or a shrink for the truncate
//     thread's, a snapshot, a direct I/O for each get_user_pages;
//   - the page's state when that fault came, as a setup: clean and
//     read-only in the faulting mapping for a write-protect fault; not
//     cached, or written back and evicted, for a fault on a not-present
//     pte; with EOF inside it for the `isize` workload's last page (i_size
//     is not in the trace: 1 KiB, a size that workload draws, stands for it);
//   - then wider candidates: the fault before that one as the start, an
//     extra store per mmap thread and an extra pass.
// Each candidate is explored under the run's scheme, fs and reverts, with
// partial-order reduction, up to `max_preemptions`, until one shows a
// violation of the same root cause (losing data, if the race's cause lost
// data); that one is shrunk keeping the cause (MinimizeCause) and its
// schedule told as the explorer tells a violation's.  When no candidate
// shows the cause, `why_not` says what was tried.
//
// Thread-safety: call with no other Machine alive (the explorer builds its
// own, one at a time).
#ifndef PAGERACE_HARNESS_CORE_EXACT_H_
#define PAGERACE_HARNESS_CORE_EXACT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "harness/base/thread_roles.h"
#include "harness/check/race_kind.h"
#include "harness/check/trace.h"
#include "harness/core/scenario.h"

namespace pagerace {

struct RunConfig;
struct RunResult;

// One race of a stress run, as recorded: its page, root cause and the
// page's trace with each event's thread role (names resolved while the
// run's thread registry still holds them).
struct StressRace {
  int index = -1;  // into the run's races
  uint64_t page = 0;
  uint32_t cause = 0;  // packed RootCause
  bool data_losing = false;  // the race's cause lost data (in some report)
  struct Event {
    RoleId role;
    pagerace::Event event;
  };
  std::vector<Event> trace;
};

struct ExactCounterexample {
  uint32_t cause = 0;  // packed RootCause
  int race = -1;       // the race it was derived from (index into races)
  bool found = false;
  std::string why_not;  // !found: why no scenario was found
  Scenario scenario;    // shrunk; its text in scenario.text
  std::string schedule;
  int preemptions = 0;
  bool data_losing = false;  // the schedule's report under the cause lost data
  RaceKind kind{};           // that report's kind and invariant
  Invariant invariant{};
  std::vector<std::string> story;
  int candidates = 0;         // derived scenarios explored
  uint64_t executions = 0;    // runs, shrinking included
  std::string derived_text;   // the candidate that showed it, before shrinking
  std::string anchor;         // "mmap0's write fault (event 17 of 32)"
  double elapsed_s = 0;
};

struct ExactOptions {
  int max_preemptions = 2;
  uint64_t max_schedules = 5000;  // per candidate search
  uint64_t max_runs = 4000;       // all candidates together (shrinking apart)
  int max_candidates = 8;
};

// The candidate scenarios for `race` under `config`, smallest first, with
// the trace event each starts from.
std::vector<std::pair<Scenario, std::string>> RaceScenarios(const RunConfig& config,
                                                            const StressRace& race);

// Explores the candidates and shrinks the first that shows the race's cause.
ExactCounterexample DeriveExact(const RunConfig& config, const StressRace& race,
                                const ExactOptions& options);

// The races of `result` as StressRaces (thread names resolved now).
std::vector<StressRace> StressRaces(const RunResult& result);

// One exact counterexample per root cause of `result`, derived from the
// cause's evidence race (its trace holds the window's opening with the
// fewest events after it), else its first race.
std::vector<ExactCounterexample> DeriveExactForCauses(const RunResult& result,
                                                      const ExactOptions& options);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CORE_EXACT_H_
