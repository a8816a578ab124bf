#include "hyperion/storage/postgres_storage.h"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "hyperion/common/clock.h"
#include "hyperion/common/text.h"
#include "hyperion/storage/sql_common.h"

namespace hyperion {
namespace {

const int kSchemaVersion = static_cast<int>(sql::Migrations().size());
// The advisory lock that serialises schema migrations: "hyperion" in ASCII.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7530754225122275182)";
constexpr double kDefaultRetrySeconds = 60;
constexpr double kFirstDelay = 0.1, kLongestDelay = 2.0;

// `?` placeholders numbered as PostgreSQL wants them ($1, $2, ...); a `?` inside quotes stays.
std::string NumberPlaceholders(const std::string& sql) {
  std::string out;
  int n = 0;
  bool quoted = false;
  for (char c : sql) {
    if (c == '\'') quoted = !quoted;
    if (c == '?' && !quoted) {
      out += "$" + std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

// Text as PostgreSQL accepts it in a UTF-8 database: invalid bytes and NUL become U+FFFD. Valid text is
// returned unchanged, byte for byte.
std::string ValidText(const std::string& text) {
  if (std::all_of(text.begin(), text.end(), [](char c) { return c != '\0' && (c & 0x80) == 0; })) return text;
  std::string fixed =
      Json::parse(Json(text).dump(-1, ' ', false, Json::error_handler_t::replace)).get<std::string>();
  std::string out;
  for (char c : fixed) {
    if (c == '\0')
      out += "\xEF\xBF\xBD";
    else
      out += c;
  }
  return out;
}

// libpq's message on one line.
std::string OneLine(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  for (char& c : message) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return message;
}

// A failure to connect that may pass by itself: the server is down, restarting or busy, or the network is
// away. Anything else (a wrong password, a database that does not exist) will not get better by waiting.
bool TransientConnectFailure(const std::string& message) {
  for (const char* pattern :
       {"Connection refused", "No such file or directory", "the database system is", "timeout expired",
        "server closed the connection", "Connection reset", "could not receive data", "could not send data",
        "terminating connection", "Network is unreachable", "No route to host", "too many clients",
        "remaining connection slots"}) {
    if (message.find(pattern) != std::string::npos) return true;
  }
  return false;
}

void SleepSeconds(double seconds) {
  if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

}  // namespace

// The parameters of one statement, in text format; NULL where a value is absent. Binding is 1-based, like
// SQLite's, so that sql_common.h's binders serve both back ends.
class PostgresStorage::Params {
 public:
  Params& Bind(int i, int64_t v) { return Set(i, std::to_string(v)); }
  Params& Bind(int i, int v) { return Set(i, std::to_string(v)); }
  Params& Bind(int i, double v) {
    // NaN is stored as NULL, as SQLite does; infinities under PostgreSQL's names.
    if (std::isnan(v)) return Set(i, std::nullopt);
    if (std::isinf(v)) return Set(i, v > 0 ? "Infinity" : "-Infinity");
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", v);
    return Set(i, text);
  }
  Params& Bind(int i, const std::string& v) { return Set(i, ValidText(v)); }
  template <typename T>
  Params& Bind(int i, const std::optional<T>& v) {
    return v ? Bind(i, *v) : Set(i, std::nullopt);
  }

  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> Pointers() const {
    std::vector<const char*> out;
    for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
    return out;
  }

 private:
  Params& Set(int i, std::optional<std::string> v) {
    if (static_cast<int>(values_.size()) < i) values_.resize(i);
    values_[i - 1] = std::move(v);
    return *this;
  }
  std::vector<std::optional<std::string>> values_;
};

// A statement's result: its rows (text format) and how many rows it changed.
class PostgresStorage::Rows {
 public:
  class Row {
   public:
    Row(const PGresult* result, int row) : result_(result), row_(row) {}
    bool IsNull(int c) const { return PQgetisnull(result_, row_, c); }
    int64_t Int(int c) const {
      return IsNull(c) ? 0 : std::strtoll(PQgetvalue(result_, row_, c), nullptr, 10);
    }
    // PostgreSQL writes doubles exactly (shortest round-trip form) and infinities as "Infinity".
    double Double(int c) const {
      return IsNull(c) ? NAN : std::strtod(PQgetvalue(result_, row_, c), nullptr);
    }
    std::string Text(int c) const {
      return std::string(PQgetvalue(result_, row_, c), PQgetlength(result_, row_, c));
    }
    std::optional<int64_t> OptInt(int c) const {
      return IsNull(c) ? std::nullopt : std::optional<int64_t>(Int(c));
    }
    std::optional<double> OptDouble(int c) const {
      return IsNull(c) ? std::nullopt : std::optional<double>(Double(c));
    }

   private:
    const PGresult* result_;
    int row_;
  };

  explicit Rows(PGresult* result) : result_(result, &PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  Row operator[](int row) const { return Row(result_.get(), row); }
  int64_t Changed() const { return std::strtoll(PQcmdTuples(result_.get()), nullptr, 10); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

std::string PostgresStorage::MaskPassword(const std::string& url) {
  std::string out = url;
  size_t scheme = out.find("://");
  if (scheme == std::string::npos) return out;
  size_t start = scheme + 3;
  size_t end = std::min(out.find_first_of("/?#", start), out.size());
  size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
  if (at != std::string::npos && at >= start) {
    size_t colon = out.find(':', start);
    if (colon != std::string::npos && colon < at) out = out.substr(0, colon + 1) + "***" + out.substr(at);
  }
  // ?password=... too.
  size_t query = out.find('?');
  for (size_t p = query; p != std::string::npos; p = out.find('&', p + 1)) {
    if (out.compare(p + 1, 9, "password=") != 0) continue;
    size_t value = p + 10;
    size_t value_end = std::min(out.find('&', value), out.size());
    out = out.substr(0, value) + "***" + out.substr(value_end);
  }
  return out;
}

Result<PostgresStorage::Location> PostgresStorage::ParseUrl(const std::string& url) {
  Location location;
  location.display_url = MaskPassword(url);
  const char* env = std::getenv("HYPERION_DB_RETRY_SECONDS");
  std::optional<std::string> retry;
  if (env && *env) retry = env;
  // Hyperion's own parameter leaves the URL before libpq sees it (libpq refuses parameters it does not
  // know).
  std::string conninfo = url;
  size_t query = conninfo.find('?');
  if (query != std::string::npos) {
    std::string kept;
    size_t p = query + 1;
    while (p <= conninfo.size()) {
      size_t amp = std::min(conninfo.find('&', p), conninfo.size());
      std::string param = conninfo.substr(p, amp - p);
      if (param.rfind("retry_seconds=", 0) == 0) {
        retry = param.substr(14);
      } else if (!param.empty()) {
        kept += (kept.empty() ? "" : "&") + param;
      }
      p = amp + 1;
    }
    conninfo = conninfo.substr(0, query) + (kept.empty() ? "" : "?" + kept);
    location.display_url = MaskPassword(conninfo);
  }
  location.conninfo = conninfo;
  location.retry_seconds = kDefaultRetrySeconds;
  if (retry) {
    char* end = nullptr;
    double seconds = std::strtod(retry->c_str(), &end);
    if (retry->empty() || *end != '\0' || !std::isfinite(seconds) || seconds < 0) {
      return InvalidArgumentError("storage " + location.display_url + ": retry_seconds '" + *retry +
                                  "' (URL or HYPERION_DB_RETRY_SECONDS) must be a number of seconds >= 0");
    }
    location.retry_seconds = seconds;
  }
  return location;
}

PostgresStorage::PostgresStorage(Location location)
    : location_(std::move(location)), display_url_(location_.display_url) {}

PostgresStorage::~PostgresStorage() {
  if (conn_) PQfinish(conn_);
}

Result<std::unique_ptr<PostgresStorage>> PostgresStorage::Open(const std::string& url, bool create) {
  HYP_ASSIGN_OR_RETURN(Location location, ParseUrl(url));
  std::unique_ptr<PostgresStorage> storage(new PostgresStorage(std::move(location)));
  // A server that is down or (re)starting is waited for by the retry loop; a wrong password is not.
  Status connected = storage->Connect();
  if (!connected.ok() && connected.code() != StatusCode::kUnavailable) return connected;
  HYP_RETURN_IF_ERROR(storage->Retrying(true, [&] { return storage->Migrate(create); }));
  return storage;
}

Status PostgresStorage::Connect() {
  statements_.clear();
  if (conn_) {
    PQreset(conn_);
  } else {
    // Defaults first: what the URL says overrides them. The client encoding is fixed, as ValidText() and the
    // byte-for-byte promise rely on UTF-8.
    const char* keys[] = {"connect_timeout",  "keepalives_idle", "keepalives_interval", "keepalives_count",
                          "application_name", "dbname",          "client_encoding",     nullptr};
    const char* values[] = {"10", "30", "10", "3", "hyperion", location_.conninfo.c_str(), "UTF8", nullptr};
    conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  }
  if (!conn_) return UnavailableError("out of memory for a connection");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = OneLine(PQerrorMessage(conn_));
    if (TransientConnectFailure(message)) return UnavailableError(message);
    return InvalidArgumentError("cannot connect to " + display_url_ + ": " + message +
                                "; check the --storage URL (user, password, host, database name)");
  }
  // Every digit of a double, whatever the server's default.
  return Exec("SET extra_float_digits = 3", "setting up the session").status();
}

Status PostgresStorage::Failure(PGresult* result, const std::string& doing) {
  std::string state, message;
  if (result) {
    const char* s = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    state = s ? s : "";
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    message = primary ? primary : PQresultErrorMessage(result);
    PQclear(result);
  }
  if (message.empty()) message = conn_ ? PQerrorMessage(conn_) : "not connected";
  message = doing + ": " + OneLine(message);
  if (!conn_ || PQstatus(conn_) == CONNECTION_BAD || state.rfind("08", 0) == 0 || state == "57P01" ||
      state == "57P02" || state == "57P03" || state == "57P05" || state == "25P03") {
    connection_lost_ = true;
    return UnavailableError(message);
  }
  if (state == "40001" || state == "40P01") {
    retry_transaction_ = true;
    return UnavailableError(message);
  }
  if (state == "23505") return AlreadyExistsError(message);
  if (state.rfind("23", 0) == 0) return InvalidArgumentError(message);
  if (state.rfind("53", 0) == 0) return UnavailableError(message + " (the server is out of resources)");
  return InternalError(message);
}

Result<PostgresStorage::Rows> PostgresStorage::Exec(const std::string& sql, const std::string& doing) {
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) return Failure(nullptr, doing);
  PGresult* result = PQexec(conn_, sql.c_str());
  ExecStatusType status = PQresultStatus(result);
  if (result && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)) return Rows(result);
  return Failure(result, doing);
}

Result<PostgresStorage::Rows> PostgresStorage::Query(const std::string& sql, const Params& params,
                                                     const std::string& doing) {
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) return Failure(nullptr, doing);
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    std::string name = "hyperion_" + std::to_string(statements_.size() + 1);
    PGresult* prepared = PQprepare(conn_, name.c_str(), NumberPlaceholders(sql).c_str(), 0, nullptr);
    if (!prepared || PQresultStatus(prepared) != PGRES_COMMAND_OK) return Failure(prepared, doing);
    PQclear(prepared);
    it = statements_.emplace(sql, name).first;
  }
  std::vector<const char*> values = params.Pointers();
  PGresult* result =
      PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(), nullptr, nullptr, /*text=*/0);
  ExecStatusType status = PQresultStatus(result);
  if (result && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)) return Rows(result);
  return Failure(result, doing);
}

Status PostgresStorage::ChangeOne(const std::string& sql, const Params& params, const std::string& doing,
                                  Status none) {
  HYP_ASSIGN_OR_RETURN(Rows rows, Query(sql, params, doing));
  return rows.Changed() == 1 ? Status::Ok() : none;
}

Status PostgresStorage::TransactionOnce(const std::function<Status()>& body) {
  // The transaction's id comes with BEGIN in one round trip; it answers "did my COMMIT land?" when the
  // connection drops while the COMMIT is out.
  HYP_ASSIGN_OR_RETURN(Rows begun, Exec("BEGIN; SELECT txid_current()", "starting a transaction"));
  const std::string xid = begun[0].Text(0);
  in_transaction_ = true;
  Status status = body();
  in_transaction_ = false;
  if (!status.ok()) {
    const bool lost = connection_lost_, retry = retry_transaction_;
    if (!lost) (void)Exec("ROLLBACK", "rolling back");
    connection_lost_ = lost;  // the body's failure decides whether to redo, not the rollback's
    retry_transaction_ = retry;
    return status;
  }
  Status committed = Exec("COMMIT", "committing").status();
  if (!committed.ok() && connection_lost_) unconfirmed_xid_ = xid;
  return committed;
}

Status PostgresStorage::Retrying(bool write, const std::function<Status()>& body) {
  if (in_transaction_) return body();
  const double start = MonotonicSeconds();
  double delay = kFirstDelay;
  Status last;
  while (true) {
    connection_lost_ = retry_transaction_ = false;
    if (unconfirmed_xid_) {
      // The last COMMIT went out and its answer never came: redo the body only if it did not land.
      Params p;
      p.Bind(1, *unconfirmed_xid_);
      auto fate = Query("SELECT txid_status(?::bigint)", p, "asking whether the last commit landed");
      if (fate.ok()) {
        const std::string state = fate->size() == 1 ? (*fate)[0].Text(0) : "";
        if (state != "in progress") {
          unconfirmed_xid_.reset();
          if (state == "committed") return Status::Ok();
          continue;  // aborted: redo
        }
        // The server may still be committing what it received before the connection dropped: ask again.
        retry_transaction_ = true;
        last = UnavailableError("the last commit is still in progress on the server");
      } else {
        last = fate.status();
        if (!connection_lost_) {
          unconfirmed_xid_.reset();
          return last;
        }
      }
    } else {
      Status status = write ? TransactionOnce(body) : body();
      if (status.ok() || !(connection_lost_ || retry_transaction_)) return status;
      last = status;
    }
    // Wait, then reconnect (a deadlock or serialization failure only waits), until the limit.
    while (true) {
      const double remaining = location_.retry_seconds - (MonotonicSeconds() - start);
      if (remaining <= 0) {
        unconfirmed_xid_.reset();
        return UnavailableError("the database " + display_url_ + " is unreachable: gave up after " +
                                FormatDuration(MonotonicSeconds() - start) + " of retrying (the limit is " +
                                FormatDuration(location_.retry_seconds) +
                                "; set it with ?retry_seconds=N in the URL or HYPERION_DB_RETRY_SECONDS); " +
                                "last error: " + last.message());
      }
      SleepSeconds(std::min(delay, remaining));
      delay = std::min(delay * 2, kLongestDelay);
      if (!connection_lost_) break;
      Status connected = Connect();
      if (connected.ok()) break;
      if (connected.code() != StatusCode::kUnavailable) return connected;
      last = connected;
    }
  }
}

Status PostgresStorage::Migrate(bool create) {
  // Two processes opening a fresh database at once: the second waits here until the first has committed.
  HYP_RETURN_IF_ERROR(Exec(kMigrationLock, "locking the schema").status());
  HYP_ASSIGN_OR_RETURN(Rows tables, Exec("SELECT to_regclass('schema_version') IS NOT NULL, "
                                         "to_regclass('experiments') IS NOT NULL",
                                         "reading the schema"));
  const bool versioned = tables[0].Text(0) == "t", has_experiments = tables[0].Text(1) == "t";
  if (!versioned) {
    // Never add Hyperion's tables beside a table of the same name that is someone else's.
    if (has_experiments) {
      return InvalidArgumentError(display_url_ +
                                  " has a table 'experiments' but is not a Hyperion experiment database; "
                                  "choose another database, or a schema of its own (?options=-csearch_path%3D"
                                  "hyperion)");
    }
    if (!create) {
      return NotFoundError("no experiment database in " + display_url_ +
                           " yet; run `hyperion run CONFIG --storage URL` first");
    }
    HYP_RETURN_IF_ERROR(Exec("CREATE TABLE schema_version (version INTEGER NOT NULL); "
                             "INSERT INTO schema_version VALUES (0)",
                             "creating the schema")
                            .status());
  }
  HYP_ASSIGN_OR_RETURN(Rows current,
                       Exec("SELECT version FROM schema_version", "reading the schema version"));
  const int version = current.size() == 1 ? static_cast<int>(current[0].Int(0)) : 0;
  if (version > kSchemaVersion) {
    return FailedPreconditionError(display_url_ + ": its schema version " + std::to_string(version) +
                                   " is newer than this build of Hyperion knows (" +
                                   std::to_string(kSchemaVersion) + "); use a newer hyperion");
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    HYP_RETURN_IF_ERROR(
        Exec(sql::PostgresMigration(v), "schema migration " + std::to_string(v + 1)).status());
  }
  if (version != kSchemaVersion) {
    HYP_RETURN_IF_ERROR(Exec("UPDATE schema_version SET version = " + std::to_string(kSchemaVersion),
                             "recording the schema version")
                            .status());
  }
  return Status::Ok();
}

Status PostgresStorage::RunInTransaction(const std::function<Status()>& body) {
  if (in_transaction_) return FailedPreconditionError("RunInTransaction is not reentrant");
  return Retrying(true, body);
}

Result<ExperimentRecord> PostgresStorage::CreateExperiment(const ExperimentRecord& experiment) {
  static const std::string text = std::string(sql::kInsertExperiment) + " RETURNING id";
  ExperimentRecord out = experiment;
  Status status = Retrying(true, [&]() -> Status {
    Params p;
    sql::BindExperiment(p, experiment);
    auto rows = Query(text, p, "creating experiment '" + experiment.name + "'");
    if (rows.status().code() == StatusCode::kAlreadyExists) {
      return AlreadyExistsError("an experiment named '" + experiment.name + "' already exists in " + Url());
    }
    if (!rows.ok()) return rows.status();
    out.id = (*rows)[0].Int(0);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return out;
}

Result<std::optional<ExperimentRecord>> PostgresStorage::FindExperiment(const std::string& name) {
  static const std::string text = std::string(sql::kSelectExperiments) + "WHERE name = ?";
  std::optional<ExperimentRecord> out;
  HYP_RETURN_IF_ERROR(Retrying(false, [&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Rows rows, Query(text, Params().Bind(1, name), "reading experiment '" + name + "'"));
    out = rows.size() > 0 ? std::optional<ExperimentRecord>(sql::ReadExperiment(rows[0])) : std::nullopt;
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<ExperimentRecord>> PostgresStorage::ListExperiments() {
  static const std::string text = std::string(sql::kSelectExperiments) + "ORDER BY id";
  std::vector<ExperimentRecord> out;
  HYP_RETURN_IF_ERROR(Retrying(false, [&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Rows rows, Query(text, Params(), "listing experiments"));
    out.clear();
    for (int i = 0; i < rows.size(); ++i) out.push_back(sql::ReadExperiment(rows[i]));
    return Status::Ok();
  }));
  return out;
}

Status PostgresStorage::SetExperimentStatus(int64_t experiment_id, const std::string& status,
                                            std::optional<double> ended_at) {
  return Retrying(true, [&]() -> Status {
    return Query(sql::kSetExperimentStatus, Params().Bind(1, status).Bind(2, ended_at).Bind(3, experiment_id),
                 "updating experiment status")
        .status();
  });
}

Status PostgresStorage::ClaimExperiment(int64_t experiment_id, const std::string& owner, double now,
                                        double stale_before, const std::string& dead_owner) {
  // One UPDATE: of two racing claims the second waits for the first's row lock, then re-checks its WHERE
  // against the row the first wrote, and changes nothing.
  return Retrying(true, [&]() -> Status {
    Params p;
    sql::BindClaim(p, experiment_id, owner, now, stale_before, dead_owner);
    return ChangeOne(sql::kClaimExperiment, p, "claiming the experiment", AbortedError(sql::kOwnedByAnother));
  });
}

Status PostgresStorage::Heartbeat(int64_t experiment_id, const std::string& owner, double now) {
  return Retrying(true, [&]() -> Status {
    return ChangeOne(sql::kHeartbeat, Params().Bind(1, now).Bind(2, experiment_id).Bind(3, owner),
                     "recording a heartbeat", AbortedError(sql::kTakenOver));
  });
}

Status PostgresStorage::ReleaseExperiment(int64_t experiment_id, const std::string& owner) {
  return Retrying(true, [&]() -> Status {
    return Query(sql::kReleaseExperiment, Params().Bind(1, experiment_id).Bind(2, owner),
                 "releasing the experiment")
        .status();
  });
}

Result<Trial> PostgresStorage::CreateTrial(const Trial& trial) {
  static const std::string insert = sql::kInsertTrial + " RETURNING id";
  Trial out = trial;
  Status status = Retrying(true, [&]() -> Status {
    // The experiment's row lock makes numbering one writer at a time until the commit, across processes.
    // NO KEY UPDATE rather than UPDATE: it does not block the foreign-key checks of other inserts (events,
    // trials), which would deadlock with them.
    HYP_ASSIGN_OR_RETURN(Rows locked, Query("SELECT id FROM experiments WHERE id = ? FOR NO KEY UPDATE",
                                            Params().Bind(1, trial.experiment_id), "numbering a new trial"));
    if (locked.size() != 1)
      return NotFoundError("experiment id " + std::to_string(trial.experiment_id) + " does not exist");
    HYP_ASSIGN_OR_RETURN(Rows next, Query(sql::kNextTrialNumber, Params().Bind(1, trial.experiment_id),
                                          "numbering a new trial"));
    out.number = next[0].Int(0);
    Params p;
    p.Bind(1, out.experiment_id).Bind(2, out.number).Bind(3, out.created_at);
    sql::BindTrialFields(p, out, 4);
    HYP_ASSIGN_OR_RETURN(Rows inserted, Query(insert, p, "storing trial #" + std::to_string(out.number)));
    out.id = inserted[0].Int(0);
    for (size_t i = 0; i < out.parents.size(); ++i) {
      HYP_RETURN_IF_ERROR(
          Query(sql::kInsertParent,
                Params().Bind(1, out.id).Bind(2, out.parents[i]).Bind(3, static_cast<int64_t>(i)),
                "storing the parents of trial #" + std::to_string(out.number))
              .status());
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return out;
}

Status PostgresStorage::UpdateTrial(const Trial& trial) {
  return Retrying(true, [&]() -> Status {
    Params p;
    int next = sql::BindTrialFields(p, trial, 1);
    p.Bind(next, trial.id);
    return ChangeOne(sql::kUpdateTrial, p, "updating trial #" + std::to_string(trial.number),
                     NotFoundError("trial id " + std::to_string(trial.id) + " does not exist"));
  });
}

Result<std::vector<Trial>> PostgresStorage::QueryTrials(const std::string& sql, const Params& params) {
  std::vector<Trial> out;
  HYP_RETURN_IF_ERROR(Retrying(false, [&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Rows rows, Query(sql, params, "reading trials"));
    out.clear();
    for (int i = 0; i < rows.size(); ++i) {
      HYP_ASSIGN_OR_RETURN(Trial t, sql::ReadTrial(rows[i]));
      out.push_back(std::move(t));
    }
    return LoadParents(out);
  }));
  return out;
}

Status PostgresStorage::LoadParents(std::vector<Trial>& trials) {
  if (trials.empty()) return Status::Ok();
  HYP_ASSIGN_OR_RETURN(Rows rows, Query(sql::kSelectParents, Params().Bind(1, trials.front().experiment_id),
                                        "reading the trial graph"));
  std::map<int64_t, Trial*> by_id;
  for (auto& t : trials) by_id[t.id] = &t;
  for (int i = 0; i < rows.size(); ++i) {
    auto it = by_id.find(rows[i].Int(0));
    if (it != by_id.end()) it->second->parents.push_back(rows[i].Int(1));
  }
  return Status::Ok();
}

Result<std::vector<Trial>> PostgresStorage::ListTrials(int64_t experiment_id) {
  static const std::string text = sql::kSelectTrials + "WHERE experiment_id = ? ORDER BY number";
  return QueryTrials(text, Params().Bind(1, experiment_id));
}

Result<std::optional<Trial>> PostgresStorage::GetTrial(int64_t experiment_id, int64_t number) {
  static const std::string text = sql::kSelectTrials + "WHERE experiment_id = ? AND number = ?";
  HYP_ASSIGN_OR_RETURN(std::vector<Trial> trials,
                       QueryTrials(text, Params().Bind(1, experiment_id).Bind(2, number)));
  if (trials.empty()) return std::optional<Trial>();
  return std::optional<Trial>(std::move(trials.front()));
}

Status PostgresStorage::AppendReports(const std::vector<Report>& reports) {
  if (reports.empty()) return Status::Ok();
  return Retrying(true, [&]() -> Status {
    for (const auto& r : reports) {
      Params p;
      sql::BindReport(p, r);
      HYP_RETURN_IF_ERROR(Query(sql::kInsertReport, p, "storing a report").status());
    }
    return Status::Ok();
  });
}

Result<std::vector<Report>> PostgresStorage::ListReports(int64_t trial_id) {
  std::vector<Report> out;
  HYP_RETURN_IF_ERROR(Retrying(false, [&]() -> Status {
    HYP_ASSIGN_OR_RETURN(Rows rows,
                         Query(sql::kSelectReports, Params().Bind(1, trial_id), "reading reports"));
    out.clear();
    for (int i = 0; i < rows.size(); ++i) out.push_back(sql::ReadReport(rows[i]));
    return Status::Ok();
  }));
  return out;
}

Result<int64_t> PostgresStorage::AppendEvent(const Event& event) {
  static const std::string text = std::string(sql::kInsertEvent) + " RETURNING id";
  int64_t id = 0;
  HYP_RETURN_IF_ERROR(Retrying(true, [&]() -> Status {
    Params p;
    sql::BindEvent(p, event);
    HYP_ASSIGN_OR_RETURN(Rows rows, Query(text, p, "storing event " + event.type));
    id = rows[0].Int(0);
    return Status::Ok();
  }));
  return id;
}

Result<std::vector<Event>> PostgresStorage::ListEvents(int64_t experiment_id, int64_t after_id, int limit,
                                                       const std::vector<std::string>& types) {
  std::vector<Event> out;
  HYP_RETURN_IF_ERROR(Retrying(false, [&]() -> Status {
    Params p;
    int index = 1;
    p.Bind(index++, experiment_id);
    p.Bind(index++, after_id);
    for (const auto& type : types) p.Bind(index++, type);
    p.Bind(index, limit);
    HYP_ASSIGN_OR_RETURN(Rows rows, Query(sql::SelectEvents(types.size()), p, "reading events"));
    out.clear();
    for (int i = 0; i < rows.size(); ++i) out.push_back(sql::ReadEvent(rows[i]));
    return Status::Ok();
  }));
  return out;
}

}  // namespace hyperion
