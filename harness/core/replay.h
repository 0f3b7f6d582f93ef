// Race replay (DESIGN §9): `pagerace --replay=<result.json>[:index]` re-runs
// a recorded run's configuration, seed and schedule policy and stops at the
// first report of the recorded race's kind; with --sched=ordered and no
// --order, the ordered dependencies are derived from the race's trace, so a
// race found under jitter replays deterministically.
#ifndef PAGERACE_HARNESS_CORE_REPLAY_H_
#define PAGERACE_HARNESS_CORE_REPLAY_H_

#include <string>

#include "absl/status/statusor.h"
#include "harness/check/oracle.h"
#include "harness/core/config.h"
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

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CORE_REPLAY_H_
