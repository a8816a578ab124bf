#include "hyperion/strategy/graph_common.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "hyperion/experiment/ranking.h"

namespace hyperion::graph {

bool HasValue(const Trial& trial) {
  return trial.state == TrialState::kCompleted && trial.value && std::isfinite(*trial.value);
}

bool Measured(const Trial& trial) {
  return (trial.state == TrialState::kCompleted || trial.state == TrialState::kPruned) && trial.value &&
         std::isfinite(*trial.value);
}

bool Unfinished(const Trial& trial) { return !IsFinished(trial.state); }

std::vector<const Trial*> RankByValue(std::vector<const Trial*> trials, const Objective& objective) {
  trials.erase(std::remove_if(trials.begin(), trials.end(), [](const Trial* t) { return !Measured(*t); }),
               trials.end());
  std::sort(trials.begin(), trials.end(),
            [&](const Trial* a, const Trial* b) { return RanksAhead(*a, *b, objective); });
  return trials;
}

std::set<int64_t> Ancestors(const Trial& trial, const std::function<const Trial*(int64_t)>& find) {
  std::set<int64_t> seen;
  std::vector<int64_t> stack(trial.parents.begin(), trial.parents.end());
  while (!stack.empty()) {
    int64_t id = stack.back();
    stack.pop_back();
    if (!seen.insert(id).second) continue;
    if (const Trial* parent = find(id))
      stack.insert(stack.end(), parent->parents.begin(), parent->parents.end());
  }
  return seen;
}

double SpanEnd(const Trial& trial) { return trial.budget_to.value_or(0); }

std::string Ordinal(int64_t n) {
  const char* suffix = "th";
  if (n % 100 < 11 || n % 100 > 13) {
    if (n % 10 == 1) suffix = "st";
    if (n % 10 == 2) suffix = "nd";
    if (n % 10 == 3) suffix = "rd";
  }
  return std::to_string(n) + suffix;
}

std::string Brief(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

std::string AtBudget(const Training& training, double at) { return training.unit + " " + Brief(at); }

std::string Amount(const Training& training, double amount) { return Brief(amount) + " " + training.unit; }

}  // namespace hyperion::graph
