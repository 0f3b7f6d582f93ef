// Shared by the explorer's tests: a configuration naming a scheme and an
// adapter, and a violation list printed for a failure message.
#ifndef PAGERACE_TESTS_EXPLORE_TEST_UTIL_H_
#define PAGERACE_TESTS_EXPLORE_TEST_UTIL_H_

#include <string>

#include "absl/strings/string_view.h"
#include "harness/core/explore.h"

namespace pagerace {

inline RunConfig Base(absl::string_view scheme, absl::string_view fs) {
  RunConfig c;
  c.scheme = &Scheme(scheme);
  c.fs = &Adapter(fs);
  return c;
}

inline std::string Describe(const ExploreResult& r) {
  std::string out;
  for (const ExploreViolation& v : r.violations) {
    out += std::string("\n  ") + RaceKindName(v.kind) + " " + InvariantName(v.invariant) +
           (v.data_losing ? " data-losing" : "") + " preemptions=" +
           std::to_string(v.preemptions) + " schedule=" + v.schedule + " " + v.detail;
  }
  return out;
}

}  // namespace pagerace

#endif  // PAGERACE_TESTS_EXPLORE_TEST_UTIL_H_
