// SPDX-License-Identifier: Apache-2.0
// The client side of spsecd's control socket (daemon/control_socket.h has the protocol): what
// spsecctl and the tests use to talk to a running spsecd.
#pragma once

#include <sys/un.h>

#include <string>
#include <string_view>

#include "common/fd.h"
#include "spsec/result.h"

namespace spsec {

// The address of a control socket file. Errors: the path is empty or too long for sun_path.
[[nodiscard]] Result<sockaddr_un> control_socket_address(const std::string& path);

// Connects to a control socket (blocking, with a receive
// timeout of `timeout_ms`; 0 = none). Errors: the socket does not exist (spsecd not running?),
// permission denied, connection refused.
[[nodiscard]] Result<Fd> control_connect(const std::string& path, int timeout_ms);
// Writes all of `data`. Errors: the write failed (peer gone).
[[nodiscard]] Result<void> control_write(int fd, std::string_view data);
// Reads until '\n' and returns the line without it, using `buffer` for bytes that arrived after
// the line. Errors: EOF before a full line, read error or timeout (EAGAIN).
[[nodiscard]] Result<std::string> control_read_line(int fd, std::string& buffer);

}  // namespace spsec
