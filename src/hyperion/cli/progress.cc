#include "hyperion/cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "hyperion/cli/graph_view.h"
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
  // https://no-color.org: present and not empty.
  const char* no_color = std::getenv("NO_COLOR");
  color_ = terminal_ && !(no_color && *no_color);
  started_ = MonotonicSeconds();
}

std::string ConsoleProgress::Elapsed() const {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "[%7s]", FormatDuration(MonotonicSeconds() - started_).c_str());
  return buffer;
}

std::string ConsoleProgress::Colored(const std::string& text, TrialState state) const {
  if (!color_) return text;
  const char* code = state == TrialState::kCompleted                                     ? "32"
                     : state == TrialState::kFailed || state == TrialState::kTimedOut    ? "31"
                     : state == TrialState::kPruned || state == TrialState::kInterrupted ? "33"
                                                                                         : nullptr;
  return code ? std::string("\033[") + code + "m" + text + "\033[0m" : text;
}

void ConsoleProgress::ErasePanel() {
  // Up to the panel's first line, then erase to the end of the screen.
  if (panel_lines_ > 0) std::fprintf(out_, "\033[%dF\033[J", panel_lines_);
  panel_lines_ = 0;
}

void ConsoleProgress::DrawPanel() {
  auto lines = PanelLines();
  for (const auto& line : lines) std::fprintf(out_, "%s\n", line.c_str());
  panel_lines_ = static_cast<int>(lines.size());
}

void ConsoleProgress::Line(const std::string& text) {
  if (quiet_) return;
  if (terminal_) ErasePanel();
  std::fprintf(out_, "%s %s\n", Elapsed().c_str(), text.c_str());
  if (terminal_) DrawPanel();
  std::fflush(out_);
}

void ConsoleProgress::OnRunStarted(const ExperimentRecord& experiment, const std::vector<Trial>& resumed,
                                   int slots) {
  slots_ = slots;
  for (const auto& t : resumed) {
    if (IsFinished(t.state)) ++finished_;
    if (t.state == TrialState::kFailed || t.state == TrialState::kTimedOut) ++failed_;
    if (t.state == TrialState::kPruned) ++pruned_;
    if (t.state == TrialState::kCompleted && t.value &&
        (!best_ || config_.objective.Better(*t.value, *best_->value))) {
      best_ = t;
    }
    if (t.state == TrialState::kCompleted && t.value_step) final_steps_.push_back(*t.value_step);
  }
  if (quiet_) return;
  std::string budget = config_.budget.max_trials
                           ? "up to " + std::to_string(*config_.budget.max_trials) + " trials"
                           : "no trial limit";
  if (config_.budget.max_time) budget += ", at most " + FormatDuration(*config_.budget.max_time);
  std::fprintf(out_, "hyperion: %s experiment '%s': %s search, %d at a time, %s; objective %s %s\n",
               resumed.empty() ? "starting" : "resuming", experiment.name.c_str(),
               experiment.strategy.c_str(), slots, budget.c_str(), ObjectiveModeName(config_.objective.mode),
               config_.objective.metric.c_str());
  std::fflush(out_);
}

void ConsoleProgress::OnTrialStarted(const Trial& trial) {
  Live live;
  live.number = trial.number;
  live.started = MonotonicSeconds();
  if (config_.training.enabled()) {
    live.from = trial.budget_from;
    live.to = trial.budget_to;
  }
  live_[trial.id] = live;
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

void ConsoleProgress::OnTrialReport(const Trial& trial, const ParsedReport& report) {
  auto it = live_.find(trial.id);
  if (it == live_.end()) return;
  it->second.step = report.step;
  // The objective first, then the others in the order the trial wrote them.
  std::vector<std::pair<std::string, double>> metrics;
  for (const auto& m : report.metrics) {
    if (m.first == config_.objective.metric)
      metrics.insert(metrics.begin(), m);
    else
      metrics.push_back(m);
  }
  it->second.metrics = std::move(metrics);
}

void ConsoleProgress::OnTrialEnded(const Trial& trial, const std::optional<Trial>& best) {
  auto it = live_.find(trial.id);
  if (trial.state == TrialState::kCompleted && it != live_.end() && it->second.step && !it->second.from)
    final_steps_.push_back(*it->second.step);
  if (it != live_.end()) live_.erase(it);
  if (IsFinished(trial.state)) ++finished_;
  if (trial.state == TrialState::kFailed || trial.state == TrialState::kTimedOut) ++failed_;
  if (trial.state == TrialState::kPruned) ++pruned_;
  best_ = best;
  std::string text =
      "#" + std::to_string(trial.number) + " " + Colored(TrialStateName(trial.state), trial.state);
  if (trial.value) text += " " + config_.objective.metric + "=" + ShortNumber(*trial.value);
  if (!trial.error.empty()) text += ": " + trial.error;
  std::string total = config_.budget.max_trials ? "/" + std::to_string(*config_.budget.max_trials) : "";
  text += "  | done " + std::to_string(finished_) + total;
  if (best_) text += ", best #" + std::to_string(best_->number) + " " + ShortNumber(*best_->value);
  Line(text);
}

void ConsoleProgress::OnMessage(const std::string& text) { Line(text); }

std::string ConsoleProgress::SummaryText() const {
  std::string total = config_.budget.max_trials ? "/" + std::to_string(*config_.budget.max_trials) : "";
  std::string text = "slots " + std::to_string(live_.size()) + "/" + std::to_string(slots_) + " busy, done " +
                     std::to_string(finished_) + total;
  std::vector<std::string> bad;
  if (failed_) bad.push_back(std::to_string(failed_) + " failed");
  if (pruned_) bad.push_back(std::to_string(pruned_) + " pruned");
  if (!bad.empty()) text += " (" + JoinStrings(bad) + ")";
  if (best_) {
    text += ", best #" + std::to_string(best_->number) + " " + config_.objective.metric + "=" +
            ShortNumber(*best_->value) + " " + FormatParams(best_->params);
  }
  return text;
}

std::string ConsoleProgress::TrialLine(const Live& live, size_t width) const {
  const double elapsed = MonotonicSeconds() - live.started;
  std::optional<double> fraction;
  std::string steps;
  if (live.from && live.to && *live.to > *live.from) {
    double done = live.step ? *live.step - *live.from : 0;
    fraction = std::clamp(done / (*live.to - *live.from), 0.0, 1.0);
    steps = FormatNumber(live.step ? static_cast<double>(*live.step) : *live.from) + "/" +
            FormatNumber(*live.to) + " " + config_.training.unit;
  } else if (live.step && !final_steps_.empty()) {
    // The usual length: the median last step of the trials that completed.
    std::vector<int64_t> sorted = final_steps_;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(sorted.size() / 2), sorted.end());
    const double usual = static_cast<double>(std::max<int64_t>(1, sorted[sorted.size() / 2]));
    fraction = std::clamp(static_cast<double>(*live.step) / usual, 0.0, 0.99);
    steps = std::to_string(*live.step) + "/~" + FormatNumber(usual);
  } else {
    steps = live.step ? "step " + std::to_string(*live.step) : "starting";
  }
  std::string line = "  #" + std::to_string(live.number) + " ";
  if (fraction) {
    constexpr int kCells = 16;
    int full = static_cast<int>(*fraction * kCells + 0.5);
    std::string bar;
    for (int i = 0; i < kCells; ++i) bar += i < full ? "\u2588" : "\u2591";
    line += bar + " ";
  }
  line += steps;
  size_t shown = 0;
  for (const auto& [name, v] : live.metrics) {
    if (++shown > 3) break;
    line += "  " + name + "=" + ShortNumber(v);
  }
  line += "  " + FormatDuration(elapsed);
  if (fraction && *fraction > 0.02 && *fraction < 1)
    line += "  ETA " + FormatDuration(elapsed * (1 - *fraction) / *fraction);
  return cli::ClipText(line, width);
}

std::vector<std::string> ConsoleProgress::PanelLines() const {
  struct winsize size {};
  size_t width = ::ioctl(fileno(out_), TIOCGWINSZ, &size) == 0 && size.ws_col > 1 ? size.ws_col - 1 : 119;
  std::vector<const Live*> running;
  for (const auto& [id, live] : live_) running.push_back(&live);
  std::sort(running.begin(), running.end(),
            [](const Live* a, const Live* b) { return a->number < b->number; });
  std::vector<std::string> lines;
  for (const Live* live : running) lines.push_back(TrialLine(*live, width));
  lines.push_back(cli::ClipText(Elapsed() + " " + SummaryText(), width));
  return lines;
}

void ConsoleProgress::OnTick(const std::vector<const Trial*>& /*running*/) {
  if (quiet_) return;
  if (terminal_) {
    ErasePanel();
    DrawPanel();
    std::fflush(out_);
    return;
  }
  // Plain output gets the summary every 10 s instead of a panel redrawn each second.
  double now = MonotonicSeconds();
  if (now - last_plain_status_ < 10) return;
  last_plain_status_ = now;
  std::fprintf(out_, "%s %s\n", Elapsed().c_str(), SummaryText().c_str());
  std::fflush(out_);
}

void ConsoleProgress::Finish() {
  if (terminal_) ErasePanel();
  std::fflush(out_);
}

void JsonProgress::Emit(const std::string& event, Json fields) {
  Json line = Json::object();
  line["event"] = event;
  line["time"] = WallSeconds();
  for (auto& [k, v] : fields.items()) line[k] = v;
  std::fprintf(out_, "%s\n", DumpJson(line).c_str());
  std::fflush(out_);
}

void JsonProgress::OnRunStarted(const ExperimentRecord& experiment, const std::vector<Trial>& resumed,
                                int slots) {
  Emit("run_started", Json{{"experiment", experiment.name},
                           {"strategy", experiment.strategy},
                           {"slots", slots},
                           {"resumed_trials", resumed.size()},
                           {"objective",
                            {{"metric", experiment.objective_metric},
                             {"mode", ObjectiveModeName(experiment.objective_mode)}}}});
}

void JsonProgress::OnTrialStarted(const Trial& trial) {
  Emit("trial_started", Json{{"trial", trial.ToJson()}});
}

void JsonProgress::OnTrialReport(const Trial& trial, const ParsedReport& report) {
  Json metrics = Json::object();
  for (const auto& [name, v] : report.metrics) metrics[name] = NumberJson(v);
  Emit("report", Json{{"trial", trial.number}, {"step", report.step}, {"metrics", metrics}});
}

void JsonProgress::OnTrialEnded(const Trial& trial, const std::optional<Trial>& best) {
  Emit("trial_ended", Json{{"trial", trial.ToJson()}, {"best", best ? Json(best->number) : Json()}});
}

void JsonProgress::OnMessage(const std::string& text) { Emit("message", Json{{"text", text}}); }

}  // namespace hyperion
