#include "hyperion/dashboard/analysis.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

namespace hyperion::dashboard {

std::vector<CurvePoint> Downsample(const std::vector<CurvePoint>& points, size_t max_points) {
  max_points = std::max<size_t>(max_points, 4);
  if (points.size() <= max_points) return points;
  std::vector<CurvePoint> out{points.front()};
  // Two points (the bucket's low and high) per bucket between the fixed first and last.
  const size_t buckets = (max_points - 2) / 2;
  const size_t inner = points.size() - 2;
  for (size_t b = 0; b < buckets; ++b) {
    size_t from = 1 + b * inner / buckets, to = 1 + (b + 1) * inner / buckets;
    if (from >= to) continue;
    auto [lo, hi] =
        std::minmax_element(points.begin() + from, points.begin() + to,
                            [](const CurvePoint& a, const CurvePoint& c) { return a.second < c.second; });
    // Kept in step order so the line is drawn left to right.
    if (lo > hi) std::swap(lo, hi);
    out.push_back(*lo);
    if (hi != lo) out.push_back(*hi);
  }
  out.push_back(points.back());
  return out;
}

std::vector<CurvePoint> CurveOf(const std::vector<Report>& reports, const std::string& metric) {
  int latest = 0;
  for (const auto& r : reports) latest = std::max(latest, r.attempt);
  std::map<int64_t, double> by_step;
  for (const auto& r : reports) {
    if (r.attempt == latest && r.metric == metric && std::isfinite(r.value)) by_step[r.step] = r.value;
  }
  return {by_step.begin(), by_step.end()};
}

namespace {

std::vector<const Trial*> CompletedWithValue(const std::vector<Trial>& trials) {
  std::vector<const Trial*> out;
  for (const auto& t : trials) {
    if (t.state == TrialState::kCompleted && t.value && std::isfinite(*t.value)) out.push_back(&t);
  }
  return out;
}

// Average ranks (ties share the mean of their positions), as Spearman's correlation needs.
std::vector<double> Ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = (static_cast<double>(i) + static_cast<double>(j)) / 2;
    i = j + 1;
  }
  return ranks;
}

double Correlation(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0 || syy <= 0) return 0;
  return sxy / std::sqrt(sxx * syy);
}

// eta: the share of the spread of `y` explained by the groups, square-rooted to sit on a correlation's scale.
double CorrelationRatio(const std::vector<std::string>& groups, const std::vector<double>& y) {
  const double n = static_cast<double>(y.size());
  double mean = std::accumulate(y.begin(), y.end(), 0.0) / n, total = 0;
  std::map<std::string, std::pair<double, int>> sums;
  for (size_t i = 0; i < y.size(); ++i) {
    total += (y[i] - mean) * (y[i] - mean);
    sums[groups[i]].first += y[i];
    sums[groups[i]].second += 1;
  }
  if (total <= 0 || sums.size() < 2) return 0;
  double between = 0;
  for (const auto& [group, sum] : sums) {
    double m = sum.first / sum.second;
    between += sum.second * (m - mean) * (m - mean);
  }
  return std::sqrt(between / total);
}

}  // namespace

Json BestSoFar(const std::vector<Trial>& trials, ObjectiveMode mode, double start) {
  auto done = CompletedWithValue(trials);
  std::stable_sort(done.begin(), done.end(), [](const Trial* a, const Trial* b) {
    return a->ended_at.value_or(0) < b->ended_at.value_or(0);
  });
  Objective objective;
  objective.mode = mode;
  Json out = Json::array();
  std::optional<double> best;
  for (const Trial* t : done) {
    if (!best || objective.Better(*t->value, *best)) best = t->value;
    out.push_back({{"number", t->number},
                   {"time", t->ended_at.value_or(start) - start},
                   {"value", *t->value},
                   {"best", *best}});
  }
  return out;
}

Json Importance(const std::vector<Trial>& trials) {
  auto done = CompletedWithValue(trials);
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const Trial* t : done) {
    for (const auto& [name, value] : t->params.items()) {
      if (seen.insert(name).second) names.push_back(name);
    }
  }
  Json out = Json::array();
  for (const auto& name : names) {
    std::vector<double> numbers, values;
    std::vector<std::string> groups;
    bool numeric = true;
    for (const Trial* t : done) {
      auto it = t->params.find(name);
      if (it == t->params.end()) continue;
      values.push_back(*t->value);
      groups.push_back(DumpJson(*it));
      if (it->is_number() || it->is_boolean()) {
        numbers.push_back(it->is_boolean() ? (it->get<bool>() ? 1.0 : 0.0) : it->get<double>());
      } else {
        numeric = false;
      }
    }
    if (values.size() < 3) continue;
    auto value_ranks = Ranks(values);
    double score =
        numeric ? std::fabs(Correlation(Ranks(numbers), value_ranks)) : CorrelationRatio(groups, value_ranks);
    out.push_back({{"param", name},
                   {"importance", score},
                   {"kind", numeric ? "numeric" : "categorical"},
                   {"trials", values.size()}});
  }
  std::stable_sort(out.begin(), out.end(), [](const Json& a, const Json& b) {
    return a["importance"].get<double>() > b["importance"].get<double>();
  });
  return out;
}

Json Timeline(const std::vector<Trial>& trials, double start, size_t limit) {
  std::vector<const Trial*> started;
  for (const auto& t : trials) {
    if (t.started_at) started.push_back(&t);
  }
  std::stable_sort(started.begin(), started.end(),
                   [](const Trial* a, const Trial* b) { return *a->started_at < *b->started_at; });
  if (started.size() > limit)
    started.erase(started.begin(), started.end() - static_cast<std::ptrdiff_t>(limit));
  // slot_free[i]: when slot i is free again; a trial takes the lowest-numbered free slot.
  std::vector<double> slot_free;
  Json out = Json::array();
  for (const Trial* t : started) {
    double begin = *t->started_at;
    double end = t->ended_at.value_or(INFINITY);
    size_t slot = 0;
    while (slot < slot_free.size() && slot_free[slot] > begin) ++slot;
    if (slot == slot_free.size()) slot_free.push_back(end);
    slot_free[slot] = end;
    out.push_back({{"number", t->number},
                   {"slot", slot},
                   {"start", begin - start},
                   {"end", t->ended_at ? Json(*t->ended_at - start) : Json()},
                   {"state", TrialStateName(t->state)}});
  }
  return out;
}

Json ParallelPoints(const std::vector<Trial>& trials, ObjectiveMode mode, size_t limit) {
  auto done = CompletedWithValue(trials);
  Objective objective;
  objective.mode = mode;
  std::stable_sort(done.begin(), done.end(),
                   [&](const Trial* a, const Trial* b) { return objective.Better(*a->value, *b->value); });
  if (done.size() > limit) done.resize(limit);
  Json out = Json::array();
  for (const Trial* t : done)
    out.push_back({{"number", t->number}, {"value", *t->value}, {"params", t->params}});
  return out;
}

}  // namespace hyperion::dashboard
