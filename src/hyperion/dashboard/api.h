// The dashboard's JSON API (docs/api.md): one function from a request to a response, with no HTTP in it, so
// that the server (server.h) stays a thin adapter and tests call the API directly.
//
// Each Handle() opens its own read connection to the storage and closes it before returning: a Storage is
// single-threaded (storage.h), the server answers on several threads, and a fresh connection always sees what
// the running orchestrator wrote last. The only writes are the actions (a note for the agent, a stop request
// for a trial); they are refused unless the request was authorised (the server decides that from the token).
// Thread-safe: Api holds only constants after construction.
#pragma once

#include <map>
#include <string>

#include "hyperion/common/json.h"

namespace hyperion::dashboard {

struct ApiRequest {
  std::string method;  // "GET" or "POST"
  std::string path;    // "/api/experiments/1/trials", without the query string
  std::map<std::string, std::string> query;
  std::string body;         // POST: a JSON object
  bool authorized = false;  // it carried the server's token
};

struct ApiResponse {
  int status = 200;
  Json body = Json::object();  // errors: {"error": "what went wrong and how to fix it"}
};

class Api {
 public:
  // `storage_url` as `hyperion ui --storage` takes it. `long_poll_limit` caps the wait of /events calls.
  explicit Api(std::string storage_url, double long_poll_limit = 25);

  ApiResponse Handle(const ApiRequest& request) const;

 private:
  const std::string storage_url_;
  const double long_poll_limit_;
};

}  // namespace hyperion::dashboard
