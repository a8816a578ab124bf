// The dashboard's HTTP server: the JSON API (api.h) under /api/ and the front end (web/, built into the
// binary by assets.h) at /, for `hyperion ui` and `hyperion run --ui PORT`.
//
// Safe by default (docs/dashboard.md): it binds 127.0.0.1 unless told otherwise, and binding any other
// address needs a token that every request must then carry. Without the token the dashboard is read-only:
// actions (a note for the agent) need it, sent as "Authorization: Bearer TOKEN". Every response says what it
// is (JSON as application/json) and forbids the browser to run anything but the bundled script (a
// Content-Security-Policy), and on a loopback address requests naming another host are refused (DNS
// rebinding).
//
// Threading: Start() and Stop() from one thread; requests are answered on the server's own threads, each
// with its own storage connection (api.h).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "hyperion/common/status.h"

namespace httplib {
class Server;
}

namespace hyperion::dashboard {

struct ServerOptions {
  std::string storage_url;
  std::string host = "127.0.0.1";
  int port = 8080;    // 0: any free port (tests)
  std::string token;  // empty: no token (allowed on loopback only: read-only)
};

// True for 127.0.0.0/8, ::1 and localhost.
bool IsLoopback(const std::string& host);

// The token a server on `host` uses: `given` when set; on a non-loopback address without one, a new random
// token (32 hex digits) the caller prints; else none (empty).
std::string ResolveToken(const std::string& host, const std::string& given);

class DashboardServer {
 public:
  // Precondition: options.token is set when options.host is not a loopback address (ResolveToken).
  explicit DashboardServer(ServerOptions options);
  ~DashboardServer();  // stops

  // Binds and starts answering on a thread of its own. kInvalidArgument for a non-loopback host without a
  // token; kUnavailable when the address cannot be bound (in use, not this machine's).
  Status Start();
  void Stop();

  int port() const { return port_; }
  // The address to open, with the token when there is one: "http://127.0.0.1:8080/?token=...".
  std::string Url() const;

 private:
  const ServerOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace hyperion::dashboard
