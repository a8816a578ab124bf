// Storage: the single source of truth for experiments, trials, reports and the event log.
//
// Every strategy, agent and view rebuilds its state from here, so a killed orchestrator resumes where it
// stopped. Writes are durable when the call returns (SQLite: WAL, committed). RunInTransaction() groups
// writes so that either all of them land or none (a trial's end and its event, for example).
//
// Threading: one Storage object is used by one thread at a time. Several processes may open the same
// database; they wait for each other instead of failing (SQLite: busy timeout and immediate transactions;
// PostgreSQL: row locks). A dropped PostgreSQL connection is retried (postgres_storage.h), so the body of
// RunInTransaction() may run more than once: it must only assign what it computes, never accumulate.
// Errors: kUnavailable when the database is busy or away past the retry limit (retry later); kNotFound and
// kAlreadyExists as named; kInvalidArgument for a bad URL; kInternal for a corrupt or unreadable database.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/common/status.h"
#include "hyperion/experiment/config.h"
#include "hyperion/experiment/trial.h"

namespace hyperion {

struct ExperimentRecord {
  int64_t id = 0;
  std::string name;
  Json config = Json::object();  // ExperimentConfig::ToJson()
  std::string objective_metric;
  ObjectiveMode objective_mode = ObjectiveMode::kMinimize;
  std::string strategy;  // the strategy's name; resuming with another is refused
  std::string executor = "local";
  std::string status = "running";  // running, finished, interrupted, failed
  double created_at = 0;
  std::optional<double> ended_at;
  std::string owner;                   // "host:pid" of the orchestrator running it; empty when none
  std::optional<double> heartbeat_at;  // when that orchestrator last said it is alive

  Json ToJson() const;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // "sqlite" or "postgresql"; recorded so that tools can say where data lives.
  virtual std::string BackendName() const = 0;
  // The location as a person would type it again (sqlite:///abs/path.db), a password masked
  // (postgresql://user:***@host/db).
  virtual std::string Url() const = 0;

  // Creates the experiment; kAlreadyExists when the name is taken. Returns it with its id.
  virtual Result<ExperimentRecord> CreateExperiment(const ExperimentRecord& experiment) = 0;
  virtual Result<std::optional<ExperimentRecord>> FindExperiment(const std::string& name) = 0;
  virtual Result<std::vector<ExperimentRecord>> ListExperiments() = 0;
  virtual Status SetExperimentStatus(int64_t experiment_id, const std::string& status,
                                     std::optional<double> ended_at) = 0;

  // One orchestrator at a time runs an experiment. ClaimExperiment() makes `owner` the runner when there is
  // none, when the current one is `dead_owner` (known dead), or when its heartbeat is older than
  // `stale_before`; otherwise kAborted. Heartbeat() is kAborted when someone else has taken over.
  virtual Status ClaimExperiment(int64_t experiment_id, const std::string& owner, double now,
                                 double stale_before, const std::string& dead_owner) = 0;
  virtual Status Heartbeat(int64_t experiment_id, const std::string& owner, double now) = 0;
  virtual Status ReleaseExperiment(int64_t experiment_id, const std::string& owner) = 0;

  // Inserts the trial with the next free number of its experiment (unique even with several writers) and
  // returns it with id and number set.
  virtual Result<Trial> CreateTrial(const Trial& trial) = 0;
  // Writes every mutable field of an existing trial (state, value, times, error, ...).
  virtual Status UpdateTrial(const Trial& trial) = 0;
  virtual Result<std::vector<Trial>> ListTrials(int64_t experiment_id) = 0;
  virtual Result<std::optional<Trial>> GetTrial(int64_t experiment_id, int64_t number) = 0;

  virtual Status AppendReports(const std::vector<Report>& reports) = 0;
  // All reports of a trial (every attempt), ordered by attempt, step and metric.
  virtual Result<std::vector<Report>> ListReports(int64_t trial_id) = 0;

  // Appends to the event log and returns the event's id.
  virtual Result<int64_t> AppendEvent(const Event& event) = 0;
  // Events with id > after_id, oldest first, at most `limit`; only those of `types` when it is not empty.
  virtual Result<std::vector<Event>> ListEvents(int64_t experiment_id, int64_t after_id, int limit,
                                                const std::vector<std::string>& types) = 0;

  // Runs `body` in one transaction: commits when it returns OK, rolls back otherwise. Not reentrant. The
  // body may run again after a rollback (a dropped connection): it must be safe to redo.
  virtual Status RunInTransaction(const std::function<Status()>& body) = 0;
};

// Opens (creating and migrating when needed) the storage a URL names:
//   sqlite:///absolute/path.db, sqlite://relative/path.db, or a plain file path;
//   postgresql://user:password@host:port/database (or postgres://), with libpq's parameters and Hyperion's
//   retry_seconds=N (how long a lost connection is retried; default 60, or $HYPERION_DB_RETRY_SECONDS).
// With create_if_missing false, a database that does not exist yet is kNotFound (for commands that only
// read).
Result<std::unique_ptr<Storage>> OpenStorage(const std::string& url, bool create_if_missing = true);

// The URL with any password in it masked (postgresql://user:***@host/db), for messages and hints.
std::string MaskStorageUrl(const std::string& url);

// The default when neither --storage nor the config names one.
inline constexpr const char* kDefaultStorageUrl = "hyperion.db";

}  // namespace hyperion
