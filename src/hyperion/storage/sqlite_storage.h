// The SQLite back end: one file, WAL journal, versioned schema migrations (PRAGMA user_version), prepared
// statements cached per connection. The database file is created readable by its owner only.
// Not thread-safe: one thread per object (see storage.h); other processes may share the file.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "hyperion/storage/storage.h"

struct sqlite3;
struct sqlite3_stmt;

namespace hyperion {

class SqliteStorage final : public Storage {
 public:
  // Opens (with `create`, creating) the database at `path` and brings its schema to the current version.
  // Without `create`, a missing file is kNotFound and a file that is not a Hyperion database
  // kInvalidArgument.
  static Result<std::unique_ptr<SqliteStorage>> Open(const std::string& path, bool create = true);
  ~SqliteStorage() override;

  std::string BackendName() const override { return "sqlite"; }
  std::string Url() const override { return "sqlite://" + path_; }

  Result<ExperimentRecord> CreateExperiment(const ExperimentRecord& experiment) override;
  Result<std::optional<ExperimentRecord>> FindExperiment(const std::string& name) override;
  Result<std::vector<ExperimentRecord>> ListExperiments() override;
  Status SetExperimentStatus(int64_t experiment_id, const std::string& status,
                             std::optional<double> ended_at) override;
  Status ClaimExperiment(int64_t experiment_id, const std::string& owner, double now, double stale_before,
                         const std::string& dead_owner) override;
  Status Heartbeat(int64_t experiment_id, const std::string& owner, double now) override;
  Status ReleaseExperiment(int64_t experiment_id, const std::string& owner) override;

  Result<Trial> CreateTrial(const Trial& trial) override;
  Status UpdateTrial(const Trial& trial) override;
  Result<std::vector<Trial>> ListTrials(int64_t experiment_id) override;
  Result<std::optional<Trial>> GetTrial(int64_t experiment_id, int64_t number) override;

  Status AppendReports(const std::vector<Report>& reports) override;
  Result<std::vector<Report>> ListReports(int64_t trial_id) override;

  Result<int64_t> AppendEvent(const Event& event) override;
  Result<std::vector<Event>> ListEvents(int64_t experiment_id, int64_t after_id, int limit,
                                        const std::vector<std::string>& types) override;

  Status RunInTransaction(const std::function<Status()>& body) override;

  // The schema version this build writes.
  static int CurrentSchemaVersion();

 private:
  class Statement;
  SqliteStorage(sqlite3* db, std::string path);

  Status Migrate();
  Status Exec(const std::string& sql);
  // A cached prepared statement, reset and ready to bind.
  Result<Statement> Prepare(const char* sql);
  Status Error(const std::string& doing) const;
  // Runs `body` in a transaction unless one is already open (then it is part of that one).
  Status WriteTransaction(const std::function<Status()>& body);
  Status UpdateOne(Statement& q, const std::string& doing, Status lost);
  Result<std::vector<Trial>> QueryTrials(const char* sql, int64_t a, std::optional<int64_t> b);
  Status LoadParents(std::vector<Trial>& trials);

  sqlite3* db_;
  std::string path_;
  // Prepared statements by their text (queries built at run time, such as a filter by type, included).
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
  bool in_transaction_ = false;
};

}  // namespace hyperion
