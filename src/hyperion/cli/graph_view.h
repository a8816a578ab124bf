// The experiment graph as people and programs read it: `hyperion tree` (every trial, indented along primary
// parents) and `hyperion trace TRIAL` (one lineage, root first, with the why of every step).
//
// Contract: pure functions from an experiment's record, trials and events to text or JSON. No I/O, no clock,
// no environment: the caller loads the data and decides about colour. Trials may come in any order; output
// is ordered by trial number (roots by number, the children of a node by number). Parent ids that name no
// trial of the input make their trial a root. Any thread.
//
// Shapes (docs/graph.md has examples):
//   tree text   header (experiment, strategy, counts by state; the objective once), one line per trial
//               ("#12 ✓ 0.412  perturb  lr x3  epochs 5-10"), a footer naming the best trial. A merge sits
//               under its primary parent and names its other parents; each other parent gets a "-> #40
//               (merge)" line. Lines deeper than TreeStyle::full_depth elide the middle of their indentation
//               ("…+37"), so the width stays bounded whatever the depth.
//   tree JSON   {"experiment", "strategy", "objective", "training", "counts", "nodes", "edges", "best"}
//   trace text  one block per trial from the root to TRIAL: its line, the params it changed, where it
//               restored from, who decided it, rationale, evidence, the notes its proposal answered, other
//               parents, and the decisions about it since (stop requests, priorities, prunes, promotions,
//               removed checkpoints), each with the notes it answered.
//   trace JSON  {"experiment", "objective", "trial", "lineage": [root first ...]}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/common/status.h"
#include "hyperion/experiment/trial.h"
#include "hyperion/storage/storage.h"

namespace hyperion::cli {

// What the views read: one experiment, all its trials and its event log.
struct GraphData {
  ExperimentRecord experiment;
  std::vector<Trial> trials;
  std::vector<Event> events;
};

struct TreeStyle {
  bool color = false;   // ANSI colours (the caller checks for a terminal and NO_COLOR)
  int full_depth = 24;  // lines up to this depth are indented in full (3 columns a level)
  int kept_levels = 8;  // deeper lines keep this many levels at each end of their indentation
};

// Trial `number` of the experiment, for every command that takes a trial number (show, trace). kNotFound
// when there is none; the message names the numbers it has: "experiment 'x' has no trial #42; its trials are
// #1 to #9". The pointer is into `trials`.
Result<const Trial*> FindTrial(const ExperimentRecord& experiment, const std::vector<Trial>& trials,
                               int64_t number);

// A trial's budget span in the experiment's training unit, "epochs 5-10" ("budget 5-10" without a unit);
// empty when the trial has no span.
std::string SpanText(const Trial& t, const ExperimentRecord& experiment);

// At most `width` characters of `text` on one line (line breaks become spaces). A cut text ends with "…" and
// is cut at a word boundary where one lies in the last third, so numbers and words are never split; never
// splits a UTF-8 character. Shared by the tree and the trials table.
std::string ClipText(const std::string& text, size_t width);

// The best trial, as BestCompleted() ranks them (experiment/ranking.h): the best completed one with a finite
// value, whole runs ahead of partial ones, ties to the lowest number. Never a pruned, failed or running one.
std::optional<int64_t> BestTrialNumber(const GraphData& data);

std::string RenderTree(const GraphData& data, const TreeStyle& style = {});

// nodes: every trial's JSON (as `trials --json`) plus "depth" (0 for a root), "parent_numbers",
// "children" (primary children), "merge_children" (merges this trial is another parent of),
// "restore_from", "checkpoint_dir" and "pruned_reason" (null unless pruned); ordered by number.
// edges: {"from", "to", "kind": "primary" | "merge", "label": the child's change label}, ordered by "to".
Json TreeJson(const GraphData& data);

// The lineage of trial `number`, root first. kNotFound when the experiment has no such trial; the message
// names the numbers it has.
Result<std::string> RenderTrace(const GraphData& data, int64_t number, const TreeStyle& style = {});

// lineage entries: the tree's node JSON plus "changed" ({param: {"from": old, "to": new}}, a key left out
// when the param is absent on that side; every param with only "to" for the root), "other_parents"
// ([{"number", "value", "state", "operator", "rationale"}]), "decided_by" (the agent of its trial_proposed
// event, null when none says), "decisions" ([{"type", "source", "reason", "evidence", "time"}] from the
// prune_requested, trial_prioritised (source: its agent, reason: its rationale, plus "priority"),
// trial_pruned, trial_promoted and checkpoint_removed events, oldest first) and "notes" ([{"id", "text",
// "time", "answered_by": the type of the event that answered it}], the notes its events answered).
Result<Json> TraceJson(const GraphData& data, int64_t number);

}  // namespace hyperion::cli
