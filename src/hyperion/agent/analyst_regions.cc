#include <algorithm>
#include <cmath>

#include "hyperion/agent/analyst_parts.h"
#include "hyperion/common/text.h"
#include "hyperion/strategy/mutation.h"

namespace hyperion::analyst {
namespace {

constexpr int kMinBad = 3;        // failures before a region is believed
constexpr double kPurity = 0.75;  // share of the region's finished trials that failed

// One finished trial as the search for regions sees one parameter of it.
struct Point {
  double u;  // the value on the unit scale
  const Json* value;
  bool bad;
  const Trial* trial;
};

bool Diverged(const Trial& t) {
  return t.error.find(" was nan") != std::string::npos || t.error.find(" was inf") != std::string::npos ||
         t.error.find(" was -inf") != std::string::npos || t.error.find("diverge") != std::string::npos;
}

std::string Verb(const std::vector<const Trial*>& failed) {
  bool all_diverged = true, all_timed_out = true;
  for (const Trial* t : failed) {
    all_diverged = all_diverged && Diverged(*t);
    all_timed_out = all_timed_out && t->state == TrialState::kTimedOut;
  }
  return all_diverged ? "diverged" : all_timed_out ? "timed out" : "failed";
}

Region Make(const ParamSpec& spec, Region::Kind kind, Json edge, Json limit,
            const std::vector<const Trial*>& failed, int total) {
  Region r;
  r.spec = &spec;
  r.kind = kind;
  r.edge = std::move(edge);
  r.limit = std::move(limit);
  r.bad = static_cast<int>(failed.size());
  r.total = total;
  for (const Trial* t : failed) r.numbers.push_back(t->number);
  std::sort(r.numbers.begin(), r.numbers.end());
  r.verb = Verb(failed);
  return r;
}

// The largest tail of `points` (sorted by u; reversed for a floor) that is at least kPurity bad with
// kMinBad failures and has a success before it; nullopt when none is.
std::optional<Region> Tail(const ParamSpec& spec, std::vector<Point> points, Region::Kind kind) {
  if (kind == Region::Kind::kFloor) std::reverse(points.begin(), points.end());
  const size_t n = points.size();
  for (size_t i = 0; i < n; ++i) {
    if (!points[i].bad) continue;
    // Trials at the same value as the edge belong to the region too.
    size_t start = i;
    while (start > 0 && points[start - 1].u == points[i].u) --start;
    std::vector<const Trial*> failed;
    for (size_t j = start; j < n; ++j) {
      if (points[j].bad) failed.push_back(points[j].trial);
    }
    const int total = static_cast<int>(n - start);
    if (static_cast<int>(failed.size()) < kMinBad) return std::nullopt;
    if (failed.size() < kPurity * total) continue;
    const Point* good = nullptr;  // the success nearest to the edge outside the region
    for (size_t j = 0; j < start; ++j) {
      if (!points[j].bad) good = &points[j];
    }
    if (!good) continue;
    // The limit is the value nearest the region that ran fine: proposals stay where runs are known to
    // work, so the limit never creeps into the region as the search probes it.
    Region r = Make(spec, kind, *points[start].value, *good->value, failed, total);
    r.limit_trial = good->trial->number;
    return r;
  }
  return std::nullopt;
}

// Candidate regions of one parameter over the trials that finished with it active.
std::vector<Region> Candidates(const View& view, const ParamSpec& spec) {
  std::vector<Point> points;
  for (const Trial* t : view.finished()) {
    const bool bad = t->state == TrialState::kFailed || t->state == TrialState::kTimedOut;
    const bool good = t->value && std::isfinite(*t->value) &&
                      (t->state == TrialState::kCompleted || t->state == TrialState::kPruned);
    auto it = t->params.find(spec.name);
    if ((!bad && !good) || it == t->params.end()) continue;
    points.push_back({IsChoice(spec) ? 0.0 : Space::ToUnit(spec, *it), &*it, bad, t});
  }
  std::vector<Region> out;
  if (IsChoice(spec)) {
    size_t banned = 0;
    for (const Json& choice : spec.choices) {
      std::vector<const Trial*> failed;
      int total = 0;
      bool good_elsewhere = false;
      for (const Point& p : points) {
        if (!SameTypedValue(*p.value, choice)) {
          good_elsewhere = good_elsewhere || !p.bad;
          continue;
        }
        ++total;
        if (p.bad) failed.push_back(p.trial);
      }
      if (static_cast<int>(failed.size()) >= kMinBad && failed.size() >= kPurity * total && good_elsewhere &&
          ++banned < spec.choices.size()) {
        out.push_back(Make(spec, Region::Kind::kChoice, choice, choice, failed, total));
      }
    }
    return out;
  }
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    return a.u != b.u ? a.u < b.u : a.trial->number < b.trial->number;
  });
  for (auto kind : {Region::Kind::kCap, Region::Kind::kFloor}) {
    if (auto r = Tail(spec, points, kind)) out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace

std::string Region::Sentence() const {
  const std::string of = std::to_string(bad) + " of " + Plural(total, "trial");
  const std::string which = " (" + Numbers(numbers) + ")";
  switch (kind) {
    case Kind::kCap:
      return spec->name + " >= " + LabelValue(edge) + " " + verb + " in " + of + which + "; capping " +
             spec->name + " at " + LabelValue(limit) + ", the largest that ran fine (#" +
             std::to_string(limit_trial) + ")";
    case Kind::kFloor:
      return spec->name + " <= " + LabelValue(edge) + " " + verb + " in " + of + which + "; keeping " +
             spec->name + " at or above " + LabelValue(limit) + ", the smallest that ran fine (#" +
             std::to_string(limit_trial) + ")";
    case Kind::kChoice:
      break;
  }
  return spec->name + " " + LabelValue(edge) + " " + verb + " in " + of + which + "; no more " + spec->name +
         " " + LabelValue(edge);
}

std::string Region::Rule() const {
  switch (kind) {
    case Kind::kCap:
      return spec->name + " <= " + LabelValue(limit);
    case Kind::kFloor:
      return spec->name + " >= " + LabelValue(limit);
    case Kind::kChoice:
      break;
  }
  return spec->name + " not " + LabelValue(edge);
}

bool Region::Allows(const Json& params) const {
  auto it = params.find(spec->name);
  if (it == params.end()) return true;
  switch (kind) {
    case Kind::kCap:
      return it->get<double>() <= limit.get<double>();
    case Kind::kFloor:
      return it->get<double>() >= limit.get<double>();
    case Kind::kChoice:
      break;
  }
  return !SameTypedValue(*it, edge);
}

Json Region::ToJson() const {
  const char* kinds[] = {"cap", "floor", "choice"};
  return Json{{"param", spec->name},
              {"kind", kinds[static_cast<int>(kind)]},
              {"edge", edge},
              {"limit", limit},
              {"failed", bad},
              {"finished", total},
              {"trials", numbers},
              {"rule", Rule()},
              {"limit_trial", limit_trial}};
}

std::vector<Region> FindBadRegions(const View& view) {
  if (static_cast<int>(view.bad().size()) < kMinBad) return {};
  std::vector<Region> candidates;
  for (const auto& spec : view.space().params()) {
    for (Region& r : Candidates(view, spec)) candidates.push_back(std::move(r));
  }
  // The best-supported first: most failures, then the purest; a region then explains its failures, and a
  // later one needs kMinBad failures not explained yet, so a parameter that merely went along with the
  // culprit is not capped too.
  std::stable_sort(candidates.begin(), candidates.end(), [](const Region& a, const Region& b) {
    if (a.bad != b.bad) return a.bad > b.bad;
    return a.bad * b.total > b.bad * a.total;
  });
  std::vector<Region> accepted;
  std::set<int64_t> explained;
  for (Region& r : candidates) {
    int fresh = 0;
    for (int64_t n : r.numbers) fresh += explained.count(n) ? 0 : 1;
    if (fresh < kMinBad) continue;
    explained.insert(r.numbers.begin(), r.numbers.end());
    accepted.push_back(std::move(r));
  }
  return accepted;
}

bool Allowed(const std::vector<Region>& regions, const Json& params) {
  return std::all_of(regions.begin(), regions.end(), [&](const Region& r) { return r.Allows(params); });
}

Json Confine(const Space& space, const std::vector<Region>& regions, Json params, std::mt19937_64& rng) {
  if (regions.empty()) return params;
  // Conditions may switch parameters on or off as values move, so a few rounds settle it.
  for (int round = 0; round < 4 && !Allowed(regions, params); ++round) {
    for (const Region& r : regions) {
      auto it = params.find(r.spec->name);
      if (it == params.end() || r.Allows(params)) continue;
      if (r.kind != Region::Kind::kChoice) {
        *it = r.limit;
        continue;
      }
      // The nearest choice in the listed order that no region bans.
      const size_t at = ChoiceIndex(*r.spec, r.edge);
      for (size_t d = 1; d < r.spec->choices.size(); ++d) {
        bool placed = false;
        for (size_t index : {at + d, at - d}) {
          if (index >= r.spec->choices.size()) continue;  // also catches at - d below zero
          Json candidate = params;
          candidate[r.spec->name] = r.spec->choices[index];
          bool banned = false;
          for (const Region& other : regions) {
            if (other.spec == r.spec && !other.Allows(candidate)) banned = true;
          }
          if (!banned) {
            *it = r.spec->choices[index];
            placed = true;
            break;
          }
        }
        if (placed) break;
      }
    }
    params = space.Complete(params, rng);
  }
  return params;
}

}  // namespace hyperion::analyst
