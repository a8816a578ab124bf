#include "hyperion/orchestrator/slot_plan.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "hyperion/resources/detection.h"

namespace hyperion {
namespace {

ExperimentConfig WithResources(ResourcesConfig resources, int parallel) {
  ExperimentConfig config;
  resources.given = true;
  config.resources = std::move(resources);
  config.parallel = parallel;
  return config;
}

// Sets CUDA_VISIBLE_DEVICES for one test and puts back what was there.
class ScopedVisibleDevices {
 public:
  explicit ScopedVisibleDevices(const char* value) {
    if (const char* old = std::getenv("CUDA_VISIBLE_DEVICES")) saved_ = old;
    ::setenv("CUDA_VISIBLE_DEVICES", value, 1);
  }
  ~ScopedVisibleDevices() {
    if (saved_)
      ::setenv("CUDA_VISIBLE_DEVICES", saved_->c_str(), 1);
    else
      ::unsetenv("CUDA_VISIBLE_DEVICES");
  }

 private:
  std::optional<std::string> saved_;
};

TEST(SlotPlan, WithoutResourcesTheRunHasParallelSlotsAndNoPool) {
  ExperimentConfig config;
  config.parallel = 3;
  auto plan = PlanSlots(config, false);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->slots, 3);
  EXPECT_FALSE(plan->pool.has_value());
}

TEST(SlotPlan, ListedGpusGiveOneSlotEachAndParallelCapsThem) {
  auto all = PlanSlots(WithResources({.gpus = {"0", "1", "3", "4"}}, /*parallel=*/0), false);
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(all->slots, 4);
  EXPECT_EQ(all->pool->shape().gpus_per_trial, 1) << "listed GPUs default to one per trial";

  auto capped = PlanSlots(WithResources({.gpus = {"0", "1", "3", "4"}}, 2), false);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->slots, 2);

  auto more = PlanSlots(WithResources({.gpus = {"0", "1"}, .gpus_per_trial = 0.5}, 9), false);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->slots, 4);
  ASSERT_FALSE(more->notes.empty());
  EXPECT_EQ(more->notes[0], "parallel is 9 but the resources fit 4 trial(s) at once: 4 run at once");
}

TEST(SlotPlan, AutoReadsCudaVisibleDevices) {
  ScopedVisibleDevices visible("2,7");
  auto plan = PlanSlots(WithResources({.gpus_auto = true}, 0), false);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->slots, 2);
  EXPECT_EQ(plan->pool->shape().gpus, (std::vector<std::string>{"2", "7"}));
  EXPECT_EQ(plan->notes.at(0), "gpus: auto found 2 GPU(s) through CUDA_VISIBLE_DEVICES: 2, 7");
}

TEST(SlotPlan, AutoWithoutAGpuFallsBackToCpuSlots) {
  ScopedVisibleDevices hidden("");
  auto plan = PlanSlots(WithResources({.gpus_auto = true, .gpus_per_trial = 1}, 0), false);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->pool->shape().gpus_per_trial, 0);
  EXPECT_EQ(plan->slots, static_cast<int>(AvailableCpus().size()));
  EXPECT_NE(plan->notes.at(0).find("found no GPU"), std::string::npos) << plan->notes.at(0);

  auto capped = PlanSlots(WithResources({.gpus_auto = true}, 1), false);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->slots, 1);
}

TEST(SlotPlan, CoresPerTrialDivideTheListedCores) {
  // The cores this process may use, listed: one trial per core.
  const std::vector<int> cores = AvailableCpus();
  auto plan = PlanSlots(WithResources({.cpus_auto = false, .cpus = cores, .cpus_per_trial = 1}, 0), false);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->slots, static_cast<int>(cores.size()));
}

TEST(SlotPlan, AScheduledRunCountsJobsAndCarriesAmounts) {
  auto plan = PlanSlots(WithResources({.gpus_per_trial = 2, .cpus_per_trial = 4}, 2), true);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->slots, 2);
  EXPECT_FALSE(plan->pool->shape().assign_devices);
  auto grant = plan->pool->Acquire(1);
  ASSERT_TRUE(grant.has_value());
  EXPECT_EQ(grant->gpus_per_trial, 2);
  EXPECT_TRUE(grant->gpus.empty());
}

TEST(SlotPlan, ListedCoresMustBeThisProcesssOwn) {
  auto plan =
      PlanSlots(WithResources({.cpus_auto = false, .cpus = {0, 4096}, .cpus_per_trial = 1}, 0), false);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("lists core 4096, which this process cannot run on"),
            std::string::npos)
      << plan.status().message();
}

TEST(SlotPlan, AGpuShareWithoutGpusIsRefused) {
  auto plan = PlanSlots(WithResources({.gpus_per_trial = 1}, 0), false);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("has no GPU"), std::string::npos) << plan.status().message();
}

}  // namespace
}  // namespace hyperion
