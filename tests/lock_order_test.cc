// The runtime lock-order check (harness/base/lock_order.h): locks taken in
// the declared order report nothing; a lock taken while holding one that
// ranks after it is recorded once per class pair, naming both classes, both
// locks and the thread; trylocks and ptl-in-vma-order nesting are allowed.
#include "harness/base/lock_order.h"

#include <atomic>
#include <string>
#include <thread>

#include "fs_adapters/ceph.h"
#include "gtest/gtest.h"
#include "harness/base/futex.h"
#include "harness/base/lock_wait.h"
#include "harness/base/thread_registry.h"
#include "harness/mm/filemap.h"
#include "harness/mm/page.h"
#include "test_machine.h"

namespace pagerace {
namespace {

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

struct LockOrderTest : ::testing::Test {
  void SetUp() override { ResetLockOrder(); }
  void TearDown() override {
    if (page) put_page(page);
    ResetLockOrder();
  }
  ScopedThread me{"mmap0", false};
  PagePool pool{4};
  Page* page = pool.Alloc(7, nullptr);
  // One lock of every class, as the tree tags them.
  OwnedMutex journal{LockClass::kFsLevel, "journal"};
  OwnedMutex snap_rwsem{LockClass::kSnapRwsem, "snap_rwsem"};
  FutexMutex ptl0{LockClass::kPtl, "ptl"};
  FutexMutex ptl1{LockClass::kPtl, "ptl"};
  FutexMutex i_lock{LockClass::kInodeLock, "nfs i_lock"};
  FutexMutex tree_lock{LockClass::kTreeLock, "tree_lock"};
  FutexMutex store{LockClass::kStore, "store"};
  FutexMutex io_queue{LockClass::kIoQueue, "I/O queue"};
  FutexMutex page_pool{LockClass::kPagePool, "page pool"};
  FutexMutex oracle{LockClass::kOracle, "oracle table"};
};

// Every class, outermost first, all held at once, released out of order.
TEST_F(LockOrderTest, TheDeclaredOrderReportsNothing) {
  journal.Lock();
  lock_page(page);
  snap_rwsem.Lock();
  ptl0.Lock();
  ptl1.Lock();  // all ptls of one page, in vma order
  i_lock.Lock();
  tree_lock.Lock();
  store.Lock();
  io_queue.Lock();
  page_pool.Lock();
  oracle.Lock();
  EXPECT_TRUE(LockOrderHeld(LockClass::kPageLock));
  EXPECT_TRUE(LockOrderHeld(LockClass::kPtl));
  journal.Unlock();  // release order is free
  snap_rwsem.Unlock();
  unlock_page(page);
  oracle.Unlock();
  page_pool.Unlock();
  io_queue.Unlock();
  store.Unlock();
  tree_lock.Unlock();
  i_lock.Unlock();
  ptl0.Unlock();
  EXPECT_TRUE(LockOrderHeld(LockClass::kPtl));  // ptl1 still held
  ptl1.Unlock();
  EXPECT_FALSE(LockOrderHeld(LockClass::kPtl));
  EXPECT_FALSE(LockOrderHeld(LockClass::kPageLock));
  EXPECT_EQ(LockOrderInversion(), "");
}

TEST_F(LockOrderTest, PageLockUnderAPtlIsAnInversion) {
  ptl0.Lock();
  lock_page(page);
  unlock_page(page);
  ptl0.Unlock();
  const std::string inv = LockOrderInversion();
  EXPECT_TRUE(Contains(inv, "'PG_locked' (page lock) taken by mmap0 while holding 'ptl' (pte lock)"))
      << inv;
  EXPECT_TRUE(Contains(inv, "puts the page lock outside the pte lock")) << inv;
}

TEST_F(LockOrderTest, InodeLockUnderTheStoreLockIsAnInversion) {
  store.Lock();
  i_lock.Lock();
  i_lock.Unlock();
  store.Unlock();
  const std::string inv = LockOrderInversion();
  EXPECT_TRUE(Contains(inv, "'nfs i_lock' (fs inode lock) taken by mmap0 while holding 'store' "
                            "(backing store lock)"))
      << inv;
}

// v2.6.34's ceph takes snap_rwsem on a locked page
// (ceph_update_writeable_page); the reverse is what lock_order.h forbids.
TEST_F(LockOrderTest, SnapRwsemNestsInsideThePageLock) {
  lock_page(page);
  snap_rwsem.Lock();
  snap_rwsem.Unlock();
  unlock_page(page);
  EXPECT_EQ(LockOrderInversion(), "");
  snap_rwsem.Lock();
  lock_page(page);
  unlock_page(page);
  snap_rwsem.Unlock();
  const std::string inv = LockOrderInversion();
  EXPECT_TRUE(Contains(inv, "'PG_locked' (page lock) taken by mmap0 while holding 'snap_rwsem'"))
      << inv;
}

// A trylock cannot wait, so it closes no cycle: held, not checked.  What is
// taken under it is checked.
TEST_F(LockOrderTest, TrylocksAreHeldButNotChecked) {
  ptl0.Lock();
  const bool locked = trylock_page(page);  // a page lock under a ptl
  EXPECT_TRUE(locked);
  EXPECT_TRUE(LockOrderHeld(LockClass::kPageLock));
  if (locked) unlock_page(page);
  ptl0.Unlock();
  EXPECT_EQ(LockOrderInversion(), "");
  store.Lock();
  if (tree_lock.TryLock()) {  // the tree lock under the store lock
    EXPECT_EQ(LockOrderInversion(), "");
    page_pool.Lock();  // a leaf under both: checked, and fine
    page_pool.Unlock();
    tree_lock.Unlock();
  } else {
    ADD_FAILURE() << "tree_lock busy";
  }
  store.Unlock();
  EXPECT_EQ(LockOrderInversion(), "");
}

TEST_F(LockOrderTest, PtlsNestButPageLocksDoNot) {
  Page* other = pool.Alloc(8, nullptr);
  ptl0.Lock();
  ptl1.Lock();
  ptl1.Unlock();
  ptl0.Unlock();
  EXPECT_EQ(LockOrderInversion(), "");
  lock_page(page);
  lock_page(other);
  unlock_page(other);
  unlock_page(page);
  put_page(other);
  const std::string inv = LockOrderInversion();
  EXPECT_TRUE(Contains(inv, "while holding 'PG_locked' (page lock): this class does not nest"))
      << inv;
}

// Each class pair is recorded once, at its first sighting, and the first is
// described first; the others are listed after it.
TEST_F(LockOrderTest, TheFirstViolationIsDescribedFirst) {
  oracle.Lock();
  tree_lock.Lock();  // 1: tree lock under the oracle table
  tree_lock.Unlock();
  oracle.Unlock();
  ptl0.Lock();
  lock_page(page);  // 2: page lock under a ptl
  unlock_page(page);
  ptl0.Unlock();
  oracle.Lock();
  tree_lock.Lock();  // 1 again: not recorded twice
  tree_lock.Unlock();
  oracle.Unlock();
  const std::string inv = LockOrderInversion();
  EXPECT_EQ(inv.find("'tree_lock' (dirty tag lock)"), 0u) << inv;
  EXPECT_TRUE(Contains(inv, "; also page lock under pte lock")) << inv;
  EXPECT_FALSE(Contains(inv, "dirty tag lock under")) << inv;  // listed once, as the first
  ResetLockOrder();
  EXPECT_EQ(LockOrderInversion(), "");
}

// The report names the thread that made the edge, not the caller.
TEST_F(LockOrderTest, TheReportNamesTheOffendingThread) {
  std::thread t([&] {
    ScopedThread reg("writeback", false);
    ptl0.Lock();
    lock_page(page);
    unlock_page(page);
    ptl0.Unlock();
  });
  t.join();
  const std::string inv = LockOrderInversion();
  EXPECT_TRUE(Contains(inv, "taken by writeback while holding")) << inv;
}

// The whole ceph path under the declared order: mkwrite (page lock, then
// snap_rwsem, then i_lock), a snapshot, a pwrite that flushes the older
// context (snap_rwsem dropped before page_mkclean's ptls), writeback and
// completions (i_lock, then the store).  Nothing is reported.
TEST(LockOrderMachineTest, CephFollowsTheDeclaredOrder) {
  ResetLockOrder();
  TestMachine m("locked", "ceph", 4, 2);
  TestThread t("worker");
  {
    TestIoThread io(m);
    m.store(0, 0, 0, 1);
    m.store(1, 1, 0, 1);
    static_cast<CephAdapter&>(*m.fs).background_step();  // snapshot
    ASSERT_TRUE(generic_perform_write(*m.mm, 0, 1, 2));
    m.writeback();
    m.store(0, 1, 0, 3);
  }  // the I/O thread has completed everything
  EXPECT_EQ(LockOrderInversion(), "");
  EXPECT_EQ(m.races(), 0u);
}

// The `naive` scheme on buffer: the fault holds the page lock across
// ->page_mkwrite, which takes the journal.
TEST(LockOrderMachineTest, NaiveOnBufferIsAnInversion) {
  ResetLockOrder();
  TestMachine m("naive", "buffer", 2, 1);
  TestThread t("worker");
  m.store(0, 0, 0, 1);
  const std::string inv = LockOrderInversion();
  EXPECT_TRUE(Contains(inv, "'journal' (fs-level lock) taken by worker while holding 'PG_locked' "
                            "(page lock)"))
      << inv;
  ResetLockOrder();
}

}  // namespace
}  // namespace pagerace
