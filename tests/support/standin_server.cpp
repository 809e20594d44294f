#include "tests/support/standin_server.h"

#include <chrono>
#include <cstdlib>
#include <thread>

#include "tests/support/s3_server.h"

namespace kiln::test {

PythonServer::PythonServer(const std::string& script, const std::vector<std::string>& arguments) {
  std::vector<std::string> argv = {"/usr/bin/python3", "-u", std::string(KILN_SOURCE_DIR) + "/tests/servers/" + script};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  std::string log = dir_.file("server.out");
  process_.start(argv, log);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string out;
  while (std::chrono::steady_clock::now() < deadline) {
    out = read_file(log);
    if (out.rfind("PORT ", 0) == 0 && out.find('\n') != std::string::npos) {
      port_ = std::atoi(out.c_str() + 5);
      return;
    }
    if (!process_.running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  error_ = script + " did not start: " + out;
}

bool have_botocore() { return kiln::s3test::have_botocore(); }

}  // namespace kiln::test
