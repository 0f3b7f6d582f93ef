#include "harness/mm/zap.h"

#include "harness/check/root_cause.h"
#include "harness/mm/fixes.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/page.h"
#include "harness/mm/shadow_mmu.h"
#include "harness/sched/sched.h"

namespace pagerace {

// Models mm/memory.c:zap_pte_range() as of v2.6.29 (v2.6.30 the same) and
// 5.15, both read in the mirrors, for one present pte of a shared file
// mapping, with the mmu_gather's TLB flush (tlb_finish_mmu; 5.15's
// tlb_flush_mmu_tlbonly under the ptl).  v3.15's order is taken from
// 1cf35d47712d's message (that tree not read: a guess that it is 5.15's).
// Differences: one pte per call (the kernel zaps a range under one ptl and
// flushes once); no young bit (mark_page_accessed); the pte's dirty bit is
// its writability.
bool zap_page_range(MmContext& mm, int vma, uint64_t index) {
  ShadowMmu& mmu = mm.mmu();
  Pte& p = mmu.pte(vma, index);
  // 1cf35d47712d: a dirty pte forces the TLB flush before the ptl is
  // dropped.  Reverted (or before v3.15), the flush waits for the end.
  const bool flush_under_ptl = mm.has_fix(Fix::k1cf35d47712d);
  Page* page = nullptr;
  bool dirty = false;
  FaultWindow window = FaultWindow::kNone;
  {
    FutexLock l(&p.ptl);
    const pte_t old = p.val.load(std::memory_order_relaxed);
    if (pte_state(old) == kPteNone) return false;
    page = p.page;
    get_page(page);  // the mmu_gather's (tlb_remove_page), until the flush
    mmu.ptep_get_and_clear(vma, index);
    dirty = pte_state(old) == kPteWritable;
    if (dirty) {
      if (!flush_under_ptl) {
        window = FaultWindow::kPtlDroppedBeforeTlbFlush;
        mm.open_window(index, FaultPath::kZap, window);
      }
      mm.set_page_dirty(page);
    }
    mmu.page_remove_rmap(vma, index);
    if (flush_under_ptl) {
      if (dirty) {
        // The window is open only while no other pte maps the page: a
        // page_mkclean that finds the page mapped walks to this pte and
        // waits on the ptl for the flush (the fix working).
        if (!page_mapped(page)) {
          window = FaultWindow::kRmapRemovedBeforeTlbFlush;
          mm.open_window(index, FaultPath::kZap, window);
        }
        SCHED_POINT(kZapBeforeTlbFlush);
      }
      mmu.flush_tlb_page(vma, index);
    }
  }
  if (!flush_under_ptl) {
    if (dirty) SCHED_POINT(kZapBeforeTlbFlush);
    // The harness's ptl, not the kernel's: the real protection and the pte
    // must agree under it (shadow_mmu.h).
    FutexLock l(&p.ptl);
    mmu.flush_tlb_page(vma, index);
  }
  if (window != FaultWindow::kNone) mm.close_window(index);
  put_page(page);
  return dirty;
}

bool madvise_dontneed(MmContext& mm, int vma, uint64_t index) {
  ReadLockScope mmap_read(&mm.mmap_sem());
  return zap_page_range(mm, vma, index);
}

}  // namespace pagerace
