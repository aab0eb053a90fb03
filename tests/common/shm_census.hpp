// ShmCensus: snapshots of the shared memory a test could leave behind, to assert there is none.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tilefork::test {

// Every System V segment (/proc/sysvipc/shm) and every /dev/shm entry whose name starts with
// "tilefork", at one moment. Take one before a test and compare at its end:
//
//   const auto before = ShmCensus::take();
//   ...
//   EXPECT_THAT(ShmCensus::take().leaked_since(before), testing::IsEmpty());
struct ShmCensus {
  struct SysvSegment {
    int shmid = -1;
    std::uint64_t size = 0;
    unsigned nattch = 0;
    pid_t cpid = 0;
    bool marked_for_removal = false;  // SHM_DEST: freed at the last detach
  };

  std::vector<SysvSegment> sysv;
  std::vector<std::string> posix;  // file names in /dev/shm, e.g. "tilefork-4711-0123abcd…"

  // Reads both places now. Throws std::runtime_error if /proc/sysvipc/shm cannot be read.
  static ShmCensus take();

  // Entries present now but not in `before`, one human-readable line each:
  // "sysv shmid 42 size 4096 nattch 1 cpid 123" or "posix /dev/shm/tilefork-…".
  // An entry whose creator is still alive and is neither this process nor one of its
  // descendants is left out: it belongs to a test running at the same time (ctest -j), and is
  // no leak of ours. An entry whose creator has exited is always reported.
  std::vector<std::string> leaked_since(const ShmCensus& before) const;

  bool contains_sysv(int shmid) const;
};

// True if `pid` exists and is not a zombie (kill(pid, 0) plus the state in /proc/<pid>/stat),
// for checking that no orphan outlives a test.
bool pid_alive(pid_t pid);

}  // namespace tilefork::test
