// The resource pool: the GPUs, CPU cores and memory an experiment may use, and which trial holds what.
//
// Every trial asks for the same share (PoolShape's per-trial amounts). A GPU share below one packs trials
// onto one GPU (0.5: two per GPU); a share of n >= 1 takes n whole GPUs. Acquire() places a trial on the
// least loaded devices (ties: the order the pool lists them) so trials spread before they pack; Release()
// returns everything the trial held. Capacity() is how many trials fit at once, which the orchestrator takes
// as its number of slots.
//
// With assign_devices false (a scheduler such as Slurm places the trial), the pool only counts: grants carry
// the amounts but no device ids.
//
// Plain value, not thread-safe: the orchestrator's loop thread owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/common/status.h"

namespace hyperion {

struct PoolShape {
  std::vector<std::string> gpus;    // device ids as CUDA_VISIBLE_DEVICES names them ("0", "3", "GPU-<uuid>")
  double gpus_per_trial = 0;        // 0 (no GPU), 1/k for k trials per GPU, or a whole number of GPUs
  std::vector<int> cpus;            // core ids trials are pinned to; empty: cores are not managed
  int cpus_per_trial = 0;           // 0: cores are not managed
  int64_t memory_mb = 0;            // memory the trials may use together; 0: not managed
  int64_t memory_per_trial_mb = 0;  // 0: not managed
  bool assign_devices = true;       // false: count only, the scheduler picks devices
  int slots = 0;                    // with assign_devices false: how many trials at once (> 0)
};

// What one trial holds.
struct ResourceGrant {
  std::vector<std::string> gpus;  // device ids; empty when it holds no GPU or devices are not assigned
  double gpus_per_trial = 0;      // the share asked for (0.5, 1, 2)
  std::vector<int> cpus;          // core ids it is pinned to; empty when cores are not managed
  int cpu_count = 0;              // cores asked for; 0 when not managed
  int64_t memory_mb = 0;          // 0 when not managed

  // The value for CUDA_VISIBLE_DEVICES: "0", "0,1"; empty for none.
  std::string CudaVisibleDevices() const;
  // {"gpus": ["3"], "gpus_per_trial": 0.5, "cpus": [0, 1], "memory_mb": 4096}; absent parts left out.
  Json ToJson() const;
  // Reads what ToJson() wrote; parts it does not find stay empty.
  static ResourceGrant FromJson(const Json& json);
  // "GPU 3 (0.5), CPU cores 0-1, 4096 MiB", or "no managed resources".
  std::string Describe() const;
};

class ResourcePool {
 public:
  // Checks the shape: a GPU share that splits a GPU evenly (1/k) or is whole, no more GPUs per trial than the
  // pool has, no duplicate ids, cores and memory enough for one trial. kInvalidArgument says which and how to
  // fix it.
  static Result<ResourcePool> Create(PoolShape shape);
  // The GPU-share part of that check (0, 1/k, or whole), for the config reader.
  static Status CheckGpuShare(double gpus_per_trial);

  // How many trials fit at once.
  int Capacity() const { return capacity_; }
  // Takes one trial's share; nullopt when it does not fit now. A trial holds at most one grant.
  std::optional<ResourceGrant> Acquire(int64_t trial_id);
  // Returns what the trial holds; no-op for a trial that holds nothing.
  void Release(int64_t trial_id);
  // Trials holding a grant.
  int InUse() const { return static_cast<int>(held_.size()); }
  const PoolShape& shape() const { return shape_; }
  // "4 GPUs (0, 1, 3, 4), 1 per trial", "2 GPUs (0, 1), 2 trials per GPU", "CPU only".
  std::string Describe() const;

 private:
  explicit ResourcePool(PoolShape shape);
  // Trials that fit a GPU (packing) or GPUs a trial takes.
  int TrialsPerGpu() const;
  int GpusPerTrial() const;

  PoolShape shape_;
  int capacity_ = 0;
  std::vector<int> gpu_load_;   // trials on each GPU of shape_.gpus
  std::vector<bool> cpu_busy_;  // by index into shape_.cpus
  int64_t memory_used_mb_ = 0;
  std::map<int64_t, ResourceGrant> held_;  // by trial id
};

}  // namespace hyperion
