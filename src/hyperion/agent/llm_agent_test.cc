// The LLM agent against the stand-in server (tests/e2e/fixtures/llm_standin.py), started as a real process on
// loopback: good replies, every failure kind, retries with the reasons fed back, and what is stored.
#include "hyperion/agent/llm_agent.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hyperion/agent/llm_testing.h"

extern char** environ;

namespace hyperion {
namespace {

namespace fs = std::filesystem;
using testing::LlmConfigText;
using testing::LlmFixture;

constexpr const char* kKey = "sk-standin-secret-4711";
// The space of testing::LlmConfigText as the stand-in reads it; the optimizer is always its first choice,
// sgd.
constexpr const char* kSpace = R"({"lr": {"low": 0.0001, "high": 1}, "batch": {"type": "int", "low": 16,
    "high": 256}, "optimizer": {"choices": ["sgd", "adam"]}, "momentum": {"low": 0, "high": 0.99},
    "width": {"low": 0, "high": 1, "step": 0.25}})";

// The stand-in server as a child process; stopped (SIGTERM to its pid) when the object goes.
class StandIn {
 public:
  // `script`: the JSON list of modes, one per request, cycled. `key`: the bearer key it expects ("" for
  // none).
  // `space`: the parameters its proposals draw from (--space); empty: read from the request's JSON schema.
  explicit StandIn(const std::string& script, const std::string& key = "", const std::string& space = "",
                   double slow_seconds = 30) {
    dir_ = fs::temp_directory_path() /
           ("llm-standin-" + std::to_string(getpid()) + "-" + std::to_string(++count_));
    fs::create_directories(dir_);
    record_ = (dir_ / "requests.jsonl").string();
    std::vector<std::string> args = {
        HYPERION_TEST_PYTHON, HYPERION_LLM_STANDIN,        "--script", script, "--record", record_,
        "--slow-seconds",     std::to_string(slow_seconds)};
    if (!key.empty()) args.insert(args.end(), {"--key", key});
    if (!space.empty()) args.insert(args.end(), {"--space", space});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (pipe(out) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = 0;
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    // The first line of its stdout is the port.
    FILE* stream = fdopen(out[0], "r");
    char line[64] = {0};
    if (stream && std::fgets(line, sizeof line, stream)) port_ = std::atoi(line);
    if (stream) std::fclose(stream);
  }
  ~StandIn() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  // The requests it received, oldest first.
  std::vector<Json> Requests() const {
    std::vector<Json> out;
    std::ifstream in(record_);
    for (std::string line; std::getline(in, line);) out.push_back(Json::parse(line));
    return out;
  }
  std::string RecordText() const {
    std::ifstream in(record_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  static inline int count_ = 0;
  fs::path dir_;
  std::string record_;
  pid_t pid_ = 0;
  int port_ = 0;
};

ExperimentConfig Config(const std::string& endpoint, const std::string& extra = "") {
  auto config = ParseConfig(LlmConfigText("{endpoint: " + endpoint + ", model: test-model" + extra + "}"),
                            "/tmp/llm.yaml");
  EXPECT_TRUE(config.ok()) << config.status().message();
  return *config;
}

std::unique_ptr<Agent> Make(const ExperimentConfig& config) {
  auto agent = MakeLlmAgent(config);
  EXPECT_TRUE(agent.ok()) << agent.status().message();
  return agent.ok() ? std::move(agent).value() : nullptr;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// The last message the request sent.
std::string LastMessage(const Json& request) { return request["body"]["messages"].back()["content"]; }

class LlmAgentTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("HYPERION_TEST_LLM_KEY", kKey, 1); }
  void TearDown() override { unsetenv("HYPERION_TEST_LLM_KEY"); }

  // Runs one decision against a stand-in with `script`; free slots 1.
  AgentReply DecideWith(const std::string& script, const std::string& extra = "", int free_slots = 1) {
    server_ = std::make_unique<StandIn>(script, "", kSpace);
    EXPECT_GT(server_->port(), 0);
    fixture_ = std::make_unique<LlmFixture>(Config(server_->endpoint(), extra));
    agent_ = Make(fixture_->config);
    return agent_->Decide(fixture_->Context(free_slots));
  }

  // A fallback reply: the analyst decided, with the LLM's exchange recorded under `status`.
  void ExpectFallback(const AgentReply& reply, const std::string& status, const std::string& why) {
    EXPECT_EQ(reply.decided_by.rfind("analyst (fallback: ", 0), 0u) << reply.decided_by;
    EXPECT_NE(reply.decided_by.find(why), std::string::npos) << reply.decided_by;
    ASSERT_FALSE(reply.exchanges.empty());
    EXPECT_EQ(reply.exchanges.back()["status"], status) << DumpJson(reply.exchanges.back());
    ASSERT_FALSE(reply.proposals.empty()) << "the analyst fills the free slot";
    for (const auto& p : reply.proposals) {
      EXPECT_TRUE(fixture_->config.space.Validate(p.params).ok());
      EXPECT_EQ(p.rationale.rfind("LLM ", 0), std::string::npos) << "the LLM did not decide this";
    }
  }

  std::unique_ptr<StandIn> server_;
  std::unique_ptr<LlmFixture> fixture_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(LlmAgentTest, AGoodReplyGivesValidatedProposalsAndOneExchange) {
  // No --space: the stand-in reads bounds, steps and choices from the JSON schema the agent sends.
  server_ = std::make_unique<StandIn>(R"(["good"])", kKey);
  ASSERT_GT(server_->port(), 0);
  LlmFixture f(Config(server_->endpoint(), ", api_key_env: HYPERION_TEST_LLM_KEY"));
  auto agent = Make(f.config);
  EXPECT_EQ(agent->Name(), "llm");
  EXPECT_TRUE(agent->Slow());
  ASSERT_NE(agent->Fallback(), nullptr);
  EXPECT_NE(agent->Fallback(), agent.get());

  AgentReply reply = agent->Decide(f.Context(1));
  EXPECT_EQ(reply.decided_by, "");
  ASSERT_EQ(reply.proposals.size(), 1u);
  const Proposal& p = reply.proposals[0];
  EXPECT_TRUE(f.config.space.Validate(p.params).ok()) << p.params.dump();
  EXPECT_EQ(p.op, "model");
  EXPECT_EQ(p.rationale, "LLM test-model: stand-in proposal 0");
  EXPECT_EQ(p.evidence["standin_request"], 0);
  EXPECT_EQ(p.evidence["llm"], Json({{"model", "test-model"}, {"exchange", 0}, {"decision", 1}}));

  ASSERT_EQ(reply.exchanges.size(), 1u);
  const Json& e = reply.exchanges[0];
  EXPECT_EQ(e["status"], "ok");
  EXPECT_EQ(e["model"], "test-model");
  EXPECT_EQ(e["endpoint"], server_->endpoint());
  EXPECT_EQ(e["attempt"], 1);
  EXPECT_EQ(e["http_status"], 200);
  EXPECT_EQ(e["response_format"], "json_schema");
  EXPECT_GT(e["prompt_tokens"].get<int>(), 100);
  EXPECT_GT(e["completion_tokens"].get<int>(), 10);
  EXPECT_GT(e["latency_s"].get<double>(), 0);
  EXPECT_NE(e["reply"].get<std::string>().find("\"stand-in proposal 0\""), std::string::npos);
  EXPECT_EQ(e["messages"].size(), 2u);

  // What went over the wire: the key as the bearer header, a JSON schema, the configured temperature.
  auto requests = server_->Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]["auth"], true);
  EXPECT_EQ(requests[0]["path"], "/v1/chat/completions");
  const Json& body = requests[0]["body"];
  EXPECT_EQ(body["model"], "test-model");
  EXPECT_EQ(body["temperature"], 0.2);
  EXPECT_EQ(body["response_format"]["type"], "json_schema");
  EXPECT_EQ(body["response_format"]["json_schema"]["schema"]["properties"]["decisions"]["items"]["properties"]
                ["params"]["properties"]["batch"]["maximum"],
            256);
  EXPECT_FALSE(body.contains("max_tokens"));
  EXPECT_NE(LastMessage(requests[0]).find("#4 completed value=0.95"), std::string::npos);
  // The key is nowhere in what is stored or sent as data.
  for (const auto& x : reply.exchanges) EXPECT_EQ(DumpJson(x).find(kKey), std::string::npos);
  EXPECT_EQ(server_->RecordText().find(kKey), std::string::npos);
}

TEST_F(LlmAgentTest, WithoutTheKeyTheServerRefusesAndTheAnalystDecides) {
  server_ = std::make_unique<StandIn>(R"(["good"])", kKey);
  fixture_ = std::make_unique<LlmFixture>(Config(server_->endpoint()));  // no api_key_env
  AgentReply reply = Make(fixture_->config)->Decide(fixture_->Context(1));
  ExpectFallback(reply, "http_error", "the LLM server answered HTTP 401: invalid API key");
  EXPECT_EQ(reply.exchanges[0]["http_status"], 401);
  EXPECT_EQ(server_->Requests()[0]["auth"], false);
}

TEST_F(LlmAgentTest, AKeyAServerEchoesIsRedactedFromTheExchange) {
  server_ = std::make_unique<StandIn>(R"(["echo_headers"])", kKey);
  fixture_ =
      std::make_unique<LlmFixture>(Config(server_->endpoint(), ", api_key_env: HYPERION_TEST_LLM_KEY"));
  AgentReply reply = Make(fixture_->config)->Decide(fixture_->Context(1));
  ExpectFallback(reply, "http_error", "the LLM server answered HTTP 502: upstream failed for ");
  const std::string stored = DumpJson(reply.exchanges);
  EXPECT_EQ(stored.find(kKey), std::string::npos) << stored;
  EXPECT_NE(stored.find("Authorization: Bearer [key]"), std::string::npos) << stored;
  EXPECT_EQ(reply.decided_by.find(kKey), std::string::npos) << reply.decided_by;
}

TEST_F(LlmAgentTest, AKeyVariableThatIsNotSetIsRefusedUpFront) {
  auto config = Config("http://127.0.0.1:9/v1", ", api_key_env: HYPERION_TEST_UNSET_KEY");
  auto agent = MakeLlmAgent(config);
  ASSERT_FALSE(agent.ok());
  EXPECT_EQ(
      agent.status().message(),
      "llm.api_key_env names HYPERION_TEST_UNSET_KEY, which is not set in this environment; export it before "
      "the run");
}

TEST_F(LlmAgentTest, MalformedJsonFallsBack) {
  AgentReply reply = DecideWith(R"(["malformed"])");
  ExpectFallback(reply, "malformed", "the reply is not JSON: \"decisions: propose lr=0.1 {not json\"");
  EXPECT_EQ(reply.exchanges.size(), 1u) << "no retry: the next decision asks again";
  EXPECT_EQ(reply.exchanges[0]["reply"], "decisions: propose lr=0.1 {not json");
}

TEST_F(LlmAgentTest, ARefusalFallsBack) {
  AgentReply reply = DecideWith(R"(["refusal"])");
  ExpectFallback(reply, "refused", "the LLM refused: I cannot help with that.");
  EXPECT_EQ(reply.exchanges.size(), 1u);
}

TEST_F(LlmAgentTest, AReplyWithoutDecisionsIsARefusal) {
  AgentReply reply = DecideWith(R"(["no_decisions"])");
  ExpectFallback(reply, "refused", "the LLM reply made no decision");
}

TEST_F(LlmAgentTest, EmptyChoicesFallBack) {
  AgentReply reply = DecideWith(R"(["empty_choices"])");
  ExpectFallback(reply, "malformed", "the LLM server's reply has no choices");
}

TEST_F(LlmAgentTest, ServerErrorsFallBackWithTheirStatus) {
  AgentReply reply = DecideWith(R"(["http_500"])");
  ExpectFallback(reply, "http_error", "the LLM server answered HTTP 500: internal server error");
  EXPECT_EQ(reply.exchanges[0]["http_status"], 500);
  reply = DecideWith(R"(["http_429"])");
  ExpectFallback(reply, "http_error", "the LLM server answered HTTP 429: rate limit reached");
  EXPECT_EQ(reply.exchanges[0]["http_status"], 429);
  EXPECT_EQ(reply.exchanges.size(), 1u);
}

TEST_F(LlmAgentTest, ASlowServerTimesOutWithoutStalling) {
  const auto start = std::chrono::steady_clock::now();
  AgentReply reply = DecideWith(R"(["slow"])", ", timeout: 1");
  const double took = Seconds(start);
  ExpectFallback(reply, "timeout", "no reply from the LLM within 1.0s");
  EXPECT_EQ(reply.exchanges.size(), 1u);
  EXPECT_GE(reply.exchanges[0]["latency_s"].get<double>(), 0.9);
  EXPECT_LT(took, 1 + 5.0) << "the timeout plus a margin for starting the stand-in, not its 30 s sleep";
}

TEST_F(LlmAgentTest, AnUnreachableServerFallsBack) {
  // A port nobody listens on: bound, then closed.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t size = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  close(fd);
  fixture_ = std::make_unique<LlmFixture>(
      Config("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1"));
  AgentReply reply = Make(fixture_->config)->Decide(fixture_->Context(1));
  ExpectFallback(reply, "http_error", "cannot reach http://127.0.0.1:");
  EXPECT_TRUE(reply.exchanges[0]["http_status"].is_null());
}

TEST_F(LlmAgentTest, OutOfRangeValuesAreClampedAndSaid) {
  AgentReply reply = DecideWith(R"(["out_of_range"])");
  EXPECT_EQ(reply.decided_by, "");
  ASSERT_EQ(reply.proposals.size(), 1u);
  const Proposal& p = reply.proposals[0];
  EXPECT_EQ(p.params["lr"], 1.0);
  EXPECT_EQ(p.params["batch"], 256);
  EXPECT_NE(p.rationale.find("(lr clamped from 11 to 1) (batch clamped from 2561 to 256)"), std::string::npos)
      << p.rationale;
  EXPECT_EQ(reply.exchanges[0]["status"], "ok");
}

TEST_F(LlmAgentTest, AFencedReplyIsRead) {
  AgentReply reply = DecideWith(R"(["fenced"])");
  EXPECT_EQ(reply.decided_by, "");
  ASSERT_EQ(reply.proposals.size(), 1u);
  EXPECT_EQ(reply.exchanges[0]["status"], "ok");
}

TEST_F(LlmAgentTest, InvalidPartsAreRetriedWithTheReasonFedBack) {
  AgentReply reply = DecideWith(R"(["unknown_param", "good"])");
  EXPECT_EQ(reply.decided_by, "");
  ASSERT_EQ(reply.exchanges.size(), 2u);
  EXPECT_EQ(reply.exchanges[0]["status"], "invalid");
  const std::string reason =
      "decision 1 rejected: unknown parameter 'not_a_param'. The parameters are: lr, batch, optimizer, "
      "momentum, "
      "width";
  EXPECT_EQ(reply.exchanges[0]["error"], reason);
  EXPECT_EQ(reply.exchanges[1]["status"], "ok");
  EXPECT_EQ(reply.exchanges[1]["attempt"], 2);
  ASSERT_EQ(reply.proposals.size(), 1u);
  EXPECT_EQ(reply.proposals[0].rationale, "LLM test-model: stand-in proposal 1");
  EXPECT_EQ(reply.proposals[0].evidence["llm"]["exchange"], 1);
  // The second request carries the first reply and the reason.
  auto requests = server_->Requests();
  ASSERT_EQ(requests.size(), 2u);
  const Json& messages = requests[1]["body"]["messages"];
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[2]["role"], "assistant");
  EXPECT_NE(messages[2]["content"].get<std::string>().find("not_a_param"), std::string::npos);
  EXPECT_NE(LastMessage(requests[1]).find("- " + reason + "\n"), std::string::npos)
      << LastMessage(requests[1]);
}

TEST_F(LlmAgentTest, ADuplicateIsRefusedAndRetried) {
  AgentReply reply = DecideWith(R"(["duplicate", "good"])");
  ASSERT_EQ(reply.exchanges.size(), 2u);
  EXPECT_EQ(reply.exchanges[0]["error"],
            "decision 1 rejected: its params repeat trial #4's; propose an unseen point, or branch from #4");
  ASSERT_EQ(reply.proposals.size(), 1u);
  EXPECT_NE(reply.proposals[0].params, fixture_->trials[3].params);
}

TEST_F(LlmAgentTest, RetriesRunOutIntoTheFallback) {
  AgentReply reply = DecideWith(R"(["unknown_param"])", ", retries: 1");
  EXPECT_EQ(reply.exchanges.size(), 2u) << "one call and one retry";
  ExpectFallback(
      reply, "invalid",
      "every decision of the LLM was rejected: decision 1 rejected: unknown parameter 'not_a_param'");
  EXPECT_EQ(server_->Requests().size(), 2u);
}

TEST_F(LlmAgentTest, AServerWithoutSchemasGetsJsonObjectAndKeepsIt) {
  AgentReply reply = DecideWith(R"(["no_schema"])");
  ASSERT_EQ(reply.exchanges.size(), 2u);
  EXPECT_EQ(reply.exchanges[0]["status"], "http_error");
  EXPECT_EQ(reply.exchanges[0]["http_status"], 400);
  EXPECT_EQ(
      reply.exchanges[0]["error"],
      "the LLM server answered HTTP 400: response_format json_schema is not supported; asking again with "
      "response_format json_object");
  EXPECT_EQ(reply.exchanges[1]["status"], "ok");
  EXPECT_EQ(reply.exchanges[1]["response_format"], "json_object");
  ASSERT_EQ(reply.proposals.size(), 1u);
  EXPECT_EQ(reply.decided_by, "");
  // The next decision starts with what the server takes.
  AgentReply next = agent_->Decide(fixture_->Context(1));
  ASSERT_EQ(next.exchanges.size(), 1u);
  auto requests = server_->Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0]["body"]["response_format"]["type"], "json_schema");
  EXPECT_EQ(requests[1]["body"]["response_format"]["type"], "json_object");
  EXPECT_EQ(requests[2]["body"]["response_format"]["type"], "json_object");
}

TEST_F(LlmAgentTest, AFixedFormatIsNotSteppedDown) {
  AgentReply reply = DecideWith(R"(["no_schema"])", ", response_format: json_schema");
  ExpectFallback(reply, "http_error", "HTTP 400: response_format json_schema is not supported");
  EXPECT_EQ(reply.exchanges.size(), 1u);
  reply = DecideWith(R"(["good"])", ", response_format: none, max_tokens: 300, temperature: 0.7");
  auto body = server_->Requests()[0]["body"];
  EXPECT_FALSE(body.contains("response_format"));
  EXPECT_EQ(body["max_tokens"], 300);
  EXPECT_EQ(body["temperature"], 0.7);
}

TEST_F(LlmAgentTest, SeveralFreeSlotsAskForSeveralProposals) {
  AgentReply reply = DecideWith(R"(["two"])", "", 3);
  ASSERT_EQ(reply.proposals.size(), 2u);
  EXPECT_NE(reply.proposals[0].params, reply.proposals[1].params);
  EXPECT_NE(LastMessage(server_->Requests()[0]).find("propose up to 3 trials"), std::string::npos);
}

TEST_F(LlmAgentTest, NotesReachThePromptAndComeBackAcknowledged) {
  server_ = std::make_unique<StandIn>(R"(["good"])", "", kSpace);
  LlmFixture f(Config(server_->endpoint()));
  f.notes = {Note{42, 1.0, "keep batch small", false}};
  AgentReply reply = Make(f.config)->Decide(f.Context(1));
  EXPECT_NE(LastMessage(server_->Requests()[0]).find("- note 42: \"keep batch small\""), std::string::npos);
  // The stand-in's reply neither lists nor mentions the note: it stays unanswered.
  EXPECT_TRUE(reply.acknowledged_notes.empty());
}

}  // namespace
}  // namespace hyperion
