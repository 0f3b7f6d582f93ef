// Workload `mixed` (DESIGN §3, §8): the seed's race, made likely and made
// visible.
//
//  - mmap workers load and store stamps through random user mappings into
//    random slots they own of random pages; each load first checks the slot
//    still holds the worker's own last stamp (fsx-style read-back);
//  - pwrite writers dirty pages through the pwrite path, so pages become
//    PG_dirty while their ptes stay read-only (the seed's precondition);
//  - a reclaim thread runs shrink_page_list on random pages: it unmaps them
//    (a writable pte's dirtiness goes to set_page_dirty), writes dirty ones
//    through pageout() and evicts clean ones, so a page the VM wrongly
//    thinks clean loses its data for good, and the next fault re-reads the
//    store.
//  - with `truncate`, a truncator shrinks the file to a random size in its
//    upper half and grows it back, so faults race page removal (the
//    `!mapping` re-checks, I5) and stores past EOF are refused.  Truncation
//    legitimately zeroes data: each page has a seqcount, odd while it is being
//    truncated, and a slot whose page was truncated since its writer's last
//    store may read back as zero.  pwriters stay in the lower half, which is
//    never truncated.
//
//  - with `punch`, the truncator punches a hole over one random page
//    instead (fallocate(PUNCH_HOLE|KEEP_SIZE), harness/mm/punch.h): the
//    page leaves the page cache and its blocks are freed.  The page's
//    seqcount is odd from the punch's start until the page is out of the
//    cache: a store before that may read back as zero, a store after it is
//    owed (a fault that brings the page back before the blocks are freed
//    must not lose it: ea3d7209ca01).  No pwriters: the model has no
//    inode_lock, which keeps write(2) out of a punch.
//
//  - with `dio` (issue 13), the workers are get_user_pages callers instead
//    of mmap workers, as a process doing O_DIRECT reads into its shared
//    mapping of the file: each step pins a page through the fault path
//    with write access (->page_mkwrite runs), lets "the device" write a
//    stamp into it through the kernel alias after an I/O latency, then
//    set_page_dirty_lock and unpin (harness/mm/gup.h).  Writeback and
//    reclaim run beside them; no pwriters.  The device's stamps are in the
//    ledger like any store's.
//
//  - with `isize`, the file ends inside its last page: the truncator moves
//    the end to a random offset inside that page (not page- or
//    block-aligned) and back to the full size, and mmap workers store to
//    that page half the time.  A store to a slot past EOF at the time of
//    the store is not expected to persist (POSIX: bytes past EOF in the last
//    page are not written); the adapter's disk is full (FillDisk), so a
//    block that writeback must allocate is not there.
//
//  - with `drop` (dio's roles) and `invalidate` (mixed's), each reclaim step
//    also invalidates its page: after shrinking it, invalidate_mapping_pages
//    (fadvise's best-effort drop of a clean, unmapped page); before,
//    invalidate_inode_pages2 (NFS's revalidation: unmap, ->launder_page,
//    removal).
//
//  - with `zap`, one mmap-worker step in 8 zaps the page from the mapping
//    (madvise(MADV_DONTNEED): zap_pte_range's dirty transfer and TLB flush,
//    harness/mm/zap.h) instead of storing; a store through that mapping
//    before the flush lands through the stale entry, a later one faults the
//    page in again.  Every thread works on the same 2 pages.
//  - with `mremap`, one mmap-worker step in 8 moves the page's pte from one
//    mapping to a later one (harness/mm/mremap.h) instead of storing; the
//    same 2 pages.
//
// Writers 0..threads-1 are the mmap workers, then the pwriters; the ledger
// assigns slots by writer.
#ifndef PAGERACE_WORKLOADS_MIXED_H_
#define PAGERACE_WORKLOADS_MIXED_H_

#include <atomic>
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "harness/base/rng.h"
#include "harness/base/role.h"
#include "harness/check/ledger.h"
#include "harness/mm/gup.h"
#include "harness/mm/mm_context.h"
#include "harness/base/shared.h"

namespace pagerace {

struct MixedOptions {
  int threads = 2;
  int pwriters = 1;
  uint64_t seed = 1;
  uint64_t ops_per_writer = 0;  // 0: until stopped
  // Pacing of the non-fault threads, so that on a small machine they leave
  // the CPU to the faulting workers (harness pacing, not synchronisation).
  int64_t pwrite_pause_ns = 20'000;
  int64_t reclaim_pause_ns = 500'000;
  // Reclaim deactivates each page before shrinking it; with buffer heads
  // over their limit (fs/buffer.c:buffer_heads_over_limit), deactivation
  // strips the page's fs-private data where ->releasepage agrees, mapped or
  // not (v2.6.29 shrink_active_list -> pagevec_strip).
  bool buffer_heads_over_limit = false;
  bool truncate = false;
  // `punch`: the truncate thread punches a random page (punch.h) instead.
  bool punch = false;
  int64_t truncate_pause_ns = 2'000'000;
  uint64_t hot_pages = 0;  // `hot`: every thread on the first N pages (0: all)
  bool isize = false;      // `isize`: the truncator moves EOF inside the last page
  bool fsync = false;      // `fsync`: a thread running data-integrity syncs
  int64_t fsync_pause_ns = 2'000'000;
  // `dio`: get_user_pages callers (writers 0..gup-1, in place of the mmap
  // workers), how they take pages, and how long "the device" takes to write
  // a pinned page (an I/O's latency: pacing, not synchronisation).
  int gup = 0;
  GupMode gup_mode = GupMode::kGet;
  int64_t gup_io_ns = 200'000;
  // `zap`: one mmap-worker step in this many zaps the page's pte instead of
  // storing (madvise(MADV_DONTNEED): harness/mm/zap.h); 0: never.
  uint32_t zap_one_in = 0;
  // `mremap`: one mmap-worker step in this many moves the page's pte from a
  // mapping to a later one (mremap's move_ptes: harness/mm/mremap.h); 0:
  // never.
  uint32_t mremap_one_in = 0;
  // Reclaim picks among the pages the writers work on (hot_pages), not the
  // whole file: a page left clean with data no one wrote back is evicted
  // before a later store redirties it, and the read-back sees the loss.
  bool reclaim_hot = false;
  // `drop`: each reclaim step ends with invalidate_mapping_pages on its
  // page; `invalidate`: each starts with invalidate_inode_pages2
  // (harness/mm/invalidate.h).
  bool drop = false;
  bool revalidate = false;
  // `migrate`: each reclaim step first migrates its page (compaction).
  bool migrate = false;
};

// One direct I/O through get_user_pages, in its three phases (a test can
// run each on its own thread).
struct GupIo {
  Page* page = nullptr;  // referenced or pinned; nullptr: not taken
  uint64_t index = 0;
  uint32_t slot = 0;
  GupMode mode = GupMode::kGet;
};

// After a user store to page `page` of mapping `vma` landed: traces
// store_through_stale_tlb when the pte was not writable before it
// (`before`) and is unchanged since, i.e. no fault let the store in -- a TLB
// entry a zap (harness/mm/zap.h) has not flushed yet did.
void NoteStaleTlbStore(MmContext& mm, int vma, uint64_t page, pte_t before);

class MixedWorkload {
 public:
  MixedWorkload(MmContext* mm, Ledger* ledger, const MixedOptions& options);

  // The workload's roles (harness/base/role.h), appended to `roles`: the
  // mmap workers, the pwriters, reclaim, and the truncator or fsync thread
  // its options ask for.  The roles point into this workload, which must
  // outlive them.
  void AddRoles(std::vector<std::unique_ptr<Role>>* roles);

  // One step of each role.
  void MmapStep(int w, Rng* rng, uint64_t* seq);
  void PwriteStep(int p, Rng* rng, uint64_t* seq);
  void ReclaimStep(Rng* rng);
  // Shrinks the file (`truncate`: to a size in its upper half; `isize`: EOF
  // inside the last page), or with `grow`, grows it back to its full size.
  void TruncateStep(Rng* rng, bool grow);
  // Sets the file's size to `new_size` bytes (vmtruncate); a shrink marks
  // the pages it cuts, the one the new end falls inside included, as
  // truncated for the read-back checks.  REQUIRES: one truncating thread.
  void TruncateTo(int64_t new_size);
  // A hole punched over pages [first, first + npages) (punch_hole): the
  // pages' seqcounts odd from the start until the pages are out of the page
  // cache, so a store that landed before the removal may read back as zero,
  // and one after it must persist.  REQUIRES: one truncating thread.
  void PunchRange(uint64_t first, uint64_t npages);
  // One punch of a random page (`punch`).
  void PunchStep(Rng* rng);
  // fsync(2) of the whole file: WB_SYNC_ALL writeback that waits on pages
  // under writeback, racing the faults.
  void FsyncStep();

  // One get_user_pages caller's step (`dio`): a page and slot of its own,
  // then GupOp.
  void GupStep(int g, Rng* rng, uint64_t* seq);
  // One direct I/O by `writer` into `page` of mapping `vma`: GupPin, the I/O
  // latency (unless !paced: a scenario's schedule decides what runs while
  // the device holds the page), GupDeviceWrite, GupComplete, with schedule
  // points between.
  void GupOp(int writer, int vma, uint64_t page, uint32_t slot, uint64_t* seq,
             bool paced = true);
  // get_user_pages(FOLL_WRITE) in the workload's mode; opens the root-cause
  // window.  False when refused (FOLL_LONGTERM) or the fault failed.
  bool GupPin(int vma, uint64_t page, uint32_t slot, GupIo* io);
  // The device's write: read-back of the slot, then the writer's next stamp
  // through the kernel alias (never a user pte).
  void GupDeviceWrite(int writer, const GupIo& io, uint64_t* seq);
  // The I/O's completion: set_page_dirty_lock, the window closed, unpin.
  void GupComplete(GupIo* io);

  // One mmap-worker operation (read-back check, then a store) on a chosen
  // page and slot.  Exposed for tests.
  void StoreOp(int writer, int vma, uint64_t page, uint32_t slot, uint64_t* seq);

  // After the final sync: every slot's persisted value must be its writer's
  // last stamp.  Reports lost_write for each that is not; returns how many.
  int CheckLedger();

 private:
  // Compares a slot's value with its writer's last stamp, allowing zero when
  // the page was truncated since that store.  Updates the expectation.
  // REQUIRES: called by the slot's writer, or after it stopped.
  void CheckSlot(uint64_t page, uint32_t slot, uint64_t found);
  // Pages the writers choose from.
  uint64_t span() const {
    return options_.hot_pages ? std::min<uint64_t>(options_.hot_pages, mm_->pages())
                              : mm_->pages();
  }
  uint64_t trunc_seq(uint64_t page) const {
    return trunc_seq_[page].load(std::memory_order_acquire);
  }

  MmContext* const mm_;
  Ledger* const ledger_;
  const MixedOptions options_;
  // Per page: truncation seqcount (odd while truncating); written by the
  // truncator only.
  std::unique_ptr<Shared<uint64_t>[]> trunc_seq_;
  // Per slot: the page's seqcount at the writer's last store, or kNoSeq when
  // it changed during the store.  Same ownership as Ledger::expected.
  std::vector<uint64_t> seq_at_store_;
  // Per slot: the device's last stamp went into a page that had left the
  // page cache under the pin without being truncated (invalidation with
  // 016eb4a0ed06 reverted): a read-back that misses it blames that removal
  // (CauseTracker::Blame), whatever touched the page since.  Same ownership.
  std::vector<uint8_t> lost_to_detach_;
};

}  // namespace pagerace

#endif  // PAGERACE_WORKLOADS_MIXED_H_
