// External worker programs: start them, read what they offer, hand them tiles over a JSON pipe.
#include "tilefork/external_worker.hpp"

#include "tilefork/errors.hpp"
#include "tilefork/worker_pool.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tilefork {
namespace {

constexpr int kProtocol = 1;

struct Channel {
  pid_t pid = -1;
  int to = -1;
  int from = -1;
};

// Forks and execs `/bin/sh -c 'exec PROGRAM'` with its stdin/stdout on pipes. `segment` is
// "none", "sysv:<id>" or "fd:<n>"; for fd, `keep_fd` loses its close-on-exec in the child only.
Channel spawn(const std::string& program, const std::string& segment, std::size_t size, int keep_fd) {
  int in[2];
  int out[2];
  if (pipe2(in, O_CLOEXEC) != 0) throw_system_error(errno, "could not start the worker program", "pipe2()");
  if (pipe2(out, O_CLOEXEC) != 0) {
    const int err = errno;
    close(in[0]);
    close(in[1]);
    throw_system_error(err, "could not start the worker program", "pipe2()");
  }
  std::fflush(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    throw_system_error(err, "could not start the worker program", fmt::format("fork() for '{}'", program));
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(70);
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    if (keep_fd >= 0) fcntl(keep_fd, F_SETFD, 0);
    std::signal(SIGPIPE, SIG_DFL);
    std::signal(SIGINT, SIG_DFL);
    const std::string size_text = std::to_string(size);
    const std::string protocol_text = std::to_string(kProtocol);
    setenv("TILEFORK_PROTOCOL", protocol_text.c_str(), 1);
    setenv("TILEFORK_SEGMENT", segment.c_str(), 1);
    setenv("TILEFORK_SEGMENT_SIZE", size_text.c_str(), 1);
    const std::string command = "exec " + program;
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  Channel channel;
  channel.pid = pid;
  channel.to = in[1];
  channel.from = out[0];
  return channel;
}

// Reads one line from `fd` into `line`, keeping what follows it in `pending`. Waits at most
// `timeout_ms` for each read (-1: no limit). False on end of file, error or timeout.
bool read_line(int fd, std::string& pending, std::string& line, int timeout_ms) {
  while (true) {
    const auto newline = pending.find('\n');
    if (newline != std::string::npos) {
      line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return true;
    }
    if (timeout_ms >= 0) {
      pollfd ready{fd, POLLIN, 0};
      if (poll(&ready, 1, timeout_ms) <= 0) return false;
    }
    char buffer[4096];
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    pending.append(buffer, static_cast<std::size_t>(n));
  }
}

bool write_all(int fd, const std::string& text) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<std::size_t>(n);
  }
  return true;
}

// Closes the program's input, gives it a moment to leave, then kills it. Returns its status.
int finish(Channel& channel) noexcept {
  if (channel.to >= 0) close(channel.to);
  if (channel.from >= 0) close(channel.from);
  channel.to = -1;
  channel.from = -1;
  int status = 0;
  if (channel.pid <= 0) return status;
  for (int i = 0; i < 100; ++i) {
    if (waitpid(channel.pid, &status, WNOHANG) == channel.pid) {
      channel.pid = -1;
      return status;
    }
    usleep(10'000);
  }
  kill(channel.pid, SIGKILL);
  waitpid(channel.pid, &status, 0);
  channel.pid = -1;
  return status;
}

int parse_depth(const std::string& text) {
  if (text == "8U") return CV_8U;
  if (text == "16U") return CV_16U;
  if (text == "32F") return CV_32F;
  throw std::invalid_argument(fmt::format("unknown depth '{}' (use 8U, 16U or 32F)", text));
}

std::string depth_name(int depth) {
  switch (depth) {
    case CV_8U: return "8U";
    case CV_16U: return "16U";
    case CV_32F: return "32F";
    default: return std::to_string(depth);
  }
}

KernelSpec kernel_from_json(const nlohmann::json& entry) {
  KernelSpec spec;
  spec.name = entry.at("name").get<std::string>();
  spec.summary = entry.value("summary", std::string("external kernel"));
  const int halo = entry.value("halo", 0);
  if (halo < 0 || halo > 1000) throw std::invalid_argument(fmt::format("halo {} is out of 0..1000", halo));
  spec.pointwise = halo == 0;
  spec.halo = [halo](const Params&) { return halo; };
  spec.external = true;
  spec.depths.clear();
  for (const auto& depth : entry.value("depths", nlohmann::json::array({"8U"}))) {
    spec.depths.push_back(parse_depth(depth.get<std::string>()));
  }
  spec.channels = entry.value("channels", std::vector<int>{1, 3, 4});
  for (const auto& param : entry.value("params", nlohmann::json::array())) {
    ParamSpec row;
    row.name = param.at("name").get<std::string>();
    const std::string type = param.value("type", std::string("real"));
    if (type != "int" && type != "real") {
      throw std::invalid_argument(fmt::format("parameter '{}' has type '{}' (use int or real)", row.name, type));
    }
    row.type = type == "int" ? ParamType::integer : ParamType::real;
    row.default_value = param.value("default", 0.0);
    row.min = param.value("min", -1e9);
    row.max = param.value("max", 1e9);
    row.help = param.value("help", std::string());
    spec.params.push_back(std::move(row));
  }
  spec.apply = [name = spec.name](const cv::Mat&, cv::Mat&, const Params&) {
    throw std::logic_error(fmt::format("kernel '{}' runs in an external worker program: use --executor fork", name));
  };
  return spec;
}

std::string ending(int status) { return describe_wait_status(status); }

}  // namespace

std::vector<KernelSpec> describe_external_worker(const std::string& program) {
  Channel channel = spawn(program, "none", 0, -1);
  std::string hello;
  std::string pending;
  const bool said = read_line(channel.from, pending, hello, 10'000);
  const int status = finish(channel);
  if (!said) {
    const bool exec_failed = WIFEXITED(status) && WEXITSTATUS(status) == 127;
    throw UsageError(fmt::format("--worker-exec '{}' {}: it must print its hello line first "
                                 "(docs/worker-protocol.md)",
                                 program,
                                 exec_failed ? "could not be run (not found?)"
                                             : fmt::format("said nothing and ended with {}", ending(status))));
  }
  try {
    const auto message = nlohmann::json::parse(hello);
    if (message.at("tilefork_worker").get<int>() != kProtocol) {
      throw std::invalid_argument(fmt::format("it speaks protocol {}, tilefork speaks {}",
                                              message.at("tilefork_worker").dump(), kProtocol));
    }
    std::vector<KernelSpec> kernels;
    for (const auto& entry : message.at("kernels")) kernels.push_back(kernel_from_json(entry));
    if (kernels.empty()) throw std::invalid_argument("it offers no kernels");
    return kernels;
  } catch (const std::exception& error) {
    throw UsageError(fmt::format("--worker-exec '{}' said something tilefork cannot use in its hello line: {} "
                                 "(line: {:.200})",
                                 program, error.what(), hello));
  }
}

ExternalWorker::ExternalWorker(std::string program, const Segment& segment)
    : program_(std::move(program)), segment_(segment) {}

ExternalWorker::~ExternalWorker() { stop(); }

void ExternalWorker::start() {
  const std::string where = segment_.backend() == Backend::sysv ? fmt::format("sysv:{}", segment_.sysv_id())
                                                                : fmt::format("fd:{}", segment_.posix_fd());
  Channel channel = spawn(program_, where, segment_.size(),
                          segment_.backend() == Backend::posix ? segment_.posix_fd() : -1);
  pid_ = channel.pid;
  to_program_ = channel.to;
  from_program_ = channel.from;
  pending_.clear();
  std::string hello;
  if (!read_line(from_program_, pending_, hello, -1)) {
    const int status = finish(channel);
    pid_ = -1;
    to_program_ = -1;
    from_program_ = -1;
    throw std::runtime_error(fmt::format("worker program '{}' ended with {} before its hello line", program_,
                                         ending(status)));
  }
}

void ExternalWorker::stop() noexcept {
  Channel channel{pid_, to_program_, from_program_};
  finish(channel);
  pid_ = -1;
  to_program_ = -1;
  from_program_ = -1;
}

bool ExternalWorker::exchange(const std::string& request, std::string& answer) {
  if (pid_ < 0) start();
  if (write_all(to_program_, request) && read_line(from_program_, pending_, answer, -1)) return true;
  return false;
}

void ExternalWorker::run_tile(const Stage& stage, const cv::Mat& input, cv::Mat& output, cv::Rect read,
                              cv::Rect write, std::uint32_t frame, std::uint32_t stage_index, std::uint32_t tile) {
  auto describe_plane = [&](const cv::Mat& plane) {
    return nlohmann::json{{"offset", plane.data - reinterpret_cast<const unsigned char*>(segment_.data())},
                          {"rows", plane.rows},
                          {"cols", plane.cols},
                          {"depth", depth_name(plane.depth())},
                          {"channels", plane.channels()},
                          {"step", plane.step[0]}};
  };
  nlohmann::json params = nlohmann::json::object();
  for (const ParamSpec& spec : stage.kernel->params) {
    params[spec.name] = spec.type == ParamType::integer ? nlohmann::json(stage.params.integer(spec.name))
                                                        : nlohmann::json(stage.params.real(spec.name));
  }
  const nlohmann::json request = {{"op", "tile"},
                                  {"kernel", stage.kernel->name},
                                  {"params", params},
                                  {"frame", frame},
                                  {"stage", stage_index},
                                  {"tile", tile},
                                  {"src", describe_plane(input)},
                                  {"dst", describe_plane(output)},
                                  {"read", {read.x, read.y, read.width, read.height}},
                                  {"write", {write.x, write.y, write.width, write.height}}};
  const std::string line = request.dump() + "\n";
  std::string answer;
  // A program that went away is started again and asked once more.
  if (!exchange(line, answer)) {
    Channel channel{pid_, to_program_, from_program_};
    const int status = finish(channel);
    pid_ = -1;
    to_program_ = -1;
    from_program_ = -1;
    if (!exchange(line, answer)) {
      stop();
      throw std::runtime_error(fmt::format("worker program '{}' ended ({} the first time) on this tile, twice",
                                           program_, ending(status)));
    }
  }
  nlohmann::json reply;
  try {
    reply = nlohmann::json::parse(answer);
  } catch (const std::exception&) {
    throw std::runtime_error(fmt::format("worker program '{}' answered '{:.200}', not a JSON line", program_, answer));
  }
  if (!reply.value("ok", false)) {
    throw std::runtime_error(fmt::format("worker program '{}': {}", program_,
                                         reply.value("error", std::string("failed without saying why"))));
  }
}

}  // namespace tilefork
