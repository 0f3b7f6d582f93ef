#include "fs_adapters/btrfs.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "fs_adapters/adapters.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/writeback.h"

namespace pagerace {

void BtrfsAdapter::Attach(MmContext* mm) {
  StoreBackedOps::Attach(mm);
  FutexLock l(&i_lock_);
  state_.reset(new State[mm->pages()]());
  len_.reset(new uint32_t[mm->pages()]());
  checked_.reset(new bool[mm->pages()]());
  unreserved_.reset(new bool[mm->pages()]());
  fixup_queue_.reserve(mm->pages());
  space_.Reset(static_cast<int64_t>(mm->pages()));
}

bool BtrfsAdapter::v2630_fixup() const { return mm_->scheme().era() < KernelEra::kV5_15; }

bool BtrfsAdapter::InjectMkwriteFailures(uint32_t one_in) {
  FutexLock l(&i_lock_);
  space_.Reset(
      std::max<int64_t>(1, static_cast<int64_t>(mm_->pages()) / std::max<int64_t>(one_in, 2)));
  return true;
}

bool BtrfsAdapter::reserve_space() {
  return space_.Reserve();
}

void BtrfsAdapter::set_delalloc(Page* page) {
  State& st = state_[page->index];
  space_.Settle();
  if (st == State::kDelalloc && unreserved_[page->index]) {
    // Delalloc the v2.6.30 fixup set without space: this reservation backs
    // it (v2.6.30 accounts reservations per inode, not per page).
    unreserved_[page->index] = false;
    --nr_unreserved_;
    check_counters(page->index);
    return;
  }
  if (st == State::kDelalloc) {
    // The range already had its reservation: this one goes back (the
    // mutant leaks it, and space is no longer conserved).
    if (release_extra_reservation_) space_.Give(1);
    check_counters(page->index);
    return;
  }
  st = State::kDelalloc;
  ++nr_delalloc_;
  SetPageFlag(page, PG_private);
  mm_->trace(page->index, Event::kMetadataAttach);
  check_counters(page->index);
}

// I4 (harness/check/invariants.h): space is conserved, free + reserving +
// reserved delalloc == capacity, and free space never goes negative.
// Delalloc set by v2.6.30's fixup worker holds no reservation.
void BtrfsAdapter::check_counters(uint64_t index) {
  const int64_t reserved = nr_delalloc_ - nr_unreserved_;
  space_.Check(mm_->oracle(), index, reserved, "reserved delalloc");
}

// Models fs/btrfs/inode.c:btrfs_page_mkwrite() as of v2.6.30 (`btrfs:unlocked`:
// v2.6.30-31 returned with the page unlocked) and with 50a9b214bc6c
// (v2.6.32-rc1) returning it locked (`btrfs`); differences: one page of space
// per reservation, no ordered-extent wait (writeback completion is waited for
// as PG_writeback), no zeroing of the tail past EOF.
vm_fault_t BtrfsAdapter::page_mkwrite(VmFault& vmf) {
  Page* page = vmf.page;
  {
    FutexLock l(&i_lock_);
    if (!reserve_space()) return kVmFaultSigbus;  // before the page lock
  }
  mkwrite_lock_page(vmf);
  if (!mkwrite_page_ok(page)) {
    mkwrite_unlock_page(vmf);
    FutexLock l(&i_lock_);
    space_.Unreserve();
    // A retry since 56a76f8275c3 (v2.6.30-rc1, read: its btrfs half); before
    // it, -EINVAL and VM_FAULT_SIGBUS (`legacy`, --revert=56a76f8275c3).
    return mm_->has_fix(Fix::k56a76f8275c3) ? kVmFaultNoPage : kVmFaultSigbus;
  }
  wait_on_page_writeback(page);
  {
    FutexLock l(&i_lock_);
    set_delalloc(page);
  }
  mm_->set_page_dirty(page);
  return mkwrite_done(vmf, mkwrite_returns_locked_ && !mm_->reverted(Fix::k50a9b214bc6c));
}

// Models fs/btrfs/file.c:btrfs_file_write() (prepare_pages, then
// btrfs_set_extent_delalloc in dirty_and_release_pages) as of v2.6.30: the
// pwrite path reserves and sets delalloc as mkwrite does (page locked by the
// caller); differences: one page per call.
int BtrfsAdapter::write_begin(Page* page, uint32_t offset, uint32_t len) {
  wait_on_page_writeback(page);
  FutexLock l(&i_lock_);
  return reserve_space() ? 0 : -28;  // -ENOSPC
}

int BtrfsAdapter::write_end(Page* page, uint32_t offset, uint32_t len) {
  FutexLock l(&i_lock_);
  set_delalloc(page);
  return 0;
}

// Models fs/btrfs/inode.c:btrfs_writepage_start_hook() (v2.6.30, the same
// through v2.6.34) and btrfs_writepage_cow_fixup() (5.15), with what
// __extent_writepage does with their return: the first time, mark the page
// Checked and queue the fixup worker with a page reference; a page already
// Checked returns -EAGAIN.  The first time returns -EAGAIN too in v2.6.30
// and 5.15, and __extent_writepage redirties the page
// (redirty_page_for_writepage).  From 87826df0ec36 until 25f3c5021985
// (v5.6) it returned -EBUSY there, and __extent_writepage only counted the
// page skipped: write_cache_pages' clear_page_dirty_for_io had cleaned it,
// so it stayed clean until the worker (read: v5.4's btrfs_writepage_cow_fixup
// and __extent_writepage_io in public trees; 25f3c5021985's diff in its
// posting to linux-btrfs).  Returns whether the page was redirtied.
bool BtrfsAdapter::queue_fixup(Page* page) {
  const uint64_t index = page->index;
  bool first = false;
  if (!checked_[index]) {
    checked_[index] = true;
    get_page(page);
    fixup_queue_.push_back(page);
    first = true;
  }
  if (first && !v2630_fixup() && mm_->reverted(Fix::k25f3c5021985)) {
    // -EBUSY: wbc->pages_skipped++, the page left clean for the worker.
    mm_->transition(index, FaultPath::kWritepageFixup, FaultWindow::kFixupLeftClean);
    return false;
  }
  __set_page_dirty_nobuffers(page);
  return true;
}

// Models fs/btrfs/inode.c:btrfs_writepage_fixup_worker() as of v2.6.30 (the
// same through v2.6.34), for one page: under the page lock, a page no longer
// in the file, no longer dirty, or no longer Checked is left alone; a page
// with an extent being written waits for it (btrfs_start_ordered_extent)
// and looks again; otherwise delalloc is set on its range — with no space
// reserved: btrfs_set_bit_hook's btrfs_delalloc_reserve_space only moves
// accounting ("adding a delalloc extent without calling
// btrfs_check_data_free_space first").  Delalloc already there (a fault's
// ->page_mkwrite came first) is kept as it is.  Differences: it runs at the
// end of the writeback pass that queued it, in the writeback thread (a
// schedule the kernel's worker threads allow, not every one they allow).
void BtrfsAdapter::fixup_worker_v2630(Page* page) {
  const uint64_t index = page->index;
  lock_page_after_ordered(page);
  {
    FutexLock l(&i_lock_);
    const bool still = checked_[index];
    checked_[index] = false;
    if (still && page->mapping.load(std::memory_order_acquire) == &mm_->mapping() &&
        PageDirty(page) && state_[index] == State::kNone) {
      state_[index] = State::kDelalloc;
      unreserved_[index] = true;
      ++nr_delalloc_;
      ++nr_unreserved_;
      SetPageFlag(page, PG_private);
      mm_->trace(index, Event::kMetadataAttach);
      check_counters(index);
    }
  }
  unlock_page(page);
  put_page(page);
}

// Models fs/btrfs/inode.c:btrfs_writepage_fixup_worker() as of v5.15 (read
// in the mirror), for one page: space is reserved first, outside the page
// lock (btrfs_delalloc_reserve_space, as ->page_mkwrite does); then, under
// the page lock, a page no longer in the file, no longer dirty or no longer
// Checked gives the reservation back and is left alone; a failed reservation
// (ENOSPC) gives the page a mapping error and cleans it
// (clear_page_dirty_for_io: its data is dropped); a page being written waits
// for its ordered extent and looks again; otherwise delalloc is set with the
// reservation, and the page stays dirty for the next pass.
//
// With 25f3c5021985 reverted (v5.4, read in a public tree; the same from
// 87826df0ec36): no PageDirty expected — the worker takes the page lock and
// leaves alone a page no longer in the file, no longer dirty or no longer
// Checked; that includes the page the start hook's -EBUSY left clean, so its
// data is never written.  A page still dirty (redirtied before the worker
// ran) gets its reservation and delalloc under the page lock and is dirtied
// again (set_page_dirty).
void BtrfsAdapter::fixup_worker_v515(Page* page) {
  const uint64_t index = page->index;
  const bool pre_fix = mm_->reverted(Fix::k25f3c5021985);
  bool reserved = false;
  if (!pre_fix) {
    FutexLock l(&i_lock_);
    reserved = reserve_space();
  }
  lock_page_after_ordered(page);
  bool drop = false;
  {
    FutexLock l(&i_lock_);
    const bool still = checked_[index];
    checked_[index] = false;
    const bool ours = page->mapping.load(std::memory_order_acquire) == &mm_->mapping();
    if (!still || !ours || !PageDirty(page)) {
      if (reserved) {
        space_.Unreserve();
        check_counters(index);
      }
      if (pre_fix && still && ours) mm_->blame(index, FaultWindow::kFixupLeftClean);
    } else {
      if (pre_fix) reserved = reserve_space();  // under the page lock in v5.4
      if (reserved) {
        set_delalloc(page);
      } else {
        // ENOSPC: mapping_set_error.  5.15 cleans the page (its data
        // dropped); v5.4 leaves it dirty, without delalloc, for the next
        // pass's fixup.
        drop = !pre_fix;
      }
    }
  }
  if (drop) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    clear_page_dirty_for_io(*mm_, page);
  }
  unlock_page(page);
  put_page(page);
}

// The fixup worker's lock_page, after waiting for an extent being written
// (btrfs_start_ordered_extent; the model's ordered extent is PG_writeback).
void BtrfsAdapter::lock_page_after_ordered(Page* page) {
  for (;;) {
    lock_page(page);
    if (!PageWriteback(page)) return;
    unlock_page(page);
    wait_on_page_writeback(page);
  }
}

void BtrfsAdapter::writepages_end() {
  for (;;) {
    Page* page;
    {
      FutexLock l(&i_lock_);
      if (fixup_queue_.empty()) return;
      page = fixup_queue_.back();
      fixup_queue_.pop_back();
    }
    if (v2630_fixup()) {
      fixup_worker_v2630(page);
    } else {
      fixup_worker_v515(page);
    }
  }
}

// Models fs/btrfs/extent_io.c:__extent_writepage() as of v2.6.30, with the
// fixup of a dirty page without delalloc as the scheme's era does it
// (queue_fixup, then the era's worker at the end of the pass).  cow_file_range turns the page's
// reservation into its extent; a page whose delalloc the v2.6.30 fixup set
// has no reservation and needs free space now: without it
// btrfs_reserve_extent fails into BUG_ON(ret) (`kernel_bug`; the model
// drops the data and goes on).  Differences: asynchronous completion goes
// through the I/O queue.
int BtrfsAdapter::writepage(Page* page, WritebackControl& wbc) {
  const uint64_t index = page->index;
  bool send = true;
  bool bug = false;
  {
    FutexLock l(&i_lock_);
    State& st = state_[index];
    if (st != State::kDelalloc) {
      // Dirty without delalloc: someone dirtied it behind btrfs's back.
      fixups_.fetch_add(1, std::memory_order_relaxed);
      mm_->trace(index, Event::kWritepageNoMetadata);
      queue_fixup(page);
      send = false;
    } else if (unreserved_[index]) {
      // cow_file_range for delalloc without a reservation: it needs a free
      // extent of its own (freed again when the old one goes: net zero).
      unreserved_[index] = false;
      --nr_unreserved_;
      if (space_.free() == 0) {
        bug = true;
        st = State::kNone;
        --nr_delalloc_;
        ClearPageFlag(page, PG_private);
        dropped_.fetch_add(1, std::memory_order_relaxed);
        send = false;
      } else {
        st = State::kInFlight;
        --nr_delalloc_;
      }
    }
    if (send) {
      if (st == State::kDelalloc) {
        // cow_file_range: the reservation becomes the page's new extent (the
        // old one is freed when the new one is written: net zero space).
        st = State::kInFlight;
        --nr_delalloc_;
        space_.Give(1);
      }
      test_set_page_writeback(page);
      // The part inside i_size is the extent's (extent_write_cache_pages).
      len_[index] = bytes_in_isize(index);
      memcpy(snapshot(index), mm_->mmu().kmap(index), len_[index]);
      check_counters(index);
    }
  }
  if (bug) {
    mm_->oracle().Report(RaceKind::kKernelBug, Invariant::kFs, index, 0, 0,
                         "BUG_ON(ret) in cow_file_range (v2.6.30): no extent for delalloc the "
                         "writepage fixup set without a reservation");
  }
  if (send) mm_->trace(index, Event::kSetPageWriteback);
  unlock_page(page);
  if (send) mm_->io().Submit(page);
  return 0;
}

// Models fs/btrfs/extent_io.c:end_bio_extent_writepage() as of v2.6.30: the
// extent is written, the page's range no longer in flight.
void BtrfsAdapter::end_io(Page* page) {
  const uint64_t index = page->index;
  FutexLock l(&i_lock_);
  store().Write(index, 0, len_[index], snapshot(index));
  if (state_[index] == State::kInFlight) {
    state_[index] = State::kNone;
    ClearPageFlag(page, PG_private);
    mm_->trace(index, Event::kMetadataRetire);
  }
}

// Models fs/btrfs/inode.c:btrfs_releasepage() as of v2.6.30: a page with
// delalloc or a write in flight stays.
bool BtrfsAdapter::releasepage(Page* page, Gfp /*gfp*/) {
  FutexLock l(&i_lock_);
  return state_[page->index] == State::kNone;
}

// Models fs/btrfs/inode.c:btrfs_invalidatepage() as of v2.6.30: the truncated
// page's delalloc and its reservation go.
void BtrfsAdapter::invalidatepage(Page* page) {
  FutexLock l(&i_lock_);
  State& st = state_[page->index];
  if (st != State::kDelalloc) return;
  st = State::kNone;
  --nr_delalloc_;
  if (unreserved_[page->index]) {
    unreserved_[page->index] = false;  // nothing was reserved to give back
    --nr_unreserved_;
  } else {
    space_.Give(1);
  }
  ClearPageFlag(page, PG_private);
  mm_->trace(page->index, Event::kInvalidatepage);
  check_counters(page->index);
}

MetadataState BtrfsAdapter::metadata_state(const Page* page, bool writable) const {
  FutexLock l(&i_lock_);
  switch (state_[page->index]) {
    case State::kNone: return MetadataState::kAbsent;
    case State::kDelalloc: return MetadataState::kDirtyCapable;
    case State::kInFlight: return MetadataState::kNotDirtyCapable;
  }
  return MetadataState::kAbsent;
}

void BtrfsAdapter::check_invariants() {
  FutexLock l(&i_lock_);
  check_counters(0);
}

bool BtrfsAdapter::delalloc(uint64_t index) const {
  FutexLock l(&i_lock_);
  return state_[index] == State::kDelalloc;
}

int64_t BtrfsAdapter::free_space() const {
  FutexLock l(&i_lock_);
  return space_.free();
}

std::unique_ptr<StoreBackedOps> MakeBtrfsAdapter(bool mkwrite_returns_locked,
                                                 bool release_extra_reservation) {
  return std::make_unique<BtrfsAdapter>(mkwrite_returns_locked, release_extra_reservation);
}

}  // namespace pagerace
