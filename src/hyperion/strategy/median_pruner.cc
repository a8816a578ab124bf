#include "hyperion/strategy/median_pruner.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "hyperion/strategy/pruner_curve.h"
#include "hyperion/strategy/pruner_verdict.h"

namespace hyperion {
namespace {

struct Other {
  int64_t number = 0;
  double best = 0;  // over its reports at steps <= the step decided
};

class MedianPruner : public Pruner {
 public:
  explicit MedianPruner(const PrunerConfig& config) : config_(config) {}

  std::string Name() const override { return "median"; }

  PrunerVerdict Check(const PrunerContext& context, const Trial& trial, int64_t previous_step) override {
    const Curve& own = CurveOf(context, trial.id);
    VerdictBuilder verdict;
    for (const StepValue& report : own) {
      if (report.step <= previous_step || static_cast<double>(report.step) < config_.warmup_steps) continue;
      const int64_t step = report.step;
      std::vector<Other> others = OthersAt(context, trial, step);
      if (others.empty() || static_cast<int>(others.size()) < config_.min_trials - 1) continue;
      const double value = *BestUpTo(own, step, context.objective);
      const double median = Median(others);
      const Other best = *std::min_element(others.begin(), others.end(), [&](const Other& a, const Other& b) {
        return context.objective.Better(a.best, b.best) || (a.best == b.best && a.number < b.number);
      });
      const bool worse = context.objective.Better(median, value);
      std::string sentence = context.objective.metric + " best " + FormatValue(value) + " up to step " +
                             std::to_string(step) + " is " + (worse ? "worse than" : "not worse than") +
                             " the median " + FormatValue(median) + " of " + std::to_string(others.size()) +
                             " other trials' best up to that step (best #" + std::to_string(best.number) +
                             " " + FormatValue(best.best) + ").";
      verdict.Add(worse ? PrunerVerdict::Kind::kPrune : PrunerVerdict::Kind::kContinue, std::move(sentence),
                  {{"step", step},
                   {"value", value},
                   {"median", median},
                   {"others", others.size()},
                   {"best_trial", best.number},
                   {"best_value", best.best}});
      if (verdict.done()) break;
    }
    return std::move(verdict).Finish();
  }

 private:
  static std::vector<Other> OthersAt(const PrunerContext& context, const Trial& trial, int64_t step) {
    std::vector<Other> others;
    for (const Trial& other : context.trials) {
      if (other.id == trial.id) continue;
      const Curve& curve = CurveOf(context, other.id);
      if (!FirstReportAtOrPast(curve, static_cast<double>(step))) continue;  // not trained that far
      if (auto best = BestUpTo(curve, step, context.objective)) others.push_back({other.number, *best});
    }
    return others;
  }

  static double Median(const std::vector<Other>& others) {
    std::vector<double> values;
    for (const Other& other : others) values.push_back(other.best);
    std::sort(values.begin(), values.end());
    const size_t mid = values.size() / 2;
    return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  }

  const PrunerConfig config_;
};

}  // namespace

Result<std::unique_ptr<Pruner>> MakeMedianPruner(const PrunerConfig& config) {
  if (config.min_trials < 1) return InvalidArgumentError("median: pruner.min_trials must be at least 1");
  if (!(config.warmup_steps >= 0) || !std::isfinite(config.warmup_steps)) {
    return InvalidArgumentError("median: pruner.warmup_steps must be at least 0");
  }
  return std::unique_ptr<Pruner>(new MedianPruner(config));
}

}  // namespace hyperion
