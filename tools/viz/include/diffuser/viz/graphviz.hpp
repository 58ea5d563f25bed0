// Node-link drawings of small token graphs through GraphViz: diffuser writes the DOT (tokens on
// a circle in sequence order by default, coloured by in-degree) and runs `neato`/`dot` when
// installed; without GraphViz the DOT file itself is the output.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <diffuser/engine/csr.hpp>
#include <diffuser/viz/canvas.hpp>

namespace diffuser::viz {

inline constexpr std::int64_t kMaxNodeLink = 256;

enum class Layout { circle, neato, dot };
Layout parse_layout(const std::string& name);  // UsageError naming the value

// The DOT text (edges src -> dst, self loops left out and counted in the label).
std::string node_link_dot(const Csr& g, const std::string& title, Layout layout);

// Renders `dot_text` to `out` (.svg, .png or .pdf) with GraphViz, atomically. Returns false (writing
// nothing) when the GraphViz program is not installed; throws Error when it fails.
bool render_graphviz(const std::string& dot_text, Layout layout, const std::filesystem::path& out);
// The same drawing as the bytes of a .png, .svg or .pdf file; nullopt when GraphViz is missing.
std::optional<std::string> render_graphviz_bytes(const std::string& dot_text, Layout layout, Format format);

}  // namespace diffuser::viz
