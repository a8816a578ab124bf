// The conformance suite every Storage back end must pass. Each back end is one entry of kBackends; its tests
// are named Backends/StorageConformance.*/<backend>, so that CTest runs the PostgreSQL ones as a test of
// their own (label postgres), against the server scripts/start-postgres starts. Each PostgreSQL test gets a
// database of its own, created from $HYPERION_TEST_POSTGRES_URL and dropped at the end.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <functional>
#include <set>

#include "hyperion/common/clock.h"
#include "hyperion/storage/postgres_storage.h"
#include "hyperion/storage/sqlite_storage.h"
#include "hyperion/storage/storage.h"

namespace hyperion {
namespace {

namespace fs = std::filesystem;

// The server the PostgreSQL tests use: CMake sets the variable (the fixture postgres_server starts it).
std::string AdminUrl() {
  const char* url = std::getenv("HYPERION_TEST_POSTGRES_URL");
  return url && *url ? url : "";
}

// `url` with another database name in its path.
std::string WithDatabase(const std::string& url, const std::string& database) {
  size_t host = url.find("://") + 3;
  size_t path = url.find('/', host);
  size_t query = url.find('?', host);
  std::string base = url.substr(0, std::min(path, query));
  return base + "/" + database + (query == std::string::npos ? "" : url.substr(query));
}

// Runs one statement as the test role on the admin database; "" or libpq's message.
std::string AdminCommand(const std::string& sql) {
  PGconn* conn = PQconnectdb(AdminUrl().c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* r = PQexec(conn, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
      error = PQerrorMessage(conn);
    PQclear(r);
  }
  PQfinish(conn);
  return error;
}

std::string FreshPostgresDatabase(const std::string& tag) {
  static std::atomic<int> counter{0};
  if (AdminUrl().empty()) {
    ADD_FAILURE()
        << "HYPERION_TEST_POSTGRES_URL is not set; run this test through CTest (ctest -L postgres), "
           "which starts the server with scripts/start-postgres";
    return "postgresql://unset";
  }
  std::string name = "hyperion_t" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + tag;
  for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_';
  name = name.substr(0, 60);
  std::string error = AdminCommand("CREATE DATABASE " + name + " ENCODING 'UTF8' TEMPLATE template0");
  EXPECT_EQ(error, "") << "creating database " << name;
  return WithDatabase(AdminUrl(), name);
}

void DropPostgresDatabase(const std::string& url) {
  std::string name = url.substr(url.rfind('/') + 1);
  name = name.substr(0, name.find('?'));
  // FORCE ends our own leftover connections but fails on an autovacuum worker, which a plain DROP ends
  // itself.
  std::string error;
  for (int i = 0; i < 10; ++i) {
    error = AdminCommand("DROP DATABASE IF EXISTS " + name + (i % 2 ? " WITH (FORCE)" : ""));
    if (error.empty()) break;
    ::usleep(200000);
  }
  EXPECT_EQ(error, "") << "dropping database " << name;
}

struct Backend {
  std::string name;
  // Returns the URL of a fresh, empty database for the test named `test`.
  std::function<std::string(const fs::path& dir, const std::string& test)> fresh_url;
  // Removes what fresh_url made outside `dir`.
  std::function<void(const std::string& url)> drop;
};

const Backend kBackends[] = {
    {"sqlite",
     [](const fs::path& dir, const std::string&) { return "sqlite://" + (dir / "test.db").string(); },
     [](const std::string&) {}},
    {"postgres", [](const fs::path&, const std::string& test) { return FreshPostgresDatabase(test); },
     DropPostgresDatabase},
};

class StorageConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hyperion-storage-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    url_ = GetParam().fresh_url(dir_, ::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto storage = OpenStorage(url_);
    ASSERT_TRUE(storage.ok()) << storage.status().message();
    storage_ = std::move(storage).value();
  }
  void TearDown() override {
    storage_.reset();
    GetParam().drop(url_);
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

TEST_P(StorageConformance, NamesAndNumbersRoundTripExactly) {
  const std::vector<std::string> names = {"val/acc", "a.b:c d", "ünï/cødé 😀", "x'y\"z\\w", "lr@1e-3?&=%"};
  ExperimentRecord e = MakeExperiment(names[2] + " " + names[1]);
  Trial t;
  t.experiment_id = e.id;
  Json params = Json::object();
  const std::vector<double> doubles = {0.1,  1.0 / 3.0,    1e-300, 5e-324, 1.7976931348623157e308,
                                       -0.0, 123456789.125};
  for (size_t i = 0; i < names.size(); ++i) params[names[i]] = doubles[i];
  t.params = params;
  t.value = 1.0 / 3.0;
  t.budget_to = 0.1 + 0.2;
  t.error = "a\tb\nc";
  auto created = storage_->CreateTrial(t);
  ASSERT_TRUE(created.ok()) << created.status().message();
  std::vector<Report> reports;
  for (size_t i = 0; i < doubles.size(); ++i) {
    reports.push_back(Report{created->id, 1, 1, names[i % names.size()], doubles[i], 1700000000.123456});
  }
  reports.push_back(Report{created->id, 1, 2, "val/acc", -INFINITY, 2.0});
  ASSERT_TRUE(storage_->AppendReports(reports).ok());

  auto found = storage_->FindExperiment(names[2] + " " + names[1]);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->name, names[2] + " " + names[1]);
  auto back = storage_->GetTrial(e.id, created->number);
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ(DumpJson((*back)->params), DumpJson(params)) << "names and values byte for byte, in order";
  EXPECT_EQ(*(*back)->value, 1.0 / 3.0);
  EXPECT_EQ(*(*back)->budget_to, 0.1 + 0.2);
  EXPECT_EQ((*back)->error, "a\tb\nc");
  auto stored = storage_->ListReports(created->id);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), reports.size());
  for (size_t i = 0; i < reports.size(); ++i) {
    EXPECT_EQ((*stored)[i].metric, reports[i].metric) << "in the order they were stored";
    EXPECT_EQ((*stored)[i].value, reports[i].value) << i;  // -0.0 == 0.0: SQLite keeps no sign of zero
    EXPECT_EQ((*stored)[i].time, reports[i].time);
  }
}

// Forks `n` processes that each open the database at `url` and run `work(index, storage)` once the parent
// lets them all go at the same moment; returns their exit codes (work's return value, 100 when it cannot
// open the database).
std::vector<int> RunProcesses(const std::string& url, int n, const std::function<int(int, Storage&)>& work) {
  int gate[2];
  EXPECT_EQ(::pipe(gate), 0);
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(gate[1]);
      auto storage = OpenStorage(url);
      char byte;
      (void)!::read(gate[0], &byte, 1);  // returns when the parent closes the gate
      int code = storage.ok() ? work(i, **storage) : 100;
      if (!storage.ok()) std::fprintf(stderr, "child %d: %s\n", i, storage.status().message().c_str());
      std::fflush(stderr);
      ::_exit(code);  // no destructors: the parent's connections are not ours to close
    }
    pids.push_back(pid);
  }
  ::close(gate[0]);
  ::usleep(300000);  // every child has opened its database and waits at the gate
  ::close(gate[1]);
  std::vector<int> codes;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return codes;
}

TEST_P(StorageConformance, ProcessesWritingAtOnceGetConsecutiveNumbersAndLoseNoUpdate) {
  ExperimentRecord e = MakeExperiment("many processes");
  constexpr int kProcesses = 4, kEach = 15;
  auto codes = RunProcesses(url_, kProcesses, [&](int index, Storage& storage) {
    for (int i = 0; i < kEach; ++i) {
      // A trial and its event together, then an update of the trial: what the orchestrator does.
      Trial t;
      t.experiment_id = e.id;
      t.params = Json{{"process", index}, {"i", i}};
      Result<Trial> made = Status::Ok();
      Status status = storage.RunInTransaction([&]() -> Status {
        made = storage.CreateTrial(t);
        if (!made.ok()) return made.status();
        Event event{0, e.id, made->id, 1.0, "trial_proposed", Json{{"number", made->number}}};
        return storage.AppendEvent(event).status();
      });
      if (!status.ok()) {
        std::fprintf(stderr, "process %d: %s\n", index, status.message().c_str());
        return 1;
      }
      Trial done = *made;
      done.state = TrialState::kCompleted;
      done.value = static_cast<double>(done.number);
      if (Status updated = storage.UpdateTrial(done); !updated.ok()) {
        std::fprintf(stderr, "process %d: %s\n", index, updated.message().c_str());
        return 2;
      }
    }
    return 0;
  });
  EXPECT_EQ(codes, std::vector<int>(kProcesses, 0)) << "no writer failed (no \"database is locked\")";
  auto trials = storage_->ListTrials(e.id);
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), static_cast<size_t>(kProcesses * kEach));
  std::map<int, int> per_process;
  for (size_t i = 0; i < trials->size(); ++i) {
    const Trial& t = (*trials)[i];
    EXPECT_EQ(t.number, static_cast<int64_t>(i + 1)) << "numbers 1..N, no gap, no repeat";
    EXPECT_EQ(t.state, TrialState::kCompleted) << "#" << t.number;
    ASSERT_TRUE(t.value.has_value()) << "#" << t.number;
    EXPECT_EQ(*t.value, static_cast<double>(t.number));
    ++per_process[t.params["process"].get<int>()];
  }
  for (int p = 0; p < kProcesses; ++p) EXPECT_EQ(per_process[p], kEach);
  auto events = storage_->ListEvents(e.id, 0, 1000, {"trial_proposed"});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), trials->size());
  std::set<int64_t> numbers;
  for (const auto& event : *events) numbers.insert(event.payload["number"].get<int64_t>());
  EXPECT_EQ(numbers.size(), trials->size()) << "one event per trial";
}

TEST_P(StorageConformance, OfProcessesClaimingAtOnceExactlyOneWins) {
  ExperimentRecord e = MakeExperiment("contested");
  constexpr int kProcesses = 4;
  for (int round = 0; round < 3; ++round) {
    auto codes = RunProcesses(url_, kProcesses, [&](int index, Storage& storage) {
      Status claimed = storage.ClaimExperiment(e.id, "host:" + std::to_string(index), 100, 70, "");
      if (claimed.ok()) return 0;
      return claimed.code() == StatusCode::kAborted ? 3 : 1;
    });
    int winners = static_cast<int>(std::count(codes.begin(), codes.end(), 0));
    EXPECT_EQ(winners, 1) << "round " << round;
    EXPECT_EQ(std::count(codes.begin(), codes.end(), 3), kProcesses - 1) << "the others are told kAborted";
    auto found = storage_->FindExperiment("contested");
    ASSERT_TRUE(found.ok() && found->has_value());
    int winner = static_cast<int>(std::find(codes.begin(), codes.end(), 0) - codes.begin());
    EXPECT_EQ((*found)->owner, "host:" + std::to_string(winner));
    ASSERT_TRUE(storage_->ReleaseExperiment(e.id, (*found)->owner).ok());
  }
}

TEST_P(StorageConformance, ProcessesOpeningAFreshDatabaseAtOnceAllSucceed) {
  // A second fresh database, opened first by several processes at the same moment (schema creation races).
  std::string url = GetParam().fresh_url(dir_ / "second", "second");
  fs::create_directories(dir_ / "second");
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  std::vector<pid_t> pids;
  for (int i = 0; i < 4; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(gate[1]);
      char byte;
      (void)!::read(gate[0], &byte, 1);
      auto storage = OpenStorage(url);
      if (!storage.ok()) std::fprintf(stderr, "open: %s\n", storage.status().message().c_str());
      ::_exit(storage.ok() ? 0 : 1);
    }
    pids.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto opened = OpenStorage(url);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_TRUE((*opened)->ListExperiments().ok());
  opened->reset();
  GetParam().drop(url);
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

TEST(PostgresUrl, PasswordsAreMasked) {
  EXPECT_EQ(PostgresStorage::MaskPassword("postgresql://me:s3cr%40t@db.example:5433/exp?sslmode=require"),
            "postgresql://me:***@db.example:5433/exp?sslmode=require");
  EXPECT_EQ(PostgresStorage::MaskPassword("postgres://me@host/db"), "postgres://me@host/db");
  EXPECT_EQ(PostgresStorage::MaskPassword("postgresql://host/db?user=me&password=pw&sslmode=disable"),
            "postgresql://host/db?user=me&password=***&sslmode=disable");
  EXPECT_EQ(PostgresStorage::MaskPassword("postgresql:///db"), "postgresql:///db");
}

TEST(PostgresUrl, BadRetryLimitIsExplained) {
  auto opened = OpenStorage("postgresql://me:pw@127.0.0.1:1/db?retry_seconds=soon");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(opened.status().message().find("retry_seconds 'soon'"), std::string::npos)
      << opened.status().message();
  EXPECT_EQ(opened.status().message().find("pw"), std::string::npos) << "no password in messages";
}

TEST(PostgresUrl, AServerThatStaysAwayIsGivenUpOnAfterTheLimit) {
  double started = MonotonicSeconds();
  // Port 1: nothing listens there, so every attempt is refused at once.
  auto opened = OpenStorage("postgresql://me:pw@127.0.0.1:1/db?retry_seconds=1.5&connect_timeout=2");
  double took = MonotonicSeconds() - started;
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kUnavailable);
  const std::string message = opened.status().message();
  EXPECT_NE(
      message.find("postgresql://me:***@127.0.0.1:1/db?connect_timeout=2 is unreachable: gave up after"),
      std::string::npos)
      << message;
  EXPECT_NE(message.find("Connection refused"), std::string::npos) << message;
  EXPECT_EQ(message.find(":pw@"), std::string::npos) << message;
  EXPECT_GE(took, 1.4);
  EXPECT_LT(took, 6.0);
}

// The tests below talk to the server; CTest runs them under the label postgres.
class PostgresStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = FreshPostgresDatabase(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { DropPostgresDatabase(url_); }

  // Ends every connection of the test's database, as a server restart would (SQLSTATE 57P01).
  void DropConnections() {
    std::string name = url_.substr(url_.rfind('/') + 1);
    EXPECT_EQ(AdminCommand("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name +
                           "' AND pid <> pg_backend_pid()"),
              "");
  }

  std::string url_;
};

TEST_F(PostgresStorageTest, UrlHidesThePassword) {
  auto opened = OpenStorage(url_ + "?retry_seconds=5");
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ((*opened)->BackendName(), "postgresql");
  EXPECT_EQ((*opened)->Url().find(":hyperion@"), std::string::npos) << (*opened)->Url();
  EXPECT_NE((*opened)->Url().find(":***@"), std::string::npos) << (*opened)->Url();
  EXPECT_EQ((*opened)->Url().find("retry_seconds"), std::string::npos)
      << "Hyperion's parameter is not libpq's";
}

TEST_F(PostgresStorageTest, AWrongPasswordFailsAtOnce) {
  std::string url = url_;
  url.replace(url.find(":hyperion@"), 10, ":Xq9zz@");
  double started = MonotonicSeconds();
  auto opened = OpenStorage(url);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(opened.status().message().find("password authentication failed"), std::string::npos)
      << opened.status().message();
  EXPECT_EQ(opened.status().message().find("Xq9zz"), std::string::npos) << "the password is not shown";
  EXPECT_LT(MonotonicSeconds() - started, 5.0) << "waiting cannot fix a password";
}

TEST_F(PostgresStorageTest, AReaderCreatesNothing) {
  auto reader = OpenStorage(url_, /*create_if_missing=*/false);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kNotFound);
  EXPECT_NE(reader.status().message().find("run `hyperion run CONFIG --storage URL` first"),
            std::string::npos);
  auto writer = OpenStorage(url_);
  ASSERT_TRUE(writer.ok()) << writer.status().message();
  auto again = OpenStorage(url_, false);
  EXPECT_TRUE(again.ok()) << again.status().message();
}

TEST_F(PostgresStorageTest, NeverTakesOverAnotherDatabase) {
  PGconn* conn = PQconnectdb(url_.c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
  PQclear(PQexec(conn, "CREATE TABLE experiments (x int)"));
  auto opened = OpenStorage(url_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(opened.status().message().find("is not a Hyperion experiment database"), std::string::npos);
  PGresult* r = PQexec(conn, "SELECT to_regclass('schema_version') IS NULL");
  EXPECT_STREQ(PQgetvalue(r, 0, 0), "t") << "nothing was added";
  PQclear(r);
  PQfinish(conn);
}

TEST_F(PostgresStorageTest, ADroppedConnectionIsRedoneWithoutLoss) {
  auto opened = OpenStorage(url_);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Storage& storage = **opened;
  ExperimentRecord e;
  e.name = "dropped";
  e.objective_metric = "loss";
  e.strategy = "random";
  auto created = storage.CreateExperiment(e);
  ASSERT_TRUE(created.ok());

  DropConnections();
  auto found = storage.FindExperiment("dropped");
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_TRUE(found->has_value());
  DropConnections();
  Trial t;
  t.experiment_id = created->id;
  auto first = storage.CreateTrial(t);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->number, 1);

  // The connection drops in the middle of a transaction: the whole body runs again, and only its second run
  // is stored.
  int runs = 0;
  Result<Trial> made = Status::Ok();
  Status status = storage.RunInTransaction([&]() -> Status {
    ++runs;
    made = storage.CreateTrial(t);
    if (!made.ok()) return made.status();
    if (runs == 1) DropConnections();
    Event event{0, created->id, made->id, 1.0, "trial_proposed", Json{{"number", made->number}}};
    return storage.AppendEvent(event).status();
  });
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(made->number, 2);
  auto trials = storage.ListTrials(created->id);
  ASSERT_TRUE(trials.ok());
  EXPECT_EQ(trials->size(), 2u) << "the first run's trial was rolled back";
  auto events = storage.ListEvents(created->id, 0, 100, {});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().trial_id, made->id);
}

}  // namespace
}  // namespace hyperion
