// Filesystem adapters (DESIGN §7), by name.
//
//   nfs            request-based (fs/nfs/write.c); ->page_mkwrite returns
//                  VM_FAULT_LOCKED
//   nfs:unlocked   the same, returning with the page unlocked (the 2.6.29
//                  convention; `locked` must relock and re-check)
//   btrfs          delalloc (fs/btrfs/inode.c): space reserved before the page
//                  lock, writepage's fixup path for pages dirty without delalloc
//   btrfs:unlocked the same, mkwrite returning with the page unlocked
//   btrfs:leak_reservation  adapter mutant: a page's second reservation is
//                  never released (trips I4)
//   none           tmpfs-like: no ->page_mkwrite, no per-page metadata
//   ceph           snap-context based (fs/ceph/addr.c); mkwrite returns
//                  VM_FAULT_LOCKED; a snapshot thread bumps the snap sequence
//   ceph:unlocked  the same, returning with the page unlocked
//   ceph:no_snap_flush  adapter mutant: mkwrite does not write out a page
//                  dirty in an older snap context first
//   buffer         buffer.c (1 KiB blocks, finite allocator) under 5.15's
//                  ext4_page_mkwrite slow path: journal, then
//                  block_page_mkwrite, returning locked; an ordinary disk
//                  (no stable writes); ->setattr calls pagecache_isize_extended
//   buffer:stable_writes  the same on a device that requires stable writes
//                  (wait_for_stable_page waits in 5.15)
//   buffer:block_page_mkwrite  block_page_mkwrite alone (v2.6.30/5.15: no
//                  journal, returns locked)
//   buffer:ext4_v2.6.30  v2.6.30 ext4_page_mkwrite: early return when all
//                  buffers are mapped, else write_begin/write_end; unlocked
//   buffer:no_isize_extended  `buffer` without pagecache_isize_extended
#ifndef PAGERACE_FS_ADAPTERS_ADAPTERS_H_
#define PAGERACE_FS_ADAPTERS_ADAPTERS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fs_adapters/backing_store.h"
#include "harness/base/registry.h"

namespace pagerace {

std::unique_ptr<StoreBackedOps> MakeNfsAdapter(bool mkwrite_returns_locked);
std::unique_ptr<StoreBackedOps> MakeNoneAdapter();
std::unique_ptr<StoreBackedOps> MakeBtrfsAdapter(bool mkwrite_returns_locked,
                                                 bool release_extra_reservation);
std::unique_ptr<StoreBackedOps> MakeCephAdapter(bool mkwrite_returns_locked,
                                                bool flush_older_snapc);
struct BufferOptions;  // fs_adapters/buffer.h
std::unique_ptr<StoreBackedOps> MakeBufferAdapter(const BufferOptions& options);

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

#endif  // PAGERACE_FS_ADAPTERS_ADAPTERS_H_
