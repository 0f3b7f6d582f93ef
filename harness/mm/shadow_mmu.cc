#include "harness/mm/shadow_mmu.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "harness/check/trace.h"
#include "harness/mm/page.h"

namespace pagerace {
namespace {

int ProtOf(PteState s) {
  switch (s) {
    case kPteNone: return PROT_NONE;
    case kPteReadOnly: return PROT_READ;
    case kPteWritable: return PROT_READ | PROT_WRITE;
  }
  return PROT_NONE;
}

// The OS side of a ShadowMmu: the memfd, its kernel alias, and each user
// mapping (placed inside its guard reserve).  A destroyed ShadowMmu hands
// its set to the next one of the same size instead of unmapping it: the
// explorer builds a Machine per schedule, and the mmaps, munmaps and their
// TLB shootdowns were a fifth of a schedule's cost (BM_ExploreSchedule).  A
// set is put back as Create makes it: the file's bytes zero and every user
// page PROT_NONE (one mprotect per mapping, which also merges the VMAs the
// per-page protections split).
struct OsMaps {
  uint64_t pages = 0;
  int mappings = 0;
  int memfd = -1;
  uint8_t* alias = nullptr;
  std::vector<std::pair<uint8_t*, uint8_t*>> vmas;  // reserve, start
};
constexpr size_t kPoolMax = 4;

std::mutex& PoolMutex() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}
std::vector<OsMaps>& Pool() {
  static std::vector<OsMaps>* pool = new std::vector<OsMaps>;
  return *pool;
}

// Mappings the process needs besides the user mappings' per-page VMAs:
// binary, libraries, stacks, heap, the alias and guards.  Generous on purpose.
constexpr uint64_t kMapCountSlack = 1024;

}  // namespace

size_t ShadowMmu::page_size() {
  static const size_t ps = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return ps;
}

absl::Status ShadowMmu::CheckMapCount(uint64_t pages, int mappings) {
  // Read once: a sysctl an administrator sets before running the harness.
  static const uint64_t max_map_count = [] {
    uint64_t n = 65530;
    std::ifstream f("/proc/sys/vm/max_map_count");
    if (f) f >> n;
    return n;
  }();
  // Every page whose protection differs from its neighbour's splits a VMA.
  const uint64_t need = pages * static_cast<uint64_t>(mappings) + kMapCountSlack;
  if (need > max_map_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--pages=", pages, " x --mappings=", mappings, " needs up to ", need,
        " memory mappings, over vm.max_map_count=", max_map_count,
        " (lower --pages or --mappings, or raise vm.max_map_count)"));
  }
  return absl::OkStatus();
}

namespace {
// The newest ShadowMmu: the one the explorer's schedule runs on (one at a
// time), whose user accesses NoteUserAccess attributes.
std::atomic<const ShadowMmu*> g_newest{nullptr};
}  // namespace

ShadowMmu::ShadowMmu(uint64_t pages, int mappings, Tracer* tracer)
    : pages_(pages), nr_vmas_(mappings), page_size_(page_size()), tracer_(tracer),
      vmas_(new Vma[mappings]),
      data_ids_(new SharedId[pages]) {
  for (uint64_t i = 0; i < pages; ++i) data_ids_[i] = NewSharedId(SharedKind::kData);
}

absl::StatusOr<std::unique_ptr<ShadowMmu>> ShadowMmu::Create(uint64_t pages, int mappings,
                                                             Tracer* tracer) {
  if (absl::Status s = CheckMapCount(pages, mappings); !s.ok()) return s;
  std::unique_ptr<ShadowMmu> mmu(new ShadowMmu(pages, mappings, tracer));
  const size_t len = pages * mmu->page_size_;
  {
    std::lock_guard<std::mutex> l(PoolMutex());
    std::vector<OsMaps>& pool = Pool();
    for (size_t i = 0; i < pool.size(); ++i) {
      if (pool[i].pages != pages || pool[i].mappings != mappings) continue;
      OsMaps o = std::move(pool[i]);
      pool.erase(pool.begin() + static_cast<long>(i));
      mmu->memfd_ = o.memfd;
      mmu->alias_ = o.alias;
      for (int v = 0; v < mappings; ++v) {
        Vma& vma = mmu->vmas_[v];
        vma.ptes.reset(new Pte[pages]);
        vma.reserve = o.vmas[v].first;
        vma.start = o.vmas[v].second;
      }
      g_newest.store(mmu.get(), std::memory_order_release);
      return mmu;
    }
  }
  auto os_error = [](const char* what) {
    return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
  };
  mmu->memfd_ = memfd_create("pagerace-file", MFD_CLOEXEC);
  if (mmu->memfd_ < 0) return os_error("memfd_create");
  if (ftruncate(mmu->memfd_, static_cast<off_t>(len)) != 0) return os_error("ftruncate");
  void* a = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, mmu->memfd_, 0);
  if (a == MAP_FAILED) return os_error("mmap (kernel alias)");
  mmu->alias_ = static_cast<uint8_t*>(a);
  for (int v = 0; v < mappings; ++v) {
    Vma& vma = mmu->vmas_[v];
    vma.ptes.reset(new Pte[pages]);
    // Reserve guard + mapping + guard, then place the file in the middle:
    // a stray access next to a mapping hits PROT_NONE anonymous memory and
    // is never mistaken for a modeled fault.
    void* r = mmap(nullptr, len + 2 * mmu->page_size_, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) return os_error("mmap (guard reserve)");
    vma.reserve = static_cast<uint8_t*>(r);
    void* m = mmap(vma.reserve + mmu->page_size_, len, PROT_NONE, MAP_SHARED | MAP_FIXED,
                   mmu->memfd_, 0);
    if (m == MAP_FAILED) return os_error("mmap (user mapping)");
    vma.start = static_cast<uint8_t*>(m);
  }
  g_newest.store(mmu.get(), std::memory_order_release);
  return mmu;
}

ShadowMmu::~ShadowMmu() {
  const size_t len = pages_ * page_size_;
  for (int v = 0; v < nr_vmas_; ++v) {
    Vma& vma = vmas_[v];
    if (vma.ptes) {
      for (uint64_t i = 0; i < pages_; ++i) {
        Pte& p = vma.ptes[i];
        FutexLock l(&p.ptl);
        if (p.page) {
          p.page->mapcount.fetch_sub(1, std::memory_order_relaxed);
          put_page(p.page);
        }
        p.page = nullptr;
      }
    }
  }
  // Back to the pool, as Create makes it, when the set is whole and the
  // reset works; else unmapped.
  bool whole = memfd_ >= 0 && alias_ != nullptr;
  for (int v = 0; v < nr_vmas_; ++v) whole = whole && vmas_[v].start != nullptr;
  if (whole) {
    memset(alias_, 0, len);
    for (int v = 0; v < nr_vmas_ && whole; ++v) {
      whole = mprotect(vmas_[v].start, len, PROT_NONE) == 0;
    }
  }
  if (whole) {
    std::lock_guard<std::mutex> l(PoolMutex());
    if (Pool().size() < kPoolMax) {
      OsMaps o;
      o.pages = pages_;
      o.mappings = nr_vmas_;
      o.memfd = memfd_;
      o.alias = alias_;
      for (int v = 0; v < nr_vmas_; ++v) o.vmas.emplace_back(vmas_[v].reserve, vmas_[v].start);
      Pool().push_back(std::move(o));
      memfd_ = -1;
      alias_ = nullptr;
      for (int v = 0; v < nr_vmas_; ++v) vmas_[v].reserve = nullptr;
    }
  }
  for (int v = 0; v < nr_vmas_; ++v) {
    if (vmas_[v].reserve) munmap(vmas_[v].reserve, len + 2 * page_size_);
  }
  if (alias_) munmap(alias_, len);
  if (memfd_ >= 0) close(memfd_);
  const ShadowMmu* self = this;
  g_newest.compare_exchange_strong(self, nullptr);
}

void ShadowMmu::device_write(uint64_t index, uint32_t offset, const void* src,
                             uint32_t len) const {
  NoteAccess(data_ids_[index], /*write=*/true);
  const off_t off = static_cast<off_t>(index * page_size_ + offset);
  if (pwrite(memfd_, src, len, off) != static_cast<ssize_t>(len)) {
    fprintf(stderr, "pagerace: harness bug: device write to page %llu failed\n",
            static_cast<unsigned long long>(index));
    abort();
  }
}

void ShadowMmu::device_read(uint64_t index, uint32_t offset, void* dst, uint32_t len) const {
  NoteAccess(data_ids_[index], /*write=*/false);
  const off_t off = static_cast<off_t>(index * page_size_ + offset);
  if (pread(memfd_, dst, len, off) != static_cast<ssize_t>(len)) {
    fprintf(stderr, "pagerace: harness bug: device read of page %llu failed\n",
            static_cast<unsigned long long>(index));
    abort();
  }
}

void ShadowMmu::NoteUserAccess(const void* addr, bool write) {
  if (!shared_internal::g_recorder.load(std::memory_order_relaxed)) return;
  const ShadowMmu* mmu = g_newest.load(std::memory_order_acquire);
  int vma;
  uint64_t index;
  if (!mmu || !mmu->Lookup(addr, &vma, &index)) return;
  NoteAccess(mmu->vmas_[vma].ptes[index].prot, /*write=*/false);
  NoteAccess(mmu->data_ids_[index], write);
}

bool ShadowMmu::Lookup(const void* addr, int* vma, uint64_t* index) const {
  auto a = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t len = pages_ * page_size_;
  for (int v = 0; v < nr_vmas_; ++v) {
    auto s = reinterpret_cast<uintptr_t>(vmas_[v].start);
    if (a >= s && a < s + len) {
      *vma = v;
      *index = (a - s) / page_size_;
      return true;
    }
  }
  return false;
}

void ShadowMmu::set_pte(int vma, uint64_t index, PteState state, Page* page) {
  Pte& p = vmas_[vma].ptes[index];
  p.ptl.AssertHeld();
  NoteAccess(p.prot, /*write=*/true);
  if (mprotect(user_addr(vma, index), page_size_, ProtOf(state)) != 0) {
    // The harness cannot model anything once its page tables lie.
    fprintf(stderr, "pagerace: harness failure: mprotect(page %llu, mapping %d): %s\n",
            static_cast<unsigned long long>(index), vma, strerror(errno));
    abort();
  }
  const pte_t old = p.val.load(std::memory_order_relaxed);
  const pte_t frame = state == kPteNone || !page ? 0 : pte_t{page->pool_slot} + 1;
  p.val.store((((old >> kPteGenShift) + 1) << kPteGenShift) | frame << 2 | state,
              std::memory_order_release);
  if (state == kPteNone) {
    if (p.page) {
      p.page->mapcount.fetch_sub(1, std::memory_order_acq_rel);
      put_page(p.page);
    }
    p.page = nullptr;
  } else if (p.page != page) {
    if (page) {
      get_page(page);
      page->mapcount.fetch_add(1, std::memory_order_acq_rel);
    }
    if (p.page) {
      p.page->mapcount.fetch_sub(1, std::memory_order_acq_rel);
      put_page(p.page);
    }
    p.page = page;
  }
  Event e = state == kPteNone      ? Event::kPteClear
            : state == kPteWritable ? Event::kPteMkwrite
            : pte_state(old) == kPteWritable ? Event::kPteWrprotect
                                             : Event::kPteMkRead;
  tracer_->Record(index, e);
}

pte_t ShadowMmu::ptep_get_and_clear(int vma, uint64_t index) {
  Pte& p = vmas_[vma].ptes[index];
  p.ptl.AssertHeld();
  const pte_t old = p.val.load(std::memory_order_relaxed);
  p.val.store(((old >> kPteGenShift) + 1) << kPteGenShift, std::memory_order_release);
  tracer_->Record(index, Event::kPteClear);
  return old;
}

void ShadowMmu::page_remove_rmap(int vma, uint64_t index) {
  Pte& p = vmas_[vma].ptes[index];
  p.ptl.AssertHeld();
  if (!p.page) return;
  p.page->mapcount.fetch_sub(1, std::memory_order_acq_rel);
  put_page(p.page);
  p.page = nullptr;
}

void ShadowMmu::flush_tlb_page(int vma, uint64_t index) {
  Pte& p = vmas_[vma].ptes[index];
  p.ptl.AssertHeld();
  const PteState state = pte_state(p.val.load(std::memory_order_relaxed));
  NoteAccess(p.prot, /*write=*/true);
  if (mprotect(user_addr(vma, index), page_size_, ProtOf(state)) != 0) {
    fprintf(stderr, "pagerace: harness failure: mprotect(page %llu, mapping %d): %s\n",
            static_cast<unsigned long long>(index), vma, strerror(errno));
    abort();
  }
  tracer_->Record(index, Event::kTlbFlush);
}

// Models mm/rmap.c:page_mkclean() as of v2.6.29 (5.15 the same in what the
// model has): nothing for a page no pte maps (the page_mapped() test, read
// without a lock), else every mapping's pte of the page under its ptl
// (page_check_address with sync = 1; 5.15's PVMW_SYNC walk).  Differences:
// the rmap walk is "the same index in every user mapping" (shared file
// mappings only).
bool ShadowMmu::page_mkclean(Page* page) {
  if (!page_mapped(page)) return false;
  bool was_writable = false;
  for (int v = 0; v < nr_vmas_; ++v) {
    Pte& p = vmas_[v].ptes[page->index];
    FutexLock l(&p.ptl);
    if (p.page == page && pte_state(p.val.load(std::memory_order_relaxed)) == kPteWritable) {
      set_pte(v, page->index, kPteReadOnly, page);
      was_writable = true;
    }
  }
  return was_writable;
}

// Models mm/rmap.c:try_to_unmap() -> try_to_unmap_file() ->
// try_to_unmap_one() as of v2.6.29 (same in v2.6.30) for a file page, not
// for migration; differences: the rmap walk is "the same index in every user
// mapping"; no young bit, so never SWAP_FAIL (v2.6.29 fails on a pte whose
// accessed bit was set since page_referenced; the model's reclaim stands for
// the scan that finds it unreferenced), no VM_LOCKED (SWAP_MLOCK); every ptl
// is taken before any pte changes (the kernel takes one at a time under
// i_mmap_lock), and the dirty bit is handed back to the caller, which calls
// set_page_dirty after the ptls are dropped -- v2.6.29 calls it inside
// try_to_unmap_one with that pte's ptl held.  Either way the page lock is
// held throughout and the pte is already gone, so no fault can see the page
// between the pte clear and the set_page_dirty.
// Locks taken in a loop are beyond the thread-safety analysis.
bool ShadowMmu::try_to_unmap(Page* page) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  for (int v = 0; v < nr_vmas_; ++v) vmas_[v].ptes[page->index].ptl.Lock();
  bool dirty = false;
  for (int v = 0; v < nr_vmas_; ++v) {
    Pte& p = vmas_[v].ptes[page->index];
    p.ptl.AssertHeld();
    if (p.page != page) continue;
    // ptep_clear_flush: the pte's dirty bit is read as it goes.
    dirty |= pte_state(p.val.load(std::memory_order_relaxed)) == kPteWritable;
    set_pte(v, page->index, kPteNone, nullptr);
  }
  for (int v = nr_vmas_; v-- > 0;) vmas_[v].ptes[page->index].ptl.Unlock();
  return dirty;
}

void ShadowMmu::zap_index(uint64_t index) {
  for (int v = 0; v < nr_vmas_; ++v) {
    Pte& p = vmas_[v].ptes[index];
    FutexLock l(&p.ptl);
    if (pte_state(p.val.load(std::memory_order_relaxed)) != kPteNone) {
      set_pte(v, index, kPteNone, nullptr);
    }
  }
}

bool ShadowMmu::any_writable(uint64_t index) const {
  for (int v = 0; v < nr_vmas_; ++v) {
    if (pte_state(vmas_[v].ptes[index].val.load(std::memory_order_acquire)) == kPteWritable) {
      return true;
    }
  }
  return false;
}

}  // namespace pagerace
