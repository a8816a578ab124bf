#include "hyperion/space/space.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace hyperion {
namespace {

ParamSpec Float(const std::string& name, double low, double high, bool log = false) {
  ParamSpec s;
  s.name = name;
  s.type = ParamType::kFloat;
  s.low = low;
  s.high = high;
  s.log = log;
  return s;
}

TEST(CheckSpec, RejectsLogWithNonPositiveLow) {
  auto problem = CheckSpec(Float("lr", 0, 1, true));
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->field, "low");
  EXPECT_NE(problem->message.find("must be > 0 with log: true"), std::string::npos);
}

TEST(CheckSpec, RejectsLowNotBelowHigh) {
  auto problem = CheckSpec(Float("x", 2, 2));
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->field, "high");
}

TEST(CheckSpec, RejectsStepThatDoesNotDivideTheRange) {
  ParamSpec s = Float("x", 0, 1);
  s.step = 0.3;
  auto problem = CheckSpec(s);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->field, "step");
  EXPECT_NE(problem->message.find("set high to 0.9"), std::string::npos) << problem->message;
  s.step = 0.25;
  EXPECT_FALSE(CheckSpec(s));
  s.step = 0.1;  // 10 intervals despite floating-point rounding
  EXPECT_FALSE(CheckSpec(s));
}

TEST(CheckSpec, CategoricalChoicesKeepTheirTypes) {
  ParamSpec s;
  s.name = "c";
  s.type = ParamType::kCategorical;
  s.choices = {Json(), Json(0), Json(false), Json("0"), Json(1), Json(true)};
  EXPECT_FALSE(CheckSpec(s)) << "six different choices";
  s.choices.push_back(Json(0));
  auto problem = CheckSpec(s);
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->message.find("listed twice"), std::string::npos);
  s.choices.clear();
  EXPECT_TRUE(CheckSpec(s));
}

TEST(SameTypedValue, SignedAndUnsignedIntegersAreTheSameButFloatsAndBoolsAreNot) {
  EXPECT_TRUE(SameTypedValue(Json::parse("64"), Json(int64_t{64})));
  EXPECT_FALSE(SameTypedValue(Json(1), Json(1.0)));
  EXPECT_FALSE(SameTypedValue(Json(0), Json(false)));
  EXPECT_FALSE(SameTypedValue(Json(0), Json("0")));
  EXPECT_FALSE(SameTypedValue(Json(), Json(0)));
}

TEST(Space, SamplesStayInRangeOnTheGridAndTyped) {
  ParamSpec lr = Float("lr", 1e-4, 1e-1, true);
  ParamSpec width;
  width.name = "width";
  width.type = ParamType::kInt;
  width.low = 16;
  width.high = 512;
  width.log = true;
  ParamSpec dropout = Float("dropout", 0, 0.5);
  dropout.step = 0.05;
  ParamSpec flag;
  flag.name = "flag";
  flag.type = ParamType::kBool;
  auto space = Space::Create({lr, width, dropout, flag});
  ASSERT_TRUE(space.ok()) << space.status().message();
  std::mt19937_64 rng(1);
  std::set<double> dropouts;
  int small_lr = 0;
  for (int i = 0; i < 2000; ++i) {
    Json p = space->Sample(rng);
    ASSERT_TRUE(space->Validate(p).ok()) << space->Validate(p).message() << p.dump();
    EXPECT_TRUE(p["lr"].is_number_float());
    EXPECT_TRUE(p["width"].is_number_integer());
    EXPECT_TRUE(p["flag"].is_boolean());
    dropouts.insert(p["dropout"].get<double>());
    if (p["lr"].get<double>() < 1e-3) ++small_lr;
  }
  EXPECT_EQ(dropouts.size(), 11u) << "every step value of 0..0.5 by 0.05 is drawn";
  // Log-uniform: a third of the draws fall in the first decade of three.
  EXPECT_GT(small_lr, 550);
  EXPECT_LT(small_lr, 780);
}

TEST(Space, ValidateNamesTheProblem) {
  auto space = Space::Create({Float("lr", 0.001, 0.1)});
  ASSERT_TRUE(space.ok());
  EXPECT_NE(space->Validate(Json{{"lr", 0.5}}).message().find("outside"), std::string::npos);
  EXPECT_NE(space->Validate(Json{{"lr", 1}}).message().find("must be a float"), std::string::npos);
  EXPECT_NE(space->Validate(Json{{"lrr", 0.01}}).message().find("did you mean 'lr'"), std::string::npos);
  EXPECT_TRUE(space->Validate(Json{{"lr", 0.01}}).ok());
}

TEST(Space, UnitEncodingRoundTrips) {
  ParamSpec lr = Float("lr", 1e-4, 1e-1, true);
  EXPECT_NEAR(Space::ToUnit(lr, Json(1e-4)), 0.0, 1e-12);
  EXPECT_NEAR(Space::ToUnit(lr, Json(1e-1)), 1.0, 1e-12);
  EXPECT_NEAR(Space::FromUnit(lr, 0.5).get<double>(), std::sqrt(1e-4 * 1e-1), 1e-9);
  ParamSpec c;
  c.name = "c";
  c.type = ParamType::kCategorical;
  c.choices = {Json("a"), Json(false), Json()};
  for (const auto& choice : c.choices) {
    EXPECT_TRUE(SameTypedValue(Space::FromUnit(c, Space::ToUnit(c, choice)), choice));
  }
}

TEST(Space, GridValues) {
  ParamSpec i;
  i.name = "i";
  i.type = ParamType::kInt;
  i.low = 1;
  i.high = 3;
  EXPECT_EQ(Space::GridValues(i, 5).size(), 3u);
  ParamSpec x = Float("x", 0, 1);
  auto values = Space::GridValues(x, 5);
  ASSERT_EQ(values.size(), 5u);
  EXPECT_DOUBLE_EQ(values[2].get<double>(), 0.5);
}

TEST(Space, JsonRoundTrip) {
  ParamSpec c;
  c.name = "c";
  c.type = ParamType::kCategorical;
  c.choices = {Json(), Json(0), Json(false), Json("0")};
  auto space = Space::Create({Float("lr", 1e-4, 1e-1, true), c});
  ASSERT_TRUE(space.ok());
  auto back = Space::FromJson(space->ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->ToJson().dump(), space->ToJson().dump());
}

}  // namespace
}  // namespace hyperion
