// The hole punch (harness/mm/punch.h) on its own, without races: the pages
// leave the page cache, their blocks go back to the allocator and read as
// zeros, a later fault reads the hole and a later store gets new blocks;
// nothing happens in a release without a hole punch; and the ledger owes a
// store made after the punch, not one made before it.  The race with a
// fault is forced in revert_test.cc (PunchTest) and explored there
// (RevertTest, ea3d7209ca01).
#include "harness/mm/punch.h"

#include "fs_adapters/buffer.h"
#include "harness/core/config.h"
#include "harness/core/explore.h"
#include "harness/core/machine.h"
#include "harness/core/scenario.h"
#include "harness/mm/writeback.h"
#include "test_machine.h"
#include "workloads/mixed.h"

namespace pagerace {
namespace {

TEST(PunchHoleTest, PagesGoBlocksAreFreedAndALaterFaultReadsZeros) {
  TestMachine m("modern", "buffer", 4, 2);
  TestThread t("worker");
  auto& fs = static_cast<BufferAdapter&>(*m.fs);
  m.store(0, 1, 0, 5);
  m.store(0, 2, 0, 6);
  m.store(1, 3, 0, 7);  // dirty, never written: its data goes with the punch
  m.writeback();
  m.store(1, 1, 1, 8);  // dirty again: thrown away too
  const int64_t free_before = fs.free_blocks();
  ASSERT_EQ(m.persisted_slot(1, 0), 5u);
  punch_hole(*m.mm, 1, 1);
  punch_hole(*m.mm, 3, 1);
  for (uint64_t page : {1u, 3u}) {
    EXPECT_EQ(m.mm->mapping().find_get_page(page), nullptr) << page;
    EXPECT_EQ(m.pte(0, page), kPteNone);
    EXPECT_EQ(m.pte(1, page), kPteNone);
    EXPECT_EQ(fs.mapped_mask(page), 0u);
    EXPECT_EQ(m.persisted_slot(page, 0), 0u);
  }
  EXPECT_EQ(fs.free_blocks(), free_before + 8);  // 2 pages of 4 blocks
  EXPECT_EQ(m.mm->mapping().nr_dirty(), 0u);
  // Page 2 is not in the range.
  EXPECT_EQ(m.persisted_slot(2, 0), 6u);
  EXPECT_EQ(m.load(0, 2, 0), 6u);
  // A later fault reads the hole; a later store gets new blocks and stays.
  EXPECT_EQ(m.load(0, 1, 0), 0u);
  EXPECT_EQ(m.load(0, 1, 1), 0u);
  m.store(0, 1, 0, 9);
  EXPECT_EQ(fs.mapped_mask(1), 0b1111u);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(1, 0), 9u);
  EXPECT_EQ(fs.stale_mask(1), 0u);
  EXPECT_EQ(fs.writes_to_freed_blocks(), 0u);
  m.mm->audit_all();
  EXPECT_EQ(m.races(), 0u);
}

// Past EOF there is nothing to punch (ext4_punch_hole returns at once).
TEST(PunchHoleTest, NothingPastEof) {
  TestMachine m("modern", "none", 4, 1);
  TestThread t("worker");
  m.store(0, 3, 0, 5);
  m.writeback();
  m.mm->mapping().set_i_size(static_cast<int64_t>(2 * m.mm->page_size()));
  punch_hole(*m.mm, 2, 2);
  Page* p = m.mm->mapping().find_get_page(3);
  EXPECT_NE(p, nullptr);
  if (p) put_page(p);
  EXPECT_EQ(m.persisted_slot(3, 0), 5u);
}

// v2.6.29/30 have no FALLOC_FL_PUNCH_HOLE: the file is left as it was.
TEST(PunchHoleTest, NoHolePunchBeforeItExisted) {
  for (const char* scheme : {"legacy", "locked"}) {
    SCOPED_TRACE(scheme);
    TestMachine m(scheme, "buffer", 2, 1);
    TestThread t("worker");
    m.store(0, 0, 0, 5);
    m.writeback();
    punch_hole(*m.mm, 0, 2);
    Page* p = m.mm->mapping().find_get_page(0);
    EXPECT_NE(p, nullptr);
    if (p) put_page(p);
    EXPECT_EQ(m.persisted_slot(0, 0), 5u);
    EXPECT_EQ(m.load(0, 0, 0), 5u);
  }
}

// The ledger (MixedWorkload::PunchRange): a store made before the punch
// took its page out of the cache may be gone; a store made after it is owed.
TEST(PunchHoleTest, TheLedgerOwesOnlyStoresAfterThePunch) {
  TestMachine m("modern", "buffer", 2, 1);
  TestThread t("worker");
  MixedWorkload& w = m.machine->workload();
  Ledger& ledger = m.machine->ledger();
  const uint32_t slot = ledger.owned_slot(0, 0);
  uint64_t seq = 0;
  w.StoreOp(0, 0, 0, slot, &seq);
  w.StoreOp(0, 0, 1, slot, &seq);
  m.writeback();
  w.PunchRange(0, 1);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(0, slot), 0u);
  EXPECT_EQ(w.CheckLedger(), 0);  // page 0's stamp went with the punch
  w.StoreOp(0, 0, 0, slot, &seq);  // the read-back finds the hole: allowed
  m.writeback();
  EXPECT_NE(ledger.expected(0, slot), 0u);
  EXPECT_EQ(m.persisted_slot(0, slot), ledger.expected(0, slot));
  EXPECT_EQ(m.persisted_slot(1, slot), ledger.expected(1, slot));
  EXPECT_EQ(w.CheckLedger(), 0);
  EXPECT_EQ(m.races(), 0u);
}

}  // namespace
}  // namespace pagerace

namespace pagerace {
namespace {

// The punch is 5.15 ext4's; an adapter whose filesystem punches under locks
// of its own (btrfs's i_mmap_lock, which its ->page_mkwrite takes too; nfs
// deallocating on the server first) or has no punch (ext2) is refused, by
// the stress configuration and by a scenario, so no run shows a race its
// kernel cannot have.
TEST(PunchHoleTest, OnlyExt4sPunchIsModeled) {
  for (const char* fs : {"buffer", "buffer:4k", "buffer:stable_writes"}) {
    EXPECT_EQ(Adapter(fs).make()->punch_hole_refusal(), "") << fs;
  }
  const Scenario s = LoadScenario("punch").value();
  // Every other registered adapter is refused (the registry's, so a new
  // one is covered).
  int refused = 0;
  for (const AdapterEntry& e : AdapterRegistry().entries()) {
    if (e.make()->punch_hole_refusal().empty()) continue;
    ++refused;
    const char* fs = e.name.c_str();
    SCOPED_TRACE(fs);
    RawFlags raw;
    raw.scheme = "modern";
    raw.fs = fs;
    raw.workload = "punch";
    auto c = ParseConfig(raw);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(std::string(c.status().message()).find("hole punch is not modeled"), std::string::npos)
        << c.status();
    RunConfig base;
    base.scheme = &Scheme("modern");
    base.fs = &Adapter(fs);
    auto sc = ScenarioConfig(base, s);
    ASSERT_FALSE(sc.ok());
    EXPECT_NE(std::string(sc.status().message()).find("punches a hole"), std::string::npos)
        << sc.status();
  }
  for (const char* fs : {"nfs", "ceph", "btrfs", "none", "buffer:ext2", "buffer:ext4_v2.6.30"}) {
    EXPECT_NE(Adapter(fs).make()->punch_hole_refusal(), "") << fs;
  }
  EXPECT_GE(refused, 6);
}

}  // namespace
}  // namespace pagerace
