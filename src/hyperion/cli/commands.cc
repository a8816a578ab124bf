#include "hyperion/cli/commands.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "hyperion/agent/agent.h"
#include "hyperion/cli/completion.h"
#include "hyperion/cli/decision_view.h"
#include "hyperion/cli/export.h"
#include "hyperion/cli/graph_data.h"
#include "hyperion/cli/graph_view.h"
#include "hyperion/cli/progress.h"
#include "hyperion/cli/tracking_observer.h"
#include "hyperion/common/clock.h"
#include "hyperion/common/text.h"
#include "hyperion/dashboard/server.h"
#include "hyperion/executor/local_executor.h"
#include "hyperion/experiment/event_types.h"
#include "hyperion/experiment/ranking.h"
#include "hyperion/orchestrator/orchestrator.h"
#include "hyperion/orchestrator/slot_plan.h"
#include "hyperion/resources/resource_pool.h"
#include "hyperion/storage/storage.h"
#include "hyperion/tracking/make_trackers.h"
#include "hyperion/tracking/mlflow_tracker.h"
#include "hyperion/tracking/tensorboard_tracker.h"

#ifndef HYPERION_PYTHON_CLIENT_DIR
#define HYPERION_PYTHON_CLIENT_DIR ""
#endif

namespace hyperion::cli {
namespace {

namespace fs = std::filesystem;

// Exit code for an error: bad input is 2, everything else 1.
int CodeFor(const Status& status) {
  return status.code() == StatusCode::kInvalidArgument || status.code() == StatusCode::kAlreadyExists ||
                 status.code() == StatusCode::kFailedPrecondition
             ? kExitUsage
             : kExitFailure;
}

// Prints the one-line message; returns `code`, or the code the error's kind calls for.
int Fail(const Status& status, std::optional<int> code = std::nullopt) {
  std::fprintf(stderr, "hyperion: %s\n", status.message().c_str());
  return code.value_or(CodeFor(status));
}

// For a failure to find what the user named (database, experiment, trial): kNotFound there is bad input too,
// exit 2, like a junk database; only what goes wrong inside a database that exists (kInternal, kUnavailable)
// is 1.
int FailLookup(const Status& status) {
  return Fail(status, status.code() == StatusCode::kNotFound ? kExitUsage : CodeFor(status));
}

std::string DefaultStorage() {
  const char* env = std::getenv("HYPERION_STORAGE");
  return env && *env ? env : kDefaultStorageUrl;
}

// command[0] must name a program that exists: found on PATH, or a path relative to workdir.
Status CheckProgram(const ExperimentConfig& config) {
  auto program = ResolveProgram(config.command.front(), config.workdir);
  if (program.ok()) return Status::Ok();
  return InvalidArgumentError(config.source_path + ": command[0]: " + program.status().message());
}

// The output folder must exist or be creatable, and be writable. Only checked, so that a run refused for
// another reason (a bad --storage) leaves no folder behind; CreateOutputFolder() makes it.
Status CheckOutputFolder(const std::string& dir) {
  std::error_code ec;
  fs::path existing(dir);  // absolute: the walk up ends at the root at the latest
  while (existing.has_parent_path() && existing != existing.parent_path() && !fs::exists(existing, ec))
    existing = existing.parent_path();
  const std::string where =
      existing.string() == dir ? "" : " (its nearest existing folder is '" + existing.string() + "')";
  if (!fs::is_directory(existing, ec)) {
    return InvalidArgumentError("cannot create the output folder '" + dir + "': '" + existing.string() +
                                "' is not a folder; choose another with --output-dir");
  }
  if (::access(existing.c_str(), W_OK | X_OK) != 0) {
    return InvalidArgumentError("the output folder '" + dir + "' is not writable" + where +
                                "; choose another with --output-dir");
  }
  return Status::Ok();
}

Status CreateOutputFolder(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return InvalidArgumentError("cannot create the output folder '" + dir + "': " + ec.message() +
                                "; choose another with --output-dir");
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------------------------
// Reading an experiment for the query commands.

struct Loaded {
  std::unique_ptr<Storage> storage;
  ExperimentRecord experiment;
};

// The end of "no experiment named 'x' in ...": a did-you-mean when one is close, else the names there are.
std::string OtherExperiments(const std::string& name, const std::vector<std::string>& names) {
  if (names.empty()) return "it has no experiments yet";
  if (auto hint = ClosestMatch(name, names)) return "did you mean '" + *hint + "'?";
  constexpr size_t kListed = 10;
  std::vector<std::string> listed;
  for (size_t i = 0; i < names.size() && i < kListed; ++i) listed.push_back("'" + names[i] + "'");
  std::string text = "its experiments are " + JoinStrings(listed);
  if (names.size() > kListed) text += " and " + std::to_string(names.size() - kListed) + " more";
  return text + " (see `hyperion status`)";
}

Result<Loaded> LoadExperiment(const std::string& storage_url, const std::string& name) {
  Loaded loaded;
  HYP_ASSIGN_OR_RETURN(loaded.storage, OpenStorage(storage_url, /*create_if_missing=*/false));
  if (!name.empty()) {
    HYP_ASSIGN_OR_RETURN(auto found, loaded.storage->FindExperiment(name));
    if (!found) {
      HYP_ASSIGN_OR_RETURN(auto all, loaded.storage->ListExperiments());
      std::vector<std::string> names;
      for (const auto& e : all) names.push_back(e.name);
      return NotFoundError("no experiment named '" + name + "' in " + loaded.storage->Url() + "; " +
                           OtherExperiments(name, names));
    }
    loaded.experiment = *found;
    return loaded;
  }
  HYP_ASSIGN_OR_RETURN(auto all, loaded.storage->ListExperiments());
  if (all.empty()) return NotFoundError("no experiments in " + loaded.storage->Url() + " yet");
  loaded.experiment = all.back();  // the most recent
  return loaded;
}

void PrintJson(const Json& j) { std::cout << DumpJson(j, 2) << std::endl; }

// At most `bytes` bytes of `text`, never cutting a UTF-8 character in two.
std::string Utf8Prefix(const std::string& text, size_t bytes) {
  if (text.size() <= bytes) return text;
  while (bytes > 0 && (static_cast<unsigned char>(text[bytes]) & 0xC0) == 0x80) --bytes;
  return text.substr(0, bytes);
}

std::string Cell(const std::optional<double>& v) { return v ? ShortNumber(*v) : "-"; }

// ---------------------------------------------------------------------------------------------------------------

struct RunOptions {
  std::string config;
  std::string storage;
  std::string experiment;
  std::string output_dir;
  std::optional<int64_t> max_trials;
  std::string max_time;
  std::optional<int> parallel;
  std::optional<int64_t> seed;
  bool resume = false;
  bool quiet = false;
  bool json = false;
  std::optional<int> ui_port;  // serve the dashboard on 127.0.0.1:PORT while the run lasts
};

// The command that continues this run: everything that chose its experiment goes in, so following it resumes
// this one. A password in the storage URL is masked: the hint may end up in a log.
std::string ResumeCommand(const RunOptions& options) {
  std::string extra = options.storage.empty() ? "" : " --storage " + MaskStorageUrl(options.storage);
  if (!options.experiment.empty()) extra += " --experiment " + options.experiment;
  return "hyperion run " + options.config + extra + " --resume";
}

int Run(const RunOptions& options) {
  if (std::error_code ec; fs::is_directory(options.config, ec)) {
    return Fail(InvalidArgumentError("config '" + options.config +
                                     "' is a folder, not a YAML file; name the config file inside it"),
                kExitUsage);
  }
  auto loaded = LoadConfig(options.config);
  if (!loaded.ok()) return Fail(loaded.status(), kExitUsage);
  ExperimentConfig config = std::move(loaded).value();
  if (!options.experiment.empty()) config.name = options.experiment;
  if (options.max_trials) config.budget.max_trials = options.max_trials;
  if (!options.max_time.empty()) {
    auto seconds = ParseDuration(options.max_time);
    if (!seconds.ok()) return Fail(seconds.status().WithContext("--max-time"), kExitUsage);
    if (*seconds <= 0) return Fail(InvalidArgumentError("--max-time must be longer than zero"), kExitUsage);
    config.budget.max_time = *seconds;
  }
  if (options.parallel) config.parallel = *options.parallel;
  if (options.seed) config.strategy.seed = static_cast<uint64_t>(*options.seed);
  if (Status s = CheckProgram(config); !s.ok()) return Fail(s, kExitUsage);

  std::string storage_url = !options.storage.empty()  ? options.storage
                            : !config.storage.empty() ? config.storage
                                                      : DefaultStorage();
  auto agent = MakeAgent(config);
  if (!agent.ok()) return Fail(agent.status(), kExitUsage);
  // Before anything is stored: a Slurm that does not answer is said now, not at the first trial.
  auto executor = MakeExecutor(config.executor);
  if (!executor.ok()) return Fail(executor.status());
  // Resources that cannot hold a trial are bad input too: said before a database is made (the run plans its
  // slots again when it starts; the result is the same).
  if (auto plan = PlanSlots(config, (*executor)->PlacesTrials()); !plan.ok())
    return Fail(plan.status(), kExitUsage);
  RunSettings settings;
  settings.config = config;
  settings.output_dir = fs::absolute(!options.output_dir.empty()  ? options.output_dir
                                     : !config.output_dir.empty() ? config.output_dir
                                                                  : "hyperion-runs")
                            .lexically_normal()
                            .string();
  // Found now rather than at the first trial, when the experiment would already be stored.
  if (Status s = CheckOutputFolder(settings.output_dir); !s.ok()) return Fail(s, kExitUsage);
  auto storage = OpenStorage(storage_url);
  // A database in a folder that does not exist is a bad --storage (or config storage:), like any bad input.
  if (!storage.ok()) return FailLookup(storage.status());
  if (Status s = CreateOutputFolder(settings.output_dir); !s.ok()) return Fail(s, kExitUsage);
  settings.resume = options.resume;
  const char* client = std::getenv("HYPERION_PYTHON_CLIENT");
  settings.python_client_dir = client && *client ? client : HYPERION_PYTHON_CLIENT_DIR;

  // The dashboard reads the database through connections of its own, on threads of its own (server.h).
  std::optional<dashboard::DashboardServer> ui;
  if (options.ui_port) {
    // The URL as given, not Url(): that one masks a password, and the dashboard opens connections of its own.
    ui.emplace(dashboard::ServerOptions{storage_url, "127.0.0.1", *options.ui_port, ""});
    if (Status s = ui->Start(); !s.ok()) return Fail(s.WithContext("--ui"));
    // With --json, stdout carries only JSON lines.
    std::fprintf(options.json ? stderr : stdout, "dashboard: %s\n", ui->Url().c_str());
    std::fflush(stdout);
  }
  // --json: events as JSON lines for scripts; the console view is quiet then.
  ConsoleProgress progress(stdout, settings.config, options.quiet || options.json);
  JsonProgress json_progress(stdout);
  RunObserver& shown = options.json ? static_cast<RunObserver&>(json_progress) : progress;
  TrackingObserver observer(shown, MakeTrackingQueue(settings.config.tracking));
  Orchestrator orchestrator(settings, **storage, std::move(agent).value(), std::move(executor).value(),
                            observer);
  double started = MonotonicSeconds();
  auto summary = orchestrator.Run();
  // What the trackers still hold goes out now; a server that stays away gets 10 s, then the run says what
  // was not delivered.
  observer.Finish(!summary.ok() ? "failed" : summary->stop_signal ? "interrupted" : "finished", 10);
  progress.Finish();
  if (summary.status().code() == StatusCode::kUnavailable) {
    // The database went away for longer than its retry limit: nothing finished is lost (trials that ended
    // meanwhile are stored by the resume), so say how to go on.
    return Fail(UnavailableError(summary.status().message() + "; continue it with `" +
                                 ResumeCommand(options) + "` once the database is back"));
  }
  if (!summary.ok()) return Fail(summary.status());

  if (options.json) {
    Json counts = Json::object();
    for (const auto& [state, n] : summary->counts) counts[state] = n;
    json_progress.Emit("run_finished",
                       Json{{"experiment", summary->experiment.name},
                            {"status", summary->stop_signal ? "interrupted" : summary->experiment.status},
                            {"end_reason", summary->end_reason},
                            {"seconds", MonotonicSeconds() - started},
                            {"counts", counts},
                            {"best", summary->best ? summary->best->ToJson() : Json()},
                            {"storage", (*storage)->Url()}});
    if (summary->stop_signal) return 128 + summary->stop_signal;
    return summary->best ? kExitOk : kExitFailure;
  }
  std::vector<std::string> counts;
  for (const auto& [state, n] : summary->counts) counts.push_back(std::to_string(n) + " " + state);
  std::printf("%s: %s in %s (%s)\n", summary->stop_signal ? "interrupted" : "finished",
              summary->end_reason.c_str(), FormatDuration(MonotonicSeconds() - started).c_str(),
              JoinStrings(counts).c_str());
  if (summary->best) {
    const Trial& b = *summary->best;
    std::printf("best: trial #%lld %s=%s (%s)\n  %s\n", static_cast<long long>(b.number),
                config.objective.metric.c_str(), FormatNumber(*b.value).c_str(),
                ObjectiveModeName(config.objective.mode), FormatParams(b.params).c_str());
  } else {
    std::printf("best: none (no trial completed)\n");
  }
  std::printf("stored in %s; see `hyperion trials --storage %s`\n", (*storage)->Url().c_str(),
              (*storage)->Url().c_str());
  if (summary->stop_signal || summary->experiment.status == "interrupted") {
    std::printf("continue it with `%s`\n", ResumeCommand(options).c_str());
  }
  if (summary->stop_signal) return 128 + summary->stop_signal;
  return summary->best ? kExitOk : kExitFailure;
}

struct QueryOptions {
  std::string storage;
  std::string experiment;
  bool json = false;
  std::string trial;
};

int Status_(const QueryOptions& options) {
  auto storage = OpenStorage(options.storage.empty() ? DefaultStorage() : options.storage, false);
  if (!storage.ok()) return FailLookup(storage.status());
  auto experiments = (*storage)->ListExperiments();
  if (!experiments.ok()) return Fail(experiments.status());
  if (!options.experiment.empty()) {
    auto named =
        LoadExperiment(options.storage.empty() ? DefaultStorage() : options.storage, options.experiment);
    if (!named.ok()) return FailLookup(named.status());
  }
  Json out = Json::array();
  for (const auto& e : *experiments) {
    if (!options.experiment.empty() && e.name != options.experiment) continue;
    auto trials = (*storage)->ListTrials(e.id);
    if (!trials.ok()) return Fail(trials.status());
    auto best = BestOf(*trials, e);
    Json j = ExperimentSummaryJson(e, *trials);
    const Json& counts = j["counts"];
    out.push_back(j);
    if (options.json) continue;
    std::vector<std::string> parts;
    for (const auto& [state, n] : counts.items()) parts.push_back(std::to_string(n.get<int>()) + " " + state);
    std::printf("%s  [%s]  %s search, %zu trials (%s)\n", e.name.c_str(), e.status.c_str(),
                e.strategy.c_str(), trials->size(), parts.empty() ? "none yet" : JoinStrings(parts).c_str());
    if (best) {
      std::printf("  best #%lld %s=%s (%s)  %s\n", static_cast<long long>(best->number),
                  e.objective_metric.c_str(), FormatNumber(*best->value).c_str(),
                  ObjectiveModeName(e.objective_mode), FormatParams(best->params).c_str());
    }
  }
  if (options.json)
    PrintJson(out);
  else if (out.empty())
    std::printf("no experiments in %s\n", (*storage)->Url().c_str());
  return kExitOk;
}

constexpr size_t kReasonWidth = 80;  // a failure or prune reason in the trials table, in characters

int Trials(const QueryOptions& options) {
  auto loaded =
      LoadExperiment(options.storage.empty() ? DefaultStorage() : options.storage, options.experiment);
  if (!loaded.ok()) return FailLookup(loaded.status());
  auto trials = loaded->storage->ListTrials(loaded->experiment.id);
  if (!trials.ok()) return Fail(trials.status());
  if (options.json) {
    Json out = Json::array();
    for (const auto& t : *trials) out.push_back(TrialJson(t, loaded->experiment));
    PrintJson(out);
    return kExitOk;
  }
  std::printf("experiment '%s' (%s %s)\n", loaded->experiment.name.c_str(),
              ObjectiveModeName(loaded->experiment.objective_mode),
              loaded->experiment.objective_metric.c_str());
  std::printf("%5s  %-11s  %-12s  %-8s  %s\n", "#", "state",
              Utf8Prefix(loaded->experiment.objective_metric, 12).c_str(), "operator", "params");
  for (const auto& t : *trials) {
    std::string params = FormatParams(t.params);
    if (!t.error.empty()) params += "  (" + ClipText(t.error, kReasonWidth) + ")";
    std::printf("%5lld  %-11s  %-12s  %-8s  %s\n", static_cast<long long>(t.number), TrialStateName(t.state),
                Cell(t.value).c_str(), t.op.c_str(), params.c_str());
  }
  return kExitOk;
}

int Best(const QueryOptions& options) {
  auto loaded =
      LoadExperiment(options.storage.empty() ? DefaultStorage() : options.storage, options.experiment);
  if (!loaded.ok()) return FailLookup(loaded.status());
  auto trials = loaded->storage->ListTrials(loaded->experiment.id);
  if (!trials.ok()) return Fail(trials.status());
  auto best = BestOf(*trials, loaded->experiment);
  if (!best) {
    return Fail(NotFoundError("experiment '" + loaded->experiment.name + "' has no completed trial yet (" +
                              std::to_string(trials->size()) + " trials)"));
  }
  if (options.json) {
    PrintJson(TrialJson(*best, loaded->experiment));
    return kExitOk;
  }
  std::printf("best trial of '%s': #%lld  %s=%s (%s)\n", loaded->experiment.name.c_str(),
              static_cast<long long>(best->number), loaded->experiment.objective_metric.c_str(),
              FormatNumber(*best->value).c_str(), ObjectiveModeName(loaded->experiment.objective_mode));
  for (const auto& [name, value] : best->params.items()) {
    std::printf("  %s = %s\n", name.c_str(), DumpJson(value).c_str());
  }
  return kExitOk;
}

// "12" or "#12".
Result<int64_t> ParseTrialNumber(const std::string& argument, const std::string& command) {
  std::string text = argument;
  if (!text.empty() && text[0] == '#') text = text.substr(1);
  char* end = nullptr;
  errno = 0;
  long long number = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || number <= 0 || errno == ERANGE) {
    return InvalidArgumentError("'" + argument + "' is not a trial number; use e.g. `hyperion " + command +
                                " 3`");
  }
  return static_cast<int64_t>(number);
}

// An experiment's trials, for the commands that need more than one of them.
struct LoadedTrials {
  Loaded loaded;
  std::vector<Trial> trials;
};

Result<LoadedTrials> LoadTrials(const QueryOptions& options) {
  LoadedTrials out;
  HYP_ASSIGN_OR_RETURN(
      out.loaded,
      LoadExperiment(options.storage.empty() ? DefaultStorage() : options.storage, options.experiment));
  HYP_ASSIGN_OR_RETURN(out.trials, out.loaded.storage->ListTrials(out.loaded.experiment.id));
  return out;
}

// "#4, #3": parent ids as trial numbers, in parents' order (the primary one first).
std::string ParentNumbersText(const Trial& t, const std::vector<Trial>& trials) {
  std::vector<std::string> parts;
  for (int64_t id : t.parents) {
    auto it = std::find_if(trials.begin(), trials.end(), [&](const Trial& p) { return p.id == id; });
    parts.push_back(it == trials.end() ? "(id " + std::to_string(id) + ", not found)"
                                       : "#" + std::to_string(it->number));
  }
  return JoinStrings(parts);
}

int Show(const QueryOptions& options) {
  auto parsed = ParseTrialNumber(options.trial, "show");
  if (!parsed.ok()) return Fail(parsed.status(), kExitUsage);
  auto data = LoadTrials(options);
  if (!data.ok()) return FailLookup(data.status());
  const ExperimentRecord& experiment = data->loaded.experiment;
  auto found = FindTrial(experiment, data->trials, *parsed);
  if (!found.ok()) return FailLookup(found.status());
  const Trial& t = **found;
  auto reports = data->loaded.storage->ListReports(t.id);
  if (!reports.ok()) return Fail(reports.status());
  Json report_json = Json::array();
  std::map<std::string, std::pair<int64_t, double>> latest;
  for (const auto& r : *reports) {
    if (r.attempt != t.attempt) continue;
    report_json.push_back(Json{{"step", r.step}, {"metric", r.metric}, {"value", NumberJson(r.value)}});
    latest[r.metric] = {r.step, r.value};
  }
  // What the resource pool gave its latest attempt, when the run managed resources.
  std::optional<ResourceGrant> resources;
  auto starts = LoadEvents(*data->loaded.storage, experiment.id, {"trial_started"});
  if (!starts.ok()) return Fail(starts.status());
  for (const auto& e : *starts) {
    if (e.trial_id == t.id && e.payload.is_object() && e.payload.contains("resources"))
      resources = ResourceGrant::FromJson(e.payload["resources"]);
  }
  if (options.json) {
    Json j = TrialJson(t, experiment);
    j["parent_numbers"] = ParentNumbersJson(t, data->trials);
    j["reports"] = report_json;
    if (resources) j["resources"] = resources->ToJson();
    PrintJson(j);
    return kExitOk;
  }
  auto field = [](const char* label, const std::string& text) {
    std::printf("  %-10s %s\n", label, text.c_str());
  };
  std::printf("trial #%lld of '%s' (id %lld)\n", static_cast<long long>(t.number), experiment.name.c_str(),
              static_cast<long long>(t.id));
  field("state", std::string(TrialStateName(t.state)) +
                     (t.attempt > 1 ? " (attempt " + std::to_string(t.attempt) + ")" : ""));
  if (t.value) {
    field("value", experiment.objective_metric + "=" + FormatNumber(*t.value) + " at step " +
                       std::to_string(t.value_step.value_or(0)));
  }
  if (!t.error.empty()) field("reason", t.error);
  field("operator", t.op);
  if (!t.change_label.empty()) field("change", t.change_label);
  if (!t.parents.empty()) field("parents", ParentNumbersText(t, data->trials));
  if (std::string span = SpanText(t, experiment); !span.empty()) field("span", span);
  if (!t.rationale.empty()) field("rationale", t.rationale);
  std::printf("  params\n");
  for (const auto& [name, value] : t.params.items())
    std::printf("    %s = %s\n", name.c_str(), DumpJson(value).c_str());
  if (t.started_at) field("started", FormatWallTime(*t.started_at));
  if (t.started_at && t.ended_at) field("duration", FormatDuration(*t.ended_at - *t.started_at));
  if (resources) field("resources", resources->Describe());
  if (!latest.empty()) {
    std::printf("  metrics    (latest of %zu values)\n", report_json.size());
    for (const auto& [name, sv] : latest) {
      std::printf("    %s = %s (step %lld)\n", name.c_str(), FormatNumber(sv.second).c_str(),
                  static_cast<long long>(sv.first));
    }
  }
  if (!t.external_id.empty()) field("job", t.external_id + " (" + experiment.executor + ")");
  if (!t.trial_dir.empty()) field("folder", t.trial_dir);
  if (!t.restore_from.empty()) field("restored", t.restore_from);
  if (!t.checkpoint_dir.empty()) field("checkpoint", t.checkpoint_dir);
  return kExitOk;
}

// The whole experiment for the graph and decision views: its trials and its event log (only the events of
// `types` when that is not empty).
Result<GraphData> LoadGraph(const QueryOptions& options, const std::vector<std::string>& types = {}) {
  HYP_ASSIGN_OR_RETURN(
      auto loaded,
      LoadExperiment(options.storage.empty() ? DefaultStorage() : options.storage, options.experiment));
  return LoadGraphData(*loaded.storage, loaded.experiment, types);
}

// Colours only on a terminal, and never with NO_COLOR set (https://no-color.org).
TreeStyle StyleForStdout() {
  TreeStyle style;
  const char* no_color = std::getenv("NO_COLOR");
  style.color = ::isatty(STDOUT_FILENO) == 1 && !(no_color && *no_color);
  return style;
}

int Tree(const QueryOptions& options) {
  auto data = LoadGraph(options);
  if (!data.ok()) return FailLookup(data.status());
  if (options.json) {
    PrintJson(TreeJson(*data));
    return kExitOk;
  }
  std::fputs(RenderTree(*data, StyleForStdout()).c_str(), stdout);
  return kExitOk;
}

int Trace(const QueryOptions& options) {
  auto number = ParseTrialNumber(options.trial, "trace");
  if (!number.ok()) return Fail(number.status(), kExitUsage);
  auto data = LoadGraph(options);
  if (!data.ok()) return FailLookup(data.status());
  if (auto found = FindTrial(data->experiment, data->trials, *number); !found.ok())
    return FailLookup(found.status());
  if (options.json) {
    auto json = TraceJson(*data, *number);
    if (!json.ok()) return Fail(json.status());
    PrintJson(*json);
    return kExitOk;
  }
  auto text = RenderTrace(*data, *number, StyleForStdout());
  if (!text.ok()) return Fail(text.status());
  std::fputs(text->c_str(), stdout);
  return kExitOk;
}

// The width text output may take: the terminal's, else $COLUMNS, else 120 columns.
size_t OutputWidth() {
  struct winsize size {};
  if (::isatty(STDOUT_FILENO) == 1 && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
    return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    char* end = nullptr;
    long n = std::strtol(columns, &end, 10);
    if (end != columns && *end == '\0' && n > 0 && n < 10000) return static_cast<size_t>(n);
  }
  return 120;
}

struct DecisionsCommand {
  QueryOptions query;
  std::optional<int64_t> limit;
};

int Decisions(const DecisionsCommand& command) {
  DecisionOptions options;
  if (!command.query.trial.empty()) {
    auto number = ParseTrialNumber(command.query.trial, "decisions --trial");
    if (!number.ok()) return Fail(number.status(), kExitUsage);
    options.trial = *number;
  }
  if (command.limit) options.limit = static_cast<size_t>(*command.limit);
  auto data = LoadGraph(command.query, DecisionEventTypes());
  if (!data.ok()) return FailLookup(data.status());
  if (options.trial) {
    if (auto found = FindTrial(data->experiment, data->trials, *options.trial); !found.ok())
      return FailLookup(found.status());
  }
  if (command.query.json) {
    PrintJson(DecisionsJson(*data, options));
    return kExitOk;
  }
  options.width = OutputWidth();
  std::fputs(RenderDecisions(*data, options).c_str(), stdout);
  return kExitOk;
}

struct ExportCommand {
  QueryOptions query;
  std::string table = "trials";
  std::string format = "csv";
  std::string output;
  bool output_given = false;  // -o, even with an empty name (refused)
  std::string to;             // a tracker to replay into: mlflow or tensorboard
  std::string mlflow_uri;
  std::string mlflow_experiment;
  std::string logdir;
};

// Writes `text` to `path` whole or not at all. A regular file (or a link to one) is written beside its real
// path and renamed into place, so a reader never sees half of it; a device or a pipe (/dev/stdout, a FIFO) is
// written to as it is, never replaced.
Status WriteWhole(const std::string& path, const std::string& text) {
  std::error_code ec;
  if (path.empty()) return InvalidArgumentError("-o needs a file name");
  const fs::file_status target = fs::status(path, ec);
  const bool special = fs::exists(target) && !fs::is_regular_file(target);
  if (fs::is_directory(target)) return InvalidArgumentError("-o " + path + " is a folder; name a file in it");
  if (special) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    bool written = file && std::fwrite(text.data(), 1, text.size(), file) == text.size();
    if (file) written = std::fclose(file) == 0 && written;
    if (!written) return UnavailableError("cannot write " + path + ": " + std::strerror(errno));
    return Status::Ok();
  }
  // Through a link to the file it names, so the link stays a link.
  fs::path real = fs::absolute(path);
  for (int hops = 0; hops < 40 && fs::is_symlink(fs::symlink_status(real, ec)); ++hops) {
    fs::path next = fs::read_symlink(real, ec);  // a link to a file that does not exist yet counts too
    real = next.is_absolute() ? next : real.parent_path() / next;
  }
  real = fs::weakly_canonical(real, ec);
  if (ec || !fs::is_directory(real.parent_path(), ec)) {
    return InvalidArgumentError("cannot write " + path + ": the folder " + real.parent_path().string() +
                                " does not exist; create it or choose another -o");
  }
  const std::string partial = real.string() + ".partial";
  std::FILE* file = std::fopen(partial.c_str(), "wb");
  bool written = file && std::fwrite(text.data(), 1, text.size(), file) == text.size();
  int saved = errno;
  if (file) written = std::fclose(file) == 0 && written;
  if (!written || std::rename(partial.c_str(), real.c_str()) != 0) {
    if (!written) errno = saved;
    std::string why = std::strerror(errno);
    std::remove(partial.c_str());
    return UnavailableError("cannot write " + path + ": " + why);
  }
  return Status::Ok();
}

int Export(const ExportCommand& command) {
  // Checked before anything is read, so a typo costs nothing.
  if (command.to.empty() &&
      (!command.mlflow_uri.empty() || !command.mlflow_experiment.empty() || !command.logdir.empty())) {
    return Fail(
        InvalidArgumentError("--mlflow-uri, --mlflow-experiment and --logdir go with --to mlflow or --to "
                             "tensorboard"),
        kExitUsage);
  }
  if (!command.to.empty() && command.output_given)
    return Fail(InvalidArgumentError("-o writes a table; --to sends to a tracker: use one of them"),
                kExitUsage);
  if (!command.to.empty() && command.to != "mlflow" && command.to != "tensorboard")
    return Fail(InvalidArgumentError("--to " + command.to + ": use mlflow or tensorboard"), kExitUsage);
  if (command.to == "mlflow" && command.mlflow_uri.empty())
    return Fail(InvalidArgumentError("--to mlflow needs --mlflow-uri http://HOST:PORT"), kExitUsage);
  if (command.to == "tensorboard" && command.logdir.empty())
    return Fail(InvalidArgumentError("--to tensorboard needs --logdir DIR"), kExitUsage);
  auto loaded = LoadTrials(command.query);
  if (!loaded.ok()) return FailLookup(loaded.status());
  ExportData data;
  data.experiment = loaded->loaded.experiment;
  data.trials = std::move(loaded->trials);
  Storage& storage = *loaded->loaded.storage;
  if (command.table == "reports" || !command.to.empty()) {
    for (const auto& t : data.trials) {
      auto reports = storage.ListReports(t.id);
      if (!reports.ok()) return Fail(reports.status());
      data.reports.insert(data.reports.end(), reports->begin(), reports->end());
    }
  }
  if (command.table == "decisions") {
    auto decisions = LoadEvents(storage, data.experiment.id, DecisionEventTypes());
    if (!decisions.ok()) return Fail(decisions.status());
    data.decisions = std::move(decisions).value();
  }
  if (!command.to.empty()) {
    std::unique_ptr<Tracker> tracker;
    if (command.to == "mlflow")
      tracker = std::make_unique<MlflowTracker>(command.mlflow_uri, command.mlflow_experiment);
    else
      tracker =
          std::make_unique<TensorBoardTracker>(fs::absolute(command.logdir).lexically_normal().string());
    if (Status replayed = ReplayInto(*tracker, data); !replayed.ok())
      return Fail(Status(replayed.code(), tracker->Name() + ": " + replayed.message()));
    std::printf("exported %zu trials of '%s' to %s\n", data.trials.size(), data.experiment.name.c_str(),
                tracker->Name().c_str());
    return kExitOk;
  }
  auto text = ExportText(data, command.table, command.format);
  if (!text.ok()) return Fail(text.status(), kExitUsage);
  if (!command.output_given) {
    std::fwrite(text->data(), 1, text->size(), stdout);
    return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
  }
  if (Status s = WriteWhole(command.output, *text); !s.ok())
    return Fail(s, s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure);
  return kExitOk;
}

struct NoteCommand {
  QueryOptions query;
  std::string text;
};

// The one write of the query-style commands: a `note` event. Never creates a database.
int Note(const NoteCommand& command) {
  if (auto text = CheckNoteText(command.text); !text.ok()) return Fail(text.status(), kExitUsage);
  auto loaded = LoadExperiment(command.query.storage.empty() ? DefaultStorage() : command.query.storage,
                               command.query.experiment);
  if (!loaded.ok()) return FailLookup(loaded.status());
  const ExperimentRecord& experiment = loaded->experiment;
  auto id = StoreNote(*loaded->storage, experiment, command.text, WallSeconds());
  if (!id.ok()) return Fail(id.status());
  std::printf("%s\n", NoteStoredText(experiment, *id, WallSeconds(), OwnerGone(experiment.owner)).c_str());
  return kExitOk;
}

struct UiCommand {
  std::string storage;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string token;
};

// Serves the dashboard until SIGINT or SIGTERM. Never creates a database.
int Ui(const UiCommand& command) {
  std::string url = command.storage.empty() ? DefaultStorage() : command.storage;
  auto storage = OpenStorage(url, /*create_if_missing=*/false);
  if (!storage.ok()) return FailLookup(storage.status());
  std::string token = dashboard::ResolveToken(command.host, command.token);
  // Blocked before the server's threads start, so that they inherit the mask and sigwait() below gets them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  // The URL as given, not Url(): that one masks a password, and the server opens connections of its own.
  dashboard::DashboardServer server({url, command.host, command.port, token});
  storage->reset();
  if (Status s = server.Start(); !s.ok())
    return Fail(s, s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure);
  if (token != command.token)
    std::printf("serving on %s, so every request needs this token (made for this run): %s\n",
                command.host.c_str(), token.c_str());
  std::printf(
      "dashboard: %s  (%s; Ctrl-C stops it)\n", server.Url().c_str(),
      token.empty() ? "read-only: start it with --token to send notes" : "with the token: read and act");
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop, &signal);
  server.Stop();
  return kExitOk;
}

void AddQueryOptions(CLI::App* command, QueryOptions& options, bool with_json) {
  command->add_option("--storage", options.storage,
                      "experiment database: sqlite:///path/to/file.db or a path (default ./hyperion.db, or "
                      "$HYPERION_STORAGE)");
  command->add_option("--experiment", options.experiment, "experiment name (default: the most recent)");
  if (with_json) command->add_flag("--json", options.json, "print JSON instead of a table");
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{
      "Hyperion: hyperparameter optimisation that runs your training jobs, keeps every trial in a database "
      "and writes down why each trial exists.",
      "hyperion"};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n  hyperion run examples/digits/hyperion.yaml --parallel 2\n  hyperion trials --json\n"
      "  hyperion best\n  hyperion show 3\n  hyperion tree\n  hyperion trace 12\n  hyperion decisions "
      "--limit 20\n"
      "  hyperion note \"lr above 0.1 diverges; stay below it\"\n\nSee README.md for the config reference.");

  RunOptions run;
  auto* run_cmd =
      app.add_subcommand("run", "Run (or with --resume continue) the experiment a config describes");
  run_cmd->add_option("config", run.config, "the experiment's YAML config")->required();
  run_cmd->add_option("--storage", run.storage,
                      "experiment database: sqlite:///path/to/file.db or a path (default: the config's "
                      "storage, else ./hyperion.db)");
  run_cmd->add_option("--experiment", run.experiment, "experiment name (default: the config's name)");
  run_cmd->add_option("--output-dir", run.output_dir,
                      "where trial folders go (default: the config's output_dir, else ./hyperion-runs)");
  run_cmd->add_option("--max-trials", run.max_trials, "stop proposing after N trials")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  run_cmd->add_option("--max-time", run.max_time, "stop after this long: 90s, 10m, 2h");
  run_cmd->add_option("--parallel", run.parallel, "trials at once")->check(CLI::Range(1, 100000));
  run_cmd->add_option("--seed", run.seed, "the strategy's seed (0 to 2^63-1)")
      ->check(CLI::Range(int64_t{0}, int64_t{INT64_MAX}));
  run_cmd->add_flag("--resume", run.resume, "continue an existing experiment of the same name");
  run_cmd->add_flag("-q,--quiet", run.quiet, "print only the summary");
  run_cmd->add_flag("--json", run.json,
                    "print events as JSON lines (run_started, trial_started, report, trial_ended, message, "
                    "run_finished) instead of the live view");
  run_cmd
      ->add_option("--ui", run.ui_port,
                   "serve the dashboard on 127.0.0.1:PORT while the run lasts (read-only)")
      ->check(CLI::Range(1, 65535));
  run_cmd->footer(
      "Example:\n  hyperion run examples/digits/hyperion.yaml --storage sqlite:///tmp/h.db --max-trials 8 "
      "--parallel 2");

  QueryOptions status, trials, best, show;
  auto* status_cmd =
      app.add_subcommand("status", "Experiments in the database, their trial counts and best trials");
  AddQueryOptions(status_cmd, status, true);
  status_cmd->footer("Example:\n  hyperion status --storage sqlite:///tmp/h.db");
  auto* trials_cmd =
      app.add_subcommand("trials", "The trials of an experiment: state, value, operator, params");
  AddQueryOptions(trials_cmd, trials, true);
  trials_cmd->footer("Example:\n  hyperion trials --experiment digits --json");
  auto* best_cmd = app.add_subcommand("best", "The best completed trial of an experiment");
  AddQueryOptions(best_cmd, best, true);
  best_cmd->footer("Example:\n  hyperion best --experiment digits");
  auto* show_cmd = app.add_subcommand("show", "Everything about one trial: params, reports, reason, folder");
  show_cmd->add_option("trial", show.trial, "trial number, e.g. 3 or #3")->required();
  AddQueryOptions(show_cmd, show, true);
  show_cmd->footer("Example:\n  hyperion show 3");

  QueryOptions tree, trace;
  auto* tree_cmd = app.add_subcommand(
      "tree", "The experiment graph: every trial under its primary parent, with merges, prunes and the best");
  AddQueryOptions(tree_cmd, tree, true);
  tree_cmd->footer("Example:\n  hyperion tree --experiment digits");
  auto* trace_cmd = app.add_subcommand(
      "trace",
      "The lineage of one trial from its root: what changed at each step, why, who decided it, and what was "
      "decided about it since");
  trace_cmd->add_option("trial", trace.trial, "trial number, e.g. 12 or #12")->required();
  AddQueryOptions(trace_cmd, trace, true);
  trace_cmd->footer("Example:\n  hyperion trace 12 --json");

  DecisionsCommand decisions;
  auto* decisions_cmd = app.add_subcommand(
      "decisions",
      "The agent's decisions over time, oldest first: proposals, prunes, priorities, stops, rejected "
      "decisions with the reason, fallbacks, LLM calls and notes");
  AddQueryOptions(decisions_cmd, decisions.query, true);
  decisions_cmd->add_option("--limit", decisions.limit, "only the latest N entries")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  decisions_cmd->add_option("--trial", decisions.query.trial,
                            "only the entries about this trial, e.g. 4 or #4");
  decisions_cmd->footer(
      "Examples:\n  hyperion decisions --limit 20\n  hyperion decisions --trial 4 --json\n\nSee "
      "docs/decisions.md.");

  ExportCommand export_command;
  auto* export_cmd = app.add_subcommand(
      "export",
      "An experiment's trials, reports or decisions as CSV, JSON or JSON Lines (names and values byte for "
      "byte), or its runs into MLflow or TensorBoard after the fact");
  AddQueryOptions(export_cmd, export_command.query, false);
  export_cmd->add_option("--table", export_command.table, "trials (default), reports or decisions")
      ->check(CLI::IsMember({"trials", "reports", "decisions"}));
  export_cmd->add_option("--format", export_command.format, "csv (default), json or jsonl")
      ->check(CLI::IsMember({"csv", "json", "jsonl"}));
  auto* output_option =
      export_cmd->add_option("-o,--output", export_command.output, "write to this file instead of stdout");
  export_cmd->add_option("--to", export_command.to, "replay the experiment into mlflow or tensorboard");
  export_cmd->add_option("--mlflow-uri", export_command.mlflow_uri, "with --to mlflow: http://HOST:PORT");
  export_cmd->add_option("--mlflow-experiment", export_command.mlflow_experiment,
                         "with --to mlflow: the MLflow experiment (default: the experiment's name)");
  export_cmd->add_option("--logdir", export_command.logdir, "with --to tensorboard: the log folder");
  export_cmd->footer(
      "Examples:\n  hyperion export --experiment digits --format csv -o trials.csv\n  hyperion export "
      "--table reports --format jsonl\n  hyperion export --to mlflow --mlflow-uri http://127.0.0.1:5000\n  "
      "hyperion export --to tensorboard --logdir tb && tensorboard --logdir tb\n\nSee docs/integrations.md.");

  NoteCommand note;
  auto* note_cmd = app.add_subcommand(
      "note",
      "Hand the experiment's agent a hint: a running agent reads it within a second and answers it in its "
      "next rationale; a stopped experiment's agent reads it on --resume");
  note_cmd->add_option("text", note.text, "the hint, in words (quote it)")->required();
  AddQueryOptions(note_cmd, note.query, false);
  note_cmd->footer(
      "Example:\n  hyperion note \"lr above 0.1 diverges; stay below it\" --experiment digits\n\nA text that "
      "starts with '-' goes last, after the options and --:\n  hyperion note --experiment digits -- \"-0.5 "
      "is the best momentum\"");

  UiCommand ui;
  auto* ui_cmd = app.add_subcommand(
      "ui",
      "Serve the dashboard: the experiment graph, curves, trials and the reasoning trace, live in a browser");
  ui_cmd->add_option("--storage", ui.storage,
                     "experiment database: sqlite:///path/to/file.db or a path (default ./hyperion.db, or "
                     "$HYPERION_STORAGE)");
  ui_cmd->add_option(
      "--host", ui.host,
      "address to listen on (default 127.0.0.1); any other needs a token, made and printed when "
      "not given");
  ui_cmd->add_option("--port", ui.port, "port (default 8080; 0: any free port, printed)")
      ->check(CLI::Range(0, 65535));
  ui_cmd->add_option("--token", ui.token,
                     "the secret requests must carry to act (notes); on a non-loopback address, to read too");
  ui_cmd->footer(
      "Examples:\n  hyperion ui --storage sqlite:///tmp/h.db\n  hyperion ui --host 0.0.0.0 --port "
      "8080\n\nSee "
      "docs/dashboard.md and docs/api.md.");

  std::string completion_shell;
  auto* completion_cmd = app.add_subcommand("completion", "A shell completion script for bash or zsh");
  completion_cmd->add_option("shell", completion_shell, "bash or zsh")->required();
  completion_cmd->footer(
      "Examples:\n  source <(hyperion completion bash)     # add it to ~/.bashrc to keep it\n  hyperion "
      "completion bash > /etc/bash_completion.d/hyperion\n  source <(hyperion completion zsh)      # in "
      "~/.zshrc");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::ParseError& e) {
    // Errors keep the one-line shape of every other error, with where to look for the right form.
    std::string command;
    for (const CLI::App* sub : app.get_subcommands()) command = " " + sub->get_name();
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::fprintf(stderr, "hyperion: %s; see `hyperion%s --help`\n", message.c_str(), command.c_str());
    return kExitUsage;
  }
  if (run_cmd->parsed()) return Run(run);
  if (status_cmd->parsed()) return Status_(status);
  if (trials_cmd->parsed()) return Trials(trials);
  if (best_cmd->parsed()) return Best(best);
  if (show_cmd->parsed()) return Show(show);
  if (tree_cmd->parsed()) return Tree(tree);
  if (trace_cmd->parsed()) return Trace(trace);
  if (decisions_cmd->parsed()) return Decisions(decisions);
  if (export_cmd->parsed()) {
    export_command.output_given = output_option->count() > 0;
    return Export(export_command);
  }
  if (completion_cmd->parsed()) {
    auto script = CompletionScript(app, completion_shell);
    if (!script.ok()) return Fail(script.status(), kExitUsage);
    std::fputs(script->c_str(), stdout);
    return kExitOk;
  }
  if (note_cmd->parsed()) return Note(note);
  if (ui_cmd->parsed()) return Ui(ui);
  return kExitUsage;
}

}  // namespace hyperion::cli
