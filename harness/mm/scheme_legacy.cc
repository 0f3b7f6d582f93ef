// Models mm/memory.c:do_wp_page() and __do_fault() as of v2.6.29, before
// "mm: close page_mkwrite races".  Differences: shared file mappings only (no
// COW, no anonymous pages); ->page_mkwrite's VM_FAULT_LOCKED did not exist
// yet, so an adapter that returns it has its page unlocked here at once, as a
// 2.6.29 filesystem would have done before returning.
//
// The two windows this scheme leaves open (DESIGN §2):
//  - do_wp_page: ->page_mkwrite returns with the page unlocked; the pte is
//    made writable under the ptl alone, and set_page_dirty runs after the ptl
//    is dropped.  A whole writeback (lock, clear_page_dirty_for_io, writepage,
//    completion) fits between mkwrite and pte_mkwrite: the fs retires its
//    metadata, then the VM hands out a writable pte and dirties the page.
//  - __do_fault: the writable pte is installed under the page lock, the page
//    unlocked, and only then set_page_dirty.
#include "harness/mm/mm_context.h"
#include "harness/base/stats.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

class LegacyScheme : public FaultScheme {
 public:
  const char* name() const override { return "legacy"; }
  const char* description() const override {
    return "v2.6.29: mkwrite returns unlocked, pte made writable and page dirtied later";
  }

  // Entered with the ptl held; returns with it released (a hand-off the
  // thread-safety analysis cannot follow).
  vm_fault_t do_wp_page(MmContext& mm, VmFault& vmf) override ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Pte& pte = mm.mmu().pte(vmf.vma, vmf.pgoff);
    Page* old_page = vmf.page;
    get_page(old_page);
    if (mm.a_ops().has_page_mkwrite()) {
      pte.ptl.Unlock();
      SCHED_POINT(kDoWpPageAfterUnlockPtl);
      vmf.flags = kFaultFlagWrite | kFaultFlagMkwrite;
      vm_fault_t tmp = call_page_mkwrite(mm, vmf);
      if (tmp & (kVmFaultError | kVmFaultNoPage)) {
        put_page(old_page);
        return tmp;
      }
      SCHED_POINT(kDoWpPageAfterMkwrite);
      SCHED_POINT(kDoWpPageBeforePtlRelock);
      // The ptl was dropped: the pte may have been changed (zapped, or made
      // writable by another fault).  Only proceed if it is what we saw.
      pte.ptl.Lock();
      if (!pte_same(pte.val.load(std::memory_order_relaxed), vmf.orig_pte)) {
        pte.ptl.Unlock();
        put_page(old_page);
        CountStat(Stat::kFaultRetries);
        mm.trace(vmf.pgoff, Event::kPteNotSameRetry);
        return 0;
      }
    }
    // reuse: make the pte writable and dirty.  Nothing holds the page lock:
    // writeback may already have cleaned the page and retired its metadata.
    mm.fault_window_enter(old_page);
    mm.set_pte(vmf.vma, vmf.pgoff, kPteWritable, old_page);
    pte.ptl.Unlock();
    SCHED_POINT(kDoWpPageAfterPteMkwrite);
    // "Yes, Virginia": wait for a writeback that holds the lock to finish
    // clear_page_dirty_for_io, so our dirtying lands after it.
    mm.trace(vmf.pgoff, Event::kWaitOnPageLocked);
    wait_on_page_locked(old_page);
    SCHED_POINT(kDoWpPageBeforeSetPageDirty);
    mm.dirty_faulted_page(old_page);
    put_page(old_page);
    return kVmFaultWrite;
  }

  vm_fault_t do_fault(MmContext& mm, VmFault& vmf) override {
    vm_fault_t ret = filemap_fault(mm, vmf);
    if (ret & (kVmFaultError | kVmFaultNoPage)) return ret;
    Page* page = vmf.page;  // locked, referenced
    SCHED_POINT(kDoFaultAfterFault);
    if (mm.a_ops().has_page_mkwrite()) {
      unlock_page(page);
      SCHED_POINT(kDoFaultAfterUnlockPage);
      vmf.flags = kFaultFlagWrite | kFaultFlagMkwrite;
      vm_fault_t tmp = call_page_mkwrite(mm, vmf);
      if (tmp & (kVmFaultError | kVmFaultNoPage)) {
        put_page(page);
        return tmp;
      }
      SCHED_POINT(kDoFaultAfterMkwrite);
      SCHED_POINT(kDoFaultBeforeRelockPage);
      lock_page(page);
      SCHED_POINT(kDoFaultAfterRelockPage);
      // Truncated while unlocked: retry the fault.
      if (!page->mapping.load(std::memory_order_acquire)) {
        mm.trace(vmf.pgoff, Event::kMappingGoneRetry);
        unlock_page(page);
        put_page(page);
        CountStat(Stat::kFaultRetries);
        return 0;
      }
    }
    SCHED_POINT(kDoFaultBeforePtlLock);
    Page* dirty_page = nullptr;
    Pte& pte = mm.mmu().pte(vmf.vma, vmf.pgoff);
    pte.ptl.Lock();
    if (pte_state(pte.val.load(std::memory_order_relaxed)) == kPteNone) {
      mm.fault_window_enter(page);
      mm.set_pte(vmf.vma, vmf.pgoff, kPteWritable, page);
      dirty_page = page;
      get_page(dirty_page);
    }
    pte.ptl.Unlock();
    // The second window: the page is unlocked before it is dirtied.
    unlock_page(page);
    SCHED_POINT(kDoFaultBeforeSetPageDirty);
    if (dirty_page) {
      mm.dirty_faulted_page(dirty_page);
      put_page(dirty_page);
    } else {
      CountStat(Stat::kFaultRetries);
    }
    put_page(page);
    return ret & ~kVmFaultLocked;
  }

 private:
  static vm_fault_t call_page_mkwrite(MmContext& mm, VmFault& vmf) {
    vm_fault_t tmp = mm.call_page_mkwrite(vmf);
    if (tmp & (kVmFaultError | kVmFaultNoPage)) return tmp;
    // 2.6.29 filesystems returned with the page unlocked.
    if (tmp & kVmFaultLocked) unlock_page(vmf.page);
    return tmp & ~kVmFaultLocked;
  }
};

}  // namespace

std::unique_ptr<FaultScheme> MakeLegacyScheme() { return std::make_unique<LegacyScheme>(); }

}  // namespace pagerace
