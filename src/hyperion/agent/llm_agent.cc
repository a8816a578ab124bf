#include "hyperion/agent/llm_agent.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <set>

#include "hyperion/agent/analyst.h"
#include "hyperion/agent/llm_prompt.h"
#include "hyperion/agent/llm_reply.h"
#include "hyperion/common/text.h"
#include "hyperion/net/http_client.h"

namespace hyperion {
namespace {

constexpr size_t kReplyChars = 16000;  // raw reply text kept in an exchange

// What one question to the server came to, before its decisions are read.
struct Answer {
  std::string status;   // ok, http_error, timeout, malformed, refused
  std::string content;  // the assistant's text, when ok
  std::string why;      // for the fallback's reason, when not ok
};

std::string Capped(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  return text.substr(0, limit) + "... (" + std::to_string(text.size() - limit) + " more characters)";
}

// The message of an OpenAI-style error body ({"error": {"message": ...}}), or the body's start.
std::string ServerMessage(const std::string& body) {
  auto parsed = ParseJson(body, "error body");
  if (parsed.ok() && parsed->is_object()) {
    const Json& error = parsed->value("error", Json());
    if (error.is_object() && error.value("message", Json()).is_string())
      return error["message"].get<std::string>();
    if (error.is_string()) return error.get<std::string>();
    if (parsed->value("detail", Json()).is_string()) return (*parsed)["detail"].get<std::string>();
  }
  return Capped(body, 200);
}

// A 400 that is about response_format: the server does not take the format we sent.
bool AboutResponseFormat(const std::string& body) {
  std::string lower = body;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* word : {"response_format", "json_schema", "json_object", "schema", "guided"})
    if (lower.find(word) != std::string::npos) return true;
  return false;
}

// Replaces every occurrence of `secret` in `text`, or in the strings of `value`: a server that echoes its
// request (headers included) into an error or a reply must not get the key into the trace.
void Redact(std::string& text, const std::string& secret) {
  if (secret.size() < 4) return;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at))
    text.replace(at, secret.size(), "[key]");
}

void Redact(Json& value, const std::string& secret) {
  if (value.is_string()) {
    Redact(value.get_ref<std::string&>(), secret);
  } else if (value.is_structured()) {
    for (auto& child : value) Redact(child, secret);
  }
}

class LlmAgent : public Agent {
 public:
  explicit LlmAgent(const ExperimentConfig& config)
      : llm_(config.llm),
        schema_(LlmReplySchema(config.space, config.training.enabled())),
        decider_(config),
        fallback_(config),
        format_(config.llm.response_format == "auto" ? "json_schema" : config.llm.response_format) {}

  std::string Name() const override { return "llm"; }
  bool Slow() const override { return true; }
  Agent* Fallback() override { return &fallback_; }
  double FallbackAfter() const override { return llm_.wait; }
  void Cancel() override { cancelled_ = true; }
  // Frontier() is called on the loop thread, like Fallback(): it asks the loop thread's analyst.
  std::set<int64_t> Frontier(const AgentContext& context) const override {
    return fallback_.Frontier(context);
  }
  AgentReply Decide(const AgentContext& context) override;

 private:
  // Sends `messages` once (more when the server refuses the response format and auto may step down), adding
  // one exchange per HTTP call.
  Answer Ask(const Json& messages, const std::string& key, std::vector<Json>& exchanges);
  Json RequestBody(const Json& messages) const;
  Answer ReadBody(const std::string& body, Json& exchange) const;
  AgentReply FallBack(const AgentContext& context, const std::string& why, std::vector<Json> exchanges);
  // Reads one ok answer (the last exchange): its accepted decisions join `accepted`; with rejected ones and
  // proposals still wanted, the reasons are added to `messages` for a retry. `why` says what went wrong.
  enum class Verdict { kDone, kRetry, kGiveUp };
  Verdict Take(const Answer& answer, const AgentContext& context, int wanted, std::vector<Json>& exchanges,
               CheckedReply& accepted, Json& messages, std::string& why) const;

  // Constant after construction.
  const LlmConfig llm_;
  const Json schema_;
  // Used by Decide() only, on the worker thread: the insight in the prompt and the fallback decisions.
  Analyst decider_;
  // Used on the loop thread only (Fallback, Frontier).
  Analyst fallback_;
  // The response format the server takes, learnt by stepping down from json_schema; Decide() only.
  std::string format_;
  // Set by Cancel() from the loop thread when the run stops; ends the call in flight.
  std::atomic<bool> cancelled_{false};
};

Json LlmAgent::RequestBody(const Json& messages) const {
  Json body = {{"model", llm_.model}, {"messages", messages}, {"temperature", llm_.temperature}};
  if (llm_.max_tokens) body["max_tokens"] = *llm_.max_tokens;
  if (format_ == "json_schema") {
    body["response_format"] = {{"type", "json_schema"},
                               {"json_schema", {{"name", "hyperion_decisions"}, {"schema", schema_}}}};
  } else if (format_ == "json_object") {
    body["response_format"] = {{"type", "json_object"}};
  }
  return body;
}

Answer LlmAgent::ReadBody(const std::string& body, Json& exchange) const {
  auto parsed = ParseJson(body, "the LLM server's reply");
  if (!parsed.ok() || !parsed->is_object())
    return {"malformed", "", "the LLM server's reply is not a JSON object: " + Capped(body, 80)};
  if (parsed->value("usage", Json()).is_object()) {
    const Json& usage = (*parsed)["usage"];
    exchange["prompt_tokens"] = usage.value("prompt_tokens", Json());
    exchange["completion_tokens"] = usage.value("completion_tokens", Json());
  }
  const Json& choices = parsed->value("choices", Json());
  if (!choices.is_array() || choices.empty() || !choices[0].is_object())
    return {"malformed", "", "the LLM server's reply has no choices"};
  const Json& message = choices[0].value("message", Json::object());
  const std::string finish = choices[0].value("finish_reason", Json()).is_string()
                                 ? choices[0]["finish_reason"].get<std::string>()
                                 : std::string();
  if (message.value("refusal", Json()).is_string())
    return {"refused", "", "the LLM refused: " + Capped(message["refusal"].get<std::string>(), 160)};
  std::string content =
      message.value("content", Json()).is_string() ? message["content"].get<std::string>() : std::string();
  exchange["reply"] = Capped(content, kReplyChars);
  if (content.find_first_not_of(" \t\n") == std::string::npos) {
    if (finish == "content_filter")
      return {"refused", "", "the LLM's reply was withheld by its content filter"};
    return {"malformed", "",
            finish == "length" ? "the LLM reply was cut off at max_tokens" : "the LLM reply is empty"};
  }
  return {"ok", content, ""};
}

Answer LlmAgent::Ask(const Json& messages, const std::string& key, std::vector<Json>& exchanges) {
  HttpRequest request;
  request.url = llm_.endpoint + "/chat/completions";
  request.timeout = llm_.timeout;
  request.cancel = &cancelled_;
  if (!llm_.api_key_env.empty()) {
    if (key.empty()) {
      return {"http_error", "",
              "the environment variable " + llm_.api_key_env + " (llm.api_key_env) is not set"};
    }
    request.headers.emplace_back("Authorization", "Bearer " + key);
  }
  for (;;) {
    request.body = DumpJson(RequestBody(messages));
    Json exchange = {{"model", llm_.model},
                     {"endpoint", llm_.endpoint},
                     {"attempt", static_cast<int>(exchanges.size()) + 1},
                     {"response_format", format_},
                     {"messages", messages},
                     {"reply", ""},
                     {"prompt_tokens", nullptr},
                     {"completion_tokens", nullptr},
                     {"latency_s", 0.0},
                     {"http_status", nullptr},
                     {"status", ""},
                     {"error", ""}};
    const auto start = std::chrono::steady_clock::now();
    auto response = SendJson(request);
    exchange["latency_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Answer answer;
    if (!response.ok()) {
      const bool timeout = response.status().code() == StatusCode::kDeadlineExceeded;
      answer = {timeout ? "timeout" : "http_error", "",
                timeout ? "no reply from the LLM within " + FormatDuration(llm_.timeout)
                        : response.status().message()};
    } else if (response->status < 200 || response->status >= 300) {
      exchange["http_status"] = response->status;
      exchange["reply"] = Capped(response->body, kReplyChars);
      const std::string message = ServerMessage(response->body);
      answer = {"http_error", "",
                "the LLM server answered HTTP " + std::to_string(response->status) + ": " + message};
      if (response->status == 400 && llm_.response_format == "auto" && format_ != "none" &&
          AboutResponseFormat(response->body)) {
        format_ = format_ == "json_schema" ? "json_object" : "none";
        exchange["status"] = answer.status;
        exchange["error"] = answer.why + "; asking again with response_format " + format_;
        exchanges.push_back(std::move(exchange));
        continue;
      }
    } else {
      exchange["http_status"] = response->status;
      answer = ReadBody(response->body, exchange);
    }
    exchange["status"] = answer.status;
    exchange["error"] = answer.why;
    exchanges.push_back(std::move(exchange));
    return answer;
  }
}

AgentReply LlmAgent::FallBack(const AgentContext& context, const std::string& why,
                              std::vector<Json> exchanges) {
  AgentReply reply = decider_.Decide(context);
  reply.decided_by = "analyst (fallback: " + why + ")";
  reply.exchanges = std::move(exchanges);
  return reply;
}

LlmAgent::Verdict LlmAgent::Take(const Answer& answer, const AgentContext& context, int wanted,
                                 std::vector<Json>& exchanges, CheckedReply& accepted, Json& messages,
                                 std::string& why) const {
  Json& exchange = exchanges.back();
  auto give_up = [&](const char* status, const std::string& reason) {
    exchange["status"] = status;
    exchange["error"] = why = reason;
    return Verdict::kGiveUp;
  };
  auto object = ExtractReplyJson(answer.content);
  if (!object.ok()) {
    if (LooksLikeRefusal(answer.content))
      return give_up("refused", "the LLM refused: " + Capped(answer.content, 160));
    return give_up("malformed", object.status().message());
  }
  const ReplySource source{llm_.model, static_cast<int>(exchanges.size()) - 1};
  auto checked = CheckReply(*object, context, source, wanted, accepted.proposals);
  if (!checked.ok()) return give_up("malformed", checked.status().message());
  if (checked->decisions == 0) return give_up("refused", "the LLM reply made no decision");

  for (auto& p : checked->proposals) accepted.proposals.push_back(std::move(p));
  for (auto& p : checked->prunes) {
    // A retry may repeat a prune the first reply already made.
    bool known = std::any_of(accepted.prunes.begin(), accepted.prunes.end(),
                             [&](const PruneDecision& q) { return q.trial_id == p.trial_id; });
    if (!known) accepted.prunes.push_back(std::move(p));
  }
  if (!accepted.stop) accepted.stop = checked->stop;
  for (int64_t id : checked->acknowledged_notes) {
    if (std::find(accepted.acknowledged_notes.begin(), accepted.acknowledged_notes.end(), id) ==
        accepted.acknowledged_notes.end())
      accepted.acknowledged_notes.push_back(id);
  }
  if (!checked->ignored.empty()) exchange["ignored"] = checked->ignored;
  if (checked->rejected.empty()) return Verdict::kDone;

  exchange["status"] = "invalid";
  exchange["error"] = JoinStrings(checked->rejected, "; ");
  why = "every decision of the LLM was rejected: " + JoinStrings(checked->rejected, "; ");
  const int accepted_now =
      static_cast<int>(checked->proposals.size() + checked->prunes.size()) + (checked->stop ? 1 : 0);
  const int still_wanted = wanted - static_cast<int>(accepted.proposals.size());
  if (still_wanted <= 0 && accepted_now > 0) return Verdict::kDone;  // a fix would add nothing asked for
  messages.push_back(Json{{"role", "assistant"}, {"content", answer.content}});
  messages.push_back(
      Json{{"role", "user"}, {"content", RetryMessage(checked->rejected, accepted_now, still_wanted)}});
  return Verdict::kRetry;
}

AgentReply LlmAgent::Decide(const AgentContext& context) {
  const int wanted = std::max(1, context.free_slots);
  // Read at call time and held only for this decision: never stored, logged or put in an exchange.
  const char* env_key = llm_.api_key_env.empty() ? nullptr : std::getenv(llm_.api_key_env.c_str());
  const std::string key = env_key ? env_key : "";
  const Insight insight = decider_.Analyse(context, std::max(3, wanted));
  Json messages = BuildLlmMessages(context, insight, wanted);
  std::vector<Json> exchanges;
  CheckedReply accepted;
  std::string why;  // why the last reply was not used as a whole
  for (int attempt = 0; attempt <= llm_.retries; ++attempt) {
    Answer answer = Ask(messages, key, exchanges);
    if (answer.status != "ok") {
      why = answer.why;
      break;
    }
    if (Take(answer, context, wanted, exchanges, accepted, messages, why) != Verdict::kRetry) break;
  }

  for (auto& e : exchanges) Redact(e, key);
  Redact(why, key);
  for (auto& p : accepted.proposals) {
    Redact(p.rationale, key);
    Redact(p.evidence, key);
  }
  for (auto& p : accepted.prunes) Redact(p.rationale, key);
  if (accepted.stop) Redact(accepted.stop->rationale, key);
  if (accepted.proposals.empty() && accepted.prunes.empty() && !accepted.stop) {
    return FallBack(context, why.empty() ? "the LLM made no decision" : why, std::move(exchanges));
  }
  AgentReply reply;
  reply.proposals = std::move(accepted.proposals);
  reply.prunes = std::move(accepted.prunes);
  reply.stop = std::move(accepted.stop);
  reply.acknowledged_notes = std::move(accepted.acknowledged_notes);
  reply.exchanges = std::move(exchanges);
  if (reply.proposals.empty() && !reply.stop) reply.wait_reason = "LLM " + llm_.model + " proposed no trial";
  return reply;
}

}  // namespace

Result<std::unique_ptr<Agent>> MakeLlmAgent(const ExperimentConfig& config) {
  if (!config.llm.enabled())
    return InvalidArgumentError("strategy llm needs an llm: section with endpoint and model");
  if (!config.llm.api_key_env.empty()) {
    const char* key = std::getenv(config.llm.api_key_env.c_str());
    if (!key || !*key) {
      return InvalidArgumentError("llm.api_key_env names " + config.llm.api_key_env +
                                  ", which is not set in this environment; export it before the run");
    }
  }
  return std::unique_ptr<Agent>(new LlmAgent(config));
}

}  // namespace hyperion
