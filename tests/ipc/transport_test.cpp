// `tilefork bench --transport`: every transport moves whole, verified frames, a corrupted frame or a
// dead worker is caught, the outputs parse, and however the bench ends nothing is left behind.
#include "transport.hpp"

#include "common/batch.hpp"
#include "common/cli.hpp"
#include "common/shm_census.hpp"
#include "tilefork/errors.hpp"
#include "tilefork/worker_pool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

namespace tilefork::bench {
// Test names and messages show "pipe", not the enum's bytes.
void PrintTo(Transport transport, std::ostream* out) { *out << to_string(transport); }
}  // namespace tilefork::bench

namespace tilefork {
namespace {

using bench::Transport;

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "'" << part << "' is not in:\n" << text;
}

testing::AssertionResult nothing_left(const std::vector<std::string>& leftovers) {
  if (leftovers.empty()) return testing::AssertionSuccess();
  auto failure = testing::AssertionFailure() << "left behind:";
  for (const auto& leftover : leftovers) failure << "\n  " << leftover;
  return failure;
}

// ---------------------------------------------------------------------------------------------
// POSIX message queues left behind. They are listed only where an mqueue file system is mounted,
// so a child mounts one in a mount namespace of its own (as segment_test mounts /dev/shm).

pid_t parent_of(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line) || line.rfind(')') == std::string::npos) return 0;
  std::istringstream rest(line.substr(line.rfind(')') + 1));
  char state = 0;
  pid_t ppid = 0;
  return rest >> state >> ppid ? ppid : 0;
}

// Queues are named "tilefork-<pid>-<random>-<role>"; one whose creator lives outside this process's
// tree belongs to a test running beside us (ctest -j) and is no leak of ours.
bool created_by_us_or_dead(const std::string& name) {
  pid_t pid = 0;
  if (std::sscanf(name.c_str(), "tilefork-%d-", &pid) != 1) return true;
  if (!test::pid_alive(pid)) return true;
  for (int depth = 0; depth < 64 && pid > 1; ++depth, pid = parent_of(pid)) {
    if (pid == getpid()) return true;
  }
  return false;
}

// The names of the queues whose name starts with "tilefork", or nullopt where this process may
// not mount (no CAP_SYS_ADMIN).
std::optional<std::vector<std::string>> tilefork_queues() {
  int channel[2];
  if (pipe(channel) != 0) return std::nullopt;
  const pid_t child = fork();
  if (child == 0) {
    close(channel[0]);
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(2);
    char folder[] = "/tmp/tilefork-mqueue-XXXXXX";
    if (mkdtemp(folder) == nullptr) _exit(3);
    if (mount("mqueue", folder, "mqueue", 0, nullptr) != 0) {
      rmdir(folder);
      _exit(2);
    }
    std::string names;
    if (DIR* listing = opendir(folder)) {
      while (const dirent* entry = readdir(listing)) {
        if (std::strncmp(entry->d_name, "tilefork", 8) == 0) names += std::string(entry->d_name) + "\n";
      }
      closedir(listing);
    }
    umount(folder);
    rmdir(folder);
    const bool sent = write(channel[1], names.data(), names.size()) == static_cast<ssize_t>(names.size());
    _exit(sent ? 0 : 4);
  }
  close(channel[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t count; (count = read(channel[0], buffer, sizeof buffer)) > 0;) text.append(buffer, count);
  close(channel[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  std::vector<std::string> names;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) names.push_back(line);
  return names;
}

// What a test could leave behind: segments, queues, and child processes (live or zombie).
class Leftovers {
 public:
  Leftovers() : shm_(test::ShmCensus::take()), queues_(tilefork_queues()) {}

  std::vector<std::string> since() const {
    std::vector<std::string> found = test::ShmCensus::take().leaked_since(shm_);
    if (queues_) {
      const auto now = tilefork_queues();
      for (const std::string& name : now.value_or(std::vector<std::string>{})) {
        const bool existed = std::find(queues_->begin(), queues_->end(), name) != queues_->end();
        if (!existed && created_by_us_or_dead(name)) found.push_back("message queue /" + name);
      }
    }
    // -1 with ECHILD: no child at all, not even an unreaped one.
    if (waitpid(-1, nullptr, WNOHANG) != -1 || errno != ECHILD) found.push_back("a child process not reaped");
    return found;
  }

  bool queues_checked() const { return queues_.has_value(); }

 private:
  test::ShmCensus shm_;
  std::optional<std::vector<std::string>> queues_;
};

bench::TransportBenchOptions quick(std::vector<std::size_t> sizes, int repetitions = 2) {
  bench::TransportBenchOptions options;
  options.sizes = std::move(sizes);
  options.min_repetitions = repetitions;
  options.min_time = std::chrono::duration<double>(0);
  return options;
}

// ---------------------------------------------------------------------------------------------
// The pieces.

TEST(FrameChecksum, SeesEveryByteItsPlaceAndTheLength) {
  for (const std::size_t size : {1u, 7u, 31u, 32u, 33u, 1000u}) {
    std::vector<std::byte> frame(size);
    for (std::size_t i = 0; i < size; ++i) frame[i] = static_cast<std::byte>(i * 37 + 11);
    const std::uint64_t original = bench::frame_checksum(frame);
    for (std::size_t i = 0; i < size; ++i) {
      for (const std::byte bit : {std::byte{0x01}, std::byte{0x80}}) {
        frame[i] ^= bit;
        EXPECT_NE(bench::frame_checksum(frame), original) << "size " << size << ", byte " << i << " changed";
        frame[i] ^= bit;
      }
    }
    if (size >= 80) {
      // Two 8-byte words of the same lane (32 bytes apart) trade places: the sum alone misses it.
      std::swap_ranges(frame.begin() + 8, frame.begin() + 16, frame.begin() + 40);
      EXPECT_NE(bench::frame_checksum(frame), original) << "size " << size << ", words swapped";
    }
  }
  // A frame cut short and padded with zeros is another frame.
  const std::vector<std::byte> zeros(64);
  EXPECT_NE(bench::frame_checksum(zeros), bench::frame_checksum(std::span(zeros).first(56)));
  EXPECT_NE(bench::frame_checksum(std::span(zeros).first(1)), bench::frame_checksum({}));
}

TEST(FrameSizes, ParseAndPrint) {
  EXPECT_EQ(bench::parse_size("65536"), 64 * KiB);
  EXPECT_EQ(bench::parse_size("64K"), 64 * KiB);
  EXPECT_EQ(bench::parse_size("64KiB"), 64 * KiB);
  EXPECT_EQ(bench::parse_size("1M"), MiB);
  EXPECT_EQ(bench::parse_size("16MiB"), 16 * MiB);
  EXPECT_EQ(bench::parse_size("1G"), 1024 * MiB);
  EXPECT_EQ(bench::parse_size("12345B"), 12345u);
  for (const char* wrong : {"", "0", "K", "12X", "-1", "5G", "1.5M", "64 K"}) {
    EXPECT_THROW(bench::parse_size(wrong), UsageError) << "'" << wrong << "'";
  }
  EXPECT_EQ(bench::format_size(64 * KiB), "64 KiB");
  EXPECT_EQ(bench::format_size(64 * MiB), "64 MiB");
  EXPECT_EQ(bench::format_size(1536), "1536 B");
  EXPECT_EQ(bench::default_frame_sizes(),
            (std::vector<std::size_t>{64 * KiB, 256 * KiB, MiB, 4 * MiB, 16 * MiB, 64 * MiB}));
}

TEST(TransportNames, RoundTripAndUnknownNamesAreNamed) {
  for (Transport transport : bench::all_transports()) {
    EXPECT_EQ(bench::parse_transport(bench::to_string(transport)), transport);
  }
  try {
    bench::parse_transport("fifo");
    FAIL() << "'fifo' was accepted";
  } catch (const UsageError& error) {
    EXPECT_TRUE(contains(error.what(), "'fifo'"));
    EXPECT_TRUE(contains(error.what(), "socketpair"));
  }
}

// ---------------------------------------------------------------------------------------------
// The measurement, called directly.

class TransportBench : public testing::Test {
 protected:
  void TearDown() override {
    EXPECT_TRUE(nothing_left(before_.since()));
    if (!before_.queues_checked()) RecordProperty("message_queues", "not checked: mounting mqueue not permitted");
  }
  Leftovers before_;
};

TEST_F(TransportBench, EveryTransportDeliversVerifiedFrames) {
  const std::vector<std::size_t> sizes{64 * KiB, MiB};
  std::vector<std::pair<Transport, std::size_t>> reported;
  const auto results = bench::measure_transports(quick(sizes), [&](const bench::TransferResult& result) {
    reported.emplace_back(result.transport, result.frame_bytes);
  });
  const auto transports = bench::all_transports();
  ASSERT_EQ(results.size(), sizes.size() * transports.size());
  ASSERT_EQ(reported.size(), results.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& result = results[i];
    const Transport transport = transports[i % transports.size()];
    const std::size_t size = sizes[i / transports.size()];
    SCOPED_TRACE(fmt::format("{}, {}", bench::display_name(result.transport), bench::format_size(result.frame_bytes)));
    EXPECT_EQ(result.transport, transport);
    EXPECT_EQ(result.frame_bytes, size);
    EXPECT_EQ(reported[i], std::make_pair(transport, size));
    EXPECT_EQ(result.repetitions, 2);  // min_time 0: exactly the minimum, each verified
    EXPECT_GT(result.mb_per_s(), 0);
    EXPECT_GT(result.min_us, 0);
    EXPECT_LE(result.min_us, result.q1_us);
    EXPECT_LE(result.q1_us, result.median_us);
    EXPECT_LE(result.median_us, result.q3_us);
    EXPECT_LE(result.q3_us, result.max_us);
    EXPECT_FALSE(result.setup.empty());
  }
}

TEST_F(TransportBench, AwkwardSizesArriveWhole) {
  // One byte; less than a checksum word; one byte over a queue message; several messages and a tail.
  const auto results = bench::measure_transports(quick({1, 13, 8193, 3 * 8192 + 5}, 3));
  EXPECT_EQ(results.size(), 4 * bench::all_transports().size());
  for (const auto& result : results) EXPECT_EQ(result.repetitions, 3) << bench::display_name(result.transport);
}

TEST_F(TransportBench, AtLeastMinTimeIsSpent) {
  auto options = quick({64 * KiB});
  options.transports = {Transport::pipe};
  options.min_time = std::chrono::milliseconds(50);
  const auto results = bench::measure_transports(options);
  ASSERT_EQ(results.size(), 1u);
  // The timed transfers add up to at least min_time, so their longest times their count does
  // (a median would not: on a loaded machine a few slow transfers carry much of the time).
  EXPECT_GE(results[0].max_us * results[0].repetitions, 50'000) << results[0].repetitions << " repetitions";
  EXPECT_GT(results[0].repetitions, 2);
}

TEST_F(TransportBench, WrongOptionsAreUsageErrors) {
  EXPECT_THROW(bench::measure_transports(quick({})), UsageError);
  auto none = quick({64 * KiB});
  none.transports.clear();
  EXPECT_THROW(bench::measure_transports(none), UsageError);
  EXPECT_THROW(bench::measure_transports(quick({64 * KiB}, 0)), UsageError);
}

// "inplace", "sysv", ...: gtest names take no '-'.
std::string test_name(const testing::TestParamInfo<Transport>& param) {
  std::string name(bench::to_string(param.param));
  std::erase(name, '-');
  return name;
}

class EachTransport : public TransportBench, public testing::WithParamInterface<Transport> {};

TEST_P(EachTransport, ACorruptedFrameIsCaught) {
  auto options = quick({64 * KiB, 1 * MiB}, 3);
  options.transports = {GetParam()};
  options.flip_byte_in_repetition = 1;
  try {
    bench::measure_transports(options);
    FAIL() << "a frame with a flipped byte passed verification";
  } catch (const bench::TransferCorrupted& error) {
    EXPECT_TRUE(contains(error.what(), std::string(bench::display_name(GetParam())) + ", 64 KiB"));
    EXPECT_TRUE(contains(error.what(), "repetition 1"));
  }
}

TEST_P(EachTransport, AnInterruptionStopsItCleanly) {
  auto options = quick({1 * MiB}, 1000);
  options.transports = {GetParam()};
  int polls = 0;
  options.interrupted = [&polls] { return ++polls > 5; };
  EXPECT_THROW(bench::measure_transports(options), bench::Interrupted);
}

TEST_P(EachTransport, AWorkerThatDiesIsReported) {
  auto options = quick({1 * MiB}, 1000);
  options.transports = {GetParam()};
  int polls = 0;
  pid_t killed = 0;
  // Kills the worker once the transfers are under way, the way a crash would.
  options.interrupted = [&] {
    if (++polls == 5) {
      const auto workers = test::children_of(getpid());
      if (workers.size() == 1) {
        killed = workers[0];
        ::kill(killed, SIGKILL);
      }
    }
    return false;
  };
  try {
    bench::measure_transports(options);
    FAIL() << "the bench went on without its worker";
  } catch (const bench::TransferCorrupted& error) {
    FAIL() << "a dead worker taken for a corrupted frame: " << error.what();
  } catch (const std::runtime_error& error) {
    ASSERT_NE(killed, 0) << "no worker was found to kill";
    EXPECT_TRUE(contains(error.what(), fmt::format("(pid {})", killed)));
    EXPECT_TRUE(contains(error.what(), "signal 9"));
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, EachTransport, testing::ValuesIn(bench::all_transports()),
                         test_name);

TEST_F(TransportBench, MessageQueueLimitsGiveAnActionableError) {
  // In a child, so that the lowered limit stays there.
  const pid_t child = fork();
  if (child == 0) {
    const rlimit none{0, 0};
    if (setrlimit(RLIMIT_MSGQUEUE, &none) != 0) _exit(10);
    auto options = quick({64 * KiB});
    options.transports = {Transport::mqueue};
    try {
      bench::measure_transports(options);
      _exit(11);
    } catch (const SystemError& error) {
      const bool named = std::string(error.what()).find("message queue") != std::string::npos;
      const bool hinted = error.hint().find("RLIMIT_MSGQUEUE") != std::string::npos &&
                          error.hint().find("ulimit -q") != std::string::npos;
      _exit(error.code().value() != EMFILE ? 12 : !named ? 13 : !hinted ? 14 : 0);
    } catch (...) {
      _exit(15);
    }
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10 setrlimit failed, 11 no error, 12 not EMFILE, 13 primary message "
                                       "does not name the queue, 14 hint does not name RLIMIT_MSGQUEUE, 15 another "
                                       "exception";
}

TEST(MessageQueueCensus, SeesAQueueLeftBehind) {
  const Leftovers before;
  if (!before.queues_checked()) GTEST_SKIP() << "mounting an mqueue file system is not permitted here";
  const std::string name = fmt::format("/tilefork-{}-census-check", getpid());
  mq_attr attributes{};
  attributes.mq_maxmsg = 1;
  attributes.mq_msgsize = 8;
  const mqd_t queue = mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attributes);
  ASSERT_NE(queue, static_cast<mqd_t>(-1)) << std::strerror(errno);
  const auto found = before.since();
  mq_close(queue);
  mq_unlink(name.c_str());
  EXPECT_NE(std::find(found.begin(), found.end(), "message queue " + name), found.end()) << "census missed " << name;
  EXPECT_TRUE(nothing_left(before.since()));
}

// ---------------------------------------------------------------------------------------------
// The command.

class BenchCommand : public TransportBench {
 protected:
  test::TempDir scratch_;
};

TEST_F(BenchCommand, WithoutAModeListsTheModes) {
  const auto outcome = test::run_tilefork({"bench"}, scratch_);
  EXPECT_EQ(outcome.code, 2) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "needs a mode"));
  EXPECT_TRUE(contains(outcome.err, "--transport"));
}

TEST_F(BenchCommand, WrongSizesAndTransportsAreUsageErrors) {
  auto outcome = test::run_tilefork({"bench", "--transport", "--sizes", "64K,12X"}, scratch_);
  EXPECT_EQ(outcome.code, 2) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "'12X'"));
  outcome = test::run_tilefork({"bench", "--transport", "--transports", "pipe,carrier-pigeon"}, scratch_);
  EXPECT_EQ(outcome.code, 2) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "'carrier-pigeon'"));
  outcome = test::run_tilefork({"bench", "--transport", "--csv", scratch_ / "no/such/folder/out.csv"}, scratch_);
  EXPECT_EQ(outcome.code, 2) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "no/such/folder"));
  EXPECT_TRUE(outcome.out.empty()) << "measured before refusing the CSV path:\n" << outcome.out;
}

TEST_F(BenchCommand, JsonParsesAndCsvHasOneRowPerTransportAndSize) {
  const std::string csv = scratch_ / "transport.csv";
  const auto outcome = test::run_tilefork({"bench", "--transport", "--sizes", "64K,1M", "--min-repeat", "2",
                                           "--min-time", "0", "--json", "--csv", csv},
                                          scratch_);
  ASSERT_EQ(outcome.code, 0) << outcome.err;
  std::set<std::pair<std::string, std::size_t>> expected;
  for (Transport transport : bench::all_transports()) {
    for (std::size_t size : {64 * KiB, MiB}) expected.emplace(bench::to_string(transport), size);
  }

  const auto report = nlohmann::json::parse(outcome.out);
  EXPECT_TRUE(contains(report["segment_handshake"].get<std::string>(), "futex"));
  std::set<std::pair<std::string, std::size_t>> in_json;
  for (const auto& row : report["results"]) {
    in_json.emplace(row["transport"].get<std::string>(), row["frame_bytes"].get<std::size_t>());
    EXPECT_GT(row["mb_per_s"].get<double>(), 0) << row;
    EXPECT_EQ(row["repetitions"].get<int>(), 2) << row;
  }
  EXPECT_EQ(report["results"].size(), expected.size());
  EXPECT_EQ(in_json, expected);

  std::ifstream file(csv);
  std::string line;
  ASSERT_TRUE(std::getline(file, line)) << "no CSV written";
  EXPECT_EQ(line, "transport,frame_bytes,repetitions,median_us,q1_us,q3_us,min_us,max_us,mb_per_s");
  std::multiset<std::pair<std::string, std::size_t>> in_csv;
  while (std::getline(file, line)) {
    std::vector<std::string> fields;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) fields.push_back(cell);
    ASSERT_EQ(fields.size(), 9u) << line;
    in_csv.emplace(fields[0], std::stoull(fields[1]));
    EXPECT_GT(std::stod(fields[8]), 0) << line;
  }
  EXPECT_EQ(in_csv, (std::multiset<std::pair<std::string, std::size_t>>(expected.begin(), expected.end())));
}

TEST_F(BenchCommand, TableNamesTheHandshakeAndTheReference) {
  // Asked in another order, measured in-place first, so that the pipe row has its ratio.
  const auto outcome = test::run_tilefork(
      {"bench", "--transport", "--sizes", "64K", "--transports", "pipe,in-place", "--min-time", "0"}, scratch_);
  ASSERT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_TRUE(contains(outcome.out, "Segment handshake: futex"));
  EXPECT_TRUE(contains(outcome.out, "x in place"));
  const auto in_place = outcome.out.find("segment sysv, in place    64 KiB");
  const auto pipe = outcome.out.find("\npipe                      64 KiB");
  ASSERT_NE(in_place, std::string::npos) << outcome.out;
  ASSERT_NE(pipe, std::string::npos) << outcome.out;
  EXPECT_LT(in_place, pipe) << outcome.out;
  EXPECT_TRUE(contains(outcome.out.substr(in_place, outcome.out.find('\n', in_place) - in_place), " 1.00"));
  const std::string pipe_row = outcome.out.substr(pipe + 1, outcome.out.find('\n', pipe + 1) - pipe - 1);
  EXPECT_NE(pipe_row.back(), '-') << "no ratio to in place: " << pipe_row;
}

// Starts `tilefork bench --transport` over 16 MiB frames for much longer than the test waits, in
// a process group of its own (as a shell's job), and waits until its worker runs.
struct RunningBench {
  pid_t coordinator = 0;
  pid_t worker = 0;
};

RunningBench start_long_bench(Transport transport) {
  RunningBench bench;
  bench.coordinator = fork();
  if (bench.coordinator == 0) {
    setpgid(0, 0);
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    const std::string transports(bench::to_string(transport));
    execl(TILEFORK_BINARY, TILEFORK_BINARY, "bench", "--transport", "--sizes", "16M", "--transports",
          transports.c_str(), "--min-time", "60", static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(bench.coordinator, bench.coordinator);  // also here: no race with the child's own call
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (bench.worker == 0 && std::chrono::steady_clock::now() < deadline) {
    const auto workers = test::children_of(bench.coordinator);
    if (workers.size() == 1) bench.worker = workers[0];
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // into the timed transfers
  return bench;
}

// Waits up to `limit` for the process to end; SIGKILLs it if it does not. The wait status.
std::optional<int> wait_at_most(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return std::nullopt;
}

class CommandEachTransport : public BenchCommand, public testing::WithParamInterface<Transport> {};

TEST_P(CommandEachTransport, CtrlCStopsItWithNothingLeft) {
  const RunningBench bench = start_long_bench(GetParam());
  ASSERT_NE(bench.worker, 0) << "the worker never started";
  ::kill(-bench.coordinator, SIGINT);  // what a terminal does: the whole foreground group
  const auto status = wait_at_most(bench.coordinator, std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value()) << "still running 10 s after SIGINT";
  ASSERT_TRUE(WIFEXITED(*status)) << describe_wait_status(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 130);
  EXPECT_FALSE(test::pid_alive(bench.worker)) << "worker " << bench.worker << " outlived the bench";
}

TEST_P(CommandEachTransport, KillingTheCoordinatorTakesTheWorkerAlong) {
  const RunningBench bench = start_long_bench(GetParam());
  ASSERT_NE(bench.worker, 0) << "the worker never started";
  ::kill(bench.coordinator, SIGKILL);  // the coordinator alone: the worker must follow by itself
  waitpid(bench.coordinator, nullptr, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (test::pid_alive(bench.worker) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(test::pid_alive(bench.worker)) << "worker " << bench.worker << " orphaned";
  // The kernel frees a segment at its last detach, which is the worker's death.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

INSTANTIATE_TEST_SUITE_P(Transports, CommandEachTransport, testing::ValuesIn(bench::all_transports()),
                         test_name);

}  // namespace
}  // namespace tilefork
