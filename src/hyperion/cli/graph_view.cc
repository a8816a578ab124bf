#include "hyperion/cli/graph_view.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "hyperion/cli/progress.h"
#include "hyperion/common/text.h"
#include "hyperion/experiment/config.h"
#include "hyperion/experiment/ranking.h"

namespace hyperion::cli {
namespace {

constexpr size_t kLabelWidth = 40;   // change labels in a tree line, in characters
constexpr size_t kReasonWidth = 60;  // prune and failure reasons in a tree line
constexpr size_t kElisionWidth = 6;  // "…+37  ": what replaces the elided levels of an indentation

constexpr TrialState kStateOrder[] = {TrialState::kCompleted,  TrialState::kPruned,  TrialState::kFailed,
                                      TrialState::kTimedOut,   TrialState::kRunning, TrialState::kPending,
                                      TrialState::kInterrupted};

// --- text helpers
// --------------------------------------------------------------------------------------------

size_t CodePoints(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  return text;
}

std::string Num(int64_t number) { return "#" + std::to_string(number); }

// A parameter value for people: strings quoted, floats to six digits, the rest as JSON.
std::string ValueText(const Json& value) {
  if (value.is_number_float()) return ShortNumber(value.get<double>());
  return DumpJson(value);
}

const char* Marker(TrialState state) {
  switch (state) {
    case TrialState::kCompleted:
      return "✓";
    case TrialState::kPruned:
      return "✂";
    case TrialState::kFailed:
    case TrialState::kTimedOut:
      return "✗";
    case TrialState::kRunning:
      return "▸";
    case TrialState::kPending:
      return "·";
    case TrialState::kInterrupted:
      return "‖";
  }
  return "?";
}

const char* StateColor(TrialState state) {
  switch (state) {
    case TrialState::kCompleted:
      return "32";
    case TrialState::kPruned:
      return "33";
    case TrialState::kFailed:
    case TrialState::kTimedOut:
      return "31";
    case TrialState::kRunning:
      return "36";
    case TrialState::kPending:
    case TrialState::kInterrupted:
      return "2";
  }
  return "0";
}

std::string Paint(const std::string& text, const char* code, bool color) {
  return color ? std::string("\033[") + code + "m" + text + "\033[0m" : text;
}

// --- the graph
// -------------------------------------------------------------------------------------------------

// A line under a node: one of its primary children, or a merge it is another parent of.
struct ChildLine {
  const Trial* trial = nullptr;
  bool merge_ref = false;
};

// Indexes over the input: trials by number and id, the tree along primary parents (each trial appears once;
// a cycle, which storage never makes, is cut at its lowest number), merge references and events per trial.
class Graph {
 public:
  explicit Graph(const GraphData& data) : data_(data) {
    for (const auto& t : data.trials) {
      number_index_.emplace(t.number, &t);
      id_index_.emplace(t.id, &t);
    }
    for (const auto& [number, t] : number_index_) sorted_.push_back(t);
    objective_.metric = data.experiment.objective_metric;
    objective_.mode = data.experiment.objective_mode;
    BuildTree();
    BuildMergeLines();
    IndexEvents();
    auto best = BestCompleted(data.trials, objective_,
                              Training::FromJson(data.experiment.config.value("training", Json())));
    if (best) best_ = best->number;
  }

  const GraphData& data() const { return data_; }
  const Objective& objective() const { return objective_; }
  const std::vector<const Trial*>& sorted() const { return sorted_; }
  const std::vector<const Trial*>& roots() const { return roots_; }
  std::optional<int64_t> best() const { return best_; }

  const Trial* Find(int64_t number) const {
    auto it = number_index_.find(number);
    return it == number_index_.end() ? nullptr : it->second;
  }
  const Trial* FindId(int64_t id) const {
    auto it = id_index_.find(id);
    return it == id_index_.end() ? nullptr : it->second;
  }
  // The parent a trial hangs under in the tree; nullptr for a root.
  const Trial* TreeParent(const Trial& t) const {
    auto it = tree_parent_.find(t.number);
    return it == tree_parent_.end() ? nullptr : Find(it->second);
  }
  // parents[1...] that are trials of the input.
  std::vector<const Trial*> OtherParents(const Trial& t) const {
    std::vector<const Trial*> out;
    for (size_t i = 1; i < t.parents.size(); ++i)
      if (const Trial* p = FindId(t.parents[i]); p && p != &t) out.push_back(p);
    return out;
  }
  // Parent numbers in parents' order; ids that name no trial are left out.
  Json ParentNumbers(const Trial& t) const {
    Json out = Json::array();
    for (int64_t id : t.parents)
      if (const Trial* p = FindId(id)) out.push_back(p->number);
    return out;
  }
  bool PrimaryMissing(const Trial& t) const { return !t.parents.empty() && !FindId(t.parents[0]); }
  int Depth(const Trial& t) const { return depth_.at(t.number); }
  const std::vector<ChildLine>& Lines(const Trial& t) const {
    static const std::vector<ChildLine> kNone;
    auto it = lines_.find(t.number);
    return it == lines_.end() ? kNone : it->second;
  }
  std::vector<const Event*> Events(const Trial& t) const {
    auto it = events_.find(t.number);
    return it == events_.end() ? std::vector<const Event*>{} : it->second;
  }

  // Why a pruned trial was pruned: its error, else the latest trial_pruned event's reason. Empty otherwise.
  std::string PrunedReason(const Trial& t) const {
    if (t.state != TrialState::kPruned) return "";
    if (!t.error.empty()) return t.error;
    std::string reason;
    for (const Event* e : Events(t))
      if (e->type == "trial_pruned" && e->payload.contains("reason") && e->payload["reason"].is_string())
        reason = e->payload["reason"].get<std::string>();
    return reason;
  }

  // Who decided to make the trial: the agent of its trial_proposed event; empty when none says.
  std::string DecidedBy(const Trial& t) const {
    for (const Event* e : Events(t))
      if (e->type == "trial_proposed" && e->payload.contains("agent") && e->payload["agent"].is_string())
        return e->payload["agent"].get<std::string>();
    return "";
  }

  // The notes a decision answered (its payload's "notes", as note events); ids that name no note are left
  // out.
  std::vector<const Event*> NotesAnswered(const Event& e) const {
    std::vector<const Event*> out;
    const Json answered = e.payload.is_object() ? e.payload.value("notes", Json()) : Json();
    if (!answered.is_array()) return out;
    for (const auto& id : answered) {
      if (!id.is_number_integer()) continue;
      auto it = notes_.find(id.get<int64_t>());
      if (it != notes_.end()) out.push_back(it->second);
    }
    return out;
  }

  // Root first.
  std::vector<const Trial*> Lineage(const Trial& t) const {
    std::vector<const Trial*> out{&t};
    while (const Trial* p = TreeParent(*out.back())) out.push_back(p);
    std::reverse(out.begin(), out.end());
    return out;
  }

 private:
  void BuildTree() {
    std::map<int64_t, std::vector<int64_t>> candidates;  // primary parent number -> child numbers
    std::vector<const Trial*> natural_roots;
    for (const Trial* t : sorted_) {
      const Trial* p = t->parents.empty() ? nullptr : FindId(t->parents[0]);
      if (p && p != t)
        candidates[p->number].push_back(t->number);
      else
        natural_roots.push_back(t);
    }
    auto walk = [&](const Trial* root) {
      roots_.push_back(root);
      depth_[root->number] = 0;
      std::vector<int64_t> stack{root->number};
      while (!stack.empty()) {
        int64_t n = stack.back();
        stack.pop_back();
        for (int64_t child : candidates[n]) {
          if (depth_.count(child)) continue;  // only through a cycle
          depth_[child] = depth_[n] + 1;
          tree_parent_[child] = n;
          lines_[n].push_back({Find(child), false});
          stack.push_back(child);
        }
      }
    };
    for (const Trial* root : natural_roots) walk(root);
    for (const Trial* t : sorted_)
      if (!depth_.count(t->number)) walk(t);
    std::sort(roots_.begin(), roots_.end(),
              [](const Trial* a, const Trial* b) { return a->number < b->number; });
  }

  void BuildMergeLines() {
    for (const Trial* t : sorted_) {
      const Trial* tree_parent = TreeParent(*t);
      std::set<int64_t> seen;
      for (const Trial* other : OtherParents(*t)) {
        if (other == tree_parent || !seen.insert(other->number).second) continue;
        lines_[other->number].push_back({t, true});
      }
    }
    for (auto& [number, lines] : lines_) {
      std::sort(lines.begin(), lines.end(), [](const ChildLine& a, const ChildLine& b) {
        return a.trial->number != b.trial->number ? a.trial->number < b.trial->number
                                                  : !a.merge_ref && b.merge_ref;
      });
    }
  }

  void IndexEvents() {
    for (const auto& e : data_.events) {
      std::optional<int64_t> number;
      if (e.payload.is_object() && e.payload.contains("number") && e.payload["number"].is_number_integer())
        number = e.payload["number"].get<int64_t>();
      else if (e.trial_id)
        if (const Trial* t = FindId(*e.trial_id)) number = t->number;
      if (number) events_[*number].push_back(&e);
      if (e.type == "note") notes_[e.id] = &e;
    }
  }

  const GraphData& data_;
  Objective objective_;
  std::map<int64_t, const Trial*> number_index_;
  std::map<int64_t, const Trial*> id_index_;
  std::vector<const Trial*> sorted_;
  std::vector<const Trial*> roots_;
  std::map<int64_t, int64_t> tree_parent_;
  std::map<int64_t, int> depth_;
  std::map<int64_t, std::vector<ChildLine>> lines_;
  std::map<int64_t, std::vector<const Event*>> events_;
  std::map<int64_t, const Event*> notes_;  // note events by id
  std::optional<int64_t> best_;
};

// --- shared pieces
// -----------------------------------------------------------------------------------------------

std::string TrainingUnit(const ExperimentRecord& e) {
  const Json& training =
      e.config.is_object() && e.config.contains("training") ? e.config["training"] : Json();
  if (training.is_object() && training.contains("unit") && training["unit"].is_string())
    return training["unit"].get<std::string>();
  return "";
}

std::string ObjectiveText(const Graph& g) {
  std::string text = "value: " + g.objective().metric + " (" + ObjectiveModeName(g.objective().mode) + ")";
  const ExperimentRecord& e = g.data().experiment;
  std::string unit = TrainingUnit(e);
  if (!unit.empty()) {
    text += "  budget: " + unit;
    const Json& max = e.config["training"].contains("max") ? e.config["training"]["max"] : Json();
    if (max.is_number()) text += " (a full run is " + FormatNumber(max.get<double>()) + ")";
  }
  return text;
}

// "✓ 0.412" or "✗ failed": the marker, then the value when there is one, else the state.
std::string StateValue(const Trial& t, bool color) {
  std::string text = Marker(t.state);
  text += " ";
  text += t.value ? ShortNumber(*t.value) : TrialStateName(t.state);
  return Paint(text, StateColor(t.state), color);
}

// One trial on one line: "#12 ✓ 0.412  perturb  lr x3  epochs 5-10  merge with #31  ★ best".
std::string NodeLine(const Graph& g, const Trial& t, bool color) {
  bool best = g.best() == t.number;
  std::vector<std::string> parts;
  parts.push_back(Paint(Num(t.number), "1", color && best) + " " + StateValue(t, color));
  parts.push_back(t.op);
  if (!t.change_label.empty()) parts.push_back(ClipText(t.change_label, kLabelWidth));
  if (std::string span = SpanText(t, g.data().experiment); !span.empty()) parts.push_back(span);
  std::vector<std::string> others;
  for (const Trial* p : g.OtherParents(t)) others.push_back(Num(p->number));
  if (!others.empty()) parts.push_back("merge with " + JoinStrings(others));
  if (g.PrimaryMissing(t)) parts.push_back("(parent id " + std::to_string(t.parents[0]) + " not found)");
  std::string reason = t.state == TrialState::kPruned ? g.PrunedReason(t) : t.error;
  bool has_reason = t.state != TrialState::kCompleted && t.state != TrialState::kRunning &&
                    t.state != TrialState::kPending && !reason.empty();
  if (has_reason) {
    std::string text = ClipText(reason, kReasonWidth);
    parts.push_back(Paint("(" + (t.value ? std::string(TrialStateName(t.state)) + ": " : "") + text + ")",
                          StateColor(t.state), color));
  } else if (t.state == TrialState::kPruned && t.value) {
    parts.push_back(Paint("(pruned)", StateColor(t.state), color));
  }
  if (best) parts.push_back(Paint("★ best", "1;33", color));
  return JoinStrings(parts, "  ");
}

std::string CountsText(const Graph& g) {
  std::vector<std::string> parts;
  for (TrialState s : kStateOrder) {
    auto n =
        std::count_if(g.sorted().begin(), g.sorted().end(), [&](const Trial* t) { return t->state == s; });
    if (n) parts.push_back(std::to_string(n) + " " + TrialStateName(s));
  }
  std::string text = std::to_string(g.sorted().size()) + (g.sorted().size() == 1 ? " trial" : " trials");
  return parts.empty() ? text : text + ": " + JoinStrings(parts);
}

// The indentation of a line `more.size() + 1` levels deep; more[i] says whether the ancestor at level i + 1
// has siblings below it (draw a rail). Deep lines keep the first and last levels and elide the middle.
std::string Indent(const std::vector<bool>& more, bool last, const TreeStyle& style) {
  auto rail = [](bool m) { return m ? "│  " : "   "; };
  const size_t keep = static_cast<size_t>(std::max(0, style.kept_levels));
  const size_t depth = more.size() + 1;
  std::string out;
  if (static_cast<int>(depth) > std::max(1, style.full_depth) && more.size() >= 2 * keep + 3) {
    for (size_t i = 0; i < keep; ++i) out += rail(more[i]);
    std::string tag = "…+" + std::to_string(more.size() - 2 * keep);
    tag += std::string(kElisionWidth > CodePoints(tag) + 1 ? kElisionWidth - CodePoints(tag) : 1, ' ');
    out += tag;
    for (size_t i = more.size() - keep; i < more.size(); ++i) out += rail(more[i]);
  } else {
    for (bool m : more) out += rail(m);
  }
  return out + (last ? "└─ " : "├─ ");
}

Json NodeJson(const Graph& g, const Trial& t) {
  Json j = t.ToJson();
  j["depth"] = g.Depth(t);
  j["parent_numbers"] = g.ParentNumbers(t);
  Json children = Json::array(), merges = Json::array();
  for (const ChildLine& line : g.Lines(t)) (line.merge_ref ? merges : children).push_back(line.trial->number);
  j["children"] = children;
  j["merge_children"] = merges;
  if (!j.contains("restore_from")) j["restore_from"] = t.restore_from;
  if (!j.contains("checkpoint_dir")) j["checkpoint_dir"] = t.checkpoint_dir;
  std::string reason = g.PrunedReason(t);
  j["pruned_reason"] = t.state == TrialState::kPruned ? Json(reason) : Json();
  return j;
}

Json ObjectiveJson(const Graph& g) {
  return Json{{"metric", g.objective().metric}, {"mode", ObjectiveModeName(g.objective().mode)}};
}

// {param: {"from": old, "to": new}} for the params that differ from the primary parent's; a side is left out
// where the param is absent. Without a parent, every param with only "to".
Json ChangedJson(const Trial& t, const Trial* parent) {
  Json out = Json::object();
  const Json empty = Json::object();
  const Json& before = parent && parent->params.is_object() ? parent->params : empty;
  const Json& after = t.params.is_object() ? t.params : empty;
  for (const auto& [name, value] : after.items()) {
    if (before.contains(name) && SameTypedValue(before[name], value)) continue;
    Json change = Json::object();
    if (before.contains(name)) change["from"] = before[name];
    change["to"] = value;
    out[name] = change;
  }
  for (const auto& [name, value] : before.items())
    if (!after.contains(name)) out[name] = Json{{"from", value}};
  return out;
}

// The events about a trial after it was made that the trace lists under it.
bool IsDecision(const Event& e) {
  return e.type == "trial_pruned" || e.type == "trial_promoted" || e.type == "checkpoint_removed" ||
         e.type == "prune_requested" || e.type == "trial_prioritised";
}

Json DecisionJson(const Event& e) {
  auto field = [&](const char* key, Json fallback) {
    return e.payload.is_object() && e.payload.contains(key) ? e.payload[key] : fallback;
  };
  // Retention records no source of its own: it is the one component that removes checkpoints. A
  // prioritisation names its agent and its rationale, as a proposal does.
  const bool priority = e.type == "trial_prioritised";
  Json j{{"type", e.type},
         {"source", priority ? field("agent", Json())
                             : field("source", e.type == "checkpoint_removed" ? Json("retention") : Json())},
         {"reason", field(priority ? "rationale" : "reason", Json())},
         {"evidence", field("evidence", Json::object())},
         {"time", e.time}};
  if (e.type == "checkpoint_removed") j["path"] = field("path", Json());
  if (priority) j["priority"] = field("priority", Json());
  return j;
}

Json OtherParentJson(const Trial& p) {
  return Json{{"number", p.number},
              {"value", p.value ? Json(*p.value) : Json()},
              {"state", TrialStateName(p.state)},
              {"operator", p.op},
              {"rationale", p.rationale}};
}

std::string EvidenceText(const Json& evidence) {
  if (evidence.is_null() || (evidence.is_object() && evidence.empty())) return "";
  return DumpJson(evidence);
}

// One decision for the trace: "[asha] 0.52 at epoch 5 is below ...  {"milestone":5,...}".
std::string DecisionText(const Event& e) {
  Json d = DecisionJson(e);
  std::string text;
  if (d["source"].is_string()) text += "[" + d["source"].get<std::string>() + "] ";
  if (e.type == "checkpoint_removed") {
    text += "checkpoint";
    if (d["path"].is_string()) text += " " + d["path"].get<std::string>();
    if (d["reason"].is_string()) text += ": " + OneLine(d["reason"].get<std::string>());
  } else {
    if (e.type == "trial_prioritised") text += "set to " + ValueText(d["priority"]) + ": ";
    text += d["reason"].is_string() ? OneLine(d["reason"].get<std::string>()) : "(no reason recorded)";
  }
  if (std::string ev = EvidenceText(d["evidence"]); !ev.empty()) text += "  " + ev;
  return text;
}

std::string DecisionLabel(const std::string& type) {
  if (type == "trial_pruned") return "pruned";
  if (type == "trial_promoted") return "promoted";
  if (type == "prune_requested") return "stop asked";
  if (type == "trial_prioritised") return "priority";
  return "removed";
}

// A note's text; empty when its payload holds none.
std::string NoteText(const Event& note) {
  const Json& p = note.payload;
  return p.is_object() && p.contains("text") && p["text"].is_string() ? p["text"].get<std::string>() : "";
}

// Notes a decision answered, with the type of that decision, for the trace JSON.
Json NoteJson(const Event& note, const Event& decision) {
  return Json{{"id", note.id}, {"text", NoteText(note)}, {"time", note.time}, {"answered_by", decision.type}};
}

// One trial of a trace: its tree line, then labelled fields, each behind a rail while the lineage goes on.
std::string TraceBlock(const Graph& g, const Trial& t, const Trial* parent, bool more, bool color) {
  std::string out = NodeLine(g, t, color) + "\n";
  auto field = [&](const std::string& label, const std::string& text) {
    std::string padded = label;
    padded.resize(std::max<size_t>(label.size() + 1, 11), ' ');
    out += (more ? "│  " : "   ") + padded + text + "\n";
  };
  Json changed = ChangedJson(t, parent);
  if (!parent) {
    field("params", t.params.empty() ? "(none)" : FormatParams(t.params));
  } else if (changed.empty()) {
    field("changed", "nothing: same params as " + Num(parent->number));
  } else {
    std::vector<std::string> parts;
    for (const auto& [name, change] : changed.items()) {
      parts.push_back(name + " " + (change.contains("from") ? ValueText(change["from"]) : "(unset)") +
                      " -> " + (change.contains("to") ? ValueText(change["to"]) : "(unset)"));
    }
    field("changed", JoinStrings(parts));
  }
  if (!t.restore_from.empty()) field("restored", t.restore_from);
  if (!t.checkpoint_dir.empty()) field("checkpoint", t.checkpoint_dir);
  auto answers = [&](const Event& decision) {
    for (const Event* note : g.NotesAnswered(decision))
      field("answers", "note \"" + OneLine(NoteText(*note)) + "\"");
  };
  if (std::string by = g.DecidedBy(t); !by.empty()) field("decided by", by);
  if (!t.rationale.empty()) field("rationale", OneLine(t.rationale));
  if (std::string ev = EvidenceText(t.evidence); !ev.empty()) field("evidence", ev);
  for (const Event* e : g.Events(t))
    if (e->type == "trial_proposed") answers(*e);
  for (const Trial* other : g.OtherParents(t)) {
    std::string text = Num(other->number) + " " + StateValue(*other, color) + "  " + other->op;
    if (!other->rationale.empty()) text += ": " + OneLine(other->rationale);
    field("merged", text);
  }
  bool pruned_event = false;
  for (const Event* e : g.Events(t)) {
    if (!IsDecision(*e)) continue;
    pruned_event |= e->type == "trial_pruned";
    field(DecisionLabel(e->type), DecisionText(*e));
    answers(*e);
  }
  // The stored reason, unless a prune event already said it.
  if (!t.error.empty() && !(t.state == TrialState::kPruned && pruned_event))
    field(TrialStateName(t.state), OneLine(t.error));
  return out;
}

}  // namespace

// --- the public functions
// -------------------------------------------------------------------------------------

Result<const Trial*> FindTrial(const ExperimentRecord& experiment, const std::vector<Trial>& trials,
                               int64_t number) {
  const Trial* found = nullptr;
  const Trial *lowest = nullptr, *highest = nullptr;
  for (const Trial& t : trials) {
    if (t.number == number) found = &t;
    if (!lowest || t.number < lowest->number) lowest = &t;
    if (!highest || t.number > highest->number) highest = &t;
  }
  if (found) return found;
  if (trials.empty()) return NotFoundError("experiment '" + experiment.name + "' has no trials yet");
  return NotFoundError("experiment '" + experiment.name + "' has no trial " + Num(number) +
                       "; its trials are " + Num(lowest->number) + " to " + Num(highest->number));
}

std::string SpanText(const Trial& t, const ExperimentRecord& experiment) {
  if (!t.budget_from && !t.budget_to) return "";
  std::string unit = TrainingUnit(experiment);
  std::string from = t.budget_from ? FormatNumber(*t.budget_from) : "0";
  std::string to = t.budget_to ? FormatNumber(*t.budget_to) : "?";
  return (unit.empty() ? "budget" : unit) + " " + from + "-" + to;
}

std::string ClipText(const std::string& text, size_t width) {
  std::string line = OneLine(text);
  if (CodePoints(line) <= width) return line;
  if (width == 0) return "";
  // The longest prefix of width - 1 characters, leaving room for the ellipsis.
  size_t cut = 0, kept = 0;
  while (cut < line.size() && kept < width - 1) {
    ++cut;
    while (cut < line.size() && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) ++cut;
    ++kept;
  }
  // Back to the last space unless the prefix ends a word already; a single long word is cut where it is.
  if (line[cut] != ' ') {
    size_t space = line.rfind(' ', cut);
    if (space != std::string::npos && CodePoints(line.substr(0, space)) * 3 >= (width - 1) * 2) cut = space;
  }
  std::string prefix = line.substr(0, cut);
  // No dangling separators or opening brackets before the ellipsis: "(rank 5; cut-off…", not "(rank 5; (…".
  while (!prefix.empty() && std::string(" ,;:([{").find(prefix.back()) != std::string::npos)
    prefix.pop_back();
  return prefix + "…";
}

std::optional<int64_t> BestTrialNumber(const GraphData& data) { return Graph(data).best(); }

std::string RenderTree(const GraphData& data, const TreeStyle& style) {
  Graph g(data);
  const ExperimentRecord& e = data.experiment;
  std::string out = "experiment '" + e.name + "'  strategy " + e.strategy + "  " + CountsText(g) + "\n";
  out += ObjectiveText(g) + "\n";
  for (const Trial* root : g.roots()) {
    out += NodeLine(g, *root, style.color) + "\n";
    // Depth-first without recursion, so a lineage thousands deep costs no stack.
    struct Frame {
      const Trial* node;
      size_t next;
    };
    std::vector<Frame> stack{{root, 0}};
    std::vector<bool> more;
    while (!stack.empty()) {
      const Trial* node = stack.back().node;
      const auto& lines = g.Lines(*node);
      if (stack.back().next == lines.size()) {
        stack.pop_back();
        if (!more.empty() && !stack.empty()) more.pop_back();
        continue;
      }
      const ChildLine line = lines[stack.back().next++];
      bool last = stack.back().next == lines.size();
      std::string text = line.merge_ref
                             ? Paint("-> " + Num(line.trial->number) + " (merge)", "2", style.color)
                             : NodeLine(g, *line.trial, style.color);
      out += Indent(more, last, style) + text + "\n";
      if (!line.merge_ref && !g.Lines(*line.trial).empty()) {
        more.push_back(!last);
        stack.push_back({line.trial, 0});
      }
    }
  }
  if (g.sorted().empty()) out += "(no trials yet)\n";
  if (auto best = g.best()) {
    const Trial& b = *g.Find(*best);
    out += "best: " + Num(b.number) + " " + g.objective().metric + "=" + FormatNumber(*b.value) + " (" +
           ObjectiveModeName(g.objective().mode) + "); its lineage: hyperion trace " +
           std::to_string(b.number) + "\n";
  } else {
    out += "best: none (no completed trial)\n";
  }
  return out;
}

Json TreeJson(const GraphData& data) {
  Graph g(data);
  Json nodes = Json::array(), edges = Json::array();
  for (const Trial* t : g.sorted()) {
    nodes.push_back(NodeJson(g, *t));
    if (const Trial* p = g.TreeParent(*t))
      edges.push_back(
          Json{{"from", p->number}, {"to", t->number}, {"kind", "primary"}, {"label", t->change_label}});
    std::set<int64_t> seen;
    for (const Trial* p : g.OtherParents(*t)) {
      if (p == g.TreeParent(*t) || !seen.insert(p->number).second) continue;
      edges.push_back(
          Json{{"from", p->number}, {"to", t->number}, {"kind", "merge"}, {"label", t->change_label}});
    }
  }
  Json counts = Json::object();
  for (TrialState s : kStateOrder) {
    auto n =
        std::count_if(g.sorted().begin(), g.sorted().end(), [&](const Trial* t) { return t->state == s; });
    if (n) counts[TrialStateName(s)] = n;
  }
  const ExperimentRecord& e = data.experiment;
  Json training = e.config.is_object() && e.config.contains("training") ? e.config["training"] : Json();
  return Json{{"experiment", e.name},
              {"strategy", e.strategy},
              {"objective", ObjectiveJson(g)},
              {"training", training},
              {"counts", counts},
              {"nodes", nodes},
              {"edges", edges},
              {"best", g.best() ? Json(*g.best()) : Json()}};
}

Result<std::string> RenderTrace(const GraphData& data, int64_t number, const TreeStyle& style) {
  Graph g(data);
  HYP_ASSIGN_OR_RETURN(const Trial* found, FindTrial(data.experiment, data.trials, number));
  const Trial* target = g.Find(found->number);
  auto lineage = g.Lineage(*target);
  std::string out = "trace of " + Num(number) + " in experiment '" + data.experiment.name +
                    "': " + std::to_string(lineage.size()) + (lineage.size() == 1 ? " trial" : " trials") +
                    " from root " + Num(lineage.front()->number) + "\n";
  out += ObjectiveText(g) + "\n";
  for (size_t i = 0; i < lineage.size(); ++i) {
    out += i == 0 ? "\n" : "│\n";
    out += TraceBlock(g, *lineage[i], i == 0 ? nullptr : lineage[i - 1], i + 1 < lineage.size(), style.color);
  }
  return out;
}

Result<Json> TraceJson(const GraphData& data, int64_t number) {
  Graph g(data);
  HYP_ASSIGN_OR_RETURN(const Trial* found, FindTrial(data.experiment, data.trials, number));
  const Trial* target = g.Find(found->number);
  Json lineage = Json::array();
  const Trial* parent = nullptr;
  for (const Trial* t : g.Lineage(*target)) {
    Json j = NodeJson(g, *t);
    j["changed"] = ChangedJson(*t, parent);
    Json others = Json::array();
    for (const Trial* other : g.OtherParents(*t)) others.push_back(OtherParentJson(*other));
    j["other_parents"] = others;
    Json decisions = Json::array(), notes = Json::array();
    for (const Event* e : g.Events(*t)) {
      if (IsDecision(*e)) decisions.push_back(DecisionJson(*e));
      for (const Event* note : g.NotesAnswered(*e)) notes.push_back(NoteJson(*note, *e));
    }
    j["decisions"] = decisions;
    std::string by = g.DecidedBy(*t);
    j["decided_by"] = by.empty() ? Json() : Json(by);
    j["notes"] = notes;
    lineage.push_back(j);
    parent = t;
  }
  return Json{{"experiment", data.experiment.name},
              {"objective", ObjectiveJson(g)},
              {"trial", number},
              {"lineage", lineage}};
}

}  // namespace hyperion::cli
