// Precompiled for every test executable (tests/CMakeLists.txt): GoogleTest,
// the harness's common headers and the standard and Abseil ones beneath
// them.  Parsing them was about half of each test file's compile time.
// Each test file still includes what it uses.
#ifndef PAGERACE_TESTS_PCH_H_
#define PAGERACE_TESTS_PCH_H_

#include "cmake/pch_harness.h"

#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "harness/core/config.h"
#include "harness/core/explore.h"
#include "harness/core/scenario.h"
#include "harness/core/stress_driver.h"
#include "harness/mm/filemap.h"
#include "harness/mm/mm_context.h"
#include "harness/sched/sched.h"

#endif  // PAGERACE_TESTS_PCH_H_
