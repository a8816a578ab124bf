#include "hyperion/strategy/tpe_search.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

namespace hyperion {
namespace {

// log of the density of N(mu, sigma) truncated to [0, 1] at u.
double LogTruncatedNormal(double u, double mu, double sigma) {
  auto cdf = [&](double x) { return 0.5 * std::erfc(-(x - mu) / (sigma * std::sqrt(2.0))); };
  double mass = std::max(cdf(1.0) - cdf(0.0), 1e-12);
  double z = (u - mu) / sigma;
  return -0.5 * z * z - std::log(sigma * std::sqrt(2 * M_PI) * mass);
}

double LogSumExp(const std::vector<double>& v) {
  double m = *std::max_element(v.begin(), v.end());
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

// A Parzen density over the space: one kernel per trial (per parameter, or a product over all) and a broad
// prior.
//
// Conditional parameters: a trial holds only its active parameters. Univariate, each parameter's mixture is
// built from the trials where it was active, so it is that parameter's density given that it exists; the
// density of a point is the product over the parameters active in it, which makes it the density of the
// sampling below (parent first, then the children that parent switches on). Multivariate, an inactive
// parameter is a state of its own and never a number near the active values: a kernel whose trial lacked a
// parameter that the point has contributes the prior's density for it (that is how Sample draws it), a
// parameter the point lacks contributes nothing, and whether the point and the trial agree on activity is
// scored through the parents that decide it.
class Parzen {
 public:
  Parzen(const Space& space, const std::vector<const Trial*>& trials, bool multivariate)
      : space_(space), multivariate_(multivariate), active_in_(space.params().size()) {
    const size_t n = trials.size();
    const size_t dims = space.params().size();
    for (size_t i = 0; i < n; ++i) {
      Component c;
      c.centre.assign(dims, 0.0);
      c.width.assign(dims, 1.0);
      c.active.assign(dims, false);
      for (size_t d = 0; d < dims; ++d) {
        const ParamSpec& spec = space.params()[d];
        auto it = trials[i]->params.find(spec.name);
        if (it == trials[i]->params.end()) continue;  // inactive in that trial
        c.active[d] = true;
        c.centre[d] = IsChoice(spec) ? static_cast<double>(ChoiceIndex(spec, *it)) : Space::ToUnit(spec, *it);
        active_in_[d].push_back(i);
      }
      components_.push_back(std::move(c));
    }
    // Each kernel is as wide as the larger gap to its neighbours along that dimension (the prior's centre and
    // the ends of the range count as neighbours), clipped so that it neither vanishes nor exceeds the range:
    // dense regions get sharp kernels, lone trials broad ones.
    for (size_t d = 0; d < dims; ++d) {
      if (IsChoice(space.params()[d])) continue;
      const size_t n_d = active_in_[d].size();
      const double min_width = 1.0 / std::min(100.0, 1.0 + static_cast<double>(n_d));
      const size_t prior = components_.size();  // marks the prior's centre
      std::vector<std::pair<double, size_t>> sorted;
      for (size_t i : active_in_[d]) sorted.emplace_back(components_[i].centre[d], i);
      sorted.emplace_back(0.5, prior);
      std::sort(sorted.begin(), sorted.end());
      for (size_t k = 0; k < sorted.size(); ++k) {
        if (sorted[k].second == prior) continue;
        double left = sorted[k].first - (k > 0 ? sorted[k - 1].first : 0.0);
        double right = (k + 1 < sorted.size() ? sorted[k + 1].first : 1.0) - sorted[k].first;
        components_[sorted[k].second].width[d] = std::clamp(std::max(left, right), min_width, 1.0);
      }
    }
    log_weight_ = -std::log(static_cast<double>(n + 1));
  }

  // Univariate (the default, as in Optuna): the density is a product over parameters of one-dimensional
  // mixtures, so good values of different parameters recombine. Multivariate: one mixture of product kernels,
  // which keeps the joint structure of the good trials.
  double LogDensity(const Json& params) const {
    if (multivariate_) {
      std::vector<double> terms;
      terms.reserve(components_.size() + 1);
      terms.push_back(log_weight_ + LogPrior(params));
      for (const auto& c : components_) terms.push_back(log_weight_ + LogKernel(c, params));
      return LogSumExp(terms);
    }
    double total = 0;
    std::vector<double> terms;
    for (size_t d = 0; d < space_.params().size(); ++d) {
      if (!params.contains(space_.params()[d].name)) continue;
      const double log_weight = -std::log(static_cast<double>(active_in_[d].size() + 1));
      terms.assign(1, log_weight + LogPriorDim(d, params));
      for (size_t i : active_in_[d]) terms.push_back(log_weight + LogKernelDim(components_[i], d, params));
      total += LogSumExp(terms);
    }
    return total;
  }

  // A point drawn parameter by parameter in the space's order, each active one from a kernel (or the prior)
  // that knows it; inactive ones are skipped.
  Json Sample(std::mt19937_64& rng) const {
    // Drawn in both modes, so that a space without conditions gets the same sequence as before conditions
    // existed; the univariate mode then draws again per parameter.
    std::uniform_int_distribution<size_t> pick(0, components_.size());  // == size() means the prior
    const size_t k = pick(rng);
    Json out = Json::object();
    for (size_t d = 0; d < space_.params().size(); ++d) {
      const ParamSpec& spec = space_.params()[d];
      if (!Space::IsActive(spec, out)) continue;
      const Component* from = nullptr;
      if (multivariate_) {
        if (k < components_.size() && components_[k].active[d]) from = &components_[k];
      } else {
        std::uniform_int_distribution<size_t> pick_d(0, active_in_[d].size());
        size_t j = pick_d(rng);
        if (j < active_in_[d].size()) from = &components_[active_in_[d][j]];
      }
      out[spec.name] = from ? SampleDim(*from, d, rng) : space_.SampleValue(spec, rng);
    }
    return space_.Complete(out, rng);
  }

 private:
  struct Component;
  Json SampleDim(const Component& c, size_t d, std::mt19937_64& rng) const {
    const ParamSpec& spec = space_.params()[d];
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    if (IsChoice(spec)) {
      size_t own = static_cast<size_t>(c.centre[d]);
      return unit(rng) < kOwnChoiceMass ? spec.choices[own] : space_.SampleValue(spec, rng);
    }
    std::normal_distribution<double> around(c.centre[d], c.width[d]);
    double u = around(rng);
    for (int tries = 0; tries < 16 && (u < 0 || u > 1); ++tries) u = around(rng);
    return Space::FromUnit(spec, std::clamp(u, 0.0, 1.0));
  }

  // Precondition: parameter d is active in `params` and in c's trial.
  double LogKernelDim(const Component& c, size_t d, const Json& params) const {
    const ParamSpec& spec = space_.params()[d];
    if (IsChoice(spec)) {
      double k = static_cast<double>(spec.choices.size());
      bool same = ChoiceIndex(spec, params[spec.name]) == static_cast<size_t>(c.centre[d]);
      return std::log((same ? kOwnChoiceMass : 0.0) + (1 - kOwnChoiceMass) / k);
    }
    return LogTruncatedNormal(Space::ToUnit(spec, params[spec.name]), c.centre[d], c.width[d]);
  }

  // Precondition: parameter d is active in `params`.
  double LogPriorDim(size_t d, const Json& params) const {
    const ParamSpec& spec = space_.params()[d];
    return IsChoice(spec) ? -std::log(static_cast<double>(spec.choices.size()))
                          : LogTruncatedNormal(Space::ToUnit(spec, params[spec.name]), 0.5, 1.0);
  }

  double LogKernel(const Component& c, const Json& params) const {
    double total = 0;
    for (size_t d = 0; d < space_.params().size(); ++d) {
      if (!params.contains(space_.params()[d].name)) continue;
      total += c.active[d] ? LogKernelDim(c, d, params) : LogPriorDim(d, params);
    }
    return total;
  }

  double LogPrior(const Json& params) const {
    double total = 0;
    for (size_t d = 0; d < space_.params().size(); ++d) {
      if (params.contains(space_.params()[d].name)) total += LogPriorDim(d, params);
    }
    return total;
  }

  static constexpr double kOwnChoiceMass = 0.8;  // the rest is spread evenly over all choices
  struct Component {
    std::vector<double> centre;  // unit value, or choice index
    std::vector<double> width;   // kernel standard deviation per numeric dimension
    std::vector<bool> active;    // whether the trial held the parameter
  };

  const Space& space_;
  bool multivariate_;
  std::vector<Component> components_;
  std::vector<std::vector<size_t>> active_in_;  // per parameter: the components whose trial held it
  double log_weight_ = 0;                       // multivariate: each component's and the prior's weight
};

}  // namespace

ProposeOutcome TpeSearch::Propose(const StrategyContext& context) {
  const Space& space = context.space;
  const uint64_t draw = context.trials.size() + 1;
  std::mt19937_64 rng = ProposalGenerator(context.seed, draw, 0x79u);
  const bool maximize = context.objective.mode == ObjectiveMode::kMaximize;

  std::vector<std::pair<double, const Trial*>> done;
  std::vector<const Trial*> failed;
  const std::set<std::string> taken = TakenPoints(context.trials);
  for (const auto& t : context.trials) {
    if (t.state == TrialState::kCompleted && t.value && std::isfinite(*t.value)) {
      done.emplace_back(maximize ? -*t.value : *t.value, &t);
    } else if (t.state == TrialState::kFailed || t.state == TrialState::kTimedOut) {
      failed.push_back(&t);
    }
  }
  ProposeOutcome out;
  if (static_cast<int>(done.size()) < kStartupTrials) {
    out.proposal.params = FreshSample(space, taken, rng);
    out.proposal.rationale = "Startup draw " + std::to_string(draw) + ": random until " +
                             std::to_string(kStartupTrials) + " trials have finished (" +
                             std::to_string(done.size()) + " so far), so the densities have data.";
    out.proposal.evidence = Json{{"seed", context.seed}, {"draw", draw}, {"finished", done.size()}};
    return out;
  }
  // Ties resolve to the earlier trial; the model keeps the best and the most recent when there are many.
  std::stable_sort(done.begin(), done.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const size_t n_good = std::clamp<size_t>(static_cast<size_t>(std::ceil(0.1 * done.size())), 1, 25);
  std::vector<const Trial*> good, rest;
  for (size_t i = 0; i < done.size(); ++i) (i < n_good ? good : rest).push_back(done[i].second);
  if (static_cast<int>(rest.size()) > kMaxModelPoints) {
    std::sort(rest.begin(), rest.end(), [](const Trial* a, const Trial* b) { return a->number > b->number; });
    rest.resize(kMaxModelPoints);
  }
  for (const Trial* t : failed) {
    if (static_cast<int>(rest.size()) < 2 * kMaxModelPoints) rest.push_back(t);
  }
  Parzen l(space, good, multivariate_), g(space, rest, multivariate_);

  Json chosen;
  double chosen_ratio = -INFINITY;
  for (int i = 0; i < kCandidates * 4 && (i < kCandidates || chosen.is_null()); ++i) {
    Json candidate = l.Sample(rng);
    if (taken.count(candidate.dump())) continue;
    double ratio = l.LogDensity(candidate) - g.LogDensity(candidate);
    if (ratio > chosen_ratio) {
      chosen_ratio = ratio;
      chosen = std::move(candidate);
    }
  }
  if (chosen.is_null()) chosen = space.Sample(rng);

  auto shown = [&](double v) { return maximize ? -v : v; };
  std::vector<int64_t> good_numbers;
  Json good_ids = Json::array();
  for (const Trial* t : good) {
    good_numbers.push_back(t->number);
    good_ids.push_back(t->id);
  }
  std::string listed;
  for (size_t i = 0; i < std::min<size_t>(good_numbers.size(), 5); ++i) {
    listed += (i ? ", #" : "#") + std::to_string(good_numbers[i]);
  }
  if (good_numbers.size() > 5) listed += ", ...";
  char text[320];
  std::snprintf(
      text, sizeof text,
      "TPE: the best %zu of %zu finished trials (%s; %s up to %.6g) form the good density; of %d candidates "
      "drawn from it this one has the highest good/rest density ratio (log %.3g).",
      good.size(), done.size(), listed.c_str(), context.objective.metric.c_str(),
      shown(done[n_good - 1].first), kCandidates, chosen_ratio);
  out.proposal.params = std::move(chosen);
  out.proposal.op = "model";
  out.proposal.rationale = text;
  out.proposal.evidence = Json{{"model", multivariate_ ? "tpe-multivariate" : "tpe"},
                               {"good_trials", good_ids},
                               {"threshold", shown(done[n_good - 1].first)},
                               {"log_density_ratio", chosen_ratio},
                               {"finished", done.size()},
                               {"failed_in_rest", failed.size()}};
  return out;
}

}  // namespace hyperion
