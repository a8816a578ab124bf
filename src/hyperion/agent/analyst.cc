#include "hyperion/agent/analyst.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "hyperion/agent/analyst_parts.h"
#include "hyperion/common/text.h"
#include "hyperion/strategy/gp_encoding.h"
#include "hyperion/strategy/graph_common.h"
#include "hyperion/strategy/mutation.h"
#include "hyperion/strategy/tpe_search.h"

namespace hyperion {
namespace {

using analyst::History;
using analyst::Model;
using analyst::Num;
using analyst::Plural;
using analyst::Region;
using analyst::Settings;
using analyst::Share;
using analyst::Short;
using analyst::View;

constexpr int kDesignTries = 16;  // Latin hypercubes drawn for the start; the most spread one is used
constexpr size_t kGpLimit = 300;  // measured trials up to which the GP proposes; TPE beyond
constexpr size_t kMergePool = 6;  // the best trials merges are drawn from
// The last 5% of a fixed budget of trials polish the best trial instead of exploring.
constexpr double kPolishShare = 0.05;
constexpr double kShifts[] = {0.003, 0.01, 0.03, 0.1, 0.3};             // branch moves, in unit range
constexpr double kPolishShifts[] = {0.0003, 0.001, 0.003, 0.01, 0.03};  // polish moves, in unit range

// A Latin hypercube of n points in [0, 1]^dims: each dimension's n strata hold one point each. The most
// spread of kDesignTries (largest smallest distance between two points) is used.
struct Design {
  std::vector<std::vector<double>> points;
  double min_distance = 0;
};

Design SpaceFilling(int n, size_t dims, uint64_t seed) {
  std::mt19937_64 rng = ProposalGenerator(seed, 0, analyst::kStream + 2);
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  Design best;
  best.min_distance = -1;
  for (int attempt = 0; attempt < kDesignTries; ++attempt) {
    std::vector<std::vector<double>> points(n, std::vector<double>(dims));
    for (size_t d = 0; d < dims; ++d) {
      std::vector<int> strata(n);
      std::iota(strata.begin(), strata.end(), 0);
      std::shuffle(strata.begin(), strata.end(), rng);
      for (int i = 0; i < n; ++i) points[i][d] = (strata[i] + jitter(rng)) / n;
    }
    double min_distance = n > 1 ? 1e300 : 0;
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < i; ++j) {
        double s = 0;
        for (size_t d = 0; d < dims; ++d) s += (points[i][d] - points[j][d]) * (points[i][d] - points[j][d]);
        min_distance = std::min(min_distance, std::sqrt(s));
      }
    }
    if (min_distance > best.min_distance) best = {std::move(points), min_distance};
  }
  return best;
}

// The values one move away from `value`: every other choice, or shifts of each size up and down (in unit
// range).
template <size_t N>
std::vector<Json> NeighbourMoves(const ParamSpec& spec, const Json& value, const double (&shifts)[N]) {
  std::vector<Json> moves;
  if (IsChoice(spec)) {
    for (const Json& choice : spec.choices) {
      if (!SameTypedValue(choice, value)) moves.push_back(choice);
    }
    return moves;
  }
  for (double d : shifts) {
    for (int direction : {+1, -1}) {
      if (auto moved = ShiftValue(spec, value, direction, d)) moves.push_back(*moved);
    }
  }
  return moves;
}

// The same parameters with the same typed values.
bool SamePoint(const Json& a, const Json& b) {
  if (a.size() != b.size()) return false;
  for (auto it = a.begin(); it != a.end(); ++it) {
    auto other = b.find(it.key());
    if (other == b.end() || !SameTypedValue(it.value(), *other)) return false;
  }
  return true;
}

struct Candidate {
  Proposal proposal;
  double ei = -1;  // the model's expected improvement; -1 when none was found
  GaussianProcess::Prediction predicted;
  std::string because;  // the operator's own reasons, for the rationale
};

// One call's worth of analysis: everything rebuilt from the context.
class Planner {
 public:
  explicit Planner(const AgentContext& context)
      : context_(context),
        settings_(Settings::For(context.config, context)),
        history_(History::Read(context)),
        view_(context) {
    view_.Reject(history_.rejected_points);
    regions_ = analyst::FindBadRegions(view_);
    design_ = SpaceFilling(settings_.initial, view_.space().params().size(), context.seed);
  }

  const Settings& settings() const { return settings_; }
  const History& history() const { return history_; }
  const View& view() const { return view_; }
  const std::vector<Region>& regions() const { return regions_; }

  // The next start point not proposed yet (and not refused), or nullopt once the start is done.
  std::optional<int> NextDesignIndex() const {
    // Trials from elsewhere (an LLM's proposals, an earlier run) count towards the start as well.
    if (view_.trials().size() >= static_cast<size_t>(settings_.initial)) return std::nullopt;
    std::set<int> used = history_.rejected_design;
    for (const Trial& t : view_.trials()) {
      auto it = t.evidence.find("design_index");
      if (it != t.evidence.end() && it->is_number_integer()) used.insert(it->get<int>());
    }
    for (int k = 0; k < settings_.initial; ++k) {
      if (!used.count(k)) return k;
    }
    return std::nullopt;
  }

  std::string Phase() {
    if (history_.stopped) return "stopped";
    if (auto k = NextDesignIndex()) {
      return "space-filling start (" + std::to_string(*k) + " of " + std::to_string(settings_.initial) +
             " proposed)";
    }
    if (view_.measured().size() < 2) return "space-filling start (waiting for results)";
    return std::string("model-based (") + (view_.measured().size() > kGpLimit ? "tpe" : "gp") + " on " +
           Plural(view_.measured().size(), "measured trial") + ")";
  }

  // The model of the trials as they are now (this call's proposals included as pending); refitted after
  // each proposal.
  const Model* model() {
    if (!model_fitted_) {
      model_ = Model::Fit(view_, context_.seed);
      importance_ = model_ ? model_->Importance() : std::vector<Share>{};
      model_fitted_ = true;
    }
    return model_.get();
  }
  const std::vector<Share>& importance() {
    model();
    return importance_;
  }

  // The next proposal, seen as pending from then on; nullopt when every point is taken.
  std::optional<Proposal> Next(const std::optional<analyst::NoteAction>& note, std::string* note_words) {
    std::mt19937_64 rng = Rng();
    std::optional<Proposal> p;
    if (note && !view_.ranked().empty()) p = NoteProposal(*note, rng, note_words);
    if (!p) p = Choose(rng);
    if (!p) return std::nullopt;
    if (view_.training().enabled()) {
      p->budget_from = 0.0;
      p->budget_to = view_.training().max;
    }
    AppendRegions(*p);
    view_.AddPending(*p);
    model_fitted_ = false;
    return p;
  }

 private:
  std::mt19937_64 Rng() const {
    return ProposalGenerator(context_.seed, view_.trials().size(), analyst::kStream);
  }

  // Keeps `params` out of the bad regions; an empty object when the result is taken.
  Json Admissible(Json params, std::mt19937_64& rng) const {
    params = analyst::Confine(view_.space(), regions_, std::move(params), rng);
    if (view_.Taken(params)) return Json::object();
    return params;
  }

  std::optional<Proposal> Choose(std::mt19937_64& rng) {
    if (auto k = NextDesignIndex()) return StartPoint(*k, rng);
    if (!model()) return RandomPoint(rng);
    if (FinalStretch() || DrySpell()) {
      Candidate polish = PolishCandidate(rng);
      if (polish.ei >= 0) {
        polish.proposal.rationale = polish.because;
        return polish.proposal;
      }
    }
    Candidate fresh = ModelCandidate(rng);
    Candidate branch = BranchCandidate(rng);
    Candidate merge = MergeCandidate(rng);
    // Each operator's expected improvement is weighted by how often that operator improved the best so
    // far in this experiment (with one success and one failure assumed for each, so a new one gets tried).
    const std::map<std::string, Record> record = TrackRecord();
    auto rate = [&](const char* op) {
      auto it = record.find(op);
      return it == record.end() ? 0.5 : it->second.Rate();
    };
    const double score_fresh = fresh.ei * rate("model");
    const double score_branch = branch.ei * rate("branch");
    const double score_merge = merge.ei * rate("merge");
    Candidate* chosen = &fresh;
    double top = score_fresh;
    if (branch.ei > 0 && score_branch > top) chosen = &branch, top = score_branch;
    if (merge.ei > 0 && score_merge > top) chosen = &merge, top = score_merge;
    if (chosen->ei < 0) return RandomPoint(rng);
    Proposal& p = chosen->proposal;
    // What the others offered, so the rationale says why this one won.
    auto described = [&](const char* op, const std::string& what, const Candidate& c) {
      auto it = record.find(op);
      const Record r = it == record.end() ? Record{} : it->second;
      if (c.ei < 0) return what + " none";
      return what + " EI " + Short(c.ei) + " x (" + std::to_string(r.improved) + "+1)/(" +
             std::to_string(r.tried) + "+2)";
    };
    p.rationale = chosen->because +
                  " Chosen as the largest expected improvement times the operator's success rate here "
                  "(improved the best / tried, plus one of each): " +
                  described("model", "fresh point", fresh) + ", " + described("branch", "branch", branch) +
                  ", " + described("merge", "merge", merge) + ".";
    p.evidence["alternatives"] = Json{{"model", fresh.ei}, {"branch", branch.ei}, {"merge", merge.ei}};
    Json records = Json::object();
    for (const auto& [op, r] : record) records[op] = Json{{"improved", r.improved}, {"tried", r.tried}};
    p.evidence["record"] = records;
    return p;
  }

  struct Record {
    int tried = 0, improved = 0;
    double Rate() const { return (improved + 1.0) / (tried + 2.0); }
  };

  // How often each of the analyst's operators improved on the best trial finished before it (by number):
  // fresh model points ("model"), branches ("branch") and merges ("merge").
  std::map<std::string, Record> TrackRecord() const {
    std::map<std::string, Record> record;
    std::optional<double> best;
    for (const Trial* t : view_.finished()) {
      const bool measured = t->value && std::isfinite(*t->value) &&
                            (t->state == TrialState::kCompleted || t->state == TrialState::kPruned);
      const double y = measured ? view_.Y(*t->value) : 0;
      const std::string family = t->evidence.value("operator", t->op == "model" ? "model" : "");
      if (!family.empty() && t->evidence.value("phase", "") == "model") {
        Record& r = record[family];
        ++r.tried;
        if (measured && best && y < *best) ++r.improved;
      }
      if (measured && (!best || y < *best)) best = y;
    }
    return record;
  }

  // The last trials of a fixed budget: no time left to explore.
  bool FinalStretch() const {
    if (!context_.trials_left || !context_.config.budget.max_trials) return false;
    const int64_t left =
        *context_.trials_left - static_cast<int64_t>(view_.trials().size() - view_.context_size());
    return left <= std::llround(kPolishShare * static_cast<double>(*context_.config.budget.max_trials));
  }

  // No progress over half the patience: the search refines the best locally before the stall rule may end
  // it, so a stop means the best could not be improved nearby either.
  bool DrySpell() const {
    const size_t since = analyst::TrialsSinceProgress(view_, settings_);
    return since >= static_cast<size_t>(std::max(5, settings_.patience / 2)) &&
           since < view_.finished().size();
  }

  // The best trial moved along one parameter by a small step (0.03% to 3% of its range, either way, or
  // another choice), the move with the largest expected improvement taken: a model-guided local search.
  Candidate PolishCandidate(std::mt19937_64& rng) {
    Candidate c;
    const Model* m = model();
    if (!m || view_.ranked().empty()) return c;
    const Trial& best = *view_.ranked().front();
    const Space& space = view_.space();
    double chosen_ei = -1, chosen_mean = 1e300;
    for (const ParamSpec* spec : ActiveParams(space, best.params)) {
      const Json& value = best.params.at(spec->name);
      std::vector<Json> moves = NeighbourMoves(*spec, value, kPolishShifts);
      for (const Json& move : moves) {
        Json params = best.params;
        params[spec->name] = move;
        params = Admissible(space.Complete(params, rng), rng);
        if (params.empty()) continue;
        const auto predicted = m->Predict(params);
        const double ei = gp::ExpectedImprovement(predicted, m->best(), 0);
        if (ei > chosen_ei || (ei == chosen_ei && predicted.mean < chosen_mean)) {
          chosen_ei = ei;
          chosen_mean = predicted.mean;
          c.proposal.params = std::move(params);
        }
      }
    }
    if (chosen_ei < 0) return c;
    c.ei = m->Ei(c.proposal.params);
    c.predicted = m->Predict(c.proposal.params);
    Proposal& p = c.proposal;
    p.parents = {best.id};
    p.op = "mutate";
    p.change_label = ChangeLabel(space, best.params, p.params);
    const std::string why =
        FinalStretch() ? "in the budget's last " + Plural(static_cast<size_t>(*context_.trials_left), "trial")
                       : "after " + Plural(analyst::TrialsSinceProgress(view_, settings_), "finished trial") +
                             " without progress beyond the tolerance, before the stall rule (patience " +
                             std::to_string(settings_.patience) + ") may end the search";
    c.because =
        "Polishing the best trial " + BestText(best) + " " + why +
        ": the move of one parameter by 0.03% to 3% of its range with the largest expected improvement, " +
        p.change_label + ", " + Predicted(c.predicted) + ".";
    p.evidence = Json{{"phase", "model"},
                      {"operator", "polish"},
                      {"parent", best.number},
                      {"parent_value", *best.value},
                      {"expected_improvement", c.ei},
                      {"predicted_mean", view_.Shown(c.predicted.mean)},
                      {"predicted_stddev", c.predicted.stddev}};
    return c;
  }

  std::optional<Proposal> StartPoint(int k, std::mt19937_64& rng) const {
    const Space& space = view_.space();
    const std::vector<double>& u = design_.points[k];
    Json params = Json::object();
    for (size_t d = 0; d < space.params().size(); ++d) {
      const ParamSpec& spec = space.params()[d];
      if (Space::IsActive(spec, params)) params[spec.name] = Space::FromUnit(spec, u[d]);
    }
    params = space.Complete(params, rng);
    Json admissible = Admissible(params, rng);
    std::string note;
    if (admissible.empty()) {  // a small discrete space or a bad region mapped it onto a trial already run
      admissible = Admissible(FreshSample(space, TakenPoints(view_.trials()), rng), rng);
      note = " Its cell held a point already tried, so a random point stands in.";
    }
    if (admissible.empty()) return std::nullopt;  // a small space, all of it tried
    Proposal p;
    p.params = std::move(admissible);
    p.op = "sample";
    p.change_label = "start " + std::to_string(k + 1) + "/" + std::to_string(settings_.initial);
    p.rationale =
        "Space-filling start, point " + std::to_string(k + 1) + " of " + std::to_string(settings_.initial) +
        ": a Latin hypercube over " + Plural(space.params().size(), "parameter") + " (the most spread of " +
        std::to_string(kDesignTries) + " drawn, smallest distance between two points " +
        Short(design_.min_distance) + " in the unit cube), so the model that follows has seen every " +
        "part of the space." + note;
    p.evidence = Json{{"phase", "start"},
                      {"design_index", k},
                      {"design_size", settings_.initial},
                      {"min_distance", design_.min_distance},
                      {"seed", context_.seed}};
    return p;
  }

  std::optional<Proposal> RandomPoint(std::mt19937_64& rng) const {
    const Space& space = view_.space();
    std::set<std::string> taken = TakenPoints(view_.trials());
    taken.insert(history_.rejected_points.begin(), history_.rejected_points.end());
    Json params;
    for (int attempt = 0; attempt < 8 && (params.is_null() || params.empty()); ++attempt) {
      params = Admissible(FreshSample(space, taken, rng), rng);
    }
    if (params.empty()) return std::nullopt;
    Proposal p;
    p.params = std::move(params);
    p.op = "sample";
    p.change_label = "random";
    const size_t measured = view_.measured().size();
    p.rationale = "Random point while the start's results come in: " + Plural(measured, "trial") +
                  " measured so far, and the model needs 2 (" + std::to_string(view_.bad().size()) +
                  " failed, " + std::to_string(context_.running) + " running).";
    p.evidence = Json{{"phase", "start"}, {"measured", measured}, {"failed", view_.bad().size()}};
    return p;
  }

  // "the best val_acc 0.95 (#12)"
  std::string BestText(const Trial& best) const {
    return view_.objective().metric + " " + Short(*best.value) + " (" + Num(best) + ")";
  }

  std::string Predicted(const GaussianProcess::Prediction& p) const {
    return "predicted " + Short(view_.Shown(p.mean)) + " +- " + Short(p.stddev);
  }

  // The model's best fresh point: the GP's expected improvement maximised over a broad random sweep, the
  // neighbourhoods of the best trials and a shrinking local search, as GpSearch does (TPE's proposal once
  // the GP would see too few of the trials).
  Candidate ModelCandidate(std::mt19937_64& rng) {
    Candidate c;
    const Model* m = model();
    if (!m) return c;
    const Space& space = view_.space();
    const bool tpe = view_.measured().size() > kGpLimit;
    if (tpe) {
      TpeSearch search;
      ProposeOutcome out = search.Propose(
          StrategyContext{space, view_.objective(), view_.trials(), context_.seed, view_.training()});
      Json params = Admissible(out.proposal.params, rng);
      if (params.empty()) params = Admissible(space.Sample(rng), rng);
      if (params.empty()) return c;
      c.proposal.params = std::move(params);
      c.ei = m->Ei(c.proposal.params);
    } else {
      auto consider = [&](Json params) {
        params = Admissible(std::move(params), rng);
        if (params.empty()) return;
        const double ei = m->Ei(params);
        if (ei > c.ei) {
          c.ei = ei;
          c.proposal.params = std::move(params);
        }
      };
      for (int i = 0; i < 512; ++i) consider(space.Sample(rng));
      std::vector<const Trial*> best = view_.measured();
      std::stable_sort(best.begin(), best.end(), [&](const Trial* a, const Trial* b) {
        return view_.Y(*a->value) < view_.Y(*b->value);
      });
      const double kSteps[] = {0.02, 0.08, 0.2};
      for (size_t k = 0; k < std::min<size_t>(5, best.size()); ++k) {
        for (int i = 0; i < 48; ++i) consider(gp::Perturb(space, best[k]->params, kSteps[i % 3], rng));
      }
      if (c.ei < 0) return c;
      for (int i = 0; i < 64; ++i)
        consider(gp::Perturb(space, c.proposal.params, 0.1 * std::pow(0.95, i), rng));
    }
    c.predicted = m->Predict(c.proposal.params);
    const Trial* incumbent = view_.Find(m->incumbent());
    Proposal& p = c.proposal;
    p.op = "model";
    p.change_label = tpe ? "tpe" : "gp: EI " + Short(c.ei);
    c.because = std::string(tpe ? "TPE's proposal over " : "The GP's best fresh point over ") +
                Plural(m->trained_on(), "measured trial") + ": expected improvement " + Short(c.ei) +
                " on the best " + BestText(*incumbent) + ", " + Predicted(c.predicted) + "." +
                ImportanceSentence();
    p.evidence = Json{{"phase", "model"},
                      {"model", tpe ? "tpe" : "gp-matern52-ard"},
                      {"expected_improvement", c.ei},
                      {"best_trial", incumbent->number},
                      {"best_value", *incumbent->value},
                      {"predicted_mean", view_.Shown(c.predicted.mean)},
                      {"predicted_stddev", c.predicted.stddev},
                      {"trained_on", m->trained_on()},
                      {"importance", ImportanceJson()}};
    return c;
  }

  std::string ImportanceSentence() {
    const auto& shares = importance();
    if (shares.empty()) return "";
    return " " + analyst::ImportanceText(shares) + ".";
  }

  Json ImportanceJson() {
    Json out = Json::object();
    for (const Share& s : importance()) out[s.param] = s.share;
    return out;
  }

  // The share of `param`, 0 when the model has none.
  double ShareOf(const std::string& param) {
    for (const Share& s : importance()) {
      if (s.param == param) return s.share;
    }
    return 0;
  }

  // The best trial refined along one parameter, the most important first: each parameter's moves (up and
  // down by 0.3% to 30% of its range, or another choice) are scored by the model, and the first parameter
  // in order of importance whose best move has at least half the best EI of all is taken.
  Candidate BranchCandidate(std::mt19937_64& rng) {
    Candidate c;
    const Model* m = model();
    if (!m || view_.ranked().empty()) return c;
    const Trial& best = *view_.ranked().front();
    const Space& space = view_.space();
    std::vector<const ParamSpec*> order = ActiveParams(space, best.params);
    std::stable_sort(order.begin(), order.end(), [&](const ParamSpec* a, const ParamSpec* b) {
      return ShareOf(a->name) > ShareOf(b->name);
    });
    std::vector<Candidate> per_param;
    double top = -1;
    for (const ParamSpec* spec : order) {
      const Json& value = best.params.at(spec->name);
      std::vector<Json> moves = NeighbourMoves(*spec, value, kShifts);
      Candidate here;
      for (const Json& move : moves) {
        Json params = best.params;
        params[spec->name] = move;
        params = Admissible(space.Complete(params, rng), rng);
        if (params.empty()) continue;
        const double ei = m->Ei(params);
        if (ei > here.ei) {
          here.ei = ei;
          here.proposal.params = std::move(params);
        }
      }
      here.because = spec->name;
      top = std::max(top, here.ei);
      per_param.push_back(std::move(here));
    }
    for (size_t i = 0; i < per_param.size(); ++i) {
      if (per_param[i].ei < 0 || per_param[i].ei < 0.5 * top) continue;
      c = std::move(per_param[i]);
      const ParamSpec& spec = *order[i];
      const std::string share =
          ShareOf(spec.name) > 0
              ? std::to_string(std::lround(100 * ShareOf(spec.name))) + "% of the variation"
              : "no importance estimate yet";
      const std::string rank =
          i == 0 ? "its most important parameter"
                 : "its " + graph::Ordinal(static_cast<int64_t>(i) + 1) + " most important parameter";
      c.predicted = m->Predict(c.proposal.params);
      Proposal& p = c.proposal;
      p.parents = {best.id};
      p.op = "mutate";
      p.change_label = ChangeLabel(space, best.params, p.params);
      c.because = "Refining the best trial " + BestText(best) + " along " + spec.name + ", " + rank + " (" +
                  share + "): " + p.change_label + "; expected improvement " + Short(c.ei) + ", " +
                  Predicted(c.predicted) + ".";
      if (i > 0) {
        c.because += " The moves of " + JoinStrings([&] {
                       std::vector<std::string> names;
                       for (size_t j = 0; j < i; ++j) names.push_back(order[j]->name);
                       return names;
                     }()) +
                     " promise less than half of that.";
      }
      p.evidence = Json{{"phase", "model"},
                        {"operator", "branch"},
                        {"parent", best.number},
                        {"parent_value", *best.value},
                        {"param", spec.name},
                        {"importance_rank", i + 1},
                        {"importance_share", ShareOf(spec.name)},
                        {"from", best.params.at(spec.name)},
                        {"to", p.params.contains(spec.name) ? p.params.at(spec.name) : Json()},
                        {"expected_improvement", c.ei},
                        {"predicted_mean", view_.Shown(c.predicted.mean)},
                        {"predicted_stddev", c.predicted.stddev}};
      return c;
    }
    return Candidate{};
  }

  // Two good trials on separate branches (different roots, neither descends from the other) merged: each
  // parameter on which they differ comes from the side whose value the model's partial dependence favours.
  // The pair among the best kMergePool whose merge has the highest EI is taken.
  Candidate MergeCandidate(std::mt19937_64& rng) {
    Candidate c;
    const Model* m = model();
    if (!m) return c;
    const Space& space = view_.space();
    std::vector<const Trial*> pool(view_.ranked().begin(),
                                   view_.ranked().begin() + std::min(kMergePool, view_.ranked().size()));
    std::vector<int64_t> roots;
    std::vector<std::set<int64_t>> ancestors;
    for (const Trial* t : pool) {
      roots.push_back(view_.Root(*t).id);
      ancestors.push_back(view_.Ancestors(*t));
    }
    for (size_t i = 0; i < pool.size(); ++i) {
      for (size_t j = i + 1; j < pool.size(); ++j) {
        const Trial& a = *pool[i];
        const Trial& b = *pool[j];
        if (roots[i] == roots[j] || ancestors[i].count(b.id) || ancestors[j].count(a.id)) continue;
        Json child = Json::object();
        Json sources = Json::object();
        std::vector<std::string> from_a, from_b, reasons;
        for (const auto& spec : space.params()) {
          if (!Space::IsActive(spec, child)) continue;
          auto va = a.params.find(spec.name);
          auto vb = b.params.find(spec.name);
          const bool in_a = va != a.params.end(), in_b = vb != b.params.end();
          if (!in_a && !in_b) continue;
          if (in_a && in_b && SameTypedValue(*va, *vb)) {
            child[spec.name] = *va;
            continue;
          }
          bool take_a = in_a;
          Json why = Json::object();
          if (in_a && in_b) {
            const double ma = m->PartialMean(spec, *va), mb = m->PartialMean(spec, *vb);
            take_a = ma <= mb;
            why = Json{{"model_mean", view_.Shown(take_a ? ma : mb)},
                       {"other_model_mean", view_.Shown(take_a ? mb : ma)}};
            const Json& won = take_a ? *va : *vb;
            const Json& lost = take_a ? *vb : *va;
            reasons.push_back(spec.name + " " + LabelValue(won) + " from " + Num(take_a ? a : b) +
                              " (model " + Short(view_.Shown(take_a ? ma : mb)) + " vs " +
                              Short(view_.Shown(take_a ? mb : ma)) + " at " + LabelValue(lost) + ")");
          } else {
            reasons.push_back(spec.name + " from " + Num(take_a ? a : b) + " (only it has " + spec.name +
                              ")");
          }
          child[spec.name] = take_a ? *va : *vb;
          why["from"] = (take_a ? a : b).number;
          why["value"] = child[spec.name];
          sources[spec.name] = why;
          (take_a ? from_a : from_b).push_back(spec.name);
        }
        if (from_a.empty() || from_b.empty()) continue;  // one side wins everywhere: no merge
        Json params = Admissible(space.Complete(child, rng), rng);
        if (params.empty() || SamePoint(params, a.params) || SamePoint(params, b.params)) continue;
        const double ei = m->Ei(params);
        if (ei <= c.ei) continue;
        c.ei = ei;
        c.predicted = m->Predict(params);
        Proposal& p = c.proposal;
        p.params = std::move(params);
        p.parents = {a.id, b.id};
        p.op = "crossover";
        p.change_label =
            JoinStrings(from_a) + " from " + Num(a) + " + " + JoinStrings(from_b) + " from " + Num(b);
        c.because = "Merging two good lines on separate branches: " + BestText(a) + ", root #" +
                    std::to_string(view_.Find(roots[i])->number) + ", and " + BestText(b) + ", root #" +
                    std::to_string(view_.Find(roots[j])->number) +
                    "; each parameter from the side the model's " +
                    "average over the other parameters favours: " + JoinStrings(reasons, "; ") +
                    ". Expected improvement " + Short(ei) + ", " + Predicted(c.predicted) + ".";
        p.evidence = Json{{"phase", "model"},
                          {"operator", "merge"},
                          {"parents", {a.number, b.number}},
                          {"parent_values", {*a.value, *b.value}},
                          {"roots", {view_.Find(roots[i])->number, view_.Find(roots[j])->number}},
                          {"sources", sources},
                          {"expected_improvement", ei},
                          {"predicted_mean", view_.Shown(c.predicted.mean)},
                          {"predicted_stddev", c.predicted.stddev}};
      }
    }
    return c;
  }

  // A note that names a parameter and a direction: the best trial with that parameter moved a tenth of
  // its range (or to the neighbouring choice) that way.
  std::optional<Proposal> NoteProposal(const analyst::NoteAction& note, std::mt19937_64& rng,
                                       std::string* words) {
    const Trial& best = *view_.ranked().front();
    auto value = best.params.find(note.spec->name);
    const std::string way = note.direction > 0 ? "larger" : "smaller";
    if (value == best.params.end()) {
      *words =
          note.spec->name + " is not active in the best trial " + Num(best) + ", so there is nothing to move";
      return std::nullopt;
    }
    std::optional<Json> moved;
    for (double d : {0.1, 0.03, 0.01}) {
      if (moved) break;
      auto candidate = ShiftValue(*note.spec, *value, note.direction, d);
      if (!candidate) continue;
      Json params = best.params;
      params[note.spec->name] = *candidate;
      params = analyst::Confine(view_.space(), regions_, view_.space().Complete(params, rng), rng);
      if (!view_.Taken(params) && !SamePoint(params, best.params)) {
        Proposal p;
        p.params = std::move(params);
        moved = p.params;
      }
    }
    if (!moved) {
      *words = note.spec->name + " " + LabelValue(*value) + " in the best trial " + Num(best) +
               " cannot go " + way + " (a bound, a bad region or a point already tried)";
      return std::nullopt;
    }
    Proposal p;
    p.params = *moved;
    p.parents = {best.id};
    p.op = "mutate";
    p.change_label = ChangeLabel(view_.space(), best.params, p.params);
    *words = "acting on it: the best trial " + BestText(best) + " with " + p.change_label;
    p.rationale = "A " + way + " " + note.spec->name + " as the note asks.";
    if (const Model* m = model()) {
      const auto predicted = m->Predict(p.params);
      p.rationale += " The model predicts " + Short(view_.Shown(predicted.mean)) + " +- " +
                     Short(predicted.stddev) + " there, from " + Plural(m->trained_on(), "measured trial") +
                     ".";
    }
    p.evidence = Json{{"phase", "note"},
                      {"parent", best.number},
                      {"parent_value", *best.value},
                      {"param", note.spec->name},
                      {"direction", note.direction}};
    return p;
  }

  // Every proposal keeps out of the bad regions and says so.
  void AppendRegions(Proposal& p) const {
    if (regions_.empty()) return;
    std::vector<std::string> sentences;
    Json evidence = Json::array();
    for (const Region& r : regions_) {
      sentences.push_back(r.Sentence());
      evidence.push_back(r.ToJson());
    }
    p.rationale += " Kept out of bad regions: " + JoinStrings(sentences, "; ") + ".";
    p.evidence["bad_regions"] = evidence;
  }

  const AgentContext& context_;
  Settings settings_;
  History history_;
  View view_;
  std::vector<Region> regions_;
  Design design_;
  bool model_fitted_ = false;
  std::unique_ptr<Model> model_;
  std::vector<Share> importance_;
};

// The notes no decision has answered yet.
std::vector<const Note*> OpenNotes(const AgentContext& context, const History& history) {
  std::vector<const Note*> open;
  for (const Note& n : context.notes) {
    if (!n.acknowledged && !history.acknowledged.count(n.event_id)) open.push_back(&n);
  }
  return open;
}

// Up to `n` proposals, the first acting on the first open note that names a parameter and a direction.
std::vector<Proposal> Propose(Planner& planner, int n, const std::vector<const Note*>& notes,
                              std::map<int64_t, std::string>* note_words) {
  std::vector<Proposal> proposals;
  std::optional<analyst::NoteAction> action;
  const Note* acted = nullptr;
  for (const Note* note : notes) {
    if (auto a = analyst::ReadNote(planner.view().space(), note->text)) {
      action = a;
      acted = note;
      break;
    }
  }
  for (int i = 0; i < n; ++i) {
    std::string words;
    auto p = planner.Next(i == 0 ? action : std::nullopt, &words);
    if (!p) break;
    if (acted && i == 0 && note_words && !words.empty()) (*note_words)[acted->event_id] = words;
    proposals.push_back(std::move(*p));
  }
  return proposals;
}

std::string Quoted(const std::string& text) {
  constexpr size_t kMax = 120;
  return "'" + (text.size() > kMax ? text.substr(0, kMax) + "..." : text) + "'";
}

}  // namespace

Json Insight::ToJson() const {
  Json importance_json = Json::array();
  for (const auto& [name, share] : importance)
    importance_json.push_back(Json{{"param", name}, {"share", share}});
  Json suggestions_json = Json::array();
  for (const Proposal& p : suggestions) {
    suggestions_json.push_back(Json{{"params", p.params},
                                    {"op", p.op},
                                    {"parents", p.parents},
                                    {"change_label", p.change_label},
                                    {"rationale", p.rationale},
                                    {"evidence", p.evidence}});
  }
  return Json{{"phase", phase},
              {"importance", importance_json},
              {"bad_regions", bad_regions},
              {"suggestions", suggestions_json}};
}

Analyst::Analyst(const ExperimentConfig& config) : options_(config.strategy) {}

Insight Analyst::Analyse(const AgentContext& context, int suggestions) const {
  Planner planner(context);
  Insight insight;
  insight.phase = planner.Phase();
  for (const Share& s : planner.importance()) insight.importance.emplace_back(s.param, s.share);
  for (const Region& r : planner.regions()) insight.bad_regions.push_back(r.Sentence());
  if (!planner.history().stopped) insight.suggestions = Propose(planner, suggestions, {}, nullptr);
  return insight;
}

AgentReply Analyst::Decide(const AgentContext& context) {
  Planner planner(context);
  const View& view = planner.view();
  AgentReply reply;
  reply.prunes = analyst::PlateauPrunes(view, planner.history(), planner.settings());
  const std::vector<const Note*> notes = OpenNotes(context, planner.history());
  std::map<int64_t, std::string> note_words;
  // A note given after the stop (a person resumed the experiment with a hint) reopens the search.
  const bool reopened = std::any_of(notes.begin(), notes.end(), [&](const Note* note) {
    return note->event_id > planner.history().stopped_at;
  });
  size_t failed = 0;
  for (const Trial& t : context.trials)
    failed += t.state == TrialState::kFailed || t.state == TrialState::kTimedOut;
  const size_t give_up_after = static_cast<size_t>(std::max(5, planner.settings().initial));
  if (planner.history().stopped && !reopened) {
    reply.wait_reason = "the analyst stopped the search earlier; running trials finish";
  } else {
    const bool stall_possible = !planner.history().stop_rejected && !planner.NextDesignIndex() &&
                                view.finished().size() >= static_cast<size_t>(planner.settings().initial +
                                                                              planner.settings().patience);
    if (stall_possible) {
      size_t polished = 0;
      const auto& finished = view.finished();
      for (size_t i = finished.size() - planner.settings().patience; i < finished.size(); ++i)
        polished += finished[i]->evidence.value("operator", "") == "polish" ? 1 : 0;
      reply.stop = analyst::StallStop(view, planner.settings(), polished);
    }
    int slots = context.free_slots;
    if (context.trials_left) slots = static_cast<int>(std::min<int64_t>(slots, *context.trials_left));
    if (!reply.stop && view.measured().empty() && failed >= give_up_after && context.running == 0) {
      // Nothing has ever produced a value: the command, not the search, needs attention.
      const Trial* last = nullptr;
      for (const Trial& t : context.trials)
        if (t.state == TrialState::kFailed || t.state == TrialState::kTimedOut) last = &t;
      reply.stop =
          StopDecision{"All " + Plural(failed, "trial") + " so far failed and none produced a value of " +
                           context.config.objective.metric + "; stopping so the command can be checked " +
                           "(the last, #" + std::to_string(last->number) + ": " + last->error + ").",
                       Json{{"rule", "all failed"}, {"failed", failed}, {"last", last->number}}};
    }
    if (!reply.stop && slots > 0) {
      reply.proposals = Propose(planner, slots, notes, &note_words);
      if (reply.proposals.empty()) {
        if (context.running > 0) {
          reply.wait_reason =
              "every point of the space the analyst may still propose is taken; waiting for the " +
              Plural(context.running, "running trial");
        } else {
          reply.stop =
              StopDecision{"Every point of the space outside the bad regions has been tried (" +
                               Plural(view.trials().size(), "trial") + "); nothing is left to propose.",
                           Json{{"rule", "exhausted"}, {"trials", view.trials().size()}}};
        }
      }
    }
  }
  // Each open note is acknowledged in the first decision of the reply.
  std::string* carrier = !reply.proposals.empty() ? &reply.proposals.front().rationale
                         : !reply.prunes.empty()  ? &reply.prunes.front().rationale
                         : reply.stop             ? &reply.stop->rationale
                                                  : nullptr;
  if (carrier && !notes.empty()) {
    std::string words;
    for (const Note* note : notes) {
      auto it = note_words.find(note->event_id);
      std::string answer;
      if (it != note_words.end()) {
        answer = it->second;
      } else if (auto action = analyst::ReadNote(view.space(), note->text); action && view.ranked().empty()) {
        answer =
            "no trial has completed yet, so there is no best trial to move " + action->spec->name + " from";
      } else if (action) {
        answer = "one note is acted on per decision, and another came first";
      } else {
        answer =
            "it names no parameter and direction I can turn into a proposal, so the search goes on as "
            "planned";
      }
      words += "Your note " + Quoted(note->text) + " was read; " + answer + ". ";
      reply.acknowledged_notes.push_back(note->event_id);
    }
    *carrier = words + *carrier;
  }
  return reply;
}

std::set<int64_t> Analyst::Frontier(const AgentContext& context) const {
  // The best trials branches and merges are drawn from.
  std::set<int64_t> frontier;
  View view(context);
  for (size_t i = 0; i < view.ranked().size() && i < kMergePool; ++i) frontier.insert(view.ranked()[i]->id);
  return frontier;
}

}  // namespace hyperion
