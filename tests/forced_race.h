// Forced races for tests: the helpers that run a fault against writeback,
// truncate or another thread under ordered dependencies, and the set-ups
// they start from.  Any adapter's test file can use them (each race a test
// forces is told, as numbered steps, at the test that forces it).
//
// Thread-safety: each helper starts and joins its own threads; call from
// the test's thread.
#ifndef PAGERACE_TESTS_FORCED_RACE_H_
#define PAGERACE_TESTS_FORCED_RACE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "harness/base/thread_registry.h"
#include "harness/check/invariants.h"
#include "harness/mm/filemap.h"
#include "harness/mm/recovery.h"
#include "harness/mm/truncate.h"
#include "harness/mm/writeback.h"
#include "harness/sched/sched.h"
#include "tests/test_machine.h"

namespace pagerace {

constexpr uint64_t kStamp = 0x5eed5eed5eedULL;

// The reports, for failure messages.
inline std::string Describe(TestMachine& m) {
  std::string out;
  for (const RaceGroup& g : m.mm->oracle().Groups()) {
    out += std::string("\n  ") + RaceKindName(g.first.kind) + " " +
           InvariantName(g.first.invariant) + ":";
    for (int i = 0; i < g.first.trace_len; ++i) {
      out += std::string(" ") + ThreadRole(g.first.trace[i].tid) + "/" +
             EventName(g.first.trace[i].event);
    }
  }
  return out;
}

// An I2 raised while a pte maps the page writable: stores land with no fs
// metadata to send them (the report's detail says so; invariants.cc).
inline bool IsWritableI2(const RaceGroup& g) {
  return std::string(g.first.detail) == kI2Writable;
}

struct Outcome {
  uint64_t i2 = 0, i2_writable = 0, i3 = 0, i0 = 0, losing = 0;
  bool store_persisted = false;
  uint64_t ordered_skipped = 0;
};

// A dependency bound to a page is tested in regression_test.cc
// (OrderedDepTest).

// Runs two registered threads' bodies under the ordered dependencies `deps`;
// returns how many dependencies had to be dropped (forbidden by locking).
template <typename F, typename W>
uint64_t RunPair(const char* deps, const char* f_role, F f_body, const char* w_role, W w_body) {
  TestThread main_thread("main");  // a participant: counted as blocked while joining
  sched::Options so;
  so.policy = sched::Policy::kOrdered;
  so.deps = sched::ParseOrderedDeps(deps).value();
  sched::Configure(so);
  {
    // Joining threads count as blocked, so the ordered policy can tell a
    // dependency that the scheme's locking forbids from one still pending.
    // Both threads register before either starts, so the participant count
    // is complete from the first point on.
    std::atomic<int> registered{0};
    auto barrier = [&registered] {
      registered.fetch_add(1);
      while (registered.load() < 2) std::this_thread::yield();
    };
    std::thread f([&] {
      TestThread t(f_role);
      barrier();
      f_body();
    });
    std::thread w([&] {
      TestThread t(w_role);
      barrier();
      w_body();
    });
    while (registered.load() < 2) std::this_thread::yield();
    sched::BlockedScope main_blocked;
    f.join();
    w.join();
  }
  const uint64_t skipped = sched::OrderedSkipped();
  sched::Reset();
  return skipped;
}

// Runs F (one store to page 0, slot 0, mapping 0) against W (one writeback
// pass with completion and commit) under `deps`, then a final writeback,
// audit and sync as the harness does after a run.
inline Outcome RunInterleaving(TestMachine& m, const char* deps) {
  Outcome o;
  o.ordered_skipped = RunPair(
      deps, "fault", [&] { m.store(0, 0, 0, kStamp); }, "writeback", [&] { m.writeback(); });
  TestThread main_thread("main");
  m.writeback();
  m.mm->audit_all();
  sync_mapping(*m.mm, /*drain=*/true);
  o.i2 = m.races(RaceKind::kDirtyWithoutMetadata);
  o.i3 = m.races(RaceKind::kWritepageWithoutMetadata);
  o.i0 = m.races(RaceKind::kLostDirty);
  o.i2_writable = 0;
  for (const RaceGroup& g : m.mm->oracle().Groups()) {
    if (g.first.kind == RaceKind::kDirtyWithoutMetadata && IsWritableI2(g)) ++o.i2_writable;
    if (g.first.data_losing) ++o.losing;
  }
  o.store_persisted = m.persisted_slot(0, 0) == kStamp;
  return o;
}

// Setup for race 1: page 0 clean, read-only in mapping 0, no request.
inline void CleanReadOnlyPage(TestMachine& m) {
  TestThread t("setup");
  m.store(0, 0, 0, 1);
  m.writeback();
  ASSERT_EQ(m.pte(0, 0), kPteReadOnly);
  ASSERT_EQ(m.races(), 0u);
}

// Setup for race 2: page 0 cached and clean, no pte anywhere, no request.
inline void CleanUnmappedPage(TestMachine& m) {
  TestThread t("setup");
  generic_perform_write(*m.mm, 0, 1, 1);
  m.writeback();
  ASSERT_EQ(m.pte(0, 0), kPteNone);
  ASSERT_EQ(m.races(), 0u);
}

// The partial-EOF growth race (regression_test.cc, BufferIsizeRaceTest):
// F's store to page 3 against T growing the file past it, after a set-up
// with EOF 1 KiB into page 3 on a full disk; then a store past the old EOF.
constexpr char kRaceIsize[] =
    "do_wp_page:after_mkwrite<truncate:begin,truncate:end<do_wp_page:before_ptl_relock";
constexpr uint32_t kSlotInLastBuffer = 3 * 1024 / 8;

struct IsizeOutcome {
  uint64_t skipped = 0;
  bool second_store_landed = false;
  bool persisted = false;
};

inline IsizeOutcome RunIsizeRace(TestMachine& m) {
  const int64_t ps = static_cast<int64_t>(m.mm->page_size());
  {
    TestThread t("setup");
    EXPECT_TRUE(m.fs->FillDisk());
    vmtruncate(*m.mm, 3 * ps + 1024);
    m.store(0, 3, 0, 1);
    m.writeback();
    EXPECT_EQ(m.pte(0, 3), kPteReadOnly);
  }
  IsizeOutcome o;
  o.skipped = RunPair(
      kRaceIsize, "fault",
      // Guarded: under `locked` the store may re-fault after the extension
      // write-protected the page, and then be refused (ENOSPC).
      [&] { guarded_store(m.user(0, 3, 0), 2); }, "truncate",
      [&] { vmtruncate(*m.mm, 4 * ps); });
  TestThread t("main");
  // After both: the store past the old EOF, now inside i_size.
  o.second_store_landed = guarded_store(m.user(0, 3, kSlotInLastBuffer), kStamp);
  m.mm->audit_all();
  sync_mapping(*m.mm, /*drain=*/true);
  m.mm->audit_all();
  o.persisted = m.persisted_slot(3, kSlotInLastBuffer) == kStamp;
  return o;
}

}  // namespace pagerace

#endif  // PAGERACE_TESTS_FORCED_RACE_H_
