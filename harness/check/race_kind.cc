#include "harness/check/race_kind.h"

#include "absl/strings/str_cat.h"

namespace pagerace {
namespace {

struct InvariantInfo {
  const char* name;
  const char* meaning;
};
constexpr InvariantInfo kInvariants[] = {
#define X(id, name, meaning) {name, meaning},
#include "harness/check/invariants.def"
#undef X
};

struct KindInfo {
  const char* name;
  Invariant invariant;
  bool loses;
  const char* meaning;
};
constexpr KindInfo kKinds[] = {
#define X(id, name, invariant, loses, meaning) {name, Invariant::invariant, loses, meaning},
#include "harness/check/race_kinds.def"
#undef X
};
static_assert(sizeof(kKinds) / sizeof(kKinds[0]) == kNumRaceKinds);

bool InRange(Invariant i) { return static_cast<int>(i) < kNumInvariants; }
bool InRange(RaceKind k) { return static_cast<int>(k) < kNumRaceKinds; }

}  // namespace

const char* InvariantName(Invariant i) {
  return InRange(i) ? kInvariants[static_cast<int>(i)].name : "?";
}

const char* InvariantMeaning(Invariant i) {
  return InRange(i) ? kInvariants[static_cast<int>(i)].meaning : "?";
}

absl::StatusOr<Invariant> InvariantByName(absl::string_view name) {
  for (int i = 0; i < kNumInvariants; ++i) {
    if (name == kInvariants[i].name) return static_cast<Invariant>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown invariant '", name, "'"));
}

const char* RaceKindName(RaceKind k) { return InRange(k) ? kKinds[static_cast<int>(k)].name : "?"; }

const char* RaceKindMeaning(RaceKind k) {
  return InRange(k) ? kKinds[static_cast<int>(k)].meaning : "?";
}

Invariant RaceKindInvariant(RaceKind k) {
  return InRange(k) ? kKinds[static_cast<int>(k)].invariant : Invariant::kFs;
}

bool RaceKindLosesData(RaceKind k) { return InRange(k) && kKinds[static_cast<int>(k)].loses; }

absl::StatusOr<RaceKind> RaceKindByName(absl::string_view name) {
  for (int i = 0; i < kNumRaceKinds; ++i) {
    if (name == kKinds[i].name) return static_cast<RaceKind>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown race kind '", name, "'"));
}

}  // namespace pagerace
