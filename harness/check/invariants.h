// Every invariant of DESIGN §8, defined once (numbers and names in
// invariants.def).  The model calls these at its transitions, and the
// auditor with the page lock and every ptl of the page held, passing what
// it knows of the page (a PageState) and, where an invariant needs the
// filesystem's view, what the adapter declares through its interface
// (MetadataState, its counters).  Each reports through the Oracle.
//
// The layer below the model: nothing here knows a Page, a pte or an
// adapter, so the same definitions serve every scheme and filesystem.
//
// Thread-safety: safe for concurrent use (the Oracle synchronises); a
// CounterInvariant is protected by the lock that protects its counters.
#ifndef PAGERACE_HARNESS_CHECK_INVARIANTS_H_
#define PAGERACE_HARNESS_CHECK_INVARIANTS_H_

#include <cstddef>
#include <cstdint>

#include "absl/functional/function_ref.h"
#include "harness/check/oracle.h"
#include "harness/check/trace.h"

namespace pagerace {

// What the filesystem holds for a page, as the invariants ask it (I2, I3);
// each adapter answers through AddressSpaceOps::metadata_state.
enum class MetadataState {
  kNotTracked,       // the fs keeps no per-page dirty metadata (tmpfs-like)
  kDirtyCapable,     // metadata present and able to carry the page's data out
  kNotDirtyCapable,  // present but will not send new data (e.g. commit-pending)
  kAbsent,           // none: writepage would send nothing
};
inline bool CarriesData(MetadataState m) {
  return m == MetadataState::kNotTracked || m == MetadataState::kDirtyCapable;
}

// A page as the VM sees it at a check.
struct PageState {
  uint64_t index = 0;
  bool dirty = false;            // PG_dirty
  bool writeback = false;        // PG_writeback
  bool writable = false;         // a user pte maps it writable
  bool in_fault_window = false;  // a fault between pte_mkwrite and set_page_dirty
  // A get_user_pages write reference whose set_page_dirty_lock has not run:
  // the device may be writing the page (a writable mapping the rmap does not
  // see).  Like a writable pte, the bytes may be newer than the store.
  bool gup_write = false;
  // Wholly at or past i_size: none of its bytes are the file's.  Only a
  // shrinking truncate that has set i_size and not yet removed the page
  // leaves such a page cached, and that truncate discards it (and whatever a
  // store put there) whatever its state.
  bool past_eof = false;
};

// The details that classify an I2 or I3 report (and split its signature:
// race_signature.h SignatureVariant).
inline constexpr char kI2Writable[] = "writable: stores land with no fs metadata to write them out";
inline constexpr char kI2ReadOnly[] = "read-only: the next store re-faults into ->page_mkwrite";
inline constexpr char kI3Unsent[] = "the page holds bytes the store lacks";
inline constexpr char kI3NothingNew[] = "the page holds nothing the store lacks";

class Checks {
 public:
  Checks(Oracle* oracle, Tracer* tracer) : oracle_(oracle), tracer_(tracer) {}

  // I0 coherence: a page the VM considers clean (not dirty, not under
  // writeback, writable nowhere, no device write under way through a
  // get_user_pages reference) holds its backing store's bytes.
  // `matches_store` compares them (filling a detail on a mismatch); it is
  // called only for a clean page.
  void CleanMatchesStore(const PageState& page,
                         absl::FunctionRef<bool(char* detail, size_t len)> matches_store);
  // I1, as writeback makes a page clean: no pte may still be writable,
  // unless a fault is inside its pte_mkwrite -> set_page_dirty window.
  void CleanNotWritable(const PageState& page);
  // I2, after a path dirtied the page (or the auditor found it dirty or
  // writable): the fs holds metadata that carries data.  Not data-losing by
  // itself (race_kinds.def): with a writable pte stores land with nothing to
  // send them, and what becomes of them is the next writepage's outcome (I0
  // when the fs declares the page clean unsent, nothing when btrfs's fixup
  // writes it); read-only, the next store re-faults into ->page_mkwrite and
  // heals.  The report's detail says which.  Not asked of a page
  // wholly past EOF (PageState::past_eof): it carries no file data, and
  // ->page_mkwrite may legitimately make none for it (nfs_vm_page_mkwrite,
  // v2.6.29/30, with nfs_page_length() == 0).
  void DirtyHasMetadata(uint64_t index, bool writable, MetadataState metadata);
  // I3, before ->writepage of a page clear_page_dirty_for_io found dirty.
  // Not data-losing by itself: the detail says whether the page holds bytes
  // the store lacks (`matches_store` false); the loss is what the fs's
  // writepage then does with them (I0, the ledger, or a kernel_bug).
  void WritepageHasMetadata(uint64_t index, MetadataState metadata,
                            absl::FunctionRef<bool()> matches_store);
  // I5, as a pte is installed or changed: it may not become present for a
  // page whose mapping is gone (truncated).
  void PteAfterTruncate(uint64_t index, bool present, bool mapped);
  // I6, after ->page_mkwrite failed: the fault's own pte (unchanged since
  // the fault saw it) must not be writable ...
  void FailedMkwrite(uint64_t index, bool own_pte_writable);
  // I9, after ->page_mkwrite refused a fault with SIGBUS: not for a page
  // that left the mapping (truncated or invalidated) while i_size still
  // covers its index (`inside_isize`, read after the refusal).
  void SigbusAfterTruncate(uint64_t index, bool page_gone, bool inside_isize);
  // ... and, seen from the refused store: its stamp must not have landed.
  void RefusedStoreLanded(uint64_t index, uint64_t expected, uint64_t landed);
  // I7, as a fault makes a pte writable under a stable-pages scheme: the
  // page must not be under writeback.
  void StableWrite(uint64_t index, bool stable_pages, bool writeback);
  // I8: fsync returned while page `index`, dirty at its call, holds on the
  // backing store `found` where the page held `want` (one slot's stamps).
  void FsyncMissed(uint64_t index, uint64_t want, uint64_t found);
  // I10, as clear_page_dirty_for_io or cancel_dirty_page un-counts a page
  // they found PG_dirty: `counted` is whether the page was counted (or a
  // set_page_dirty is about to count it); `nr_file_dirty` the file's count
  // after the decrement.
  void DirtyAccounted(uint64_t index, bool counted, int64_t nr_file_dirty);
  // The auditor's pass over one page, which holds still for it: I1 and I2
  // unless a fault is inside its window, then I0.
  void Audit(const PageState& page, MetadataState metadata,
             absl::FunctionRef<bool(char* detail, size_t len)> matches_store);
  // The data ledger: a slot holds its writer's last stamp; zero is allowed
  // when the page was truncated since that store.  Reports lost_write and
  // returns false otherwise.
  bool LedgerSlot(uint64_t page, uint64_t expected, uint64_t found, bool truncated_since);

  Oracle& oracle() { return *oracle_; }

 private:
  Oracle* const oracle_;
  Tracer* const tracer_;
};

// I4: an adapter counter equals what it counts and never goes negative
// (ceph's wrbuffer_ref against the pages holding a snap context; btrfs's
// space: free + reserving + delalloc against the capacity).  The adapter
// declares the two sides; one drift is one report.
//
// Thread-safety: REQUIRES the lock that protects the adapter's counters.
class CounterInvariant {
 public:
  // `format` describes the counters for a report (called only on a drift).
  using Format = absl::FunctionRef<void(char* detail, size_t len)>;
  void Check(Oracle& oracle, uint64_t index, int64_t counter, int64_t counted,
             int64_t must_not_be_negative, Format format);

 private:
  int64_t reported_drift_ = 0;  // the drift last reported
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CHECK_INVARIANTS_H_
