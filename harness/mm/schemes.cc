#include "harness/mm/schemes.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pagerace {

std::vector<std::string> SchemeNames() { return {"legacy", "locked"}; }

absl::StatusOr<std::unique_ptr<FaultScheme>> MakeScheme(absl::string_view name) {
  if (name == "legacy") return MakeLegacyScheme();
  if (name == "locked") return MakeLockedScheme();
  return absl::InvalidArgumentError(absl::StrCat("unknown --scheme '", name, "' (want ",
                                                 absl::StrJoin(SchemeNames(), "|"), ")"));
}

}  // namespace pagerace
