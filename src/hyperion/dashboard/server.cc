#include "hyperion/dashboard/server.h"

#include <httplib.h>
#include <signal.h>

#include <cstdio>
#include <random>

#include "hyperion/dashboard/api.h"
#include "hyperion/dashboard/assets.h"

namespace hyperion::dashboard {
namespace {

constexpr const char* kJson = "application/json; charset=utf-8";
// Only the bundled script and style run; data never becomes markup, and this stops it should a bug let some
// through. Styles may be inline because the chart libraries set element styles.
constexpr const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// Compares without stopping at the first difference, so response times do not reveal the token.
bool SameSecret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string CookieToken(const httplib::Request& req) {
  std::string cookies = req.get_header_value("Cookie");
  const std::string key = "hyperion_token=";
  for (size_t at = cookies.find(key); at != std::string::npos; at = cookies.find(key, at + 1)) {
    if (at == 0 || cookies[at - 1] == ' ' || cookies[at - 1] == ';') {
      size_t end = cookies.find(';', at);
      return cookies.substr(at + key.size(),
                            end == std::string::npos ? std::string::npos : end - at - key.size());
    }
  }
  return "";
}

std::string BearerToken(const httplib::Request& req) {
  std::string header = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  return header.rfind(prefix, 0) == 0 ? header.substr(prefix.size()) : "";
}

// The Host header without its port: "127.0.0.1", "localhost", "[::1]".
std::string HostName(const httplib::Request& req) {
  std::string host = req.get_header_value("Host");
  if (!host.empty() && host[0] == '[') return host.substr(0, host.find(']') + 1);
  return host.substr(0, host.find(':'));
}

void SendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(DumpJson(body), kJson);
}

}  // namespace

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::string ResolveToken(const std::string& host, const std::string& given) {
  if (!given.empty() || IsLoopback(host)) return given;
  std::random_device device;
  std::string token;
  for (int i = 0; i < 4; ++i) {
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(device()));
    token += hex;
  }
  return token;
}

DashboardServer::DashboardServer(ServerOptions options) : options_(std::move(options)) {}

DashboardServer::~DashboardServer() { Stop(); }

Status DashboardServer::Start() {
  if (!IsLoopback(options_.host) && options_.token.empty()) {
    return InvalidArgumentError("serving on " + options_.host +
                                " (not a loopback address) needs a token; give one with --token or let "
                                "`hyperion ui` make one");
  }
  server_ = std::make_unique<httplib::Server>();
  auto api = std::make_shared<Api>(options_.storage_url);
  const std::string token = options_.token;
  const bool loopback = IsLoopback(options_.host);
  // Long polls hold a thread each; enough threads that a few open tabs never starve the other requests.
  server_->new_task_queue = [] { return new httplib::ThreadPool(32); };
  server_->set_keep_alive_timeout(2);
  server_->set_default_headers({{"Content-Security-Policy", kPolicy},
                                {"X-Content-Type-Options", "nosniff"},
                                {"X-Frame-Options", "DENY"},
                                {"Referrer-Policy", "no-referrer"}});

  // Which requests carry the token. An action (POST) must carry it in the Authorization header, which another
  // site's page cannot add; reads may also carry it in the cookie the page got with it, or in ?token=.
  auto authorized = [token](const httplib::Request& req) {
    if (token.empty()) return false;
    if (SameSecret(BearerToken(req), token)) return true;
    if (req.method == "POST") return false;
    return SameSecret(CookieToken(req), token) || SameSecret(req.get_param_value("token"), token);
  };

  server_->set_pre_routing_handler([=](const httplib::Request& req, httplib::Response& res) {
    if (loopback && !IsLoopback(HostName(req))) {
      SendJson(res, 403, Json{{"error", "this dashboard answers only requests for 127.0.0.1 or localhost"}});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!loopback && !authorized(req)) {
      SendJson(res, 401,
               Json{{"error",
                     "this dashboard needs its token: open the URL `hyperion ui` printed, or send "
                     "'Authorization: Bearer TOKEN'"}});
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  auto handle_api = [api, authorized](const httplib::Request& req, httplib::Response& res) {
    ApiRequest request{req.method, req.path, {}, req.body, authorized(req)};
    for (const auto& [key, value] : req.params) request.query.emplace(key, value);
    request.query.erase("token");
    ApiResponse response = api->Handle(request);
    SendJson(res, response.status, response.body);
  };
  server_->Get(R"(/api/.*)", handle_api);
  server_->Post(R"(/api/.*)", handle_api);

  auto serve_asset = [token](const httplib::Request& req, httplib::Response& res) {
    const Asset* asset = FindAsset(req.path == "/" ? "/index.html" : req.path);
    if (!asset) {
      SendJson(res, 404, Json{{"error", "no such page: " + req.path}});
      return;
    }
    // The page's own requests for its script and style carry no header; a cookie set with the token lets
    // them through on a non-loopback address. HttpOnly: the page's script never reads it.
    if (!token.empty() && SameSecret(req.get_param_value("token"), token)) {
      res.set_header("Set-Cookie", "hyperion_token=" + token + "; Path=/; HttpOnly; SameSite=Strict");
    }
    res.set_header("Vary", "Accept-Encoding");
    if (!asset->gzip.empty() && req.get_header_value("Accept-Encoding").find("gzip") != std::string::npos) {
      res.set_header("Content-Encoding", "gzip");
      res.set_content(std::string(asset->gzip), std::string(asset->content_type));
      return;
    }
    res.set_content(std::string(asset->data), std::string(asset->content_type));
  };
  server_->Get("/", serve_asset);
  server_->Get(R"(/assets/.*)", serve_asset);

  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
    if (port_ <= 0) return UnavailableError("cannot listen on " + options_.host + ": no free port");
  } else {
    if (!server_->bind_to_port(options_.host, options_.port))
      return UnavailableError("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                              " (in use, or not an address of this machine); choose another with --port");
    port_ = options_.port;
  }
  thread_ = std::thread([server = server_.get()] {
    // Signals go to the thread that waits for them (`hyperion ui`) or to the orchestrator's handlers, never
    // to the server's threads; its worker threads, started from this one, inherit the mask.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    server->listen_after_bind();
  });
  return Status::Ok();
}

void DashboardServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string DashboardServer::Url() const {
  std::string host = options_.host.find(':') != std::string::npos && options_.host[0] != '['
                         ? "[" + options_.host + "]"
                         : options_.host;
  std::string url = "http://" + host + ":" + std::to_string(port_) + "/";
  if (!options_.token.empty()) url += "?token=" + options_.token;
  return url;
}

}  // namespace hyperion::dashboard
