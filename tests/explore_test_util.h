// Shared by the explorer's tests: a configuration naming a scheme and an
// adapter, and a violation list printed for a failure message.
#ifndef PAGERACE_TESTS_EXPLORE_TEST_UTIL_H_
#define PAGERACE_TESTS_EXPLORE_TEST_UTIL_H_

#include <initializer_list>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "harness/core/explore.h"

namespace pagerace {

// Under ThreadSanitizer a schedule costs 10-20 times what it costs in the
// default preset, and CI runs the tsan suite on a loaded 2-core machine.
// Searches whose point is a clean verdict or the search's own machinery
// (sharding, merging) go to kSearchBound preemptions: 2 in the default
// preset, which CI runs too, and 1 under TSan, whose job is the harness's own
// data races (the same code paths run at either bound).  Searches that must
// find a violation needing 2 preemptions keep 2.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PAGERACE_TESTS_UNDER_TSAN 1
#endif
#endif
#ifdef PAGERACE_TESTS_UNDER_TSAN
inline constexpr bool kUnderTsan = true;
#else
inline constexpr bool kUnderTsan = false;
#endif
inline constexpr int kSearchBound = kUnderTsan ? 1 : 2;
// How many times a test replays one schedule to show it replays the same
// every time: 100, or 20 under TSan (a replay costs tens of times more).
inline constexpr int kReplays = kUnderTsan ? 20 : 100;

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

// Whether `story` (a run's numbered steps) holds each of `phrases`, in that
// order; the failure names the first missing or misplaced one.
inline ::testing::AssertionResult StoryHasInOrder(const std::vector<std::string>& story,
                                                  const std::vector<const char*>& phrases) {
  const std::string text = absl::StrJoin(story, "\n");
  size_t from = 0;
  for (const char* phrase : phrases) {
    const size_t at = text.find(phrase, from);
    if (at == std::string::npos) {
      return ::testing::AssertionFailure()
             << "'" << phrase << "' missing"
             << (text.find(phrase) == std::string::npos ? "" : " after the phrases before it")
             << " in:\n" << text;
    }
    from = at + 1;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace pagerace

#endif  // PAGERACE_TESTS_EXPLORE_TEST_UTIL_H_
