#include "hyperion/agent/llm_prompt.h"

#include <gtest/gtest.h>

#include <cctype>

#include "hyperion/agent/llm_reply.h"
#include "hyperion/agent/llm_testing.h"
#include "hyperion/experiment/event_types.h"

namespace hyperion {
namespace {

using testing::LlmConfigText;
using testing::LlmFixture;

ExperimentConfig Config(bool training = false) {
  auto config = ParseConfig(LlmConfigText("{endpoint: http://127.0.0.1:9/v1, model: test-model}", training),
                            "/tmp/llm.yaml");
  EXPECT_TRUE(config.ok()) << config.status().message();
  return *config;
}

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Insight SomeInsight() {
  Insight insight;
  insight.phase = "model-based";
  insight.importance = {{"lr", 0.7}, {"batch", 0.3}};
  insight.bad_regions = {"lr >= 0.3 diverged in 1 of 1 trials"};
  Proposal suggestion;
  suggestion.params = {{"lr", 0.02}, {"batch", 64}, {"optimizer", "adam"}, {"width", 0.5}};
  suggestion.parents = {104};
  suggestion.op = "branch";
  suggestion.rationale = "lr near #4's 0.03 did best";
  insight.suggestions = {suggestion};
  return insight;
}

TEST(LlmPrompt, HoldsTaskSpaceHistoryInsightAndBudget) {
  LlmFixture f(Config());
  Json messages = BuildLlmMessages(f.Context(2), SomeInsight(), 2);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0]["role"], "system");
  EXPECT_EQ(messages[1]["role"], "user");
  const std::string user = messages[1]["content"];
  EXPECT_TRUE(Has(user, "Experiment \"llmtest\" runs: python3 train.py --lr {lr} --batch {batch}")) << user;
  EXPECT_TRUE(Has(user, "Objective: maximize val_acc (a trial's value is the metric at its last report)"));
  EXPECT_TRUE(Has(user, "Each trial is a whole training run."));
  EXPECT_TRUE(Has(user, "- lr: float in [1e-04, 1], log scale\n"));
  EXPECT_TRUE(Has(user, "- batch: int in [16, 256]\n"));
  EXPECT_TRUE(Has(user, "- optimizer: one of \"sgd\", \"adam\"\n"));
  EXPECT_TRUE(Has(user, "- momentum: float in [0, 0.99]; only when optimizer is \"sgd\""));
  EXPECT_TRUE(Has(user, "- width: float in [0, 1], step 0.25\n"));
  // The history across branches, best first.
  EXPECT_TRUE(Has(user, "4 trials: 2 completed, 1 failed, 1 running."));
  const size_t best = user.find("#4 completed value=0.95 (step 20)");
  const size_t second = user.find("#1 completed value=0.9 ");
  ASSERT_NE(best, std::string::npos) << user;
  ASSERT_NE(second, std::string::npos);
  EXPECT_LT(best, second);
  EXPECT_TRUE(Has(user, "op=branch from #1 change=\"lr x3\""));
  EXPECT_TRUE(Has(user, "#2 failed params={\"lr\":0.9,"));
  EXPECT_TRUE(Has(user, "error=\"exit code 1: CUDA out of memory. Tried to allocate 2.00 GiB\""));
  EXPECT_TRUE(Has(user, "#3 running latest val_acc=0.61 at step 2 (2 reports)"));
  // The analyst's view.
  EXPECT_TRUE(Has(user, "Phase: model-based"));
  EXPECT_TRUE(Has(user, "Parameter importance (shares, most first): lr 0.7, batch 0.3"));
  EXPECT_TRUE(Has(user, "- lr >= 0.3 diverged in 1 of 1 trials"));
  EXPECT_TRUE(
      Has(user,
          "1. params={\"lr\":0.02,\"batch\":64,\"optimizer\":\"adam\",\"width\":0.5} op=branch from #4: "
          "lr near #4's 0.03 did best"));
  EXPECT_TRUE(Has(user, "Free slots: 2. Running: 1. Trials left in the budget: 10. Time left: 1h 00m."));
  EXPECT_TRUE(Has(user, "propose up to 2 trials"));
  EXPECT_FALSE(Has(user, "## Notes")) << "no notes, no section";
  EXPECT_FALSE(Has(user, "rejected")) << "no rejected decisions, no section";
}

TEST(LlmPrompt, SystemMessageStatesRulesAndSchema) {
  LlmFixture f(Config());
  const std::string system = BuildLlmMessages(f.Context(), Insight{}, 1)[0]["content"];
  EXPECT_TRUE(Has(system, "Stay inside the space"));
  EXPECT_TRUE(Has(system, "Never propose a fresh trial whose params equal an existing trial's"));
  EXPECT_TRUE(Has(system, "cite the evidence"));
  EXPECT_TRUE(Has(system, "\"lr\":{\"type\":\"number\",\"minimum\":0.0001,\"maximum\":1.0}")) << system;
  EXPECT_FALSE(Has(system, "budget_to")) << "no training budget";
  const std::string with_training =
      BuildLlmMessages(LlmFixture(Config(true)).Context(), Insight{}, 1)[0]["content"];
  EXPECT_TRUE(Has(with_training, "budget_to (optional, in epochs, at most 20)"));
}

TEST(LlmPrompt, SchemaCarriesBoundsAndChoices) {
  Json schema = LlmReplySchema(Config().space, false);
  const Json& params = schema["properties"]["decisions"]["items"]["properties"]["params"];
  EXPECT_EQ(params["properties"]["lr"]["minimum"], 0.0001);
  EXPECT_EQ(params["properties"]["batch"]["type"], "integer");
  EXPECT_EQ(params["properties"]["batch"]["maximum"], 256);
  EXPECT_EQ(params["properties"]["optimizer"]["enum"], Json({"sgd", "adam"}));
  EXPECT_EQ(params["properties"]["width"]["multipleOf"], 0.25) << "a step grid through zero";
  EXPECT_FALSE(params["properties"]["lr"].contains("multipleOf"));
  EXPECT_EQ(params["additionalProperties"], false);
  EXPECT_EQ(schema["required"], Json({"decisions"}));
}

TEST(LlmPrompt, HistoryIsCappedAndSaysWhatWasLeftOut) {
  LlmFixture f(Config(), false);
  for (int n = 1; n <= 40; ++n) {
    Trial t;
    t.id = 100 + n;
    t.number = n;
    t.state = n % 10 == 0 ? TrialState::kFailed : TrialState::kCompleted;
    t.params = {{"lr", 0.001 * n}, {"batch", 16 + n}, {"optimizer", "adam"}, {"width", 0.5}};
    if (t.state == TrialState::kCompleted) t.value = n == 7 ? 0.99 : 0.5 + 0.001 * n;
    f.trials.push_back(t);
  }
  PromptLimits limits;
  limits.best = 3;
  limits.recent = 4;
  const std::string user = BuildLlmMessages(f.Context(), Insight{}, 1, limits)[1]["content"];
  EXPECT_TRUE(Has(user, "40 trials: 36 completed, 4 failed.")) << user;
  EXPECT_TRUE(Has(user,
                  "Not listed: 33 trials (30 completed, 3 failed), neither among the best 3 nor the 4 most "
                  "recent."))
      << user;
  size_t lines = 0;
  for (size_t at = user.find("\n#"); at != std::string::npos; at = user.find("\n#", at + 1))
    if (std::isdigit(static_cast<unsigned char>(user[at + 2]))) ++lines;
  EXPECT_EQ(lines, 7u);
  const size_t seven = user.find("#7 completed value=0.99");
  ASSERT_NE(seven, std::string::npos);
  EXPECT_LT(seven, user.find("#39 completed")) << "the best first, then the recent ones";
  EXPECT_TRUE(Has(user, "#40 failed"));
  EXPECT_FALSE(Has(user, "#20 failed"));
}

TEST(LlmPrompt, RejectedDecisionsAndUnansweredNotes) {
  LlmFixture f(Config());
  Event rejected;
  rejected.type = events::kDecisionRejected;
  rejected.payload = {
      {"reason", "lr=5 is above the high bound 1"}, {"action", "propose"}, {"params", {{"lr", 5}}}};
  Event proposed;
  proposed.type = events::kTrialProposed;
  proposed.payload = {{"number", 4}};
  f.decisions = {proposed, rejected};
  f.notes = {Note{41, 1.0, "old hint", true}, Note{42, 2.0, "try larger batch sizes", false}};
  const std::string user = BuildLlmMessages(f.Context(), Insight{}, 1)[1]["content"];
  EXPECT_TRUE(
      Has(user, "- lr=5 is above the high bound 1; decision: {\"action\":\"propose\",\"params\":{\"lr\":5}}"))
      << user;
  EXPECT_TRUE(Has(user, "- note 42: \"try larger batch sizes\""));
  EXPECT_FALSE(Has(user, "old hint")) << "acknowledged notes are not asked about again";
}

TEST(LlmPrompt, RetryMessageCarriesEachReason) {
  std::string m = RetryMessage({"decision 2 rejected: unknown parameter 'lrr'; did you mean 'lr'?"}, 1, 1);
  EXPECT_TRUE(Has(m, "- decision 2 rejected: unknown parameter 'lrr'; did you mean 'lr'?\n"));
  EXPECT_TRUE(Has(m, "1 other decision was accepted and will be applied; do not repeat it."));
  EXPECT_TRUE(Has(m, "(up to 1 proposal)"));
}

// ---- Reading replies

TEST(LlmReply, FindsTheJsonObjectInTheText) {
  auto plain = ExtractReplyJson(R"({"decisions": []})");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE((*plain)["decisions"].is_array());
  auto fenced =
      ExtractReplyJson("Sure! Here you go:\n```json\n{\"decisions\": [{\"action\": \"stop\"}]}\n```\nBye");
  ASSERT_TRUE(fenced.ok()) << fenced.status().message();
  EXPECT_EQ((*fenced)["decisions"][0]["action"], "stop");
  auto around = ExtractReplyJson("My answer {\"decisions\": [{\"rationale\": \"a } in text\"}]} as asked.");
  ASSERT_TRUE(around.ok()) << around.status().message();
  EXPECT_EQ((*around)["decisions"][0]["rationale"], "a } in text");
  auto bare_list = ExtractReplyJson(R"([{"action": "stop", "rationale": "done"}])");
  ASSERT_TRUE(bare_list.ok());
  EXPECT_EQ((*bare_list)["decisions"][0]["action"], "stop");
  auto broken = ExtractReplyJson("decisions: propose lr=0.1 {not json");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().message(), "the reply is not JSON: \"decisions: propose lr=0.1 {not json\"");
  EXPECT_EQ(ExtractReplyJson("  \n").status().message(), "the reply is empty");
}

TEST(LlmReply, RefusalsAreToldFromOtherText) {
  EXPECT_TRUE(LooksLikeRefusal("I cannot help with that."));
  EXPECT_TRUE(LooksLikeRefusal("I'm sorry, but I can't assist with this request."));
  EXPECT_FALSE(LooksLikeRefusal("decisions: propose lr=0.1 {not json"));
}

CheckedReply Check(const LlmFixture& f, const std::string& reply_text, int wanted = 2) {
  auto reply = ParseJson(reply_text, "test reply");
  EXPECT_TRUE(reply.ok()) << reply_text;
  auto checked = CheckReply(*reply, f.Context(wanted), ReplySource{"test-model", 3}, wanted);
  EXPECT_TRUE(checked.ok()) << checked.status().message();
  return checked.ok() ? *checked : CheckedReply{};
}

TEST(LlmReply, AValidProposalBecomesAProposalWithRationaleAndEvidence) {
  LlmFixture f(Config());
  CheckedReply r = Check(f, R"({"decisions": [{"action": "propose",
      "params": {"width": 0.75, "optimizer": "sgd", "momentum": 0.9, "batch": 128, "lr": 0.005},
      "rationale": "#4 (0.95) beat #1 (0.9) with a larger lr", "evidence": {"trials": [4, 1]}}]})");
  ASSERT_EQ(r.proposals.size(), 1u) << (r.rejected.empty() ? "" : r.rejected[0]);
  EXPECT_TRUE(r.rejected.empty());
  const Proposal& p = r.proposals[0];
  EXPECT_EQ(p.params.dump(), R"({"lr":0.005,"batch":128,"optimizer":"sgd","momentum":0.9,"width":0.75})")
      << "rebuilt in the space's order";
  EXPECT_EQ(p.op, "model");
  EXPECT_TRUE(p.parents.empty());
  EXPECT_EQ(p.rationale, "LLM test-model: #4 (0.95) beat #1 (0.9) with a larger lr");
  EXPECT_EQ(p.evidence["trials"], Json({4, 1}));
  EXPECT_EQ(p.evidence["llm"], Json({{"model", "test-model"}, {"exchange", 3}, {"decision", 1}}));
  EXPECT_FALSE(p.budget_from.has_value());
  EXPECT_TRUE(f.config.space.Validate(p.params).ok());
}

TEST(LlmReply, NumbersOutsideTheBoundsAreClampedAndTheRationaleSaysSo) {
  LlmFixture f(Config());
  CheckedReply r = Check(f, R"({"decisions": [{"action": "propose",
      "params": {"lr": 3, "batch": 300.4, "optimizer": "adam", "width": 0.3},
      "rationale": "explore high lr"}]})");
  ASSERT_EQ(r.proposals.size(), 1u) << (r.rejected.empty() ? "" : r.rejected[0]);
  const Proposal& p = r.proposals[0];
  EXPECT_EQ(p.params["lr"], 1.0);
  EXPECT_TRUE(p.params["lr"].is_number_float()) << "a float stays a float when the model wrote 3";
  EXPECT_EQ(p.params["batch"], 256);
  EXPECT_TRUE(p.params["batch"].is_number_integer());
  EXPECT_EQ(p.params["width"], 0.25);
  EXPECT_EQ(p.rationale,
            "LLM test-model: explore high lr (lr clamped from 3 to 1) (batch clamped from 300.4 to 256) "
            "(width moved "
            "from 0.3 to 0.25, onto its step 0.25)");
}

TEST(LlmReply, QuotedNumbersAndChoicesAreReadAsMeant) {
  LlmFixture f(Config());
  CheckedReply r = Check(f, R"({"decisions": [{"action": "propose",
      "params": {"lr": "0.002", "batch": 48.0, "optimizer": "adam", "width": 1},
      "rationale": "a quoted number"}]})");
  ASSERT_EQ(r.proposals.size(), 1u) << (r.rejected.empty() ? "" : r.rejected[0]);
  EXPECT_EQ(r.proposals[0].params.dump(), R"({"lr":0.002,"batch":48,"optimizer":"adam","width":1.0})");
  EXPECT_EQ(r.proposals[0].rationale, "LLM test-model: a quoted number");
}

TEST(LlmReply, InvalidDecisionsAreRejectedWithReasonsAModelCanUse) {
  LlmFixture f(Config());
  CheckedReply r = Check(f, R"({"decisions": [
      {"action": "propose", "params": {"lrr": 0.1, "batch": 32, "optimizer": "adam", "width": 0}, "rationale": "x"},
      {"action": "propose", "params": {"lr": 0.1, "batch": 32, "optimizer": "rmsprop", "width": 0}, "rationale": "x"},
      {"action": "propose", "params": {"lr": 0.01, "batch": 64, "optimizer": "adam", "width": 0.5}, "rationale": "x"},
      {"action": "propose", "params": {"lr": 0.1}, "parents": [99], "rationale": "x"},
      {"action": "propose", "params": {"lr": 0.1, "batch": 32, "optimizer": "sgd", "width": 0}, "rationale": "x"},
      {"action": "propose", "params": {"lr": 0.1, "batch": 32, "optimizer": "adam", "width": 0}},
      {"action": "launch", "rationale": "x"},
      {"action": "propose", "params": {"lr": "high", "batch": 32, "optimizer": "adam", "width": 0}, "rationale": "x"}
  ]})",
                         8);
  EXPECT_TRUE(r.proposals.empty());
  EXPECT_EQ(r.decisions, 8);
  ASSERT_EQ(r.rejected.size(), 8u);
  EXPECT_EQ(r.rejected[0],
            "decision 1 rejected: unknown parameter 'lrr'; did you mean 'lr'? The parameters are: lr, batch, "
            "optimizer, momentum, width");
  EXPECT_EQ(r.rejected[1],
            "decision 2 rejected: optimizer=\"rmsprop\" is not one of the choices: \"sgd\", \"adam\"");
  EXPECT_EQ(r.rejected[2],
            "decision 3 rejected: its params repeat trial #1's; propose an unseen point, or branch from #1");
  EXPECT_EQ(r.rejected[3],
            "decision 4 rejected: parent #99 is not a trial of this experiment (trials are #1..#4)");
  EXPECT_EQ(r.rejected[4],
            "decision 5 rejected: parameter 'momentum' is missing (its condition holds for these values)");
  EXPECT_EQ(r.rejected[5],
            "decision 6 rejected: it has no rationale; say why, citing trial numbers and values");
  EXPECT_EQ(r.rejected[6], "decision 7 rejected: unknown action 'launch'; use propose, prune or stop");
  EXPECT_EQ(r.rejected[7], "decision 8 rejected: lr=\"high\" is not a number");
}

TEST(LlmReply, RepeatsWithinAReplyOrOfAnEarlierAttemptAreRefused) {
  LlmFixture f(Config());
  const std::string one = R"({"action": "propose", "params": {"lr": 0.2, "batch": 100, "optimizer": "adam",
      "width": 0}, "rationale": "x"})";
  CheckedReply r = Check(f, "{\"decisions\": [" + one + ", " + one + "]}");
  ASSERT_EQ(r.proposals.size(), 1u);
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.rejected[0], "decision 2 rejected: repeats another proposal of this reply");
  // A retry that repeats what the first reply already got accepted.
  auto again = CheckReply(*ParseJson("{\"decisions\": [" + one + "]}", "t"), f.Context(2),
                          ReplySource{"m", 1}, 2, r.proposals);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->proposals.empty());
  ASSERT_EQ(again->rejected.size(), 1u);
}

TEST(LlmReply, ABranchTakesWhatItLeavesOutFromItsParent) {
  LlmFixture f(Config());
  CheckedReply r = Check(f, R"({"decisions": [
      {"action": "propose", "params": {"lr": 0.05}, "parents": [4], "rationale": "#4 gained from lr x3; once more"},
      {"action": "propose", "params": {"batch": 128}, "parents": ["#4", 1], "rationale": "merge"},
      {"action": "propose", "params": {"optimizer": "sgd", "momentum": 0.5}, "parents": [1], "operator": "mutate",
       "rationale": "sgd instead of adam"}]})",
                         3);
  ASSERT_EQ(r.proposals.size(), 3u) << (r.rejected.empty() ? "" : r.rejected[0]);
  const Proposal& branch = r.proposals[0];
  EXPECT_EQ(branch.params.dump(), R"({"lr":0.05,"batch":64,"optimizer":"adam","width":0.5})");
  EXPECT_EQ(branch.parents, std::vector<int64_t>{104}) << "trial numbers become ids";
  EXPECT_EQ(branch.op, "branch");
  EXPECT_EQ(branch.change_label, "lr x1.7");
  EXPECT_FALSE(branch.restore);
  const Proposal& merge = r.proposals[1];
  EXPECT_EQ(merge.parents, (std::vector<int64_t>{104, 101}));
  EXPECT_EQ(merge.op, "crossover");
  EXPECT_EQ(merge.change_label, "with #1: batch 64->128");
  EXPECT_EQ(r.proposals[2].op, "mutate");
  EXPECT_EQ(r.proposals[2].params["momentum"], 0.5);
}

TEST(LlmReply, InactiveParametersAreDroppedAndSaid) {
  LlmFixture f(Config());
  CheckedReply r = Check(f, R"({"decisions": [{"action": "propose",
      "params": {"lr": 0.3, "batch": 20, "optimizer": "adam", "momentum": 0.5, "width": 0}, "rationale": "x"}]})");
  ASSERT_EQ(r.proposals.size(), 1u) << (r.rejected.empty() ? "" : r.rejected[0]);
  EXPECT_FALSE(r.proposals[0].params.contains("momentum"));
  EXPECT_EQ(r.proposals[0].rationale, "LLM test-model: x (momentum left out: it is inactive here)");
}

TEST(LlmReply, RestoreNeedsAFinishedParentWithACheckpoint) {
  LlmFixture f(Config());
  f.trials[0].checkpoint_dir.clear();  // #1's checkpoint was removed by retention
  CheckedReply r = Check(f, R"({"decisions": [
      {"action": "propose", "params": {}, "parents": [3], "restore": true, "rationale": "continue #3"},
      {"action": "propose", "params": {}, "parents": [1], "restore": true, "rationale": "continue #1"},
      {"action": "propose", "params": {"lr": 0.2}, "restore": true, "rationale": "no parent"},
      {"action": "propose", "params": {}, "parents": [4], "rationale": "same as #4 from scratch"},
      {"action": "propose", "params": {}, "parents": [4], "restore": true, "rationale": "continue #4"}]})",
                         5);
  ASSERT_EQ(r.rejected.size(), 4u);
  EXPECT_EQ(
      r.rejected[0],
      "decision 1 rejected: restore from #3, which is running; only a completed trial has a checkpoint to "
      "continue");
  EXPECT_EQ(r.rejected[1], "decision 2 rejected: restore from #1, whose checkpoint was already removed");
  EXPECT_EQ(r.rejected[2], "decision 3 rejected: restore needs a parent whose checkpoint to continue");
  EXPECT_EQ(
      r.rejected[3],
      "decision 4 rejected: its params equal its parent #4's without restore, so it would repeat that run; "
      "change a value or restore");
  ASSERT_EQ(r.proposals.size(), 1u);
  EXPECT_TRUE(r.proposals[0].restore);
  EXPECT_EQ(r.proposals[0].change_label, "continue");
  EXPECT_EQ(r.proposals[0].parents, std::vector<int64_t>{104});
}

TEST(LlmReply, WithATrainingBudgetARestoreContinuesWhereItsParentStopped) {
  LlmFixture f(Config(true));
  f.trials[3].budget_to = 20;  // #4 trained a full run
  CheckedReply r = Check(f, R"({"decisions": [
      {"action": "propose", "params": {}, "parents": [1], "restore": true, "budget_to": 10, "rationale": "a"},
      {"action": "propose", "params": {"lr": 0.5}, "parents": [1], "restore": true, "budget_to": 50, "rationale": "b"},
      {"action": "propose", "params": {}, "parents": [4], "restore": true, "rationale": "c"},
      {"action": "propose", "params": {"lr": 0.4}, "parents": [1], "restore": true, "budget_to": 3, "rationale": "d"}
      ]})",
                         4);
  ASSERT_EQ(r.proposals.size(), 2u);
  EXPECT_EQ(r.proposals[0].budget_from, 5.0);
  EXPECT_EQ(r.proposals[0].budget_to, 10.0);
  EXPECT_EQ(r.proposals[1].budget_to, 20.0);
  EXPECT_EQ(r.proposals[1].rationale, "LLM test-model: b (budget_to clamped from 50 to 20)");
  ASSERT_EQ(r.rejected.size(), 2u);
  EXPECT_EQ(
      r.rejected[0],
      "decision 3 rejected: restore from #4, which already trained a full run (20 epochs); branch without "
      "restore instead");
  EXPECT_EQ(r.rejected[1],
            "decision 4 rejected: budget_to 3 is not beyond where the trial starts (5 epochs)");
}

TEST(LlmReply, PrunesAndStop) {
  LlmFixture f(Config());
  CheckedReply r = Check(f, R"({"decisions": [
      {"action": "prune", "trial": 3, "rationale": "#3 is at 0.61 at step 2, far below #4", "evidence": {"v": 0.61}},
      {"action": "prune", "trial": 2, "rationale": "x"},
      {"action": "prune", "trial": 12, "rationale": "x"},
      {"action": "stop", "rationale": "no gain in the last 3 trials"}]})");
  ASSERT_EQ(r.prunes.size(), 1u);
  EXPECT_EQ(r.prunes[0].trial_id, 103);
  EXPECT_EQ(r.prunes[0].rationale, "LLM test-model: #3 is at 0.61 at step 2, far below #4");
  EXPECT_EQ(r.prunes[0].evidence["v"], 0.61);
  ASSERT_EQ(r.rejected.size(), 2u);
  EXPECT_EQ(r.rejected[0],
            "decision 2 rejected: #2 already ended (failed); only running or completed trials can be "
            "pruned");
  EXPECT_EQ(r.rejected[1], "decision 3 rejected: #12 is not a trial of this experiment");
  ASSERT_TRUE(r.stop.has_value());
  EXPECT_EQ(r.stop->rationale, "LLM test-model: no gain in the last 3 trials");
}

TEST(LlmReply, ProposalsBeyondWhatWasAskedForAreIgnored) {
  LlmFixture f(Config());
  CheckedReply r = Check(f, R"({"decisions": [
      {"action": "propose", "params": {"lr": 0.2, "batch": 100, "optimizer": "adam", "width": 0}, "rationale": "a"},
      {"action": "propose", "params": {"lr": 0.3, "batch": 100, "optimizer": "adam", "width": 0}, "rationale": "b"}]})",
                         1);
  EXPECT_EQ(r.proposals.size(), 1u);
  EXPECT_TRUE(r.rejected.empty());
  ASSERT_EQ(r.ignored.size(), 1u);
  EXPECT_EQ(r.ignored[0], "decision 2 ignored: only 1 proposals were asked for");
}

TEST(LlmReply, NotesAreAcknowledgedOnlyWithADecisionThatMentionsThem) {
  LlmFixture f(Config());
  f.notes = {Note{41, 1.0, "old", true}, Note{42, 2.0, "try larger batch", false},
             Note{43, 3.0, "try sgd", false}};
  const std::string proposal =
      R"({"action": "propose", "params": {"lr": 0.2, "batch": 200, "optimizer": "adam",
      "width": 0}, "rationale": "larger batch as note 42 asks"})";
  CheckedReply r = Check(f, "{\"decisions\": [" + proposal + "], \"notes_acknowledged\": [43, 41, 99]}");
  EXPECT_EQ(r.acknowledged_notes, (std::vector<int64_t>{42, 43}));
  ASSERT_EQ(r.proposals.size(), 1u);
  EXPECT_EQ(r.proposals[0].rationale,
            "LLM test-model: larger batch as note 42 asks (note 43 taken into account)");
  CheckedReply none =
      Check(f, R"({"decisions": [{"action": "launch", "rationale": "x"}], "notes_acknowledged": [42]})");
  EXPECT_TRUE(none.acknowledged_notes.empty()) << "nothing accepted carries the acknowledgement";
}

TEST(LlmReply, AnObjectWithoutDecisionsIsNotAReply) {
  LlmFixture f(Config());
  auto r = CheckReply(Json{{"proposals", Json::array()}}, f.Context(), ReplySource{"m", 0}, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "the reply has no \"decisions\" list");
}

}  // namespace
}  // namespace hyperion
