#include "hyperion/space/space.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "hyperion/space/space_testing.h"

namespace hyperion {
namespace {

using testing::Bool;
using testing::Choice;
using testing::Float;
using testing::Int;
using testing::When;

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
  ParamSpec s = Choice("c", {Json(), Json(0), Json(false), Json("0"), Json(1), Json(true)});
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

TEST(IsChoice, CategoricalAndBoolOnly) {
  ParamSpec spec = Float("lr", 1e-4, 1e-1, true);
  EXPECT_FALSE(IsChoice(spec));
  spec.type = ParamType::kInt;
  EXPECT_FALSE(IsChoice(spec));
  spec.type = ParamType::kCategorical;
  EXPECT_TRUE(IsChoice(spec));
  spec.type = ParamType::kBool;
  EXPECT_TRUE(IsChoice(spec));
}

TEST(ChoiceIndex, ComparesTypedValuesAndFallsBackToTheFirst) {
  const ParamSpec spec = Choice("c", {Json(0), Json("0"), Json(false), Json(1.5)});
  EXPECT_EQ(ChoiceIndex(spec, Json(0)), 0u);
  EXPECT_EQ(ChoiceIndex(spec, Json("0")), 1u);
  EXPECT_EQ(ChoiceIndex(spec, Json(false)), 2u);
  EXPECT_EQ(ChoiceIndex(spec, Json(1.5)), 3u);
  EXPECT_EQ(ChoiceIndex(spec, Json("absent")), 0u);
}

TEST(Space, SamplesStayInRangeOnTheGridAndTyped) {
  ParamSpec lr = Float("lr", 1e-4, 1e-1, true);
  auto space =
      Space::Create({lr, Int("width", 16, 512, true), Float("dropout", 0, 0.5, false, 0.05), Bool("flag")});
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
  ParamSpec c = Choice("c", {Json("a"), Json(false), Json()});
  for (const auto& choice : c.choices) {
    EXPECT_TRUE(SameTypedValue(Space::FromUnit(c, Space::ToUnit(c, choice)), choice));
  }
}

TEST(Space, GridValues) {
  EXPECT_EQ(Space::GridValues(Int("i", 1, 3), 5).size(), 3u);
  ParamSpec x = Float("x", 0, 1);
  auto values = Space::GridValues(x, 5);
  ASSERT_EQ(values.size(), 5u);
  EXPECT_DOUBLE_EQ(values[2].get<double>(), 0.5);
}

TEST(Space, JsonRoundTrip) {
  auto space =
      Space::Create({Float("lr", 1e-4, 1e-1, true), Choice("c", {Json(), Json(0), Json(false), Json("0")})});
  ASSERT_TRUE(space.ok());
  auto back = Space::FromJson(space->ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->ToJson().dump(), space->ToJson().dump());
}

}  // namespace
}  // namespace hyperion

namespace hyperion {
namespace {

// optimizer: sgd | adam | adamw; momentum and nesterov only for sgd; beta2 for the adams; dampening only
// for sgd with nesterov (a condition on a conditional parameter); layers always.
Space ConditionalSpace() {
  auto space = Space::Create({
      Choice("optimizer", {Json("sgd"), Json("adam"), Json("adamw")}),
      When(Float("momentum", 0, 0.99), {{"optimizer", {Json("sgd")}}}),
      When(Bool("nesterov"), {{"optimizer", {Json("sgd")}}}),
      When(Float("beta2", 0.9, 0.9999), {{"optimizer", {Json("adam"), Json("adamw")}}}),
      When(Float("dampening", 0, 0.5), {{"nesterov", {Json(true)}}}),
      Int("layers", 1, 3),
  });
  EXPECT_TRUE(space.ok()) << space.status().message();
  return *space;
}

TEST(ConditionalSpace, SampleYieldsExactlyTheActiveParameters) {
  Space space = ConditionalSpace();
  EXPECT_TRUE(space.HasConditions());
  std::mt19937_64 rng(3);
  std::map<std::string, int> optimizers;
  int with_dampening = 0;
  for (int i = 0; i < 3000; ++i) {
    Json p = space.Sample(rng);
    ASSERT_TRUE(space.Validate(p).ok()) << space.Validate(p).message() << " " << p.dump();
    const std::string optimizer = p.at("optimizer").get<std::string>();
    ++optimizers[optimizer];
    const bool sgd = optimizer == "sgd";
    EXPECT_EQ(p.contains("momentum"), sgd) << p.dump();
    EXPECT_EQ(p.contains("nesterov"), sgd) << p.dump();
    EXPECT_EQ(p.contains("beta2"), !sgd) << p.dump();
    const bool nesterov = sgd && p["nesterov"].get<bool>();
    EXPECT_EQ(p.contains("dampening"), nesterov) << p.dump();
    with_dampening += nesterov;
    EXPECT_TRUE(p.contains("layers"));
    // Keys come in the space's order.
    std::vector<std::string> keys;
    for (const auto& [k, v] : p.items()) keys.push_back(k);
    std::vector<std::string> expected;
    for (const auto& name : space.Names()) {
      if (p.contains(name)) expected.push_back(name);
    }
    EXPECT_EQ(keys, expected);
  }
  ASSERT_EQ(optimizers.size(), 3u);
  for (const auto& [name, n] : optimizers) EXPECT_GT(n, 850) << name;
  EXPECT_GT(with_dampening, 350) << "half of the sgd third: about 500 of 3000";
  EXPECT_LT(with_dampening, 650);
}

TEST(ConditionalSpace, ValidateNamesTheConditionThatFails) {
  Space space = ConditionalSpace();
  Json adam = {{"optimizer", "adam"}, {"beta2", 0.99}, {"layers", 2}};
  EXPECT_TRUE(space.Validate(adam).ok()) << space.Validate(adam).message();

  Json given = adam;
  given["momentum"] = 0.5;
  EXPECT_EQ(space.Validate(given).message(),
            "parameter 'momentum' is given but inactive: it exists only when optimizer is \"sgd\", and here "
            "optimizer is \"adam\"");

  Json sgd = {{"optimizer", "sgd"}, {"momentum", 0.5}, {"nesterov", false}, {"layers", 1}};
  EXPECT_TRUE(space.Validate(sgd).ok()) << space.Validate(sgd).message();
  sgd["dampening"] = 0.1;
  EXPECT_EQ(space.Validate(sgd).message(),
            "parameter 'dampening' is given but inactive: it exists only when nesterov is true, and here "
            "nesterov is false");

  Json nested = {{"optimizer", "adamw"}, {"beta2", 0.95}, {"dampening", 0.1}, {"layers", 3}};
  EXPECT_EQ(space.Validate(nested).message(),
            "parameter 'dampening' is given but inactive: it exists only when nesterov is true, and here "
            "nesterov is inactive itself");

  Json missing = {{"optimizer", "sgd"}, {"nesterov", true}, {"dampening", 0.1}, {"layers", 3}};
  EXPECT_EQ(space.Validate(missing).message(), "parameter 'momentum' is missing");
  Json wrong_beta = {{"optimizer", "adam"}, {"beta2", 0.5}, {"layers", 3}};
  EXPECT_EQ(space.Validate(wrong_beta).message(), "parameter 'beta2' = 0.5 is outside [0.9, 0.9999]");
}

TEST(ConditionalSpace, ValidateNamesTheSecondConditionWhenTheFirstHolds) {
  auto space = Space::Create(
      {Choice("optimizer", {Json("sgd"), Json("adam")}), Int("layers", 1, 4),
       When(Float("momentum", 0, 1), {{"optimizer", {Json("sgd")}}, {"layers", {Json(3), Json(4)}}})});
  ASSERT_TRUE(space.ok()) << space.status().message();
  Json p = {{"optimizer", "sgd"}, {"layers", 2}, {"momentum", 0.5}};
  EXPECT_EQ(space->Validate(p).message(),
            "parameter 'momentum' is given but inactive: it exists only when layers is one of 3, 4, and here "
            "layers is 2");
  p["layers"] = 3;
  EXPECT_TRUE(space->Validate(p).ok());
}

TEST(ConditionalSpace, CompleteDropsNewlyInactiveAndDrawsNewlyActive) {
  Space space = ConditionalSpace();
  std::mt19937_64 rng(5);
  Json changed = {{"optimizer", "sgd"}, {"beta2", 0.99}, {"layers", 2}};  // was adam; optimizer mutated
  Json done = space.Complete(changed, rng);
  ASSERT_TRUE(space.Validate(done).ok()) << space.Validate(done).message() << done.dump();
  EXPECT_FALSE(done.contains("beta2"));
  EXPECT_TRUE(done.contains("momentum"));
  EXPECT_TRUE(done.contains("nesterov"));
  EXPECT_EQ(done["layers"], 2) << "values already present are kept";
  Json valid = {
      {"optimizer", "sgd"}, {"momentum", 0.25}, {"nesterov", true}, {"dampening", 0.5}, {"layers", 1}};
  EXPECT_EQ(space.Complete(valid, rng).dump(), valid.dump()) << "a valid point is left as it is";
}

TEST(ConditionalSpace, CreateRefusesBadConditions) {
  ParamSpec opt = Choice("optimizer", {Json("sgd"), Json("adam")});
  auto error = [](std::vector<ParamSpec> params) {
    auto space = Space::Create(std::move(params));
    EXPECT_FALSE(space.ok());
    return space.ok() ? std::string() : space.status().message();
  };
  EXPECT_EQ(
      error({When(Float("momentum", 0, 1), {{"optimizer", {Json("sgd")}}}), opt}),
      "parameter 'momentum', when.optimizer: 'optimizer' must be defined before 'momentum' (move it up)");
  EXPECT_EQ(error({opt, When(Float("momentum", 0, 1), {{"optimiser", {Json("sgd")}}})}),
            "parameter 'momentum', when.optimiser: names no parameter of the space");
  EXPECT_EQ(error({opt, When(Float("momentum", 0, 1), {{"momentum", {Json(0.5)}}})}),
            "parameter 'momentum', when.momentum: a parameter cannot depend on itself");
  EXPECT_EQ(error({opt, When(Float("momentum", 0, 1), {{"optimizer", {Json("rmsprop")}}})}),
            "parameter 'momentum', when.optimizer: \"rmsprop\" is not one of the choices: \"sgd\", \"adam\"");
  EXPECT_EQ(error({opt, When(Float("momentum", 0, 1), {{"optimizer", {}}})}),
            "parameter 'momentum', when.optimizer: list at least one value");
  const ParamSpec layers = Int("layers", 1, 3);
  EXPECT_EQ(error({layers, When(Float("width", 0, 1), {{"layers", {Json("2")}}})}),
            "parameter 'width', when.layers: \"2\" must be an int");
  EXPECT_EQ(error({layers, When(Float("width", 0, 1), {{"layers", {Json(4)}}})}),
            "parameter 'width', when.layers: 4 is outside [1, 3]");
}

TEST(ConditionalSpace, CountPointsCountsEachActiveCombinationOnce) {
  const ParamSpec layers = Int("layers", 1, 2);
  auto space =
      Space::Create({Choice("optimizer", {Json("sgd"), Json("adam")}),
                     When(Choice("momentum", {Json(0.9), Json(0.99)}), {{"optimizer", {Json("sgd")}}}),
                     When(Bool("nesterov"), {{"optimizer", {Json("sgd")}}}),
                     When(Int("beta", 1, 3), {{"optimizer", {Json("adam")}}}), layers});
  ASSERT_TRUE(space.ok()) << space.status().message();
  // sgd: 2 momenta x 2 nesterov; adam: 3 betas; times 2 layers.
  EXPECT_EQ(space->CountPoints(), (2 * 2 + 3) * 2);

  // A wide int whose value 5 switches on a flag: 5 with the flag's two values, every other value alone.
  auto big = Space::Create({Int("wide", 1, 1e12), When(Bool("flag"), {{"wide", {Json(5)}}})});
  ASSERT_TRUE(big.ok()) << big.status().message();
  EXPECT_EQ(big->CountPoints(), 1e12 + 1);

  // A continuous parameter that can be active makes the space infinite; an unconditional discrete one is
  // the product of its cardinalities.
  auto continuous = Space::Create({Choice("optimizer", {Json("sgd"), Json("adam")}),
                                   When(Float("momentum", 0, 1), {{"optimizer", {Json("sgd")}}})});
  ASSERT_TRUE(continuous.ok());
  EXPECT_TRUE(std::isinf(continuous->CountPoints()));
  auto plain = Space::Create({Choice("optimizer", {Json("sgd"), Json("adam")}), layers});
  EXPECT_EQ(plain->CountPoints(), 4);
}

TEST(ConditionalSpace, JsonRoundTripKeepsConditions) {
  Space space = ConditionalSpace();
  auto back = Space::FromJson(space.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->ToJson().dump(), space.ToJson().dump());
  ASSERT_EQ(back->Find("beta2")->when.size(), 1u);
  EXPECT_EQ(back->Find("beta2")->when[0].param, "optimizer");
  EXPECT_EQ(back->Find("beta2")->when[0].values, (std::vector<Json>{Json("adam"), Json("adamw")}));
  EXPECT_EQ(back->Find("dampening")->when[0].values, std::vector<Json>{Json(true)});
}

TEST(ConditionalSpace, DescribeCondition) {
  EXPECT_EQ(DescribeCondition({"optimizer", {Json("sgd")}}), "optimizer is \"sgd\"");
  EXPECT_EQ(DescribeCondition({"layers", {Json(2), Json("2")}}), "layers is one of 2, \"2\"");
}

}  // namespace
}  // namespace hyperion
