// The oracle: plain OpenCV on the whole frame, one call sequence per kernel name.
#include "common/oracle.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace tilefork::test {
namespace {

using Args = StageArgs;

double number(const Args& args, const std::string& name, double fallback) {
  const auto it = args.find(name);
  return it == args.end() ? fallback : std::stod(it->second);
}

std::string word(const Args& args, const std::string& name, const std::string& fallback) {
  const auto it = args.find(name);
  return it == args.end() ? fallback : it->second;
}

int integer(const Args& args, const std::string& name, int fallback) {
  return static_cast<int>(number(args, name, fallback));
}

// "0,-1,0;-1,5,-1": commas and semicolons both separate numbers.
std::vector<double> numbers(const Args& args, const std::string& name, const std::string& fallback) {
  std::vector<double> list;
  std::stringstream text(word(args, name, fallback));
  for (std::string piece; std::getline(text, piece, ',');) {
    std::stringstream row(piece);
    for (std::string value; std::getline(row, value, ';');) list.push_back(std::stod(value));
  }
  return list;
}

double full_scale(int depth) {
  return depth == CV_8U ? 255.0 : depth == CV_16U ? 65535.0 : 1.0;
}

int threshold_type(const std::string& name) {
  static const std::map<std::string, int> types = {{"binary", cv::THRESH_BINARY},
                                                   {"binary_inv", cv::THRESH_BINARY_INV},
                                                   {"trunc", cv::THRESH_TRUNC},
                                                   {"tozero", cv::THRESH_TOZERO},
                                                   {"tozero_inv", cv::THRESH_TOZERO_INV}};
  return types.at(name);
}

// |dx|/2 + |dy|/2, |dx| or |dy| from 16-bit signed derivatives, as sobel and scharr define them.
cv::Mat edges_8bit(const cv::Mat& dx, const cv::Mat& dy, const std::string& mode) {
  cv::Mat ax, ay, out;
  cv::convertScaleAbs(dx, ax);
  cv::convertScaleAbs(dy, ay);
  if (mode == "dx") return ax;
  if (mode == "dy") return ay;
  cv::addWeighted(ax, 0.5, ay, 0.5, 0, out);
  return out;
}

cv::Mat morphology(const std::string& kernel, const Args& args, const cv::Mat& in) {
  static const std::map<std::string, int> shapes = {
      {"rect", cv::MORPH_RECT}, {"ellipse", cv::MORPH_ELLIPSE}, {"cross", cv::MORPH_CROSS}};
  static const std::map<std::string, int> ops = {{"open", cv::MORPH_OPEN},         {"close", cv::MORPH_CLOSE},
                                                 {"gradient", cv::MORPH_GRADIENT}, {"tophat", cv::MORPH_TOPHAT},
                                                 {"blackhat", cv::MORPH_BLACKHAT}};
  const int k = integer(args, "ksize", 3);
  const cv::Mat element = cv::getStructuringElement(shapes.at(word(args, "shape", "rect")), {k, k});
  const int iterations = integer(args, "iterations", 1);
  cv::Mat out;
  if (kernel == "erode") {
    cv::erode(in, out, element, {-1, -1}, iterations);
  } else if (kernel == "dilate") {
    cv::dilate(in, out, element, {-1, -1}, iterations);
  } else {
    cv::morphologyEx(in, out, ops.at(kernel), element, {-1, -1}, iterations);
  }
  return out;
}

// gamma on 8 and 16 bits: round(full * (v / full)^(1 / gamma)), saturated; float: cv::pow of |v|.
cv::Mat gamma_curve(const cv::Mat& in, double gamma) {
  cv::Mat out;
  if (in.depth() == CV_32F) {
    cv::pow(in, 1 / gamma, out);
  } else if (in.depth() == CV_8U) {
    cv::Mat table(1, 256, CV_8U);
    for (int i = 0; i < 256; ++i) table.at<uchar>(i) = cv::saturate_cast<uchar>(255 * std::pow(i / 255.0, 1 / gamma));
    cv::LUT(in, table, out);
  } else {
    out.create(in.size(), in.type());
    const cv::Mat values = in.reshape(1);
    cv::Mat results = out.reshape(1);
    for (int y = 0; y < values.rows; ++y) {
      for (int x = 0; x < values.cols; ++x) {
        const double v = values.at<ushort>(y, x) / 65535.0;
        results.at<ushort>(y, x) = cv::saturate_cast<ushort>(65535 * std::pow(v, 1 / gamma));
      }
    }
  }
  return out;
}

cv::Mat levels(const Args& args, const cv::Mat& in) {
  const double in_low = number(args, "in_low", 0), in_high = number(args, "in_high", 255);
  const double out_low = number(args, "out_low", 0), out_high = number(args, "out_high", 255);
  const double gamma = number(args, "gamma", 1);
  cv::Mat table(1, 256, CV_8U), out;
  for (int i = 0; i < 256; ++i) {
    double t = (i - in_low) / (in_high - in_low);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    table.at<uchar>(i) = cv::saturate_cast<uchar>(out_low + std::pow(t, 1 / gamma) * (out_high - out_low));
  }
  cv::LUT(in, table, out);
  return out;
}

cv::Size resized(cv::Size in, const Args& args) {
  const int width = integer(args, "width", 0), height = integer(args, "height", 0);
  const auto at_least_1 = [](double v) { return std::max(1, cvRound(v)); };
  if (width > 0 && height > 0) return {width, height};
  if (width > 0) return {width, at_least_1(in.height * (static_cast<double>(width) / in.width))};
  if (height > 0) return {at_least_1(in.width * (static_cast<double>(height) / in.height)), height};
  const double scale = number(args, "scale", 0.5);
  return {at_least_1(in.width * scale), at_least_1(in.height * scale)};
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
    cv::Mat dx, dy;
    cv::Sobel(in, dx, CV_16S, 1, 0, k);
    cv::Sobel(in, dy, CV_16S, 0, 1, k);
    out = edges_8bit(dx, dy, mode);
  } else if (kernel == "threshold") {
    cv::threshold(in, out, number(args, "value", 128), number(args, "max", 255),
                  threshold_type(word(args, "type", "binary")));
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
  } else if (kernel == "bilateral") {
    cv::bilateralFilter(in, out, integer(args, "d", 5), number(args, "sigma_color", 50),
                        number(args, "sigma_space", 5));
  } else if (kernel == "scharr") {
    cv::Mat dx, dy;
    cv::Scharr(in, dx, CV_16S, 1, 0);
    cv::Scharr(in, dy, CV_16S, 0, 1);
    out = edges_8bit(dx, dy, word(args, "mode", "magnitude"));
  } else if (kernel == "laplacian") {
    const int k = integer(args, "ksize", 1);
    const double scale = number(args, "scale", 1), delta = number(args, "delta", 0);
    if (in.depth() == CV_32F) {
      cv::Laplacian(in, out, CV_32F, k, scale, delta);
    } else {
      cv::Mat wide;
      cv::Laplacian(in, wide, CV_16S, k, scale, delta);
      cv::convertScaleAbs(wide, out);
    }
  } else if (kernel == "filter2d") {
    const std::vector<double> values = numbers(args, "kernel", "0,-1,0,-1,5,-1,0,-1,0");
    const int n = cvRound(std::sqrt(static_cast<double>(values.size())));
    double sum = 0;
    for (const double v : values) sum += v;
    const double divisor = word(args, "normalize", "none") == "sum" ? sum : 1.0;
    cv::Mat matrix(n, n, CV_64F);
    for (int r = 0; r < n; ++r) {
      for (int c = 0; c < n; ++c) matrix.at<double>(r, c) = values[static_cast<std::size_t>(r * n + c)] / divisor;
    }
    matrix.convertTo(matrix, CV_32F);
    cv::filter2D(in, out, -1, matrix);
  } else if (kernel == "sepfilter") {
    cv::Mat kx, ky;
    cv::Mat(numbers(args, "kx", "0.25,0.5,0.25")).reshape(1, 1).convertTo(kx, CV_32F);
    cv::Mat(numbers(args, "ky", "0.25,0.5,0.25")).reshape(1, 1).convertTo(ky, CV_32F);
    cv::sepFilter2D(in, out, -1, kx, ky);
  } else if (kernel == "erode" || kernel == "dilate" || kernel == "open" || kernel == "close" ||
             kernel == "gradient" || kernel == "tophat" || kernel == "blackhat") {
    out = morphology(kernel, args, in);
  } else if (kernel == "adaptive_threshold") {
    cv::adaptiveThreshold(
        in, out, number(args, "max", 255),
        word(args, "method", "mean") == "gaussian" ? cv::ADAPTIVE_THRESH_GAUSSIAN_C : cv::ADAPTIVE_THRESH_MEAN_C,
        threshold_type(word(args, "type", "binary")), integer(args, "block_size", 11), number(args, "c", 2));
  } else if (kernel == "unsharp") {
    const double sigma = number(args, "sigma", 1), amount = number(args, "amount", 1);
    const double threshold = number(args, "threshold", 0);
    cv::Mat blurred;
    cv::GaussianBlur(in, blurred, cv::Size(), sigma, sigma);
    cv::addWeighted(in, 1 + amount, blurred, -amount, 0, out);
    if (threshold > 0) {
      cv::Mat diff, keep;
      cv::absdiff(in, blurred, diff);
      cv::compare(diff.reshape(1), cv::Scalar(threshold), keep, cv::CMP_LT);
      in.copyTo(out, keep.reshape(in.channels()));
    }
  } else if (kernel == "gamma") {
    out = gamma_curve(in, number(args, "gamma", 2.2));
  } else if (kernel == "brightness_contrast") {
    in.convertTo(out, -1, number(args, "alpha", 1), number(args, "beta", 0));
  } else if (kernel == "levels") {
    out = levels(args, in);
  } else if (kernel == "lut") {
    const std::vector<double> entries = numbers(args, "table", "");
    cv::Mat table(1, 256, CV_8U);
    for (int i = 0; i < 256; ++i) table.at<uchar>(i) = static_cast<uchar>(entries.at(static_cast<std::size_t>(i)));
    cv::LUT(in, table, out);
  } else if (kernel == "hsv") {
    cv::cvtColor(in, out, word(args, "hue", "half") == "full" ? cv::COLOR_BGR2HSV_FULL : cv::COLOR_BGR2HSV);
  } else if (kernel == "lab") {
    cv::cvtColor(in, out, cv::COLOR_BGR2Lab);
  } else if (kernel == "ycrcb") {
    cv::cvtColor(in, out, cv::COLOR_BGR2YCrCb);
  } else if (kernel == "convert") {
    static const std::map<std::string, int> depths = {{"8u", CV_8U}, {"16u", CV_16U}, {"32f", CV_32F}};
    const int depth = depths.at(word(args, "to", "32f"));
    double scale = number(args, "scale", 0);
    if (scale == 0) scale = full_scale(depth) / full_scale(in.depth());
    in.convertTo(out, depth, scale, number(args, "offset", 0));
  } else if (kernel == "otsu") {
    cv::threshold(in, out, 0, number(args, "max", 255), threshold_type(word(args, "type", "binary")) | cv::THRESH_OTSU);
  } else if (kernel == "equalize") {
    if (in.channels() == 1) {
      cv::equalizeHist(in, out);
    } else {
      cv::Mat ycrcb, planes[3];
      cv::cvtColor(in, ycrcb, cv::COLOR_BGR2YCrCb);
      cv::split(ycrcb, planes);
      cv::equalizeHist(planes[0], planes[0]);
      cv::merge(planes, 3, ycrcb);
      cv::cvtColor(ycrcb, out, cv::COLOR_YCrCb2BGR);
    }
  } else if (kernel == "clahe") {
    const int grid = integer(args, "tile_grid", 8);
    cv::createCLAHE(number(args, "clip_limit", 2), {grid, grid})->apply(in, out);
  } else if (kernel == "canny") {
    cv::Canny(in, out, number(args, "low", 50), number(args, "high", 150), integer(args, "aperture", 3),
              word(args, "gradient", "l1") == "l2");
  } else if (kernel == "normalize") {
    static const std::map<std::string, int> norms = {
        {"minmax", cv::NORM_MINMAX}, {"inf", cv::NORM_INF}, {"l1", cv::NORM_L1}, {"l2", cv::NORM_L2}};
    const int type = norms.at(word(args, "mode", "minmax"));
    if (type == cv::NORM_MINMAX) {
      const double high = number(args, "high", 0);
      cv::normalize(in, out, number(args, "low", 0), high == 0 ? full_scale(in.depth()) : high, cv::NORM_MINMAX);
    } else {
      cv::normalize(in, out, number(args, "norm", 1), 0, type);
    }
  } else if (kernel == "resize") {
    static const std::map<std::string, int> methods = {{"nearest", cv::INTER_NEAREST}, {"linear", cv::INTER_LINEAR},
                                                       {"cubic", cv::INTER_CUBIC},     {"area", cv::INTER_AREA},
                                                       {"lanczos", cv::INTER_LANCZOS4}};
    cv::resize(in, out, resized(in.size(), args), 0, 0, methods.at(word(args, "interpolation", "linear")));
  } else {
    throw std::invalid_argument("the oracle does not know kernel " + kernel);
  }
  return out;
}

}  // namespace

cv::Mat oracle(const std::string& pipeline, const cv::Mat& input, const ExtraKernels& extra) {
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
    const auto external = extra.find(kernel);
    frame = external != extra.end() ? external->second(frame, args) : apply_stage(kernel, args, frame);
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
