#include "hyperion/agent/llm_prompt.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "hyperion/common/text.h"
#include "hyperion/experiment/event_types.h"

namespace hyperion {
namespace {

const std::vector<std::string> kOperators = {"sample", "branch", "crossover", "mutate", "model"};

// Text cut to `limit` characters on one line, with an ellipsis when cut.
std::string Cut(std::string text, size_t limit) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  if (limit == 0 || text.size() <= limit) return text;
  return text.substr(0, limit) + "...";
}

std::string Number(double value) {
  std::ostringstream out;
  out.precision(6);
  out << value;
  return out.str();
}

bool Ranked(const Trial& t) {
  return (t.state == TrialState::kCompleted || t.state == TrialState::kPruned) && t.value &&
         std::isfinite(*t.value);
}

std::map<int64_t, int64_t> NumbersById(const std::vector<Trial>& trials) {
  std::map<int64_t, int64_t> numbers;
  for (const auto& t : trials) numbers[t.id] = t.number;
  return numbers;
}

std::string TrialRefs(const std::vector<int64_t>& ids, const std::map<int64_t, int64_t>& numbers) {
  std::vector<std::string> refs;
  for (int64_t id : ids) {
    auto it = numbers.find(id);
    refs.push_back(it == numbers.end() ? "id " + std::to_string(id) : "#" + std::to_string(it->second));
  }
  return JoinStrings(refs, " + ");
}

std::string DescribeParam(const ParamSpec& spec) {
  std::string text = "- " + spec.name + ": ";
  switch (spec.type) {
    case ParamType::kFloat:
    case ParamType::kInt:
      text += std::string(ParamTypeName(spec.type)) + " in [" + FormatNumber(spec.low) + ", " +
              FormatNumber(spec.high) + "]";
      if (spec.log) text += ", log scale";
      if (spec.step) text += ", step " + FormatNumber(*spec.step);
      break;
    case ParamType::kCategorical: {
      std::vector<std::string> listed;
      for (const auto& c : spec.choices) listed.push_back(c.dump());
      text += "one of " + JoinStrings(listed);
      break;
    }
    case ParamType::kBool:
      text += "true or false";
      break;
  }
  if (!spec.when.empty()) {
    std::vector<std::string> conditions;
    for (const auto& c : spec.when) conditions.push_back(DescribeCondition(c));
    text += "; only when " + JoinStrings(conditions, " and ") + " (leave it out otherwise)";
  }
  return text + "\n";
}

std::string DescribeTask(const ExperimentConfig& config) {
  std::ostringstream out;
  out << "## Task\n";
  out << "Experiment \"" << config.name << "\" runs: " << JoinStrings(config.command, " ") << "\n";
  out << "Objective: " << (config.objective.mode == ObjectiveMode::kMaximize ? "maximize " : "minimize ")
      << config.objective.metric << " (a trial's value is the metric at its "
      << (config.objective.value == ValueRule::kBest ? "best" : "last") << " report).\n";
  if (config.training.enabled()) {
    out << "Training budget: a full run is " << FormatNumber(config.training.max) << " "
        << config.training.unit << ". A trial trains a span of it (from..to); a branch with restore: true "
        << "continues its first parent's checkpoint from where that parent stopped.\n";
  } else {
    out << "Each trial is a whole training run.\n";
  }
  out << "\n## Space\n";
  for (const auto& spec : config.space.params()) out << DescribeParam(spec);
  return out.str();
}

std::string DescribeTrial(const Trial& t, const AgentContext& context,
                          const std::map<int64_t, int64_t>& numbers, const PromptLimits& limits) {
  std::ostringstream out;
  out << "#" << t.number << " " << TrialStateName(t.state);
  if (t.value) {
    out << " value=" << Number(*t.value);
    if (t.value_step) out << " (step " << *t.value_step << ")";
  }
  if (t.state == TrialState::kRunning) {
    auto curve = context.curves.find(t.id);
    if (curve != context.curves.end() && !curve->second.empty()) {
      out << " latest " << context.config.objective.metric << "=" << Number(curve->second.back().value)
          << " at step " << curve->second.back().step << " (" << curve->second.size() << " reports)";
    }
  }
  out << " params=" << DumpJson(t.params) << " op=" << t.op;
  if (!t.parents.empty()) out << " from " << TrialRefs(t.parents, numbers);
  if (!t.change_label.empty()) out << " change=\"" << t.change_label << "\"";
  if (t.budget_from || t.budget_to) {
    out << " span=" << FormatNumber(t.budget_from.value_or(0)) << ".."
        << FormatNumber(t.budget_to.value_or(0));
  }
  if (!t.error.empty()) out << " error=\"" << Cut(t.error, limits.error_chars) << "\"";
  if (limits.rationale_chars > 0 && !t.rationale.empty())
    out << " why=\"" << Cut(t.rationale, limits.rationale_chars) << "\"";
  return out.str() + "\n";
}

std::string DescribeHistory(const AgentContext& context, const PromptLimits& limits) {
  const auto& trials = context.trials;
  const auto numbers = NumbersById(trials);
  std::map<std::string, int> by_state;
  for (const auto& t : trials) ++by_state[TrialStateName(t.state)];
  std::vector<std::string> counts;
  for (const auto& [state, n] : by_state) counts.push_back(std::to_string(n) + " " + state);

  std::vector<const Trial*> ranked;
  for (const auto& t : trials)
    if (Ranked(t)) ranked.push_back(&t);
  const Objective& objective = context.config.objective;
  std::stable_sort(ranked.begin(), ranked.end(), [&](const Trial* a, const Trial* b) {
    return objective.Better(*a->value, *b->value) || (*a->value == *b->value && a->number < b->number);
  });
  if (static_cast<int>(ranked.size()) > limits.best) ranked.resize(std::max(0, limits.best));
  std::set<int64_t> shown;
  for (const Trial* t : ranked) shown.insert(t->id);
  std::vector<const Trial*> recent;
  for (auto it = trials.rbegin(); it != trials.rend() && static_cast<int>(recent.size()) < limits.recent;
       ++it) {
    if (!shown.count(it->id)) recent.push_back(&*it);
  }
  std::reverse(recent.begin(), recent.end());
  for (const Trial* t : recent) shown.insert(t->id);

  std::ostringstream out;
  out << "\n## History (every branch)\n";
  if (trials.empty()) return out.str() + "No trials yet.\n";
  out << trials.size() << " trials: " << JoinStrings(counts) << ".\n";
  std::map<std::string, int> left_out;
  for (const auto& t : trials)
    if (!shown.count(t.id)) ++left_out[TrialStateName(t.state)];
  if (!left_out.empty()) {
    std::vector<std::string> parts;
    int total = 0;
    for (const auto& [state, n] : left_out) {
      parts.push_back(std::to_string(n) + " " + state);
      total += n;
    }
    out << "Not listed: " << total << " trial" << (total == 1 ? "" : "s") << " (" << JoinStrings(parts)
        << "), neither among the best " << limits.best << " nor the " << limits.recent << " most recent.\n";
  }
  if (!ranked.empty()) {
    out << "Best by value (best first):\n";
    for (const Trial* t : ranked) out << DescribeTrial(*t, context, numbers, limits);
  }
  if (!recent.empty()) {
    out << (ranked.empty() ? "Trials:\n" : "Most recent others:\n");
    for (const Trial* t : recent) out << DescribeTrial(*t, context, numbers, limits);
  }
  return out.str();
}

std::string DescribeRejected(const AgentContext& context, const PromptLimits& limits) {
  std::vector<const Event*> rejected;
  for (const auto& e : context.decisions)
    if (e.type == events::kDecisionRejected) rejected.push_back(&e);
  if (rejected.empty()) return "";
  std::ostringstream out;
  out << "\n## Your earlier decisions that were rejected (do not repeat them)\n";
  const size_t first =
      rejected.size() > static_cast<size_t>(limits.rejected) ? rejected.size() - limits.rejected : 0;
  if (first > 0) out << "(" << first << " older rejections left out)\n";
  for (size_t i = first; i < rejected.size(); ++i) {
    Json rest = rejected[i]->payload;
    std::string reason = rest.value("reason", std::string("no reason given"));
    if (rest.is_object()) rest.erase("reason");
    out << "- " << Cut(reason, 240);
    if (rest.is_object() && !rest.empty()) out << "; decision: " << Cut(DumpJson(rest), 240);
    out << "\n";
  }
  return out.str();
}

std::string DescribeNotes(const AgentContext& context) {
  std::ostringstream out;
  bool any = false;
  for (const auto& note : context.notes) {
    if (note.acknowledged) continue;
    if (!any) {
      out << "\n## Notes from the user (take them into account; list their ids in notes_acknowledged and "
             "mention each in a rationale as \"note ID\")\n";
      any = true;
    }
    out << "- note " << note.event_id << ": \"" << Cut(note.text, 600) << "\"\n";
  }
  return out.str();
}

std::string DescribeInsight(const Insight& insight, const AgentContext& context) {
  const auto numbers = NumbersById(context.trials);
  std::ostringstream out;
  out << "\n## The analyst's view (the classical optimiser running beside you)\n";
  out << "Phase: " << (insight.phase.empty() ? "unknown" : insight.phase) << "\n";
  if (!insight.importance.empty()) {
    std::vector<std::string> parts;
    for (const auto& [name, share] : insight.importance) parts.push_back(name + " " + Number(share));
    out << "Parameter importance (shares, most first): " << JoinStrings(parts) << "\n";
  }
  if (!insight.bad_regions.empty()) {
    out << "Bad regions:\n";
    for (const auto& region : insight.bad_regions) out << "- " << region << "\n";
  }
  if (!insight.suggestions.empty()) {
    out << "Its suggestions (best first):\n";
    int i = 0;
    for (const auto& s : insight.suggestions) {
      out << ++i << ". params=" << DumpJson(s.params) << " op=" << s.op;
      if (!s.parents.empty()) out << " from " << TrialRefs(s.parents, numbers);
      if (s.restore) out << " restore";
      if (!s.rationale.empty()) out << ": " << Cut(s.rationale, 300);
      out << "\n";
    }
  }
  return out.str();
}

std::string DescribeNow(const AgentContext& context, int wanted) {
  std::ostringstream out;
  out << "\n## Now\n";
  out << "Free slots: " << context.free_slots << ". Running: " << context.running << ". ";
  out << "Trials left in the budget: "
      << (context.trials_left ? std::to_string(*context.trials_left) : std::string("no limit")) << ". ";
  out << "Time left: "
      << (context.seconds_left ? FormatDuration(*context.seconds_left) : std::string("no limit")) << ".\n";
  out << "Decide now: propose up to " << wanted << " trial" << (wanted == 1 ? "" : "s")
      << "; prune or stop when the evidence says so. Reply with the JSON object only.\n";
  return out.str();
}

std::string SystemMessage(const AgentContext& context) {
  const bool training = context.config.training.enabled();
  std::ostringstream out;
  out << "You are the search agent of Hyperion, a hyperparameter optimisation system. You decide which "
         "training runs (trials) start next, which running or finished trials to prune, and when the search "
         "should stop. A classical optimiser (the analyst) works beside you: its view and suggestions are in "
         "the prompt. Build on them, and depart from them when the history gives you a reason.\n\n"
         "Rules:\n"
         "- Stay inside the space: every value within its bounds, on its step, one of its choices. Give a "
         "conditional parameter only when its condition holds.\n"
         "- Never propose a fresh trial whose params equal an existing trial's, nor the same params twice. "
         "To continue or vary an existing trial, branch from it.\n"
         "- Refer to trials by number (7 for #7). parents holds 1 trial (a branch) or 2 (a crossover: params "
         "combined from both); the first parent is the one whose checkpoint a restore continues. Params you "
         "leave out of a branch are taken from the first parent.\n"
         "- operator: model (a fresh point you chose from the evidence), sample (a fresh exploratory point), "
         "branch or mutate (changes to one parent), crossover (two parents).\n";
  if (training) {
    out << "- restore: true continues the first parent's checkpoint where it stopped; it needs a completed "
           "parent with training left. budget_to (optional, in "
        << context.config.training.unit << ", at most " << FormatNumber(context.config.training.max)
        << ") is where the trial stops; the default is a full run.\n";
  } else {
    out << "- restore: true warm-starts the trial from its first parent's checkpoint; it needs a completed "
           "parent.\n";
  }
  out << "- Every decision needs a rationale: one or two sentences that cite the evidence (trial numbers and "
         "their values). Put the numbers you rely on in evidence as well.\n"
         "- Prune only running or completed trials; stop only when more trials are unlikely to beat the best "
         "(running trials still finish).\n"
         "- When the user left notes, follow them where sensible, list their ids in notes_acknowledged and "
         "mention each in a rationale (\"note 12: ...\").\n"
         "- Reply with one JSON object and nothing else, following this JSON schema:\n"
      << DumpJson(LlmReplySchema(context.config.space, training)) << "\n"
      << "Example: {\"decisions\": [{\"action\": \"propose\", \"params\": {...}, \"operator\": \"model\", "
         "\"rationale\": \"#4 (0.93) and #9 (0.94) did best with lr near 0.01; trying 0.02\", \"evidence\": "
         "{\"trials\": [4, 9]}}, {\"action\": \"prune\", \"trial\": 6, \"rationale\": \"...\"}], "
         "\"notes_acknowledged\": []}\n";
  return out.str();
}

Json ParamSchema(const ParamSpec& spec) {
  switch (spec.type) {
    case ParamType::kFloat: {
      Json schema = {{"type", "number"}, {"minimum", spec.low}, {"maximum", spec.high}};
      // JSON schema counts multiples from zero; the grid counts from low, so only a grid through zero fits.
      if (spec.step && std::abs(std::remainder(spec.low, *spec.step)) < 1e-9)
        schema["multipleOf"] = *spec.step;
      return schema;
    }
    case ParamType::kInt: {
      Json schema = {{"type", "integer"},
                     {"minimum", static_cast<int64_t>(spec.low)},
                     {"maximum", static_cast<int64_t>(spec.high)}};
      if (spec.step && std::abs(std::remainder(spec.low, *spec.step)) < 1e-9)
        schema["multipleOf"] = static_cast<int64_t>(*spec.step);
      return schema;
    }
    case ParamType::kCategorical:
      return Json{{"enum", spec.choices}};
    case ParamType::kBool:
      return Json{{"type", "boolean"}};
  }
  return Json::object();
}

}  // namespace

Json LlmReplySchema(const Space& space, bool training) {
  Json params = {{"type", "object"}, {"properties", Json::object()}, {"additionalProperties", false}};
  for (const auto& spec : space.params()) params["properties"][spec.name] = ParamSchema(spec);
  Json decision = {{"type", "object"},
                   {"properties",
                    {{"action", {{"type", "string"}, {"enum", {"propose", "prune", "stop"}}}},
                     {"params", params},
                     {"parents", {{"type", "array"}, {"items", {{"type", "integer"}}}, {"maxItems", 2}}},
                     {"operator", {{"type", "string"}, {"enum", kOperators}}},
                     {"restore", {{"type", "boolean"}}},
                     {"trial", {{"type", "integer"}}},
                     {"rationale", {{"type", "string"}}},
                     {"evidence", {{"type", "object"}}}}},
                   {"required", {"action", "rationale"}}};
  if (training) decision["properties"]["budget_to"] = Json{{"type", "number"}};
  return Json{{"type", "object"},
              {"properties",
               {{"decisions", {{"type", "array"}, {"items", decision}}},
                {"notes_acknowledged", {{"type", "array"}, {"items", {{"type", "integer"}}}}}}},
              {"required", {"decisions"}}};
}

Json BuildLlmMessages(const AgentContext& context, const Insight& insight, int wanted,
                      const PromptLimits& limits) {
  std::string user = DescribeTask(context.config) + DescribeHistory(context, limits) +
                     DescribeRejected(context, limits) + DescribeNotes(context) +
                     DescribeInsight(insight, context) + DescribeNow(context, wanted);
  return Json::array({Json{{"role", "system"}, {"content", SystemMessage(context)}},
                      Json{{"role", "user"}, {"content", user}}});
}

std::string RetryMessage(const std::vector<std::string>& rejected, int accepted, int still_wanted) {
  std::ostringstream out;
  out << "Your reply had decisions that were rejected:\n";
  for (const auto& reason : rejected) out << "- " << reason << "\n";
  if (accepted > 0) {
    out << accepted << " other decision" << (accepted == 1 ? " was" : "s were")
        << " accepted and will be applied; do not repeat " << (accepted == 1 ? "it" : "them") << ".\n";
  }
  out << "Reply again with the whole JSON object, holding only new decisions";
  if (still_wanted > 0)
    out << " (up to " << still_wanted << " proposal" << (still_wanted == 1 ? "" : "s") << ")";
  out << " that fix these problems.";
  return out.str();
}

}  // namespace hyperion
