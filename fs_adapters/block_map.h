// What a block filesystem's adapter keeps of its disk (docs/adapters.md):
// which blocks of each page have a place on disk, which hold a delayed
// allocation, and the space they come from.  buffer (buffer.c), xfs
// (iomap) and btrfs (its data space, one unit a page) share it, so that a
// new block filesystem writes only what its kernel code does differently.
//
// SpaceAccount is the space alone, with adapter invariant I4 (space is
// conserved: free + reserving + what the pages hold == capacity, and free
// never goes negative).  BlockMap adds, per page, masks of blocks (bit b is
// bytes [b * blocksize, (b + 1) * blocksize) of the page; at most 32 blocks
// a page):
//   mapped  the block has a place on disk (BH_Mapped, a written or
//           allocated extent).  A page's data can be written only there.
//   delay   space reserved, the place chosen at writeback (BH_Delay, a
//           delalloc extent): xfs_bmapi_reserve_delalloc, converted by
//           ->writepages (xfs_bmapi_convert_delalloc), which cannot fail
//           for space.
//   stale   mapped in a cache of the map that a hole punch freed under it
//           (buffer heads a racing fault attached): the file owns
//           mapped & ~stale; a write of a stale block goes to a block it no
//           longer owns.
// The disk may be full (the `isize` workload): then every block inside
// i_size is mapped, none is free, and blocks the file frees go to other
// files (the capacity shrinks with them).
//
// What metadata_state() must answer for a page with blocks smaller than
// the page (AddressSpaceOps::metadata_state): kDirtyCapable when every block
// that may carry the user's data can be written — while a pte is writable,
// every block inside i_size (a store may land in any of them); otherwise
// the blocks the fs dirtied inside i_size — has a place (mapped or delay);
// a block that cannot be written (a hole that writeback skips or fails to
// allocate) makes it kNotDirtyCapable.  `in(index, i_size)` is that mask.
//
// Thread-safety: none of its own; the adapter guards it with the lock
// that guards its per-page state (ABSL_GUARDED_BY).
#ifndef PAGERACE_FS_ADAPTERS_BLOCK_MAP_H_
#define PAGERACE_FS_ADAPTERS_BLOCK_MAP_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "harness/check/invariants.h"

namespace pagerace {

class SpaceAccount {
 public:
  // `capacity` units, all free.
  void Reset(int64_t capacity) {
    free_ = capacity_ = capacity;
    reserving_ = 0;
  }
  int64_t free() const { return free_; }
  int64_t reserving() const { return reserving_; }
  int64_t capacity() const { return capacity_; }
  // A reservation taken before there is anywhere to record it (btrfs's
  // before the page lock): free to reserving; false (nothing taken) when
  // fewer than `n` are free (ENOSPC).
  bool Reserve(int64_t n = 1) {
    if (n > free_) return false;
    free_ -= n;
    reserving_ += n;
    return true;
  }
  // A pending reservation given back, or recorded by the pages (Settle).
  void Unreserve(int64_t n = 1) {
    reserving_ -= n;
    free_ += n;
  }
  void Settle(int64_t n = 1) { reserving_ -= n; }
  // Units the pages take straight from free (an allocation), or give back.
  bool Take(int64_t n) {
    if (n > free_) return false;
    free_ -= n;
    return true;
  }
  void Give(int64_t n) { free_ += n; }
  // Units the pages give up that go to other files (a full disk's).
  void Leave(int64_t n) { capacity_ -= n; }
  // Tests and the enospc workload: `free` units free now, the capacity
  // following (nothing reserving).
  void SetFree(int64_t free) {
    capacity_ += free - free_;
    free_ = free;
  }
  // I4: free + reserving + `held` (what the adapter's pages hold, as it
  // counts them) == capacity, and free >= 0.
  void Check(Oracle& oracle, uint64_t index, int64_t held, const char* held_name);

 private:
  int64_t free_ = 0;
  int64_t reserving_ = 0;
  int64_t capacity_ = 0;
  CounterInvariant i4_;
};

// The blocks of a page, as masks: a value, constant once the adapter is
// attached (so read without its lock).
struct BlockGeometry {
  size_t page_size = 4096;
  uint32_t blocksize = 4096;
  uint32_t per_page() const { return static_cast<uint32_t>(page_size / blocksize); }
  uint32_t all() const { return per_page() >= 32 ? ~0u : (1u << per_page()) - 1; }
  // Blocks of page `index` holding bytes below `isize`.
  uint32_t in(uint64_t index, int64_t isize) const;
  // Blocks overlapping bytes [from, to) of a page.
  uint32_t in_range(uint32_t from, uint32_t to) const;
};

class BlockMap {
 public:
  // `pages` pages of `geometry`; every block free and unmapped.
  void Init(uint64_t pages, BlockGeometry geometry);
  const BlockGeometry& geometry() const { return geo_; }

  uint32_t mapped(uint64_t index) const { return pages_[index].mapped; }
  uint32_t delay(uint64_t index) const { return pages_[index].delay; }
  uint32_t stale(uint64_t index) const { return pages_[index].stale; }
  // Blocks that have a place or a reservation: writeback can write them.
  uint32_t placed(uint64_t index) const { return pages_[index].mapped | pages_[index].delay; }

  // get_block(create): every block of `want` without a place is allocated
  // (a delayed one is converted).  False, allocating nothing, on ENOSPC.
  bool Allocate(uint64_t index, uint32_t want);
  // A delayed allocation (xfs_bmapi_reserve_delalloc): every block of
  // `want` without a place reserves one.  False, reserving nothing, on
  // ENOSPC.
  bool Delay(uint64_t index, uint32_t want);
  // Delayed blocks of `blocks` get their place (xfs_bmapi_convert_delalloc;
  // no space changes hands).
  void Convert(uint64_t index, uint32_t blocks);
  // The file gives up `blocks` of page `index` (mapped or delayed): back to
  // free space, or on a full disk to other files.  A stale block's space
  // went when it became stale.
  void Free(uint64_t index, uint32_t blocks);
  // A punch freeing the page's blocks while a cache of their mapping
  // stays (`keep_cached`): the owned blocks freed, kept mapped as stale.
  // Without a cache, Free of every block.
  void Punch(uint64_t index, bool keep_cached);
  // The cache of the map went (buffer heads dropped): stale blocks forgotten.
  void ForgetStale(uint64_t index);
  // ->truncate: every block wholly at or past byte `size` freed.
  void Truncate(int64_t size);
  // The disk full: every block inside `isize` mapped, none free.
  void Fill(int64_t isize);
  // The enospc workload: fewer blocks free than the file needs (one in
  // `one_in` of them missing, at least one).
  void RunShort(uint32_t one_in);
  bool disk_full() const { return disk_full_; }
  SpaceAccount& space() { return space_; }
  const SpaceAccount& space() const { return space_; }
  // I4 over the blocks: free + the file's mapped and delayed blocks ==
  // capacity (a running count: cheap enough for every operation).
  void Check(Oracle& oracle, uint64_t index);
  // Check, and the running count against the blocks the pages hold (a walk
  // over every page: the auditor's and the final sync's).
  void Audit(Oracle& oracle);

 private:
  struct PageBlocks {
    uint32_t mapped = 0;
    uint32_t delay = 0;
    uint32_t stale = 0;
  };
  void Give(int64_t n);  // freed blocks: free space, or other files on a full disk

  uint64_t pages_n_ = 0;
  BlockGeometry geo_;
  bool disk_full_ = false;
  std::unique_ptr<PageBlocks[]> pages_;
  int64_t held_ = 0;  // the file's mapped (not stale) and delayed blocks
  SpaceAccount space_;
  CounterInvariant held_check_;
};

}  // namespace pagerace

#endif  // PAGERACE_FS_ADAPTERS_BLOCK_MAP_H_
