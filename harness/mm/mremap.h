// mremap(2) of one page of a shared file mapping: move_ptes moving the
// page's pte from one user mapping (the old address) to another (the new
// one), with its TLB flush.  Modeled on mm/mremap.c:move_ptes() as of
// v2.6.29 (v2.6.30 the same; both read in the v2.6.34 mirror), v4.8 (the
// code 5d1904204c99 changed, read in the fix's posting) and 5.15 (read in
// the mirror), one pte:
//
//   1. sys_mremap takes the mmap_sem for writing: no fault, get_user_pages
//      or madvise of the process runs beside it (a CPU's store through a
//      TLB entry needs no lock and still does);
//   2. MREMAP_FIXED onto the new address: do_munmap of whatever the new
//      mapping holds there (a zap with its flush);
//   3. under the old pte's ptl and the new one's: the old pte cleared
//      (v2.6.29/30: ptep_clear_flush, the TLB entry flushed at once;
//      v4.8 and 5.15: ptep_get_and_clear, the entry still in a CPU's TLB)
//      and the same page set at the new address with the same protection
//      (move_pte; the rmap moves with it: the page stays mapped);
//   4. the old address's TLB flush: 5.15 before dropping the ptls, for any
//      present pte (5d1904204c99, v4.9, for a dirty one; eb66ae030829, v4.20,
//      for every present one and before the new ptl too); with 5d1904204c99
//      reverted, after both ptls are dropped (move_page_tables' closing
//      flush_tlb_range).
//
// The window between the ptl drop and the flush (FaultPath::kMovePtes,
// FaultWindow::kMovedPteBeforeTlbFlush) is a root-cause window: page_mkclean
// takes the new pte's ptl, write-protects it and writeback writes the page,
// while a store through the old address's stale entry lands after the copy
// and leaves no dirty pte behind.  Schedule point move_ptes:before_tlb_flush
// sits just before the flush.
//
// The old mapping stays a mapping of the file in the model: a later access
// there faults the page in again (in the kernel the old range is unmapped, or
// with MREMAP_DONTUNMAP left empty; the race needs only the store through
// the TLB entry, which both have).  The new mapping must come after the old
// one in rmap order (to > from): the model's rmap walks visit mappings in
// order, one ptl at a time, as 5.15's i_mmap tree does when move_ptes takes
// no rmap lock (need_rmap_locks false: the new vma after the old one); for
// the other order 5.15 takes i_mmap_rwsem and v2.6.29 its i_mmap_lock, which
// the model does not have.
//
// Thread-safety: takes the mmap_sem for writing, then the ptls; the caller
// holds no lock.
#ifndef PAGERACE_HARNESS_MM_MREMAP_H_
#define PAGERACE_HARNESS_MM_MREMAP_H_

#include <cstdint>

namespace pagerace {

class MmContext;

// Moves page `index`'s pte from user mapping `from` to user mapping `to`
// (REQUIRES: from < to).  Returns whether a pte was moved (none: nothing to
// move, as move_ptes skips a none pte).
bool move_page_pte(MmContext& mm, int from, int to, uint64_t index);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_MREMAP_H_
