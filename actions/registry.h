// The implemented actions, one explicit line each (actions/registry.cpp).
#pragma once
#include <string_view>

#include "actions/action.h"

namespace kiln {

const ActionTable& builtin_actions();
const ActionEntry* find_action(std::string_view name);

}  // namespace kiln
