#include "fs_adapters/adapters.h"

#include "fs_adapters/buffer.h"
#include "fs_adapters/xfs.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pagerace {

Registry<AdapterEntry>& AdapterRegistry() {
  static auto* r = new Registry<AdapterEntry>({
      {"nfs", "v2.6.30-rc5 (7fdf5230)",
       "request-based NFS client; mkwrite returns VM_FAULT_LOCKED",
       [] { return MakeNfsAdapter(true); }},
      {"nfs:unlocked", "v2.6.29", "the same, mkwrite returning with the page unlocked",
       [] { return MakeNfsAdapter(false); }, "7fdf52306766"},
      {"ceph", "v2.6.34 (1d3576fd10f0)", "snap-context ceph client with wrbuffer_ref; a snapshot thread; page locked through its write; under legacy a combination that never shipped",
       [] { return MakeCephAdapter(true, true); }},
      {"ceph:unlocked", "hypothetical: v2.6.34 returning unlocked", "the same, mkwrite returning with the page unlocked",
       [] { return MakeCephAdapter(false, true); }},
      {"ceph:no_snap_flush", "mutant of v2.6.34", "adapter mutant: no flush of an older snap context (trips fs)",
       [] { return MakeCephAdapter(true, false); }},
      {"btrfs", "v2.6.32-34 (mkwrite locked from 50a9b214bc6c), async fixup; 5.15 fixup under modern",
       "delalloc: reservation before the page lock, writepage's fixup of a page without it",
       [] { return MakeBtrfsAdapter(true, true); }},
      {"btrfs:unlocked", "v2.6.30-31 (mkwrite returns unlocked)", "the same, mkwrite returning with the page unlocked",
       [] { return MakeBtrfsAdapter(false, true); }, "50a9b214bc6c"},
      {"btrfs:leak_reservation", "mutant", "adapter mutant: a second reservation leaks (trips I4)",
       [] { return MakeBtrfsAdapter(true, false); }},
      {"none", "control (no fs metadata)", "tmpfs-like control: no page_mkwrite, no per-page metadata",
       [] { return MakeNoneAdapter(); }},
      {"buffer", "v5.15 ext4_page_mkwrite (nodelalloc slow path), no stable writes; an era mix under legacy/locked (v2.6.30 ext4 is buffer:ext4_v2.6.30)",
       "buffer.c blocks: journal, then block_page_mkwrite, returning locked; "
       "pagecache_isize_extended",
       [] { return MakeBufferAdapter({.name = "buffer"}); }},
      {"buffer:stable_writes", "v5.15 ext4_page_mkwrite on an SB_I_STABLE_WRITES device",
       "the same on a device that requires stable writes (wait_for_stable_page waits)",
       [] { return MakeBufferAdapter({.name = "buffer:stable_writes", .stable_writes = true}); }},
      {"buffer:block_page_mkwrite", "v2.6.30 / v5.15 block_page_mkwrite (xfs, nilfs2 callers)",
       "block_page_mkwrite alone: no journal, returns locked",
       [] {
         return MakeBufferAdapter(
             {.name = "buffer:block_page_mkwrite", .mkwrite = BufferMkwrite::kBlockPageMkwrite});
       }, "", "c364b22c9580,a056bdaae7a1"},
      {"buffer:ext4_v2.6.30", "v2.6.30 ext4_page_mkwrite (nodelalloc)",
       "early return when all buffers are mapped, else write_begin/write_end; returns unlocked",
       [] {
         return MakeBufferAdapter(
             {.name = "buffer:ext4_v2.6.30", .mkwrite = BufferMkwrite::kExt4V2630});
       }, "", "a056bdaae7a1"},
      {"buffer:ext2", "v2.6.29/30 ext2 (no ->page_mkwrite); under modern a combination that never shipped (5.15 has filemap_page_mkwrite)",
       "buffer.c without ->page_mkwrite: pages read without buffers, blocks at writepage",
       [] { return MakeBufferAdapter({.name = "buffer:ext2", .mkwrite = BufferMkwrite::kNone}); },
       "", "c364b22c9580,a056bdaae7a1"},
      {"buffer:ext3", "v2.6.29/30 ext3 data=ordered, 4 KiB blocks (no ->page_mkwrite)",
       "buffer:ext2 with a journal: write(2)'s buffers filed with the transaction, which the "
       "commit (`commit P`) writes by hand",
       [] {
         return MakeBufferAdapter({.name = "buffer:ext3", .mkwrite = BufferMkwrite::kNone,
                                   .blocksize = 4096, .journal_data = true});
       },
       "", "c364b22c9580,a056bdaae7a1"},
      {"buffer:4k", "v5.15 ext4_page_mkwrite (as `buffer`) with 4 KiB blocks: a block a page",
       "the same with the block size the page size (no holes inside a page)",
       [] { return MakeBufferAdapter({.name = "buffer:4k", .blocksize = 4096}); }},
      {"buffer:no_isize_extended", "`buffer` before pagecache_isize_extended (v3.18)",
       "the same without pagecache_isize_extended (loses data on isize)",
       [] {
         return MakeBufferAdapter({.name = "buffer:no_isize_extended", .isize_extended = false});
       }, "90a8020278c1"},
      {"xfs", "v5.15 (iomap), 4 KiB blocks; an era mix under legacy/locked", "iomap_page_mkwrite under the MMAPLOCK: delalloc for the blocks inside i_size, returns locked; ->writepages only (no ->writepage), a hole is skipped", [] { return MakeXfsAdapter({}); }, "", "56a76f8275c3"},
      {"xfs:1k", "v5.15 (iomap) with 1 KiB blocks; an era mix under legacy/locked", "the same with 1 KiB blocks: pagecache_isize_extended write-protects the old EOF page on growth", [] { return MakeXfsAdapter({.name = "xfs:1k", .blocksize = 1024}); }, "", "56a76f8275c3"},
      {"xfs:v2.6.30", "v2.6.30 xfs_vm_page_mkwrite, 1 KiB blocks; under modern a combination that never shipped", "block_page_mkwrite with delalloc, returns locked; writepage allocates blocks for unmapped buffers and drops the page on ENOSPC", [] { return MakeXfsAdapter({.name = "xfs:v2.6.30", .v2630 = true, .blocksize = 1024}); }, "", "90a8020278c1"},
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
