#include "harness/base/thread_roles.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pagerace {
namespace {

struct KindInfo {
  const char* name;
  bool numbered;
};
constexpr KindInfo kKinds[] = {
#define X(id, name, numbered) {name, numbered},
#include "harness/base/thread_roles.def"
#undef X
};
static_assert(sizeof(kKinds) / sizeof(kKinds[0]) == kNumRoleKinds);

bool InRange(RoleKind k) { return static_cast<int>(k) < kNumRoleKinds; }

}  // namespace

const char* RoleKindName(RoleKind k) { return InRange(k) ? kKinds[static_cast<int>(k)].name : "?"; }

bool RoleKindNumbered(RoleKind k) { return InRange(k) && kKinds[static_cast<int>(k)].numbered; }

absl::StatusOr<RoleKind> RoleKindByName(absl::string_view name) {
  for (int i = 0; i < kNumRoleKinds; ++i) {
    if (name == kKinds[i].name) return static_cast<RoleKind>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown thread role kind '", name, "'"));
}

std::string RoleName(RoleKind kind, int index) {
  if (RoleKindNumbered(kind)) return absl::StrCat(RoleKindName(kind), index);
  return RoleKindName(kind);
}

absl::StatusOr<RoleId> ParseRole(absl::string_view name) {
  // Split a trailing run of digits off: "mmap12" -> "mmap", "12".
  size_t digits = name.size();
  while (digits > 0 && absl::ascii_isdigit(static_cast<unsigned char>(name[digits - 1]))) {
    --digits;
  }
  const absl::string_view stem = name.substr(0, digits), number = name.substr(digits);
  auto kind = RoleKindByName(number.empty() ? name : stem);
  if (!kind.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown thread role '", name, "'"));
  }
  RoleId id{*kind, 0};
  if (RoleKindNumbered(*kind) != !number.empty() ||
      (number.size() > 1 && number[0] == '0') ||
      (!number.empty() && !absl::SimpleAtoi(number, &id.index))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "thread role '", name, "': ", RoleKindName(*kind),
        RoleKindNumbered(*kind) ? " takes an index (e.g. " : " takes no index (",
        RoleName(*kind, 0), ")"));
  }
  return id;
}

}  // namespace pagerace
