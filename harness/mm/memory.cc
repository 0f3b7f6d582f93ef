// The parts of mm/memory.c and mm/filemap.c shared by every lock scheme:
// fault dispatch, read faults and the default ->fault.
#include "absl/base/thread_annotations.h"
#include "harness/mm/mm_context.h"
#include "harness/base/stats.h"
#include "harness/sched/sched.h"

namespace pagerace {

// Models mm/memory.c:handle_mm_fault() -> handle_pte_fault() for a shared
// file mapping, whose dispatch has the same shape in v2.6.29 and v5.15: a
// not-present pte goes to the fault path, a write to a present read-only pte
// to do_wp_page with the ptl held.  The scheme supplies the paths of its own
// era: `legacy`, `locked` and `naive` the v2.6.29/30 do_wp_page and
// __do_fault (reached through do_linear_fault), `modern` the v5.x do_wp_page
// (wp_page_shared) and do_shared_fault (reached through do_fault).  Read
// faults take the one path every era shares, do_read_fault.  Differences:
// one level of page table (the pte array of each user mapping); the pte is
// read under its ptl for every case (the kernel peeks at a not-present one
// unlocked); no anonymous or private mappings, no pte_young/accessed
// handling.
vm_fault_t MmContext::handle_mm_fault(int vma, uint64_t index, bool write) {
  CountStat(Stat::kFaults);
  VmFault vmf;
  vmf.vma = vma;
  vmf.pgoff = index;
  vmf.flags = write ? kFaultFlagWrite : 0;
  vmf.pte = &mmu_->pte(vma, index);
  vmf.pte->ptl.Lock();
  const pte_t entry = vmf.pte->val.load(std::memory_order_relaxed);
  switch (pte_state(entry)) {
    case kPteNone:
      vmf.pte->ptl.Unlock();
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
        vmf.page = vmf.pte->page;
        return scheme_->do_wp_page(*this, vmf);  // releases the ptl
      }
      break;
    case kPteWritable:
      break;
  }
  // Spurious: another thread already fixed the pte up.  Returning re-runs the
  // access, which now succeeds or faults afresh.
  vmf.pte->ptl.Unlock();
  CountStat(Stat::kFaultRetries);
  return 0;
}

// Models mm/filemap.c:filemap_fault() as of v2.6.29; differences: no
// readahead, the page is read synchronously under its lock.  Where the run's
// kernel has the invalidate_lock (5.15, unless ea3d7209ca01 is reverted),
// models 5.15's: a page that must be added to the cache, or read in, is
// looked up and read with mapping->invalidate_lock held for reading
// (retry_find takes it before pagecache_get_page(FGP_CREAT); a cached page
// found not uptodate without it is dropped and looked up again with it),
// and the lock is dropped before the i_size re-check; a cached, uptodate
// page is locked without it (read in the 5.15 tree).  Differences there: the
// page_not_uptodate path's separate filemap_read_page and its retry are
// folded into the read under the page lock; no readahead, no mmap_lock
// drop (fpin).  v4.5-v5.14 ext4 took its i_mmap_sem around every
// ext4_filemap_fault (ea3d7209ca01's ext4_filemap_fault, read): a wider
// exclusion with the same effect on a punch.
vm_fault_t filemap_fault(MmContext& mm, VmFault& vmf) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  const int64_t start = static_cast<int64_t>(vmf.pgoff * mm.page_size());
  if (start >= mm.mapping().i_size()) return kVmFaultSigbus;
  bool created = false;
  Page* page = nullptr;
  bool invalidate_locked = false;
  if (!mm.has_fix(Fix::kea3d7209ca01)) {
    page = mm.mapping().find_or_create_page(vmf.pgoff, &created);
  } else {
    FutexRwSem& invalidate_lock = mm.mapping().invalidate_lock();
    page = mm.mapping().find_get_page(vmf.pgoff);
    for (;;) {
      if (!page || (!invalidate_locked && !PageUptodate(page))) {
        // retry_find: the page is to be added or read in.
        if (page) put_page(page);
        if (!invalidate_locked) {
          invalidate_lock.ReadLock();
          invalidate_locked = true;
        }
        page = mm.mapping().find_or_create_page(vmf.pgoff, &created);  // locked
        break;
      }
      lock_page(page);
      // Truncated or punched since the lookup: look it up again (with the
      // lock, which a punch holds until its blocks are freed).
      if (page->mapping.load(std::memory_order_acquire) == &mm.mapping() &&
          (invalidate_locked || PageUptodate(page))) {
        break;
      }
      unlock_page(page);
      put_page(page);
      page = nullptr;
    }
  }
  if (!PageUptodate(page)) {
    mm.a_ops().readpage(page);
    SetPageFlag(page, PG_uptodate);
    mm.trace(vmf.pgoff, Event::kReadpage);
    mm.clear_stale_tail(vmf.pgoff);  // read from the store: no stale bytes
  }
  if (invalidate_locked) mm.mapping().invalidate_lock().ReadUnlock();
  // i_size may have shrunk while we slept on the page lock.
  if (start >= mm.mapping().i_size()) {
    unlock_page(page);
    put_page(page);
    return kVmFaultSigbus;
  }
  vmf.page = page;
  return kVmFaultLocked | (created ? kVmFaultMajor : 0);
}

// Models mm/memory.c:do_read_fault() as of v5.15, which takes the steps of
// the read half of v2.6.29's __do_fault(): a not-present read fault installs
// a read-only pte under the page lock (a shared mapping with ->page_mkwrite
// is write-protected so the first store calls it).  Differences: no
// fault-around; the pte is installed only while the page keeps its mapping.
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
