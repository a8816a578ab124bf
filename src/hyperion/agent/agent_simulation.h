// Test support: plays the orchestrator for agent tests, without processes or storage.
//
// Run() calls the agent the way the orchestrator does (after every tick, with the free slots, the budget
// left, the curves, the earlier decisions and the notes), validates each proposal as the orchestrator does
// (inside the space, parents that exist, a fresh sample that no trial holds yet), records refused ones as
// decision_rejected events with the proposal in the payload, and applies prunes (a running trial ends pruned
// at its latest report, a completed one becomes pruned and keeps its value) and stops (no more proposals;
// running trials finish). Time is a tick: every running trial reports the next value of its curve (steps 1,
// 2, ...) and ends once its curve is done, completed with its last value or failed. Header-only; tests only.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/agent/agent.h"
#include "hyperion/experiment/event_types.h"

namespace hyperion::testing {

// What one simulated trial does.
struct SimulatedTrial {
  std::vector<double> curve;  // its reports of the objective at steps 1..n, one per tick
  bool fails = false;         // after its reports it fails ("objective 'loss' was nan")
};

class AgentSimulation {
 public:
  AgentSimulation(ExperimentConfig config, uint64_t seed) : config_(std::move(config)), seed_(seed) {}

  // The trial's fate; sees the trial as created (params, parents, op).
  std::function<SimulatedTrial(const Trial&)> outcome;
  // Refuses a proposal the orchestrator would accept (a test's own rule): the reason, or nullopt.
  std::function<std::optional<std::string>(const Proposal&)> refuse;
  // Refuses a prune decision (a test's own rule): the reason, or nullopt.
  std::function<std::optional<std::string>(const PruneDecision&)> refuse_prune;
  // Notes handed over before the agent's call at a tick (tick -> text).
  std::map<int, std::string> notes_at;

  // Runs until the agent stops or the budget is used and every trial has finished, or `max_ticks` passed.
  // Returns "stopped", "budget", "idle" (nothing running, no proposal) or "ticks".
  std::string Run(Agent& agent, int max_trials, int parallel, int max_ticks = 100000) {
    for (int tick = 0; tick < max_ticks; ++tick) {
      if (auto note = notes_at.find(tick); note != notes_at.end()) AddNote(note->second);
      const AgentReply& reply = Call(agent, max_trials, parallel);
      Apply(reply, max_trials);
      if (RunningCount() == 0) {
        if (stopped) return "stopped";
        if (static_cast<int>(trials.size()) >= max_trials) return "budget";
        if (reply.proposals.empty()) return "idle";
      }
      Advance();
    }
    return "ticks";
  }

  void AddNote(const std::string& text) {
    Note n;
    n.event_id = next_event_++;
    n.time = clock_;
    n.text = text;
    notes.push_back(n);
  }

  int RunningCount() const {
    int n = 0;
    for (const Trial& t : trials) n += t.state == TrialState::kRunning ? 1 : 0;
    return n;
  }

  const ExperimentConfig& config() const { return config_; }

  // The context the next call would see, for Analyse() and Frontier(); it refers to this simulation.
  AgentContext Context(int free_slots = 1) const {
    return AgentContext{config_, trials,     curves,         decisions,    notes,       recent_,
                        seed_,   free_slots, RunningCount(), std::nullopt, std::nullopt};
  }

  std::vector<Trial> trials;  // by number
  std::map<int64_t, std::vector<StepValue>> curves;
  std::vector<Event> decisions;
  std::vector<Note> notes;
  std::vector<AgentReply> replies;      // every reply, in call order
  std::vector<int> finished_at_call;    // trials finished when each call was made
  std::vector<int> free_slots_at_call;  // free slots each call saw
  bool stopped = false;
  std::optional<StopDecision> stop;
  int finished_at_stop = -1;

 private:
  const AgentReply& Call(Agent& agent, int max_trials, int parallel) {
    std::vector<Event> recent = std::move(recent_);
    recent_.clear();
    const int running = RunningCount();
    int64_t left = std::max<int64_t>(0, max_trials - static_cast<int64_t>(trials.size()));
    int free = stopped || left == 0 ? 0 : std::max(0, parallel - running);
    AgentContext context{config_, trials, curves,  decisions, notes,       recent,
                         seed_,   free,   running, left,      std::nullopt};
    int finished = 0;
    for (const Trial& t : trials) finished += IsFinished(t.state) ? 1 : 0;
    finished_at_call.push_back(finished);
    free_slots_at_call.push_back(free);
    replies.push_back(agent.Decide(context));
    return replies.back();
  }

  std::optional<std::string> Check(const Proposal& p) const {
    if (refuse) {
      if (auto reason = refuse(p)) return reason;
    }
    if (Status valid = config_.space.Validate(p.params); !valid.ok())
      return "outside the space: " + valid.message();
    for (int64_t parent : p.parents) {
      if (parent < 1 || parent > static_cast<int64_t>(trials.size()))
        return "unknown parent " + std::to_string(parent);
    }
    if (p.parents.empty()) {
      for (const Trial& t : trials) {
        if (t.params == p.params) return "duplicate of #" + std::to_string(t.number);
      }
    }
    return std::nullopt;
  }

  void Record(const char* type, std::optional<int64_t> trial_id, Json payload) {
    Event e;
    e.id = next_event_++;
    e.experiment_id = 1;
    e.trial_id = trial_id;
    e.time = clock_;
    e.type = type;
    e.payload = std::move(payload);
    decisions.push_back(e);
  }

  void Apply(const AgentReply& reply, int max_trials) {
    for (int64_t id : reply.acknowledged_notes) {
      for (Note& n : notes) n.acknowledged = n.acknowledged || n.event_id == id;
    }
    for (const PruneDecision& d : reply.prunes) {
      if (d.trial_id < 1 || d.trial_id > static_cast<int64_t>(trials.size())) continue;
      Trial& t = trials[d.trial_id - 1];
      if (t.state != TrialState::kRunning && t.state != TrialState::kCompleted) continue;
      if (refuse_prune) {
        if (auto reason = refuse_prune(d)) {
          Record(events::kDecisionRejected, t.id, Json{{"decision", "prune"}, {"reason", *reason}});
          continue;
        }
      }
      if (t.state == TrialState::kRunning) {
        Record(events::kPruneRequested, t.id, Json{{"rationale", d.rationale}, {"evidence", d.evidence}});
        const auto& curve = curves[t.id];
        if (!curve.empty()) t.value = curve.back().value;
      }
      t.state = TrialState::kPruned;
      t.error = d.rationale;
      t.ended_at = clock_;
      Record(events::kTrialPruned, t.id, Json{{"rationale", d.rationale}, {"evidence", d.evidence}});
    }
    if (!stopped) {
      for (const Proposal& p : reply.proposals) {
        if (static_cast<int>(trials.size()) >= max_trials) break;
        if (auto reason = Check(p)) {
          Record(events::kDecisionRejected, std::nullopt,
                 Json{{"decision", "propose"},
                      {"reason", *reason},
                      {"params", p.params},
                      {"evidence", p.evidence}});
          continue;
        }
        Trial t = TrialFromProposal(p);
        t.id = static_cast<int64_t>(trials.size()) + 1;
        t.experiment_id = 1;
        t.number = t.id;
        t.state = TrialState::kRunning;
        t.created_at = clock_;
        fates_[t.id] = outcome(t);
        Record(events::kTrialProposed, t.id, Json{{"op", p.op}, {"rationale", p.rationale}});
        trials.push_back(std::move(t));
      }
    }
    if (reply.stop && !stopped) {
      stopped = true;
      stop = reply.stop;
      finished_at_stop = finished_at_call.back();
      Record(events::kAgentStopped, std::nullopt,
             Json{{"rationale", reply.stop->rationale}, {"evidence", reply.stop->evidence}});
    }
  }

  // One tick: every running trial reports its next value and ends after its last.
  void Advance() {
    ++clock_;
    for (Trial& t : trials) {
      if (t.state != TrialState::kRunning) continue;
      const SimulatedTrial& fate = fates_[t.id];
      auto& curve = curves[t.id];
      if (curve.size() < fate.curve.size()) {
        const int64_t step = static_cast<int64_t>(curve.size()) + 1;
        curve.push_back(StepValue{step, fate.curve[curve.size()]});
        t.value = curve.back().value;
        t.value_step = step;
      }
      if (curve.size() < fate.curve.size()) continue;
      t.ended_at = clock_;
      Event e;
      e.trial_id = t.id;
      e.time = clock_;
      if (fate.fails) {
        t.state = TrialState::kFailed;
        t.value.reset();
        t.error = "objective '" + config_.objective.metric + "' was nan at step " +
                  std::to_string(curve.size() + 1);
        e.type = events::kTrialFailed;
      } else {
        t.state = TrialState::kCompleted;
        e.type = events::kTrialCompleted;
      }
      recent_.push_back(e);
    }
  }

  ExperimentConfig config_;
  uint64_t seed_;
  double clock_ = 0;
  int64_t next_event_ = 1;
  std::map<int64_t, SimulatedTrial> fates_;
  std::vector<Event> recent_;
};

}  // namespace hyperion::testing
