#include "hyperion/strategy/mutation.h"

#include <gtest/gtest.h>

#include "hyperion/space/space_testing.h"

namespace hyperion {
namespace {

using testing::Choice;
using testing::Float;
using testing::Int;

TEST(PerturbValue, MultipliesAndStaysInBounds) {
  ParamSpec lr = Float("lr", 1e-4, 1e-1, true);
  EXPECT_NEAR(PerturbValue(lr, Json(0.01), 1.2).get<double>(), 0.012, 1e-12);
  EXPECT_NEAR(PerturbValue(lr, Json(0.01), 0.8).get<double>(), 0.008, 1e-12);
  EXPECT_DOUBLE_EQ(PerturbValue(lr, Json(0.095), 1.2).get<double>(), 0.1);  // clamped at high
  EXPECT_DOUBLE_EQ(PerturbValue(lr, Json(0.1), 1.2).get<double>(), 0.1);    // cannot move up
}

TEST(PerturbValue, IntsStayIntsAndAlwaysMoveWhenTheyCan) {
  ParamSpec depth = Int("depth", 1, 4);
  Json up = PerturbValue(depth, Json(int64_t{2}), 1.2);  // 2.4 rounds back to 2: one grid value instead
  ASSERT_TRUE(up.is_number_integer());
  EXPECT_EQ(up.get<int64_t>(), 3);
  EXPECT_EQ(PerturbValue(depth, Json(int64_t{2}), 0.8).get<int64_t>(), 1);
  EXPECT_EQ(PerturbValue(depth, Json(int64_t{1}), 0.8).get<int64_t>(), 1);  // at the bound
  ParamSpec width = Int("width", 16, 512, true);
  EXPECT_EQ(PerturbValue(width, Json(int64_t{100}), 1.2).get<int64_t>(), 120);
}

TEST(PerturbValue, StepGridAndZero) {
  ParamSpec dropout = Float("dropout", 0.0, 0.5, false, 0.05);
  EXPECT_DOUBLE_EQ(PerturbValue(dropout, Json(0.0), 1.2).get<double>(), 0.05);  // zero moves one step
  EXPECT_DOUBLE_EQ(PerturbValue(dropout, Json(0.3), 1.2).get<double>(), 0.35);  // 0.36 snaps to 0.35
  EXPECT_DOUBLE_EQ(PerturbValue(dropout, Json(0.3), 0.8).get<double>(), 0.25);  // 0.24 snaps to 0.25
  ParamSpec momentum = Float("momentum", 0.0, 0.99);
  EXPECT_NEAR(PerturbValue(momentum, Json(0.0), 1.2).get<double>(), 0.0495, 1e-12);
}

TEST(PerturbValue, ChoicesMoveToTheNeighbour) {
  ParamSpec batch = Choice("batch_size", {16, 32, 64, 128});
  EXPECT_EQ(PerturbValue(batch, Json(64), 1.2), Json(128));
  EXPECT_EQ(PerturbValue(batch, Json(64), 0.8), Json(32));
  EXPECT_EQ(PerturbValue(batch, Json(128), 1.2), Json(128));
}

TEST(ShiftValue, MovesOnTheParametersScale) {
  ParamSpec lr = Float("lr", 1e-4, 1e-1, true);
  auto up = ShiftValue(lr, Json(0.001), +1, 1.0 / 3);  // a third of three decades: x10
  ASSERT_TRUE(up);
  EXPECT_NEAR(up->get<double>(), 0.01, 1e-12);
  EXPECT_FALSE(ShiftValue(lr, Json(0.1), +1, 0.2));
  ParamSpec depth = Int("depth", 1, 3);
  EXPECT_EQ(ShiftValue(depth, Json(int64_t{2}), -1, 0.01)->get<int64_t>(), 1);
  ParamSpec opt = Choice("optimizer", {"adam", "sgd"});
  EXPECT_EQ(*ShiftValue(opt, Json("adam"), +1, 0.2), Json("sgd"));
  EXPECT_FALSE(ShiftValue(opt, Json("adam"), -1, 0.2));
}

TEST(ChangeLabel, ReadsAsAPersonWouldWriteIt) {
  auto space = Space::Create({Float("lr", 1e-4, 1e-1, true), Float("dropout", 0, 0.5),
                              Choice("batch_size", {16, 32, 64, 128}), Float("momentum", 0, 1)});
  ASSERT_TRUE(space.ok());
  Json a = {{"lr", 0.001}, {"dropout", 0.1}, {"batch_size", 64}};
  Json b = {{"lr", 0.003}, {"dropout", 0.3}, {"batch_size", 128}, {"momentum", 0.9}};
  EXPECT_EQ(ChangeLabel(*space, a, b), "lr x3, dropout 0.1->0.3, batch_size 64->128, +momentum 0.9");
  EXPECT_EQ(ChangeLabel(*space, b, a), "lr x0.33, dropout 0.3->0.1, batch_size 128->64, -momentum");
  EXPECT_EQ(ChangeLabel(*space, a, a), "no change");
}

TEST(LabelValue, FloatsToFourSignificantDigitsOthersExactly) {
  EXPECT_EQ(LabelValue(Json(0.00078)), "0.00078");
  EXPECT_EQ(LabelValue(Json(0.0061999)), "0.0062");
  EXPECT_EQ(LabelValue(Json(123456.0)), "1.235e+05");
  EXPECT_EQ(LabelValue(Json(64)), "64");
  EXPECT_EQ(LabelValue(Json("adam")), "adam");
  EXPECT_EQ(LabelValue(Json(true)), "true");
}

}  // namespace
}  // namespace hyperion
