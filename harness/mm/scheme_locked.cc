// Models mm/memory.c:do_wp_page() and __do_fault() as of v2.6.30, with
// "mm: close page_mkwrite races" (the seed).  Differences: shared file
// mappings only; balance_dirty_pages_ratelimited and file_update_time are not
// modeled (they only have to stay outside the page lock, which they do by
// being absent).
//
// ->page_mkwrite may return kVmFaultLocked; if it returns unlocked the VM
// takes the page lock itself and retries the fault when the page lost its
// mapping (truncate).  The page lock is then held across mkwrite-return ->
// pte writable -> set_page_dirty, so writeback runs entirely before (mkwrite
// re-attaches metadata to a clean page) or entirely after (it sees PG_dirty
// with metadata and write-protects the pte).
//
// `--revert=b827e496c893` switches both paths back to the source before the
// seed, which is v2.6.29's (LegacyScheme): between v2.6.29 and the seed
// mm/memory.c changed only the ->page_mkwrite prototype (c2ec175c39f, vmf in
// place of the page), which the model already passes.  The seed also
// changed fs/buffer.c:block_page_mkwrite to return VM_FAULT_LOCKED; the
// pre-seed VM unlocks whatever the fs returns at once, as the pre-seed
// block_page_mkwrite did before returning.
#include "harness/mm/fault_helpers.h"
#include "harness/mm/mm_context.h"
#include "harness/base/stats.h"
#include "harness/check/root_cause.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

class LockedScheme : public FaultScheme {
 public:
  explicit LockedScheme(Mutation m) : mutation_(m), pre_seed_(MakeLegacyScheme()) {}
  const char* name() const override { return "locked"; }
  KernelEra era() const override { return KernelEra::kV2_6_30; }
  const char* description() const override {
    switch (mutation_) {
      case Mutation::kUnlockBeforeSetPageDirty:
        return "locked, but the page is unlocked between pte_mkwrite and set_page_dirty";
      case Mutation::kSkipSetPageDirty:
        return "locked, but the reuse path makes the pte writable without set_page_dirty";
      case Mutation::kClearDirtyBeforeMkclean:
        return "locked, with writeback clearing PG_dirty before page_mkclean (pre-2.6.20)";
      case Mutation::kPteWriteBeforeMkwrite:
        return "locked, but the pte is made writable before ->page_mkwrite is called";
      case Mutation::kNoMappingRecheck:
        return "locked, but no !page->mapping re-check after relocking (truncate)";
      default:
        return "v2.6.30 (the seed): page lock held from mkwrite return through set_page_dirty";
    }
  }
  bool clear_dirty_before_mkclean() const override {
    return mutation_ == Mutation::kClearDirtyBeforeMkclean;
  }
  const char* trips() const override {
    switch (mutation_) {
      case Mutation::kUnlockBeforeSetPageDirty: return "I2";
      case Mutation::kPteWriteBeforeMkwrite: return "I6";
      case Mutation::kNoMappingRecheck: return "I5";
      case Mutation::kSkipSetPageDirty:
      case Mutation::kClearDirtyBeforeMkclean: return "I1";
      default: return "";
    }
  }

  // Models mm/memory.c:do_wp_page() as of v2.6.30 for a shared page.
  // Entered with vmf.pte->ptl held; returns with it released.
  vm_fault_t do_wp_page(MmContext& mm, VmFault& vmf) override
      ABSL_UNLOCK_FUNCTION(vmf.pte->ptl) {
    if (mm.reverted(Fix::kb827e496c893)) return pre_seed_->do_wp_page(mm, vmf);
    Page* old_page = vmf.page;
    get_page(old_page);
    bool locked = false;
    if (mm.a_ops().has_page_mkwrite()) {
      if (mutation_ == Mutation::kPteWriteBeforeMkwrite) {
        // MUTANT: "the VM cannot mark the pte dirty before page_mkwrite,
        // because page_mkwrite is allowed to fail" (the seed's changelog).
        mm.transition(vmf.pgoff, FaultPath::kDoWpPage,
                               FaultWindow::kPteWritableBeforeMkwrite);
        mm.set_pte(vmf.vma, vmf.pgoff, kPteWritable, old_page);
        vmf.orig_pte = vmf.pte->val.load(std::memory_order_relaxed);
      }
      vmf.pte->ptl.Unlock();
      SCHED_POINT(kDoWpPageAfterUnlockPtl);
      // The seed's steps, which v5.x gathered into do_page_mkwrite.
      vm_fault_t tmp = do_page_mkwrite(mm, vmf, kDoWpPageMkwritePoints, mapping_recheck());
      if (!tmp || (tmp & (kVmFaultError | kVmFaultNoPage))) {
        put_page(old_page);
        return tmp;
      }
      locked = true;  // from here on the page is locked, one way or the other
      SCHED_POINT(kDoWpPageBeforePtlRelock);
      if (!finish_mkwrite_fault(mm, vmf, /*check_stable=*/false)) {
        unlock_page(old_page);
        put_page(old_page);
        CountStat(Stat::kFaultRetries);
        mm.trace(vmf.pgoff, Event::kPteNotSameRetry);
        return 0;
      }
    } else {
      wp_page_reuse(mm, vmf, /*check_stable=*/false);
    }
    // The pte is writable and the ptl dropped; the page is dirtied under the
    // page lock (when there is an mkwrite).
    SCHED_POINT(kDoWpPageAfterPteMkwrite);
    if (!locked) {
      // No ->page_mkwrite: the 2.6.29 path, which the seed keeps.
      wait_on_page_locked(old_page);
    }
    if (locked && mutation_ == Mutation::kUnlockBeforeSetPageDirty) {
      unlock_page(old_page);  // MUTANT: reopens legacy's window
      mm.open_window(vmf.pgoff, FaultPath::kDoWpPage, FaultWindow::kUnlockToSetPageDirty);
      locked = false;
    }
    SCHED_POINT(kDoWpPageBeforeSetPageDirty);
    if (mutation_ != Mutation::kSkipSetPageDirty) {
      mm.dirty_faulted_page(old_page);
    } else {
      mm.transition(vmf.pgoff, FaultPath::kDoWpPage,
                             FaultWindow::kWritableWithoutSetPageDirty);
      mm.fault_window_exit(old_page);  // MUTANT: never dirtied
    }
    if (locked) unlock_page(old_page);
    put_page(old_page);
    return kVmFaultWrite;
  }

  // Models the write half of mm/memory.c:__do_fault() as of v2.6.30 for a
  // shared mapping.  Entered with no lock held.
  vm_fault_t do_fault(MmContext& mm, VmFault& vmf) override {
    if (mm.reverted(Fix::kb827e496c893)) return pre_seed_->do_fault(mm, vmf);
    vm_fault_t ret = filemap_fault(mm, vmf);
    if (ret & (kVmFaultError | kVmFaultNoPage)) return ret;
    Page* page = vmf.page;  // locked, referenced
    SCHED_POINT(kDoFaultAfterFault);
    if (mm.a_ops().has_page_mkwrite()) {
      unlock_page(page);
      SCHED_POINT(kDoFaultAfterUnlockPage);
      vm_fault_t tmp = do_page_mkwrite(mm, vmf, kDoFaultMkwritePoints, mapping_recheck());
      if (!tmp || (tmp & (kVmFaultError | kVmFaultNoPage))) {
        put_page(page);
        return tmp;
      }
    }
    SCHED_POINT(kDoFaultBeforePtlLock);
    const bool installed = finish_fault(mm, vmf, /*check_stable=*/false);
    SCHED_POINT(kDoFaultBeforeSetPageDirty);
    if (installed) {
      // Still under the page lock: writeback cannot slip in.
      mm.dirty_faulted_page(page);
    } else {
      CountStat(Stat::kFaultRetries);
    }
    unlock_page(page);
    put_page(page);
    return ret & ~kVmFaultLocked;
  }

 private:
  MappingRecheck mapping_recheck() const {
    return mutation_ == Mutation::kNoMappingRecheck ? MappingRecheck::kSkip
                                                    : MappingRecheck::kCheck;
  }

  const Mutation mutation_;
  // v2.6.29's fault path: the seed's switch, reverted.
  const std::unique_ptr<FaultScheme> pre_seed_;
};

}  // namespace

std::unique_ptr<FaultScheme> MakeLockedScheme(Mutation m) {
  return std::make_unique<LockedScheme>(m);
}

}  // namespace pagerace
