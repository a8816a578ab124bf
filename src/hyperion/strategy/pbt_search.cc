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

bool FailedOrTimedOut(const Trial& t) {
  return t.state == TrialState::kFailed || t.state == TrialState::kTimedOut;
}

// Retired: its last two trials both failed or timed out (a script that crashes whenever it restores a
// checkpoint would otherwise be restarted forever). A member whose latest trial is still to finish is not.
bool Retired(const Member& m) {
  const size_t n = m.trials.size();
  return n >= 2 && FailedOrTimedOut(*m.trials[n - 1]) && FailedOrTimedOut(*m.trials[n - 2]);
}

// The first line of a trial's error, at most 100 characters.
std::string ShortError(const std::string& error) {
  std::string line = error.substr(0, error.find('\n'));
  return line.size() > 100 ? line.substr(0, 97) + "..." : line;
}

// Why the retired members stopped: "member 2: #12, #13: <error of #13>; member 5: #14, #15".
std::string RetiredDetails(const std::vector<const Member*>& retired) {
  std::vector<std::string> parts;
  for (const Member* m : retired) {
    const Trial& a = *m->trials[m->trials.size() - 2];
    const Trial& b = *m->trials.back();
    std::string part = "#" + std::to_string(a.number) + ", #" + std::to_string(b.number);
    const std::string error = ShortError(b.error.empty() ? a.error : b.error);
    if (!error.empty()) part += ": " + error;
    parts.push_back(retired.size() == 1 ? part : MemberName(*m) + ": " + part);
  }
  return JoinStrings(parts, "; ");
}

// "failed", or "failed or timed out" when one of their last two trials timed out.
std::string HowTheyEnded(const std::vector<const Member*>& retired) {
  for (const Member* m : retired) {
    for (size_t i = m->trials.size() - 2; i < m->trials.size(); ++i) {
      if (m->trials[i]->state == TrialState::kTimedOut) return "failed or timed out";
    }
  }
  return "failed";
}

// The member indexes, after "member" or "members": "2", "1, 4".
std::string Indexes(const std::vector<const Member*>& members) {
  std::vector<std::string> names;
  for (const Member* m : members) names.push_back(std::to_string(m->index));
  return JoinStrings(names);
}

// The members some trial's evidence already announced as retired.
std::set<int64_t> AnnouncedRetired(const std::vector<Trial>& trials) {
  std::set<int64_t> announced;
  for (const Trial& t : trials) {
    auto it = t.evidence.find("retired");
    if (it == t.evidence.end() || !it->is_array()) continue;
    for (const Json& r : *it) {
      if (r.is_object() && r.contains("member") && r["member"].is_number_integer()) {
        announced.insert(r["member"].get<int64_t>());
      }
    }
  }
  return announced;
}

// Says in the proposal which members retired since the last proposal: a sentence at the end of the
// rationale, and in the evidence ("retired": [{"member", "trials"}]).
void AnnounceRetired(const std::vector<const Member*>& retired, const std::vector<Trial>& trials,
                     Proposal& p) {
  const std::set<int64_t> announced = AnnouncedRetired(trials);
  std::vector<const Member*> fresh;
  for (const Member* m : retired) {
    if (!announced.count(m->index)) fresh.push_back(m);
  }
  if (fresh.empty()) return;
  Json records = Json::array();
  for (const Member* m : fresh) {
    records.push_back(
        Json{{"member", m->index},
             {"trials", Json::array({m->trials[m->trials.size() - 2]->number, m->trials.back()->number})}});
  }
  p.evidence["retired"] = std::move(records);
  const std::string how = HowTheyEnded(fresh);
  if (fresh.size() == 1) {
    p.rationale += " Member " + Indexes(fresh) + " retired: its last two trials " + how + " (" +
                   RetiredDetails(fresh) + "), so it gets no more trials.";
  } else {
    p.rationale += " Members " + Indexes(fresh) + " retired: the last two trials of each " + how + " (" +
                   RetiredDetails(fresh) + "), so they get no more trials.";
  }
}

// What explore did to each parameter, as the label and the rationale show it: "lr x1.2" for a
// multiplication that landed exactly there, "batch_size 64->80" when the grid or a bound moved it elsewhere
// (and for a choice moved to its neighbour), "lr resampled 0.00078->0.0062" for a fresh draw, "+momentum 0.9"
// and "-momentum" for parameters that became active or inactive. Unchanged parameters are left out.
std::string ExploreLabel(const Space& space, const Json& from, const Json& to, const Json& explore) {
  return ChangeLabel(space, from, to, [&](const ParamSpec& spec, const Json* x, const Json* y) {
    if (!x || !y) return DescribeChange(spec, x, y);
    const std::string values = LabelValue(*x) + "->" + LabelValue(*y);
    auto how = explore.find(spec.name);
    if (how != explore.end() && how->is_string() && *how == "resampled") {
      return spec.name + " resampled " + values;
    }
    if (how != explore.end() && how->is_number() && !IsChoice(spec) && x->get<double>() != 0) {
      const double factor = how->get<double>();
      if (std::abs(y->get<double>() / x->get<double>() - factor) <= 1e-6 * factor) {
        return spec.name + " x" + Brief(factor);
      }
    }
    return spec.name + " " + values;
  });
}

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
  // Retired members (their last two trials failed) get no more trials.
  std::vector<const Member*> candidates, busy, done, retired;
  for (const Member& m : members) {
    if (Retired(m)) {
      retired.push_back(&m);
    } else if (graph::Unfinished(*m.latest)) {
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
  std::string explored;  // what the latest exploit's explore did, for its rationale
  auto exploit = [&](const Member& m, const Member& donor) {
    const Trial* from = donor.latest_completed;
    Proposal& p = out.proposal;
    Json explore;
    p.params = Explore(context.space, from->params, resample_, rng, explore);
    explored = ExploreLabel(context.space, from->params, p.params, explore);
    p.parents = {from->id};
    p.restore = true;
    p.op = "exploit";
    p.budget_from = SpanEnd(*from);
    p.budget_to = std::min(SpanEnd(*from) + span, training.max);
    p.change_label = "exploit #" + std::to_string(from->number) + ": " + explored;
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

  // Every proposal below says which members retired since the last one.
  auto announced = [&](Proposal& p) -> ProposeOutcome {
    AnnounceRetired(retired, context.trials, p);
    return out;
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
                     std::to_string(ranked.size()) + "), restoring its checkpoint, explore " + explored +
                     ", train " + span_text(*p->budget_from, *p->budget_to) + ".";
      p->evidence["restart_after"] = last->number;
      p->evidence["restart_state"] = TrialStateName(last->state);
      p->evidence["donor_rank"] = donor_rank;
      p->evidence["compared"] = ranked.size();
      return announced(*p);
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
      return announced(*p);
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
                       "), restoring its checkpoint, explore " + explored + ", train " +
                       span_text(*p->budget_from, *p->budget_to) + ".";
        p->evidence.update(ranks);
        p->evidence["member_trial"] = own->number;
        p->evidence["member_value"] = *own->value;
        p->evidence["donor_rank"] = donor_rank;
        return announced(*p);
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
    return announced(*p);
  }

  // 4. Nothing to decide now.
  const std::string retired_text = retired.empty()
                                       ? ""
                                       : "member" + std::string(retired.size() == 1 ? " " : "s ") +
                                             Indexes(retired) + " retired (last two trials " +
                                             HowTheyEnded(retired) + ": " + RetiredDetails(retired) + ")";
  if (!busy.empty()) {
    out.kind = ProposeOutcome::Kind::kWait;
    out.reason = "pbt: waiting for member" + std::string(busy.size() == 1 ? " " : "s ") + Indexes(busy) +
                 " (" + std::to_string(busy.size()) + " of " + std::to_string(population) +
                 " still training)" + (retired.empty() ? "" : "; " + retired_text);
    return out;
  }
  out.kind = ProposeOutcome::Kind::kExhausted;
  if (retired.size() == members.size()) {
    out.reason = "pbt stopped: every member's last two trials " + HowTheyEnded(retired) + " (" +
                 RetiredDetails(retired) + ")";
    return out;
  }
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
  if (finished.size() == members.size()) {
    out.reason = "pbt finished: every member trained to " + graph::Amount(training, training.max) + best_text;
    return out;
  }
  // Some members cannot go on; say why, then what the others reached.
  std::vector<std::string> parts;
  if (!retired.empty()) parts.push_back(retired_text);
  if (!stuck.empty()) {
    parts.push_back(
        "member" + std::string(stuck.size() == 1 ? " " : "s ") + JoinStrings(stuck) +
        " cannot go on (a failed trial or a lost checkpoint, and no member left to restart from)");
  }
  out.reason = (finished.empty() ? "pbt stopped: " : "pbt finished: ") + JoinStrings(parts, "; ");
  if (!finished.empty()) {
    out.reason += "; the others trained to " + graph::Amount(training, training.max) + best_text;
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
