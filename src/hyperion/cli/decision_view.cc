#include "hyperion/cli/decision_view.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "hyperion/common/text.h"
#include "hyperion/experiment/event_types.h"
#include "hyperion/orchestrator/orchestrator.h"

namespace hyperion::cli {
namespace {

constexpr size_t kWhoWidth = 24;      // the "who" column at most, in characters
constexpr size_t kMinTextWidth = 30;  // the last column keeps at least this much, however narrow the line

// Event type -> kind, in the order the header of decision_view.h lists them.
const std::vector<std::pair<std::string, std::string>>& Kinds() {
  static const std::vector<std::pair<std::string, std::string>> kKinds = {
      {events::kTrialProposed, "propose"},
      {events::kPruneRequested, "prune-request"},
      {events::kTrialPruned, "prune"},
      {events::kTrialPrioritised, "prioritise"},
      {events::kAgentStopped, "stop"},
      {events::kDecisionRejected, "rejected"},
      {events::kAgentFallback, "fallback"},
      {events::kAgentExchange, "llm-call"},
      {events::kNote, "note"}};
  return kKinds;
}

std::string KindOf(const std::string& type) {
  for (const auto& [t, kind] : Kinds())
    if (t == type) return kind;
  return "";
}

std::string Str(const Json& payload, const char* key) {
  if (!payload.is_object() || !payload.contains(key)) return "";
  const Json& v = payload[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return DumpJson(v);
}

std::optional<int64_t> Int(const Json& payload, const char* key) {
  if (payload.is_object() && payload.contains(key) && payload[key].is_number_integer())
    return payload[key].get<int64_t>();
  return std::nullopt;
}

size_t CodePoints(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

std::string PadRight(std::string text, size_t width) {
  size_t n = CodePoints(text);
  if (n < width) text.append(width - n, ' ');
  return text;
}

std::string PadLeft(const std::string& text, size_t width) {
  size_t n = CodePoints(text);
  return n < width ? std::string(width - n, ' ') + text : text;
}

std::string Num(int64_t number) { return "#" + std::to_string(number); }

// "+12.3s" under a minute, then "+3m 05s", "+1h 02m".
std::string ElapsedText(double seconds) {
  if (seconds < 60) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "+%.1fs", seconds);
    return buffer;
  }
  return "+" + FormatDuration(seconds);
}

struct Entry {
  const Event* event = nullptr;
  std::string kind;
  std::optional<int64_t> trial;
  std::string who;  // empty when the event does not say
  double elapsed = 0;
};

// Every entry of the log, oldest first, and which notes each decision answered.
class Decisions {
 public:
  explicit Decisions(const GraphData& data) {
    std::map<int64_t, int64_t> numbers;  // trial id -> number
    for (const auto& t : data.trials) numbers[t.id] = t.number;
    std::vector<const Event*> sorted;
    for (const auto& e : data.events)
      if (!KindOf(e.type).empty()) sorted.push_back(&e);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Event* a, const Event* b) { return a->id < b->id; });
    double start = data.experiment.created_at;
    if (start <= 0 && !sorted.empty()) start = sorted.front()->time;
    for (const Event* e : sorted) {
      Entry entry;
      entry.event = e;
      entry.kind = KindOf(e->type);
      entry.elapsed = std::max(0.0, e->time - start);
      const Json& p = e->payload;
      if (e->type == events::kDecisionRejected) {
        entry.trial = Int(p, "trial");
      } else if (e->type != events::kNote && e->type != events::kAgentStopped &&
                 e->type != events::kAgentFallback && e->type != events::kAgentExchange) {
        entry.trial = Int(p, "number");
        if (!entry.trial && e->trial_id && numbers.count(*e->trial_id)) entry.trial = numbers[*e->trial_id];
      }
      if (e->type == events::kNote)
        entry.who = "person";
      else if (e->type == events::kTrialPruned || e->type == events::kPruneRequested)
        entry.who = Str(p, "source");
      else
        entry.who = Str(p, "agent");
      if (e->type == events::kNote) note_text_[e->id] = Str(p, "text");
      const Json answered = p.is_object() ? p.value("notes", Json()) : Json();
      if (answered.is_array()) {
        for (const auto& id : answered)
          if (id.is_number_integer()) {
            answered_by_[id.get<int64_t>()].push_back(entries_.size());
            answers_[entries_.size()].push_back(id.get<int64_t>());
          }
      }
      entries_.push_back(std::move(entry));
    }
  }

  const std::vector<Entry>& entries() const { return entries_; }

  // The entries the options select, oldest first.
  std::vector<size_t> Select(const DecisionOptions& options) const {
    std::vector<size_t> out;
    for (size_t i = 0; i < entries_.size(); ++i)
      if (!options.trial || entries_[i].trial == options.trial) out.push_back(i);
    if (options.limit && out.size() > *options.limit) out.erase(out.begin(), out.end() - *options.limit);
    return out;
  }

  // The entries that answered note `note_id` (by its event id), oldest first.
  const std::vector<size_t>& AnsweredBy(int64_t note_id) const {
    static const std::vector<size_t> kNone;
    auto it = answered_by_.find(note_id);
    return it == answered_by_.end() ? kNone : it->second;
  }
  // The note ids entry `index` answered.
  const std::vector<int64_t>& Answers(size_t index) const {
    static const std::vector<int64_t> kNone;
    auto it = answers_.find(index);
    return it == answers_.end() ? kNone : it->second;
  }
  std::optional<std::string> NoteText(int64_t note_id) const {
    auto it = note_text_.find(note_id);
    return it == note_text_.end() ? std::nullopt : std::optional<std::string>(it->second);
  }

 private:
  std::vector<Entry> entries_;
  std::map<int64_t, std::vector<size_t>> answered_by_;  // note event id -> entries
  std::map<size_t, std::vector<int64_t>> answers_;      // entry -> note event ids
  std::map<int64_t, std::string> note_text_;            // note event id -> text
};

// "propose #6", "stop": an entry as a note's answer names it.
std::string EntryName(const Entry& e) { return e.trial ? e.kind + " " + Num(*e.trial) : e.kind; }

std::string OrDefault(const std::string& text, const char* fallback) {
  return text.empty() ? fallback : text;
}

// The last column: what was decided and why, or what happened.
std::string EntryText(const Decisions& d, size_t index) {
  const Entry& entry = d.entries()[index];
  const Event& e = *entry.event;
  const Json& p = e.payload;
  const char* kNoReason = "(no reason recorded)";
  if (e.type == events::kTrialProposed) {
    std::string head = OrDefault(Str(p, "operator"), "?");
    if (std::string change = Str(p, "change"); !change.empty()) head += " " + change;
    return head + ": " + OrDefault(Str(p, "rationale"), "(no rationale recorded)");
  }
  if (e.type == events::kTrialPruned || e.type == events::kPruneRequested)
    return OrDefault(Str(p, "reason"), kNoReason);
  if (e.type == events::kTrialPrioritised)
    return "priority " + OrDefault(Str(p, "priority"), "?") + ": " +
           OrDefault(Str(p, "rationale"), kNoReason);
  if (e.type == events::kAgentStopped) return OrDefault(Str(p, "rationale"), kNoReason);
  if (e.type == events::kDecisionRejected) {
    std::string text =
        OrDefault(Str(p, "decision"), "decision") + " refused: " + OrDefault(Str(p, "reason"), kNoReason);
    if (std::string why = Str(p, "rationale"); !why.empty()) text += "; its rationale: " + why;
    return text;
  }
  if (e.type == events::kAgentFallback)
    return "decided by " + OrDefault(Str(p, "decided_by"), "the fallback");
  if (e.type == events::kAgentExchange) {
    std::vector<std::string> parts{OrDefault(Str(p, "model"), "(model?)"), OrDefault(Str(p, "status"), "?")};
    auto prompt = Int(p, "prompt_tokens"), completion = Int(p, "completion_tokens");
    if (prompt || completion)
      parts.push_back((prompt ? std::to_string(*prompt) : "?") + "+" +
                      (completion ? std::to_string(*completion) : "?") + " tokens");
    if (p.is_object() && p.contains("latency_s") && p["latency_s"].is_number()) {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%.2fs", p["latency_s"].get<double>());
      parts.push_back(buffer);
    }
    if (auto attempt = Int(p, "attempt"); attempt && *attempt > 1)
      parts.push_back("attempt " + std::to_string(*attempt));
    if (std::string error = Str(p, "error"); !error.empty()) parts.push_back("error: " + error);
    return JoinStrings(parts, "  ");
  }
  // A note: whether it was answered comes first, so that clipping a long note never hides it.
  std::vector<std::string> by;
  for (size_t answer : d.AnsweredBy(e.id)) by.push_back(EntryName(d.entries()[answer]));
  return (by.empty() ? std::string("not answered yet") : "answered by " + JoinStrings(by)) + ": " +
         Str(p, "text");
}

Json EntryJson(const Decisions& d, size_t index) {
  const Entry& entry = d.entries()[index];
  const Event& e = *entry.event;
  // The entry's own fields first, then the payload's (a payload key of the same name is the same fact).
  Json j{{"id", e.id},
         {"time", e.time},
         {"elapsed", entry.elapsed},
         {"type", e.type},
         {"kind", entry.kind},
         {"trial", entry.trial ? Json(*entry.trial) : Json()},
         {"who", entry.who.empty() ? Json() : Json(entry.who)}};
  const Json payload = e.payload.is_object() ? e.payload : Json{{"payload", e.payload}};
  for (const auto& [key, value] : payload.items())
    if (!j.contains(key)) j[key] = value;
  if (e.type == events::kNote) {
    Json by = Json::array();
    for (size_t answer : d.AnsweredBy(e.id)) {
      const Entry& a = d.entries()[answer];
      by.push_back(Json{{"id", a.event->id}, {"kind", a.kind}, {"trial", a.trial ? Json(*a.trial) : Json()}});
    }
    j["answered"] = !by.empty();
    j["answered_by"] = by;
  }
  if (!d.Answers(index).empty()) {
    Json answers = Json::array();
    for (int64_t id : d.Answers(index)) {
      auto text = d.NoteText(id);
      answers.push_back(Json{{"id", id}, {"text", text ? Json(*text) : Json()}});
    }
    j["answers"] = answers;
  }
  return j;
}

}  // namespace

const std::vector<std::string>& DecisionEventTypes() {
  static const std::vector<std::string> kTypes = [] {
    std::vector<std::string> out;
    for (const auto& [type, kind] : Kinds()) out.push_back(type);
    return out;
  }();
  return kTypes;
}

std::string RenderDecisions(const GraphData& data, const DecisionOptions& options) {
  Decisions d(data);
  std::vector<size_t> shown = d.Select(options);
  size_t selected = 0;
  for (const Entry& e : d.entries()) selected += !options.trial || e.trial == options.trial;
  std::string out = "experiment '" + data.experiment.name + "'  strategy " + data.experiment.strategy + "  " +
                    std::to_string(selected) + (selected == 1 ? " entry" : " entries");
  if (options.trial) out += " about " + Num(*options.trial);
  if (shown.size() < selected) out += ", the last " + std::to_string(shown.size()) + " shown";
  out += "; times since the experiment started\n";
  if (shown.empty()) {
    out += options.trial ? "(no decisions about " + Num(*options.trial) + ")\n" : "(no decisions yet)\n";
    return out;
  }
  struct Row {
    std::string time, kind, trial, who, text;
  };
  std::vector<Row> rows;
  size_t time_w = 0, kind_w = 0, trial_w = 0, who_w = 0;
  for (size_t index : shown) {
    const Entry& e = d.entries()[index];
    Row row{ElapsedText(e.elapsed), e.kind, e.trial ? Num(*e.trial) : "-",
            e.who.empty() ? "-" : ClipText(e.who, kWhoWidth), EntryText(d, index)};
    time_w = std::max(time_w, CodePoints(row.time));
    kind_w = std::max(kind_w, CodePoints(row.kind));
    trial_w = std::max(trial_w, CodePoints(row.trial));
    who_w = std::max(who_w, CodePoints(row.who));
    rows.push_back(std::move(row));
  }
  const size_t prefix = time_w + kind_w + trial_w + who_w + 4 * 2;
  const size_t text_w = options.width > prefix + kMinTextWidth ? options.width - prefix : kMinTextWidth;
  for (const Row& row : rows) {
    out += PadLeft(row.time, time_w) + "  " + PadRight(row.kind, kind_w) + "  " +
           PadRight(row.trial, trial_w) + "  " + PadRight(row.who, who_w) + "  " +
           ClipText(row.text, text_w) + "\n";
  }
  return out;
}

Json DecisionsJson(const GraphData& data, const DecisionOptions& options) {
  Decisions d(data);
  Json out = Json::array();
  for (size_t index : d.Select(options)) {
    out.push_back(EntryJson(d, index));
    if (options.with_summary) out.back()["summary"] = EntryText(d, index);
  }
  return out;
}

Result<std::string> CheckNoteText(const std::string& text) {
  const char* kSpace = " \t\n\r\f\v";
  size_t first = text.find_first_not_of(kSpace);
  if (first == std::string::npos) {
    return InvalidArgumentError(
        "a note needs some text for the agent, e.g. `hyperion note \"lr above 0.1 diverges; stay below\"`");
  }
  size_t last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

std::string NoteStoredText(const ExperimentRecord& experiment, int64_t event_id, double now,
                           bool owner_gone) {
  std::string head =
      "note stored for experiment '" + experiment.name + "' (event " + std::to_string(event_id) + ")";
  const std::string later = "its agent reads the note when you resume it";
  if (experiment.status != "running" || experiment.owner.empty())
    return head + "; the experiment is not running: " + later;
  if (owner_gone)
    return head + "; its runner " + experiment.owner + " is gone, so the experiment is not running: " + later;
  if (experiment.heartbeat_at && now - *experiment.heartbeat_at <= kStaleOwnerSeconds)
    return head + "; the running agent reads it within a second";
  std::string silent =
      experiment.heartbeat_at ? " for " + FormatDuration(now - *experiment.heartbeat_at) : "";
  return head + "; its runner " + experiment.owner + " has not been heard from" + silent +
         ", so the experiment is probably not running: " + later;
}

}  // namespace hyperion::cli
