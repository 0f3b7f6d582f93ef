// Partial-order reduction against plain depth-first search (issue 21,
// acceptance 1): on the built-in scenarios, the kernel-history entries and
// generated small scenarios, under the schemes and adapters, `--por=dpor`
// must find the same violations as `--por=none` — the same (kind,
// invariant, data loss) at the same fewest preemptions, and the same root
// causes at the same fewest preemptions — wherever plain DFS completes.
// And the check has teeth: with one kind of access hidden from the
// dependence relation (shared.h's test seam), DPOR misses a violation that
// DFS finds.
//
// Deterministic: the serial scheduler runs one thread at a time and each
// search is complete; nothing is timed.  The searches that CI runs are at 1
// preemption (0 under TSan and ASan, whose job is the harness's own races
// and memory errors); the
// PorSoak tests (label soak) run the same comparisons at 2 preemptions and
// over every scheme and adapter.
#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "fs_adapters/adapter_registry.h"
#include "gtest/gtest.h"
#include "tests/adapters_util.h"
#include "harness/base/rng.h"
#include "harness/base/shared.h"
#include "harness/check/root_cause.h"
#include "harness/core/config.h"
#include "harness/core/explore.h"
#include "harness/core/history.h"
#include "harness/core/scenario.h"
#include "harness/mm/schemes.h"
#include "tests/explore_test_util.h"

namespace pagerace {
namespace {

// A search's verdict: what the differential check compares.
struct Verdict {
  std::set<std::tuple<int, int, bool, int>> violations;  // kind, invariant, data loss, preemptions
  std::set<std::pair<std::string, int>> causes;          // root cause id, preemptions
  bool deadlocked = false;
  bool operator==(const Verdict& o) const {
    return violations == o.violations && causes == o.causes && deadlocked == o.deadlocked;
  }
};

Verdict VerdictOf(const ExploreResult& r) {
  Verdict v;
  for (const ExploreViolation& x : r.violations) {
    v.violations.insert({static_cast<int>(x.kind), static_cast<int>(x.invariant), x.data_losing,
                         x.preemptions});
  }
  for (const ExploreCause& c : r.causes) {
    v.causes.insert({RootCause::Unpack(c.cause).Id(), c.preemptions});
  }
  v.deadlocked = r.deadlocked;
  return v;
}

std::string Show(const Verdict& v) {
  std::vector<std::string> out;
  for (const auto& [kind, inv, dl, p] : v.violations) {
    out.push_back(absl::StrCat(RaceKindName(static_cast<RaceKind>(kind)), " (",
                               InvariantName(static_cast<Invariant>(inv)), ")",
                               dl ? " data-losing" : "", " @", p));
  }
  for (const auto& [cause, p] : v.causes) out.push_back(absl::StrCat("cause ", cause, " @", p));
  if (v.deadlocked) out.push_back("deadlock");
  return out.empty() ? "clean" : absl::StrJoin(out, "; ");
}

// Plain DFS runs at most this many schedules; past it the pair is skipped
// (the check is asked only where plain DFS completes).
// ASan slows a schedule 5-10 times too: its suite runs the comparisons at 0
// preemptions, as TSan's does (the default preset runs them at 1).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PAGERACE_POR_TEST_UNDER_ASAN 1
#endif
#endif
#ifdef PAGERACE_POR_TEST_UNDER_ASAN
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = kUnderTsan;
#endif
constexpr uint64_t kDfsBudget = kSanitized ? 400 : 6000;

struct Outcome {
  bool compared = false;  // plain DFS completed
  bool same = false;
  std::string message;
  uint64_t dfs_runs = 0, dpor_runs = 0;
};

Outcome Compare(const RunConfig& base, const Scenario& scenario, int bound,
                const std::string& what) {
  Outcome o;
  ExploreOptions none;
  none.por = ExplorePor::kNone;
  none.max_preemptions = bound;
  none.max_schedules = kDfsBudget;
  none.determinism_runs = 0;
  auto dfs = Explore(base, scenario, none, nullptr);
  if (!dfs.ok() || !dfs->complete || dfs->deadlocked) return o;
  ExploreOptions dpor = none;
  dpor.por = ExplorePor::kDpor;
  dpor.max_schedules = 0;
  auto red = Explore(base, scenario, dpor, nullptr);
  o.compared = true;
  if (!red.ok()) {
    o.message = absl::StrCat(what, ": dpor failed: ", red.status().ToString());
    return o;
  }
  o.dfs_runs = dfs->executions;
  o.dpor_runs = red->executions;
  const Verdict a = VerdictOf(*dfs), b = VerdictOf(*red);
  o.same = a == b && red->complete;
  if (!o.same) {
    o.message = absl::StrCat(what, " at <=", bound, " preemptions:\n    none: ", Show(a),
                             "\n    dpor: ", Show(b), red->complete ? "" : " (incomplete)");
  }
  return o;
}

// Tallies comparisons; fails with every mismatch named.
class Tally {
 public:
  void Add(const Outcome& o) {
    if (!o.compared) {
      ++skipped_;
      return;
    }
    ++compared_;
    dfs_runs_ += o.dfs_runs;
    dpor_runs_ += o.dpor_runs;
    if (!o.same) mismatches_.push_back(o.message);
  }
  int compared() const { return compared_; }
  ::testing::AssertionResult Same() const {
    if (mismatches_.empty()) {
      return ::testing::AssertionSuccess()
             << compared_ << " compared, " << skipped_ << " skipped; runs: none " << dfs_runs_
             << ", dpor " << dpor_runs_;
    }
    return ::testing::AssertionFailure() << mismatches_.size() << " of " << compared_
                                         << " differ:\n  " << absl::StrJoin(mismatches_, "\n  ");
  }
  std::string Summary() const {
    return absl::StrCat(compared_, " compared, ", skipped_, " skipped; runs: none ", dfs_runs_,
                        ", dpor ", dpor_runs_);
  }

 private:
  int compared_ = 0, skipped_ = 0;
  uint64_t dfs_runs_ = 0, dpor_runs_ = 0;
  std::vector<std::string> mismatches_;
};

std::vector<std::string> SchemeNames(bool mutants) {
  std::vector<std::string> out;
  for (const SchemeEntry& s : SchemeRegistry().entries()) {
    const bool mutant = absl::string_view(s.name).find("mutant") != absl::string_view::npos ||
                        absl::string_view(s.name).find("broken") != absl::string_view::npos;
    if (mutants || !mutant) out.push_back(s.name);
  }
  return out;
}

std::vector<std::string> AdapterNames() {
  std::vector<std::string> out;
  for (const AdapterEntry& a : AdapterRegistry().entries()) out.push_back(a.name);
  return out;
}

void CompareBuiltins(const std::vector<std::string>& schemes,
                     const std::vector<std::string>& adapters, int bound, Tally* tally) {
  for (const BuiltinScenario& b : BuiltinScenarios()) {
    auto scenario = LoadScenario(b.name);
    ASSERT_TRUE(scenario.ok()) << b.name;
    for (const std::string& scheme : schemes) {
      for (const std::string& fs : adapters) {
        const RunConfig base = Base(scheme, fs);
        if (!ScenarioConfig(base, *scenario).ok()) continue;
        tally->Add(Compare(base, *scenario, bound, absl::StrCat(b.name, " ", scheme, "/", fs)));
      }
    }
  }
}

void CompareHistory(int max_bound, Tally* tally) {
  auto catalog = HistoryCatalog();
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  for (const HistoryEntry& e : *catalog) {
    auto scenario = LoadScenario(e.scenario);
    ASSERT_TRUE(scenario.ok()) << e.file;
    const int bound = std::min(max_bound, std::max(e.preemptions, 1));
    for (const std::string& scheme : e.schemes) {
      for (const bool reverted : {true, false}) {
        RawFlags raw;
        raw.scheme = scheme;
        raw.fs = e.fs_for(scheme);
        raw.workload = scenario->workload;
        if (reverted) raw.revert = InfoOf(e.fix).commit;
        auto config = ParseConfig(raw);
        if (!config.ok()) continue;  // a later fix: no revert switch on this era
        tally->Add(Compare(*config, *scenario, bound,
                           absl::StrCat(e.file, " ", scheme, "/", raw.fs,
                                        reverted ? " reverted" : " restored")));
      }
    }
  }
}

// A small scenario of random ops: 2-3 threads, 1-2 pages, 1-2 mappings.
std::string Generate(Rng* rng) {
  const int pages = 1 + static_cast<int>(rng->Below(2));
  const int mappings = 1 + static_cast<int>(rng->Below(2));
  std::vector<std::string> lines = {absl::StrCat("pages ", pages),
                                    absl::StrCat("mappings ", mappings)};
  const int mmaps = 1 + static_cast<int>(rng->Below(2));
  auto page = [&] { return rng->Below(static_cast<uint64_t>(pages)); };
  auto vma = [&] { return rng->Below(static_cast<uint64_t>(mappings)); };
  for (int t = 0; t < mmaps; ++t) {
    std::vector<std::string> ops;
    const int n = 1 + static_cast<int>(rng->Below(2));
    for (int i = 0; i < n; ++i) {
      switch (rng->Below(4)) {
        case 0:
          ops.push_back(absl::StrCat("load ", page(), " ", vma()));
          break;
        case 1:
          ops.push_back(absl::StrCat("zap ", page(), " ", vma()));
          break;
        default:
          ops.push_back(absl::StrCat("store ", page(), " ", vma()));
      }
    }
    lines.push_back(absl::StrCat("mmap", t, ": ", absl::StrJoin(ops, "; ")));
  }
  std::vector<std::string> kernel;
  const int n = 1 + static_cast<int>(rng->Below(2));
  for (int i = 0; i < n; ++i) {
    switch (rng->Below(5)) {
      case 0:
        kernel.push_back(absl::StrCat("reclaim ", page()));
        break;
      case 1:
        kernel.push_back("sync");
        break;
      default:
        kernel.push_back("pass");
    }
  }
  lines.push_back(absl::StrCat("writeback: ", absl::StrJoin(kernel, "; ")));
  if (mmaps == 1 && rng->Below(2)) {
    lines.push_back(absl::StrCat("truncate: truncate ", rng->Below(static_cast<uint64_t>(pages) + 1)));
  }
  return absl::StrJoin(lines, "\n");
}

void CompareGenerated(int count, uint64_t seed, int bound, Tally* tally) {
  const std::vector<std::string> schemes = SchemeNames(/*mutants=*/true);
  const std::vector<std::string> adapters = BaseAdapters(/*need_page_mkwrite=*/false);
  Rng rng(seed);
  for (int i = 0; i < count; ++i) {
    const std::string text = Generate(&rng);
    const std::string& scheme = schemes[rng.Below(schemes.size())];
    const std::string& fs = adapters[rng.Below(adapters.size())];
    auto scenario = ParseScenario(text, absl::StrCat("generated", i));
    if (!scenario.ok()) continue;
    const RunConfig base = Base(scheme, fs);
    if (!ScenarioConfig(base, *scenario).ok()) continue;
    tally->Add(Compare(base, *scenario, bound,
                       absl::StrCat("generated ", scheme, "/", fs, " '",
                                    absl::StrReplaceAll(text, {{"\n", "|"}}), "'")));
  }
}

constexpr int kCiBound = kSanitized ? 0 : 1;

// Every built-in scenario under one scheme (nfs), at kCiBound.
class PorBuiltins : public ::testing::TestWithParam<std::string> {};

TEST_P(PorBuiltins, DporFindsWhatDfsFinds) {
  Tally tally;
  CompareBuiltins({GetParam()}, {"nfs"}, kCiBound, &tally);
  EXPECT_GT(tally.compared(), 5);
  EXPECT_TRUE(tally.Same());
  printf("builtins under %s: %s\n", GetParam().c_str(), tally.Summary().c_str());
}

INSTANTIATE_TEST_SUITE_P(Schemes, PorBuiltins, ::testing::ValuesIn(SchemeNames(/*mutants=*/true)),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           for (char& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

TEST(PorTest, DporFindsWhatDfsFindsOnTheHistoryEntries) {
  Tally tally;
  CompareHistory(kCiBound, &tally);
  EXPECT_GT(tally.compared(), 20);
  EXPECT_TRUE(tally.Same());
  printf("history: %s\n", tally.Summary().c_str());
}

// Generated scenarios, in batches of 30 (one seed each), at 1 preemption
// (0 under TSan; the soak runs 2 and 3).
class PorGenerated : public ::testing::TestWithParam<int> {};

TEST_P(PorGenerated, DporFindsWhatDfsFinds) {
  Tally tally;
  CompareGenerated(kSanitized ? 8 : 30, /*seed=*/static_cast<uint64_t>(GetParam()), kCiBound,
                   &tally);
  EXPECT_GT(tally.compared(), kSanitized ? 4 : 15);
  EXPECT_TRUE(tally.Same());
  printf("generated (seed %d): %s\n", GetParam(), tally.Summary().c_str());
}

INSTANTIATE_TEST_SUITE_P(Seeds, PorGenerated, ::testing::Values(21, 22, 23, 24, 25, 26));

// The teeth: a relation that does not see page-flag accesses (PG_dirty,
// PG_locked, PG_writeback) misses the race between __do_fault's
// set_page_dirty and writeback's clear_page_dirty_for_io on the pre-fix
// kernel (seed_fault under legacy): DPOR then reports the fault's missing
// metadata but not the lost data that plain DFS finds.
TEST(PorTest, HidingAnAccessFromTheRelationMakesTheCheckFail) {
  const RunConfig base = Base("legacy", "nfs");
  auto scenario = LoadScenario("seed_fault");
  ASSERT_TRUE(scenario.ok());
  const Outcome honest = Compare(base, *scenario, 1, "seed_fault legacy/nfs");
  ASSERT_TRUE(honest.compared);
  EXPECT_TRUE(honest.same) << honest.message;
  HideSharedKind(SharedKind::kPageFlags, true);
  const Outcome blind = Compare(base, *scenario, 1, "seed_fault legacy/nfs, page flags hidden");
  HideSharedKind(SharedKind::kPageFlags, false);
  ASSERT_TRUE(blind.compared);
  EXPECT_FALSE(blind.same);
  EXPECT_NE(blind.message.find("lost_dirty"), std::string::npos) << blind.message;
  printf("%s\n", blind.message.c_str());
}

// The full comparison (label soak): 2 preemptions, every scheme and adapter.
TEST(PorSoak, DporFindsWhatDfsFindsEverywhere) {
  Tally tally;
  CompareBuiltins(SchemeNames(/*mutants=*/true), AdapterNames(), 2, &tally);
  CompareHistory(2, &tally);
  CompareGenerated(400, /*seed=*/2026, 2, &tally);
  CompareGenerated(100, /*seed=*/2027, 3, &tally);
  EXPECT_TRUE(tally.Same());
  printf("soak: %s\n", tally.Summary().c_str());
}

}  // namespace
}  // namespace pagerace

