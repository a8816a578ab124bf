#include <algorithm>
#include <cmath>

#include "hyperion/agent/analyst_parts.h"
#include "hyperion/strategy/gp_encoding.h"
#include "hyperion/strategy/gp_search.h"

namespace hyperion::analyst {
namespace {

constexpr int kReferencePoints = 48;  // points the partial dependences average over
constexpr int kLevels = 7;            // values of a number the importance looks at

struct Row {
  const Trial* trial;
  double y;
};

}  // namespace

std::unique_ptr<Model> Model::Fit(const View& view, uint64_t seed) {
  std::vector<Row> done;
  for (const Trial* t : view.measured()) done.push_back({t, view.Y(*t->value)});
  if (done.size() < 2) return nullptr;
  std::stable_sort(done.begin(), done.end(), [](const Row& a, const Row& b) { return a.y < b.y; });
  std::unique_ptr<Model> model(new Model(view.space()));
  model->best_ = done.front().y;
  model->incumbent_ = done.front().trial->id;
  // As GpSearch: the best half and the most recent half when there are too many.
  const size_t cap = GpSearch::kMaxModelPoints;
  if (done.size() > cap) {
    std::vector<Row> kept(done.begin(), done.begin() + cap / 2);
    std::vector<Row> rest(done.begin() + cap / 2, done.end());
    std::sort(rest.begin(), rest.end(),
              [](const Row& a, const Row& b) { return a.trial->number > b.trial->number; });
    kept.insert(kept.end(), rest.begin(), rest.begin() + cap / 2);
    done = std::move(kept);
  }
  double worst = done.front().y, mean = 0;
  for (const Row& r : done) {
    worst = std::max(worst, r.y);
    mean += r.y / static_cast<double>(done.size());
  }
  std::vector<Row> rows = done;
  for (const Trial* t : view.bad()) {
    if (rows.size() < 2 * cap) rows.push_back({t, worst});
  }
  for (const Trial& t : view.trials()) {
    if (!IsFinished(t.state) && rows.size() < 2 * cap) rows.push_back({&t, mean});
  }
  const Space& space = view.space();
  Eigen::MatrixXd x(rows.size(), gp::FeatureCount(space));
  Eigen::VectorXd y(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    x.row(i) = gp::Encode(space, rows[i].trial->params);
    y(i) = rows[i].y;
  }
  if (!model->gp_.Fit(x, y).ok()) return nullptr;
  model->trained_on_ = done.size();
  // The same reference points on every call of one experiment, so importances move only with the data.
  std::mt19937_64 rng = ProposalGenerator(seed, 0, kStream + 1);
  for (int i = 0; i < kReferencePoints; ++i) model->reference_.push_back(space.Sample(rng));
  return model;
}

GaussianProcess::Prediction Model::Predict(const Json& params) const {
  return gp_.Predict(gp::Encode(space_, params));
}

double Model::Ei(const Json& params) const { return gp::ExpectedImprovement(Predict(params), best_, 0); }

double Model::PartialMean(const ParamSpec& spec, const Json& value) const {
  std::mt19937_64 rng(7);  // draws parameters a changed condition switches on: the same ones every time
  double sum = 0;
  int n = 0;
  for (const Json& reference : reference_) {
    if (!Space::IsActive(spec, reference)) continue;
    Json point = reference;
    point[spec.name] = value;
    point = space_.Complete(point, rng);
    sum += gp_.PredictMean(gp::Encode(space_, point));
    ++n;
  }
  return n > 0 ? sum / n : 0.0;
}

std::vector<Share> Model::Importance() const {
  std::vector<Share> shares;
  double total = 0;
  for (const auto& spec : space_.params()) {
    std::vector<Json> values;
    if (IsChoice(spec)) {
      values = spec.choices;
    } else {
      for (int k = 0; k < kLevels; ++k) values.push_back(Space::FromUnit(spec, (k + 0.5) / kLevels));
    }
    std::vector<double> means;
    for (const Json& v : values) means.push_back(PartialMean(spec, v));
    double mean = 0, variance = 0;
    for (double m : means) mean += m / static_cast<double>(means.size());
    for (double m : means) variance += (m - mean) * (m - mean) / static_cast<double>(means.size());
    shares.push_back({spec.name, variance});
    total += variance;
  }
  if (!(total > 0)) return {};
  for (Share& s : shares) s.share /= total;
  std::stable_sort(shares.begin(), shares.end(),
                   [](const Share& a, const Share& b) { return a.share > b.share; });
  return shares;
}

std::string ImportanceText(const std::vector<Share>& importance, size_t count) {
  std::string text;
  for (size_t i = 0; i < importance.size() && i < count; ++i) {
    const int percent = static_cast<int>(std::lround(100 * importance[i].share));
    if (i == 0) {
      text = importance[i].param + " explains " + std::to_string(percent) + "% of the variation";
    } else {
      text += ", " + importance[i].param + " " + std::to_string(percent) + "%";
    }
  }
  return text;
}

}  // namespace hyperion::analyst
