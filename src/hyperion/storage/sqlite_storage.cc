#include "hyperion/storage/sqlite_storage.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

namespace hyperion {
namespace {

// Each entry brings the schema from version i to i + 1. Append only: a released migration never changes.
const char* const kMigrations[] = {
    // 1: experiments, the trial graph, reports and the event log.
    R"sql(
    CREATE TABLE experiments (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      config_json TEXT NOT NULL,
      objective_metric TEXT NOT NULL,
      objective_mode TEXT NOT NULL CHECK (objective_mode IN ('min', 'max')),
      strategy TEXT NOT NULL,
      executor TEXT NOT NULL,
      status TEXT NOT NULL,
      created_at REAL NOT NULL,
      ended_at REAL,
      -- The orchestrator running the experiment ("host:pid") and when it last said so; '' when none.
      owner TEXT NOT NULL DEFAULT '',
      heartbeat_at REAL
    );
    CREATE TABLE trials (
      id INTEGER PRIMARY KEY,
      experiment_id INTEGER NOT NULL REFERENCES experiments(id),
      number INTEGER NOT NULL,
      state TEXT NOT NULL,
      params_json TEXT NOT NULL,
      value REAL,
      value_step INTEGER,
      operator TEXT NOT NULL,
      change_label TEXT NOT NULL DEFAULT '',
      rationale TEXT NOT NULL DEFAULT '',
      evidence_json TEXT NOT NULL DEFAULT '{}',
      budget_from REAL,
      budget_to REAL,
      trial_dir TEXT NOT NULL DEFAULT '',
      checkpoint_dir TEXT NOT NULL DEFAULT '',
      restore_from TEXT NOT NULL DEFAULT '',
      attempt INTEGER NOT NULL DEFAULT 1,
      error TEXT NOT NULL DEFAULT '',
      pid INTEGER,
      external_id TEXT NOT NULL DEFAULT '',
      priority INTEGER NOT NULL DEFAULT 0,
      created_at REAL,
      started_at REAL,
      ended_at REAL,
      UNIQUE (experiment_id, number)
    );
    CREATE INDEX trials_by_state ON trials(experiment_id, state);
    -- A trial's parents in order: position 0 is the primary parent (the checkpoint donor of a branch).
    CREATE TABLE trial_parents (
      trial_id INTEGER NOT NULL REFERENCES trials(id),
      parent_id INTEGER NOT NULL REFERENCES trials(id),
      position INTEGER NOT NULL,
      PRIMARY KEY (trial_id, position)
    );
    CREATE INDEX trial_parents_by_parent ON trial_parents(parent_id);
    -- One row per metric per report; a NULL value is NaN (SQLite cannot hold NaN).
    CREATE TABLE reports (
      trial_id INTEGER NOT NULL REFERENCES trials(id),
      attempt INTEGER NOT NULL,
      step INTEGER NOT NULL,
      metric TEXT NOT NULL,
      value REAL,
      time REAL NOT NULL
    );
    CREATE INDEX reports_by_trial ON reports(trial_id, metric, step);
    CREATE TABLE events (
      id INTEGER PRIMARY KEY,
      experiment_id INTEGER NOT NULL REFERENCES experiments(id),
      trial_id INTEGER REFERENCES trials(id),
      time REAL NOT NULL,
      type TEXT NOT NULL,
      payload_json TEXT NOT NULL
    );
    CREATE INDEX events_by_experiment ON events(experiment_id, id);
    )sql",
    // 2: the agent reads notes and earlier decisions by type without scanning the whole log.
    R"sql(
    CREATE INDEX events_by_type ON events(experiment_id, type, id);
    )sql",
};

constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

constexpr const char* kTrialColumns =
    "id, experiment_id, number, state, params_json, value, value_step, operator, change_label, rationale, "
    "evidence_json, budget_from, budget_to, trial_dir, checkpoint_dir, restore_from, attempt, error, pid, "
    "external_id, priority, created_at, started_at, ended_at";

}  // namespace

// A borrowed, cached prepared statement; resets itself when it goes out of scope. Binding is 1-based.
class SqliteStorage::Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement(const Statement&) = delete;
  ~Statement() {
    if (stmt_) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }

  Statement& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& Bind(int i, int v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& Bind(int i, double v) {
    if (std::isnan(v))
      sqlite3_bind_null(stmt_, i);
    else
      sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Statement& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  template <typename T>
  Statement& Bind(int i, const std::optional<T>& v) {
    if (v) return Bind(i, *v);
    sqlite3_bind_null(stmt_, i);
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }

  bool IsNull(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  int64_t Int(int c) const { return sqlite3_column_int64(stmt_, c); }
  double Double(int c) const { return IsNull(c) ? NAN : sqlite3_column_double(stmt_, c); }
  std::string Text(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, c)) : std::string();
  }
  std::optional<int64_t> OptInt(int c) const {
    return IsNull(c) ? std::nullopt : std::optional<int64_t>(Int(c));
  }
  std::optional<double> OptDouble(int c) const {
    return IsNull(c) ? std::nullopt : std::optional<double>(Double(c));
  }

 private:
  sqlite3_stmt* stmt_;
};

namespace {

// The columns a trial's life changes, in the order BindMutableFields binds them; shared by INSERT and UPDATE.
constexpr const char* kTrialMutableColumns =
    "state, params_json, value, value_step, operator, change_label, rationale, evidence_json, budget_from, "
    "budget_to, trial_dir, checkpoint_dir, restore_from, attempt, error, pid, external_id, priority, "
    "started_at, "
    "ended_at";
constexpr const char* kTrialMutablePlaceholders =
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?";

}  // namespace

// Binds kTrialMutableColumns from parameter index `first` on; returns the next free index.
int SqliteStorage::BindMutableFields(Statement& q, const Trial& t, int first) {
  int i = first;
  q.Bind(i++, std::string(TrialStateName(t.state)));
  q.Bind(i++, DumpJson(t.params));
  q.Bind(i++, t.value);
  q.Bind(i++, t.value_step);
  q.Bind(i++, t.op);
  q.Bind(i++, t.change_label);
  q.Bind(i++, t.rationale);
  q.Bind(i++, DumpJson(t.evidence));
  q.Bind(i++, t.budget_from);
  q.Bind(i++, t.budget_to);
  q.Bind(i++, t.trial_dir);
  q.Bind(i++, t.checkpoint_dir);
  q.Bind(i++, t.restore_from);
  q.Bind(i++, t.attempt);
  q.Bind(i++, t.error);
  q.Bind(i++, t.pid);
  q.Bind(i++, t.external_id);
  q.Bind(i++, t.priority);
  q.Bind(i++, t.started_at);
  q.Bind(i++, t.ended_at);
  return i;
}

int SqliteStorage::CurrentSchemaVersion() { return kSchemaVersion; }

Result<std::unique_ptr<SqliteStorage>> SqliteStorage::Open(const std::string& path, bool create) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path file(path);
  if (file.has_parent_path() && !fs::exists(file.parent_path(), ec)) {
    return NotFoundError("cannot open database '" + path + "': folder '" + file.parent_path().string() +
                         "' does not exist; create it or choose another --storage");
  }
  if (fs::is_directory(file, ec)) {
    return InvalidArgumentError("cannot open database '" + path + "': it is a folder; name a file inside it");
  }
  if (create) {
    // Create the file ourselves so that it is readable by its owner only; SQLite would honour the umask.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return UnavailableError("cannot open database '" + path + "': " + std::strerror(errno));
    ::close(fd);
  } else {
    // A reader must not turn some other file (or an empty one) into a Hyperion database.
    if (!fs::exists(file, ec)) return NotFoundError("no experiment database at '" + path + "'");
    if (fs::file_size(file, ec) == 0) {
      return InvalidArgumentError("'" + path + "' is empty, not a Hyperion experiment database");
    }
  }

  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return UnavailableError("cannot open database '" + path + "': " + message);
  }
  std::unique_ptr<SqliteStorage> storage(
      new SqliteStorage(db, fs::absolute(file).lexically_normal().string()));
  // Several processes may share the file: wait for locks instead of failing with "database is locked".
  sqlite3_busy_timeout(db, 30000);
  // WAL keeps readers (the CLI, the dashboard) from blocking the writer; NORMAL sync is durable against
  // crashes of the process, which is what a killed orchestrator needs.
  Status pragmas =
      storage->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  if (sqlite3_errcode(db) == SQLITE_NOTADB) {
    return InvalidArgumentError("'" + path + "' is not a SQLite database; choose another --storage");
  }
  HYP_RETURN_IF_ERROR(pragmas.WithContext("database '" + path + "'"));
  {
    // Never add Hyperion's tables to someone else's database: a file with tables must already be ours.
    HYP_ASSIGN_OR_RETURN(
        Statement q, storage->Prepare("SELECT count(*), sum(name = 'experiments') FROM sqlite_master WHERE "
                                      "type = 'table' AND name NOT LIKE 'sqlite_%'"));
    bool ours = q.Step() == SQLITE_ROW && q.Int(1) > 0;
    bool empty = q.Int(0) == 0;
    if (!ours && (!create || !empty)) {
      return InvalidArgumentError("'" + path +
                                  "' is a SQLite database but not a Hyperion experiment database" +
                                  (create ? "; choose another --storage" : ""));
    }
  }
  HYP_RETURN_IF_ERROR(storage->Migrate().WithContext("database '" + path + "'"));
  return storage;
}

SqliteStorage::SqliteStorage(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

SqliteStorage::~SqliteStorage() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Status SqliteStorage::Error(const std::string& doing) const {
  int code = sqlite3_errcode(db_);
  std::string message = doing + ": " + sqlite3_errmsg(db_);
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
    return UnavailableError(message + " (another process holds the database)");
  if (code == SQLITE_CONSTRAINT) return AlreadyExistsError(message);
  if (code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_CANTOPEN)
    return UnavailableError(message);
  return InternalError(message);
}

Status SqliteStorage::Exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    int code = sqlite3_errcode(db_);
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) return UnavailableError(message);
    return InternalError(message);
  }
  return Status::Ok();
}

Result<SqliteStorage::Statement> SqliteStorage::Prepare(const char* sql) {
  auto it = statements_.find(std::string_view(sql));
  if (it != statements_.end()) return Statement(it->second);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    return Error(std::string("preparing a query"));
  }
  statements_.emplace(sql, stmt);
  return Statement(stmt);
}

Status SqliteStorage::Migrate() {
  return WriteTransaction([&]() -> Status {
    int version = 0;
    {
      HYP_ASSIGN_OR_RETURN(Statement q, Prepare("PRAGMA user_version"));
      if (q.Step() == SQLITE_ROW) version = static_cast<int>(q.Int(0));
    }
    if (version > kSchemaVersion) {
      return FailedPreconditionError("its schema version " + std::to_string(version) +
                                     " is newer than this build of Hyperion knows (" +
                                     std::to_string(kSchemaVersion) + "); use a newer hyperion");
    }
    for (int v = version; v < kSchemaVersion; ++v) {
      HYP_RETURN_IF_ERROR(Exec(kMigrations[v]).WithContext("schema migration " + std::to_string(v + 1)));
    }
    if (version != kSchemaVersion)
      HYP_RETURN_IF_ERROR(Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion)));
    return Status::Ok();
  });
}

Status SqliteStorage::WriteTransaction(const std::function<Status()>& body) {
  if (in_transaction_) return body();
  // IMMEDIATE takes the write lock up front, so two writers queue on the busy timeout instead of deadlocking
  // on an upgrade from a read lock.
  HYP_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  in_transaction_ = true;
  Status status = body();
  in_transaction_ = false;
  if (!status.ok()) {
    (void)Exec("ROLLBACK");
    return status;
  }
  Status commit = Exec("COMMIT");
  if (!commit.ok()) (void)Exec("ROLLBACK");
  return commit;
}

Status SqliteStorage::RunInTransaction(const std::function<Status()>& body) {
  if (in_transaction_) return FailedPreconditionError("RunInTransaction is not reentrant");
  return WriteTransaction(body);
}

Result<ExperimentRecord> SqliteStorage::CreateExperiment(const ExperimentRecord& experiment) {
  ExperimentRecord out = experiment;
  Status status = WriteTransaction([&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Statement q, Prepare("INSERT INTO experiments (name, config_json, objective_metric, "
                                              "objective_mode, strategy, executor, status, "
                                              "created_at, ended_at, owner, heartbeat_at) "
                                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    q.Bind(1, experiment.name)
        .Bind(2, DumpJson(experiment.config))
        .Bind(3, experiment.objective_metric)
        .Bind(4, std::string(ObjectiveModeName(experiment.objective_mode)))
        .Bind(5, experiment.strategy)
        .Bind(6, experiment.executor)
        .Bind(7, experiment.status)
        .Bind(8, experiment.created_at)
        .Bind(9, experiment.ended_at)
        .Bind(10, experiment.owner)
        .Bind(11, experiment.heartbeat_at);
    if (q.Step() != SQLITE_DONE) {
      if (sqlite3_errcode(db_) == SQLITE_CONSTRAINT) {
        return AlreadyExistsError("an experiment named '" + experiment.name + "' already exists in " + Url());
      }
      return Error("creating experiment '" + experiment.name + "'");
    }
    out.id = sqlite3_last_insert_rowid(db_);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return out;
}

namespace {
constexpr const char* kExperimentColumns =
    "SELECT id, name, config_json, objective_metric, objective_mode, strategy, executor, status, created_at, "
    "ended_at, owner, heartbeat_at FROM experiments ";
}  // namespace

static ExperimentRecord ReadExperiment(const auto& q) {
  ExperimentRecord e;
  e.id = q.Int(0);
  e.name = q.Text(1);
  e.config = Json::parse(q.Text(2), nullptr, /*allow_exceptions=*/false);
  e.objective_metric = q.Text(3);
  e.objective_mode = q.Text(4) == "max" ? ObjectiveMode::kMaximize : ObjectiveMode::kMinimize;
  e.strategy = q.Text(5);
  e.executor = q.Text(6);
  e.status = q.Text(7);
  e.created_at = q.Double(8);
  e.ended_at = q.OptDouble(9);
  e.owner = q.Text(10);
  e.heartbeat_at = q.OptDouble(11);
  return e;
}

Status SqliteStorage::ClaimExperiment(int64_t experiment_id, const std::string& owner, double now,
                                      double stale_before, const std::string& dead_owner) {
  return WriteTransaction([&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Statement q,
                         Prepare("UPDATE experiments SET owner = ?, heartbeat_at = ? WHERE id = ? AND "
                                 "(owner = '' OR owner = ? OR owner = ? OR heartbeat_at < ?)"));
    q.Bind(1, owner)
        .Bind(2, now)
        .Bind(3, experiment_id)
        .Bind(4, owner)
        .Bind(5, dead_owner)
        .Bind(6, stale_before);
    if (q.Step() != SQLITE_DONE) return Error("claiming the experiment");
    if (sqlite3_changes(db_) != 1) return AbortedError("the experiment is owned by another orchestrator");
    return Status::Ok();
  });
}

Status SqliteStorage::Heartbeat(int64_t experiment_id, const std::string& owner, double now) {
  return WriteTransaction([&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Statement q,
                         Prepare("UPDATE experiments SET heartbeat_at = ? WHERE id = ? AND owner = ?"));
    q.Bind(1, now).Bind(2, experiment_id).Bind(3, owner);
    if (q.Step() != SQLITE_DONE) return Error("recording a heartbeat");
    if (sqlite3_changes(db_) != 1) return AbortedError("another orchestrator has taken over the experiment");
    return Status::Ok();
  });
}

Status SqliteStorage::ReleaseExperiment(int64_t experiment_id, const std::string& owner) {
  return WriteTransaction([&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Statement q,
                         Prepare("UPDATE experiments SET owner = '' WHERE id = ? AND owner = ?"));
    q.Bind(1, experiment_id).Bind(2, owner);
    if (q.Step() != SQLITE_DONE) return Error("releasing the experiment");
    return Status::Ok();
  });
}

Result<std::optional<ExperimentRecord>> SqliteStorage::FindExperiment(const std::string& name) {
  static const std::string sql = std::string(kExperimentColumns) + "WHERE name = ?";
  HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql.c_str()));
  q.Bind(1, name);
  int rc = q.Step();
  if (rc == SQLITE_ROW) return std::optional<ExperimentRecord>(ReadExperiment(q));
  if (rc == SQLITE_DONE) return std::optional<ExperimentRecord>();
  return Error("reading experiment '" + name + "'");
}

Result<std::vector<ExperimentRecord>> SqliteStorage::ListExperiments() {
  static const std::string sql = std::string(kExperimentColumns) + "ORDER BY id";
  HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql.c_str()));
  std::vector<ExperimentRecord> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(ReadExperiment(q));
  if (rc != SQLITE_DONE) return Error("listing experiments");
  return out;
}

Status SqliteStorage::SetExperimentStatus(int64_t experiment_id, const std::string& status,
                                          std::optional<double> ended_at) {
  return WriteTransaction([&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Statement q,
                         Prepare("UPDATE experiments SET status = ?, ended_at = ? WHERE id = ?"));
    q.Bind(1, status).Bind(2, ended_at).Bind(3, experiment_id);
    if (q.Step() != SQLITE_DONE) return Error("updating experiment status");
    return Status::Ok();
  });
}

Result<Trial> SqliteStorage::CreateTrial(const Trial& trial) {
  Trial out = trial;
  Status status = WriteTransaction([&]() -> Status {
    {
      HYP_ASSIGN_OR_RETURN(
          Statement q, Prepare("SELECT COALESCE(MAX(number), 0) + 1 FROM trials WHERE experiment_id = ?"));
      q.Bind(1, trial.experiment_id);
      if (q.Step() != SQLITE_ROW) return Error("numbering a new trial");
      out.number = q.Int(0);
    }
    {
      static const std::string sql = std::string("INSERT INTO trials (experiment_id, number, created_at, ") +
                                     kTrialMutableColumns + ") VALUES (?, ?, ?, " +
                                     kTrialMutablePlaceholders + ")";
      HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql.c_str()));
      q.Bind(1, out.experiment_id).Bind(2, out.number).Bind(3, out.created_at);
      BindMutableFields(q, out, 4);
      if (q.Step() != SQLITE_DONE) return Error("storing trial #" + std::to_string(out.number));
      out.id = sqlite3_last_insert_rowid(db_);
    }
    for (size_t i = 0; i < out.parents.size(); ++i) {
      HYP_ASSIGN_OR_RETURN(
          Statement q, Prepare("INSERT INTO trial_parents (trial_id, parent_id, position) VALUES (?, ?, ?)"));
      q.Bind(1, out.id).Bind(2, out.parents[i]).Bind(3, static_cast<int64_t>(i));
      if (q.Step() != SQLITE_DONE)
        return Error("storing the parents of trial #" + std::to_string(out.number));
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return out;
}

Status SqliteStorage::UpdateTrial(const Trial& trial) {
  return WriteTransaction([&]() -> Status {
    static const std::string sql = std::string("UPDATE trials SET (") + kTrialMutableColumns + ") = (" +
                                   kTrialMutablePlaceholders + ") WHERE id = ?";
    HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql.c_str()));
    int next = BindMutableFields(q, trial, 1);
    q.Bind(next, trial.id);
    if (q.Step() != SQLITE_DONE) return Error("updating trial #" + std::to_string(trial.number));
    if (sqlite3_changes(db_) != 1)
      return NotFoundError("trial id " + std::to_string(trial.id) + " does not exist");
    return Status::Ok();
  });
}

Result<std::vector<Trial>> SqliteStorage::QueryTrials(const char* sql, int64_t a, std::optional<int64_t> b) {
  HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql));
  q.Bind(1, a);
  if (b) q.Bind(2, *b);
  std::vector<Trial> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    Trial t;
    t.id = q.Int(0);
    t.experiment_id = q.Int(1);
    t.number = q.Int(2);
    auto state = TrialStateFromName(q.Text(3));
    if (!state.ok())
      return InternalError("trial id " + std::to_string(t.id) + ": " + state.status().message());
    t.state = *state;
    t.params = Json::parse(q.Text(4), nullptr, false);
    t.value = q.OptDouble(5);
    t.value_step = q.OptInt(6);
    t.op = q.Text(7);
    t.change_label = q.Text(8);
    t.rationale = q.Text(9);
    t.evidence = Json::parse(q.Text(10), nullptr, false);
    t.budget_from = q.OptDouble(11);
    t.budget_to = q.OptDouble(12);
    t.trial_dir = q.Text(13);
    t.checkpoint_dir = q.Text(14);
    t.restore_from = q.Text(15);
    t.attempt = static_cast<int>(q.Int(16));
    t.error = q.Text(17);
    t.pid = q.OptInt(18);
    t.external_id = q.Text(19);
    t.priority = static_cast<int>(q.Int(20));
    t.created_at = q.OptDouble(21);
    t.started_at = q.OptDouble(22);
    t.ended_at = q.OptDouble(23);
    out.push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) return Error("reading trials");
  HYP_RETURN_IF_ERROR(LoadParents(out));
  return out;
}

Status SqliteStorage::LoadParents(std::vector<Trial>& trials) {
  if (trials.empty()) return Status::Ok();
  // One query for the experiment's edges rather than one per trial.
  HYP_ASSIGN_OR_RETURN(
      Statement q,
      Prepare("SELECT p.trial_id, p.parent_id FROM trial_parents p JOIN trials t ON t.id = p.trial_id "
              "WHERE t.experiment_id = ? ORDER BY p.trial_id, p.position"));
  q.Bind(1, trials.front().experiment_id);
  std::map<int64_t, Trial*> by_id;
  for (auto& t : trials) by_id[t.id] = &t;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    auto it = by_id.find(q.Int(0));
    if (it != by_id.end()) it->second->parents.push_back(q.Int(1));
  }
  if (rc != SQLITE_DONE) return Error("reading the trial graph");
  return Status::Ok();
}

Result<std::vector<Trial>> SqliteStorage::ListTrials(int64_t experiment_id) {
  static const std::string sql =
      std::string("SELECT ") + kTrialColumns + " FROM trials WHERE experiment_id = ? ORDER BY number";
  return QueryTrials(sql.c_str(), experiment_id, std::nullopt);
}

Result<std::optional<Trial>> SqliteStorage::GetTrial(int64_t experiment_id, int64_t number) {
  static const std::string sql =
      std::string("SELECT ") + kTrialColumns + " FROM trials WHERE experiment_id = ? AND number = ?";
  HYP_ASSIGN_OR_RETURN(std::vector<Trial> trials, QueryTrials(sql.c_str(), experiment_id, number));
  if (trials.empty()) return std::optional<Trial>();
  return std::optional<Trial>(std::move(trials.front()));
}

Status SqliteStorage::AppendReports(const std::vector<Report>& reports) {
  if (reports.empty()) return Status::Ok();
  return WriteTransaction([&]() -> Status {
    for (const auto& r : reports) {
      HYP_ASSIGN_OR_RETURN(Statement q, Prepare("INSERT INTO reports (trial_id, attempt, step, metric, "
                                                "value, time) VALUES (?, ?, ?, ?, ?, ?)"));
      q.Bind(1, r.trial_id)
          .Bind(2, r.attempt)
          .Bind(3, r.step)
          .Bind(4, r.metric)
          .Bind(5, r.value)
          .Bind(6, r.time);
      if (q.Step() != SQLITE_DONE) return Error("storing a report");
    }
    return Status::Ok();
  });
}

Result<std::vector<Report>> SqliteStorage::ListReports(int64_t trial_id) {
  HYP_ASSIGN_OR_RETURN(
      Statement q,
      Prepare("SELECT trial_id, attempt, step, metric, value, time FROM reports WHERE trial_id = ? "
              "ORDER BY attempt, step, rowid"));
  q.Bind(1, trial_id);
  std::vector<Report> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    out.push_back(
        Report{q.Int(0), static_cast<int>(q.Int(1)), q.Int(2), q.Text(3), q.Double(4), q.Double(5)});
  }
  if (rc != SQLITE_DONE) return Error("reading reports");
  return out;
}

Result<int64_t> SqliteStorage::AppendEvent(const Event& event) {
  int64_t id = 0;
  Status status = WriteTransaction([&]() -> Status {
    HYP_ASSIGN_OR_RETURN(
        Statement q,
        Prepare(
            "INSERT INTO events (experiment_id, trial_id, time, type, payload_json) VALUES (?, ?, ?, ?, ?)"));
    q.Bind(1, event.experiment_id)
        .Bind(2, event.trial_id)
        .Bind(3, event.time)
        .Bind(4, event.type)
        .Bind(5, DumpJson(event.payload));
    if (q.Step() != SQLITE_DONE) return Error("storing event " + event.type);
    id = sqlite3_last_insert_rowid(db_);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return id;
}

Result<std::vector<Event>> SqliteStorage::ListEvents(int64_t experiment_id, int64_t after_id, int limit,
                                                     const std::vector<std::string>& types) {
  std::string sql =
      "SELECT id, experiment_id, trial_id, time, type, payload_json FROM events "
      "WHERE experiment_id = ? AND id > ?";
  if (!types.empty()) {
    sql += " AND type IN (?";
    for (size_t i = 1; i < types.size(); ++i) sql += ", ?";
    sql += ")";
  }
  sql += " ORDER BY id LIMIT ?";
  HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql.c_str()));
  int index = 1;
  q.Bind(index++, experiment_id);
  q.Bind(index++, after_id);
  for (const auto& type : types) q.Bind(index++, type);
  q.Bind(index, limit);
  std::vector<Event> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    Event e;
    e.id = q.Int(0);
    e.experiment_id = q.Int(1);
    e.trial_id = q.OptInt(2);
    e.time = q.Double(3);
    e.type = q.Text(4);
    e.payload = Json::parse(q.Text(5), nullptr, false);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return Error("reading events");
  return out;
}

}  // namespace hyperion
