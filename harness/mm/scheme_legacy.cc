// Models mm/memory.c:do_wp_page() and __do_fault() as of v2.6.29, before
// "mm: close page_mkwrite races".  Differences: shared file mappings only (no
// COW, no anonymous pages).  VM_FAULT_LOCKED existed in 2.6.29 (for ->fault),
// but ->page_mkwrite(vma, page) returned an int and could not return it, so
// an adapter that returns it has its page unlocked here at once, as a 2.6.29
// filesystem would have done before returning.
//
// The two windows this scheme leaves open (DESIGN §2):
//  - do_wp_page: ->page_mkwrite returns with the page unlocked; the pte is
//    made writable under the ptl alone, and set_page_dirty runs after the ptl
//    is dropped.  A whole writeback (lock, clear_page_dirty_for_io, writepage,
//    completion) fits between mkwrite and pte_mkwrite: the fs retires its
//    metadata, then the VM hands out a writable pte and dirties the page.
//  - __do_fault: the writable pte is installed under the page lock, the page
//    unlocked, and only then set_page_dirty.
#include "harness/mm/fault_helpers.h"
#include "harness/mm/mm_context.h"
#include "harness/base/stats.h"
#include "harness/check/root_cause.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

class LegacyScheme : public FaultScheme {
 public:
  const char* name() const override { return "legacy"; }
  KernelEra era() const override { return KernelEra::kV2_6_29; }
  const char* description() const override {
    return "v2.6.29: mkwrite returns unlocked, pte made writable and page dirtied later";
  }

  // Models mm/memory.c:do_wp_page() as of v2.6.29 for a shared page.
  // Entered with vmf.pte->ptl held; returns with it released.
  vm_fault_t do_wp_page(MmContext& mm, VmFault& vmf) override
      ABSL_UNLOCK_FUNCTION(vmf.pte->ptl) {
    Page* old_page = vmf.page;
    get_page(old_page);
    if (mm.a_ops().has_page_mkwrite()) {
      vmf.pte->ptl.Unlock();
      SCHED_POINT(kDoWpPageAfterUnlockPtl);
      vm_fault_t tmp = call_page_mkwrite(mm, vmf, FaultPath::kDoWpPage);
      if (tmp & (kVmFaultError | kVmFaultNoPage)) {
        put_page(old_page);
        return tmp;
      }
      // 2.6.29 does not relock the page here: the window, open until
      // set_page_dirty (dirty_faulted_page closes it).
      if (mm.reverted(Fix::kc3704ceb4ad0)) return released_before_relock(mm, vmf);
      SCHED_POINT(kDoWpPageAfterMkwrite);
      SCHED_POINT(kDoWpPageBeforePtlRelock);
      if (!finish_mkwrite_fault(mm, vmf, /*check_stable=*/false)) {
        mm.close_window(vmf.pgoff);
        put_page(old_page);
        CountStat(Stat::kFaultRetries);
        mm.trace(vmf.pgoff, Event::kPteNotSameRetry);
        return 0;
      }
    } else {
      wp_page_reuse(mm, vmf, /*check_stable=*/false);
    }
    return dirty_and_release(mm, vmf);
  }

  // do_wp_page's end, from the writable pte on (the ptl dropped), holding a
  // reference to vmf.page that it drops.
  vm_fault_t dirty_and_release(MmContext& mm, VmFault& vmf) {
    Page* old_page = vmf.page;
    // The pte is writable and the ptl dropped.  Nothing holds the page lock:
    // writeback may already have cleaned the page and retired its metadata.
    SCHED_POINT(kDoWpPageAfterPteMkwrite);
    // "Yes, Virginia": wait for a writeback that holds the lock to finish
    // clear_page_dirty_for_io, so our dirtying lands after it.  That wait is
    // 79352894b285 (v2.6.23); reverted, the fault dirties the page at once,
    // and a writeback between page_mkclean and TestClearPageDirty clears
    // the PG_dirty this fault sets while the pte it made stays writable.
    if (!mm.reverted(Fix::k79352894b285)) {
      mm.trace(vmf.pgoff, Event::kWaitOnPageLocked);
      wait_on_page_locked(old_page);
    } else if (PageLocked(old_page)) {
      // The lock's holder may be writeback between page_mkclean and
      // TestClearPageDirty: the dirtying below can be cleared at once.
      mm.transition(vmf.pgoff, FaultPath::kDoWpPage, FaultWindow::kDirtiedInsideMkcleanToClear);
    }
    // The gap this wait leaves: nothing stops writeback from locking and
    // cleaning the page again before set_page_dirty below.
    SCHED_POINT(kDoWpPageAfterWaitOnPageLocked);
    SCHED_POINT(kDoWpPageBeforeSetPageDirty);
    mm.dirty_faulted_page(old_page);
    put_page(old_page);
    return kVmFaultWrite;
  }

  // --revert=c3704ceb4ad0: do_wp_page after a successful ->page_mkwrite as
  // before "page_mkwrite caller race fix" (v2.6.21-rc1; the diff read in the
  // v2.6.34 mirror): page_cache_release(old_page) came before
  // pte_offset_map_lock, so nothing pins the page while the ptl is retaken.
  // A truncate may unmap, detach and free it meanwhile, and a read fault
  // map its frame, reused for the same file page, at the same place: the
  // pte is then pte_same (frame and protection), and the fault makes it
  // writable and dirties a page whose ->page_mkwrite never ran.  After
  // pte_same, `dirty_page = old_page; get_page(dirty_page)` under the ptl.
  vm_fault_t released_before_relock(MmContext& mm, VmFault& vmf) {
    Page* old_page = vmf.page;
    const uint32_t generation = old_page->generation.load(std::memory_order_relaxed);
    put_page(old_page);  // may free it: only the frame's identity is used below
    SCHED_POINT(kDoWpPageAfterMkwrite);
    SCHED_POINT(kDoWpPageBeforePtlRelock);
    vmf.pte->ptl.Lock();
    if (!pte_same(vmf.pte->val.load(std::memory_order_relaxed), vmf.orig_pte)) {
      vmf.pte->ptl.Unlock();
      mm.close_window(vmf.pgoff);
      CountStat(Stat::kFaultRetries);
      mm.trace(vmf.pgoff, Event::kPteNotSameRetry);
      return 0;
    }
    get_page(old_page);  // the frame the pte maps: referenced by the pte
    if (old_page->generation.load(std::memory_order_relaxed) != generation) {
      mm.transition(vmf.pgoff, FaultPath::kDoWpPage, FaultWindow::kPageReleasedBeforePtlRelock);
    }
    wp_page_reuse(mm, vmf, /*check_stable=*/false);
    return dirty_and_release(mm, vmf);
  }

  // Models the write half of mm/memory.c:__do_fault() as of v2.6.29 for a
  // shared mapping.  Entered with no lock held.
  vm_fault_t do_fault(MmContext& mm, VmFault& vmf) override {
    vm_fault_t ret = filemap_fault(mm, vmf);
    if (ret & (kVmFaultError | kVmFaultNoPage)) return ret;
    Page* page = vmf.page;  // locked, referenced
    SCHED_POINT(kDoFaultAfterFault);
    if (mm.a_ops().has_page_mkwrite()) {
      unlock_page(page);
      SCHED_POINT(kDoFaultAfterUnlockPage);
      // The window opens as ->page_mkwrite returns and stays open until
      // set_page_dirty: the relock below only narrows it (the page is
      // unlocked again before the dirtying).
      vm_fault_t tmp = call_page_mkwrite(mm, vmf, FaultPath::kDoFault);
      if (tmp & (kVmFaultError | kVmFaultNoPage)) {
        put_page(page);
        return tmp;
      }
      SCHED_POINT(kDoFaultAfterMkwrite);
      // 2.6.29 relocks whatever ->page_mkwrite returned.
      if (!relock_page_after_mkwrite(mm, vmf, kDoFaultMkwritePoints, MappingRecheck::kCheck)) {
        mm.close_window(vmf.pgoff);
        put_page(page);
        return 0;
      }
    }
    SCHED_POINT(kDoFaultBeforePtlLock);
    Page* dirty_page = nullptr;
    if (finish_fault(mm, vmf, /*check_stable=*/false)) {
      dirty_page = page;
      get_page(dirty_page);
    }
    // The second window: the page is unlocked before it is dirtied.
    unlock_page(page);
    SCHED_POINT(kDoFaultBeforeSetPageDirty);
    if (dirty_page) {
      mm.dirty_faulted_page(dirty_page);
      put_page(dirty_page);
    } else {
      mm.close_window(vmf.pgoff);
      CountStat(Stat::kFaultRetries);
    }
    put_page(page);
    return ret & ~kVmFaultLocked;
  }

 private:
  // ->page_mkwrite under the v2.6.29 convention (era-specific, so not
  // fault_helpers' do_page_mkwrite): the page comes back unlocked.
  // The seed's window opens here, before the page lock the fs returned
  // with goes (root causes: CauseTracker).
  static vm_fault_t call_page_mkwrite(MmContext& mm, VmFault& vmf, FaultPath path) {
    vmf.flags = kFaultFlagWrite | kFaultFlagMkwrite;
    // An fs returning unlocked opens the window at its unlock_page
    // (MmContext::mkwrite_unlocking): nothing may slip in unaccounted.
    vmf.unlocked_path = static_cast<uint8_t>(path);
    vmf.unlocked_window = static_cast<uint8_t>(FaultWindow::kMkwriteToSetPageDirty);
    vmf.window_opened = false;
    vm_fault_t tmp = mm.call_page_mkwrite(vmf);
    const bool opened = vmf.window_opened;
    vmf.unlocked_window = 0;
    if (tmp & (kVmFaultError | kVmFaultNoPage)) {
      if (opened) mm.close_window(vmf.pgoff);
      return tmp;
    }
    if (!opened) mm.open_window(vmf.pgoff, path, FaultWindow::kMkwriteToSetPageDirty);
    // 2.6.29 filesystems returned with the page unlocked.
    if (tmp & kVmFaultLocked) unlock_page(vmf.page);
    return tmp & ~kVmFaultLocked;
  }
};

}  // namespace

std::unique_ptr<FaultScheme> MakeLegacyScheme() { return std::make_unique<LegacyScheme>(); }

}  // namespace pagerace
