#include "harness/mm/fault_helpers.h"

#include "harness/base/thread_registry.h"
#include "harness/check/root_cause.h"
#include "harness/mm/mm_context.h"
#include "harness/base/stats.h"

namespace pagerace {

// Models the relock in mm/memory.c:do_page_mkwrite() as of v5.15 (the same
// steps stand inline in v2.6.30's do_wp_page() and __do_fault(), and in
// v2.6.29's __do_fault(), which relocks whatever mkwrite returned);
// differences: fires the caller's schedule points around lock_page; the
// retry is traced (kMappingGoneRetry) and counted; `recheck` exists for the
// mutant.
bool relock_page_after_mkwrite(MmContext& mm, VmFault& vmf, const MkwritePoints& points,
                               MappingRecheck recheck) {
  Page* page = vmf.page;
  SCHED_POINT_AT(points.before_relock_page);
  lock_page(page);
  SCHED_POINT_AT(points.after_relock_page);
  // Truncated while unlocked: retry the fault.
  if (recheck == MappingRecheck::kCheck && !page->mapping.load(std::memory_order_acquire)) {
    mm.trace(vmf.pgoff, Event::kMappingGoneRetry);
    unlock_page(page);
    CountStat(Stat::kFaultRetries);
    return false;
  }
  return true;
}

// Models mm/memory.c:do_page_mkwrite() as of v5.15 (its steps stand inline
// in v2.6.30's do_wp_page() and __do_fault()); differences: no swapfile
// check; vmf.flags are left as set for ->page_mkwrite (no caller reads them
// after); fires the caller's schedule points; ->page_mkwrite goes through
// MmContext::call_page_mkwrite's bookkeeping.
vm_fault_t do_page_mkwrite(MmContext& mm, VmFault& vmf, const MkwritePoints& points,
                           MappingRecheck recheck) {
  vmf.flags = kFaultFlagWrite | kFaultFlagMkwrite;
  // The fs may return unlocked: writeback can then run before we relock.
  // A fs whose metadata writeback retires (NFS requests) must return
  // kVmFaultLocked to be safe ("NFS: Close page_mkwrite() races", 7fdf5230,
  // v2.6.30-rc5).  The window is open from the fs's unlock_page
  // (mkwrite_unlocking) until the relock (the page lock then covers the
  // rest).
  const FaultPath path = points.after_mkwrite == sched::kDoWpPageAfterMkwrite
                             ? FaultPath::kDoWpPage
                             : FaultPath::kDoFault;
  const FaultWindow window = recheck == MappingRecheck::kCheck
                                 ? FaultWindow::kUnlockedMkwriteToRelock
                                 : FaultWindow::kRelockWithoutMappingCheck;
  vmf.unlocked_path = static_cast<uint8_t>(path);
  vmf.unlocked_window = static_cast<uint8_t>(window);
  vmf.window_opened = false;
  vm_fault_t ret = mm.call_page_mkwrite(vmf);
  const bool opened = vmf.window_opened;
  vmf.unlocked_window = 0;
  if (ret & (kVmFaultError | kVmFaultNoPage)) {
    if (opened) mm.close_window(vmf.pgoff);
    return ret;
  }
  if (!(ret & kVmFaultLocked)) {
    // Opened already unless the fs returned without taking the lock at all.
    if (!opened) mm.open_window(vmf.pgoff, path, window);
    SCHED_POINT_AT(points.after_mkwrite);
    const bool relocked = relock_page_after_mkwrite(mm, vmf, points, recheck);
    mm.close_window(vmf.pgoff);
    if (!relocked) return 0;
    ret |= kVmFaultLocked;
  } else {
    SCHED_POINT_AT(points.after_mkwrite);
    if (vmf.page->lock_owner.load(std::memory_order_relaxed) == current_thread().tid) return ret;
    // The fs said it returns the page locked and did not lock it (ceph
    // before 4af6b2257ee0 locked another page: ceph.cc).  5.15 checks
    // VM_BUG_ON_PAGE(!PageLocked(page)) here (CONFIG_DEBUG_VM); v2.6.30's
    // do_wp_page and __do_fault trusted the bit.  The model reports the
    // BUG, then takes the lock itself and goes on, as a kernel without
    // CONFIG_DEBUG_VM would go on believing it held it (its unlock_page to
    // come then releases a lock it never took).
    if (mm.era() >= KernelEra::kV5_15 && !PageLocked(vmf.page)) {
      mm.oracle().Report(RaceKind::kKernelBug, Invariant::kFs, vmf.pgoff, 0, 0,
                         "VM_BUG_ON_PAGE(!PageLocked(page)) in do_page_mkwrite (5.15): "
                         "->page_mkwrite returned VM_FAULT_LOCKED with the page unlocked");
    }
    lock_page(vmf.page);
  }
  return ret;
}

// Models mm/memory.c:wp_page_reuse() as of v5.15 (v2.6.29/30: the `reuse:`
// block of do_wp_page()); differences: no accessed/young or cache flushing;
// set_pte changes the real protection and checks I5; enters I1's window;
// `check_stable` checks I7.
void wp_page_reuse(MmContext& mm, VmFault& vmf, bool check_stable) {
  Page* page = vmf.page;
  if (check_stable) mm.check_stable_write(page);
  mm.fault_window_enter(page);
  mm.set_pte(vmf.vma, vmf.pgoff, kPteWritable, page);
  vmf.pte->ptl.Unlock();
}

// Models mm/memory.c:finish_mkwrite_fault() as of v5.15 (v2.6.29/30: the
// pte_same re-check inline in do_wp_page()); differences: returns a bool for
// VM_FAULT_NOPAGE / 0; no update_mmu_tlb.
bool finish_mkwrite_fault(MmContext& mm, VmFault& vmf, bool check_stable) {
  vmf.pte->ptl.Lock();
  // The ptl was dropped for ->page_mkwrite: the pte may have been zapped,
  // or made writable by another fault.  Only proceed if it is what we saw.
  if (!pte_same(vmf.pte->val.load(std::memory_order_relaxed), vmf.orig_pte)) {
    vmf.pte->ptl.Unlock();
    return false;
  }
  wp_page_reuse(mm, vmf, check_stable);
  return true;
}

// Models mm/memory.c:finish_fault() and do_set_pte() as of v5.15, for a
// write fault on a shared mapping (v2.6.29/30: the pte install at the end of
// __do_fault(), which compares against the none pte it started from);
// differences: no pmd, THP or prefault handling; installs writable only;
// enters I1's window; `check_stable` checks I7.
bool finish_fault(MmContext& mm, VmFault& vmf, bool check_stable) {
  Page* page = vmf.page;
  FutexLock l(&vmf.pte->ptl);
  // Another fault may have installed the pte while we slept in ->fault or
  // ->page_mkwrite.
  if (pte_state(vmf.pte->val.load(std::memory_order_relaxed)) != kPteNone) return false;
  if (check_stable) mm.check_stable_write(page);
  mm.fault_window_enter(page);
  mm.set_pte(vmf.vma, vmf.pgoff, kPteWritable, page);
  return true;
}

}  // namespace pagerace
