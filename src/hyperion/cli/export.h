// `hyperion export`: an experiment's trials, reports or decisions as CSV, JSON or JSON Lines, and the replay
// of a stored experiment into a tracker (MLflow, TensorBoard) after the fact.
//
// Names and values are kept byte for byte: parameter and metric names with slashes, dots, colons, spaces or
// non-ASCII characters appear as they were written; JSON keeps each value's type (a categorical "3" stays a
// string, 3 a number); CSV (RFC 4180: cells with a comma, quote or line break are quoted, quotes doubled)
// writes numbers in their shortest exact form, booleans as true/false, non-finite values as NaN, Infinity and
// -Infinity, and nested values (a trial's evidence, an event's payload) as JSON text.
//
// Tables and their columns (JSON keys are the same names):
//   trials     experiment, number, state, value, value_step, operator, change, parents (numbers), attempt,
//              created_at, started_at, ended_at, error, rationale, then one column per parameter named
//              "param:<name>" (CSV) or the object "params" (JSON)
//   reports    experiment, trial, attempt, step, metric, value, time
//   decisions  experiment, id, time, type, trial (number or empty), payload
//
// Pure functions over loaded data; any thread.
#pragma once

#include <string>
#include <vector>

#include "hyperion/common/status.h"
#include "hyperion/storage/storage.h"
#include "hyperion/tracking/tracker.h"

namespace hyperion::cli {

struct ExportData {
  ExperimentRecord experiment;
  std::vector<Trial> trials;     // by number
  std::vector<Report> reports;   // of every trial and attempt
  std::vector<Event> decisions;  // the decision events (decision_view.h's DecisionEventTypes())
};

// kInvalidArgument for a table or format this does not know, naming the ones it does.
Result<std::string> ExportText(const ExportData& data, const std::string& table, const std::string& format);

// Tells `tracker` the experiment as if it ran now: Start, then for every trial in number order its start,
// the reports of its latest attempt step by step, and its end when it ended; then Finish with the
// experiment's status. Stops at the first error.
Status ReplayInto(Tracker& tracker, const ExportData& data);

}  // namespace hyperion::cli
