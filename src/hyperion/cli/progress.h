// What `hyperion run` prints while it runs: one line per trial start and end, plus a status line that is
// rewritten in place on a terminal, or plain appended lines (and a summary every few seconds) when the output
// is not one. Called on the orchestrator's thread.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "hyperion/orchestrator/orchestrator.h"

namespace hyperion {

class ConsoleProgress final : public RunObserver {
 public:
  ConsoleProgress(std::FILE* out, const ExperimentConfig& config, bool quiet);

  void OnRunStarted(const ExperimentRecord& experiment, const std::vector<Trial>& resumed,
                    int slots) override;
  void OnTrialStarted(const Trial& trial) override;
  void OnTrialEnded(const Trial& trial, const std::optional<Trial>& best) override;
  void OnMessage(const std::string& text) override;
  void OnTick(const std::vector<const Trial*>& running) override;
  // Clears the status line before the summary is printed.
  void Finish();

 private:
  void Line(const std::string& text);
  void StatusLine(const std::vector<const Trial*>& running);
  std::string Elapsed() const;

  std::FILE* out_;
  const ExperimentConfig& config_;
  bool quiet_;
  bool terminal_;
  bool status_shown_ = false;
  double started_ = 0;
  double last_plain_status_ = 0;
  int finished_ = 0;
  int failed_ = 0;
  std::optional<Trial> best_;
};

// A number for people: six significant digits ("0.972222"); storage and --json keep full precision.
std::string ShortNumber(double value);

// "lr=0.0031 width=128 optimizer=adam"
std::string FormatParams(const Json& params);

}  // namespace hyperion
