#include "harness/check/invariants.h"

#include <cstdio>

namespace pagerace {

void Checks::CleanMatchesStore(const PageState& page,
                               absl::FunctionRef<bool(char*, size_t)> matches_store) {
  if (page.dirty || page.writable || page.writeback || page.gup_write) return;
  char detail[96];
  if (!matches_store(detail, sizeof(detail))) {
    oracle_->Report(RaceKind::kLostDirty, Invariant::kI0, page.index, 0, 0, detail);
  }
}

void Checks::CleanNotWritable(const PageState& page) {
  if (page.writable && !page.dirty && !page.in_fault_window) {
    oracle_->Report(RaceKind::kWritableNotDirty, Invariant::kI1, page.index);
  }
}

void Checks::DirtyHasMetadata(uint64_t index, bool writable, MetadataState metadata) {
  if (!CarriesData(metadata)) {
    oracle_->Report(RaceKind::kDirtyWithoutMetadata, Invariant::kI2, index, 0, 0,
                    writable ? kI2Writable : kI2ReadOnly);
  }
}

void Checks::WritepageHasMetadata(uint64_t index, MetadataState metadata,
                                  absl::FunctionRef<bool()> matches_store) {
  if (!CarriesData(metadata)) {
    oracle_->Report(RaceKind::kWritepageWithoutMetadata, Invariant::kI3, index, 0, 0,
                    matches_store() ? kI3NothingNew : kI3Unsent);
  }
}

void Checks::PteAfterTruncate(uint64_t index, bool present, bool mapped) {
  if (present && !mapped) {
    oracle_->Report(RaceKind::kPteAfterTruncate, Invariant::kI5, index);
  }
}

void Checks::FailedMkwrite(uint64_t index, bool own_pte_writable) {
  if (own_pte_writable) {
    oracle_->Report(RaceKind::kStoreAfterFailedMkwrite, Invariant::kI6, index);
  }
}

void Checks::SigbusAfterTruncate(uint64_t index, bool page_gone, bool inside_isize) {
  if (page_gone && inside_isize) {
    oracle_->Report(RaceKind::kSigbusInsideIsize, Invariant::kI9, index);
  }
}

void Checks::RefusedStoreLanded(uint64_t index, uint64_t expected, uint64_t landed) {
  oracle_->Report(RaceKind::kStoreAfterFailedMkwrite, Invariant::kI6, index, expected,
                  landed);
}

void Checks::StableWrite(uint64_t index, bool stable_pages, bool writeback) {
  if (stable_pages && writeback) {
    oracle_->Report(RaceKind::kStoreDuringWriteback, Invariant::kI7, index);
  }
}

void Checks::FsyncMissed(uint64_t index, uint64_t want, uint64_t found) {
  oracle_->Report(RaceKind::kFsyncMissed, Invariant::kI8, index, want, found);
}

void Checks::DirtyAccounted(uint64_t index, bool counted, int64_t nr_file_dirty) {
  if (counted) return;
  char detail[160];
  snprintf(detail, sizeof(detail),
           "NR_FILE_DIRTY un-counted page %llu, which it never counted (a bare "
           "SetPageDirty); the file's count is now %lld",
           static_cast<unsigned long long>(index), static_cast<long long>(nr_file_dirty));
  oracle_->Report(RaceKind::kDirtyAccountingSkew, Invariant::kI10, index, 0, 0, detail);
}

void Checks::Audit(const PageState& page, MetadataState metadata,
                   absl::FunctionRef<bool(char*, size_t)> matches_store) {
  if (!page.in_fault_window) {
    CleanNotWritable(page);
    if ((page.dirty || page.writable) && !page.past_eof) {
      DirtyHasMetadata(page.index, page.writable, metadata);
    }
  }
  CleanMatchesStore(page, matches_store);
}

bool Checks::LedgerSlot(uint64_t page, uint64_t expected, uint64_t found, bool truncated_since) {
  if (found == expected || (found == 0 && truncated_since)) return true;
  tracer_->Record(page, Event::kLostWrite);
  oracle_->Report(RaceKind::kLostWrite, Invariant::kLedger, page, expected, found);
  return false;
}

void CounterInvariant::Check(Oracle& oracle, uint64_t index, int64_t counter, int64_t counted,
                             int64_t must_not_be_negative, Format format) {
  const int64_t drift = counter - counted;
  if (drift == reported_drift_ && must_not_be_negative >= 0) return;
  reported_drift_ = drift;
  if (drift == 0 && must_not_be_negative >= 0) return;
  char detail[96];
  format(detail, sizeof(detail));
  oracle.Report(RaceKind::kCounterDrift, Invariant::kI4, index, 0, 0, detail);
}

}  // namespace pagerace
