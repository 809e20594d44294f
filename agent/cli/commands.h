// The subcommands. Each turns parsed flags into calls to the layers below and returns
// the process's exit code (0 ok, 1 run failed, 2 usage, 3 document invalid, 194 reboot).
#pragma once
#include "agent/cli/options.h"

namespace kiln {

int command_validate(const CliOptions& cli);  // validate_command.cpp
int command_run(CliOptions cli);              // run_command.cpp
int command_resume(const CliOptions& cli);    // run_command.cpp
int command_status(const CliOptions& cli);    // status_command.cpp
int command_schema(const CliOptions& cli);    // schema_command.cpp

}  // namespace kiln
