#include "hyperion/strategy/beam_search.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <random>

#include "hyperion/common/text.h"
#include "hyperion/strategy/graph_common.h"
#include "hyperion/strategy/mutation.h"

namespace hyperion {
namespace {

using graph::AtBudget;
using graph::Brief;
using graph::Ordinal;
using graph::SpanEnd;

constexpr uint32_t kDrawStream = 0x6265616d;  // "beam": the generator of one proposal
constexpr uint32_t kPlanStream = 0x6265616e;  // a node's plan of moves, seeded by the node's number

struct Level {
  std::vector<const Trial*> made;  // proposed at this level, by number
  // What the level ranks: `made`, and without training also the top nodes of the level before.
  std::vector<const Trial*> pool;
  bool finished = false;  // no trial of the pool is still to finish
  // The pool's measured trials, best first. Trials this level pruned stay in it, so ranks and the cut-off
  // read the same on every call.
  std::vector<const Trial*> ranked;
  std::vector<const Trial*> top;   // the first `width` of `ranked`, once the level has finished
  std::vector<const Trial*> kept;  // those of `top` still completed: the nodes that get children
  double budget_to = 0;            // where the level's spans end

  int RankOf(const Trial* trial) const {
    auto it = std::find(ranked.begin(), ranked.end(), trial);
    return it == ranked.end() ? 0 : static_cast<int>(it - ranked.begin()) + 1;
  }
  int UnfinishedCount() const {
    return static_cast<int>(
        std::count_if(made.begin(), made.end(), [](const Trial* t) { return graph::Unfinished(*t); }));
  }
  std::vector<const Trial*> ChildrenOf(const Trial* node) const {
    std::vector<const Trial*> children;
    for (const Trial* t : made) {
      if (!t->parents.empty() && t->parents[0] == node->id) children.push_back(t);
    }
    return children;
  }
};

// The levels as the trials show them: a trial's level is in its evidence, else its parent's level + 1.
std::vector<Level> BuildLevels(const StrategyContext& context, int width) {
  std::map<int64_t, int> level_of;
  std::vector<Level> levels;
  for (const Trial& t : context.trials) {
    int level = 0;
    auto it = t.evidence.find("level");
    if (it != t.evidence.end() && it->is_number_integer()) {
      level = std::clamp(it->get<int>(), 0, 1 << 20);
    } else if (!t.parents.empty()) {
      auto parent = level_of.find(t.parents[0]);
      if (parent != level_of.end()) level = parent->second + 1;
    }
    level_of[t.id] = level;
    if (static_cast<int>(levels.size()) <= level) levels.resize(level + 1);
    levels[level].made.push_back(&t);
  }
  for (size_t l = 0; l < levels.size(); ++l) {
    Level& level = levels[l];
    level.pool = level.made;
    if (!context.training.enabled() && l > 0) {
      level.pool.insert(level.pool.end(), levels[l - 1].top.begin(), levels[l - 1].top.end());
      std::sort(level.pool.begin(), level.pool.end(),
                [](const Trial* a, const Trial* b) { return a->number < b->number; });
    }
    level.finished = std::none_of(level.pool.begin(), level.pool.end(),
                                  [](const Trial* t) { return graph::Unfinished(*t); });
    for (const Trial* t : level.made) level.budget_to = std::max(level.budget_to, SpanEnd(*t));
    level.ranked = graph::RankByValue(level.pool, context.objective);
    if (level.finished) {
      level.top.assign(level.ranked.begin(),
                       level.ranked.begin() + std::min<size_t>(width, level.ranked.size()));
      for (const Trial* t : level.top) {
        if (t->state == TrialState::kCompleted) level.kept.push_back(t);
      }
    }
  }
  return levels;
}

// The node that gets the next child of level `l` (round robin over the kept nodes of level l - 1, best
// first), or nullptr when every kept node has its `branches` children.
const Trial* NextParent(const std::vector<Level>& levels, size_t l, int branches) {
  const Trial* next = nullptr;
  size_t fewest = static_cast<size_t>(branches);
  for (const Trial* node : levels[l - 1].kept) {
    size_t children = l < levels.size() ? levels[l].ChildrenOf(node).size() : 0;
    if (children < fewest) {
      fewest = children;
      next = node;
    }
  }
  return next;
}

bool Differs(const Json& a, const Json& b, const std::string& name) {
  auto x = a.find(name);
  auto y = b.find(name);
  if ((x == a.end()) != (y == b.end())) return true;
  return x != a.end() && !SameTypedValue(*x, *y);
}

struct Move {
  const ParamSpec* spec;
  int direction;
  double distance;
};

// The moves a node's mutated children take, in order: the parameters changed longest ago along the node's
// line first (never changed: first of all; ties in a random order), each one step in a random direction and
// then the other way, by a distance that shrinks with the node's depth. Seeded by the node's number, so every
// call sees the same plan. `age` receives, per parameter, how many levels up the line it last changed.
std::vector<Move> PlanMoves(const StrategyContext& context, const std::map<int64_t, const Trial*>& by_id,
                            const Trial& node, std::map<std::string, int>& age) {
  const Trial* child = &node;
  int line_depth = 0;  // how many levels the node's line goes up
  for (int depth = 1; !child->parents.empty() && depth <= 1000; ++depth) {
    line_depth = depth;
    auto it = by_id.find(child->parents[0]);
    if (it == by_id.end()) break;
    for (const auto& spec : context.space.params()) {
      if (!age.count(spec.name) && Differs(child->params, it->second->params, spec.name)) {
        age[spec.name] = depth;
      }
    }
    child = it->second;
  }
  std::mt19937_64 rng = ProposalGenerator(context.seed, static_cast<uint64_t>(node.number), kPlanStream);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<std::pair<std::pair<int, double>, const ParamSpec*>> order;
  for (const ParamSpec* spec : ActiveParams(context.space, node.params)) {
    auto it = age.find(spec->name);
    order.push_back({{it == age.end() ? INT_MAX : it->second, unit(rng)}, spec});
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    if (a.first.first != b.first.first) return a.first.first > b.first.first;
    return a.first.second < b.first.second;
  });
  std::vector<Move> moves;
  for (const auto& [key, spec] : order) {
    int direction = unit(rng) < 0.5 ? 1 : -1;
    // Coarse to fine: each level down a line moves a quarter less far (from 0.15-0.25 of the range at the
    // first branch, never below a tenth of that), so a deep beam refines what the early levels found.
    const double scale = std::max(0.1, std::pow(0.75, line_depth));
    double first = (0.15 + 0.1 * unit(rng)) * scale, second = (0.15 + 0.1 * unit(rng)) * scale;
    moves.push_back({spec, direction, first});
    moves.push_back({spec, -direction, second});
  }
  return moves;
}

std::string Plural(int n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string StateCounts(const std::vector<const Trial*>& trials) {
  std::map<std::string, int> counts;
  for (const Trial* t : trials) ++counts[TrialStateName(t->state)];
  std::vector<std::string> parts;
  for (const auto& [state, n] : counts) parts.push_back(std::to_string(n) + " " + state);
  return JoinStrings(parts);
}

}  // namespace

ProposeOutcome BeamSearch::Propose(const StrategyContext& context) {
  const Training& training = context.training;
  const double span = span_ && *span_ > 0 ? *span_ : training.max / 4;
  const std::string& metric = context.objective.metric;
  const int width = std::max(1, width_), branches = std::max(1, branches_);
  std::vector<Level> levels = BuildLevels(context, width);
  std::map<int64_t, const Trial*> by_id;
  for (const Trial& t : context.trials) by_id[t.id] = &t;
  const uint64_t draw = context.trials.size();
  std::mt19937_64 rng = ProposalGenerator(context.seed, draw, kDrawStream);

  // Where a node stands in its level, for the rationales: "#7 (ranked 1st of 9 at epochs 5, val_acc 0.948)".
  auto describe = [&](const Level& level, size_t l, const Trial* t) {
    std::string where =
        training.enabled() ? "at " + AtBudget(training, SpanEnd(*t)) : "at level " + std::to_string(l);
    return "#" + std::to_string(t->number) + " (ranked " + Ordinal(level.RankOf(t)) + " of " +
           std::to_string(level.ranked.size()) + " " + where + ", " + metric + " " + Brief(*t->value) + ")";
  };

  ProposeOutcome out;
  for (size_t l = 0;; ++l) {
    if (l >= levels.size()) levels.emplace_back();  // the next level, nothing proposed yet
    const Level& level = levels[l];

    // 1. Propose what the level still lacks.
    if (l == 0 && static_cast<int>(level.made.size()) < width * branches) {
      Proposal& p = out.proposal;
      p.params = FreshSample(context.space, TakenPoints(context.trials), rng);
      p.op = "sample";
      const size_t index = level.made.size() + 1;
      p.rationale = "Beam level 0, sample " + std::to_string(index) + " of " +
                    std::to_string(width * branches) + " (width " + std::to_string(width) + " x branches " +
                    std::to_string(branches) + "): a fresh random point";
      if (training.enabled()) {
        p.budget_from = 0;
        p.budget_to = std::min(span, training.max);
        p.rationale += ", trained " + training.unit + " 0->" + Brief(*p.budget_to);
      }
      p.rationale += "; the best " + std::to_string(width) + " of the level are kept.";
      p.evidence = Json{{"level", 0},     {"sample", index},      {"of", width * branches},
                        {"width", width}, {"branches", branches}, {"seed", context.seed},
                        {"draw", draw}};
      return out;
    }
    if (l > 0) {
      if (const Trial* node = NextParent(levels, l, branches)) {
        const Level& parents = levels[l - 1];
        const std::vector<const Trial*> siblings = level.ChildrenOf(node);
        const int child = static_cast<int>(siblings.size()) + 1;
        Proposal& p = out.proposal;
        p.parents = {node->id};
        p.op = "branch";
        p.evidence = Json{{"level", l},
                          {"parent_trial", node->number},
                          {"parent_value", *node->value},
                          {"parent_rank", parents.RankOf(node)},
                          {"ranked", parents.ranked.size()},
                          {"child", child},
                          {"of", branches}};
        std::string head = "Beam level " + std::to_string(l) + ", child " + std::to_string(child) + " of " +
                           std::to_string(branches) + " of " + describe(parents, l - 1, node) + ": ";
        std::string tail;
        if (training.enabled()) {
          double from = SpanEnd(*node), to = std::min(from + span, training.max);
          if (node->checkpoint_dir.empty()) {
            // Retention removed the checkpoint (it should not, the node is on the frontier): train again
            // from scratch to the same point rather than not at all.
            tail =
                "; its checkpoint is gone, so it trains from scratch, " + training.unit + " 0->" + Brief(to);
            from = 0;
          } else {
            p.restore = true;
            tail = "; trains on from its checkpoint, " + training.unit + " " + Brief(from) + "->" + Brief(to);
          }
          p.budget_from = from;
          p.budget_to = to;
          p.evidence["span"] = Json::array({from, to});
        } else {
          tail = "; a whole run, ranked together with its parent at level " + std::to_string(l);
        }

        if (training.enabled() && child == 1) {
          p.params = node->params;
          p.change_label = "continue";
          p.rationale = head + "continues unchanged" +
                        (p.restore ? " from its checkpoint, " + training.unit + " " + Brief(*p.budget_from) +
                                         "->" + Brief(*p.budget_to)
                                   : tail) +
                        ".";
          p.evidence["continue"] = true;
          return out;
        }

        // A mutated child: the first move of the node's plan that no sibling took and that gives a new point.
        std::map<std::string, int> age;
        const std::vector<Move> plan = PlanMoves(context, by_id, *node, age);
        std::set<std::string> used, points = {node->params.dump()};
        for (const Trial* s : siblings) {
          points.insert(s->params.dump());
          auto move = s->evidence.find("move");
          if (move != s->evidence.end() && move->contains("param") && move->contains("direction")) {
            used.insert((*move)["param"].get<std::string>() + "/" +
                        std::to_string((*move)["direction"].get<int>()));
          }
        }
        // Without training a point already run elsewhere is a duplicate run; with training it is a new
        // segment from a different checkpoint.
        const std::set<std::string> taken =
            training.enabled() ? std::set<std::string>() : TakenPoints(context.trials);
        std::optional<Json> chosen, fallback;
        std::optional<Move> chosen_move, fallback_move;
        for (const Move& move : plan) {
          if (used.count(move.spec->name + "/" + std::to_string(move.direction))) continue;
          auto shifted = ShiftValue(*move.spec, node->params[move.spec->name], move.direction, move.distance);
          if (!shifted) continue;
          Json params = node->params;
          params[move.spec->name] = *shifted;
          params = context.space.Complete(params, rng);
          if (points.count(params.dump())) continue;
          if (taken.count(params.dump())) {
            if (!fallback) {
              fallback = params;
              fallback_move = move;
            }
            continue;
          }
          chosen = std::move(params);
          chosen_move = move;
          break;
        }
        if (!chosen && fallback) {
          chosen = fallback;
          chosen_move = fallback_move;
        }
        if (chosen) {
          const std::string& name = chosen_move->spec->name;
          std::string how = IsChoice(*chosen_move->spec)
                                ? std::string(chosen_move->direction > 0 ? "the next choice up the list"
                                                                         : "the next choice down the list")
                                : std::string(chosen_move->direction > 0 ? "up " : "down ") +
                                      graph::Brief(std::round(chosen_move->distance * 100) / 100) +
                                      " of its range" + (chosen_move->spec->log ? " on the log scale" : "");
          auto a = age.find(name);
          std::string history = a == age.end()
                                    ? "its first change along this line"
                                    : "last changed " + Plural(a->second, "level") + " up this line";
          p.params = std::move(*chosen);
          p.change_label = ChangeLabel(context.space, node->params, p.params);
          p.rationale = head + p.change_label + " (" + name + " " + how + "; " + history + ")" + tail + ".";
          p.evidence["move"] = Json{
              {"param", name}, {"direction", chosen_move->direction}, {"distance", chosen_move->distance}};
          return out;
        }
        // Every planned move was taken or blocked at a bound (a small discrete space): redraw one parameter.
        const std::vector<const ParamSpec*> active = ActiveParams(context.space, node->params);
        Json params = node->params;
        std::string name;
        for (int attempt = 0; attempt < 64 && !active.empty(); ++attempt) {
          const ParamSpec* spec = active[std::uniform_int_distribution<size_t>(0, active.size() - 1)(rng)];
          params = node->params;
          params[spec->name] = context.space.SampleValue(*spec, rng);
          params = context.space.Complete(params, rng);
          name = spec->name;
          if (!points.count(params.dump()) && !taken.count(params.dump())) break;
        }
        p.params = std::move(params);
        p.change_label = ChangeLabel(context.space, node->params, p.params);
        p.rationale = head + p.change_label + " (every one-step move of #" + std::to_string(node->number) +
                      " is taken, so " + (name.empty() ? std::string("nothing") : name) + " was redrawn)" +
                      tail + ".";
        p.evidence["move"] = Json{{"param", name}, {"resample", true}};
        return out;
      }
    }

    // 2. Wait until the whole level is over.
    if (!level.finished) {
      out.kind = ProposeOutcome::Kind::kWait;
      out.reason = "beam: waiting for level " + std::to_string(l) + " (" +
                   std::to_string(level.UnfinishedCount()) + " of " + std::to_string(level.made.size()) +
                   " trials still running)";
      return out;
    }

    // 3. Keep the best `width`, prune the rest.
    const std::string at =
        training.enabled() ? "at " + AtBudget(training, level.budget_to) : "at level " + std::to_string(l);
    std::vector<int64_t> kept_numbers;
    for (const Trial* t : level.top) kept_numbers.push_back(t->number);
    for (size_t r = level.top.size(); r < level.ranked.size(); ++r) {
      const Trial* t = level.ranked[r];
      if (t->state != TrialState::kCompleted) continue;  // pruned already
      const Trial* cutoff = level.top.back();
      PruneDecision prune;
      prune.trial_id = t->id;
      prune.rationale = "#" + std::to_string(t->number) + " ranked " + Ordinal(static_cast<int64_t>(r) + 1) +
                        " of " + std::to_string(level.ranked.size()) + " " + at + " (" + metric + " " +
                        Brief(*t->value) + "); the beam keeps " + std::to_string(width) + ", cut-off " +
                        Brief(*cutoff->value) + " of #" + std::to_string(cutoff->number);
      prune.evidence = Json{{"level", l},
                            {"rank", r + 1},
                            {"ranked", level.ranked.size()},
                            {"value", *t->value},
                            {"width", width},
                            {"cutoff_trial", cutoff->number},
                            {"cutoff_value", *cutoff->value},
                            {"kept", kept_numbers}};
      out.prunes.push_back(std::move(prune));
    }
    // An earlier level has done its part (without training its top nodes may since have been pruned by
    // the level after it, where they were ranked again).
    if (l + 1 < levels.size() && !levels[l + 1].made.empty()) continue;
    if (level.kept.empty()) {
      out.kind = ProposeOutcome::Kind::kExhausted;
      out.reason = level.ranked.empty() ? "beam: no trial of level " + std::to_string(l) + " completed (" +
                                              StateCounts(level.pool) + "); nothing to branch from"
                                        : "beam: the best " + std::to_string(level.top.size()) +
                                              " of level " + std::to_string(l) + " were pruned (" +
                                              StateCounts(level.pool) + "); nothing left to branch from";
      return out;
    }
    if (training.enabled() && level.budget_to >= training.max) {
      const Trial* best = level.kept.front();
      out.kind = ProposeOutcome::Kind::kExhausted;
      out.reason = "beam finished: level " + std::to_string(l) + " trained to " +
                   graph::Amount(training, level.budget_to) + "; best #" + std::to_string(best->number) +
                   " (" + metric + " " + Brief(*best->value) + "), kept " +
                   std::to_string(level.kept.size()) + " of " + std::to_string(level.ranked.size());
      return out;
    }
  }
}

std::set<int64_t> BeamSearch::Frontier(const StrategyContext& context) const {
  const int width = std::max(1, width_), branches = std::max(1, branches_);
  std::vector<Level> levels = BuildLevels(context, width);
  std::set<int64_t> frontier;
  for (size_t l = 0; l < levels.size(); ++l) {
    const Level& level = levels[l];
    bool proposed = l == 0 ? static_cast<int>(level.made.size()) >= width * branches
                           : NextParent(levels, l, branches) == nullptr;
    if (!proposed || !level.finished) {
      // A level still running has not chosen its nodes yet: every completed trial in it may become one.
      for (const Trial* t : level.made) {
        if (t->state == TrialState::kCompleted) frontier.insert(t->id);
      }
      break;
    }
    // The kept nodes of the latest finished level: the parents of the next level or, once a level has
    // trained to training.max, the search's results, whose checkpoints the user wants.
    frontier.clear();
    for (const Trial* t : level.kept) frontier.insert(t->id);
  }
  return frontier;
}

}  // namespace hyperion
