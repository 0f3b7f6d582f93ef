#include "harness/check/ledger.h"

namespace pagerace {

Ledger::Ledger(uint64_t pages, uint32_t slots_per_page, uint32_t writers)
    : pages_(pages),
      slots_per_page_(slots_per_page),
      writers_(writers ? writers : 1),
      expected_(pages * slots_per_page, 0) {}

}  // namespace pagerace
