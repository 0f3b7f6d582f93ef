// Page lock, writeback-bit waits, references and the page pool.
#include "harness/mm/page.h"

#include <atomic>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "harness/base/lock_wait.h"
#include "harness/base/thread_registry.h"
#include "harness/mm/address_space.h"

namespace pagerace {
namespace {

struct PageTest : ::testing::Test {
  PagePool pool{8};
  Page* page = pool.Alloc(3, nullptr);
  void TearDown() override {
    if (page) put_page(page);
  }
};

TEST_F(PageTest, TrylockFailsWhileLockedAndRecordsOwner) {
  ScopedThread me("test", false);
  EXPECT_TRUE(trylock_page(page));
  EXPECT_TRUE(PageLocked(page));
  EXPECT_EQ(page->lock_owner.load(), current_thread().tid);
  EXPECT_FALSE(trylock_page(page));
  unlock_page(page);
  EXPECT_FALSE(PageLocked(page));
  EXPECT_EQ(page->lock_owner.load(), 0u);
}

TEST_F(PageTest, UnlockHandsTheLockToABlockedWaiter) {
  ScopedThread me("test", false);
  lock_page(page);
  std::atomic<bool> started{false};
  uint32_t waiter_tid = 0, owner_seen = 0;
  std::thread waiter([&] {
    ScopedThread reg("waiter", false);
    waiter_tid = current_thread().tid;
    started.store(true);
    lock_page(page);  // blocks until the test unlocks
    owner_seen = page->lock_owner.load();
    unlock_page(page);
  });
  while (!started.load()) std::this_thread::yield();
  // Whether or not the waiter is asleep yet, it cannot own the lock.
  EXPECT_EQ(page->lock_owner.load(), current_thread().tid);
  unlock_page(page);
  waiter.join();
  EXPECT_EQ(owner_seen, waiter_tid);
  EXPECT_FALSE(PageLocked(page));
}

// The ABBA of the `naive` scheme, stopped at its first attempt:
//  1. writeback takes the journal (fs-level lock) and, in declared order,
//     would then lock pages;
//  2. a fault holds the page lock across ->page_mkwrite and there sleeps on
//     the journal (page lock -> fs-level lock: against lock_order.h).
// The inversion must be known while the fault still waits: in a real
// deadlock it never acquires the journal.
TEST_F(PageTest, LockOrderInversionIsKnownWhileTheSecondEdgeStillWaits) {
  ScopedThread me("writeback", false);
  ResetLockOrder();
  OwnedMutex journal(LockClass::kFsLevel, "journal");
  journal.Lock();
  lock_page(page);  // fs -> page: the declared order
  unlock_page(page);
  EXPECT_EQ(LockOrderInversion(), "");
  std::thread fault([&] {
    ScopedThread reg("mmap0", true);
    lock_page(page);
    journal.Lock();  // page -> fs: sleeps until the test unlocks
    journal.Unlock();
    unlock_page(page);
  });
  while (CurrentLockWaits().empty()) std::this_thread::yield();  // it sleeps on the journal
  const std::string inv = LockOrderInversion();
  EXPECT_NE(inv.find("'journal' (fs-level lock) taken by mmap0"), std::string::npos) << inv;
  EXPECT_NE(inv.find("'PG_locked' (page lock)"), std::string::npos) << inv;
  journal.Unlock();
  fault.join();
  ResetLockOrder();
}

TEST_F(PageTest, WaitOnPageLockedDoesNotTakeTheLock) {
  ScopedThread me("test", false);
  lock_page(page);
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    wait_on_page_locked(page);
    done.store(true);
  });
  EXPECT_FALSE(done.load());
  unlock_page(page);
  waiter.join();
  EXPECT_TRUE(done.load());
  EXPECT_FALSE(PageLocked(page));  // the waiter returned without locking
}

TEST_F(PageTest, WaitOnPageWritebackReturnsAfterEnd) {
  EXPECT_FALSE(test_set_page_writeback(page));
  EXPECT_TRUE(test_set_page_writeback(page));
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    wait_on_page_writeback(page);
    done.store(true);
  });
  EXPECT_FALSE(done.load());
  clear_page_writeback(page);
  waiter.join();
  EXPECT_TRUE(done.load());
  EXPECT_FALSE(PageWriteback(page));
}

TEST_F(PageTest, LastReferenceReturnsThePageToThePool) {
  EXPECT_EQ(pool.in_use(), 1u);
  get_page(page);
  put_page(page);
  EXPECT_EQ(pool.in_use(), 1u);
  put_page(page);
  page = nullptr;
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST_F(PageTest, FlagHelpersReportThePreviousState) {
  EXPECT_FALSE(TestSetPageFlag(page, PG_dirty));
  EXPECT_TRUE(TestSetPageFlag(page, PG_dirty));
  EXPECT_TRUE(TestClearPageFlag(page, PG_dirty));
  EXPECT_FALSE(TestClearPageFlag(page, PG_dirty));
}

}  // namespace
}  // namespace pagerace
