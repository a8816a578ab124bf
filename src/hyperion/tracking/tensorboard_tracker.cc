#include "hyperion/tracking/tensorboard_tracker.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "hyperion/common/clock.h"
#include "hyperion/tracking/proto_writer.h"

namespace hyperion {
namespace fs = std::filesystem;

namespace {

// Field numbers of the messages written here (tensorflow/core/util/event.proto, framework/summary.proto,
// tensorboard/plugins/hparams/{plugin_data,api}.proto).
namespace event {
constexpr int kWallTime = 1, kStep = 2, kFileVersion = 3, kSummary = 5;
}
namespace summary {
constexpr int kValue = 1;
constexpr int kTag = 1, kSimpleValue = 2, kTensor = 8, kMetadata = 9;
constexpr int kPluginData = 1, kPluginName = 1, kContent = 2;
}  // namespace summary
namespace hparams {
constexpr int kExperiment = 2, kSessionStart = 3, kSessionEnd = 4;
constexpr int kHParams = 1, kGroupName = 4, kStartTime = 5;                            // SessionStartInfo
constexpr int kStatus = 1, kEndTime = 2;                                               // SessionEndInfo
constexpr int kHParamInfos = 4, kMetricInfos = 5, kTimeCreated = 3;                    // Experiment
constexpr int kInfoName = 1, kInfoType = 4, kDomainDiscrete = 5, kDomainInterval = 6;  // HParamInfo
constexpr int kIntervalMin = 1, kIntervalMax = 2;
constexpr int kMetricName = 1, kMetricTag = 2;  // MetricInfo.name = MetricName{group = 1, tag = 2}
constexpr int kDataString = 1, kDataBool = 2, kDataFloat64 = 3;
constexpr int kStatusUnknown = 0, kStatusSuccess = 1, kStatusFailure = 2;
}  // namespace hparams
// google.protobuf.Value and ListValue.
namespace value {
constexpr int kNumber = 2, kString = 3, kBool = 4, kListValues = 1;
}

ProtoWriter ProtoValue(const Json& v) {
  ProtoWriter out;
  if (v.is_boolean()) return out.Varint(value::kBool, v.get<bool>() ? 1 : 0);
  if (v.is_number()) return out.Double(value::kNumber, v.get<double>());
  if (v.is_string()) return out.Bytes(value::kString, v.get<std::string>());
  return out.Bytes(value::kString, DumpJson(v));  // null and anything else: its JSON text
}

// A map<string, Value> entry: key = 1, value = 2.
ProtoWriter MapEntry(const std::string& key, const ProtoWriter& v) {
  ProtoWriter entry;
  entry.Bytes(1, key).Message(2, v);
  return entry;
}

std::string HParamsContent(int which, const ProtoWriter& message) {
  // HParamsPluginData{version = 0 (left out), which = message}
  return ProtoWriter().Message(which, message).data();
}

// A categorical whose choices mix types (numbers and text) is shown as text throughout.
Json AsText(const Json& v) { return v.is_string() ? v : Json(DumpJson(v)); }

// The Experiment message: every parameter of the stored space with its type and domain, the objective as the
// metric. Adds the names of mixed categoricals to `as_text`.
ProtoWriter ExperimentInfo(const ExperimentRecord& experiment, std::set<std::string>& as_text) {
  ProtoWriter info;
  info.Double(hparams::kTimeCreated, experiment.created_at);
  // The stored space: a list of {name, type, low/high or choices, ...} in the config's order.
  const Json space = experiment.config.value("space", Json::array());
  for (const auto& spec : space) {
    if (!spec.is_object()) continue;
    const std::string name = spec.value("name", "");
    ProtoWriter param;
    param.Bytes(hparams::kInfoName, name);
    const std::string type = spec.value("type", "");
    if (type == "categorical" || type == "bool") {
      const Json choices = type == "bool" ? Json::array({false, true}) : spec.value("choices", Json::array());
      bool all_numbers = true, all_bools = true;
      for (const auto& c : choices) {
        all_numbers = all_numbers && c.is_number();
        all_bools = all_bools && c.is_boolean();
      }
      param.Varint(hparams::kInfoType, all_bools     ? hparams::kDataBool
                                       : all_numbers ? hparams::kDataFloat64
                                                     : hparams::kDataString);
      const bool mixed = !all_bools && !all_numbers;
      if (mixed) as_text.insert(name);
      ProtoWriter list;
      for (const auto& c : choices) list.Message(value::kListValues, ProtoValue(mixed ? AsText(c) : c));
      param.Message(hparams::kDomainDiscrete, list);
    } else {
      param.Varint(hparams::kInfoType, hparams::kDataFloat64);
      if (spec.contains("low") && spec.contains("high") && spec["low"].is_number() &&
          spec["high"].is_number()) {
        ProtoWriter interval;
        interval.Double(hparams::kIntervalMin, spec["low"].get<double>())
            .Double(hparams::kIntervalMax, spec["high"].get<double>());
        param.Message(hparams::kDomainInterval, interval);
      }
    }
    info.Message(hparams::kHParamInfos, param);
  }
  ProtoWriter metric_name;
  metric_name.Bytes(hparams::kMetricTag, experiment.objective_metric);
  info.Message(hparams::kMetricInfos, ProtoWriter().Message(hparams::kMetricName, metric_name));
  return info;
}

std::string HostShortName() {
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) return "localhost";
  return host;
}

}  // namespace

Result<std::unique_ptr<EventFileWriter>> EventFileWriter::Create(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  // A folder that cannot be made (no permission, a file in the way) will not appear by retrying.
  if (ec) return FailedPreconditionError("cannot create " + dir + ": " + ec.message());
  // The same second, host and pid can recur (a retry right after an attempt): a counter keeps names apart.
  static int sequence = 0;
  std::string path;
  std::FILE* file = nullptr;
  for (int attempt = 0; attempt < 100 && !file; ++attempt) {
    path = (fs::path(dir) /
            ("events.out.tfevents." + std::to_string(static_cast<int64_t>(WallSeconds())) + "." +
             HostShortName() + "." + std::to_string(::getpid()) + "." + std::to_string(++sequence)))
               .string();
    file = std::fopen(path.c_str(), "wbx");  // x: never reuse a file another writer has
  }
  if (!file)
    return FailedPreconditionError("cannot create an event file in " + dir + ": " + std::strerror(errno));
  std::unique_ptr<EventFileWriter> writer(new EventFileWriter(file, path));
  ProtoWriter first;
  first.Double(event::kWallTime, WallSeconds()).Bytes(event::kFileVersion, "brain.Event:2");
  HYP_RETURN_IF_ERROR(writer->WriteEvent(first.data()));
  return writer;
}

EventFileWriter::~EventFileWriter() {
  if (file_) std::fclose(file_);
}

Status EventFileWriter::WriteEvent(const std::string& event) {
  // TFRecord: uint64 length, masked CRC of the length, data, masked CRC of the data; little-endian.
  std::string length(8, '\0');
  uint64_t n = event.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  auto crc_bytes = [](uint32_t crc) {
    std::string out(4, '\0');
    for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((crc >> (8 * i)) & 0xff);
    return out;
  };
  std::string record = length + crc_bytes(MaskedCrc32c(length)) + event + crc_bytes(MaskedCrc32c(event));
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size())
    return UnavailableError("cannot write " + path_ + ": " + std::strerror(errno));
  return Status::Ok();
}

Status EventFileWriter::WriteScalar(const std::string& tag, int64_t step, double wall_time, float value) {
  ProtoWriter summary_value;
  summary_value.Bytes(summary::kTag, tag).Float(summary::kSimpleValue, value);
  ProtoWriter summary_message;
  summary_message.Message(summary::kValue, summary_value);
  ProtoWriter e;
  e.Double(event::kWallTime, wall_time)
      .Varint(event::kStep, static_cast<uint64_t>(step))
      .Message(event::kSummary, summary_message);
  return WriteEvent(e.data());
}

Status EventFileWriter::WriteHParams(const std::string& tag, const std::string& plugin_data,
                                     double wall_time) {
  ProtoWriter plugin;
  plugin.Bytes(summary::kPluginName, "hparams").Bytes(summary::kContent, plugin_data);
  ProtoWriter metadata;
  metadata.Message(summary::kPluginData, plugin);
  // The plugin's summaries carry an empty float tensor (dtype DT_FLOAT = 1, shape {}), as its own writer
  // does.
  ProtoWriter tensor;
  tensor.Varint(1, 1).Bytes(2, "");
  ProtoWriter summary_value;
  summary_value.Bytes(summary::kTag, tag)
      .Message(summary::kTensor, tensor)
      .Message(summary::kMetadata, metadata);
  ProtoWriter e;
  e.Double(event::kWallTime, wall_time)
      .Message(event::kSummary, ProtoWriter().Message(summary::kValue, summary_value));
  return WriteEvent(e.data());
}

Status EventFileWriter::Flush() {
  if (std::fflush(file_) != 0) return UnavailableError("cannot write " + path_ + ": " + std::strerror(errno));
  return Status::Ok();
}

Status TensorBoardTracker::Start(const ExperimentRecord& experiment) {
  if (logdir_.empty()) {
    const Json& dir = experiment.config["experiment_dir"];
    logdir_ = (fs::path(dir.is_string() ? dir.get<std::string>() : ".") / "tensorboard").string();
  }
  HYP_ASSIGN_OR_RETURN(auto writer, EventFileWriter::Create(logdir_));
  HYP_RETURN_IF_ERROR(writer->WriteHParams(
      "_hparams_/experiment", HParamsContent(hparams::kExperiment, ExperimentInfo(experiment, as_text_)),
      WallSeconds()));
  return writer->Flush();
}

Result<EventFileWriter*> TensorBoardTracker::WriterFor(const Trial& trial) {
  auto it = writers_.find(trial.id);
  if (it != writers_.end()) return it->second.get();
  HYP_ASSIGN_OR_RETURN(auto writer,
                       EventFileWriter::Create((fs::path(logdir_) / TrialName(trial.number)).string()));
  return (writers_[trial.id] = std::move(writer)).get();
}

Status TensorBoardTracker::TrialStarted(const Trial& trial) {
  HYP_ASSIGN_OR_RETURN(EventFileWriter * writer, WriterFor(trial));
  ProtoWriter start;
  for (const auto& [name, v] : trial.params.items())
    start.Message(hparams::kHParams, MapEntry(name, ProtoValue(as_text_.count(name) ? AsText(v) : v)));
  start.Bytes(hparams::kGroupName, TrialName(trial.number));
  start.Double(hparams::kStartTime, trial.started_at.value_or(WallSeconds()));
  return writer->WriteHParams("_hparams_/session_start_info", HParamsContent(hparams::kSessionStart, start),
                              WallSeconds());
}

Status TensorBoardTracker::TrialReported(const Trial& trial, int64_t step, double time,
                                         const MetricValues& metrics) {
  HYP_ASSIGN_OR_RETURN(EventFileWriter * writer, WriterFor(trial));
  for (const auto& [name, v] : metrics) {
    // TensorBoard's scalars are floats; NaN and infinities are kept (its charts skip them).
    HYP_RETURN_IF_ERROR(
        writer->WriteScalar(name, step, time > 0 ? time : WallSeconds(), static_cast<float>(v)));
  }
  return Status::Ok();
}

Status TensorBoardTracker::TrialEnded(const Trial& trial) {
  HYP_ASSIGN_OR_RETURN(EventFileWriter * writer, WriterFor(trial));
  int status = hparams::kStatusUnknown;
  if (trial.state == TrialState::kCompleted) status = hparams::kStatusSuccess;
  if (trial.state == TrialState::kFailed || trial.state == TrialState::kTimedOut)
    status = hparams::kStatusFailure;
  ProtoWriter end;
  if (status != 0) end.Varint(hparams::kStatus, static_cast<uint64_t>(status));
  end.Double(hparams::kEndTime, trial.ended_at.value_or(WallSeconds()));
  HYP_RETURN_IF_ERROR(writer->WriteHParams("_hparams_/session_end_info",
                                           HParamsContent(hparams::kSessionEnd, end), WallSeconds()));
  HYP_RETURN_IF_ERROR(writer->Flush());
  writers_.erase(trial.id);
  return Status::Ok();
}

Status TensorBoardTracker::Finish(const std::string& /*status*/) { return Flush(); }

Status TensorBoardTracker::Flush() {
  for (auto& [id, writer] : writers_) HYP_RETURN_IF_ERROR(writer->Flush());
  return Status::Ok();
}

}  // namespace hyperion
