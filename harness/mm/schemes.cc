#include "harness/mm/schemes.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pagerace {
namespace {

struct Entry {
  const char* name;
  std::unique_ptr<FaultScheme> (*make)();
};

const Entry kSchemes[] = {
    {"legacy", [] { return MakeLegacyScheme(); }},
    {"locked", [] { return MakeLockedScheme(); }},
    {"modern", [] { return MakeModernScheme(); }},
    {"naive", [] { return MakeNaiveScheme(); }},
    {"mutant:unlock_before_set_page_dirty",
     [] { return MakeLockedScheme(Mutation::kUnlockBeforeSetPageDirty); }},
    {"mutant:skip_set_page_dirty", [] { return MakeLockedScheme(Mutation::kSkipSetPageDirty); }},
    {"mutant:clear_dirty_before_mkclean",
     [] { return MakeLockedScheme(Mutation::kClearDirtyBeforeMkclean); }},
    {"mutant:pte_write_before_mkwrite",
     [] { return MakeLockedScheme(Mutation::kPteWriteBeforeMkwrite); }},
    {"mutant:no_mapping_recheck", [] { return MakeLockedScheme(Mutation::kNoMappingRecheck); }},
    {"mutant:no_stable_wait", [] { return MakeModernScheme(Mutation::kNoStableWait); }},
};

}  // namespace

std::vector<std::string> SchemeNames() {
  std::vector<std::string> names;
  for (const Entry& e : kSchemes) names.push_back(e.name);
  return names;
}

std::vector<std::pair<std::string, std::string>> SchemeDescriptions() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Entry& e : kSchemes) {
    auto s = e.make();
    std::string d = s->description();
    if (*s->trips()) d += std::string(" [must trip ") + s->trips() + "]";
    out.emplace_back(e.name, d);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<FaultScheme>> MakeScheme(absl::string_view name) {
  for (const Entry& e : kSchemes) {
    if (name == e.name) return e.make();
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown --scheme '", name, "' (want ",
                                                 absl::StrJoin(SchemeNames(), "|"), ")"));
}

}  // namespace pagerace
