// Models mm/memory.c:wp_page_shared() and do_shared_fault() as of v5.15
// (do_page_mkwrite, finish_mkwrite_fault, wp_page_reuse,
// fault_dirty_shared_page).  Differences: file_update_time and
// balance_dirty_pages_ratelimited are not modeled; no fault-around, no
// VM_FAULT_RETRY / mmap_lock dropping.
//
// As `locked`, the page lock is held from mkwrite's return through
// set_page_dirty.  Stable pages are the filesystems' business in 5.15, not
// the VM's: wait_for_stable_page() (mm/page-writeback.c) is called from
// inside ->page_mkwrite (block_page_mkwrite, ext4_page_mkwrite) and waits
// only when the device requires stable writes (SB_I_STABLE_WRITES), while
// nfs_vm_page_mkwrite, ceph_page_mkwrite and btrfs_page_mkwrite wait on
// writeback themselves.  This scheme tells the adapters they run as their
// 5.15 selves (stable_pages(), read through MmContext::stable_page_era());
// I7 holds the filesystems that wait to it, and elsewhere a store landing
// during writeback is counted (writable_during_writeback), as 5.15 allows
// it on an ordinary disk.
#include "harness/mm/fault_helpers.h"
#include "harness/mm/mm_context.h"
#include "harness/base/stats.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

class ModernScheme : public FaultScheme {
 public:
  explicit ModernScheme(Mutation m) : mutation_(m) {}
  const char* name() const override { return "modern"; }
  const char* description() const override {
    return mutation_ == Mutation::kNoStableWait
               ? "modern, but the filesystems' 5.15 ->page_mkwrite skip their stable-page waits"
               : "5.15 wp_page_shared/do_shared_fault; stable pages per filesystem";
  }
  KernelEra era() const override { return KernelEra::kV5_15; }
  bool skips_stable_wait() const override { return mutation_ == Mutation::kNoStableWait; }
  const char* trips() const override { return mutation_ == Mutation::kNoStableWait ? "I7" : ""; }

  // Models mm/memory.c:do_wp_page() -> wp_page_shared() as of v5.15.
  // Entered with vmf.pte->ptl held; returns with it released.  Its schedule
  // points keep do_wp_page's names (do_wp_page:*), the function the fault
  // enters by in every era.  Differences: none beyond the file's.
  vm_fault_t do_wp_page(MmContext& mm, VmFault& vmf) override
      ABSL_UNLOCK_FUNCTION(vmf.pte->ptl) {
    Page* page = vmf.page;
    get_page(page);
    if (!mm.a_ops().has_page_mkwrite()) {
      // A mapping without ->page_mkwrite (tmpfs): the pte is made writable
      // first, then the page is locked and dirtied under the lock (v5.15;
      // v2.6.29/30 only waited for the lock and dirtied unlocked).
      wp_page_reuse(mm, vmf, /*check_stable=*/true);
      SCHED_POINT(kDoWpPageBeforeSetPageDirty);
      lock_page(page);
      fault_dirty_shared_page(mm, page);  // unlocks, drops the reference
      return kVmFaultWrite;
    }
    vmf.pte->ptl.Unlock();
    SCHED_POINT(kDoWpPageAfterUnlockPtl);
    vm_fault_t tmp = do_page_mkwrite(mm, vmf, kDoWpPageMkwritePoints);
    if (!tmp || (tmp & (kVmFaultError | kVmFaultNoPage))) {
      put_page(page);
      return tmp;
    }
    // Page locked from here on; a filesystem that waits for stable pages
    // has done so inside ->page_mkwrite.
    SCHED_POINT(kDoWpPageBeforePtlRelock);
    if (!finish_mkwrite_fault(mm, vmf, /*check_stable=*/true)) {
      unlock_page(page);
      put_page(page);
      CountStat(Stat::kFaultRetries);
      mm.trace(vmf.pgoff, Event::kPteNotSameRetry);
      return kVmFaultNoPage;
    }
    SCHED_POINT(kDoWpPageBeforeSetPageDirty);
    fault_dirty_shared_page(mm, page);
    return kVmFaultWrite;
  }

  // Models mm/memory.c:do_shared_fault() as of v5.15 (reached through
  // do_fault()), with its own schedule points (do_shared_fault:*).  Entered
  // with no lock held.
  vm_fault_t do_fault(MmContext& mm, VmFault& vmf) override {
    vm_fault_t ret = filemap_fault(mm, vmf);  // __do_fault
    if (ret & (kVmFaultError | kVmFaultNoPage)) return ret;
    Page* page = vmf.page;  // locked, referenced
    SCHED_POINT(kDoSharedFaultAfterFault);
    if (mm.a_ops().has_page_mkwrite()) {
      unlock_page(page);
      SCHED_POINT(kDoSharedFaultAfterUnlockPage);
      vm_fault_t tmp = do_page_mkwrite(mm, vmf, kDoSharedFaultMkwritePoints);
      if (!tmp || (tmp & (kVmFaultError | kVmFaultNoPage))) {
        put_page(page);
        return tmp;
      }
    }
    SCHED_POINT(kDoSharedFaultBeforePtlLock);
    // Stable pages are the filesystem's promise, made in ->page_mkwrite
    // (5.15: wait_for_stable_page is called from there); a mapping without
    // ->page_mkwrite waits for nothing in v5.15 and may store into a page
    // under writeback, so I7 is asked only after ->page_mkwrite, as on
    // do_wp_page's reuse path.  (Reached since reclaim's pageout leaves a
    // page unmapped under writeback.)
    const bool installed =
        finish_fault(mm, vmf, /*check_stable=*/mm.a_ops().has_page_mkwrite());
    SCHED_POINT(kDoSharedFaultBeforeSetPageDirty);
    if (installed) {
      get_page(page);
      fault_dirty_shared_page(mm, page);  // unlocks, drops that reference
    } else {
      CountStat(Stat::kFaultRetries);
      unlock_page(page);
    }
    put_page(page);
    return ret & ~kVmFaultLocked;
  }

 private:
  // Models mm/memory.c:fault_dirty_shared_page() as of v5.15; differences:
  // no balance_dirty_pages_ratelimited or file_update_time; consumes a
  // reference.  Entered with the page locked; returns with it unlocked.
  void fault_dirty_shared_page(MmContext& mm, Page* page) {
    mm.dirty_faulted_page(page);
    unlock_page(page);
    put_page(page);
  }

  const Mutation mutation_;
};

}  // namespace

std::unique_ptr<FaultScheme> MakeModernScheme(Mutation m) {
  return std::make_unique<ModernScheme>(m);
}

}  // namespace pagerace
