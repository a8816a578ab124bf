// The conformance suite every Storage back end must pass. Each back end is one entry of kBackends; the
// PostgreSQL back end joins the same list.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include "hyperion/storage/sqlite_storage.h"
#include "hyperion/storage/storage.h"

namespace hyperion {
namespace {

namespace fs = std::filesystem;

struct Backend {
  std::string name;
  // Returns the URL of a fresh, empty database.
  std::function<std::string(const fs::path& dir)> fresh_url;
};

const Backend kBackends[] = {
    {"sqlite", [](const fs::path& dir) { return "sqlite://" + (dir / "test.db").string(); }},
};

class StorageConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hyperion-storage-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    url_ = GetParam().fresh_url(dir_);
    auto storage = OpenStorage(url_);
    ASSERT_TRUE(storage.ok()) << storage.status().message();
    storage_ = std::move(storage).value();
  }
  void TearDown() override {
    storage_.reset();
    fs::remove_all(dir_);
  }

  ExperimentRecord MakeExperiment(const std::string& name) {
    ExperimentRecord e;
    e.name = name;
    e.config = Json{{"name", name}};
    e.objective_metric = "loss";
    e.objective_mode = ObjectiveMode::kMaximize;
    e.strategy = "random";
    e.created_at = 1000.5;
    auto created = storage_->CreateExperiment(e);
    EXPECT_TRUE(created.ok()) << created.status().message();
    return *created;
  }

  fs::path dir_;
  std::string url_;
  std::unique_ptr<Storage> storage_;
};

TEST_P(StorageConformance, ExperimentsAreUniqueByName) {
  ExperimentRecord e = MakeExperiment("exp/with: odd name ü");
  EXPECT_GT(e.id, 0);
  ExperimentRecord again = e;
  auto duplicate = storage_->CreateExperiment(again);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.status().code(), StatusCode::kAlreadyExists);
  auto found = storage_->FindExperiment("exp/with: odd name ü");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->objective_mode, ObjectiveMode::kMaximize);
  EXPECT_EQ((*found)->config["name"], "exp/with: odd name ü");
  auto missing = storage_->FindExperiment("nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_P(StorageConformance, TrialsRoundTripWithTheGraph) {
  ExperimentRecord e = MakeExperiment("graph");
  Trial root;
  root.experiment_id = e.id;
  root.params = Json{{"lr", 0.001}, {"c", nullptr}, {"f", false}, {"s", "0"}, {"n", 0}};
  root.rationale = "first";
  auto a = storage_->CreateTrial(root);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->number, 1);
  Trial child;
  child.experiment_id = e.id;
  child.parents = {a->id};
  child.op = "branch";
  child.change_label = "lr x3";
  child.evidence = Json{{"from", a->id}};
  child.budget_from = 10;
  child.budget_to = 20;
  auto b = storage_->CreateTrial(child);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->number, 2);
  Trial merge;
  merge.experiment_id = e.id;
  merge.parents = {b->id, a->id};
  merge.op = "crossover";
  auto c = storage_->CreateTrial(merge);
  ASSERT_TRUE(c.ok());

  auto trials = storage_->ListTrials(e.id);
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), 3u);
  const Trial& r = (*trials)[0];
  EXPECT_TRUE(r.params["c"].is_null());
  EXPECT_TRUE(r.params["f"].is_boolean());
  EXPECT_TRUE(r.params["s"].is_string());
  EXPECT_TRUE(r.params["n"].is_number_integer());
  EXPECT_EQ(r.params.dump(), root.params.dump()) << "key order and types kept";
  EXPECT_EQ((*trials)[1].parents, std::vector<int64_t>{a->id});
  EXPECT_EQ((*trials)[1].change_label, "lr x3");
  EXPECT_EQ(*(*trials)[1].budget_to, 20);
  EXPECT_EQ((*trials)[2].parents, (std::vector<int64_t>{b->id, a->id})) << "parent order kept";
}

TEST_P(StorageConformance, UpdateTrialWritesStateValueAndError) {
  ExperimentRecord e = MakeExperiment("update");
  Trial t;
  t.experiment_id = e.id;
  auto created = storage_->CreateTrial(t);
  ASSERT_TRUE(created.ok());
  Trial u = *created;
  u.state = TrialState::kCompleted;
  u.value = 0.97;
  u.value_step = 29;
  u.started_at = 5;
  u.ended_at = 7.25;
  u.attempt = 2;
  u.error = "";
  ASSERT_TRUE(storage_->UpdateTrial(u).ok());
  auto back = storage_->GetTrial(e.id, u.number);
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ((*back)->state, TrialState::kCompleted);
  EXPECT_DOUBLE_EQ(*(*back)->value, 0.97);
  EXPECT_EQ(*(*back)->value_step, 29);
  EXPECT_EQ((*back)->attempt, 2);
  EXPECT_DOUBLE_EQ(*(*back)->ended_at, 7.25);
  Trial ghost = u;
  ghost.id = 9999;
  EXPECT_EQ(storage_->UpdateTrial(ghost).code(), StatusCode::kNotFound);
}

TEST_P(StorageConformance, ReportsKeepNonFiniteValuesAndOrder) {
  ExperimentRecord e = MakeExperiment("reports");
  Trial t;
  t.experiment_id = e.id;
  auto created = storage_->CreateTrial(t);
  ASSERT_TRUE(created.ok());
  std::vector<Report> reports = {{created->id, 1, 0, "val/acc", 0.5, 1.0},
                                 {created->id, 1, 1, "val/acc", INFINITY, 2.0},
                                 {created->id, 1, 2, "val/acc", NAN, 3.0}};
  ASSERT_TRUE(storage_->AppendReports(reports).ok());
  auto back = storage_->ListReports(created->id);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 3u);
  EXPECT_EQ((*back)[0].metric, "val/acc");
  EXPECT_DOUBLE_EQ((*back)[0].value, 0.5);
  EXPECT_TRUE(std::isinf((*back)[1].value));
  EXPECT_TRUE(std::isnan((*back)[2].value));
}

TEST_P(StorageConformance, TransactionsRollBackEverything) {
  ExperimentRecord e = MakeExperiment("tx");
  Status failed = storage_->RunInTransaction([&]() -> Status {
    Trial t;
    t.experiment_id = e.id;
    auto created = storage_->CreateTrial(t);
    if (!created.ok()) return created.status();
    Event event;
    event.experiment_id = e.id;
    event.type = "trial_proposed";
    if (auto id = storage_->AppendEvent(event); !id.ok()) return id.status();
    return AbortedError("changed my mind");
  });
  EXPECT_EQ(failed.code(), StatusCode::kAborted);
  auto trials = storage_->ListTrials(e.id);
  ASSERT_TRUE(trials.ok());
  EXPECT_TRUE(trials->empty());
  auto events = storage_->ListEvents(e.id, 0, 100, {});
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());
}

TEST_P(StorageConformance, EventsArePagedInOrder) {
  ExperimentRecord e = MakeExperiment("events");
  for (int i = 0; i < 5; ++i) {
    Event event;
    event.experiment_id = e.id;
    event.type = "n" + std::to_string(i);
    event.payload = Json{{"i", i}};
    ASSERT_TRUE(storage_->AppendEvent(event).ok());
  }
  auto first = storage_->ListEvents(e.id, 0, 2, {});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  auto rest = storage_->ListEvents(e.id, first->back().id, 100, {});
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 3u);
  EXPECT_EQ(rest->front().type, "n2");
  EXPECT_EQ(rest->back().payload["i"], 4);
}

TEST_P(StorageConformance, EventsAreFilteredByType) {
  ExperimentRecord e = MakeExperiment("typed");
  for (const char* type : {"note", "trial_started", "note", "agent_stopped", "trial_started"}) {
    Event event;
    event.experiment_id = e.id;
    event.type = type;
    ASSERT_TRUE(storage_->AppendEvent(event).ok());
  }
  auto notes = storage_->ListEvents(e.id, 0, 100, {"note"});
  ASSERT_TRUE(notes.ok());
  ASSERT_EQ(notes->size(), 2u);
  EXPECT_LT(notes->front().id, notes->back().id);
  auto two = storage_->ListEvents(e.id, notes->front().id, 100, {"note", "agent_stopped"});
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ(two->front().type, "note");
  EXPECT_EQ(two->back().type, "agent_stopped");
}

TEST_P(StorageConformance, DataSurvivesReopening) {
  ExperimentRecord e = MakeExperiment("durable");
  Trial t;
  t.experiment_id = e.id;
  ASSERT_TRUE(storage_->CreateTrial(t).ok());
  storage_.reset();
  auto reopened = OpenStorage(url_);
  ASSERT_TRUE(reopened.ok());
  auto trials = (*reopened)->ListTrials(e.id);
  ASSERT_TRUE(trials.ok());
  EXPECT_EQ(trials->size(), 1u);
}

TEST_P(StorageConformance, TwoWritersGetDistinctTrialNumbers) {
  ExperimentRecord e = MakeExperiment("two writers");
  auto other = OpenStorage(url_);
  ASSERT_TRUE(other.ok());
  std::vector<int64_t> numbers;
  for (int i = 0; i < 20; ++i) {
    Trial t;
    t.experiment_id = e.id;
    auto x = (i % 2 ? *other : storage_)->CreateTrial(t);
    ASSERT_TRUE(x.ok()) << x.status().message();
    numbers.push_back(x->number);
  }
  for (int i = 0; i < 20; ++i) EXPECT_EQ(numbers[i], i + 1);
}

TEST_P(StorageConformance, OneOwnerAtATime) {
  ExperimentRecord e = MakeExperiment("owned");
  ASSERT_TRUE(storage_->ClaimExperiment(e.id, "host:1", 100, 70, "").ok());
  EXPECT_EQ(storage_->ClaimExperiment(e.id, "host:2", 101, 71, "").code(), StatusCode::kAborted);
  EXPECT_TRUE(storage_->ClaimExperiment(e.id, "host:2", 101, 71, "host:1").ok())
      << "a known-dead owner is replaced";
  EXPECT_EQ(storage_->Heartbeat(e.id, "host:1", 102).code(), StatusCode::kAborted)
      << "the old owner learns it lost";
  ASSERT_TRUE(storage_->Heartbeat(e.id, "host:2", 102).ok());
  EXPECT_EQ(storage_->ClaimExperiment(e.id, "host:3", 120, 90, "").code(), StatusCode::kAborted);
  EXPECT_TRUE(storage_->ClaimExperiment(e.id, "host:3", 140, 110, "").ok())
      << "a stale heartbeat is taken over";
  ASSERT_TRUE(storage_->ReleaseExperiment(e.id, "host:3").ok());
  auto found = storage_->FindExperiment("owned");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ((*found)->owner, "");
  EXPECT_TRUE(storage_->ClaimExperiment(e.id, "host:4", 141, 111, "").ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageConformance, ::testing::ValuesIn(kBackends),
                         [](const auto& info) { return info.param.name; });

TEST(SqliteStorage, FileIsPrivateAndSchemaVersioned) {
  fs::path dir = fs::temp_directory_path() / ("hyperion-sqlite-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string path = (dir / "private.db").string();
  {
    auto storage = OpenStorage(path);
    ASSERT_TRUE(storage.ok());
  }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_GE(SqliteStorage::CurrentSchemaVersion(), 1);
  fs::remove_all(dir);
}

TEST(SqliteStorage, NeverTakesOverAnotherDatabase) {
  fs::path dir = fs::temp_directory_path() / ("hyperion-foreign-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string path = (dir / "other.db").string();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db, "CREATE TABLE theirs(x); INSERT INTO theirs VALUES (1);", nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
  }
  for (bool create : {true, false}) {
    auto opened = OpenStorage(path, create);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(opened.status().message().find("is a SQLite database but not a Hyperion experiment database"),
              std::string::npos);
  }
  // Nothing was added to it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 1);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  fs::remove_all(dir);
}

TEST(OpenStorage, ExplainsBadUrls) {
  auto bad = OpenStorage("mysql://x");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("unknown scheme 'mysql'"), std::string::npos);
  auto missing_dir = OpenStorage("sqlite:///no/such/folder/x.db");
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_NE(missing_dir.status().message().find("does not exist"), std::string::npos);
  auto not_created = OpenStorage("/tmp/hyperion-never-created.db", /*create_if_missing=*/false);
  ASSERT_FALSE(not_created.ok());
  EXPECT_EQ(not_created.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists("/tmp/hyperion-never-created.db"));
}

}  // namespace
}  // namespace hyperion
