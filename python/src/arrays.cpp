#include "arrays.hpp"

#include <cstring>

#include <diffuser/engine/error.hpp>

#include "dlpack.hpp"

namespace diffuser::python {

namespace {

// "TypeError: message", without the traceback pybind11 adds to what().
std::string error_text(const py::error_already_set& e) {
  std::string type = "error";
  if (e.type()) type = py::str(e.type().attr("__name__")).cast<std::string>();
  return e.value() ? cat(type, ": ", py::str(e.value()).cast<std::string>()) : type;
}

// The pending Python exception as text (cleared).
std::string fetch_error_text() {
  return error_text(py::error_already_set());
}

std::string dtype_text(Kind kind, std::int64_t bits, const std::string& fallback) {
  switch (kind) {
    case Kind::floating:
      return cat("float", bits);
    case Kind::bfloat:
      return "bfloat16";
    case Kind::signed_int:
      return cat("int", bits);
    case Kind::unsigned_int:
      return cat("uint", bits);
    case Kind::boolean:
      return "bool";
    case Kind::other:
      break;
  }
  return fallback;
}

// PEP 3118 format characters of single numbers (struct module codes, native or little-endian).
void parse_format(const char* format, std::int64_t itemsize, ArrayRef& a) {
  std::string f = format ? format : "B";
  bool big_endian = false;
  if (!f.empty() && (f[0] == '@' || f[0] == '=' || f[0] == '<' || f[0] == '>' || f[0] == '!')) {
    big_endian = f[0] == '>' || f[0] == '!';
    f = f.substr(1);
  }
  a.kind = Kind::other;
  if (f.size() == 1 && !big_endian) {
    switch (f[0]) {
      case 'e':
      case 'f':
      case 'd':
        a.kind = Kind::floating;
        break;
      case '?':
        a.kind = Kind::boolean;
        break;
      case 'b':
      case 'h':
      case 'i':
      case 'l':
      case 'q':
      case 'n':
        a.kind = Kind::signed_int;
        break;
      case 'B':
      case 'H':
      case 'I':
      case 'L':
      case 'Q':
      case 'N':
        a.kind = Kind::unsigned_int;
        break;
      default:
        break;
    }
  }
  a.dtype =
      dtype_text(a.kind, itemsize * 8, big_endian ? cat("big-endian '", format, "'") : cat("'", f, "'"));
}

ArrayRef from_buffer(py::handle obj, const char* name, bool writable) {
  auto view = std::shared_ptr<Py_buffer>(new Py_buffer{}, [](Py_buffer* b) {
    if (b->obj) PyBuffer_Release(b);  // under the GIL: ArrayRefs die after the GIL is taken back
    delete b;
  });
  const int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
  if (PyObject_GetBuffer(obj.ptr(), view.get(), flags) != 0) {
    view->obj = nullptr;
    throw Error(cat(name, ": cannot read the array (", fetch_error_text(), ")"));
  }
  ArrayRef a;
  a.name = name;
  a.data = view->buf;
  a.itemsize = view->itemsize;
  for (int i = 0; i < view->ndim; ++i) {
    a.shape.push_back(view->shape[i]);
    a.byte_strides.push_back(view->strides ? view->strides[i] : 0);
  }
  if (!view->strides) {  // C-contiguous without strides given
    std::int64_t s = a.itemsize;
    for (int i = view->ndim - 1; i >= 0; --i) {
      a.byte_strides[static_cast<std::size_t>(i)] = s;
      s *= a.shape[static_cast<std::size_t>(i)];
    }
  }
  parse_format(view->format, a.itemsize, a);
  a.device_text = "cpu";
  a.keep = std::move(view);
  return a;
}

std::string device_text(std::int32_t type, std::int32_t id) {
  switch (type) {
    case dlpack::kCPU:
      return "cpu";
    case dlpack::kCUDA:
    case dlpack::kCUDAManaged:
      return cat("cuda:", id);
    case dlpack::kCUDAHost:
      return "cuda_host";
    case dlpack::kROCM:
      return cat("rocm:", id);
    default:
      return cat("device type ", type, ":", id);
  }
}

ArrayRef from_dlpack(py::handle obj, const char* name, bool writable) {
  // The device first (no export): memory that is not host memory is refused before any copy.
  std::int32_t type = dlpack::kCPU, id = 0;
  if (py::hasattr(obj, "__dlpack_device__")) {
    try {
      const auto dev = obj.attr("__dlpack_device__")().cast<py::tuple>();
      type = dev[0].cast<std::int32_t>();
      id = dev[1].cast<std::int32_t>();
    } catch (const py::error_already_set& e) {
      throw Error(cat(name, ": cannot read the tensor's device (", error_text(e), ")"));
    }
  }
  const bool cuda = type == dlpack::kCUDA;
  if (type != dlpack::kCPU && type != dlpack::kCUDAHost && !cuda)
    throw Error(cat(name, " is on ", device_text(type, id),
                    "; the Python package takes CPU and CUDA arrays and tensors: move it with ", name,
                    ".cpu()"));
  py::object capsule;
  try {
    // CUDA: stream -1, no synchronisation by the producer (the engine runs on the caller's stream);
    // a producer that does not know -1 exports for its default stream.
    if (cuda) {
      try {
        capsule = obj.attr("__dlpack__")(py::arg("stream") = -1);
      } catch (const py::error_already_set&) {
        capsule = obj.attr("__dlpack__")();
      }
    } else {
      capsule = obj.attr("__dlpack__")();
    }
  } catch (const py::error_already_set& e) {
    throw Error(cat(name, ": cannot export the tensor through DLPack (", error_text(e), ")"));
  }
  auto* managed = static_cast<dlpack::ManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  if (!managed)
    throw Error(cat(name, ": __dlpack__ did not return a DLPack capsule (", fetch_error_text(), ")"));
  const dlpack::Tensor& t = managed->dl_tensor;
  ArrayRef a;
  a.name = name;
  a.data = static_cast<char*>(t.data) + t.byte_offset;
  a.itemsize = (t.dtype.bits * t.dtype.lanes + 7) / 8;
  switch (t.dtype.lanes == 1 ? t.dtype.code : 255) {
    case dlpack::kFloat:
      a.kind = Kind::floating;
      break;
    case dlpack::kBfloat:
      a.kind = Kind::bfloat;
      break;
    case dlpack::kInt:
      a.kind = Kind::signed_int;
      break;
    case dlpack::kUInt:
      a.kind = Kind::unsigned_int;
      break;
    case dlpack::kBool:
      a.kind = Kind::boolean;
      break;
    default:
      a.kind = Kind::other;
  }
  a.dtype = dtype_text(a.kind, t.dtype.bits,
                       cat("DLPack type code ", int{t.dtype.code}, " of ", int{t.dtype.bits}, " bits"));
  for (int i = 0; i < t.ndim; ++i) a.shape.push_back(t.shape[i]);
  a.byte_strides.resize(a.shape.size());
  std::int64_t s = 1;
  for (int i = t.ndim - 1; i >= 0; --i) {
    const auto u = static_cast<std::size_t>(i);
    a.byte_strides[u] = (t.strides ? t.strides[i] : s) * a.itemsize;
    s *= a.shape[u];
  }
  a.device_text = device_text(type, id);
  a.on_cpu = !cuda;
  a.cuda_device = cuda ? id : -1;
  (void)writable;  // DLPack memory is the tensor's own: writable whenever the tensor is
  // The capsule's destructor (the producer's) frees the export once we drop it, under the GIL.
  a.keep = std::shared_ptr<void>(new py::object(std::move(capsule)),
                                 [](void* p) { delete static_cast<py::object*>(p); });
  return a;
}

std::string type_name(py::handle obj) {
  return py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>();
}

}  // namespace

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += cat(i ? ", " : "", shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

std::string ArrayRef::shape_text() const {
  return python::shape_text(shape);
}

std::int64_t ArrayRef::numel() const {
  std::int64_t n = 1;
  for (const auto s : shape) n *= s;
  return n;
}

ArrayRef array_ref(py::handle obj, const char* name, bool writable) {
  if (PyObject_CheckBuffer(obj.ptr())) return from_buffer(obj, name, writable);
  if (py::hasattr(obj, "__dlpack__")) return from_dlpack(obj, name, writable);
  throw Error(cat(name, " must be a NumPy array or a torch tensor, got ", type_name(obj)));
}

namespace {

void require_float32_3d(const ArrayRef& a) {
  if (a.kind != Kind::floating || a.itemsize != 4)
    throw Error(cat(a.name, " must be float32, got ", a.dtype));
  if (a.ndim() != 3) throw Error(cat(a.name, " must have shape (N, H, D), got shape ", a.shape_text()));
}

}  // namespace

Features features(const ArrayRef& a) {
  require_float32_3d(a);
  const std::int64_t n = a.shape[0], h = a.shape[1], d = a.shape[2];
  if (n == 0 || h == 0 || d == 0) throw Error(cat(a.name, " has an empty dimension: shape ", a.shape_text()));
  // Strides of dimensions of size 1 do not matter: give them the contiguous value.
  std::int64_t sd = d == 1 ? 4 : a.byte_strides[2];
  std::int64_t sh = h == 1 ? d * sd : a.byte_strides[1];
  std::int64_t sn = n == 1 ? h * sh : a.byte_strides[0];
  const bool aligned = reinterpret_cast<std::uintptr_t>(a.data) % alignof(float) == 0;
  Features f;
  if (aligned && sd == 4 && sh % 4 == 0 && sn % 4 == 0 && sh / 4 >= d && sn / 4 >= (sh / 4) * h) {
    f.view = {static_cast<const float*>(a.data), n, h, d, sn / 4, sh / 4, a.device()};
    return f;
  }
  if (!a.on_cpu)
    throw Error(cat(a.name, " (on ", a.device_text,
                    ") must have D contiguous and rows and heads that do not overlap: pass ", a.name,
                    ".contiguous()"));
  // Any other layout (D not contiguous, heads interleaved with rows, negative or zero strides,
  // misaligned memory): one contiguous copy.
  f.copy = Tensor3<float>(n, h, d);
  float* out = f.copy.buffer().data();
  const char* base = static_cast<const char*>(a.data);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < h; ++j)
      for (std::int64_t x = 0; x < d; ++x)
        std::memcpy(out++, base + i * a.byte_strides[0] + j * a.byte_strides[1] + x * a.byte_strides[2],
                    sizeof(float));
  f.view = f.copy.view();
  f.copied = true;
  return f;
}

Features host_features(const ArrayRef& a) {
  require_host(a);
  return features(a);
}

Tensor3View<float> output_features(const ArrayRef& a, std::int64_t n, std::int64_t h, std::int64_t d) {
  require_float32_3d(a);
  if (a.shape != std::vector<std::int64_t>{n, h, d})
    throw Error(cat(a.name, " must have shape ", shape_text({n, h, d}), ", got ", a.shape_text()));
  const std::int64_t sd = d == 1 ? 4 : a.byte_strides[2], sh = h == 1 ? 4 * d : a.byte_strides[1];
  const std::int64_t sn = n == 1 ? 4 * h * d : a.byte_strides[0];
  if (sd != 4 || sh != 4 * d || sn != 4 * h * d) throw Error(cat(a.name, " must be C-contiguous"));
  return tensor3_view(static_cast<float*>(a.data), n, h, d, a.device());
}

MatrixView<float> output_matrix(const ArrayRef& a, std::int64_t rows, std::int64_t cols) {
  if (a.kind != Kind::floating || a.itemsize != 4)
    throw Error(cat(a.name, " must be float32, got ", a.dtype));
  if (a.shape != std::vector<std::int64_t>{rows, cols})
    throw Error(cat(a.name, " must have shape ", shape_text({rows, cols}), ", got ", a.shape_text()));
  if ((cols > 1 && a.byte_strides[1] != 4) || (rows > 1 && a.byte_strides[0] != 4 * cols))
    throw Error(cat(a.name, " must be C-contiguous"));
  return {static_cast<float*>(a.data), rows, cols, a.device()};
}

void require_host(const ArrayRef& a) {
  if (!a.on_cpu) throw Error(cat(a.name, " must be in host memory, got a tensor on ", a.device_text));
}

Buffer<std::uint8_t> mask_bytes(const ArrayRef& a, std::int64_t n) {
  require_host(a);
  if (a.kind != Kind::signed_int && a.kind != Kind::unsigned_int && a.kind != Kind::boolean)
    throw Error(cat(a.name, " must be an integer or bool array, got ", a.dtype));
  if (a.ndim() != 1 || a.shape[0] != n)
    throw Error(cat(a.name, " must have shape (", n, ",) like the ", n, " tokens, got ", a.shape_text()));
  Buffer<std::uint8_t> m(n);
  const char* base = static_cast<const char*>(a.data);
  for (std::int64_t i = 0; i < n; ++i) {
    const char* p = base + i * a.byte_strides[0];
    bool nonzero = false;
    for (std::int64_t b = 0; b < a.itemsize; ++b) nonzero = nonzero || p[b] != 0;
    m[i] = nonzero ? 1 : 0;
  }
  return m;
}

std::vector<std::int64_t> index_values(const ArrayRef& a) {
  require_host(a);
  if (a.kind != Kind::signed_int && a.kind != Kind::unsigned_int)
    throw Error(cat(a.name, " must be an integer array, got ", a.dtype));
  if (a.ndim() != 1) throw Error(cat(a.name, " must be 1-dimensional, got shape ", a.shape_text()));
  std::vector<std::int64_t> out(static_cast<std::size_t>(a.shape[0]));
  const char* base = static_cast<const char*>(a.data);
  const bool is_signed = a.kind == Kind::signed_int;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const char* p = base + static_cast<std::int64_t>(i) * a.byte_strides[0];
    std::int64_t v = 0;
    switch (a.itemsize) {
      case 1:
        v = is_signed ? std::int64_t{*reinterpret_cast<const std::int8_t*>(p)}
                      : std::int64_t{*reinterpret_cast<const std::uint8_t*>(p)};
        break;
      case 2: {
        std::int16_t s;
        std::memcpy(&s, p, 2);
        v = is_signed ? std::int64_t{s} : std::int64_t{static_cast<std::uint16_t>(s)};
        break;
      }
      case 4: {
        std::int32_t s;
        std::memcpy(&s, p, 4);
        v = is_signed ? std::int64_t{s} : std::int64_t{static_cast<std::uint32_t>(s)};
        break;
      }
      case 8: {
        std::uint64_t u;
        std::memcpy(&u, p, 8);
        // uint64 above the int64 range: saturate, so the range check names it as too large.
        v = is_signed ? static_cast<std::int64_t>(u)
                      : (u > 0x7fffffffffffffffull ? std::int64_t{0x7fffffffffffffff}
                                                   : static_cast<std::int64_t>(u));
        break;
      }
      default:
        throw Error(cat(a.name, ": unsupported integer size of ", a.itemsize, " bytes"));
    }
    out[i] = v;
  }
  return out;
}

}  // namespace diffuser::python
