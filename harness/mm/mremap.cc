#include "harness/mm/mremap.h"

#include <cstdlib>

#include "harness/check/root_cause.h"
#include "harness/mm/fixes.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/page.h"
#include "harness/mm/shadow_mmu.h"
#include "harness/mm/zap.h"
#include "harness/sched/sched.h"

namespace pagerace {

// Models sys_mremap -> move_vma -> move_page_tables -> move_ptes() for one
// present pte of a shared file mapping (mremap.h has the versions read).
// Differences: one pte per call; no vma split or merge, no accounting; the
// pte's dirty bit is its writability; MREMAP_FIXED's do_munmap of the target
// is the one-page zap (zap.h) under the same mmap_sem hold.
bool move_page_pte(MmContext& mm, int from, int to, uint64_t index) {
  if (from >= to) abort();  // a harness bug: callers validate (mremap.h)
  WriteLockScope mmap_write(&mm.mmap_sem());
  // MREMAP_FIXED: the target range is unmapped first.
  zap_page_range(mm, to, index);
  ShadowMmu& mmu = mm.mmu();
  // v2.6.29/30 predate the bug (ptep_clear_flush per pte); from v4.9 the
  // flush comes before the ptls are dropped, unless the fix is reverted.
  const bool flush_under_ptl =
      mm.era() < KernelEra::kV5_15 || mm.has_fix(Fix::k5d1904204c99);
  Pte& old_pte = mmu.pte(from, index);
  Pte& new_pte = mmu.pte(to, index);
  Page* page = nullptr;
  bool window = false;
  {
    // Both ptls, in vma order (the order the lock-order check allows for
    // ptls of one page; the kernel's exclusive mmap_sem makes any order safe).
    FutexLock l_old(&old_pte.ptl);
    FutexLock l_new(&new_pte.ptl);
    const pte_t old = old_pte.val.load(std::memory_order_relaxed);
    if (pte_state(old) == kPteNone) return false;
    page = old_pte.page;
    get_page(page);  // held across the move (the kernel's is the pte's own)
    mmu.ptep_get_and_clear(from, index);
    // move_pte + set_pte_at: the same page and protection at the new address.
    mm.set_pte(to, index, pte_state(old), page);
    mmu.page_remove_rmap(from, index);
    mm.trace(index, Event::kMovePte);
    if (flush_under_ptl) {
      mmu.flush_tlb_page(from, index);
    } else if (pte_state(old) == kPteWritable) {
      window = true;
      mm.open_window(index, FaultPath::kMovePtes, FaultWindow::kMovedPteBeforeTlbFlush);
    }
  }
  if (!flush_under_ptl) {
    if (window) SCHED_POINT(kMovePtesBeforeTlbFlush);
    // The harness's ptl, not the kernel's (shadow_mmu.h): the real
    // protection and the pte agree under it.
    FutexLock l(&old_pte.ptl);
    mmu.flush_tlb_page(from, index);
  }
  if (window) mm.close_window(index);
  put_page(page);
  return true;
}

}  // namespace pagerace
