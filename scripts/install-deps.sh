#!/usr/bin/env bash
# Installs every Debian 12 package spsec-linux needs to build, test and run its demo.
# Idempotent: when everything is present it only runs dpkg-query (well under a second).
set -euo pipefail

PKGS=(
	# build
	cmake ninja-build pkg-config g++ make clang clang-14 llvm lld clang-format clang-tidy
	libbpf-dev bpftool libelf-dev zlib1g-dev
	libssl-dev libyaml-cpp-dev catch2 libexpected-dev nlohmann-json3-dev
	# fuzzing (libFuzzer ships with clang's runtime)
	libclang-rt-14-dev
	# cmake/btf_kptr_fix.py (the BTF of the kernel-AES prototype's BPF object)
	python3
	# runtime tools used by tests and the demo
	iproute2 can-utils kmod jq
	# the Wireshark dissector's test (tests/wireshark)
	tshark
	# the Debian package (scripts/build-deb.sh: CPack runs dpkg-shlibdeps)
	dpkg-dev
	# the test VM
	qemu-system-x86 linux-image-amd64 busybox-static cpio xz-utils file
)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
