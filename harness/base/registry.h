// A typed registry: one per kind of pluggable part (lock schemes with their
// mutants, filesystem adapters with their variants, workloads).  Parsing,
// `--list`, `--help`, the expectation matrix and the scripts all read the
// same registry, so adding a part means its own files plus one entry.
//
// Built-in entries come from a table in the kind's own file, in order;
// Register() appends one more (a test's own adapter, say).  An entry type
// has a `name` member (std::string).
//
// Thread-safety: Register() must happen before any run starts (static
// initialisation or a test's set-up); lookups are safe for concurrent use
// afterwards.  Entries are never removed, and their addresses are stable.
#ifndef PAGERACE_HARNESS_BASE_REGISTRY_H_
#define PAGERACE_HARNESS_BASE_REGISTRY_H_

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace pagerace {

template <typename Entry>
class Registry {
 public:
  explicit Registry(std::vector<Entry> builtins) {
    for (Entry& e : builtins) Register(std::move(e));
  }
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds an entry; a duplicate name is a harness bug (aborts).
  const Entry& Register(Entry entry) {
    if (Find(entry.name) != nullptr) {
      fprintf(stderr, "pagerace: harness bug: '%s' registered twice\n", entry.name.c_str());
      abort();
    }
    entries_.push_back(std::move(entry));
    return entries_.back();
  }
  // nullptr when unknown.
  const Entry* Find(absl::string_view name) const {
    for (const Entry& e : entries_) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }
  // REQUIRES: `name` is registered (tests and benchmarks name built-ins).
  const Entry& Get(absl::string_view name) const {
    if (const Entry* e = Find(name)) return *e;
    fprintf(stderr, "pagerace: harness bug: nothing registered as '%.*s'\n",
            static_cast<int>(name.size()), name.data());
    abort();
  }
  const std::deque<Entry>& entries() const { return entries_; }
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const Entry& e : entries_) names.push_back(e.name);
    return names;
  }
  // "a|b|c", for error messages and flag help.
  std::string Joined(absl::string_view sep = "|") const { return absl::StrJoin(Names(), sep); }

 private:
  std::deque<Entry> entries_;
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_BASE_REGISTRY_H_
