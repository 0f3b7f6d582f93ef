#include "workloads/mixed.h"

#include <time.h>

#include <algorithm>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fs_adapters/backing_store.h"
#include "harness/base/stats.h"
#include "harness/check/root_cause.h"
#include "harness/mm/filemap.h"
#include "harness/mm/invalidate.h"
#include "harness/mm/migrate.h"
#include "harness/mm/gup.h"
#include "harness/sched/sched.h"
#include "harness/mm/punch.h"
#include "harness/mm/recovery.h"
#include "harness/mm/truncate.h"
#include "harness/mm/writeback.h"
#include "harness/mm/mremap.h"
#include "harness/mm/zap.h"

namespace pagerace {
namespace {

uint64_t WriterSeed(uint64_t seed, int writer) {
  uint64_t s = seed ^ (0xa0761d6478bd642fULL * static_cast<uint64_t>(writer + 1));
  return splitmix64(s);
}

}  // namespace

constexpr uint64_t kNoSeq = ~0ULL;

MixedWorkload::MixedWorkload(MmContext* mm, Ledger* ledger, const MixedOptions& options)
    : mm_(mm),
      ledger_(ledger),
      options_(options),
      trunc_seq_(new Shared<uint64_t>[mm->pages()]()),
      seq_at_store_(mm->pages() * ledger->slots_per_page(), 0),
      lost_to_detach_(mm->pages() * ledger->slots_per_page(), 0) {}

void MixedWorkload::CheckSlot(uint64_t page, uint32_t slot, uint64_t found) {
  uint64_t& expected = ledger_->expected(page, slot);
  if (found == expected) return;
  if (lost_to_detach_[page * ledger_->slots_per_page() + slot]) {
    mm_->blame(page, FaultWindow::kRemovedReferencedPage);
  }
  const uint64_t at_store = seq_at_store_[page * ledger_->slots_per_page() + slot];
  const bool truncated_since = at_store != trunc_seq(page);
  if (mm_->checks().LedgerSlot(page, expected, found, truncated_since)) {
    expected = 0;  // truncated since the store: the data was thrown away
  }
}

void NoteStaleTlbStore(MmContext& mm, int vma, uint64_t page, pte_t before) {
  // A fault that let the store in changed the pte (its generation at
  // least); an unchanged pte that is not writable let it in through the
  // real protection a zap has not flushed yet.
  if (pte_state(before) == kPteWritable) return;
  if (mm.mmu().pte(vma, page).val.load(std::memory_order_acquire) != before) return;
  mm.trace(page, Event::kStaleTlbStore);
}

void MixedWorkload::StoreOp(int writer, int vma, uint64_t page, uint32_t slot, uint64_t* seq) {
  auto* addr = reinterpret_cast<uint64_t*>(mm_->mmu().user_addr(vma, page)) + slot;
  uint64_t& expected = ledger_->expected(page, slot);
  // Read-back: only this writer stores here, so anything but its last stamp
  // means a store was lost (the load may take a read fault).
  const uint64_t seq_before = trunc_seq(page);
  // A slot past EOF now: what lands there is not the file's (zeroed at
  // writeout), so the stamp is not expected to persist.
  const bool past_eof =
      static_cast<int64_t>(page * mm_->page_size() + (slot + 1) * sizeof(uint64_t)) >
      mm_->mapping().i_size();
  uint64_t found;
  if (!guarded_load(addr, &found)) return;  // past EOF
  CountStat(Stat::kReadbacks);
  CheckSlot(page, slot, found);
  const uint64_t stamp = Ledger::Stamp(static_cast<uint32_t>(writer), ++*seq);
  CountStat(Stat::kOps);
  const pte_t pte_before = mm_->mmu().pte(vma, page).val.load(std::memory_order_acquire);
  if (guarded_store(addr, stamp)) {  // may take a write fault
    NoteStaleTlbStore(*mm_, vma, page, pte_before);
    expected = stamp;
    const uint64_t seq_after = trunc_seq(page);
    seq_at_store_[page * ledger_->slots_per_page() + slot] =
        (seq_before == seq_after && !(seq_after & 1) && !past_eof) ? seq_after : kNoSeq;
    return;
  }
  // Refused (SIGBUS): the store must not have landed (I6's other half).
  uint64_t after;
  if (guarded_load(addr, &after) && after == stamp) {
    mm_->checks().RefusedStoreLanded(page, expected, after);
  }
}

void MixedWorkload::MmapStep(int w, Rng* rng, uint64_t* seq) {
  const uint64_t page =
      options_.isize && rng->Below(2) ? mm_->pages() - 1 : rng->Below(span());
  const uint32_t slot = ledger_->owned_slot(
      static_cast<uint32_t>(w),
      static_cast<uint32_t>(rng->Below(ledger_->owned_slots(static_cast<uint32_t>(w)))));
  const int vma = static_cast<int>(rng->Below(static_cast<uint64_t>(mm_->mmu().nr_vmas())));
  if (options_.mremap_one_in && mm_->mmu().nr_vmas() > 1 &&
      rng->Below(options_.mremap_one_in) == 0) {
    // mremap of the page from one mapping to a later one (rmap order).
    const int from = static_cast<int>(rng->Below(static_cast<uint64_t>(mm_->mmu().nr_vmas() - 1)));
    const int to = from + 1 +
                   static_cast<int>(rng->Below(static_cast<uint64_t>(mm_->mmu().nr_vmas() - 1 - from)));
    move_page_pte(*mm_, from, to, page);
    return;
  }
  if (options_.zap_one_in && rng->Below(options_.zap_one_in) == 0) {
    madvise_dontneed(*mm_, vma, page);
    return;
  }
  StoreOp(w, vma, page, slot, seq);
}

void MixedWorkload::GupStep(int g, Rng* rng, uint64_t* seq) {
  const uint64_t page = rng->Below(span());
  const uint32_t slot = ledger_->owned_slot(
      static_cast<uint32_t>(g),
      static_cast<uint32_t>(rng->Below(ledger_->owned_slots(static_cast<uint32_t>(g)))));
  const int vma = static_cast<int>(rng->Below(static_cast<uint64_t>(mm_->mmu().nr_vmas())));
  GupOp(g, vma, page, slot, seq);
}

void MixedWorkload::GupOp(int writer, int vma, uint64_t page, uint32_t slot, uint64_t* seq,
                          bool paced) {
  GupIo io;
  if (!GupPin(vma, page, slot, &io)) return;
  SCHED_POINT(kGupAfterPin);
  // The I/O's latency: the device has the page for this long (pacing, so
  // writeback and reclaim get to the pinned page as they would while a real
  // direct I/O is in flight; no thread waits on it).
  if (paced && options_.gup_io_ns > 0) {
    timespec ts{0, static_cast<long>(options_.gup_io_ns)};
    nanosleep(&ts, nullptr);
  }
  GupDeviceWrite(writer, io, seq);
  SCHED_POINT(kGupAfterDeviceWrite);
  GupComplete(&io);
}

bool MixedWorkload::GupPin(int vma, uint64_t page, uint32_t slot, GupIo* io) {
  const GupResult r = get_user_pages_one(*mm_, vma, page, options_.gup_mode);
  if (!r.page) return false;
  io->page = r.page;
  io->index = page;
  io->slot = slot;
  io->mode = options_.gup_mode;
  mm_->trace(page, Event::kGupTake);
  // From here to set_page_dirty_lock the page is the device's: a writeback
  // or reclaim that cleans it, or drops its fs metadata, meanwhile is the
  // race (root_cause.h).
  mm_->open_window(page, FaultPath::kGup, FaultWindow::kGupPinToSetPageDirtyLock);
  return true;
}

void MixedWorkload::GupDeviceWrite(int writer, const GupIo& io, uint64_t* seq) {
  const uint32_t off = io.slot * static_cast<uint32_t>(sizeof(uint64_t));
  // Read-back (the device reads what the page holds, fsx-style): only this
  // writer stores to the slot, so anything but its last stamp was lost.
  uint64_t found;
  mm_->mmu().device_read(io.index, off, &found, sizeof(found));
  CountStat(Stat::kReadbacks);
  CheckSlot(io.index, io.slot, found);
  const uint64_t stamp = Ledger::Stamp(static_cast<uint32_t>(writer), ++*seq);
  mm_->user_write_begin(io.index, io.slot);  // until set_page_dirty_lock (I8)
  // A page that has left the page cache under the pin (truncated, or
  // invalidated with 016eb4a0ed06 reverted) is a frame of its own in the
  // kernel, which no one reads or writes back; the model's frame is the
  // index's, shared with whatever page is cached there now, so the write
  // goes nowhere.
  if (io.page->mapping.load(std::memory_order_acquire) != nullptr) {
    mm_->mmu().device_write(io.index, off, &stamp, sizeof(stamp));
  }
  mm_->trace(io.index, Event::kDeviceWrite);
  ledger_->expected(io.index, io.slot) = stamp;
  seq_at_store_[io.index * ledger_->slots_per_page() + io.slot] = trunc_seq(io.index);
  lost_to_detach_[io.index * ledger_->slots_per_page() + io.slot] = 0;
  CountStat(Stat::kOps);
}

void MixedWorkload::GupComplete(GupIo* io) {
  set_page_dirty_lock(*mm_, io->page);
  // Detached under the pin and not truncated since the device's write
  // (whose data a truncate would throw away anyway): the write is lost.
  const size_t at = io->index * ledger_->slots_per_page() + io->slot;
  if (io->page->mapping.load(std::memory_order_acquire) == nullptr &&
      seq_at_store_[at] == trunc_seq(io->index)) {
    lost_to_detach_[at] = 1;
  }
  mm_->user_write_end(io->index, io->slot);
  mm_->close_window(io->index);
  SCHED_POINT(kGupAfterSetPageDirtyLock);
  unpin_user_page(io->page, io->mode);
  mm_->trace(io->index, Event::kGupRelease);
  io->page = nullptr;
}

void MixedWorkload::PwriteStep(int p, Rng* rng, uint64_t* seq) {
  const int writer = options_.threads + p;
  // With a truncator, stay in the lower half: it is never truncated.
  const uint64_t pages =
      options_.truncate || options_.isize ? std::max<uint64_t>(1, span() / 2) : span();
  const uint64_t page = rng->Below(pages);
  const uint32_t slot = ledger_->owned_slot(
      static_cast<uint32_t>(writer),
      static_cast<uint32_t>(rng->Below(ledger_->owned_slots(static_cast<uint32_t>(writer)))));
  uint64_t& expected = ledger_->expected(page, slot);
  const uint64_t found = generic_file_read_slot(*mm_, page, slot);
  CountStat(Stat::kReadbacks);
  CheckSlot(page, slot, found);
  const uint64_t stamp = Ledger::Stamp(static_cast<uint32_t>(writer), ++*seq);
  if (generic_perform_write(*mm_, page, slot, stamp)) expected = stamp;
  CountStat(Stat::kOps);
}

// One page through v2.6.29's shrink_zone order: shrink_active_list moves it
// to the inactive list (stripping its buffers while buffer heads are over
// their limit), then shrink_inactive_list -> shrink_page_list.
void MixedWorkload::ReclaimStep(Rng* rng) {
  const uint64_t index = rng->Below(options_.reclaim_hot ? span() : mm_->pages());
  if (options_.revalidate) invalidate_inode_pages2_page(*mm_, index);
  if (options_.migrate) migrate_page_one(*mm_, index);
  if (options_.buffer_heads_over_limit) pagevec_strip(*mm_, index);
  shrink_page(*mm_, index);
  // A page reclaim unmapped but kept (referenced: a pin) is what the drop
  // may find clean and unmapped.
  if (options_.drop) invalidate_mapping_page(*mm_, index);
}

void MixedWorkload::TruncateTo(int64_t new_size) {
  if (new_size >= mm_->mapping().i_size()) {
    vmtruncate(*mm_, new_size);
    return;
  }
  const uint64_t first = static_cast<uint64_t>(new_size) / mm_->page_size();
  const uint64_t pages = mm_->pages();
  for (uint64_t p = first; p < pages; ++p) trunc_seq_[p].fetch_add(1, std::memory_order_acq_rel);
  vmtruncate(*mm_, new_size);
  for (uint64_t p = first; p < pages; ++p) trunc_seq_[p].fetch_add(1, std::memory_order_acq_rel);
}

void MixedWorkload::PunchRange(uint64_t first, uint64_t npages) {
  const uint64_t end = std::min(first + npages, mm_->pages());
  for (uint64_t p = first; p < end; ++p) trunc_seq_[p].fetch_add(1, std::memory_order_acq_rel);
  bool removed = false;
  punch_hole(*mm_, first, npages, [&] {
    removed = true;
    for (uint64_t p = first; p < end; ++p) trunc_seq_[p].fetch_add(1, std::memory_order_acq_rel);
  });
  // Nothing punched (no hole punch in the release, or past EOF): the
  // seqcount goes even again, a store meanwhile still counted as racing.
  if (!removed) {
    for (uint64_t p = first; p < end; ++p) trunc_seq_[p].fetch_add(1, std::memory_order_acq_rel);
  }
}

void MixedWorkload::PunchStep(Rng* rng) { PunchRange(rng->Below(span()), 1); }

void MixedWorkload::TruncateStep(Rng* rng, bool grow) {
  const uint64_t pages = mm_->pages();
  const int64_t full = static_cast<int64_t>(pages * mm_->page_size());
  if (grow) {
    vmtruncate(*mm_, full);
    return;
  }
  if (options_.isize) {
    // EOF moves inside the last page: shrink to a random byte offset in it
    // (the next step grows it back: the extension of a partial page).
    // Slot-aligned (a slot is cut whole or not at all), rarely block-aligned.
    const uint64_t last = pages - 1;
    const int64_t ps = static_cast<int64_t>(mm_->page_size());
    const int64_t slot = static_cast<int64_t>(sizeof(uint64_t));
    const int64_t off =
        slot * (1 + static_cast<int64_t>(rng->Below(static_cast<uint64_t>(ps / slot - 1))));
    TruncateTo(static_cast<int64_t>(last) * ps + off);
    return;
  }
  const uint64_t floor = std::max<uint64_t>(1, pages / 2);
  const uint64_t keep = floor + rng->Below(pages - floor + 1);
  TruncateTo(static_cast<int64_t>(keep * mm_->page_size()));
}

void MixedWorkload::FsyncStep() { do_fsync(*mm_); }

namespace {

// A role whose steps are a workload function; `budget` steps at most (0:
// until stopped).
class WorkloadRole : public Role {
 public:
  WorkloadRole(RoleId id, bool user_access, uint64_t budget, int64_t pace_ns,
               std::function<void()> step)
      : id_(id),
        user_access_(user_access),
        budget_(budget),
        pace_ns_(pace_ns),
        step_(std::move(step)) {}
  RoleId id() const override { return id_; }
  bool user_access() const override { return user_access_; }
  bool bounded() const override { return budget_ != 0; }
  int64_t pace_ns() const override { return pace_ns_; }
  Step step() override {
    if (budget_ && done_ >= budget_) return Step::kDone;
    step_();
    ++done_;
    return Step::kMore;
  }

 private:
  const RoleId id_;
  const bool user_access_;
  const uint64_t budget_;
  const int64_t pace_ns_;
  const std::function<void()> step_;
  uint64_t done_ = 0;  // owned by the role's thread
};

}  // namespace

void MixedWorkload::AddRoles(std::vector<std::unique_ptr<Role>>* roles) {
  const uint64_t budget = options_.ops_per_writer;
  // Each role's random stream and stamp sequence live in its step closure,
  // which only the role's thread calls.
  auto reclaim_rng = std::make_shared<Rng>(WriterSeed(options_.seed, 1000));
  roles->push_back(std::make_unique<WorkloadRole>(
      RoleId{RoleKind::kReclaim, 0}, false, 0, options_.reclaim_pause_ns,
      [this, reclaim_rng] { ReclaimStep(reclaim_rng.get()); }));
  if (options_.punch) {
    auto rng = std::make_shared<Rng>(WriterSeed(options_.seed, 2000));
    roles->push_back(std::make_unique<WorkloadRole>(RoleId{RoleKind::kTruncate, 0}, false, 0,
                                                    options_.truncate_pause_ns,
                                                    [this, rng] { PunchStep(rng.get()); }));
  } else if (options_.truncate || options_.isize) {
    auto rng = std::make_shared<Rng>(WriterSeed(options_.seed, 2000));
    auto grow = std::make_shared<bool>(false);  // steps alternate: shrink, grow back
    roles->push_back(std::make_unique<WorkloadRole>(
        RoleId{RoleKind::kTruncate, 0}, false, 0, options_.truncate_pause_ns, [this, rng, grow] {
          TruncateStep(rng.get(), *grow);
          *grow = !*grow;
        }));
  } else if (options_.fsync) {
    roles->push_back(std::make_unique<WorkloadRole>(RoleId{RoleKind::kFsync, 0}, false, 0, options_.fsync_pause_ns,
                                                    [this] { FsyncStep(); }));
  }
  for (int p = 0; p < options_.pwriters; ++p) {
    auto rng = std::make_shared<Rng>(WriterSeed(options_.seed, options_.threads + p));
    auto seq = std::make_shared<uint64_t>(0);
    roles->push_back(std::make_unique<WorkloadRole>(
        RoleId{RoleKind::kPwrite, p}, false, budget, options_.pwrite_pause_ns,
        [this, p, rng, seq] { PwriteStep(p, rng.get(), seq.get()); }));
  }
  for (int g = 0; g < options_.gup; ++g) {
    auto rng = std::make_shared<Rng>(WriterSeed(options_.seed, g));
    auto seq = std::make_shared<uint64_t>(0);
    roles->push_back(std::make_unique<WorkloadRole>(
        RoleId{RoleKind::kGup, g}, false, budget, 0,
        [this, g, rng, seq] { GupStep(g, rng.get(), seq.get()); }));
  }
  for (int w = 0; w < options_.threads; ++w) {
    auto rng = std::make_shared<Rng>(WriterSeed(options_.seed, w));
    auto seq = std::make_shared<uint64_t>(0);
    roles->push_back(std::make_unique<WorkloadRole>(
        RoleId{RoleKind::kMmap, w}, true, budget, 0,
        [this, w, rng, seq] { MmapStep(w, rng.get(), seq.get()); }));
  }
}

int MixedWorkload::CheckLedger() {
  int lost = 0;
  std::vector<uint8_t> persisted(mm_->page_size());
  for (uint64_t page = 0; page < ledger_->pages(); ++page) {
    mm_->a_ops().read_persisted(page, persisted.data());
    for (uint32_t slot = 0; slot < ledger_->slots_per_page(); ++slot) {
      const uint64_t expected = ledger_->expected(page, slot);
      if (expected == 0) continue;
      uint64_t found;
      memcpy(&found, persisted.data() + slot * sizeof(uint64_t), sizeof(found));
      const uint64_t before = mm_->oracle().total();
      CheckSlot(page, slot, found);
      if (mm_->oracle().total() != before) ++lost;
    }
  }
  return lost;
}

}  // namespace pagerace
