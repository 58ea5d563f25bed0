// Where memory lives and kernels run. Only engine/ implements backends; everyone else names a
// Device and asks whether it is usable.
#pragma once

#include <string>
#include <string_view>

namespace diffuser {

enum class Device { cpu, cuda };

const char* device_name(Device d);

// Parses "cpu" or "cuda"; throws UsageError naming the value otherwise.
Device parse_device(std::string_view name);

// True when this build has the CUDA backend and a usable GPU is present. When false and `why`
// is given, it receives a sentence for the user ("built without CUDA", "no CUDA device: ...").
bool cuda_available(std::string* why = nullptr);

// Throws Error with the reason when `d` cannot be used in this process.
void require_device(Device d);

// Waits for all work queued on the device (a no-op on the CPU, whose primitives are synchronous).
void synchronize(Device d);

// One line describing the device (for benchmarks): CPU model and threads, or GPU name and memory.
std::string describe_device(Device d);

// A CUDA stream of the engine's own making, for callers without the CUDA headers (tests, tools):
// its handle() goes into CudaOptions::stream. Throws Error without a usable GPU.
class DeviceStream {
 public:
  explicit DeviceStream(int device = 0);
  ~DeviceStream();
  DeviceStream(const DeviceStream&) = delete;
  DeviceStream& operator=(const DeviceStream&) = delete;
  void* handle() const { return handle_; }
  void synchronize() const;

 private:
  void* handle_ = nullptr;
  int device_ = 0;
};

}  // namespace diffuser
