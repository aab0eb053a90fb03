// Pipeline parsing, parameter validation, type checking and plane assignment.
#include "tilefork/errors.hpp"
#include "tilefork/pipeline.hpp"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>

namespace tilefork {
namespace {

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { register_builtin_kernels(); }

  static std::string error_of(const std::string& text) {
    try {
      Pipeline::parse(text);
    } catch (const UsageError& error) {
      return error.what();
    }
    return "no error";
  }
};

TEST_F(PipelineTest, ParsesStagesAndParameters) {
  const Pipeline pipeline = Pipeline::parse("  gaussian sigma=2 |sobel ksize=5 mode=dx| invert ");
  ASSERT_EQ(pipeline.stages().size(), 3u);
  EXPECT_EQ(pipeline.stages()[0].kernel->name, "gaussian");
  EXPECT_DOUBLE_EQ(pipeline.stages()[0].params.real("sigma"), 2.0);
  EXPECT_EQ(pipeline.stages()[0].params.integer("ksize"), 0);
  EXPECT_EQ(pipeline.stages()[1].params.choice("mode"), "dx");
  EXPECT_EQ(pipeline.stages()[0].halo, 8);  // ksize from sigma: 4 sigma each side
  EXPECT_EQ(pipeline.describe(), "gaussian sigma=2 ksize=0 | sobel ksize=5 mode=dx | invert");
}

TEST_F(PipelineTest, ErrorsNameTheCulprit) {
  EXPECT_NE(error_of("").find("pipeline is empty"), std::string::npos);
  EXPECT_NE(error_of("gaussian |").find("stage 2 of the pipeline is empty"), std::string::npos);
  EXPECT_NE(error_of("gausian sigma=2").find("unknown kernel 'gausian' (did you mean 'gaussian'?)"),
            std::string::npos);
  EXPECT_NE(error_of("gaussian sigma=-1").find("'sigma' = -1 is out of range"), std::string::npos);
  EXPECT_NE(error_of("gaussian sigma=abc").find("'sigma' takes a number, not 'abc'"), std::string::npos);
  EXPECT_NE(error_of("median ksize=4").find("must be odd"), std::string::npos);
  EXPECT_NE(error_of("box ksize=2.5").find("whole number"), std::string::npos);
  EXPECT_NE(error_of("box size=3").find("unknown parameter 'size' (it takes: ksize)"), std::string::npos);
  EXPECT_NE(error_of("sobel mode=dz").find("not one of: magnitude, dx, dy"), std::string::npos);
  EXPECT_NE(error_of("box ksize=3 ksize=5").find("given twice"), std::string::npos);
  EXPECT_NE(error_of("box ksize").find("not of the form key=value"), std::string::npos);
  EXPECT_NE(error_of("invert | threshold value=1 | gray sigma=1").find("stage 3 (gray)"), std::string::npos);
}

TEST_F(PipelineTest, TypeErrorsNameBothStages) {
  const Pipeline pipeline = Pipeline::parse("gaussian | median ksize=7");
  try {
    pipeline.plan({CV_16U, 1}, {10, 10});
    FAIL() << "a 16-bit frame through median ksize=7 must be refused";
  } catch (const UsageError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("stage 2 (median)"), std::string::npos) << message;
    EXPECT_NE(message.find("stage 1 (gaussian)"), std::string::npos) << message;
    EXPECT_NE(message.find("8-bit"), std::string::npos) << message;
  }
}

// Frame sizes are counted in int (cv::Size::area): a resize to 65535x65535 once wrapped to
// -131071 pixels, and the segment was sized from that. Such a frame is refused at planning, and
// a frame just under the limit is sized exactly.
TEST_F(PipelineTest, FramesTooLargeToCountAreRefusedAndLargeOnesSizedExactly) {
  for (const char* text : {"resize width=65535 height=65535", "invert | resize width=46341 height=46341"}) {
    try {
      Pipeline::parse(text).plan({CV_8U, 3}, {2560, 1600});
      ADD_FAILURE() << "\"" << text << "\" must be refused";
    } catch (const UsageError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("resize) would make a"), std::string::npos) << message;
      EXPECT_NE(message.find("more than the 2147483647 a frame may have"), std::string::npos) << message;
    }
  }
  const FramePlan plan = Pipeline::parse("resize width=46340 height=46340").plan({CV_8U, 3}, {2560, 1600});
  EXPECT_EQ(plan.max_plane_bytes(), std::size_t{46340} * 46340 * 3);
  const FramePlan wide = Pipeline::parse("resize width=65535 height=32768").plan({CV_32F, 4}, {2560, 1600});
  EXPECT_EQ(wide.max_plane_bytes(), std::size_t{65535} * 32768 * 16);
}

TEST_F(PipelineTest, PlanesPingPongAndNoStageWritesWhatItReads) {
  // The loaded plane 0 is never written; every stage, pointwise or not, writes the other plane
  // of 1 and 2, so a tile can be rerun after its worker died.
  const Pipeline pipeline = Pipeline::parse("invert | gaussian | threshold | median | gray | box");
  const FramePlan plan = pipeline.plan({CV_8U, 3}, {10, 10});
  EXPECT_EQ(plan.in_plane, (std::vector<int>{0, 1, 2, 1, 2, 1}));
  EXPECT_EQ(plan.out_plane, (std::vector<int>{1, 2, 1, 2, 1, 2}));
  EXPECT_EQ(plan.planes, 3);
  EXPECT_EQ(plan.types.back(), (FrameType{CV_8U, 1}));
  EXPECT_EQ(Pipeline::parse("invert").plan({CV_8U, 1}, {10, 10}).planes, 2);
}

}  // namespace
}  // namespace tilefork
