// The parts of mm/memory.c and mm/filemap.c shared by every lock scheme:
// fault dispatch, read faults and the default ->fault.
#include "harness/mm/mm_context.h"
#include "harness/base/stats.h"
#include "harness/sched/sched.h"

namespace pagerace {

// Models mm/memory.c:handle_pte_fault() as of v2.6.29; differences: one
// level of page table (the pte array of each user mapping), no anonymous or
// private mappings, no pte_young/accessed handling.
// The ptl is handed to do_wp_page, which releases it: beyond the analysis.
vm_fault_t MmContext::handle_mm_fault(int vma, uint64_t index, bool write)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  CountStat(Stat::kFaults);
  VmFault vmf;
  vmf.vma = vma;
  vmf.pgoff = index;
  vmf.flags = write ? kFaultFlagWrite : 0;
  Pte& pte = mmu_->pte(vma, index);
  pte.ptl.Lock();
  const uint32_t entry = pte.val.load(std::memory_order_relaxed);
  switch (pte_state(entry)) {
    case kPteNone:
      pte.ptl.Unlock();
      CountStat(Stat::kFaultsNopage);
      if (write) {
        trace(index, Event::kFaultWriteNopage);
        return scheme_->do_fault(*this, vmf);
      }
      trace(index, Event::kFaultRead);
      return do_read_fault(*this, vmf);
    case kPteReadOnly:
      if (write) {
        CountStat(Stat::kFaultsWp);
        trace(index, Event::kFaultWriteWp);
        vmf.orig_pte = entry;
        vmf.page = pte.page;
        return scheme_->do_wp_page(*this, vmf);  // releases the ptl
      }
      break;
    case kPteWritable:
      break;
  }
  // Spurious: another thread already fixed the pte up.  Returning re-runs the
  // access, which now succeeds or faults afresh.
  pte.ptl.Unlock();
  CountStat(Stat::kFaultRetries);
  return 0;
}

// Models mm/filemap.c:filemap_fault() as of v2.6.29; differences: no
// readahead, the page is read synchronously under its lock.
vm_fault_t filemap_fault(MmContext& mm, VmFault& vmf) {
  const int64_t start = static_cast<int64_t>(vmf.pgoff * mm.page_size());
  if (start >= mm.mapping().i_size()) return kVmFaultSigbus;
  bool created;
  Page* page = mm.mapping().find_or_create_page(vmf.pgoff, &created);
  if (!PageUptodate(page)) {
    mm.a_ops().readpage(page);
    SetPageFlag(page, PG_uptodate);
    mm.trace(vmf.pgoff, Event::kReadpage);
  }
  // i_size may have shrunk while we slept on the page lock.
  if (start >= mm.mapping().i_size()) {
    unlock_page(page);
    put_page(page);
    return kVmFaultSigbus;
  }
  vmf.page = page;
  return kVmFaultLocked | (created ? kVmFaultMajor : 0);
}

// Models the read half of mm/memory.c:__do_fault() as of v2.6.29: a
// not-present read fault installs a read-only pte under the page lock (a
// shared mapping with ->page_mkwrite is write-protected so the first store
// calls it).
vm_fault_t do_read_fault(MmContext& mm, VmFault& vmf) {
  vm_fault_t ret = filemap_fault(mm, vmf);
  if (ret & (kVmFaultError | kVmFaultNoPage)) return ret;
  Page* page = vmf.page;
  Pte& pte = mm.mmu().pte(vmf.vma, vmf.pgoff);
  {
    FutexLock l(&pte.ptl);
    // Someone else may have installed it while we read the page.
    if (pte_state(pte.val.load(std::memory_order_relaxed)) == kPteNone &&
        page->mapping.load(std::memory_order_acquire) != nullptr) {
      mm.set_pte(vmf.vma, vmf.pgoff, kPteReadOnly, page);
    }
  }
  unlock_page(page);
  put_page(page);
  return ret & ~kVmFaultLocked;
}

}  // namespace pagerace
