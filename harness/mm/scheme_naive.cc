// The rejected alternative to the seed (DESIGN §6): the VM takes the page
// lock *before* ->page_mkwrite and holds it across the call, through the pte
// update and set_page_dirty.  Modeled on the v2.6.30 fault paths with that one
// change; ->page_mkwrite is told (kFaultFlagPageLocked) not to lock the page
// itself.
//
// It closes the seed's window as `locked` does, but a filesystem that takes a
// lock ranking above the page lock inside ->page_mkwrite (a journal handle)
// now takes it *under* the page lock, while writeback takes that lock first
// and then page locks: ABBA.  The seed's changelog: "Rather than simply hold
// the page locked over the page_mkwrite call, we call page_mkwrite with the
// page unlocked and allow callers to return with it locked, so filesystems
// can avoid LOR conditions with page lock."
#include "harness/mm/mm_context.h"
#include "harness/base/stats.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

class NaiveScheme : public FaultScheme {
 public:
  const char* name() const override { return "naive"; }
  const char* description() const override {
    return "page lock held across the page_mkwrite call (ABBA with fs locks: deadlock)";
  }

  // Entered with the ptl held; returns with it released (a hand-off the
  // thread-safety analysis cannot follow).
  vm_fault_t do_wp_page(MmContext& mm, VmFault& vmf) override ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Pte& pte = mm.mmu().pte(vmf.vma, vmf.pgoff);
    Page* page = vmf.page;
    get_page(page);
    pte.ptl.Unlock();
    SCHED_POINT(kDoWpPageAfterUnlockPtl);
    lock_page(page);
    if (!page->mapping.load(std::memory_order_acquire)) {
      unlock_page(page);
      put_page(page);
      CountStat(Stat::kFaultRetries);
      return 0;
    }
    if (mm.a_ops().has_page_mkwrite()) {
      vm_fault_t tmp = call_page_mkwrite_locked(mm, vmf);
      if (tmp & (kVmFaultError | kVmFaultNoPage)) {
        unlock_page(page);
        put_page(page);
        return tmp;
      }
    }
    SCHED_POINT(kDoWpPageBeforePtlRelock);
    pte.ptl.Lock();
    if (!pte_same(pte.val.load(std::memory_order_relaxed), vmf.orig_pte)) {
      pte.ptl.Unlock();
      unlock_page(page);
      put_page(page);
      CountStat(Stat::kFaultRetries);
      return 0;
    }
    mm.fault_window_enter(page);
    mm.set_pte(vmf.vma, vmf.pgoff, kPteWritable, page);
    pte.ptl.Unlock();
    SCHED_POINT(kDoWpPageBeforeSetPageDirty);
    mm.dirty_faulted_page(page);
    unlock_page(page);
    put_page(page);
    return kVmFaultWrite;
  }

  vm_fault_t do_fault(MmContext& mm, VmFault& vmf) override {
    vm_fault_t ret = filemap_fault(mm, vmf);
    if (ret & (kVmFaultError | kVmFaultNoPage)) return ret;
    Page* page = vmf.page;  // locked, referenced; stays locked throughout
    SCHED_POINT(kDoFaultAfterFault);
    if (mm.a_ops().has_page_mkwrite()) {
      vm_fault_t tmp = call_page_mkwrite_locked(mm, vmf);
      if (tmp & (kVmFaultError | kVmFaultNoPage)) {
        unlock_page(page);
        put_page(page);
        return tmp;
      }
    }
    SCHED_POINT(kDoFaultBeforePtlLock);
    bool installed = false;
    Pte& pte = mm.mmu().pte(vmf.vma, vmf.pgoff);
    pte.ptl.Lock();
    if (pte_state(pte.val.load(std::memory_order_relaxed)) == kPteNone) {
      mm.fault_window_enter(page);
      mm.set_pte(vmf.vma, vmf.pgoff, kPteWritable, page);
      installed = true;
    }
    pte.ptl.Unlock();
    if (installed) {
      mm.dirty_faulted_page(page);
    } else {
      CountStat(Stat::kFaultRetries);
    }
    unlock_page(page);
    put_page(page);
    return ret & ~kVmFaultLocked;
  }

 private:
  // ->page_mkwrite with the page already locked by the VM.
  static vm_fault_t call_page_mkwrite_locked(MmContext& mm, VmFault& vmf) {
    vmf.flags = kFaultFlagWrite | kFaultFlagMkwrite | kFaultFlagPageLocked;
    return mm.call_page_mkwrite(vmf);
  }
};

}  // namespace

std::unique_ptr<FaultScheme> MakeNaiveScheme() { return std::make_unique<NaiveScheme>(); }

}  // namespace pagerace
