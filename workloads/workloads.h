// The workload registry (`--workload`, `--list`, the expectation matrix and
// the soak suite read it).  Every workload is the mixed workload
// (workloads/mixed.h) with its own knobs, roles and adapter set-up.  Adding
// a workload: one entry in workloads.cc (and, if it needs a new role, the
// role in mixed.cc).
#ifndef PAGERACE_WORKLOADS_WORKLOADS_H_
#define PAGERACE_WORKLOADS_WORKLOADS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "harness/base/registry.h"
#include "harness/mm/address_space_ops.h"
#include "workloads/mixed.h"

namespace pagerace {

struct WorkloadEntry {
  std::string name;
  std::string description;
  // The workload's knobs over the mixed workload's defaults.
  void (*shape)(MixedOptions* options) = nullptr;
  // Arms the adapter before the run (failure injection, a full disk).
  void (*arm)(AddressSpaceOps* a_ops) = nullptr;
  // At least this many user mappings (the configuration raises --mappings).
  int min_mappings = 1;
  // Needs an adapter with ->page_mkwrite (configuration refuses others).
  bool needs_page_mkwrite = false;
  // Punches holes (harness/mm/punch.h): refused on an adapter whose punch
  // the model does not have (AddressSpaceOps::punch_hole_refusal).
  bool punches = false;
};
Registry<WorkloadEntry>& WorkloadRegistry();
// A registered workload; REQUIRES: it exists (tests, benchmarks).
const WorkloadEntry& Workload(absl::string_view name);

}  // namespace pagerace

#endif  // PAGERACE_WORKLOADS_WORKLOADS_H_
