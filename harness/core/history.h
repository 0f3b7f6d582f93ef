// The kernel's own history as the benchmark (issue 20): `pagerace history`.
//
// The catalog (history/*.entry, compiled in) holds one entry a fix the
// model can revert: the commit (fixes.def), the schemes it is reverted
// under, the adapter, a small scenario in the text form that explores
// completely, the violation the reverted search must show, and the
// workload of the stress column.  For each entry:
//   - reverted, under each of its schemes: the explorer must find the
//     expected invariant (data-losing as stated) within the bound, at
//     exactly the fewest preemptions the entry states (`preemptions N`);
//   - restored: the same search must be complete and clean, but for the
//     root causes the entry tolerates (`tolerate CAUSE`: a race of the era
//     the fix does not touch, such as v2.6.29 NFS's SIGBUS (I9) beside
//     c3704ceb4ad0);
//   - each era (legacy v2.6.29, locked v2.6.30, modern 5.15) on the entry's
//     adapter as that release has it (era_fs; `before_bug SCHEME...`: the
//     release predates the bug as well as the fix; `era_fs SCHEME -`: the
//     filesystem is not in that release, no cell), plain (no --revert): an era
//     whose release predates the fix must show the violation (its own,
//     found@scheme, where the release shows it otherwise); one that holds
//     the fix must not show the fix's race: no violation of the expected
//     invariant under the root cause the reverted search found (any, when
//     that cause names no window);
//   - a jittered stress run with the fix reverted, bounded in time: when the
//     first report of the expected invariant came, or that none did.
// An entry holds when every check does; the run holds when every entry
// does.
#ifndef PAGERACE_HARNESS_CORE_HISTORY_H_
#define PAGERACE_HARNESS_CORE_HISTORY_H_

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/core/config.h"
#include "harness/mm/fixes.h"

namespace pagerace {

struct HistoryEntry {
  std::string file;  // "79352894b285.entry"
  Fix fix{};
  std::vector<std::string> schemes;  // reverted under these
  std::string fs;
  std::string scenario;  // a LoadScenario spec
  std::string workload;  // the stress column's
  std::string found;     // an invariant name
  bool data_losing = false;
  std::string cause;     // the root cause id the reverted search must give it
  // A relaxation (`relaxation yes`): the commit took out a wait that no
  // data needed, so neither search may show a violation; instead the
  // restored search must show what the fix allows (a pte made writable
  // while its page is under writeback, on a device without stable writes)
  // and the reverted one must not.  `cause` is then `-` and `preemptions`
  // the fewest the allowed behaviour needs.
  bool relaxation = false;
  // The fewest preemptions the reverted race needs (`preemptions N`): the
  // reverted search must find it at exactly that many, and a run at the
  // entries' own bounds (HistoryOptions::kNeeded) explores the entry at
  // max(N, 1).
  int preemptions = -1;
  // Per era (scheme name): the adapter variant that models the fs in that
  // release ("era_fs locked btrfs:unlocked"), and the violation a release
  // that predates the fix shows there when it differs ("found@locked I2",
  // "data_losing@locked no").
  // Root causes the restored search may show (`tolerate CAUSE`): races of
  // the era that the fix does not touch, each explained in the entry (the
  // restored search is then clean but for them).
  std::vector<std::string> tolerate;
  std::map<std::string, std::string> era_fs;
  // Eras (scheme names) whose release predates the bug itself (`before_bug
  // SCHEME...`, the commit that brought it said in the entry): they hold
  // no fix and must not show the race either.
  std::vector<std::string> before_bug;
  std::map<std::string, std::string> era_found;
  std::map<std::string, bool> era_data_losing;
  std::string fs_for(const std::string& scheme) const {
    auto it = era_fs.find(scheme);
    return it == era_fs.end() ? fs : it->second;
  }
};

// Parses one entry's text; InvalidArgument naming the file and line.
absl::StatusOr<HistoryEntry> ParseHistoryEntry(absl::string_view file, absl::string_view text);
// The compiled-in catalog, in commit order of release.  Errors name the
// entry that does not parse.
absl::StatusOr<std::vector<HistoryEntry>> HistoryCatalog();

struct HistoryOptions {
  // Every entry at this bound, or kNeeded: each entry at the bound it needs
  // (max(its preemptions, 1)): what CI runs; the full bound is the default.
  static constexpr int kNeeded = -1;
  int preemptions = 2;
  std::vector<std::string> only;  // commits; empty = every entry
  double stress_seconds = 3;
  std::string binary = "pagerace";
};

struct HistorySearch {
  std::string scheme;
  bool reverted = false;
  bool complete = false;
  bool found = false;          // the expected violation (reverted) / any (plain)
  int preemptions = -1;        // of the expected violation's first schedule
  uint64_t violating = 0;      // schedules that showed it
  uint64_t schedules = 0;
  std::string cause;           // its root cause id
  std::string replay;          // the command that replays its schedule
  // Restored: the causes it showed that the entry tolerates (the era's own
  // races), in the order met; `found` is then false.
  std::vector<std::string> tolerated;
  // Schedules in which a fault made a pte writable while its page was under
  // writeback (a relaxation's witness).
  uint64_t writable_during_writeback = 0;
  bool relaxation = false;  // the entry's: SearchCell prints the witness
  bool ok = false;
};

struct HistoryEra {
  std::string scheme;  // legacy | locked | modern
  std::string era;     // v2.6.29 | v2.6.30 | 5.15
  std::string fs;      // the adapter variant of that release
  std::string found;   // the invariant looked for
  bool data_losing = false;
  bool holds_fix = false;
  bool before_bug = false;  // the release predates the bug (before_bug)
  bool race_expected = false;
  std::optional<HistorySearch> search;  // absent where the fs cannot run
  std::string note;                     // why there is no search
  bool ok = false;
};

struct HistoryRow {
  HistoryEntry entry;
  int bound = 0;  // the preemption bound of this entry's searches
  std::vector<HistorySearch> reverted, restored;
  std::vector<HistoryEra> eras;
  std::string stress_scheme;
  double stress_seconds = 0;
  std::optional<double> stress_first_s;  // first report of the invariant
  bool ok = false;
};

struct HistoryResult {
  int preemptions = 0;  // HistoryOptions::kNeeded: each row's own bound
  std::vector<HistoryRow> rows;
  std::vector<Fix> unmodeled;  // fixes.def entries without a switch yet
  bool ok = false;
};

absl::StatusOr<HistoryResult> RunHistory(const HistoryOptions& options,
                                         const std::atomic<bool>* interrupt);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CORE_HISTORY_H_
