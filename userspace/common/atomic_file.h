// SPDX-License-Identifier: Apache-2.0
// The one way spsecd and spsecctl replace a file on disk.
#pragma once

#include <string>
#include <string_view>

#include "spsec/result.h"

namespace spsec {

// Replaces `path` with `content` so that a reader or a crash sees either the old file or the new
// one, never a mix: a temporary file in the same directory (mkostemp: O_EXCL, 0600, so nobody
// can open it in between), chmod to `mode`, written fully, fsync, rename over `path`, then fsync of
// the directory so the rename itself is durable. The temporary file is removed on failure.
// Errors name the path and the failing step, never the content (which may be key material;
// callers wipe their own buffers).
[[nodiscard]] Result<void> write_file_atomic(const std::string& path, std::string_view content,
                                             unsigned mode);

}  // namespace spsec
