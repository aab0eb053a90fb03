// EXIF orientation of JPEGs: probe_image reports the upright size, load_image turns the frame
// upright, and a broken EXIF block is taken as "stored upright" without reading past it.
#include "common/batch.hpp"
#include "common/exif.hpp"
#include "common/frames.hpp"
#include "common/oracle.hpp"
#include "tilefork/frame_io.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstring>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace tilefork {
namespace {

using test::Bytes;

constexpr int kApp1 = 0xE1;

// Upright 37x23: odd sides, not square, so a missing or extra quarter turn shows.
cv::Mat upright_scene(int type) { return test::photo_like_frame({37, 23}, type, 7); }

struct Variant {
  int orientation;
  bool big_endian;
  bool after_app0;  // EXIF after OpenCV's JFIF segment instead of right after SOI
  int type;
};

std::string describe(const Variant& v) {
  return fmt::format("orientation {}, {}, EXIF {}, {}", v.orientation, v.big_endian ? "MM" : "II",
                     v.after_app0 ? "after APP0" : "first", v.type == CV_8UC1 ? "gray" : "colour");
}

// The frame a viewer shows for the JPEG at `path` with EXIF orientation `orientation`: its
// stored pixels as libjpeg decodes them, placed by the specification's table.
cv::Mat expected_upright(const std::string& path, int orientation) {
  return test::upright_by_specification(cv::imread(path, cv::IMREAD_UNCHANGED), orientation);
}

TEST(Orientation, EveryOrientationIsProbedAndDecodedUpright) {
  const test::TempDir dir;
  int written = 0;
  for (const int type : {CV_8UC1, CV_8UC3}) {
    for (int orientation = 1; orientation <= 8; ++orientation) {
      for (const bool big_endian : {false, true}) {
        for (const bool after_app0 : {false, true}) {
          const Variant v{orientation, big_endian, after_app0, type};
          const std::string path = dir / fmt::format("shot{}.jpg", written++);
          const cv::Mat stored = test::stored_by_specification(upright_scene(type), orientation);
          test::write_bytes(
              path,
              test::with_segment(test::encode_jpeg(stored),
                                 test::jpeg_segment(kApp1, test::exif_payload(orientation, big_endian)), after_app0));
          const cv::Mat expected = expected_upright(path, orientation);
          ASSERT_EQ(expected.size(), cv::Size(37, 23)) << describe(v);

          const ImageInfo info = probe_image(path);
          EXPECT_EQ(info.size, expected.size()) << describe(v);
          EXPECT_EQ(info.orientation, orientation) << describe(v);
          EXPECT_TRUE(info.type == (FrameType{expected.depth(), expected.channels()})) << describe(v);

          const cv::Mat loaded = load_image(path);
          EXPECT_EQ(test::difference(expected, loaded), "") << describe(v);
          // OpenCV applies the tag itself when it may also convert: it must agree with us.
          const cv::Mat by_opencv = cv::imread(path, cv::IMREAD_ANYCOLOR | cv::IMREAD_ANYDEPTH);
          EXPECT_EQ(test::difference(by_opencv, loaded), "") << describe(v) << " (against OpenCV's EXIF handling)";
        }
      }
    }
  }
}

TEST(Orientation, AnXmpSegmentBeforeTheExifOneIsSkipped) {
  const test::TempDir dir;
  const std::string path = dir / "xmp.jpg";
  const std::string xmp = "http://ns.adobe.com/xap/1.0/";
  Bytes xmp_payload(xmp.begin(), xmp.end());
  xmp_payload.push_back(0);
  xmp_payload.insert(xmp_payload.end(), 40, 'x');
  const cv::Mat stored = test::stored_by_specification(upright_scene(CV_8UC3), 6);
  const Bytes jpeg =
      test::with_segment(test::encode_jpeg(stored), test::jpeg_segment(kApp1, test::exif_payload(6, true)));
  test::write_bytes(path, test::with_segment(jpeg, test::jpeg_segment(kApp1, xmp_payload)));
  EXPECT_EQ(probe_image(path).orientation, 6);
  EXPECT_EQ(test::difference(expected_upright(path, 6), load_image(path)), "");
}

// A damaged EXIF block: `mutate` spoils an orientation-6 payload.
struct Damage {
  std::string what;
  void (*mutate)(Bytes& payload);
};

// Offsets in exif_payload(): 0 "Exif\0\0", 6 TIFF header (byte order, 42, directory offset),
// 14 entry count, 16 tag, 18 type, 20 count, 24 value, 28 next directory.
void put_be(Bytes& p, std::size_t at, std::uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    p[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(value >> (8 * (bytes - 1 - i)));
}

const Damage damages[] = {
    {"only the EXIF signature", [](Bytes& p) { p.resize(6); }},
    {"half a TIFF header", [](Bytes& p) { p.resize(10); }},
    {"unknown byte order", [](Bytes& p) { p[6] = 'X', p[7] = 'X'; }},
    {"mixed byte order", [](Bytes& p) { p[6] = 'M', p[7] = 'I'; }},
    {"TIFF magic 43", [](Bytes& p) { put_be(p, 8, 43, 2); }},
    {"directory offset far past the segment", [](Bytes& p) { put_be(p, 10, 0xFFFFFFF0u, 4); }},
    {"directory offset at the last byte", [](Bytes& p) { put_be(p, 10, static_cast<std::uint32_t>(p.size() - 7), 4); }},
    {"entry cut short", [](Bytes& p) { p.resize(22); }},
    {"directory of 65535 entries, none of them Orientation",
     [](Bytes& p) { put_be(p, 14, 0xFFFF, 2), put_be(p, 16, 0x010F, 2); }},
    {"Orientation 0", [](Bytes& p) { put_be(p, 24, 0, 2); }},
    {"Orientation 9", [](Bytes& p) { put_be(p, 24, 9, 2); }},
    {"Orientation 65535", [](Bytes& p) { put_be(p, 24, 0xFFFF, 2); }},
    {"Orientation as text", [](Bytes& p) { put_be(p, 18, 2, 2); }},
    {"Orientation with no values", [](Bytes& p) { put_be(p, 20, 0, 4); }},
    {"no Orientation entry", [](Bytes& p) { put_be(p, 16, 0x0110, 2); }},
    {"empty APP1", [](Bytes& p) { p.clear(); }},
};

TEST(Orientation, DamagedExifIsTakenAsStored) {
  const test::TempDir dir;
  const cv::Mat stored = upright_scene(CV_8UC3);
  for (const Damage& damage : damages) {
    Bytes payload = test::exif_payload(6, true);
    damage.mutate(payload);
    const std::string path = dir / "damaged.jpg";
    test::write_bytes(path, test::with_segment(test::encode_jpeg(stored), test::jpeg_segment(kApp1, payload)));
    const cv::Mat as_stored = cv::imread(path, cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(as_stored.empty()) << damage.what << ": libjpeg must still decode the test file";
    ImageInfo info;
    ASSERT_NO_THROW(info = probe_image(path)) << damage.what;
    EXPECT_EQ(info.orientation, 1) << damage.what;
    EXPECT_EQ(info.size, as_stored.size()) << damage.what;
    EXPECT_EQ(test::difference(as_stored, load_image(path)), "") << damage.what;
  }
}

// Every byte of the EXIF block overwritten in turn with a few values: the probe never reads
// outside the segment (run under TILEFORK_SANITIZE to check that too), always reports an
// orientation, and its size is what load_image returns.
TEST(Orientation, EveryByteOfTheExifBlockSpoiledNeverBreaksTheProbe) {
  const test::TempDir dir;
  const cv::Mat stored = upright_scene(CV_8UC1);
  const Bytes jpeg = test::encode_jpeg(stored);
  const Bytes clean = test::exif_payload(8, false);
  const std::string path = dir / "fuzzed.jpg";
  for (std::size_t at = 0; at < clean.size(); ++at) {
    for (const std::uint8_t value : std::initializer_list<std::uint8_t>{0x00, 0x01, 0x07, 0x80, 0xFF}) {
      Bytes payload = clean;
      payload[at] = value;
      test::write_bytes(path, test::with_segment(jpeg, test::jpeg_segment(kApp1, payload)));
      ImageInfo info;
      ASSERT_NO_THROW(info = probe_image(path)) << "byte " << at << " = " << int{value};
      ASSERT_GE(info.orientation, 1);
      ASSERT_LE(info.orientation, 8);
      const cv::Mat loaded = load_image(path);
      EXPECT_EQ(info.size, loaded.size()) << "byte " << at << " = " << int{value};
      EXPECT_EQ(test::difference(expected_upright(path, info.orientation), loaded), "")
          << "byte " << at << " = " << int{value};
    }
  }
}

TEST(Orientation, AFileEndingInsideTheExifSegmentIsReportedTruncated) {
  const test::TempDir dir;
  const std::string path = dir / "cut.jpg";
  const Bytes whole = test::with_segment(test::encode_jpeg(upright_scene(CV_8UC3)),
                                         test::jpeg_segment(kApp1, test::exif_payload(6, false)));
  test::write_bytes(path, Bytes(whole.begin(), whole.begin() + 20));  // SOI, APP1 header, part of the block
  // probe_image reads the file; load_image finds the orientation in the bytes it read already.
  const std::vector<std::pair<std::string, std::function<void()>>> readers = {
      {"probe_image", [&] { static_cast<void>(probe_image(path)); }},
      {"load_image", [&] { static_cast<void>(load_image(path)); }}};
  for (const auto& [name, read] : readers) {
    try {
      read();
      ADD_FAILURE() << name << " accepted a cut file";
    } catch (const ImageError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("'" + path + "'"), std::string::npos) << name << ": " << message;
      EXPECT_NE(message.find("truncated (header ends after 20 bytes)"), std::string::npos) << name << ": " << message;
    }
  }
}

TEST(Orientation, OtherFormatsAreTakenAsStored) {
  const test::TempDir dir;
  const cv::Mat frame = upright_scene(CV_8UC3);
  for (const char* name : {"a.png", "a.tif", "a.bmp"}) {
    const std::string path = dir / name;
    ASSERT_TRUE(cv::imwrite(path, frame));
    EXPECT_EQ(probe_image(path).orientation, 1) << name;
    EXPECT_EQ(test::difference(frame, load_image(path)), "") << name;
  }
}

}  // namespace
}  // namespace tilefork
