// Thread role names (thread_roles.def): the one list of the roles harness
// threads register under, and the helpers that form and parse a role name.
// A numbered kind names one thread per index ("mmap1": kind mmap, index 1);
// an unnumbered kind is its own name ("writeback").
//
// Thread-safety: pure functions over constant tables; safe everywhere.
#ifndef PAGERACE_HARNESS_BASE_THREAD_ROLES_H_
#define PAGERACE_HARNESS_BASE_THREAD_ROLES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pagerace {

enum class RoleKind : uint8_t {
#define X(id, name, numbered) id,
#include "harness/base/thread_roles.def"
#undef X
  kNumRoleKinds
};
inline constexpr int kNumRoleKinds = static_cast<int>(RoleKind::kNumRoleKinds);

// The kind's name ("mmap"); "?" out of range.
const char* RoleKindName(RoleKind k);
// Whether threads of this kind are numbered (mmap0, mmap1, ...).
bool RoleKindNumbered(RoleKind k);
// Looks a kind up by its name ("mmap", not "mmap0").
absl::StatusOr<RoleKind> RoleKindByName(absl::string_view name);

// One thread's role: a kind and, for numbered kinds, its index (else 0).
struct RoleId {
  RoleKind kind = RoleKind::kMain;
  int index = 0;
  friend bool operator==(const RoleId& a, const RoleId& b) {
    return a.kind == b.kind && a.index == b.index;
  }
};

// "mmap1" for {kMmap, 1}; "writeback" for {kWriteback, 0} (the index of an
// unnumbered kind is ignored).
std::string RoleName(RoleKind kind, int index = 0);
inline std::string RoleName(RoleId id) { return RoleName(id.kind, id.index); }
// The inverse of RoleName: InvalidArgument unless `name` is exactly what
// RoleName forms (a numbered kind needs its index, without leading zeros).
absl::StatusOr<RoleId> ParseRole(absl::string_view name);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_BASE_THREAD_ROLES_H_
