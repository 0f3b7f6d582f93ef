// The filesystem interface (DESIGN §7), modeled on struct
// address_space_operations plus vm_operations_struct::page_mkwrite.
//
// Locking table (Documentation/filesystems/Locking, v2.6.30 conventions):
//
//   callback         page lock on entry   on return            may block
//   page_mkwrite     unlocked             unlocked, or locked  yes (fs locks,
//                                         with kVmFaultLocked   page lock)
//   set_page_dirty   usually locked       unchanged            no
//   writepage        locked               unlocked, or handed  yes (not on
//                                         to the I/O (ceph)     the page lock)
//   end_io           unlocked, or locked  unchanged; the queue no (I/O thread)
//                    by the write (ceph)  unlocks after
//                                         end_page_writeback
//   write_begin      locked               locked               yes
//   write_end        locked               locked               yes
//   releasepage      locked               locked               no
//   launder_page     locked               locked               yes (writeback)
//   invalidatepage   locked               locked               no
//   truncate_store   none                 none                 yes
//   punch_store      none (invalidate_lock none                 yes
//                    held for writing in
//                    5.15)
//   readpage         locked               locked               no
//   commit           none                 none                 yes
//   metadata_state   any                  unchanged            no (oracle query)
//
// Every adapter owns a backing store (the "server", "OSD" or "disk") and
// exposes what it persisted through read_persisted(), which is how the
// oracles compare page contents against it without reaching into the adapter.
#ifndef PAGERACE_HARNESS_MM_ADDRESS_SPACE_OPS_H_
#define PAGERACE_HARNESS_MM_ADDRESS_SPACE_OPS_H_

#include <cstdint>
#include <string>

#include "harness/check/invariants.h"
#include "harness/mm/kernel_era.h"
#include "harness/mm/vm_fault.h"

namespace pagerace {

class MmContext;
struct Page;

struct WritebackControl {
  enum SyncMode { kSyncNone, kSyncAll } sync_mode = kSyncNone;
  // Set by reclaim's pageout() (v2.6.29 wbc.for_reclaim): one page written
  // outside write_cache_pages, with no ->writepages around it.
  bool for_reclaim = false;
  // Pages write_cache_pages may still write (wbc->nr_to_write): it stops
  // when the budget is spent, for WB_SYNC_NONE only since 05fe478dd04e
  // (v2.6.29); the default is LONG_MAX's "no budget".
  int64_t nr_to_write = INT64_MAX;
  // i_size as write_cache_pages read it with the page just locked, before
  // clear_page_dirty_for_io write-protected it (-1: not read; reclaim's
  // pageout).  ext4's mpage_submit_page sampled i_size there until
  // a056bdaae7a1 (v4.12) moved the read after clear_page_dirty_for_io: an
  // adapter reverting that fix zeroes the page's tail from this size.
  int64_t isize_before_wrprotect = -1;
};

// MetadataState (what the fs holds for a page) is the invariants' vocabulary:
// harness/check/invariants.h.

// The gfp mask try_to_release_page passes to ->releasepage, as far as a
// filesystem asks it: whether the caller may recurse into the filesystem
// (__GFP_FS).  v2.6.29 (5.15 the same callers, read in both): 0 from
// invalidate_complete_page and pagevec_strip, GFP_KERNEL from
// invalidate_complete_page2 and fallback_migrate_page, reclaim's
// sc->gfp_mask (kswapd's GFP_KERNEL: the model's reclaim role) from
// shrink_page_list.
enum class Gfp : uint8_t { kNoFs, kFs };

class AddressSpaceOps {
 public:
  virtual ~AddressSpaceOps() = default;

  // Called once before any fault: the context this adapter serves.
  virtual void Attach(MmContext* mm) { mm_ = mm; }
  virtual const char* name() const = 0;

  virtual bool has_page_mkwrite() const = 0;
  // Whether the filesystem has a ->writepage (5.15's XFS has ->writepages
  // only).  Without one, reclaim's pageout() activates a dirty page instead
  // of writing it (PAGE_ACTIVATE) and migration's writeout() cannot write it
  // out (-EINVAL), in v2.6.29 and 5.15 alike; writeback still calls
  // writepage(), which then stands for the adapter's ->writepages doing that
  // page.
  virtual bool has_writepage() const { return true; }
  // Story vocabulary (the explorer's numbered counterexamples): the kernel
  // function behind ->page_mkwrite, and what the filesystem attaches there
  // (a noun without article: "write request (nfs_page)").
  virtual const char* page_mkwrite_name() const { return "->page_mkwrite"; }
  virtual const char* metadata_name() const { return "fs metadata"; }
  // Whether this filesystem's 5.15 ->page_mkwrite waits for writeback before
  // returning the page locked: its own wait_on_page_writeback (NFS, ceph,
  // btrfs) or wait_for_stable_page on a device with SB_I_STABLE_WRITES.
  // Under a 5.15-era scheme I7 holds such a filesystem to it
  // (MmContext::check_stable_write).
  virtual bool stable_writes() const { return false; }
  // vm_ops->page_mkwrite: the page is about to become writable through a
  // user mapping.  Returns 0, kVmFaultLocked (page locked), kVmFaultNoPage
  // (retry: page truncated) or an error (kVmFaultSigbus: no store may land).
  virtual vm_fault_t page_mkwrite(VmFault& vmf) { return 0; }
  // a_ops->set_page_dirty; returns 1 if the page was newly dirtied.
  virtual int set_page_dirty(Page* page);
  // Starts writing a locked page whose PG_dirty was just cleared by
  // clear_page_dirty_for_io; unlocks it, or hands its lock to the write
  // (IoQueue::SubmitLocked), whose completion unlocks it.
  virtual int writepage(Page* page, WritebackControl& wbc) = 0;
  // I/O completion for a page ->writepage put under writeback (on the I/O
  // thread): persists, then the VM's end_page_writeback follows.
  virtual void end_io(Page* page) = 0;
  virtual int write_begin(Page* page, uint32_t offset, uint32_t len) { return 0; }
  // Returns 1 when it dirtied the page itself (block_write_end's
  // mark_buffer_dirty), 0 to have generic_perform_write call set_page_dirty.
  virtual int write_end(Page* page, uint32_t offset, uint32_t len) { return 0; }
  // The page is being truncated: drop any metadata (the data is discarded).
  // Page locked, not under writeback.
  virtual void invalidatepage(Page* page) {}
  // The file now ends inside this page, `offset` bytes in: drop the
  // metadata of what lies past it (block_invalidatepage with an offset).
  // Page locked, not under writeback, its tail already zeroed.
  virtual void invalidate_partial(Page* page, uint32_t offset) {}
  // Whether this filesystem's ->setattr, in the kernel release `era`, grows
  // the file through pagecache_isize_extended (truncate_setsize, or the fs
  // calling it inline as ext4_setattr and btrfs_setsize do from v3.18).  The
  // VM models that growth by holding the old EOF page locked across
  // setattr_extend and the size change (truncate.h).  False: the fs does its
  // own ->setattr work first (setattr_extend with no page) and then i_size is
  // written with no page lock, as every filesystem did in v2.6.29/30 and as
  // 5.15's nfs_setattr still does (nfs_sync_inode, the SETATTR call, then
  // nfs_vmtruncate).  The default answers for a filesystem that took
  // pagecache_isize_extended when mm/truncate.c got it.
  virtual bool setattr_calls_pagecache_isize_extended(KernelEra era) const {
    return HasPagecacheIsizeExtended(era);
  }
  // The fs's ->setattr growing the file from `old_size` to `new_size`;
  // i_size is raised by the caller afterwards.  When
  // setattr_calls_pagecache_isize_extended() the VM holds the old EOF page
  // locked across this and the size change and passes it as `eof_page`
  // (nullptr when old_size is page-aligned or the page is not cached):
  // buffer.c-style filesystems call pagecache_isize_extended() on it.
  // Otherwise `eof_page` is always nullptr: the VM takes no page lock, and an
  // fs whose ->setattr touches pages on growth (nfs_setattr's flush) locks
  // them itself.
  virtual void setattr_extend(Page* eof_page, int64_t old_size, int64_t new_size) {}
  // With setattr_calls_pagecache_isize_extended(): whether growth takes the
  // old EOF page's lock at all.  5.15 ext4 with a block a page takes none:
  // pagecache_isize_extended returns at once for bsize == PAGE_SIZE, and
  // ext4_setattr zeroes nothing on growth (read in the 5.15 tree); i_size
  // is then written with no page lock, and the bytes an mmap store left past
  // the old EOF stay (unspecified, MmContext::mark_stale_tail).
  virtual bool growth_locks_eof_page() const { return true; }
  // Whether the fs's ->setattr holds mapping->invalidate_lock for writing
  // across a size change (the i_size write, pagecache_isize_extended,
  // truncate_pagecache and the blocks' release), the lock its fault path
  // takes for reading around ->page_mkwrite: 5.15's ext4_setattr
  // (filemap_invalidate_lock) against ext4_page_mkwrite
  // (filemap_invalidate_lock_shared), XFS's MMAPLOCK taken the same two ways
  // (read in the 5.15 tree).  Asked only where the run's kernel has the lock
  // (lock_order.h: kInvalidateLock, above the journal and the page lock):
  // truncate.h's vmtruncate then takes it.
  virtual bool setattr_holds_invalidate_lock() const { return false; }
  // Workload knob (`isize`): the disk is full — every block of the file is
  // allocated, none is free, and blocks the file frees are taken by others.
  // Returns false when the adapter allocates nothing.
  virtual bool FillDisk() { return false; }
  // The file shrank to `size` bytes: the backing store discards what lies
  // beyond (->truncate / setattr on the server).
  virtual void truncate_store(int64_t size) = 0;
  // A hole punch (punch.h) freeing the blocks of pages [first, first +
  // npages), after taking those pages out of the page cache: the range now
  // reads as zeros from the backing store.  A filesystem that caches block
  // mappings in buffers (buffer.c) leaves a buffer that a racing fault
  // attached meanwhile mapped to the freed block.  The default (a filesystem
  // without a block map) does nothing; StoreBackedOps zeroes the range.
  virtual void punch_store(uint64_t first, uint64_t npages) {}
  // Whether the model's hole punch (punch.h: 5.15 ext4_punch_hole, the
  // invalidate_lock its only exclusion against faults) is this filesystem's.
  // Others punch under locks of their own that the model does not have
  // (5.15 btrfs_punch_hole takes BTRFS_I(inode)->i_mmap_lock for writing,
  // which btrfs_page_mkwrite takes for reading; nfs42 deallocates on the
  // server before truncate_pagecache_range): a punch there could show races
  // their kernel cannot have, so configurations refuse it.  An empty
  // answer: it is; else why not, in one clause.
  virtual std::string punch_hole_refusal() const {
    return "its hole punch is not modeled (punch.h models 5.15 ext4's: --fs=buffer)";
  }
  // Returns false to keep the page (metadata attached that must not be lost).
  // `gfp` is the caller's allocation context as far as ->releasepage asks
  // it: whether it may enter the filesystem (__GFP_FS).
  virtual bool releasepage(Page* page, Gfp gfp) { return true; }
  // a_ops->launder_page (e3db7691e9f3, v2.6.20): invalidate_inode_pages2
  // found the page dirty after unmapping it; write it out and wait, keeping
  // the page lock throughout (so no fault can map and redirty it), until it
  // is clean and its private data gone.  Returns 0 or a negative errno.
  // Only filesystems that have one say so (the VM's do_launder_page
  // returns 0 for the others, and invalidate_complete_page2 then finds the
  // page dirty: -EBUSY).  REQUIRES: page locked, unmapped.
  virtual bool has_launder_page() const { return false; }
  virtual int launder_page(Page* page) { return 0; }
  // a_ops->migratepage as the release `era` has it, for migrate.h:
  //   kFallback       none: fallback_migrate_page (a dirty page is written
  //                   out and kept, -EAGAIN; private data must be released
  //                   first); v2.6.29/30 NFS, ceph, v2.6.30 btrfs
  //   kMovePrivate    buffer_migrate_page / btrfs_migratepage: the fs's
  //                   per-page data moves with the page (the model keys it
  //                   by index, so only PG_private moves)
  //   kBusyIfPrivate  5.15 nfs_migrate_page: a page with a request stays
  //                   (-EBUSY), one without moves as migrate_page does
  enum class Migrate { kFallback, kMovePrivate, kBusyIfPrivate };
  virtual Migrate migratepage(KernelEra era) const { return Migrate::kFallback; }
  // --pin-writeback=bounce (a proposal, no kernel has it): writes a copy of
  // the page's bytes inside i_size to the backing store, leaving the page,
  // its dirty state and its fs metadata as they are.  REQUIRES: page locked.
  virtual void write_bounce_copy(Page* page) {}
  // Whether the fs's private data (PG_private) holds a page reference, as
  // every kernel user of PG_private does (buffer heads, nfs_page, btrfs's
  // extent mapping); reclaim's is_page_cache_freeable() discounts it.  Only
  // the NFS adapter models that reference so far.
  virtual bool private_pins_page() const { return false; }
  // Fills the locked page from the backing store (through the kernel alias).
  virtual int readpage(Page* page) = 0;
  // ->writepages' own locking around a writeback pass (an ext4-style journal
  // handle): taken before any page lock of the pass.
  virtual void writepages_begin() {}
  virtual void writepages_end() {}
  // Makes completed writes stable (NFS COMMIT); writeback calls it after a
  // pass and the final sync after waiting for all writeback.
  virtual void commit() {}
  // The filesystem's own flush of page `index`'s data, outside the VM's
  // writeback (ext3's ordered-mode journal commit writing data buffers by
  // hand: buffer:ext3).  It may clean fs metadata but leaves PG_dirty, the
  // dirty tag and the ptes as they are.  No page lock is taken.
  virtual void fs_flush(uint64_t index) {}
  // What the fs holds for `page`, for the invariants; `writable` is what the
  // VM knows of the page's ptes (a store may land anywhere in the page).
  virtual MetadataState metadata_state(const Page* page, bool writable) const = 0;
  // Failure injection (the enospc workload): make one ->page_mkwrite call in
  // `one_in` fail as running out of space would.  Returns false when the
  // adapter has no ->page_mkwrite that could fail.
  virtual bool InjectMkwriteFailures(uint32_t one_in) { return false; }
  // Copies the backing store's bytes of page `index` into dst (page size).
  virtual void read_persisted(uint64_t index, uint8_t* dst) const = 0;
  // Filesystem-side activity that races the VM (ceph: snapshots), run by a
  // thread of its own, named by background_role() (nullptr: none), one
  // background_step() at a time.
  virtual const char* background_role() const { return nullptr; }
  virtual void background_step() {}
  // The adapter's own invariants (I4 counters), checked by the auditor and
  // after the final sync; reports through the oracle.
  virtual void check_invariants() {}

 protected:
  MmContext* mm_ = nullptr;  // set by Attach, constant afterwards
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_ADDRESS_SPACE_OPS_H_
