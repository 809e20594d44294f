// A run's plan: which steps of the top-level documents run, given --phases, --steps and
// --start-at, and what the steps that run borrow from steps that do not (chaining to
// them is refused, unless --outputs-from names an earlier execution whose journal holds
// those inputs and outputs). Everything here is decided before anything runs, so a bad
// selection or a broken chain is refused with nothing done; the engine then only asks
// choice() per step. ExecuteDocument children always run whole.
#pragma once
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/document/diagnostic.h"
#include "agent/document/model.h"
#include "agent/engine/resolver.h"
#include "agent/state/run_state.h"

namespace kiln {

// The debugging flags as given (kept in the journal header through RunArguments).
struct StepSelection {
  std::vector<std::string> steps;  // --steps: NAME or PHASE.NAME
  std::string start_at;            // --start-at PHASE.STEP
  std::string outputs_from;        // --outputs-from EXECUTION_ID
  bool selects_steps() const { return !steps.empty() || !start_at.empty(); }
};

// Whether a step of a top-level document runs, and if not, which flag leaves it out.
enum class StepChoice {
  Run,
  PhaseLeftOut,  // --phases does not name its phase
  NotInSteps,    // --steps names other steps
  BeforeStart,   // --start-at names a later step
};
// "--phases", "--steps", "--start-at" (the flag that left a step out); "" for Run.
std::string_view step_choice_flag(StepChoice choice);

// A {{ phase.step.inputs|outputs... }} in a step that runs, naming a step that does not.
struct ChainedReference {
  size_t document = 0;
  SourceLocation where;               // of the expression in the document
  std::string expression;             // "{{ build.Make.outputs.stdout }}"
  std::string from_phase, from_step;  // the step holding the reference
  std::string phase, step;            // the step it names
  std::string section, key;           // "inputs" or "outputs", and the key read
  size_t index = 0;                   // of inputs[i] / outputs[i]
  StepChoice target = StepChoice::Run;
};

// Where a step sits: indices into Document::phases and PhaseSpec::steps.
struct StepPosition {
  size_t document = 0, phase = 0, step = 0;
};

class RunPlan {
 public:
  StepChoice choice(size_t document, size_t phase, size_t step) const;
  bool runs(size_t document, size_t phase, size_t step) const {
    return choice(document, phase, step) == StepChoice::Run;
  }
  // Traces of steps that do not run, borrowed from --outputs-from ("phase\nstep" keys).
  const std::map<std::string, StepTrace>& borrowed(size_t document) const;
  size_t steps_to_run() const;
  size_t steps_left_out() const;

 private:
  friend std::string plan_run(const std::vector<const Document*>&, const std::vector<std::string>&,
                              const StepSelection&, RunPlan&);
  friend Diagnostics borrow_outputs(const std::vector<const Document*>&, const std::vector<std::string>&,
                                    const RunState&, const std::string&, const std::vector<ChainedReference>&,
                                    RunPlan&);
  std::vector<std::vector<std::vector<StepChoice>>> choices_;  // [document][phase][step]
  std::vector<std::map<std::string, StepTrace>> borrowed_;     // [document]
};

// Decides every step's choice. Returns "" or a usage error (an unknown or ambiguous
// --steps name, an unknown --start-at step or one in a phase --phases leaves out), which
// lists the candidates or suggests the nearest name.
std::string plan_run(const std::vector<const Document*>& documents, const std::vector<std::string>& phases,
                     const StepSelection& selection, RunPlan& plan);

// Every chained reference of step `at` (its inputs, `if` and loop), in document order.
std::vector<ChainedReference> chained_references(const Document& document, const StepPosition& at);

// The chained references of the steps that run to steps that do not.
std::vector<ChainedReference> references_to_steps_not_run(const std::vector<const Document*>& documents,
                                                          const RunPlan& plan);

// The refusal for `references` when no --outputs-from is given: one error each, at the
// reference, saying how to fix it (select the step too, or borrow with --outputs-from).
Diagnostics unresolved_chain_errors(const std::vector<ChainedReference>& references);

// Borrows, for every reference, the named step's inputs and outputs from an earlier
// execution's replayed journal (`earlier`, id `earlier_id`). Its documents are matched by
// absolute path (`paths`, one per document), phases and steps by name. An error, at the
// reference, for each step that execution did not run.
Diagnostics borrow_outputs(const std::vector<const Document*>& documents, const std::vector<std::string>& paths,
                           const RunState& earlier, const std::string& earlier_id,
                           const std::vector<ChainedReference>& references, RunPlan& plan);

}  // namespace kiln
