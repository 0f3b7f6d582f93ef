// The ceph client adapter (DESIGN §7), modeled on fs/ceph/addr.c as of
// v2.6.34 (the first mainline ceph; Sage Weil's out-of-tree client of 2009 is
// what needed the seed).
//
// Per-page metadata is a snap context: the snapshot sequence the page's
// dirty data belongs to.  ceph_set_page_dirty attaches the realm's current
// context to a *newly* dirty page and counts it in the inode's wrbuffer_ref;
// the write's completion (writepages_finish) drops whatever context the page
// holds and the count with it.  ->writepage of a page without a context
// writes nothing ("not dirty?") and the page counts as clean.
//
// ->page_mkwrite is ceph_page_mkwrite -> ceph_write_begin ->
// ceph_update_writeable_page: lock the page, wait for its writeback, take
// snap_rwsem, write out a page still dirty in an *older* snap context first
// (without dropping the page lock), then dirty it in the current one and
// return VM_FAULT_LOCKED.  A snapshot thread bumps the realm's sequence under
// snap_rwsem.
//
// Writeback keeps the page locked from submit until the completion
// (ceph_writepages_start -> writepages_finish, v2.6.34): IoQueue::SubmitLocked.
//
// The race, here (under `legacy`, a combination that never shipped: see
// ceph.cc's page_mkwrite): the VM's set_page_dirty runs without the page
// lock after __do_fault's unlock_page, or after do_wp_page's
// wait_on_page_locked returned; writeback locks and cleans the page and
// starts its write in between; set_page_dirty finds the page clean and
// attaches a second context (v2.6.34 overwrites page->private; the model
// replaces the context and keeps counting), and the completion drops that
// new context: a dirty, writable page with no snap context (v2.6.34's
// writepages would dereference it; the model's writepage sends nothing).
// wrbuffer_ref is left one too high (I4).
//
// Adapter invariants (checked at every transition, reported through the
// oracle):
//   I4  wrbuffer_ref == pages holding a snap context, never negative;
//   fs  no page is dirtied by ->page_mkwrite or ->write_end in a newer snap
//       context while holding an older one (the flush-first rule).
//
// Variants: `ceph:unlocked` returns from mkwrite with the page unlocked;
// `ceph:no_snap_flush` skips the flush of an older context (the adapter-side
// mutant that validates the snap-context oracle).
//
// Thread-safety: per-page contexts and counters are protected by i_lock_
// (ci->i_ceph_lock), taken after the page lock and snap_rwsem_.
#ifndef PAGERACE_FS_ADAPTERS_CEPH_H_
#define PAGERACE_FS_ADAPTERS_CEPH_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "fs_adapters/backing_store.h"
#include "harness/base/futex.h"
#include "harness/base/lock_order.h"
#include "harness/base/lock_wait.h"
#include "harness/base/shared.h"

namespace pagerace {

class CephAdapter : public StoreBackedOps {
 public:
  struct Options {
    bool mkwrite_returns_locked = true;
    bool flush_older_snapc = true;  // false: the `no_snap_flush` mutant
  };
  explicit CephAdapter(const Options& options) : options_(options) {}

  void Attach(MmContext* mm) override;
  const char* name() const override;
  bool has_page_mkwrite() const override { return true; }
  const char* page_mkwrite_name() const override { return "ceph_page_mkwrite"; }
  const char* metadata_name() const override { return "snap context (wrbuffer_ref)"; }
  // ceph waits on writeback in ->page_mkwrite in every modeled version
  // (v2.6.34 ceph_update_writeable_page, 5.15 ceph_find_incompatible), so
  // its wait is unconditional (and mutant:no_stable_wait leaves it); I7
  // holds it to that under a 5.15-era scheme when it returns locked, as
  // 5.15 does (`ceph:unlocked` is hypothetical).
  bool stable_writes() const override { return options_.mkwrite_returns_locked; }
  vm_fault_t page_mkwrite(VmFault& vmf) override;
  int set_page_dirty(Page* page) override;
  int writepage(Page* page, WritebackControl& wbc) override;
  void end_io(Page* page) override;
  // snap_rwsem_ is held from write_begin to write_end (v2.6.34).
  int write_begin(Page* page, uint32_t offset, uint32_t len) override
      ABSL_EXCLUSIVE_LOCK_FUNCTION(snap_rwsem_);
  int write_end(Page* page, uint32_t offset, uint32_t len) override
      ABSL_UNLOCK_FUNCTION(snap_rwsem_);
  bool releasepage(Page* page, Gfp gfp) override;
  void invalidatepage(Page* page) override;
  MetadataState metadata_state(const Page* page, bool writable) const override;
  const char* background_role() const override { return "snapshot"; }
  // One snapshot: the realm's snap sequence goes up.
  void background_step() override;
  void check_invariants() override;

  // For tests.
  uint64_t snap_seq() const { return realm_seq_.load(std::memory_order_acquire); }
  uint64_t page_snapc(uint64_t index) const;  // 0: none
  int64_t wrbuffer_ref() const;

 private:
  // ceph_update_writeable_page(): with the page locked, wait for its
  // writeback and write out a page dirty in an older snap context, until
  // the page is writeable in the current one.  Entered with the page
  // locked; returns with it still locked and snap_rwsem_ held (released by
  // finish_dirty): the page lock, then snap_rwsem_ (lock_order.h).
  void update_writeable_page(Page* page) ABSL_EXCLUSIVE_LOCK_FUNCTION(snap_rwsem_);
  // Dirties the locked page in the current context, checks the flush-first
  // rule, releases snap_rwsem_ (the page stays locked).
  void finish_dirty(Page* page) ABSL_UNLOCK_FUNCTION(snap_rwsem_);
  // ceph_page_mkwrite before 4af6b2257ee0 (v2.6.34-rc1; --revert): through
  // ceph_write_begin, locking whatever page the index holds (ceph.cc).
  vm_fault_t page_mkwrite_v2634rc1(VmFault& vmf);
  // writepage_nounlock(): start the write of a locked page that
  // clear_page_dirty_for_io cleaned; false if it has no snap context.
  bool writepage_nounlock(Page* page);
  // I4: wrbuffer_ref against the pages holding a context.
  void check_counters(uint64_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(i_lock_);
  // Drops the page's snap context (if any) and the write's wrbuffer
  // reference at the end of a write.
  void retire_context(Page* page) ABSL_EXCLUSIVE_LOCKS_REQUIRED(i_lock_);


  const Options options_;
  // The writer-fair rwsem, modeled exclusive.  lock_order.h: *inside* the
  // page lock (ceph_update_writeable_page takes it on a locked page, v2.6.34)
  // and outside i_lock_ (get_oldest_context, ceph_set_page_dirty under it).
  OwnedMutex snap_rwsem_{LockClass::kSnapRwsem, "snap_rwsem"};
  Shared<uint64_t> realm_seq_{1};  // written under snap_rwsem_
  mutable FutexMutex i_lock_ ABSL_ACQUIRED_AFTER(snap_rwsem_){LockClass::kInodeLock,
                                                             "ceph i_lock"};
  std::unique_ptr<uint64_t[]> snapc_ ABSL_GUARDED_BY(i_lock_);  // per page; 0: none
  std::unique_ptr<uint32_t[]> len_ ABSL_GUARDED_BY(i_lock_);    // per page: bytes in flight
  int64_t wrbuffer_ref_ ABSL_GUARDED_BY(i_lock_) = 0;
  // ci->i_wr_ref: Fw cap references held by writers (ceph_page_mkwrite's and
  // the write path's ceph_get_caps .. ceph_put_cap_refs).  5.15's
  // ceph_set_page_dirty BUGs on a newly dirty page while it is 0.
  int64_t wr_ref_ ABSL_GUARDED_BY(i_lock_) = 0;
  void get_wr_ref();
  void put_wr_ref();
  int64_t nr_snapc_pages_ ABSL_GUARDED_BY(i_lock_) = 0;
  CounterInvariant i4_ ABSL_GUARDED_BY(i_lock_);
};

}  // namespace pagerace

#endif  // PAGERACE_FS_ADAPTERS_CEPH_H_
