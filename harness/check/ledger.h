// The data ledger (DESIGN §8, oracle 2): what users lose.
//
// Every store writes a unique stamp (writer, sequence) into a slot it owns;
// the ledger keeps the last stamp per slot.  Slot s of every page belongs to
// writer s % writers, so each slot has exactly one writer and a slot's value
// can only ever be that writer's last stamp — anything else (an older stamp,
// zero, the eviction poison) is a lost write.
//
// Thread-safety: expected(page, slot) is written only by the slot's owner;
// other threads read it only after the owner has stopped (joined).
#ifndef PAGERACE_HARNESS_CHECK_LEDGER_H_
#define PAGERACE_HARNESS_CHECK_LEDGER_H_

#include <cstdint>
#include <vector>

namespace pagerace {

class Ledger {
 public:
  Ledger(uint64_t pages, uint32_t slots_per_page, uint32_t writers);

  static uint64_t Stamp(uint32_t writer, uint64_t seq) {
    return (static_cast<uint64_t>(writer + 1) << 40) | (seq & ((1ULL << 40) - 1));
  }
  static uint32_t StampWriter(uint64_t stamp) { return static_cast<uint32_t>(stamp >> 40) - 1; }

  uint32_t writers() const { return writers_; }
  uint32_t slots_per_page() const { return slots_per_page_; }
  uint64_t pages() const { return pages_; }
  // Number of slots writer `w` owns in each page, and the k-th of them.
  uint32_t owned_slots(uint32_t w) const {
    return w < slots_per_page_ ? (slots_per_page_ - w + writers_ - 1) / writers_ : 0;
  }
  uint32_t owned_slot(uint32_t w, uint32_t k) const { return w + k * writers_; }

  uint64_t& expected(uint64_t page, uint32_t slot) {
    return expected_[page * slots_per_page_ + slot];
  }
  uint64_t expected(uint64_t page, uint32_t slot) const {
    return expected_[page * slots_per_page_ + slot];
  }

 private:
  const uint64_t pages_;
  const uint32_t slots_per_page_;
  const uint32_t writers_;
  std::vector<uint64_t> expected_;
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CHECK_LEDGER_H_
