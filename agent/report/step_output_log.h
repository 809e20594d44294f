// The output of one step attempt on disk, at a bounded cost. console.log puts a
// 37-byte prefix before every line, so short lines multiply (2-byte lines cost 19.5x
// their size: 1 GiB of `yes` wrote a 20.9 GB console.log, issue 16). Each stream of an
// attempt goes to console.log as prefixed lines while those cost at most
// kConsoleAllowance plus 1.5x the bytes they hold; from then on the rest of that stream
// goes, unprefixed, to stdout.log or stderr.log in the attempt's own folder, with one
// console.log line saying where and one at the end saying how much went there. So an
// attempt's output costs at most 1.5x its bytes plus 1 MiB per stream on disk however
// short its lines, and output whose lines average more than ~75 bytes stays in
// console.log exactly as before.
//
// Everything written passes the RunLog's secret masker. The run-wide --max-log-size
// (RunLog::admit_step_output) can drop output; the step goes on running either way.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "agent/report/run_log.h"

namespace kiln {

class StepOutputLog {
 public:
  static constexpr uint64_t kConsoleAllowance = 1 << 20;

  // `folder` is the attempt's own folder; `create_folder` makes it ("" or why not)
  // when output first goes there.
  StepOutputLog(RunLog& log, std::string folder, std::function<std::string()> create_folder);
  ~StepOutputLog();
  StepOutputLog(const StepOutputLog&) = delete;
  StepOutputLog& operator=(const StepOutputLog&) = delete;

  void write(bool is_stderr, std::string_view chunk);
  // Closes the files and writes the closing lines (for a stream that went to its file,
  // and when output was dropped). The destructor calls it.
  void finish();

 private:
  struct Stream {
    const char* file_name;
    std::string_view prefix;     // "Stdout: " in console.log
    uint64_t console_cost = 0;   // bytes of prefixed lines written
    uint64_t console_bytes = 0;  // the output bytes they hold
    bool diverted = false;       // the rest goes to the file
    bool failed = false;         // the file could not be made: console.log it is
    std::FILE* file = nullptr;
    uint64_t file_bytes = 0;
  };
  size_t console_share(Stream& s, std::string_view chunk) const;
  void to_console(Stream& s, std::string_view text);
  bool divert(Stream& s);
  void to_file(Stream& s, std::string_view chunk);

  RunLog& log_;
  std::string folder_;
  std::function<std::string()> create_folder_;
  Stream streams_[2] = {{"stdout.log", "Stdout: "}, {"stderr.log", "Stderr: "}};
  uint64_t dropped_ = 0;
  bool finished_ = false;
};

}  // namespace kiln
