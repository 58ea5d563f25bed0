// Builds the authors' graph recipe, runs Diffuser attention on seeded inputs in an execution
// context of two threads, and prints a checksum of the output (the same on every run).
#include <cstdio>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/graphs/pattern.hpp>

int main() {
  using namespace diffuser;
  const Context ctx({.cpu = {.threads = 2}});
  ContextScope scope(ctx);
  const std::int64_t n = 1024, heads = 4, dim = 64;
  const Csr g = graphs::build_pattern("diffuser", n, 7);
  Tensor3<float> q(n, heads, dim), k(n, heads, dim), v(n, heads, dim);
  std::uint64_t stream = 0;
  for (Tensor3<float>* t : {&q, &k, &v}) {
    ++stream;
    for (std::int64_t i = 0; i < t->buffer().size(); ++i)
      t->buffer()[i] = static_cast<float>(rng::normal(11, stream, static_cast<std::uint64_t>(i)));
  }
  const Tensor3<float> z =
      diffusion::diffuse(g, q.view(), k.view(), v.view(), diffusion::Coefficients::ppr(5, 0.1));
  double sum = 0;
  for (float x : z.buffer()) sum += x;
  std::printf("diffuser consumer: N=%lld, %lld edges, CPU level %s, checksum %.6f\n",
              static_cast<long long>(n), static_cast<long long>(g.num_edges()), cpu_isa_name(ctx.cpu_isa()),
              sum);
  return 0;
}
