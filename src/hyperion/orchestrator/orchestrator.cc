#include "hyperion/orchestrator/orchestrator.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>

#include "hyperion/common/clock.h"
#include "hyperion/common/text.h"
#include "hyperion/experiment/ranking.h"

namespace hyperion {
namespace {

namespace fs = std::filesystem;

// Signals reach the loop through a self-pipe: the handler only writes the signal number.
int g_wake_pipe[2] = {-1, -1};
volatile sig_atomic_t g_interrupts = 0;  // SIGINT and SIGTERM received during this run

void OnSignal(int signal) {
  int saved = errno;
  if (signal == SIGINT || signal == SIGTERM) g_interrupts = g_interrupts + 1;
  unsigned char byte = static_cast<unsigned char>(signal);
  ssize_t ignored = ::write(g_wake_pipe[1], &byte, 1);
  (void)ignored;
  errno = saved;
}

// Installs the handlers for the lifetime of a run and restores the previous ones after.
class SignalScope {
 public:
  SignalScope() {
    if (::pipe2(g_wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) g_wake_pipe[0] = g_wake_pipe[1] = -1;
    g_interrupts = 0;
    struct sigaction action {};
    action.sa_handler = OnSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &action, &previous_[i]);
  }
  ~SignalScope() {
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &previous_[i], nullptr);
    for (int& fd : g_wake_pipe) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  }
  // Drains the pipe; returns the signals seen, in order.
  static std::vector<int> Drain() {
    std::vector<int> signals;
    unsigned char buffer[64];
    ssize_t n;
    while ((n = ::read(g_wake_pipe[0], buffer, sizeof buffer)) > 0)
      signals.insert(signals.end(), buffer, buffer + n);
    return signals;
  }

 private:
  static constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGCHLD};
  struct sigaction previous_[3];
};

const char* SignalName(int s) { return s == SIGINT ? "SIGINT" : s == SIGTERM ? "SIGTERM" : "a signal"; }

// The last non-empty line of a file, shortened; for failure reasons ("exit code 1: ValueError: ...").
std::string LastLine(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff start = std::max<std::streamoff>(0, size - 4096);
  in.seekg(start);
  std::string tail((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r' || tail.back() == ' ')) tail.pop_back();
  size_t nl = tail.rfind('\n');
  std::string line = nl == std::string::npos ? tail : tail.substr(nl + 1);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = '?';
  }
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

// True when `pid` is a live process started for trial `trial_id` (its environment names the trial), so a
// resume never signals an unrelated process that reused the id.
bool IsProcessOfTrial(int64_t pid, int64_t trial_id) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  if (!in) return false;
  std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string needle = std::string("HYPERION_TRIAL_ID=") + std::to_string(trial_id) + '\0';
  return env.find(needle) != std::string::npos;
}

// True for a running process; a zombie (killed, not yet reaped by its parent) counts as gone.
bool IsLiveProcess(long pid) {
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;
  char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

// The strategy settings the stored config records (all but the seed, which has a message of its own), as
// stored and as now. Settings an older version did not record are not compared.
std::pair<std::string, std::string> StoredStrategyOptions(const Json& stored, const Json& current) {
  Json before = Json::object(), now = Json::object();
  const Json& old_strategy = stored.value("strategy", Json::object());
  const Json& new_strategy = current.value("strategy", Json::object());
  if (!old_strategy.is_object() || !new_strategy.is_object()) return {"", ""};
  for (const auto& [key, value] : old_strategy.items()) {
    if (key == "seed") continue;
    Json present = new_strategy.value(key, Json());
    if (present == value) continue;
    before[key] = value;
    now[key] = present;
  }
  return {DumpJson(before), DumpJson(now)};
}

}  // namespace

// A trial whose process is alive: its metric reader, deadlines and how it is meant to end.
struct Orchestrator::Running {
  Running(int64_t id, const std::string& dir, bool parse_stdout, const std::string& metric)
      : trial_id(id), reader(dir, parse_stdout, metric) {}
  const int64_t trial_id;
  MetricStreamReader reader;
  double started = 0;                   // monotonic
  std::optional<double> deadline;       // monotonic; trial.timeout
  std::optional<double> term_at;        // monotonic; SIGTERM when a trial asked to stop has not
  std::optional<double> kill_at;        // monotonic; SIGKILL after the grace period
  std::optional<TrialState> end_state;  // set when we stopped it (timed_out, interrupted, failed, pruned)
  std::string end_reason;
  std::string end_source;     // who pruned it: the pruner's or the strategy's name
  Json end_evidence;          // the numbers behind a prune
  int64_t checked_step = -1;  // the pruner has seen the reports up to this step
  std::optional<double> last_value, best_value;
  std::optional<int64_t> last_step, best_step;
  std::vector<std::string> metric_names;
};

Orchestrator::Orchestrator(RunSettings settings, Storage& storage, std::unique_ptr<Strategy> strategy,
                           std::unique_ptr<Executor> executor, RunObserver& observer)
    : settings_(std::move(settings)),
      config_(settings_.config),
      storage_(storage),
      strategy_(std::move(strategy)),
      executor_(std::move(executor)),
      observer_(observer),
      owner_(HostName() + ":" + std::to_string(::getpid())) {}

Orchestrator::~Orchestrator() = default;

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

Trial* Orchestrator::FindTrial(int64_t id) {
  for (auto& t : trials_) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

std::optional<Trial> Orchestrator::Best() const {
  return BestCompleted(trials_, config_.objective, config_.training);
}

StrategyContext Orchestrator::Context() const {
  return StrategyContext{config_.space, config_.objective, trials_, seed_, config_.training};
}

std::string Orchestrator::NewExperimentDir() const {
  // A folder of its own per experiment, so that a new experiment of the same name (another database, a
  // deleted one) never reads the files of an old one.
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  fs::path base = fs::path(settings_.output_dir) / (SafeFileName(config_.name) + "-" + stamp);
  fs::path dir = base;
  std::error_code ec;
  for (int i = 2; fs::exists(dir, ec); ++i) dir = base.string() + "-" + std::to_string(i);
  return dir.string();
}

Status Orchestrator::Claim(const ExperimentRecord& existing) {
  double now = WallSeconds();
  std::string dead_owner;
  if (!existing.owner.empty()) {
    size_t colon = existing.owner.rfind(':');
    std::string host = existing.owner.substr(0, colon);
    long pid = colon == std::string::npos ? 0 : std::atol(existing.owner.c_str() + colon + 1);
    bool alive_here = host == HostName() && pid > 0 && IsLiveProcess(pid);
    if (host == HostName() && !alive_here) dead_owner = existing.owner;
    double age = existing.heartbeat_at ? now - *existing.heartbeat_at : 1e9;
    if (dead_owner.empty() && age < kStaleOwnerSeconds) {
      return FailedPreconditionError("experiment '" + existing.name + "' is being run by " + existing.owner +
                                     " (alive " + FormatDuration(age) +
                                     " ago); stop that run first, or use --experiment NEW_NAME");
    }
  }
  Status claimed = storage_.ClaimExperiment(existing.id, owner_, now, now - kStaleOwnerSeconds, dead_owner);
  if (claimed.code() == StatusCode::kAborted) {
    return FailedPreconditionError("experiment '" + existing.name +
                                   "' was claimed by another orchestrator at the same moment; try again");
  }
  return claimed;
}

std::string Orchestrator::TrialDirFor(const Trial& trial) const {
  char name[32];
  std::snprintf(name, sizeof name, "trial-%04lld", static_cast<long long>(trial.number));
  return (fs::path(experiment_dir_) / name).string();
}

Status Orchestrator::SaveTrial(const Trial& trial, const std::string& event_type, Json payload) {
  // The trial's new state and the event that explains it land together or not at all.
  return storage_.RunInTransaction([&]() -> Status {
    HYP_RETURN_IF_ERROR(storage_.UpdateTrial(trial));
    Event event;
    event.experiment_id = experiment_.id;
    event.trial_id = trial.id;
    event.time = WallSeconds();
    event.type = event_type;
    payload["number"] = trial.number;
    event.payload = std::move(payload);
    return storage_.AppendEvent(event).status();
  });
}

Status Orchestrator::Start() {
  HYP_ASSIGN_OR_RETURN(pruner_, MakePruner(config_.pruner));
  HYP_ASSIGN_OR_RETURN(std::optional<ExperimentRecord> existing, storage_.FindExperiment(config_.name));
  if (existing && !settings_.resume) {
    HYP_ASSIGN_OR_RETURN(auto trials, storage_.ListTrials(existing->id));
    return AlreadyExistsError("experiment '" + config_.name + "' already exists in " + storage_.Url() + " (" +
                              std::to_string(trials.size()) + " trials, " + existing->status +
                              "); add --resume to continue it, or --experiment NEW_NAME to start another");
  }
  if (existing) {
    // What shaped the stored trials must not change under them.
    struct Fixed {
      const char* what;
      std::string stored, now;
      bool show;  // short enough to print
    };
    const Json current = config_.ToJson();
    const auto strategy_settings = StoredStrategyOptions(existing->config, current);
    for (const Fixed& f :
         {Fixed{"strategy", existing->strategy, strategy_->Name(), true},
          Fixed{"executor", existing->executor, executor_->Name(), true},
          Fixed{"search space", DumpJson(existing->config.value("space", Json())), DumpJson(current["space"]),
                false},
          Fixed{"objective", DumpJson(existing->config.value("objective", Json())),
                DumpJson(current["objective"]), true},
          Fixed{"training budget", DumpJson(existing->config.value("training", Json())),
                DumpJson(current["training"]), true},
          Fixed{"setting of the strategy", strategy_settings.first, strategy_settings.second, true}}) {
      if (f.stored == f.now) continue;
      return FailedPreconditionError(
          "experiment '" + config_.name + "' was run with another " + f.what +
          (f.show ? " (" + f.stored + ", now " + f.now + ")" : std::string()) +
          "; resuming it is refused, as it would mix trials made under two. Restore "
          "the " +
          f.what + ", or use --experiment NEW_NAME");
    }
    const Json& stored_seed = existing->config["strategy"]["seed"];
    uint64_t seed = stored_seed.is_number() ? stored_seed.get<uint64_t>() : 0;
    if (config_.strategy.seed && *config_.strategy.seed != seed) {
      return FailedPreconditionError(
          "experiment '" + config_.name + "' was run with seed " + std::to_string(seed) +
          "; resuming it with seed " + std::to_string(*config_.strategy.seed) +
          " would not continue its sequence. Drop the seed, or use " + std::to_string(seed));
    }
    HYP_RETURN_IF_ERROR(Claim(*existing));
    experiment_ = *existing;
    seed_ = seed;
    HYP_ASSIGN_OR_RETURN(trials_, storage_.ListTrials(experiment_.id));
    HYP_ASSIGN_OR_RETURN(auto events, storage_.ListEvents(experiment_.id, 0, 1 << 30));
    for (const auto& e : events) {
      if (e.type == "trial_retry" && e.trial_id) ++failures_[*e.trial_id];
    }
    HYP_RETURN_IF_ERROR(storage_.SetExperimentStatus(experiment_.id, "running", std::nullopt));
    HYP_RETURN_IF_ERROR(RecoverUnfinished());
    if (pruner_) {
      // The pruner compares against every trial's curve, so the stored reports come back first.
      for (const auto& t : trials_) {
        HYP_ASSIGN_OR_RETURN(auto reports, storage_.ListReports(t.id));
        for (const auto& r : reports) {
          if (r.attempt == t.attempt && r.metric == config_.objective.metric && std::isfinite(r.value))
            curves_[t.id].push_back(StepValue{r.step, r.value});
        }
      }
    }
  } else {
    seed_ = config_.strategy.seed.value_or(std::random_device{}() & 0x7fffffff);
    ExperimentRecord record;
    record.name = config_.name;
    record.config = config_.ToJson();
    record.config["strategy"]["seed"] = seed_;
    record.objective_metric = config_.objective.metric;
    record.objective_mode = config_.objective.mode;
    record.strategy = strategy_->Name();
    record.executor = executor_->Name();
    record.created_at = WallSeconds();
    record.config["experiment_dir"] = NewExperimentDir();
    record.owner = owner_;
    record.heartbeat_at = WallSeconds();
    HYP_ASSIGN_OR_RETURN(experiment_, storage_.CreateExperiment(record));
  }
  const Json& dir = experiment_.config["experiment_dir"];
  experiment_dir_ = dir.is_string()
                        ? dir.get<std::string>()
                        : (fs::path(settings_.output_dir) / SafeFileName(experiment_.name)).string();
  Event started;
  started.experiment_id = experiment_.id;
  started.time = WallSeconds();
  started.type = existing ? "experiment_resumed" : "experiment_started";
  started.payload = Json{{"seed", seed_}, {"parallel", config_.parallel}};
  HYP_RETURN_IF_ERROR(storage_.AppendEvent(started).status());
  observer_.OnRunStarted(experiment_, trials_);
  if (!config_.budget.max_trials && !config_.budget.max_time) {
    observer_.OnMessage("no budget.max_trials or budget.max_time: the run goes on until strategy " +
                        strategy_->Name() +
                        " has nothing left to propose, or until you stop it (Ctrl-C; --resume continues it)");
  }
  return Status::Ok();
}

Status Orchestrator::RecoverUnfinished() {
  for (auto& t : trials_) {
    if (t.state == TrialState::kRunning) {
      // The orchestrator that ran it is gone. Stop what is left of the trial, then run it again.
      if (t.pid && IsProcessOfTrial(*t.pid, t.id)) ::kill(-static_cast<pid_t>(*t.pid), SIGKILL);
      t.state = TrialState::kInterrupted;
      t.error = "the orchestrator stopped while the trial ran";
      t.ended_at = WallSeconds();
      t.pid.reset();
      HYP_RETURN_IF_ERROR(SaveTrial(t, "trial_interrupted", Json{{"reason", t.error}}));
    }
    if (t.state == TrialState::kInterrupted) {
      HYP_RETURN_IF_ERROR(CheckTransition(t.number, t.state, TrialState::kPending));
      t.state = TrialState::kPending;
      t.attempt += 1;
      curves_.erase(t.id);
      t.value.reset();
      t.value_step.reset();
      HYP_RETURN_IF_ERROR(SaveTrial(t, "trial_requeued", Json{{"reason", "resume"}, {"attempt", t.attempt}}));
    }
  }
  return Status::Ok();
}

Status Orchestrator::LaunchTrial(Trial& trial) {
  trial.trial_dir = TrialDirFor(trial);
  trial.checkpoint_dir = (fs::path(trial.trial_dir) / "checkpoint").string();
  std::error_code ec;
  fs::create_directories(trial.checkpoint_dir, ec);
  if (ec) return UnavailableError("cannot create trial folder " + trial.trial_dir + ": " + ec.message());
  fs::permissions(experiment_dir_, fs::perms::owner_all, fs::perm_options::replace, ec);
  // Files of an earlier attempt move to attempt-N/, so this attempt's reader starts from empty files and
  // writes into an empty checkpoint folder. When that attempt left a checkpoint, this one continues from it.
  if (trial.attempt > 1) {
    fs::path archive = fs::path(trial.trial_dir) / ("attempt-" + std::to_string(trial.attempt - 1));
    for (const char* name : {"stdout.log", "stderr.log", "metrics.jsonl", "control.json", "checkpoint"}) {
      fs::path file = fs::path(trial.trial_dir) / name;
      if (fs::exists(file, ec)) {
        fs::create_directories(archive, ec);
        fs::rename(file, archive / name, ec);
      }
    }
    fs::path previous_checkpoint = archive / "checkpoint";
    if (fs::is_directory(previous_checkpoint, ec) && !fs::is_empty(previous_checkpoint, ec)) {
      trial.restore_from = previous_checkpoint.string();
    }
    fs::create_directories(trial.checkpoint_dir, ec);
    if (ec) return UnavailableError("cannot create " + trial.checkpoint_dir + ": " + ec.message());
  }
  auto argv = SubstituteCommand(config_.command, trial.params);
  LaunchRequest request;
  request.trial_id = trial.id;
  request.workdir = config_.workdir;
  request.trial_dir = trial.trial_dir;
  request.env = config_.env;
  const char* pythonpath = std::getenv("PYTHONPATH");
  request.env["PYTHONPATH"] = settings_.python_client_dir +
                              (pythonpath && *pythonpath ? std::string(":") + pythonpath : std::string());
  request.env["PYTHONUNBUFFERED"] = "1";
  request.env["HYPERION_EXPERIMENT"] = experiment_.name;
  request.env["HYPERION_TRIAL_ID"] = std::to_string(trial.id);
  request.env["HYPERION_TRIAL_NUMBER"] = std::to_string(trial.number);
  request.env["HYPERION_ATTEMPT"] = std::to_string(trial.attempt);
  request.env["HYPERION_PARAMS"] = DumpJson(trial.params);
  request.env["HYPERION_TRIAL_DIR"] = trial.trial_dir;
  request.env["HYPERION_CHECKPOINT_DIR"] = trial.checkpoint_dir;
  request.env["HYPERION_RESTORE_FROM"] = trial.restore_from;
  request.env["HYPERION_BUDGET_FROM"] = trial.budget_from ? FormatNumber(*trial.budget_from) : "";
  request.env["HYPERION_BUDGET_TO"] = trial.budget_to ? FormatNumber(*trial.budget_to) : "";
  request.env["HYPERION_METRICS_FILE"] = trial.trial_dir + "/metrics.jsonl";
  request.env["HYPERION_CONTROL_FILE"] = trial.trial_dir + "/control.json";

  Status launched = argv.ok() ? executor_->Launch((request.argv = *argv, request)) : argv.status();
  HYP_RETURN_IF_ERROR(CheckTransition(trial.number, trial.state, TrialState::kRunning));
  trial.state = TrialState::kRunning;
  trial.started_at = WallSeconds();
  trial.ended_at.reset();
  trial.error.clear();
  trial.pid = launched.ok() ? std::optional<int64_t>(executor_->ProcessId(trial.id)) : std::nullopt;
  HYP_RETURN_IF_ERROR(
      SaveTrial(trial, "trial_started",
                Json{{"attempt", trial.attempt}, {"pid", trial.pid ? Json(*trial.pid) : Json()}}));
  if (!launched.ok()) {
    // It never ran: record why, as a failure of this attempt.
    trial.state = TrialState::kFailed;
    trial.error = launched.message();
    trial.ended_at = WallSeconds();
    trial.pid.reset();
    HYP_RETURN_IF_ERROR(SaveTrial(trial, "trial_failed", Json{{"reason", trial.error}}));
    observer_.OnTrialEnded(trial, Best());
    // The next trial would fail the same way: stop proposing and let the running ones finish.
    proposals_done_ = true;
    end_reason_ = "stopped: trial #" + std::to_string(trial.number) + " could not start: " + trial.error;
    return Status::Ok();
  }
  auto running =
      std::make_unique<Running>(trial.id, trial.trial_dir, config_.stdout_metrics, config_.objective.metric);
  running->started = MonotonicSeconds();
  if (config_.trial.timeout) running->deadline = running->started + *config_.trial.timeout;
  running_[trial.id] = std::move(running);
  observer_.OnTrialStarted(trial);
  return Status::Ok();
}

Status Orchestrator::FillSlots() {
  if (stopping_) return Status::Ok();
  if (config_.budget.max_time && MonotonicSeconds() - start_time_ >= *config_.budget.max_time) {
    stopping_ = true;
    end_reason_ = "max_time reached (" + FormatDuration(*config_.budget.max_time) + ")";
    StopAll(TrialState::kInterrupted,
            "the experiment's max_time (" + FormatDuration(*config_.budget.max_time) + ") was reached",
            false);
    return Status::Ok();
  }
  while (RunningCount() < config_.parallel) {
    // Trials waiting to run (retries, resumed ones) come first, by priority then number.
    Trial* next = nullptr;
    for (auto& t : trials_) {
      if (t.state == TrialState::kPending && (!next || t.priority > next->priority)) next = &t;
    }
    if (next) {
      HYP_RETURN_IF_ERROR(LaunchTrial(*next));
      continue;
    }
    if (proposals_done_) break;
    if (config_.budget.max_trials && static_cast<int64_t>(trials_.size()) >= *config_.budget.max_trials) {
      proposals_done_ = true;
      end_reason_ = "budget reached: " + std::to_string(*config_.budget.max_trials) + " trials";
      break;
    }
    ProposeOutcome outcome = strategy_->Propose(Context());
    HYP_RETURN_IF_ERROR(ApplyPrunes(outcome.prunes));
    if (outcome.kind == ProposeOutcome::Kind::kWait) {
      if (RunningCount() == 0) {  // nothing will ever arrive to wait for
        proposals_done_ = true;
        end_reason_ = "the strategy has nothing to propose: " + outcome.reason;
      }
      break;
    }
    if (outcome.kind == ProposeOutcome::Kind::kExhausted) {
      proposals_done_ = true;
      end_reason_ = outcome.reason;
      observer_.OnMessage(outcome.reason);
      break;
    }
    Proposal& p = outcome.proposal;
    HYP_RETURN_IF_ERROR(config_.space.Validate(p.params).WithContext("strategy " + strategy_->Name() +
                                                                     " proposed an invalid point"));
    Trial trial;
    trial.experiment_id = experiment_.id;
    trial.params = std::move(p.params);
    trial.parents = std::move(p.parents);
    trial.op = std::move(p.op);
    trial.change_label = std::move(p.change_label);
    trial.rationale = std::move(p.rationale);
    trial.evidence = std::move(p.evidence);
    HYP_RETURN_IF_ERROR(PrepareBranch(p, trial));
    trial.created_at = WallSeconds();
    Result<Trial> created = Status::Ok();
    HYP_RETURN_IF_ERROR(storage_.RunInTransaction([&]() -> Status {
      created = storage_.CreateTrial(trial);
      if (!created.ok()) return created.status();
      Event event;
      event.experiment_id = experiment_.id;
      event.trial_id = created->id;
      event.time = WallSeconds();
      event.type = "trial_proposed";
      event.payload = Json{{"number", created->number},       {"operator", created->op},
                           {"params", created->params},       {"parents", created->parents},
                           {"change", created->change_label}, {"rationale", created->rationale}};
      return storage_.AppendEvent(event).status();
    }));
    trials_.push_back(std::move(created).value());
    HYP_RETURN_IF_ERROR(LaunchTrial(trials_.back()));
  }
  return Status::Ok();
}

Status Orchestrator::PollMetrics(Running& running, bool final_read) {
  auto batch = running.reader.Poll(final_read);
  if (batch.reports.empty() && batch.problems.empty()) return Status::Ok();
  Trial* trial = FindTrial(running.trial_id);
  if (!trial) return InternalError("a running trial is missing from the experiment");
  std::vector<Report> rows;
  for (const auto& report : batch.reports) {
    for (const auto& [name, value] : report.metrics) {
      rows.push_back(Report{trial->id, trial->attempt, report.step, name, value, report.time});
      if (std::find(running.metric_names.begin(), running.metric_names.end(), name) ==
          running.metric_names.end()) {
        running.metric_names.push_back(name);
      }
      if (name != config_.objective.metric) continue;
      if (!std::isfinite(value)) {
        if (!running.end_state) {
          StopTrial(running, TrialState::kFailed,
                    "objective '" + name + "' was " + FormatNumber(value) + " at step " +
                        std::to_string(report.step),
                    false);
        }
        continue;
      }
      running.last_value = value;
      running.last_step = report.step;
      curves_[trial->id].push_back(StepValue{report.step, value});
      if (!running.best_value || config_.objective.Better(value, *running.best_value)) {
        running.best_value = value;
        running.best_step = report.step;
      }
    }
    observer_.OnTrialReport(*trial, report);
  }
  HYP_RETURN_IF_ERROR(storage_.AppendReports(rows));
  if (!batch.problems.empty() && !running.end_state) {
    const auto& p = batch.problems.front();
    StopTrial(running, TrialState::kFailed, "unreadable metric in " + p.where + ": " + p.message, false);
  }
  if (!final_read) HYP_RETURN_IF_ERROR(CheckPruner(running));
  return Status::Ok();
}

void Orchestrator::StopTrial(Running& running, TrialState end_state, const std::string& reason,
                             bool immediately) {
  const int64_t trial_id = running.trial_id;
  if (!running.end_state) {
    running.end_state = end_state;
    running.end_reason = reason;
  }
  if (immediately) {
    executor_->Signal(trial_id, SIGKILL);
    return;
  }
  if (!running.kill_at) {
    executor_->Signal(trial_id, SIGTERM);
    running.kill_at = MonotonicSeconds() + config_.trial.kill_grace;
  }
}

void Orchestrator::StopAll(TrialState end_state, const std::string& reason, bool immediately) {
  for (auto& [id, running] : running_) StopTrial(*running, end_state, reason, immediately);
}

Status Orchestrator::CheckDeadlines() {
  double now = MonotonicSeconds();
  for (auto& [id, running] : running_) {
    if (running->kill_at && now >= *running->kill_at) {
      executor_->Signal(id, SIGKILL);
    } else if (running->term_at && !running->kill_at && now >= *running->term_at) {
      // Asked to stop through control.json and still running: stop it as a timeout would be.
      executor_->Signal(id, SIGTERM);
      running->kill_at = now + config_.trial.kill_grace;
    } else if (running->deadline && now >= *running->deadline && !running->end_state) {
      StopTrial(*running, TrialState::kTimedOut,
                "timed out after " + FormatDuration(*config_.trial.timeout) + " (trial.timeout)", false);
    }
  }
  return Status::Ok();
}

Status Orchestrator::HandleExit(const TrialExit& exit) {
  auto it = running_.find(exit.trial_id);
  if (it == running_.end()) return Status::Ok();
  Running& running = *it->second;
  HYP_RETURN_IF_ERROR(PollMetrics(running, /*final_read=*/true));
  Trial* trial = FindTrial(exit.trial_id);
  if (!trial) return InternalError("an ended trial is missing from the experiment");

  TrialState state = TrialState::kCompleted;
  std::string reason;
  if (running.end_state) {
    state = *running.end_state;
    reason = running.end_reason;
  } else if (exit.signaled || exit.code != 0) {
    state = TrialState::kFailed;
    reason = exit.Describe();
    std::string last = LastLine(trial->trial_dir + "/stderr.log");
    if (!last.empty()) reason += ": " + last;
  } else if (!running.last_value) {
    state = TrialState::kFailed;
    reason = "finished without reporting the objective '" + config_.objective.metric + "'";
    reason += running.metric_names.empty() ? " (it reported no metrics at all)"
                                           : " (it reported: " + JoinStrings(running.metric_names) + ")";
  }
  bool use_best = config_.objective.value == ValueRule::kBest;
  trial->value = use_best ? running.best_value : running.last_value;
  trial->value_step = use_best ? running.best_step : running.last_step;
  // A pruned trial keeps the value it had reached, to show where it was stopped; it never counts as best.
  if (state != TrialState::kCompleted && state != TrialState::kPruned) {
    trial->value.reset();
    trial->value_step.reset();
  }
  trial->ended_at = WallSeconds();
  trial->pid.reset();
  trial->error = reason;
  retention_due_ = true;
  const std::string source = running.end_source;
  const Json evidence = running.end_evidence;
  running_.erase(it);

  bool retry = (state == TrialState::kFailed || state == TrialState::kTimedOut) && !stopping_ &&
               failures_[trial->id] < config_.trial.retries;
  if (retry) {
    int failed = ++failures_[trial->id];
    HYP_RETURN_IF_ERROR(CheckTransition(trial->number, trial->state, TrialState::kPending));
    trial->state = TrialState::kPending;
    trial->attempt += 1;
    curves_.erase(trial->id);
    HYP_RETURN_IF_ERROR(SaveTrial(*trial, "trial_retry",
                                  Json{{"reason", reason},
                                       {"failed_state", TrialStateName(state)},
                                       {"retry", failed},
                                       {"of", config_.trial.retries}}));
    observer_.OnMessage("trial #" + std::to_string(trial->number) + " " + TrialStateName(state) + " (" +
                        reason + "); retry " + std::to_string(failed) + " of " +
                        std::to_string(config_.trial.retries));
    return Status::Ok();
  }
  HYP_RETURN_IF_ERROR(CheckTransition(trial->number, trial->state, state));
  trial->state = state;
  Json payload = Json{{"exit", exit.Describe()}};
  if (trial->value) payload["value"] = *trial->value;
  if (!reason.empty()) payload["reason"] = reason;
  if (state == TrialState::kPruned) {
    payload["source"] = source;
    payload["evidence"] = evidence;
  }
  HYP_RETURN_IF_ERROR(SaveTrial(*trial, std::string("trial_") + TrialStateName(state), payload));
  observer_.OnTrialEnded(*trial, Best());
  return Status::Ok();
}

Status Orchestrator::PrepareBranch(const Proposal& proposal, Trial& trial) {
  // `trial` already holds the proposal's parents, rationale and the rest; `proposal` the span and restore.
  const std::string who = "strategy " + strategy_->Name();
  if (config_.training.enabled()) {
    // Model-free and model-based samplers leave the span to us: a whole run.
    trial.budget_from = proposal.budget_from.value_or(0);
    trial.budget_to = proposal.budget_to.value_or(config_.training.max);
    if (!(*trial.budget_from >= 0 && *trial.budget_from < *trial.budget_to &&
          *trial.budget_to <= config_.training.max)) {
      return InternalError(who + " proposed the span " + FormatNumber(*trial.budget_from) + ".." +
                           FormatNumber(*trial.budget_to) + ", outside 0.." +
                           FormatNumber(config_.training.max) + " " + config_.training.unit);
    }
  }
  for (int64_t parent : trial.parents) {
    if (!FindTrial(parent))
      return InternalError(who + " named a parent that is not a trial: id " + std::to_string(parent));
  }
  if (!proposal.restore) return Status::Ok();
  if (trial.parents.empty()) return InternalError(who + " asked to restore a checkpoint without a parent");
  const Trial& donor = *FindTrial(trial.parents[0]);
  if (donor.checkpoint_dir.empty()) {
    return InternalError(who + " branched from trial #" + std::to_string(donor.number) +
                         ", whose checkpoint was already removed (it was not on the strategy's frontier)");
  }
  std::error_code ec;
  if (!fs::is_directory(donor.checkpoint_dir, ec) || fs::is_empty(donor.checkpoint_dir, ec)) {
    // The trial starts from scratch: the stored rationale says so, and the run says it once per donor.
    trial.rationale += " It starts from scratch: #" + std::to_string(donor.number) + " left no checkpoint.";
    if (warned_no_checkpoint_.insert(donor.id).second) {
      observer_.OnMessage("trial #" + std::to_string(donor.number) + " left no checkpoint in " +
                          donor.checkpoint_dir +
                          "; its branches start from scratch (does the command save into "
                          "HYPERION_CHECKPOINT_DIR, e.g. with hyperion.checkpoint_dir()?)");
    }
    return Status::Ok();
  }
  trial.restore_from = donor.checkpoint_dir;
  return Status::Ok();
}

Status Orchestrator::ApplyPrunes(const std::vector<PruneDecision>& prunes) {
  if (!prunes.empty()) retention_due_ = true;
  for (const auto& decision : prunes) {
    Trial* trial = FindTrial(decision.trial_id);
    if (!trial) {
      return InternalError("strategy " + strategy_->Name() + " pruned a trial that does not exist: id " +
                           std::to_string(decision.trial_id));
    }
    auto running = running_.find(trial->id);
    if (running != running_.end()) {
      RequestPrune(*running->second, strategy_->Name(), decision.rationale, decision.evidence);
      continue;
    }
    if (trial->state != TrialState::kPending && trial->state != TrialState::kCompleted) continue;
    trial->state = TrialState::kPruned;
    trial->error = decision.rationale;
    if (!trial->ended_at) trial->ended_at = WallSeconds();
    HYP_RETURN_IF_ERROR(SaveTrial(
        *trial, "trial_pruned",
        Json{
            {"reason", decision.rationale}, {"evidence", decision.evidence}, {"source", strategy_->Name()}}));
  }
  return Status::Ok();
}

void Orchestrator::RequestPrune(Running& running, const std::string& source, const std::string& rationale,
                                const Json& evidence) {
  if (running.end_state) return;
  running.end_state = TrialState::kPruned;
  running.end_reason = rationale;
  running.end_source = source;
  running.end_evidence = evidence;
  const Trial* trial = FindTrial(running.trial_id);
  if (trial) {
    // Replaced atomically, so the trial never reads half a file.
    fs::path control = fs::path(trial->trial_dir) / "control.json";
    fs::path temporary = control.string() + ".tmp";
    {
      std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
      out << DumpJson(Json{{"stop", true}, {"reason", rationale}}) << "\n";
    }
    std::error_code ec;
    fs::rename(temporary, control, ec);
  }
  running.term_at = MonotonicSeconds() + config_.trial.kill_grace;
}

Status Orchestrator::CheckPruner(Running& running) {
  if (!pruner_ || running.end_state) return Status::Ok();
  auto curve = curves_.find(running.trial_id);
  if (curve == curves_.end() || curve->second.empty()) return Status::Ok();
  int64_t newest = curve->second.back().step;
  if (newest <= running.checked_step) return Status::Ok();
  const Trial* trial = FindTrial(running.trial_id);
  PrunerContext context{config_.objective, trials_, curves_, seed_};
  PrunerVerdict verdict = pruner_->Check(context, *trial, running.checked_step);
  running.checked_step = newest;
  if (verdict.kind == PrunerVerdict::Kind::kPrune) {
    // The progress display shows the reason once, when the trial has stopped.
    RequestPrune(running, pruner_->Name(), verdict.rationale, verdict.evidence);
  } else if (verdict.kind == PrunerVerdict::Kind::kContinue) {
    Event event;
    event.experiment_id = experiment_.id;
    event.trial_id = trial->id;
    event.time = WallSeconds();
    event.type = "trial_promoted";
    event.payload = Json{{"number", trial->number},
                         {"reason", verdict.rationale},
                         {"evidence", verdict.evidence},
                         {"source", pruner_->Name()}};
    HYP_RETURN_IF_ERROR(storage_.AppendEvent(event).status());
  }
  return Status::Ok();
}

Status Orchestrator::ApplyRetention() {
  if (!config_.checkpoints.keep_best || !retention_due_) return Status::Ok();
  retention_due_ = false;
  const int keep_best = *config_.checkpoints.keep_best;
  std::set<int64_t> keep = strategy_->Frontier(Context());
  auto ranked = RankCompleted(trials_, config_.objective, config_.training);
  for (size_t i = 0; i < ranked.size() && static_cast<int>(i) < keep_best; ++i) keep.insert(ranked[i]->id);
  for (const auto& t : trials_) {
    if (IsFinished(t.state)) continue;
    // Unfinished trials (interrupted ones run again on resume) keep their own checkpoints and their
    // donors'.
    keep.insert(t.id);
    keep.insert(t.parents.begin(), t.parents.end());
  }
  for (auto& t : trials_) {
    if (!IsFinished(t.state) || keep.count(t.id) || t.checkpoint_dir.empty() ||
        checkpoints_checked_.count(t.id)) {
      continue;
    }
    checkpoints_checked_.insert(t.id);
    // The trial's checkpoint and those its earlier attempts left.
    std::vector<fs::path> folders = {t.checkpoint_dir};
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(t.trial_dir, ec)) {
      if (entry.path().filename().string().rfind("attempt-", 0) == 0)
        folders.push_back(entry.path() / "checkpoint");
    }
    uintmax_t removed = 0;
    for (const auto& folder : folders) {
      if (!fs::is_directory(folder, ec) || fs::is_empty(folder, ec)) continue;
      std::uintmax_t n = fs::remove_all(folder, ec);
      if (ec) {
        observer_.OnMessage("cannot remove the checkpoint " + folder.string() + ": " + ec.message());
        continue;
      }
      removed += n;
    }
    if (removed == 0) continue;  // it saved nothing: nothing to record
    std::string path = t.checkpoint_dir;
    t.checkpoint_dir.clear();
    HYP_RETURN_IF_ERROR(
        SaveTrial(t, "checkpoint_removed",
                  Json{{"path", path},
                       {"source", "retention"},
                       {"reason", "not on the strategy's frontier and not among the " +
                                      std::to_string(keep_best) + " best trials (checkpoints.keep_best)"}}));
  }
  return Status::Ok();
}

Status Orchestrator::Loop() {
  while (true) {
    for (int s : SignalScope::Drain()) {
      if (s != SIGINT && s != SIGTERM) continue;
      if (!stopping_ || stop_signal_ == 0) {
        stopping_ = true;
        stop_signal_ = s;
        end_reason_ = std::string("interrupted by ") + SignalName(s);
        observer_.OnMessage(std::string(SignalName(s)) +
                            " received: stopping the running trials (again to kill them now)");
        StopAll(TrialState::kInterrupted, std::string("interrupted by ") + SignalName(s), false);
      } else if (g_interrupts >= 2) {
        StopAll(TrialState::kInterrupted, std::string("interrupted by ") + SignalName(s), true);
      }
    }
    for (const auto& exit : executor_->CollectExits()) HYP_RETURN_IF_ERROR(HandleExit(exit));
    for (auto& [id, running] : running_) HYP_RETURN_IF_ERROR(PollMetrics(*running, false));
    HYP_RETURN_IF_ERROR(CheckDeadlines());
    HYP_RETURN_IF_ERROR(FillSlots());
    HYP_RETURN_IF_ERROR(ApplyRetention());

    bool pending_left = std::any_of(trials_.begin(), trials_.end(),
                                    [](const Trial& t) { return t.state == TrialState::kPending; });
    if (running_.empty() && (stopping_ || (proposals_done_ && !pending_left))) break;

    double now = MonotonicSeconds();
    if (now - last_heartbeat_ >= kHeartbeatSeconds) {
      last_heartbeat_ = now;
      Status beat = storage_.Heartbeat(experiment_.id, owner_, WallSeconds());
      if (beat.code() == StatusCode::kAborted && !stopping_) {
        stopping_ = true;
        end_reason_ = "another orchestrator took over the experiment";
        StopAll(TrialState::kInterrupted, end_reason_, true);
      } else if (!beat.ok() && beat.code() != StatusCode::kAborted) {
        return beat;
      }
    }
    if (now - last_tick_ >= 1.0) {
      last_tick_ = now;
      std::vector<const Trial*> running;
      for (const auto& [id, r] : running_) running.push_back(FindTrial(id));
      observer_.OnTick(running);
    }
    // Exits and signals wake us at once through the pipe; the timeout bounds how stale metrics can get.
    pollfd fd{g_wake_pipe[0], POLLIN, 0};
    ::poll(&fd, 1, 50);
  }
  return Status::Ok();
}

Result<RunSummary> Orchestrator::Run() {
  SignalScope signals;
  start_time_ = MonotonicSeconds();
  HYP_RETURN_IF_ERROR(Start());
  Status loop = Loop();
  if (!loop.ok()) {
    // Storage or an internal error: stop every trial before reporting it, so nothing runs on unattended.
    StopAll(TrialState::kInterrupted, "the orchestrator failed: " + loop.message(), true);
    for (int i = 0; i < 100 && !running_.empty(); ++i) {
      for (const auto& exit : executor_->CollectExits()) running_.erase(exit.trial_id);
      ::usleep(20000);
    }
    (void)storage_.SetExperimentStatus(experiment_.id, "failed", WallSeconds());
    (void)storage_.ReleaseExperiment(experiment_.id, owner_);
    return loop;
  }
  RunSummary summary;
  summary.stop_signal = stop_signal_;
  summary.end_reason = end_reason_.empty() ? "no more trials to run" : end_reason_;
  std::string status = stop_signal_ ? "interrupted" : "finished";
  HYP_RETURN_IF_ERROR(storage_.SetExperimentStatus(experiment_.id, status, WallSeconds()));
  Event ended;
  ended.experiment_id = experiment_.id;
  ended.time = WallSeconds();
  ended.type = "experiment_" + status;
  ended.payload = Json{{"reason", summary.end_reason}};
  HYP_RETURN_IF_ERROR(storage_.AppendEvent(ended).status());
  HYP_RETURN_IF_ERROR(storage_.ReleaseExperiment(experiment_.id, owner_));
  experiment_.status = status;
  summary.experiment = experiment_;
  for (const auto& t : trials_) summary.counts[TrialStateName(t.state)] += 1;
  summary.best = Best();
  return summary;
}

}  // namespace hyperion
