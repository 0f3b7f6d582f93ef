// One modeled machine: the file's page cache, its user mappings, the adapter,
// the lock scheme, the oracles.  A FaultTarget: the SIGSEGV handler dispatches
// user faults here.
//
// Thread-safety: safe for concurrent access once created.  Components are
// constant after Create(); each synchronises its own state.
#ifndef PAGERACE_HARNESS_MM_MM_CONTEXT_H_
#define PAGERACE_HARNESS_MM_MM_CONTEXT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/base/rwsem.h"
#include "harness/check/invariants.h"
#include "harness/check/oracle.h"
#include "harness/check/root_cause.h"
#include "harness/check/trace.h"
#include "harness/mm/address_space.h"
#include "harness/mm/address_space_ops.h"
#include "harness/mm/fixes.h"
#include "harness/mm/fault_handler.h"
#include "harness/mm/gup.h"
#include "harness/mm/page.h"
#include "harness/mm/schemes.h"
#include "harness/mm/shadow_mmu.h"
#include "harness/mm/writeback.h"
#include "harness/base/shared.h"

namespace pagerace {

struct MmOptions {
  uint64_t pages = 64;
  int mappings = 2;
  // What writeback and reclaim do with a page_maybe_dma_pinned page (gup.h).
  PinWriteback pin_writeback = PinWriteback::kNone;
  // --revert: the fixes whose switches follow the pre-fix source (fixes.h).
  FixSet reverted;
};

class MmContext : public FaultTarget {
 public:
  // Builds the machine and makes it the active fault target.  The scheme and
  // adapter must outlive it.
  static absl::StatusOr<std::unique_ptr<MmContext>> Create(const MmOptions& options,
                                                           FaultScheme* scheme,
                                                           AddressSpaceOps* a_ops);
  ~MmContext() override;

  ShadowMmu& mmu() { return *mmu_; }
  AddressSpace& mapping() { return *mapping_; }
  AddressSpaceOps& a_ops() { return *a_ops_; }
  FaultScheme& scheme() { return *scheme_; }
  Tracer& tracer() { return *tracer_; }
  // Root causes (harness/check/root_cause.h): the windows the fault paths
  // open on a page, and the incidents other paths make inside them.
  CauseTracker& causes() { return tracer_->causes(); }
  // The calling thread's `path` opens / closes a window on page `index`, or
  // makes a transition: recorded in the CauseTracker and as window events in
  // the page's trace (Tracer::OpenWindow).
  void open_window(uint64_t index, FaultPath path, FaultWindow window) {
    tracer_->OpenWindow(index, static_cast<uint8_t>(path), static_cast<uint8_t>(window));
  }
  void close_window(uint64_t index) { tracer_->CloseWindow(index); }
  // A ->page_mkwrite about to return with the page unlocked: opens the
  // window the VM asked for (VmFault::unlocked_window) before the unlock.
  void mkwrite_unlocking(VmFault& vmf) {
    if (vmf.unlocked_window == 0 || vmf.window_opened || (vmf.flags & kFaultFlagPageLocked)) return;
    tracer_->OpenWindow(vmf.pgoff, vmf.unlocked_path, vmf.unlocked_window);
    vmf.window_opened = true;
  }
  void transition(uint64_t index, FaultPath path, FaultWindow window) {
    tracer_->Transition(index, static_cast<uint8_t>(path), static_cast<uint8_t>(window));
  }
  // The caller loses data on `index` by `window`'s mechanism
  // (CauseTracker::Blame): what it loses is reported under that cause.
  void blame(uint64_t index, FaultWindow window) { causes().Blame(index, window); }
  Oracle& oracle() { return *oracle_; }
  // The invariants (harness/check/invariants.h), reporting to oracle().
  Checks& checks() { return *checks_; }
  IoQueue& io() { return *io_; }
  PagePool& pool() { return *pool_; }
  // The one modeled process's mmap_sem: the user fault, get_user_pages and
  // madvise take it for reading, mremap for writing (rwsem.h).
  FutexRwSem& mmap_sem() { return mmap_sem_; }
  uint64_t pages() const { return options_.pages; }
  int mappings() const { return options_.mappings; }
  // Writeback's and reclaim's answer to pinned pages (--pin-writeback).
  PinWriteback pin_writeback() const { return options_.pin_writeback; }
  // Whether fix `f` is reverted in this run (--revert): the code at its
  // switch follows the source before the commit.
  bool reverted(Fix f) const { return options_.reverted.has(f); }
  // Whether this run's code has fix `f`: the scheme's release holds it and
  // it is not reverted.  For a fix whose switch sits outside the scheme's
  // own fault path (zap.h, buffer.c's block_page_mkwrite).
  bool has_fix(Fix f) const { return EraHolds(scheme_->era(), InfoOf(f)) && !reverted(f); }
  // The release the scheme models, for an adapter whose filesystem changed
  // between releases outside any catalogued fix (nfs_vm_page_mkwrite).
  KernelEra era() const { return scheme_->era(); }
  size_t page_size() const { return ShadowMmu::page_size(); }

  void trace(uint64_t index, Event e) { tracer_->Record(index, e); }

  // handle_mm_fault(): the fault path without the signal (tests call it).
  vm_fault_t handle_mm_fault(int vma, uint64_t index, bool write);
  bool HandleUserFault(void* addr, bool write, void* ucontext) override;

  // Installs or changes a user pte (ShadowMmu::set_pte) and checks I5: no
  // pte becomes present or writable for a page whose mapping is gone.
  // REQUIRES: the pte's ptl held.
  void set_pte(int vma, uint64_t index, PteState state, Page* page);

  // mm/page-writeback.c:set_page_dirty(): through ->set_page_dirty while the
  // page has a mapping.
  int set_page_dirty(Page* page);

  // ->page_mkwrite with the bookkeeping every scheme does: counted, traced,
  // and I6 checked when it fails.  Returns the adapter's result unchanged;
  // the lock convention (kVmFaultLocked) is the caller's to handle.
  vm_fault_t call_page_mkwrite(VmFault& vmf);
  // The end of every write fault that made a pte writable: set_page_dirty,
  // leave the I1 window, and check I2.
  void dirty_faulted_page(Page* page);

  // I1's allowed window: a fault between making a pte writable and calling
  // set_page_dirty marks the page.
  void fault_window_enter(Page* page) {
    page->mkwrite_window.fetch_add(1, std::memory_order_acq_rel);
  }
  void fault_window_exit(Page* page) {
    page->mkwrite_window.fetch_sub(1, std::memory_order_acq_rel);
  }

  // --- Oracles at transitions (DESIGN §8) ---
  // Each gathers the page's state and calls its definition in checks().
  // What the VM knows of `page` now (flags, writable ptes, fault window).
  PageState page_state(const Page* page) const;
  // I2, after a path dirtied `page`: the fs must hold dirty-capable metadata.
  // Data-losing when a pte is writable (stores land with nothing to send
  // them); otherwise the next store re-faults into ->page_mkwrite and heals.
  // Skipped for a page wholly past EOF (no file data; see PageState).
  void check_dirty_has_metadata(Page* page);
  // I6, after ->page_mkwrite failed: the faulting pte must not be writable,
  // or stores land that the fs refused.
  void check_failed_mkwrite(const VmFault& vmf);
  // Whether the filesystems' ->page_mkwrite run their 5.15 stable-page waits
  // (the scheme models 5.15): the stable-page question, asked here only
  // (era() and has_fix() answer the others).
  bool stable_page_era() const { return scheme_->stable_pages(); }
  // The mutant switch that skips those waits (mutant:no_stable_wait).
  bool skip_stable_wait() const { return scheme_->skips_stable_wait(); }
  // As a fault makes a pte writable under a 5.15-era scheme.  Where the
  // filesystem's 5.15 ->page_mkwrite waits for writeback (stable_writes()),
  // I7: the page must not be under writeback, or stores land in the middle
  // of the I/O.  Elsewhere a page under writeback is allowed (5.15 on a
  // device without stable writes) and counted (writable_during_writeback).
  void check_stable_write(Page* page);
  // I1, as writeback marks a page clean: no pte may still be writable (unless
  // a fault is inside its pte_mkwrite -> set_page_dirty window).
  void check_clean_not_writable(Page* page);
  // The accounting half of clear_page_dirty_for_io and cancel_dirty_page,
  // after their TestClearPageDirty found `page` dirty: a page still this
  // mapping's is un-counted from NR_FILE_DIRTY (AddressSpace::
  // account_page_cleaned), and I10 checked.  A detached page is not counted
  // (the kernel's `if (mapping && mapping_cap_account_dirty(mapping))`).
  void account_page_cleaned(Page* page);
  // I3, before ->writepage of a page clean_page_dirty_for_io found dirty;
  // skipped for a page wholly past EOF.
  void check_writepage_has_metadata(Page* page);
  // The tid holding the lock of the cached page `index` (0: none, or not
  // cached): for deadlock reports (DescribeLockWaits).
  uint32_t page_lock_owner(uint64_t index);
  // Whether `page` lies wholly at or past i_size now (PageState::past_eof).
  bool page_past_eof(const Page* page) const;
  // The tail [from, page end) of `page` holds unspecified bytes: v2.6.29/30
  // growth (vmtruncate writing i_size alone) leaves whatever an mmap store
  // put past the old EOF in the page, now inside i_size, where POSIX says
  // the grown part reads as zeros and the kernel's store has zeros.  Those
  // bytes are recorded as they are at the growth; I0 accepts a tail byte
  // that differs from the store while it still holds that recorded value
  // (unspecified, not lost), and checks any byte a later store changed.
  // Cleared when the page is read from the store again (a shrink into the
  // page zeroes past its new end in page and store alike, and keeps the
  // record; a second growth extends it downwards, never upwards).
  void mark_stale_tail(Page* page, uint32_t from);
  void clear_stale_tail(uint64_t index);
  // Whether the page's bytes (within i_size; a stale tail as above) equal
  // the backing store's; if not and `detail` is given, says where they
  // first differ.
  // REQUIRES: page locked and not writable anywhere.
  bool page_matches_store(Page* page, char* detail = nullptr, size_t detail_len = 0);
  // A user write whose bytes may be in the page before the user has seen it
  // complete: a pwrite(2) from its copy until generic_perform_write returns,
  // a direct I/O from the device's write until set_page_dirty_lock.  fsync(2)
  // owes nothing to a write that was not complete when it was called, so I8
  // leaves such a slot out (do_fsync).  One writer per slot (the ledger's),
  // so a slot has at most one write in flight.  Lock-free; the begin is
  // ordered before the write's bytes (a fence), the end after the write's
  // last step.
  void user_write_begin(uint64_t index, uint32_t slot);
  void user_write_end(uint64_t index, uint32_t slot);
  // The slots of page `index` whose write is in flight, appended to
  // `slots`.  Called after reading the page's bytes; one fence for the page,
  // then a load per slot: a write whose bytes the read saw is either still
  // in flight here or complete.
  void user_writes_in_flight(uint64_t index, std::vector<uint32_t>* slots) const;

  // The auditor: I0, I1, I2 for one page, holding the page lock and every
  // ptl of the page (page lock -> ptl order).  Skips a page it cannot lock
  // without waiting.
  void audit_page(uint64_t index);
  void audit_all();

 private:
  FutexRwSem mmap_sem_{LockClass::kMmapSem, "mmap_sem"};
  MmContext(const MmOptions& options, FaultScheme* scheme, AddressSpaceOps* a_ops);

  const MmOptions options_;
  FaultScheme* const scheme_;
  AddressSpaceOps* const a_ops_;
  // Constant after Create().
  std::unique_ptr<Tracer> tracer_;
  std::unique_ptr<Oracle> oracle_;
  std::unique_ptr<Checks> checks_;
  std::unique_ptr<PagePool> pool_;
  std::unique_ptr<ShadowMmu> mmu_;
  std::unique_ptr<AddressSpace> mapping_;
  std::unique_ptr<IoQueue> io_;
  // Per page: the first byte of a stale tail (page size: none) and the
  // tail's bytes as recorded at the growth.  A leaf lock (nothing is taken
  // under it): the record is harness bookkeeping, taken where the kernel
  // takes no lock.
  mutable FutexMutex stale_mu_{LockClass::kStaleTail, "stale tail record"};
  std::unique_ptr<uint32_t[]> stale_from_ ABSL_GUARDED_BY(stale_mu_);
  std::unique_ptr<std::unique_ptr<uint8_t[]>[]> stale_bytes_ ABSL_GUARDED_BY(stale_mu_);
  // Per page and 8-byte slot: 1 while a user write to it is in flight
  // (user_write_begin).  Constant size after Create().
  std::unique_ptr<Shared<uint8_t>[]> write_in_flight_;
  // Set by the first mark_stale_tail: until then clear_stale_tail (called
  // from every readpage, on the fault path) has nothing to clear and takes
  // no lock.
  Shared<bool> any_stale_{false};
};

// memory.c pieces shared by every scheme.
// Read fault on a not-present pte: ->fault, then a read-only pte.
vm_fault_t do_read_fault(MmContext& mm, VmFault& vmf);
// The default ->fault (filemap_fault): the page at vmf.pgoff, locked, with a
// reference, read from the store if not uptodate.  kVmFaultSigbus past EOF.
vm_fault_t filemap_fault(MmContext& mm, VmFault& vmf);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_MM_CONTEXT_H_
