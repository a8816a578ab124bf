#include "hyperion/strategy/pbt_search.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <map>
#include <random>

#include "hyperion/common/text.h"
#include "hyperion/strategy/graph_common.h"
#include "hyperion/strategy/mutation.h"

namespace hyperion {
namespace {

using graph::AtBudget;
using graph::Brief;
using graph::Ordinal;
using graph::SpanEnd;

constexpr uint32_t kStream = 0x00706274;  // "pbt"

struct Member {
  int index = 0;
  std::vector<const Trial*> trials;         // by number
  const Trial* latest = nullptr;            // its newest trial, in any state
  const Trial* latest_completed = nullptr;  // its newest trial with a value
};

std::vector<Member> BuildMembers(const StrategyContext& context, int population) {
  std::vector<Member> members(population);
  for (int i = 0; i < population; ++i) members[i].index = i;
  for (const Trial& t : context.trials) {
    auto it = t.evidence.find("member");
    if (it == t.evidence.end() || !it->is_number_integer()) continue;
    int64_t index = it->get<int64_t>();
    if (index < 0 || index >= population) continue;
    members[index].trials.push_back(&t);
  }
  for (Member& m : members) {
    if (m.trials.empty()) continue;
    m.latest = m.trials.back();
    for (const Trial* t : m.trials) {
      if (graph::HasValue(*t)) m.latest_completed = t;
    }
  }
  return members;
}

// Earliest first: by the time the trial ended, then by number (trials without an end time last).
std::pair<double, int64_t> EndKey(const Trial& t) { return {t.ended_at.value_or(DBL_MAX), t.number}; }

std::string MemberName(const Member& m) { return "member " + std::to_string(m.index); }

// The donor's values explored: each active parameter x0.8 or x1.2, or drawn afresh with probability
// `resample`; parameters that became active are drawn. `explore` records what happened to each one.
Json Explore(const Space& space, const Json& from, double resample, std::mt19937_64& rng, Json& explore) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Json params = from;
  explore = Json::object();
  for (const ParamSpec* spec : ActiveParams(space, from)) {
    if (unit(rng) < resample) {
      params[spec->name] = space.SampleValue(*spec, rng);
      explore[spec->name] = "resampled";
    } else {
      double factor = unit(rng) < 0.5 ? 0.8 : 1.2;
      params[spec->name] = PerturbValue(*spec, from[spec->name], factor);
      explore[spec->name] = factor;
    }
  }
  params = space.Complete(params, rng);
  Json recorded = Json::object();
  for (const auto& [name, value] : params.items()) {
    recorded[name] = explore.contains(name) ? explore[name] : Json("new");
  }
  explore = std::move(recorded);
  return params;
}

}  // namespace

ProposeOutcome PbtSearch::Propose(const StrategyContext& context) {
  const Training& training = context.training;
  const std::string& metric = context.objective.metric;
  ProposeOutcome out;
  if (!training.enabled()) {
    out.kind = ProposeOutcome::Kind::kExhausted;
    out.reason =
        "pbt needs a training budget to train its members in spans; add training: {unit: epochs, max: 20}";
    return out;
  }
  const double span = span_ && *span_ > 0 ? *span_ : training.max / 4;
  const int population = std::max(2, population_);
  const std::vector<Member> members = BuildMembers(context, population);
  const uint64_t draw = context.trials.size();
  std::mt19937_64 rng = ProposalGenerator(context.seed, draw, kStream);
  auto span_text = [&](double from, double to) {
    return training.unit + " " + Brief(from) + "->" + Brief(to);
  };
  auto trial_text = [&](const Trial* t) {
    return "#" + std::to_string(t->number) + ", " + metric + " " + Brief(*t->value) + " at " +
           AtBudget(training, SpanEnd(*t));
  };

  // 1. One fresh sample per member.
  for (const Member& m : members) {
    if (!m.trials.empty()) continue;
    Proposal& p = out.proposal;
    p.params = FreshSample(context.space, TakenPoints(context.trials), rng);
    p.op = "sample";
    p.budget_from = 0;
    p.budget_to = std::min(span, training.max);
    p.rationale = "PBT " + MemberName(m) + " of " + std::to_string(population) +
                  ": a fresh random point, trained " + span_text(0, *p.budget_to) +
                  " before it is first compared with the others.";
    p.evidence = Json{{"member", m.index}, {"seed", context.seed}, {"draw", draw}};
    return out;
  }

  // 2. Who can go on: ready members (latest trial completed short of the end) and members to restart.
  std::vector<const Member*> candidates, busy, done;
  for (const Member& m : members) {
    if (graph::Unfinished(*m.latest)) {
      busy.push_back(&m);
    } else if (graph::HasValue(*m.latest) && SpanEnd(*m.latest) >= training.max) {
      done.push_back(&m);
    } else {
      candidates.push_back(&m);
    }
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const Member* a, const Member* b) { return EndKey(*a->latest) < EndKey(*b->latest); });

  // Members ranked by the value of their latest completed trial, among those trained to `at` or further.
  auto rank_members = [&](double at) {
    std::vector<const Trial*> latest;
    std::map<const Trial*, const Member*> owner;
    for (const Member& m : members) {
      if (m.latest_completed && SpanEnd(*m.latest_completed) >= at) {
        latest.push_back(m.latest_completed);
        owner[m.latest_completed] = &m;
      }
    }
    std::vector<const Member*> ranked;
    for (const Trial* t : graph::RankByValue(latest, context.objective)) ranked.push_back(owner[t]);
    return ranked;
  };
  // A trial that starts from `donor`'s checkpoint with its values explored.
  auto exploit = [&](const Member& m, const Member& donor) {
    const Trial* from = donor.latest_completed;
    Proposal& p = out.proposal;
    Json explore;
    p.params = Explore(context.space, from->params, resample_, rng, explore);
    p.parents = {from->id};
    p.restore = true;
    p.op = "exploit";
    p.budget_from = SpanEnd(*from);
    p.budget_to = std::min(SpanEnd(*from) + span, training.max);
    p.change_label = "exploit #" + std::to_string(from->number) + ": " +
                     ChangeLabel(context.space, from->params, p.params);
    p.evidence = Json{{"member", m.index},
                      {"donor_member", donor.index},
                      {"donor_trial", from->number},
                      {"donor_value", *from->value},
                      {"explore", explore},
                      {"resample", resample_},
                      {"span", Json::array({*p.budget_from, *p.budget_to})}};
    return &p;
  };
  auto continue_from = [&](const Member& m) {
    const Trial* own = m.latest;
    Proposal& p = out.proposal;
    p.params = own->params;
    p.parents = {own->id};
    p.restore = true;
    p.op = "branch";
    p.change_label = "continue";
    p.budget_from = SpanEnd(*own);
    p.budget_to = std::min(SpanEnd(*own) + span, training.max);
    p.evidence = Json{{"member", m.index},
                      {"member_trial", own->number},
                      {"member_value", *own->value},
                      {"span", Json::array({*p.budget_from, *p.budget_to})}};
    return &p;
  };

  std::vector<std::string> stuck;
  for (const Member* m : candidates) {
    if (!graph::HasValue(*m->latest) || m->latest->checkpoint_dir.empty()) {
      // 3a. Its latest trial failed (or its checkpoint is gone): restart from the best member that can
      // still train.
      const Trial* last = m->latest;
      std::vector<const Member*> ranked = rank_members(0);
      const Member* donor = nullptr;
      int donor_rank = 0;
      for (size_t r = 0; r < ranked.size(); ++r) {
        const Trial* t = ranked[r]->latest_completed;
        if (t->checkpoint_dir.empty() || SpanEnd(*t) >= training.max) continue;
        if (ranked[r] == m) continue;  // itself only when no other member will do (below)
        donor = ranked[r];
        donor_rank = static_cast<int>(r) + 1;
        break;
      }
      if (!donor && m->latest_completed && !m->latest_completed->checkpoint_dir.empty() &&
          SpanEnd(*m->latest_completed) < training.max) {
        donor = m;
        auto it = std::find(ranked.begin(), ranked.end(), m);
        donor_rank = static_cast<int>(it - ranked.begin()) + 1;
      }
      if (!donor) {
        stuck.push_back(std::to_string(m->index));
        continue;
      }
      const std::string how = graph::HasValue(*last)                  ? "has no checkpoint left"
                              : last->state == TrialState::kCompleted ? "completed without a value"
                                                                      : TrialStateName(last->state);
      Proposal* p = exploit(*m, *donor);
      p->rationale = "PBT " + MemberName(*m) + ": its latest trial #" + std::to_string(last->number) + " " +
                     how + "; restart from the best member that can still train, " +
                     (donor == m ? std::string("its own") : MemberName(*donor) + "'s") + " latest trial (" +
                     trial_text(donor->latest_completed) + ", ranked " + Ordinal(donor_rank) + " of " +
                     std::to_string(ranked.size()) + "), restoring its checkpoint, explore " +
                     ChangeLabel(context.space, donor->latest_completed->params, p->params) + ", train " +
                     span_text(*p->budget_from, *p->budget_to) + ".";
      p->evidence["restart_after"] = last->number;
      p->evidence["restart_state"] = TrialStateName(last->state);
      p->evidence["donor_rank"] = donor_rank;
      p->evidence["compared"] = ranked.size();
      return out;
    }

    // 3b. Ready: compare with the members trained at least as far.
    const Trial* own = m->latest;
    const double at = SpanEnd(*own);
    std::vector<const Member*> ranked = rank_members(at);
    const int n = static_cast<int>(ranked.size());
    const std::string head = "PBT " + MemberName(*m) + " (" + trial_text(own) + ")";
    if (n < 2) {
      Proposal* p = continue_from(*m);
      p->rationale = head + " is the first member to reach " + graph::Amount(training, at) +
                     ", with no other to compare with: continue unchanged from its checkpoint, " +
                     span_text(*p->budget_from, *p->budget_to) + ".";
      p->evidence["compared"] = n;
      return out;
    }
    const int count = std::max(1, std::min(static_cast<int>(std::ceil(n * quantile_ - 1e-9)), n / 2));
    const int rank = static_cast<int>(std::find(ranked.begin(), ranked.end(), m) - ranked.begin()) + 1;
    const double top_cutoff = *ranked[count - 1]->latest_completed->value;
    const double bottom_cutoff = *ranked[n - count]->latest_completed->value;
    const std::string standing = " ranks " + Ordinal(rank) + " of the " + std::to_string(n) +
                                 " members trained to " + graph::Amount(training, at) + " or further";
    Json ranks = Json{{"member_rank", rank},      {"compared", n},
                      {"quantile", quantile_},    {"quantile_count", count},
                      {"top_cutoff", top_cutoff}, {"bottom_cutoff", bottom_cutoff}};
    std::string why_not;
    if (rank > n - count) {
      std::vector<std::pair<const Member*, int>> donors;
      for (int r = 0; r < count; ++r) {
        const Trial* t = ranked[r]->latest_completed;
        if (ranked[r] != m && !t->checkpoint_dir.empty() && SpanEnd(*t) < training.max) {
          donors.push_back({ranked[r], r + 1});
        }
      }
      if (!donors.empty()) {
        auto [donor, donor_rank] = donors[std::uniform_int_distribution<size_t>(0, donors.size() - 1)(rng)];
        Proposal* p = exploit(*m, *donor);
        p->rationale = head + standing + ", in the bottom " + std::to_string(count) + " (cut-off " +
                       Brief(bottom_cutoff) + "): exploit " + MemberName(*donor) + " (" +
                       trial_text(donor->latest_completed) + ", ranked " + Ordinal(donor_rank) + "; top " +
                       std::to_string(count) + " cut-off " + Brief(top_cutoff) +
                       "), restoring its checkpoint, explore " +
                       ChangeLabel(context.space, donor->latest_completed->params, p->params) + ", train " +
                       span_text(*p->budget_from, *p->budget_to) + ".";
        p->evidence.update(ranks);
        p->evidence["member_trial"] = own->number;
        p->evidence["member_value"] = *own->value;
        p->evidence["donor_rank"] = donor_rank;
        return out;
      }
      why_not = ", in the bottom " + std::to_string(count) + " (cut-off " + Brief(bottom_cutoff) +
                ") but no top member can be copied (finished training or checkpoint gone)";
    } else {
      why_not = ", not in the bottom " + std::to_string(count) + " (cut-off " + Brief(bottom_cutoff) + ")";
    }
    Proposal* p = continue_from(*m);
    p->rationale = head + standing + why_not + ": continue unchanged from its checkpoint, " +
                   span_text(*p->budget_from, *p->budget_to) + ".";
    p->evidence.update(ranks);
    return out;
  }

  // 4. Nothing to decide now.
  if (!busy.empty()) {
    std::vector<std::string> names;
    for (const Member* m : busy) names.push_back(std::to_string(m->index));
    out.kind = ProposeOutcome::Kind::kWait;
    out.reason = "pbt: waiting for member" + std::string(busy.size() == 1 ? " " : "s ") + JoinStrings(names) +
                 " (" + std::to_string(busy.size()) + " of " + std::to_string(population) +
                 " still training)";
    return out;
  }
  out.kind = ProposeOutcome::Kind::kExhausted;
  std::vector<const Member*> finished;
  for (const Member& m : members) {
    if (m.latest_completed && SpanEnd(*m.latest_completed) >= training.max) finished.push_back(&m);
  }
  if (finished.empty() && stuck.size() == members.size()) {
    out.reason = "pbt: no member completed a span (" + std::to_string(stuck.size()) +
                 " failed); nothing to restart from";
    return out;
  }
  std::vector<const Trial*> finals;
  for (const Member* m : finished) finals.push_back(m->latest_completed);
  std::vector<const Trial*> best = graph::RankByValue(finals, context.objective);
  std::string best_text;
  if (!best.empty()) {
    const Trial* b = best.front();
    best_text = "; best " + MemberName(members[b->evidence["member"].get<int>()]) + " (#" +
                std::to_string(b->number) + ", " + metric + " " + Brief(*b->value) + ")";
  }
  if (stuck.empty()) {
    out.reason = "pbt finished: every member trained to " + graph::Amount(training, training.max) + best_text;
  } else {
    out.reason =
        "pbt finished: member" + std::string(stuck.size() == 1 ? " " : "s ") + JoinStrings(stuck) +
        " cannot go on (a failed trial or a lost checkpoint, and no member left to restart from); the "
        "others trained to " +
        graph::Amount(training, training.max) + best_text;
  }
  return out;
}

std::set<int64_t> PbtSearch::Frontier(const StrategyContext& context) const {
  std::set<int64_t> frontier;
  for (const Member& m : BuildMembers(context, std::max(2, population_))) {
    if (m.latest_completed) frontier.insert(m.latest_completed->id);
  }
  return frontier;
}

}  // namespace hyperion
