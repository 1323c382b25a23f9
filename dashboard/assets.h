// The operator dashboard's static files (dashboard/web/), compiled into the binary at build time
// by dashboard/embed_files.cmake: the daemon serves them from memory, builds nothing at run time
// and asks no other host for anything.
#pragma once

#include <string_view>
#include <vector>

#include "http/dashboard_api.h"

namespace vasgd {

// The file served as /dashboard/<name> (index.html is also GET /); null when there is none.
const StaticFile* FindDashboardFile(std::string_view name);

// Every file's name, in build order.
std::vector<std::string_view> DashboardFileNames();

}  // namespace vasgd
