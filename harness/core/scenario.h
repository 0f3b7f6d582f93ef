// Scenarios (issue 11): finite programs for the roles of one run, for the
// explorer (explore.h) to run under the serial scheduler.  Nothing in a
// scenario depends on time or on random numbers: a schedule fixes the run.
//
// Text form (built-in scenarios are written in it too; '#' starts a comment,
// ops are separated by ';'):
//
//   pages 2                     # file size (default 2)
//   mappings 2                  # user mappings (default 2)
//   workload mixed              # whose adapter set-up (`arm`) applies
//   setup: store 0 0; writeback # run first, on one thread, unscheduled
//   mmap0: store 0 0; store 0 0 # one line per thread, in index order
//   writeback: pass; pass
//   io:                         # optional: added last when not named
//
// Threads are named as roles are (thread_roles.def: mmap0, pwrite0,
// writeback, reclaim, fsync, snapshot, io); their order is their index in
// schedule strings.  Ops:
//   store P [M]   mmap threads (and setup, as mmap0): the read-back check and a
//                 stamped store to page P through mapping M (default 0)
//   write P [M]   the same store without the read-back load before it, so a
//                 page with no pte takes a write fault on a not-present pte
//                 (__do_fault / do_shared_fault)
//   load P [M]    mmap threads: a load (a read fault if not present)
//   pwrite P      pwrite threads (setup: as pwrite0): a stamped pwrite
//   pass          one write_cache_pages pass (WB_SYNC_NONE), then ->commit
//   sync          fsync: data-integrity writeback, wait, ->commit
//   reclaim P     shrink_page_list on page P (unmap, pageout, evict)
//   snapshot      the adapter's background step (ceph: a new snap context)
//   writeback     setup only: a pass with its I/O completed inline, ->commit
// The io thread has no ops: it completes queued I/O and finishes when every
// other thread has finished and nothing is queued.
//
// Thread-safety: values; no shared state.
#ifndef PAGERACE_HARNESS_CORE_SCENARIO_H_
#define PAGERACE_HARNESS_CORE_SCENARIO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "harness/base/thread_roles.h"

namespace pagerace {

struct ScenarioOp {
  enum Kind { kStore, kWrite, kLoad, kPwrite, kPass, kSync, kReclaim, kSnapshot, kWriteback };
  Kind kind = kPass;
  uint64_t page = 0;
  int vma = 0;
};

struct ScenarioThread {
  RoleId role;
  std::vector<ScenarioOp> ops;
};

struct Scenario {
  std::string name;
  std::string text;  // the source, for results
  uint64_t pages = 2;
  int mappings = 2;
  std::string workload = "mixed";
  std::vector<ScenarioOp> setup;
  std::vector<ScenarioThread> threads;  // the io thread included (last unless named)

  int mmap_threads() const;     // 1 + the highest mmap index (0: none)
  int pwrite_threads() const;   // 1 + the highest pwrite index
};

// Parses the text form.  InvalidArgument naming the line on bad input.
absl::StatusOr<Scenario> ParseScenario(absl::string_view text, absl::string_view name);
// A built-in scenario by name, a file, or the text inline with '|' for
// newlines: "seed", "@path/to/file", "text:mmap0: store 0|writeback: pass".
absl::StatusOr<Scenario> LoadScenario(const std::string& spec);

struct BuiltinScenario {
  const char* name;
  const char* summary;
  const char* text;
};
const std::vector<BuiltinScenario>& BuiltinScenarios();

// The text form of `scenario` (ParseScenario gives it back), and of one op.
std::string FormatScenario(const Scenario& scenario);
std::string FormatScenarioOp(const ScenarioOp& op);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CORE_SCENARIO_H_
