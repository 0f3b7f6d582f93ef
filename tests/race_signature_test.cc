// Race signatures (race_signature.h): one definition, shared by the Oracle's
// grouping and the result JSON.
#include "harness/check/race_signature.h"

#include <memory>

#include "gtest/gtest.h"
#include "harness/base/thread_registry.h"
#include "harness/check/oracle.h"
#include "harness/check/trace.h"

namespace pagerace {
namespace {

std::unique_ptr<RaceRecord> Record(RaceKind kind, Invariant inv, bool losing,
                                   std::initializer_list<Event> events, int64_t t0 = 0,
                                   uint32_t tid0 = 1) {
  auto r = std::make_unique<RaceRecord>();
  *r = RaceRecord{};
  r->kind = kind;
  r->invariant = inv;
  r->data_losing = losing;
  r->page = 3;
  r->t_ns = t0;
  r->tid = tid0;
  for (Event e : events) {
    const int i = r->trace_len++;
    r->trace[i] = {t0 + 10 * i, tid0 + static_cast<uint32_t>(i), e};
  }
  return r;
}

constexpr auto kLegacyWindow = {Event::kFaultWriteWp,         Event::kPageMkwriteEnter,
                                Event::kPageMkwriteReturn,    Event::kClearPageDirtyForIo,
                                Event::kWritepage,            Event::kMetadataRetire,
                                Event::kPteMkwrite,           Event::kSetPageDirty};

TEST(RaceSignatureTest, IgnoresTimesThreadsAndPages) {
  auto a = Record(RaceKind::kDirtyWithoutMetadata, Invariant::kI2, true, kLegacyWindow, 100, 1);
  auto b = Record(RaceKind::kDirtyWithoutMetadata, Invariant::kI2, true, kLegacyWindow, 99999, 7);
  b->page = 40;
  b->found = 12;
  EXPECT_EQ(SignatureOf(*a).hex, SignatureOf(*b).hex);
  EXPECT_EQ(SignatureOf(*a).hash,
            RaceSignatureHash(a->kind, a->invariant, a->data_losing, a->trace, a->trace_len));
}

TEST(RaceSignatureTest, CoversTheLastSixEvents) {
  auto a = Record(RaceKind::kLostDirty, Invariant::kI0, true, kLegacyWindow);
  const RaceSignature s = SignatureOf(*a);
  ASSERT_EQ(s.events.size(), static_cast<size_t>(kSignatureEvents));
  EXPECT_EQ(s.events.front(), Event::kPageMkwriteReturn);
  EXPECT_EQ(s.events.back(), Event::kSetPageDirty);
  EXPECT_EQ(s.hex.size(), 16u);
  // An older event outside the window does not matter; one inside does.
  auto b = Record(RaceKind::kLostDirty, Invariant::kI0, true, kLegacyWindow);
  b->trace[0].event = Event::kFaultRead;
  EXPECT_EQ(SignatureOf(*b).hex, s.hex);
  b->trace[7].event = Event::kPteWrprotect;
  EXPECT_NE(SignatureOf(*b).hex, s.hex);
}

TEST(RaceSignatureTest, DiffersByKindInvariantAndDataLosing) {
  auto a = Record(RaceKind::kDirtyWithoutMetadata, Invariant::kI2, true, kLegacyWindow);
  const std::string s = SignatureOf(*a).hex;
  auto k = Record(RaceKind::kWritepageWithoutMetadata, Invariant::kI2, true, kLegacyWindow);
  auto i = Record(RaceKind::kDirtyWithoutMetadata, Invariant::kI3, true, kLegacyWindow);
  auto l = Record(RaceKind::kDirtyWithoutMetadata, Invariant::kI2, false, kLegacyWindow);
  EXPECT_NE(SignatureOf(*k).hex, s);
  EXPECT_NE(SignatureOf(*i).hex, s);
  EXPECT_NE(SignatureOf(*l).hex, s);
}

TEST(RaceSignatureTest, EmptyTrace) {
  auto a = Record(RaceKind::kDeadlock, Invariant::kWatchdog, false, {});
  EXPECT_TRUE(SignatureOf(*a).events.empty());
  EXPECT_EQ(SignatureOf(*a).hex.size(), 16u);
}

// The Oracle groups by the same signature: two reports on different pages
// with the same recent events are one group; a third with another event
// sequence is a second group.
TEST(RaceSignatureTest, OracleGroupsBySignature) {
  ScopedThread me(RoleKind::kTest, 0, /*user_access=*/false);
  Tracer tracer(8, 0);
  Oracle oracle(&tracer);
  for (uint64_t page : {1, 2}) {
    for (Event e : kLegacyWindow) tracer.Record(page, e);
  }
  tracer.Record(5, Event::kPteMkwrite);
  oracle.Report(RaceKind::kDirtyWithoutMetadata, Invariant::kI2, 1);
  oracle.Report(RaceKind::kDirtyWithoutMetadata, Invariant::kI2, 2);
  oracle.Report(RaceKind::kDirtyWithoutMetadata, Invariant::kI2, 5);
  auto groups = oracle.Groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].count, 2u);
  EXPECT_EQ(groups[1].count, 1u);
  EXPECT_NE(SignatureOf(groups[0].first).hex, SignatureOf(groups[1].first).hex);
}

}  // namespace
}  // namespace pagerace
