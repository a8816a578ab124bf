// Loading what the graph and decision views read (GraphData) from storage, and storing a person's note for
// the agent: shared by the CLI's query commands (and `hyperion note`) and the dashboard's JSON API, so that
// both show the same experiment the same way and a note from either reaches the agent the same way.
//
// Contract: the caller owns the Storage and uses it from one thread (storage.h). Only StoreNote() writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/cli/graph_view.h"
#include "hyperion/common/status.h"
#include "hyperion/storage/storage.h"

namespace hyperion::cli {

// The experiment's events of `types` (all when empty), oldest first, read in pages.
Result<std::vector<Event>> LoadEvents(Storage& storage, int64_t experiment_id,
                                      const std::vector<std::string>& types);

// The whole experiment for the graph and decision views: its trials and its event log (only the events of
// `types` when that is not empty).
Result<GraphData> LoadGraphData(Storage& storage, const ExperimentRecord& experiment,
                                const std::vector<std::string>& types = {});

// `t`'s parents as trial numbers, primary first; null for a parent id no trial of `trials` has.
Json ParentNumbersJson(const Trial& t, const std::vector<Trial>& trials);

// The experiment's completed trials ranked as `hyperion best` ranks them (experiment/ranking.h: its
// objective, whole runs of its training budget first), best first; and the best of them.
std::vector<const Trial*> RankedCompleted(const std::vector<Trial>& trials,
                                          const ExperimentRecord& experiment);
std::optional<Trial> BestOf(const std::vector<Trial>& trials, const ExperimentRecord& experiment);

// A trial as `hyperion trials --json` shows it: Trial::ToJson() plus "experiment" (its name) and "metric".
Json TrialJson(const Trial& trial, const ExperimentRecord& experiment);

// An experiment as `hyperion status --json` and the dashboard list it: its record
// (ExperimentRecord::ToJson()) plus "trials" (how many), "counts" (by state name, in the order states first
// appear) and "best" (the best completed trial as BestCompleted() ranks them, as TrialJson(); null when
// none).
Json ExperimentSummaryJson(const ExperimentRecord& experiment, const std::vector<Trial>& trials);

// Stores `text` (checked and trimmed by CheckNoteText()) as a note event of the experiment at wall time
// `now`; a running orchestrator reads it within a second (orchestrator.h). Returns the event's id;
// kInvalidArgument for an empty text.
Result<int64_t> StoreNote(Storage& storage, const ExperimentRecord& experiment, const std::string& text,
                          double now);

}  // namespace hyperion::cli
