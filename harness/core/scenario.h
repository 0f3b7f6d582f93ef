// Scenarios (issue 11): finite programs for the roles of one run, for the
// explorer (explore.h) to run under the serial scheduler.  Nothing in a
// scenario depends on time or on random numbers: a schedule fixes the run.
//
// Text form (built-in scenarios are written in it too; '#' starts a comment,
// ops are separated by ';'):
//
//   pages 2                     # file size (default 2)
//   mappings 2                  # user mappings (default 2)
//   workload mixed              # whose adapter set-up (`arm`) applies
//   setup: store 0 0; writeback # run first, on one thread, unscheduled
//   mmap0: store 0 0; store 0 0 # one line per thread, in index order
//   writeback: pass; pass
//   io:                         # optional: added last when not named
//
// Threads are named as roles are (thread_roles.def: mmap0, pwrite0,
// writeback, reclaim, truncate, fsync, snapshot, io); their order is their
// index in schedule strings.  Ops:
//   store P [M] [@OFF]
//                 mmap threads (and setup, as mmap0): the read-back check and a
//                 stamped store to page P through mapping M (default 0), into
//                 the thread's first ledger slot at or after byte OFF of the
//                 page (default 0; its last slot if it owns none there)
//   write P [M] [@OFF]
//                 the same store without the read-back load before it, so a
//                 page with no pte takes a write fault on a not-present pte
//                 (__do_fault / do_shared_fault)
//   load P [M] [@OFF]
//                 mmap threads: a load (a read fault if not present)
//   pwrite P      pwrite threads (setup: as pwrite0): a stamped pwrite
//   pass          one write_cache_pages pass (WB_SYNC_NONE), then ->commit
//   sync          fsync(2) (writeback.h:do_fsync): one data-integrity
//                 write_cache_pages pass, filemap_fdatawait, ->commit; I8
//                 checks that every page dirty at the call was written
//   reclaim P     shrink_page_list on page P (unmap, pageout, evict)
//   snapshot      the adapter's background step (ceph: a new snap context)
//   writeback     setup only: a pass with its I/O completed inline, ->commit
//   truncate P [B]
//                 the truncate thread (and setup): the file's size becomes P
//                 pages and B bytes (B a multiple of 8 below 4096, the
//                 smallest page size; P B within the file's pages), through
//                 vmtruncate (harness/mm/truncate.h), which shrinks or grows
//                 as the scheme's era did; a shrink marks the pages it cuts
//                 as truncated for the ledger, as the truncate workload does
//   enospc N      setup only: the adapter's failure injection, deterministic
//                 (AddressSpaceOps::InjectMkwriteFailures(N)): nfs and ceph
//                 fail every N-th ->page_mkwrite call from here on (N = 1:
//                 every call); buffer and btrfs run their allocators short
//                 (buffer: 1/max(N,2) of the file's blocks missing; btrfs:
//                 room for max(1, pages/max(N,2)) pages in all).  Use it with
//                 `workload enospc`, which refuses adapters without
//                 ->page_mkwrite (`workload isize` fills a buffer disk)
//   dio P [M]     gup threads: one direct I/O into page P through mapping M
//                 (default 0), as the dio workload's (workloads/mixed.h):
//                 get_user_pages with write access in the run's --gup mode
//                 (the fault path and ->page_mkwrite as a store's), the
//                 device's stamp written through the kernel alias,
//                 set_page_dirty_lock and the unpin, with a schedule point
//                 after the pin and after the device's write
//   zap P [M]     mmap threads (and setup): madvise(MADV_DONTNEED) of page P
//                 in mapping M (default 0): zap_pte_range's pte clear, dirty
//                 transfer, rmap removal and TLB flush (harness/mm/zap.h); until
//                 the flush, a store through that mapping lands without a fault,
//                 as through a stale TLB entry, and a later access faults the
//                 page in again
//   strip P       the reclaim thread (and setup): pagevec_strip of page P,
//                 as shrink_active_list strips an active page's buffers:
//                 trylock, ->releasepage (buffer.c: try_to_free_buffers,
//                 which drops clean buffers and cancels PG_dirty), unlock
//   commit P      the writeback thread (and setup): the filesystem's own
//                 flush of page P's data (buffer:ext3: the ordered-mode
//                 journal commit's journal_submit_data_buffers writes the
//                 dirty buffers a write(2) filed with the transaction and
//                 cleans them, leaving PG_dirty and the ptes alone);
//                 nothing for an fs without one
//   drop P        the reclaim or truncate thread (and setup):
//                 invalidate_mapping_pages of page P, as fadvise(
//                 POSIX_FADV_DONTNEED) or drop_caches: trylock, skip it if
//                 dirty, under writeback or mapped, else ->releasepage and
//                 remove_mapping (harness/mm/invalidate.h)
//   invalidate P  the reclaim or truncate thread (and setup):
//                 invalidate_inode_pages2 of page P, as NFS's revalidation:
//                 lock, wait on writeback, unmap every pte (zap_pte_range's
//                 dirty transfer and TLB flush), ->launder_page if dirty,
//                 invalidate_complete_page2 (-EBUSY if still dirty)
//   migrate P     the reclaim thread (and setup): page migration of page P
//                 (compaction's MIGRATE_ASYNC): trylock, skip it under
//                 writeback, clear its ptes (a dirty one dirties the page),
//                 ->migratepage or the fallback, a new page in the slot with
//                 the old one's dirtiness, the ptes back on the new page
//                 (harness/mm/migrate.h)
//   mremap P F T  mmap threads (and setup): mremap(2) of page P from mapping F
//                 to mapping T (F < T: T after F in rmap order), as
//                 move_ptes does it (harness/mm/mremap.h): the mmap_sem taken
//                 for writing, T's pte zapped (MREMAP_FIXED), F's pte cleared
//                 and set in T with the same protection, the TLB entry of F
//                 flushed (with 5d1904204c99 reverted: after the ptls are
//                 dropped; until then a store through F lands without a
//                 fault); a later access through F faults the page in again
//   punch P [N]   the truncate thread (and setup): a hole punched over N
//                 whole pages from page P (default 1), as fallocate(
//                 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) on 5.15's ext4
//                 (harness/mm/punch.h): the pages unmapped and out of the
//                 page cache, then their blocks freed, under the
//                 invalidate_lock; the ledger takes a store before the pages'
//                 removal as thrown away, one after it as owed.  Nothing
//                 under a v2.6.29/30 scheme (no hole punch there).  The model
//                 has no inode_lock (i_rwsem), which excludes write(2) from a
//                 punch in every kernel, so a scenario with a punch op has no
//                 pwrite thread (refused)
// The io thread has no ops: it completes queued I/O and finishes when every
// other thread has finished and nothing is queued.
//
// Built-in scenarios (BuiltinScenarios(); each summary names the window it
// targets): seed, seed_dirty, seed_fault (the seed's windows); fsync (an
// integrity sync against new dirtiers, I8); truncate
// (I5), refault (a page freed and its frame reused under a write fault:
// c3704ceb4ad0), isize (EOF inside the last page), enospc (I6), reuse (I1 without
// ->page_mkwrite), snapshot (ceph's snap contexts), delalloc (btrfs's I4),
// dio (the get_user_pages race, issue 13), zap_flush and zap (a store
// through a stale TLB entry after a zap: 1cf35d47712d, 5df397dec7c4), drop
// (invalidate_mapping_pages detaching a page get_user_pages holds:
// 016eb4a0ed06), launder (invalidate_inode_pages2 on a dirty mapped page),
// mremap (a store through the old address's TLB entry after move_ptes:
// 5d1904204c99), punch (a fault bringing a punched page back before its
// blocks are freed: ea3d7209ca01).
//
// Thread-safety: values; no shared state.
#ifndef PAGERACE_HARNESS_CORE_SCENARIO_H_
#define PAGERACE_HARNESS_CORE_SCENARIO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "harness/base/thread_roles.h"

namespace pagerace {

struct ScenarioOp {
  enum Kind {
    kStore, kWrite, kLoad, kPwrite, kPass, kSync, kReclaim, kSnapshot, kWriteback, kTruncate,
    kEnospc, kDio, kZap, kStrip, kCommit, kDrop, kInvalidate, kMigrate, kMremap, kPunch
  };
  Kind kind = kPass;
  uint64_t page = 0;    // store/write/load/pwrite/reclaim/dio/punch: the page; truncate: whole pages
  uint64_t npages = 1;  // punch: the pages punched
  int vma = 0;
  uint32_t offset = 0;  // store/write/load: byte in the page; truncate: bytes past `page` pages
  uint32_t one_in = 0;  // enospc
  int to_vma = 0;       // mremap: the mapping the pte moves to
};

struct ScenarioThread {
  RoleId role;
  std::vector<ScenarioOp> ops;
};

struct Scenario {
  std::string name;
  std::string text;  // the source, for results
  uint64_t pages = 2;
  int mappings = 2;
  std::string workload = "mixed";
  std::vector<ScenarioOp> setup;
  std::vector<ScenarioThread> threads;  // the io thread included (last unless named)

  int mmap_threads() const;     // 1 + the highest mmap index (0: none)
  int pwrite_threads() const;   // 1 + the highest pwrite index
  int gup_threads() const;      // 1 + the highest gup index
};

// Parses the text form.  InvalidArgument naming the line on bad input.
absl::StatusOr<Scenario> ParseScenario(absl::string_view text, absl::string_view name);
// A built-in scenario by name, a file, or the text inline with '|' for
// newlines: "seed", "@path/to/file", "text:mmap0: store 0|writeback: pass".
absl::StatusOr<Scenario> LoadScenario(const std::string& spec);

struct BuiltinScenario {
  const char* name;
  const char* summary;
  const char* text;
};
const std::vector<BuiltinScenario>& BuiltinScenarios();

// The text form of `scenario` (ParseScenario gives it back), and of one op.
std::string FormatScenario(const Scenario& scenario);
std::string FormatScenarioOp(const ScenarioOp& op);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CORE_SCENARIO_H_
