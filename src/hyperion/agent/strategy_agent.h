// StrategyAgent: a search strategy (random, grid, tpe, gp, beam, pbt, evolution) seen as an agent. Each call
// with a free slot asks the strategy for one proposal; the orchestrator calls again while slots stay free,
// so every proposal sees the ones before it. A strategy's "exhausted" becomes a stop decision, its "wait"
// a wait reason, and its prunes pass through. Same threading as the strategy: the loop thread only.
#pragma once

#include <memory>

#include "hyperion/agent/agent.h"

namespace hyperion {

class StrategyAgent : public Agent {
 public:
  explicit StrategyAgent(std::unique_ptr<Strategy> strategy) : strategy_(std::move(strategy)) {}
  std::string Name() const override { return strategy_->Name(); }
  AgentReply Decide(const AgentContext& context) override;
  std::set<int64_t> Frontier(const AgentContext& context) const override {
    return strategy_->Frontier(context.ForStrategy());
  }

 private:
  std::unique_ptr<Strategy> strategy_;
};

}  // namespace hyperion
