#include "hyperion/executor/slurm_job.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "hyperion/common/subprocess.h"

namespace hyperion::slurm {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class JobScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("slurm-job-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "work");
  }
  void TearDown() override { fs::remove_all(dir_); }

  LaunchRequest Request(std::vector<std::string> argv) {
    LaunchRequest request;
    request.trial_id = 7;
    request.name = "demo-3";
    request.argv = std::move(argv);
    request.workdir = (dir_ / "work").string();
    request.trial_dir = dir_.string();
    return request;
  }

  // Runs the script as Slurm would (bash, no shell in between), outside Slurm.
  ProgramOutput RunScript(const LaunchRequest& request) {
    auto script = JobScript(request);
    EXPECT_TRUE(script.ok()) << script.status().message();
    const fs::path path = dir_ / kJobScript;
    std::ofstream(path) << *script;
    auto ran = RunProgram({"/bin/bash", path.string()}, 30);
    EXPECT_TRUE(ran.ok()) << ran.status().message();
    return ran.ok() ? *ran : ProgramOutput{};
  }

  fs::path dir_;
};

TEST_F(JobScriptTest, ArgumentsAndEnvironmentReachTheCommandLiterally) {
  // Values a shell would expand, split or end a quote on, as a categorical parameter might hold them.
  const std::vector<std::string> tricky = {"$(touch pwned)", "it's",         "a b  c", "`id`",  "x;y|z&",
                                           "\"q\"\\n",       "line1\nline2", "*",      "$HOME", ""};
  std::vector<std::string> argv = {"/usr/bin/printf", "<%s>\\n"};
  argv.insert(argv.end(), tricky.begin(), tricky.end());
  LaunchRequest request = Request(argv);
  request.env["OPTIMIZER"] = "$(touch pwned2) it's";
  request.env["EMPTY"] = "";
  auto ran = RunScript(request);
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  std::string expected;
  for (const auto& t : tricky) expected += "<" + t + ">\n";
  EXPECT_EQ(ran.out, expected);
  EXPECT_FALSE(fs::exists(dir_ / "work" / "pwned"));
  EXPECT_EQ(ReadFile(dir_ / kExitCodeFile), "0\n");

  request.argv = {"/usr/bin/env"};
  ran = RunScript(request);
  EXPECT_NE(ran.out.find("\nOPTIMIZER=$(touch pwned2) it's\n"), std::string::npos) << ran.out;
  EXPECT_NE(ran.out.find("\nEMPTY=\n"), std::string::npos) << ran.out;
  EXPECT_FALSE(fs::exists(dir_ / "work" / "pwned2"));
}

TEST_F(JobScriptTest, RunsInTheWorkdirAndRecordsTheExitStatus) {
  LaunchRequest request = Request({"/bin/sh", "-c", "pwd; echo oops >&2; exit 3"});
  auto ran = RunScript(request);
  EXPECT_EQ(ran.exit_code, 3);
  EXPECT_EQ(ran.out, (dir_ / "work").string() + "\n");
  EXPECT_EQ(ran.err, "oops\n");
  EXPECT_EQ(ReadFile(dir_ / kExitCodeFile), "3\n");
  EXPECT_FALSE(fs::exists(dir_ / (std::string(kExitCodeFile) + ".tmp")));
  // "<job id> <unix time>": no job id outside Slurm.
  std::string started = ReadFile(dir_ / kJobStartedFile);
  EXPECT_EQ(started.substr(0, 1), " ") << started;
  EXPECT_GT(std::stod(started.substr(1)), 1.6e9);

  // Killed by a signal: recorded as the shell reports it, 128 + N.
  request.argv = {"/bin/sh", "-c", "kill -9 $$"};
  ran = RunScript(request);
  EXPECT_EQ(ReadFile(dir_ / kExitCodeFile), "137\n");
  EXPECT_EQ(ran.err, "") << "the shell's own 'Killed' notice would become the failure's reason";
  TrialExit exit = JobExit(7, "42", JobRecord{"FAILED", "NonZeroExitCode", 137, 0, "UNLIMITED"}, 137, false);
  EXPECT_TRUE(exit.signaled);
  EXPECT_EQ(exit.code, 9);
  EXPECT_EQ(exit.Describe(), "killed by signal 9 (SIGKILL)");

  request.workdir = (dir_ / "missing").string();
  request.argv = {"/bin/true"};
  ran = RunScript(request);
  EXPECT_EQ(ran.exit_code, 1);
  EXPECT_NE(ran.err.find("missing: No such file or directory"), std::string::npos) << ran.err;
  EXPECT_EQ(ReadFile(dir_ / kExitCodeFile), "1\n");
}

TEST_F(JobScriptTest, RefusesAnEnvironmentNameAShellCannotExport) {
  LaunchRequest request = Request({"/bin/true"});
  request.env["BAD NAME"] = "1";
  auto script = JobScript(request);
  ASSERT_FALSE(script.ok());
  EXPECT_EQ(
      script.status().message(),
      "environment variable name 'BAD NAME' cannot be exported by a batch script (letters, digits and _ "
      "only)");
}

TEST(SlurmJob, ShellQuote) {
  EXPECT_EQ(ShellQuote("plain"), "'plain'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote(""), "''");
}

TEST(SlurmJob, SbatchArgumentsFromConfigAndGrant) {
  ExecutorConfig config;
  config.type = "slurm";
  LaunchRequest request;
  request.name = "digits-mlp-4";
  request.workdir = "/work/ex";
  request.trial_dir = "/runs/t4";
  const std::vector<std::string> always = {"sbatch",
                                           "--parsable",
                                           "--job-name=digits-mlp-4",
                                           "--output=/runs/t4/stdout.log",
                                           "--error=/runs/t4/stderr.log",
                                           "--open-mode=append",
                                           "--no-requeue",
                                           "--export=ALL",
                                           "--chdir=/work/ex"};
  std::vector<std::string> expected = always;
  expected.push_back("/runs/t4/job.sh");
  EXPECT_EQ(SbatchArguments(config, request, "/runs/t4/job.sh"), expected);

  config.partition = "gpu";
  config.time_limit = 5400;
  config.extra_args = {"--account=ml", "--qos", "short"};
  request.resources_managed = true;
  request.resources.cpu_count = 4;
  request.resources.memory_mb = 8192;
  request.resources.gpus_per_trial = 2;
  expected = always;
  for (const char* a : {"--partition=gpu", "--time=01:30:00", "--cpus-per-task=4", "--mem=8192M",
                        "--gres=gpu:2", "--account=ml", "--qos", "short", "/runs/t4/job.sh"}) {
    expected.push_back(a);
  }
  EXPECT_EQ(SbatchArguments(config, request, "/runs/t4/job.sh"), expected);

  // executor.gres is given as it is, instead of the grant's GPUs.
  config.gres = "gpu:a100:1";
  auto args = SbatchArguments(config, request, "/runs/t4/job.sh");
  EXPECT_NE(std::find(args.begin(), args.end(), "--gres=gpu:a100:1"), args.end());
  EXPECT_EQ(std::find(args.begin(), args.end(), "--gres=gpu:2"), args.end());
}

TEST(SlurmJob, ParsesWhatSlurmPrints) {
  EXPECT_EQ(*ParseSbatchJobId("42\n"), "42");
  EXPECT_EQ(*ParseSbatchJobId("43;test\n"), "43");
  EXPECT_EQ(*ParseSbatchJobId("sbatch: warning: something\n44\n"), "44");
  EXPECT_EQ(ParseSbatchJobId("").status().message(), "sbatch printed no job id (it printed '')");

  auto queued = ParseSqueue("12|RUNNING|None\n13|PENDING|Resources\n\n");
  ASSERT_EQ(queued.size(), 2u);
  EXPECT_EQ(queued["12"].state, "RUNNING");
  EXPECT_EQ(queued["13"].state, "PENDING");
  EXPECT_EQ(queued["13"].reason, "Resources");

  const std::string shown =
      "JobId=5 JobName=j.sh\n   UserId=root(0) GroupId=root(0) MCS_label=N/A\n"
      "   JobState=NODE_FAIL Reason=NodeDown Dependency=(null)\n"
      "   Requeue=0 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:15\n"
      "   RunTime=00:00:02 TimeLimit=00:10:00 TimeMin=N/A\n";
  auto record = ParseScontrolJob(shown);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->state, "NODE_FAIL");
  EXPECT_EQ(record->reason, "NodeDown");
  EXPECT_EQ(record->exit_code, 0);
  EXPECT_EQ(record->signal, 15);
  EXPECT_EQ(record->time_limit, "00:10:00");
  EXPECT_FALSE(ParseScontrolJob("slurm_load_jobs error: Invalid job id specified\n"));
}

TEST(SlurmJob, EndedJobsBecomeExits) {
  auto record = [](const char* state, const char* reason = "None", int code = 0, int signal = 0) {
    return std::optional<JobRecord>(JobRecord{state, reason, code, signal, "00:10:00"});
  };
  // The command's own end: the status the script recorded.
  TrialExit exit = JobExit(1, "42", record("COMPLETED"), 0, false);
  EXPECT_EQ(exit.ended_by, EndedBy::kCommand);
  EXPECT_EQ(exit.Describe(), "exit code 0");
  exit = JobExit(1, "42", record("FAILED", "NonZeroExitCode", 3), 3, false);
  EXPECT_EQ(exit.ended_by, EndedBy::kCommand);
  EXPECT_EQ(exit.Describe(), "exit code 3");
  // The script never recorded: Slurm's ExitCode.
  exit = JobExit(1, "42", record("FAILED", "JobLaunchFailure", 0, 9), std::nullopt, false);
  EXPECT_EQ(exit.Describe(), "killed by signal 9 (SIGKILL)");

  for (const char* state : {"NODE_FAIL", "PREEMPTED", "BOOT_FAIL"}) {
    exit = JobExit(1, "42", record(state, "NodeDown"), std::nullopt, false);
    EXPECT_EQ(exit.ended_by, EndedBy::kInfrastructure) << state;
  }
  EXPECT_EQ(JobExit(1, "42", record("NODE_FAIL", "NodeDown"), 143, false).Describe(),
            "Slurm job 42 ended NODE_FAIL (its node failed) (reason: NodeDown)");
  EXPECT_EQ(JobExit(1, "42", record("PREEMPTED"), std::nullopt, false).Describe(),
            "Slurm job 42 ended PREEMPTED (preempted by a job of higher priority)");

  exit = JobExit(1, "42", record("TIMEOUT"), 143, false);
  EXPECT_EQ(exit.ended_by, EndedBy::kTimeLimit);
  EXPECT_EQ(exit.Describe(), "Slurm job 42 reached its Slurm time limit (00:10:00, executor.time_limit)");

  exit = JobExit(1, "42", record("OUT_OF_MEMORY"), 137, false);
  EXPECT_EQ(exit.ended_by, EndedBy::kScheduler);
  EXPECT_EQ(exit.Describe(),
            "Slurm job 42 ran out of memory (OUT_OF_MEMORY): raise resources.memory_per_trial");

  // Cancelled from outside, whether or not the command had time to record its end.
  for (std::optional<int> status : {std::optional<int>(143), std::optional<int>()}) {
    exit = JobExit(1, "42", record("CANCELLED"), status, false);
    EXPECT_EQ(exit.ended_by, EndedBy::kScheduler);
    EXPECT_EQ(exit.Describe(), "Slurm job 42 was cancelled outside Hyperion (scancel or an administrator)");
  }
  // Cancelled by Hyperion (a stop past its grace period): no surprise, the orchestrator knows why.
  exit = JobExit(1, "42", record("CANCELLED", "None", 0, 15), std::nullopt, true);
  EXPECT_EQ(exit.ended_by, EndedBy::kCommand);
  EXPECT_EQ(exit.Describe(), "killed by signal 15 (SIGTERM)");

  // Slurm forgot the job (MinJobAge passed while no orchestrator ran): the recorded status, else lost.
  EXPECT_EQ(JobExit(1, "42", std::nullopt, 0, false).Describe(), "exit code 0");
  exit = JobExit(1, "42", std::nullopt, std::nullopt, false);
  EXPECT_EQ(exit.ended_by, EndedBy::kScheduler);
  EXPECT_EQ(
      exit.Describe(),
      "Slurm job 42 is no longer known to Slurm and recorded no exit status (exit_code): it ended while "
      "nobody watched, before its command finished");
}

}  // namespace
}  // namespace hyperion::slurm
