#include "fs_adapters/adapters.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pagerace {

Registry<AdapterEntry>& AdapterRegistry() {
  static auto* r = new Registry<AdapterEntry>({
      {"nfs", "v2.6.30-rc5 (7fdf5230)",
       "request-based NFS client; mkwrite returns VM_FAULT_LOCKED",
       [] { return MakeNfsAdapter(true); }},
      {"nfs:unlocked", "v2.6.29", "the same, mkwrite returning with the page unlocked",
       [] { return MakeNfsAdapter(false); }},
      {"ceph", "v2.6.34 (1d3576fd10f0)", "snap-context ceph client with wrbuffer_ref; a snapshot thread; page locked through its write; under legacy a combination that never shipped",
       [] { return MakeCephAdapter(true, true); }},
      {"ceph:unlocked", "hypothetical: v2.6.34 returning unlocked", "the same, mkwrite returning with the page unlocked",
       [] { return MakeCephAdapter(false, true); }},
      {"ceph:no_snap_flush", "mutant of v2.6.34", "adapter mutant: no flush of an older snap context (trips fs)",
       [] { return MakeCephAdapter(true, false); }},
      {"btrfs", "mkwrite locked as from v2.6.32-rc1 (50a9b214bc6c); eras mixed",
       "delalloc: reservation before the page lock, late fixup in writepage",
       [] { return MakeBtrfsAdapter(true, true); }},
      {"btrfs:unlocked", "mkwrite unlocked as in v2.6.30-31", "the same, mkwrite returning with the page unlocked",
       [] { return MakeBtrfsAdapter(false, true); }},
      {"btrfs:leak_reservation", "mutant", "adapter mutant: a second reservation leaks (trips I4)",
       [] { return MakeBtrfsAdapter(true, false); }},
      {"none", "control (no fs metadata)", "tmpfs-like control: no page_mkwrite, no per-page metadata",
       [] { return MakeNoneAdapter(); }},
      {"buffer", "composite: block_page_mkwrite + ext4 journal",
       "buffer.c blocks under a journal taken in page_mkwrite; pagecache_isize_extended",
       [] { return MakeBufferAdapter(true, true); }},
      {"buffer:no_isize_extended", "the same, before pagecache_isize_extended (v3.18)",
       "the same without pagecache_isize_extended (loses data on isize)",
       [] { return MakeBufferAdapter(true, false); }},
  });
  return *r;
}

const AdapterEntry& Adapter(absl::string_view name) { return AdapterRegistry().Get(name); }

absl::StatusOr<std::unique_ptr<StoreBackedOps>> MakeAdapter(absl::string_view name) {
  if (const AdapterEntry* e = AdapterRegistry().Find(name)) return e->make();
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --fs '", name, "' (want ", AdapterRegistry().Joined(), ")"));
}

}  // namespace pagerace
