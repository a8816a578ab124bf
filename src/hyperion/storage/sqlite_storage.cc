#include "hyperion/storage/sqlite_storage.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "hyperion/storage/sql_common.h"

namespace hyperion {
namespace {

// How many migrations this build knows; PRAGMA user_version records how many a database has had.
const int kSchemaVersion = static_cast<int>(sql::Migrations().size());

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
  // Switching a new file to WAL needs it to itself, and SQLite does not wait on the busy timeout for that:
  // when several processes open a fresh file at once, the others wait here.
  Status pragmas;
  for (int tries = 0; tries < 1500; ++tries) {
    pragmas = storage->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
    if (pragmas.code() != StatusCode::kUnavailable) break;
    ::usleep(20000);  // up to 30 s, as the busy timeout
  }
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
      HYP_RETURN_IF_ERROR(
          Exec(sql::Migrations()[v]).WithContext("schema migration " + std::to_string(v + 1)));
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
    HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::kInsertExperiment));
    sql::BindExperiment(q, experiment);
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

// Runs an UPDATE that must change exactly one row; `lost` is the error when it changes none.
Status SqliteStorage::UpdateOne(Statement& q, const std::string& doing, Status lost) {
  if (q.Step() != SQLITE_DONE) return Error(doing);
  return sqlite3_changes(db_) == 1 ? Status::Ok() : lost;
}

Status SqliteStorage::ClaimExperiment(int64_t experiment_id, const std::string& owner, double now,
                                      double stale_before, const std::string& dead_owner) {
  return WriteTransaction([&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::kClaimExperiment));
    sql::BindClaim(q, experiment_id, owner, now, stale_before, dead_owner);
    return UpdateOne(q, "claiming the experiment", AbortedError(sql::kOwnedByAnother));
  });
}

Status SqliteStorage::Heartbeat(int64_t experiment_id, const std::string& owner, double now) {
  return WriteTransaction([&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::kHeartbeat));
    q.Bind(1, now).Bind(2, experiment_id).Bind(3, owner);
    return UpdateOne(q, "recording a heartbeat", AbortedError(sql::kTakenOver));
  });
}

Status SqliteStorage::ReleaseExperiment(int64_t experiment_id, const std::string& owner) {
  return WriteTransaction([&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::kReleaseExperiment));
    q.Bind(1, experiment_id).Bind(2, owner);
    if (q.Step() != SQLITE_DONE) return Error("releasing the experiment");
    return Status::Ok();
  });
}

Result<std::optional<ExperimentRecord>> SqliteStorage::FindExperiment(const std::string& name) {
  static const std::string text = std::string(sql::kSelectExperiments) + "WHERE name = ?";
  HYP_ASSIGN_OR_RETURN(Statement q, Prepare(text.c_str()));
  q.Bind(1, name);
  int rc = q.Step();
  if (rc == SQLITE_ROW) return std::optional<ExperimentRecord>(sql::ReadExperiment(q));
  if (rc == SQLITE_DONE) return std::optional<ExperimentRecord>();
  return Error("reading experiment '" + name + "'");
}

Result<std::vector<ExperimentRecord>> SqliteStorage::ListExperiments() {
  static const std::string text = std::string(sql::kSelectExperiments) + "ORDER BY id";
  HYP_ASSIGN_OR_RETURN(Statement q, Prepare(text.c_str()));
  std::vector<ExperimentRecord> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(sql::ReadExperiment(q));
  if (rc != SQLITE_DONE) return Error("listing experiments");
  return out;
}

Status SqliteStorage::SetExperimentStatus(int64_t experiment_id, const std::string& status,
                                          std::optional<double> ended_at) {
  return WriteTransaction([&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::kSetExperimentStatus));
    q.Bind(1, status).Bind(2, ended_at).Bind(3, experiment_id);
    if (q.Step() != SQLITE_DONE) return Error("updating experiment status");
    return Status::Ok();
  });
}

Result<Trial> SqliteStorage::CreateTrial(const Trial& trial) {
  Trial out = trial;
  // BEGIN IMMEDIATE holds the write lock from here to the commit, so no other writer takes the same number.
  Status status = WriteTransaction([&]() -> Status {
    {
      HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::kNextTrialNumber));
      q.Bind(1, trial.experiment_id);
      if (q.Step() != SQLITE_ROW) return Error("numbering a new trial");
      out.number = q.Int(0);
    }
    {
      HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::kInsertTrial.c_str()));
      q.Bind(1, out.experiment_id).Bind(2, out.number).Bind(3, out.created_at);
      sql::BindTrialFields(q, out, 4);
      if (q.Step() != SQLITE_DONE) return Error("storing trial #" + std::to_string(out.number));
      out.id = sqlite3_last_insert_rowid(db_);
    }
    for (size_t i = 0; i < out.parents.size(); ++i) {
      HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::kInsertParent));
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
    HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::kUpdateTrial.c_str()));
    int next = sql::BindTrialFields(q, trial, 1);
    q.Bind(next, trial.id);
    return UpdateOne(q, "updating trial #" + std::to_string(trial.number),
                     NotFoundError("trial id " + std::to_string(trial.id) + " does not exist"));
  });
}

Result<std::vector<Trial>> SqliteStorage::QueryTrials(const char* sql, int64_t a, std::optional<int64_t> b) {
  HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql));
  q.Bind(1, a);
  if (b) q.Bind(2, *b);
  std::vector<Trial> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    HYP_ASSIGN_OR_RETURN(Trial t, sql::ReadTrial(q));
    out.push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) return Error("reading trials");
  HYP_RETURN_IF_ERROR(LoadParents(out));
  return out;
}

Status SqliteStorage::LoadParents(std::vector<Trial>& trials) {
  if (trials.empty()) return Status::Ok();
  HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::kSelectParents));
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
  static const std::string text = sql::kSelectTrials + "WHERE experiment_id = ? ORDER BY number";
  return QueryTrials(text.c_str(), experiment_id, std::nullopt);
}

Result<std::optional<Trial>> SqliteStorage::GetTrial(int64_t experiment_id, int64_t number) {
  static const std::string text = sql::kSelectTrials + "WHERE experiment_id = ? AND number = ?";
  HYP_ASSIGN_OR_RETURN(std::vector<Trial> trials, QueryTrials(text.c_str(), experiment_id, number));
  if (trials.empty()) return std::optional<Trial>();
  return std::optional<Trial>(std::move(trials.front()));
}

Status SqliteStorage::AppendReports(const std::vector<Report>& reports) {
  if (reports.empty()) return Status::Ok();
  return WriteTransaction([&]() -> Status {
    for (const auto& r : reports) {
      HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::kInsertReport));
      sql::BindReport(q, r);
      if (q.Step() != SQLITE_DONE) return Error("storing a report");
    }
    return Status::Ok();
  });
}

Result<std::vector<Report>> SqliteStorage::ListReports(int64_t trial_id) {
  HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::kSelectReports));
  q.Bind(1, trial_id);
  std::vector<Report> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(sql::ReadReport(q));
  if (rc != SQLITE_DONE) return Error("reading reports");
  return out;
}

Result<int64_t> SqliteStorage::AppendEvent(const Event& event) {
  int64_t id = 0;
  Status status = WriteTransaction([&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::kInsertEvent));
    sql::BindEvent(q, event);
    if (q.Step() != SQLITE_DONE) return Error("storing event " + event.type);
    id = sqlite3_last_insert_rowid(db_);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return id;
}

Result<std::vector<Event>> SqliteStorage::ListEvents(int64_t experiment_id, int64_t after_id, int limit,
                                                     const std::vector<std::string>& types) {
  HYP_ASSIGN_OR_RETURN(Statement q, Prepare(sql::SelectEvents(types.size()).c_str()));
  int index = 1;
  q.Bind(index++, experiment_id);
  q.Bind(index++, after_id);
  for (const auto& type : types) q.Bind(index++, type);
  q.Bind(index, limit);
  std::vector<Event> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(sql::ReadEvent(q));
  if (rc != SQLITE_DONE) return Error("reading events");
  return out;
}

}  // namespace hyperion
