#include "hyperion/cli/decision_view.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

namespace hyperion::cli {
namespace {

constexpr double kStart = 1000;

// Trial ids are number + 100 so that a mix-up of ids and numbers shows.
int64_t Id(int64_t number) { return number + 100; }

Event TrialEvent(int64_t id, int64_t number, std::string type, Json payload, double time) {
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

Event Other(int64_t id, std::string type, Json payload, double time) {
  Event e;
  e.id = id;
  e.experiment_id = 1;
  e.time = time;
  e.type = std::move(type);
  e.payload = std::move(payload);
  return e;
}

GraphData Data(std::vector<Event> events) {
  GraphData data;
  data.experiment.id = 1;
  data.experiment.name = "demo";
  data.experiment.strategy = "llm";
  data.experiment.created_at = kStart;
  for (int64_t n = 1; n <= 3; ++n) {
    Trial t;
    t.id = Id(n);
    t.number = n;
    data.trials.push_back(t);
  }
  data.events = std::move(events);
  return data;
}

// A run of an LLM agent with every kind of entry, and one event that is no decision (trial_started).
GraphData LlmRun() {
  return Data({
      TrialEvent(1, 1, "trial_proposed",
                 Json{{"operator", "sample"},
                      {"params", Json{{"lr", 0.01}}},
                      {"parents", Json::array()},
                      {"change", ""},
                      {"rationale", "random sample of the space"},
                      {"evidence", Json{{"seed", 7}}},
                      {"agent", "random"}},
                 kStart + 0.5),
      Other(2, "note", Json{{"text", "lr above 0.1 diverges"}}, kStart + 1),
      Other(3, "agent_exchange",
            Json{{"agent", "llm"},
                 {"model", "qwen2.5-7b"},
                 {"endpoint", "http://127.0.0.1:8000/v1"},
                 {"messages", Json::array()},
                 {"reply", "{}"},
                 {"prompt_tokens", 812},
                 {"completion_tokens", 64},
                 {"latency_s", 2.314},
                 {"attempt", 1},
                 {"status", "ok"},
                 {"error", ""}},
            kStart + 2),
      TrialEvent(4, 2, "trial_proposed",
                 Json{{"operator", "branch"},
                      {"params", Json{{"lr", 0.005}}},
                      {"parents", Json::array({101})},
                      {"change", "lr x0.5"},
                      {"rationale", "as the note says, lr stays low: #1's lr halved"},
                      {"evidence", Json{{"parent", 1}}},
                      {"agent", "llm"},
                      {"notes", Json::array({2})}},
                 kStart + 2.1),
      TrialEvent(5, 2, "trial_started", Json{{"pid", 4242}}, kStart + 2.2),
      Other(6, "decision_rejected",
            Json{{"agent", "llm"},
                 {"decision", "propose"},
                 {"reason", "lr: 5 is above the high end 1"},
                 {"params", Json{{"lr", 5}}},
                 {"parents", Json::array()},
                 {"operator", "sample"},
                 {"rationale", "try a big lr"}},
            kStart + 3),
      Other(7, "agent_fallback",
            Json{{"agent", "llm"}, {"decided_by", "analyst (fallback: the LLM reply was not JSON)"}},
            kStart + 4),
      Other(8, "agent_exchange",
            Json{{"agent", "llm"},
                 {"model", "qwen2.5-7b"},
                 {"status", "timeout"},
                 {"latency_s", 30.0},
                 {"attempt", 2},
                 {"error", "no reply within 30s"}},
            kStart + 4.5),
      TrialEvent(9, 1, "prune_requested",
                 Json{{"reason", "flat for 3 epochs"}, {"evidence", Json{{"epochs", 3}}}, {"source", "llm"}},
                 kStart + 5),
      TrialEvent(10, 1, "trial_pruned",
                 Json{{"reason", "flat for 3 epochs"},
                      {"evidence", Json{{"epochs", 3}}},
                      {"source", "llm"},
                      {"exit", "SIGTERM"},
                      {"value", 0.5}},
                 kStart + 6.25),
      TrialEvent(11, 3, "trial_prioritised",
                 Json{{"priority", 5}, {"rationale", "closest to the best"}, {"agent", "analyst"}},
                 kStart + 10),
      Other(12, "note", Json{{"text", "stop soon"}}, kStart + 75),
      Other(13, "decision_rejected",
            Json{{"agent", "llm"},
                 {"decision", "prune"},
                 {"trial", 2},
                 {"reason", "trial #2 is completed"},
                 {"rationale", "behind"}},
            kStart + 79),
      Other(14, "agent_stopped",
            Json{{"agent", "analyst"},
                 {"rationale", "no improvement over the last 20 trials; stopping"},
                 {"evidence", Json::object()},
                 {"notes", Json::array({12})}},
            kStart + 80),
  });
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

TEST(DecisionsTest, EveryKindOnOneLineOldestFirst) {
  EXPECT_EQ(
      RenderDecisions(LlmRun()),
      "experiment 'demo'  strategy llm  13 entries; times since the experiment started\n"
      "  +0.5s  propose        #1  random   sample: random sample of the space\n"
      "  +1.0s  note           -   person   answered by propose #2: lr above 0.1 diverges\n"
      "  +2.0s  llm-call       -   llm      qwen2.5-7b  ok  812+64 tokens  2.31s\n"
      "  +2.1s  propose        #2  llm      branch lr x0.5: as the note says, lr stays low: #1's lr halved\n"
      "  +3.0s  rejected       -   llm      propose refused: lr: 5 is above the high end 1; its rationale: "
      "try a "
      "big lr\n"
      "  +4.0s  fallback       -   llm      decided by analyst (fallback: the LLM reply was not JSON)\n"
      "  +4.5s  llm-call       -   llm      qwen2.5-7b  timeout  30.00s  attempt 2  error: no reply within "
      "30s\n"
      "  +5.0s  prune-request  #1  llm      flat for 3 epochs\n"
      "  +6.2s  prune          #1  llm      flat for 3 epochs\n"
      " +10.0s  prioritise     #3  analyst  priority 5: closest to the best\n"
      "+1m 15s  note           -   person   answered by stop: stop soon\n"
      "+1m 19s  rejected       #2  llm      prune refused: trial #2 is completed; its rationale: behind\n"
      "+1m 20s  stop           -   analyst  no improvement over the last 20 trials; stopping\n");
}

TEST(DecisionsTest, OrderIsByIdWhateverTheInputOrder) {
  GraphData data = LlmRun();
  std::string expected = RenderDecisions(data);
  std::reverse(data.events.begin(), data.events.end());
  EXPECT_EQ(RenderDecisions(data), expected);
  EXPECT_EQ(DecisionsJson(data)[0]["id"], 1);
}

TEST(DecisionsTest, LongTextIsClippedToTheWidth) {
  GraphData data = LlmRun();
  DecisionOptions options;
  options.width = 80;
  std::vector<std::string> lines = Lines(RenderDecisions(data, options));
  ASSERT_EQ(lines.size(), 14u);
  for (size_t i = 1; i < lines.size(); ++i) EXPECT_LE(Width(lines[i]), 80u) << lines[i];
  // The columns before the text take 37: 43 are left, and the text is cut at a word with an ellipsis.
  EXPECT_EQ(lines[4], "  +2.1s  propose        #2  llm      branch lr x0.5: as the note says, lr stays…");
  // A note says whether it was answered before its text, so the clip never hides that.
  EXPECT_EQ(lines[2], "  +1.0s  note           -   person   answered by propose #2: lr above 0.1…");
  // However narrow the width, the text keeps 30 columns.
  options.width = 10;
  lines = Lines(RenderDecisions(data, options));
  EXPECT_EQ(lines[1], "  +0.5s  propose        #1  random   sample: random sample of the…");
  EXPECT_EQ(Width(lines[1]), 37u + 29u);
}

TEST(DecisionsTest, TrialFilterAndLimit) {
  GraphData data = LlmRun();
  DecisionOptions options;
  options.trial = 1;
  EXPECT_EQ(RenderDecisions(data, options),
            "experiment 'demo'  strategy llm  3 entries about #1; times since the experiment started\n"
            "+0.5s  propose        #1  random  sample: random sample of the space\n"
            "+5.0s  prune-request  #1  llm     flat for 3 epochs\n"
            "+6.2s  prune          #1  llm     flat for 3 epochs\n");
  // A rejected decision about a trial counts as about it.
  options.trial = 2;
  Json about2 = DecisionsJson(data, options);
  ASSERT_EQ(about2.size(), 2u);
  EXPECT_EQ(about2[0]["kind"], "propose");
  EXPECT_EQ(about2[1]["kind"], "rejected");
  // The limit keeps the latest entries, oldest first.
  options.trial.reset();
  options.limit = 2;
  EXPECT_EQ(
      RenderDecisions(data, options),
      "experiment 'demo'  strategy llm  13 entries, the last 2 shown; times since the experiment started\n"
      "+1m 19s  rejected  #2  llm      prune refused: trial #2 is completed; its rationale: behind\n"
      "+1m 20s  stop      -   analyst  no improvement over the last 20 trials; stopping\n");
  Json last = DecisionsJson(data, options);
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0]["id"], 13);
  EXPECT_EQ(last[1]["id"], 14);
  // A note answered by an entry the limit hides is still answered.
  options.limit = 3;
  EXPECT_EQ(DecisionsJson(data, options)[0]["answered_by"], Json::parse(R"([{"id": 14, "kind": "stop",
                                                                           "trial": null}])"));
  options.limit = 100;
  EXPECT_EQ(DecisionsJson(data, options).size(), 13u);
}

TEST(DecisionsTest, JsonHasThePayloadAndTheEntryFields) {
  Json j = DecisionsJson(LlmRun());
  ASSERT_EQ(j.size(), 13u) << "trial_started is no decision";
  // A proposal: the whole payload, plus id, time, elapsed, type, kind, trial, who and the notes it answers.
  EXPECT_NEAR(j[3]["elapsed"].get<double>(), 2.1, 1e-9);
  j[3].erase("elapsed");
  EXPECT_EQ(j[3], Json::parse(R"({
      "id": 4, "time": 1002.1, "type": "trial_proposed", "kind": "propose",
      "trial": 2, "who": "llm", "operator": "branch", "params": {"lr": 0.005}, "parents": [101],
      "change": "lr x0.5", "rationale": "as the note says, lr stays low: #1's lr halved",
      "evidence": {"parent": 1}, "agent": "llm", "notes": [2], "number": 2,
      "answers": [{"id": 2, "text": "lr above 0.1 diverges"}]})"));
  // A note and who answered it.
  EXPECT_EQ(j[1]["kind"], "note");
  EXPECT_EQ(j[1]["text"], "lr above 0.1 diverges");
  EXPECT_EQ(j[1]["who"], "person");
  EXPECT_EQ(j[1]["trial"], nullptr);
  EXPECT_EQ(j[1]["answered"], true);
  EXPECT_EQ(j[1]["answered_by"], Json::parse(R"([{"id": 4, "kind": "propose", "trial": 2}])"));
  EXPECT_FALSE(j[0].contains("answers")) << "answers only where the decision answered a note";
  EXPECT_FALSE(j[0].contains("answered")) << "answered only on notes";
  // Prunes name their source; a rejected decision keeps the reason it was refused.
  EXPECT_EQ(j[7]["kind"], "prune-request");
  EXPECT_EQ(j[7]["who"], "llm");
  EXPECT_EQ(j[8]["exit"], "SIGTERM");
  EXPECT_EQ(j[4]["reason"], "lr: 5 is above the high end 1");
  EXPECT_EQ(j[4]["trial"], nullptr);
  EXPECT_EQ(j[11]["trial"], 2);
  EXPECT_EQ(j[5]["decided_by"], "analyst (fallback: the LLM reply was not JSON)");
  EXPECT_EQ(j[2]["prompt_tokens"], 812);
  EXPECT_EQ(j[12]["elapsed"], 80.0);
}

TEST(DecisionsTest, UnansweredNotesAndMissingFields) {
  // No "number" in the payload: the trial comes from the event's trial id. No source: who is unknown.
  Event pruned = TrialEvent(2, 3, "trial_pruned", Json::object(), kStart + 1);
  pruned.payload.erase("number");
  GraphData data = Data({Other(1, "note", Json{{"text", "try\nwider batches"}}, kStart + 0.25), pruned});
  EXPECT_EQ(RenderDecisions(data),
            "experiment 'demo'  strategy llm  2 entries; times since the experiment started\n"
            "+0.2s  note   -   person  not answered yet: try wider batches\n"
            "+1.0s  prune  #3  -       (no reason recorded)\n");
  Json j = DecisionsJson(data);
  EXPECT_EQ(j[0]["answered"], false);
  EXPECT_EQ(j[0]["answered_by"], Json::array());
  EXPECT_EQ(j[1]["trial"], 3);
  EXPECT_EQ(j[1]["who"], nullptr);
}

TEST(DecisionsTest, NothingYet) {
  GraphData data = Data({});
  EXPECT_EQ(RenderDecisions(data),
            "experiment 'demo'  strategy llm  0 entries; times since the experiment started\n"
            "(no decisions yet)\n");
  DecisionOptions options;
  options.trial = 2;
  EXPECT_EQ(Lines(RenderDecisions(data, options))[1], "(no decisions about #2)");
  EXPECT_EQ(DecisionsJson(data), Json::array());
}

TEST(DecisionsTest, TheEventTypesAreTheOnesShown) {
  EXPECT_EQ(DecisionEventTypes(),
            (std::vector<std::string>{"trial_proposed", "prune_requested", "trial_pruned",
                                      "trial_prioritised", "agent_stopped", "decision_rejected",
                                      "agent_fallback", "agent_exchange", "note"}));
}

TEST(NoteTest, TextIsTrimmedAndMustNotBeEmpty) {
  EXPECT_EQ(*CheckNoteText("  try a lower lr \n"), "try a lower lr");
  EXPECT_EQ(*CheckNoteText("a\nb"), "a\nb");
  for (const char* empty : {"", "   ", "\n\t "}) {
    auto checked = CheckNoteText(empty);
    ASSERT_FALSE(checked.ok());
    EXPECT_EQ(checked.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(
        checked.status().message(),
        "a note needs some text for the agent, e.g. `hyperion note \"lr above 0.1 diverges; stay below\"`");
  }
}

TEST(NoteTest, SaysWhetherTheAgentReadsItNow) {
  ExperimentRecord e;
  e.name = "demo";
  e.status = "running";
  e.owner = "host:42";
  e.heartbeat_at = 2000;
  EXPECT_EQ(NoteStoredText(e, 17, 2004, false),
            "note stored for experiment 'demo' (event 17); the running agent reads it within a second");
  EXPECT_EQ(NoteStoredText(e, 17, 2030, false), NoteStoredText(e, 17, 2004, false)) << "30s is not stale yet";
  EXPECT_EQ(
      NoteStoredText(e, 17, 2300, false),
      "note stored for experiment 'demo' (event 17); its runner host:42 has not been heard from for 5m 00s, "
      "so the experiment is probably not running: its agent reads the note when you resume it");
  // A runner of this host that is dead: its heartbeat is fresh, but nothing reads the note.
  EXPECT_EQ(
      NoteStoredText(e, 17, 2004, true),
      "note stored for experiment 'demo' (event 17); its runner host:42 is gone, so the experiment is not "
      "running: its agent reads the note when you resume it");
  // An owner that never sent a heartbeat is as silent as a stale one.
  e.heartbeat_at.reset();
  EXPECT_EQ(NoteStoredText(e, 3, 2004, false),
            "note stored for experiment 'demo' (event 3); its runner host:42 has not been heard from, so the "
            "experiment is probably not running: its agent reads the note when you resume it");
  const std::string not_running =
      "note stored for experiment 'demo' (event 3); the experiment is not running: its agent reads the note "
      "when you resume it";
  e.status = "finished";
  e.owner = "";
  EXPECT_EQ(NoteStoredText(e, 3, 2004, false), not_running);
  e.status = "running";  // no owner: nobody holds it
  EXPECT_EQ(NoteStoredText(e, 3, 2004, false), not_running);
  e.status = "interrupted";  // an owner left behind does not make it run
  e.owner = "host:42";
  e.heartbeat_at = 2000;
  EXPECT_EQ(NoteStoredText(e, 3, 2004, false), not_running);
}

}  // namespace
}  // namespace hyperion::cli
