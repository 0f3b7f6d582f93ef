// The adapter registry (its entries are in adapters.cc): what configuration,
// `--list`, the help, the expectation matrix, the docs' tables and the tests
// that iterate filesystems read.  A header of its own, so that adding an
// adapter (a factory in adapters.h, an entry in adapters.cc) recompiles the
// adapter, the registry and the tests that name it, not everything that
// reads a configuration.
#ifndef PAGERACE_FS_ADAPTERS_ADAPTER_REGISTRY_H_
#define PAGERACE_FS_ADAPTERS_ADAPTER_REGISTRY_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fs_adapters/backing_store.h"
#include "harness/base/registry.h"

namespace pagerace {

// The adapter registry: every adapter and variant, by name (`--fs`,
// `--list`, the expectation matrix and the scripts read it).  Adding an
// adapter: its <name>.{h,cc}, a factory above, one entry in adapters.cc; a
// test may Register() one of its own.
struct AdapterEntry {
  std::string name;
  // The kernel version (release or commit) the variant models, as --list
  // shows it; fs_adapters/FIDELITY.md has the per-function detail.
  std::string models;
  std::string description;
  std::function<std::unique_ptr<StoreBackedOps>()> make;
  // The fix (a commit of harness/mm/fixes.def) this variant leaves out, ""
  // when none: `--revert` of that fix on the variant is refused (it is the
  // revert already).
  std::string leaves_out = "";
  // Fixes (commits, ","-separated) of another filesystem's code that this
  // variant's base adapter also models, but this variant never runs (ext4's
  // writepage check for `buffer:block_page_mkwrite`): `--revert` of one is
  // refused (nothing of it here).
  std::string not_in = "";
};
Registry<AdapterEntry>& AdapterRegistry();

// By name; InvalidArgument naming the known adapters otherwise.
absl::StatusOr<std::unique_ptr<StoreBackedOps>> MakeAdapter(absl::string_view name);
// A registered adapter; REQUIRES: it exists (tests, benchmarks).
const AdapterEntry& Adapter(absl::string_view name);

}  // namespace pagerace

#endif  // PAGERACE_FS_ADAPTERS_ADAPTER_REGISTRY_H_
