// Real child processes for tests (fork): a child reports why it failed in a file the parent
// reads, and dies with its parent or after a watchdog instead of hanging the test.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace hnswstore::testing {

/// Exit codes a child uses; tests add their own between them.
inline constexpr int kChildOk = 0;
inline constexpr int kChildFailed = 20;

/// Appends `message` (when not empty) as a line to `report`, then _exit(code).
[[noreturn]] inline void child_exit(const std::filesystem::path& report, int code,
                                    const std::string& message = {}) {
  if (!message.empty()) {
    const int fd = ::open(report.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      const std::string line = message + "\n";
      (void)!::write(fd, line.data(), line.size());
      ::close(fd);
    }
  }
  ::_exit(code);
}

/// What the children wrote to `report` (empty when nothing).
inline std::string read_report(const std::filesystem::path& report) {
  std::ifstream in(report);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Forks; the child runs `body` (which should end with child_exit; returning is kChildFailed),
/// is killed when the parent dies, and by SIGALRM after `watchdog_seconds` (0 = none).
template <class F>
pid_t fork_child(F&& body, unsigned watchdog_seconds = 0) {
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (watchdog_seconds != 0) ::alarm(watchdog_seconds);
    body();
    ::_exit(kChildFailed);
  }
  return pid;
}

}  // namespace hnswstore::testing
