// The front end's built files (web/, bundled by esbuild at build time), embedded in the binary so that an
// installed `hyperion` serves the dashboard with no asset folder and no network. Values only; any thread.
#pragma once

#include <string_view>

namespace hyperion::dashboard {

struct Asset {
  std::string_view path;          // "/index.html", "/assets/app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view data;
  std::string_view gzip;  // `data` gzipped at build time, for clients that accept it; empty when not made
};

// The asset served at `path`, or nullptr.
const Asset* FindAsset(std::string_view path);

}  // namespace hyperion::dashboard
