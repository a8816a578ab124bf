#include "hyperion/net/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>

#include "hyperion/common/text.h"

namespace hyperion {
namespace {

// curl_global_init is not thread-safe in the libcurl Debian ships (7.88), so it runs once, before any handle.
void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendBody(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// libcurl calls this about once a second and on every transfer step; non-zero aborts the transfer.
int CheckCancel(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* flag = static_cast<const std::atomic<bool>*>(cancel);
  return flag && flag->load() ? 1 : 0;
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

Status TransferError(CURLcode code, const HttpRequest& request, const char* detail) {
  const std::string what = detail[0] != '\0' ? detail : curl_easy_strerror(code);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Status(StatusCode::kDeadlineExceeded,
                    "no reply from " + request.url + " within " + FormatDuration(request.timeout));
    case CURLE_ABORTED_BY_CALLBACK:
      return Status(StatusCode::kCancelled, "the call to " + request.url + " was cancelled");
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return InvalidArgumentError("cannot " + request.method + " '" + request.url + "': " + what);
    default:
      // Refused, unknown host, reset, TLS: the same call may work once the server is back.
      return UnavailableError("cannot reach " + request.url + ": " + what);
  }
}

}  // namespace

Result<HttpResponse> SendJson(const HttpRequest& request) {
  if (request.method != "POST" && request.method != "GET")
    return InvalidArgumentError("unsupported HTTP method '" + request.method + "'");
  InitCurlOnce();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return InternalError("libcurl could not create a handle");
  curl_slist* raw_headers = curl_slist_append(nullptr, "Content-Type: application/json");
  raw_headers = curl_slist_append(raw_headers, "Accept: application/json");
  // An empty Expect stops libcurl from waiting for "100 Continue" before large bodies; some servers never
  // send it and each call would lose a second.
  raw_headers = curl_slist_append(raw_headers, "Expect:");
  for (const auto& [name, value] : request.headers)
    raw_headers = curl_slist_append(raw_headers, (name + ": " + value).c_str());
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw_headers);

  HttpResponse response;
  char error[CURL_ERROR_SIZE] = {0};
  const long timeout_ms = std::max(1L, static_cast<long>(request.timeout * 1000));  // NOLINT
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  if (request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 10000L));
  // Signals would interrupt other threads of the orchestrator; the threaded resolver needs none.
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "hyperion");
  if (request.cancel) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, CheckCancel);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(request.cancel));
  }

  const auto start = std::chrono::steady_clock::now();
  CURLcode code = curl_easy_perform(c);
  response.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (code != CURLE_OK) return TransferError(code, request, error);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace hyperion
