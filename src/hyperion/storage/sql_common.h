// Internal to storage/: what the SQL back ends (SQLite, PostgreSQL) share apart from their drivers, so that
// both hold the same schema and turn rows into values the same way: one list of schema migrations, the SQL
// text of every query (written with `?` placeholders; PostgreSQL numbers them), and the row readers.
//
// A Row is any type with IsNull, Int, Double (NaN for NULL), Text, OptInt and OptDouble taking a 0-based
// column; a Statement is any type with Bind(index, value) for int64_t, int, double (NaN binds NULL),
// std::string and std::optional of those, 1-based. Pure functions; any thread.
#pragma once

#include <string>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/common/status.h"
#include "hyperion/experiment/trial.h"
#include "hyperion/storage/storage.h"

namespace hyperion::sql {

// The schema migrations in SQLite's dialect: entry i brings the schema from version i to i + 1. Append only:
// a released migration never changes.
const std::vector<std::string>& Migrations();
// A migration in PostgreSQL's dialect: 64-bit integers, doubles and identity columns in place of SQLite's
// INTEGER, REAL and INTEGER PRIMARY KEY, plus what SQLite has implicitly (a `rowid` that keeps reports in
// the order they were stored).
std::string PostgresMigration(size_t index);

// What ClaimExperiment and Heartbeat say when another orchestrator owns the experiment (kAborted).
inline constexpr const char* kOwnedByAnother = "the experiment is owned by another orchestrator";
inline constexpr const char* kTakenOver = "another orchestrator has taken over the experiment";

// The queries both back ends run. INSERTs that need the new id get it from the driver (SQLite) or from
// " RETURNING id" appended (PostgreSQL).
inline constexpr const char* kInsertExperiment =
    "INSERT INTO experiments (name, config_json, objective_metric, objective_mode, strategy, executor, "
    "status, "
    "created_at, ended_at, owner, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
inline constexpr const char* kSelectExperiments =
    "SELECT id, name, config_json, objective_metric, objective_mode, strategy, executor, status, created_at, "
    "ended_at, owner, heartbeat_at FROM experiments ";  // + WHERE / ORDER BY
inline constexpr const char* kClaimExperiment =
    "UPDATE experiments SET owner = ?, heartbeat_at = ? WHERE id = ? AND "
    "(owner = '' OR owner = ? OR owner = ? OR heartbeat_at < ?)";
inline constexpr const char* kHeartbeat =
    "UPDATE experiments SET heartbeat_at = ? WHERE id = ? AND owner = ?";
inline constexpr const char* kReleaseExperiment =
    "UPDATE experiments SET owner = '' WHERE id = ? AND owner = ?";
inline constexpr const char* kSetExperimentStatus =
    "UPDATE experiments SET status = ?, ended_at = ? WHERE id = ?";
inline constexpr const char* kNextTrialNumber =
    "SELECT COALESCE(MAX(number), 0) + 1 FROM trials WHERE experiment_id = ?";
extern const std::string kInsertTrial;   // experiment_id, number, created_at, then BindTrialFields
extern const std::string kUpdateTrial;   // BindTrialFields, then id
extern const std::string kSelectTrials;  // + WHERE / ORDER BY; read with ReadTrial
inline constexpr const char* kInsertParent =
    "INSERT INTO trial_parents (trial_id, parent_id, position) VALUES (?, ?, ?)";
// One query for an experiment's edges rather than one per trial.
inline constexpr const char* kSelectParents =
    "SELECT p.trial_id, p.parent_id FROM trial_parents p JOIN trials t ON t.id = p.trial_id "
    "WHERE t.experiment_id = ? ORDER BY p.trial_id, p.position";
inline constexpr const char* kInsertReport =
    "INSERT INTO reports (trial_id, attempt, step, metric, value, time) VALUES (?, ?, ?, ?, ?, ?)";
inline constexpr const char* kSelectReports =
    "SELECT trial_id, attempt, step, metric, value, time FROM reports WHERE trial_id = ? "
    "ORDER BY attempt, step, rowid";
inline constexpr const char* kInsertEvent =
    "INSERT INTO events (experiment_id, trial_id, time, type, payload_json) VALUES (?, ?, ?, ?, ?)";
// Events of an experiment after an id, of `type_count` types (all when 0), oldest first, with a limit.
std::string SelectEvents(size_t type_count);

// Binds the columns a trial's life changes, from parameter `first` on; returns the next free index.
template <typename Statement>
int BindTrialFields(Statement& q, const Trial& t, int first) {
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

template <typename Statement>
void BindExperiment(Statement& q, const ExperimentRecord& e) {
  q.Bind(1, e.name);
  q.Bind(2, DumpJson(e.config));
  q.Bind(3, e.objective_metric);
  q.Bind(4, std::string(ObjectiveModeName(e.objective_mode)));
  q.Bind(5, e.strategy);
  q.Bind(6, e.executor);
  q.Bind(7, e.status);
  q.Bind(8, e.created_at);
  q.Bind(9, e.ended_at);
  q.Bind(10, e.owner);
  q.Bind(11, e.heartbeat_at);
}

// The parameters of kClaimExperiment.
template <typename Statement>
void BindClaim(Statement& q, int64_t experiment_id, const std::string& owner, double now, double stale_before,
               const std::string& dead_owner) {
  q.Bind(1, owner);
  q.Bind(2, now);
  q.Bind(3, experiment_id);
  q.Bind(4, owner);
  q.Bind(5, dead_owner);
  q.Bind(6, stale_before);
}

template <typename Row>
ExperimentRecord ReadExperiment(const Row& q) {
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

// A row of kSelectTrials; kInternal when its state is not one this build knows. Parents are not part of it.
template <typename Row>
Result<Trial> ReadTrial(const Row& q) {
  Trial t;
  t.id = q.Int(0);
  t.experiment_id = q.Int(1);
  t.number = q.Int(2);
  auto state = TrialStateFromName(q.Text(3));
  if (!state.ok()) return InternalError("trial id " + std::to_string(t.id) + ": " + state.status().message());
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
  return t;
}

template <typename Row>
Report ReadReport(const Row& q) {
  return Report{q.Int(0), static_cast<int>(q.Int(1)), q.Int(2), q.Text(3), q.Double(4), q.Double(5)};
}

template <typename Row>
Event ReadEvent(const Row& q) {
  Event e;
  e.id = q.Int(0);
  e.experiment_id = q.Int(1);
  e.trial_id = q.OptInt(2);
  e.time = q.Double(3);
  e.type = q.Text(4);
  e.payload = Json::parse(q.Text(5), nullptr, false);
  return e;
}

template <typename Statement>
void BindEvent(Statement& q, const Event& event) {
  q.Bind(1, event.experiment_id);
  q.Bind(2, event.trial_id);
  q.Bind(3, event.time);
  q.Bind(4, event.type);
  q.Bind(5, DumpJson(event.payload));
}

template <typename Statement>
void BindReport(Statement& q, const Report& r) {
  q.Bind(1, r.trial_id);
  q.Bind(2, r.attempt);
  q.Bind(3, r.step);
  q.Bind(4, r.metric);
  q.Bind(5, r.value);
  q.Bind(6, r.time);
}

}  // namespace hyperion::sql
