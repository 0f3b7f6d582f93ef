// The block map and space account the block filesystems share
// (fs_adapters/block_map.h): the masks, allocation and delalloc, the full
// disk, and I4 validated both ways.
#include "fs_adapters/block_map.h"

#include "gtest/gtest.h"
#include "harness/base/thread_registry.h"
#include "harness/check/oracle.h"
#include "harness/check/trace.h"

namespace pagerace {
namespace {

constexpr BlockGeometry k1k{.page_size = 4096, .blocksize = 1024};

TEST(BlockGeometryTest, MasksFollowTheSizeAndTheRange) {
  EXPECT_EQ(k1k.all(), 0xfu);
  EXPECT_EQ(k1k.in(3, 3 * 4096), 0u);           // wholly past EOF
  EXPECT_EQ(k1k.in(3, 3 * 4096 + 1), 0x1u);     // one byte into the first block
  EXPECT_EQ(k1k.in(3, 3 * 4096 + 1025), 0x3u);  // into the second
  EXPECT_EQ(k1k.in(2, 3 * 4096), 0xfu);         // wholly inside
  EXPECT_EQ(k1k.in_range(1000, 1100), 0x3u);
  EXPECT_EQ(k1k.in_range(0, 0), 0u);
  constexpr BlockGeometry k4k{.page_size = 4096, .blocksize = 4096};
  EXPECT_EQ(k4k.all(), 0x1u);
}

struct Checked {
  ScopedThread me{RoleKind::kTest, 0, /*user_access=*/false};
  Tracer tracer{8, 0};
  Oracle oracle{&tracer};
};

TEST(BlockMapTest, AllocationDelallocAndFreeingConserveSpace) {
  Checked c;
  BlockMap map;
  map.Init(4, k1k);
  EXPECT_EQ(map.space().free(), 16);
  ASSERT_TRUE(map.Delay(1, 0x3));
  EXPECT_EQ(map.delay(1), 0x3u);
  EXPECT_EQ(map.placed(1), 0x3u);
  ASSERT_TRUE(map.Allocate(1, 0x6));  // block 1 converted, block 2 allocated
  EXPECT_EQ(map.mapped(1), 0x6u);
  EXPECT_EQ(map.delay(1), 0x1u);
  EXPECT_EQ(map.space().free(), 13);
  map.Convert(1, 0x1);
  EXPECT_EQ(map.mapped(1), 0x7u);
  map.Truncate(4096 + 1024);  // blocks 1.. of page 1 and all after go
  EXPECT_EQ(map.mapped(1), 0x1u);
  EXPECT_EQ(map.space().free(), 15);
  map.Audit(c.oracle);
  EXPECT_EQ(c.oracle.total(), 0u);
}

TEST(BlockMapTest, AFullDiskRefusesAndFreedBlocksLeave) {
  Checked c;
  BlockMap map;
  map.Init(4, k1k);
  map.Fill(2 * 4096 + 1024);  // pages 0, 1 and page 2's first block
  EXPECT_EQ(map.mapped(2), 0x1u);
  EXPECT_EQ(map.space().free(), 0);
  EXPECT_FALSE(map.Delay(2, 0x3));
  EXPECT_EQ(map.delay(2), 0u);  // nothing reserved on a failure
  map.Truncate(4096);
  EXPECT_EQ(map.space().free(), 0);  // to other files
  EXPECT_EQ(map.space().capacity(), 4);
  map.Audit(c.oracle);
  EXPECT_EQ(c.oracle.total(), 0u);
}

TEST(BlockMapTest, APunchUnderACachedMappingLeavesStaleBlocks) {
  Checked c;
  BlockMap map;
  map.Init(2, k1k);
  ASSERT_TRUE(map.Allocate(0, 0xf));
  map.Punch(0, /*keep_cached=*/true);
  EXPECT_EQ(map.mapped(0), 0xfu);
  EXPECT_EQ(map.stale(0), 0xfu);
  EXPECT_EQ(map.space().free(), 8);
  map.ForgetStale(0);
  EXPECT_EQ(map.mapped(0), 0u);
  map.Audit(c.oracle);
  EXPECT_EQ(c.oracle.total(), 0u);
}

// I4 fires on a leak (space taken that no page holds) and a negative free
// count, and stays silent while space is conserved.
TEST(SpaceAccountTest, I4FiresOnALeakOnly) {
  Checked c;
  SpaceAccount s;
  s.Reset(4);
  ASSERT_TRUE(s.Reserve());
  s.Settle();  // the page records it
  s.Check(c.oracle, 0, /*held=*/1, "held");
  EXPECT_EQ(c.oracle.total(), 0u);
  ASSERT_TRUE(s.Reserve());
  s.Settle();  // recorded nowhere: a leak
  s.Check(c.oracle, 0, /*held=*/1, "held");
  EXPECT_EQ(c.oracle.count(Invariant::kI4), 1u);
  s.SetFree(-1);
  s.Check(c.oracle, 0, /*held=*/1, "held");
  EXPECT_EQ(c.oracle.count(Invariant::kI4), 2u);
}

}  // namespace
}  // namespace pagerace
