// What the pruners share when they turn decisions into a PrunerVerdict: folding several decisions on one
// batch of reports into one verdict, and writing numbers for rationales and evidence.
//
// One Check() may see several new reports and so decide several milestones (or, for the median rule, several
// steps). They are decided in step order and deciding stops at the first prune, because a pruned trial has
// nothing left to decide. Plain values; any thread.
#pragma once

#include <string>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/strategy/pruner.h"

namespace hyperion {

class VerdictBuilder {
 public:
  // Records one decision, kContinue or kPrune, with its sentence and evidence. Precondition: !done().
  void Add(PrunerVerdict::Kind kind, std::string rationale, Json evidence);
  // True once a prune was recorded: the caller decides nothing more.
  bool done() const { return pruned_; }
  // kNone (empty rationale and evidence) when nothing was decided. Otherwise the last decision's kind and
  // evidence, with the evidence of the promotions before it, in order, under "earlier". The rationale is the
  // prune's sentence for a prune, and the promotions' sentences in order for a promotion.
  PrunerVerdict Finish() &&;

 private:
  std::vector<std::string> rationales_;
  std::vector<Json> evidence_;
  bool pruned_ = false;
};

// An objective value as a rationale shows it: at most 6 significant digits ("0.912", "1.5e-05"). The
// evidence keeps the exact value.
std::string FormatValue(double value);

// A step or milestone for the evidence: an integer when it is whole (3, not 3.0), else the double.
Json StepJson(double step);

}  // namespace hyperion
