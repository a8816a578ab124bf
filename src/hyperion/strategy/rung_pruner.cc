#include "hyperion/strategy/rung_pruner.h"

#include <algorithm>
#include <cmath>

#include "hyperion/strategy/pruner_curve.h"
#include "hyperion/strategy/pruner_verdict.h"

namespace hyperion {
namespace {

constexpr int kMaxBracket = 62;

// Relative slack for comparing computed milestones with max_step: 0.1 * 3^3 is 2.7000000000000006.
double Slack(double b) { return std::fabs(b) * 1e-12; }
bool AtMost(double a, double b) { return a <= b + Slack(b); }
bool Below(double a, double b) { return a < b - Slack(b); }

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

int BracketByWeight(const std::vector<double>& weights, uint64_t seed, int64_t trial_number) {
  double total = 0;
  for (double w : weights) total += w;
  const uint64_t hash = SplitMix64(seed ^ SplitMix64(static_cast<uint64_t>(trial_number)));
  const double target = static_cast<double>(hash >> 11) * 0x1p-53 * total;  // u * total, u in [0, 1)
  double cumulative = 0;
  for (size_t s = 0; s < weights.size(); ++s) {
    cumulative += weights[s];
    if (target < cumulative) return static_cast<int>(s);
  }
  return static_cast<int>(weights.size()) - 1;
}

struct Competitor {
  int64_t number = 0;
  double value = 0;
};

// Where the checked trial stands among the competitors at one milestone.
struct Standing {
  int n = 0;
  int keep = 0;
  int rank = 0;  // 1 = best
  double threshold = 0;
  Competitor best;
};

Standing Rank(const Objective& objective, std::vector<Competitor> competitors, int64_t own_number,
              double reduction) {
  std::sort(competitors.begin(), competitors.end(), [&](const Competitor& a, const Competitor& b) {
    if (objective.Better(a.value, b.value)) return true;
    if (objective.Better(b.value, a.value)) return false;
    return a.number < b.number;
  });
  Standing standing;
  standing.n = static_cast<int>(competitors.size());
  // The epsilon keeps floor(11 / 2.2) at 5 despite rounding.
  standing.keep = std::max(1, static_cast<int>(std::floor(standing.n / reduction + 1e-9)));
  standing.threshold = competitors[standing.keep - 1].value;
  standing.best = competitors.front();
  for (int i = 0; i < standing.n; ++i) {
    if (competitors[i].number == own_number) standing.rank = i + 1;
  }
  return standing;
}

Status CheckLadder(const PrunerConfig& config, bool needs_max_step) {
  const std::string name = needs_max_step ? "hyperband" : "asha";
  if (!(config.min_step > 0) || !std::isfinite(config.min_step)) {
    return InvalidArgumentError(name +
                                ": pruner.min_step must be above 0 (milestones are min_step * reduction^k)");
  }
  if (!(config.reduction > 1) || !std::isfinite(config.reduction)) {
    return InvalidArgumentError(name + ": pruner.reduction must be above 1");
  }
  if (config.min_trials < 1) return InvalidArgumentError(name + ": pruner.min_trials must be at least 1");
  if (needs_max_step && !config.max_step) {
    return InvalidArgumentError(name + ": pruner.max_step is missing; give it or training.max");
  }
  if (config.max_step && !(*config.max_step > config.min_step && std::isfinite(*config.max_step))) {
    return InvalidArgumentError(name + ": pruner.max_step must be larger than pruner.min_step");
  }
  if (config.max_step && !std::isfinite(*config.max_step / config.min_step)) {
    return InvalidArgumentError(name + ": pruner.max_step / pruner.min_step is too large");
  }
  return Status::Ok();
}

class RungPruner : public Pruner {
 public:
  // `weights`: Hyperband's bracket weights; empty for ASHA (every trial in bracket 0).
  RungPruner(const PrunerConfig& config, std::vector<double> weights)
      : config_(config), weights_(std::move(weights)), hyperband_(!weights_.empty()) {}

  std::string Name() const override { return hyperband_ ? "hyperband" : "asha"; }

  PrunerVerdict Check(const PrunerContext& context, const Trial& trial, int64_t previous_step) override {
    const Curve& own = CurveOf(context, trial.id);
    if (own.empty()) return {};
    int64_t last_step = own.front().step;
    for (const StepValue& report : own) last_step = std::max(last_step, report.step);
    const int bracket = BracketOf(context.seed, trial.number);
    double first = config_.min_step;
    for (int s = 0; s < bracket; ++s) first *= config_.reduction;

    VerdictBuilder verdict;
    for (double milestone : RungMilestones(first, config_.reduction, config_.max_step, last_step)) {
      const StepValue reached = *FirstReportAtOrPast(own, milestone);
      if (reached.step <= previous_step) continue;  // decided, or left undecided, at an earlier check
      std::vector<Competitor> competitors{{trial.number, reached.value}};
      for (const Trial& other : context.trials) {
        if (other.id == trial.id || BracketOf(context.seed, other.number) != bracket) continue;
        if (auto report = FirstReportAtOrPast(CurveOf(context, other.id), milestone)) {
          competitors.push_back({other.number, report->value});
        }
      }
      if (static_cast<int>(competitors.size()) < config_.min_trials) continue;
      Standing standing = Rank(context.objective, std::move(competitors), trial.number, config_.reduction);
      const bool promoted = standing.rank <= standing.keep;
      verdict.Add(promoted ? PrunerVerdict::Kind::kContinue : PrunerVerdict::Kind::kPrune,
                  Sentence(context.objective, milestone, reached, standing, bracket, promoted),
                  Evidence(milestone, reached, standing, bracket));
      if (verdict.done()) break;
    }
    return std::move(verdict).Finish();
  }

 private:
  int BracketOf(uint64_t seed, int64_t number) const {
    return hyperband_ ? BracketByWeight(weights_, seed, number) : 0;
  }

  // "val_acc 0.912 at step 5 (first report past milestone 3) is outside the top 3 of 9 trials there (rank 5;
  // cut-off 0.951, best #4 0.968)."
  std::string Sentence(const Objective& objective, double milestone, const StepValue& reached,
                       const Standing& standing, int bracket, bool promoted) const {
    std::string where = static_cast<double>(reached.step) == milestone
                            ? "milestone " + FormatNumber(milestone)
                            : "first report past milestone " + FormatNumber(milestone);
    std::string group = std::to_string(standing.n) + " trials" +
                        (hyperband_ ? " in hyperband bracket " + std::to_string(bracket) : "");
    return objective.metric + " " + FormatValue(reached.value) + " at step " + std::to_string(reached.step) +
           " (" + where + ") is " + (promoted ? "within" : "outside") + " the top " +
           std::to_string(standing.keep) + " of " + group + " there (rank " + std::to_string(standing.rank) +
           "; cut-off " + FormatValue(standing.threshold) + ", best #" +
           std::to_string(standing.best.number) + " " + FormatValue(standing.best.value) + ").";
  }

  Json Evidence(double milestone, const StepValue& reached, const Standing& standing, int bracket) const {
    Json evidence = {{"milestone", StepJson(milestone)},
                     {"step", reached.step},
                     {"value", reached.value},
                     {"threshold", standing.threshold},
                     {"competitors", standing.n},
                     {"keep", standing.keep},
                     {"rank", standing.rank},
                     {"best_trial", standing.best.number},
                     {"best_value", standing.best.value}};
    if (hyperband_) evidence["bracket"] = bracket;
    return evidence;
  }

  const PrunerConfig config_;
  const std::vector<double> weights_;
  const bool hyperband_;
};

}  // namespace

Result<std::unique_ptr<Pruner>> MakeAshaPruner(const PrunerConfig& config) {
  HYP_RETURN_IF_ERROR(CheckLadder(config, /*needs_max_step=*/false));
  return std::unique_ptr<Pruner>(new RungPruner(config, {}));
}

Result<std::unique_ptr<Pruner>> MakeHyperbandPruner(const PrunerConfig& config) {
  HYP_RETURN_IF_ERROR(CheckLadder(config, /*needs_max_step=*/true));
  return std::unique_ptr<Pruner>(new RungPruner(config, HyperbandBracketWeights(config)));
}

std::vector<double> RungMilestones(double first, double reduction, std::optional<double> max_step,
                                   double up_to) {
  std::vector<double> milestones;
  for (double m = first; m <= up_to && (!max_step || Below(m, *max_step)); m *= reduction) {
    milestones.push_back(m);
  }
  return milestones;
}

int HyperbandMaxBracket(const PrunerConfig& config) {
  int s = 0;
  for (double m = config.min_step * config.reduction; s < kMaxBracket && AtMost(m, *config.max_step);
       m *= config.reduction) {
    ++s;
  }
  return s;
}

std::vector<double> HyperbandBracketWeights(const PrunerConfig& config) {
  const int s_max = HyperbandMaxBracket(config);
  std::vector<double> weights;
  for (int s = 0; s <= s_max; ++s) {
    const int rungs_skipped = s_max - s;  // Hyperband's own bracket index
    weights.push_back(
        std::ceil((s_max + 1) * std::pow(config.reduction, rungs_skipped) / (rungs_skipped + 1)));
  }
  return weights;
}

int HyperbandBracket(const PrunerConfig& config, uint64_t seed, int64_t trial_number) {
  return BracketByWeight(HyperbandBracketWeights(config), seed, trial_number);
}

}  // namespace hyperion
