// Segment, per backend: zero fill, rounding, sharing with children, ownership, cleanup, errors.
#include "tilefork/segment.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/shm_census.hpp"
#include "tilefork/errors.hpp"

namespace tilefork {
namespace {

using test::ShmCensus;

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * kKiB;

std::size_t page_size() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

std::size_t round_up(std::size_t size, std::size_t granule) {
  return (size + granule - 1) / granule * granule;
}

// A pattern that differs between neighbouring bytes and between pages, so that a page mapped
// twice or a shifted copy shows up.
std::byte pattern_at(std::size_t offset) {
  return static_cast<std::byte>((offset ^ ((offset >> 12) * 131)) & 0xff);
}

void fill_pattern(std::byte* data, std::size_t size) {
  for (std::size_t offset = 0; offset < size; ++offset) data[offset] = pattern_at(offset);
}

// Offset of the first byte that is not the pattern, or `size`.
std::size_t first_pattern_mismatch(const std::byte* data, std::size_t size) {
  for (std::size_t offset = 0; offset < size; ++offset) {
    if (data[offset] != pattern_at(offset)) return offset;
  }
  return size;
}

// mincore() fails with ENOMEM exactly when part of the range is not mapped.
bool is_mapped(const void* address) {
  unsigned char resident = 0;
  return mincore(const_cast<void*>(address), 1, &resident) == 0;
}

testing::AssertionResult nothing_leaked_since(const ShmCensus& before) {
  const std::vector<std::string> leaks = ShmCensus::take().leaked_since(before);
  if (leaks.empty()) return testing::AssertionSuccess();
  auto failure = testing::AssertionFailure() << "left behind:";
  for (const std::string& leak : leaks) failure << "\n  " << leak;
  return failure;
}

// Exit codes of forked test children; ChildEnd::describe turns them back into words.
constexpr int kChildPassed = 0;
constexpr int kChildSetupFailed = 70;
constexpr int kChildDidNotThrow = 72;
constexpr int kChildWrongError = 73;
constexpr int kChildUncaughtException = 74;
constexpr int kChildLeftSomethingBehind = 75;
constexpr int kChildSkipped = 77;  // the kernel did not let the child set up a namespace: not a failure

std::string_view child_exit_meaning(int code) {
  switch (code) {
    case kChildPassed: return "passed";
    case kChildSetupFailed: return "setup failed";
    case kChildDidNotThrow: return "expected an exception, got none";
    case kChildWrongError: return "wrong error";
    case kChildUncaughtException: return "uncaught exception";
    case kChildLeftSomethingBehind: return "left something behind";
    case kChildSkipped: return "skipped";
    default: return "unexpected exit code";
  }
}

// How a forked child ended.
struct ChildEnd {
  bool started = false;  // fork and waitpid both worked
  int status = 0;

  bool exited_with(int code) const {
    return started && WIFEXITED(status) && WEXITSTATUS(status) == code;
  }
  std::string describe() const {
    if (!started) return "could not fork or wait for the child";
    if (WIFEXITED(status)) {
      const int code = WEXITSTATUS(status);
      return "exited with code " + std::to_string(code) + " (" +
             std::string(child_exit_meaning(code)) + ")";
    }
    if (WIFSIGNALED(status)) {
      const int signal = WTERMSIG(status);
      return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
    }
    return "ended with wait status " + std::to_string(status);
  }
};

testing::AssertionResult child_passed(const ChildEnd& end) {
  if (end.exited_with(kChildPassed)) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "child " << end.describe() << " (its stderr says why)";
}

// Runs `body` in a forked child whose exit code is body's return value. The child never
// returns into GoogleTest (no assertions there): it says what went wrong on stderr.
template <typename Body>
ChildEnd run_in_child(Body&& body) {
  std::fflush(nullptr);  // buffered output would otherwise be written by both processes
  const pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return {};
  }
  if (pid == 0) {
    int code = kChildUncaughtException;
    try {
      code = body();
    } catch (const std::exception& error) {
      std::fprintf(stderr, "child: uncaught exception: %s\n", error.what());
    } catch (...) {
      std::fprintf(stderr, "child: uncaught exception of unknown type\n");
    }
    _exit(code);
  }
  ChildEnd end;
  while (waitpid(pid, &end.status, 0) < 0) {
    if (errno != EINTR) {
      ADD_FAILURE() << "waitpid(" << pid << "): " << std::strerror(errno);
      return {};
    }
  }
  end.started = true;
  return end;
}

int child_fails(int code, std::string_view why) {
  std::fprintf(stderr, "child: %.*s\n", static_cast<int>(why.size()), why.data());
  return code;
}

int child_fails_errno(int code, std::string_view call) {
  const int err = errno;
  return child_fails(code, std::string(call) + ": " + std::strerror(err));
}

bool write_text(const char* path, std::string_view text) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t written = write(fd, text.data(), text.size());
  const int err = errno;
  close(fd);
  errno = err;
  return written == static_cast<ssize_t>(text.size());
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Every test here ends by checking that its segments are gone (STYLE habit 9).
class LeakCheckedTest : public testing::Test {
 protected:
  void SetUp() override { before_ = ShmCensus::take(); }
  void TearDown() override { EXPECT_TRUE(nothing_leaked_since(before_)); }

  ShmCensus before_;
};

class SegmentTest : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { before_ = ShmCensus::take(); }
  void TearDown() override { EXPECT_TRUE(nothing_leaked_since(before_)); }

  ShmCensus before_;
};

TEST_P(SegmentTest, NewSegmentReadsAsZeros) {
  const std::size_t asked = 3 * kMiB + 5;
  const Segment segment = Segment::create(GetParam(), asked);
  ASSERT_TRUE(segment.attached());
  ASSERT_GE(segment.size(), asked);
  const std::byte* begin = segment.data();
  const std::byte* end = begin + segment.size();
  const std::byte* nonzero = std::find_if(begin, end, [](std::byte b) { return b != std::byte{0}; });
  EXPECT_EQ(nonzero, end) << "byte at offset " << (nonzero - begin) << " of " << segment.size()
                          << " is " << std::to_integer<int>(*nonzero);
}

TEST_P(SegmentTest, SizeIsRoundedUpToPageSize) {
  const std::size_t page = page_size();
  for (const std::size_t asked : {std::size_t{1}, page - 1, page, page + 1, 5 * page + 3}) {
    SCOPED_TRACE("asked " + std::to_string(asked) + " bytes, page size " + std::to_string(page));
    Segment segment = Segment::create(GetParam(), asked);
    EXPECT_EQ(segment.size(), round_up(asked, page));
    EXPECT_FALSE(segment.huge_pages());
    if (GetParam() == Backend::sysv) {
      shmid_ds stats{};
      ASSERT_EQ(shmctl(segment.sysv_id(), IPC_STAT, &stats), 0) << std::strerror(errno);
      EXPECT_EQ(stats.shm_segsz, segment.size());
    }
    if (GetParam() == Backend::posix) {
      struct stat stats {};
      ASSERT_EQ(fstat(segment.posix_fd(), &stats), 0) << std::strerror(errno);
      EXPECT_EQ(static_cast<std::size_t>(stats.st_size), segment.size());
    }
    // The whole rounded size is ours to use.
    segment.data()[segment.size() - 1] = std::byte{0x5a};
    EXPECT_EQ(segment.data()[segment.size() - 1], std::byte{0x5a});
  }
}

TEST_P(SegmentTest, ForkedChildWritesAreVisibleToParent) {
  const Segment segment = Segment::create(GetParam(), kMiB + 3);
  const ChildEnd child = run_in_child([&]() -> int {
    fill_pattern(segment.data(), segment.size());
    return kChildPassed;
  });
  ASSERT_TRUE(child_passed(child));
  const std::size_t mismatch = first_pattern_mismatch(segment.data(), segment.size());
  EXPECT_EQ(mismatch, segment.size()) << "first byte the child wrote that the parent does not see";
}

TEST_P(SegmentTest, MoveConstructionTransfersOwnership) {
  Segment original = Segment::create(GetParam(), 64 * kKiB);
  std::byte* const data = original.data();
  const std::size_t size = original.size();
  const int sysv_id = original.sysv_id();
  const int posix_fd = original.posix_fd();
  const std::string name = original.describe();

  Segment moved(std::move(original));
  EXPECT_EQ(moved.data(), data);
  EXPECT_EQ(moved.size(), size);
  EXPECT_EQ(moved.backend(), GetParam());
  EXPECT_EQ(moved.sysv_id(), sysv_id);
  EXPECT_EQ(moved.posix_fd(), posix_fd);
  EXPECT_EQ(moved.describe(), name);

  // The moved-from segment owns nothing, so its destructor must not unmap the moved pages.
  EXPECT_FALSE(original.attached());
  EXPECT_EQ(original.data(), nullptr);  // NOLINT(bugprone-use-after-move): checking exactly that
  EXPECT_EQ(original.size(), 0u);
  EXPECT_EQ(original.sysv_id(), -1);
  EXPECT_EQ(original.posix_fd(), -1);
  original.detach();
  moved.data()[size - 1] = std::byte{1};
  EXPECT_EQ(moved.data()[size - 1], std::byte{1});
}

TEST_P(SegmentTest, MoveAssignmentTransfersOwnershipAndDetachesTheTarget) {
  Segment source = Segment::create(GetParam(), 64 * kKiB);
  Segment target = Segment::create(GetParam(), 32 * kKiB);
  std::byte* const source_data = source.data();
  const int source_id = source.sysv_id();
  const int source_fd = source.posix_fd();
  std::byte* const old_target_data = target.data();
  const int old_target_id = target.sysv_id();
  const int old_target_fd = target.posix_fd();

  target = std::move(source);
  EXPECT_EQ(target.data(), source_data);
  EXPECT_EQ(target.size(), round_up(64 * kKiB, page_size()));
  EXPECT_EQ(target.sysv_id(), source_id);
  EXPECT_EQ(target.posix_fd(), source_fd);
  EXPECT_FALSE(source.attached());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(source.sysv_id(), -1);
  EXPECT_EQ(source.posix_fd(), -1);

  // What the target held before is gone, not leaked.
  EXPECT_FALSE(is_mapped(old_target_data));
  if (GetParam() == Backend::sysv) {
    EXPECT_FALSE(ShmCensus::take().contains_sysv(old_target_id));
  }
  if (GetParam() == Backend::posix) {
    errno = 0;
    EXPECT_EQ(fcntl(old_target_fd, F_GETFD), -1);
    EXPECT_EQ(errno, EBADF) << "the old target's descriptor is still open";
  }
  EXPECT_TRUE(is_mapped(target.data()));
}

TEST_P(SegmentTest, DetachLeavesNothingBehind) {
  Segment segment = Segment::create(GetParam(), 256 * kKiB);
  std::byte* const data = segment.data();
  const int id = segment.sysv_id();
  if (GetParam() == Backend::sysv) {
    const ShmCensus attached = ShmCensus::take();
    const auto entry = std::find_if(attached.sysv.begin(), attached.sysv.end(),
                                    [&](const auto& listed) { return listed.shmid == id; });
    ASSERT_NE(entry, attached.sysv.end()) << "sysv id " << id << " not in /proc/sysvipc/shm";
    EXPECT_TRUE(entry->marked_for_removal) << "IPC_RMID was not done right after shmat";
    EXPECT_EQ(entry->nattch, 1u);
  }

  segment.detach();
  EXPECT_FALSE(segment.attached());
  EXPECT_EQ(segment.describe(), "detached segment");
  EXPECT_FALSE(is_mapped(data));
  if (GetParam() == Backend::sysv) {
    EXPECT_FALSE(ShmCensus::take().contains_sysv(id)) << "the last detach did not free id " << id;
  }
  segment.detach();  // a second detach is harmless
  EXPECT_TRUE(nothing_leaked_since(before_));
}

TEST_P(SegmentTest, DestructionLeavesNothingBehind) {
  std::byte* data = nullptr;
  int id = -1;
  {
    const Segment segment = Segment::create(GetParam(), 256 * kKiB);
    data = segment.data();
    id = segment.sysv_id();
  }
  EXPECT_FALSE(is_mapped(data));
  if (GetParam() == Backend::sysv) {
    EXPECT_FALSE(ShmCensus::take().contains_sysv(id));
  }
  EXPECT_TRUE(nothing_leaked_since(before_));
}

TEST_P(SegmentTest, HugePagesRequestFallsBackCleanly) {
  const std::size_t asked = 3 * kMiB + 1;
  Segment::Options options;
  options.huge_pages = true;
  Segment segment = Segment::create(GetParam(), asked, options);
  ASSERT_TRUE(segment.attached());
  RecordProperty("huge_pages", segment.huge_pages() ? "obtained" : "fell back");
  if (GetParam() == Backend::posix) {
    EXPECT_FALSE(segment.huge_pages()) << "MAP_HUGETLB does not apply to shm_open files";
  }
  if (segment.huge_pages()) {
    EXPECT_GE(segment.size(), asked);
    EXPECT_EQ(segment.size() % (2 * kMiB), 0u) << "not a whole number of huge pages";
  } else {
    EXPECT_EQ(segment.size(), round_up(asked, page_size()));
  }
  const std::byte* begin = segment.data();
  const std::byte* end = begin + segment.size();
  EXPECT_EQ(std::find_if(begin, end, [](std::byte b) { return b != std::byte{0}; }), end);
  fill_pattern(segment.data(), segment.size());
  EXPECT_EQ(first_pattern_mismatch(segment.data(), segment.size()), segment.size());
}

TEST_P(SegmentTest, ZeroSizeThrowsInvalidArgument) {
  EXPECT_THROW(Segment::create(GetParam(), 0), std::invalid_argument);
}

TEST_P(SegmentTest, AbsurdSizeThrowsSystemErrorNamingCallSizeAndHint) {
  constexpr std::size_t kAbsurd = std::size_t{1} << 50;  // 1 PiB
  // The call that gives up depends on kernel settings (an overcommitting kernel may let shmget
  // through and fail at shmat), so each backend lists the calls that may fail.
  std::vector<std::string_view> calls;
  switch (GetParam()) {
    case Backend::sysv: calls = {"shmget(IPC_PRIVATE, 1125899906842624, ", "shmat("}; break;
    case Backend::posix: calls = {"ftruncate(", "posix_fallocate(", "mmap("}; break;
    case Backend::anon: calls = {"mmap(nullptr, 1125899906842624, "}; break;
  }
  try {
    const Segment segment = Segment::create(GetParam(), kAbsurd);
    FAIL() << "created a 1 PiB segment: " << segment.describe();
  } catch (const SystemError& error) {
    SCOPED_TRACE(error.describe());
    const std::string what = error.what();
    EXPECT_NE(error.code().value(), 0);
    EXPECT_TRUE(what.starts_with("could not ")) << what;
    EXPECT_TRUE(what.ends_with(": " + std::generic_category().message(error.code().value())));
    EXPECT_TRUE(contains(error.detail(), "1125899906842624")) << "detail lacks the size";
    EXPECT_TRUE(std::any_of(calls.begin(), calls.end(),
                            [&](std::string_view call) { return contains(error.detail(), call); }))
        << "detail lacks the call";
    EXPECT_FALSE(error.hint().empty());
    EXPECT_EQ(error.describe(), what + "\n  detail: " + error.detail() + "\n  hint: " + error.hint());
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SegmentTest,
                         testing::Values(Backend::sysv, Backend::posix, Backend::anon),
                         [](const testing::TestParamInfo<Backend>& param) {
                           return std::string(to_string(param.param));
                         });

TEST(BackendNameTest, PrintsAndParsesTheThreeNames) {
  for (const Backend backend : {Backend::sysv, Backend::posix, Backend::anon}) {
    EXPECT_EQ(parse_backend(to_string(backend)), backend);
  }
  EXPECT_EQ(to_string(Backend::posix), "posix");
}

TEST(BackendNameTest, UnknownNameThrowsUsageErrorNamingIt) {
  try {
    parse_backend("shm");
    FAIL() << "parse_backend(\"shm\") did not throw";
  } catch (const UsageError& error) {
    EXPECT_STREQ(error.what(), "unknown --backend 'shm': expected sysv, posix or anon");
  }
}

using SysvSegmentTest = LeakCheckedTest;

// DESIGN relies on this for exec'd workers and a read-only monitor (Linux only).
TEST_F(SysvSegmentTest, AnotherProcessCanAttachByIdAfterRemoval) {
  const Segment segment = Segment::create(Backend::sysv, 64 * kKiB);
  shmid_ds stats{};
  ASSERT_EQ(shmctl(segment.sysv_id(), IPC_STAT, &stats), 0) << std::strerror(errno);
  ASSERT_NE(stats.shm_perm.mode & SHM_DEST, 0u) << "not marked for removal";

  const ChildEnd child = run_in_child([&]() -> int {
    // Drop the inherited view first, so that only the id leads this process to the segment.
    if (shmdt(segment.data()) != 0) return child_fails_errno(kChildSetupFailed, "shmdt");
    void* address = shmat(segment.sysv_id(), nullptr, 0);
    if (address == reinterpret_cast<void*>(-1)) {
      return child_fails_errno(kChildWrongError, "shmat by id after IPC_RMID");
    }
    fill_pattern(static_cast<std::byte*>(address), segment.size());
    shmdt(address);
    return kChildPassed;
  });
  ASSERT_TRUE(child_passed(child));
  EXPECT_EQ(first_pattern_mismatch(segment.data(), segment.size()), segment.size());
}

using PosixSegmentTest = LeakCheckedTest;

TEST_F(PosixSegmentTest, NameIsUnlinkedRightAfterCreateAndTheFdStaysOpen) {
  const Segment segment = Segment::create(Backend::posix, 64 * kKiB + 1);
  const std::string described = segment.describe();
  const std::string own_prefix = "/tilefork-" + std::to_string(getpid()) + "-";
  ASSERT_TRUE(described.starts_with("posix " + own_prefix)) << described;
  const std::string name = described.substr(std::string_view("posix ").size());

  errno = 0;
  const int reopened = shm_open(name.c_str(), O_RDWR, 0);
  EXPECT_EQ(reopened, -1) << name << " can still be opened";
  EXPECT_EQ(errno, ENOENT) << std::strerror(errno);
  if (reopened >= 0) close(reopened);
  // Only this process's names: a test running concurrently may own others.
  for (const std::string& entry : ShmCensus::take().posix) {
    EXPECT_FALSE(("/" + entry).starts_with(own_prefix)) << "/dev/shm/" << entry;
  }

  const int fd = segment.posix_fd();
  ASSERT_GE(fd, 0);
  EXPECT_NE(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0) << "the descriptor would leak into exec'd programs";
  struct stat stats {};
  ASSERT_EQ(fstat(fd, &stats), 0) << std::strerror(errno);
  EXPECT_EQ(static_cast<std::size_t>(stats.st_size), segment.size());
  // The descriptor alone reaches the pages, as an exec'd worker would use it.
  void* view = mmap(nullptr, segment.size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(view, MAP_FAILED) << std::strerror(errno);
  static_cast<std::byte*>(view)[segment.size() - 1] = std::byte{0x42};
  EXPECT_EQ(segment.data()[segment.size() - 1], std::byte{0x42});
  munmap(view, segment.size());
}

// A watcher's view (tilefork top): another process attaches read-only, by id for sysv and through
// the creator's descriptor in /proc for posix (the name is unlinked), sees the creator's writes,
// and faults if it writes.
class ReadOnlyViewTest : public testing::TestWithParam<Backend> {
 protected:
  void TearDown() override { EXPECT_TRUE(nothing_leaked_since(before_)); }
  const ShmCensus before_ = ShmCensus::take();
};

TEST_P(ReadOnlyViewTest, AnotherProcessSeesTheSegmentAndCannotWriteIt) {
  Segment segment = Segment::create(GetParam(), 64 * kKiB);
  const std::string proc_path = "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(segment.posix_fd());
  const int id = segment.sysv_id();
  const auto attach = [&] {
    return GetParam() == Backend::sysv ? Segment::attach_read_only_sysv(id) : Segment::attach_read_only_posix(proc_path);
  };
  segment.data()[segment.size() - 1] = std::byte{0x5a};
  const ChildEnd child = run_in_child([&]() -> int {
    segment.detach();  // only the id or the parent's descriptor leads this process to the pages
    Segment view = attach();
    if (!view.read_only() || view.size() != 64 * kKiB || view.backend() != GetParam()) {
      std::fprintf(stderr, "child: view %s of %zu bytes, read_only %d\n", view.describe().c_str(), view.size(),
                   view.read_only());
      return kChildWrongError;
    }
    if (view.data()[view.size() - 1] != std::byte{0x5a}) return kChildWrongError;  // the parent's write
    const ChildEnd writer = run_in_child([&]() -> int {
      view.data()[0] = std::byte{1};
      return kChildPassed;  // not reached: the page is read-only
    });
    if (!writer.started || !WIFSIGNALED(writer.status) || WTERMSIG(writer.status) != SIGSEGV) {
      std::fprintf(stderr, "child: a write through the view %s\n", writer.describe().c_str());
      return kChildWrongError;
    }
    return kChildPassed;
  });
  ASSERT_TRUE(child_passed(child));
  EXPECT_EQ(segment.data()[0], std::byte{0});
}

TEST_P(ReadOnlyViewTest, AGoneSegmentGivesAnErrorSayingTheRunHasEnded) {
  int id = -1;
  std::string proc_path;
  {
    const Segment segment = Segment::create(GetParam(), 64 * kKiB);
    id = segment.sysv_id();
    proc_path = "/proc/self/fd/" + std::to_string(segment.posix_fd());
  }
  try {
    if (GetParam() == Backend::sysv) {
      (void)Segment::attach_read_only_sysv(id);
    } else {
      (void)Segment::attach_read_only_posix(proc_path);
    }
    FAIL() << "attached a segment that is gone";
  } catch (const SystemError& error) {
    EXPECT_TRUE(error.code().value() == EINVAL || error.code().value() == EIDRM || error.code().value() == ENOENT)
        << error.describe();
    EXPECT_NE(error.hint().find("ended"), std::string::npos) << error.describe();
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ReadOnlyViewTest, testing::Values(Backend::sysv, Backend::posix),
                         [](const testing::TestParamInfo<Backend>& param_info) {
                           return std::string(to_string(param_info.param));
                         });

using SysvLimitsTest = LeakCheckedTest;

TEST_F(SysvLimitsTest, ShmmaxBelowTheSizeGivesAHintNamingShmmax) {
  const ChildEnd child = run_in_child([]() -> int {
    // A private IPC namespace has its own kernel.shm* limits, so the host's stay untouched.
    if (unshare(CLONE_NEWIPC) != 0) {
      return errno == EPERM ? kChildSkipped : child_fails_errno(kChildSetupFailed, "unshare(CLONE_NEWIPC)");
    }
    if (!write_text("/proc/sys/kernel/shmmax", "1048576")) {
      return child_fails_errno(kChildSetupFailed, "writing /proc/sys/kernel/shmmax");
    }
    try {
      const Segment segment = Segment::create(Backend::sysv, 8 * kMiB);
      return child_fails(kChildDidNotThrow, "8 MiB with kernel.shmmax = 1 MiB: " + segment.describe());
    } catch (const SystemError& error) {
      if (error.code().value() != EINVAL || !contains(error.hint(), "kernel.shmmax = 1048576") ||
          !contains(error.detail(), "shmget(IPC_PRIVATE, 8388608, IPC_CREAT|IPC_EXCL|0600)")) {
        return child_fails(kChildWrongError, error.describe());
      }
    }
    return kChildPassed;
  });
  if (child.exited_with(kChildSkipped)) GTEST_SKIP() << "unshare(CLONE_NEWIPC) is not permitted";
  EXPECT_TRUE(child_passed(child));
}

using PosixLimitsTest = LeakCheckedTest;

TEST_F(PosixLimitsTest, FullDevShmGivesEnospcInsteadOfSigbus) {
  struct statvfs host_before {};
  ASSERT_EQ(statvfs("/dev/shm", &host_before), 0) << std::strerror(errno);
  const ChildEnd child = run_in_child([]() -> int {
    const auto not_permitted = [](std::string_view call) {
      return errno == EPERM ? kChildSkipped : child_fails_errno(kChildSetupFailed, call);
    };
    if (unshare(CLONE_NEWNS) != 0) return not_permitted("unshare(CLONE_NEWNS)");
    // Without this the small tmpfs below would propagate to the host's /dev/shm.
    if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return not_permitted("making / private");
    }
    if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=1777") != 0) {
      return not_permitted("mounting a 1 MiB tmpfs on /dev/shm");
    }
    try {
      const Segment segment = Segment::create(Backend::posix, 8 * kMiB);
      // Touch every page: without the reservation this is where SIGBUS would strike.
      fill_pattern(segment.data(), segment.size());
      return child_fails(kChildDidNotThrow, "8 MiB on a 1 MiB /dev/shm: " + segment.describe());
    } catch (const SystemError& error) {
      if (error.code().value() != ENOSPC || !contains(error.hint(), "/dev/shm") ||
          !contains(error.detail(), "posix_fallocate(")) {
        return child_fails(kChildWrongError, error.describe());
      }
    }
    if (!ShmCensus::take().posix.empty()) {
      return child_fails(kChildLeftSomethingBehind, "the failed segment's name is still in /dev/shm");
    }
    return kChildPassed;
  });
  if (child.exited_with(kChildSkipped)) GTEST_SKIP() << "mount namespaces are not permitted here";
  EXPECT_TRUE(child_passed(child));

  struct statvfs host_after {};
  ASSERT_EQ(statvfs("/dev/shm", &host_after), 0) << std::strerror(errno);
  EXPECT_EQ(host_after.f_blocks, host_before.f_blocks) << "the child's tmpfs leaked onto the host";
}

using ShmCensusTest = LeakCheckedTest;

TEST_F(ShmCensusTest, ReportsASysvSegmentLeftBehind) {
  const int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | IPC_EXCL | 0600);
  ASSERT_GE(id, 0) << std::strerror(errno);
  const std::vector<std::string> leaks = ShmCensus::take().leaked_since(before_);
  shmctl(id, IPC_RMID, nullptr);  // before any assertion, so that a failure leaks nothing
  ASSERT_EQ(leaks.size(), 1u);
  EXPECT_EQ(leaks[0], "sysv shmid " + std::to_string(id) + " size 4096 nattch 0 cpid " +
                          std::to_string(getpid()));
}

TEST_F(ShmCensusTest, ReportsAPosixEntryLeftBehind) {
  const std::string name = "/tilefork-" + std::to_string(getpid()) + "-census";
  const int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  close(fd);
  const std::vector<std::string> leaks = ShmCensus::take().leaked_since(before_);
  shm_unlink(name.c_str());
  ASSERT_EQ(leaks.size(), 1u);
  EXPECT_EQ(leaks[0], "posix /dev/shm" + name);
}

TEST(PidAliveTest, SeesLiveChildrenAndNotZombies) {
  EXPECT_TRUE(test::pid_alive(getpid()));

  int ready[2];
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0) << std::strerror(errno);
  std::fflush(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    close(ready[1]);
    char byte = 0;
    (void)!read(ready[0], &byte, 1);  // returns at EOF, when the parent closes its end
    _exit(0);
  }
  close(ready[0]);
  EXPECT_TRUE(test::pid_alive(pid));
  close(ready[1]);

  // Wait for the exit without reaping: a zombie still answers kill(pid, 0).
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT), 0) << std::strerror(errno);
  EXPECT_EQ(kill(pid, 0), 0);
  EXPECT_FALSE(test::pid_alive(pid)) << "a zombie counts as alive";

  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_FALSE(test::pid_alive(pid));
}

}  // namespace
}  // namespace tilefork
