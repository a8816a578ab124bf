#include "hyperion/cli/export.h"

#include <cmath>
#include <map>
#include <set>

#include "hyperion/common/json.h"

namespace hyperion::cli {
namespace {

std::string CsvCell(const Json& v) {
  std::string text;
  if (v.is_null()) {
    text = "";
  } else if (v.is_string()) {
    text = v.get<std::string>();
  } else if (v.is_boolean()) {
    text = v.get<bool>() ? "true" : "false";
  } else if (v.is_number_float()) {
    text = FormatNumber(v.get<double>());
  } else if (v.is_number()) {
    text = v.dump();
  } else {
    text = DumpJson(v);
  }
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string CsvRow(const std::vector<Json>& cells) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) line += (i ? "," : "") + CsvCell(cells[i]);
  return line + "\r\n";
}

Json Optional(const std::optional<double>& v) { return v ? NumberJson(*v) : Json(); }

// "3 5": a trial's parent numbers in one CSV cell.
std::string JoinNumbers(const Json& numbers) {
  std::string out;
  for (const auto& n : numbers) out += (out.empty() ? "" : " ") + n.dump();
  return out;
}

std::map<int64_t, int64_t> NumbersById(const std::vector<Trial>& trials) {
  std::map<int64_t, int64_t> numbers;
  for (const auto& t : trials) numbers[t.id] = t.number;
  return numbers;
}

// Rows as ordered JSON objects (the columns in order), the same for every format.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<Json>> rows;
};

Table TrialsTable(const ExportData& data, bool flatten_params) {
  Table table;
  table.columns = {"experiment", "number",   "state",   "value",    "value_step",
                   "operator",   "change",   "parents", "attempt",  "created_at",
                   "started_at", "ended_at", "error",   "rationale"};
  // Parameters in the order they first appear (the space's order for every trial that has them all).
  std::vector<std::string> params;
  std::set<std::string> seen;
  for (const auto& t : data.trials) {
    for (const auto& [name, v] : t.params.items()) {
      if (seen.insert(name).second) params.push_back(name);
    }
  }
  if (flatten_params) {
    for (const auto& p : params) table.columns.push_back("param:" + p);
  } else {
    table.columns.push_back("params");
  }
  const auto numbers = NumbersById(data.trials);
  for (const auto& t : data.trials) {
    Json parents = Json::array();
    for (int64_t id : t.parents) parents.push_back(numbers.count(id) ? numbers.at(id) : id);
    std::vector<Json> row = {data.experiment.name,
                             t.number,
                             TrialStateName(t.state),
                             Optional(t.value),
                             t.value_step ? Json(*t.value_step) : Json(),
                             t.op,
                             t.change_label,
                             flatten_params ? Json(JoinNumbers(parents)) : parents,
                             t.attempt,
                             Optional(t.created_at),
                             Optional(t.started_at),
                             Optional(t.ended_at),
                             t.error.empty() ? Json() : Json(t.error),
                             t.rationale};
    if (flatten_params) {
      for (const auto& p : params) row.push_back(t.params.contains(p) ? t.params[p] : Json());
    } else {
      row.push_back(t.params);
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

Table ReportsTable(const ExportData& data) {
  Table table;
  table.columns = {"experiment", "trial", "attempt", "step", "metric", "value", "time"};
  const auto numbers = NumbersById(data.trials);
  for (const auto& r : data.reports) {
    table.rows.push_back({data.experiment.name,
                          numbers.count(r.trial_id) ? Json(numbers.at(r.trial_id)) : Json(), r.attempt,
                          r.step, r.metric, NumberJson(r.value), NumberJson(r.time)});
  }
  return table;
}

Table DecisionsTable(const ExportData& data) {
  Table table;
  table.columns = {"experiment", "id", "time", "type", "trial", "payload"};
  const auto numbers = NumbersById(data.trials);
  for (const auto& e : data.decisions) {
    Json trial = e.trial_id && numbers.count(*e.trial_id) ? Json(numbers.at(*e.trial_id)) : Json();
    table.rows.push_back({data.experiment.name, e.id, NumberJson(e.time), e.type, trial, e.payload});
  }
  return table;
}

Json RowObject(const Table& table, const std::vector<Json>& row) {
  Json object = Json::object();
  for (size_t i = 0; i < table.columns.size(); ++i) object[table.columns[i]] = row[i];
  return object;
}

}  // namespace

Result<std::string> ExportText(const ExportData& data, const std::string& table_name,
                               const std::string& format) {
  if (format != "csv" && format != "json" && format != "jsonl")
    return InvalidArgumentError("unknown format '" + format + "'; use csv, json or jsonl");
  Table table;
  if (table_name == "trials") {
    table = TrialsTable(data, format == "csv");
  } else if (table_name == "reports") {
    table = ReportsTable(data);
  } else if (table_name == "decisions") {
    table = DecisionsTable(data);
  } else {
    return InvalidArgumentError("unknown table '" + table_name + "'; use trials, reports or decisions");
  }
  std::string out;
  if (format == "csv") {
    std::vector<Json> header(table.columns.begin(), table.columns.end());
    out = CsvRow(header);
    for (const auto& row : table.rows) out += CsvRow(row);
  } else if (format == "jsonl") {
    for (const auto& row : table.rows) out += DumpJson(RowObject(table, row)) + "\n";
  } else {
    Json all = Json::array();
    for (const auto& row : table.rows) all.push_back(RowObject(table, row));
    out = DumpJson(all, 2) + "\n";
  }
  return out;
}

Status ReplayInto(Tracker& tracker, const ExportData& data) {
  HYP_RETURN_IF_ERROR(tracker.Start(data.experiment));
  std::map<int64_t, std::vector<const Report*>> by_trial;
  for (const auto& r : data.reports) by_trial[r.trial_id].push_back(&r);
  for (const auto& t : data.trials) {
    if (!t.started_at) continue;  // never ran: nothing to show
    HYP_RETURN_IF_ERROR(tracker.TrialStarted(t));
    // The latest attempt's reports, one call per step with every metric of that step.
    std::map<int64_t, std::pair<double, MetricValues>> steps;
    for (const Report* r : by_trial[t.id]) {
      if (r->attempt != t.attempt) continue;
      auto& step = steps[r->step];
      step.first = std::max(step.first, r->time);
      step.second.emplace_back(r->metric, r->value);
    }
    for (const auto& [step, values] : steps)
      HYP_RETURN_IF_ERROR(tracker.TrialReported(t, step, values.first, values.second));
    if (t.ended_at) HYP_RETURN_IF_ERROR(tracker.TrialEnded(t));
  }
  HYP_RETURN_IF_ERROR(tracker.Flush());
  return tracker.Finish(data.experiment.status == "running" ? "interrupted" : data.experiment.status);
}

}  // namespace hyperion::cli
