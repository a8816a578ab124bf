// Helpers shared by the graph strategies (beam, pbt): ranking trials by value, reading their spans, and the
// words their rationales use. Internal to strategy/; pure functions, any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "hyperion/experiment/config.h"
#include "hyperion/experiment/trial.h"

namespace hyperion::graph {

// Completed with a finite value: a trial that can be ranked and branched from.
bool HasValue(const Trial& trial);

// Completed or pruned with a finite value: it was measured, whether or not its line goes on.
bool Measured(const Trial& trial);

// Pending, running or interrupted (a resume runs it again): its result is still to come.
bool Unfinished(const Trial& trial);

// The measured trials, best first under the objective; ties go to the earlier number.
std::vector<const Trial*> RankByValue(std::vector<const Trial*> trials, const Objective& objective);

// Every trial reachable from `trial` through any of its parents, merges included; `find` gives the trial of
// an id, or nullptr for one it does not know (that line stops there).
std::set<int64_t> Ancestors(const Trial& trial, const std::function<const Trial*(int64_t)>& find);

// The end of the trial's span, 0 when it has none.
double SpanEnd(const Trial& trial);

// "1st", "2nd", "3rd", "4th", "11th", "22nd".
std::string Ordinal(int64_t n);

// A number for a sentence: at most 6 significant digits ("0.93125", "1e-05", "5").
std::string Brief(double value);

// A point of training as the rationales write it after "at": "epochs 5".
std::string AtBudget(const Training& training, double at);

// An amount of training, after "trained to" or "reach": "20 epochs".
std::string Amount(const Training& training, double amount);

}  // namespace hyperion::graph
