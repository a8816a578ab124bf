#include "hyperion/strategy/strategy.h"

#include <gtest/gtest.h>

#include <set>

namespace hyperion {
namespace {

StrategyConfig Named(const std::string& type, uint64_t seed) {
  StrategyConfig config;
  config.type = type;
  config.seed = seed;
  return config;
}

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
  auto strategy = MakeStrategy(Named("grid", 0));
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
  auto strategy = MakeStrategy(Named("grid", 0));
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
    auto strategy = MakeStrategy(Named("random", seed));
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
  auto s = MakeStrategy(Named("nope", 0));
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
  auto strategy = MakeStrategy(Named("random", 1));
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

namespace hyperion {
namespace {

double Branin(const Json& p) {
  double x1 = p["x1"].get<double>(), x2 = p["x2"].get<double>();
  const double a = 1, b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, r = 6, s = 10, t = 1 / (8 * M_PI);
  return a * std::pow(x2 - b * x1 * x1 + c * x1 - r, 2) + s * (1 - t) * std::cos(x1) + s;
}

// Best Branin value after `n` sequential trials of `type` with `seed`, minus the optimum.
double BraninRegret(const std::string& type, uint64_t seed, int n) {
  ParamSpec x1, x2;
  x1.name = "x1";
  x1.low = -5;
  x1.high = 10;
  x2.name = "x2";
  x2.low = 0;
  x2.high = 15;
  Space space = *Space::Create({x1, x2});
  Objective objective;
  auto strategy = MakeStrategy(Named(type, seed));
  std::vector<Trial> trials;
  double best = INFINITY;
  for (int i = 1; i <= n; ++i) {
    StrategyContext context{space, objective, trials, seed};
    auto out = (*strategy)->Propose(context);
    EXPECT_EQ(out.kind, ProposeOutcome::Kind::kProposal);
    EXPECT_TRUE(space.Validate(out.proposal.params).ok());
    EXPECT_FALSE(out.proposal.rationale.empty());
    Trial t = TrialWith(out.proposal.params, i);
    t.id = i;
    t.state = TrialState::kCompleted;
    t.value = Branin(t.params);
    best = std::min(best, *t.value);
    trials.push_back(t);
  }
  return best - 0.397887;
}

TEST(GpSearch, BeatsRandomSearchOnBranin) {
  std::vector<double> gp, random;
  for (uint64_t seed : {1, 2, 3}) {
    gp.push_back(BraninRegret("gp", seed, 30));
    random.push_back(BraninRegret("random", seed, 30));
  }
  std::sort(gp.begin(), gp.end());
  std::sort(random.begin(), random.end());
  EXPECT_LT(gp[1], 0.05) << "median GP regret after 30 trials";
  EXPECT_LT(gp[1], random[1]) << "GP " << gp[1] << " vs random " << random[1];
}

TEST(GpSearch, SameSeedSameProposals) { EXPECT_EQ(BraninRegret("gp", 5, 15), BraninRegret("gp", 5, 15)); }

}  // namespace
}  // namespace hyperion

namespace hyperion {
namespace {

TEST(TpeSearch, BeatsRandomSearchOnBraninAndIsReproducible) {
  std::vector<double> tpe, random;
  for (uint64_t seed : {1, 2, 3, 4, 5}) {
    tpe.push_back(BraninRegret("tpe", seed, 60));
    random.push_back(BraninRegret("random", seed, 60));
  }
  std::sort(tpe.begin(), tpe.end());
  std::sort(random.begin(), random.end());
  EXPECT_LT(tpe[2], random[2]) << "median TPE regret " << tpe[2] << " vs random " << random[2];
  EXPECT_EQ(BraninRegret("tpe", 9, 25), BraninRegret("tpe", 9, 25));
}

}  // namespace
}  // namespace hyperion
