#include "agent/engine/plan.h"

#include <algorithm>

#include "agent/document/expression.h"
#include "agent/document/suggest.h"
#include "agent/engine/run_setup.h"

namespace kiln {
namespace {

// A step as a user names it: "PHASE.NAME".
std::string label(const PhaseSpec& phase, const StepSpec& step) {
  return phase.name + "." + step.name;
}

struct Match {
  StepPosition at;
  std::string label;
};

// The steps `name` names: "PHASE.NAME" matches exactly (in every document that has it,
// as --phases does); otherwise a plain NAME matches a step of that name in any phase.
// A step name may hold dots, so the qualified reading is tried first.
std::vector<Match> find_steps(const std::vector<const Document*>& documents, const std::string& name) {
  std::vector<Match> qualified, plain;
  for (size_t d = 0; d < documents.size(); ++d)
    for (size_t p = 0; p < documents[d]->phases.size(); ++p) {
      const PhaseSpec& phase = documents[d]->phases[p];
      for (size_t s = 0; s < phase.steps.size(); ++s) {
        if (label(phase, phase.steps[s]) == name) qualified.push_back({{d, p, s}, label(phase, phase.steps[s])});
        if (phase.steps[s].name == name) plain.push_back({{d, p, s}, label(phase, phase.steps[s])});
      }
    }
  return qualified.empty() ? plain : qualified;
}

std::vector<std::string> distinct_labels(const std::vector<Match>& matches) {
  std::vector<std::string> labels;
  for (const auto& m : matches)
    if (std::find(labels.begin(), labels.end(), m.label) == labels.end()) labels.push_back(m.label);
  return labels;
}

// Why `name` selects no single step: unknown (with the nearest name, or the list of
// steps when it is short) or ambiguous (with the PHASE.NAME spellings to choose from).
std::string name_error(const std::vector<const Document*>& documents, const std::string& flag, const std::string& name,
                       const std::vector<Match>& matches) {
  if (!matches.empty())
    return flag + " '" + name + "' is ambiguous: it names " + join_words(distinct_labels(matches), " and ") +
           "; name one as PHASE.NAME";
  std::vector<std::string> all;
  for (const Document* doc : documents)
    for (const auto& phase : doc->phases)
      for (const auto& step : phase.steps) all.push_back(label(phase, step));
  std::string guess = nearest(name, all);
  if (guess.empty()) {
    std::vector<std::string> names;
    for (const Document* doc : documents)
      for (const auto& phase : doc->phases)
        for (const auto& step : phase.steps) names.push_back(step.name);
    std::string plain = nearest(name, names);
    if (!plain.empty()) guess = distinct_labels(find_steps(documents, plain)).front();
  }
  std::string message = flag + ": no step '" + name + "' in the documents";
  if (!guess.empty()) return message + "; did you mean '" + guess + "'?";
  if (all.size() <= 20) return message + "; steps (PHASE.NAME): " + join_words(all, ", ");
  return message + " (name it as PHASE.NAME; `kiln run --dry-run` lists the steps)";
}

bool before(const StepPosition& a, const StepPosition& b) {
  return std::tie(a.document, a.phase, a.step) < std::tie(b.document, b.phase, b.step);
}

const StepSpec* find_step(const Document& doc, const std::string& phase, const std::string& step, size_t& pi,
                          size_t& si) {
  for (pi = 0; pi < doc.phases.size(); ++pi) {
    if (doc.phases[pi].name != phase) continue;
    for (si = 0; si < doc.phases[pi].steps.size(); ++si)
      if (doc.phases[pi].steps[si].name == step) return &doc.phases[pi].steps[si];
  }
  return nullptr;
}

void collect(const Document& doc, const nlohmann::json& value, const std::string& pointer, const StepPosition& at,
             std::vector<ChainedReference>& out) {
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) collect(doc, item, pointer_append(pointer, key), at, out);
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) collect(doc, value[i], pointer_append(pointer, i), at, out);
  } else if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    for (const auto& e : find_expressions(text)) {
      if (e.kind != ExpressionKind::Chaining) continue;
      const PhaseSpec& phase = doc.phases[at.phase];
      std::string as_written = text.substr(e.begin, e.end - e.begin);
      out.push_back({at.document, doc.source.text_at(pointer, e.begin, as_written), "{{ " + e.text + " }}", phase.name,
                     phase.steps[at.step].name, e.phase, e.step, e.section, e.key, e.index.value_or(0),
                     StepChoice::Run});
    }
  }
}

}  // namespace

std::string_view step_choice_flag(StepChoice choice) {
  switch (choice) {
    case StepChoice::Run:
      return "";
    case StepChoice::PhaseLeftOut:
      return "--phases";
    case StepChoice::NotInSteps:
      return "--steps";
    case StepChoice::BeforeStart:
      return "--start-at";
  }
  return "";
}

StepChoice RunPlan::choice(size_t document, size_t phase, size_t step) const {
  // A plan made for fewer documents (engine tests without one) runs everything.
  if (document >= choices_.size() || phase >= choices_[document].size() || step >= choices_[document][phase].size())
    return StepChoice::Run;
  return choices_[document][phase][step];
}

const std::map<std::string, StepTrace>& RunPlan::borrowed(size_t document) const {
  static const std::map<std::string, StepTrace> kNone;
  return document < borrowed_.size() ? borrowed_[document] : kNone;
}

size_t RunPlan::steps_to_run() const {
  size_t n = 0;
  for (const auto& d : choices_)
    for (const auto& p : d) n += std::count(p.begin(), p.end(), StepChoice::Run);
  return n;
}

size_t RunPlan::steps_left_out() const {
  size_t n = 0;
  for (const auto& d : choices_)
    for (const auto& p : d) n += p.size() - std::count(p.begin(), p.end(), StepChoice::Run);
  return n;
}

std::string plan_run(const std::vector<const Document*>& documents, const std::vector<std::string>& phases,
                     const StepSelection& selection, RunPlan& plan) {
  if (!selection.steps.empty() && !selection.start_at.empty())
    return "--steps and --start-at cannot be combined (name the steps to run with --steps alone)";
  // --steps: the positions named; the first name that selects no single step is the error.
  std::vector<StepPosition> named;
  for (const auto& name : selection.steps) {
    std::vector<Match> matches = find_steps(documents, name);
    if (matches.empty() || distinct_labels(matches).size() > 1) return name_error(documents, "--steps", name, matches);
    for (const auto& m : matches) {
      if (!phase_selected(phases, documents[m.at.document]->phases[m.at.phase].name))
        return "--steps '" + name + "': its phase '" + documents[m.at.document]->phases[m.at.phase].name +
               "' is not among --phases; add it there or drop --phases";
      named.push_back(m.at);
    }
  }
  // --start-at: the first document that has the step.
  std::optional<StepPosition> start;
  if (!selection.start_at.empty()) {
    std::vector<Match> matches = find_steps(documents, selection.start_at);
    std::vector<Match> first;
    for (const auto& m : matches)
      if (m.at.document == matches.front().at.document) first.push_back(m);
    if (first.empty() || distinct_labels(first).size() > 1)
      return name_error(documents, "--start-at", selection.start_at, first);
    start = first.front().at;
    const std::string& phase = documents[start->document]->phases[start->phase].name;
    if (!phase_selected(phases, phase))
      return "--start-at '" + selection.start_at + "': its phase '" + phase +
             "' is not among --phases; add it there or drop --phases";
  }
  plan.choices_.assign(documents.size(), {});
  plan.borrowed_.assign(documents.size(), {});
  for (size_t d = 0; d < documents.size(); ++d) {
    for (size_t p = 0; p < documents[d]->phases.size(); ++p) {
      const PhaseSpec& phase = documents[d]->phases[p];
      std::vector<StepChoice>& choices = plan.choices_[d].emplace_back(phase.steps.size(), StepChoice::Run);
      for (size_t s = 0; s < phase.steps.size(); ++s) {
        StepPosition at{d, p, s};
        if (!phase_selected(phases, phase.name))
          choices[s] = StepChoice::PhaseLeftOut;
        else if (start && before(at, *start))
          choices[s] = StepChoice::BeforeStart;
        else if (!selection.steps.empty() && std::none_of(named.begin(), named.end(), [&](const StepPosition& n) {
                   return n.document == d && n.phase == p && n.step == s;
                 }))
          choices[s] = StepChoice::NotInSteps;
      }
    }
  }
  return {};
}

std::vector<ChainedReference> chained_references(const Document& document, const StepPosition& at) {
  std::vector<ChainedReference> out;
  const StepSpec& step = document.phases.at(at.phase).steps.at(at.step);
  nlohmann::json::json_pointer pointer(step.pointer);
  if (!document.source.root.contains(pointer)) return out;
  const nlohmann::json& written = document.source.root.at(pointer);
  for (const char* key : {"loop", "if", "inputs"})  // the order a step uses them in
    if (written.is_object() && written.contains(key))
      collect(document, written.at(key), pointer_append(step.pointer, key), at, out);
  return out;
}

std::vector<ChainedReference> references_to_steps_not_run(const std::vector<const Document*>& documents,
                                                          const RunPlan& plan) {
  std::vector<ChainedReference> out;
  for (size_t d = 0; d < documents.size(); ++d) {
    const Document& doc = *documents[d];
    for (size_t p = 0; p < doc.phases.size(); ++p)
      for (size_t s = 0; s < doc.phases[p].steps.size(); ++s) {
        if (!plan.runs(d, p, s)) continue;
        for (auto& ref : chained_references(doc, {d, p, s})) {
          size_t tp = 0, ts = 0;
          if (!find_step(doc, ref.phase, ref.step, tp, ts)) continue;  // validation reported it
          ref.target = plan.choice(d, tp, ts);
          if (ref.target != StepChoice::Run) out.push_back(std::move(ref));
        }
      }
  }
  return out;
}

Diagnostics unresolved_chain_errors(const std::vector<ChainedReference>& references) {
  Diagnostics out;
  for (const auto& ref : references) {
    std::string target = ref.phase + "." + ref.step;
    out.push_back({Severity::Error, ref.where,
                   "step " + ref.from_phase + "." + ref.from_step + " uses '" + ref.expression + "', but " + target +
                       " does not run (" + std::string(step_choice_flag(ref.target)) + " leaves it out)",
                   "select it too (--steps " + ref.from_phase + "." + ref.from_step + "," + target +
                       "), or take its outputs from an earlier execution with --outputs-from EXECUTION_ID "
                       "(`kiln status` lists them)",
                   DiagnosticCode::General});
  }
  return out;
}

Diagnostics borrow_outputs(const std::vector<const Document*>& documents, const std::vector<std::string>& paths,
                           const RunState& earlier, const std::string& earlier_id,
                           const std::vector<ChainedReference>& references, RunPlan& plan) {
  Diagnostics out;
  plan.borrowed_.resize(documents.size());
  auto fail = [&](const ChainedReference& ref, const std::string& why, const std::string& hint) {
    out.push_back({Severity::Error, ref.where,
                   "'" + ref.expression + "' cannot be taken from execution " + earlier_id + ": " + why, hint,
                   DiagnosticCode::General});
  };
  const std::vector<std::string> earlier_documents =
      earlier.header ? earlier.header->identity.args.documents : std::vector<std::string>{};
  for (const auto& ref : references) {
    std::string key = ref.phase + "\n" + ref.step;
    if (plan.borrowed_[ref.document].count(key)) continue;
    auto doc_it = std::find(earlier_documents.begin(), earlier_documents.end(), paths[ref.document]);
    if (doc_it == earlier_documents.end()) {
      fail(ref, "it did not run " + paths[ref.document], "name an execution of this document (`kiln status`)");
      continue;
    }
    size_t tp = 0, ts = 0;
    find_step(*documents[ref.document], ref.phase, ref.step, tp, ts);
    // Keys are positions ("d0/p1/s2"); the step is found by its name within the phase's
    // position, so a step added or moved within its phase since then is still found.
    std::string prefix = "d" + std::to_string(doc_it - earlier_documents.begin()) + "/p" + std::to_string(tp) + "/s";
    const StepState* found = nullptr;
    for (const auto& [k, state] : earlier.steps)
      if (k.rfind(prefix, 0) == 0 && k.find_first_not_of("0123456789", prefix.size()) == std::string::npos &&
          state.finished && state.record.value("name", "") == ref.step)
        found = &state;
    if (!found) {
      fail(ref, "step " + ref.phase + "." + ref.step + " did not run there",
           "run it too (--steps " + ref.from_phase + "." + ref.from_step + "," + ref.phase + "." + ref.step +
               "), or name an execution where it ran");
      continue;
    }
    if (!found->ran) {
      fail(ref,
           "step " + ref.phase + "." + ref.step + " was " + found->record.value("status", "not run") +
               " there, so it has no outputs",
           "run it too (--steps " + ref.from_phase + "." + ref.from_step + "," + ref.phase + "." + ref.step + ")");
      continue;
    }
    StepTrace trace;
    // The record holds inputs and outputs as JSON text (AWSTOE's shape), as replay reads them.
    trace.inputs = nlohmann::json::parse(found->record.value("inputs", "[]"), nullptr, false);
    trace.outputs = nlohmann::json::parse(found->record.value("outputs", "[]"), nullptr, false);
    trace.ran = true;
    plan.borrowed_[ref.document][key] = std::move(trace);
  }
  // Each reference's key must be there too, or the step would fail halfway through the run.
  for (const auto& ref : references) {
    auto it = plan.borrowed_[ref.document].find(ref.phase + "\n" + ref.step);
    if (it == plan.borrowed_[ref.document].end()) continue;  // reported above
    const nlohmann::json& list = ref.section == "inputs" ? it->second.inputs : it->second.outputs;
    if (list.is_array() && ref.index < list.size() && list[ref.index].is_object() && list[ref.index].contains(ref.key))
      continue;
    std::vector<std::string> keys;
    if (list.is_array() && ref.index < list.size() && list[ref.index].is_object())
      for (const auto& [k, v] : list[ref.index].items()) keys.push_back(k);
    fail(ref,
         ref.phase + "." + ref.step + " recorded no " + ref.section.substr(0, ref.section.size() - 1) + " '" + ref.key +
             "'" + (keys.empty() ? "" : " (it has " + join_words(keys, ", ") + ")"),
         "fix the name in the reference, or run " + ref.phase + "." + ref.step + " too");
  }
  return out;
}

}  // namespace kiln
