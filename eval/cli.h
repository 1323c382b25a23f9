// `vasgd eval`: the command line of the evaluation (eval/runner.h does the work).
#pragma once

#include <string>
#include <vector>

namespace vasgd {

// Takes the arguments after `eval`; returns the exit status: 0 on success, 2 for a bad flag or
// config (after printing what is wrong), 1 otherwise.
int RunEval(const std::vector<std::string>& args);

}  // namespace vasgd
