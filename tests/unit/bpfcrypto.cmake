# unit tests: bpfcrypto
