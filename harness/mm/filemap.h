// The non-fault paths into the page cache: the pwrite path, pread of a slot,
// and reclaim (shrink_page_list with pageout, pagevec_strip).  They reach
// page contents through the kernel alias only and never touch a user
// mapping (lock_order.h); reclaim unmaps through the rmap (ShadowMmu).
#ifndef PAGERACE_HARNESS_MM_FILEMAP_H_
#define PAGERACE_HARNESS_MM_FILEMAP_H_

#include <cstdint>

#include "harness/check/trace.h"
#include "harness/mm/address_space_ops.h"

namespace pagerace {

class MmContext;
struct Page;

// Writes one 8-byte slot of page `index` through the pwrite path.
// Models mm/filemap.c:generic_perform_write() as of v2.6.29: lock the page
// (reading it in if needed), ->write_begin, copy, ->write_end,
// set_page_dirty, unlock.
// Returns false when ->write_begin failed (ENOSPC): nothing was written.
bool generic_perform_write(MmContext& mm, uint64_t index, uint32_t slot, uint64_t value);

// Reads one 8-byte slot through the read path (page cache, read in if
// needed).  Models do_generic_file_read().
uint64_t generic_file_read_slot(MmContext& mm, uint64_t index, uint32_t slot);

// What one pass of reclaim over a page did.
struct ShrinkResult {
  bool pte_dirty = false;  // try_to_unmap found a writable pte: set_page_dirty
  bool paged_out = false;  // pageout() sent the page to ->writepage
  bool evicted = false;    // the page left the page cache
};

// Reclaims page `index` as shrink_page_list() does one page of the inactive
// file list: trylock (never sleeps on the lock), skip a page under
// writeback, unmap it from every user mapping (a writable pte's dirtiness
// goes to set_page_dirty), write a dirty page through pageout()
// (clear_page_dirty_for_io, ->writepage for reclaim, no write_cache_pages),
// then ->releasepage and __remove_mapping for a clean one; an evicted page
// is poisoned, so the next access re-reads it from the store.  Checks I0 on
// the way out: a clean page must match the store, or its data is lost now.
// Models mm/vmscan.c:shrink_page_list() for one file page as of v2.6.29
// (v2.6.30 is the same for file pages; the differences are in filemap.cc).
ShrinkResult shrink_page(MmContext& mm, uint64_t index);

// The buffer stripping v2.6.29's shrink_active_list() does to every page it
// moves to the inactive list while buffer_heads_over_limit: if the page has
// fs-private data (PG_private) and trylock_page succeeds,
// try_to_release_page.  The page may be mapped, dirty or clean; only what
// ->releasepage agrees to drop goes.  Returns whether it was released.
// Models mm/swap.c:pagevec_strip() for one page as of v2.6.29.
bool pagevec_strip(MmContext& mm, uint64_t index);

// Models mm/filemap.c:try_to_release_page() as of v2.6.29: false for a page
// under writeback, else what ->releasepage says.  REQUIRES: page locked.
bool try_to_release_page(MmContext& mm, Page* page, Gfp gfp);

// Takes a locked, clean page out of the page cache for reclaim
// (__remove_mapping) or invalidation (invalidate.h), tracing `e`: checks
// I0 (a clean page's bytes must be the store's, or they are lost now),
// poisons the frame when `poison` (a later access must re-read the store;
// not while someone else still holds the page and may read or write it
// through the kernel alias), and detaches it.  REQUIRES: page locked, not
// dirty, not mapped.
void remove_clean_page(MmContext& mm, Page* page, Event e, bool poison);

// The byte evicted pages are filled with: a slot of 0xEE.. is never a stamp.
inline constexpr uint8_t kEvictPoison = 0xEE;

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_FILEMAP_H_
