#include "hyperion/dashboard/api.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "hyperion/cli/decision_view.h"
#include "hyperion/cli/graph_data.h"
#include "hyperion/cli/graph_view.h"
#include "hyperion/common/clock.h"
#include "hyperion/dashboard/analysis.h"
#include "hyperion/experiment/event_types.h"
#include "hyperion/storage/storage.h"

namespace hyperion::dashboard {
namespace {

// The most a list endpoint returns in one page, and what the views cap themselves at.
constexpr int64_t kMaxPage = 500;
constexpr int64_t kMaxCurveTrials = 200;
constexpr int64_t kMaxCurvePoints = 5000;
constexpr int64_t kMaxGraphNodes = 5000;
constexpr size_t kTimelineTrials = 2000;
constexpr size_t kParallelTrials = 1000;

ApiResponse Error(int status, const std::string& message) { return {status, Json{{"error", message}}}; }

// An HTTP status for a storage or lookup error.
ApiResponse ErrorFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return Error(400, status.message());
    case StatusCode::kNotFound:
      return Error(404, status.message());
    case StatusCode::kUnavailable:
      return Error(503, status.message());
    default:
      return Error(500, status.message());
  }
}

// Thrown inside a handler for a bad request and turned into a 400 (or `status`) with the message, so that
// parameter checks stay one line each.
struct BadRequest {
  int status;
  std::string message;
};

// The non-empty pieces of `text` between `separator`s: path segments, comma lists.
std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = std::min(text.find(separator, start), text.size());
    if (end > start) parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

int64_t ParseInteger(const std::string& text, const std::string& what, int64_t low, int64_t high) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high) {
    throw BadRequest{400, what + " must be a whole number from " + std::to_string(low) + " to " +
                              std::to_string(high) + ", got '" + text + "'"};
  }
  return value;
}

int64_t IntParam(const ApiRequest& request, const std::string& name, int64_t fallback, int64_t low,
                 int64_t high) {
  auto it = request.query.find(name);
  if (it == request.query.end()) return fallback;
  return ParseInteger(it->second, name, low, high);
}

std::string TextParam(const ApiRequest& request, const std::string& name, const std::string& fallback,
                      const std::vector<std::string>& allowed = {}) {
  auto it = request.query.find(name);
  if (it == request.query.end()) return fallback;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), it->second) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    throw BadRequest{400, name + " must be one of " + list + ", got '" + it->second + "'"};
  }
  return it->second;
}

template <typename T>
T Must(Result<T> result) {
  if (!result.ok()) throw result.status();
  return std::move(result).value();
}

// One request's view of the database: its own connection, opened for this request only.
class Session {
 public:
  Session(const std::string& url) : storage_(Must(OpenStorage(url, /*create_if_missing=*/false))) {}

  Storage& storage() { return *storage_; }

  ExperimentRecord Experiment(const std::string& id_text) {
    int64_t id = ParseInteger(id_text, "the experiment id", 1, INT64_MAX);
    for (auto& e : Must(storage_->ListExperiments())) {
      if (e.id == id) return e;
    }
    throw BadRequest{404, "no experiment with id " + id_text + " (see /api/experiments)"};
  }

  Trial FindTrial(const ExperimentRecord& e, const std::vector<Trial>& trials,
                  const std::string& number_text) {
    int64_t number = ParseInteger(number_text, "the trial number", 1, INT64_MAX);
    auto found = cli::FindTrial(e, trials, number);
    if (!found.ok()) throw BadRequest{404, found.status().message()};
    return **found;
  }

 private:
  std::unique_ptr<Storage> storage_;
};

ApiResponse ListExperiments(Session& s) {
  Json list = Json::array();
  for (const auto& e : Must(s.storage().ListExperiments())) {
    list.push_back(cli::ExperimentSummaryJson(e, Must(s.storage().ListTrials(e.id))));
  }
  return {200, Json{{"experiments", list}}};
}

ApiResponse GetExperiment(Session& s, const ExperimentRecord& e) {
  Json j = cli::ExperimentSummaryJson(e, Must(s.storage().ListTrials(e.id)));
  j["config"] = e.config;
  return {200, j};
}

// Sort keys of the trial table; a missing value sorts last in either order.
std::optional<Json> SortKey(const Trial& t, const std::string& key) {
  if (key == "number") return Json(t.number);
  if (key == "value") return t.value ? std::optional<Json>(Json(*t.value)) : std::nullopt;
  if (key == "state") return Json(TrialStateName(t.state));
  if (key == "operator") return Json(t.op);
  if (key == "started_at") return t.started_at ? std::optional<Json>(Json(*t.started_at)) : std::nullopt;
  if (key == "ended_at") return t.ended_at ? std::optional<Json>(Json(*t.ended_at)) : std::nullopt;
  if (key == "duration" && t.started_at && t.ended_at) return Json(*t.ended_at - *t.started_at);
  return std::nullopt;
}

ApiResponse ListTrials(Session& s, const ExperimentRecord& e, const ApiRequest& r) {
  int64_t offset = IntParam(r, "offset", 0, 0, INT64_MAX);
  int64_t limit = IntParam(r, "limit", 50, 1, kMaxPage);
  std::string sort = TextParam(
      r, "sort", "number", {"number", "value", "state", "operator", "started_at", "ended_at", "duration"});
  bool descending = TextParam(r, "order", "asc", {"asc", "desc"}) == "desc";
  std::set<std::string> states;
  if (auto it = r.query.find("state"); it != r.query.end()) {
    for (const auto& name : Split(it->second, ',')) {
      if (!TrialStateFromName(name).ok())
        throw BadRequest{400,
                         "state must be trial states separated by commas (pending, running, completed, "
                         "failed, pruned, timed_out, interrupted), got '" +
                             name + "'"};
      states.insert(name);
    }
  }
  auto trials = Must(s.storage().ListTrials(e.id));
  std::vector<const Trial*> rows;
  for (const auto& t : trials) {
    if (states.empty() || states.count(TrialStateName(t.state))) rows.push_back(&t);
  }
  std::vector<std::pair<std::optional<Json>, const Trial*>> keyed;
  keyed.reserve(rows.size());
  for (const Trial* t : rows) keyed.emplace_back(SortKey(*t, sort), t);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    if (a.first.has_value() != b.first.has_value()) return a.first.has_value();
    if (!a.first) return a.second->number < b.second->number;
    if (*a.first == *b.first) return a.second->number < b.second->number;
    return descending ? *b.first < *a.first : *a.first < *b.first;
  });
  Json page = Json::array();
  for (int64_t i = offset; i < static_cast<int64_t>(keyed.size()) && i < offset + limit; ++i) {
    const Trial& t = *keyed[i].second;
    Json j = t.ToJson();
    j["parent_numbers"] = cli::ParentNumbersJson(t, trials);
    page.push_back(std::move(j));
  }
  return {200, Json{{"total", keyed.size()},
                    {"offset", offset},
                    {"limit", limit},
                    {"sort", sort},
                    {"order", descending ? "desc" : "asc"},
                    {"trials", page}}};
}

// Every metric's curve of the trial's latest attempt, each downsampled.
Json CurvesOf(const std::vector<Report>& reports, size_t max_points) {
  std::vector<std::string> metrics;
  for (const auto& r : reports) {
    if (std::find(metrics.begin(), metrics.end(), r.metric) == metrics.end()) metrics.push_back(r.metric);
  }
  Json out = Json::object();
  for (const auto& m : metrics) {
    Json points = Json::array();
    for (const auto& [step, value] : Downsample(CurveOf(reports, m), max_points))
      points.push_back({step, value});
    out[m] = points;
  }
  return out;
}

ApiResponse GetTrial(Session& s, const ExperimentRecord& e, const std::string& number, const ApiRequest& r) {
  auto max_points = static_cast<size_t>(IntParam(r, "max_points", 500, 4, kMaxCurvePoints));
  auto trials = Must(s.storage().ListTrials(e.id));
  Trial t = s.FindTrial(e, trials, number);
  Json j = t.ToJson();
  j["parent_numbers"] = cli::ParentNumbersJson(t, trials);
  j["reports"] = CurvesOf(Must(s.storage().ListReports(t.id)), max_points);
  return {200, j};
}

ApiResponse GetTrace(Session& s, const ExperimentRecord& e, const std::string& number) {
  auto data = Must(cli::LoadGraphData(s.storage(), e));
  Trial t = s.FindTrial(e, data.trials, number);
  return {200, Must(cli::TraceJson(data, t.number))};
}

// The trials the graph shows when there are more than `max_nodes`: the best trial's lineage, then the latest
// trials, newest first, up to `max_nodes` in all. Not every ancestor: in a deep or wide search the ancestors
// of the latest trials are most of the experiment. A shown trial whose parent is not shown is drawn as a
// root.
std::vector<Trial> GraphSubset(const cli::GraphData& data, size_t max_nodes) {
  std::map<int64_t, const Trial*> by_id;
  for (const auto& t : data.trials) by_id[t.id] = &t;
  std::set<int64_t> keep;
  if (auto best = cli::BestTrialNumber(data)) {
    std::vector<int64_t> todo;
    for (const auto& t : data.trials)
      if (t.number == *best) todo.push_back(t.id);
    while (!todo.empty() && keep.size() < max_nodes) {
      int64_t id = todo.back();
      todo.pop_back();
      if (!by_id.count(id) || !keep.insert(id).second) continue;
      for (int64_t parent : by_id[id]->parents) todo.push_back(parent);
    }
  }
  std::vector<const Trial*> newest_first;
  for (const auto& t : data.trials) newest_first.push_back(&t);
  std::sort(newest_first.begin(), newest_first.end(),
            [](const Trial* a, const Trial* b) { return a->number > b->number; });
  for (const Trial* t : newest_first) {
    if (keep.size() >= max_nodes) break;
    keep.insert(t->id);
  }
  std::vector<Trial> out;
  for (const auto& t : data.trials)
    if (keep.count(t.id)) out.push_back(t);
  return out;
}

ApiResponse GetGraph(Session& s, const ExperimentRecord& e, const ApiRequest& r) {
  auto max_nodes = static_cast<size_t>(IntParam(r, "max_nodes", 1000, 1, kMaxGraphNodes));
  auto data = Must(cli::LoadGraphData(s.storage(), e));
  size_t total = data.trials.size();
  if (total > max_nodes) data.trials = GraphSubset(data, max_nodes);
  Json j = cli::TreeJson(data);
  j["total_nodes"] = total;
  j["shown_nodes"] = data.trials.size();
  return {200, j};
}

ApiResponse ListDecisions(Session& s, const ExperimentRecord& e, const ApiRequest& r) {
  int64_t offset = IntParam(r, "offset", 0, 0, INT64_MAX);
  int64_t limit = IntParam(r, "limit", 50, 1, kMaxPage);
  bool newest_first = TextParam(r, "order", "asc", {"asc", "desc"}) == "desc";
  cli::DecisionOptions options;
  options.with_summary = true;
  auto data = Must(cli::LoadGraphData(s.storage(), e, cli::DecisionEventTypes()));
  if (r.query.count("trial")) {
    Trial t = s.FindTrial(e, data.trials, r.query.at("trial"));
    options.trial = t.number;
  }
  Json all = cli::DecisionsJson(data, options);
  if (newest_first) std::reverse(all.begin(), all.end());
  Json page = Json::array();
  for (int64_t i = offset; i < static_cast<int64_t>(all.size()) && i < offset + limit; ++i)
    page.push_back(all[i]);
  return {200, Json{{"total", all.size()},
                    {"offset", offset},
                    {"limit", limit},
                    {"order", newest_first ? "desc" : "asc"},
                    {"decisions", page}}};
}

// The trials whose curves are drawn: those named by `trials=1,2,3`, else the best completed ones first and
// then the rest by number (running ones included), at most `limit`.
std::vector<const Trial*> CurveTrials(Session& s, const ExperimentRecord& e, const std::vector<Trial>& trials,
                                      const ApiRequest& r, size_t limit) {
  std::vector<const Trial*> chosen;
  if (auto it = r.query.find("trials"); it != r.query.end()) {
    for (const auto& number : Split(it->second, ',')) {
      Trial t = s.FindTrial(e, trials, number);
      for (const auto& o : trials)
        if (o.number == t.number) chosen.push_back(&o);
    }
    if (chosen.size() > limit)
      throw BadRequest{400, "trials names " + std::to_string(chosen.size()) + " trials; at most " +
                                std::to_string(limit) + " at once"};
    return chosen;
  }
  chosen = cli::RankedCompleted(trials, e);
  std::set<const Trial*> taken(chosen.begin(), chosen.end());
  for (const auto& t : trials)
    if (!taken.count(&t) && t.started_at) chosen.push_back(&t);
  if (chosen.size() > limit) chosen.resize(limit);
  return chosen;
}

ApiResponse GetCurves(Session& s, const ExperimentRecord& e, const ApiRequest& r) {
  auto limit = static_cast<size_t>(IntParam(r, "limit", 100, 1, kMaxCurveTrials));
  auto max_points = static_cast<size_t>(IntParam(r, "max_points", 200, 4, kMaxCurvePoints));
  std::string metric = TextParam(r, "metric", e.objective_metric);
  auto trials = Must(s.storage().ListTrials(e.id));
  Json curves = Json::array();
  for (const Trial* t : CurveTrials(s, e, trials, r, limit)) {
    Json points = Json::array();
    for (const auto& [step, value] :
         Downsample(CurveOf(Must(s.storage().ListReports(t->id)), metric), max_points))
      points.push_back({step, value});
    curves.push_back({{"number", t->number},
                      {"state", TrialStateName(t->state)},
                      {"value", t->value ? Json(*t->value) : Json()},
                      {"points", points}});
  }
  return {200, Json{{"metric", metric}, {"total_trials", trials.size()}, {"curves", curves}}};
}

ApiResponse GetSummary(Session& s, const ExperimentRecord& e) {
  auto trials = Must(s.storage().ListTrials(e.id));
  return {200,
          Json{{"objective", {{"metric", e.objective_metric}, {"mode", ObjectiveModeName(e.objective_mode)}}},
               {"best_so_far", BestSoFar(trials, e.objective_mode, e.created_at)},
               {"importance", Importance(trials)},
               {"timeline", Timeline(trials, e.created_at, kTimelineTrials)},
               {"parallel", ParallelPoints(trials, e.objective_mode, kParallelTrials)}}};
}

Json EventsJson(const std::vector<Event>& events) {
  Json out = Json::array();
  for (const auto& ev : events) {
    out.push_back({{"id", ev.id},
                   {"type", ev.type},
                   {"time", ev.time},
                   {"trial_id", ev.trial_id ? Json(*ev.trial_id) : Json()},
                   {"number", ev.payload.contains("number") ? ev.payload["number"] : Json()}});
  }
  return out;
}

// Long poll: answers as soon as events after `after` exist, or with none once `wait` seconds passed. Each
// look opens a fresh connection, so no connection is held open between looks.
ApiResponse GetEvents(const std::string& url, const std::string& id_text, const ApiRequest& r, double limit) {
  int64_t after = IntParam(r, "after", 0, 0, INT64_MAX);
  double wait = static_cast<double>(IntParam(r, "wait", 0, 0, static_cast<int64_t>(limit)));
  double deadline = MonotonicSeconds() + wait;
  while (true) {
    Session s(url);
    ExperimentRecord e = s.Experiment(id_text);
    auto events = Must(s.storage().ListEvents(e.id, after, static_cast<int>(kMaxPage), {}));
    if (!events.empty() || MonotonicSeconds() >= deadline) {
      int64_t last = events.empty() ? after : events.back().id;
      return {200, Json{{"events", EventsJson(events)}, {"last_id", last}, {"status", e.status}}};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

Json ParseBody(const ApiRequest& r) {
  auto body = ParseJson(r.body.empty() ? "{}" : r.body, "the request body");
  if (!body.ok() || !body->is_object()) throw BadRequest{400, "the request body must be a JSON object"};
  return *body;
}

ApiResponse PostNote(Session& s, const ExperimentRecord& e, const ApiRequest& r) {
  Json body = ParseBody(r);
  if (!body.contains("text") || !body["text"].is_string())
    throw BadRequest{400, "the body must be {\"text\": \"the note for the agent\"}"};
  auto id = cli::StoreNote(s.storage(), e, body["text"].get<std::string>(), WallSeconds());
  if (!id.ok()) return ErrorFor(id.status());
  return {201, Json{{"id", *id}, {"text", body["text"]}}};
}

// A person's request to stop a trial: an event the running orchestrator reads within a second (as it reads
// notes) and applies as a prune decided by "person". A trial already over cannot be stopped: 409.
ApiResponse PostStop(Session& s, const ExperimentRecord& e, const std::string& number, const ApiRequest& r) {
  Json body = ParseBody(r);
  if (body.contains("reason") && !body["reason"].is_string())
    throw BadRequest{400, "the body must be {\"reason\": \"why it should stop\"} or {}"};
  std::string reason = body.value("reason", std::string("stopped from the dashboard"));
  auto trials = Must(s.storage().ListTrials(e.id));
  Trial t = s.FindTrial(e, trials, number);
  if (t.state != TrialState::kRunning && t.state != TrialState::kPending)
    throw BadRequest{409, "trial #" + std::to_string(t.number) + " is " + TrialStateName(t.state) +
                              "; only a running or pending trial can be stopped"};
  Event stop;
  stop.experiment_id = e.id;
  stop.trial_id = t.id;
  stop.time = WallSeconds();
  stop.type = events::kStopRequested;
  stop.payload = Json{{"number", t.number}, {"reason", reason}};
  int64_t id = Must(s.storage().AppendEvent(stop));
  return {201, Json{{"id", id}, {"number", t.number}, {"reason", reason}}};
}

ApiResponse Route(const std::string& url, const ApiRequest& r, double long_poll_limit) {
  auto parts = Split(r.path, '/');
  if (parts.empty() || parts[0] != "api")
    return Error(404, "no such endpoint: " + r.path + " (see docs/api.md)");
  parts.erase(parts.begin());
  const bool get = r.method == "GET";
  const bool post = r.method == "POST";
  auto method_not_allowed = [&] { return Error(405, r.method + " is not allowed on " + r.path); };
  if (parts.size() == 1 && parts[0] == "info") {
    if (!get) return method_not_allowed();
    return {200, Json{{"version", "0.1.0"}, {"can_act", r.authorized}}};
  }
  if (parts.empty() || parts[0] != "experiments")
    return Error(404, "no such endpoint: " + r.path + " (see docs/api.md)");
  if (parts.size() >= 3 && parts[2] == "events") {
    if (!get) return method_not_allowed();
    return GetEvents(url, parts[1], r, long_poll_limit);
  }
  // Actions need the token; refused before the database is touched.
  if (post && !r.authorized)
    return Error(403,
                 "actions need the server's token: start `hyperion ui --token TOKEN` and send it as "
                 "'Authorization: Bearer TOKEN'");
  Session s(url);
  if (parts.size() == 1) return get ? ListExperiments(s) : method_not_allowed();
  ExperimentRecord e = s.Experiment(parts[1]);
  if (parts.size() == 2) return get ? GetExperiment(s, e) : method_not_allowed();
  const std::string& what = parts[2];
  if (parts.size() == 3) {
    if (what == "notes") return post ? PostNote(s, e, r) : method_not_allowed();
    if (!get &&
        (what == "trials" || what == "graph" || what == "decisions" || what == "curves" || what == "summary"))
      return method_not_allowed();
    if (what == "trials") return ListTrials(s, e, r);
    if (what == "graph") return GetGraph(s, e, r);
    if (what == "decisions") return ListDecisions(s, e, r);
    if (what == "curves") return GetCurves(s, e, r);
    if (what == "summary") return GetSummary(s, e);
  }
  if (what == "trials" && parts.size() == 4) return get ? GetTrial(s, e, parts[3], r) : method_not_allowed();
  if (what == "trials" && parts.size() == 5 && parts[4] == "trace")
    return get ? GetTrace(s, e, parts[3]) : method_not_allowed();
  if (what == "trials" && parts.size() == 5 && parts[4] == "stop")
    return post ? PostStop(s, e, parts[3], r) : method_not_allowed();
  return Error(404, "no such endpoint: " + r.path + " (see docs/api.md)");
}

}  // namespace

Api::Api(std::string storage_url, double long_poll_limit)
    : storage_url_(std::move(storage_url)), long_poll_limit_(long_poll_limit) {}

ApiResponse Api::Handle(const ApiRequest& request) const {
  try {
    return Route(storage_url_, request, long_poll_limit_);
  } catch (const BadRequest& bad) {
    return Error(bad.status, bad.message);
  } catch (const Status& status) {
    return ErrorFor(status);
  } catch (const std::exception& e) {
    // A third-party library's exception (nlohmann on odd data): a clear 500 rather than a dropped connection.
    return Error(500, std::string("internal error: ") + e.what());
  }
}

}  // namespace hyperion::dashboard
