#include "workloads/mixed.h"

#include <time.h>

#include <algorithm>

#include <cstring>
#include <string>
#include <vector>

#include "fs_adapters/backing_store.h"
#include "harness/base/rng.h"
#include "harness/base/thread_registry.h"
#include "harness/mm/filemap.h"
#include "harness/mm/recovery.h"
#include "harness/mm/truncate.h"
#include "harness/mm/writeback.h"

namespace pagerace {
namespace {

void Pause(int64_t ns) {
  if (ns <= 0) return;
  struct timespec ts = {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  nanosleep(&ts, nullptr);
}

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
      trunc_seq_(new std::atomic<uint64_t>[mm->pages()]()),
      seq_at_store_(mm->pages() * ledger->slots_per_page(), 0) {}

void MixedWorkload::CheckSlot(uint64_t page, uint32_t slot, uint64_t found) {
  uint64_t& expected = ledger_->expected(page, slot);
  if (found == expected) return;
  const uint64_t at_store = seq_at_store_[page * ledger_->slots_per_page() + slot];
  if (found == 0 && at_store != trunc_seq(page)) {
    expected = 0;  // truncated since the store: the data was thrown away
    return;
  }
  ReportLostWrite(page, expected, found);
}

void MixedWorkload::ReportLostWrite(uint64_t page, uint64_t expected, uint64_t found) {
  mm_->trace(page, Event::kLostWrite);
  mm_->oracle().Report(RaceKind::kLostWrite, Invariant::kLedger, page, true, expected, found);
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
  if (guarded_store(addr, stamp)) {  // may take a write fault
    expected = stamp;
    const uint64_t seq_after = trunc_seq(page);
    seq_at_store_[page * ledger_->slots_per_page() + slot] =
        (seq_before == seq_after && !(seq_after & 1) && !past_eof) ? seq_after : kNoSeq;
    return;
  }
  // Refused (SIGBUS): the store must not have landed (I6's other half).
  uint64_t after;
  if (guarded_load(addr, &after) && after == stamp) {
    mm_->oracle().Report(RaceKind::kStoreAfterFailedMkwrite, Invariant::kI6, page, true,
                         expected, after);
  }
}

void MixedWorkload::MmapWorker(int w, ThreadStats* stats, const std::atomic<bool>* stop) {
  ScopedThread reg("mmap" + std::to_string(w), /*user_access=*/true, stats);
  Rng rng(WriterSeed(options_.seed, w));
  const uint32_t owned = ledger_->owned_slots(static_cast<uint32_t>(w));
  const int vmas = mm_->mmu().nr_vmas();
  uint64_t seq = 0;
  for (uint64_t op = 0; !stop->load(std::memory_order_relaxed); ++op) {
    if (options_.ops_per_writer && op >= options_.ops_per_writer) break;
    const uint64_t page =
        options_.isize && rng.Below(2) ? mm_->pages() - 1 : rng.Below(span());
    const uint32_t slot = ledger_->owned_slot(static_cast<uint32_t>(w),
                                              static_cast<uint32_t>(rng.Below(owned)));
    const int vma = static_cast<int>(rng.Below(static_cast<uint64_t>(vmas)));
    StoreOp(w, vma, page, slot, &seq);
  }
}

void MixedWorkload::PwriteWorker(int p, ThreadStats* stats, const std::atomic<bool>* stop) {
  ScopedThread reg("pwrite" + std::to_string(p), /*user_access=*/false, stats);
  const int writer = options_.threads + p;
  Rng rng(WriterSeed(options_.seed, writer));
  const uint32_t owned = ledger_->owned_slots(static_cast<uint32_t>(writer));
  uint64_t seq = 0;
  for (uint64_t op = 0; !stop->load(std::memory_order_relaxed); ++op) {
    if (options_.ops_per_writer && op >= options_.ops_per_writer) break;
    // With a truncator, stay in the lower half: it is never truncated.
    const uint64_t pages =
        options_.truncate || options_.isize ? std::max<uint64_t>(1, span() / 2) : span();
    const uint64_t page = rng.Below(pages);
    const uint32_t slot = ledger_->owned_slot(static_cast<uint32_t>(writer),
                                              static_cast<uint32_t>(rng.Below(owned)));
    uint64_t& expected = ledger_->expected(page, slot);
    const uint64_t found = generic_file_read_slot(*mm_, page, slot);
    CountStat(Stat::kReadbacks);
    CheckSlot(page, slot, found);
    const uint64_t stamp = Ledger::Stamp(static_cast<uint32_t>(writer), ++seq);
    if (generic_perform_write(*mm_, page, slot, stamp)) expected = stamp;
    CountStat(Stat::kOps);
    Pause(options_.pwrite_pause_ns);
  }
}

void MixedWorkload::Reclaimer(ThreadStats* stats, const std::atomic<bool>* stop) {
  ScopedThread reg("reclaim", /*user_access=*/false, stats);
  Rng rng(WriterSeed(options_.seed, 1000));
  while (!stop->load(std::memory_order_relaxed)) {
    shrink_page(*mm_, rng.Below(mm_->pages()));
    Pause(options_.reclaim_pause_ns);
  }
}

void MixedWorkload::Truncator(ThreadStats* stats, const std::atomic<bool>* stop) {
  ScopedThread reg("truncate", /*user_access=*/false, stats);
  Rng rng(WriterSeed(options_.seed, 2000));
  const uint64_t pages = mm_->pages();
  if (options_.isize) {
    // EOF moves inside the last page: shrink to a random byte offset in it,
    // then grow back to the full size (the extension of a partial page).
    const uint64_t last = pages - 1;
    const int64_t ps = static_cast<int64_t>(mm_->page_size());
    const int64_t full = static_cast<int64_t>(pages) * ps;
    while (!stop->load(std::memory_order_relaxed)) {
      // Slot-aligned (a slot is cut whole or not at all), rarely block-aligned.
      const int64_t slot = static_cast<int64_t>(sizeof(uint64_t));
      const int64_t off =
          slot * (1 + static_cast<int64_t>(rng.Below(static_cast<uint64_t>(ps / slot - 1))));
      trunc_seq_[last].fetch_add(1, std::memory_order_acq_rel);
      vmtruncate(*mm_, static_cast<int64_t>(last) * ps + off);
      trunc_seq_[last].fetch_add(1, std::memory_order_acq_rel);
      Pause(options_.truncate_pause_ns);
      vmtruncate(*mm_, full);
      Pause(options_.truncate_pause_ns);
    }
    return;
  }
  const uint64_t floor = std::max<uint64_t>(1, pages / 2);
  const int64_t full = static_cast<int64_t>(pages * mm_->page_size());
  while (!stop->load(std::memory_order_relaxed)) {
    const uint64_t keep = floor + rng.Below(pages - floor + 1);
    for (uint64_t p = keep; p < pages; ++p) trunc_seq_[p].fetch_add(1, std::memory_order_acq_rel);
    vmtruncate(*mm_, static_cast<int64_t>(keep * mm_->page_size()));
    for (uint64_t p = keep; p < pages; ++p) trunc_seq_[p].fetch_add(1, std::memory_order_acq_rel);
    Pause(options_.truncate_pause_ns);
    vmtruncate(*mm_, full);
    Pause(options_.truncate_pause_ns);
  }
}

void MixedWorkload::Fsyncer(ThreadStats* stats, const std::atomic<bool>* stop) {
  ScopedThread reg("fsync", /*user_access=*/false, stats);
  while (!stop->load(std::memory_order_relaxed)) {
    sync_mapping(*mm_, /*drain=*/false);
    Pause(options_.fsync_pause_ns);
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
