// Loading the Config (common/options.h) from a TOML file and the environment.
#pragma once

#include <string>

#include "common/options.h"
#include "common/status.h"

namespace vasgd {

// Reads `path` over the defaults in *config. Every key must be a known knob of the right type:
// an unknown section or key, or a wrong type, is an InvalidArgument naming it.
Status LoadConfigFile(const std::string& path, Config* config);

// Same, from TOML text (for tests and embedded defaults).
Status LoadConfigText(const std::string& toml_text, Config* config);

// Secrets from the environment override the file: VASGD_ADMIN_TOKEN, VASGD_READ_TOKEN.
void ApplyEnvironment(Config* config);

// Every knob as "section.key = value" lines, for `--print-config`; tokens are redacted.
std::string DescribeConfig(const Config& config);

// Cross-field checks (positive sizes, known enum strings); InvalidArgument naming the knob.
Status ValidateConfig(const Config& config);

}  // namespace vasgd
