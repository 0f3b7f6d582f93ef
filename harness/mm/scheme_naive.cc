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
#include "harness/mm/fault_helpers.h"
#include "harness/mm/mm_context.h"
#include "harness/base/stats.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

class NaiveScheme : public FaultScheme {
 public:
  const char* name() const override { return "naive"; }
  KernelEra era() const override { return KernelEra::kV2_6_30; }
  const char* description() const override {
    return "page lock held across the page_mkwrite call (ABBA with fs locks: deadlock)";
  }

  // v2.6.30's do_wp_page with the page locked before ->page_mkwrite.
  // Entered with vmf.pte->ptl held; returns with it released.
  vm_fault_t do_wp_page(MmContext& mm, VmFault& vmf) override
      ABSL_UNLOCK_FUNCTION(vmf.pte->ptl) {
    Page* page = vmf.page;
    get_page(page);
    vmf.pte->ptl.Unlock();
    SCHED_POINT(kDoWpPageAfterUnlockPtl);
    lock_page(page);
    // Truncated before we got the lock: retry the fault.
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
    if (!finish_mkwrite_fault(mm, vmf, /*check_stable=*/false)) {
      unlock_page(page);
      put_page(page);
      CountStat(Stat::kFaultRetries);
      return 0;
    }
    SCHED_POINT(kDoWpPageBeforeSetPageDirty);
    mm.dirty_faulted_page(page);
    unlock_page(page);
    put_page(page);
    return kVmFaultWrite;
  }

  // v2.6.30's __do_fault write half with the page kept locked across
  // ->page_mkwrite.  Entered with no lock held.
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
    if (finish_fault(mm, vmf, /*check_stable=*/false)) {
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
