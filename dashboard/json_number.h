// Numbers for the dashboard's JSON: null when not finite, else rounded to a few significant
// digits, so that a float like 0.3f is written "0.3" and not "0.30000001192092896".
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace vasgd {

inline nlohmann::json RoundedNumber(double v, int significant_digits = 6) {
  if (!std::isfinite(v)) return nullptr;
  char text[40];
  std::snprintf(text, sizeof(text), "%.*g", significant_digits, v);
  return std::strtod(text, nullptr);
}

}  // namespace vasgd
