// The CLI's shared pieces: JSON text with NaN and Inf replaced by null and noted.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "../tools/diffuser/json_out.hpp"

using namespace diffuser;

TEST_CASE("JSON text never holds NaN or Inf: they become null with a note", "[cpu][tools]") {
  cli::Json j;
  j["ok"] = 1.5;
  j["rows"] = cli::Json::array({cli::Json{{"ms", std::numeric_limits<double>::quiet_NaN()}},
                                cli::Json{{"ms", 2.0}, {"err", -std::numeric_limits<double>::infinity()}}});
  const std::string text = cli::dump_json(j);
  const auto back = nlohmann::json::parse(text);
  CHECK((back["ok"] == 1.5));
  CHECK(back["rows"][0]["ms"].is_null());
  CHECK(back["rows"][1]["err"].is_null());
  CHECK((back["rows"][1]["ms"] == 2.0));
  REQUIRE(back["notes"].size() == 2);
  CHECK((back["notes"][0] == "rows[0].ms: NaN written as null"));
  CHECK((back["notes"][1] == "rows[1].err: -Inf written as null"));
  CHECK(cli::dump_json(cli::Json{{"a", 1}}) == "{\"a\":1}");  // one line, no notes when clean
}
