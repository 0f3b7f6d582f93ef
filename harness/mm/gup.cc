#include "harness/mm/gup.h"

#include "harness/base/stats.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/page.h"
#include "harness/sched/sched.h"

namespace pagerace {

const char* GupModeName(GupMode m) {
  switch (m) {
    case GupMode::kGet: return "get";
    case GupMode::kPin: return "pin";
    case GupMode::kLongterm: return "longterm";
  }
  return "?";
}

std::optional<GupMode> GupModeByName(absl::string_view name) {
  for (GupMode m : {GupMode::kGet, GupMode::kPin, GupMode::kLongterm}) {
    if (name == GupModeName(m)) return m;
  }
  return std::nullopt;
}

const char* PinWritebackName(PinWriteback p) {
  switch (p) {
    case PinWriteback::kNone: return "none";
    case PinWriteback::kV6_4: return "v6.4";
    case PinWriteback::kSkip: return "skip";
    case PinWriteback::kBounce: return "bounce";
  }
  return "?";
}

std::optional<PinWriteback> PinWritebackByName(absl::string_view name) {
  for (PinWriteback p :
       {PinWriteback::kNone, PinWriteback::kV6_4, PinWriteback::kSkip, PinWriteback::kBounce}) {
    if (name == PinWritebackName(p)) return p;
  }
  return std::nullopt;
}

bool page_maybe_dma_pinned(const Page* page) {
  return static_cast<uint32_t>(page->refcount.load(std::memory_order_acquire)) >=
         static_cast<uint32_t>(kGupPinCountingBias);
}

namespace {

// Models mm/gup.c:check_vma_flags()'s writable_file_mapping_allowed() as of
// v6.5 (a6e79df92e4a; read in a later mainline tree, not a v6.5 tag): a
// FOLL_PIN|FOLL_LONGTERM write on a file mapping is refused when the vma
// needs dirty tracking (vma_needs_dirty_tracking: shared, and the fs wants
// write notification or the mapping is written back).  Every adapter with
// ->page_mkwrite needs it; `none` (tmpfs-like: no ->page_mkwrite, no
// writeback accounting, as shmem) does not.
bool longterm_refused(MmContext& mm) { return mm.a_ops().has_page_mkwrite(); }

// Models mm/gup.c:try_grab_page() as of v5.15 for an order-0 page: FOLL_GET
// takes one reference, FOLL_PIN GUP_PIN_COUNTING_BIAS of them.
void try_grab_page(Page* page, GupMode mode) {
  page->refcount.fetch_add(mode == GupMode::kGet ? 1 : kGupPinCountingBias,
                           std::memory_order_acq_rel);
}

}  // namespace

GupResult get_user_pages_one(MmContext& mm, int vma, uint64_t index, GupMode mode) {
  GupResult r;
  if (mode == GupMode::kLongterm && longterm_refused(mm)) {
    CountStat(Stat::kGupRefused);
    r.refused = true;
    return r;
  }
  Pte& pte = mm.mmu().pte(vma, index);
  // __get_user_pages runs under the caller's mmap_read_lock.
  ReadLockScope mmap_read(&mm.mmap_sem());
  // follow_page_mask -> faultin_page -> retry.  Bounded only by the fault
  // path's own progress, as in the kernel: each failed lookup runs a whole
  // write fault, which leaves the pte writable unless writeback or reclaim
  // got in between again.
  for (;;) {
    pte.ptl.Lock();
    const pte_t entry = pte.val.load(std::memory_order_relaxed);
    if (pte_state(entry) == kPteWritable) {
      Page* page = pte.page;
      try_grab_page(page, mode);
      // The caller's device write starts now (ended by set_page_dirty_lock):
      // the model's marker, no kernel state.
      page->gup_write.fetch_add(1, std::memory_order_acq_rel);
      pte.ptl.Unlock();
      CountStat(Stat::kGupPins);
      r.page = page;
      return r;
    }
    pte.ptl.Unlock();
    ++r.faults;
    const vm_fault_t ret = mm.handle_mm_fault(vma, index, /*write=*/true);
    if (ret & (kVmFaultSigbus | kVmFaultOom)) {
      CountStat(Stat::kRefused);
      return r;
    }
  }
}

void set_page_dirty_lock(MmContext& mm, Page* page) {
  lock_page(page);
  mm.set_page_dirty(page);
  page->gup_write.fetch_sub(1, std::memory_order_acq_rel);
  mm.check_dirty_has_metadata(page);
  unlock_page(page);
}

void unpin_user_page(Page* page, GupMode mode) {
  if (mode == GupMode::kGet) {
    put_page(page);
    return;
  }
  // put_compound_head(page, 1, FOLL_PIN): the bias less the last reference,
  // then put_page for it (which may free the page).
  page->refcount.fetch_sub(kGupPinCountingBias - 1, std::memory_order_acq_rel);
  put_page(page);
}

}  // namespace pagerace
