#include "harness/mm/mm_context.h"

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <vector>

#include "harness/check/root_cause.h"
#include "harness/base/clock.h"
#include "harness/base/thread_registry.h"
#include "harness/mm/recovery.h"
#include "harness/base/stats.h"
#include "harness/sched/sched.h"

namespace pagerace {

MmContext::MmContext(const MmOptions& options, FaultScheme* scheme, AddressSpaceOps* a_ops)
    : options_(options), scheme_(scheme), a_ops_(a_ops) {}

absl::StatusOr<std::unique_ptr<MmContext>> MmContext::Create(const MmOptions& options,
                                                             FaultScheme* scheme,
                                                             AddressSpaceOps* a_ops) {
  std::unique_ptr<MmContext> mm(new MmContext(options, scheme, a_ops));
  mm->tracer_ = std::make_unique<Tracer>(options.pages, now_ns());
  mm->oracle_ = std::make_unique<Oracle>(mm->tracer_.get());
  mm->checks_ = std::make_unique<Checks>(mm->oracle_.get(), mm->tracer_.get());
  // References that can pin a page object besides the cache: a pte per
  // mapping, faults in flight, I/O, fs metadata.  Three generations per index
  // plus slack covers every page being evicted and re-read while old objects
  // are still pinned.
  mm->pool_ = std::make_unique<PagePool>(options.pages * 3 + 64);
  auto mmu = ShadowMmu::Create(options.pages, options.mappings, mm->tracer_.get());
  if (!mmu.ok()) return mmu.status();
  mm->mmu_ = std::move(*mmu);
  mm->mapping_ = std::make_unique<AddressSpace>(options.pages, mm->pool_.get(),
                                                mm->tracer_.get());
  mm->mapping_->set_a_ops(a_ops);
  mm->mapping_->set_i_size(static_cast<int64_t>(options.pages * ShadowMmu::page_size()));
  mm->io_ = std::make_unique<IoQueue>(mm.get(), options.pages + 1);
  {
    FutexLock stale_lock(&mm->stale_mu_);
    mm->stale_from_.reset(new uint32_t[options.pages]);
    mm->stale_bytes_.reset(new std::unique_ptr<uint8_t[]>[options.pages]);
    for (uint64_t i = 0; i < options.pages; ++i) {
      mm->stale_from_[i] = static_cast<uint32_t>(ShadowMmu::page_size());
    }
  }
  mm->write_in_flight_.reset(
      new Shared<uint8_t>[options.pages * (ShadowMmu::page_size() / sizeof(uint64_t))]());
  a_ops->Attach(mm.get());
  InstallFaultHandler();
  SetFaultTarget(mm.get());
  return mm;
}

void MmContext::user_write_begin(uint64_t index, uint32_t slot) {
  write_in_flight_[index * (page_size() / sizeof(uint64_t)) + slot].store(
      1, std::memory_order_relaxed);
  // The flag before the bytes: a reader that sees the bytes sees the flag.
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void MmContext::user_write_end(uint64_t index, uint32_t slot) {
  write_in_flight_[index * (page_size() / sizeof(uint64_t)) + slot].store(
      0, std::memory_order_release);
}

void MmContext::user_writes_in_flight(uint64_t index, std::vector<uint32_t>* slots) const {
  const uint32_t per_page = static_cast<uint32_t>(page_size() / sizeof(uint64_t));
  const Shared<uint8_t>* flags = &write_in_flight_[index * per_page];
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (uint32_t slot = 0; slot < per_page; ++slot) {
    if (flags[slot].load(std::memory_order_relaxed) != 0) slots->push_back(slot);
  }
}

MmContext::~MmContext() {
  SetFaultTarget(nullptr);
  // Drop the ptes' references before the pages' pool goes.
  mmu_.reset();
}

bool MmContext::HandleUserFault(void* addr, bool write, void* ucontext) {
  int vma;
  uint64_t index;
  if (!mmu_->Lookup(addr, &vma, &index)) return false;
  if (!current_thread().user_access) {
    // Writeback, the pwrite path and the oracles use the kernel alias only.
    static const char kMsg[] =
        "pagerace: harness bug: a thread without user access faulted on a user mapping\n";
    (void)!::write(2, kMsg, sizeof(kMsg) - 1);
    abort();
  }
  // The access that faulted read the real protection (shared.h).
  NoteAccess(mmu_->pte(vma, index).prot, /*write=*/false);
  const int64_t t0 = now_ns();
  const pte_t pte_before = mmu_->pte(vma, index).val.load(std::memory_order_acquire);
  const int64_t isize_before = mapping_->i_size();
  vm_fault_t ret;
  {
    // do_page_fault: down_read(&mm->mmap_sem) around handle_mm_fault.
    ReadLockScope mmap_read(&mmap_sem_);
    ret = handle_mm_fault(vma, index, write);
  }
  // A retry (VM_FAULT_NOPAGE) of a fault on a present pte that finds the
  // pte and i_size as they were would fault the same way again: only another
  // thread can end it (a truncate between setting i_size and unmapping the
  // page, whose ->page_mkwrite sees it wholly past EOF).  A page truncated
  // under the fault has lost its pte already; a not-present fault past EOF
  // fails in ->fault.
  if ((ret & kVmFaultNoPage) && pte_state(pte_before) != kPteNone &&
      mmu_->pte(vma, index).val.load(std::memory_order_acquire) == pte_before &&
      mapping_->i_size() == isize_before) {
    sched::SpinRetry();
  }
  if (ret & kVmFaultError) {
    // The kernel would deliver SIGBUS: no store lands.
    CountStat(Stat::kRefused);
    if (fixup_failed_access(ucontext)) return true;
    static const char kMsg[] =
        "pagerace: harness bug: a fault failed (SIGBUS) outside a guarded access\n";
    (void)!::write(2, kMsg, sizeof(kMsg) - 1);
    abort();
  }
  if (ThreadStats* st = current_thread().stats) {
    st->fault_latency.Add(static_cast<uint64_t>(now_ns() - t0));
  }
  return true;
}

void MmContext::set_pte(int vma, uint64_t index, PteState state, Page* page) {
  checks_->PteAfterTruncate(index, state != kPteNone,
                            page->mapping.load(std::memory_order_acquire) != nullptr);
  mmu_->set_pte(vma, index, state, page);
}

// Models mm/page-writeback.c:set_page_dirty() as of v2.6.29.
int MmContext::set_page_dirty(Page* page) {
  if (page->mapping.load(std::memory_order_acquire) != nullptr) {
    int r = a_ops_->set_page_dirty(page);
    trace(page->index, Event::kSetPageDirty);
    return r;
  }
  // Detached page: no fs to tell; only the flag.
  return TestSetPageFlag(page, PG_dirty) ? 0 : 1;
}

void MmContext::account_page_cleaned(Page* page) {
  if (page->mapping.load(std::memory_order_acquire) != mapping_.get()) return;
  const bool counted = mapping_->account_page_cleaned(page);
  checks_->DirtyAccounted(page->index, counted, mapping_->nr_file_dirty());
}

PageState MmContext::page_state(const Page* page) const {
  PageState s;
  s.index = page->index;
  // Read in the reverse of a fault's order (window enter, pte writable,
  // set_page_dirty, window exit), so a fault that runs its whole window
  // between two of these reads cannot look like a writable, clean page
  // outside any window (a false I1, seen under TSan's slower timing): a
  // writable pte read here implies its fault's window enter; a window then
  // read closed implies its set_page_dirty, which the dirty read sees.
  s.writable = mmu_->any_writable(page->index);
  s.in_fault_window = page->mkwrite_window.load(std::memory_order_acquire) > 0;
  // A device write ends after its set_page_dirty (set_page_dirty_lock), as a
  // fault's window does: read before PG_dirty for the same reason.
  s.gup_write = page->gup_write.load(std::memory_order_acquire) > 0;
  s.dirty = PageDirty(page);
  s.writeback = PageWriteback(page);
  s.past_eof = page_past_eof(page);
  return s;
}

bool MmContext::page_past_eof(const Page* page) const {
  return mapping_->i_size() <= static_cast<int64_t>(page->index * page_size());
}

void MmContext::check_dirty_has_metadata(Page* page) {
  if (page->mapping.load(std::memory_order_acquire) == nullptr) return;  // truncated: no fs
  // Wholly past EOF: no file data to lose; the truncate under way drops it.
  if (page_past_eof(page)) return;
  // Without the page lock (legacy's fault path after it unlocked, reclaim's
  // try_to_unmap) a whole writeback may have cleaned the page and retired
  // its metadata since this path's set_page_dirty: a clean page without
  // metadata breaks nothing.  So the metadata is read, then PG_dirty, then
  // the metadata again, and only a page dirty between two reads that both
  // lack metadata is reported (a fault attaching metadata in between shows
  // in the second read).
  const bool writable = mmu_->any_writable(page->index);
  if (CarriesData(a_ops_->metadata_state(page, writable))) return;
  if (!PageDirty(page)) return;
  const bool still_writable = mmu_->any_writable(page->index);
  checks_->DirtyHasMetadata(page->index, still_writable,
                            a_ops_->metadata_state(page, still_writable));
}

namespace {

// Copies bytes of a page without its lock: user stores change them at any
// time by design, and a writepage holding the page lock may be zeroing the
// part past the i_size it read (as __block_write_full_page does in the
// kernel, racing the same growth).  A torn copy is harmless where this is
// used (mark_stale_tail: a zeroed byte matches the store's zero either way),
// so the copy is kept out of TSan's instrumentation, byte by byte through a
// volatile pointer so that it does not become an (intercepted) memcpy.
__attribute__((no_sanitize("thread"))) void CopyUnlockedPageBytes(uint8_t* dst,
                                                                  const uint8_t* src, size_t n) {
  const volatile uint8_t* from = src;
  for (size_t i = 0; i < n; ++i) dst[i] = from[i];
}

}  // namespace

uint32_t MmContext::page_lock_owner(uint64_t index) {
  Page* p = mapping_->find_get_page(index);
  if (!p) return 0;
  const uint32_t owner = p->lock_owner.load(std::memory_order_acquire);
  put_page(p);
  return owner;
}

void MmContext::mark_stale_tail(Page* page, uint32_t from) {
  const uint64_t index = page->index;
  const size_t ps = page_size();
  FutexLock l(&stale_mu_);
  if (!stale_bytes_[index]) stale_bytes_[index].reset(new uint8_t[ps]);
  CopyUnlockedPageBytes(stale_bytes_[index].get() + from, mmu_->kmap(index) + from, ps - from);
  // A tail recorded at an earlier growth stays stale below `from` (a shrink
  // since then zeroed only past its own new end, in page and store alike).
  stale_from_[index] = std::min(stale_from_[index], from);
  any_stale_.store(true, std::memory_order_release);
}

void MmContext::clear_stale_tail(uint64_t index) {
  if (!any_stale_.load(std::memory_order_acquire)) return;
  FutexLock l(&stale_mu_);
  stale_from_[index] = static_cast<uint32_t>(page_size());
}

bool MmContext::page_matches_store(Page* page, char* detail, size_t detail_len) {
  const size_t ps = page_size();
  const int64_t isize = mapping_->i_size();
  const int64_t start = static_cast<int64_t>(page->index * ps);
  if (isize <= start) return true;
  const size_t n = std::min<size_t>(ps, static_cast<size_t>(isize - start));
  uint8_t persisted[65536];
  if (ps > sizeof(persisted)) abort();
  a_ops_->read_persisted(page->index, persisted);
  const uint8_t* mem = mmu_->kmap(page->index);
  if (memcmp(mem, persisted, n) == 0) return true;
  // A byte of a stale tail still holding its value from the growth is
  // unspecified, not lost (mark_stale_tail).
  FutexLock l(&stale_mu_);
  const size_t stale = stale_from_[page->index];
  const uint8_t* was = stale_bytes_[page->index].get();
  size_t off = 0;
  while (off < n && (mem[off] == persisted[off] || (off >= stale && mem[off] == was[off]))) ++off;
  if (off == n) return true;
  if (detail) {
    snprintf(detail, detail_len, "page bytes differ from the store at offset %zu (i_size %lld)",
             off, static_cast<long long>(isize));
  }
  return false;
}

vm_fault_t MmContext::call_page_mkwrite(VmFault& vmf) {
  CountStat(Stat::kMkwriteCalls);
  trace(vmf.pgoff, Event::kPageMkwriteEnter);
  const vm_fault_t ret = a_ops_->page_mkwrite(vmf);
  if (ret & (kVmFaultError | kVmFaultNoPage)) {
    trace(vmf.pgoff, (ret & kVmFaultError) ? Event::kPageMkwriteFail : Event::kPageMkwriteRetry);
    if (ret & kVmFaultError) check_failed_mkwrite(vmf);
    if (ret & kVmFaultSigbus) {
      // I9: 56a76f8275c3's point -- a page truncated or invalidated under
      // ->page_mkwrite is a retry, not a SIGBUS, while the file covers it.
      const bool gone = vmf.page->mapping.load(std::memory_order_acquire) != mapping_.get();
      const bool inside = static_cast<int64_t>(vmf.pgoff * page_size()) < mapping_->i_size();
      // The refusal itself is the faulty step: a transition, no intruder.
      if (gone && inside) {
        transition(vmf.pgoff, FaultPath::kPageMkwrite, FaultWindow::kSigbusForTruncatedPage);
      }
      checks_->SigbusAfterTruncate(vmf.pgoff, gone, inside);
    }
    return ret;
  }
  trace(vmf.pgoff, (ret & kVmFaultLocked) ? Event::kPageMkwriteReturnLocked
                                          : Event::kPageMkwriteReturn);
  return ret;
}

void MmContext::dirty_faulted_page(Page* page) {
  set_page_dirty(page);
  close_window(page->index);
  fault_window_exit(page);
  check_dirty_has_metadata(page);
  SCHED_POINT(kFaultAfterSetPageDirty);
}

void MmContext::check_failed_mkwrite(const VmFault& vmf) {
  // Only this fault's own pte counts: unchanged since the fault saw (or, in a
  // mutant, made) it, and writable.  A pte another fault has since made
  // writable legitimately is a different pte value.
  // The whole value, generation included: the harness's own identity check.
  const pte_t now = mmu_->pte(vmf.vma, vmf.pgoff).val.load(std::memory_order_acquire);
  checks_->FailedMkwrite(vmf.pgoff, now == vmf.orig_pte && pte_state(now) == kPteWritable);
}

void MmContext::check_stable_write(Page* page) {
  const bool writeback = PageWriteback(page);
  const bool stable = stable_page_era() && a_ops_->stable_writes();
  if (writeback && !stable) CountStat(Stat::kWritableDuringWriteback);
  checks_->StableWrite(page->index, stable, writeback);
}

void MmContext::check_clean_not_writable(Page* page) { checks_->CleanNotWritable(page_state(page)); }

void MmContext::check_writepage_has_metadata(Page* page) {
  if (page_past_eof(page)) return;  // nothing of the file's to send
  checks_->WritepageHasMetadata(page->index,
                                a_ops_->metadata_state(page, mmu_->any_writable(page->index)),
                                [&] { return page_matches_store(page); });
}

// Locks taken in a loop are beyond the thread-safety analysis.
void MmContext::audit_page(uint64_t index) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Page* page = mapping_->find_get_page(index);
  if (!page) return;
  if (!trylock_page(page)) {
    put_page(page);
    return;
  }
  if (page->mapping.load(std::memory_order_acquire) == mapping_.get() && PageUptodate(page)) {
    const int n = mmu_->nr_vmas();
    for (int v = 0; v < n; ++v) mmu_->pte(v, index).ptl.Lock();
    // With the page lock and every ptl held, the page holds still.
    const PageState state = page_state(page);
    checks_->Audit(state, a_ops_->metadata_state(page, state.writable),
                   [&](char* detail, size_t len) { return page_matches_store(page, detail, len); });
    for (int v = n; v-- > 0;) mmu_->pte(v, index).ptl.Unlock();
  }
  unlock_page(page);
  put_page(page);
}

void MmContext::audit_all() {
  for (uint64_t i = 0; i < options_.pages; ++i) audit_page(i);
  a_ops_->check_invariants();
}

}  // namespace pagerace
