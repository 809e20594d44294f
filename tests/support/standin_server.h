// A test server written in Python (tests/servers/*.py) started on a free loopback port
// for one test and stopped with it. The script prints "PORT <n>" once it listens.
#pragma once
#include <string>
#include <vector>

#include "tests/support/server_process.h"
#include "tests/support/test_support.h"

namespace kiln::test {

class PythonServer {
 public:
  // Runs /usr/bin/python3 tests/servers/<script> <arguments...>.
  PythonServer(const std::string& script, const std::vector<std::string>& arguments);
  PythonServer(const PythonServer&) = delete;
  PythonServer& operator=(const PythonServer&) = delete;

  bool running() const { return port_ > 0; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& error() const { return error_; }

 private:
  TempDir dir_;
  ServerProcess process_;
  int port_ = 0;
  std::string error_;
};

// Whether Debian's python3 with botocore (the signature referee) is here.
bool have_botocore();

}  // namespace kiln::test
