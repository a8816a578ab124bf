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
#include <mutex>
#include <random>
#include <thread>

#include "hyperion/common/clock.h"
#include "hyperion/common/text.h"
#include "hyperion/experiment/event_types.h"
#include "hyperion/experiment/ranking.h"
#include "hyperion/orchestrator/slot_plan.h"
#include "hyperion/tracking/wandb_environment.h"

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

// Beside a trial's files: how its process ended, written before the end is stored. When the database is away
// at that moment, the run stops, and the resume stores the end from this record and the trial's files.
constexpr const char* kExitRecord = "exit.json";

std::optional<Json> ReadExitRecord(const Trial& trial) {
  std::ifstream in(fs::path(trial.trial_dir) / kExitRecord, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Json record = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  // Another attempt's record (or half a file) says nothing about this one.
  if (!record.is_object() || record.value("attempt", 0) != trial.attempt) return std::nullopt;
  return record;
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
  // Report rows of this attempt that are stored already and come first in its files: a trial whose end is
  // replayed on resume (RecoverUnfinished) reads its files from the start.
  size_t stored_rows = 0;
};

// A slow agent's call in flight. The worker thread decides on a snapshot it owns; the reply comes back
// under the mutex and wakes the loop through the self-pipe. Shared with the worker (and the agent with it)
// so that a call still out when the run ends may finish on its own after the orchestrator is gone.
struct Orchestrator::SlowCall {
  ExperimentConfig config;  // a copy: the call may outlive the orchestrator
  std::vector<Trial> trials;
  std::map<int64_t, std::vector<StepValue>> curves;
  std::vector<Event> decisions;
  std::vector<Note> notes;
  std::vector<Event> recent;
  double started = 0;  // monotonic
  std::mutex mutex;
  std::optional<AgentReply> reply;  // guarded by mutex
  bool done = false;                // guarded by mutex
  bool orphaned = false;            // guarded by mutex; the run is over: the wake pipe may be closed
  std::thread thread;
};

Orchestrator::Orchestrator(RunSettings settings, Storage& storage, std::unique_ptr<Agent> agent,
                           std::unique_ptr<Executor> executor, RunObserver& observer)
    : settings_(std::move(settings)),
      config_(settings_.config),
      storage_(storage),
      agent_(std::move(agent)),
      executor_(std::move(executor)),
      observer_(observer),
      owner_(HostName() + ":" + std::to_string(::getpid())) {}

Orchestrator::~Orchestrator() { ReleaseSlowCall(); }

void Orchestrator::ReleaseSlowCall() {
  if (!slow_call_) return;
  // The run is over with a call still out: ask it to return, give it a moment, then let it finish alone.
  agent_->Cancel();
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard<std::mutex> lock(slow_call_->mutex);
      if (slow_call_->done) break;
    }
    ::usleep(20000);
  }
  bool done;
  {
    std::lock_guard<std::mutex> lock(slow_call_->mutex);
    slow_call_->orphaned = true;
    done = slow_call_->done;
  }
  if (slow_call_->thread.joinable()) {
    if (done)
      slow_call_->thread.join();
    else
      slow_call_->thread.detach();
  }
  slow_call_.reset();
}

bool OwnerGone(const std::string& owner) {
  size_t colon = owner.rfind(':');
  if (owner.empty() || colon == std::string::npos || owner.substr(0, colon) != HostName()) return false;
  long pid = std::atol(owner.c_str() + colon + 1);
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return true;
  // A zombie (killed, not yet reaped by its parent) is gone too.
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() &&
         (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X');
}

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

AgentContext Orchestrator::Context(int free_slots) const {
  std::optional<int64_t> trials_left;
  std::optional<double> seconds_left;
  if (config_.budget.max_trials) {
    trials_left = std::max<int64_t>(0, *config_.budget.max_trials - static_cast<int64_t>(trials_.size()));
  }
  if (config_.budget.max_time) {
    seconds_left = std::max(0.0, *config_.budget.max_time - (MonotonicSeconds() - start_time_));
  }
  return AgentContext{config_, trials_,    curves_,        decisions_,  notes_,      recent_,
                      seed_,   free_slots, RunningCount(), trials_left, seconds_left};
}

int Orchestrator::FreeSlots() const {
  int pending = static_cast<int>(std::count_if(
      trials_.begin(), trials_.end(), [](const Trial& t) { return t.state == TrialState::kPending; }));
  return config_.parallel - RunningCount() - pending;
}

std::string Orchestrator::DuplicateKey(const Json& params, const std::vector<int64_t>& parents,
                                       std::optional<double> from, std::optional<double> to) {
  Json key = Json::array({params, parents, from ? Json(*from) : Json(), to ? Json(*to) : Json()});
  return key.dump();
}

void Orchestrator::Remember(const Event& event) {
  static const std::set<std::string> kWakeAgent = {
      events::kTrialCompleted,   events::kTrialFailed, events::kTrialPruned,      events::kTrialTimedOut,
      events::kTrialInterrupted, events::kTrialRetry,  events::kDecisionRejected, events::kNote};
  // A bounded window: an agent that is never called (no free slots for long) must not grow it forever.
  if (recent_.size() >= 1000) recent_.erase(recent_.begin(), recent_.begin() + 500);
  recent_.push_back(event);
  // Proposals are the trials themselves (operator, rationale, evidence); keeping their events too would
  // double the memory of a large experiment.
  if (IsDecisionEvent(event.type) && event.type != events::kTrialProposed) decisions_.push_back(event);
  if (kWakeAgent.count(event.type)) agent_due_ = true;
  const Json& answered = event.payload.value("notes", Json());
  if (!answered.is_array()) return;
  for (auto& note : notes_) {
    for (const auto& id : answered) {
      if (id.is_number_integer() && id.get<int64_t>() == note.event_id) note.acknowledged = true;
    }
  }
}

Status Orchestrator::Record(Event event) {
  event.experiment_id = experiment_.id;
  if (event.time == 0) event.time = WallSeconds();
  HYP_ASSIGN_OR_RETURN(event.id, storage_.AppendEvent(event));
  Remember(event);
  return Status::Ok();
}

// A person's stop is a prune decided by "person": the same validation, records and end as an agent's. Only a
// running or pending trial is stopped; one already over stays as it ended.
Status Orchestrator::StopRequested(const Event& event) {
  const Json& number = event.payload.value("number", Json());
  for (auto& trial : trials_) {
    if (!number.is_number_integer() || trial.number != number.get<int64_t>()) continue;
    if (trial.state != TrialState::kRunning && trial.state != TrialState::kPending) return Status::Ok();
    std::string reason = event.payload.value("reason", std::string());
    observer_.OnMessage("stop requested for trial #" + std::to_string(trial.number) + ": " + reason);
    Json no_notes = Json::array();
    return ApplyPrunes({PruneDecision{trial.id, "stopped by a person: " + reason, Json{{"event", event.id}}}},
                       "person", no_notes);
  }
  return Status::Ok();
}

Status Orchestrator::ReadNotes() {
  double now = MonotonicSeconds();
  if (now - last_note_read_ < 1.0) return Status::Ok();
  last_note_read_ = now;
  HYP_ASSIGN_OR_RETURN(auto fresh, storage_.ListEvents(experiment_.id, notes_after_, 100,
                                                       {events::kNote, events::kStopRequested}));
  for (const auto& event : fresh) {
    notes_after_ = event.id;
    if (event.type == events::kStopRequested) {
      HYP_RETURN_IF_ERROR(StopRequested(event));
      continue;
    }
    Note note{event.id, event.time, event.payload.value("text", std::string()), false};
    observer_.OnMessage("note for the agent: " + note.text);
    notes_.push_back(std::move(note));
    Remember(event);
  }
  return Status::Ok();
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
    if (OwnerGone(existing.owner)) dead_owner = existing.owner;
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
  return (fs::path(experiment_dir_) / TrialName(trial.number)).string();
}

Status Orchestrator::SaveTrial(const Trial& trial, const std::string& event_type, Json payload) {
  // The trial's new state and the event that explains it land together or not at all.
  Event event;
  event.experiment_id = experiment_.id;
  event.trial_id = trial.id;
  event.time = WallSeconds();
  event.type = event_type;
  payload["number"] = trial.number;
  event.payload = std::move(payload);
  // The body may run twice (a dropped database connection redoes the transaction): it only assigns.
  HYP_RETURN_IF_ERROR(storage_.RunInTransaction([&]() -> Status {
    HYP_RETURN_IF_ERROR(storage_.UpdateTrial(trial));
    HYP_ASSIGN_OR_RETURN(event.id, storage_.AppendEvent(event));
    return Status::Ok();
  }));
  Remember(event);
  return Status::Ok();
}

void Orchestrator::StopProposing(const std::string& reason, bool budget) {
  if (proposals_done_) return;
  proposals_done_ = true;
  end_reason_ = reason;
  if (budget) (void)Record(Event{0, 0, std::nullopt, 0, events::kBudgetReached, Json{{"reason", reason}}});
}

Status Orchestrator::Start() {
  HYP_ASSIGN_OR_RETURN(pruner_, MakePruner(config_.pruner));
  // Slots come first: the stored config records how many trials ran at once.
  HYP_ASSIGN_OR_RETURN(SlotPlan plan, PlanSlots(config_, executor_->PlacesTrials()));
  settings_.config.parallel = plan.slots;
  pool_ = std::move(plan.pool);
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
         {Fixed{"strategy", existing->strategy, agent_->Name(), true},
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
    HYP_ASSIGN_OR_RETURN(auto retries,
                         storage_.ListEvents(experiment_.id, 0, 1 << 30, {events::kTrialRetry}));
    for (const auto& e : retries) {
      if (!e.trial_id) continue;
      auto& count = e.payload.value("infrastructure", false) ? infrastructure_retries_ : failures_;
      ++count[*e.trial_id];
    }
    // The agent's memory: its earlier decisions and the notes it was given, rebuilt from the log.
    std::vector<std::string> decision_types = {
        events::kTrialProposed, events::kTrialPruned,      events::kPruneRequested, events::kTrialPrioritised,
        events::kAgentStopped,  events::kDecisionRejected, events::kAgentFallback,  events::kNote};
    HYP_ASSIGN_OR_RETURN(auto memory, storage_.ListEvents(experiment_.id, 0, 1 << 30, decision_types));
    for (const auto& e : memory) {
      if (e.type == events::kNote) {
        notes_.push_back(Note{e.id, e.time, e.payload.value("text", std::string()), false});
        notes_after_ = e.id;
      }
      Remember(e);
    }
    recent_.clear();
    for (const auto& t : trials_)
      taken_.insert(DuplicateKey(t.params, t.parents, t.budget_from, t.budget_to));
    HYP_RETURN_IF_ERROR(storage_.SetExperimentStatus(experiment_.id, "running", std::nullopt));
    {
      // The pruner and the agent read every trial's curve, so the stored reports come back first (before
      // RecoverUnfinished, which rebuilds the curves of the trials it replays or requeues).
      for (const auto& t : trials_) {
        HYP_ASSIGN_OR_RETURN(auto reports, storage_.ListReports(t.id));
        for (const auto& r : reports) {
          if (r.attempt == t.attempt && r.metric == config_.objective.metric && std::isfinite(r.value))
            curves_[t.id].push_back(StepValue{r.step, r.value});
        }
      }
    }
    HYP_RETURN_IF_ERROR(RecoverUnfinished());
  } else {
    seed_ = config_.strategy.seed.value_or(std::random_device{}() & 0x7fffffff);
    ExperimentRecord record;
    record.name = config_.name;
    record.config = config_.ToJson();
    record.config["strategy"]["seed"] = seed_;
    record.objective_metric = config_.objective.metric;
    record.objective_mode = config_.objective.mode;
    record.strategy = agent_->Name();
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
  started.type = existing ? events::kExperimentResumed : events::kExperimentStarted;
  started.payload = Json{{"seed", seed_}, {"parallel", config_.parallel}};
  if (pool_) started.payload["resources"] = pool_->Describe();
  HYP_RETURN_IF_ERROR(Record(started));
  observer_.OnRunStarted(experiment_, trials_, config_.parallel);
  for (const auto& note : plan.notes) observer_.OnMessage(note);
  if (!config_.budget.max_trials && !config_.budget.max_time) {
    observer_.OnMessage("no budget.max_trials or budget.max_time: the run goes on until strategy " +
                        agent_->Name() +
                        " has nothing left to propose, or until you stop it (Ctrl-C; --resume continues it)");
  }
  return Status::Ok();
}

Status Orchestrator::RecoverUnfinished() {
  for (auto& t : trials_) {
    if (t.state == TrialState::kRunning) {
      if (std::optional<Json> record = ReadExitRecord(t)) {
        // It ended while its end could not be stored (the database was away): store it now, from its files.
        HYP_RETURN_IF_ERROR(ReplayExit(t, *record));
        continue;
      }
      if (!t.external_id.empty() && executor_->Reattach(t.id, t.external_id, t.trial_dir)) {
        // Its Slurm job outlived the orchestrator that launched it: follow it, rather than run it twice.
        HYP_RETURN_IF_ERROR(ReattachTrial(t));
        continue;
      }
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

Result<std::unique_ptr<Orchestrator::Running>> Orchestrator::RunningFromFiles(const Trial& trial) {
  auto running =
      std::make_unique<Running>(trial.id, trial.trial_dir, config_.stdout_metrics, config_.objective.metric);
  HYP_ASSIGN_OR_RETURN(auto stored, storage_.ListReports(trial.id));
  running->stored_rows = static_cast<size_t>(std::count_if(
      stored.begin(), stored.end(), [&](const Report& r) { return r.attempt == trial.attempt; }));
  curves_.erase(trial.id);  // rebuilt from the files, which hold every report of the attempt
  return running;
}

Status Orchestrator::ReattachTrial(Trial& trial) {
  HYP_ASSIGN_OR_RETURN(std::unique_ptr<Running> running, RunningFromFiles(trial));
  // trial.timeout counts from the launch, not from the resume.
  double ran = trial.started_at ? std::max(0.0, WallSeconds() - *trial.started_at) : 0;
  running->started = MonotonicSeconds() - ran;
  if (config_.trial.timeout) running->deadline = running->started + *config_.trial.timeout;
  running_[trial.id] = std::move(running);
  // It holds its share of the pool again (the scheduler placed it; a resume with fewer slots lets it run on
  // without one: nothing new starts until the running ones fit).
  if (pool_) (void)pool_->Acquire(trial.id);
  return SaveTrial(trial, events::kTrialReattached,
                   Json{{"external_id", trial.external_id}, {"attempt", trial.attempt}});
}

void Orchestrator::WriteExitRecord(const Trial& trial, const TrialExit& exit, const Running* running) {
  Json record{{"attempt", trial.attempt}, {"signaled", exit.signaled}, {"code", exit.code}};
  if (exit.ended_by != EndedBy::kCommand) {
    // A scheduler's word on the end (a node failure, its time limit), which the exit code does not carry.
    record["ended_by"] = EndedByName(exit.ended_by);
    record["reason"] = exit.reason;
  }
  if (running && running->end_state) {
    // Why we stopped it, which its exit alone does not tell (a timeout, a prune).
    record["end_state"] = TrialStateName(*running->end_state);
    record["end_reason"] = running->end_reason;
    record["end_source"] = running->end_source;
    record["end_evidence"] = running->end_evidence;
  }
  // Replaced atomically: a resume never reads half a record.
  fs::path path = fs::path(trial.trial_dir) / kExitRecord;
  fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << DumpJson(record) << "\n";
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
}

Status Orchestrator::ReplayExit(Trial& trial, const Json& record) {
  HYP_ASSIGN_OR_RETURN(std::unique_ptr<Running> running, RunningFromFiles(trial));
  if (record.contains("end_state")) {
    auto state = TrialStateFromName(record.value("end_state", std::string()));
    if (state.ok()) {
      running->end_state = *state;
      running->end_reason = record.value("end_reason", std::string());
      running->end_source = record.value("end_source", std::string());
      running->end_evidence = record.value("end_evidence", Json());
    }
  }
  running_[trial.id] = std::move(running);
  TrialExit exit;
  exit.trial_id = trial.id;
  exit.signaled = record.value("signaled", false);
  exit.code = record.value("code", 0);
  exit.ended_by = EndedByFromName(record.value("ended_by", std::string()));
  exit.reason = record.value("reason", std::string());
  return HandleExit(exit, /*replayed=*/true);
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
  // Files of this very attempt are left by a launch whose start never reached the database (it went away
  // just then; the run stopped and killed the trial): they are not this attempt's and go.
  fs::path archive = fs::path(trial.trial_dir) / ("attempt-" + std::to_string(trial.attempt - 1));
  for (const char* name : {"stdout.log", "stderr.log", "metrics.jsonl", "control.json", kExitRecord}) {
    fs::path file = fs::path(trial.trial_dir) / name;
    if (fs::exists(file, ec) && (trial.attempt == 1 || fs::exists(archive / name, ec))) fs::remove(file, ec);
  }
  if (trial.attempt > 1) {
    for (const char* name :
         {"stdout.log", "stderr.log", "metrics.jsonl", "control.json", kExitRecord, "checkpoint"}) {
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
  request.name = experiment_.name + "-" + std::to_string(trial.number);
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
  // W&B's own wandb.init() in the trial reads these; what the user's `env:` sets wins.
  for (auto& [name, value] :
       WandbEnvironment(config_.tracking, experiment_.name, experiment_.created_at, trial)) {
    if (!config_.env.count(name)) request.env[name] = value;
  }
  Json resources_json;
  if (pool_) {
    auto grant = pool_->Acquire(trial.id);
    // Every slot holds one equal share, so a free slot always has one; anything else is a bug here.
    if (!grant)
      return InternalError("no resources for trial #" + std::to_string(trial.number) +
                           " although a slot is free (" + pool_->Describe() + ")");
    request.resources = *grant;
    request.resources_managed = true;
    resources_json = grant->ToJson();
    // Exactly the granted devices, and none for a trial that asked for none. A scheduler sets this itself.
    if (pool_->shape().assign_devices) request.env["CUDA_VISIBLE_DEVICES"] = grant->CudaVisibleDevices();
    // Thread pools (OpenMP, MKL, PyTorch's intra-op) size themselves to the machine unless told otherwise.
    if (grant->cpu_count > 0) {
      for (const char* name : {"OMP_NUM_THREADS", "MKL_NUM_THREADS"}) {
        if (!config_.env.count(name)) request.env[name] = std::to_string(grant->cpu_count);
      }
    }
  }

  Status launched = argv.ok() ? executor_->Launch((request.argv = *argv, request)) : argv.status();
  HYP_RETURN_IF_ERROR(CheckTransition(trial.number, trial.state, TrialState::kRunning));
  trial.state = TrialState::kRunning;
  trial.started_at = WallSeconds();
  trial.ended_at.reset();
  trial.error.clear();
  trial.pid = launched.ok() ? std::optional<int64_t>(executor_->ProcessId(trial.id)) : std::nullopt;
  if (trial.pid == 0) trial.pid.reset();  // a scheduler runs it elsewhere
  // A Slurm job id, stored so that a resume can follow the job again (RecoverUnfinished).
  trial.external_id = launched.ok() ? executor_->ExternalId(trial.id) : "";
  if (launched.ok()) {
    // Tracked before its start is stored: when storing fails, the run stops, and stops this trial with it.
    auto running = std::make_unique<Running>(trial.id, trial.trial_dir, config_.stdout_metrics,
                                             config_.objective.metric);
    running->started = MonotonicSeconds();
    if (config_.trial.timeout) running->deadline = running->started + *config_.trial.timeout;
    running_[trial.id] = std::move(running);
  }
  Json started{{"attempt", trial.attempt}, {"pid", trial.pid ? Json(*trial.pid) : Json()}};
  if (!trial.external_id.empty()) started["external_id"] = trial.external_id;
  if (pool_) started["resources"] = resources_json;
  HYP_RETURN_IF_ERROR(SaveTrial(trial, "trial_started", started));
  if (!launched.ok()) {
    if (pool_) pool_->Release(trial.id);
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
  observer_.OnTrialStarted(trial);
  return Status::Ok();
}

Status Orchestrator::FillSlots() {
  if (stopping_) return Status::Ok();
  if (config_.budget.max_time && MonotonicSeconds() - start_time_ >= *config_.budget.max_time) {
    stopping_ = true;
    StopProposing("max_time reached (" + FormatDuration(*config_.budget.max_time) + ")", true);
    StopAll(TrialState::kInterrupted,
            "the experiment's max_time (" + FormatDuration(*config_.budget.max_time) + ") was reached",
            false);
    return Status::Ok();
  }
  HYP_RETURN_IF_ERROR(LaunchPending());
  CheckTrialBudget();
  if (agent_->Slow()) return proposals_done_ ? Status::Ok() : DriveSlowAgent();
  // A fast agent is still asked about what happens after the last proposal (prunes, priorities).
  return AskAgent();
}

Status Orchestrator::LaunchPending() {
  while (RunningCount() < config_.parallel && !stopping_) {
    // Trials waiting to run (the agent's queue, retries, resumed ones) by priority, then number.
    Trial* next = nullptr;
    for (auto& t : trials_) {
      if (t.state == TrialState::kPending && (!next || t.priority > next->priority)) next = &t;
    }
    if (!next) break;
    HYP_RETURN_IF_ERROR(LaunchTrial(*next));
  }
  return Status::Ok();
}

Status Orchestrator::AskAgent() {
  // While slots are free the agent is asked again after each proposal, so every proposal sees the ones
  // before it. With no free slot it is asked about what happened (prunes, a stop), at most once a second.
  double now = MonotonicSeconds();
  if ((proposals_done_ || FreeSlots() <= 0) && (!agent_due_ || now - last_agent_call_ < 1.0))
    return Status::Ok();
  while (!stopping_) {
    const int free = proposals_done_ ? 0 : FreeSlots();
    if (free <= 0 && !agent_due_) break;
    AgentReply reply = agent_->Decide(Context(std::max(free, 0)));
    recent_.clear();
    agent_due_ = false;
    last_agent_call_ = now;
    HYP_ASSIGN_OR_RETURN(int created, ApplyReply(std::move(reply), agent_->Name()));
    HYP_RETURN_IF_ERROR(LaunchPending());
    CheckTrialBudget();
    // It waits, only pruned, or can propose no more.
    if (free <= 0 || proposals_done_ || (created == 0 && rejections_in_a_row_ == 0)) break;
  }
  return Status::Ok();
}

Status Orchestrator::DriveSlowAgent() {
  const double now = MonotonicSeconds();
  if (slow_call_) {
    std::optional<AgentReply> reply;
    {
      std::lock_guard<std::mutex> lock(slow_call_->mutex);
      if (slow_call_->done) reply = std::move(slow_call_->reply);
    }
    if (reply) {
      slow_call_->thread.join();
      slow_call_.reset();
      const std::string fell_back = reply->decided_by;
      // The slow agent's own fallback decided on the snapshot the call was given, which may be seconds old:
      // its proposals are made again below by the loop thread's fallback, which sees every trial since.
      if (!fell_back.empty() && agent_->Fallback()) reply->proposals.clear();
      HYP_RETURN_IF_ERROR(ApplyReply(std::move(*reply), agent_->Name()).status());
      HYP_RETURN_IF_ERROR(LaunchPending());
      if (!fell_back.empty() && agent_->Fallback()) HYP_RETURN_IF_ERROR(FillFromFallback(fell_back));
    }
  }
  if (proposals_done_ || stopping_) return Status::Ok();
  const int pending = static_cast<int>(std::count_if(
      trials_.begin(), trials_.end(), [](const Trial& t) { return t.state == TrialState::kPending; }));
  if (!slow_call_ && pending == 0) {
    // One call out while nothing waits in the queue: its reply is ready when the next slot frees.
    auto call = std::make_shared<SlowCall>();
    call->config = config_;
    call->trials = trials_;
    call->curves = curves_;
    call->decisions = decisions_;
    call->notes = notes_;
    call->recent = std::move(recent_);
    recent_.clear();
    agent_due_ = false;
    call->started = now;
    AgentContext context = Context(std::max(1, FreeSlots()));
    const int free = context.free_slots;
    const std::optional<int64_t> trials_left = context.trials_left;
    const std::optional<double> seconds_left = context.seconds_left;
    std::shared_ptr<Agent> agent = agent_;
    const uint64_t seed = seed_;
    const int running = RunningCount();
    const int wake = g_wake_pipe[1];
    call->thread = std::thread([call, agent, seed, free, running, trials_left, seconds_left, wake] {
      AgentContext snapshot{call->config, call->trials, call->curves, call->decisions,
                            call->notes,  call->recent, seed,         free,
                            running,      trials_left,  seconds_left};
      AgentReply reply;
      try {
        reply = agent->Decide(snapshot);
      } catch (const std::exception& e) {
        reply = AgentReply();
        reply.decided_by = "nobody (" + agent->Name() + " failed: " + e.what() + ")";
      }
      std::lock_guard<std::mutex> lock(call->mutex);
      call->reply = std::move(reply);
      call->done = true;
      unsigned char byte = 0;  // not a signal: only wakes the loop
      // Under the lock: once orphaned, the descriptor may already belong to another file.
      if (wake >= 0 && !call->orphaned) (void)!::write(wake, &byte, 1);
    });
    slow_call_ = std::move(call);
  }
  // Slots free while the call is out past the agent's patience: the fallback fills them, so GPUs never idle.
  Agent* fallback = agent_->Fallback();
  if (!fallback || !slow_call_ || FreeSlots() <= 0 || now - slow_call_->started < agent_->FallbackAfter())
    return Status::Ok();
  return FillFromFallback(fallback->DisplayName() + " (fallback: " + agent_->Name() +
                          " had not answered after " + FormatDuration(now - slow_call_->started) + ")");
}

Status Orchestrator::FillFromFallback(const std::string& by) {
  Agent* fallback = agent_->Fallback();
  for (int round = 0; round < config_.parallel + kMaxRejectionsInARow && FreeSlots() > 0 && !proposals_done_;
       ++round) {
    AgentReply reply = fallback->Decide(Context(FreeSlots()));
    reply.decided_by = by;
    HYP_ASSIGN_OR_RETURN(int created, ApplyReply(std::move(reply), agent_->Name()));
    HYP_RETURN_IF_ERROR(LaunchPending());
    CheckTrialBudget();
    if (proposals_done_ || (created == 0 && rejections_in_a_row_ == 0)) break;
  }
  return Status::Ok();
}

void Orchestrator::CheckTrialBudget() {
  if (config_.budget.max_trials && static_cast<int64_t>(trials_.size()) >= *config_.budget.max_trials)
    StopProposing("budget reached: " + std::to_string(*config_.budget.max_trials) + " trials", true);
}

Status Orchestrator::CheckProposal(const Proposal& p) const {
  Status valid = config_.space.Validate(p.params);
  if (!valid.ok()) return InvalidArgumentError("the point is outside the space: " + valid.message());
  for (int64_t parent : p.parents) {
    if (!std::any_of(trials_.begin(), trials_.end(), [&](const Trial& t) { return t.id == parent; }))
      return InvalidArgumentError("parent id " + std::to_string(parent) +
                                  " is not a trial of this experiment");
  }
  std::optional<double> from, to;
  if (config_.training.enabled()) {
    from = p.budget_from.value_or(0);
    to = p.budget_to.value_or(config_.training.max);
    if (!(*from >= 0 && *from < *to && *to <= config_.training.max)) {
      return InvalidArgumentError("the span " + FormatNumber(*from) + ".." + FormatNumber(*to) +
                                  " is outside 0.." + FormatNumber(config_.training.max) + " " +
                                  config_.training.unit);
    }
  } else if (p.budget_from || p.budget_to) {
    return InvalidArgumentError("a span of training was given, but the config has no `training:` budget");
  }
  if (p.restore) {
    if (p.parents.empty()) return InvalidArgumentError("it restores a checkpoint but names no parent");
    const Trial& donor =
        *std::find_if(trials_.begin(), trials_.end(), [&](const Trial& t) { return t.id == p.parents[0]; });
    if (donor.checkpoint_dir.empty() && IsFinished(donor.state)) {
      return InvalidArgumentError("it restores trial #" + std::to_string(donor.number) +
                                  "'s checkpoint, which was already removed (it was not on the frontier)");
    }
  }
  if (taken_.count(DuplicateKey(p.params, p.parents, from, to))) {
    return AlreadyExistsError(p.parents.empty()
                                  ? "a trial already ran these parameters " + DumpJson(p.params)
                                  : "a trial with the same parents, parameters and span exists already");
  }
  return Status::Ok();
}

Status Orchestrator::RejectDecision(const std::string& decided_by, const std::string& kind, Json details,
                                    const std::string& reason) {
  details["agent"] = decided_by;
  details["decision"] = kind;
  details["reason"] = reason;
  observer_.OnMessage(decided_by + "'s " + kind + " decision was rejected: " + reason);
  return Record(Event{0, 0, std::nullopt, 0, events::kDecisionRejected, std::move(details)});
}

Result<int> Orchestrator::ApplyReply(AgentReply reply, const std::string& agent_name) {
  const std::string by = reply.decided_by.empty() ? agent_name : reply.decided_by;
  for (auto& exchange : reply.exchanges) {
    exchange["agent"] = agent_name;
    HYP_RETURN_IF_ERROR(Record(Event{0, 0, std::nullopt, 0, events::kAgentExchange, std::move(exchange)}));
  }
  if (!reply.decided_by.empty()) {
    HYP_RETURN_IF_ERROR(Record(Event{0, 0, std::nullopt, 0, events::kAgentFallback,
                                     Json{{"agent", agent_name}, {"decided_by", reply.decided_by}}}));
    if (!warned_fallback_) {
      // Once: a run whose agent never answers must not look like a normal run (the end says how many).
      warned_fallback_ = true;
      observer_.OnMessage(agent_name + " did not decide: " + reply.decided_by +
                          "; the fallback decides whenever it cannot (see `hyperion decisions`)");
    }
  }
  // The notes this reply answers go with its first recorded decision.
  Json notes = Json::array();
  for (int64_t id : reply.acknowledged_notes) notes.push_back(id);
  HYP_RETURN_IF_ERROR(ApplyPrunes(reply.prunes, by, notes));
  for (const auto& decision : reply.priorities) {
    Trial* trial = FindTrial(decision.trial_id);
    if (!trial || trial->state != TrialState::kPending) {
      HYP_RETURN_IF_ERROR(RejectDecision(
          by, "prioritise",
          Json{{"trial", trial ? Json(trial->number) : Json()}, {"rationale", decision.rationale}},
          trial ? "trial #" + std::to_string(trial->number) + " is " + TrialStateName(trial->state) +
                      ", not pending"
                : "no trial has id " + std::to_string(decision.trial_id)));
      continue;
    }
    trial->priority = decision.priority;
    Json payload{{"priority", decision.priority},
                 {"rationale", decision.rationale},
                 {"evidence", decision.evidence},
                 {"agent", by}};
    if (!notes.empty()) payload["notes"] = std::exchange(notes, Json::array());
    HYP_RETURN_IF_ERROR(SaveTrial(*trial, events::kTrialPrioritised, std::move(payload)));
  }
  int created = 0;
  for (auto& p : reply.proposals) {
    if (stopping_) break;
    Status valid =
        proposals_done_
            ? FailedPreconditionError("the experiment takes no more proposals (" + end_reason_ + ")")
            : CheckProposal(p);
    if (valid.ok() && config_.budget.max_trials &&
        static_cast<int64_t>(trials_.size()) >= *config_.budget.max_trials) {
      valid = FailedPreconditionError("the budget of " + std::to_string(*config_.budget.max_trials) +
                                      " trials is spent");
    }
    if (!valid.ok()) {
      Json parents = Json::array();
      for (int64_t id : p.parents) {
        const Trial* parent = FindTrial(id);
        parents.push_back(parent ? Json(parent->number) : Json(id));
      }
      HYP_RETURN_IF_ERROR(RejectDecision(
          by, "propose",
          Json{{"params", p.params}, {"parents", parents}, {"operator", p.op}, {"rationale", p.rationale}},
          valid.message()));
      if (++rejections_in_a_row_ >= kMaxRejectionsInARow) {
        StopProposing(agent_name + "'s last " + std::to_string(kMaxRejectionsInARow) +
                          " proposals were all rejected; the last because " + valid.message(),
                      false);
      }
      continue;
    }
    rejections_in_a_row_ = 0;
    Trial trial = TrialFromProposal(p);
    trial.experiment_id = experiment_.id;
    HYP_RETURN_IF_ERROR(PrepareBranch(p, trial));
    trial.created_at = WallSeconds();
    Event event;
    event.experiment_id = experiment_.id;
    event.type = events::kTrialProposed;
    Result<Trial> made = Status::Ok();
    // The body may run twice (a dropped database connection redoes the transaction): it only assigns, and
    // what it changes in memory (trials_, taken_) is changed after the commit.
    HYP_RETURN_IF_ERROR(storage_.RunInTransaction([&]() -> Status {
      made = storage_.CreateTrial(trial);
      if (!made.ok()) return made.status();
      event.trial_id = made->id;
      event.time = WallSeconds();
      event.payload = Json{{"number", made->number},       {"operator", made->op},
                           {"params", made->params},       {"parents", made->parents},
                           {"change", made->change_label}, {"rationale", made->rationale},
                           {"evidence", made->evidence},   {"agent", by}};
      if (!notes.empty()) event.payload["notes"] = notes;
      HYP_ASSIGN_OR_RETURN(event.id, storage_.AppendEvent(event));
      return Status::Ok();
    }));
    notes = Json::array();
    taken_.insert(DuplicateKey(made->params, made->parents, made->budget_from, made->budget_to));
    trials_.push_back(std::move(made).value());
    Remember(event);
    ++created;
    ++(by == agent_name ? decided_by_agent_ : decided_by_fallback_);
  }
  if (reply.stop && !proposals_done_) {
    StopProposing(reply.stop->rationale, false);
    observer_.OnMessage(reply.stop->rationale);
    Json payload{{"agent", by}, {"rationale", reply.stop->rationale}, {"evidence", reply.stop->evidence}};
    if (!notes.empty()) payload["notes"] = std::exchange(notes, Json::array());
    HYP_RETURN_IF_ERROR(Record(Event{0, 0, std::nullopt, 0, events::kAgentStopped, std::move(payload)}));
  }
  bool idle = RunningCount() == 0 && FreeSlots() == config_.parallel && !slow_call_;
  if (created == 0 && !reply.wait_reason.empty() && idle) {
    // Nothing runs that could bring what it waits for.
    StopProposing("the strategy has nothing to propose: " + reply.wait_reason, false);
  }
  return created;
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
  const size_t stored = std::min(rows.size(), running.stored_rows);
  running.stored_rows -= stored;
  rows.erase(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(stored));
  HYP_RETURN_IF_ERROR(storage_.AppendReports(rows));
  if (running.last_step) {
    // The agent sees reports as events too (kept in memory only: the reports table is their record).
    Json payload{{"number", trial->number}, {"step", *running.last_step}};
    if (running.last_value) payload["value"] = *running.last_value;
    Remember(Event{0, experiment_.id, trial->id, WallSeconds(), "trial_reported", std::move(payload)});
  }
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

Status Orchestrator::HandleExit(const TrialExit& exit, bool replayed) {
  auto it = running_.find(exit.trial_id);
  if (it == running_.end()) return Status::Ok();
  Running& running = *it->second;
  Trial* trial = FindTrial(exit.trial_id);
  if (!trial) return InternalError("an ended trial is missing from the experiment");
  if (!replayed) WriteExitRecord(*trial, exit, &running);
  HYP_RETURN_IF_ERROR(PollMetrics(running, /*final_read=*/true));

  TrialState state = TrialState::kCompleted;
  std::string reason;
  if (running.end_state) {
    state = *running.end_state;
    reason = running.end_reason;
  } else if (exit.ended_by != EndedBy::kCommand) {
    // The scheduler ended it: its time limit, or a failure with the scheduler's reason.
    state = exit.ended_by == EndedBy::kTimeLimit ? TrialState::kTimedOut : TrialState::kFailed;
    reason = exit.reason;
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
  // A node failure or a preemption is not the trial's fault: it runs again without using up trial.retries.
  const bool infrastructure = !running.end_state && exit.ended_by == EndedBy::kInfrastructure &&
                              infrastructure_retries_[trial->id] < kInfrastructureRetries;
  running_.erase(it);
  if (pool_) pool_->Release(trial->id);

  bool retry = (state == TrialState::kFailed || state == TrialState::kTimedOut) && !stopping_ &&
               (infrastructure || failures_[trial->id] < config_.trial.retries);
  if (retry) {
    int failed = infrastructure ? ++infrastructure_retries_[trial->id] : ++failures_[trial->id];
    const int of = infrastructure ? kInfrastructureRetries : config_.trial.retries;
    HYP_RETURN_IF_ERROR(CheckTransition(trial->number, trial->state, TrialState::kPending));
    trial->state = TrialState::kPending;
    trial->attempt += 1;
    curves_.erase(trial->id);
    HYP_RETURN_IF_ERROR(SaveTrial(*trial, "trial_retry",
                                  Json{{"reason", reason},
                                       {"failed_state", TrialStateName(state)},
                                       {"retry", failed},
                                       {"of", of},
                                       {"infrastructure", infrastructure}}));
    observer_.OnMessage("trial #" + std::to_string(trial->number) + " " + TrialStateName(state) + " (" +
                        reason + "); retry " + std::to_string(failed) + " of " + std::to_string(of) +
                        (infrastructure ? " (not the trial's fault: trial.retries is not used up)" : ""));
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
  if (replayed) {
    // Before the run's start is shown, which counts it among the finished trials.
    observer_.OnMessage("trial #" + std::to_string(trial->number) + " " + TrialStateName(state) +
                        " while the database was away; its result is stored now");
  } else {
    observer_.OnTrialEnded(*trial, Best());
  }
  return Status::Ok();
}

Status Orchestrator::PrepareBranch(const Proposal& proposal, Trial& trial) {
  // `trial` already holds the proposal's parents, rationale and the rest; CheckProposal() accepted it.
  if (config_.training.enabled()) {
    // Model-free and model-based samplers leave the span to us: a whole run.
    trial.budget_from = proposal.budget_from.value_or(0);
    trial.budget_to = proposal.budget_to.value_or(config_.training.max);
  }
  if (!proposal.restore) return Status::Ok();
  const Trial& donor = *FindTrial(trial.parents[0]);
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

Status Orchestrator::ApplyPrunes(const std::vector<PruneDecision>& prunes, const std::string& decided_by,
                                 Json& notes) {
  if (!prunes.empty()) retention_due_ = true;
  for (const auto& decision : prunes) {
    Trial* trial = FindTrial(decision.trial_id);
    if (!trial) {
      HYP_RETURN_IF_ERROR(RejectDecision(decided_by, "prune", Json{{"rationale", decision.rationale}},
                                         "no trial has id " + std::to_string(decision.trial_id)));
      continue;
    }
    Json payload{{"reason", decision.rationale}, {"evidence", decision.evidence}, {"source", decided_by}};
    if (!notes.empty()) payload["notes"] = std::exchange(notes, Json::array());
    auto running = running_.find(trial->id);
    if (running != running_.end()) {
      if (running->second->end_state) continue;  // already on its way out
      RequestPrune(*running->second, decided_by, decision.rationale, decision.evidence);
      HYP_RETURN_IF_ERROR(SaveTrial(*trial, events::kPruneRequested, std::move(payload)));
      continue;
    }
    // Deciding the same prune again is harmless: trials already over are skipped.
    if (trial->state != TrialState::kPending && trial->state != TrialState::kCompleted) continue;
    trial->state = TrialState::kPruned;
    trial->error = decision.rationale;
    if (!trial->ended_at) trial->ended_at = WallSeconds();
    HYP_RETURN_IF_ERROR(SaveTrial(*trial, events::kTrialPruned, std::move(payload)));
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
  std::set<int64_t> keep = agent_->Frontier(Context(0));
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
    HYP_RETURN_IF_ERROR(ReadNotes());
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
  // Destroyed before `signals` closes the wake pipe, so a slow call still out never writes to a closed one.
  struct SlowCallRelease {
    Orchestrator* self;
    ~SlowCallRelease() { self->ReleaseSlowCall(); }
  } release{this};
  start_time_ = MonotonicSeconds();
  HYP_RETURN_IF_ERROR(Start());
  Status loop = Loop();
  if (!loop.ok()) {
    // Storage or an internal error: stop every trial before reporting it, so nothing runs on unattended.
    const size_t stopped = running_.size();
    StopAll(TrialState::kInterrupted, "the orchestrator failed: " + loop.message(), true);
    for (int i = 0; i < 100 && !running_.empty(); ++i) {
      for (const auto& exit : executor_->CollectExits()) {
        // One that ended by itself meanwhile keeps its end for the resume, as HandleExit would have.
        const Trial* trial = FindTrial(exit.trial_id);
        if (!exit.signaled && trial && running_.count(exit.trial_id)) WriteExitRecord(*trial, exit, nullptr);
        running_.erase(exit.trial_id);
        if (pool_) pool_->Release(exit.trial_id);
      }
      ::usleep(20000);
    }
    if (loop.code() == StatusCode::kUnavailable) {
      // The database is away (past its retry limit): writing how the run ended would only wait for it again.
      // The experiment stays "running" under this process, which a resume takes over as a dead owner's.
      return UnavailableError(loop.message() + "; the run stopped" +
                              (stopped ? " and stopped its " + std::to_string(stopped) + " running trial" +
                                             (stopped == 1 ? "" : "s")
                                       : std::string()));
    }
    (void)storage_.SetExperimentStatus(experiment_.id, "failed", WallSeconds());
    (void)storage_.ReleaseExperiment(experiment_.id, owner_);
    return loop;
  }
  if (decided_by_fallback_ > 0) {
    observer_.OnMessage(
        agent_->Name() + " decided " + std::to_string(decided_by_agent_) + " of the " +
        std::to_string(decided_by_agent_ + decided_by_fallback_) +
        " trials proposed in this run; its fallback decided the rest (see `hyperion decisions`)");
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
