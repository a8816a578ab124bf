// The PostgreSQL back end, over libpq: the same tables, columns and behaviour as SQLite (sql_common.h holds
// the one schema), so several orchestrators and readers on other hosts can share one experiment database.
//
// Contract:
// - The schema is versioned in a table schema_version and migrated under an advisory lock, so processes
//   opening a fresh database at once never race.
// - Strings come back byte for byte as stored (JSON is kept as text, not jsonb, which would reorder keys);
//   doubles round-trip exactly; NaN is stored as NULL, as in SQLite. Text that is not valid UTF-8 is stored
//   with U+FFFD in place of the bad bytes (PostgreSQL refuses it).
// - CreateTrial numbers trials 1, 2, 3... per experiment without gaps or repeats across processes (it locks
//   the experiment's row); ClaimExperiment is one conditional UPDATE, so of two racing claims one wins.
// - A dropped connection (server restart, idle timeout, network) is reset with backoff (0.1 s doubling to
//   2 s) and the call is redone; inside RunInTransaction the whole body is redone, so a body must be safe to
//   run again (it may only assign what it computes). A COMMIT whose answer was lost is looked up
//   (txid_status) rather than redone, so nothing is written twice. After the retry limit (60 s; the URL
//   parameter retry_seconds or $HYPERION_DB_RETRY_SECONDS) the call fails with kUnavailable naming the
//   database, how long it tried and what libpq said.
// Not thread-safe: one thread per object (see storage.h); other processes may share the database.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "hyperion/storage/storage.h"

struct pg_conn;
struct pg_result;

namespace hyperion {

class PostgresStorage final : public Storage {
 public:
  // Opens the database a postgresql:// or postgres:// URL names and brings its schema to the current
  // version. The URL goes to libpq as it is, less Hyperion's own parameter retry_seconds. Without `create`, a
  // database without Hyperion's tables is kNotFound. A database that has a table `experiments` of someone
  // else's is kInvalidArgument; so are a bad URL, password or database name.
  static Result<std::unique_ptr<PostgresStorage>> Open(const std::string& url, bool create = true);
  ~PostgresStorage() override;

  std::string BackendName() const override { return "postgresql"; }
  // The URL with its password masked (postgresql://user:***@host/db).
  std::string Url() const override { return display_url_; }

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

  // The URL with the password masked: for messages and Url().
  static std::string MaskPassword(const std::string& url);

 private:
  class Params;
  class Rows;
  struct Location {
    std::string conninfo;     // what libpq gets
    std::string display_url;  // the password masked
    double retry_seconds = 60;
  };
  static Result<Location> ParseUrl(const std::string& url);
  explicit PostgresStorage(Location location);

  Status Connect();
  Status Migrate(bool create);
  // Runs one statement (prepared once per connection and cached) and returns its rows.
  Result<Rows> Query(const std::string& sql, const Params& params, const std::string& doing);
  // Runs SQL text as it is (several statements allowed, no parameters).
  Result<Rows> Exec(const std::string& sql, const std::string& doing);
  // Rows changed by a statement that must change exactly one; `none` is the error when it changed none.
  Status ChangeOne(const std::string& sql, const Params& params, const std::string& doing, Status none);
  Status Failure(pg_result* result, const std::string& doing);
  // Runs `body` with retries on a lost connection: as one transaction (`write`), else as it is. Inside an
  // open transaction it only runs `body`: the outer call retries.
  Status Retrying(bool write, const std::function<Status()>& body);
  Status TransactionOnce(const std::function<Status()>& body);
  Status LoadParents(std::vector<Trial>& trials);
  Result<std::vector<Trial>> QueryTrials(const std::string& sql, const Params& params);

  const Location location_;
  const std::string display_url_;
  pg_conn* conn_ = nullptr;
  // Prepared statement names by SQL text; they live as long as the connection.
  std::map<std::string, std::string, std::less<>> statements_;
  bool in_transaction_ = false;
  // Set by a failure that a redo may cure: the connection is gone, or the server asks for a retry (a
  // deadlock or serialization failure, SQLSTATE 40001/40P01).
  bool connection_lost_ = false;
  bool retry_transaction_ = false;
  // The transaction whose COMMIT went out when the connection dropped: its fate is asked after reconnecting.
  std::optional<std::string> unconfirmed_xid_;
};

}  // namespace hyperion
