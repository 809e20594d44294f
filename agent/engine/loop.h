// Loop expansion: the iterations of a step's `loop` (for, forEach list, forEach
// delimited string), computed once when the loop starts.
#pragma once
#include <string>
#include <vector>

#include "agent/base/text.h"  // split_nonempty
#include "agent/document/model.h"
#include "agent/engine/resolver.h"

namespace kiln {

// Fills `frames` with one LoopFrame per iteration. List items and the delimited string
// are resolved with `scope` first. Empty items of a delimited string are dropped.
// Returns "" or an error text.
std::string expand_loop(const LoopSpec& loop, const ResolveScope& scope, std::vector<LoopFrame>& frames);

}  // namespace kiln
