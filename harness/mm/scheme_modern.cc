// Models mm/memory.c:wp_page_shared() and do_shared_fault() as of v5.x/v6.x
// (do_page_mkwrite, finish_mkwrite_fault, wp_page_reuse,
// fault_dirty_shared_page), with stable pages.  Differences: the
// wait_for_stable_page() that v3.9+ filesystems call inside ->page_mkwrite is
// done here, after mkwrite returns with the page locked, so every adapter
// gets stable pages under this scheme; file_update_time and
// balance_dirty_pages_ratelimited are not modeled; no fault-around, no
// VM_FAULT_RETRY / mmap_lock dropping.
//
// As `locked`, the page lock is held from mkwrite's return through
// set_page_dirty.  In addition no pte becomes writable while the page is
// under writeback (I7): a store can never land in the middle of the I/O.
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
               ? "modern, but mkwrite does not wait for writeback (no stable pages)"
               : "5.x/6.x wp_page_shared/do_shared_fault with stable pages";
  }
  bool stable_pages() const override { return true; }
  const char* trips() const override { return mutation_ == Mutation::kNoStableWait ? "I7" : ""; }

  // Entered with the ptl held; returns with it released (a hand-off the
  // thread-safety analysis cannot follow).
  vm_fault_t do_wp_page(MmContext& mm, VmFault& vmf) override ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Pte& pte = mm.mmu().pte(vmf.vma, vmf.pgoff);
    Page* page = vmf.page;
    get_page(page);
    if (!mm.a_ops().has_page_mkwrite()) {
      // wp_page_reuse for a mapping without ->page_mkwrite (tmpfs).
      mm.fault_window_enter(page);
      mm.set_pte(vmf.vma, vmf.pgoff, kPteWritable, page);
      pte.ptl.Unlock();
      wait_on_page_locked(page);
      mm.dirty_faulted_page(page);
      put_page(page);
      return kVmFaultWrite;
    }
    pte.ptl.Unlock();
    SCHED_POINT(kDoWpPageAfterUnlockPtl);
    vm_fault_t tmp = do_page_mkwrite(mm, vmf);
    if (tmp & (kVmFaultError | kVmFaultNoPage)) {
      put_page(page);
      return tmp;
    }
    // Page locked from here on.
    wait_for_stable_page(mm, page);
    SCHED_POINT(kDoWpPageBeforePtlRelock);
    // finish_mkwrite_fault: the pte may have changed while the ptl was down.
    pte.ptl.Lock();
    if (!pte_same(pte.val.load(std::memory_order_relaxed), vmf.orig_pte)) {
      pte.ptl.Unlock();
      unlock_page(page);
      put_page(page);
      CountStat(Stat::kFaultRetries);
      mm.trace(vmf.pgoff, Event::kPteNotSameRetry);
      return kVmFaultNoPage;
    }
    // wp_page_reuse.
    mm.check_stable_write(page);
    mm.fault_window_enter(page);
    mm.set_pte(vmf.vma, vmf.pgoff, kPteWritable, page);
    pte.ptl.Unlock();
    SCHED_POINT(kDoWpPageBeforeSetPageDirty);
    fault_dirty_shared_page(mm, page);
    return kVmFaultWrite;
  }

  vm_fault_t do_fault(MmContext& mm, VmFault& vmf) override {
    vm_fault_t ret = filemap_fault(mm, vmf);  // __do_fault
    if (ret & (kVmFaultError | kVmFaultNoPage)) return ret;
    Page* page = vmf.page;  // locked, referenced
    SCHED_POINT(kDoFaultAfterFault);
    if (mm.a_ops().has_page_mkwrite()) {
      unlock_page(page);
      SCHED_POINT(kDoFaultAfterUnlockPage);
      vm_fault_t tmp = do_page_mkwrite(mm, vmf);
      if (tmp & (kVmFaultError | kVmFaultNoPage)) {
        put_page(page);
        return tmp;
      }
      wait_for_stable_page(mm, page);
    }
    SCHED_POINT(kDoFaultBeforePtlLock);
    // finish_fault.
    bool installed = false;
    Pte& pte = mm.mmu().pte(vmf.vma, vmf.pgoff);
    pte.ptl.Lock();
    if (pte_state(pte.val.load(std::memory_order_relaxed)) == kPteNone) {
      mm.check_stable_write(page);
      mm.fault_window_enter(page);
      mm.set_pte(vmf.vma, vmf.pgoff, kPteWritable, page);
      installed = true;
    }
    pte.ptl.Unlock();
    SCHED_POINT(kDoFaultBeforeSetPageDirty);
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
  // do_page_mkwrite: ->page_mkwrite, then the page locked or kVmFaultNoPage
  // when it was truncated meanwhile.
  vm_fault_t do_page_mkwrite(MmContext& mm, VmFault& vmf) {
    Page* page = vmf.page;
    vmf.flags = kFaultFlagWrite | kFaultFlagMkwrite;
    vm_fault_t ret = mm.call_page_mkwrite(vmf);
    if (ret & (kVmFaultError | kVmFaultNoPage)) return ret;
    SCHED_POINT(kDoWpPageAfterMkwrite);
    if (!(ret & kVmFaultLocked)) {
      SCHED_POINT(kDoWpPageBeforeRelockPage);
      lock_page(page);
      SCHED_POINT(kDoWpPageAfterRelockPage);
      if (!page->mapping.load(std::memory_order_acquire)) {
        mm.trace(vmf.pgoff, Event::kMappingGoneRetry);
        unlock_page(page);
        CountStat(Stat::kFaultRetries);
        return kVmFaultNoPage;
      }
      ret |= kVmFaultLocked;
    }
    return ret;
  }

  // Models mm/page-writeback.c:wait_for_stable_page() (v3.9+): the page stays
  // locked; no new store may start while its I/O is in flight.
  void wait_for_stable_page(MmContext& mm, Page* page) {
    if (mutation_ == Mutation::kNoStableWait) return;  // MUTANT
    wait_on_page_writeback(page);
  }

  // fault_dirty_shared_page: set_page_dirty and unlock; consumes a reference.
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
