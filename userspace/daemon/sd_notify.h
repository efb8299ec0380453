// SPDX-License-Identifier: Apache-2.0
// sd_notify(3) without libsystemd: one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET.
// A leading '@' names an abstract-namespace socket (the '@' becomes a NUL byte).
#pragma once

#include <string>
#include <string_view>

#include "spsec/result.h"

namespace spsec {

// Sends `state` (e.g. "READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...") to `socket_path`.
// Returns false when `socket_path` is empty (not run by systemd: nothing to do). Errors: the
// path is not absolute or abstract, too long, or sendto failed.
[[nodiscard]] Result<bool> sd_notify_to(std::string_view socket_path, std::string_view state);
// sd_notify_to($NOTIFY_SOCKET, state).
[[nodiscard]] Result<bool> sd_notify(std::string_view state);

}  // namespace spsec
