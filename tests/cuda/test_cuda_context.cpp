// The execution context on the GPU: 8 host threads on their own streams give exactly the serial
// results; every device allocation goes through a caller's allocator; a forward is captured into a
// CUDA graph and replayed with the same result; plans live with their graph; an allocator that
// returns memory the engine holds is refused.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/baselines.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "cuda/cuda_test.hpp"
#include "support/reference.hpp"

using namespace diffuser;

namespace {

struct Inputs {
  Csr g;
  Tensor3<float> q, k, v;
};

Inputs inputs(const char* spec, std::int64_t n, std::uint64_t seed) {
  const Csr host = graphs::build_pattern(spec, n, seed);
  return {host.to(Device::cuda), test::random_tensor(n, 4, 64, seed + 1).to(Device::cuda),
          test::random_tensor(n, 4, 64, seed + 2).to(Device::cuda),
          test::random_tensor(n, 4, 64, seed + 3).to(Device::cuda)};
}

std::vector<float> forward(const Inputs& in) {
  return diffusion::diffuse(in.g, in.q.view(), in.k.view(), in.v.view(), diffusion::Coefficients::ppr(5, 0.1))
      .buffer()
      .to_vector();
}

ContextOptions on_stream(const DeviceStream& s) {
  ContextOptions o = current_context().options();
  o.cuda.stream = s.handle();
  return o;
}

// A caller's allocator: hands out pieces of one arena it owns and counts what it is asked for.
class CountingAllocator : public DeviceAllocator {
 public:
  explicit CountingAllocator(std::int64_t bytes) : arena_(bytes, Device::cuda) {}
  void* allocate(std::size_t bytes, void*) override {
    std::lock_guard<std::mutex> lock(mu_);
    // Never hand out the arena's own first byte: the engine keys its accounting by address, and
    // the arena is itself an engine allocation until this allocator is destroyed.
    const std::size_t at = (used_ + 256) / 256 * 256;
    if (at + bytes > static_cast<std::size_t>(arena_.size())) throw std::bad_alloc();
    used_ = at + bytes;
    ++allocations;
    live += static_cast<std::int64_t>(bytes);
    return arena_.data() + at;
  }
  void deallocate(void*, std::size_t bytes, void*) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    ++deallocations;
    live -= static_cast<std::int64_t>(bytes);
  }
  std::atomic<std::int64_t> allocations{0}, deallocations{0}, live{0};

 private:
  std::mutex mu_;
  Buffer<char> arena_;  // allocated before this allocator is installed: the engine's own pool
  std::size_t used_ = 0;
};

}  // namespace

TEST_CASE("CUDA: 8 host threads on their own streams give the serial results bit for bit",
          "[cuda][engine][concurrency]") {
  if (!test::cuda_or_skip()) return;
  std::vector<Inputs> in;
  in.push_back(inputs("diffuser", 4096, 1));  // hub rows, fp32 panels off, hub path
  in.push_back(inputs("window:16+random:8", 3000, 2));
  std::vector<std::vector<float>> serial;
  for (const Inputs& x : in) serial.push_back(forward(x));
  for (int round = 0; round < 3; ++round) {
    std::vector<std::vector<float>> got(8);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        const DeviceStream stream;
        const Context ctx(on_stream(stream));
        ContextScope scope(ctx);
        got[static_cast<std::size_t>(t)] = forward(in[static_cast<std::size_t>(t) % in.size()]);
      });
    for (auto& th : threads) th.join();
    for (std::size_t t = 0; t < got.size(); ++t) {
      CAPTURE(round, t);
      REQUIRE(got[t] == serial[t % in.size()]);
    }
  }
}

TEST_CASE("CUDA: every device allocation of a forward goes through the caller's allocator",
          "[cuda][engine]") {
  if (!test::cuda_or_skip()) return;
  const Inputs in = inputs("diffuser", 2048, 3);
  const std::vector<float> expected = forward(in);
  auto alloc = std::make_shared<CountingAllocator>(std::int64_t{1} << 30);
  {
    ContextOptions o = current_context().options();
    o.cuda.allocator = alloc;
    const Context ctx(o);
    ContextScope scope(ctx);
    const Csr g = in.g.to(Device::cuda);  // a fresh graph: its plans are built with this allocator too
    REQUIRE(diffusion::diffuse(g, in.q.view(), in.k.view(), in.v.view(), diffusion::Coefficients::ppr(5, 0.1))
                .buffer()
                .to_vector() == expected);
    REQUIRE(alloc->allocations > 0);
  }
  // Everything the forward and the graph held went back to the caller's allocator.
  REQUIRE(alloc->live == 0);
  REQUIRE(alloc->deallocations == alloc->allocations);
}

TEST_CASE("CUDA: a forward is captured into a CUDA graph and replayed with the same result",
          "[cuda][engine]") {
  if (!test::cuda_or_skip()) return;
  const DeviceStream stream;
  const Context ctx(on_stream(stream));
  ContextScope scope(ctx);
  for (const char* spec : {"diffuser", "window:8"}) {
    CAPTURE(spec);
    const Inputs in = inputs(spec, 4096, 4);
    const auto c = diffusion::Coefficients::ppr(5, 0.1);
    ops::EdgeWeights w(in.g.view(), 4);
    Tensor3<float> out(4096, 4, 64, Device::cuda), scratch(4096, 4, 64, Device::cuda);
    auto run = [&] {
      diffusion::attention_weights(in.g, in.q.view(), in.k.view(), {}, 0.0f, w);
      diffusion::diffuse_values(in.g, w, in.v.view(), c, out.view(), scratch.view());
    };
    run();  // builds the graph's plans (one synchronisation), outside the capture
    stream.synchronize();
    const std::vector<float> eager = out.buffer().to_vector();
    out.buffer().zero();
    const double ms = baselines::cuda_graph_replay_ms(run, 3);
    REQUIRE(ms > 0);
    REQUIRE(out.buffer().to_vector() == eager);
  }
}

TEST_CASE("CUDA: plans live with their graph and a bare view plans for the call", "[cuda][engine]") {
  if (!test::cuda_or_skip()) return;
  const Inputs in = inputs("diffuser", 4096, 5);
  REQUIRE(in.g.plans()->entries() == 0);
  (void)forward(in);
  REQUIRE(in.g.plans()->entries() >= 1);  // the hub rows
  // One hop on the graph (its plans) and on a bare view of the same arrays (planned for the call).
  auto hop = [&](const CsrView& g) {
    ops::EdgeWeights w(g, 4);
    ops::edge_attention(g, in.q.view(), in.k.view(), 0.125f, {}, w);
    Tensor3<float> out(4096, 4, 64, Device::cuda);
    ops::gather_axpby(g, w, 0.9f, in.v.view(), 0.1f, in.v.view(), out.view());
    return out.buffer().to_vector();
  };
  CsrView bare = in.g.view();
  bare.plans = nullptr;
  REQUIRE(hop(bare) == hop(in.g.view()));
}

TEST_CASE("CUDA: a caller's allocator that hands out memory the engine holds is a clear error",
          "[cuda][engine]") {
  if (!test::cuda_or_skip()) return;
  // Returns the start of its arena, which is itself a live engine allocation.
  class Aliasing : public DeviceAllocator {
   public:
    void* allocate(std::size_t, void*) override { return arena_.data(); }
    void deallocate(void*, std::size_t, void*) noexcept override { ++returned; }
    std::atomic<int> returned{0};

   private:
    Buffer<char> arena_{1 << 20, Device::cuda};
  };
  auto alloc = std::make_shared<Aliasing>();
  ContextOptions o = current_context().options();
  o.cuda.allocator = alloc;
  const Context ctx(o);
  ContextScope scope(ctx);
  REQUIRE_THROWS_WITH(Buffer<float>(256, Device::cuda),
                      Catch::Contains("already holds as a live allocation"));
  REQUIRE(alloc->returned == 1);  // the memory went back to the allocator
}
