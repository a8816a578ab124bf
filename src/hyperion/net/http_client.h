// A small HTTP client for the LLM agent and the trackers: one JSON request (POST with a body, or GET), with
// headers and a total time limit, over libcurl. It is the only place Hyperion calls libcurl; nothing of
// libcurl (or an exception) crosses it.
//
// Any HTTP status is a reply, not an error: the caller decides what a 400 or a 503 means. Errors are the
// cases where no reply came: kDeadlineExceeded when the time limit passed ("no reply from URL within 5s"),
// kUnavailable when the server could not be reached (connection refused, unknown host, reset),
// kInvalidArgument for a malformed URL, kCancelled when request.cancel became true. Messages never hold the
// request's headers, so a key sent in one is never repeated.
//
// Thread-safe: each call uses its own handle; the library is initialised once. A call blocks its thread for
// at most the time limit (plus the time to resolve the host name, which libcurl's threaded resolver bounds
// too).
#pragma once

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "hyperion/common/status.h"

namespace hyperion {

struct HttpRequest {
  std::string method = "POST";  // POST or GET (GET sends no body)
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as "Name: value"
  std::string body;                                          // sent as application/json
  double timeout = 60;                                       // seconds for the whole exchange
  // When set and it becomes true (from any thread), the call ends within about a second: kCancelled.
  const std::atomic<bool>* cancel = nullptr;
};

struct HttpResponse {
  long status = 0;  // NOLINT(google-runtime-int): libcurl's type
  std::string body;
  double seconds = 0;  // from sending the request to the last byte of the reply
};

// Sends request.body to request.url with Content-Type: application/json (POST), or GETs request.url.
Result<HttpResponse> SendJson(const HttpRequest& request);

}  // namespace hyperion
