// What is settled before a document runs (and before an ExecuteDocument child runs):
// which phases are selected, whether every action can run here, and the values of the
// parameters, of which the secret ones are masked in every log from then on.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "agent/document/diagnostic.h"
#include "agent/document/model.h"
#include "agent/report/secret_masker.h"

namespace kiln {

// Whether `--phases` (empty: all) selects the phase named `name`.
bool phase_selected(const std::vector<std::string>& phases, const std::string& name);

// Parameters (defaults < given values) and constants of one document; an error for
// each parameter with neither.
Diagnostics bind_variables(const Document& doc, const std::map<std::string, std::string>& given,
                           std::map<std::string, std::string>& variables);

// Values of parameters marked secret are masked from then on.
void add_secrets(const Document& doc, const std::map<std::string, std::string>& variables, SecretMasker& masker);

}  // namespace kiln
