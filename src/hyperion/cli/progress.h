// What `hyperion run` prints while it runs.
//
// ConsoleProgress, on a terminal: one line per trial start and end scrolling above a live panel that is
// redrawn every second: one line per running trial (a progress bar over its step budget, its step, its latest
// metrics, elapsed time and ETA) and a summary line (slots in use, trials done, failed and pruned, the best
// so far with its parameters). The step budget is the trial's span under `training:`, else the usual length
// of the trials that completed (shown as "~20"); before any is known the line shows the step alone. Colours
// (trial states) only on a terminal and never with NO_COLOR set. When the output is not a terminal: plain
// appended lines, and the summary every 10 s. With `quiet`, nothing until the run's own summary.
//
// JsonProgress (`run --json`): one JSON object per line for scripts, each with "event": run_started,
// trial_started, report, trial_ended, message, and the final run_finished the command prints itself.
//
// Called on the orchestrator's thread.
#pragma once

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/orchestrator/orchestrator.h"

namespace hyperion {

class ConsoleProgress final : public RunObserver {
 public:
  ConsoleProgress(std::FILE* out, const ExperimentConfig& config, bool quiet);

  void OnRunStarted(const ExperimentRecord& experiment, const std::vector<Trial>& resumed,
                    int slots) override;
  void OnTrialStarted(const Trial& trial) override;
  void OnTrialReport(const Trial& trial, const ParsedReport& report) override;
  void OnTrialEnded(const Trial& trial, const std::optional<Trial>& best) override;
  void OnMessage(const std::string& text) override;
  void OnTick(const std::vector<const Trial*>& running) override;
  // Clears the live panel before the summary is printed.
  void Finish();

 private:
  struct Live {
    int64_t number = 0;
    double started = 0;  // monotonic
    std::optional<int64_t> step;
    std::vector<std::pair<std::string, double>> metrics;  // the latest report's
    std::optional<double> from, to;                       // the span under `training:`
  };

  void Line(const std::string& text);
  void ErasePanel();
  void DrawPanel();
  std::vector<std::string> PanelLines() const;
  std::string TrialLine(const Live& live, size_t width) const;
  std::string SummaryText() const;
  std::string Elapsed() const;
  std::string Colored(const std::string& text, TrialState state) const;

  std::FILE* out_;
  const ExperimentConfig& config_;
  bool quiet_;
  bool terminal_;
  bool color_;
  int panel_lines_ = 0;  // lines of the live panel below the cursor's line, to erase before the next output
  int slots_ = 0;
  double started_ = 0;
  double last_plain_status_ = 0;
  int finished_ = 0;
  int failed_ = 0;
  int pruned_ = 0;
  std::optional<Trial> best_;
  std::map<int64_t, Live> live_;      // running trials by id
  std::vector<int64_t> final_steps_;  // the last step of each completed trial, for the usual length
};

class JsonProgress final : public RunObserver {
 public:
  explicit JsonProgress(std::FILE* out) : out_(out) {}

  void OnRunStarted(const ExperimentRecord& experiment, const std::vector<Trial>& resumed,
                    int slots) override;
  void OnTrialStarted(const Trial& trial) override;
  void OnTrialReport(const Trial& trial, const ParsedReport& report) override;
  void OnTrialEnded(const Trial& trial, const std::optional<Trial>& best) override;
  void OnMessage(const std::string& text) override;
  // One line: {"event": ..., ...fields}.
  void Emit(const std::string& event, Json fields);

 private:
  std::FILE* out_;
};

// A number for people: six significant digits ("0.972222"); storage and --json keep full precision.
std::string ShortNumber(double value);

// "lr=0.0031 width=128 optimizer=adam"
std::string FormatParams(const Json& params);

}  // namespace hyperion
