// Writeback (DESIGN §2, §7): write_cache_pages, clear_page_dirty_for_io,
// end_page_writeback and sync, modeled on mm/page-writeback.c of v2.6.29;
// plus the I/O completion queue that stands in for the block layer / RPC.
#ifndef PAGERACE_HARNESS_MM_WRITEBACK_H_
#define PAGERACE_HARNESS_MM_WRITEBACK_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "harness/base/futex.h"
#include "harness/base/lock_order.h"
#include "harness/mm/address_space_ops.h"
#include "harness/base/shared.h"

namespace pagerace {

class MmContext;
struct Page;

// Pages under writeback waiting for their I/O to complete.  ->writepage
// submits; the I/O thread (Run) or a test (Drain) completes them:
// ->end_io, then end_page_writeback, then (SubmitLocked) unlock_page, then
// the submit reference is dropped.
//
// A page submitted with SubmitLocked stays locked until its completion, so
// whoever completes I/O must not wait for such a page's lock first: a
// thread that drains the queue itself (Drain) drains before it locks a page
// that may be in it (sync_mapping with `drain`).
//
// Thread-safety: safe for concurrent access.
class IoQueue {
 public:
  IoQueue(MmContext* mm, size_t capacity);
  // Takes a reference on `page` for the I/O.
  void Submit(Page* page);
  // The same for a page whose lock goes with the write: REQUIRES the caller
  // holds the page lock, which it hands to the completion
  // (hand_off_page_lock); the completion unlocks after end_page_writeback, as
  // fs/ceph/addr.c:writepages_finish() does in v2.6.34.
  void SubmitLocked(Page* page);
  // Completes everything queued so far; returns how many.
  int Drain();
  // The I/O thread's wait: read events() before looking at the queue (and
  // at any stop flag), then Wait(seen) sleeps until a Submit or Kick moved
  // the count since.
  uint32_t events() const { return events_.load(std::memory_order_acquire); }
  void Wait(uint32_t seen) { futex_wait(events_.raw(), seen); }
  // A whole I/O thread (tests, benchmarks): completes until `stop` is set
  // and the queue is empty.
  void Run(const std::atomic<bool>* stop) {
    for (;;) {
      const uint32_t seen = events();
      if (Drain() > 0) continue;
      if (stop->load(std::memory_order_acquire)) return;
      Wait(seen);
    }
  }
  // Wakes the I/O thread to look at its stop flag.  The event count moves,
  // so a thread between its stop check and its futex_wait does not sleep
  // through the wake-up.
  void Kick() {
    events_.fetch_add(1, std::memory_order_release);
    futex_wake_all(events_.raw());
  }

 private:
  struct Entry {
    Page* page;
    bool unlock;  // SubmitLocked: the completion releases the page lock
  };
  void Push(Entry e);
  bool Pop(Entry* e);
  void Complete(Entry e);

  MmContext* const mm_;
  const size_t capacity_;
  Shared<uint32_t> events_{0};  // futex word: bumped on submit
  FutexMutex mu_{LockClass::kIoQueue, "I/O queue"};
  // State below is protected by mu_.  A ring: one in-flight write per page at
  // most, so capacity = pages never overflows.
  std::unique_ptr<Entry[]> ring_ ABSL_GUARDED_BY(mu_);
  size_t head_ ABSL_GUARDED_BY(mu_) = 0;
  size_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

// clear_page_dirty_for_io(): REQUIRES page locked.  Write-protects every user
// pte of the page (page_mkclean), transferring a writable pte's dirtiness to
// the page, then clears PG_dirty; returns whether the page was dirty.
int clear_page_dirty_for_io(MmContext& mm, Page* page);

// What every ->writepage of a page clear_page_dirty_for_io found dirty goes
// through, in write_cache_pages and in a filesystem writing one locked page
// itself (ceph_update_writeable_page): I3, the trace event, the count.
// REQUIRES: page locked.
void writepage_starts(MmContext& mm, Page* page);

// After ->writepage of a page clear_page_dirty_for_io cleaned: a ->writepage
// that started a write dropped the dirty tag in test_set_page_writeback
// (still holding the page lock, as the kernel does); one that started none
// (nothing to send) leaves the tag, which the kernel keeps as a stale tag
// that later lookups skip.  Difference: the model drops that one here,
// unless the page was dirtied again (a write not yet complete meanwhile is
// not fsync's to persist: I8 leaves its slot out, MmContext::user_write_*).
void writepage_done(MmContext& mm, Page* page);

// end_page_writeback(): clears PG_writeback, wakes waiters.
void end_page_writeback(MmContext& mm, Page* page);

struct WritebackPass {
  int written = 0;   // ->writepage calls
  int skipped = 0;   // busy / under writeback (WB_SYNC_NONE)
};

// write_cache_pages(): one pass over the pages tagged dirty.
WritebackPass write_cache_pages(MmContext& mm, WritebackControl& wbc);

// fsync(2) of the whole file as the era has it (vfs_fsync): one
// data-integrity write_cache_pages pass (with v2.6.28's nr_to_write budget
// when 05fe478dd04e is reverted), filemap_fdatawait, ->commit; then checks
// I8 (a page dirty when fsync began is on the backing store when it returns).
// `drain`: complete the queued I/O on this thread before waiting for it (a
// caller with no I/O thread: tests), as sync_mapping's.
void do_fsync(MmContext& mm, bool drain = false);

// The final sync (fsync of the whole file): data-integrity writeback until no
// page is tagged dirty, every write completed, then ->commit.  `drain`
// completes I/O inline when no I/O thread runs; it then completes what is
// queued before each pass, so the pass never waits for the lock of a page
// whose write (SubmitLocked) only this thread would complete.
void sync_mapping(MmContext& mm, bool drain);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_WRITEBACK_H_
