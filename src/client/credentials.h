// Where the CLI's credentials come from, so that none has to be on the command line (where ps
// shows it): ROOMCAST_API_KEY + ROOMCAST_API_SECRET (the CLI mints a short-lived admin token
// with them) and ROOMCAST_TOKEN (a room token, or an admin token minted elsewhere).
#pragma once

#include <string>

#include "protocol/admin_token.h"

namespace roomcast::client {

// An admin token: minted from ROOMCAST_API_KEY/ROOMCAST_API_SECRET (valid `ttlSeconds`), else
// ROOMCAST_TOKEN if it is an admin token, else "". `error` says why minting failed.
std::string adminToken(const protocol::AdminGrants& grants, std::string& error, int64_t ttlSeconds = 300);
// A room token: `given` (--token), else ROOMCAST_TOKEN if it is not an admin token, else "".
std::string roomToken(const std::string& given);
// Whether `token` is an admin token (its payload carries grants); no signature is checked.
bool isAdminToken(const std::string& token);
// All three grants (what the API secret's holder may do anyway).
protocol::AdminGrants allGrants();

}  // namespace roomcast::client
