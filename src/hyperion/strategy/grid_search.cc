#include "hyperion/strategy/grid_search.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace hyperion {
namespace {

// Walks the grid in a fixed order: parameters in the space's order, the last one fastest. A parameter that is
// inactive at a point has no axis there, so every distinct active point comes exactly once; without
// conditions this is plain mixed-radix counting over the product of the axes.
class GridWalk {
 public:
  GridWalk(const Space& space, const std::vector<std::vector<Json>>& axes)
      : space_(space), axes_(axes), index_(axes.size(), kInactive) {
    Reset(0);
  }

  bool done() const { return done_; }

  // The current point, keys in the space's order.
  Json Point() const { return PointBefore(axes_.size()); }

  void Next() {
    for (size_t i = axes_.size(); i-- > 0;) {
      if (index_[i] == kInactive || index_[i] + 1 >= axes_[i].size()) continue;
      ++index_[i];
      Reset(i + 1);
      return;
    }
    done_ = true;
  }

 private:
  static constexpr size_t kInactive = static_cast<size_t>(-1);

  Json PointBefore(size_t end) const {
    Json point = Json::object();
    for (size_t i = 0; i < end; ++i) {
      if (index_[i] != kInactive) point[space_.params()[i].name] = axes_[i][index_[i]];
    }
    return point;
  }

  // Parameters from `from` on go to their first value, or to inactive, given the ones before them.
  void Reset(size_t from) {
    Json point = PointBefore(from);
    for (size_t i = from; i < axes_.size(); ++i) {
      const ParamSpec& spec = space_.params()[i];
      index_[i] = Space::IsActive(spec, point) ? 0 : kInactive;
      if (index_[i] != kInactive) point[spec.name] = axes_[i][0];
    }
  }

  const Space& space_;
  const std::vector<std::vector<Json>>& axes_;
  std::vector<size_t> index_;  // per parameter: position on its axis, or kInactive
  bool done_ = false;
};

// Distinct active grid points of params[i..] given the values before them. Only values that a later
// condition lists can switch parameters on; every other value of an axis switches on the same ones, so one
// stand-in (an empty object, which no condition lists) counts for all of them.
double CountFrom(const Space& space, const std::vector<std::vector<Json>>& axes,
                 const std::vector<std::vector<Json>>& listed, size_t i, Json& partial) {
  if (i == axes.size()) return 1;
  const ParamSpec& spec = space.params()[i];
  if (!Space::IsActive(spec, partial)) return CountFrom(space, axes, listed, i + 1, partial);
  if (listed[i].empty())
    return static_cast<double>(axes[i].size()) * CountFrom(space, axes, listed, i + 1, partial);
  double total = 0;
  for (const auto& value : listed[i]) {
    partial[spec.name] = value;
    total += CountFrom(space, axes, listed, i + 1, partial);
  }
  if (axes[i].size() > listed[i].size()) {
    partial[spec.name] = Json::object();
    total += static_cast<double>(axes[i].size() - listed[i].size()) *
             CountFrom(space, axes, listed, i + 1, partial);
  }
  partial.erase(spec.name);
  return total;
}

// The number of distinct active points of the grid, saturating at UINT64_MAX.
uint64_t CountGrid(const Space& space, const std::vector<std::vector<Json>>& axes) {
  // Per parameter, the values on its axis that some condition lists.
  std::vector<std::vector<Json>> listed(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) {
    for (const auto& value : axes[i]) {
      bool named = std::any_of(space.params().begin(), space.params().end(), [&](const ParamSpec& spec) {
        return std::any_of(spec.when.begin(), spec.when.end(), [&](const Condition& c) {
          return c.param == space.params()[i].name &&
                 std::any_of(c.values.begin(), c.values.end(),
                             [&](const Json& v) { return SameTypedValue(v, value); });
        });
      });
      if (named) listed[i].push_back(value);
    }
  }
  Json partial = Json::object();
  double count = CountFrom(space, axes, listed, 0, partial);
  return count >= 18446744073709551615.0 ? UINT64_MAX : static_cast<uint64_t>(count);
}

}  // namespace

ProposeOutcome GridSearch::Propose(const StrategyContext& context) {
  std::vector<std::vector<Json>> axes;
  for (const auto& spec : context.space.params()) axes.push_back(Space::GridValues(spec, resolution_));
  const uint64_t size = CountGrid(context.space, axes);
  const std::set<std::string> taken = TakenPoints(context.trials);

  uint64_t index = 0;
  for (GridWalk walk(context.space, axes); !walk.done(); walk.Next(), ++index) {
    Json params = walk.Point();
    if (taken.count(params.dump())) continue;
    ProposeOutcome out;
    out.proposal.params = std::move(params);
    out.proposal.op = "grid";
    out.proposal.rationale = "Grid point " + std::to_string(index + 1) + " of " + std::to_string(size) +
                             " (resolution " + std::to_string(resolution_) + "), the first not yet run.";
    out.proposal.evidence = Json{{"index", index + 1}, {"grid_size", size}};
    return out;
  }
  ProposeOutcome out;
  out.kind = ProposeOutcome::Kind::kExhausted;
  out.reason = "grid exhausted: all " + std::to_string(size) + " points have been proposed";
  return out;
}

}  // namespace hyperion
