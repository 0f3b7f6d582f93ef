// Precompiled for every library of the harness (CMakeLists.txt): the
// standard and Abseil headers most of its files include.  Parsing them was
// about half of each file's compile time; a CI run builds two presets on a
// loaded 2-core machine.  Only tests/pch.h includes it; each file still
// includes what it uses (tests/layering_test.py reads those), and the asan
// preset builds without precompiled headers, so a missing include fails
// there.
#ifndef PAGERACE_CMAKE_PCH_HARNESS_H_
#define PAGERACE_CMAKE_PCH_HARNESS_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

#endif  // PAGERACE_CMAKE_PCH_HARNESS_H_
