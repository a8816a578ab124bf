#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "hyperion/tracking/mlflow_tracker.h"
#include "hyperion/tracking/proto_writer.h"
#include "hyperion/tracking/tracking_queue.h"
#include "hyperion/tracking/wandb_environment.h"

namespace hyperion {
namespace {

TEST(ProtoWriter, Crc32cMatchesTheStandardCheckValue) {
  // The CRC-32C check value of "123456789" (RFC 3720, appendix B.4).
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  uint32_t crc = Crc32c("123456789");
  EXPECT_EQ(MaskedCrc32c("123456789"), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST(ProtoWriter, EncodesTheWireFormat) {
  ProtoWriter w;
  w.Varint(1, 150).Bytes(2, "hi").Double(3, 1.0).Float(4, 1.0f);
  // Field 1 varint 150: 08 96 01; field 2 bytes: 12 02 'h' 'i'; field 3 fixed64; field 4 fixed32.
  const std::string expected = std::string("\x08\x96\x01\x12\x02hi\x19", 8) +
                               std::string("\0\0\0\0\0\0\xf0\x3f", 8) + std::string("\x25\0\0\x80\x3f", 5);
  EXPECT_EQ(w.data(), expected);
}

TEST(Wandb, EnvironmentGroupsNamesAndResumesTheTrial) {
  TrackingConfig tracking;
  tracking.wandb = true;
  tracking.wandb_tags = {"baseline"};
  tracking.wandb_mode = "offline";
  Trial trial;
  trial.number = 7;
  trial.op = "branch";
  trial.trial_dir = "/runs/exp/trial-0007";
  auto env = WandbEnvironment(tracking, "digits: lr/wd sweep", 1000.5, trial);
  EXPECT_EQ(env["WANDB_PROJECT"], "digits: lr/wd sweep");
  EXPECT_EQ(env["WANDB_RUN_GROUP"], "digits: lr/wd sweep");
  EXPECT_EQ(env["WANDB_NAME"], "trial-0007");
  EXPECT_EQ(env["WANDB_JOB_TYPE"], "trial");
  EXPECT_EQ(env["WANDB_TAGS"], "branch,baseline");
  EXPECT_EQ(env["WANDB_RESUME"], "allow");
  EXPECT_EQ(env["WANDB_MODE"], "offline");
  EXPECT_EQ(env["WANDB_DIR"], "/runs/exp/trial-0007");
  EXPECT_FALSE(env.count("WANDB_ENTITY"));
  const std::string id = env["WANDB_RUN_ID"];
  EXPECT_LE(id.size(), 64u);
  EXPECT_EQ(id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"),
            std::string::npos)
      << id;
  EXPECT_EQ(id.substr(0, 19), "digits--lr-wd-sweep") << id;
  EXPECT_EQ(id.substr(id.size() - 2), "-7");
  // The same trial of the same experiment gets the same id (a retry resumes its run); another experiment of
  // the same name does not.
  EXPECT_EQ(WandbEnvironment(tracking, "digits: lr/wd sweep", 1000.5, trial)["WANDB_RUN_ID"], id);
  EXPECT_NE(WandbEnvironment(tracking, "digits: lr/wd sweep", 2000.5, trial)["WANDB_RUN_ID"], id);
  tracking.wandb = false;
  EXPECT_TRUE(WandbEnvironment(tracking, "x", 1, trial).empty());
}

TEST(Mlflow, KeysKeepWhatMlflowAccepts) {
  EXPECT_EQ(MlflowTracker::SafeKey("val/acc top-1.x_y"), "val/acc top-1.x_y");
  EXPECT_EQ(MlflowTracker::SafeKey("loss:train"), "loss_train");
  EXPECT_EQ(MlflowTracker::SafeKey("ü"), "__");
}

// Records calls; the first `refusals` calls of each kind answer kUnavailable (a server away).
class FlakyTracker final : public Tracker {
 public:
  explicit FlakyTracker(int refusals) : refusals_(refusals) {}
  std::string Name() const override { return "flaky"; }
  Status Start(const ExperimentRecord& e) override { return Answer("start " + e.name); }
  Status TrialStarted(const Trial& t) override { return Answer("started " + std::to_string(t.number)); }
  Status TrialReported(const Trial& t, int64_t step, double, const MetricValues& m) override {
    return Answer("report " + std::to_string(t.number) + "@" + std::to_string(step) + " " + m.at(0).first);
  }
  Status TrialEnded(const Trial& t) override { return Answer("ended " + std::to_string(t.number)); }
  Status Finish(const std::string& status) override { return Answer("finish " + status); }

  std::vector<std::string> calls;
  std::atomic<int> tries{0};

 private:
  Status Answer(const std::string& call) {
    ++tries;
    if (refusals_ > 0) {
      --refusals_;
      return UnavailableError("connection refused");
    }
    calls.push_back(call);
    return Status::Ok();
  }
  int refusals_;
};

TEST(TrackingQueue, DeliversInOrderAndRetriesAServerThatWasAway) {
  auto owned = std::make_unique<FlakyTracker>(2);
  FlakyTracker* tracker = owned.get();
  std::vector<std::unique_ptr<Tracker>> trackers;
  trackers.push_back(std::move(owned));
  TrackingQueue queue(std::move(trackers));
  ExperimentRecord e;
  e.name = "exp";
  Trial t;
  t.number = 3;
  const auto before = std::chrono::steady_clock::now();
  queue.Start(e);
  queue.TrialStarted(t);
  queue.TrialReported(t, 1, 0, {{"loss", 0.5}});
  queue.TrialEnded(t);
  // Enqueueing never waits for the tracker, even while it refuses.
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(100));
  EXPECT_EQ(queue.Close("finished", 10), 0);
  EXPECT_EQ(tracker->calls, (std::vector<std::string>{"start exp", "started 3", "report 3@1 loss", "ended 3",
                                                      "finish finished"}));
  EXPECT_EQ(tracker->tries.load(), 7);
  auto messages = queue.TakeMessages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0], "flaky: connection refused; retrying in the background");
  EXPECT_EQ(messages[1], "flaky: reachable again; what waited was sent");
}

TEST(TrackingQueue, CloseGivesUpOnAServerThatStaysAwayAndCountsWhatIsLeft) {
  std::vector<std::unique_ptr<Tracker>> trackers;
  trackers.push_back(std::make_unique<FlakyTracker>(1000000));
  TrackingQueue queue(std::move(trackers));
  Trial t;
  t.number = 1;
  queue.TrialStarted(t);
  queue.TrialEnded(t);
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(queue.Close("finished", 0.5), 3);  // started, ended, finish
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(3));
  auto messages = queue.TakeMessages();
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages.back().find("flaky: 3 call(s) not delivered within 500ms"), std::string::npos)
      << messages.back();
}

}  // namespace
}  // namespace hyperion
