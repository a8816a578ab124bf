#include "hyperion/cli/graph_view.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

namespace hyperion::cli {
namespace {

// Trial ids are number + 100 so that a mix-up of ids and numbers shows.
int64_t Id(int64_t number) { return number + 100; }

Trial Node(int64_t number, TrialState state, std::optional<double> value,
           std::vector<int64_t> parent_numbers = {}, std::string op = "sample", std::string label = "") {
  Trial t;
  t.id = Id(number);
  t.experiment_id = 1;
  t.number = number;
  t.state = state;
  t.value = value;
  for (int64_t p : parent_numbers) t.parents.push_back(Id(p));
  t.op = std::move(op);
  t.change_label = std::move(label);
  return t;
}

Trial Done(int64_t number, double value, std::vector<int64_t> parents = {}, std::string op = "sample",
           std::string label = "") {
  return Node(number, TrialState::kCompleted, value, std::move(parents), std::move(op), std::move(label));
}

Trial& Span(Trial& t, double from, double to) {
  t.budget_from = from;
  t.budget_to = to;
  return t;
}

Event MakeEvent(int64_t id, int64_t number, std::string type, Json payload, double time = 1000) {
  Event e;
  e.id = id;
  e.experiment_id = 1;
  e.trial_id = Id(number);
  e.time = time;
  e.type = std::move(type);
  payload["number"] = number;
  e.payload = std::move(payload);
  return e;
}

GraphData Data(std::vector<Trial> trials, std::vector<Event> events = {},
               ObjectiveMode mode = ObjectiveMode::kMinimize) {
  GraphData data;
  data.experiment.id = 1;
  data.experiment.name = "demo";
  data.experiment.objective_metric = "loss";
  data.experiment.objective_mode = mode;
  data.experiment.strategy = "beam";
  data.experiment.config = Json{{"training", Json{{"unit", "epochs"}, {"max", 20}}}};
  data.trials = std::move(trials);
  data.events = std::move(events);
  return data;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

size_t Width(const std::string& line) {
  size_t n = 0;
  for (unsigned char c : line) n += (c & 0xC0) != 0x80;
  return n;
}

// #1 ─┬─ #2 ── #4        #5
//     └─ #3
GraphData ThreeLevels() {
  std::vector<Trial> trials = {Done(1, 0.5), Done(2, 0.4, {1}, "branch", "lr x3"),
                               Done(3, 0.45, {1}, "branch", "lr x0.5"),
                               Done(4, 0.3, {2}, "branch", "continue"), Done(5, 0.6)};
  Span(trials[0], 0, 5);
  Span(trials[1], 5, 10);
  Span(trials[2], 5, 10);
  Span(trials[3], 10, 15);
  return Data(trials);
}

TEST(TreeTest, ThreeLevelsFollowPrimaryParents) {
  EXPECT_EQ(RenderTree(ThreeLevels()),
            "experiment 'demo'  strategy beam  5 trials: 5 completed\n"
            "value: loss (min)  budget: epochs (a full run is 20)\n"
            "#1 ✓ 0.5  sample  epochs 0-5\n"
            "├─ #2 ✓ 0.4  branch  lr x3  epochs 5-10\n"
            "│  └─ #4 ✓ 0.3  branch  continue  epochs 10-15  ★ best\n"
            "└─ #3 ✓ 0.45  branch  lr x0.5  epochs 5-10\n"
            "#5 ✓ 0.6  sample\n"
            "best: #4 loss=0.3 (min); its lineage: hyperion trace 4\n");
}

TEST(TreeTest, OrderIsByNumberWhateverTheInputOrder) {
  GraphData data = ThreeLevels();
  std::string expected = RenderTree(data);
  std::reverse(data.trials.begin(), data.trials.end());
  EXPECT_EQ(RenderTree(data), expected);
  Json j = TreeJson(data);
  std::vector<int64_t> numbers;
  for (const auto& n : j["nodes"]) numbers.push_back(n["number"].get<int64_t>());
  EXPECT_EQ(numbers, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(j["nodes"][0]["children"], Json::array({2, 3}));
}

TEST(TreeTest, WithoutTrainingBudgetTheSpanSaysBudget) {
  GraphData data = ThreeLevels();
  data.experiment.config = Json{{"training", nullptr}};
  std::string text = RenderTree(data);
  EXPECT_NE(text.find("value: loss (min)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("#1 ✓ 0.5  sample  budget 0-5\n"), std::string::npos) << text;
}

TEST(TreeTest, MergeSitsUnderItsPrimaryParentAndIsReferencedUnderTheOther) {
  GraphData data =
      Data({Done(1, 0.5), Done(2, 0.4), Done(3, 0.2, {2, 1}, "crossover", "lr from #2 + wd from #1")});
  EXPECT_EQ(RenderTree(data),
            "experiment 'demo'  strategy beam  3 trials: 3 completed\n"
            "value: loss (min)  budget: epochs (a full run is 20)\n"
            "#1 ✓ 0.5  sample\n"
            "└─ -> #3 (merge)\n"
            "#2 ✓ 0.4  sample\n"
            "└─ #3 ✓ 0.2  crossover  lr from #2 + wd from #1  merge with #1  ★ best\n"
            "best: #3 loss=0.2 (min); its lineage: hyperion trace 3\n");
  Json j = TreeJson(data);
  EXPECT_EQ(j["edges"], Json::parse(R"([
    {"from": 2, "to": 3, "kind": "primary", "label": "lr from #2 + wd from #1"},
    {"from": 1, "to": 3, "kind": "merge", "label": "lr from #2 + wd from #1"}])"));
  EXPECT_EQ(j["nodes"][0]["children"], Json::array());
  EXPECT_EQ(j["nodes"][0]["merge_children"], Json::array({3}));
  EXPECT_EQ(j["nodes"][1]["children"], Json::array({3}));
  EXPECT_EQ(j["nodes"][2]["parent_numbers"], Json::array({2, 1}));
  EXPECT_EQ(j["nodes"][2]["parents"], Json::array({102, 101})) << "ids stay ids";
  EXPECT_EQ(j["nodes"][2]["depth"], 1);
}

TEST(TreeTest, PrunedNodesShowWhyAndAreNeverBest) {
  Trial dropped = Node(2, TrialState::kPruned, 0.1, {1}, "branch", "lr x3");  // a beam drop keeps its value
  dropped.error = "fell behind the beam (rank 4 of 3 kept)";
  Trial stopped =
      Node(3, TrialState::kPruned, std::nullopt, {1}, "branch", "lr x0.5");  // error empty: events
  Trial failed = Node(4, TrialState::kFailed, std::nullopt, {}, "sample");
  failed.error = "exit code 1: diverged";
  std::vector<Event> events = {
      MakeEvent(1, 3, "trial_promoted", Json{{"reason", "top 1/3 at epoch 1"}, {"source", "asha"}}),
      MakeEvent(2, 3, "trial_pruned",
                Json{{"reason", "0.9 at epoch 3 is below the top 1/3 (0.4)"},
                     {"source", "asha"},
                     {"evidence", Json{{"milestone", 3}}}})};
  GraphData data = Data({Done(1, 0.5), dropped, stopped, failed}, events);
  EXPECT_EQ(RenderTree(data),
            "experiment 'demo'  strategy beam  4 trials: 1 completed, 2 pruned, 1 failed\n"
            "value: loss (min)  budget: epochs (a full run is 20)\n"
            "#1 ✓ 0.5  sample  ★ best\n"
            "├─ #2 ✂ 0.1  branch  lr x3  (pruned: fell behind the beam (rank 4 of 3 kept))\n"
            "└─ #3 ✂ pruned  branch  lr x0.5  (0.9 at epoch 3 is below the top 1/3 (0.4))\n"
            "#4 ✗ failed  sample  (exit code 1: diverged)\n"
            "best: #1 loss=0.5 (min); its lineage: hyperion trace 1\n");
  Json j = TreeJson(data);
  EXPECT_EQ(j["best"], 1);
  EXPECT_EQ(j["nodes"][0]["pruned_reason"], nullptr);
  EXPECT_EQ(j["nodes"][1]["pruned_reason"], "fell behind the beam (rank 4 of 3 kept)");
  EXPECT_EQ(j["nodes"][2]["pruned_reason"], "0.9 at epoch 3 is below the top 1/3 (0.4)");
  EXPECT_EQ(j["counts"], Json::parse(R"({"completed": 1, "pruned": 2, "failed": 1})"));
}

TEST(TreeTest, LongReasonsAndLabelsAreClipped) {
  Trial t = Node(1, TrialState::kFailed, std::nullopt);
  t.error = std::string(200, 'x') + "\nsecond line";
  t.change_label = std::string(100, 'y');
  std::string line = Lines(RenderTree(Data({t})))[2];
  EXPECT_EQ(line, "#1 ✗ failed  sample  " + std::string(39, 'y') + "…  (" + std::string(59, 'x') + "…)");
}

TEST(TreeTest, ReasonsAreCutAtAWordWithAnEllipsis) {
  Trial t = Node(1, TrialState::kPruned, 0.912);
  t.error =
      "val_acc 0.912 at step 5 (first report past milestone 3) is outside the top 3 of 9 trials there (rank "
      "5; "
      "cut-off 0.951, best #4 0.968).";
  std::string line = Lines(RenderTree(Data({t})))[2];
  EXPECT_EQ(line,
            "#1 ✂ 0.912  sample  (pruned: val_acc 0.912 at step 5 (first report past milestone 3) is…)");
}

TEST(ClipTextTest, CutsAtWordsAndMarksTheCut) {
  EXPECT_EQ(ClipText("short enough", 12), "short enough");
  EXPECT_EQ(ClipText("two\nlines", 20), "two lines");
  // Never inside a number: back to the space before it, and no dangling "(" or ";".
  EXPECT_EQ(ClipText("is below the cut-off (0.951) there", 25), "is below the cut-off…");
  EXPECT_EQ(ClipText("rank 5; cut-off 0.951", 16), "rank 5; cut-off…");
  // A word that fills the width is cut where it is.
  EXPECT_EQ(ClipText(std::string(30, 'x'), 10), std::string(9, 'x') + "…");
  // Widths count characters, and a UTF-8 character is never split.
  EXPECT_EQ(ClipText("ééééé ééééé", 8), "ééééé…");
  EXPECT_EQ(ClipText("éééééééééé", 4), "ééé…");
}

TEST(FindTrialTest, NamesTheRangeItHas) {
  GraphData data = ThreeLevels();
  auto found = FindTrial(data.experiment, data.trials, 3);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ((*found)->number, 3);
  auto missing = FindTrial(data.experiment, data.trials, 42);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "experiment 'demo' has no trial #42; its trials are #1 to #5");
  EXPECT_EQ(FindTrial(data.experiment, {}, 1).status().message(), "experiment 'demo' has no trials yet");
}

TEST(SpanTextTest, UsesTheTrainingUnit) {
  Trial t = Done(1, 0.5);
  GraphData data = Data({});
  EXPECT_EQ(SpanText(t, data.experiment), "");
  Span(t, 5, 10);
  EXPECT_EQ(SpanText(t, data.experiment), "epochs 5-10");
  data.experiment.config = Json::object();
  EXPECT_EQ(SpanText(t, data.experiment), "budget 5-10");
}

TEST(TreeTest, BestTiesGoToTheEarliestAndFollowTheMode) {
  EXPECT_EQ(BestTrialNumber(Data({Done(1, 0.3), Done(2, 0.3), Done(3, 0.7)})), 1);
  EXPECT_EQ(BestTrialNumber(Data({Done(1, 0.3), Done(2, 0.3), Done(3, 0.7)}, {}, ObjectiveMode::kMaximize)),
            3);
  EXPECT_EQ(BestTrialNumber(Data({Done(1, std::nan("")), Done(2, 0.9)})), 2) << "NaN is never best";
  GraphData none = Data({Node(1, TrialState::kRunning, std::nullopt)});
  EXPECT_EQ(BestTrialNumber(none), std::nullopt);
  EXPECT_EQ(TreeJson(none)["best"], nullptr);
  EXPECT_NE(RenderTree(none).find("#1 ▸ running  sample\nbest: none (no completed trial)\n"),
            std::string::npos);
}

TEST(TreeTest, JsonShape) {
  GraphData data = ThreeLevels();
  data.trials[3].restore_from = "/runs/trial-0002/checkpoint";
  data.trials[3].checkpoint_dir = "/runs/trial-0004/checkpoint";
  Json j = TreeJson(data);
  EXPECT_EQ(j["experiment"], "demo");
  EXPECT_EQ(j["strategy"], "beam");
  EXPECT_EQ(j["objective"], Json::parse(R"({"metric": "loss", "mode": "min"})"));
  EXPECT_EQ(j["training"], Json::parse(R"({"unit": "epochs", "max": 20})"));
  EXPECT_EQ(j["best"], 4);
  ASSERT_EQ(j["nodes"].size(), 5u);
  const Json& n4 = j["nodes"][3];
  EXPECT_EQ(n4["number"], 4);
  EXPECT_EQ(n4["id"], 104);
  EXPECT_EQ(n4["state"], "completed");
  EXPECT_EQ(n4["value"], 0.3);
  EXPECT_EQ(n4["operator"], "branch");
  EXPECT_EQ(n4["change"], "continue");
  EXPECT_EQ(n4["budget_from"], 10.0);
  EXPECT_EQ(n4["budget_to"], 15.0);
  EXPECT_EQ(n4["depth"], 2);
  EXPECT_EQ(n4["parent_numbers"], Json::array({2}));
  EXPECT_EQ(n4["children"], Json::array());
  EXPECT_EQ(n4["restore_from"], "/runs/trial-0002/checkpoint");
  EXPECT_EQ(n4["checkpoint_dir"], "/runs/trial-0004/checkpoint");
  EXPECT_EQ(n4["pruned_reason"], nullptr);
  EXPECT_EQ(j["nodes"][0]["depth"], 0);
  EXPECT_EQ(j["nodes"][4]["depth"], 0);
  EXPECT_EQ(j["edges"], Json::parse(R"([
    {"from": 1, "to": 2, "kind": "primary", "label": "lr x3"},
    {"from": 1, "to": 3, "kind": "primary", "label": "lr x0.5"},
    {"from": 2, "to": 4, "kind": "primary", "label": "continue"}])"));
}

TEST(TreeTest, EmptyExperiment) {
  GraphData data = Data({});
  EXPECT_EQ(RenderTree(data),
            "experiment 'demo'  strategy beam  0 trials\n"
            "value: loss (min)  budget: epochs (a full run is 20)\n"
            "(no trials yet)\n"
            "best: none (no completed trial)\n");
  Json j = TreeJson(data);
  EXPECT_EQ(j["nodes"], Json::array());
  EXPECT_EQ(j["edges"], Json::array());
  EXPECT_EQ(j["counts"], Json::object());
}

TEST(TreeTest, DeepChainStaysNarrow) {
  // #1 -> #2 -> ... -> #100, plus #101 under #1 so that the first level keeps a rail all the way down.
  std::vector<Trial> trials = {Done(1, 1.0)};
  for (int64_t n = 2; n <= 100; ++n) trials.push_back(Done(n, 1.0 / n, {n - 1}, "branch", "continue"));
  trials.push_back(Done(101, 0.9, {1}, "perturb", "lr x2"));
  GraphData data = Data(trials);
  std::vector<std::string> lines = Lines(RenderTree(data));
  ASSERT_EQ(lines.size(), 2u + 101u + 1u);
  size_t widest = 0;
  for (const auto& line : lines) widest = std::max(widest, Width(line));
  EXPECT_LE(widest, 110u);
  // Up to depth 24 in full: #25 sits at depth 24, indented 23 levels plus its connector.
  EXPECT_EQ(lines[2 + 24], "│  " + std::string(22 * 3, ' ') + "└─ #25 ✓ 0.04  branch  continue");
  // Deeper: 8 levels, the count of the elided ones, the last 8 levels.
  EXPECT_EQ(lines[2 + 25], "│  " + std::string(7 * 3, ' ') + "…+8   " + std::string(8 * 3, ' ') +
                               "└─ #26 ✓ 0.0384615  branch  continue");
  EXPECT_EQ(lines[2 + 99], "│  " + std::string(7 * 3, ' ') + "…+82  " + std::string(8 * 3, ' ') +
                               "└─ #100 ✓ 0.01  branch  continue  ★ best");
  EXPECT_EQ(lines[2 + 100], "└─ #101 ✓ 0.9  perturb  lr x2");
  // Every elided line is exactly as wide before its "└─".
  for (size_t i = 2 + 25; i <= 2 + 99; ++i)
    EXPECT_EQ(Width(lines[i].substr(0, lines[i].find("└─"))), 3u * 16 + 6);
  EXPECT_EQ(TreeJson(data)["nodes"][99]["depth"], 99);
}

TEST(TreeTest, ColourOnlyWhenAsked) {
  TreeStyle plain, color;
  color.color = true;
  EXPECT_EQ(RenderTree(ThreeLevels(), plain).find('\033'), std::string::npos);
  std::string text = RenderTree(ThreeLevels(), color);
  EXPECT_NE(text.find("\033[32m✓ 0.5\033[0m"), std::string::npos) << text;
  EXPECT_NE(text.find("\033[1;33m★ best\033[0m"), std::string::npos) << text;
}

TEST(TreeTest, MissingParentsAndCyclesStillShowEveryTrialOnce) {
  Trial orphan = Done(1, 0.5, {}, "branch", "lr x2");
  orphan.parents = {999};
  Trial a = Done(2, 0.4, {3}), b = Done(3, 0.3, {2});  // storage never makes this; the view must not hang
  std::string text = RenderTree(Data({orphan, a, b}));
  EXPECT_NE(text.find("#1 ✓ 0.5  branch  lr x2  (parent id 999 not found)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("#2 ✓ 0.4  sample\n└─ #3 ✓ 0.3  sample  ★ best\n"), std::string::npos) << text;
  Json j = TreeJson(Data({orphan, a, b}));
  EXPECT_EQ(j["nodes"][0]["parent_numbers"], Json::array());
  EXPECT_EQ(j["edges"].size(), 1u);
  auto trace = TraceJson(Data({orphan, a, b}), 2);
  ASSERT_TRUE(trace.ok());
  EXPECT_EQ((*trace)["lineage"].size(), 1u);
}

// #1 (root) -> #2 (perturb, promoted by asha) -> #4 (crossover of #2 and #3, pruned by asha).
GraphData MergeLineage() {
  Trial root = Done(1, 0.5);
  root.params = Json{{"lr", 0.01}, {"wd", 0.001}, {"opt", "adam"}};
  root.rationale = "random sample of the space";
  root.evidence = Json{{"seed", 7}};
  root.checkpoint_dir = "/runs/trial-0001/checkpoint";
  Span(root, 0, 5);
  Trial child = Done(2, 0.4, {1}, "perturb", "lr x3");
  child.params = Json{{"lr", 0.03}, {"wd", 0.001}, {"opt", "adam"}};
  child.rationale = "#1 is in the top quarter; lr perturbed";
  child.evidence = Json{{"donor", 1}, {"factor", 3}};
  child.restore_from = "/runs/trial-0001/checkpoint";
  Span(child, 5, 10);
  Trial other = Done(3, 0.35);
  other.params = Json{{"lr", 0.02}, {"wd", 0.01}, {"opt", "sgd"}, {"momentum", 0.9}};
  other.rationale = "random sample";
  Trial merge = Node(4, TrialState::kPruned, 0.45, {2, 3}, "crossover", "wd, opt from #3");
  merge.params = Json{{"lr", 0.03}, {"wd", 0.01}, {"opt", "sgd"}};
  merge.rationale = "crossover of the two best lines";
  merge.restore_from = "/runs/trial-0002/checkpoint";
  Span(merge, 10, 15);
  std::vector<Event> events = {
      MakeEvent(1, 1, "trial_completed", Json{{"value", 0.5}}),
      MakeEvent(2, 2, "trial_promoted",
                Json{{"reason", "0.42 at epoch 6 is in the top 1/3"},
                     {"source", "asha"},
                     {"evidence", Json{{"milestone", 6}}}},
                1001),
      MakeEvent(3, 1, "checkpoint_removed",
                Json{{"reason", "no trial restores from it"}, {"path", "/runs/trial-0001/checkpoint"}}, 1002),
      MakeEvent(4, 4, "trial_pruned",
                Json{{"reason", "0.45 at epoch 12 is below the top 1/3 (0.41)"},
                     {"source", "asha"},
                     {"evidence", Json{{"milestone", 12}, {"threshold", 0.41}}}},
                1003)};
  return Data({root, child, other, merge}, events);
}

TEST(TraceTest, LineageWithMergeAndDecisions) {
  auto text = RenderTrace(MergeLineage(), 4);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(*text,
            "trace of #4 in experiment 'demo': 3 trials from root #1\n"
            "value: loss (min)  budget: epochs (a full run is 20)\n"
            "\n"
            "#1 ✓ 0.5  sample  epochs 0-5\n"
            "│  params     lr=0.01 wd=0.001 opt=\"adam\"\n"
            "│  checkpoint /runs/trial-0001/checkpoint\n"
            "│  rationale  random sample of the space\n"
            "│  evidence   {\"seed\":7}\n"
            "│  removed    [retention] checkpoint /runs/trial-0001/checkpoint: no trial restores from it\n"
            "│\n"
            "#2 ✓ 0.4  perturb  lr x3  epochs 5-10\n"
            "│  changed    lr 0.01 -> 0.03\n"
            "│  restored   /runs/trial-0001/checkpoint\n"
            "│  rationale  #1 is in the top quarter; lr perturbed\n"
            "│  evidence   {\"donor\":1,\"factor\":3}\n"
            "│  promoted   [asha] 0.42 at epoch 6 is in the top 1/3  {\"milestone\":6}\n"
            "│\n"
            "#4 ✂ 0.45  crossover  wd, opt from #3  epochs 10-15  merge with #3  (pruned: 0.45 at epoch 12 "
            "is below "
            "the top 1/3 (0.41))\n"
            "   changed    wd 0.001 -> 0.01, opt \"adam\" -> \"sgd\"\n"
            "   restored   /runs/trial-0002/checkpoint\n"
            "   rationale  crossover of the two best lines\n"
            "   merged     #3 ✓ 0.35  sample: random sample\n"
            "   pruned     [asha] 0.45 at epoch 12 is below the top 1/3 (0.41)  "
            "{\"milestone\":12,\"threshold\":0.41}\n");
}

TEST(TraceTest, JsonLineageRootFirst) {
  auto j = TraceJson(MergeLineage(), 4);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["experiment"], "demo");
  EXPECT_EQ((*j)["trial"], 4);
  EXPECT_EQ((*j)["objective"]["metric"], "loss");
  const Json& lineage = (*j)["lineage"];
  ASSERT_EQ(lineage.size(), 3u);
  EXPECT_EQ(lineage[0]["number"], 1);
  EXPECT_EQ(lineage[1]["number"], 2);
  EXPECT_EQ(lineage[2]["number"], 4);
  EXPECT_EQ(lineage[0]["changed"],
            Json::parse(R"({"lr": {"to": 0.01}, "wd": {"to": 0.001}, "opt": {"to": "adam"}})"));
  EXPECT_EQ(lineage[1]["changed"], Json::parse(R"({"lr": {"from": 0.01, "to": 0.03}})"));
  EXPECT_EQ(lineage[2]["changed"],
            Json::parse(R"({"wd": {"from": 0.001, "to": 0.01}, "opt": {"from": "adam", "to": "sgd"}})"));
  EXPECT_EQ(lineage[0]["other_parents"], Json::array());
  EXPECT_EQ(lineage[2]["other_parents"], Json::parse(R"([{"number": 3, "value": 0.35, "state": "completed",
                                                         "operator": "sample", "rationale": "random sample"}])"));
  EXPECT_EQ(lineage[1]["restore_from"], "/runs/trial-0001/checkpoint");
  EXPECT_EQ(lineage[1]["rationale"], "#1 is in the top quarter; lr perturbed");
  EXPECT_EQ(lineage[1]["evidence"], Json::parse(R"({"donor": 1, "factor": 3})"));
  EXPECT_EQ(lineage[1]["decisions"], Json::parse(R"([{"type": "trial_promoted", "source": "asha",
      "reason": "0.42 at epoch 6 is in the top 1/3", "evidence": {"milestone": 6}, "time": 1001.0}])"));
  EXPECT_EQ(lineage[0]["decisions"], Json::parse(R"([{"type": "checkpoint_removed", "source": "retention",
      "reason": "no trial restores from it", "evidence": {}, "time": 1002.0,
      "path": "/runs/trial-0001/checkpoint"}])"));
  EXPECT_EQ(lineage[2]["decisions"][0]["type"], "trial_pruned");
  EXPECT_EQ(lineage[2]["decisions"][0]["evidence"]["threshold"], 0.41);
  EXPECT_EQ(lineage[2]["pruned_reason"], "0.45 at epoch 12 is below the top 1/3 (0.41)");
  EXPECT_EQ(lineage[2]["depth"], 2);
}

// #1 proposed by the random strategy, #2 by an LLM agent that answered a note; #2 was reprioritised, asked to
// stop (answering a second note) and pruned once it stopped.
GraphData AgentLineage() {
  Trial root = Done(1, 0.5);
  root.params = Json{{"lr", 0.01}};
  root.rationale = "random sample";
  Trial child = Node(2, TrialState::kPruned, 0.6, {1}, "branch", "lr x0.5");
  child.params = Json{{"lr", 0.005}};
  child.rationale = "halved lr as the note says";
  child.error = "flat for 3 epochs";
  auto note = [](int64_t id, const std::string& text, double time) {
    Event e;
    e.id = id;
    e.experiment_id = 1;
    e.time = time;
    e.type = "note";
    e.payload = Json{{"text", text}};
    return e;
  };
  std::vector<Event> events = {
      MakeEvent(1, 1, "trial_proposed",
                Json{{"operator", "sample"}, {"rationale", "random sample"}, {"agent", "random"}}, 1000),
      note(2, "lr above 0.1 diverges", 1001),
      MakeEvent(3, 2, "trial_proposed",
                Json{{"operator", "branch"},
                     {"rationale", "halved lr as the note says"},
                     {"agent", "llm"},
                     {"notes", Json::array({2})}},
                1002),
      MakeEvent(4, 2, "trial_prioritised",
                Json{{"priority", 3},
                     {"rationale", "closest to the best"},
                     {"evidence", Json{{"rank", 1}}},
                     {"agent", "analyst"}},
                1003),
      note(5, "stop #2 if it stalls", 1004),
      MakeEvent(6, 2, "prune_requested",
                Json{{"reason", "flat for 3 epochs"},
                     {"evidence", Json{{"epochs", 3}}},
                     {"source", "llm"},
                     {"notes", Json::array({5, 99})}},
                1005),
      MakeEvent(7, 2, "trial_pruned",
                Json{{"reason", "flat for 3 epochs"},
                     {"evidence", Json{{"epochs", 3}}},
                     {"source", "llm"},
                     {"exit", "signal 15"},
                     {"value", 0.6}},
                1006)};
  GraphData data = Data({root, child}, events);
  data.experiment.config = Json::object();
  return data;
}

TEST(TraceTest, WhoDecidedTheAgentsDecisionsAndTheNotesTheyAnswered) {
  auto text = RenderTrace(AgentLineage(), 2);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(*text,
            "trace of #2 in experiment 'demo': 2 trials from root #1\n"
            "value: loss (min)\n"
            "\n"
            "#1 ✓ 0.5  sample  ★ best\n"
            "│  params     lr=0.01\n"
            "│  decided by random\n"
            "│  rationale  random sample\n"
            "│\n"
            "#2 ✂ 0.6  branch  lr x0.5  (pruned: flat for 3 epochs)\n"
            "   changed    lr 0.01 -> 0.005\n"
            "   decided by llm\n"
            "   rationale  halved lr as the note says\n"
            "   answers    note \"lr above 0.1 diverges\"\n"
            "   priority   [analyst] set to 3: closest to the best  {\"rank\":1}\n"
            "   stop asked [llm] flat for 3 epochs  {\"epochs\":3}\n"
            "   answers    note \"stop #2 if it stalls\"\n"
            "   pruned     [llm] flat for 3 epochs  {\"epochs\":3}\n");
}

TEST(TraceTest, JsonNamesWhoDecidedAndTheNotes) {
  auto j = TraceJson(AgentLineage(), 2);
  ASSERT_TRUE(j.ok());
  const Json& lineage = (*j)["lineage"];
  ASSERT_EQ(lineage.size(), 2u);
  EXPECT_EQ(lineage[0]["decided_by"], "random");
  EXPECT_EQ(lineage[0]["notes"], Json::array());
  EXPECT_EQ(lineage[0]["decisions"], Json::array());
  EXPECT_EQ(lineage[1]["decided_by"], "llm");
  // A note id that names no note (99) is left out.
  EXPECT_EQ(lineage[1]["notes"], Json::parse(R"([
      {"id": 2, "text": "lr above 0.1 diverges", "time": 1001.0, "answered_by": "trial_proposed"},
      {"id": 5, "text": "stop #2 if it stalls", "time": 1004.0, "answered_by": "prune_requested"}])"));
  EXPECT_EQ(lineage[1]["decisions"], Json::parse(R"([
      {"type": "trial_prioritised", "source": "analyst", "reason": "closest to the best", "evidence": {"rank": 1},
       "time": 1003.0, "priority": 3},
      {"type": "prune_requested", "source": "llm", "reason": "flat for 3 epochs", "evidence": {"epochs": 3},
       "time": 1005.0},
      {"type": "trial_pruned", "source": "llm", "reason": "flat for 3 epochs", "evidence": {"epochs": 3},
       "time": 1006.0}])"));
  // Without a trial_proposed event (an experiment stored before agents), nobody is named.
  auto old = TraceJson(MergeLineage(), 4);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ((*old)["lineage"][0]["decided_by"], nullptr);
  EXPECT_EQ((*old)["lineage"][0]["notes"], Json::array());
}

TEST(TraceTest, ConditionalParamsAppearAndDisappear) {
  Trial root = Done(1, 0.5);
  root.params = Json{{"opt", "sgd"}, {"momentum", 0.9}};
  Trial child = Done(2, 0.4, {1}, "mutate", "opt sgd->adam");
  child.params = Json{{"opt", "adam"}, {"beta1", 0.95}};
  Trial same = Done(3, 0.39, {2}, "branch", "continue");
  same.params = child.params;
  auto j = TraceJson(Data({root, child, same}), 3);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(
      (*j)["lineage"][1]["changed"],
      Json::parse(
          R"({"opt": {"from": "sgd", "to": "adam"}, "beta1": {"to": 0.95}, "momentum": {"from": 0.9}})"));
  EXPECT_EQ((*j)["lineage"][2]["changed"], Json::object());
  auto text = RenderTrace(Data({root, child, same}), 3);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(
      text->find("│  changed    opt \"sgd\" -> \"adam\", beta1 (unset) -> 0.95, momentum 0.9 -> (unset)\n"),
      std::string::npos)
      << *text;
  EXPECT_NE(text->find("   changed    nothing: same params as #2\n"), std::string::npos) << *text;
}

TEST(TraceTest, RootAlone) {
  auto text = RenderTrace(ThreeLevels(), 5);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text,
            "trace of #5 in experiment 'demo': 1 trial from root #5\n"
            "value: loss (min)  budget: epochs (a full run is 20)\n"
            "\n"
            "#5 ✓ 0.6  sample\n"
            "   params     (none)\n");
}

TEST(TraceTest, UnknownTrialNamesTheRange) {
  auto text = RenderTrace(ThreeLevels(), 999);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(text.status().message(), "experiment 'demo' has no trial #999; its trials are #1 to #5");
  auto j = TraceJson(ThreeLevels(), 0);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(TraceJson(Data({}), 1).status().message(), "experiment 'demo' has no trials yet");
}

}  // namespace
}  // namespace hyperion::cli
