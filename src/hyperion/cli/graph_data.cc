#include "hyperion/cli/graph_data.h"

#include <algorithm>
#include <iterator>

#include "hyperion/cli/decision_view.h"
#include "hyperion/experiment/event_types.h"
#include "hyperion/experiment/ranking.h"

namespace hyperion::cli {

Result<std::vector<Event>> LoadEvents(Storage& storage, int64_t experiment_id,
                                      const std::vector<std::string>& types) {
  constexpr int kPage = 10000;
  std::vector<Event> events;
  int64_t after = 0;
  while (true) {
    HYP_ASSIGN_OR_RETURN(auto page, storage.ListEvents(experiment_id, after, kPage, types));
    if (page.empty()) break;
    after = page.back().id;
    bool full = static_cast<int>(page.size()) == kPage;
    events.insert(events.end(), std::make_move_iterator(page.begin()), std::make_move_iterator(page.end()));
    if (!full) break;
  }
  return events;
}

Result<GraphData> LoadGraphData(Storage& storage, const ExperimentRecord& experiment,
                                const std::vector<std::string>& types) {
  GraphData data;
  data.experiment = experiment;
  HYP_ASSIGN_OR_RETURN(data.trials, storage.ListTrials(experiment.id));
  HYP_ASSIGN_OR_RETURN(data.events, LoadEvents(storage, experiment.id, types));
  return data;
}

Json ParentNumbersJson(const Trial& t, const std::vector<Trial>& trials) {
  Json out = Json::array();
  for (int64_t id : t.parents) {
    auto it = std::find_if(trials.begin(), trials.end(), [&](const Trial& p) { return p.id == id; });
    out.push_back(it == trials.end() ? Json() : Json(it->number));
  }
  return out;
}

namespace {

Objective ObjectiveOf(const ExperimentRecord& experiment) {
  Objective objective;
  objective.metric = experiment.objective_metric;
  objective.mode = experiment.objective_mode;
  return objective;
}

Training TrainingOf(const ExperimentRecord& experiment) {
  return Training::FromJson(experiment.config.value("training", Json()));
}

}  // namespace

std::vector<const Trial*> RankedCompleted(const std::vector<Trial>& trials,
                                          const ExperimentRecord& experiment) {
  return RankCompleted(trials, ObjectiveOf(experiment), TrainingOf(experiment));
}

std::optional<Trial> BestOf(const std::vector<Trial>& trials, const ExperimentRecord& experiment) {
  return BestCompleted(trials, ObjectiveOf(experiment), TrainingOf(experiment));
}

Json TrialJson(const Trial& trial, const ExperimentRecord& experiment) {
  Json j = trial.ToJson();
  j["experiment"] = experiment.name;
  j["metric"] = experiment.objective_metric;
  return j;
}

Json ExperimentSummaryJson(const ExperimentRecord& experiment, const std::vector<Trial>& trials) {
  Json counts = Json::object();
  for (const auto& t : trials) counts[TrialStateName(t.state)] = counts.value(TrialStateName(t.state), 0) + 1;
  auto best = BestOf(trials, experiment);
  Json j = experiment.ToJson();
  j["trials"] = trials.size();
  j["counts"] = counts;
  j["best"] = best ? TrialJson(*best, experiment) : Json();
  return j;
}

Result<int64_t> StoreNote(Storage& storage, const ExperimentRecord& experiment, const std::string& text,
                          double now) {
  HYP_ASSIGN_OR_RETURN(std::string checked, CheckNoteText(text));
  Event note;
  note.experiment_id = experiment.id;
  note.time = now;
  note.type = events::kNote;
  note.payload = Json{{"text", checked}};
  auto id = storage.AppendEvent(note);
  if (!id.ok()) return id.status().WithContext("storing the note");
  return id;
}

}  // namespace hyperion::cli
