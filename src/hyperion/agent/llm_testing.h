// Test helpers for the LLM agent's tests: an experiment with a small conditional space and a handful of
// trials in every state, and the AgentContext over them. Tests only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "hyperion/agent/agent.h"
#include "hyperion/experiment/config.h"

namespace hyperion::testing {

inline std::string LlmConfigText(const std::string& llm_section, bool training = false) {
  return std::string(R"(name: llmtest
command: [python3, train.py, --lr, "{lr}", --batch, "{batch}"]
objective: {metric: val_acc, mode: max}
space:
  lr: {type: float, low: 0.0001, high: 1, log: true}
  batch: {type: int, low: 16, high: 256}
  optimizer: [sgd, adam]
  momentum: {type: float, low: 0.0, high: 0.99, when: {optimizer: sgd}}
  width: {type: float, low: 0, high: 1, step: 0.25}
strategy: {type: llm}
)") + (training ? "training: {unit: epochs, max: 20}\n" : "") +
         "llm: " + llm_section + "\n";
}

// The experiment as an agent sees it. Trial ids are 100 + number.
struct LlmFixture {
  explicit LlmFixture(ExperimentConfig c, bool with_trials = true) : config(std::move(c)) {
    if (!with_trials) return;
    const bool spans = config.training.enabled();
    auto add = [&](int64_t number, TrialState state, Json params) -> Trial& {
      Trial t;
      t.id = 100 + number;
      t.number = number;
      t.state = state;
      t.params = std::move(params);
      if (spans) {
        t.budget_from = 0;
        t.budget_to = 5;
      }
      trials.push_back(t);
      return trials.back();
    };
    Trial& first =
        add(1, TrialState::kCompleted, {{"lr", 0.01}, {"batch", 64}, {"optimizer", "adam"}, {"width", 0.5}});
    first.value = 0.9;
    first.checkpoint_dir = "/tmp/ck1";
    Trial& failed =
        add(2, TrialState::kFailed,
            {{"lr", 0.9}, {"batch", 256}, {"optimizer", "sgd"}, {"momentum", 0.9}, {"width", 1.0}});
    failed.error = "exit code 1: CUDA out of memory. Tried to allocate 2.00 GiB";
    add(3, TrialState::kRunning, {{"lr", 0.001}, {"batch", 32}, {"optimizer", "adam"}, {"width", 0.25}});
    curves[103] = {{1, 0.5}, {2, 0.61}};
    Trial& branch =
        add(4, TrialState::kCompleted, {{"lr", 0.03}, {"batch", 64}, {"optimizer", "adam"}, {"width", 0.5}});
    branch.value = 0.95;
    branch.value_step = 20;
    branch.parents = {101};
    branch.op = "branch";
    branch.change_label = "lr x3";
    branch.checkpoint_dir = "/tmp/ck4";
  }

  AgentContext Context(int free_slots = 2) const {
    return AgentContext{config, trials, curves, decisions, notes, recent, 7, free_slots, 1, 10, 3600.0};
  }

  ExperimentConfig config;
  std::vector<Trial> trials;
  std::map<int64_t, std::vector<StepValue>> curves;
  std::vector<Event> decisions;
  std::vector<Note> notes;
  std::vector<Event> recent;
};

}  // namespace hyperion::testing
