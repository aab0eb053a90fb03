// The transports of `tilefork bench --transport`, a worker for each, and the timed, verified transfers.
#include "transport.hpp"

#include "tilefork/errors.hpp"
#include "tilefork/futex.hpp"
#include "tilefork/segment.hpp"
#include "tilefork/worker_pool.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <mqueue.h>
#include <new>
#include <random>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

namespace tilefork::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::array kTransports{Transport::in_place, Transport::sysv,       Transport::posix,
                                 Transport::pipe,     Transport::socketpair, Transport::mqueue};

// How long a coordinator waits before it looks whether the worker is still alive or the user
// interrupted: a bound on the reaction time, not on a transfer.
constexpr auto kPollInterval = std::chrono::milliseconds(100);
constexpr int kWarmups = 2;  // untimed transfers first: page faults, caches, the worker's buffer
constexpr int kMaxRepetitions = 1'000'000;

// ---------------------------------------------------------------------------------------------
// Watching the worker while waiting for it.

class WorkerWatch {
 public:
  WorkerWatch(WorkerPool& pool, const std::function<bool()>& interrupted, std::string what)
      : pool_(pool), interrupted_(interrupted), what_(std::move(what)) {}

  // Throws Interrupted if the user asked to stop, or an error if the worker has died.
  void check() const {
    if (interrupted_ && interrupted_()) throw Interrupted("interrupted");
    for (const WorkerPool::Death& death : pool_.reap()) report(death);
  }

  // The worker's end of the channel went away: waits (briefly) for its death and reports it.
  [[noreturn]] void worker_gone() const {
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    while (Clock::now() < deadline) {
      check();
      usleep(1000);
    }
    throw std::runtime_error(fmt::format("the bench worker of {} closed its end of the channel but did not exit",
                                         what_));
  }

  const std::string& what() const noexcept { return what_; }

 private:
  [[noreturn]] void report(const WorkerPool::Death& death) const {
    // A SIGTERM sent to the whole process group reaches the worker too: that is an interruption.
    if (interrupted_ && interrupted_()) throw Interrupted("interrupted");
    throw std::runtime_error(fmt::format("the bench worker (pid {}) of {} ended: {}", death.pid, what_,
                                         describe_wait_status(death.status)));
  }

  WorkerPool& pool_;
  const std::function<bool()>& interrupted_;
  std::string what_;
};

// A CLOCK_REALTIME deadline kPollInterval from now, as mq_timedsend/mq_timedreceive want it.
timespec poll_deadline() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  const auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(kPollInterval).count();
  long nanoseconds = now.tv_nsec + static_cast<long>(interval);
  now.tv_sec += nanoseconds / 1'000'000'000;
  now.tv_nsec = nanoseconds % 1'000'000'000;
  return now;
}

// A file descriptor that closes itself. close() reports nothing: these are pipes and sockets,
// whose close cannot lose data.
class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { close(); }

  int get() const noexcept { return fd_; }
  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

long read_proc_number(const char* path, long fallback) {
  std::ifstream file(path);
  long value = 0;
  return file >> value ? value : fallback;
}

// ---------------------------------------------------------------------------------------------
// Channels: one transport between the coordinator and its one worker, for frames of one size.

class Channel {
 public:
  Channel() = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  virtual ~Channel() = default;

  // Where the coordinator keeps the frame it sends: its own memory, or for in_place the
  // segment, after one copy of `own` into it.
  virtual std::span<std::byte> home(std::span<std::byte> own) { return own; }
  // In the worker: receive frames, checksum each, send the checksum back, until told to stop.
  // Throws SystemError (the worker then exits with an error).
  virtual void serve() = 0;
  // In the coordinator, right after the fork: let go of the worker's ends.
  virtual void forked() {}
  // The timed part: hand the frame over, then wait for the worker's checksum.
  virtual void send(std::span<const std::byte> frame, const WorkerWatch& watch) = 0;
  virtual std::uint64_t receive_checksum(const WorkerWatch& watch) = 0;
  // Tells the worker to leave serve().
  virtual void stop(const WorkerWatch& watch) = 0;
  // How this transport was set up, for the report.
  virtual std::string setup() const = 0;
};

// The frame in a Segment, after one page for the handshake words.
class SegmentChannel final : public Channel {
 public:
  SegmentChannel(Backend backend, std::size_t frame_bytes, bool in_place) : in_place_(in_place) {
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    static_assert(sizeof(Handshake) <= 4096);
    segment_ = Segment::create(backend, page + frame_bytes);
    segment_.prefault();
    handshake_ = new (segment_.data()) Handshake{};
    frame_ = {segment_.data() + page, frame_bytes};
  }

  std::span<std::byte> home(std::span<std::byte> own) override {
    if (!in_place_) return own;
    std::memcpy(frame_.data(), own.data(), own.size());
    return frame_;
  }

  void serve() override {
    segment_.prefault();  // page tables of a shared mapping are not inherited
    std::uint32_t seen = 0;
    while (true) {
      const std::uint32_t request = handshake_->request.load(std::memory_order_acquire);
      if (handshake_->stop.load(std::memory_order_relaxed) != 0) return;
      if (request == seen) {
        futex_wait(handshake_->request, seen);
        continue;
      }
      seen = request;
      handshake_->checksum.store(frame_checksum(frame_), std::memory_order_relaxed);
      handshake_->reply.store(seen, std::memory_order_release);
      futex_wake(handshake_->reply, 1);
    }
  }

  void send(std::span<const std::byte> frame, const WorkerWatch&) override {
    if (!in_place_) std::memcpy(frame_.data(), frame.data(), frame.size());
    handshake_->request.store(++sent_, std::memory_order_release);
    futex_wake(handshake_->request, 1);
  }

  std::uint64_t receive_checksum(const WorkerWatch& watch) override {
    while (true) {
      const std::uint32_t reply = handshake_->reply.load(std::memory_order_acquire);
      if (reply == sent_) return handshake_->checksum.load(std::memory_order_relaxed);
      futex_wait(handshake_->reply, reply, kPollInterval);
      if (handshake_->reply.load(std::memory_order_acquire) != sent_) watch.check();
    }
  }

  void stop(const WorkerWatch&) override {
    handshake_->stop.store(1, std::memory_order_relaxed);
    handshake_->request.store(++sent_, std::memory_order_release);
    futex_wake(handshake_->request, 1);
  }

  std::string setup() const override {
    return in_place_ ? fmt::format("frame written into a {} segment once, then per frame only the futex handshake",
                                   to_string(segment_.backend()))
                     : fmt::format("frame copied (memcpy) into a {} segment, then the futex handshake",
                                   to_string(segment_.backend()));
  }

 private:
  // Lives in the segment's first page. The coordinator alone writes request and stop, the worker
  // alone reply and checksum.
  struct Handshake {
    std::atomic<std::uint32_t> request{0};  // bumped by the coordinator: a frame (or stop) is ready
    std::atomic<std::uint32_t> reply{0};    // set to request by the worker: checksum is written
    std::atomic<std::uint32_t> stop{0};
    std::atomic<std::uint64_t> checksum{0};
  };
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

  Segment segment_;
  Handshake* handshake_ = nullptr;
  std::span<std::byte> frame_;
  bool in_place_;
  std::uint32_t sent_ = 0;
};

// Writes all of `data`; a broken channel means the worker went away.
void write_all(int fd, std::span<const std::byte> data, const WorkerWatch& watch) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written >= 0) {
      data = data.subspan(static_cast<std::size_t>(written));
    } else if (errno == EINTR) {
      watch.check();
    } else if (errno == EPIPE || errno == ECONNRESET) {
      watch.worker_gone();
    } else {
      const int err = errno;
      throw_system_error(err, "could not send a frame to the bench worker",
                         fmt::format("write({}, {} bytes) for {}", fd, data.size(), watch.what()));
    }
  }
}

// Reads exactly data.size() bytes; false if the other end was closed before the first byte.
// The worker's side: nothing to watch, it dies with the coordinator.
bool read_exact(int fd, std::span<std::byte> data) {
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t count = ::read(fd, data.data() + got, data.size() - got);
    if (count > 0) {
      got += static_cast<std::size_t>(count);
    } else if (count == 0) {
      if (got == 0) return false;
      throw std::runtime_error(fmt::format("frame cut short after {} of {} bytes", got, data.size()));
    } else if (errno != EINTR) {
      const int err = errno;
      throw_system_error(err, "could not receive a frame", fmt::format("read({}, {} bytes)", fd, data.size() - got));
    }
  }
  return true;
}

// The coordinator's side of reading the 8-byte checksum.
std::uint64_t read_checksum(int fd, const WorkerWatch& watch) {
  std::uint64_t checksum = 0;
  auto* bytes = reinterpret_cast<std::byte*>(&checksum);
  std::size_t got = 0;
  while (got < sizeof checksum) {
    const ssize_t count = ::read(fd, bytes + got, sizeof checksum - got);
    if (count > 0) {
      got += static_cast<std::size_t>(count);
    } else if (count == 0 || errno == ECONNRESET) {
      watch.worker_gone();
    } else if (errno == EINTR) {
      watch.check();
    } else {
      const int err = errno;
      throw_system_error(err, "could not receive the bench worker's checksum",
                         fmt::format("read({}) for {}", fd, watch.what()));
    }
  }
  return checksum;
}

// A pipe each way, or one AF_UNIX SOCK_STREAM socket pair.
class StreamChannel final : public Channel {
 public:
  StreamChannel(Transport kind, std::size_t frame_bytes) : kind_(kind), frame_bytes_(frame_bytes) {
    if (kind == Transport::pipe) {
      open_pipe(request_out_, worker_in_);
      open_pipe(worker_out_, reply_in_);
      // A larger pipe means fewer wake-ups per frame: give the pipe its best chance, up to what
      // an unprivileged process may ask for.
      const long most = read_proc_number("/proc/sys/fs/pipe-max-size", 1 << 20);
      fcntl(request_out_.get(), F_SETPIPE_SZ, static_cast<int>(std::min<long>(most, 1 << 30)));
      const int capacity = fcntl(request_out_.get(), F_GETPIPE_SZ);
      setup_ = fmt::format("pipe capacity {} B (F_SETPIPE_SZ up to fs.pipe-max-size), one write() per frame",
                           capacity);
    } else {
      int ends[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
        const int err = errno;
        throw_system_error(err, "could not create a socket pair", "socketpair(AF_UNIX, SOCK_STREAM)",
                           "too many open files? check `ulimit -n`");
      }
      request_out_ = Fd(ends[0]);
      worker_in_ = Fd(ends[1]);
      int send_buffer = 0;
      socklen_t length = sizeof send_buffer;
      getsockopt(request_out_.get(), SOL_SOCKET, SO_SNDBUF, &send_buffer, &length);
      setup_ = fmt::format("AF_UNIX SOCK_STREAM, default buffers (SO_SNDBUF {} B), one write() per frame",
                           send_buffer);
    }
  }

  void serve() override {
    request_out_.close();
    reply_in_.close();
    const int in = worker_in_.get();
    const int out = kind_ == Transport::pipe ? worker_out_.get() : in;
    std::vector<std::byte> frame(frame_bytes_);
    while (read_exact(in, frame)) {
      const std::uint64_t checksum = frame_checksum(frame);
      std::span<const std::byte> reply{reinterpret_cast<const std::byte*>(&checksum), sizeof checksum};
      while (!reply.empty()) {
        const ssize_t written = ::write(out, reply.data(), reply.size());
        if (written < 0 && errno == EINTR) continue;
        if (written < 0) {
          const int err = errno;
          throw_system_error(err, "could not send the checksum", fmt::format("write({})", out));
        }
        reply = reply.subspan(static_cast<std::size_t>(written));
      }
    }
  }

  void forked() override {
    worker_in_.close();
    worker_out_.close();
  }

  void send(std::span<const std::byte> frame, const WorkerWatch& watch) override {
    write_all(request_out_.get(), frame, watch);
  }

  std::uint64_t receive_checksum(const WorkerWatch& watch) override {
    return read_checksum(kind_ == Transport::pipe ? reply_in_.get() : request_out_.get(), watch);
  }

  // End of stream: the worker's read sees it and it leaves.
  void stop(const WorkerWatch&) override {
    if (kind_ == Transport::pipe) {
      request_out_.close();
    } else {
      ::shutdown(request_out_.get(), SHUT_WR);
    }
  }

  std::string setup() const override { return setup_; }

 private:
  static void open_pipe(Fd& write_end, Fd& read_end) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) {
      const int err = errno;
      throw_system_error(err, "could not create a pipe", "pipe2(O_CLOEXEC)", "too many open files? check `ulimit -n`");
    }
    read_end = Fd(ends[0]);
    write_end = Fd(ends[1]);
  }

  Transport kind_;
  std::size_t frame_bytes_;
  Fd request_out_;  // the coordinator writes frames here (the socket: also reads checksums)
  Fd reply_in_;     // pipe only: the coordinator reads checksums here
  Fd worker_in_;    // the worker reads frames here (the socket: also writes checksums)
  Fd worker_out_;   // pipe only: the worker writes checksums here
  std::string setup_;
};

// A POSIX message queue, opened under a unique name and unlinked at once, so that it dies
// with the last descriptor however the process ends.
class MessageQueue {
 public:
  MessageQueue(long message_bytes, long capacity, std::string_view role) {
    std::random_device entropy;
    const std::uint64_t bits = (std::uint64_t{entropy()} << 32) | entropy();
    const std::string name = fmt::format("/tilefork-{}-{:016x}-{}", getpid(), bits, role);
    mq_attr attributes{};
    attributes.mq_maxmsg = capacity;
    attributes.mq_msgsize = message_bytes;
    queue_ = mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attributes);
    if (queue_ == static_cast<mqd_t>(-1)) {
      const int err = errno;
      throw_system_error(err, "could not open a POSIX message queue",
                         fmt::format("mq_open(\"{}\", O_CREAT|O_EXCL, mq_maxmsg {}, mq_msgsize {})", name, capacity,
                                     message_bytes),
                         open_hint(err, message_bytes, capacity));
    }
    if (mq_unlink(name.c_str()) != 0) {
      const int err = errno;
      mq_close(queue_);
      throw_system_error(err, "could not unlink a new POSIX message queue", fmt::format("mq_unlink(\"{}\")", name));
    }
  }
  MessageQueue(const MessageQueue&) = delete;
  MessageQueue& operator=(const MessageQueue&) = delete;
  ~MessageQueue() { mq_close(queue_); }

  mqd_t get() const noexcept { return queue_; }

 private:
  static std::string open_hint(int err, long message_bytes, long capacity) {
    switch (err) {
      case ENOSYS:
        return "this kernel has no POSIX message queues (CONFIG_POSIX_MQUEUE): leave them out, e.g. "
               "--transports in-place,sysv,posix,pipe,socketpair";
      case EINVAL:
        return fmt::format(
            "the queue asks for more than the limits allow: mq_msgsize {} against fs.mqueue.msgsize_max ({}), "
            "mq_maxmsg {} against fs.mqueue.msg_max ({}); raise them with sysctl (as root), or leave mqueue out",
            message_bytes, read_proc_number("/proc/sys/fs/mqueue/msgsize_max", -1), capacity,
            read_proc_number("/proc/sys/fs/mqueue/msg_max", -1));
      case EMFILE: {
        rlimit limit{};
        getrlimit(RLIMIT_MSGQUEUE, &limit);
        return fmt::format(
            "either this process has too many files open (`ulimit -n`), or its user's message queues would "
            "hold more than RLIMIT_MSGQUEUE allows ({} bytes, `ulimit -q`): raise it, remove queues left by "
            "other programs, or lower fs.mqueue.msgsize_max",
            limit.rlim_cur);
      }
      case ENOSPC:
        return "the system-wide number of queues (fs.mqueue.queues_max) is reached: raise it with sysctl, or "
               "remove queues left by other programs";
      case ENFILE: return "the system has too many files open: close some, or raise fs.file-max";
      default: return {};
    }
  }

  mqd_t queue_ = static_cast<mqd_t>(-1);
};

// Frames cut into messages of the queue's mq_msgsize one way, 8-byte checksums the other. An
// empty message asks the worker to leave (frames are at least one byte).
class QueueChannel final : public Channel {
 public:
  explicit QueueChannel(std::size_t frame_bytes)
      : frame_bytes_(frame_bytes),
        message_bytes_(read_proc_number("/proc/sys/fs/mqueue/msgsize_max", 8192)),
        capacity_(std::min(read_proc_number("/proc/sys/fs/mqueue/msg_max", 10), 10L)),
        frames_(message_bytes_, capacity_, "frames"),
        replies_(sizeof(std::uint64_t), 1, "replies") {}

  void serve() override {
    const auto message_bytes = static_cast<std::size_t>(message_bytes_);
    // Room for a whole message past any offset inside the frame: mq_receive insists on it.
    std::vector<std::byte> frame(frame_bytes_ + message_bytes);
    while (true) {
      std::size_t got = 0;
      while (got < frame_bytes_) {
        const ssize_t count = mq_receive(frames_.get(), reinterpret_cast<char*>(frame.data() + got), message_bytes,
                                         nullptr);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) {
          const int err = errno;
          throw_system_error(err, "could not receive a frame", "mq_receive");
        }
        if (count == 0) {
          if (got == 0) return;
          throw std::runtime_error(fmt::format("frame cut short after {} of {} bytes", got, frame_bytes_));
        }
        got += static_cast<std::size_t>(count);
      }
      const std::uint64_t checksum = frame_checksum(std::span(frame).first(frame_bytes_));
      while (mq_send(replies_.get(), reinterpret_cast<const char*>(&checksum), sizeof checksum, 0) != 0) {
        if (errno != EINTR) {
          const int err = errno;
          throw_system_error(err, "could not send the checksum", "mq_send");
        }
      }
    }
  }

  void send(std::span<const std::byte> frame, const WorkerWatch& watch) override {
    const auto message_bytes = static_cast<std::size_t>(message_bytes_);
    for (std::size_t offset = 0; offset < frame.size(); offset += message_bytes) {
      put(frame.subspan(offset, std::min(message_bytes, frame.size() - offset)), watch);
    }
  }

  std::uint64_t receive_checksum(const WorkerWatch& watch) override {
    std::uint64_t checksum = 0;
    while (true) {
      const timespec deadline = poll_deadline();
      const ssize_t count =
          mq_timedreceive(replies_.get(), reinterpret_cast<char*>(&checksum), sizeof checksum, nullptr, &deadline);
      if (count == static_cast<ssize_t>(sizeof checksum)) return checksum;
      if (count >= 0) throw std::runtime_error(fmt::format("a checksum of {} bytes from the bench worker", count));
      if (errno != EINTR && errno != ETIMEDOUT) {
        const int err = errno;
        throw_system_error(err, "could not receive the bench worker's checksum",
                           fmt::format("mq_timedreceive for {}", watch.what()));
      }
      watch.check();
    }
  }

  void stop(const WorkerWatch& watch) override { put({}, watch); }

  std::string setup() const override {
    return fmt::format("messages of {} B (fs.mqueue.msgsize_max), up to {} queued", message_bytes_, capacity_);
  }

 private:
  void put(std::span<const std::byte> message, const WorkerWatch& watch) {
    while (true) {
      // A full queue blocks; the deadline lets us notice a dead worker or an interruption.
      const timespec deadline = poll_deadline();
      // An empty span may hold a null pointer, which mq_timedsend is declared never to take.
      const char* bytes = message.empty() ? "" : reinterpret_cast<const char*>(message.data());
      if (mq_timedsend(frames_.get(), bytes, message.size(), 0, &deadline) == 0) {
        return;
      }
      if (errno != EINTR && errno != ETIMEDOUT) {
        const int err = errno;
        throw_system_error(err, "could not send a frame to the bench worker",
                           fmt::format("mq_timedsend({} bytes) for {}", message.size(), watch.what()));
      }
      watch.check();
    }
  }

  std::size_t frame_bytes_;
  long message_bytes_;
  long capacity_;
  MessageQueue frames_;
  MessageQueue replies_;
};

std::unique_ptr<Channel> open_channel(Transport transport, std::size_t frame_bytes) {
  switch (transport) {
    case Transport::in_place: return std::make_unique<SegmentChannel>(Backend::sysv, frame_bytes, true);
    case Transport::sysv: return std::make_unique<SegmentChannel>(Backend::sysv, frame_bytes, false);
    case Transport::posix: return std::make_unique<SegmentChannel>(Backend::posix, frame_bytes, false);
    case Transport::pipe:
    case Transport::socketpair: return std::make_unique<StreamChannel>(transport, frame_bytes);
    case Transport::mqueue: return std::make_unique<QueueChannel>(frame_bytes);
  }
  throw std::logic_error("unknown transport");
}

// ---------------------------------------------------------------------------------------------
// Frames and statistics.

// Deterministic bytes that no two positions of a frame are likely to share.
void fill_frame(std::span<std::byte> frame) {
  std::uint64_t state = 0x9e3779b97f4a7c15ULL ^ frame.size();
  std::size_t offset = 0;
  while (offset < frame.size()) {
    state += 0x9e3779b97f4a7c15ULL;  // splitmix64
    std::uint64_t value = state;
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
    value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
    value ^= value >> 31;
    const std::size_t count = std::min(sizeof value, frame.size() - offset);
    std::memcpy(frame.data() + offset, &value, count);
    offset += count;
  }
}

// Writes the repetition number at both ends of the frame, so that every transfer carries other
// bytes than the one before: a worker that checksummed a stale frame would be caught.
void stamp(std::span<std::byte> frame, int repetition) {
  const auto value = static_cast<std::uint64_t>(static_cast<std::int64_t>(repetition)) * 0x100000001b3ULL + 1;
  const std::size_t count = std::min(sizeof value, frame.size());
  std::memcpy(frame.data(), &value, count);
  std::memcpy(frame.data() + frame.size() - count, &value, count);
}

// The q-quantile of sorted values, interpolating between neighbours.
double quantile(const std::vector<double>& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(position);
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + (sorted[above] - sorted[below]) * fraction;
}

TransferResult measure_one(Transport transport, std::span<std::byte> own, const TransportBenchOptions& options) {
  const std::unique_ptr<Channel> channel = open_channel(transport, own.size());
  const std::span<std::byte> frame = channel->home(own);
  // Declared after the channel, so destroyed (the worker killed and reaped) before it.
  WorkerPool pool(1, [&channel](std::uint32_t) { channel->serve(); });
  channel->forked();
  const WorkerWatch watch(pool, options.interrupted,
                          fmt::format("{}, {} frames", display_name(transport), format_size(own.size())));

  std::vector<double> microseconds;
  std::chrono::duration<double> spent{0};
  for (int repetition = -kWarmups;; ++repetition) {
    const bool enough = repetition >= options.min_repetitions && spent >= options.min_time;
    if (enough || repetition >= kMaxRepetitions) break;
    watch.check();
    stamp(frame, repetition);
    const std::uint64_t expected = frame_checksum(frame);
    const bool flip = options.flip_byte_in_repetition == repetition;
    if (flip) frame.back() ^= std::byte{0x10};

    const auto start = Clock::now();
    channel->send(frame, watch);
    const std::uint64_t received = channel->receive_checksum(watch);
    const auto elapsed = Clock::now() - start;

    if (flip) frame.back() ^= std::byte{0x10};
    if (received != expected) {
      throw TransferCorrupted(fmt::format(
          "{}: the worker's checksum of repetition {} is {:#018x}, the frame's is {:#018x}: the frame did not "
          "arrive intact",
          watch.what(), repetition, received, expected));
    }
    if (repetition >= 0) {
      spent += elapsed;
      microseconds.push_back(std::chrono::duration<double, std::micro>(elapsed).count());
    }
  }
  channel->stop(watch);
  for (const WorkerPool::Death& death : pool.stop(std::chrono::seconds(2))) {
    throw std::runtime_error(fmt::format("the bench worker (pid {}) of {} did not end cleanly: {}", death.pid,
                                         watch.what(), describe_wait_status(death.status)));
  }

  std::sort(microseconds.begin(), microseconds.end());
  TransferResult result;
  result.transport = transport;
  result.frame_bytes = own.size();
  result.repetitions = static_cast<int>(microseconds.size());
  result.median_us = quantile(microseconds, 0.5);
  result.q1_us = quantile(microseconds, 0.25);
  result.q3_us = quantile(microseconds, 0.75);
  result.min_us = microseconds.front();
  result.max_us = microseconds.back();
  result.setup = channel->setup();
  return result;
}

// A worker that goes away makes write() fail with EPIPE, which is reported, instead of killing
// the coordinator with SIGPIPE. Restores the previous disposition.
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &previous_);
  }
  ~IgnoreSigpipe() { sigaction(SIGPIPE, &previous_, nullptr); }
  IgnoreSigpipe(const IgnoreSigpipe&) = delete;
  IgnoreSigpipe& operator=(const IgnoreSigpipe&) = delete;

 private:
  struct sigaction previous_ {};
};

}  // namespace

std::span<const Transport> all_transports() noexcept { return kTransports; }

std::string_view to_string(Transport transport) noexcept {
  switch (transport) {
    case Transport::in_place: return "in-place";
    case Transport::sysv: return "sysv";
    case Transport::posix: return "posix";
    case Transport::pipe: return "pipe";
    case Transport::socketpair: return "socketpair";
    case Transport::mqueue: return "mqueue";
  }
  return "?";
}

std::string_view display_name(Transport transport) noexcept {
  switch (transport) {
    case Transport::in_place: return "segment sysv, in place";
    case Transport::sysv: return "segment sysv";
    case Transport::posix: return "segment posix";
    case Transport::pipe: return "pipe";
    case Transport::socketpair: return "socketpair";
    case Transport::mqueue: return "message queue";
  }
  return "?";
}

Transport parse_transport(std::string_view text) {
  for (Transport transport : kTransports) {
    if (to_string(transport) == text) return transport;
  }
  std::string names;
  for (Transport transport : kTransports) names += fmt::format("{}{}", names.empty() ? "" : ", ", to_string(transport));
  throw UsageError(fmt::format("no transport named '{}': choose among {}", text, names));
}

std::vector<std::size_t> default_frame_sizes() {
  return {std::size_t{64} << 10, std::size_t{256} << 10, std::size_t{1} << 20,
          std::size_t{4} << 20,  std::size_t{16} << 20,  std::size_t{64} << 20};
}

std::size_t parse_size(std::string_view text) {
  const auto wrong = [&](std::string_view why) {
    return UsageError(fmt::format("frame size '{}' {}: give bytes, or a number with K, M or G (KiB, MiB, GiB), "
                                  "e.g. 65536, 64K, 16MiB",
                                  text, why));
  };
  std::uint64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc{} || end == text.data()) throw wrong("is not a size");
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  unsigned shift = 0;
  if (unit == "K" || unit == "KiB") {
    shift = 10;
  } else if (unit == "M" || unit == "MiB") {
    shift = 20;
  } else if (unit == "G" || unit == "GiB") {
    shift = 30;
  } else if (!unit.empty() && unit != "B") {
    throw wrong("has an unknown unit");
  }
  constexpr std::uint64_t kLargest = std::uint64_t{4} << 30;
  if (number == 0) throw wrong("is zero");
  if (number > (kLargest >> shift)) throw wrong("is above 4 GiB");
  return static_cast<std::size_t>(number << shift);
}

std::string format_size(std::size_t bytes) {
  constexpr std::array<std::string_view, 3> kUnits{"GiB", "MiB", "KiB"};
  for (std::size_t i = 0; i < kUnits.size(); ++i) {
    const unsigned shift = 30 - 10 * static_cast<unsigned>(i);
    const std::size_t unit = std::size_t{1} << shift;
    if (bytes >= unit && bytes % unit == 0) return fmt::format("{} {}", bytes >> shift, kUnits[i]);
  }
  return fmt::format("{} B", bytes);
}

std::uint64_t frame_checksum(std::span<const std::byte> bytes) noexcept {
  // Four independent lanes keep the adds out of one dependency chain (and let the compiler use
  // vector registers); each lane's running sum of sums weighs a word by its position.
  constexpr std::size_t kLanes = 4;
  std::uint64_t sum[kLanes] = {};
  std::uint64_t weighted[kLanes] = {};
  const std::size_t block = kLanes * sizeof(std::uint64_t);
  const std::size_t whole = bytes.size() / block * block;
  for (std::size_t offset = 0; offset < whole; offset += block) {
    for (std::size_t lane = 0; lane < kLanes; ++lane) {
      std::uint64_t word;
      std::memcpy(&word, bytes.data() + offset + lane * sizeof word, sizeof word);
      sum[lane] += word;
      weighted[lane] += sum[lane];
    }
  }
  // The tail, zero-padded into one more block.
  std::uint64_t tail[kLanes] = {};
  if (bytes.size() > whole) std::memcpy(tail, bytes.data() + whole, bytes.size() - whole);
  for (std::size_t lane = 0; lane < kLanes; ++lane) {
    sum[lane] += tail[lane];
    weighted[lane] += sum[lane];
  }
  // Each step is a bijection of the running hash, so a change in any one sum changes the
  // result. (Plain xor-multiply steps are not enough: a flipped top bit can cancel itself out.)
  const auto mix = [](std::uint64_t value) {  // MurmurHash3's 64-bit finalizer
    value = (value ^ (value >> 33)) * 0xff51afd7ed558ccdULL;
    value = (value ^ (value >> 33)) * 0xc4ceb9fe1a85ec53ULL;
    return value ^ (value >> 33);
  };
  std::uint64_t hash = mix(bytes.size());
  for (std::size_t lane = 0; lane < kLanes; ++lane) {
    hash = mix(hash + mix(sum[lane]));
    hash = mix(hash + mix(weighted[lane]));
  }
  return hash;
}

std::vector<TransferResult> measure_transports(const TransportBenchOptions& options,
                                               const std::function<void(const TransferResult&)>& on_result) {
  if (options.sizes.empty()) throw UsageError("no frame sizes to measure");
  if (options.transports.empty()) throw UsageError("no transports to measure");
  if (options.min_repetitions < 1) throw UsageError("the number of repetitions must be at least 1");
  const IgnoreSigpipe ignore_sigpipe;
  std::vector<TransferResult> results;
  for (const std::size_t size : options.sizes) {
    if (size == 0) throw UsageError("a frame size of 0 bytes");
    // The coordinator's own copy of the frame, faulted in before any timing.
    std::vector<std::byte> own(size);
    fill_frame(own);
    for (const Transport transport : options.transports) {
      results.push_back(measure_one(transport, own, options));
      if (on_result) on_result(results.back());
    }
  }
  return results;
}

}  // namespace tilefork::bench
