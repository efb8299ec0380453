// SPDX-License-Identifier: Apache-2.0
// Bridges libbpf's log output into spsec's stderr log, one level lower than libbpf asks for:
// libbpf warnings become spsec info lines, and libbpf's info/debug chatter (including the full
// verifier log of a refused program) shows only at the verbose level.
#pragma once

namespace spsec {

enum class LibbpfVerbosity {
	Quiet,    // libbpf warnings only (a refused program's verifier log is printed by libbpf
	          // itself at warning level, so it still appears)
	Info,     // plus libbpf info lines
	Verbose,  // plus libbpf debug lines: every map, relocation, pinning decision
};

// Installs the bridge (libbpf_set_print) with the given verbosity. Safe to call repeatedly; the
// callback never throws.
void set_libbpf_verbosity(LibbpfVerbosity v) noexcept;

// Silences libbpf entirely while a scope probes for features (restores the verbosity after).
class LibbpfSilencer {
public:
	LibbpfSilencer() noexcept;
	~LibbpfSilencer();
	LibbpfSilencer(const LibbpfSilencer&) = delete;
	LibbpfSilencer& operator=(const LibbpfSilencer&) = delete;
};

}  // namespace spsec
