// Lock schemes (DESIGN §6): how the fault path orders ->page_mkwrite, the pte
// update and set_page_dirty against the page lock.  One file per scheme,
// each reading like the kernel code it models:
//
//   legacy   scheme_legacy.cc   v2.6.29, before "mm: close page_mkwrite races"
//   locked   scheme_locked.cc   v2.6.30, the seed's fix
//   modern   scheme_modern.cc   5.15 wp_page_shared / do_shared_fault;
//                               the filesystems wait for stable pages
//   naive    scheme_naive.cc    the rejected alternative: page lock held
//                               across ->page_mkwrite (ABBA with fs locks)
//
// Mutants (DESIGN §6) are the real schemes with one deliberate bug switched
// on; each declares the invariant its bug must trip, and the expectation
// matrix test checks that it does:
//
//   mutant:unlock_before_set_page_dirty  locked, page unlocked between
//                                        pte_mkwrite and set_page_dirty   I2
//   mutant:skip_set_page_dirty           locked, reuse path never calls
//                                        set_page_dirty                   I1
//   mutant:clear_dirty_before_mkclean    locked, writeback clears PG_dirty
//                                        before page_mkclean (pre-2.6.20) I1
//   mutant:pte_write_before_mkwrite      locked, pte writable before
//                                        ->page_mkwrite (which may fail)  I6
//   mutant:no_mapping_recheck            locked, no !mapping re-check after
//                                        relocking (truncate race)        I5
//   mutant:no_stable_wait                modern, the filesystems' 5.15
//                                        stable-page waits skipped        I7
//
// Read faults are common to all schemes (memory.cc:do_read_fault).
#ifndef PAGERACE_HARNESS_MM_SCHEMES_H_
#define PAGERACE_HARNESS_MM_SCHEMES_H_

#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "harness/base/registry.h"
#include "harness/mm/kernel_era.h"
#include "harness/mm/shadow_mmu.h"  // Pte, for do_wp_page's lock annotation
#include "harness/mm/vm_fault.h"

namespace pagerace {

class MmContext;

class FaultScheme {
 public:
  virtual ~FaultScheme() = default;
  virtual const char* name() const = 0;
  virtual const char* description() const = 0;
  // Write fault on a present, read-only pte.  Entered with the pte's ptl
  // (vmf.pte->ptl) held and vmf.page/vmf.orig_pte set from it (vmf.page not
  // yet referenced); returns with the ptl released.
  virtual vm_fault_t do_wp_page(MmContext& mm, VmFault& vmf)
      ABSL_UNLOCK_FUNCTION(vmf.pte->ptl) = 0;
  // Write fault on a not-present pte: the write half of v2.6.29/30's
  // __do_fault, or v5.x's do_shared_fault.  Entered with no lock held;
  // vmf.pte set.
  virtual vm_fault_t do_fault(MmContext& mm, VmFault& vmf) = 0;

  // The release this scheme models.
  virtual KernelEra era() const = 0;
  // The kernel function of this scheme's not-present write fault, which
  // names its schedule points ("__do_fault:after_mkwrite"): v2.6.29/30's
  // __do_fault, v5.15's do_shared_fault.
  const char* do_fault_name() const {
    return era() >= KernelEra::kV5_15 ? "do_shared_fault" : "__do_fault";
  }
  // The 5.15 era: the filesystems' ->page_mkwrite wait for writeback as
  // their 5.15 versions do (each adapter's stable_writes()), and I7 applies
  // to those that do.  Read through MmContext::stable_page_era().
  bool stable_pages() const { return era() >= KernelEra::kV5_15; }
  // Mutant: the stable-page waits of the filesystems' 5.15 ->page_mkwrite
  // are skipped (MmContext::skip_stable_wait()).
  virtual bool skips_stable_wait() const { return false; }
  // Writeback mutation: clear_page_dirty_for_io clears PG_dirty before
  // page_mkclean, the order before v2.6.20's fix.
  virtual bool clear_dirty_before_mkclean() const { return false; }
  // Mutants: the invariant the bug must trip ("I2"); "" for real schemes.
  virtual const char* trips() const { return ""; }
};

// Deliberate bugs that a scheme can be built with.
enum class Mutation {
  kNone,
  kUnlockBeforeSetPageDirty,
  kSkipSetPageDirty,
  kClearDirtyBeforeMkclean,
  kNoStableWait,
  kPteWriteBeforeMkwrite,
  kNoMappingRecheck,
};

std::unique_ptr<FaultScheme> MakeLegacyScheme();
std::unique_ptr<FaultScheme> MakeLockedScheme(Mutation m = Mutation::kNone);
std::unique_ptr<FaultScheme> MakeModernScheme(Mutation m = Mutation::kNone);
std::unique_ptr<FaultScheme> MakeNaiveScheme();

// The scheme registry: every scheme and mutant, by name (`--scheme`,
// `--list`, the expectation matrix and the benchmarks read it).  Adding a
// scheme: its scheme_<name>.cc, a factory above, one entry in schemes.cc.
struct SchemeEntry {
  std::string name;
  // The kernel version (release or commit) the scheme models, as --list
  // shows it; harness/mm/FIDELITY.md has the per-function detail.
  std::string models;
  std::unique_ptr<FaultScheme> (*make)();
};
Registry<SchemeEntry>& SchemeRegistry();

// By name; InvalidArgument naming the known schemes otherwise.
absl::StatusOr<std::unique_ptr<FaultScheme>> MakeScheme(absl::string_view name);
// A registered scheme; REQUIRES: it exists (tests, benchmarks).
const SchemeEntry& Scheme(absl::string_view name);
// "description [must trip I2]" of a registered scheme (pagerace --list).
std::string DescribeScheme(const SchemeEntry& entry);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_SCHEMES_H_
