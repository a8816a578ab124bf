// The orchestrator runs one experiment: it asks the agent what to do (see agent/agent.h), validates and
// stores each decision with its rationale (applied, or rejected with the reason), launches trials through
// the executor, reads their reports, enforces timeouts, retries and the budget, and stops cleanly on
// SIGINT/SIGTERM.
//
// One thread owns all of its state: Run() is an event loop on the calling thread, woken by signals (SIGCHLD,
// SIGINT, SIGTERM through a self-pipe), by a slow agent's reply, and by a short tick that tails the trials'
// metric files and reads new user notes. A slow agent (an LLM) decides on a worker thread with a snapshot;
// meanwhile its fallback fills free slots. Storage is written before anything is shown, so a crash loses no
// finished result; Run() with resume continues an experiment from storage.
//
// Run() installs handlers for SIGINT, SIGTERM and SIGCHLD for its duration and restores the previous ones
// after. A second SIGINT kills the trials at once instead of waiting for the grace period.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hyperion/agent/agent.h"
#include "hyperion/common/status.h"
#include "hyperion/executor/executor.h"
#include "hyperion/executor/metric_stream.h"
#include "hyperion/experiment/config.h"
#include "hyperion/resources/resource_pool.h"
#include "hyperion/storage/storage.h"
#include "hyperion/strategy/pruner.h"

namespace hyperion {

struct RunSettings {
  ExperimentConfig config;        // after command-line overrides
  std::string output_dir;         // absolute; trial folders go to <output_dir>/<experiment>/trial-NNNN
  bool resume = false;            // continue an existing experiment of the same name
  std::string python_client_dir;  // put first on the trials' PYTHONPATH
};

// What the run looked like from outside, for the progress display. Called on the loop thread.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // `slots`: trials at once, as resolved from `parallel` and `resources:`.
  virtual void OnRunStarted(const ExperimentRecord& /*experiment*/, const std::vector<Trial>& /*resumed*/,
                            int /*slots*/) {}
  virtual void OnTrialStarted(const Trial& /*trial*/) {}
  virtual void OnTrialReport(const Trial& /*trial*/, const ParsedReport& /*report*/) {}
  virtual void OnTrialEnded(const Trial& /*trial*/, const std::optional<Trial>& /*best*/) {}
  virtual void OnMessage(const std::string& /*text*/) {}
  // About once a second while trials run.
  virtual void OnTick(const std::vector<const Trial*>& /*running*/) {}
};

struct RunSummary {
  ExperimentRecord experiment;
  std::string end_reason;  // "budget reached: 16 trials", "grid exhausted: ...", "interrupted by SIGINT"
  std::map<std::string, int> counts;  // trials by state name
  std::optional<Trial> best;
  int stop_signal = 0;  // SIGINT or SIGTERM when the run was interrupted, else 0
};

// This machine's name, as recorded in an experiment's owner.
std::string HostName();

// An owner whose heartbeat is older than this is taken for dead (it may run on another host).
inline constexpr double kStaleOwnerSeconds = 30;

// True when `owner` ("host:pid") names a process of this host that no longer runs (a zombie counts as
// gone). Owners on other hosts are never known to be gone here: their heartbeat tells.
bool OwnerGone(const std::string& owner);

class Orchestrator {
 public:
  Orchestrator(RunSettings settings, Storage& storage, std::unique_ptr<Agent> agent,
               std::unique_ptr<Executor> executor, RunObserver& observer);
  ~Orchestrator();

  // Runs the experiment to its end. Errors: kAlreadyExists when the experiment exists and resume is off;
  // kFailedPrecondition when resuming with a different strategy (agent); storage errors as they come.
  Result<RunSummary> Run();

 private:
  struct Running;
  struct SlowCall;

  Status Start();
  Status Loop();
  Status FillSlots();
  Status LaunchTrial(Trial& trial);
  Status PollMetrics(Running& running, bool final_read);
  // Stores how a trial ended. `replayed`: an end found on resume (ReplayExit), whose record exists already.
  Status HandleExit(const TrialExit& exit, bool replayed = false);
  // Writes the trial's exit record (kExitRecord) before its end is stored; `running` adds why we stopped it.
  void WriteExitRecord(const Trial& trial, const TrialExit& exit, const Running* running);
  // Stores the end of a trial that ended while the database was away, from its exit record and its files.
  Status ReplayExit(Trial& trial, const Json& record);
  Status CheckDeadlines();
  void StopTrial(Running& running, TrialState end_state, const std::string& reason, bool immediately);
  // Asks a running trial to stop through control.json; SIGTERM follows after the grace period.
  void RequestPrune(Running& running, const std::string& source, const std::string& rationale,
                    const Json& evidence);
  // Asks the agent for decisions while slots are free or events wait for it; a slow agent through
  // DriveSlowAgent().
  Status AskAgent();
  // Starts pending trials (the agent's queue, retries, resumed ones) while slots are free.
  Status LaunchPending();
  Status DriveSlowAgent();
  // Fills free slots from the slow agent's fallback; `by` names it and says why it decides.
  Status FillFromFallback(const std::string& by);
  // Cancels a slow call still out when the run ends, waits up to 2 s, then lets it finish alone (orphaned:
  // it no longer wakes the loop).
  void ReleaseSlowCall();
  // Validates and applies one reply, recording each decision (applied or rejected) in the event log.
  // Returns how many proposals became trials.
  Result<int> ApplyReply(AgentReply reply, const std::string& decided_by);
  // Why a proposal cannot become a trial; OK when it can.
  Status CheckProposal(const Proposal& proposal) const;
  Status RejectDecision(const std::string& decided_by, const std::string& kind, Json details,
                        const std::string& reason);
  // Applies prune decisions (running: asked to stop; pending or completed: marked pruned).
  Status ApplyPrunes(const std::vector<PruneDecision>& prunes, const std::string& decided_by, Json& notes);
  // Shows the pruner a running trial's new reports of the objective.
  Status CheckPruner(Running& running);
  // Removes the checkpoints no trial may need any more (config `checkpoints`).
  Status ApplyRetention();
  // Fills in what a proposal asks of the trial (which already holds its parents and rationale): its span of
  // training and the checkpoint it restores; notes in the rationale when the donor left none.
  Status PrepareBranch(const Proposal& proposal, Trial& trial);
  // The agent's read-only view; free_slots as given.
  AgentContext Context(int free_slots) const;
  // Appends an event and shows it to the agent (recent events, earlier decisions).
  Status Record(Event event);
  void Remember(const Event& event);
  // Reads notes written by `hyperion note` and stop requests from the dashboard since the last look.
  Status ReadNotes();
  Status StopRequested(const Event& event);
  int FreeSlots() const;
  // The key under which a proposal counts as a duplicate of an existing trial.
  static std::string DuplicateKey(const Json& params, const std::vector<int64_t>& parents,
                                  std::optional<double> from, std::optional<double> to);
  void StopAll(TrialState end_state, const std::string& reason, bool immediately);
  Status SaveTrial(const Trial& trial, const std::string& event_type, Json payload);
  void StopProposing(const std::string& reason, bool budget);
  // Stops proposing once budget.max_trials trials exist.
  void CheckTrialBudget();
  Status RecoverUnfinished();
  // Resume: follows a trial whose job outlived the previous orchestrator (Executor::Reattach said yes).
  Status ReattachTrial(Trial& trial);
  // A Running for a trial whose files are read again from the start (a replayed end, a re-attached job):
  // the reports of this attempt already stored are not stored twice, and its curve is rebuilt from the files.
  Result<std::unique_ptr<Running>> RunningFromFiles(const Trial& trial);
  Trial* FindTrial(int64_t id);
  std::optional<Trial> Best() const;
  std::string TrialDirFor(const Trial& trial) const;
  std::string NewExperimentDir() const;
  // Makes this process the experiment's runner, or explains who runs it.
  Status Claim(const ExperimentRecord& existing);

  static constexpr double kHeartbeatSeconds = 5;
  int RunningCount() const { return static_cast<int>(running_.size()); }

  RunSettings settings_;
  const ExperimentConfig& config_;
  Storage& storage_;
  // Shared with a slow agent's worker thread, which may outlive the run (see SlowCall).
  std::shared_ptr<Agent> agent_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Pruner> pruner_;  // nullptr when the config names none
  // Which trial holds which GPUs, cores and memory; set when the config has `resources:`. Its capacity is
  // config_.parallel, so a free slot always has a share.
  std::optional<ResourcePool> pool_;
  RunObserver& observer_;

  const std::string owner_;  // "host:pid"
  ExperimentRecord experiment_;
  std::string experiment_dir_;  // this experiment's folder of trial folders
  uint64_t seed_ = 0;
  std::vector<Trial> trials_;                            // every trial of the experiment, by number
  std::map<int64_t, std::unique_ptr<Running>> running_;  // by trial id
  std::map<int64_t, int> failures_;                      // failed attempts by trial id, for retries
  std::map<int64_t, int> infrastructure_retries_;        // node failures, preemptions by trial id
  // Retries of infrastructure failures per trial, beyond trial.retries; a bound, so a node that keeps
  // failing cannot loop a trial for ever.
  static constexpr int kInfrastructureRetries = 3;
  std::map<int64_t, std::vector<StepValue>> curves_;  // the objective's reports, latest attempt, by id
  std::set<int64_t> checkpoints_checked_;             // finished trials retention has dealt with
  bool retention_due_ = true;                         // a trial ended or was pruned since the last pass
  std::set<int64_t> warned_no_checkpoint_;            // donors the run said left no checkpoint
  double start_time_ = 0;                             // monotonic
  bool proposals_done_ = false;                       // budget reached or strategy exhausted
  std::string end_reason_;
  bool stopping_ = false;
  int stop_signal_ = 0;
  double last_tick_ = 0;
  double last_heartbeat_ = 0;
  // The agent's view, rebuilt from storage on resume.
  std::vector<Event> decisions_;         // decision events, oldest first
  std::vector<Note> notes_;              // user notes, oldest first
  std::vector<Event> recent_;            // events since the agent was last called
  bool agent_due_ = true;                // something happened the agent should see
  int64_t notes_after_ = 0;              // the last note event read
  double last_note_read_ = 0;            // monotonic
  std::set<std::string> taken_;          // DuplicateKey of every trial
  int rejections_in_a_row_ = 0;          // proposals rejected since the last accepted one
  std::shared_ptr<SlowCall> slow_call_;  // the slow agent's call in flight, if any
  double last_agent_call_ = 0;           // monotonic
  bool warned_fallback_ = false;         // the run said once that a fallback decided
  int decided_by_agent_ = 0;             // trials this run created from the agent's own proposals
  int decided_by_fallback_ = 0;          // and from its fallback's
  static constexpr int kMaxRejectionsInARow = 5;
};

}  // namespace hyperion
