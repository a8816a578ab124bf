#include "hyperion/strategy/evolution_search.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <unordered_map>

#include "hyperion/common/text.h"
#include "hyperion/strategy/graph_common.h"
#include "hyperion/strategy/mutation.h"

namespace hyperion {
namespace {

using Kind = ProposeOutcome::Kind;

constexpr uint32_t kStream = 0x65766Fu;  // "evo": keeps this sequence apart from the other strategies'
constexpr int kMinSide = 2;              // completed trials needed on each side before a value counts
constexpr double kShift = 0.1;           // a shift mutation moves a tenth of the parameter's range
constexpr int kFreshTries = 16;          // mutations tried for a point no trial holds

std::string Num(const Trial& t) { return "#" + std::to_string(t.number); }

std::string Short(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v);
  return text;
}

// A parameter value as a person reads it in a rationale: floats to 4 significant digits.
std::string Shown(const Json& value) {
  return value.is_number_float() ? Short(value.get<double>()) : ScalarToArgument(value);
}

std::string Plural(size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

int GenerationOf(const Trial& t) {
  auto it = t.evidence.find("generation");
  return it != t.evidence.end() && it->is_number_integer() ? it->get<int>() : 0;
}

// Completed (not pruned) with a usable value: the trials that may be parents and count as evidence.
bool HasValue(const Trial& t) {
  return t.state == TrialState::kCompleted && t.value && std::isfinite(*t.value);
}

// The same parameters with the same typed values (1, 1.0 and true differ).
bool SamePoint(const Json& a, const Json& b) {
  if (a.size() != b.size()) return false;
  for (auto it = a.begin(); it != a.end(); ++it) {
    auto other = b.find(it.key());
    if (other == b.end() || !SameTypedValue(it.value(), *other)) return false;
  }
  return true;
}

Json Ids(const std::vector<const Trial*>& trials) {
  Json ids = Json::array();
  for (const Trial* t : trials) ids.push_back(t->id);
  return ids;
}

// The trials indexed for the questions evolution asks: generations, branches (roots) and ancestry.
class Graph {
 public:
  explicit Graph(const std::vector<Trial>& trials) {
    for (const auto& t : trials) {
      by_id_[t.id] = &t;
      generations_[GenerationOf(t)].push_back(&t);
    }
  }

  // Generation -> its trials in number order.
  const std::map<int, std::vector<const Trial*>>& generations() const { return generations_; }

  const Trial* Find(int64_t id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
  }

  // The first trial of t's primary-parent chain: the branch t belongs to.
  const Trial& Root(const Trial& t) const {
    const Trial* at = &t;
    for (size_t hops = 0; hops <= by_id_.size() && !at->parents.empty(); ++hops) {
      const Trial* up = Find(at->parents[0]);
      if (!up) break;
      at = up;
    }
    return *at;
  }

  // Every trial reachable from t through any of its parents, merges included.
  std::set<int64_t> Ancestors(const Trial& t) const {
    return graph::Ancestors(t, [this](int64_t id) { return Find(id); });
  }

 private:
  std::unordered_map<int64_t, const Trial*> by_id_;
  std::map<int, std::vector<const Trial*>> generations_;
};

struct Settings {
  int population;
  int elite;
  double crossover;
  double mutation;
  bool spans;  // span given and a training budget to count it in
  double span;
};

// What one proposal call works with.
struct Run {
  const StrategyContext& context;
  const Settings& settings;
  const Graph& graph;
  std::mt19937_64& rng;
};

// Trials in generation g: every generation has `population` with span (elites continue); without, the
// elites are not run again, so generations after the first have population - elite.
size_t GenerationSize(const Settings& s, int g) {
  return static_cast<size_t>(g == 0 || s.spans ? s.population : s.population - s.elite);
}

// With span, generation g covers [g * span, (g + 1) * span] capped at training.max.
double GenerationEnd(const Settings& s, const Training& training, int g) {
  double end = (g + 1) * s.span;
  return end >= training.max * (1 - 1e-9) ? training.max : end;
}

void SetBudget(const Run& run, int g, Proposal& p) {
  const Training& training = run.context.training;
  if (!training.enabled()) return;
  if (!run.settings.spans) {
    p.budget_from = 0.0;
    p.budget_to = training.max;
    return;
  }
  p.budget_from = g == 0 ? 0.0 : GenerationEnd(run.settings, training, g - 1);
  p.budget_to = GenerationEnd(run.settings, training, g);
}

std::string BudgetText(const Run& run, const Proposal& p) {
  if (!p.budget_from) return "";
  const std::string range = " " + run.context.training.unit + " " + FormatNumber(*p.budget_from) + ".." +
                            FormatNumber(*p.budget_to);
  if (!run.settings.spans) return " It trains a whole run (" + range.substr(1) + ").";
  if (!p.restore) return " It trains" + range + ".";
  return " It restores #" + std::to_string(run.graph.Find(p.parents[0])->number) +
         "'s checkpoint and trains" + range + ".";
}

// The trials generation g is bred from, best first (ties: the earlier trial). With span: the completed
// trials of generation g-1 that still have a checkpoint; without: the best `population` completed trials of
// all earlier generations.
std::vector<const Trial*> Pool(const Run& run, int g) {
  std::vector<const Trial*> pool;
  for (const auto& [gen, members] : run.graph.generations()) {
    if (gen >= g) break;
    if (run.settings.spans && gen != g - 1) continue;
    for (const Trial* t : members) {
      if (HasValue(*t) && (!run.settings.spans || !t->checkpoint_dir.empty())) pool.push_back(t);
    }
  }
  const Objective& objective = run.context.objective;
  std::stable_sort(pool.begin(), pool.end(),
                   [&](const Trial* a, const Trial* b) { return objective.Better(*a->value, *b->value); });
  if (!run.settings.spans && pool.size() > static_cast<size_t>(run.settings.population)) {
    pool.resize(run.settings.population);
  }
  return pool;
}

// The completed trials whose values are comparable with the parents': with span those of generation g-1
// (same amount of training), without span all earlier ones (whole runs).
std::vector<const Trial*> Comparable(const Run& run, int g) {
  std::vector<const Trial*> out;
  for (const auto& [gen, members] : run.graph.generations()) {
    if (gen >= g) break;
    if (run.settings.spans && gen != g - 1) continue;
    for (const Trial* t : members) {
      if (HasValue(*t)) out.push_back(t);
    }
  }
  return out;
}

// The generations before g >= 1: "generation 0", "generations 0..3".
std::string GenerationsBefore(int g) {
  return g == 1 ? "generation 0" : "generations 0.." + std::to_string(g - 1);
}

std::string PoolText(const Run& run, int g, size_t size) {
  if (run.settings.spans)
    return "the " + Plural(size, "completed trial") + " of generation " + std::to_string(g - 1);
  return "the population (the best " + Plural(size, "completed trial") + " of " + GenerationsBefore(g) + ")";
}

struct Tournament {
  const Trial* winner = nullptr;
  std::vector<const Trial*> entrants;
};

// 2 or 3 distinct entrants drawn from `ranked` (best first); the best of them wins.
Tournament Select(const std::vector<const Trial*>& ranked, std::mt19937_64& rng) {
  const size_t size = std::min<size_t>(std::uniform_int_distribution<int>(2, 3)(rng), ranked.size());
  std::vector<size_t> order(ranked.size());
  std::iota(order.begin(), order.end(), 0);
  for (size_t i = 0; i < size; ++i) {
    std::swap(order[i], order[std::uniform_int_distribution<size_t>(i, order.size() - 1)(rng)]);
  }
  order.resize(size);
  Tournament t;
  t.winner = ranked[*std::min_element(order.begin(), order.end())];
  for (size_t i : order) t.entrants.push_back(ranked[i]);
  return t;
}

struct Source {
  const Trial* from = nullptr;
  std::string because;
};

// Which parent's value of `spec` the completed trials favour: those with the same choice, or (numbers)
// nearer to one value than the other on the unit scale and no farther from it than the two values are
// apart. The better mean wins when each side has kMinSide trials; otherwise the fitter parent's value.
Source ChooseSource(const ParamSpec& spec, const Trial& fitter, const Trial& other,
                    const std::vector<const Trial*>& comparable, const Objective& objective) {
  const Json& a = fitter.params.at(spec.name);
  const Json& b = other.params.at(spec.name);
  const bool choice = IsChoice(spec);
  const double ua = choice ? 0 : Space::ToUnit(spec, a), ub = choice ? 0 : Space::ToUnit(spec, b);
  const double gap = std::abs(ua - ub);
  double sum[2] = {0, 0};
  size_t n[2] = {0, 0};
  for (const Trial* t : comparable) {
    auto it = t->params.find(spec.name);
    if (it == t->params.end()) continue;
    int side = -1;
    if (choice) {
      side = SameTypedValue(*it, a) ? 0 : SameTypedValue(*it, b) ? 1 : -1;
    } else {
      double u = Space::ToUnit(spec, *it), da = std::abs(u - ua), db = std::abs(u - ub);
      side = da < db && da <= gap ? 0 : db < da && db <= gap ? 1 : -1;
    }
    if (side < 0) continue;
    sum[side] += *t->value;
    ++n[side];
  }
  const std::string near = choice ? " with " : " near ";
  const std::string value[2] = {Shown(a), Shown(b)};
  const std::string fallback = "from the fitter parent " + Num(fitter);
  if (n[0] < kMinSide || n[1] < kMinSide) {
    return {&fitter, "no evidence (" + Plural(n[0], "completed trial") + near + spec.name + " " + value[0] +
                         ", " + std::to_string(n[1]) + near + value[1] + "; " + std::to_string(kMinSide) +
                         " needed on each side); " + fallback};
  }
  const double mean[2] = {sum[0] / n[0], sum[1] / n[1]};
  const int win = objective.Better(mean[1], mean[0]) ? 1 : 0;
  const int lose = 1 - win;
  std::string because = Plural(n[win], "trial") + near + spec.name + " " + value[win] + " average " +
                        Short(mean[win]) + " vs " + std::to_string(n[lose]) + near + value[lose] +
                        " average " + Short(mean[lose]);
  if (!objective.Better(mean[win], mean[lose])) because += "; a tie, so " + fallback;
  return {win == 0 ? &fitter : &other, because};
}

struct Crossed {
  Json params;
  std::vector<std::pair<const ParamSpec*, Source>> sources;  // the parameters on which the parents differ
};

// The merge of two parents, parameter by parameter in the space's order (so conditions see the values
// already chosen); a parameter only one parent has active comes from that parent; one neither has is drawn.
Crossed Cross(const Run& run, const Trial& fitter, const Trial& other,
              const std::vector<const Trial*>& comparable) {
  Crossed out;
  Json child = Json::object();
  for (const auto& spec : run.context.space.params()) {
    if (!Space::IsActive(spec, child)) continue;
    auto f = fitter.params.find(spec.name);
    auto o = other.params.find(spec.name);
    const bool in_f = f != fitter.params.end(), in_o = o != other.params.end();
    if (!in_f && !in_o) continue;
    if (in_f && in_o && SameTypedValue(*f, *o)) {
      child[spec.name] = *f;
      continue;
    }
    Source source;
    if (in_f != in_o) {
      const Trial& holder = in_f ? fitter : other;
      source = {&holder, "only " + Num(holder) + " has " + spec.name + " active"};
    } else {
      source = ChooseSource(spec, fitter, other, comparable, run.context.objective);
    }
    child[spec.name] = source.from->params.at(spec.name);
    out.sources.emplace_back(&spec, std::move(source));
  }
  out.params = run.context.space.Complete(child, run.rng);
  return out;
}

// A new value for one parameter: x0.8, x1.2, or a shift of kShift of its range either way for numbers;
// another choice, uniformly, for categoricals and bools.
Json MutateValue(const ParamSpec& spec, const Json& value, std::mt19937_64& rng) {
  if (IsChoice(spec)) {
    if (spec.choices.size() < 2) return value;
    std::vector<Json> others;
    for (const auto& c : spec.choices) {
      if (!SameTypedValue(c, value)) others.push_back(c);
    }
    return others[std::uniform_int_distribution<size_t>(0, others.size() - 1)(rng)];
  }
  switch (std::uniform_int_distribution<int>(0, 3)(rng)) {
    case 0:
      return PerturbValue(spec, value, 0.8);
    case 1:
      return PerturbValue(spec, value, 1.2);
    default: {
      const int direction = std::uniform_int_distribution<int>(0, 1)(rng) ? 1 : -1;
      auto moved = ShiftValue(spec, value, direction, kShift);
      if (!moved) moved = ShiftValue(spec, value, -direction, kShift);
      return moved.value_or(value);
    }
  }
}

// Each active parameter mutates with `probability`, then conditions are completed. With `force`, when
// nothing changed, one parameter that can move does.
Json Mutate(const Space& space, const Json& params, double probability, bool force, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const std::vector<const ParamSpec*> active = ActiveParams(space, params);
  Json out = params;
  for (const ParamSpec* spec : active) {
    if (unit(rng) < probability) out[spec->name] = MutateValue(*spec, params.at(spec->name), rng);
  }
  out = space.Complete(out, rng);
  if (!force || !SamePoint(out, params)) return out;
  std::vector<const ParamSpec*> order = active;
  std::shuffle(order.begin(), order.end(), rng);
  for (const ParamSpec* spec : order) {
    for (int tries = 0; tries < 4; ++tries) {
      Json moved = MutateValue(*spec, params.at(spec->name), rng);
      if (SameTypedValue(moved, params.at(spec->name))) continue;
      out = params;
      out[spec->name] = std::move(moved);
      return space.Complete(out, rng);
    }
  }
  return out;
}

std::vector<std::string> ChangedNames(const Space& space, const Json& from, const Json& to) {
  std::vector<std::string> names;
  for (const auto& spec : space.params()) {
    auto a = from.find(spec.name);
    auto b = to.find(spec.name);
    const bool in_a = a != from.end(), in_b = b != to.end();
    if (in_a != in_b || (in_a && !SameTypedValue(*a, *b))) names.push_back(spec.name);
  }
  return names;
}

ProposeOutcome FreshMember(const Run& run, int g, size_t slot, const std::string& why) {
  const uint64_t draw = run.context.trials.size();
  ProposeOutcome out;
  Proposal& p = out.proposal;
  p.params = FreshSample(run.context.space, TakenPoints(run.context.trials), run.rng);
  p.op = "sample";
  SetBudget(run, g, p);
  p.rationale = "Generation " + std::to_string(g) + ", member " + std::to_string(slot + 1) + " of " +
                std::to_string(GenerationSize(run.settings, g)) + ": " + why + "a fresh random draw (seed " +
                std::to_string(run.context.seed) + ", draw " + std::to_string(draw) + ")." +
                BudgetText(run, p);
  p.evidence = Json{{"generation", g}, {"slot", slot}, {"seed", run.context.seed}, {"draw", draw}};
  return out;
}

ProposeOutcome ContinueElite(const Run& run, int g, size_t slot, const std::vector<const Trial*>& pool,
                             size_t elites) {
  const Trial& elite = *pool[slot];
  ProposeOutcome out;
  Proposal& p = out.proposal;
  p.params = elite.params;
  p.parents = {elite.id};
  p.op = "branch";
  p.change_label = "continue";
  p.restore = true;
  SetBudget(run, g, p);
  p.rationale = "Generation " + std::to_string(g) + ": " + Num(elite) + " continues unchanged as elite " +
                std::to_string(slot + 1) + " of " + std::to_string(elites) + ", ranked " +
                std::to_string(slot + 1) + " of " + PoolText(run, g, pool.size()) + " (" +
                run.context.objective.metric + " " + Short(*elite.value) + ")." + BudgetText(run, p);
  p.evidence = Json{{"generation", g},
                    {"slot", slot},
                    {"elite_rank", slot + 1},
                    {"value", *elite.value},
                    {"pool", Ids(pool)}};
  return out;
}

// Who may merge with whom in the pool: members on different branches, that is neither descends from the
// other. Partners from another root (another fresh sample's line) come first; only when there are none do
// lines that split from a common ancestor pair up, so merges keep happening after one root has taken over
// the population. Ancestries are walked once per member, so the cost stays linear in the experiment's size.
class Pairing {
 public:
  Pairing(const Graph& graph, const std::vector<const Trial*>& pool) : pool_(pool) {
    for (const Trial* t : pool) {
      roots_.push_back(graph.Root(*t).id);
      ancestors_.push_back(graph.Ancestors(*t));
    }
  }

  std::vector<const Trial*> Partners(const Trial* first) const {
    const size_t i = std::find(pool_.begin(), pool_.end(), first) - pool_.begin();
    std::vector<const Trial*> other_root, same_root;
    for (size_t j = 0; j < pool_.size(); ++j) {
      if (j == i || ancestors_[i].count(pool_[j]->id) || ancestors_[j].count(pool_[i]->id)) continue;
      (roots_[j] != roots_[i] ? other_root : same_root).push_back(pool_[j]);
    }
    return other_root.empty() ? same_root : other_root;
  }

 private:
  const std::vector<const Trial*>& pool_;
  std::vector<int64_t> roots_;
  std::vector<std::set<int64_t>> ancestors_;
};

// Why two merge parents lie on different branches, for the rationale.
std::string Branches(const Graph& graph, const Trial& a, const Trial& b) {
  const Trial& root_a = graph.Root(a);
  const Trial& root_b = graph.Root(b);
  if (root_a.id != root_b.id) return "roots " + Num(root_a) + " and " + Num(root_b);
  return "both descend from " + Num(root_a) + ", neither from the other";
}

std::string Described(const Run& run, const Trial& t) {
  return Num(t) + " (" + run.context.objective.metric + " " + Short(*t.value) + ")";
}

struct Selection {
  Tournament first;
  std::optional<Tournament> second;  // set for a crossover
  std::string fallback;              // why a drawn crossover became a mutation
};

// Draws crossover or not, then the parents by tournament. For a crossover the first tournament runs among
// the members that have a partner on another branch and the second among that winner's partners.
Selection SelectParents(const Run& run, const std::vector<const Trial*>& pool) {
  Selection out;
  const bool cross = std::uniform_real_distribution<double>(0.0, 1.0)(run.rng) < run.settings.crossover;
  std::optional<Pairing> pairing;
  std::vector<const Trial*> eligible;
  if (cross) {
    pairing.emplace(run.graph, pool);
    for (const Trial* t : pool) {
      if (!pairing->Partners(t).empty()) eligible.push_back(t);
    }
  }
  if (eligible.empty()) {
    out.first = Select(pool, run.rng);
    if (!cross) return out;
    std::set<int64_t> root_ids;
    std::vector<std::string> roots;
    for (const Trial* t : pool) {
      const Trial& root = run.graph.Root(*t);
      if (root_ids.insert(root.id).second) roots.push_back(Num(root));
    }
    out.fallback = "Crossover was drawn (probability " + FormatNumber(run.settings.crossover) +
                   ") but no two of the pool's " + Plural(pool.size(), "member") +
                   " lie on different branches: in each pair one descends from the other (their roots: " +
                   JoinStrings(roots) + "), so it is a mutation instead.";
    return out;
  }
  out.first = Select(eligible, run.rng);
  out.second = Select(pairing->Partners(out.first.winner), run.rng);
  return out;
}

struct Merge {
  const Trial* fitter = nullptr;
  const Trial* other = nullptr;
  Json params;
  Json sources = Json::object();   // parameter -> {"from": id, "because": text}
  std::vector<std::string> taken;  // "lr from #31" for each parameter taken from the other parent
  std::string text;                // for the rationale
};

Merge MergeParents(const Run& run, int g, const std::vector<const Trial*>& pool, const Selection& selection) {
  Merge m;
  const Trial* a = selection.first.winner;
  const Trial* b = selection.second->winner;
  m.fitter = run.context.objective.Better(*b->value, *a->value) ? b : a;
  m.other = m.fitter == a ? b : a;
  Crossed crossed = Cross(run, *m.fitter, *m.other, Comparable(run, g));
  m.params = std::move(crossed.params);
  std::vector<std::string> choices;
  for (const auto& [spec, source] : crossed.sources) {
    m.sources[spec->name] = Json{{"from", source.from->id}, {"because", source.because}};
    const Trial& loser = source.from == m.fitter ? *m.other : *m.fitter;
    auto lost = loser.params.find(spec->name);
    choices.push_back(spec->name + " " + Shown(source.from->params.at(spec->name)) + " from " +
                      Num(*source.from) + " (" + Num(loser) + " has " +
                      (lost == loser.params.end() ? "it inactive" : Shown(*lost)) + "): " + source.because);
    if (source.from == m.other) m.taken.push_back(spec->name + " from " + Num(*m.other));
  }
  const size_t size_a = selection.first.entrants.size(), size_b = selection.second->entrants.size();
  m.text = "crossover of " + Described(run, *m.fitter) + " and " + Described(run, *m.other) +
           ", winners of tournaments of " + std::to_string(m.fitter == a ? size_a : size_b) + " and " +
           std::to_string(m.fitter == a ? size_b : size_a) + " among " + PoolText(run, g, pool.size()) +
           ", from different branches (" + Branches(run.graph, *m.fitter, *m.other) + "). " +
           (choices.empty() ? "The parents agree on every parameter."
                            : "Where they differ: " + JoinStrings(choices, "; ") + ".");
  return m;
}

// Mutates `base`; the result never repeats the primary parent's point and, without span, avoids every point
// a trial holds when a few tries find one.
Json MutateChild(const Run& run, const Json& base, const Trial& primary) {
  const std::set<std::string> taken =
      run.settings.spans ? std::set<std::string>{} : TakenPoints(run.context.trials);
  Json child;
  for (int attempt = 0; attempt < kFreshTries; ++attempt) {
    const bool force = attempt > 0 || SamePoint(base, primary.params);
    child = Mutate(run.context.space, base, run.settings.mutation, force, run.rng);
    if (!taken.count(child.dump())) break;
  }
  return child;
}

ProposeOutcome Child(const Run& run, int g, size_t slot, const std::vector<const Trial*>& pool,
                     size_t elites) {
  const Settings& s = run.settings;
  const Selection selection = SelectParents(run, pool);
  std::optional<Merge> merge;
  if (selection.second) merge = MergeParents(run, g, pool, selection);
  const Trial& primary = merge ? *merge->fitter : *selection.first.winner;
  const Json& base = merge ? merge->params : primary.params;
  Json child = MutateChild(run, base, primary);
  const std::vector<std::string> mutated = ChangedNames(run.context.space, base, child);
  const std::string mutation_label = ChangeLabel(run.context.space, base, child);

  ProposeOutcome out;
  Proposal& p = out.proposal;
  p.params = std::move(child);
  p.parents = {primary.id};
  p.restore = s.spans;
  SetBudget(run, g, p);
  p.evidence = Json{{"generation", g},
                    {"slot", slot},
                    {"pool", Ids(pool)},
                    {"tournaments", Json::array({Ids(selection.first.entrants)})},
                    {"crossover_probability", s.crossover},
                    {"mutation_probability", s.mutation}};
  const std::string head = "Generation " + std::to_string(g) + ", child " +
                           std::to_string(slot - elites + 1) + " of " +
                           std::to_string(GenerationSize(s, g) - elites) + ": ";
  const std::string rule = " (each parameter mutates with probability " + FormatNumber(s.mutation) + ")";
  if (merge) {
    p.parents.push_back(merge->other->id);
    p.op = "crossover";
    p.change_label = merge->taken.empty() ? "all from " + Num(primary) : JoinStrings(merge->taken, " + ");
    if (!mutated.empty()) p.change_label += ", " + mutation_label;
    p.rationale =
        head + merge->text + (mutated.empty() ? "" : " Then mutated" + rule + ": " + mutation_label + ".");
    p.evidence["tournaments"].push_back(Ids(selection.second->entrants));
    p.evidence["sources"] = std::move(merge->sources);
  } else {
    p.op = "mutate";
    p.change_label = mutation_label;
    const size_t entrants = selection.first.entrants.size();
    p.rationale =
        head + "a mutated copy of " + Described(run, primary) + ", " +
        (entrants == 1 ? "the only candidate" : "winner of a tournament of " + std::to_string(entrants)) +
        " among " + PoolText(run, g, pool.size()) + ": " + mutation_label + rule + ". " +
        (selection.fallback.empty()
             ? "Crossover was not drawn (probability " + FormatNumber(s.crossover) + ")."
             : selection.fallback);
    if (!selection.fallback.empty()) p.evidence["fallback"] = selection.fallback;
  }
  p.evidence["mutated"] = mutated;
  p.rationale += BudgetText(run, p);
  return out;
}

// Slot `slot` of generation g >= 1.
ProposeOutcome Breed(const Run& run, int g, size_t slot) {
  const std::vector<const Trial*> pool = Pool(run, g);
  if (pool.empty()) {
    if (run.settings.spans) {
      ProposeOutcome out;
      out.kind = Kind::kExhausted;
      out.reason = "evolution finished: no trial of generation " + std::to_string(g - 1) +
                   " completed with a checkpoint, so there is nothing to continue";
      return out;
    }
    return FreshMember(run, g, slot,
                       "no trial of " + GenerationsBefore(g) + " has completed, so instead of a child ");
  }
  const size_t elites = run.settings.spans ? std::min<size_t>(run.settings.elite, pool.size()) : 0;
  if (slot < elites) return ContinueElite(run, g, slot, pool, elites);
  return Child(run, g, slot, pool, elites);
}

Settings MakeSettings(const StrategyContext& context, int population, int elite, double crossover,
                      double mutation, const std::optional<double>& span) {
  return Settings{population,      elite, crossover, mutation, span.has_value() && context.training.enabled(),
                  span.value_or(0)};
}

}  // namespace

EvolutionSearch::EvolutionSearch(const StrategyConfig& config)
    : population_(std::max(1, config.population)),
      elite_(std::clamp(config.elite, 0, population_ - 1)),
      crossover_(config.crossover),
      mutation_(config.mutation),
      span_(config.span) {}

ProposeOutcome EvolutionSearch::Propose(const StrategyContext& context) {
  const Settings settings = MakeSettings(context, population_, elite_, crossover_, mutation_, span_);
  const Graph graph(context.trials);
  std::mt19937_64 rng = ProposalGenerator(context.seed, context.trials.size(), kStream);
  const Run run{context, settings, graph, rng};
  if (graph.generations().empty()) return FreshMember(run, 0, 0, "");

  const auto& [g, members] = *graph.generations().rbegin();
  if (members.size() < GenerationSize(settings, g)) {
    return g == 0 ? FreshMember(run, 0, members.size(), "") : Breed(run, g, members.size());
  }
  std::vector<std::string> unfinished;
  for (const Trial* t : members) {
    if (!IsFinished(t->state)) unfinished.push_back(Num(*t));
  }
  ProposeOutcome out;
  if (!unfinished.empty()) {
    out.kind = Kind::kWait;
    out.reason = "generation " + std::to_string(g) + " is unfinished: " + Plural(unfinished.size(), "trial") +
                 " of " + std::to_string(members.size()) + " still to finish (" + JoinStrings(unfinished) +
                 ") before generation " + std::to_string(g + 1) + " is bred";
    return out;
  }
  if (settings.spans && GenerationEnd(settings, context.training, g) >= context.training.max) {
    const Trial* best = nullptr;
    for (const Trial* t : members) {
      if (HasValue(*t) && (!best || context.objective.Better(*t->value, *best->value))) best = t;
    }
    out.kind = Kind::kExhausted;
    out.reason = "evolution finished: generation " + std::to_string(g) + " reached training.max (" +
                 FormatNumber(context.training.max) + " " + context.training.unit + "); " +
                 (best ? "its best trial is " + Described(run, *best) : "none of its trials completed");
    return out;
  }
  return Breed(run, g + 1, 0);
}

std::set<int64_t> EvolutionSearch::Frontier(const StrategyContext& context) const {
  const Settings settings = MakeSettings(context, population_, elite_, crossover_, mutation_, span_);
  std::set<int64_t> frontier;
  if (!settings.spans) return frontier;
  const Graph graph(context.trials);
  if (graph.generations().empty()) return frontier;
  const auto& [g, members] = *graph.generations().rbegin();
  bool finished = members.size() >= GenerationSize(settings, g);
  for (const Trial* t : members) {
    finished = finished && IsFinished(t->state);
    if (HasValue(*t)) frontier.insert(t->id);
  }
  // While generation g is under way, generation g-1 still hands out checkpoints.
  auto previous = graph.generations().find(g - 1);
  if (!finished && previous != graph.generations().end()) {
    for (const Trial* t : previous->second) {
      if (HasValue(*t)) frontier.insert(t->id);
    }
  }
  return frontier;
}

}  // namespace hyperion
