// Race replay (DESIGN §9): `pagerace --replay=<result.json>[:index]`.
//
// Two kinds of result, two replays:
//   - a stress run's race (schema pagerace.result/*): re-runs the recorded
//     run's configuration, seed and schedule policy and stops at the first
//     report of the recorded race's kind; with --sched=ordered and no
//     --order, the ordered dependencies are derived from the race's trace,
//     so a race found under jitter replays (nearly) deterministically.
//     Under a scheme whose locking forbids the derived window (a legacy
//     race replayed with --scheme=locked: the fault holds the page lock
//     across it), the ordered policy finds a thread of the window's other
//     side asleep on a lock held, lock by lock, by a thread the dependency
//     holds, drops the dependency and records it (sched::OrderedInfeasible);
//     the replay (RunConfig::stop_on_infeasible) then ends at once and prints
//     "replay: infeasible under S: dependency A<B: <thread> (at <point>)
//     waits for <lock>, held by <holder>, which waits at B for A" and "not
//     reproduced" (exit 0), instead of running into the watchdog.  A
//     window closed by an I/O completion is bound to the race's page
//     ("end_io:done@P"; the trace is that page's): another page's
//     completion does not close it.  A
//     stress run has no schedule string to follow: its threads ran free (or
//     jittered) on real cores, and its trace ring holds only the events
//     near the race, so the ordered derivation is what it can offer.
//   - an explore result's violation (schema pagerace.explore/1): the
//     serial scheduler replaces the derivation.  The violation carries the
//     exact schedule that showed it; the replay runs that schedule on the
//     recorded scenario (its text, from the file), under the recorded
//     scheme and fs or those given by --scheme / --fs.  Under another
//     scheme it is the distinguishing-schedule replay: the schedule either
//     runs to its end with the invariants' verdict, or stops at its first
//     infeasible pick, named with the lock, its holder and the step
//     (ScheduleRun::infeasible): not reproduced.
// Either way: exit 1 reproduced, 0 not.
#ifndef PAGERACE_HARNESS_CORE_REPLAY_H_
#define PAGERACE_HARNESS_CORE_REPLAY_H_

#include <string>

#include "absl/status/statusor.h"
#include "harness/check/oracle.h"
#include "harness/core/config.h"
#include "harness/core/scenario.h"
#include "nlohmann/json.hpp"

namespace pagerace {

struct ReplayTarget {
  std::string file;
  int index = 0;
  RawFlags recorded;  // the recorded run's flags
  RaceKind kind{};
  Invariant invariant{};
  double recorded_at_s = 0;
  nlohmann::json race;
};

// Loads "FILE[:INDEX]".  Without an index: the first data-losing race, else
// the first race.  InvalidArgument (one line) on anything unusable.
absl::StatusOr<ReplayTarget> LoadReplay(const std::string& spec);

// The ordered dependencies ("A<B,C<D") that force the race's interleaving:
// the faulting thread's window (after ->page_mkwrite returns, or between a
// writable pte and set_page_dirty) and the other threads' events inside it.
// `do_fault` names the scheme's not-present write path, whose schedule points
// it uses (FaultScheme::do_fault_name: "__do_fault", "do_shared_fault").
absl::StatusOr<std::string> DeriveOrder(const nlohmann::json& race,
                                        absl::string_view do_fault = "__do_fault");

// An explore result's violation, to re-run under the serial scheduler.
struct ScheduleReplayTarget {
  std::string file;
  int index = 0;           // into the file's violations
  std::string scheme, fs;  // as recorded
  // --gup and --pin-writeback as recorded ("" when not given: the era's
  // get_user_pages mode, writeback as the kernel has it)
  std::string gup, pin_writeback;
  std::string revert;  // --revert as recorded ("" when none)
  Scenario scenario;       // parsed from the recorded scenario_text
  std::string schedule;
  RaceKind kind{};
  Invariant invariant{};
  bool data_losing = false;
  int preemptions = 0;
  // A stress race's exact counterexample (exact.h): the race it stands for
  // and its root cause (RootCause::Id()); a run reproduces it when a report
  // has that cause (and lost data, with data_losing).  "" for an explore
  // violation, which is reproduced by its kind and invariant.
  std::string cause;
  int race = -1;
};

// Whether "FILE[:INDEX]" names a stress race whose root cause carries an
// exact counterexample (the result's root_causes[].exact, found): its
// replay runs that scenario and schedule under the serial scheduler.
bool HasExactCounterexample(const std::string& spec);

// Whether FILE of "FILE[:INDEX]" is an explore result (false when it cannot
// be read or parsed: LoadReplay then names the problem).
bool IsExploreResult(const std::string& spec);

// Loads "FILE[:INDEX]" of an explore result.  Without an index: the first
// data-losing violation, else the first.  Of a stress result
// (HasExactCounterexample): race INDEX's cause's exact counterexample.  InvalidArgument (one line) on
// anything unusable.
absl::StatusOr<ScheduleReplayTarget> LoadScheduleReplay(const std::string& spec);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CORE_REPLAY_H_
