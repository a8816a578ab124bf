#include "hyperion/strategy/strategy.h"

#include <gtest/gtest.h>

#include <set>

namespace hyperion {
namespace {

Space SmallSpace() {
  ParamSpec i;
  i.name = "i";
  i.type = ParamType::kInt;
  i.low = 1;
  i.high = 3;
  ParamSpec c;
  c.name = "c";
  c.type = ParamType::kCategorical;
  c.choices = {Json("a"), Json(false)};
  return *Space::Create({i, c});
}

Trial TrialWith(const Json& params, int64_t number) {
  Trial t;
  t.number = number;
  t.params = params;
  return t;
}

TEST(GridSearch, VisitsEveryPointOnceThenIsExhausted) {
  Space space = SmallSpace();
  Objective objective;
  std::vector<Trial> trials;
  auto strategy = MakeStrategy(StrategyConfig{"grid", 0, 5});
  ASSERT_TRUE(strategy.ok());
  std::set<std::string> seen;
  for (int n = 1; n <= 6; ++n) {
    StrategyContext context{space, objective, trials, 0};
    ProposeOutcome out = (*strategy)->Propose(context);
    ASSERT_EQ(out.kind, ProposeOutcome::Kind::kProposal) << n;
    EXPECT_TRUE(space.Validate(out.proposal.params).ok());
    EXPECT_TRUE(seen.insert(out.proposal.params.dump()).second) << "duplicate " << out.proposal.params.dump();
    EXPECT_FALSE(out.proposal.rationale.empty());
    trials.push_back(TrialWith(out.proposal.params, n));  // pending trials count as taken
  }
  StrategyContext context{space, objective, trials, 0};
  ProposeOutcome out = (*strategy)->Propose(context);
  EXPECT_EQ(out.kind, ProposeOutcome::Kind::kExhausted);
  EXPECT_EQ(out.reason, "grid exhausted: all 6 points have been proposed");
}

TEST(GridSearch, SkipsPointsTakenOutOfOrder) {
  Space space = SmallSpace();
  Objective objective;
  std::vector<Trial> trials = {TrialWith(Json{{"i", 1}, {"c", "a"}}, 1)};
  auto strategy = MakeStrategy(StrategyConfig{"grid", 0, 5});
  StrategyContext context{space, objective, trials, 0};
  ProposeOutcome out = (*strategy)->Propose(context);
  ASSERT_EQ(out.kind, ProposeOutcome::Kind::kProposal);
  EXPECT_NE(out.proposal.params.dump(), trials[0].params.dump());
}

TEST(RandomSearch, SameSeedSameSequenceDifferentSeedDifferent) {
  ParamSpec lr;
  lr.name = "lr";
  lr.low = 1e-4;
  lr.high = 1;
  lr.log = true;
  Space space = *Space::Create({lr});
  Objective objective;
  auto sequence = [&](uint64_t seed) {
    auto strategy = MakeStrategy(StrategyConfig{"random", seed, 5});
    std::vector<Trial> trials;
    std::vector<std::string> out;
    for (int n = 1; n <= 5; ++n) {
      StrategyContext context{space, objective, trials, seed};
      auto p = (*strategy)->Propose(context);
      out.push_back(p.proposal.params.dump());
      trials.push_back(TrialWith(p.proposal.params, n));
    }
    return out;
  };
  EXPECT_EQ(sequence(7), sequence(7));
  EXPECT_NE(sequence(7), sequence(8));
}

TEST(MakeStrategy, UnknownNameIsAnError) {
  auto s = MakeStrategy(StrategyConfig{"nope", 0, 5});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hyperion

namespace hyperion {
namespace {

TEST(RandomSearch, FiniteSpaceEndsWhenEveryPointWasTried) {
  Space space = SmallSpace();  // 3 x 2 points
  Objective objective;
  auto strategy = MakeStrategy(StrategyConfig{"random", 1, 5});
  std::vector<Trial> trials;
  std::set<std::string> seen;
  for (int n = 1; n <= 6; ++n) {
    StrategyContext context{space, objective, trials, 1};
    auto out = (*strategy)->Propose(context);
    ASSERT_EQ(out.kind, ProposeOutcome::Kind::kProposal);
    seen.insert(out.proposal.params.dump());
    trials.push_back(TrialWith(out.proposal.params, n));
  }
  EXPECT_EQ(seen.size(), 6u) << "random search avoids repeats while unseen points remain";
  StrategyContext context{space, objective, trials, 1};
  auto out = (*strategy)->Propose(context);
  EXPECT_EQ(out.kind, ProposeOutcome::Kind::kExhausted);
  EXPECT_EQ(out.reason, "space exhausted: all 6 points of the space have been tried");
}

}  // namespace
}  // namespace hyperion
