// get_user_pages with write access, the device's writes into the pinned
// page, and set_page_dirty_lock: the second way to dirty a file page without
// asking the filesystem (issue 13; Jan Kara, linux-mm, January 2018,
// https://lore.kernel.org/linux-mm/20180103100430.GE4911@quack2.suse.cz).
//
//   1. get_user_pages(FOLL_WRITE) finds no writable pte and faults the page
//      in through handle_mm_fault with write access: ->page_mkwrite runs,
//      the fs attaches its metadata, the page is dirtied, the pte writable;
//      the retried lookup takes a reference (FOLL_GET) or a pin (FOLL_PIN);
//   2. writeback cleans the page (clear_page_dirty_for_io, ->writepage) and
//      the fs retires its metadata; reclaim may release buffers of the now
//      clean page, which stays cached because the reference is held;
//   3. the device writes into the page (the kernel alias, no pte);
//   4. set_page_dirty_lock: the page is dirty again, with no ->page_mkwrite
//      having run — a dirty page without metadata.
//
// The mode (GupMode) follows the kernel era; what writeback and reclaim do
// with a pinned page is PinWriteback.
//
// Thread-safety: the functions take the locks they name; callers hold none.
#ifndef PAGERACE_HARNESS_MM_GUP_H_
#define PAGERACE_HARNESS_MM_GUP_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace pagerace {

class MmContext;
struct Page;

// How the GUP caller takes the page (`--gup`).
enum class GupMode : uint8_t {
  // get_user_pages (FOLL_GET): a plain page reference; the only call in
  // v2.6.29/30.  page_maybe_dma_pinned() cannot tell it from any other.
  kGet,
  // pin_user_pages (FOLL_PIN, eddb1c228f79, v5.6): the reference counts
  // GUP_PIN_COUNTING_BIAS, so page_maybe_dma_pinned() sees it.
  kPin,
  // pin_user_pages with FOLL_LONGTERM: v6.5 (a6e79df92e4a,
  // writable_file_mapping_allowed in check_vma_flags) refuses a long-term
  // write pin on a file mapping that needs dirty tracking, with -EFAULT,
  // before any fault.
  kLongterm,
};
const char* GupModeName(GupMode m);  // "get", "pin", "longterm"
std::optional<GupMode> GupModeByName(absl::string_view name);

// What writeback and reclaim do with a page_maybe_dma_pinned() page
// (`--pin-writeback`).
enum class PinWriteback : uint8_t {
  kNone,    // 5.15: pins are not consulted by writeback or reclaim
  kV6_4,    // d824ec2a1546 (v6.4): shrink_folio_list keeps a pinned page
            // (after unmapping it) instead of writing it out or releasing its
            // private data; write_cache_pages still cleans it
  kSkip,    // proposed (Kara, 2023; not merged): writeback skips a pinned
            // page, leaving it dirty with its metadata
  kBounce,  // proposed: writeback writes a copy of a pinned page's bytes and
            // leaves it dirty with its metadata
};
const char* PinWritebackName(PinWriteback p);  // "none", "v6.4", "skip", "bounce"
std::optional<PinWriteback> PinWritebackByName(absl::string_view name);

// Models include/linux/mm.h:GUP_PIN_COUNTING_BIAS as of v5.15.
inline constexpr int32_t kGupPinCountingBias = 1 << 10;

// Models include/linux/mm.h:page_maybe_dma_pinned() as of v5.15 for an
// order-0 page: the reference count reaches GUP_PIN_COUNTING_BIAS.
bool page_maybe_dma_pinned(const Page* page);

// The result of get_user_pages_one.
struct GupResult {
  Page* page = nullptr;  // referenced or pinned; nullptr: failed
  bool refused = false;  // FOLL_LONGTERM refused (v6.5), nothing faulted
  int faults = 0;        // handle_mm_fault calls it took
};

// get_user_pages / pin_user_pages of one page of user mapping `vma` with
// FOLL_WRITE.  Models mm/gup.c:__get_user_pages() as of v5.15 (the loop of
// follow_page_mask -> faultin_page -> retry; v2.6.29's get_user_pages has
// the same loop over follow_page and handle_mm_fault): the page is taken,
// under the pte's ptl, only from a writable pte (follow_page_pte's
// can_follow_write_pte); otherwise handle_mm_fault(write) runs the scheme's
// own fault path and the lookup retries.  FOLL_TOUCH's set_page_dirty for a
// pte that is writable but not dirty has no counterpart here (writable <=>
// dirty in the model).  Differences: one page; no mmap_lock, no
// VM_FAULT_RETRY; a fault that fails (SIGBUS) fails the call, as
// faultin_page's vm_fault_to_errno does.
GupResult get_user_pages_one(MmContext& mm, int vma, uint64_t index, GupMode mode);

// Models mm/page-writeback.c:set_page_dirty_lock() as of v5.15 (v2.6.29
// the same): lock_page, set_page_dirty, unlock_page.  Ends the device's
// write (Page::gup_write) under the page lock, after set_page_dirty, and
// checks I2 as every other dirtying path does.
void set_page_dirty_lock(MmContext& mm, Page* page);

// Drops what get_user_pages_one took: put_page for FOLL_GET,
// unpin_user_page (GUP_PIN_COUNTING_BIAS) for FOLL_PIN.  Models
// mm/gup.c:unpin_user_page() as of v5.15.
void unpin_user_page(Page* page, GupMode mode);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_GUP_H_
