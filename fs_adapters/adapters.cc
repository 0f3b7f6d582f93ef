#include "fs_adapters/adapters.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pagerace {

std::vector<std::pair<std::string, std::string>> AdapterNames() {
  return {{"nfs", "request-based NFS client; mkwrite returns VM_FAULT_LOCKED"},
          {"nfs:unlocked", "the same, mkwrite returning with the page unlocked"},
          {"none", "tmpfs-like control: no page_mkwrite, no per-page metadata"},
          {"buffer", "buffer.c blocks under a journal taken in page_mkwrite (partial model)"}};
}

absl::StatusOr<std::unique_ptr<StoreBackedOps>> MakeAdapter(absl::string_view name) {
  if (name == "nfs") return MakeNfsAdapter(true);
  if (name == "nfs:unlocked") return MakeNfsAdapter(false);
  if (name == "none") return MakeNoneAdapter();
  if (name == "buffer") return MakeBufferAdapter(true);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --fs '", name, "' (want nfs|nfs:unlocked|none|buffer)"));
}

}  // namespace pagerace
