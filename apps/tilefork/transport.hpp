// The cost of moving one frame from the coordinator to a forked worker, by each kind of IPC.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tilefork::bench {

// How a frame reaches the worker. The segment kinds use tilefork::Segment and a futex handshake;
// the others carry the bytes through the kernel.
enum class Transport {
  in_place,    // the frame already lies in a sysv segment: only the handshake (tilefork's design)
  sysv,        // copied into a sysv segment, then the handshake
  posix,       // copied into a posix segment, then the handshake
  pipe,        // written into a pipe
  socketpair,  // written into an AF_UNIX SOCK_STREAM socket pair
  mqueue,      // sent through a POSIX message queue in messages of the queue's mq_msgsize
};

// Every transport, in the order they are measured and printed (in_place first: the reference).
std::span<const Transport> all_transports() noexcept;
// "in-place", "sysv", "posix", "pipe", "socketpair", "mqueue": the names --transports takes.
std::string_view to_string(Transport transport) noexcept;
// "segment sysv, in place", "segment sysv", ...: the name in tables.
std::string_view display_name(Transport transport) noexcept;
// Parses a name of to_string(); throws UsageError listing the names otherwise.
Transport parse_transport(std::string_view text);

// 64 KiB, 256 KiB, 1 MiB, 4 MiB, 16 MiB, 64 MiB.
std::vector<std::size_t> default_frame_sizes();
// "65536", "64K", "64KiB", "1M", "1MiB", "1G" (binary units). Throws UsageError for anything else,
// for 0, and above 4 GiB.
std::size_t parse_size(std::string_view text);
// "64 KiB", "1 MiB", "12345 B": exact, in the largest binary unit that divides the size.
std::string format_size(std::size_t bytes);

// A position-sensitive checksum of every byte (a Fletcher-style sum of 64-bit words in four
// lanes): a changed byte, or two words swapped, changes it. What the worker computes over the
// frame it received, and the coordinator over the frame it sent.
std::uint64_t frame_checksum(std::span<const std::byte> bytes) noexcept;

struct TransportBenchOptions {
  std::vector<std::size_t> sizes = default_frame_sizes();
  std::vector<Transport> transports{all_transports().begin(), all_transports().end()};
  // Timed transfers per (transport, size): at least this many, and more until min_time is spent.
  int min_repetitions = 5;
  std::chrono::duration<double> min_time{0.2};
  // Polled between transfers and while waiting; when it returns true, the bench stops with
  // Interrupted. Empty: never.
  std::function<bool()> interrupted;
  // Test hook: in this timed repetition (0-based; warm-ups come before) the frame's last byte is
  // flipped after its checksum was taken, so the transfer must fail verification.
  std::optional<int> flip_byte_in_repetition;
};

struct TransferResult {
  Transport transport = Transport::in_place;
  std::size_t frame_bytes = 0;
  int repetitions = 0;  // timed transfers, each verified
  // Microseconds per frame, from sending the first byte to receiving the worker's checksum.
  double median_us = 0;
  double q1_us = 0;  // first and third quartiles: the spread
  double q3_us = 0;
  double min_us = 0;
  double max_us = 0;
  std::string setup;  // how the transport was set up: "pipe capacity 1048576 B", ...

  // Frame bytes per second of the median, in MB (10^6 bytes).
  double mb_per_s() const noexcept { return median_us > 0 ? static_cast<double>(frame_bytes) / median_us : 0; }
};

// The worker's checksum differed from the frame's: the transfer was not intact.
class TransferCorrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// options.interrupted returned true; everything was cleaned up before this was thrown.
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How the segment transports signal: named in every report of the bench.
inline constexpr std::string_view kSegmentHandshake =
    "futex: FUTEX_WAIT/FUTEX_WAKE (not private) on two 32-bit words in the segment, no spinning";

// Measures every (size, transport) of `options`, sizes in the outer loop, each between this
// process and one worker forked for it (dies with this process, leaves with _exit). Calls
// `on_result` with each result as soon as it is measured, and returns them all in that order.
// Every transfer is verified. Throws TransferCorrupted on a checksum mismatch, Interrupted,
// SystemError when a transport cannot be set up (the hint says what to change) or a worker dies,
// and UsageError for empty lists or a repetition count below 1. Whatever it throws, no segment,
// queue or process is left behind.
std::vector<TransferResult> measure_transports(const TransportBenchOptions& options,
                                               const std::function<void(const TransferResult&)>& on_result = {});

}  // namespace tilefork::bench
