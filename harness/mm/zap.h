// Zapping a user pte: madvise(MADV_DONTNEED) or munmap of one page of a
// shared file mapping, with its TLB flush (issue 20).  Modeled on
// mm/memory.c:zap_pte_range and the mmu_gather of v2.6.29 (v2.6.30 the
// same) and 5.15, one pte:
//
//   1. under the pte's ptl, ptep_get_and_clear: the pte is gone, but a CPU
//      that has it in its TLB can still store through it until the flush;
//   2. a dirty pte (writable, in the model) hands its dirtiness to the page:
//      set_page_dirty, no page lock;
//   3. page_remove_rmap: the page stops counting as mapped there, so
//      page_mkclean (page_mapped()) may skip it from now on; the gather
//      keeps a reference (tlb_remove_page);
//   4. the TLB flush: v2.6.29/30 flush at tlb_finish_mmu, after the ptl is
//      dropped; from 1cf35d47712d (v3.15; 5.15 read) a dirty pte forces the
//      flush before pte_unmap_unlock (tlb_flush_mmu_tlbonly), so a
//      page_mkclean that found the page mapped waits on the ptl until no
//      stale entry is left.  The page_remove_rmap before the flush stayed
//      until 5df397dec7c4 (after 5.15), so 5.15 still lets a page_mkclean
//      that finds the page unmapped clean it before the flush;
//   5. the gather's reference is dropped (tlb_flush_mmu's freeing half).
//
// The stale TLB entry is the real page protection lagging the shadow pte
// (ShadowMmu::ptep_get_and_clear .. flush_tlb_page): a store between lands
// without a fault.  The window between 1 and 4 is a root-cause window
// (FaultPath::kZap), and schedule point zap_pte_range:before_tlb_flush sits
// just before the flush.
//
// Thread-safety: takes the ptl of the pte; the caller holds no lock.
#ifndef PAGERACE_HARNESS_MM_ZAP_H_
#define PAGERACE_HARNESS_MM_ZAP_H_

#include <cstdint>

namespace pagerace {

class MmContext;

// Zaps page `index`'s pte in user mapping `vma` (nothing if none).  Returns
// whether the pte was dirty.
bool zap_page_range(MmContext& mm, int vma, uint64_t index);

// madvise(MADV_DONTNEED) of page `index` in mapping `vma`: zap_page_range
// under the mmap_sem taken for reading (mm/madvise.c as of v2.6.29 and
// 5.15: madvise_need_mmap_write() is false for it).  The zap of
// unmap_mapping_range (truncate, invalidate) takes no mmap_sem.
bool madvise_dontneed(MmContext& mm, int vma, uint64_t index);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_ZAP_H_
