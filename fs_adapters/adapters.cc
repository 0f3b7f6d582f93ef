#include "fs_adapters/adapters.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pagerace {

std::vector<std::pair<std::string, std::string>> AdapterNames() {
  return {{"nfs", "request-based NFS client; mkwrite returns VM_FAULT_LOCKED"},
          {"nfs:unlocked", "the same, mkwrite returning with the page unlocked"},
          {"ceph", "snap-context ceph client with wrbuffer_ref; a snapshot thread"},
          {"ceph:unlocked", "the same, mkwrite returning with the page unlocked"},
          {"ceph:no_snap_flush", "adapter mutant: no flush of an older snap context (trips fs)"},
          {"btrfs", "delalloc: reservation before the page lock, late fixup in writepage"},
          {"btrfs:unlocked", "the same, mkwrite returning with the page unlocked"},
          {"btrfs:leak_reservation", "adapter mutant: a second reservation leaks (trips I4)"},
          {"none", "tmpfs-like control: no page_mkwrite, no per-page metadata"},
          {"buffer", "buffer.c blocks under a journal taken in page_mkwrite; pagecache_isize_extended"},
          {"buffer:no_isize_extended", "the same without pagecache_isize_extended (loses data on isize)"}};
}

absl::StatusOr<std::unique_ptr<StoreBackedOps>> MakeAdapter(absl::string_view name) {
  if (name == "nfs") return MakeNfsAdapter(true);
  if (name == "nfs:unlocked") return MakeNfsAdapter(false);
  if (name == "none") return MakeNoneAdapter();
  if (name == "btrfs") return MakeBtrfsAdapter(true, true);
  if (name == "btrfs:unlocked") return MakeBtrfsAdapter(false, true);
  if (name == "btrfs:leak_reservation") return MakeBtrfsAdapter(true, false);
  if (name == "ceph") return MakeCephAdapter(true, true);
  if (name == "ceph:unlocked") return MakeCephAdapter(false, true);
  if (name == "ceph:no_snap_flush") return MakeCephAdapter(true, false);
  if (name == "buffer") return MakeBufferAdapter(true, true);
  if (name == "buffer:no_isize_extended") return MakeBufferAdapter(true, false);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --fs '", name, "' (see pagerace --list)"));
}

}  // namespace pagerace
