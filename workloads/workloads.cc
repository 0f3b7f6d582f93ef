#include "workloads/workloads.h"

namespace pagerace {
namespace {

// enospc: one ->page_mkwrite in this many fails.
constexpr uint32_t kEnospcOneIn = 16;

// zap (and strip, which adds buffer stripping): 1 in 8 mmap-worker steps
// zap the page, on 2 pages, reclaim on them too.
void Zapping(MixedOptions* o) {
  o->zap_one_in = 8;
  o->hot_pages = 2;
  o->reclaim_hot = true;
}

// dio (and drop): the --threads workers become get_user_pages callers.
void Dio(MixedOptions* o) {
  o->gup = o->threads;
  o->threads = 0;
  o->pwriters = 0;
  o->hot_pages = 8;
}

}  // namespace

Registry<WorkloadEntry>& WorkloadRegistry() {
  static auto* r = new Registry<WorkloadEntry>({
      {"mixed", "mmap workers with read-back, pwrite writers, reclaim (unmap, pageout of dirty pages, eviction of clean ones)"},
      {"hot", "mixed, every thread on the same 4 pages",
       [](MixedOptions* o) { o->hot_pages = 4; }},
      {"multimap", "mixed over at least 3 user mappings", nullptr, nullptr, /*min_mappings=*/3},
      {"fsync", "mixed, with a thread running fsync (WB_SYNC_ALL writeback) in a loop",
       [](MixedOptions* o) { o->fsync = true; }},
      {"truncate", "mixed, with a truncator shrinking the file's upper half and growing it back",
       [](MixedOptions* o) { o->truncate = true; }},
      {"punch",
       "mixed on 4 pages (reclaim too), with a truncator punching a hole over a random page "
       "(fallocate(PUNCH_HOLE|KEEP_SIZE): the page out of the cache, then its blocks freed) "
       "and no pwriters (the model has no inode_lock to keep write(2) out of a punch)",
       [](MixedOptions* o) {
         o->punch = true;
         o->pwriters = 0;
         o->hot_pages = 4;
         o->reclaim_hot = true;
       },
       nullptr, /*min_mappings=*/1, /*needs_page_mkwrite=*/false, /*punches=*/true},
      {"enospc", "mixed, with 1 in 16 page_mkwrite calls failing (SIGBUS: no store may land)",
       nullptr, [](AddressSpaceOps* a) { a->InjectMkwriteFailures(kEnospcOneIn); },
       /*min_mappings=*/1, /*needs_page_mkwrite=*/true},
      {"dio",
       "get_user_pages callers (the --threads workers) pin pages with write access, a device writes "
       "them, set_page_dirty_lock; writeback and reclaim beside them (docs/gup.md)",
       Dio, nullptr, /*min_mappings=*/1, /*needs_page_mkwrite=*/false},
      {"drop",
       "dio, with reclaim dropping the page it shrank (invalidate_mapping_pages, as "
       "fadvise(POSIX_FADV_DONTNEED)): invalidation against pinned pages (016eb4a0ed06)",
       [](MixedOptions* o) {
         Dio(o);
         o->drop = true;
       },
       nullptr, /*min_mappings=*/1, /*needs_page_mkwrite=*/false},
      {"invalidate",
       "mixed, with reclaim first invalidating the page it picks (invalidate_inode_pages2, as "
       "NFS's revalidation: unmap with the dirty transfer, ->launder_page, removal)",
       [](MixedOptions* o) { o->revalidate = true; }},
      {"migrate",
       "mixed on 2 pages (reclaim too), with reclaim first migrating the page it picks "
       "(compaction: ptes cleared, a new page in the slot with the old one's dirtiness and fs "
       "data, the ptes back)",
       [](MixedOptions* o) {
         o->hot_pages = 2;
         o->reclaim_hot = true;
         o->migrate = true;
       }},
      {"zap",
       "mixed on 2 pages (reclaim too), with 1 in 8 mmap-worker steps zapping the page "
       "(madvise(MADV_DONTNEED): dirty transfer, rmap removal, TLB flush)",
       Zapping},
      {"mremap",
       "mixed on 2 pages (reclaim too), with 1 in 8 mmap-worker steps moving the page's pte to a "
       "later mapping (mremap's move_ptes: the mmap_sem held for writing, the old TLB entry "
       "flushed; a store through it before the flush lands without a fault)",
       [](MixedOptions* o) {
         o->mremap_one_in = 8;
         o->hot_pages = 2;
         o->reclaim_hot = true;
       },
       nullptr, /*min_mappings=*/2},
      {"strip",
       "zap, with reclaim stripping a page's buffers first (shrink_active_list's pagevec_strip "
       "while buffer heads are over their limit): try_to_free_buffers against zaps",
       [](MixedOptions* o) {
         Zapping(o);
         o->buffer_heads_over_limit = true;
       }},
      {"isize", "mixed, EOF moving inside the last page and back, on a full disk",
       [](MixedOptions* o) { o->isize = true; }, [](AddressSpaceOps* a) { a->FillDisk(); }},
  });
  return *r;
}

const WorkloadEntry& Workload(absl::string_view name) { return WorkloadRegistry().Get(name); }

}  // namespace pagerace
