// The types of the experiment's event log, named once. Storage keeps them as text; every writer and reader
// (the orchestrator, the agents, the CLI, exporters) uses these names, so a type is never misspelt apart.
//
// What each event's payload holds is documented in docs/agent.md (the trace store). Values only; any thread.
#pragma once

namespace hyperion::events {

// The experiment.
inline constexpr const char* kExperimentStarted = "experiment_started";
inline constexpr const char* kExperimentResumed = "experiment_resumed";
inline constexpr const char* kBudgetReached = "budget_reached";  // no more proposals: max_trials or max_time

// A trial's life.
inline constexpr const char* kTrialProposed = "trial_proposed";  // a propose decision, applied
inline constexpr const char* kTrialStarted = "trial_started";
inline constexpr const char* kTrialCompleted = "trial_completed";
inline constexpr const char* kTrialFailed = "trial_failed";
inline constexpr const char* kTrialPruned = "trial_pruned";
inline constexpr const char* kTrialTimedOut = "trial_timed_out";
inline constexpr const char* kTrialInterrupted = "trial_interrupted";
inline constexpr const char* kTrialRetry = "trial_retry";
inline constexpr const char* kTrialRequeued = "trial_requeued";
inline constexpr const char* kTrialReattached = "trial_reattached";  // a resume follows its Slurm job again
inline constexpr const char* kTrialPromoted = "trial_promoted";      // a pruner let it go on
inline constexpr const char* kCheckpointRemoved = "checkpoint_removed";

// The agent's other decisions and what came of them.
inline constexpr const char* kPruneRequested = "prune_requested";      // a running trial was asked to stop
inline constexpr const char* kTrialPrioritised = "trial_prioritised";  // a pending trial's priority changed
inline constexpr const char* kAgentStopped = "agent_stopped";          // the agent ended the search
inline constexpr const char* kDecisionRejected = "decision_rejected";  // the orchestrator refused a decision
inline constexpr const char* kAgentExchange = "agent_exchange";        // one LLM call: prompt, reply, cost
inline constexpr const char* kAgentFallback = "agent_fallback";        // the fallback decided instead, why

// People.
inline constexpr const char* kNote = "note";  // `hyperion note "text"`: a hint for the agent
// A person asked to stop a trial (the dashboard): {"number", "reason"}. The running orchestrator prunes it
// within a second, as a prune decided by "person"; a resumed one when it reads the log again.
inline constexpr const char* kStopRequested = "stop_requested";

}  // namespace hyperion::events
