#include "hyperion/strategy/gp_search.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "hyperion/common/text.h"
#include "hyperion/strategy/gaussian_process.h"
#include "hyperion/strategy/gp_encoding.h"

namespace hyperion {
namespace {

using gp::Encode;
using gp::ExpectedImprovement;
using gp::FeatureCount;
using gp::FeatureWidth;
using gp::Perturb;

struct Observation {
  const Trial* trial;
  double y;  // minimised
};

}  // namespace

int GpSearch::InitialTrials(const Space& space) {
  return std::clamp(2 * static_cast<int>(space.params().size()), 5, 12);
}

ProposeOutcome GpSearch::Propose(const StrategyContext& context) {
  const Space& space = context.space;
  const uint64_t draw = context.trials.size() + 1;
  std::mt19937_64 rng = ProposalGenerator(context.seed, draw, 0x67u);
  const bool maximize = context.objective.mode == ObjectiveMode::kMaximize;

  std::vector<Observation> done;
  std::vector<const Trial*> failed, in_flight;
  for (const auto& t : context.trials) {
    if (t.state == TrialState::kCompleted && t.value && std::isfinite(*t.value)) {
      done.push_back({&t, maximize ? -*t.value : *t.value});
    } else if (t.state == TrialState::kFailed || t.state == TrialState::kTimedOut) {
      failed.push_back(&t);
    } else if (t.state == TrialState::kPending || t.state == TrialState::kRunning) {
      in_flight.push_back(&t);
    }
  }
  const std::set<std::string> taken = TakenPoints(context.trials);

  const int initial = InitialTrials(space);
  ProposeOutcome out;
  if (static_cast<int>(context.trials.size()) < initial || done.size() < 2) {
    out.proposal.params = FreshSample(space, taken, rng);
    out.proposal.op = "sample";
    out.proposal.rationale = "Initial design, draw " + std::to_string(draw) + " of " +
                             std::to_string(initial) +
                             ": random until the Gaussian process has enough finished trials to fit (" +
                             std::to_string(done.size()) + " so far).";
    out.proposal.evidence = Json{{"seed", context.seed}, {"draw", draw}, {"finished", done.size()}};
    return out;
  }

  // The model's data: the best half and the most recent half when there are too many trials.
  std::sort(done.begin(), done.end(), [](const Observation& a, const Observation& b) { return a.y < b.y; });
  const Observation incumbent = done.front();
  if (static_cast<int>(done.size()) > kMaxModelPoints) {
    std::vector<Observation> kept(done.begin(), done.begin() + kMaxModelPoints / 2);
    std::vector<Observation> rest(done.begin() + kMaxModelPoints / 2, done.end());
    std::sort(rest.begin(), rest.end(),
              [](const Observation& a, const Observation& b) { return a.trial->number > b.trial->number; });
    kept.insert(kept.end(), rest.begin(), rest.begin() + kMaxModelPoints / 2);
    done = std::move(kept);
  }
  double worst = done.front().y, mean = 0;
  for (const auto& o : done) {
    worst = std::max(worst, o.y);
    mean += o.y / done.size();
  }
  std::vector<std::pair<const Trial*, double>> rows;
  for (const auto& o : done) rows.emplace_back(o.trial, o.y);
  for (const Trial* t : failed) {
    if (static_cast<int>(rows.size()) < 2 * kMaxModelPoints) rows.emplace_back(t, worst);
  }
  for (const Trial* t : in_flight) {
    if (static_cast<int>(rows.size()) < 2 * kMaxModelPoints) rows.emplace_back(t, mean);
  }
  Eigen::MatrixXd x(rows.size(), FeatureCount(space));
  Eigen::VectorXd y(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    x.row(i) = Encode(space, rows[i].first->params);
    y(i) = rows[i].second;
  }
  GaussianProcess gp;
  if (Status fitted = gp.Fit(x, y); !fitted.ok()) {
    out.proposal.params = space.Sample(rng);
    out.proposal.rationale =
        "Random draw: the Gaussian process could not be fitted (" + fitted.message() + ").";
    return out;
  }

  const double best = incumbent.y;
  const double margin = 0;
  auto score = [&](const Json& params) {
    if (taken.count(params.dump())) return -1.0;
    return ExpectedImprovement(gp.Predict(Encode(space, params)), best, margin);
  };
  // Candidates: a broad random sweep plus neighbourhoods of the best trials, then a shrinking local search.
  Json chosen;
  double chosen_ei = -2;
  auto consider = [&](Json params) {
    double ei = score(params);
    if (ei > chosen_ei) {
      chosen_ei = ei;
      chosen = std::move(params);
    }
  };
  for (int i = 0; i < 512; ++i) consider(space.Sample(rng));
  const double kSteps[] = {0.02, 0.08, 0.2};
  for (size_t k = 0; k < std::min<size_t>(5, done.size()); ++k) {
    for (int i = 0; i < 48; ++i) consider(Perturb(space, done[k].trial->params, kSteps[i % 3], rng));
  }
  for (int i = 0; i < 64; ++i) consider(Perturb(space, chosen, 0.1 * std::pow(0.95, i), rng));
  if (chosen_ei < 0) {  // every candidate was taken: a finite space near exhaustion
    chosen = space.Sample(rng);
  }

  GaussianProcess::Prediction predicted = gp.Predict(Encode(space, chosen));
  auto shown = [&](double v) { return maximize ? -v : v; };
  // Parameters by how fast the objective changes along them: the shortest length scale first.
  std::vector<std::pair<double, std::string>> sensitivity;
  int at = 0;
  for (const auto& spec : space.params()) {
    int width = FeatureWidth(spec);
    sensitivity.emplace_back(gp.length_scales().segment(at, width).minCoeff(), spec.name);
    at += width;
  }
  std::sort(sensitivity.begin(), sensitivity.end());
  std::vector<std::string> order;
  Json scales = Json::object();
  for (const auto& [scale, name] : sensitivity) {
    order.push_back(name);
    scales[name] = scale;
  }
  char text[320];
  std::snprintf(
      text, sizeof text,
      "GP expected improvement %.3g over the best so far (#%lld, %s=%.6g); predicted %.6g +- %.3g. Model "
      "fitted on %zu finished trials; most sensitive: %s.",
      chosen_ei * 1.0, static_cast<long long>(incumbent.trial->number), context.objective.metric.c_str(),
      shown(best), shown(predicted.mean), predicted.stddev, done.size(),
      JoinStrings(std::vector<std::string>(order.begin(), order.begin() + std::min<size_t>(3, order.size())))
          .c_str());
  out.proposal.params = std::move(chosen);
  out.proposal.op = "model";
  out.proposal.rationale = text;
  out.proposal.evidence = Json{{"model", "gp-matern52-ard"},
                               {"acquisition", "ei"},
                               {"expected_improvement", chosen_ei},
                               {"best_trial", incumbent.trial->id},
                               {"best_value", shown(best)},
                               {"predicted_mean", shown(predicted.mean)},
                               {"predicted_stddev", predicted.stddev},
                               {"trained_on", done.size()},
                               {"length_scales", scales}};
  return out;
}

}  // namespace hyperion
