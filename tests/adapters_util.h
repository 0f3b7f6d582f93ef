// The filesystems a test iterates, from the adapter registry, so a new
// adapter is covered (or flagged) without editing the tests that loop.
#ifndef PAGERACE_TESTS_ADAPTERS_UTIL_H_
#define PAGERACE_TESTS_ADAPTERS_UTIL_H_

#include <string>
#include <vector>

#include "harness/core/config.h"

namespace pagerace {

// Each filesystem's base entry (its name without a ":variant"), in
// registration order; with `need_page_mkwrite`, only those with a
// ->page_mkwrite (the control `none` has none).
inline std::vector<std::string> BaseAdapters(bool need_page_mkwrite) {
  std::vector<std::string> out;
  for (const AdapterEntry& e : AdapterRegistry().entries()) {
    if (e.name.find(':') != std::string::npos) continue;
    if (need_page_mkwrite && !e.make()->has_page_mkwrite()) continue;
    out.push_back(e.name);
  }
  return out;
}

}  // namespace pagerace

#endif  // PAGERACE_TESTS_ADAPTERS_UTIL_H_
