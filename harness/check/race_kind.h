// Race kinds and invariants (DESIGN §8), generated from their tables:
// race_kinds.def and invariants.def are the only place their names are
// written; reports, --stop-on and replay look them up here.
//
// Thread-safety: pure functions over constant tables; safe everywhere,
// including the SIGSEGV handler (no allocation) except the *ByName lookups,
// which may allocate an error.
#ifndef PAGERACE_HARNESS_CHECK_RACE_KIND_H_
#define PAGERACE_HARNESS_CHECK_RACE_KIND_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pagerace {

// Invariant numbers as in DESIGN §8, plus the other oracles' (ledger,
// watchdog, lock order) and kFs, an adapter's own invariant.
enum class Invariant : uint8_t {
#define X(id, name, meaning) id,
#include "harness/check/invariants.def"
#undef X
};
inline constexpr int kNumInvariants = 0
#define X(id, name, meaning) +1
#include "harness/check/invariants.def"
#undef X
    ;

// The user-visible name ("I0", "ledger"); "?" out of range.
const char* InvariantName(Invariant i);
// One line: what the invariant states.
const char* InvariantMeaning(Invariant i);
absl::StatusOr<Invariant> InvariantByName(absl::string_view name);

// What went wrong, as users name it.
enum class RaceKind : uint8_t {
#define X(id, name, invariant, loses, meaning) id,
#include "harness/check/race_kinds.def"
#undef X
  kNumKinds
};
inline constexpr int kNumRaceKinds = static_cast<int>(RaceKind::kNumKinds);

// The user-visible name ("lost_dirty"); "?" out of range.
const char* RaceKindName(RaceKind k);
// One line: what a report of this kind means.
const char* RaceKindMeaning(RaceKind k);
// The invariant reports of this kind carry.
Invariant RaceKindInvariant(RaceKind k);
// Whether a report of this kind is data-losing: the modeled kernel lost the
// store or hit a BUG (race_kinds.def says why the label follows the outcome).
bool RaceKindLosesData(RaceKind k);
absl::StatusOr<RaceKind> RaceKindByName(absl::string_view name);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CHECK_RACE_KIND_H_
