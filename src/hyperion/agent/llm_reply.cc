#include "hyperion/agent/llm_reply.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>

#include "hyperion/common/text.h"
#include "hyperion/strategy/mutation.h"

namespace hyperion {
namespace {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::optional<Json> ParseObject(const std::string& text) {
  auto parsed = ParseJson(text, "reply");
  if (!parsed.ok()) return std::nullopt;
  // A bare list of decisions is read as the object it should have been.
  if (parsed->is_array()) return Json{{"decisions", *parsed}};
  if (!parsed->is_object()) return std::nullopt;
  return *parsed;
}

// The end of the balanced {...} that starts at `open`, skipping braces inside strings; npos when unbalanced.
size_t BalancedEnd(const std::string& text, size_t open) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = open; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{')
      ++depth;
    else if (c == '}' && --depth == 0)
      return i;
  }
  return std::string::npos;
}

// A trial number as a model may write it: 7, 7.0 or "#7".
std::optional<int64_t> TrialNumber(const Json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>())
    return static_cast<int64_t>(value.get<double>());
  if (value.is_string()) {
    std::string text = value.get<std::string>();
    if (!text.empty() && text[0] == '#') text.erase(0, 1);
    if (!text.empty() && text.size() <= 18 &&
        std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); }))
      return std::stoll(text);
  }
  return std::nullopt;
}

std::string Ref(int64_t number) { return "#" + std::to_string(number); }

// Checks the decisions of one reply against one context; see CheckReply.
class ReplyChecker {
 public:
  ReplyChecker(const AgentContext& context, const ReplySource& source, int wanted,
               const std::vector<Proposal>& earlier)
      : context_(context), space_(context.config.space), source_(source), wanted_(wanted) {
    for (const auto& t : context.trials) {
      by_number_[t.number] = &t;
      taken_.emplace(t.params.dump(), t.number);
    }
    for (const auto& p : earlier) proposed_.insert(ProposalKey(p));
    accepted_ = static_cast<int>(earlier.size());
  }

  CheckedReply Check(const Json& decisions, const Json& acknowledged);

 private:
  Result<Proposal> CheckProposal(const Json& d, int index);
  Result<PruneDecision> CheckPrune(const Json& d);
  Result<Json> CheckValue(const ParamSpec& spec, const Json& value, std::vector<std::string>& notes) const;
  Result<Json> CheckNumber(const ParamSpec& spec, const Json& value, std::vector<std::string>& notes) const;
  Result<Json> BuildParams(const Json& given, const Trial* donor, std::vector<std::string>& notes) const;
  Result<std::vector<const Trial*>> Parents(const Json& d) const;
  Status CheckSpan(const Json& d, const Trial* donor, bool restore, Proposal& p,
                   std::vector<std::string>& notes) const;
  void Acknowledge(const Json& acknowledged, CheckedReply& out) const;
  std::string Rationale(const Json& d, const std::vector<std::string>& notes) const;
  Json Evidence(const Json& d, int index) const;
  static std::string ProposalKey(const Proposal& p);

  const AgentContext& context_;
  const Space& space_;
  const ReplySource& source_;
  const int wanted_;
  std::map<int64_t, const Trial*> by_number_;
  std::map<std::string, int64_t> taken_;  // params as JSON text -> the trial number holding them
  std::set<std::string> proposed_;        // proposals accepted so far (this reply and earlier ones)
  int accepted_ = 0;
};

std::string ReplyChecker::ProposalKey(const Proposal& p) {
  Json parents = p.parents;
  return p.params.dump() + "|" + parents.dump() + "|" + (p.restore ? "r" : "");
}

std::string ReplyChecker::Rationale(const Json& d, const std::vector<std::string>& notes) const {
  std::string text = "LLM " + source_.model + ": " + d.value("rationale", std::string());
  for (const auto& note : notes) text += " " + note;
  return text;
}

Json ReplyChecker::Evidence(const Json& d, int index) const {
  Json evidence = Json::object();
  if (d.contains("evidence")) {
    const Json& given = d["evidence"];
    if (given.is_object())
      evidence = given;
    else if (!given.is_null())
      evidence["cited"] = given;
  }
  evidence["llm"] = Json{{"model", source_.model}, {"exchange", source_.exchange}, {"decision", index}};
  return evidence;
}

Result<Json> ReplyChecker::CheckNumber(const ParamSpec& spec, const Json& value,
                                       std::vector<std::string>& notes) const {
  double x = 0;
  if (value.is_number()) {
    x = value.get<double>();
  } else if (value.is_string()) {  // "0.01": a number a model quoted
    const std::string& text = value.get_ref<const std::string&>();
    char* end = nullptr;
    x = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0')
      return InvalidArgumentError(spec.name + "=" + value.dump() + " is not a number");
  } else {
    return InvalidArgumentError(spec.name + "=" + value.dump() + " is not a number");
  }
  if (!std::isfinite(x)) return InvalidArgumentError(spec.name + " must be a finite number");
  const double original = x;
  x = std::clamp(x, spec.low, spec.high);
  if (x != original) {
    notes.push_back("(" + spec.name + " clamped from " + FormatNumber(original) + " to " + FormatNumber(x) +
                    ")");
  }
  const double before_grid = x;
  if (spec.step) {
    double k = std::round((x - spec.low) / *spec.step);
    x = std::min(spec.low + k * *spec.step, spec.high);
    if (std::abs(x - before_grid) > 1e-9 * std::max(1.0, std::abs(x))) {
      notes.push_back("(" + spec.name + " moved from " + FormatNumber(before_grid) + " to " +
                      FormatNumber(x) + ", onto its step " + FormatNumber(*spec.step) + ")");
    } else {
      x = spec.low + k * *spec.step;
    }
  }
  if (spec.type == ParamType::kFloat) return Json(x);
  const double rounded = std::round(x);
  if (rounded != x && !spec.step)
    notes.push_back("(" + spec.name + " rounded from " + FormatNumber(x) + " to " + FormatNumber(rounded) +
                    ")");
  return Json(static_cast<int64_t>(rounded));
}

Result<Json> ReplyChecker::CheckValue(const ParamSpec& spec, const Json& value,
                                      std::vector<std::string>& notes) const {
  if (!IsChoice(spec)) return CheckNumber(spec, value, notes);
  for (const auto& c : spec.choices)
    if (SameTypedValue(c, value)) return c;
  // "64" for the choice 64, "true" for true: one choice reads the same, so that is the one meant.
  const Json* match = nullptr;
  int matches = 0;
  for (const auto& c : spec.choices) {
    if (value.is_primitive() && ScalarToArgument(c) == ScalarToArgument(value)) {
      match = &c;
      ++matches;
    }
  }
  if (matches == 1) return *match;
  return InvalidArgumentError(spec.name + "=" + value.dump() + " " + *Space::CheckValue(spec, value));
}

Result<Json> ReplyChecker::BuildParams(const Json& given, const Trial* donor,
                                       std::vector<std::string>& notes) const {
  for (const auto& [name, value] : given.items()) {
    if (space_.Find(name)) continue;
    auto hint = ClosestMatch(name, space_.Names());
    return InvalidArgumentError("unknown parameter '" + name + "'" +
                                (hint ? "; did you mean '" + *hint + "'?" : ".") +
                                " The parameters are: " + JoinStrings(space_.Names()));
  }
  // Rebuilt in the space's order, so that each condition sees its parent's final value and the text of two
  // equal points is equal.
  Json params = Json::object();
  for (const auto& spec : space_.params()) {
    const bool active = Space::IsActive(spec, params);
    auto it = given.find(spec.name);
    if (!active) {
      if (it != given.end()) notes.push_back("(" + spec.name + " left out: it is inactive here)");
      continue;
    }
    if (it != given.end()) {
      HYP_ASSIGN_OR_RETURN(params[spec.name], CheckValue(spec, *it, notes));
    } else if (donor && donor->params.contains(spec.name)) {
      params[spec.name] = donor->params[spec.name];
    } else {
      return InvalidArgumentError("parameter '" + spec.name + "' is missing" +
                                  (spec.when.empty() ? "" : " (its condition holds for these values)"));
    }
  }
  HYP_RETURN_IF_ERROR(space_.Validate(params));
  return params;
}

Result<std::vector<const Trial*>> ReplyChecker::Parents(const Json& d) const {
  std::vector<const Trial*> parents;
  if (!d.contains("parents") || d["parents"].is_null()) return parents;
  Json list = d["parents"].is_array() ? d["parents"] : Json::array({d["parents"]});
  if (list.size() > 2)
    return InvalidArgumentError("has " + std::to_string(list.size()) + " parents; give 1 or 2");
  for (const auto& entry : list) {
    auto number = TrialNumber(entry);
    if (!number) return InvalidArgumentError("parent " + entry.dump() + " is not a trial number");
    auto it = by_number_.find(*number);
    if (it == by_number_.end()) {
      std::string range = context_.trials.empty() ? "there are no trials yet"
                                                  : "trials are #1.." + Ref(context_.trials.back().number);
      return InvalidArgumentError("parent " + Ref(*number) + " is not a trial of this experiment (" + range +
                                  ")");
    }
    if (!parents.empty() && parents[0] == it->second)
      return InvalidArgumentError("names " + Ref(*number) + " twice as a parent");
    parents.push_back(it->second);
  }
  return parents;
}

Status ReplyChecker::CheckSpan(const Json& d, const Trial* donor, bool restore, Proposal& p,
                               std::vector<std::string>& notes) const {
  const Training& training = context_.config.training;
  if (!training.enabled()) {
    if (d.contains("budget_to") && !d["budget_to"].is_null())
      return InvalidArgumentError("the experiment has no training budget; leave budget_to out");
    return Status::Ok();
  }
  double from = 0;
  if (restore) {
    from = donor->budget_to.value_or(training.max);
    if (from >= training.max) {
      return InvalidArgumentError("restore from " + Ref(donor->number) +
                                  ", which already trained a full run (" + FormatNumber(training.max) + " " +
                                  training.unit + "); branch without restore instead");
    }
  }
  double to = training.max;
  if (d.contains("budget_to") && !d["budget_to"].is_null()) {
    if (!d["budget_to"].is_number())
      return InvalidArgumentError("budget_to must be a number of " + training.unit);
    to = d["budget_to"].get<double>();
    if (to > training.max) {
      notes.push_back("(budget_to clamped from " + FormatNumber(to) + " to " + FormatNumber(training.max) +
                      ")");
      to = training.max;
    }
    if (!(to > from)) {
      return InvalidArgumentError("budget_to " + FormatNumber(to) +
                                  " is not beyond where the trial starts (" + FormatNumber(from) + " " +
                                  training.unit + ")");
    }
  }
  p.budget_from = from;
  p.budget_to = to;
  return Status::Ok();
}

Result<Proposal> ReplyChecker::CheckProposal(const Json& d, int index) {
  if (!d.contains("params") || !d["params"].is_object())
    return InvalidArgumentError("has no params object; give a value for each parameter");
  HYP_ASSIGN_OR_RETURN(auto parents, Parents(d));
  const Trial* donor = parents.empty() ? nullptr : parents[0];
  Proposal p;
  p.op = parents.size() == 2 ? "crossover" : parents.empty() ? "model" : "branch";
  if (d.contains("operator") && !d["operator"].is_null()) {
    if (!d["operator"].is_string()) return InvalidArgumentError("operator must be text");
    std::string op = d["operator"].get<std::string>();
    static const std::set<std::string> kFresh = {"sample", "model"},
                                       kBranch = {"branch", "mutate", "crossover"};
    if (!kFresh.count(op) && !kBranch.count(op))
      return InvalidArgumentError("unknown operator '" + op +
                                  "'; use sample, model, branch, mutate or crossover");
    if (kFresh.count(op) && donor)
      return InvalidArgumentError("operator " + op + " makes a fresh trial; drop parents, or use branch");
    if (kBranch.count(op) && !donor) return InvalidArgumentError("operator " + op + " needs parents");
    if (op == "crossover" && parents.size() != 2) return InvalidArgumentError("crossover needs two parents");
    p.op = op;
  }
  const Json restore = d.value("restore", Json(false));
  if (!restore.is_boolean()) return InvalidArgumentError("restore must be true or false");
  p.restore = restore.get<bool>();
  if (p.restore && !donor) return InvalidArgumentError("restore needs a parent whose checkpoint to continue");
  if (p.restore && donor->state != TrialState::kCompleted && donor->state != TrialState::kPruned) {
    return InvalidArgumentError("restore from " + Ref(donor->number) + ", which is " +
                                TrialStateName(donor->state) +
                                "; only a completed trial has a checkpoint to continue");
  }
  if (p.restore && donor->checkpoint_dir.empty())
    return InvalidArgumentError("restore from " + Ref(donor->number) +
                                ", whose checkpoint was already removed");

  std::vector<std::string> notes;
  HYP_ASSIGN_OR_RETURN(p.params, BuildParams(d["params"], donor, notes));
  HYP_RETURN_IF_ERROR(CheckSpan(d, donor, p.restore, p, notes));
  const std::string text = p.params.dump();
  auto taken = taken_.find(text);
  if (!donor && taken != taken_.end()) {
    return InvalidArgumentError("its params repeat trial " + Ref(taken->second) +
                                "'s; propose an unseen point, or branch from " + Ref(taken->second));
  }
  if (donor && !p.restore && text == donor->params.dump()) {
    return InvalidArgumentError("its params equal its parent " + Ref(donor->number) +
                                "'s without restore, so it would repeat that run; change a value or restore");
  }
  for (const Trial* parent : parents) p.parents.push_back(parent->id);
  if (proposed_.count(ProposalKey(p))) return InvalidArgumentError("repeats another proposal of this reply");
  if (donor) {
    p.change_label = text == donor->params.dump() ? "continue" : ChangeLabel(space_, donor->params, p.params);
    if (parents.size() == 2) p.change_label = "with " + Ref(parents[1]->number) + ": " + p.change_label;
  }
  p.rationale = Rationale(d, notes);
  p.evidence = Evidence(d, index);
  return p;
}

Result<PruneDecision> ReplyChecker::CheckPrune(const Json& d) {
  auto number = TrialNumber(d.value("trial", Json()));
  if (!number) return InvalidArgumentError("a prune needs the trial number in \"trial\"");
  auto it = by_number_.find(*number);
  if (it == by_number_.end())
    return InvalidArgumentError(Ref(*number) + " is not a trial of this experiment");
  const Trial& t = *it->second;
  if (t.state == TrialState::kPruned) return InvalidArgumentError(Ref(*number) + " is already pruned");
  if (t.state != TrialState::kRunning && t.state != TrialState::kCompleted &&
      t.state != TrialState::kPending) {
    return InvalidArgumentError(Ref(*number) + " already ended (" + TrialStateName(t.state) +
                                "); only running or completed trials can be pruned");
  }
  return PruneDecision{t.id, "", Json::object()};
}

void ReplyChecker::Acknowledge(const Json& acknowledged, CheckedReply& out) const {
  std::vector<std::string*> rationales;
  for (auto& p : out.proposals) rationales.push_back(&p.rationale);
  for (auto& p : out.prunes) rationales.push_back(&p.rationale);
  if (out.stop) rationales.push_back(&out.stop->rationale);
  if (rationales.empty()) return;  // an acknowledgement must show in a decision's rationale
  std::set<int64_t> listed;
  if (acknowledged.is_array()) {
    for (const auto& entry : acknowledged)
      if (auto id = TrialNumber(entry)) listed.insert(*id);
  }
  for (const auto& note : context_.notes) {
    if (note.acknowledged) continue;
    const std::regex mention("note #?" + std::to_string(note.event_id) + "\\b", std::regex::icase);
    bool mentioned = std::any_of(rationales.begin(), rationales.end(),
                                 [&](const std::string* r) { return std::regex_search(*r, mention); });
    if (!listed.count(note.event_id) && !mentioned) continue;
    if (!mentioned) *rationales[0] += " (note " + std::to_string(note.event_id) + " taken into account)";
    out.acknowledged_notes.push_back(note.event_id);
  }
}

CheckedReply ReplyChecker::Check(const Json& decisions, const Json& acknowledged) {
  CheckedReply out;
  out.decisions = static_cast<int>(decisions.size());
  for (size_t i = 0; i < decisions.size(); ++i) {
    const int index = static_cast<int>(i) + 1;
    const std::string label = "decision " + std::to_string(index);
    const Json& d = decisions[i];
    auto reject = [&](const std::string& why) { out.rejected.push_back(label + " rejected: " + why); };
    if (!d.is_object()) {
      reject("it is not a JSON object");
      continue;
    }
    const std::string action =
        d.value("action", Json("")).is_string() ? d.value("action", std::string()) : "";
    const Json rationale = d.value("rationale", Json());
    if (!rationale.is_string() ||
        rationale.get<std::string>().find_first_not_of(" \t\n") == std::string::npos) {
      reject("it has no rationale; say why, citing trial numbers and values");
      continue;
    }
    if (action == "propose") {
      if (accepted_ >= wanted_) {
        out.ignored.push_back(label + " ignored: only " + std::to_string(wanted_) +
                              " proposals were asked for");
        continue;
      }
      auto p = CheckProposal(d, index);
      if (!p.ok()) {
        reject(p.status().message());
        continue;
      }
      proposed_.insert(ProposalKey(*p));
      ++accepted_;
      out.proposals.push_back(std::move(p).value());
    } else if (action == "prune") {
      auto prune = CheckPrune(d);
      if (!prune.ok()) {
        reject(prune.status().message());
        continue;
      }
      prune->rationale = Rationale(d, {});
      prune->evidence = Evidence(d, index);
      out.prunes.push_back(std::move(prune).value());
    } else if (action == "stop") {
      if (!out.stop) out.stop = StopDecision{Rationale(d, {}), Evidence(d, index)};
    } else {
      reject("unknown action '" + action + "'; use propose, prune or stop");
    }
  }
  Acknowledge(acknowledged, out);
  return out;
}

}  // namespace

Result<Json> ExtractReplyJson(const std::string& text) {
  if (auto whole = ParseObject(text)) return *whole;
  // A fenced block, ```json ... ``` or ``` ... ```.
  for (size_t fence = text.find("```"); fence != std::string::npos; fence = text.find("```", fence + 3)) {
    size_t start = text.find('\n', fence);
    if (start == std::string::npos) break;
    size_t end = text.find("```", start);
    if (end == std::string::npos) break;
    if (auto inside = ParseObject(text.substr(start + 1, end - start - 1))) return *inside;
    fence = end;
  }
  for (size_t open = text.find('{'); open != std::string::npos; open = text.find('{', open + 1)) {
    size_t close = BalancedEnd(text, open);
    if (close == std::string::npos) break;
    if (auto object = ParseObject(text.substr(open, close - open + 1))) return *object;
  }
  std::string start = text.substr(0, 80);
  std::replace(start.begin(), start.end(), '\n', ' ');
  return InvalidArgumentError(text.find_first_not_of(" \t\n") == std::string::npos
                                  ? "the reply is empty"
                                  : "the reply is not JSON: \"" + start +
                                        (text.size() > 80 ? "...\"" : "\""));
}

bool LooksLikeRefusal(const std::string& text) {
  static const char* const kPhrases[] = {"i cannot",      "i can't",          "i can not",   "i'm sorry",
                                         "i am sorry",    "i'm unable",       "i am unable", "unable to help",
                                         "cannot assist", "can't assist",     "i won't",     "i will not",
                                         "as an ai",      "not able to help", "can't help",  "cannot help"};
  const std::string lower = Lower(text);
  return std::any_of(std::begin(kPhrases), std::end(kPhrases),
                     [&](const char* phrase) { return lower.find(phrase) != std::string::npos; });
}

Result<CheckedReply> CheckReply(const Json& reply, const AgentContext& context, const ReplySource& source,
                                int wanted, const std::vector<Proposal>& earlier) {
  if (!reply.is_object() || !reply.contains("decisions"))
    return InvalidArgumentError("the reply has no \"decisions\" list");
  if (!reply["decisions"].is_array()) return InvalidArgumentError("\"decisions\" in the reply is not a list");
  ReplyChecker checker(context, source, wanted, earlier);
  return checker.Check(reply["decisions"], reply.value("notes_acknowledged", Json()));
}

}  // namespace hyperion
