#include "hyperion/experiment/trial.h"

#include <cstdio>

namespace hyperion {

const char* TrialStateName(TrialState state) {
  switch (state) {
    case TrialState::kPending:
      return "pending";
    case TrialState::kRunning:
      return "running";
    case TrialState::kCompleted:
      return "completed";
    case TrialState::kFailed:
      return "failed";
    case TrialState::kPruned:
      return "pruned";
    case TrialState::kTimedOut:
      return "timed_out";
    case TrialState::kInterrupted:
      return "interrupted";
  }
  return "?";
}

Result<TrialState> TrialStateFromName(const std::string& name) {
  for (auto s : {TrialState::kPending, TrialState::kRunning, TrialState::kCompleted, TrialState::kFailed,
                 TrialState::kPruned, TrialState::kTimedOut, TrialState::kInterrupted}) {
    if (name == TrialStateName(s)) return s;
  }
  return InvalidArgumentError("unknown trial state '" + name + "'");
}

bool IsFinished(TrialState state) {
  return state == TrialState::kCompleted || state == TrialState::kFailed || state == TrialState::kPruned ||
         state == TrialState::kTimedOut;
}

bool CanTransition(TrialState from, TrialState to) {
  using S = TrialState;
  switch (from) {
    case S::kPending:
      return to == S::kRunning || to == S::kPruned || to == S::kInterrupted;
    // running -> pending is a retry (or a re-queue after a lost process); the event log keeps the failed
    // attempt.
    case S::kRunning:
      return to == S::kCompleted || to == S::kFailed || to == S::kPruned || to == S::kTimedOut ||
             to == S::kInterrupted || to == S::kPending;
    // A resume runs interrupted trials again.
    case S::kInterrupted:
      return to == S::kPending;
    // A graph strategy drops a finished node from the search (beam: it fell behind the beam); the
    // measurement stays, the line ends.
    case S::kCompleted:
      return to == S::kPruned;
    case S::kFailed:
    case S::kPruned:
    case S::kTimedOut:
      return false;
  }
  return false;
}

Status CheckTransition(int64_t trial_number, TrialState from, TrialState to) {
  if (CanTransition(from, to)) return Status::Ok();
  return FailedPreconditionError("trial #" + std::to_string(trial_number) + " cannot go from " +
                                 TrialStateName(from) + " to " + TrialStateName(to));
}

std::string TrialName(int64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "trial-%04lld", static_cast<long long>(number));
  return name;
}

Json Trial::ToJson() const {
  auto optional = [](const auto& v) { return v ? Json(*v) : Json(); };
  Json parent_ids = Json::array();
  for (auto p : parents) parent_ids.push_back(p);
  return Json{{"id", id},
              {"number", number},
              {"state", TrialStateName(state)},
              {"params", params},
              {"value", optional(value)},
              {"value_step", optional(value_step)},
              {"parents", parent_ids},
              {"operator", op},
              {"change", change_label},
              {"rationale", rationale},
              {"evidence", evidence},
              {"budget_from", optional(budget_from)},
              {"budget_to", optional(budget_to)},
              {"attempt", attempt},
              {"error", error.empty() ? Json() : Json(error)},
              {"trial_dir", trial_dir},
              {"checkpoint_dir", checkpoint_dir},
              {"restore_from", restore_from},
              {"external_id", external_id.empty() ? Json() : Json(external_id)},
              {"created_at", optional(created_at)},
              {"started_at", optional(started_at)},
              {"ended_at", optional(ended_at)}};
}

}  // namespace hyperion
