#include "hyperion/resources/resource_pool.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "hyperion/common/text.h"

namespace hyperion {
namespace {

constexpr int kMaxTrialsPerGpu = 64;

// k when a share below one GPU is 1/k. A third cannot be written exactly, so 0.33 counts as 1/3 (2%).
std::optional<int> SharesPerGpu(double share) {
  if (share <= 0 || share >= 1) return std::nullopt;
  double k = 1 / share;
  if (std::fabs(k - std::round(k)) > 0.02 * k) return std::nullopt;
  return static_cast<int>(std::round(k));
}

std::string FormatCores(const std::vector<int>& cores) {
  // Consecutive runs as ranges: "0-3, 6".
  std::vector<std::string> parts;
  for (size_t i = 0; i < cores.size();) {
    size_t j = i;
    while (j + 1 < cores.size() && cores[j + 1] == cores[j] + 1) ++j;
    parts.push_back(j == i ? std::to_string(cores[i])
                           : std::to_string(cores[i]) + "-" + std::to_string(cores[j]));
    i = j + 1;
  }
  return JoinStrings(parts);
}

}  // namespace

std::string ResourceGrant::CudaVisibleDevices() const { return JoinStrings(gpus, ","); }

Json ResourceGrant::ToJson() const {
  Json json = Json::object();
  if (gpus_per_trial > 0) {
    json["gpus_per_trial"] = gpus_per_trial;
    if (!gpus.empty()) json["gpus"] = gpus;
  }
  if (cpu_count > 0) {
    json["cpus_per_trial"] = cpu_count;
    if (!cpus.empty()) json["cpus"] = cpus;
  }
  if (memory_mb > 0) json["memory_mb"] = memory_mb;
  return json;
}

ResourceGrant ResourceGrant::FromJson(const Json& json) {
  ResourceGrant grant;
  if (!json.is_object()) return grant;
  grant.gpus = json.value("gpus", std::vector<std::string>{});
  grant.gpus_per_trial = json.value("gpus_per_trial", 0.0);
  grant.cpus = json.value("cpus", std::vector<int>{});
  grant.cpu_count = json.value("cpus_per_trial", 0);
  grant.memory_mb = json.value("memory_mb", int64_t{0});
  return grant;
}

std::string ResourceGrant::Describe() const {
  std::vector<std::string> parts;
  if (gpus_per_trial > 0) {
    std::string share = gpus_per_trial < 1 ? " (" + FormatNumber(gpus_per_trial) + " of it)" : "";
    if (gpus.empty())
      parts.push_back(FormatNumber(gpus_per_trial) + " GPU");
    else
      parts.push_back((gpus.size() == 1 ? "GPU " : "GPUs ") + JoinStrings(gpus, ",") + share);
  }
  if (cpu_count > 0) {
    parts.push_back(cpus.empty() ? std::to_string(cpu_count) + " CPU cores"
                                 : (cpus.size() == 1 ? "CPU core " : "CPU cores ") + FormatCores(cpus));
  }
  if (memory_mb > 0) parts.push_back(std::to_string(memory_mb) + " MiB");
  return parts.empty() ? "no managed resources" : JoinStrings(parts);
}

Status ResourcePool::CheckGpuShare(double share) {
  if (share < 0 || !std::isfinite(share))
    return InvalidArgumentError("resources.gpus_per_trial must be 0 or more, got " + FormatNumber(share));
  if (share > 0 && share < 1 && !SharesPerGpu(share)) {
    return InvalidArgumentError("resources.gpus_per_trial " + FormatNumber(share) +
                                " does not split a GPU evenly; use 1/k (0.5, 0.25, 0.2) to pack k trials "
                                "on one GPU, or a whole number of GPUs");
  }
  if (share > 0 && share < 1.0 / kMaxTrialsPerGpu) {
    return InvalidArgumentError("resources.gpus_per_trial " + FormatNumber(share) + " would pack more than " +
                                std::to_string(kMaxTrialsPerGpu) +
                                " trials on one GPU; use 1/k with k <= " + std::to_string(kMaxTrialsPerGpu));
  }
  if (share >= 1 && std::floor(share) != share) {
    return InvalidArgumentError("resources.gpus_per_trial " + FormatNumber(share) +
                                " is more than one GPU but not a whole number; use 1, 2, 3, ... or 1/k");
  }
  return Status::Ok();
}

Result<ResourcePool> ResourcePool::Create(PoolShape shape) {
  const double share = shape.gpus_per_trial;
  HYP_RETURN_IF_ERROR(CheckGpuShare(share));
  if (shape.assign_devices) {
    std::set<std::string> unique(shape.gpus.begin(), shape.gpus.end());
    if (unique.size() != shape.gpus.size())
      return InvalidArgumentError("resources.gpus lists a GPU twice: " + JoinStrings(shape.gpus));
    if (share > 0 && shape.gpus.empty()) {
      return InvalidArgumentError(
          "resources.gpus_per_trial is " + FormatNumber(share) +
          " but the pool has no GPU; list them (gpus: [0, 1]), use gpus: auto, or set gpus_per_trial: 0");
    }
    for (const auto& id : shape.gpus) {
      // The forms CUDA_VISIBLE_DEVICES takes: an index, or a GPU/MIG UUID. "-1" would hide every GPU.
      bool index = !id.empty() && id.find_first_not_of("0123456789") == std::string::npos;
      if (!index && id.rfind("GPU-", 0) != 0 && id.rfind("MIG-", 0) != 0) {
        return InvalidArgumentError(
            "resources.gpus: '" + id +
            "' is not a GPU id; use the indexes (0, 1, ...) or the GPU-/MIG- UUIDs that "
            "nvidia-smi -L lists");
      }
    }
    // Compared as numbers: a share such as 1e300 must not wrap around when made an integer.
    if (share >= 1 && share > static_cast<double>(shape.gpus.size())) {
      return InvalidArgumentError("resources.gpus_per_trial is " + FormatNumber(share) +
                                  " but the pool has only " + std::to_string(shape.gpus.size()) +
                                  " GPU(s) (" + JoinStrings(shape.gpus) + ")");
    }
    std::set<int> cores(shape.cpus.begin(), shape.cpus.end());
    if (cores.size() != shape.cpus.size()) return InvalidArgumentError("resources.cpus lists a core twice");
    if (shape.cpus_per_trial > 0 && static_cast<size_t>(shape.cpus_per_trial) > shape.cpus.size()) {
      return InvalidArgumentError("resources.cpus_per_trial is " + std::to_string(shape.cpus_per_trial) +
                                  " but the pool has " + std::to_string(shape.cpus.size()) +
                                  " core(s); lower it or list more cores in resources.cpus");
    }
    if (shape.memory_per_trial_mb > 0 && shape.memory_mb > 0 && shape.memory_per_trial_mb > shape.memory_mb) {
      return InvalidArgumentError("resources.memory_per_trial (" + std::to_string(shape.memory_per_trial_mb) +
                                  " MiB) is more than the pool's memory (" + std::to_string(shape.memory_mb) +
                                  " MiB)");
    }
  } else if (shape.slots <= 0) {
    return InvalidArgumentError("a counting pool needs slots > 0");
  }
  return ResourcePool(std::move(shape));
}

ResourcePool::ResourcePool(PoolShape shape) : shape_(std::move(shape)) {
  gpu_load_.assign(shape_.gpus.size(), 0);
  cpu_busy_.assign(shape_.cpus.size(), false);
  if (!shape_.assign_devices) {
    capacity_ = shape_.slots;
    return;
  }
  int capacity = 1 << 30;
  if (shape_.gpus_per_trial > 0) {
    int gpus = static_cast<int>(shape_.gpus.size());
    capacity = std::min(capacity, shape_.gpus_per_trial < 1 ? gpus * TrialsPerGpu() : gpus / GpusPerTrial());
  }
  if (shape_.cpus_per_trial > 0)
    capacity = std::min(capacity, static_cast<int>(shape_.cpus.size()) / shape_.cpus_per_trial);
  if (shape_.memory_per_trial_mb > 0 && shape_.memory_mb > 0)
    capacity = std::min<int64_t>(capacity, shape_.memory_mb / shape_.memory_per_trial_mb);
  capacity_ = capacity;
}

int ResourcePool::TrialsPerGpu() const { return SharesPerGpu(shape_.gpus_per_trial).value_or(1); }

int ResourcePool::GpusPerTrial() const {
  return shape_.gpus_per_trial >= 1 ? static_cast<int>(shape_.gpus_per_trial) : 1;
}

std::optional<ResourceGrant> ResourcePool::Acquire(int64_t trial_id) {
  if (held_.count(trial_id) || InUse() >= capacity_) return std::nullopt;
  ResourceGrant grant;
  grant.gpus_per_trial = shape_.gpus_per_trial;
  grant.cpu_count = shape_.cpus_per_trial;
  grant.memory_mb = shape_.memory_per_trial_mb;
  if (!shape_.assign_devices) return held_[trial_id] = grant;

  if (shape_.memory_per_trial_mb > 0 && shape_.memory_mb > 0 &&
      memory_used_mb_ + shape_.memory_per_trial_mb > shape_.memory_mb)
    return std::nullopt;
  std::vector<size_t> gpu_picks;
  if (shape_.gpus_per_trial > 0) {
    const int limit = shape_.gpus_per_trial < 1 ? TrialsPerGpu() : 1;
    // Least loaded first, then in the order listed: trials spread over GPUs before they pack.
    std::vector<size_t> order(shape_.gpus.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return gpu_load_[a] < gpu_load_[b]; });
    for (size_t i : order) {
      if (static_cast<int>(gpu_picks.size()) == GpusPerTrial()) break;
      if (gpu_load_[i] < limit) gpu_picks.push_back(i);
    }
    if (static_cast<int>(gpu_picks.size()) < GpusPerTrial()) return std::nullopt;
    std::sort(gpu_picks.begin(), gpu_picks.end());
  }
  std::vector<size_t> cpu_picks;
  for (size_t i = 0; i < cpu_busy_.size() && static_cast<int>(cpu_picks.size()) < shape_.cpus_per_trial;
       ++i) {
    if (!cpu_busy_[i]) cpu_picks.push_back(i);
  }
  if (static_cast<int>(cpu_picks.size()) < shape_.cpus_per_trial) return std::nullopt;

  for (size_t i : gpu_picks) {
    gpu_load_[i] += 1;
    grant.gpus.push_back(shape_.gpus[i]);
  }
  for (size_t i : cpu_picks) {
    cpu_busy_[i] = true;
    grant.cpus.push_back(shape_.cpus[i]);
  }
  if (shape_.memory_mb > 0) memory_used_mb_ += shape_.memory_per_trial_mb;
  return held_[trial_id] = grant;
}

void ResourcePool::Release(int64_t trial_id) {
  auto it = held_.find(trial_id);
  if (it == held_.end()) return;
  const ResourceGrant& grant = it->second;
  for (const auto& id : grant.gpus) {
    auto pos = std::find(shape_.gpus.begin(), shape_.gpus.end(), id);
    if (pos != shape_.gpus.end()) gpu_load_[pos - shape_.gpus.begin()] -= 1;
  }
  for (int core : grant.cpus) {
    auto pos = std::find(shape_.cpus.begin(), shape_.cpus.end(), core);
    if (pos != shape_.cpus.end()) cpu_busy_[pos - shape_.cpus.begin()] = false;
  }
  if (shape_.assign_devices && shape_.memory_mb > 0) memory_used_mb_ -= grant.memory_mb;
  held_.erase(it);
}

std::string ResourcePool::Describe() const {
  std::vector<std::string> parts;
  const double share = shape_.gpus_per_trial;
  if (share > 0 && shape_.assign_devices) {
    std::string per =
        share < 1 ? std::to_string(TrialsPerGpu()) + " trials per GPU" : FormatNumber(share) + " per trial";
    parts.push_back(std::to_string(shape_.gpus.size()) + (shape_.gpus.size() == 1 ? " GPU (" : " GPUs (") +
                    JoinStrings(shape_.gpus) + "), " + per);
  } else if (share > 0) {
    parts.push_back(FormatNumber(share) + " GPU per trial");
  }
  if (shape_.cpus_per_trial > 0) {
    parts.push_back(shape_.assign_devices ? "CPU cores " + FormatCores(shape_.cpus) + ", " +
                                                std::to_string(shape_.cpus_per_trial) + " per trial"
                                          : std::to_string(shape_.cpus_per_trial) + " CPU cores per trial");
  }
  if (shape_.memory_per_trial_mb > 0)
    parts.push_back(std::to_string(shape_.memory_per_trial_mb) + " MiB per trial");
  if (parts.empty()) parts.push_back("CPU slots");
  return JoinStrings(parts, "; ") + ": " + std::to_string(capacity_) + " trial" +
         (capacity_ == 1 ? "" : "s") + " at once";
}

}  // namespace hyperion
