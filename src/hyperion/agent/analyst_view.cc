#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "hyperion/agent/analyst_parts.h"
#include "hyperion/common/text.h"
#include "hyperion/experiment/event_types.h"
#include "hyperion/experiment/ranking.h"
#include "hyperion/strategy/graph_common.h"

namespace hyperion::analyst {

std::string Plural(size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string Num(const Trial& t) { return "#" + std::to_string(t.number); }

std::string Short(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v);
  return text;
}

std::string Numbers(const std::vector<int64_t>& numbers, size_t limit) {
  std::vector<std::string> shown;
  for (size_t i = 0; i < numbers.size() && i < limit; ++i) shown.push_back("#" + std::to_string(numbers[i]));
  std::string text = JoinStrings(shown);
  if (numbers.size() > limit) text += " and " + std::to_string(numbers.size() - limit) + " more";
  return text;
}

Settings Settings::For(const ExperimentConfig& config, const AgentContext& /*context*/) {
  Settings s;
  const int dims = static_cast<int>(config.space.params().size());
  s.initial = std::max(5, 2 * dims);
  // A small budget keeps at least two thirds of its trials for the model and the graph operators.
  if (config.budget.max_trials) {
    s.initial =
        static_cast<int>(std::min<int64_t>(s.initial, std::max<int64_t>(2, *config.budget.max_trials / 3)));
  }
  s.patience = config.strategy.patience.value_or(std::max(20, 5 * dims));
  s.tolerance = config.strategy.tolerance;
  return s;
}

namespace {

// The first of `keys` that `object` has, or nullptr.
const Json* Field(const Json& object, std::initializer_list<const char*> keys) {
  if (!object.is_object()) return nullptr;
  for (const char* key : keys) {
    auto it = object.find(key);
    if (it != object.end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

// A refused decision is read from the decision_rejected payload: "decision" (propose, prune, stop, ...) and
// what was refused: "params" (or "proposal": {"params", "evidence"}) for a proposal, the event's trial or
// "trial_id" for a prune. The reason is for people; the analyst only avoids repeating the decision.
History History::Read(const AgentContext& context) {
  History h;
  for (const Event& e : context.decisions) {
    const Json& payload = e.payload;
    // The orchestrator lists the notes a decision answered under "notes".
    for (const char* key : {"notes", "acknowledged_notes"}) {
      const Json* notes = Field(payload, {key});
      if (!notes || !notes->is_array()) continue;
      for (const Json& id : *notes) {
        if (id.is_number_integer()) h.acknowledged.insert(id.get<int64_t>());
      }
    }
    if (e.type == events::kAgentStopped) h.stopped = true, h.stopped_at = e.id;
    if (e.type == events::kPruneRequested || e.type == events::kTrialPruned) {
      if (e.trial_id) h.prunes_decided.insert(*e.trial_id);
    }
    if (e.type != events::kDecisionRejected) continue;
    const Json* decision = Field(payload, {"decision", "kind"});
    const std::string kind = decision && decision->is_string() ? decision->get<std::string>() : "";
    const Json* proposal = Field(payload, {"proposal"});
    const Json* params = Field(payload, {"params"});
    if (!params && proposal) params = Field(*proposal, {"params"});
    const Json* evidence = Field(payload, {"evidence"});
    if (!evidence && proposal) evidence = Field(*proposal, {"evidence"});
    if (params && params->is_object()) {
      h.rejected_points.insert(params->dump());
      if (const Json* index = evidence ? Field(*evidence, {"design_index"}) : nullptr;
          index && index->is_number_integer()) {
        h.rejected_design.insert(index->get<int>());
      }
      continue;
    }
    if (kind.find("stop") != std::string::npos) {
      h.stop_rejected = true;
      continue;
    }
    std::optional<int64_t> trial = e.trial_id;
    if (const Json* id = Field(payload, {"trial_id"}); !trial && id && id->is_number_integer())
      trial = id->get<int64_t>();
    if (trial && (kind.empty() || kind.find("prune") != std::string::npos)) {
      h.rejected_prunes.insert(*trial);
    }
  }
  return h;
}

View::View(const AgentContext& context) : context_(context), trials_(context.trials) {
  context_size_ = trials_.size();
  Index();
}

void View::Index() {
  measured_.clear();
  bad_.clear();
  finished_.clear();
  taken_.clear();
  for (const Trial& t : trials_) {
    const bool finite = t.value && std::isfinite(*t.value);
    if ((t.state == TrialState::kCompleted || t.state == TrialState::kPruned) && finite)
      measured_.push_back(&t);
    if (t.state == TrialState::kFailed || t.state == TrialState::kTimedOut) bad_.push_back(&t);
    if (IsFinished(t.state)) finished_.push_back(&t);
    taken_.insert(t.params.dump());
  }
  auto by_number = [](const Trial* a, const Trial* b) { return a->number < b->number; };
  for (auto* list : {&measured_, &bad_, &finished_}) std::sort(list->begin(), list->end(), by_number);
  ranked_ = RankCompleted(trials_, objective(), training());
}

const Trial* View::Find(int64_t id) const {
  for (const Trial& t : trials_) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

bool View::Taken(const Json& params) const {
  const std::string key = params.dump();
  return taken_.count(key) > 0 || refused_.count(key) > 0;
}

const Trial& View::Root(const Trial& t) const {
  std::unordered_map<int64_t, const Trial*> by_id;
  for (const Trial& x : trials_) by_id[x.id] = &x;
  const Trial* at = &t;
  for (size_t hops = 0; hops <= trials_.size() && !at->parents.empty(); ++hops) {
    auto up = by_id.find(at->parents[0]);
    if (up == by_id.end()) break;
    at = up->second;
  }
  return *at;
}

std::set<int64_t> View::Ancestors(const Trial& t) const {
  std::unordered_map<int64_t, const Trial*> by_id;
  for (const Trial& x : trials_) by_id[x.id] = &x;
  return graph::Ancestors(t, [&](int64_t id) {
    auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : it->second;
  });
}

void View::AddPending(const Proposal& p) {
  Trial t = TrialFromProposal(p);
  for (const Trial& x : trials_) {
    t.id = std::max(t.id, x.id);
    t.number = std::max(t.number, x.number);
  }
  ++t.id;
  ++t.number;
  t.state = TrialState::kPending;
  trials_.push_back(std::move(t));
  Index();
}

// Notes are matched loosely: a parameter by its name, its name with spaces for underscores, or a common
// long form (lr: learning rate), singular or plural; a direction by the usual words for it.
std::optional<NoteAction> ReadNote(const Space& space, const std::string& text) {
  const std::string lower = " " + Lower(text) + " ";
  auto has_word = [&](const std::string& word) {
    for (size_t at = lower.find(word); at != std::string::npos; at = lower.find(word, at + 1)) {
      const char before = lower[at - 1], after = lower[at + word.size()];
      if (!std::isalnum(static_cast<unsigned char>(before)) && before != '_' &&
          !std::isalnum(static_cast<unsigned char>(after)) && after != '_') {
        return true;
      }
      if (after == 's' && !std::isalnum(static_cast<unsigned char>(lower[at + word.size() + 1]))) return true;
    }
    return false;
  };
  static const std::vector<std::pair<std::string, std::string>> kLongForms = {
      {"lr", "learning rate"}, {"wd", "weight decay"}, {"bs", "batch size"}, {"batch_size", "batch"}};
  const ParamSpec* found = nullptr;
  size_t found_length = 0;
  for (const auto& spec : space.params()) {
    std::vector<std::string> names = {Lower(spec.name)};
    std::string spaced = names[0];
    std::replace(spaced.begin(), spaced.end(), '_', ' ');
    names.push_back(spaced);
    for (const auto& [short_form, long_form] : kLongForms) {
      if (names[0] == short_form) names.push_back(long_form);
    }
    for (const auto& name : names) {
      if (name.size() > found_length && has_word(name)) {
        found = &spec;
        found_length = name.size();
      }
    }
  }
  if (!found) return std::nullopt;
  static const std::vector<std::string> kDown = {"smaller", "lower",   "less",     "fewer",     "decrease",
                                                 "reduce",  "shorter", "narrower", "decreasing"};
  static const std::vector<std::string> kUp = {"larger", "bigger", "higher", "more",    "increase",
                                               "raise",  "longer", "wider",  "greater", "increasing"};
  // Choices have no order: "fewer opt" names no direction.
  if (!found->choices.empty()) return std::nullopt;
  bool down = std::any_of(kDown.begin(), kDown.end(), has_word);
  bool up = std::any_of(kUp.begin(), kUp.end(), has_word);
  if (down == up) return std::nullopt;
  // "do not try larger learning rates" asks for the other way.
  static const std::vector<std::string> kNegations = {"not", "don't", "dont", "never", "avoid", "no", "stop"};
  const bool negated = std::any_of(kNegations.begin(), kNegations.end(), has_word);
  return NoteAction{found, (up != negated) ? 1 : -1};
}

}  // namespace hyperion::analyst
