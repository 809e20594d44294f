#include "agent/state/run_state.h"


namespace kiln {
namespace {

// Applies one record to the state; one overload per record kind.
struct Replay {
  RunState& state;
  void operator()(const RunHeader& h) { state.header = h; }
  void operator()(const StepStartedRecord& r) {
    StepState& s = state.steps[r.key];
    if (r.attempt != s.attempt) s.iterations.clear();
    s.attempt = r.attempt;
    state.awaiting_reboot = false;
  }
  void operator()(const ConditionRecord& r) { state.steps[r.key].condition = r; }
  void operator()(const IterationRecord& r) {
    StepState& s = state.steps[r.key];
    if (r.attempt != s.attempt) {
      s.iterations.clear();
      s.attempt = r.attempt;
    }
    s.iterations.push_back(r);
  }
  void operator()(const ChildRecord& r) { state.steps[r.key].child_execution_id = r.execution_id; }
  void operator()(const StepFinishedRecord& r) {
    StepState& s = state.steps[r.key];
    s.finished = true;
    s.record = r.record;
    s.ran = r.ran;
    s.iterations.clear();
  }
  void operator()(const RebootRecord& r) {
    state.reboots.push_back(r);
    state.steps[r.key].attempt = r.attempt;
    state.awaiting_reboot = true;
    state.interrupted = false;
  }
  void operator()(const StepInterruptedRecord&) { state.interrupted = true; }
  void operator()(const RunFinishedRecord& r) {
    state.finished = true;
    state.summary = r.summary;
    state.exit_code = r.exit_code;
  }
};

}  // namespace

RunState RunState::replay(const std::vector<nlohmann::json>& records) {
  RunState state;
  Replay apply{state};
  for (const auto& json : records)
    if (auto record = record_from_json(json)) std::visit(apply, *record);
  return state;
}

std::vector<nlohmann::json> RunState::compacted(const std::vector<nlohmann::json>& records) {
  std::vector<nlohmann::json> kept;
  for (const auto& json : records)
    // A record this kiln cannot read is kept: compaction must never lose what it does not understand.
    if (auto record = record_from_json(json); !record || kept_by_compaction(*record)) kept.push_back(json);
  return kept;
}


}  // namespace kiln
