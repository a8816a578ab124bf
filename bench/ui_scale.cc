// The dashboard at scale: fills a database with one experiment of N trials (default 20,000) of R reports each
// (default 50), each trial with the events a real run writes (proposed, started, completed), then serves it
// and times every API call and the page's files over HTTP, printing a Markdown table. The target is every
// call under 2 s on the project's 2-core machine (docs/benchmarks.md, "Dashboard at scale").
//
// Usage: ui_scale [--trials N] [--reports R] [--db PATH] [--repeat K]. An existing database at PATH with the
// experiment is reused, so a second run measures without filling again.
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "hyperion/common/clock.h"
#include "hyperion/dashboard/server.h"
#include "hyperion/experiment/event_types.h"
#include "hyperion/storage/storage.h"

namespace {

using hyperion::Event;
using hyperion::ExperimentRecord;
using hyperion::Json;
using hyperion::Report;
using hyperion::Storage;
using hyperion::Trial;
using hyperion::TrialState;

constexpr const char* kName = "ui-scale";

// A beam-like graph: each trial after the first 100 branches from a random earlier one, so lineages are deep.
hyperion::Status Fill(Storage& storage, int trials, int reports) {
  ExperimentRecord e;
  e.name = kName;
  e.config = Json{{"name", kName}};
  e.objective_metric = "loss";
  e.strategy = "random";
  e.status = "finished";
  e.created_at = hyperion::WallSeconds() - trials * 10.0;
  HYP_ASSIGN_OR_RETURN(e, storage.CreateExperiment(e));
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<int64_t> ids;
  constexpr int kBatch = 500;
  for (int first = 0; first < trials; first += kBatch) {
    HYP_RETURN_IF_ERROR(storage.RunInTransaction([&]() -> hyperion::Status {
      for (int i = first; i < std::min(trials, first + kBatch); ++i) {
        Trial t;
        t.experiment_id = e.id;
        double lr = std::pow(10, -4 + 3 * unit(rng));
        t.params = Json{{"lr", lr},
                        {"width", 16 << (i % 5)},
                        {"opt", i % 3 ? "adam" : "sgd"},
                        {"dropout", unit(rng) / 2}};
        if (i >= 100) {
          t.parents = {ids[static_cast<size_t>(unit(rng) * static_cast<double>(ids.size()))]};
          t.op = "branch";
          t.change_label = "lr x" + std::to_string(1 + i % 3);
        }
        t.rationale = "trial " + std::to_string(i + 1) + ": a branch of a good line, lr moved to explore";
        t.state = i % 10 == 9 ? TrialState::kPruned : TrialState::kCompleted;
        t.created_at = e.created_at + i * 10.0;
        t.started_at = *t.created_at + 1;
        t.ended_at = *t.started_at + 15;
        double final_loss = 0.1 + std::fabs(std::log10(lr) + 2.5) * 0.2 + unit(rng) * 0.05;
        if (t.state == TrialState::kCompleted) t.value = final_loss;
        HYP_ASSIGN_OR_RETURN(Trial created, storage.CreateTrial(t));
        ids.push_back(created.id);
        std::vector<Report> rs;
        for (int step = 1; step <= reports; ++step)
          rs.push_back({created.id, 1, step, "loss", final_loss + 2.0 / step, *t.started_at + step * 0.3});
        HYP_RETURN_IF_ERROR(storage.AppendReports(rs));
        for (const char* type : {hyperion::events::kTrialProposed, hyperion::events::kTrialStarted,
                                 hyperion::events::kTrialCompleted}) {
          Event ev;
          ev.experiment_id = e.id;
          ev.trial_id = created.id;
          ev.time = *t.started_at;
          ev.type = type;
          ev.payload = Json{{"number", created.number},
                            {"operator", t.op},
                            {"rationale", t.rationale},
                            {"agent", "random"}};
          HYP_RETURN_IF_ERROR(storage.AppendEvent(ev).status());
        }
      }
      return hyperion::Status::Ok();
    }));
  }
  return hyperion::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Times the dashboard's API on a large experiment", "ui_scale"};
  int trials = 20000, reports = 50, repeat = 3;
  std::string db = (std::filesystem::temp_directory_path() / "hyperion-ui-scale.db").string();
  app.add_option("--trials", trials, "trials in the experiment")->check(CLI::Range(10, 1000000));
  app.add_option("--reports", reports, "reports per trial")->check(CLI::Range(1, 10000));
  app.add_option("--db", db, "the database (reused when it holds the experiment)");
  app.add_option("--repeat", repeat, "timings per call; the table shows the slowest")
      ->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);

  auto storage = hyperion::OpenStorage(db);
  if (!storage.ok()) {
    std::fprintf(stderr, "ui_scale: %s\n", storage.status().ToString().c_str());
    return 1;
  }
  auto found = (*storage)->FindExperiment(kName);
  if (!found.ok()) return 1;
  if (!*found) {
    double start = hyperion::MonotonicSeconds();
    if (auto s = Fill(**storage, trials, reports); !s.ok()) {
      std::fprintf(stderr, "ui_scale: filling: %s\n", s.ToString().c_str());
      return 1;
    }
    std::fprintf(stderr, "filled %d trials x %d reports in %.1fs\n", trials, reports,
                 hyperion::MonotonicSeconds() - start);
    found = (*storage)->FindExperiment(kName);
  }
  const auto trial_count = (*storage)->ListTrials((**found).id)->size();
  std::string id = std::to_string((**found).id);
  storage->reset();

  hyperion::dashboard::DashboardServer server({"sqlite://" + db, "127.0.0.1", 0, ""});
  if (auto s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "ui_scale: %s\n", s.ToString().c_str());
    return 1;
  }
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(60, 0);
  const std::string e = "/api/experiments/" + id;
  const std::string middle = std::to_string(trial_count / 2);
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"page: /", "/"},
      {"page: /assets/app.js", "/assets/app.js"},
      {"experiments list", "/api/experiments"},
      {"experiment", e},
      {"trials, first page", e + "/trials?limit=25"},
      {"trials, sorted by value, page 400", e + "/trials?sort=value&order=desc&offset=10000&limit=25"},
      {"trials, completed only", e + "/trials?state=completed&limit=100"},
      {"one trial with reports", e + "/trials/" + middle},
      {"trace of a trial", e + "/trials/" + std::to_string(trial_count) + "/trace"},
      {"graph, 300 nodes (the page's)", e + "/graph?max_nodes=300"},
      {"graph, 1,000 nodes (the default)", e + "/graph"},
      {"curves (100 best)", e + "/curves"},
      {"summary (best so far, importance, timeline, parallel)", e + "/summary"},
      {"decisions, newest 50", e + "/decisions?order=desc&limit=50"},
      {"events since the last", e + "/events?after=999999999"},
  };
  std::printf("Experiment of %zu trials x %d reports; slowest of %d calls each, over HTTP on 127.0.0.1.\n\n",
              trial_count, reports, repeat);
  std::printf("| call | seconds | response bytes |\n|---|---:|---:|\n");
  bool all_fast = true;
  for (const auto& [what, path] : calls) {
    double worst = 0;
    size_t bytes = 0;
    int status = 0;
    for (int i = 0; i < repeat; ++i) {
      double start = hyperion::MonotonicSeconds();
      auto res = client.Get(path);
      worst = std::max(worst, hyperion::MonotonicSeconds() - start);
      status = res ? res->status : 0;
      bytes = res ? res->body.size() : 0;
    }
    if (status != 200) {
      std::fprintf(stderr, "ui_scale: %s answered %d\n", path.c_str(), status);
      return 1;
    }
    all_fast = all_fast && worst < 2.0;
    std::printf("| %s | %.3f | %zu |\n", what.c_str(), worst, bytes);
  }
  server.Stop();
  std::printf("\n%s\n", all_fast ? "Every call answered within 2 s." : "Some calls took 2 s or more.");
  return 0;
}
