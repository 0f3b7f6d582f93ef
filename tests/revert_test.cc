// --revert (issue 20): each fix the model carries is a switch at the place
// the fix changed.  Reverted, the explorer finds the race the fix closed;
// restored, the same search is complete and clean.  Both directions, up to
// two preemptions (kSearchBound), on the scenario that shows the window.
// The refusals (a fix the scheme's release or the fs does not hold) are
// checked in cli_test.sh (usage).
#include <string>

#include "gtest/gtest.h"
#include "harness/core/config.h"
#include "harness/core/explore.h"
#include "harness/core/scenario.h"
#include "harness/mm/fixes.h"
#include "tests/explore_test_util.h"

namespace pagerace {
namespace {

struct RevertCase {
  const char* commit;
  const char* scheme;
  const char* fs;
  const char* scenario;
  const char* invariant;  // what the reverted search must show
  bool data_losing;       // and whether that violation loses the store
};

void PrintTo(const RevertCase& c, std::ostream* os) {
  *os << c.commit << " " << c.scheme << "/" << c.fs << "@" << c.scenario;
}

class RevertTest : public ::testing::TestWithParam<RevertCase> {};

ExploreResult Search(const RevertCase& c, bool reverted) {
  RunConfig config = Base(c.scheme, c.fs);
  if (reverted) {
    auto set = ParseReverts(c.commit, *config.scheme, *config.fs);
    EXPECT_TRUE(set.ok()) << set.status();
    if (set.ok()) config.reverts = *set;
  }
  ExploreOptions o;
  o.max_preemptions = kSearchBound;
  auto r = Explore(config, LoadScenario(c.scenario).value(), o, nullptr);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : ExploreResult{};
}

TEST_P(RevertTest, RevertedFoundRestoredClean) {
  const RevertCase& c = GetParam();
  const ExploreResult reverted = Search(c, true);
  EXPECT_TRUE(reverted.complete);
  bool found = false;
  for (const ExploreViolation& v : reverted.violations) {
    found |= InvariantName(v.invariant) == std::string(c.invariant) && v.data_losing == c.data_losing;
  }
  EXPECT_TRUE(found) << "reverted " << c.commit << ": no " << c.invariant
                     << (c.data_losing ? " data-losing" : "") << " violation:" << Describe(reverted);
  const ExploreResult restored = Search(c, false);
  EXPECT_TRUE(restored.complete);
  EXPECT_TRUE(restored.violations.empty()) << "restored " << c.commit << ":" << Describe(restored);
}

INSTANTIATE_TEST_SUITE_P(
    Fixes, RevertTest,
    ::testing::Values(
        // v2.6.23: legacy's do_wp_page waits for writeback's page lock before
        // set_page_dirty; without it the fault's dirtying lands between
        // page_mkclean and TestClearPageDirty and is cleared: a writable pte
        // on a clean page.  (fs=none: no ->page_mkwrite, so the seed's own
        // window does not open.)
        RevertCase{"79352894b285", "legacy", "none", "seed", "I1", false},
        // v2.6.20: clear_page_dirty_for_io cleaned PG_dirty before the ptes.
        RevertCase{"7658cc289288", "locked", "nfs", "seed", "I1", false},
        // v2.6.30 NFS: ->page_mkwrite returned unlocked; writeback sends and
        // retires the request before the VM relocks and dirties the page.
        RevertCase{"7fdf52306766", "locked", "nfs", "seed", "I0", true},
        RevertCase{"7fdf52306766", "modern", "nfs", "seed", "I0", true},
        // v2.6.32 btrfs, under 5.15: the page unlocked between btrfs's
        // delalloc and the VM's relock; writeback gets in (a store lands on
        // a page under writeback: I7 on btrfs's stable pages).
        RevertCase{"50a9b214bc6c", "modern", "btrfs", "seed", "I7", false},
        // v3.18: growth without pagecache_isize_extended leaves the old EOF
        // page writable; a store past the old EOF has no block.
        RevertCase{"90a8020278c1", "modern", "buffer", "isize", "I0", true}),
    [](const ::testing::TestParamInfo<RevertCase>& info) {
      return std::string("fix_") + info.param.commit + "_" + info.param.scheme + "_" +
             info.param.fs;
    });

}  // namespace
}  // namespace pagerace
