// Every kernel schedule of the CUDA backend on the authors' recipe at N = 4096, H = 12, D = 64
// (global tokens of in-degree N take the hub path under the default rule) against the CPU backend.
// Tagged [large]: the sanitizer runs skip it.
#include <catch2/catch.hpp>

#include <cmath>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "cuda/cuda_test.hpp"
#include "support/reference.hpp"

using namespace diffuser;

TEST_CASE("every CUDA schedule reproduces the CPU forward on the authors' recipe", "[cuda][large]") {
  if (!test::cuda_or_skip()) return;
  test::ScheduleGuard guard;
  const std::int64_t n = 4096, h = 12, d = 64;
  const Csr g = graphs::build_pattern(graphs::kDiffuserRecipe, n, 11);
  const Tensor3<float> q = test::random_tensor(n, h, d, 1), k = test::random_tensor(n, h, d, 2),
                       v = test::random_tensor(n, h, d, 3);
  const auto c = diffusion::Coefficients::ppr(5, 0.1);
  const Tensor3<float> cpu = diffusion::diffuse(g, q.view(), k.view(), v.view(), c);
  const auto ref = test::to_double(cpu.buffer().data(), cpu.buffer().size());
  const Tensor3<bf16> qb = test::to_bf16_tensor(q), kb = test::to_bf16_tensor(k),
                      vb = test::to_bf16_tensor(v);
  const Tensor3<float> cpu_b =
      diffusion::diffuse(g, test::rounded(q).view(), test::rounded(k).view(), test::rounded(v).view(), c);
  const auto ref_b = test::to_double(cpu_b.buffer().data(), cpu_b.buffer().size());

  const Csr gd = g.to(Device::cuda);
  const Tensor3<float> qd = q.to(Device::cuda), kd = k.to(Device::cuda), vd = v.to(Device::cuda);
  const Tensor3<bf16> qbd = qb.to(Device::cuda), kbd = kb.to(Device::cuda), vbd = vb.to(Device::cuda);
  for (const char* s :
       {"default", "hop=w32", "hop=w16", "hop=w8", "hop=h2", "hop=row,layout=em", "hop=w16,layout=em",
        "score=s16", "score=s32", "hub=-1", "step=8,sstep=8", "hop=w32,step=32,score=s32,sstep=32",
        "hop=h2,step=16,score=s16,sstep=16", "panel=0", "panel=1", "panel=1,hub=-1"}) {
    CAPTURE(s);
    guard.set(s);
    const Tensor3<float> z = diffusion::diffuse(gd, qd.view(), kd.view(), vd.view(), c);
    REQUIRE(test::rel_error(z.buffer().to_vector().data(), ref) < 1e-5);
    const Tensor3<bf16> zb = diffusion::diffuse(gd, qbd.view(), kbd.view(), vbd.view(), c);
    const auto zbf = test::widen(zb.buffer().to_vector());
    REQUIRE(test::rel_error(zbf.data(), ref_b) < 1e-2);
  }
}
