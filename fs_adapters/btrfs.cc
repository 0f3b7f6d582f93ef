#include "fs_adapters/btrfs.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "fs_adapters/adapters.h"
#include "harness/mm/mm_context.h"

namespace pagerace {

void BtrfsAdapter::Attach(MmContext* mm) {
  StoreBackedOps::Attach(mm);
  FutexLock l(&i_lock_);
  state_.reset(new State[mm->pages()]());
  len_.reset(new uint32_t[mm->pages()]());
  free_space_ = capacity_ = static_cast<int64_t>(mm->pages());
}

bool BtrfsAdapter::InjectMkwriteFailures(uint32_t one_in) {
  FutexLock l(&i_lock_);
  free_space_ = capacity_ = std::max<int64_t>(1, static_cast<int64_t>(mm_->pages()) /
                                                     std::max<int64_t>(one_in, 2));
  return true;
}

bool BtrfsAdapter::reserve_space() {
  if (free_space_ == 0) return false;
  --free_space_;
  ++pending_;
  return true;
}

void BtrfsAdapter::set_delalloc(Page* page) {
  State& st = state_[page->index];
  --pending_;
  if (st == State::kDelalloc) {
    // The range already had its reservation: this one goes back (the
    // mutant leaks it, and space is no longer conserved).
    if (release_extra_reservation_) ++free_space_;
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
// delalloc == capacity, and free space never goes negative.
void BtrfsAdapter::check_counters(uint64_t index) {
  i4_.Check(mm_->oracle(), index, free_space_ + pending_ + nr_delalloc_, capacity_, free_space_,
            [free = free_space_, pending = pending_, delalloc = nr_delalloc_,
             capacity = capacity_](char* detail, size_t len) {
              snprintf(detail, len, "free %lld + reserving %lld + delalloc %lld != %lld",
                       static_cast<long long>(free), static_cast<long long>(pending),
                       static_cast<long long>(delalloc), static_cast<long long>(capacity));
            });
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
    --pending_;
    ++free_space_;
    return kVmFaultNoPage;
  }
  wait_on_page_writeback(page);
  {
    FutexLock l(&i_lock_);
    set_delalloc(page);
  }
  mm_->set_page_dirty(page);
  return mkwrite_done(vmf, mkwrite_returns_locked_);
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

// Models fs/btrfs/extent_io.c:__extent_writepage() as of v2.6.30, with the
// fixup of a dirty page without delalloc as 5.x does it: the model reserves
// space at once and drops the page's data with a mapping error on ENOSPC
// (5.15's btrfs_writepage_fixup_worker).  v2.6.30's start hook instead queued
// an asynchronous fixup worker and returned -EAGAIN (the page redirtied), and
// that worker set delalloc without reserving anything (fs_adapters/FIDELITY.md).
// Differences: the fixup runs inline, not in a worker; asynchronous completion
// goes through the I/O queue.
int BtrfsAdapter::writepage(Page* page, WritebackControl& wbc) {
  const uint64_t index = page->index;
  bool send = true;
  {
    FutexLock l(&i_lock_);
    State& st = state_[index];
    if (st != State::kDelalloc) {
      // Dirty without delalloc: someone dirtied it behind btrfs's back.
      fixups_.fetch_add(1, std::memory_order_relaxed);
      mm_->trace(index, Event::kWritepageNoMetadata);
      if (reserve_space()) {
        --pending_;
        st = State::kDelalloc;
        ++nr_delalloc_;
        SetPageFlag(page, PG_private);
      } else {
        dropped_.fetch_add(1, std::memory_order_relaxed);  // ENOSPC: mapping error only
        send = false;
      }
    }
    if (send) {
      // cow_file_range: the reservation becomes the page's new extent (the
      // old one is freed when the new one is written: net zero space).
      st = State::kInFlight;
      --nr_delalloc_;
      ++free_space_;
      test_set_page_writeback(page);
      // The part inside i_size is the extent's (extent_write_cache_pages).
      len_[index] = bytes_in_isize(index);
      memcpy(snapshot(index), mm_->mmu().kmap(index), len_[index]);
      check_counters(index);
    }
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
bool BtrfsAdapter::releasepage(Page* page) {
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
  ++free_space_;
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
  return free_space_;
}

std::unique_ptr<StoreBackedOps> MakeBtrfsAdapter(bool mkwrite_returns_locked,
                                                 bool release_extra_reservation) {
  return std::make_unique<BtrfsAdapter>(mkwrite_returns_locked, release_extra_reservation);
}

}  // namespace pagerace
