// The agent's decisions over time as people and programs read them (`hyperion decisions`), and what
// `hyperion note` says about the note it stored.
//
// Contract: pure functions from an experiment's record, trials and events to text or JSON. No I/O, no clock,
// no environment: the caller loads the data (the events of DecisionEventTypes() are enough; other events are
// ignored) and passes the terminal width and the time. Entries are ordered by event id, oldest first,
// whatever the input order. Any thread.
//
// An entry is one event of these kinds (the "kind" of the JSON, the second column of the text):
//   propose        trial_proposed     a trial the agent proposed and the orchestrator made; who: its agent
//   prune-request  prune_requested    a running trial was asked to stop; who: the deciding agent or pruner
//   prune          trial_pruned       a trial was pruned (a pending one at once, a running one once stopped)
//   prioritise     trial_prioritised  a pending trial's priority changed
//   stop           agent_stopped      the agent ended the search
//   rejected       decision_rejected  the orchestrator refused a decision; the text says why
//   fallback       agent_fallback     the fallback decided instead of the agent, and why
//   llm-call       agent_exchange     one LLM call: model, status, tokens, latency
//   note           note               a person's hint, and the decisions that answered it (if any yet)
//
// Shapes (docs/decisions.md has examples):
//   text  a header (experiment, strategy, start time, how many entries), then one line per entry:
//         "+12.3s  propose  #4  random  sample: random sample of the space" with the columns aligned and the
//         last one clipped (ClipText) to the width.
//   JSON  an array, one object per entry: the event's payload, plus "id", "time" (wall seconds), "elapsed"
//         (seconds since the experiment started), "type", "kind", "trial" (number or null) and "who" (null
//         when unknown); a note adds "answered" and "answered_by" ([{"id", "kind", "trial"}]), a decision
//         that answers notes adds "answers" ([{"id", "text"}]).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/cli/graph_view.h"
#include "hyperion/common/json.h"
#include "hyperion/common/status.h"
#include "hyperion/storage/storage.h"

namespace hyperion::cli {

struct DecisionOptions {
  std::optional<int64_t> trial;  // only the entries about this trial number (notes are about none)
  std::optional<size_t> limit;   // only the latest N entries (after the trial filter), still oldest first
  size_t width = 120;            // text: the width of a line; the last column is clipped to fit
  bool with_summary = false;  // JSON: add "summary", the text's last column unclipped (the dashboard's line)
};

// The event types the views show, for ListEvents()' filter.
const std::vector<std::string>& DecisionEventTypes();

// `data.trials` serves only to name the trial of an event whose payload lacks "number".
std::string RenderDecisions(const GraphData& data, const DecisionOptions& options = {});
Json DecisionsJson(const GraphData& data, const DecisionOptions& options = {});

// The note `text` after trimming surrounding white space; kInvalidArgument when nothing is left.
Result<std::string> CheckNoteText(const std::string& text);

// What `hyperion note` prints once the note is stored as event `event_id`, at wall time `now`: that the
// running agent reads it within a second, or, when no orchestrator runs the experiment, that its agent reads
// it on resume. No orchestrator runs it when its status is not running, when it has no owner, when
// `owner_gone` (the caller found the owner, a process of this host, dead), or when the owner has not sent a
// heartbeat for 30 seconds (the orchestrator's own rule for a dead owner on another host).
std::string NoteStoredText(const ExperimentRecord& experiment, int64_t event_id, double now, bool owner_gone);

}  // namespace hyperion::cli
