// The name tables (points.def, events.def, race_kinds.def, invariants.def,
// thread_roles.def): every name is unique and round-trips through its
// by-name lookup, and replay's order derivation reads traces through them.
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "harness/base/thread_roles.h"
#include "harness/check/race_kind.h"
#include "harness/check/trace.h"
#include "harness/core/replay.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

// Checks that `name(i)` for i in [0, n) are distinct, non-empty, and found
// again by `by_name`.
template <typename Enum, typename NameFn, typename ByNameFn>
void ExpectRoundTrip(int n, NameFn name, ByNameFn by_name) {
  std::set<std::string> seen;
  for (int i = 0; i < n; ++i) {
    const Enum e = static_cast<Enum>(i);
    const std::string s = name(e);
    EXPECT_FALSE(s.empty() || s == "?") << i;
    EXPECT_TRUE(seen.insert(s).second) << "duplicate name " << s;
    auto back = by_name(s);
    ASSERT_TRUE(back.ok()) << s << ": " << back.status();
    EXPECT_EQ(*back, e) << s;
  }
  EXPECT_FALSE(by_name("no_such_name").ok());
  EXPECT_FALSE(by_name("").ok());
}

TEST(NamesTest, SchedulePointsRoundTrip) {
  ExpectRoundTrip<sched::Point>(sched::kNumPoints, sched::PointName, sched::PointByName);
  EXPECT_STREQ(sched::PointName(sched::kNumPoints), "?");
}

TEST(NamesTest, EventsRoundTrip) {
  ExpectRoundTrip<Event>(kNumEvents, EventName, EventByName);
  EXPECT_STREQ(EventName(Event::kNumEvents), "?");
  EXPECT_EQ(*EventByName("pte_mkwrite"), Event::kPteMkwrite);
}

TEST(NamesTest, RaceKindsRoundTrip) {
  ExpectRoundTrip<RaceKind>(kNumRaceKinds, RaceKindName, RaceKindByName);
  EXPECT_STREQ(RaceKindName(RaceKind::kNumKinds), "?");
  EXPECT_EQ(*RaceKindByName("lost_dirty"), RaceKind::kLostDirty);
  for (int i = 0; i < kNumRaceKinds; ++i) {
    const auto k = static_cast<RaceKind>(i);
    EXPECT_LT(static_cast<int>(RaceKindInvariant(k)), kNumInvariants) << RaceKindName(k);
    EXPECT_STRNE(RaceKindMeaning(k), "") << RaceKindName(k);
  }
  EXPECT_EQ(RaceKindInvariant(RaceKind::kLostDirty), Invariant::kI0);
  EXPECT_EQ(RaceKindInvariant(RaceKind::kSnapcOrder), Invariant::kFs);
}

TEST(NamesTest, InvariantsRoundTrip) {
  ExpectRoundTrip<Invariant>(kNumInvariants, InvariantName, InvariantByName);
  EXPECT_EQ(kNumInvariants, static_cast<int>(Invariant::kFs) + 1);
  EXPECT_EQ(*InvariantByName("I7"), Invariant::kI7);
  EXPECT_EQ(*InvariantByName("lockdep"), Invariant::kLockOrder);
  for (int i = 0; i < kNumInvariants; ++i) {
    EXPECT_STRNE(InvariantMeaning(static_cast<Invariant>(i)), "");
  }
}

TEST(NamesTest, RoleKindsRoundTrip) {
  ExpectRoundTrip<RoleKind>(kNumRoleKinds, RoleKindName, RoleKindByName);
}

TEST(NamesTest, RoleNamesFormAndParse) {
  EXPECT_EQ(RoleName(RoleKind::kMmap, 1), "mmap1");
  EXPECT_EQ(RoleName(RoleKind::kPwrite, 0), "pwrite0");
  EXPECT_EQ(RoleName(RoleKind::kWriteback, 7), "writeback");  // unnumbered: no index
  EXPECT_EQ(RoleName(RoleKind::kSnapshot), "snapshot");

  auto m = ParseRole("mmap1");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->kind, RoleKind::kMmap);
  EXPECT_EQ(m->index, 1);
  auto p = ParseRole("pwrite12");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, (RoleId{RoleKind::kPwrite, 12}));
  auto w = ParseRole("writeback");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(*w, (RoleId{RoleKind::kWriteback, 0}));

  for (const char* bad : {"mmap", "writeback0", "mmap01", "mmapx", "bogus3", "", "?", "7"}) {
    EXPECT_FALSE(ParseRole(bad).ok()) << bad;
  }
  // Every kind, at a few indexes, round-trips through its name.
  for (int i = 0; i < kNumRoleKinds; ++i) {
    const auto k = static_cast<RoleKind>(i);
    for (int index : {0, 1, 10}) {
      if (!RoleKindNumbered(k) && index != 0) continue;
      const std::string name = RoleName(k, index);
      auto back = ParseRole(name);
      ASSERT_TRUE(back.ok()) << name << ": " << back.status();
      EXPECT_EQ(*back, (RoleId{k, index})) << name;
    }
  }
}

nlohmann::json Trace(std::initializer_list<std::pair<const char*, const char*>> events) {
  nlohmann::json race = {{"trace", nlohmann::json::array()}};
  for (auto [thread, event] : events) {
    race["trace"].push_back({{"thread", thread}, {"event", event}});
  }
  return race;
}

// Replay derives its order from role and event names through the tables: a
// do_wp_page window between the pte and set_page_dirty, with the I/O
// completion thread inside it.
TEST(NamesTest, DeriveOrderReadsRolesAndEvents) {
  auto order = DeriveOrder(Trace({{"mmap1", "fault_write_wp"},
                                  {"mmap1", "page_mkwrite_return"},
                                  {"mmap1", "pte_mkwrite"},
                                  {"io", "end_page_writeback"},
                                  {"mmap1", "set_page_dirty"}}));
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_EQ(*order,
            "do_wp_page:after_pte_mkwrite<end_io:begin,end_io:done<"
            "do_wp_page:before_set_page_dirty");
  // The trace is one page's: with the race's page known, the completion that
  // closes the window is bound to it.
  nlohmann::json on_page = Trace({{"mmap1", "fault_write_wp"},
                                  {"mmap1", "page_mkwrite_return"},
                                  {"writeback", "clear_page_dirty_for_io"},
                                  {"io", "end_page_writeback"},
                                  {"mmap1", "pte_mkwrite"}});
  on_page["page"] = 31;
  auto bound = DeriveOrder(on_page);
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_EQ(*bound,
            "do_wp_page:after_mkwrite<write_cache_pages:begin,end_io:done@31<"
            "do_wp_page:before_ptl_relock");
  auto parsed = sched::ParseOrderedDeps(*bound);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].page, -1);
  EXPECT_EQ((*parsed)[1].page, 31);
  EXPECT_EQ(sched::DepName((*parsed)[1]), "end_io:done@31<do_wp_page:before_ptl_relock");
  EXPECT_FALSE(sched::ParseOrderedDeps("end_io:done@x<do_wp_page:before_ptl_relock").ok());
  EXPECT_FALSE(sched::ParseOrderedDeps("end_io:done@-1<do_wp_page:before_ptl_relock").ok());
  // Only points that report their page can be bound to one.
  EXPECT_FALSE(sched::ParseOrderedDeps("write_cache_pages:end@3<do_wp_page:before_ptl_relock").ok());
  // Names the tables do not know (another version's result) are no window.
  EXPECT_FALSE(DeriveOrder(Trace({{"mmap1", "fault_write_wp"},
                                  {"mmap1", "page_mkwrite_return"},
                                  {"worker", "clear_page_dirty_for_io"},
                                  {"mmap1", "pte_mkwrite"}}))
                   .ok());
}

}  // namespace
}  // namespace pagerace
