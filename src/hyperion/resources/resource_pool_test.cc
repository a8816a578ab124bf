#include "hyperion/resources/resource_pool.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>

#include "hyperion/resources/detection.h"

namespace hyperion {
namespace {

ResourcePool MakePool(PoolShape shape) {
  auto pool = ResourcePool::Create(std::move(shape));
  EXPECT_TRUE(pool.ok()) << pool.status().message();
  return std::move(pool).value();
}

TEST(ResourcePool, OneGpuPerTrialGivesEachTrialItsOwnListedGpu) {
  ResourcePool pool = MakePool({.gpus = {"0", "1", "3", "4"}, .gpus_per_trial = 1});
  EXPECT_EQ(pool.Capacity(), 4);
  std::vector<std::string> got;
  for (int64_t trial = 1; trial <= 4; ++trial) {
    auto grant = pool.Acquire(trial);
    ASSERT_TRUE(grant.has_value());
    ASSERT_EQ(grant->gpus.size(), 1u);
    got.push_back(grant->CudaVisibleDevices());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"0", "1", "3", "4"}));
  EXPECT_FALSE(pool.Acquire(5).has_value()) << "a fifth trial would share a GPU";
  pool.Release(3);  // held GPU 3
  auto next = pool.Acquire(5);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->CudaVisibleDevices(), "3");
}

TEST(ResourcePool, HalfAGpuPacksTwoTrialsPerGpuAfterSpreading) {
  ResourcePool pool = MakePool({.gpus = {"0", "1"}, .gpus_per_trial = 0.5});
  EXPECT_EQ(pool.Capacity(), 4);
  std::vector<std::string> order;
  for (int64_t trial = 1; trial <= 4; ++trial) order.push_back(pool.Acquire(trial)->CudaVisibleDevices());
  // Spread first (0, 1), then pack (0, 1).
  EXPECT_EQ(order, (std::vector<std::string>{"0", "1", "0", "1"}));
  EXPECT_FALSE(pool.Acquire(5).has_value());
  pool.Release(2);
  EXPECT_EQ(pool.Acquire(6)->CudaVisibleDevices(), "1");
}

TEST(ResourcePool, TwoGpusPerTrialTakesWholeFreeGpus) {
  ResourcePool pool = MakePool({.gpus = {"0", "1", "3", "4"}, .gpus_per_trial = 2});
  EXPECT_EQ(pool.Capacity(), 2);
  EXPECT_EQ(pool.Acquire(1)->CudaVisibleDevices(), "0,1");
  EXPECT_EQ(pool.Acquire(2)->CudaVisibleDevices(), "3,4");
  EXPECT_FALSE(pool.Acquire(3).has_value());
  pool.Release(1);
  EXPECT_EQ(pool.Acquire(3)->CudaVisibleDevices(), "0,1");
}

TEST(ResourcePool, ReleaseIsIdempotentAndATrialHoldsOneGrant) {
  ResourcePool pool = MakePool({.gpus = {"0"}, .gpus_per_trial = 1});
  ASSERT_TRUE(pool.Acquire(1).has_value());
  EXPECT_FALSE(pool.Acquire(1).has_value());
  pool.Release(1);
  pool.Release(1);
  pool.Release(99);
  EXPECT_EQ(pool.InUse(), 0);
  EXPECT_EQ(pool.Acquire(2)->CudaVisibleDevices(), "0");
}

TEST(ResourcePool, CoresAndMemoryLimitHowManyRunAtOnce) {
  ResourcePool pool = MakePool(
      {.cpus = {0, 1, 2, 3, 4}, .cpus_per_trial = 2, .memory_mb = 10000, .memory_per_trial_mb = 4000});
  EXPECT_EQ(pool.Capacity(), 2);
  auto first = pool.Acquire(1);
  auto second = pool.Acquire(2);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->cpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(second->cpus, (std::vector<int>{2, 3}));
  EXPECT_EQ(first->memory_mb, 4000);
  EXPECT_EQ(first->Describe(), "CPU cores 0-1, 4000 MiB");
  EXPECT_FALSE(pool.Acquire(3).has_value());
  pool.Release(1);
  EXPECT_EQ(pool.Acquire(3)->cpus, (std::vector<int>{0, 1}));
}

TEST(ResourcePool, CountingPoolGivesAmountsWithoutDevices) {
  ResourcePool pool =
      MakePool({.gpus_per_trial = 1, .cpus_per_trial = 4, .assign_devices = false, .slots = 2});
  EXPECT_EQ(pool.Capacity(), 2);
  auto grant = pool.Acquire(1);
  ASSERT_TRUE(grant.has_value());
  EXPECT_TRUE(grant->gpus.empty());
  EXPECT_EQ(grant->gpus_per_trial, 1);
  EXPECT_EQ(grant->cpu_count, 4);
  EXPECT_EQ(grant->ToJson(), (Json{{"gpus_per_trial", 1.0}, {"cpus_per_trial", 4}}));
  ASSERT_TRUE(pool.Acquire(2).has_value());
  EXPECT_FALSE(pool.Acquire(3).has_value());
}

TEST(ResourcePool, RefusesShapesThatCannotWork) {
  struct Case {
    PoolShape shape;
    std::string says;
  };
  std::vector<Case> cases = {
      {{.gpus = {"0", "1"}, .gpus_per_trial = 0.3}, "does not split a GPU evenly"},
      {{.gpus = {"0", "1"}, .gpus_per_trial = 1.5}, "not a whole number"},
      {{.gpus = {"0", "1"}, .gpus_per_trial = 3}, "only 2 GPU(s)"},
      {{.gpus = {}, .gpus_per_trial = 1}, "has no GPU"},
      {{.gpus = {"0", "0"}, .gpus_per_trial = 1}, "lists a GPU twice"},
      {{.gpus = {"0"}, .gpus_per_trial = -1}, "must be 0 or more"},
      {{.cpus = {0, 1}, .cpus_per_trial = 4}, "has 2 core(s)"},
      {{.memory_mb = 1000, .memory_per_trial_mb = 2000}, "more than the pool's memory"},
      {{.gpus = {"0", "1"}, .gpus_per_trial = 1e300}, "only 2 GPU(s)"},
      {{.gpus = {"0"}, .gpus_per_trial = 1e-9}, "more than 64 trials on one GPU"},
      {{.gpus = {"-1", "2"}, .gpus_per_trial = 1}, "'-1' is not a GPU id"},
      {{.gpus = {"0.5"}, .gpus_per_trial = 1}, "'0.5' is not a GPU id"},
  };
  for (const auto& c : cases) {
    auto pool = ResourcePool::Create(c.shape);
    ASSERT_FALSE(pool.ok()) << c.says;
    EXPECT_NE(pool.status().message().find(c.says), std::string::npos) << pool.status().message();
  }
}

TEST(ResourcePool, DescribesItselfForTheRunHeader) {
  EXPECT_EQ(MakePool({.gpus = {"0", "1", "3", "4"}, .gpus_per_trial = 1}).Describe(),
            "4 GPUs (0, 1, 3, 4), 1 per trial: 4 trials at once");
  EXPECT_EQ(MakePool({.gpus = {"0"}, .gpus_per_trial = 0.25}).Describe(),
            "1 GPU (0), 4 trials per GPU: 4 trials at once");
}

TEST(Detection, CudaVisibleDevicesNamesTheGpus) {
  const char* saved = std::getenv("CUDA_VISIBLE_DEVICES");
  std::string restore = saved ? saved : "";
  ::setenv("CUDA_VISIBLE_DEVICES", "2, 5,GPU-1a2b", 1);
  DetectedGpus gpus = DetectGpus();
  EXPECT_EQ(gpus.ids, (std::vector<std::string>{"2", "5", "GPU-1a2b"}));
  EXPECT_EQ(gpus.source, "CUDA_VISIBLE_DEVICES");
  ::setenv("CUDA_VISIBLE_DEVICES", "-1", 1);
  EXPECT_TRUE(DetectGpus().ids.empty());
  if (saved)
    ::setenv("CUDA_VISIBLE_DEVICES", restore.c_str(), 1);
  else
    ::unsetenv("CUDA_VISIBLE_DEVICES");
}

TEST(Detection, TheMachineHasCoresAndMemory) {
  EXPECT_FALSE(AvailableCpus().empty());
  EXPECT_GT(TotalMemoryMb(), 0);
}

}  // namespace
}  // namespace hyperion
