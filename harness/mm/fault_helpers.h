// Steps of the write-fault path that every lock scheme takes the same way,
// each named for the kernel function that performs it.  The v5.x kernel
// gathered these steps into helpers (do_page_mkwrite, finish_mkwrite_fault,
// wp_page_reuse, finish_fault); v2.6.29/30 wrote the same steps inline in
// do_wp_page() and __do_fault().  Where an era did a step differently the
// helper takes it as a parameter, or the scheme keeps that part itself:
//
//   step                            v2.6.29        v2.6.30          v5.15
//   ->page_mkwrite, relock,         __do_fault     do_wp_page and   do_page_mkwrite
//     !mapping re-check             only (always   __do_fault,      (unless
//                                   relocks)       unless LOCKED    LOCKED)
//   retake ptl, pte_same            do_wp_page     do_wp_page       finish_mkwrite_fault
//   pte writable, ptl released      do_wp_page     do_wp_page       wp_page_reuse
//                                   `reuse:`       `reuse:`
//   ptl, pte still none, install    __do_fault     __do_fault       finish_fault
//
// Each helper fires the schedule points of the kernel path that called it
// (the caller passes them), so an ordered replay names that path.
//
// Thread-safety: as the fault path; each helper states its lock state on
// entry and exit.  None allocates or makes a syscall beyond the set_pte it
// models.
#ifndef PAGERACE_HARNESS_MM_FAULT_HELPERS_H_
#define PAGERACE_HARNESS_MM_FAULT_HELPERS_H_

#include "absl/base/thread_annotations.h"
#include "harness/mm/shadow_mmu.h"
#include "harness/mm/vm_fault.h"
#include "harness/sched/sched.h"

namespace pagerace {

class MmContext;

// The schedule points around ->page_mkwrite's return and the page relock,
// named for the path that calls it.
struct MkwritePoints {
  sched::Point after_mkwrite;
  sched::Point before_relock_page;
  sched::Point after_relock_page;
};
inline constexpr MkwritePoints kDoWpPageMkwritePoints = {
    sched::kDoWpPageAfterMkwrite, sched::kDoWpPageBeforeRelockPage,
    sched::kDoWpPageAfterRelockPage};
inline constexpr MkwritePoints kDoFaultMkwritePoints = {
    sched::kDoFaultAfterMkwrite, sched::kDoFaultBeforeRelockPage,
    sched::kDoFaultAfterRelockPage};
inline constexpr MkwritePoints kDoSharedFaultMkwritePoints = {
    sched::kDoSharedFaultAfterMkwrite, sched::kDoSharedFaultBeforeRelockPage,
    sched::kDoSharedFaultAfterRelockPage};

// Whether the relock re-checks page->mapping (kSkip only in the
// mutant:no_mapping_recheck).
enum class MappingRecheck { kCheck, kSkip };

// The page relock after an ->page_mkwrite that returned the page unlocked,
// and the truncate re-check: while the page was unlocked truncate may have
// detached it (mapping == NULL), and a pte must not be installed for it.
// Entered with vmf.page unlocked and referenced, no ptl held.  Returns true
// with the page locked; false with it unlocked (truncated: the retry is
// traced and counted; the caller drops its reference and retries the fault).
bool relock_page_after_mkwrite(MmContext& mm, VmFault& vmf, const MkwritePoints& points,
                               MappingRecheck recheck);

// do_page_mkwrite(): ->page_mkwrite for vmf.page under the v2.6.30+
// convention (may return kVmFaultLocked, else the VM relocks).  Entered with
// vmf.page unlocked and referenced, no ptl held.  Returns
//  - the error or kVmFaultNoPage bits of ->page_mkwrite, page unlocked;
//  - 0 when truncate took the page meanwhile, page unlocked (retry);
//  - otherwise ->page_mkwrite's result | kVmFaultLocked, page locked.
// v2.6.29's convention (the page always comes back unlocked) is `legacy`'s
// own.
vm_fault_t do_page_mkwrite(MmContext& mm, VmFault& vmf, const MkwritePoints& points,
                           MappingRecheck recheck = MappingRecheck::kCheck);

// wp_page_reuse(): makes the faulting pte writable for vmf.page and enters
// I1's window (the caller's set_page_dirty leaves it).  Entered with
// vmf.pte->ptl held; returns with it released.  `check_stable`: check I7 (a
// stable-page scheme that waited for writeback in its mkwrite path).
void wp_page_reuse(MmContext& mm, VmFault& vmf, bool check_stable)
    ABSL_UNLOCK_FUNCTION(vmf.pte->ptl);

// finish_mkwrite_fault(): retakes the ptl dropped for ->page_mkwrite and
// re-checks pte_same; if the pte is unchanged, wp_page_reuse.  Entered and
// left with vmf.pte->ptl not held; the page lock, if any, is the caller's.
// Returns true when the pte was made writable; false when it changed
// meanwhile (zapped, or made writable by another fault), and the caller
// must undo its page lock and reference and retry.
bool finish_mkwrite_fault(MmContext& mm, VmFault& vmf, bool check_stable);

// finish_fault() for a write fault on a not-present pte: under the ptl, if
// the pte is still none, installs vmf.page writable and enters I1's window.
// Entered and left with vmf.pte->ptl not held; vmf.page locked by the
// caller.  Returns whether it installed the pte (false: another fault got
// there first; the caller counts the retry).
bool finish_fault(MmContext& mm, VmFault& vmf, bool check_stable);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_FAULT_HELPERS_H_
