// What this machine offers, for `resources: {gpus: auto, cpus: auto, memory: auto}`.
//
// Plain functions; any thread. DetectGpus() may run nvidia-smi (a few hundred milliseconds), so it is called
// once when a run starts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hyperion/common/status.h"

namespace hyperion {

struct DetectedGpus {
  std::vector<std::string> ids;  // as CUDA_VISIBLE_DEVICES names them; empty when there is no GPU
  std::string source;            // "CUDA_VISIBLE_DEVICES", "nvidia-smi", or why none was found
};

// The GPUs this process may use: the ids in CUDA_VISIBLE_DEVICES when it is set (empty, "-1" or "NoDevFiles"
// mean none), otherwise the indexes nvidia-smi lists; none when nvidia-smi is absent or fails.
DetectedGpus DetectGpus();

// The cores this process may run on (its affinity mask), in order.
std::vector<int> AvailableCpus();

// The machine's memory in MiB (MemTotal of /proc/meminfo); 0 when unknown.
int64_t TotalMemoryMb();

}  // namespace hyperion
