// The shadow-paging layer (DESIGN §4): real memory standing in for page
// tables.
//
//  - the file is a memfd of pages × page_size bytes;
//  - the kernel alias ("kmap") is one MAP_SHARED read/write mapping of it,
//    never protected: writeback, the pwrite path and ->readpage use it;
//  - each user mapping (a VMA) is another MAP_SHARED mapping of the memfd,
//    between PROT_NONE guard pages.  The real protection of a page in a user
//    mapping *is* its pte: PROT_NONE = not present, PROT_READ = present
//    read-only, PROT_READ|PROT_WRITE = present writable (and dirty).
//
// A software pte mirrors each real one: its state plus a generation counter
// (for pte_same), and the Page it maps (holding a reference).  It changes only
// under its ptl, together with the mprotect call, so whoever holds the ptl
// sees the real protection and the mirror agree -- except between a zap's
// pte clear and its TLB flush (ptep_get_and_clear .. flush_tlb_page), where
// the real protection stands for a CPU's stale TLB entry.
//
// Thread-safety: Lookup() is lock-free and async-signal-safe; pte changes
// require the pte's ptl (one per mapping per page).
#ifndef PAGERACE_HARNESS_MM_SHADOW_MMU_H_
#define PAGERACE_HARNESS_MM_SHADOW_MMU_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/base/futex.h"
#include "harness/base/lock_order.h"
#include "harness/base/shared.h"

namespace pagerace {

struct Page;
class Tracer;

enum PteState : uint32_t { kPteNone = 0, kPteReadOnly = 1, kPteWritable = 2 };

// A pte value: bits 0-1 the PteState, bits 2-33 the mapped page's identity
// (its pool slot plus one; 0 for none), the rest a generation bumped on
// every change.  The first two are what the kernel's pte holds (protection
// and pfn); the generation is the harness's.
using pte_t = uint64_t;
inline constexpr int kPteGenShift = 34;

struct Pte {
  FutexMutex ptl{LockClass::kPtl, "ptl"};
  // Atomic so oracles may peek without the ptl; written only under ptl.
  Shared<pte_t> val{0, SharedKind::kPte};
  Page* page ABSL_GUARDED_BY(ptl) = nullptr;  // mapped page, referenced
  // The real protection (the CPU's view, which a zap's flush brings in line
  // with val): written by every mprotect, read by every user access through
  // the mapping (shared.h).
  const SharedId prot = NewSharedId(SharedKind::kPte);
};

inline PteState pte_state(pte_t v) { return static_cast<PteState>(v & 3); }
// Models include/asm-generic/pgtable.h:pte_same() as of v2.6.29 (5.15's
// include/linux/pgtable.h the same): the kernel compares the entries, i.e.
// pfn and protection, so a pte cleared and set again to the same frame with
// the same protection is "the same" even if the frame was freed and reused
// meanwhile (c3704ceb4ad0's window).  The generation is not compared.
inline bool pte_same(pte_t a, pte_t b) {
  constexpr pte_t kKernelBits = (pte_t{1} << kPteGenShift) - 1;
  return (a & kKernelBits) == (b & kKernelBits);
}

class ShadowMmu {
 public:
  // Fails with InvalidArgument when pages × mappings would exceed
  // vm.max_map_count, and with Internal (errno text) when the OS refuses.
  static absl::StatusOr<std::unique_ptr<ShadowMmu>> Create(uint64_t pages, int mappings,
                                                           Tracer* tracer);
  // Checks pages × mappings against vm.max_map_count without mapping anything.
  static absl::Status CheckMapCount(uint64_t pages, int mappings);
  ~ShadowMmu();
  ShadowMmu(const ShadowMmu&) = delete;
  ShadowMmu& operator=(const ShadowMmu&) = delete;

  uint64_t pages() const { return pages_; }
  int nr_vmas() const { return nr_vmas_; }
  static size_t page_size();

  // The kernel alias of page `index`: never faults.  The caller reads or
  // writes the page's bytes: recorded as a write of them (shared.h).
  uint8_t* kmap(uint64_t index) const {
    NoteAccess(data_ids_[index], /*write=*/true);
    return alias_ + index * page_size_;
  }
  // The user address of page `index` in mapping `vma`.
  uint8_t* user_addr(int vma, uint64_t index) const {
    return vmas_[vma].start + index * page_size_;
  }
  Pte& pte(int vma, uint64_t index) const { return vmas_[vma].ptes[index]; }

  // "The device" (a DMA into a page pinned by get_user_pages): reads and
  // writes bytes of page `index` through the memfd (pread/pwrite), i.e.
  // through the kernel alias's memory but by no CPU store of this process —
  // no pte involved, and the data race a DMA is stays out of TSan's sight,
  // as it is out of the CPU's.  Aborts if the OS refuses (a harness bug).
  void device_write(uint64_t index, uint32_t offset, const void* src, uint32_t len) const;
  void device_read(uint64_t index, uint32_t offset, void* dst, uint32_t len) const;

  // A user load or store at `addr` has completed (recovery.h's guarded
  // accesses): it read the mapping's real protection and read or wrote the
  // page's bytes (shared.h).  Nothing outside a recording run.
  static void NoteUserAccess(const void* addr, bool write);

  // Decodes a faulting address; false if it is not inside a user mapping.
  bool Lookup(const void* addr, int* vma, uint64_t* index) const;

  // Changes a pte and the real protection with it.  Installing a page takes
  // a reference; clearing drops it.  REQUIRES: pte(vma, index).ptl held.
  void set_pte(int vma, uint64_t index, PteState state, Page* page);

  // The three steps of zapping a pte (zap.h), apart, so the real protection
  // can lag the pte as a CPU's TLB entry lags it until the flush.  Each
  // REQUIRES: pte(vma, index).ptl held.
  //  - ptep_get_and_clear: the pte becomes none and its old value is
  //    returned; the real protection stays (a CPU that cached the entry may
  //    still load and store through it: a stale TLB entry);
  //  - page_remove_rmap: the pte no longer counts as a mapping of its page
  //    (page_mapped(), the rmap walks) and drops its reference;
  //  - flush_tlb_page: the real protection becomes the pte's again (the
  //    harness takes the ptl for it so the mirror and the real protection
  //    agree under it; the kernel's flush takes no lock).
  pte_t ptep_get_and_clear(int vma, uint64_t index);
  void page_remove_rmap(int vma, uint64_t index);
  void flush_tlb_page(int vma, uint64_t index);

  // rmap: write-protects `page` wherever a user mapping maps it writable;
  // returns whether any pte was writable.  Takes each ptl.  Models
  // mm/rmap.c:page_mkclean().
  bool page_mkclean(Page* page);
  // Unmaps `page` from every user mapping, writable ptes included; returns
  // whether any pte was writable, i.e. dirty (writable <=> dirty here): the
  // caller owes the page a set_page_dirty.  Takes each ptl.  Models
  // mm/rmap.c:try_to_unmap() for a file page as reclaim uses it.
  bool try_to_unmap(Page* page);
  // Clears the pte of `index` in every user mapping, whatever page it maps.
  // Takes each ptl.  Models unmap_mapping_range() for one page.
  void zap_index(uint64_t index);
  // Racy peek: does any mapping map `index` writable?
  bool any_writable(uint64_t index) const;

 private:
  struct Vma {
    uint8_t* start = nullptr;  // first page of the mapping (after the guard)
    uint8_t* reserve = nullptr;  // guard + mapping + guard
    std::unique_ptr<Pte[]> ptes;
  };
  ShadowMmu(uint64_t pages, int mappings, Tracer* tracer);

  const uint64_t pages_;
  const int nr_vmas_;
  const size_t page_size_;
  Tracer* const tracer_;
  // Constant after Create().
  int memfd_ = -1;
  uint8_t* alias_ = nullptr;
  std::unique_ptr<Vma[]> vmas_;
  // Each page's bytes, as one object (shared.h).
  std::unique_ptr<SharedId[]> data_ids_;
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_SHADOW_MMU_H_
