// The analyst's parts (agent/analyst.h): how it reads the experiment (View, History), where runs failed
// (Region), what it believes about the objective (Model: a Gaussian process with expected improvement,
// importance by variance decomposition, the partial dependence merges are decided on), and what it watches
// for (plateaued running trials, a stalled search, notes it can act on). Internal to agent/.
//
// Everything here is rebuilt from the context on every call and draws from generators seeded with the
// experiment's seed, so the analyst stays deterministic and keeps no state. Values are "minimised" inside:
// y = value, or -value when the objective is maximised; what people read is shown in the objective's units.
// One caller at a time (the analyst's own call); no shared state.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "hyperion/agent/agent.h"
#include "hyperion/strategy/gaussian_process.h"

namespace hyperion::analyst {

inline constexpr uint32_t kStream = 0x616e61u;  // "ana": the analyst's draws, apart from the strategies'

// A count and a noun: "1 trial", "3 trials".
std::string Plural(size_t n, const std::string& word);
// "#12"
std::string Num(const Trial& t);
// A number for a sentence: 4 significant digits ("0.3981", "1.2e-05").
std::string Short(double v);
// "#4, #7, #9" (at most `limit` listed, then "and N more").
std::string Numbers(const std::vector<int64_t>& numbers, size_t limit = 6);

struct Settings {
  int initial = 5;          // points of the space-filling start: max(5, 2 x parameters), capped by the budget
  int patience = 20;        // strategy.patience, or max(20, 5 x parameters)
  double tolerance = 1e-4;  // strategy.tolerance: the relative improvement that counts as progress
  static Settings For(const ExperimentConfig& config, const AgentContext& context);
};

// What the analyst decided before, as the decision events record it, and what the orchestrator refused.
struct History {
  std::set<std::string> rejected_points;  // params (compact JSON) of refused proposals
  std::set<int> rejected_design;          // start points whose proposal was refused
  std::set<int64_t> rejected_prunes;      // trial ids whose prune was refused
  bool stop_rejected = false;
  std::set<int64_t> prunes_decided;  // trial ids already asked to stop or pruned
  bool stopped = false;              // an agent_stopped event: the search is over
  int64_t stopped_at = 0;            // that event's id
  std::set<int64_t> acknowledged;    // note ids a decision already answered

  static History Read(const AgentContext& context);
};

// The experiment as the analyst reads it: the context's trials plus the proposals made earlier in the same
// call (as pending trials, so the next one sees them), with the indexes the rules need.
class View {
 public:
  explicit View(const AgentContext& context);

  const AgentContext& context() const { return context_; }
  const Space& space() const { return context_.config.space; }
  const Objective& objective() const { return context_.config.objective; }
  const Training& training() const { return context_.config.training; }
  const std::vector<Trial>& trials() const { return trials_; }
  // Trials in the context; trials() also holds this call's proposals after them.
  size_t context_size() const { return context_size_; }

  const Trial* Find(int64_t id) const;
  // Completed or pruned with a finite value, by number.
  const std::vector<const Trial*>& measured() const { return measured_; }
  // Completed with a finite value, best first (whole runs ahead of partial ones, ties to the lower number).
  const std::vector<const Trial*>& ranked() const { return ranked_; }
  // Failed or timed out, by number.
  const std::vector<const Trial*>& bad() const { return bad_; }
  // Over (completed, failed, pruned, timed out), by number.
  const std::vector<const Trial*>& finished() const { return finished_; }
  // A trial holds these params (any state), or an earlier proposal was refused for them.
  bool Taken(const Json& params) const;
  void Reject(const std::set<std::string>& points) { refused_ = points; }

  // The first trial of t's primary-parent chain: the branch t belongs to.
  const Trial& Root(const Trial& t) const;
  // Every trial reachable from t through any of its parents.
  std::set<int64_t> Ancestors(const Trial& t) const;

  // A proposal of this call, seen from now on as a pending trial.
  void AddPending(const Proposal& p);

  double Y(double value) const { return maximize() ? -value : value; }
  double Shown(double y) const { return maximize() ? -y : y; }
  bool maximize() const { return objective().mode == ObjectiveMode::kMaximize; }

 private:
  void Index();

  const AgentContext& context_;
  std::vector<Trial> trials_;
  size_t context_size_ = 0;
  std::vector<const Trial*> measured_, ranked_, bad_, finished_;
  std::set<std::string> taken_, refused_;
};

// A region of the space where runs failed or diverged: a numeric parameter at or above (kCap) or at or below
// (kFloor) an edge, or one choice of a categorical (kChoice). Later proposals keep to the other side.
struct Region {
  enum class Kind { kCap, kFloor, kChoice };
  const ParamSpec* spec = nullptr;
  Kind kind = Kind::kCap;
  Json edge;                // where the failures begin (lr >= edge), or the bad choice
  Json limit;               // the value proposals are kept to (lr <= limit); the bad choice again for kChoice
  int64_t limit_trial = 0;  // the trial nearest the region that ran fine: its value is the limit
  int bad = 0, total = 0;   // failed trials in the region, finished trials in it
  std::vector<int64_t> numbers;  // the failed trials, by number
  std::string verb;              // "diverged", "timed out" or "failed"

  // "lr >= 0.3 diverged in 3 of 3 trials (#4, #7, #9); capping lr at 0.1, the largest that ran fine (#2)"
  std::string Sentence() const;
  // "lr <= 0.15", "optimizer not sgd"
  std::string Rule() const;
  bool Allows(const Json& params) const;
  Json ToJson() const;
};

// The regions the finished trials show: at least 3 failures, at least 3 in 4 of the finished trials in the
// region, and a success outside it. A failure explained by one region does not count for another.
std::vector<Region> FindBadRegions(const View& view);

// `params` moved to the allowed side of every region (numbers clamped to the limit, a bad choice replaced
// by the nearest allowed one) and completed, so conditions hold.
Json Confine(const Space& space, const std::vector<Region>& regions, Json params, std::mt19937_64& rng);
bool Allowed(const std::vector<Region>& regions, const Json& params);

// A parameter's share of the variation the model explains.
struct Share {
  std::string param;
  double share = 0;
};

// "lr explains 71% of the variation, momentum 18%" (the first `count`).
std::string ImportanceText(const std::vector<Share>& importance, size_t count = 2);

// A Gaussian process over the trials, as GpSearch fits it: measured trials at their values, failed ones at
// the worst value seen, unfinished ones at the mean (a constant liar, so parallel proposals spread out); at
// most GpSearch::kMaxModelPoints measured trials (the best half and the most recent half).
class Model {
 public:
  // nullptr when fewer than 2 trials are measured or the fit fails.
  static std::unique_ptr<Model> Fit(const View& view, uint64_t seed);

  GaussianProcess::Prediction Predict(const Json& params) const;  // minimised units
  double Ei(const Json& params) const;
  double best() const { return best_; }  // minimised
  int64_t incumbent() const { return incumbent_; }
  size_t trained_on() const { return trained_on_; }

  // The model's mean with `spec` set to `value`, averaged over fixed reference points of the space (the
  // partial dependence; minimised units).
  double PartialMean(const ParamSpec& spec, const Json& value) const;
  // Each parameter's share of the variance of the partial dependences (first-order effects), most first;
  // sums to 1.
  std::vector<Share> Importance() const;

 private:
  Model(const Space& space) : space_(space) {}
  const Space& space_;
  GaussianProcess gp_;
  double best_ = 0;
  int64_t incumbent_ = 0;
  size_t trained_on_ = 0;
  std::vector<Json> reference_;
};

// The running trials whose curve has not improved over its last 3 reports and whose best so far is behind
// the median of at least 3 other trials at the same step. Trials pruned or refused before are left alone.
std::vector<PruneDecision> PlateauPrunes(const View& view, const History& history, const Settings& settings);

// Finished trials (by number) since the last one that improved the best by more than tolerance x the
// scale (|best|, or a hundredth of the distance from the best to the median when the best is near zero);
// all of them when none did.
size_t TrialsSinceProgress(const View& view, const Settings& settings);

// The stall: at least initial + patience trials finished and the best did not improve by more than the
// tolerance over the last `patience` finished. `polished`: how many of those polished the best (cited).
std::optional<StopDecision> StallStop(const View& view, const Settings& settings, size_t polished);

// A note the analyst can act on: it names a parameter and a direction ("try smaller batch sizes").
struct NoteAction {
  const ParamSpec* spec = nullptr;
  int direction = 0;  // +1 larger, -1 smaller
};
std::optional<NoteAction> ReadNote(const Space& space, const std::string& text);

}  // namespace hyperion::analyst
