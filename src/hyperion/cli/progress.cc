#include "hyperion/cli/progress.h"

#include <unistd.h>

#include "hyperion/common/clock.h"
#include "hyperion/common/text.h"

namespace hyperion {

std::string ShortNumber(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

std::string FormatParams(const Json& params) {
  std::string out;
  for (const auto& [name, value] : params.items()) {
    if (!out.empty()) out += ' ';
    std::string text = value.is_string() ? DumpJson(value) : ScalarToArgument(value);
    if (value.is_number_float()) {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%.4g", value.get<double>());
      text = buffer;
    }
    out += name + "=" + text;
  }
  return out;
}

ConsoleProgress::ConsoleProgress(std::FILE* out, const ExperimentConfig& config, bool quiet)
    : out_(out), config_(config), quiet_(quiet), terminal_(::isatty(fileno(out)) == 1) {
  started_ = MonotonicSeconds();
}

std::string ConsoleProgress::Elapsed() const {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "[%7s]", FormatDuration(MonotonicSeconds() - started_).c_str());
  return buffer;
}

void ConsoleProgress::Line(const std::string& text) {
  if (quiet_) return;
  if (status_shown_) std::fputs("\r\033[K", out_);
  status_shown_ = false;
  std::fprintf(out_, "%s %s\n", Elapsed().c_str(), text.c_str());
  std::fflush(out_);
}

void ConsoleProgress::OnRunStarted(const ExperimentRecord& experiment, const std::vector<Trial>& resumed,
                                   int slots) {
  if (quiet_) return;
  std::string budget = config_.budget.max_trials
                           ? "up to " + std::to_string(*config_.budget.max_trials) + " trials"
                           : "no trial limit";
  if (config_.budget.max_time) budget += ", at most " + FormatDuration(*config_.budget.max_time);
  std::fprintf(out_, "hyperion: %s experiment '%s': %s search, %d at a time, %s; objective %s %s\n",
               resumed.empty() ? "starting" : "resuming", experiment.name.c_str(),
               experiment.strategy.c_str(), slots, budget.c_str(), ObjectiveModeName(config_.objective.mode),
               config_.objective.metric.c_str());
  for (const auto& t : resumed) {
    if (IsFinished(t.state)) ++finished_;
    if (t.state == TrialState::kFailed || t.state == TrialState::kTimedOut) ++failed_;
    if (t.state == TrialState::kCompleted && t.value &&
        (!best_ || config_.objective.Better(*t.value, *best_->value))) {
      best_ = t;
    }
  }
  std::fflush(out_);
}

void ConsoleProgress::OnTrialStarted(const Trial& trial) {
  std::string what;
  if (!trial.parents.empty()) {
    // "exploit #3: lr x1.2" already names its operator.
    bool named = trial.change_label.rfind(trial.op, 0) == 0;
    what = "  " + (named ? trial.change_label
                         : trial.op + (trial.change_label.empty() ? "" : ": " + trial.change_label));
  }
  if (trial.budget_from && trial.budget_to && config_.training.enabled()) {
    what += "  " + config_.training.unit + " " + FormatNumber(*trial.budget_from) + "-" +
            FormatNumber(*trial.budget_to);
  }
  Line("#" + std::to_string(trial.number) + " started" +
       (trial.attempt > 1 ? " (attempt " + std::to_string(trial.attempt) + ")" : "") + what + "  " +
       FormatParams(trial.params));
}

void ConsoleProgress::OnTrialEnded(const Trial& trial, const std::optional<Trial>& best) {
  if (IsFinished(trial.state)) ++finished_;
  if (trial.state == TrialState::kFailed || trial.state == TrialState::kTimedOut) ++failed_;
  best_ = best;
  std::string text = "#" + std::to_string(trial.number) + " " + TrialStateName(trial.state);
  if (trial.value) text += " " + config_.objective.metric + "=" + ShortNumber(*trial.value);
  if (!trial.error.empty()) text += ": " + trial.error;
  std::string total = config_.budget.max_trials ? "/" + std::to_string(*config_.budget.max_trials) : "";
  text += "  | done " + std::to_string(finished_) + total;
  if (best_) text += ", best #" + std::to_string(best_->number) + " " + ShortNumber(*best_->value);
  Line(text);
}

void ConsoleProgress::OnMessage(const std::string& text) { Line(text); }

void ConsoleProgress::StatusLine(const std::vector<const Trial*>& running) {
  std::string total = config_.budget.max_trials ? "/" + std::to_string(*config_.budget.max_trials) : "";
  std::string text = "running " + std::to_string(running.size()) + ", done " + std::to_string(finished_) +
                     total + (failed_ ? " (" + std::to_string(failed_) + " failed)" : "");
  if (best_) {
    text += ", best #" + std::to_string(best_->number) + " " + config_.objective.metric + "=" +
            ShortNumber(*best_->value);
  }
  if (terminal_) {
    std::fprintf(out_, "\r\033[K%s %s", Elapsed().c_str(), text.c_str());
    status_shown_ = true;
  } else {
    std::fprintf(out_, "%s %s\n", Elapsed().c_str(), text.c_str());
  }
  std::fflush(out_);
}

void ConsoleProgress::OnTick(const std::vector<const Trial*>& running) {
  if (quiet_) return;
  double now = MonotonicSeconds();
  // Plain output gets a status line every 10 s instead of a line rewritten each second.
  if (!terminal_ && now - last_plain_status_ < 10) return;
  last_plain_status_ = now;
  StatusLine(running);
}

void ConsoleProgress::Finish() {
  if (status_shown_) std::fputs("\r\033[K", out_);
  status_shown_ = false;
  std::fflush(out_);
}

}  // namespace hyperion
