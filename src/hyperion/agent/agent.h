// The agent decides what the experiment does next: which trials to run (fresh samples, branches, merges),
// which to prune, when to reprioritise the queue and when to stop. Every decision carries a rationale a
// person can read and the evidence (trial numbers, values) it rests on.
//
// The orchestrator calls Decide() when slots are free or something happened (trials ended, a note arrived),
// with a read-only context: the whole experiment (every branch), the objective's curves, earlier decisions
// (applied and rejected, with the reasons), user notes, free slots and budget left. It validates every
// decision (space, parents, span, duplicates, budget) and records it in the event log, applied or rejected
// with the reason (events in experiment/event_types.h); a rejected decision reaches the agent's next context.
//
// An agent keeps no state that cannot be rebuilt from the context, so a resumed experiment continues.
// A slow agent (Slow(): an LLM call) is called on a worker thread with a snapshot of the context that it
// owns for the call; while the call is out, free slots are filled from Fallback() on the loop thread, so
// GPUs never idle. Fast agents are called on the loop thread. One agent object is never called from two
// threads at once; a slow agent's fallback is a separate object.
//
// Every search strategy (random, grid, tpe, gp, beam, pbt, evolution) is an agent through StrategyAgent;
// `strategy.type: agent` is the built-in analyst (agent/analyst.h), `llm` the LLM agent (agent/llm_agent.h).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/common/status.h"
#include "hyperion/experiment/config.h"
#include "hyperion/experiment/trial.h"
#include "hyperion/strategy/pruner.h"
#include "hyperion/strategy/strategy.h"

namespace hyperion {

// A hint a person gave during the run (`hyperion note "text"`), stored as a `note` event.
struct Note {
  int64_t event_id = 0;
  double time = 0;
  std::string text;
  bool acknowledged = false;  // an earlier decision already answered it
};

struct AgentContext {
  const ExperimentConfig& config;    // space, objective, training, budget, parallel, strategy options
  const std::vector<Trial>& trials;  // every trial, any state, by number
  // The objective's finite reports of each trial's latest attempt, by trial id, in report order.
  const std::map<int64_t, std::vector<StepValue>>& curves;
  // Earlier decisions as stored, oldest first: events of the decision types (trial_pruned, prune_requested,
  // trial_prioritised, agent_stopped, decision_rejected, agent_fallback). Proposals are the trials
  // themselves.
  const std::vector<Event>& decisions;
  const std::vector<Note>& notes;  // oldest first
  // What happened since the agent was last called (trial started, completed, failed, pruned, ...).
  const std::vector<Event>& recent;
  uint64_t seed = 0;
  int free_slots = 0;                  // proposals that can start now
  int running = 0;                     // trials running now
  std::optional<int64_t> trials_left;  // budget.max_trials minus trials so far; nullopt: no limit
  std::optional<double> seconds_left;  // budget.max_time minus time so far; nullopt: no limit

  // The part of the context a search strategy reads.
  StrategyContext ForStrategy() const {
    return StrategyContext{config.space, config.objective, trials, seed, config.training};
  }
};

// A pending trial's new place in the queue: higher priorities start first.
struct PriorityDecision {
  int64_t trial_id = 0;
  int priority = 0;
  std::string rationale;
  Json evidence = Json::object();
};

// The end of the search: no more proposals; running trials finish.
struct StopDecision {
  std::string rationale;  // "best 0.981 (#12) has not improved over the last 20 trials; stopping"
  Json evidence = Json::object();
};

struct AgentReply {
  // Trials to create, best first. Those beyond the free slots wait as pending trials.
  std::vector<Proposal> proposals;
  std::vector<PruneDecision> prunes;
  std::vector<PriorityDecision> priorities;
  std::optional<StopDecision> stop;
  // No proposal although slots are free: why (a strategy waiting for results). Empty otherwise.
  std::string wait_reason;
  // Who decided, set only when a fallback decided instead of the agent: "analyst (fallback: the LLM reply
  // was not JSON)". The orchestrator records an agent_fallback event for it.
  std::string decided_by;
  // One entry per call of an outside service (an LLM): model, messages, reply, tokens, latency, error.
  // Stored as agent_exchange events.
  std::vector<Json> exchanges;
  // Notes this reply answers (their event ids): the rationale of one of its decisions mentions each.
  std::vector<int64_t> acknowledged_notes;
};

class Agent {
 public:
  virtual ~Agent() = default;
  // Recorded with the experiment as its strategy; a resume with another is refused.
  virtual std::string Name() const = 0;
  // How rationales and the trace name it when it decides for another agent ("analyst"); Name() by default.
  virtual std::string DisplayName() const { return Name(); }
  virtual AgentReply Decide(const AgentContext& context) = 0;
  // True when Decide() may take seconds (a network call): it then runs off the loop thread.
  virtual bool Slow() const { return false; }
  // Decides for free slots while a slow call is out; nullptr when the agent is fast.
  virtual Agent* Fallback() { return nullptr; }
  // Seconds a free slot waits for a slow call's reply before the fallback fills it.
  virtual double FallbackAfter() const { return 0; }
  // Asks a Decide() running on another thread to return soon (the run is stopping). Any thread.
  virtual void Cancel() {}
  // The finished trials the agent may still branch from: their checkpoints are kept whatever the retention
  // rule says.
  virtual std::set<int64_t> Frontier(const AgentContext& /*context*/) const { return {}; }
};

// The agent the config's strategy names: a search strategy wrapped in StrategyAgent, the analyst for
// "agent", the LLM agent for "llm". kInvalidArgument for an unknown name.
Result<std::unique_ptr<Agent>> MakeAgent(const ExperimentConfig& config);

// True when the event type is one of the decision types listed in AgentContext::decisions.
bool IsDecisionEvent(const std::string& type);

}  // namespace hyperion
