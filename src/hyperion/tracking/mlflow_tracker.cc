#include "hyperion/tracking/mlflow_tracker.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "hyperion/common/clock.h"
#include "hyperion/common/text.h"
#include "hyperion/net/http_client.h"

namespace hyperion {
namespace {

constexpr size_t kMaxMetricsPerBatch = 1000;
constexpr size_t kMaxParamsOrTagsPerBatch = 100;
constexpr size_t kMaxBatchBytes = 900 * 1024;  // under MLflow's 1 MB, leaving room for the envelope
constexpr size_t kMaxParamValue = 500;
constexpr size_t kMaxTagValue = 5000;

std::string PercentEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buffer[4];
      std::snprintf(buffer, sizeof buffer, "%%%02X", c);
      out += buffer;
    }
  }
  return out;
}

std::string Base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(n >> shift) & 63]);
  }
  if (i < in.size()) {
    uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// Cuts at a character boundary (never inside a UTF-8 sequence) and says it was cut.
std::string Cut(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t end = limit - 3;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "...";
}

std::string ParamText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return FormatNumber(v.get<double>());
  return DumpJson(v);
}

Json Tag(const std::string& key, const std::string& value) {
  return Json{{"key", key}, {"value", Cut(value, kMaxTagValue)}};
}

int64_t Millis(double seconds) { return static_cast<int64_t>(std::llround(seconds * 1000)); }

const char* RunStatus(TrialState state) {
  switch (state) {
    case TrialState::kCompleted:
      return "FINISHED";
    case TrialState::kFailed:
    case TrialState::kTimedOut:
      return "FAILED";
    default:
      return "KILLED";
  }
}

}  // namespace

MlflowTracker::MlflowTracker(std::string uri, std::string experiment_name)
    : uri_(std::move(uri)), experiment_name_(std::move(experiment_name)) {}

std::string MlflowTracker::SafeKey(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if ((c & 0xC0) == 0x80) continue;  // the rest of a UTF-8 character: one `_` stands for all of it
    bool ok = c < 0x80 && (std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '/' || c == ' ');
    out.push_back(ok ? static_cast<char>(c) : '_');
  }
  return out.empty() ? "_" : out;
}

std::string MlflowTracker::KeyFor(const std::string& name) {
  std::string key = SafeKey(name);
  auto [owner, added] = key_owner_.emplace(key, name);
  if (added || owner->second == name) return key;
  // Two names that become the same key ("a:b" and "a_b") must not share one series: the later one gets a
  // suffix from its own name, stable across runs.
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "_%08x",
                static_cast<unsigned>(std::hash<std::string>{}(name)&0xffffffffu));
  return key + suffix;
}

Result<Json> MlflowTracker::Call(const std::string& method, const std::string& path, const Json& body) {
  HttpRequest request;
  request.method = method;
  request.url = uri_ + "/api/2.0/mlflow/" + path;
  if (method == "POST") request.body = DumpJson(body);
  request.timeout = 30;
  request.cancel = &cancel_;
  if (const char* token = std::getenv("MLFLOW_TRACKING_TOKEN"); token && *token) {
    request.headers.emplace_back("Authorization", std::string("Bearer ") + token);
  } else if (const char* user = std::getenv("MLFLOW_TRACKING_USERNAME"); user && *user) {
    const char* password = std::getenv("MLFLOW_TRACKING_PASSWORD");
    request.headers.emplace_back("Authorization",
                                 "Basic " + Base64(std::string(user) + ":" + (password ? password : "")));
  }
  auto response = SendJson(request);
  if (!response.ok()) {
    if (response.status().code() == StatusCode::kInvalidArgument) return response.status();
    return UnavailableError(response.status().message());
  }
  auto parsed = ParseJson(response->body, "MLflow's reply");
  Json reply = parsed.ok() ? *parsed : Json();
  if (response->status == 200) return reply.is_null() ? Json::object() : reply;
  std::string what =
      reply.is_object() ? reply.value("message", reply.value("error_code", std::string())) : "";
  if (what.empty()) what = Cut(response->body, 200);
  std::string text = method + " " + path + " answered " + std::to_string(response->status) + ": " + what;
  if (response->status == 429 || response->status >= 500) return UnavailableError(text);
  Status refused = InvalidArgumentError(text);
  if (reply.is_object() && reply.value("error_code", "") == "RESOURCE_DOES_NOT_EXIST")
    return NotFoundError(text);
  if (reply.is_object() && reply.value("error_code", "") == "RESOURCE_ALREADY_EXISTS")
    return AlreadyExistsError(text);
  return refused;
}

Status MlflowTracker::FindOrCreateExperiment(const std::string& name) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto found = Call("GET", "experiments/get-by-name?experiment_name=" + PercentEncode(name), Json());
    if (found.ok()) {
      experiment_id_ = (*found)["experiment"].value("experiment_id", "");
      if (experiment_id_.empty())
        return InvalidArgumentError("experiments/get-by-name answered without an id");
      return Status::Ok();
    }
    if (found.status().code() != StatusCode::kNotFound) return found.status();
    auto created = Call("POST", "experiments/create", Json{{"name", name}});
    if (created.ok()) {
      experiment_id_ = created->value("experiment_id", "");
      return Status::Ok();
    }
    // Someone created it between the two calls: look it up again.
    if (created.status().code() != StatusCode::kAlreadyExists) return created.status();
  }
  return InvalidArgumentError("cannot find or create MLflow experiment '" + name + "'");
}

Status MlflowTracker::FindRuns() {
  std::string page_token;
  do {
    Json body{{"experiment_ids", {experiment_id_}},
              {"filter", "tags.`hyperion.experiment_key` = '" + experiment_key_ + "'"},
              {"max_results", 1000}};
    if (!page_token.empty()) body["page_token"] = page_token;
    HYP_ASSIGN_OR_RETURN(Json reply, Call("POST", "runs/search", body));
    for (const auto& run : reply.value("runs", Json::array())) {
      std::string run_id = run["info"].value("run_id", "");
      std::string number;
      for (const auto& tag : run["data"].value("tags", Json::array())) {
        if (tag.value("key", "") == "hyperion.trial_number") number = tag.value("value", "");
      }
      if (number.empty())
        parent_run_ = run_id;
      else
        runs_[std::atoll(number.c_str())] = run_id;
    }
    page_token = reply.value("next_page_token", "");
  } while (!page_token.empty());
  return Status::Ok();
}

Status MlflowTracker::Start(const ExperimentRecord& experiment) {
  objective_ = experiment.objective_metric;
  maximize_ = experiment.objective_mode == ObjectiveMode::kMaximize;
  // Stable across resumes of this experiment, plain hex so that it needs no quoting in a filter.
  char key[32];
  std::snprintf(
      key, sizeof key, "%016llx",
      static_cast<unsigned long long>(ExperimentFingerprint(experiment.name, experiment.created_at)));
  experiment_key_ = key;
  if (experiment_id_.empty()) {
    HYP_RETURN_IF_ERROR(
        FindOrCreateExperiment(experiment_name_.empty() ? experiment.name : experiment_name_));
  }
  HYP_RETURN_IF_ERROR(FindRuns());
  if (!parent_run_.empty()) return UpdateRun(parent_run_, "RUNNING", 0);
  Json tags =
      Json::array({Tag("hyperion.experiment_key", experiment_key_),
                   Tag("hyperion.experiment", experiment.name), Tag("hyperion.strategy", experiment.strategy),
                   Tag("hyperion.objective", std::string(ObjectiveModeName(experiment.objective_mode)) + " " +
                                                 experiment.objective_metric)});
  HYP_ASSIGN_OR_RETURN(Json created, Call("POST", "runs/create",
                                          Json{{"experiment_id", experiment_id_},
                                               {"run_name", experiment.name},
                                               {"start_time", Millis(experiment.created_at)},
                                               {"tags", tags}}));
  parent_run_ = created["run"]["info"].value("run_id", "");
  return Status::Ok();
}

Status MlflowTracker::TrialStarted(const Trial& trial) {
  if (parent_run_.empty()) return FailedPreconditionError("no parent run (the start was not delivered)");
  if (runs_.count(trial.number)) {
    // A retry or a resumed trial continues its run.
    return LogBatch(runs_[trial.number], Json::array(),
                    Json::array({Tag("hyperion.attempt", std::to_string(trial.attempt))}));
  }
  std::vector<std::string> parents;
  for (int64_t p : trial.parents) parents.push_back(std::to_string(p));
  Json tags = Json::array(
      {Tag("mlflow.parentRunId", parent_run_), Tag("hyperion.experiment_key", experiment_key_),
       Tag("hyperion.trial_number", std::to_string(trial.number)), Tag("hyperion.operator", trial.op),
       Tag("hyperion.attempt", std::to_string(trial.attempt))});
  if (!trial.change_label.empty()) tags.push_back(Tag("hyperion.change", trial.change_label));
  if (!trial.rationale.empty()) tags.push_back(Tag("hyperion.rationale", trial.rationale));
  if (!parents.empty()) tags.push_back(Tag("hyperion.parent_trial_ids", JoinStrings(parents, ",")));
  HYP_ASSIGN_OR_RETURN(Json created,
                       Call("POST", "runs/create",
                            Json{{"experiment_id", experiment_id_},
                                 {"run_name", TrialName(trial.number)},
                                 {"start_time", Millis(trial.started_at.value_or(WallSeconds()))},
                                 {"tags", tags}}));
  const std::string run_id = created["run"]["info"].value("run_id", "");
  runs_[trial.number] = run_id;
  Json params = Json::array();
  for (const auto& [k, v] : trial.params.items())
    params.push_back(Json{{"key", KeyFor(k)}, {"value", Cut(ParamText(v), kMaxParamValue)}});
  return LogBatch(run_id, params, Json::array());
}

Status MlflowTracker::TrialReported(const Trial& trial, int64_t step, double time,
                                    const MetricValues& metrics) {
  auto run = runs_.find(trial.number);
  if (run == runs_.end()) return FailedPreconditionError("no run for trial #" + std::to_string(trial.number));
  for (const auto& [name, v] : metrics) {
    if (!std::isfinite(v)) continue;
    pending_.push_back({run->second, Json{{"key", KeyFor(name)},
                                          {"value", v},
                                          {"timestamp", Millis(time > 0 ? time : WallSeconds())},
                                          {"step", step}}});
  }
  return Status::Ok();
}

Status MlflowTracker::TrialEnded(const Trial& trial) {
  auto run = runs_.find(trial.number);
  if (run == runs_.end()) return FailedPreconditionError("no run for trial #" + std::to_string(trial.number));
  if (trial.state == TrialState::kCompleted && trial.value && std::isfinite(*trial.value) &&
      (!best_ || (maximize_ ? *trial.value > *best_ : *trial.value < *best_))) {
    best_ = trial.value;
    pending_.push_back({parent_run_, Json{{"key", SafeKey("best_" + objective_)},
                                          {"value", *best_},
                                          {"timestamp", Millis(trial.ended_at.value_or(WallSeconds()))},
                                          {"step", finished_ + 1}}});
  }
  HYP_RETURN_IF_ERROR(Flush());
  Json tags = Json::array({Tag("hyperion.state", TrialStateName(trial.state))});
  if (!trial.error.empty()) tags.push_back(Tag("hyperion.reason", trial.error));
  HYP_RETURN_IF_ERROR(LogBatch(run->second, Json::array(), tags));
  HYP_RETURN_IF_ERROR(UpdateRun(run->second, RunStatus(trial.state), trial.ended_at.value_or(WallSeconds())));
  ++finished_;
  return Status::Ok();
}

Status MlflowTracker::Finish(const std::string& status) {
  HYP_RETURN_IF_ERROR(Flush());
  if (parent_run_.empty()) return Status::Ok();
  const char* run_status = status == "finished" ? "FINISHED" : status == "failed" ? "FAILED" : "KILLED";
  return UpdateRun(parent_run_, run_status, WallSeconds());
}

Status MlflowTracker::Flush() {
  // One run per call; within the count and size limits. Sent metrics leave the queue only once the server
  // took them, so a retry after an error sends the rest, not everything again.
  while (!pending_.empty()) {
    const std::string run_id = pending_.front().run_id;
    Json metrics = Json::array();
    size_t bytes = 0, taken = 0;
    for (const auto& m : pending_) {
      if (m.run_id != run_id) break;
      size_t size = DumpJson(m.metric).size() + 1;
      if (taken == kMaxMetricsPerBatch || bytes + size > kMaxBatchBytes) break;
      metrics.push_back(m.metric);
      bytes += size;
      ++taken;
    }
    HYP_ASSIGN_OR_RETURN(Json ignored,
                         Call("POST", "runs/log-batch", Json{{"run_id", run_id}, {"metrics", metrics}}));
    (void)ignored;
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(taken));
  }
  return Status::Ok();
}

Status MlflowTracker::LogBatch(const std::string& run_id, const Json& params, const Json& tags) {
  for (size_t p = 0, t = 0; p < params.size() || t < tags.size();) {
    Json body{{"run_id", run_id}, {"params", Json::array()}, {"tags", Json::array()}};
    for (; p < params.size() && body["params"].size() < kMaxParamsOrTagsPerBatch; ++p)
      body["params"].push_back(params[p]);
    for (; t < tags.size() && body["tags"].size() < kMaxParamsOrTagsPerBatch; ++t)
      body["tags"].push_back(tags[t]);
    HYP_ASSIGN_OR_RETURN(Json ignored, Call("POST", "runs/log-batch", body));
    (void)ignored;
  }
  return Status::Ok();
}

Status MlflowTracker::UpdateRun(const std::string& run_id, const std::string& status, double end_time) {
  Json body{{"run_id", run_id}, {"status", status}};
  if (end_time > 0) body["end_time"] = Millis(end_time);
  HYP_ASSIGN_OR_RETURN(Json ignored, Call("POST", "runs/update", body));
  (void)ignored;
  return Status::Ok();
}

}  // namespace hyperion
