// Helpers shared by the model tests: tests/test_support.h's TempDir and dataset lookup.
#pragma once

#include "tests/test_support.h"

namespace vasgd::testing {

using testing_support::TempDir;
using testing_support::TikTokDir;

}  // namespace vasgd::testing
