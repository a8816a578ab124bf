#include <algorithm>
#include <cmath>
#include <cstdio>

#include "hyperion/agent/analyst_parts.h"

namespace hyperion::analyst {
namespace {

constexpr size_t kStaleReports = 3;  // reports without improvement before a curve is a plateau
constexpr size_t kMinOthers = 3;     // other trials at the same step before one is called behind

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The best (minimised) value of a curve up to `step`, inclusive; nullopt when it has no report there.
std::optional<double> BestUpTo(const View& view, const std::vector<StepValue>& curve, int64_t step) {
  std::optional<double> best;
  for (const StepValue& r : curve) {
    if (r.step > step) continue;
    const double y = view.Y(r.value);
    if (!best || y < *best) best = y;
  }
  return best;
}

struct Other {
  const Trial* trial;
  double y;  // its best up to the step
};

}  // namespace

std::vector<PruneDecision> PlateauPrunes(const View& view, const History& history, const Settings& settings) {
  std::vector<PruneDecision> prunes;
  const auto& curves = view.context().curves;
  const std::string& metric = view.objective().metric;
  for (size_t i = 0; i < view.context_size(); ++i) {
    const Trial& t = view.trials()[i];
    if (t.state != TrialState::kRunning || history.prunes_decided.count(t.id) ||
        history.rejected_prunes.count(t.id)) {
      continue;
    }
    auto it = curves.find(t.id);
    if (it == curves.end() || it->second.size() < kStaleReports + 1) continue;
    const std::vector<StepValue>& curve = it->second;
    const size_t n = curve.size();
    size_t best_at = 0;
    for (size_t k = 1; k < n; ++k) {
      if (view.Y(curve[k].value) < view.Y(curve[best_at].value)) best_at = k;
    }
    double before = view.Y(curve[0].value);
    for (size_t k = 0; k + kStaleReports < n; ++k) before = std::min(before, view.Y(curve[k].value));
    double recent = view.Y(curve[n - 1].value);
    for (size_t k = n - kStaleReports; k < n; ++k) recent = std::min(recent, view.Y(curve[k].value));
    const double threshold = settings.tolerance * std::max(std::abs(before), 1e-12);
    if (recent < before - threshold) continue;  // still improving
    const int64_t step = curve.back().step;
    std::vector<Other> others;
    for (const Trial& other : view.trials()) {
      if (other.id == t.id || other.state == TrialState::kFailed || other.state == TrialState::kTimedOut)
        continue;
      auto c = curves.find(other.id);
      if (c == curves.end() || c->second.empty() || c->second.back().step < step) continue;
      if (auto y = BestUpTo(view, c->second, step)) others.push_back({&other, *y});
    }
    if (others.size() < kMinOthers) continue;
    std::vector<double> values;
    for (const Other& o : others) values.push_back(o.y);
    const double median = Median(values);
    const double mine = view.Y(curve[best_at].value);
    if (!(mine > median)) continue;
    const Other& leader = *std::min_element(others.begin(), others.end(), [](const Other& a, const Other& b) {
      return a.y != b.y ? a.y < b.y : a.trial->number < b.trial->number;
    });
    PruneDecision d;
    d.trial_id = t.id;
    const size_t stale = n - 1 - best_at;
    d.rationale = Num(t) + " has not improved for " + Plural(stale, "report") + " (best " + metric + " " +
                  Short(view.Shown(mine)) + " at step " + std::to_string(curve[best_at].step) +
                  ", now step " + std::to_string(step) + ") and is behind the median " +
                  Short(view.Shown(median)) + " of " + std::to_string(others.size()) +
                  " other trials at step " + std::to_string(step) + " (best " + Num(*leader.trial) + ": " +
                  Short(view.Shown(leader.y)) + "); pruning it frees its slot for a better line.";
    Json compared = Json::array();
    for (const Other& o : others)
      compared.push_back({{"trial", o.trial->number}, {"value", view.Shown(o.y)}});
    d.evidence = Json{{"rule", "plateau"},
                      {"trial", t.number},
                      {"step", step},
                      {"best_so_far", view.Shown(mine)},
                      {"best_step", curve[best_at].step},
                      {"reports_since_best", stale},
                      {"median_at_step", view.Shown(median)},
                      {"leader", leader.trial->number},
                      {"leader_value", view.Shown(leader.y)},
                      {"others", compared}};
    prunes.push_back(std::move(d));
  }
  return prunes;
}

namespace {

// The median of the measured trials' minimised values; nullopt when none is measured.
std::optional<double> MedianValue(const View& view) {
  std::vector<double> all;
  for (const Trial* t : view.finished()) {
    if (t->value && std::isfinite(*t->value) &&
        (t->state == TrialState::kCompleted || t->state == TrialState::kPruned)) {
      all.push_back(view.Y(*t->value));
    }
  }
  if (all.empty()) return std::nullopt;
  std::nth_element(all.begin(), all.begin() + all.size() / 2, all.end());
  return all[all.size() / 2];
}

// The scale improvements are measured against: |best|, or a hundredth of the distance from the best to the
// median when the best is near zero.
double Scale(double best, std::optional<double> median) {
  return std::max(std::abs(best), median ? 1e-2 * std::abs(*median - best) : 0.0);
}

bool Measured(const Trial& t) {
  return t.value && std::isfinite(*t.value) &&
         (t.state == TrialState::kCompleted || t.state == TrialState::kPruned);
}

}  // namespace

size_t TrialsSinceProgress(const View& view, const Settings& settings) {
  const auto& finished = view.finished();
  const std::optional<double> median = MedianValue(view);
  std::optional<double> best;
  size_t since = finished.size();
  for (size_t i = 0; i < finished.size(); ++i) {
    if (!Measured(*finished[i])) continue;
    const double y = view.Y(*finished[i]->value);
    if (!best || *best - y > settings.tolerance * Scale(*best, median)) since = finished.size() - 1 - i;
    if (!best || y < *best) best = y;
  }
  return since;
}

std::optional<StopDecision> StallStop(const View& view, const Settings& settings, size_t polished) {
  const auto& finished = view.finished();
  const size_t patience = static_cast<size_t>(settings.patience);
  if (finished.size() < static_cast<size_t>(settings.initial) + patience) return std::nullopt;
  const size_t split = finished.size() - patience;
  std::optional<double> before, after;
  const Trial* best_trial = nullptr;
  for (size_t i = 0; i < finished.size(); ++i) {
    const Trial& t = *finished[i];
    if (!Measured(t)) continue;
    const double y = view.Y(*t.value);
    auto& side = i < split ? before : after;
    if (!side || y < *side) side = y;
    if (t.state == TrialState::kCompleted && (!best_trial || y < view.Y(*best_trial->value))) best_trial = &t;
  }
  if (!before || !best_trial) return std::nullopt;
  const double best = std::min(*before, after.value_or(*before));
  const double improvement = *before - best;
  const double scale = Scale(*before, MedianValue(view));
  const double threshold = settings.tolerance * scale;
  if (improvement > threshold) return std::nullopt;
  const std::string& metric = view.objective().metric;
  const Trial& first = *finished[split];
  const Trial& last = *finished.back();
  StopDecision stop;
  char tolerance[64];
  std::snprintf(tolerance, sizeof tolerance, "%.3g%%", 100 * settings.tolerance);
  stop.rationale = "Improvement has stalled: the best " + metric + " is " + Short(view.Shown(best)) + " (" +
                   Num(*best_trial) + "), and the last " + std::to_string(patience) + " finished trials (" +
                   Num(first) + ".." + Num(last) + ") improved on the " + Short(view.Shown(*before)) +
                   " before them by " + Short(improvement) + ", within the tolerance " + Short(threshold) +
                   " (" + tolerance + " of " + Short(scale) + ")";
  if (polished > 0) {
    stop.rationale += ", " + std::to_string(polished) + " of them polishing the best";
  }
  stop.rationale += ". Stopping after " + Plural(view.finished().size(), "finished trial") + ".";
  stop.evidence = Json{{"rule", "stall"},
                       {"best_trial", best_trial->number},
                       {"best_value", view.Shown(best)},
                       {"best_before", view.Shown(*before)},
                       {"improvement", improvement},
                       {"threshold", threshold},
                       {"tolerance", settings.tolerance},
                       {"patience", settings.patience},
                       {"window", {first.number, last.number}},
                       {"finished", finished.size()},
                       {"polished", polished}};
  return stop;
}

}  // namespace hyperion::analyst
