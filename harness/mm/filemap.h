// The non-fault paths into the page cache: the pwrite path, pread of a slot,
// and reclaim of a clean page.  They reach page contents through the kernel
// alias only and never touch a user mapping (lock_order.h).
#ifndef PAGERACE_HARNESS_MM_FILEMAP_H_
#define PAGERACE_HARNESS_MM_FILEMAP_H_

#include <cstdint>

namespace pagerace {

class MmContext;

// Writes one 8-byte slot of page `index` through the pwrite path.
// Models mm/filemap.c:generic_perform_write() as of v2.6.29: lock the page
// (reading it in if needed), ->write_begin, copy, ->write_end,
// set_page_dirty, unlock.
// Returns false when ->write_begin failed (ENOSPC): nothing was written.
bool generic_perform_write(MmContext& mm, uint64_t index, uint32_t slot, uint64_t value);

// Reads one 8-byte slot through the read path (page cache, read in if
// needed).  Models do_generic_file_read().
uint64_t generic_file_read_slot(MmContext& mm, uint64_t index, uint32_t slot);

// Tries to reclaim page `index` if it is clean: unmap it from every user
// mapping, ask the fs (->releasepage), poison its memory and drop it from the
// page cache, so the next access re-reads it from the store.  Checks I0 on
// the way out: a clean page must match the store, or its data is lost now.
// Returns whether the page was evicted.  Models mm/vmscan.c:shrink_page_list()
// for one page.
bool shrink_page(MmContext& mm, uint64_t index);

// The byte evicted pages are filled with: a slot of 0xEE.. is never a stamp.
inline constexpr uint8_t kEvictPoison = 0xEE;

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_FILEMAP_H_
