// Lock schemes (DESIGN §6): how the fault path orders ->page_mkwrite, the pte
// update and set_page_dirty against the page lock.  One file per scheme,
// each reading like the kernel code it models:
//
//   legacy   scheme_legacy.cc   v2.6.29, before "mm: close page_mkwrite races"
//   locked   scheme_locked.cc   v2.6.30, the seed's fix
//
// Read faults are common to all schemes (memory.cc:do_read_fault).
#ifndef PAGERACE_HARNESS_MM_SCHEMES_H_
#define PAGERACE_HARNESS_MM_SCHEMES_H_

#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "harness/mm/vm_fault.h"

namespace pagerace {

class MmContext;

class FaultScheme {
 public:
  virtual ~FaultScheme() = default;
  virtual const char* name() const = 0;
  virtual const char* description() const = 0;
  // Write fault on a present, read-only pte.  Entered with the pte's ptl held
  // and vmf.page/vmf.orig_pte set from it (vmf.page not yet referenced);
  // returns with the ptl released.
  virtual vm_fault_t do_wp_page(MmContext& mm, VmFault& vmf) = 0;
  // Write fault on a not-present pte (the write half of __do_fault).  Entered
  // with no lock held.
  virtual vm_fault_t do_fault(MmContext& mm, VmFault& vmf) = 0;
};

std::unique_ptr<FaultScheme> MakeLegacyScheme();
std::unique_ptr<FaultScheme> MakeLockedScheme();

// By name; InvalidArgument naming the known schemes otherwise.
absl::StatusOr<std::unique_ptr<FaultScheme>> MakeScheme(absl::string_view name);
std::vector<std::string> SchemeNames();

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_SCHEMES_H_
