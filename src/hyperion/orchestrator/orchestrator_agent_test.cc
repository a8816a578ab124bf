// How the orchestrator treats an agent's decisions: validation and rejection with the reason, the context
// the agent reads, stops and priorities, notes, and slow agents with a fallback. Real SQLite storage and
// real trial processes (/bin/sh); only the agent is scripted, since the agent's decisions are the input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "hyperion/common/clock.h"
#include "hyperion/executor/local_executor.h"
#include "hyperion/experiment/event_types.h"
#include "hyperion/orchestrator/orchestrator.h"

namespace hyperion {
namespace {

namespace fs = std::filesystem;

// An agent whose decisions a test writes; it counts its calls and keeps what it saw.
class ScriptedAgent : public Agent {
 public:
  using Script = std::function<AgentReply(const AgentContext&, int call)>;
  ScriptedAgent(std::string name, Script script, bool slow = false)
      : name_(std::move(name)), script_(std::move(script)), slow_(slow) {}
  std::string Name() const override { return name_; }
  AgentReply Decide(const AgentContext& context) override { return script_(context, ++calls); }
  bool Slow() const override { return slow_; }
  Agent* Fallback() override { return fallback; }
  double FallbackAfter() const override { return fallback_after; }
  void Cancel() override { cancelled = true; }

  int calls = 0;
  Agent* fallback = nullptr;
  double fallback_after = 0;
  std::atomic<bool> cancelled{false};

 private:
  std::string name_;
  Script script_;
  bool slow_;
};

Proposal At(double x, const std::string& why = "because the test says so (1)") {
  Proposal p;
  p.params = Json{{"x", x}};
  p.op = "model";
  p.rationale = why;
  p.evidence = Json{{"test", 1}};
  return p;
}

class OrchestratorAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hyperion-agent-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A config whose trials print loss = x after `seconds`.
  ExperimentConfig Config(int max_trials, int parallel, double seconds = 0) {
    std::string yaml =
        "name: scripted\n"
        "command: [/bin/sh, -c, 'sleep " +
        std::to_string(seconds) +
        "; echo loss={x}']\n"
        "objective: {metric: loss, mode: min}\n"
        "space:\n  x: {type: float, low: 0, high: 1}\n"
        "parallel: " +
        std::to_string(parallel) + "\nbudget: {max_trials: " + std::to_string(max_trials) + "}\n";
    auto config = ParseConfig(yaml, (dir_ / "exp.yaml").string());
    EXPECT_TRUE(config.ok()) << config.status().message();
    return *config;
  }

  std::unique_ptr<Storage> Open() {
    auto storage = OpenStorage((dir_ / "h.db").string());
    EXPECT_TRUE(storage.ok()) << storage.status().message();
    return std::move(storage).value();
  }

  Result<RunSummary> RunWith(ExperimentConfig config, std::unique_ptr<Agent> agent, bool resume = false) {
    RunSettings settings;
    settings.config = std::move(config);
    settings.output_dir = (dir_ / "runs").string();
    settings.resume = resume;
    auto storage = Open();
    RunObserver quiet;
    Orchestrator orchestrator(settings, *storage, std::move(agent), std::make_unique<LocalExecutor>(), quiet);
    return orchestrator.Run();
  }

  std::vector<Event> EventsOf(const std::string& type) {
    auto storage = Open();
    auto experiment = storage->FindExperiment("scripted");
    EXPECT_TRUE(experiment.ok() && *experiment);
    auto events = storage->ListEvents((*experiment)->id, 0, 100000, {type});
    EXPECT_TRUE(events.ok());
    return *events;
  }

  std::vector<Trial> Trials() {
    auto storage = Open();
    auto experiment = storage->FindExperiment("scripted");
    auto trials = storage->ListTrials((*experiment)->id);
    EXPECT_TRUE(trials.ok());
    return *trials;
  }

  fs::path dir_;
};

TEST_F(OrchestratorAgentTest, InvalidDecisionsAreRejectedWithTheReasonAndShownToTheAgent) {
  std::vector<std::string> reasons_seen;
  int asked = 0;  // calls with a free slot
  auto agent = std::make_unique<ScriptedAgent>("scripted", [&](const AgentContext& c, int) {
    AgentReply reply;
    if (c.free_slots <= 0) return reply;
    const int call = ++asked;
    for (const auto& d : c.decisions)
      if (d.type == events::kDecisionRejected) reasons_seen.push_back(d.payload["reason"]);
    switch (call) {
      case 1:
        reply.proposals.push_back(At(5));
        break;  // outside [0, 1]
      case 2:
        reply.proposals.push_back(At(0.5));
        break;
      case 3:
        reply.proposals.push_back(At(0.5));
        break;  // a duplicate of #1
      case 4: {
        Proposal p = At(0.25);
        p.parents = {987654};  // no such trial
        reply.proposals.push_back(p);
        break;
      }
      case 5: {
        Proposal p = At(0.25);
        p.budget_from = 0;  // a span without a training budget
        p.budget_to = 3;
        reply.proposals.push_back(p);
        break;
      }
      default:
        reply.stop = StopDecision{"enough after 1 trial (test)", Json{{"trials", 1}}};
    }
    return reply;
  });
  auto summary = RunWith(Config(10, 1), std::move(agent));
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->end_reason, "enough after 1 trial (test)");
  EXPECT_EQ(asked, 6);

  auto rejected = EventsOf(events::kDecisionRejected);
  ASSERT_EQ(rejected.size(), 4u);
  EXPECT_NE(rejected[0].payload["reason"].get<std::string>().find("outside the space"), std::string::npos);
  EXPECT_EQ(rejected[0].payload["params"]["x"], 5);
  EXPECT_EQ(rejected[0].payload["agent"], "scripted");
  EXPECT_EQ(rejected[0].payload["decision"], "propose");
  EXPECT_NE(rejected[1].payload["reason"].get<std::string>().find("already ran"), std::string::npos);
  EXPECT_NE(rejected[2].payload["reason"].get<std::string>().find("987654"), std::string::npos);
  EXPECT_NE(rejected[3].payload["reason"].get<std::string>().find("training"), std::string::npos);
  // Each rejection reached the agent's next context.
  ASSERT_GE(reasons_seen.size(), 4u);
  EXPECT_EQ(reasons_seen.back(), rejected[3].payload["reason"]);

  auto trials = Trials();
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].params["x"], 0.5);
  EXPECT_EQ(trials[0].state, TrialState::kCompleted);
  auto proposed = EventsOf(events::kTrialProposed);
  ASSERT_EQ(proposed.size(), 1u);
  EXPECT_EQ(proposed[0].payload["agent"], "scripted");
  EXPECT_EQ(proposed[0].payload["evidence"]["test"], 1);
  auto stopped = EventsOf(events::kAgentStopped);
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].payload["rationale"], "enough after 1 trial (test)");
  EXPECT_EQ(stopped[0].payload["evidence"]["trials"], 1);
}

TEST_F(OrchestratorAgentTest, AnAgentWhoseProposalsAreAllRejectedIsStopped) {
  auto agent = std::make_unique<ScriptedAgent>("stubborn", [](const AgentContext& c, int) {
    AgentReply reply;
    if (c.free_slots > 0) reply.proposals.push_back(At(-1));
    return reply;
  });
  auto summary = RunWith(Config(10, 2), std::move(agent));
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_NE(summary->end_reason.find("last 5 proposals were all rejected"), std::string::npos)
      << summary->end_reason;
  EXPECT_EQ(EventsOf(events::kDecisionRejected).size(), 5u);
  EXPECT_TRUE(Trials().empty());
}

TEST_F(OrchestratorAgentTest, TheContextHoldsCurvesEventsDecisionsAndBudget) {
  std::optional<int64_t> trials_left_at_second;
  std::vector<StepValue> curve_of_first;
  std::vector<std::string> recent_types;
  size_t decisions_at_second = 0;
  auto agent = std::make_unique<ScriptedAgent>("scripted", [&](const AgentContext& c, int) {
    AgentReply reply;
    if (c.free_slots <= 0) return reply;
    if (c.trials.size() == 1) {
      trials_left_at_second = c.trials_left;
      curve_of_first =
          c.curves.count(c.trials[0].id) ? c.curves.at(c.trials[0].id) : std::vector<StepValue>{};
      for (const auto& e : c.recent) recent_types.push_back(e.type);
      decisions_at_second = c.decisions.size();
    }
    reply.proposals.push_back(At(c.trials.empty() ? 0.75 : 0.125));
    return reply;
  });
  auto summary = RunWith(Config(2, 1), std::move(agent));
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(trials_left_at_second, 1);
  ASSERT_EQ(curve_of_first.size(), 1u);
  EXPECT_DOUBLE_EQ(curve_of_first[0].value, 0.75);
  EXPECT_NE(std::find(recent_types.begin(), recent_types.end(), events::kTrialCompleted), recent_types.end());
  EXPECT_EQ(decisions_at_second, 0u);  // proposals are the trials themselves
  EXPECT_EQ(summary->end_reason, "budget reached: 2 trials");
  EXPECT_EQ(EventsOf(events::kBudgetReached).size(), 1u);
}

TEST_F(OrchestratorAgentTest, APrioritisedTrialStartsFirst) {
  auto agent = std::make_unique<ScriptedAgent>("scripted", [](const AgentContext& c, int) {
    AgentReply reply;
    if (c.trials.empty()) {
      for (double x : {0.1, 0.2, 0.3, 0.4}) reply.proposals.push_back(At(x));  // one runs, three wait
      return reply;
    }
    for (const auto& t : c.trials) {
      if (t.number == 4 && t.state == TrialState::kPending && t.priority == 0)
        reply.priorities.push_back(
            PriorityDecision{t.id, 5, "#4 looks most promising (0.4)", Json{{"x", 0.4}}});
    }
    return reply;
  });
  auto summary = RunWith(Config(4, 1, 1.2), std::move(agent));
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  auto trials = Trials();
  ASSERT_EQ(trials.size(), 4u);
  for (const auto& t : trials) ASSERT_EQ(t.state, TrialState::kCompleted) << t.number;
  EXPECT_LT(*trials[3].started_at, *trials[2].started_at);  // #4 jumped ahead of #3
  auto prioritised = EventsOf(events::kTrialPrioritised);
  ASSERT_EQ(prioritised.size(), 1u);
  EXPECT_EQ(prioritised[0].payload["number"], 4);
  EXPECT_EQ(prioritised[0].payload["priority"], 5);
  EXPECT_EQ(prioritised[0].payload["rationale"], "#4 looks most promising (0.4)");
}

TEST_F(OrchestratorAgentTest, PrunesOfCompletedAndUnknownTrials) {
  auto agent = std::make_unique<ScriptedAgent>("scripted", [](const AgentContext& c, int) {
    AgentReply reply;
    if (c.free_slots <= 0) return reply;
    if (c.trials.size() == 1) {
      reply.prunes.push_back(PruneDecision{c.trials[0].id, "#1 is a dead end (0.9)", Json{{"value", 0.9}}});
      reply.prunes.push_back(PruneDecision{424242, "no such trial", Json::object()});
    }
    reply.proposals.push_back(At(c.trials.empty() ? 0.9 : 0.3));
    return reply;
  });
  auto summary = RunWith(Config(2, 1), std::move(agent));
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  auto trials = Trials();
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0].state, TrialState::kPruned);
  EXPECT_EQ(trials[0].value, 0.9);  // a pruned trial keeps the value it reached
  EXPECT_EQ(summary->best->number, 2);
  auto pruned = EventsOf(events::kTrialPruned);
  ASSERT_EQ(pruned.size(), 1u);
  EXPECT_EQ(pruned[0].payload["source"], "scripted");
  EXPECT_EQ(pruned[0].payload["reason"], "#1 is a dead end (0.9)");
  auto rejected = EventsOf(events::kDecisionRejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].payload["decision"], "prune");
}

TEST_F(OrchestratorAgentTest, NotesAreAcknowledgedOnceAndRememberedAcrossResumes) {
  auto first = std::make_unique<ScriptedAgent>("scripted", [](const AgentContext& c, int) {
    AgentReply reply;
    if (c.free_slots > 0) reply.proposals.push_back(At(0.5));
    return reply;
  });
  ASSERT_TRUE(RunWith(Config(1, 1), std::move(first)).ok());
  int64_t note_id = 0;
  {
    auto storage = Open();
    auto experiment = storage->FindExperiment("scripted");
    Event note;
    note.experiment_id = (*experiment)->id;
    note.time = WallSeconds();
    note.type = events::kNote;
    note.payload = Json{{"text", "try x near 0.2"}};
    note_id = *storage->AppendEvent(note);
  }
  std::vector<Note> seen_second;
  auto second = std::make_unique<ScriptedAgent>("scripted", [&](const AgentContext& c, int) {
    AgentReply reply;
    if (c.free_slots <= 0) return reply;
    seen_second = c.notes;
    Proposal p = At(0.2, "Your note 'try x near 0.2' was read: trying x = 0.2 (1 note)");
    for (const auto& n : c.notes)
      if (!n.acknowledged) reply.acknowledged_notes.push_back(n.event_id);
    reply.proposals.push_back(p);
    return reply;
  });
  ASSERT_TRUE(RunWith(Config(2, 1), std::move(second), /*resume=*/true).ok());
  ASSERT_EQ(seen_second.size(), 1u);
  EXPECT_EQ(seen_second[0].text, "try x near 0.2");
  EXPECT_FALSE(seen_second[0].acknowledged);
  auto proposed = EventsOf(events::kTrialProposed);
  ASSERT_EQ(proposed.size(), 2u);
  EXPECT_EQ(proposed[1].payload["notes"], Json::array({note_id}));

  std::vector<Note> seen_third;
  auto third = std::make_unique<ScriptedAgent>("scripted", [&](const AgentContext& c, int) {
    AgentReply reply;
    if (c.free_slots <= 0) return reply;
    seen_third = c.notes;
    reply.proposals.push_back(At(0.7));
    return reply;
  });
  ASSERT_TRUE(RunWith(Config(3, 1), std::move(third), /*resume=*/true).ok());
  ASSERT_EQ(seen_third.size(), 1u);
  EXPECT_TRUE(seen_third[0].acknowledged);
}

TEST_F(OrchestratorAgentTest, ASlowAgentsFreeSlotsAreFilledByItsFallbackAndTheRunDoesNotWaitForIt) {
  auto fallback = std::make_unique<ScriptedAgent>("analyst", [](const AgentContext& c, int call) {
    AgentReply reply;
    if (c.free_slots > 0) reply.proposals.push_back(At(0.01 * call, "fallback pick " + std::to_string(call)));
    return reply;
  });
  std::atomic<bool>* cancelled = nullptr;
  auto slow = std::make_unique<ScriptedAgent>(
      "llm",
      [&](const AgentContext&, int) {
        // Thinks for up to 30 s, unless the run is stopping.
        for (int i = 0; i < 3000 && !*cancelled; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        AgentReply reply;
        reply.proposals.push_back(At(0.9, "late idea"));
        return reply;
      },
      /*slow=*/true);
  slow->fallback = fallback.get();
  slow->fallback_after = 0.2;
  cancelled = &slow->cancelled;
  double started = MonotonicSeconds();
  auto summary = RunWith(Config(4, 2, 0.3), std::move(slow));
  double took = MonotonicSeconds() - started;
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->end_reason, "budget reached: 4 trials");
  EXPECT_LT(took, 20);  // far less than the slow agent's 30 s: the run did not wait for it
  auto proposed = EventsOf(events::kTrialProposed);
  ASSERT_EQ(proposed.size(), 4u);
  for (const auto& e : proposed) {
    std::string by = e.payload["agent"];
    EXPECT_EQ(by.rfind("analyst (fallback: llm had not answered after", 0), 0u) << by;
  }
  EXPECT_GE(EventsOf(events::kAgentFallback).size(), 2u);
  EXPECT_TRUE(EventsOf(events::kDecisionRejected).empty());  // the spent budget stops the fallback cleanly
}

TEST_F(OrchestratorAgentTest, ASlowAgentThatAnswersInTimeDecidesEveryTrial) {
  auto fallback = std::make_unique<ScriptedAgent>("analyst", [](const AgentContext& c, int) {
    AgentReply reply;
    if (c.free_slots > 0) reply.proposals.push_back(At(0.99, "fallback"));
    return reply;
  });
  auto slow = std::make_unique<ScriptedAgent>(
      "llm",
      [](const AgentContext& c, int call) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        AgentReply reply;
        EXPECT_GE(c.free_slots, 1);
        reply.proposals.push_back(At(0.1 * call, "llm pick " + std::to_string(call)));
        Json exchange{{"model", "stand-in"}, {"status", "ok"}, {"latency_s", 0.2}};
        reply.exchanges.push_back(exchange);
        return reply;
      },
      /*slow=*/true);
  slow->fallback = fallback.get();
  slow->fallback_after = 30;
  auto summary = RunWith(Config(3, 1, 0.1), std::move(slow));
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  auto trials = Trials();
  ASSERT_EQ(trials.size(), 3u);
  for (const auto& t : trials) EXPECT_EQ(t.rationale.rfind("llm pick", 0), 0u) << t.rationale;
  auto proposed = EventsOf(events::kTrialProposed);
  for (const auto& e : proposed) EXPECT_EQ(e.payload["agent"], "llm");
  EXPECT_TRUE(EventsOf(events::kAgentFallback).empty());
  auto exchanges = EventsOf(events::kAgentExchange);
  ASSERT_GE(exchanges.size(), 3u);
  EXPECT_EQ(exchanges[0].payload["model"], "stand-in");
  EXPECT_EQ(exchanges[0].payload["agent"], "llm");
}

}  // namespace
}  // namespace hyperion
