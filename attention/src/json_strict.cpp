// A SAX handler that builds the document like nlohmann's own DOM parser, with the checks of
// json_strict.hpp, and remembers where it is (the key path) for the messages.
#include <algorithm>
#include <vector>

#include <diffuser/engine/error.hpp>

#include "json_strict.hpp"

namespace diffuser::attention::detail {

namespace {

using json = nlohmann::json;

class StrictBuilder final : public nlohmann::json_sax<json> {
 public:
  json root;
  std::string error;  // set when a check of ours stopped the parse

  bool null() override { return put(nullptr); }
  bool boolean(bool v) override { return put(v); }
  bool number_integer(number_integer_t v) override { return put(v); }
  bool number_unsigned(number_unsigned_t v) override { return put(v); }
  bool number_float(number_float_t v, const string_t&) override { return put(v); }
  bool string(string_t& v) override { return put(std::move(v)); }
  bool binary(binary_t&) override { return refuse("binary values are not JSON"); }

  bool start_object(std::size_t) override { return open(json::object()); }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool key(string_t& k) override {
    json& obj = *stack_.back();
    if (obj.contains(k)) return refuse(cat("the key \"", excerpt(k), "\" appears twice", where_inside()));
    key_ = k;
    slot_ = &obj[k];
    return true;
  }

  // nlohmann's own errors: parse_json_strict reports them with a position of its own making.
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& ex) override {
    error_pos = pos;
    error_what = ex.what();
    error_id = ex.id;
    return false;
  }
  std::size_t error_pos = 0;
  std::string error_what;
  int error_id = 0;

  // " (in \"a\" > \"b\")" for the key path of the value being read, or "".
  std::string where() const {
    std::string path;
    for (const auto& p : path_) path += cat(path.empty() ? "" : " > ", p);
    if (!key_.empty() && !stack_.empty() && stack_.back()->is_object())
      path += cat(path.empty() ? "" : " > ", "\"", excerpt(key_), "\"");
    return path.empty() ? std::string() : cat(" (key ", path, ")");
  }

 private:
  std::string where_inside() const {
    std::string path;
    for (const auto& p : path_) path += cat(path.empty() ? "" : " > ", p);
    return path.empty() ? std::string(" in the top-level object") : cat(" in ", path);
  }
  bool refuse(const std::string& why) {
    error = why;
    return false;
  }
  template <class V>
  bool put(V&& v) {
    place(json(std::forward<V>(v)));
    return true;
  }
  json* place(json v) {
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    *slot_ = std::move(v);
    return slot_;
  }
  bool open(json empty) {
    if (static_cast<int>(stack_.size()) >= kMaxJsonDepth)
      return refuse(cat("values nested more than ", kMaxJsonDepth, " deep"));
    std::string label;
    if (!stack_.empty())
      label =
          stack_.back()->is_array() ? cat("[", stack_.back()->size(), "]") : cat("\"", excerpt(key_), "\"");
    json* at = place(std::move(empty));
    if (!stack_.empty()) path_.push_back(label);
    stack_.push_back(at);
    key_.clear();
    return true;
  }
  bool close() {
    stack_.pop_back();
    if (!path_.empty() && !stack_.empty()) path_.pop_back();
    key_.clear();
    return true;
  }

  std::vector<json*> stack_;
  std::vector<std::string> path_;  // labels of the open containers below the root
  std::string key_;
  json* slot_ = nullptr;
};

// 1-based line and column of byte `pos` (nlohmann reports positions one past the bad character).
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t pos) {
  pos = std::min(pos, text.size());
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < pos; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

// nlohmann's description without its "[json.exception...] parse error at line L, column C: "
// prefix and without the "last read: '...'" token, which we replace by a short excerpt.
std::string describe(const std::string& what) {
  std::string d = what;
  if (const auto c = d.find("column "); c != std::string::npos)
    if (const auto colon = d.find(": ", c); colon != std::string::npos) d = d.substr(colon + 2);
  if (const auto lr = d.find("; last read: "); lr != std::string::npos) d = d.substr(0, lr);
  if (d.rfind("[json.exception", 0) == 0)
    if (const auto sp = d.find("] "); sp != std::string::npos) d = d.substr(sp + 2);
  return d;
}

}  // namespace

json parse_json_strict(std::string_view text, const std::string& source, const char* what) {
  StrictBuilder b;
  const bool ok = json::sax_parse(text.begin(), text.end(), &b);
  const std::size_t error_pos = b.error_pos;
  const int error_id = b.error_id;
  const std::string& error_what = b.error_what;
  if (ok) return std::move(b.root);
  if (!b.error.empty()) throw Error(cat(source, ": ", what, ": ", b.error));
  const auto [line, col] = line_column(text, error_pos > 0 ? error_pos - 1 : 0);
  // The offending text: the token nlohmann stopped in, up to where it stopped, cut short.
  const std::size_t stop = std::min(error_pos, text.size());
  std::size_t start = stop > 0 ? stop - 1 : 0;
  while (start > 0 && stop - start < 64 &&
         std::string_view(" \t\r\n,:[{").find(text[start - 1]) == std::string_view::npos)
    --start;
  const std::string near = excerpt(text.substr(start, stop - start), 32);
  if (error_id == 406)  // out_of_range: number overflow
    throw Error(cat(source, ":", line, ":", col, ": ", what, ": the number ", near,
                    " overflows a double (largest about 1.8e308)", b.where()));
  throw Error(cat(source, ":", line, ":", col, ": ", what,
                  " is not valid JSON: ", excerpt(describe(error_what), 120),
                  near.empty() ? std::string() : cat(" near '", near, "'"), b.where()));
}

std::string json_excerpt(const nlohmann::json& v) {
  return excerpt(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), 40);
}

}  // namespace diffuser::attention::detail
