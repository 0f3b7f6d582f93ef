// The btrfs adapter (DESIGN §7, delayed allocation), modeled on
// fs/btrfs/inode.c and fs/btrfs/extent_io.c as of v2.6.30.
//
// Per-page metadata is a delalloc range: data space reserved for the page
// and the range marked EXTENT_DELALLOC in the io tree, so that writeback
// knows to allocate an extent for it.
//
//   ->page_mkwrite (btrfs_page_mkwrite): reserve data space *before* the page
//     lock (btrfs_check_data_free_space; ENOSPC -> SIGBUS), then lock the
//     page, check the mapping and EOF, wait for writeback, set delalloc on
//     the page's range (btrfs_set_extent_delalloc), dirty it, return
//     VM_FAULT_LOCKED (`btrfs:unlocked`: unlocked, as v2.6.29 did).
//   ->writepage (__extent_writepage): a delalloc page's reservation becomes
//     its extent (cow_file_range) and the write starts.  A dirty page with
//     no delalloc — dirtied behind btrfs's back — goes through the fixup
//     path, which differs by era (the scheme's KernelEra picks it):
//       v2.6.30-v2.6.34 (under legacy, locked, naive): the start hook
//         (btrfs_writepage_start_hook) marks the page Checked, queues
//         btrfs_writepage_fixup_worker and returns -EAGAIN; __extent_writepage
//         redirties the page and writes nothing.  The worker later locks the
//         page and sets delalloc *without a reservation*
//         (btrfs_delalloc_reserve_space's "weird writepage condition");
//         the next pass writes it.  On a full file system cow_file_range's
//         allocation then fails into BUG_ON(ret): `kernel_bug`.
//       5.15 (under modern): btrfs_writepage_cow_fixup queues the worker
//         the same way (-EAGAIN, redirtied); the worker reserves space late
//         (btrfs_delalloc_reserve_space) and sets delalloc; on ENOSPC the
//         data is dropped with only a mapping error.  `--revert=25f3c5021985`
//         (v5.4): the first return is -EBUSY and the page stays clean; the
//         worker gives up on a clean page and its data is never written.
//
// So under `legacy` the seed's window leaves a writable page without
// delalloc (I2, I3): with free space the fixup path saves the data (the
// late fixup that needed that worker at all); on a full file system v2.6.30
// crashes and 5.15 drops the data.
//
// Variants: `btrfs:unlocked` returns from mkwrite unlocked;
// `btrfs:leak_reservation` (adapter mutant, trips I4) keeps the second
// reservation of a page that already had delalloc instead of releasing it —
// the reservation leak btrfs's accounting has had to guard against.
//
// Adapter invariant I4: space is conserved — free + reserved-but-not-yet-
// delalloc + pages holding delalloc with a reservation equals the file
// system's capacity — and the free space never goes negative.
//
// Thread-safety: delalloc state and space counters are protected by i_lock_
// (the io tree's lock), taken after the page lock.
#ifndef PAGERACE_FS_ADAPTERS_BTRFS_H_
#define PAGERACE_FS_ADAPTERS_BTRFS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "fs_adapters/backing_store.h"
#include "fs_adapters/block_map.h"
#include "harness/base/futex.h"
#include "harness/base/lock_order.h"
#include "harness/base/shared.h"

namespace pagerace {

class BtrfsAdapter : public StoreBackedOps {
 public:
  BtrfsAdapter(bool mkwrite_returns_locked, bool release_extra_reservation)
      : mkwrite_returns_locked_(mkwrite_returns_locked),
        release_extra_reservation_(release_extra_reservation) {}

  void Attach(MmContext* mm) override;
  const char* name() const override {
    if (!release_extra_reservation_) return "btrfs:leak_reservation";
    return mkwrite_returns_locked_ ? "btrfs" : "btrfs:unlocked";
  }
  bool has_page_mkwrite() const override { return true; }
  const char* page_mkwrite_name() const override { return "btrfs_page_mkwrite"; }
  const char* metadata_name() const override { return "delalloc reservation"; }
  // btrfs_page_mkwrite waits on writeback in every modeled version (v2.6.30
  // and 5.15, after lock_page), so its wait is unconditional (and
  // mutant:no_stable_wait leaves it); I7 holds it to that under a 5.15-era
  // scheme when it returns locked, as 5.15 does (`btrfs:unlocked` is
  // v2.6.30-31).
  bool stable_writes() const override { return mkwrite_returns_locked_; }
  vm_fault_t page_mkwrite(VmFault& vmf) override;
  int writepage(Page* page, WritebackControl& wbc) override;
  void end_io(Page* page) override;
  int write_begin(Page* page, uint32_t offset, uint32_t len) override;
  int write_end(Page* page, uint32_t offset, uint32_t len) override;
  bool releasepage(Page* page, Gfp gfp) override;
  // v2.6.30's btrfs has no ->migratepage (fallback_migrate_page); 5.15's
  // btrfs_migratepage moves the page's private data (read in both).
  Migrate migratepage(KernelEra era) const override {
    return era >= KernelEra::kV5_15 ? Migrate::kMovePrivate : Migrate::kFallback;
  }
  // The end of a writeback pass: the fixup worker runs what the pass queued.
  void writepages_end() override;
  void invalidatepage(Page* page) override;
  MetadataState metadata_state(const Page* page, bool writable) const override;
  void check_invariants() override;
  // The file system nearly full: space for 1 page in `one_in` of the file.
  bool InjectMkwriteFailures(uint32_t one_in) override;

  // For tests.
  bool delalloc(uint64_t index) const;
  int64_t free_space() const;
  uint64_t fixups() const { return fixups_.load(); }
  uint64_t dropped() const { return dropped_.load(); }

 private:
  enum class State : uint8_t { kNone, kDelalloc, kInFlight };
  // btrfs_check_data_free_space: one page of data space, or false (ENOSPC).
  bool reserve_space() ABSL_EXCLUSIVE_LOCKS_REQUIRED(i_lock_);
  // Sets delalloc on a page with a pending reservation (released instead if
  // the page already had delalloc).
  void set_delalloc(Page* page) ABSL_EXCLUSIVE_LOCKS_REQUIRED(i_lock_);
  // The start hook for a dirty page without delalloc: queue the fixup
  // worker (once per page); returns whether the page was redirtied.
  bool queue_fixup(Page* page) ABSL_EXCLUSIVE_LOCKS_REQUIRED(i_lock_);
  // btrfs_writepage_fixup_worker as of v2.6.30 and as of 5.15 (v5.4 with
  // 25f3c5021985 reverted), for one queued page.
  void fixup_worker_v2630(Page* page);
  void fixup_worker_v515(Page* page);
  void lock_page_after_ordered(Page* page);
  // Whether the scheme's era has v2.6.30's unreserved fixup (else 5.15's).
  bool v2630_fixup() const;
  void check_counters(uint64_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(i_lock_);

  const bool mkwrite_returns_locked_;
  const bool release_extra_reservation_;  // false: the leak_reservation mutant
  mutable FutexMutex i_lock_{LockClass::kInodeLock, "btrfs i_lock"};
  std::unique_ptr<State[]> state_ ABSL_GUARDED_BY(i_lock_);
  std::unique_ptr<uint32_t[]> len_ ABSL_GUARDED_BY(i_lock_);  // bytes in flight, per page
  // v2.6.30's fixup: PageChecked (a fixup is queued), delalloc set by the
  // fixup worker without a reservation, and the worker's queue (referenced
  // pages; sized at Attach, one entry per page at most).
  std::unique_ptr<bool[]> checked_ ABSL_GUARDED_BY(i_lock_);
  std::unique_ptr<bool[]> unreserved_ ABSL_GUARDED_BY(i_lock_);
  std::vector<Page*> fixup_queue_ ABSL_GUARDED_BY(i_lock_);
  int64_t nr_unreserved_ ABSL_GUARDED_BY(i_lock_) = 0;  // kDelalloc pages without space
  // Data space, a unit a page (block_map.h): reserving is a reservation
  // whose delalloc is not set yet.
  SpaceAccount space_ ABSL_GUARDED_BY(i_lock_);
  int64_t nr_delalloc_ ABSL_GUARDED_BY(i_lock_) = 0; // pages in kDelalloc
  Shared<uint64_t> fixups_{0};
  Shared<uint64_t> dropped_{0};
};

}  // namespace pagerace

#endif  // PAGERACE_FS_ADAPTERS_BTRFS_H_
