// A tilefork external worker in C++ (docs/worker-protocol.md, version 1), standalone: it needs
// nothing of tilefork, only OpenCV for the kernels and nlohmann-json for the messages.
//
//   tilefork run --worker-exec build/release/samples/workers/tilefork_sample_worker
//                -p "cpp_invert | cpp_max3" -o out frames/   (one command line)
//
// Kernels, on 8-bit frames of 1, 3 or 4 channels:
//   cpp_invert  255 - v (cv::bitwise_not on the write rectangle).
//   cpp_max3    halo 1: 3x3 maximum, pixels outside the frame ignored (cv::dilate with a 3x3
//               rectangle and its default border, computed on the read rectangle).
//
// Attaches with shmat for TILEFORK_SEGMENT=sysv:<id> and mmap(MAP_SHARED) for fd:<descriptor>;
// speaks first with what it offers, answers one line per tile request, never dies on a bad
// request ({"ok": false, "error": ...}), and exits when its standard input closes.
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <sys/mman.h>
#include <sys/shm.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>

namespace {

using nlohmann::json;

struct Segment {
  unsigned char* base = nullptr;  // null for TILEFORK_SEGMENT=none
  std::uint64_t size = 0;
};

std::uint64_t parse_unsigned(const std::string& text, const char* what) {
  std::size_t used = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) throw std::runtime_error(std::string(what) + " '" + text + "' is not a number");
  return value;
}

Segment attach() {
  const char* segment_env = std::getenv("TILEFORK_SEGMENT");
  const std::string segment = segment_env ? segment_env : "none";
  if (segment == "none") return {};
  const char* size_env = std::getenv("TILEFORK_SEGMENT_SIZE");
  const std::uint64_t size = parse_unsigned(size_env ? size_env : "", "TILEFORK_SEGMENT_SIZE");
  if (size == 0) throw std::runtime_error("TILEFORK_SEGMENT_SIZE is 0");
  if (segment.rfind("sysv:", 0) == 0) {
    const auto id = parse_unsigned(segment.substr(5), "shmid");
    void* address = shmat(static_cast<int>(id), nullptr, 0);
    if (address == reinterpret_cast<void*>(-1)) {
      throw std::runtime_error("shmat(" + segment.substr(5) + "): " + std::strerror(errno));
    }
    return {static_cast<unsigned char*>(address), size};
  }
  if (segment.rfind("fd:", 0) == 0) {
    const auto fd = parse_unsigned(segment.substr(3), "descriptor");
    void* address = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, static_cast<int>(fd), 0);
    if (address == MAP_FAILED) throw std::runtime_error("mmap(fd " + segment.substr(3) + "): " + std::strerror(errno));
    return {static_cast<unsigned char*>(address), size};
  }
  throw std::runtime_error("unknown TILEFORK_SEGMENT '" + segment + "'");
}

json hello() {
  const auto kernel = [](const char* name, const char* summary, int halo) {
    return json{{"name", name},   {"summary", summary},          {"halo", halo},
                {"depths", {"8U"}}, {"channels", {1, 3, 4}}, {"params", json::array()}};
  };
  return {{"tilefork_worker", 1},
          {"kernels",
           {kernel("cpp_invert", "negative image in C++: 255 - v", 0),
            kernel("cpp_max3", "3x3 maximum (grey dilation) in C++, frame edges ignored", 1)}}};
}

struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

long long integer(const json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) throw BadRequest(where + "." + key + " is not an integer");
  return it->get<long long>();
}

// A cv::Mat over the whole frame described by `desc`, checked to lie inside the segment.
cv::Mat plane(const Segment& segment, const json& request, const char* name) {
  const auto it = request.find(name);
  if (it == request.end() || !it->is_object()) throw BadRequest(std::string(name) + " is missing");
  const json& desc = *it;
  if (desc.value("depth", json()) != "8U") throw BadRequest(std::string(name) + ".depth is not 8U");
  const long long offset = integer(desc, "offset", name);
  const long long rows = integer(desc, "rows", name);
  const long long cols = integer(desc, "cols", name);
  const long long channels = integer(desc, "channels", name);
  const long long step = integer(desc, "step", name);
  if (channels != 1 && channels != 3 && channels != 4) {
    throw BadRequest(std::string(name) + " has " + std::to_string(channels) + " channels: 1, 3 or 4 are supported");
  }
  if (offset < 0 || rows < 1 || cols < 1 || rows > 1 << 24 || cols > 1 << 24 || step < cols * channels) {
    throw BadRequest(std::string(name) + " is not a valid plane: " + desc.dump());
  }
  const unsigned long long end = static_cast<unsigned long long>(offset) +
                                 static_cast<unsigned long long>((rows - 1) * step + cols * channels);
  if (end > segment.size) throw BadRequest(std::string(name) + " reaches past the end of the segment");
  return cv::Mat(static_cast<int>(rows), static_cast<int>(cols), CV_8UC(static_cast<int>(channels)),
                 segment.base + offset, static_cast<std::size_t>(step));
}

cv::Rect rect(const json& request, const char* name, cv::Size frame) {
  const auto it = request.find(name);
  if (it == request.end() || !it->is_array() || it->size() != 4) {
    throw BadRequest(std::string(name) + " is not [x, y, width, height]");
  }
  std::array<int, 4> v{};
  for (std::size_t i = 0; i < 4; ++i) {
    if (!(*it)[i].is_number_integer()) throw BadRequest(std::string(name) + " is not [x, y, width, height]");
    v[i] = (*it)[i].get<int>();
  }
  const cv::Rect r(v[0], v[1], v[2], v[3]);
  if (r.x < 0 || r.y < 0 || r.width < 1 || r.height < 1 || r.x + r.width > frame.width || r.y + r.height > frame.height) {
    throw BadRequest(std::string(name) + " " + it->dump() + " is not inside the frame");
  }
  return r;
}

void handle(const Segment& segment, const json& request) {
  if (!request.is_object()) throw BadRequest("a request must be a JSON object");
  if (request.value("op", json()) != "tile") throw BadRequest("unknown op " + request.value("op", json()).dump());
  const std::string kernel = request.value("kernel", json()).is_string() ? request["kernel"].get<std::string>() : "";
  if (kernel != "cpp_invert" && kernel != "cpp_max3") throw BadRequest("unknown kernel " + request.value("kernel", json()).dump());
  const auto params = request.find("params");
  if (params != request.end() && !(params->is_object() && params->empty())) {
    throw BadRequest(kernel + " takes no parameters, got " + params->dump());
  }
  if (segment.base == nullptr) throw BadRequest("no segment is attached (TILEFORK_SEGMENT=none)");
  const cv::Mat src = plane(segment, request, "src");
  cv::Mat dst = plane(segment, request, "dst");
  if (src.size() != dst.size() || src.type() != dst.type()) throw BadRequest("src and dst differ in size or type");
  const cv::Rect read = rect(request, "read", src.size());
  const cv::Rect write = rect(request, "write", src.size());
  const int halo = kernel == "cpp_max3" ? 1 : 0;
  const cv::Rect needed = cv::Rect(write.x - halo, write.y - halo, write.width + 2 * halo, write.height + 2 * halo) &
                          cv::Rect(0, 0, src.cols, src.rows);
  if ((needed & read) != needed) {
    throw BadRequest("read " + request["read"].dump() + " does not cover write " + request["write"].dump() +
                     " grown by the halo");
  }
  // Headers made directly over the rectangles (not ROIs of the frame), so OpenCV sees no parent
  // matrix and cannot look outside `read`.
  const cv::Mat region(read.height, read.width, src.type(), const_cast<uchar*>(src.ptr(read.y, read.x)), src.step);
  cv::Mat out(write.height, write.width, dst.type(), dst.ptr(write.y, write.x), dst.step);
  const cv::Rect inner = write - read.tl();
  if (kernel == "cpp_invert") {
    cv::bitwise_not(region(inner), out);
  } else {
    cv::Mat dilated;
    cv::dilate(region, dilated, cv::getStructuringElement(cv::MORPH_RECT, {3, 3}), {-1, -1}, 1,
               cv::BORDER_CONSTANT | cv::BORDER_ISOLATED, cv::morphologyDefaultBorderValue());
    dilated(inner).copyTo(out);
  }
}

void send(const json& message) { std::cout << message.dump() << '\n' << std::flush; }

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  Segment segment;
  std::string attach_error;
  try {
    segment = attach();
  } catch (const std::exception& error) {
    attach_error = error.what();
    std::cerr << "tilefork_sample_worker: cannot attach: " << attach_error << '\n';
  }
  send(hello());
  for (std::string line; std::getline(std::cin, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json answer;
    try {
      if (!attach_error.empty()) throw std::runtime_error("the segment could not be attached: " + attach_error);
      handle(segment, json::parse(line));
      answer = {{"ok", true}};
    } catch (const std::exception& error) {
      answer = {{"ok", false}, {"error", error.what()}};
    }
    send(answer);
    if (!std::cout) return 0;  // tilefork went away
  }
  return 0;
}
