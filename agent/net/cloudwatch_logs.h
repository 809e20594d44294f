// Streams lines to a CloudWatch Logs stream while a run goes on (console.log, so a hung
// step is visible before the run ends). Lines are queued by append() and sent by a thread
// of the streamer in PutLogEvents batches that respect the service's limits: at most
// 1,048,576 bytes (each event's UTF-8 message plus 26), 10,000 events, events in time
// order, spanning less than 24 hours, each event at most 256 KiB (longer lines are split).
// A batch goes out once a second, or as soon as it is full. Throttling and 5xx are retried
// with backoff; when retries are exhausted the streamer stops sending and remembers why.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/base/expected.h"
#include "agent/net/aws_credentials.h"
#include "agent/net/http.h"

namespace kiln::net {

struct LogEvent {
  int64_t timestamp_ms = 0;  // since the epoch
  std::string message;
};

// The service limits a batch must respect (exposed for tests).
struct LogBatchLimits {
  static constexpr size_t kMaxBytes = 1'048'576;
  static constexpr size_t kEventOverhead = 26;
  static constexpr size_t kMaxEvents = 10'000;
  static constexpr size_t kMaxEventBytes = 256 * 1024 - kEventOverhead;
  static constexpr int64_t kMaxSpanMs = 24LL * 3600 * 1000 - 1;
};

// Takes as many events from the front of `queue` as fit in one batch (at least one).
std::vector<LogEvent> take_batch(std::deque<LogEvent>& queue);

class CloudWatchLogsClient {
 public:
  CloudWatchLogsClient(AwsEnvironment& aws, std::string region) : aws_(aws), region_(std::move(region)) {}
  // Creates the stream; one that exists already is fine.
  Status create_log_stream(const std::string& group, const std::string& stream);
  Status put_log_events(const std::string& group, const std::string& stream, const std::vector<LogEvent>& events);

 private:
  AwsEnvironment& aws_;
  std::string region_;
  HttpClient http_;
};

class CloudWatchStreamer {
 public:
  // `region` "" = the region chain (AWS_REGION, ..., IMDS).
  CloudWatchStreamer(AwsEnvironment& aws, std::string group, std::string stream, std::string region);
  ~CloudWatchStreamer();
  CloudWatchStreamer(const CloudWatchStreamer&) = delete;
  CloudWatchStreamer& operator=(const CloudWatchStreamer&) = delete;

  // Resolves the region, creates the stream and starts sending. An error: nothing will be sent.
  Status start();
  // Queues each line of `text` (thread-safe; cheap). After a failure, lines are dropped.
  void append(std::string_view text);
  // Sends what is queued and stops. The first failure, if any.
  Status finish();
  std::string destination() const { return group_ + "/" + stream_; }

 private:
  void send_loop();

  AwsEnvironment& aws_;
  std::string group_, stream_, region_;
  std::unique_ptr<CloudWatchLogsClient> client_;
  std::mutex mutex_;
  std::condition_variable wake_, drained_;
  std::deque<LogEvent> queue_;
  size_t queued_bytes_ = 0;
  int64_t last_timestamp_ = 0;
  bool stopping_ = false;
  bool failed_ = false;
  std::string failure_;
  std::thread thread_;
};

}  // namespace kiln::net
