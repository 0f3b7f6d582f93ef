// Invalidation (issue 20): taking pages out of the page cache while the file
// stays as it is, the two ways mm/truncate.c does it.
//
//   invalidate_mapping_pages  (fadvise(POSIX_FADV_DONTNEED), drop_caches,
//       blockdev flushes): best effort.  A page is skipped unless the trylock
//       succeeds and it is clean, not under writeback and not mapped; then
//       invalidate_complete_page asks ->releasepage (no __GFP_FS) and
//       remove_mapping, whose reference freeze gives up on a page anyone but
//       the cache and the caller holds.  That freeze is 016eb4a0ed06's check
//       (v2.6.18): before it, a page taken by someone the page lock does not
//       exclude (v2.6.18's unlocked do_no_page; in every modeled era,
//       get_user_pages) after the page_mapped() test left the cache under
//       its holder, and what the holder wrote went nowhere.
//
//   invalidate_inode_pages2   (NFS's revalidation of a changed file, direct
//       I/O's invalidation after a write): must not leave pages behind.  The
//       page is locked (sleeping for it), its writeback waited for, every pte
//       zapped (unmap_mapping_range: zap_pte_range hands a dirty pte's
//       dirtiness to set_page_dirty; harness/mm/zap.h), a page that is dirty
//       now is laundered (->launder_page: written out with the page lock
//       held, e3db7691e9f3, v2.6.20), then invalidate_complete_page2 removes
//       it unless it is still dirty (-EBUSY) or its private data stays.  It
//       ignores the page's reference count, by design.
//
// Thread-safety: the functions take the locks they name; callers hold none.
#ifndef PAGERACE_HARNESS_MM_INVALIDATE_H_
#define PAGERACE_HARNESS_MM_INVALIDATE_H_

#include <cstdint>

namespace pagerace {

class MmContext;

// invalidate_mapping_pages(mapping, index, index).  Returns whether the page
// left the cache.  Models mm/truncate.c:__invalidate_mapping_pages() with
// invalidate_complete_page() and mm/vmscan.c:remove_mapping() as of v2.6.29
// (5.15's invalidate_inode_page, find_lock_entries' trylock and
// __remove_mapping's page_ref_freeze are the same steps; both read in the
// mirrors); differences: one page; the I0 check and the poisoning of the
// frame are the harness's (as reclaim's eviction, filemap.h).  With
// 016eb4a0ed06 reverted the freeze is gone: a page only PageDirty would keep
// is removed whoever holds it (v2.6.18-rc6's invalidate_complete_page).
bool invalidate_mapping_page(MmContext& mm, uint64_t index);

// The result of invalidate_inode_pages2 on one page.
enum class Invalidate2 {
  kNotCached,  // no page at the index (or truncated before the lock)
  kRemoved,    // laundered if it was dirty, and removed
  kBusy,       // -EBUSY: dirty with no ->launder_page, redirtied, or its
               // private data would not go; the page stays cached
  kLaunderFailed,  // ->launder_page returned an error; the page stays
};
const char* Invalidate2Name(Invalidate2 r);  // "not_cached", "removed", ...

// invalidate_inode_pages2_range(mapping, index, index).  Models
// mm/truncate.c:invalidate_inode_pages2_range() with do_launder_page() and
// invalidate_complete_page2() as of v2.6.29 (5.15 the same steps: read in
// both mirrors); differences: one page; unmap_mapping_range zaps through
// zap_pte_range one mapping at a time (harness/mm/zap.h), each with its TLB
// flush; the BUG_ON(page_mapped()) after it is a kernel_bug report.
Invalidate2 invalidate_inode_pages2_page(MmContext& mm, uint64_t index);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_INVALIDATE_H_
