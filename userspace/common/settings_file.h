// SPDX-License-Identifier: Apache-2.0
// The small "name = value" text format of spsecd's own files (the key store, the registers a
// Configurator wrote): one setting per line, blank lines and lines starting with '#' ignored,
// blanks around name and value trimmed, and exactly one "format = 1" line.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

#include "spsec/result.h"

namespace spsec {

// Calls `on_setting(name, value)` for every line but the format line; an error it returns stops
// the parse. Every error is "<origin> line N: <what>"; a line without '=' is not echoed (it may
// hold key material). Errors: a line without '=', the format line twice, unsupported or missing.
[[nodiscard]] Result<void>
parse_settings(std::string_view text, std::string_view origin,
               const std::function<Result<void>(std::string_view name, std::string_view value)>&
                       on_setting);

}  // namespace spsec
