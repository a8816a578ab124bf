// The dashboard's JSON API on a real SQLite database: paging and sorting bounds, clear 400/404 errors, the
// action rule (403 without the token), downsampled reports, the graph subset and the long poll; and the
// analysis functions on hand-made trials.
#include "hyperion/dashboard/api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "hyperion/dashboard/analysis.h"
#include "hyperion/dashboard/server.h"
#include "hyperion/storage/storage.h"

namespace hyperion::dashboard {
namespace {

namespace fs = std::filesystem;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hyperion-api-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    url_ = "sqlite://" + (dir_ / "h.db").string();
    storage_ = std::move(OpenStorage(url_)).value();
    ExperimentRecord e;
    e.name = "exp <b>1</b>";
    e.config = Json{{"name", e.name}};
    e.objective_metric = "loss";
    e.strategy = "random";
    e.created_at = 1000;
    experiment_ = std::move(storage_->CreateExperiment(e)).value();
    // Trials 1..10: values 10, 9, ..., 1 for the completed ones (odd numbers), the even ones pending.
    for (int i = 1; i <= 10; ++i) {
      Trial t;
      t.experiment_id = experiment_.id;
      t.params = Json{{"lr", 0.1 * i}, {"opt", i % 3 == 0 ? "adam" : "sgd"}};
      if (i % 2 == 1) {
        t.state = TrialState::kCompleted;
        t.value = 11.0 - i;
        t.started_at = 1000.0 + i;
        t.ended_at = 1000.0 + i + 1.5;
      }
      if (i > 1) t.parents = {ids_.back()};
      t.rationale = "because " + std::to_string(i);
      Trial created = std::move(storage_->CreateTrial(t)).value();
      ids_.push_back(created.id);
    }
  }
  void TearDown() override {
    storage_.reset();
    fs::remove_all(dir_);
  }

  ApiResponse Get(const std::string& path, std::map<std::string, std::string> query = {}) {
    return Api(url_, 1).Handle({"GET", path, std::move(query), "", false});
  }
  std::string Path(const std::string& rest) {
    return "/api/experiments/" + std::to_string(experiment_.id) + rest;
  }

  fs::path dir_;
  std::string url_;
  std::unique_ptr<Storage> storage_;
  ExperimentRecord experiment_;
  std::vector<int64_t> ids_;
};

TEST_F(ApiTest, ListsExperimentsWithCountsAndBest) {
  auto r = Get("/api/experiments");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["experiments"].size(), 1u);
  const Json& e = r.body["experiments"][0];
  EXPECT_EQ(e["name"], "exp <b>1</b>") << "names go out as they are; the page sets them as text";
  EXPECT_EQ(e["trials"], 10);
  EXPECT_EQ(e["counts"], Json::parse(R"({"completed": 5, "pending": 5})"));
  EXPECT_EQ(e["best"]["number"], 9);
  EXPECT_EQ(e["best"]["value"], 2.0);
  EXPECT_EQ(e["best"]["experiment"], "exp <b>1</b>");
}

TEST_F(ApiTest, TrialsArePagedSortedAndFiltered) {
  auto r = Get(Path("/trials"), {{"limit", "3"}, {"offset", "2"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["total"], 10);
  ASSERT_EQ(r.body["trials"].size(), 3u);
  EXPECT_EQ(r.body["trials"][0]["number"], 3);
  EXPECT_EQ(r.body["trials"][0]["parent_numbers"], Json::parse("[2]"));

  // By value, best (lowest) first; trials without a value go last in either order.
  r = Get(Path("/trials"), {{"sort", "value"}, {"limit", "10"}});
  std::vector<int64_t> numbers;
  for (const auto& t : r.body["trials"]) numbers.push_back(t["number"]);
  EXPECT_EQ(numbers, (std::vector<int64_t>{9, 7, 5, 3, 1, 2, 4, 6, 8, 10}));
  r = Get(Path("/trials"), {{"sort", "value"}, {"order", "desc"}, {"limit", "6"}});
  numbers.clear();
  for (const auto& t : r.body["trials"]) numbers.push_back(t["number"]);
  EXPECT_EQ(numbers, (std::vector<int64_t>{1, 3, 5, 7, 9, 2}));

  r = Get(Path("/trials"), {{"state", "pending"}});
  EXPECT_EQ(r.body["total"], 5);
  r = Get(Path("/trials"), {{"offset", "100"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body["total"], 10);
  EXPECT_EQ(r.body["trials"], Json::array()) << "a page past the end is empty, not an error";
}

TEST_F(ApiTest, BadInputIsAClear400) {
  auto r = Get(Path("/trials"), {{"limit", "0"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"], "limit must be a whole number from 1 to 500, got '0'");
  r = Get(Path("/trials"), {{"offset", "-1"}});
  EXPECT_EQ(r.status, 400);
  r = Get(Path("/trials"), {{"limit", "5x"}});
  EXPECT_EQ(r.status, 400);
  r = Get(Path("/trials"), {{"sort", "params"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(
      r.body["error"],
      "sort must be one of number, value, state, operator, started_at, ended_at, duration, got 'params'");
  r = Get(Path("/trials"), {{"state", "done"}});
  EXPECT_EQ(r.status, 400);
  r = Get("/api/experiments/abc");
  EXPECT_EQ(r.status, 400);
  r = Get("/api/experiments/99");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["error"], "no experiment with id 99 (see /api/experiments)");
  r = Get(Path("/trials/42"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["error"], "experiment 'exp <b>1</b>' has no trial #42; its trials are #1 to #10");
  r = Get("/api/nothing");
  EXPECT_EQ(r.status, 404);
  r = Api(url_).Handle({"DELETE", Path(""), {}, "", true});
  EXPECT_EQ(r.status, 405);
}

TEST_F(ApiTest, AMissingDatabaseIs404AndIsNotCreated) {
  std::string missing = (dir_ / "missing.db").string();
  auto r = Api("sqlite://" + missing).Handle({"GET", "/api/experiments", {}, "", false});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_FALSE(fs::exists(missing));
}

TEST_F(ApiTest, ATrialsReportsAreDownsampled) {
  std::vector<Report> reports;
  for (int step = 0; step < 1000; ++step) reports.push_back({ids_[0], 1, step, "loss", 1.0 / (step + 1), 0});
  reports.push_back({ids_[0], 1, 500, "acc", 0.5, 0});
  ASSERT_TRUE(storage_->AppendReports(reports).ok());
  auto r = Get(Path("/trials/1"), {{"max_points", "50"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const Json& loss = r.body["reports"]["loss"];
  EXPECT_LE(loss.size(), 50u);
  EXPECT_GE(loss.size(), 40u);
  EXPECT_EQ(loss.front(), Json::parse("[0, 1.0]"));
  EXPECT_EQ(loss.back()[0], 999);
  EXPECT_EQ(r.body["reports"]["acc"], Json::parse("[[500, 0.5]]"));
  EXPECT_EQ(r.body["rationale"], "because 1");

  auto curves = Get(Path("/curves"), {{"trials", "1,3"}, {"max_points", "10"}});
  ASSERT_EQ(curves.status, 200) << curves.body;
  ASSERT_EQ(curves.body["curves"].size(), 2u);
  EXPECT_LE(curves.body["curves"][0]["points"].size(), 10u);
  EXPECT_EQ(curves.body["curves"][1]["points"], Json::array());
  EXPECT_EQ(Get(Path("/curves"), {{"trials", "1,77"}}).status, 404);
}

TEST_F(ApiTest, ActionsNeedTheToken) {
  Api api(url_);
  auto r = api.Handle({"POST", Path("/notes"), {}, R"({"text": "lr lower"})", false});
  EXPECT_EQ(r.status, 403);
  auto events = std::move(storage_->ListEvents(experiment_.id, 0, 100, {"note"})).value();
  EXPECT_TRUE(events.empty()) << "a refused action writes nothing";

  r = api.Handle({"POST", Path("/notes"), {}, R"({"text": "  lr lower  "})", true});
  ASSERT_EQ(r.status, 201) << r.body;
  events = std::move(storage_->ListEvents(experiment_.id, 0, 100, {"note"})).value();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload["text"], "lr lower");
  EXPECT_EQ(r.body["id"], events[0].id);

  EXPECT_EQ(api.Handle({"POST", Path("/notes"), {}, R"({"text": "  "})", true}).status, 400);
  EXPECT_EQ(api.Handle({"POST", Path("/notes"), {}, "not json", true}).status, 400);
  EXPECT_EQ(api.Handle({"POST", Path("/notes"), {}, R"({"note": "x"})", true}).status, 400);
}

TEST_F(ApiTest, AStopRequestIsAnEventForTheOrchestrator) {
  Api api(url_);
  EXPECT_EQ(api.Handle({"POST", Path("/trials/2/stop"), {}, "{}", false}).status, 403);
  auto r = api.Handle({"POST", Path("/trials/1/stop"), {}, "{}", true});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body["error"], "trial #1 is completed; only a running or pending trial can be stopped");
  EXPECT_EQ(api.Handle({"POST", Path("/trials/2/stop"), {}, R"({"reason": 3})", true}).status, 400);
  r = api.Handle({"POST", Path("/trials/2/stop"), {}, R"({"reason": "diverging"})", true});
  ASSERT_EQ(r.status, 201) << r.body;
  auto events = std::move(storage_->ListEvents(experiment_.id, 0, 100, {"stop_requested"})).value();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, Json::parse(R"({"number": 2, "reason": "diverging"})"));
  EXPECT_EQ(events[0].trial_id, ids_[1]);
  EXPECT_EQ(api.Handle({"GET", Path("/trials/2/stop"), {}, "", true}).status, 405);
}

TEST_F(ApiTest, TheGraphKeepsTheBestLineageAndTheLatestWhenCapped) {
  auto r = Get(Path("/graph"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["nodes"].size(), 10u);
  EXPECT_EQ(r.body["edges"].size(), 9u);
  // The best (#9) and its lineage first, then the latest; capped however deep the lineage.
  r = Get(Path("/graph"), {{"max_nodes", "3"}});
  EXPECT_EQ(r.body["total_nodes"], 10);
  EXPECT_EQ(r.body["shown_nodes"], 3);
  std::vector<int64_t> numbers;
  for (const auto& n : r.body["nodes"]) numbers.push_back(n["number"]);
  EXPECT_EQ(numbers, (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(r.body["edges"].size(), 2u) << "7 -> 8 -> 9; #7's parent is not shown, so #7 is a root";
  r = Get(Path("/graph"), {{"max_nodes", "0"}});
  EXPECT_EQ(r.status, 400);
}

TEST_F(ApiTest, TraceAndDecisionsComeFromTheCliViews) {
  auto r = Get(Path("/trials/3/trace"));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["lineage"].size(), 3u);
  EXPECT_EQ(r.body["lineage"][0]["rationale"], "because 1");
  EXPECT_EQ(r.body["lineage"][2]["rationale"], "because 3");
  ASSERT_TRUE(Api(url_).Handle({"POST", Path("/notes"), {}, R"({"text": "hint"})", true}).status == 201);
  r = Get(Path("/decisions"), {{"order", "desc"}, {"limit", "1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["total"], 1);
  EXPECT_EQ(r.body["decisions"][0]["kind"], "note");
  EXPECT_EQ(r.body["decisions"][0]["summary"], "not answered yet: hint");
}

TEST_F(ApiTest, EventsLongPollReturnsNewEventsOrNoneAfterTheWait) {
  auto r = Get(Path("/events"), {{"after", "0"}, {"wait", "1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["events"], Json::array());
  EXPECT_EQ(r.body["last_id"], 0);
  Event e;
  e.experiment_id = experiment_.id;
  e.type = "trial_started";
  e.payload = Json{{"number", 2}};
  int64_t id = std::move(storage_->AppendEvent(e)).value();
  r = Get(Path("/events"), {{"after", "0"}, {"wait", "1"}});
  ASSERT_EQ(r.body["events"].size(), 1u);
  EXPECT_EQ(r.body["events"][0]["number"], 2);
  EXPECT_EQ(r.body["last_id"], id);
  EXPECT_EQ(Get(Path("/events"), {{"wait", "99"}}).status, 400) << "the wait is capped";
}

TEST_F(ApiTest, SummaryHasBestSoFarImportanceAndTimeline) {
  auto r = Get(Path("/summary"));
  ASSERT_EQ(r.status, 200) << r.body;
  const Json& best = r.body["best_so_far"];
  ASSERT_EQ(best.size(), 5u);
  EXPECT_EQ(best[4]["best"], 2.0);
  EXPECT_EQ(r.body["importance"][0]["param"], "lr") << "lr decides the value exactly here";
  EXPECT_NEAR(r.body["importance"][0]["importance"].get<double>(), 1.0, 1e-9);
  // Completed trials run 1.5 s and start 2 s apart: one slot suffices.
  for (const auto& t : r.body["timeline"]) EXPECT_EQ(t["slot"], 0);
  EXPECT_EQ(r.body["parallel"][0]["number"], 9);
}

TEST(AnalysisTest, DownsampleKeepsEndsAndExtremes) {
  std::vector<CurvePoint> points;
  for (int i = 0; i < 100; ++i) points.push_back({i, i == 37 ? 100.0 : 1.0});
  auto out = Downsample(points, 10);
  EXPECT_LE(out.size(), 10u);
  EXPECT_EQ(out.front().first, 0);
  EXPECT_EQ(out.back().first, 99);
  EXPECT_TRUE(std::any_of(out.begin(), out.end(), [](const CurvePoint& p) { return p.second == 100.0; }))
      << "the spike survives";
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
  EXPECT_EQ(Downsample({{1, 2.0}}, 10).size(), 1u);
}

TEST(AnalysisTest, TimelinePacksOverlappingTrialsIntoSlots) {
  std::vector<Trial> trials(3);
  trials[0].number = 1, trials[0].started_at = 0, trials[0].ended_at = 10;
  trials[1].number = 2, trials[1].started_at = 1, trials[1].ended_at = 5;
  trials[2].number = 3, trials[2].started_at = 6;  // still running
  Json t = Timeline(trials, 0, 100);
  EXPECT_EQ(t[0]["slot"], 0);
  EXPECT_EQ(t[1]["slot"], 1);
  EXPECT_EQ(t[2]["slot"], 1);
  EXPECT_EQ(t[2]["end"], nullptr);
  EXPECT_EQ(Timeline(trials, 0, 1).size(), 1u);
}

TEST(ServerTest, NonLoopbackNeedsAToken) {
  EXPECT_TRUE(IsLoopback("127.0.0.1"));
  EXPECT_TRUE(IsLoopback("localhost"));
  EXPECT_FALSE(IsLoopback("0.0.0.0"));
  EXPECT_EQ(ResolveToken("127.0.0.1", ""), "");
  EXPECT_EQ(ResolveToken("0.0.0.0", "given"), "given");
  std::string made = ResolveToken("0.0.0.0", "");
  EXPECT_EQ(made.size(), 32u);
  EXPECT_NE(made, ResolveToken("0.0.0.0", ""));
  DashboardServer server({"sqlite:///nowhere.db", "0.0.0.0", 0, ""});
  Status s = server.Start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
}

}  // namespace
}  // namespace hyperion::dashboard
