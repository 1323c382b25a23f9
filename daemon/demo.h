// The demo shop of `vasgd serve --demo`: the deterministic planted shop of model/synthetic.h
// (users and products in taste clusters, product features that determine taste, cold products
// that nobody bought yet), loaded through the normal applier as product and purchase events, and
// the curl calls printed for it.
#pragma once

#include <string>

#include "common/status.h"
#include "model/synthetic.h"
#include "stream/event_applier.h"

namespace vasgd {

// The shop the demo loads (fixed options and seed: the same shop on every machine).
SyntheticShopOptions DemoShopOptions();

// Applies every product (features, category "cluster-<c>", a title) and every training purchase
// of the demo shop. Call on an empty store only.
Status LoadDemoShop(EventApplier* applier);

// Example curl calls against `base_url` ("http://127.0.0.1:8080") that work on the demo shop.
// `token_shell` is how the admin token appears in them: the token itself (generated for this
// run) or "$VASGD_ADMIN_TOKEN" (an operator's token is never printed). `read_token_shell` is ""
// when read endpoints are open.
std::string DemoCurlCalls(const std::string& base_url, const std::string& token_shell,
                          const std::string& read_token_shell);

}  // namespace vasgd
