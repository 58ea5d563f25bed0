#include <fstream>
#include <string>
#include <thread>

#include <diffuser/engine/context.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>

#include "../cuda/backend.hpp"

namespace diffuser {

const char* device_name(Device d) {
  return d == Device::cpu ? "cpu" : "cuda";
}

Device parse_device(std::string_view name) {
  if (name == "cpu") return Device::cpu;
  if (name == "cuda" || name == "gpu") return Device::cuda;
  throw UsageError(cat("unknown backend '", name, "' (expected cpu or cuda)"));
}

bool cuda_available(std::string* why) {
  return cuda::available(why);
}

void require_device(Device d) {
  if (d == Device::cpu) return;
  std::string why;
  if (!cuda_available(&why)) throw Error(cat("the cuda backend cannot be used: ", why));
}

static std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

void synchronize(Device d) {
  if (d == Device::cuda) cuda::synchronize();
}

std::string describe_device(Device d) {
  if (d == Device::cuda) return cuda::describe();
  const Context& ctx = current_context();
  return cat(cpu_model(), ", ", ctx.cpu_threads(), " of ", std::thread::hardware_concurrency(),
             " hardware threads, CPU level ", cpu_isa_name(ctx.cpu_isa()));
}

DeviceStream::DeviceStream(int device) : device_(device) {
  require_device(Device::cuda);
  handle_ = cuda::stream_create(device);
}

DeviceStream::~DeviceStream() {
  if (handle_) cuda::stream_destroy(handle_, device_);
}

void DeviceStream::synchronize() const {
  cuda::stream_synchronize(handle_);
}

}  // namespace diffuser
