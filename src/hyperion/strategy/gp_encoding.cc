#include "hyperion/strategy/gp_encoding.h"

#include <algorithm>
#include <cmath>

namespace hyperion::gp {
namespace {

double NormalPdf(double z) { return std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI); }
double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

}  // namespace

int FeatureWidth(const ParamSpec& spec) {
  if (IsChoice(spec)) return static_cast<int>(spec.choices.size());
  return spec.when.empty() ? 1 : 2;
}

int FeatureCount(const Space& space) {
  int n = 0;
  for (const auto& spec : space.params()) n += FeatureWidth(spec);
  return n;
}

// An inactive parameter is kept one unit away from every active value, never at a value it could take: a
// choice is all zeros (an active one has exactly one 1), a number sits at the centre of its range with its
// flag at 0 instead of 1. Two points where it is inactive agree on it, so it adds no distance between them.
Eigen::VectorXd Encode(const Space& space, const Json& params) {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(FeatureCount(space));
  int at = 0;
  for (const auto& spec : space.params()) {
    auto it = params.find(spec.name);
    const bool active = it != params.end();
    if (IsChoice(spec)) {
      for (size_t i = 0; active && i < spec.choices.size(); ++i) {
        if (SameTypedValue(spec.choices[i], *it)) x(at + static_cast<int>(i)) = 1;
      }
    } else {
      x(at) = active && it->is_number() ? Space::ToUnit(spec, *it) : 0.5;
      if (!spec.when.empty()) x(at + 1) = active ? 1 : 0;
    }
    at += FeatureWidth(spec);
  }
  return x;
}

Json Perturb(const Space& space, const Json& params, double sd, std::mt19937_64& rng) {
  Json out = Json::object();
  std::normal_distribution<double> step(0.0, sd);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  for (const auto& spec : space.params()) {
    if (!Space::IsActive(spec, out)) continue;
    auto it = params.find(spec.name);
    if (it == params.end()) {
      out[spec.name] = space.SampleValue(spec, rng);
    } else if (IsChoice(spec)) {
      out[spec.name] = coin(rng) < 0.15 ? space.SampleValue(spec, rng) : *it;
    } else {
      out[spec.name] = Space::FromUnit(spec, Space::ToUnit(spec, *it) + step(rng));
    }
  }
  return space.Complete(out, rng);
}

double ExpectedImprovement(const GaussianProcess::Prediction& p, double best, double margin) {
  if (p.stddev <= 0) return std::max(0.0, best - margin - p.mean);
  double z = (best - margin - p.mean) / p.stddev;
  return (best - margin - p.mean) * NormalCdf(z) + p.stddev * NormalPdf(z);
}

}  // namespace hyperion::gp
