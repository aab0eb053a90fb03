// The oracle: plain OpenCV on the whole frame, one call sequence per kernel name.
#include "common/oracle.hpp"

#include <fmt/format.h>

#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <stdexcept>

namespace tilefork::test {
namespace {

using Args = std::map<std::string, std::string>;

double number(const Args& args, const std::string& name, double fallback) {
  const auto it = args.find(name);
  return it == args.end() ? fallback : std::stod(it->second);
}

std::string word(const Args& args, const std::string& name, const std::string& fallback) {
  const auto it = args.find(name);
  return it == args.end() ? fallback : it->second;
}

cv::Mat apply_stage(const std::string& kernel, const Args& args, const cv::Mat& in) {
  cv::Mat out;
  if (kernel == "gaussian") {
    const int k = static_cast<int>(number(args, "ksize", 0));
    const double sigma = number(args, "sigma", 1);
    cv::GaussianBlur(in, out, cv::Size(k, k), sigma, sigma);
  } else if (kernel == "box") {
    const int k = static_cast<int>(number(args, "ksize", 3));
    cv::blur(in, out, cv::Size(k, k));
  } else if (kernel == "median") {
    cv::medianBlur(in, out, static_cast<int>(number(args, "ksize", 3)));
  } else if (kernel == "sobel") {
    const int k = static_cast<int>(number(args, "ksize", 3));
    const std::string mode = word(args, "mode", "magnitude");
    cv::Mat dx, dy, ax, ay;
    cv::Sobel(in, dx, CV_16S, 1, 0, k);
    cv::Sobel(in, dy, CV_16S, 0, 1, k);
    cv::convertScaleAbs(dx, ax);
    cv::convertScaleAbs(dy, ay);
    if (mode == "dx") {
      out = ax;
    } else if (mode == "dy") {
      out = ay;
    } else {
      cv::addWeighted(ax, 0.5, ay, 0.5, 0, out);
    }
  } else if (kernel == "threshold") {
    static const std::map<std::string, int> types = {{"binary", cv::THRESH_BINARY},
                                                     {"binary_inv", cv::THRESH_BINARY_INV},
                                                     {"trunc", cv::THRESH_TRUNC},
                                                     {"tozero", cv::THRESH_TOZERO},
                                                     {"tozero_inv", cv::THRESH_TOZERO_INV}};
    cv::threshold(in, out, number(args, "value", 128), number(args, "max", 255),
                  types.at(word(args, "type", "binary")));
  } else if (kernel == "invert") {
    if (in.depth() == CV_32F) {
      out = cv::Mat(in.size(), in.type(), cv::Scalar::all(1.0)) - in;
    } else {
      cv::bitwise_not(in, out);
    }
  } else if (kernel == "gray") {
    if (in.channels() == 3) {
      cv::cvtColor(in, out, cv::COLOR_BGR2GRAY);
    } else if (in.channels() == 4) {
      cv::cvtColor(in, out, cv::COLOR_BGRA2GRAY);
    } else {
      out = in.clone();
    }
  } else {
    throw std::invalid_argument("the oracle does not know kernel " + kernel);
  }
  return out;
}

}  // namespace

cv::Mat oracle(const std::string& pipeline, const cv::Mat& input) {
  cv::Mat frame = input.clone();
  std::stringstream stages(pipeline);
  for (std::string stage; std::getline(stages, stage, '|');) {
    std::istringstream words(stage);
    std::string kernel;
    words >> kernel;
    Args args;
    for (std::string token; words >> token;) {
      const auto equals = token.find('=');
      args[token.substr(0, equals)] = token.substr(equals + 1);
    }
    frame = apply_stage(kernel, args, frame);
  }
  return frame;
}

std::string difference(const cv::Mat& expected, const cv::Mat& actual) {
  if (expected.size() != actual.size() || expected.type() != actual.type()) {
    return fmt::format("expected {}x{} type {}, got {}x{} type {}", expected.cols, expected.rows,
                       expected.type(), actual.cols, actual.rows, actual.type());
  }
  if (expected.empty()) return {};
  cv::Mat diff;
  cv::absdiff(expected.reshape(1), actual.reshape(1), diff);
  double max_value = 0;
  cv::Point where;
  cv::minMaxLoc(diff, nullptr, &max_value, nullptr, &where);
  if (max_value == 0) return {};
  return fmt::format("max difference {} at column {} (channel {}) row {}; {} values differ", max_value,
                     where.x / expected.channels(), where.x % expected.channels(), where.y,
                     cv::countNonZero(diff));
}

}  // namespace tilefork::test
