#include "hyperion/experiment/ranking.h"

#include <gtest/gtest.h>

#include <cmath>

namespace hyperion {
namespace {

Trial Done(int64_t number, double value, std::optional<double> to = std::nullopt,
           TrialState state = TrialState::kCompleted) {
  Trial t;
  t.id = t.number = number;
  t.state = state;
  t.value = value;
  t.budget_from = to ? std::optional<double>(0) : std::nullopt;
  t.budget_to = to;
  return t;
}

std::vector<int64_t> Numbers(const std::vector<const Trial*>& ranked) {
  std::vector<int64_t> numbers;
  for (const Trial* t : ranked) numbers.push_back(t->number);
  return numbers;
}

TEST(Ranking, BestFirstTiesToTheEarlierAndPrunedOrNonFiniteNever) {
  Objective max;
  max.mode = ObjectiveMode::kMaximize;
  std::vector<Trial> trials = {Done(1, 0.5),          Done(2, 0.9),
                               Done(3, 0.9),          Done(4, 0.99, std::nullopt, TrialState::kPruned),
                               Done(5, std::nan("")), Done(6, 0.7, std::nullopt, TrialState::kFailed)};
  EXPECT_EQ(Numbers(RankCompleted(trials, max)), (std::vector<int64_t>{2, 3, 1}));
  EXPECT_EQ(BestCompleted(trials, max)->number, 2);
  Objective min;
  EXPECT_EQ(Numbers(RankCompleted(trials, min)), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_FALSE(BestCompleted({}, min));
}

TEST(Ranking, WholeRunsRankAheadOfPartialOnes) {
  Objective max;
  max.mode = ObjectiveMode::kMaximize;
  Training training{"epochs", 20};
  // #2 measured 0.97 after 10 epochs, then its line went on: the best finished model is #3.
  std::vector<Trial> trials = {Done(1, 0.90, 20), Done(2, 0.97, 10), Done(3, 0.95, 20), Done(4, 0.99)};
  EXPECT_EQ(Numbers(RankCompleted(trials, max, training)), (std::vector<int64_t>{3, 1, 4, 2}));
  EXPECT_EQ(BestCompleted(trials, max, training)->number, 3);
  // Without a training budget every trial is a whole run.
  EXPECT_EQ(BestCompleted(trials, max)->number, 4);
  // Only partial runs so far: the best of them.
  std::vector<Trial> early = {Done(1, 0.90, 5), Done(2, 0.93, 5)};
  EXPECT_EQ(BestCompleted(early, max, training)->number, 2);
  EXPECT_TRUE(TrainedWholeRun(Done(7, 0, 20.0 * (1 - 1e-9)), training));
  EXPECT_FALSE(TrainedWholeRun(Done(7, 0, 19.5), training));
}

}  // namespace
}  // namespace hyperion
