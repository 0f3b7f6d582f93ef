// Facts about the build that go into every result (env in results/SCHEMA.md).
#ifndef PAGERACE_HARNESS_RUN_BUILD_INFO_H_
#define PAGERACE_HARNESS_RUN_BUILD_INFO_H_

namespace pagerace {

// The source tree's commit when the binary was built (12 hex digits, with
// "-dirty" if tracked files were modified), or "unknown" outside git.
// Defined in a file generated at build time (cmake/git_commit.cmake).
extern const char kGitCommit[];

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_RUN_BUILD_INFO_H_
