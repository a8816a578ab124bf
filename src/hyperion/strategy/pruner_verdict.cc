#include "hyperion/strategy/pruner_verdict.h"

#include <cmath>
#include <cstdio>

namespace hyperion {

void VerdictBuilder::Add(PrunerVerdict::Kind kind, std::string rationale, Json evidence) {
  rationales_.push_back(std::move(rationale));
  evidence_.push_back(std::move(evidence));
  pruned_ = kind == PrunerVerdict::Kind::kPrune;
}

PrunerVerdict VerdictBuilder::Finish() && {
  PrunerVerdict verdict;
  if (evidence_.empty()) return verdict;
  verdict.kind = pruned_ ? PrunerVerdict::Kind::kPrune : PrunerVerdict::Kind::kContinue;
  if (pruned_) {
    verdict.rationale = rationales_.back();
  } else {
    for (const std::string& sentence : rationales_) {
      if (!verdict.rationale.empty()) verdict.rationale += " ";
      verdict.rationale += sentence;
    }
  }
  verdict.evidence = std::move(evidence_.back());
  if (evidence_.size() > 1) {
    Json earlier = Json::array();
    for (size_t i = 0; i + 1 < evidence_.size(); ++i) earlier.push_back(std::move(evidence_[i]));
    verdict.evidence["earlier"] = std::move(earlier);
  }
  return verdict;
}

std::string FormatValue(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

Json StepJson(double step) {
  if (std::isfinite(step) && step == std::floor(step) && std::fabs(step) < 9.0e15) {
    return Json(static_cast<int64_t>(step));
  }
  return Json(step);
}

}  // namespace hyperion
