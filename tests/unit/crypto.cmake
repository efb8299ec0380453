# unit tests: crypto
